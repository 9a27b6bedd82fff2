//! The channel to the person: the [`Mailer`] port, the notices Warden sends, and the
//! [`outbox`] that makes a message part of the state change that causes it.
//!
//! A notice is rendered from a template kept as a file (`shared/core/templates/mail/`: a plain
//! text part whose first line is the subject, and an HTML part), with the product's name
//! (`WARDEN_PRODUCT_NAME`) and links under `WARDEN_PUBLIC_URL`. Values are escaped for the HTML
//! part. A message never holds a password, a session or access token, a key, or anyone's full
//! address: a link token (single use, short-lived, stored only hashed) is the one secret a
//! message may carry, and networks appear as the coarse prefix the export shows.
//!
//! Adapters: Amazon SES (`warden-aws`) and a local outbox of RFC 5322 files (`warden-embedded`),
//! listed by `warden-local` at `GET /_local/mail`.

pub mod mime;
pub mod outbox;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::clock::Timestamp;

/// One message to one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Sends messages. Delivery is at least once: the outbox retries a send whose outcome it did
/// not learn, so an adapter must not promise more.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Sends `message`; an error means it may not have been sent (the outbox tries again).
    async fn send(&self, message: &Message) -> Result<()>;
}

/// What a message says: one variant per kind of notice, with what its template shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A password reset link (asked for through `POST /auth/password/forgot`).
    PasswordReset { link: String },
    /// The account was locked by failed sign-ins; the link resets the password (the way out).
    AccountLocked { until: Timestamp, link: String },
    /// The password was changed or reset.
    PasswordChanged { when: Timestamp },
    /// A sign-in from a device the account had not seen (the user may turn this one off).
    NewDevice {
        when: Timestamp,
        device: String,
        network: String,
    },
    /// Every session was ended by a security event.
    SessionsEnded { when: Timestamp, reason: String },
    /// To a newly registered address: the link that activates the account.
    VerifyEmail { link: String },
    /// To the holder of an address someone tried to register again.
    RegistrationTaken,
    /// To an address no (verified) account uses, when someone asked to reset its password.
    ResetUnknownAddress,
    /// To a new address: the link that completes an email change.
    EmailChangeVerify { link: String },
    /// To a new address that already has an account: the change was refused.
    EmailChangeTaken,
    /// To the old address once the change completed: the masked new address and a revert link.
    EmailChanged {
        when: Timestamp,
        hint: String,
        link: String,
    },
    /// A second factor was added or removed (`change` says which).
    SecondFactorChanged { when: Timestamp, change: String },
    /// Repeated wrong second-factor codes followed the correct password: whoever tried knows
    /// it, and the next sign-in asks for a new one.
    SecondFactorFailures { when: Timestamp },
    /// The link that confirms a privacy request made without signing in.
    PrivacyRequestVerify { request: String, link: String },
    /// An operator extended a privacy request's deadline, with the reason the law asks for.
    PrivacyRequestExtended {
        /// What was asked, in words (`GDPR request to erase your data`).
        request: String,
        request_id: String,
        received: Timestamp,
        due: Timestamp,
        reason: String,
    },
    /// A privacy request was received and is not answered yet: its deadline and what
    /// verification it still needs (CCPA regulations § 7021(a); GDPR Art. 12(3)).
    PrivacyRequestReceived {
        request: String,
        request_id: String,
        received: Timestamp,
        due: Timestamp,
        verification: String,
    },
    /// A privacy request was answered: what was done (an erasure: what was erased, what was
    /// kept and why, what a legal hold keeps).
    PrivacyRequestCompleted {
        request: String,
        request_id: String,
        received: Timestamp,
        completed: Timestamp,
        outcome: String,
    },
    /// An operator refused a privacy request: its basis and provisions, the reason and the
    /// requester's remedies.
    PrivacyRequestDenied {
        request: String,
        request_id: String,
        received: Timestamp,
        basis: String,
        provisions: String,
        reason: String,
        remedies: String,
    },
}

