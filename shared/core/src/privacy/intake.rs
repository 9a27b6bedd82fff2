//! Requests from people who are not signed in: locked out, never had an account, or asking by
//! mail. `POST /privacy/requests {email, regime, type}` answers 202 whatever the address, and
//! mails a link that proves the requester holds the mailbox; `POST /privacy/requests/verify
//! {token}` then makes the request, received when it was first asked (the law's clock starts
//! at receipt, not at verification).
//!
//! | item | pk | sk |
//! | --- | --- | --- |
//! | an unverified ask | `PRIVINTAKE#{intake id}` | `INTAKE` |
//!
//! The ask holds the email's blind index (never the address), the regime and type, when it
//! was asked, and the SHA-256 of the link's secret; it expires after [`LINK_TTL`]. Asking costs
//! the same work for every address (no account is looked up: nothing to time), and the mail is
//! sealed under a key of its own and charged to the recipient's hourly budget, so the route
//! cannot be used to learn who has an account or to flood an inbox.
//!
//! On verification the ask is consumed by one conditional delete that names the secret's hash
//! (two clicks make one request), and:
//! - an address without an account gets a closed record "no personal data held", with the same
//!   deadlines, so the business can show it answered;
//! - an account with a second factor gets its request `awaiting_operator`: a mailbox alone
//!   never exports or erases such an account; its owner's own signed-in request (or an
//!   operator's denial) moves it on;
//! - any other account gets its request made and run, as if asked signed in.
//!
//! An authorized agent (CCPA regulations § 7063) asks with `agent: {name, email, permission}`:
//! the link goes to the agent's mailbox, and on verification the agent gets a presigned link to
//! upload the consumer's signed permission (it would not fit the 16 KiB body limit) and the
//! request waits `awaiting_operator` until an operator has checked it
//! ([`super::operations::Desk::verify`]). The agent's answer is the same whether or not the
//! address has an account (no "no data held" tells an agent who is a customer): a request id,
//! its deadlines and the upload link.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::requests::{self, Regime, RequestType, RequestView, State};
use crate::audit::{EventType, RequestMeta};
use crate::mail::Notice;
use crate::privacy::Privacy;
use crate::table::UnitOfWork;
use crate::table::schema::TTL;
use crate::table::{Condition, Item, Key, TxOp};
use crate::{Error, Result};

/// How long a verification link works.
pub const LINK_TTL: Duration = Duration::from_secs(24 * 3600);

/// The body of `POST /privacy/requests`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AskBody {
    pub email: String,
    pub regime: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// Present when an authorized agent asks for the consumer at `email`.
    #[serde(default)]
    pub agent: Option<AgentAsk>,
}

/// The largest signed permission an agent may upload.
pub const PERMISSION_MAX_BYTES: u64 = 5 * 1024 * 1024;
/// How long the permission's upload link works.
pub const PERMISSION_LINK_TTL: Duration = Duration::from_secs(24 * 3600);
/// The kinds of document a signed permission may be.
pub const PERMISSION_TYPES: &[&str] = &["application/pdf", "image/png", "image/jpeg"];
/// Where signed permissions are kept in the export bucket: this, then the request id.
pub const PERMISSION_PREFIX: &str = "agent-permissions/";
/// The progress field that records a request's agent.
pub const AGENT: &str = "agent";

/// The object a request's signed permission is uploaded to.
pub fn permission_key(request_id: &str) -> String {
    format!("{PERMISSION_PREFIX}{request_id}")
}

/// An authorized agent, as it asks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentAsk {
    pub name: String,
    pub email: String,
    pub permission: PermissionFile,
}

/// The signed permission the agent will upload: its type and exact size.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionFile {
    pub content_type: String,
    pub bytes: u64,
}

/// An authorized agent, checked.
struct Agent {
    name: String,
    email: String,
    content_type: &'static str,
    bytes: u64,
}

impl AgentAsk {
    fn parse(&self) -> Result<Agent> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(Error::invalid("agent.name", "1 to 200 characters"));
        }
        let email = crate::users::normalize_email(&self.email)
            .map_err(|_| Error::invalid("agent.email", "an email address"))?;
        let content_type = PERMISSION_TYPES
            .iter()
            .find(|t| **t == self.permission.content_type)
            .ok_or_else(|| {
                Error::invalid(
                    "agent.permission.content_type",
                    format!("one of {}", PERMISSION_TYPES.join(", ")),
                )
            })?;
        if !(1..=PERMISSION_MAX_BYTES).contains(&self.permission.bytes) {
            return Err(Error::invalid(
                "agent.permission.bytes",
                format!("1 to {PERMISSION_MAX_BYTES} bytes"),
            ));
        }
        Ok(Agent {
            name: name.to_string(),
            email,
            content_type,
            bytes: self.permission.bytes,
        })
    }
}

