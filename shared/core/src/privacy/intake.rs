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

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::requests::{self, Regime, RequestType, RequestView, State};
use crate::audit::{EventType, RequestMeta};
use crate::mail::{Notice, outbox};
use crate::services::Services;
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
pub async fn ask(s: &Services, body: &AskBody, meta: &RequestMeta) -> Result<()> {
    let rtype = request_type(&body.regime, &body.type_name)?;
    let email = crate::users::normalize_email(&body.email)?;
    let now = s.backends.clock.now();
    let id = crate::crypto::random_id()?;
    let link = crate::links::new(&id)?;
    let notice = Notice::PrivacyRequestVerify {
        request: rtype.describe().to_string(),
        link: format!(
            "{}/privacy/verify#token={}",
            s.config.mail.branding.public_url, link.token
        ),
    };
    let Some(queued) = outbox::queue_unlinked(s, &email, &notice, now).await? else {
        return Ok(()); // the recipient's budget is spent: the same answer, nothing kept
    };
    let item = Item::new(&intake_key(&id))
        .with("email_index", s.users().index(&email))
        .with("regime", rtype.regime.as_str())
        .with("type", rtype.name())
        .with("asked_at", now.millis())
        .with("hash", link.hash.as_str())
        .with(TTL, now.plus(LINK_TTL).secs());
    let writes = vec![
        TxOp::Put {
            item,
            condition: Some(Condition::NotExists),
        },
        queued.op(),
    ];
    let details = json!({ "regime": rtype.regime, "type": rtype.name(), "intake_id": id });
    s.audit
        .record_with(meta, EventType::PrivacyRequestAsked, None, details, writes)
        .await?;
    outbox::deliver(s, &[queued]).await;
    Ok(())
}

/// `POST /privacy/requests/verify`: consumes the link and makes the request (see the module's
/// documentation for what each kind of address gets).
pub async fn verify(s: &Services, token: &str, meta: &RequestMeta) -> Result<RequestView> {
    let (id, hash) = crate::links::parse(token).ok_or_else(crate::links::dead)?;
    let table = s.backends.table.as_ref();
    let key = intake_key(id);
    let ask = table
        .get(&key)
        .await?
        .filter(|i| i.s("hash") == Some(hash.as_str()))
        .ok_or_else(crate::links::dead)?;
    let bad = || Error::Internal("malformed privacy intake item".into());
    let rtype = request_type(
        ask.s("regime").ok_or_else(bad)?,
        ask.s("type").ok_or_else(bad)?,
    )?;
    let received = crate::clock::Timestamp(ask.n("asked_at").ok_or_else(bad)?);
    let index = ask.s("email_index").ok_or_else(bad)?.to_string();
    // Consumed once: of two clicks at once, one makes the request.
    match table
        .delete(&key, Some(Condition::eq("hash", hash.as_str())))
        .await
    {
        Ok(()) => {}
        Err(Error::ConditionFailed) => return Err(crate::links::dead()),
        Err(e) => return Err(e),
    }
    let now = s.backends.clock.now();
    let holder = match table.get(&crate::users::email_claim_key(&index)).await? {
        Some(claim) => claim.s("user_id").map(str::to_string),
        None => None,
    };
    let Some(user_id) = holder else {
        let (r, writes) = requests::answered_without_data(rtype, received, now)?;
        let details = json!({ "request_id": r.id, "regime": rtype.regime, "type": rtype.name(), "outcome": "no_data_held" });
        s.audit
            .record_with(
                meta,
                EventType::PrivacyRequestReceived,
                None,
                details,
                writes,
            )
            .await?;
        return Ok(r.view());
    };
    let (r, created) = requests::submit(table, &user_id, rtype, received).await?;
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
                    "verified_by": "mailbox",
                }),
            )
            .await?;
    }
    let moves_data = r.rtype.action != requests::Action::OptOut;
    if moves_data && r.state.is_runnable() && has_second_factor(s, &user_id).await? {
        let note = "made by mail for an account with a second factor: waits for its owner's signed-in request or an operator";
        let waiting = requests::move_to(table, &r, State::AwaitingOperator, note, now).await?;
        super::notices::received(s, &waiting).await;
        return Ok(waiting.view());
    }
    super::run_and_acknowledge(s, r, created, meta).await
}

/// Whether the account has a second factor (an authenticator app or a passkey).
async fn has_second_factor(s: &Services, user_id: &str) -> Result<bool> {
    let profile = s
        .backends
        .table
        .get(&crate::users::profile_key(user_id))
        .await?;
    if profile.is_some_and(|p| p.bool(crate::mfa::totp::PROFILE_FLAG) == Some(true)) {
        return Ok(true);
    }
    crate::mfa::passkeys::has_any(s, user_id).await
}