/// The templates, as files compiled in: (name, text part with its subject line, HTML part).
const TEMPLATES: &[(&str, &str, &str)] = &[
    (
        "password_reset",
        include_str!("../../templates/mail/password_reset.txt"),
        include_str!("../../templates/mail/password_reset.html"),
    ),
    (
        "account_locked",
        include_str!("../../templates/mail/account_locked.txt"),
        include_str!("../../templates/mail/account_locked.html"),
    ),
    (
        "password_changed",
        include_str!("../../templates/mail/password_changed.txt"),
        include_str!("../../templates/mail/password_changed.html"),
    ),
    (
        "new_device",
        include_str!("../../templates/mail/new_device.txt"),
        include_str!("../../templates/mail/new_device.html"),
    ),
    (
        "sessions_ended",
        include_str!("../../templates/mail/sessions_ended.txt"),
        include_str!("../../templates/mail/sessions_ended.html"),
    ),
    (
        "verify_email",
        include_str!("../../templates/mail/verify_email.txt"),
        include_str!("../../templates/mail/verify_email.html"),
    ),
    (
        "reset_unknown_address",
        include_str!("../../templates/mail/reset_unknown_address.txt"),
        include_str!("../../templates/mail/reset_unknown_address.html"),
    ),
    (
        "registration_taken",
        include_str!("../../templates/mail/registration_taken.txt"),
        include_str!("../../templates/mail/registration_taken.html"),
    ),
    (
        "email_change_verify",
        include_str!("../../templates/mail/email_change_verify.txt"),
        include_str!("../../templates/mail/email_change_verify.html"),
    ),
    (
        "email_change_taken",
        include_str!("../../templates/mail/email_change_taken.txt"),
        include_str!("../../templates/mail/email_change_taken.html"),
    ),
    (
        "email_changed",
        include_str!("../../templates/mail/email_changed.txt"),
        include_str!("../../templates/mail/email_changed.html"),
    ),
    (
        "second_factor_changed",
        include_str!("../../templates/mail/second_factor_changed.txt"),
        include_str!("../../templates/mail/second_factor_changed.html"),
    ),
    (
        "second_factor_failures",
        include_str!("../../templates/mail/second_factor_failures.txt"),
        include_str!("../../templates/mail/second_factor_failures.html"),
    ),
    (
        "privacy_request_verify",
        include_str!("../../templates/mail/privacy_request_verify.txt"),
        include_str!("../../templates/mail/privacy_request_verify.html"),
    ),
    (
        "privacy_request_received",
        include_str!("../../templates/mail/privacy_request_received.txt"),
        include_str!("../../templates/mail/privacy_request_received.html"),
    ),
    (
        "privacy_request_completed",
        include_str!("../../templates/mail/privacy_request_completed.txt"),
        include_str!("../../templates/mail/privacy_request_completed.html"),
    ),
    (
        "privacy_request_extended",
        include_str!("../../templates/mail/privacy_request_extended.txt"),
        include_str!("../../templates/mail/privacy_request_extended.html"),
    ),
    (
        "privacy_request_denied",
        include_str!("../../templates/mail/privacy_request_denied.txt"),
        include_str!("../../templates/mail/privacy_request_denied.html"),
    ),
];

/// The deployment's words for its messages.
#[derive(Debug, Clone)]
pub struct Branding {
    /// `WARDEN_PRODUCT_NAME`.
    pub product: String,
    /// `WARDEN_PUBLIC_URL` (default: the issuer), without a trailing slash.
    pub public_url: String,
}

