//! What the requester is told by mail about their request: that it was received and what
//! verification it still needs (CCPA regulations § 7021(a); GDPR Art. 12(3)), and that it was
//! answered and how (an erasure: what was erased, what was kept and why, what a legal hold
//! keeps). Extensions and denials are told by the operator's desk ([`super::operations`]).
//!
//! A completion notice is queued in the transaction that completes the request, so a request
//! is answered if and only if its notice is on its way. An erasure's notice cannot be sealed
//! under the account's key, which is shredded by then: the erasure seals the address under a
//! key of its own when it starts ([`seal_address`]), and the notice is queued as a message
//! that names no account. While the erased account's request waits for downstream
//! acknowledgements the sealed address stays with it, so that an extension or a denial can
//! still be told ([`address_of`]); the record drops it when it closes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value as Json;

use super::requests::{PrivacyRequest, State};
use crate::clock::Timestamp;
use crate::crypto::envelope;
use crate::keys::EncryptionContext;
use crate::mail::Notice;
use crate::mail::outbox::Queued;
use crate::privacy::Privacy;
use crate::{Error, Result};

/// The progress field holding an erasure's sealed notice address until it closes.
pub(crate) const SEALED_ADDRESS: &str = "notify_to";

fn address_context(r: &PrivacyRequest) -> EncryptionContext {
    EncryptionContext::new()
        .with("purpose", "mail")
        .with("message_id", &format!("request-{}", r.id))
}

/// Keeps `address` (the account's) with erasure `r`, sealed under a key of its own, for the
/// notices that follow the account's end (once).
pub async fn seal_address(s: &Privacy<'_>, r: &mut PrivacyRequest, address: &str) -> Result<()> {
    if r.progress.contains_key(SEALED_ADDRESS) {
        return Ok(());
    }
    let sealed = envelope::seal(s.keys, &address_context(r), address.as_bytes()).await?;
    r.progress
        .insert(SEALED_ADDRESS.into(), Json::from(STANDARD.encode(sealed)));
    Ok(())
}

/// The address erasure `r` sealed when it started, if it still has it.
async fn sealed_address(s: &Privacy<'_>, r: &PrivacyRequest) -> Result<Option<String>> {
    let Some(sealed) = r.progress.get(SEALED_ADDRESS) else {
        return Ok(None);
    };
    let bytes = sealed
        .as_str()
        .and_then(|b| STANDARD.decode(b).ok())
        .ok_or(Error::Decryption)?;
    let address = envelope::open(s.keys, &address_context(r), &bytes).await?;
    String::from_utf8(address)
        .map(Some)
        .map_err(|_| Error::Decryption)
}

/// Queues `notice` about request `r` to its requester: the account's address, or once the
/// account is erased the address its erasure sealed (as a message that names no account).
/// `None` when no address is known or the recipient's budget is spent.
pub async fn address_of(
    s: &Privacy<'_>,
    r: &PrivacyRequest,
    notice: &Notice,
    now: Timestamp,
) -> Result<Option<Queued>> {
    if let Some(user) = s.users().get(&r.user_id).await? {
        return s.outbox.queue(&user.id, &user.email, notice, now).await;
    }
    match sealed_address(s, r).await? {
        Some(address) => s.outbox.queue_unlinked(&address, notice, now).await,
        None => Ok(None),
    }
}

/// The notice that `r` is answered (`outcome` says how), to queue with its completion (to the
/// address [`address_of`] finds); `None` when no address is known or the recipient's budget
/// is spent.
pub async fn completed(
    s: &Privacy<'_>,
    r: &PrivacyRequest,
    outcome: String,
    now: Timestamp,
) -> Result<Option<Queued>> {
    let notice = Notice::PrivacyRequestCompleted {
        request: r.rtype.describe().to_string(),
        request_id: r.id.clone(),
        received: r.received_at,
        completed: now,
        outcome,
    };
    address_of(s, r, &notice, now).await
}

/// An erasure's outcome in words, from its receipt.
pub fn erasure_outcome(receipt: &Json) -> String {
    let names = |v: &Json| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    };
    let mut out = format!(
        "Erased, and checked that nothing of it is left: {}.",
        names(&receipt["erased"]).join(", ")
    );
    let kept: Vec<String> = receipt["kept"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| {
            format!(
                "- {}: {} (kept {})",
                k["category"].as_str().unwrap_or_default(),
                k["basis"].as_str().unwrap_or_default(),
                k["retention"].as_str().unwrap_or_default()
            )
        })
        .collect();
    if !kept.is_empty() {
        out.push_str("\n\nKept, and why:\n");
        out.push_str(&kept.join("\n"));
    }
    if let Some(hold) = receipt.get("legal_hold") {
        out.push_str(&format!(
            "\n\nUnder a legal hold, a sealed copy of these is kept until the hold is lifted: {}. Reason: {}",
            names(&hold["categories"]).join(", "),
            hold["reason"].as_str().unwrap_or_default()
        ));
    }
    out
}

/// Tells the requester that `r` was received, when asking it did not answer it at once (it
/// waits, or runs on): its deadline and what verification it still needs. Never fails the
/// caller.
pub async fn received(s: &Privacy<'_>, r: &PrivacyRequest) {
    let agent = r.progress.get(super::intake::AGENT);
    let by_agent;
    let verification = match r.state {
        State::AwaitingOperator if agent.is_some() => {
            by_agent = format!(
                "it was made for you by an authorized agent ({}): our privacy team checks the permission you signed before any data moves. If you did not give it, reply to this message.",
                agent.and_then(|a| a["name"].as_str()).unwrap_or_default()
            );
            by_agent.as_str()
        }
        State::AwaitingOperator => {
            "a confirmed mailbox is not enough for an account with a second factor: sign in with it and ask again, or wait for our privacy team to verify you"
        }
        State::Verifying => "confirm it by asking again within a day",
        State::Received | State::InProgress => "none more: we are working on it",
        _ => return, // answered (or waiting for others only): the completion tells
    };
    let Ok(Some(user)) = s.users().get(&r.user_id).await else {
        return;
    };
    let notice = Notice::PrivacyRequestReceived {
        request: r.rtype.describe().to_string(),
        request_id: r.id.clone(),
        received: r.received_at,
        due: r.due_at,
        verification: verification.to_string(),
    };
    s.outbox.notify(&user.id, &user.email, &notice).await;
}