impl Agent {
    fn from_intake(ask: &Item) -> Result<Option<Self>> {
        let Some(name) = ask.s("agent_name") else {
            return Ok(None);
        };
        let bad = || Error::Malformed("privacy intake item");
        let content_type = ask.s("permission_type").ok_or_else(bad)?;
        Ok(Some(Agent {
            name: name.to_string(),
            email: ask.s("agent_email").ok_or_else(bad)?.to_string(),
            content_type: PERMISSION_TYPES
                .iter()
                .find(|t| **t == content_type)
                .ok_or_else(bad)?,
            bytes: ask.n("permission_bytes").ok_or_else(bad)? as u64,
        }))
    }

    /// What the request records of its agent (the permission's object is
    /// [`permission_key`] of the request).
    fn record(&self) -> serde_json::Value {
        json!({
            "name": self.name,
            "email": self.email,
            "permission": { "content_type": self.content_type, "bytes": self.bytes },
        })
    }

    /// The agent's answer for request `r`: the same shape whether or not an account exists.
    async fn receipt(&self, s: &Privacy<'_>, r: &requests::PrivacyRequest) -> Result<AgentReceipt> {
        let now = s.clock.now();
        let upload_url = s
            .exports
            .presign_put(
                &permission_key(&r.id),
                PERMISSION_LINK_TTL,
                self.content_type,
                self.bytes,
            )
            .await?;
        Ok(AgentReceipt {
            request_id: r.id.clone(),
            received_at: r.received_at.to_rfc3339(),
            due_at: r.due_at.to_rfc3339(),
            permission_upload: PermissionUpload {
                upload_url,
                method: "PUT",
                content_type: self.content_type,
                content_length: self.bytes,
                expires_at: now.plus(PERMISSION_LINK_TTL).to_rfc3339(),
            },
        })
    }
}

/// What an authorized agent is answered on verification.
#[derive(Debug, Serialize)]
pub struct AgentReceipt {
    pub request_id: String,
    pub received_at: String,
    pub due_at: String,
    pub permission_upload: PermissionUpload,
}

/// Where and how to upload the consumer's signed permission.
#[derive(Debug, Serialize)]
pub struct PermissionUpload {
    pub upload_url: String,
    pub method: &'static str,
    pub content_type: &'static str,
    pub content_length: u64,
    pub expires_at: String,
}

/// What `POST /privacy/requests/verify` answers: the request, or an agent's receipt.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Verified {
    Request(Box<RequestView>),
    Agent(AgentReceipt),
}

/// The body of `POST /privacy/requests/verify`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    pub token: String,
}

fn intake_key(id: &str) -> Key {
    Key::new(format!("PRIVINTAKE#{id}"), "INTAKE")
}

/// The request type a body names (400 naming the field otherwise).
fn request_type(regime: &str, type_name: &str) -> Result<RequestType> {
    let regime = Regime::parse(regime).ok_or_else(|| Error::invalid("regime", "gdpr or ccpa"))?;
    let rtype = RequestType::parse(regime, type_name)?;
    if rtype.action == requests::Action::OptIn {
        return Err(Error::invalid(
            "type",
            "opting back in is for the signed-in account holder (POST /privacy/ccpa)",
        ));
    }
    Ok(rtype)
}

/// `POST /privacy/requests`: records the ask and mails the link (when the recipient's budget
/// allows). Answers the same for every address.
pub async fn ask(s: &Privacy<'_>, body: &AskBody, meta: &RequestMeta) -> Result<()> {
    let rtype = request_type(&body.regime, &body.type_name)?;
    let email = crate::users::normalize_email(&body.email)?;
    let agent = body.agent.as_ref().map(AgentAsk::parse).transpose()?;
    let now = s.clock.now();
    let id = crate::crypto::random_id()?;
    let link = crate::links::new(&id)?;
    let notice = Notice::PrivacyRequestVerify {
        request: rtype.describe().to_string(),
        link: format!(
            "{}/privacy/verify#token={}",
            s.config.mail.branding.public_url, link.token
        ),
    };
    // An agent proves its own mailbox; the consumer's permission is checked by a person.
    let mailbox = agent.as_ref().map_or(email.as_str(), |a| a.email.as_str());
    let Some(queued) = s.outbox.queue_unlinked(mailbox, &notice, now).await? else {
        return Ok(()); // the recipient's budget is spent: the same answer, nothing kept
    };
    let mut item = Item::new(&intake_key(&id))
        .with("email_index", s.users().index(&email))
        .with("regime", rtype.regime.as_str())
        .with("type", rtype.name())
        .with("asked_at", now.millis())
        .with("hash", link.hash.as_str())
        .with(TTL, now.plus(LINK_TTL).secs());
    if let Some(a) = &agent {
        item.set("agent_name", a.name.as_str());
        item.set("agent_email", a.email.as_str());
        item.set("permission_type", a.content_type);
        item.set("permission_bytes", a.bytes as i64);
    }
    let writes = vec![
        TxOp::Put {
            item,
            condition: Some(Condition::NotExists),
        },
        queued.op(),
    ];
    let details = json!({
        "regime": rtype.regime,
        "type": rtype.name(),
        "intake_id": id,
        "by_agent": agent.is_some(),
    });
    s.audit
        .commit(
            UnitOfWork::from(writes),
            meta,
            EventType::PrivacyRequestAsked,
            None,
            details,
        )
        .await?;
    s.outbox.deliver(&[queued]).await;
    Ok(())
}