impl Notice {
    /// The template's name (also the audit detail naming what was sent).
    pub fn name(&self) -> &'static str {
        match self {
            Notice::PasswordReset { .. } => "password_reset",
            Notice::AccountLocked { .. } => "account_locked",
            Notice::PasswordChanged { .. } => "password_changed",
            Notice::NewDevice { .. } => "new_device",
            Notice::SessionsEnded { .. } => "sessions_ended",
            Notice::VerifyEmail { .. } => "verify_email",
            Notice::RegistrationTaken => "registration_taken",
            Notice::ResetUnknownAddress => "reset_unknown_address",
            Notice::EmailChangeVerify { .. } => "email_change_verify",
            Notice::EmailChangeTaken => "email_change_taken",
            Notice::EmailChanged { .. } => "email_changed",
            Notice::SecondFactorChanged { .. } => "second_factor_changed",
            Notice::SecondFactorFailures { .. } => "second_factor_failures",
            Notice::PrivacyRequestVerify { .. } => "privacy_request_verify",
            Notice::PrivacyRequestExtended { .. } => "privacy_request_extended",
            Notice::PrivacyRequestReceived { .. } => "privacy_request_received",
            Notice::PrivacyRequestCompleted { .. } => "privacy_request_completed",
            Notice::PrivacyRequestDenied { .. } => "privacy_request_denied",
        }
    }

    fn values(&self) -> Vec<(&'static str, String)> {
        match self {
            Notice::PasswordReset { link } => vec![("link", link.clone())],
            Notice::AccountLocked { until, link } => {
                vec![("until", until.to_rfc3339()), ("link", link.clone())]
            }
            Notice::PasswordChanged { when } => vec![("when", when.to_rfc3339())],
            Notice::NewDevice {
                when,
                device,
                network,
            } => vec![
                ("when", when.to_rfc3339()),
                ("device", device.clone()),
                ("network", network.clone()),
            ],
            Notice::SessionsEnded { when, reason } => {
                vec![("when", when.to_rfc3339()), ("reason", reason.clone())]
            }
            Notice::VerifyEmail { link } | Notice::EmailChangeVerify { link } => {
                vec![("link", link.clone())]
            }
            Notice::RegistrationTaken | Notice::ResetUnknownAddress | Notice::EmailChangeTaken => {
                vec![]
            }
            Notice::EmailChanged { when, hint, link } => vec![
                ("when", when.to_rfc3339()),
                ("hint", hint.clone()),
                ("link", link.clone()),
            ],
            Notice::SecondFactorChanged { when, change } => {
                vec![("when", when.to_rfc3339()), ("change", change.clone())]
            }
            Notice::SecondFactorFailures { when } => vec![("when", when.to_rfc3339())],
            Notice::PrivacyRequestVerify { request, link } => {
                vec![("request", request.clone()), ("link", link.clone())]
            }
            Notice::PrivacyRequestExtended {
                request,
                request_id,
                received,
                due,
                reason,
            } => vec![
                ("request", request.clone()),
                ("request_id", request_id.clone()),
                ("received", received.to_rfc3339()),
                ("due", due.to_rfc3339()),
                ("reason", reason.clone()),
            ],
            Notice::PrivacyRequestReceived {
                request,
                request_id,
                received,
                due,
                verification,
            } => vec![
                ("request", request.clone()),
                ("request_id", request_id.clone()),
                ("received", received.to_rfc3339()),
                ("due", due.to_rfc3339()),
                ("verification", verification.clone()),
            ],
            Notice::PrivacyRequestCompleted {
                request,
                request_id,
                received,
                completed,
                outcome,
            } => vec![
                ("request", request.clone()),
                ("request_id", request_id.clone()),
                ("received", received.to_rfc3339()),
                ("completed", completed.to_rfc3339()),
                ("outcome", outcome.clone()),
            ],
            Notice::PrivacyRequestDenied {
                request,
                request_id,
                received,
                basis,
                provisions,
                reason,
                remedies,
            } => vec![
                ("request", request.clone()),
                ("request_id", request_id.clone()),
                ("received", received.to_rfc3339()),
                ("basis", basis.clone()),
                ("provisions", provisions.clone()),
                ("reason", reason.clone()),
                ("remedies", remedies.clone()),
            ],
        }
    }

    /// The message to `to`.
    pub fn render(&self, to: &str, brand: &Branding) -> Message {
        let (_, text, html) = TEMPLATES
            .iter()
            .find(|(name, _, _)| *name == self.name())
            .expect("every notice has its template (a unit test checks)");
        let mut values = self.values();
        values.push(("product", brand.product.clone()));
        values.push(("base", brand.public_url.clone()));
        let (subject, body) = text
            .split_once("\n\n")
            .expect("a text template starts with its subject line and a blank line");
        let subject = subject.strip_prefix("Subject: ").unwrap_or(subject);
        Message {
            to: to.to_string(),
            subject: fill(subject, &values, single_line),
            text: fill(body, &values, |v| v.to_string()),
            html: fill(html, &values, crate::html::escape),
        }
    }
}

/// Replaces every `{{name}}` with its value, passed through `escape`.
fn fill(template: &str, values: &[(&str, String)], escape: impl Fn(&str) -> String) -> String {
    let mut out = template.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{{{name}}}}}"), &escape(value));
    }
    out
}

/// A header value cannot break onto a new header.
fn single_line(v: &str) -> String {
    v.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand() -> Branding {
        Branding {
            product: "Acme".into(),
            public_url: "https://acme.example".into(),
        }
    }

    fn every_notice() -> Vec<Notice> {
        let t = Timestamp(1_796_000_000_000);
        vec![
            Notice::PasswordReset {
                link: "https://acme.example/reset-password#token=abc".into(),
            },
            Notice::AccountLocked {
                until: t,
                link: "https://acme.example/reset-password#token=abc".into(),
            },
            Notice::PasswordChanged { when: t },
            Notice::NewDevice {
                when: t,
                device: "Firefox <on> Linux".into(),
                network: "198.51.0.0/16".into(),
            },
            Notice::SessionsEnded {
                when: t,
                reason: "a refresh token was used twice".into(),
            },
            Notice::EmailChangeVerify {
                link: "https://acme.example/verify-email#token=abc".into(),
            },
            Notice::EmailChangeTaken,
            Notice::VerifyEmail {
                link: "https://acme.example/verify-email#token=abc".into(),
            },
            Notice::RegistrationTaken,
            Notice::ResetUnknownAddress,
            Notice::EmailChanged {
                when: t,
                hint: "a***@example.com".into(),
                link: "https://acme.example/verify-email#token=abc".into(),
            },
            Notice::SecondFactorChanged {
                when: t,
                change: "an authenticator app (TOTP) was added".into(),
            },
            Notice::SecondFactorFailures { when: t },
            Notice::PrivacyRequestVerify {
                request: "GDPR request to erase your data".into(),
                link: "https://acme.example/privacy/verify#token=abc".into(),
            },
            Notice::PrivacyRequestExtended {
                request: "GDPR request to erase your data".into(),
                request_id: "0123".into(),
                received: t,
                due: t,
                reason: "years of <records>".into(),
            },
            Notice::PrivacyRequestReceived {
                request: "GDPR request for a copy of your data".into(),
                request_id: "0123".into(),
                received: t,
                due: t,
                verification: "none".into(),
            },
            Notice::PrivacyRequestCompleted {
                request: "GDPR request to erase your data".into(),
                request_id: "0123".into(),
                received: t,
                completed: t,
                outcome: "Erased: profile".into(),
            },
            Notice::PrivacyRequestDenied {
                request: "CCPA request to know".into(),
                request_id: "0123".into(),
                received: t,
                basis: "excessive".into(),
                provisions: "Cal. Civ. Code § 1798.145(h)(3)".into(),
                reason: "the fourth this month".into(),
                remedies: "a complaint".into(),
            },
        ]
    }

    #[test]
    fn every_notice_renders_every_placeholder_of_its_template() {
        for n in every_notice() {
            let m = n.render("ada@example.com", &brand());
            for part in [&m.subject, &m.text, &m.html] {
                assert!(!part.contains("{{"), "{}: {part}", n.name());
            }
            assert!(m.subject.contains("Acme"), "{}", m.subject);
            assert!(!m.subject.contains('\n'));
        }
        assert_eq!(TEMPLATES.len(), every_notice().len());
    }

    #[test]
    fn values_are_escaped_in_the_html_part_only() {
        let m = every_notice()[3].render("ada@example.com", &brand());
        assert!(m.text.contains("Firefox <on> Linux"));
        assert!(m.html.contains("Firefox &lt;on&gt; Linux"));
        assert!(!m.html.contains("<on>"));
    }
}