/// `POST /privacy/requests/verify`: consumes the link and makes the request (see the module's
/// documentation for what each kind of address gets).
pub async fn verify(s: &Privacy<'_>, token: &str, meta: &RequestMeta) -> Result<Verified> {
    let (id, hash) = crate::links::parse(token).ok_or_else(crate::links::dead)?;
    let table = s.table;
    let key = intake_key(id);
    let ask = table
        .get(&key)
        .await?
        .filter(|i| i.s("hash") == Some(hash.as_str()))
        .ok_or_else(crate::links::dead)?;
    let bad = || Error::Malformed("privacy intake item");
    let rtype = request_type(
        ask.s("regime").ok_or_else(bad)?,
        ask.s("type").ok_or_else(bad)?,
    )?;
    let received = crate::clock::Timestamp(ask.n("asked_at").ok_or_else(bad)?);
    let index = ask.s("email_index").ok_or_else(bad)?.to_string();
    let agent = Agent::from_intake(&ask)?;
    // Consumed once: of two clicks at once, one makes the request.
    match table
        .delete(&key, Some(Condition::eq("hash", hash.as_str())))
        .await
    {
        Ok(()) => {}
        Err(Error::ConditionFailed) => return Err(crate::links::dead()),
        Err(e) => return Err(e),
    }
    let now = s.clock.now();
    let holder = crate::users::claim_holder(table, &index).await?;
    let Some(user_id) = holder else {
        let (r, writes) = requests::answered_without_data(rtype, received, now)?;
        let details = json!({ "request_id": r.id, "regime": rtype.regime, "type": rtype.name(), "outcome": "no_data_held" });
        s.audit
            .commit(
                UnitOfWork::from(writes),
                meta,
                EventType::PrivacyRequestReceived,
                None,
                details,
            )
            .await?;
        return Ok(match agent {
            Some(a) => Verified::Agent(a.receipt(s, &r).await?),
            None => Verified::Request(Box::new(r.view())),
        });
    };
    // Made in the state it waits in, so no worker can take it before an operator has.
    let moves_data = rtype.action != requests::Action::OptOut;
    let waits = agent.is_some() || (moves_data && has_second_factor(s, &user_id).await?);
    let second_factor_note = "made by mail for an account with a second factor: waits for its owner's signed-in request or an operator";
    let mut opening = requests::Opening::new(State::Received);
    if waits {
        // The agent is recorded in the transaction that makes the request: an operator can
        // never see it waiting without knowing an agent's permission must be checked.
        opening.state = State::AwaitingOperator;
        opening.note = Some(match &agent {
            Some(a) => {
                opening.progress.insert(AGENT.into(), a.record());
                format!(
                    "made by an authorized agent ({}): waits for an operator to check the consumer's signed permission",
                    a.name
                )
            }
            None => second_factor_note.to_string(),
        });
    }
    let (mut r, created) = requests::submit_in(table, &user_id, rtype, received, opening).await?;
    if created {
        s.audit
            .record(
                meta,
                EventType::PrivacyRequestReceived,
                Some(&user_id),
                json!({
                    "request_id": r.id,
                    "regime": rtype.regime,
                    "type": rtype.name(),
                    "due_at": r.due_at.to_rfc3339(),
                    "verified_by": if agent.is_some() { "agent mailbox" } else { "mailbox" },
                }),
            )
            .await?;
    }
    // An open request of the type that was already running is held too (a mailbox alone may
    // not act for such an account); an agent's ask joins one without taking it over.
    if waits && !created && agent.is_none() && r.state.is_runnable() {
        r = requests::move_to(table, &r, State::AwaitingOperator, second_factor_note, now).await?;
        super::notices::received(s, &r).await;
    } else if waits && created {
        super::notices::received(s, &r).await;
    }
    match agent {
        Some(a) => Ok(Verified::Agent(a.receipt(s, &r).await?)),
        None if r.state == State::AwaitingOperator => Ok(Verified::Request(Box::new(r.view()))),
        None => super::run_and_acknowledge(s, r, created, meta)
            .await
            .map(|v| Verified::Request(Box::new(v))),
    }
}

/// Whether the account has a second factor (an authenticator app or a passkey).
async fn has_second_factor(s: &Privacy<'_>, user_id: &str) -> Result<bool> {
    let profile = crate::users::read_profile(s.table, user_id).await?;
    if profile.is_some_and(|p| p.second_factor) {
        return Ok(true);
    }
    crate::mfa::passkeys::has_any(s.table, user_id).await
}
