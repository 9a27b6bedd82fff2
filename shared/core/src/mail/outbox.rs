//! The outbox: a message is written in the same transaction as the state change that causes it
//! (a reset link with its token, a lock with its notice), so neither exists without the other,
//! and sending never blocks or fails the request. The request delivers it right after its
//! transaction commits; what that could not send, the schedule delivers
//! ([`deliver_pending`]). An item is kept until delivered and at most [`RETENTION`].
//!
//! | item | pk | sk | gsi1 |
//! | --- | --- | --- | --- |
//! | a queued message | `MAILOUT#{id}` | `MAIL` | `MAILOUT` / `{at:013}#{id}` |
//! | a recipient's budget | `MAILTO#{email index}` | `BUDGET` | — |
//!
//! The message (recipient, subject, parts: a reset link is in there) is sealed under the
//! recipient account's data key, so the table never holds it readable. A deliverer first takes
//! a short lease on the item (a conditional write), so the request and the schedule do not both
//! send it; delivery is still at least once (a send whose answer was lost is sent again).
//!
//! Every recipient has a budget of `WARDEN_MAIL_RECIPIENT_MAX` messages an hour, charged when
//! a message is queued: past it the request answers as it always does and nothing is queued,
//! so register, resend and forgot cannot be used to flood an inbox.

use std::time::Duration;

use serde::Serialize;

use super::{Message, Notice};
use crate::clock::Timestamp;
use crate::lockout::{self, Gate, Limits};
use crate::services::Services;
use crate::table::schema::{GSI1, TTL};
use crate::table::{Condition, Item, Key, Query, SortKey, TxOp, Update};
use crate::{Error, Result};

/// How long an undelivered message is kept (then it expires unsent).
pub const RETENTION: Duration = Duration::from_secs(7 * 86_400);
/// The window of a recipient's budget.
pub const BUDGET_WINDOW: Duration = Duration::from_secs(3600);
/// How long one deliverer holds a message before another may try it.
const LEASE: Duration = Duration::from_secs(60);
/// The index partition of queued messages, oldest first.
pub const INDEX: &str = "MAILOUT";
/// The field the sealed message is bound to.
const SEALED_FIELD: &str = "mail.message";

fn item_key(id: &str) -> Key {
    Key::new(format!("MAILOUT#{id}"), "MAIL")
}

/// The budget of the recipient whose email has blind index `index`.
fn budget_key(index: &str) -> Key {
    Key::new(format!("MAILTO#{index}"), "BUDGET")
}

/// A message ready to be written with the change that causes it: add [`Queued::op`] to that
/// transaction, then pass the id to [`deliver`] once it has committed.
#[derive(Debug, Clone)]
pub struct Queued {
    pub id: String,
    item: Item,
}

impl Queued {
    /// The write that queues the message, for the transaction of its change.
    pub fn op(&self) -> TxOp {
        TxOp::Put {
            item: self.item.clone(),
            condition: Some(Condition::NotExists),
        }
    }
}

/// Takes one message from the hourly budget of the address `to`: `false` when it is spent.
pub async fn charge_recipient(s: &Services, to: &str, now: Timestamp) -> Result<bool> {
    let limits = Limits {
        max_failures: s.config.mail.recipient_max,
        window: BUDGET_WINDOW,
        lockout: BUDGET_WINDOW,
    };
    let budget = budget_key(&s.users().index(to));
    let gate = lockout::reserve(s.backends.table.as_ref(), &budget, limits, now).await?;
    Ok(matches!(gate, Gate::Proceed { .. }))
}

/// Renders `notice` for account `user_id` (whose address is `to`), charges the recipient's
/// budget, and returns the write that queues it — `None` when the budget is spent.
pub async fn queue(
    s: &Services,
    user_id: &str,
    to: &str,
    notice: &Notice,
    now: Timestamp,
) -> Result<Option<Queued>> {
    if !charge_recipient(s, to, now).await? {
        tracing::info!(
            notice = notice.name(),
            "recipient's mail budget spent; not queued"
        );
        return Ok(None);
    }
    let message = notice.render(to, &s.config.mail.branding);
    let plain = serde_json::to_vec(&message).map_err(|e| Error::Internal(e.to_string()))?;
    let sealed = s.user_keys.seal(user_id, SEALED_FIELD, &plain).await?;
    let id = crate::crypto::hex(&crate::crypto::random_bytes::<16>()?);
    let item = Item::new(&item_key(&id))
        .with("user_id", user_id)
        .with("notice", notice.name())
        .with("sealed", sealed)
        .with("at", now.millis())
        .with(TTL, now.plus(RETENTION).secs())
        .with(GSI1.pk, INDEX)
        .with(GSI1.sk, format!("{:013}#{id}", now.millis()));
    Ok(Some(Queued { id, item }))
}

/// Queues `notice` on its own (a notice that follows a change already written) and delivers it.
/// Never fails the caller: a notice that could not be queued is logged.
pub async fn notify(s: &Services, user_id: &str, to: &str, notice: &Notice) {
    let now = s.backends.clock.now();
    let queued = async {
        let Some(q) = queue(s, user_id, to, notice, now).await? else {
            return Ok(None);
        };
        // Nothing to write with it: one put, not a transaction of one.
        s.backends
            .table
            .put(q.item.clone(), Some(Condition::NotExists))
            .await?;
        Ok::<_, Error>(Some(q.id))
    };
    match queued.await {
        Ok(Some(id)) => deliver(s, &[id]).await,
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(notice = notice.name(), error = %e, "a notice could not be queued")
        }
    }
}

/// Delivers queued messages right after the transaction that queued them; whatever fails
/// stays queued for the schedule (a failure is logged, never returned).
pub async fn deliver(s: &Services, ids: &[String]) {
    for id in ids {
        if let Err(e) = deliver_one(s, id).await {
            tracing::warn!(message_id = %id, error = %e, "mail not delivered yet; the schedule retries");
        }
    }
}

/// Sends one queued message if no other deliverer holds it; `Ok(false)` when it was not this
/// deliverer's to send (gone, or leased).
async fn deliver_one(s: &Services, id: &str) -> Result<bool> {
    let table = s.backends.table.as_ref();
    let now = s.backends.clock.now();
    let lease = Update::new()
        .set("lease_until", now.plus(LEASE).millis())
        .when(
            Condition::Exists.and(
                Condition::AttributeNotExists("lease_until".into())
                    .or(Condition::lt("lease_until", now.millis())),
            ),
        );
    let item = match table.update(&item_key(id), lease).await {
        Ok(item) => item,
        Err(Error::ConditionFailed) => return Ok(false),
        Err(e) => return Err(e),
    };
    let user_id = item.s("user_id").unwrap_or_default().to_string();
    let sealed = item.b("sealed").unwrap_or_default().to_vec();
    let message: Message = match s.user_keys.open(&user_id, SEALED_FIELD, &sealed).await {
        Ok(plain) => serde_json::from_slice(&plain).map_err(|_| Error::Decryption)?,
        // The account was erased meanwhile (its key is gone): nothing can be sent.
        Err(Error::Decryption) | Err(Error::NotFound) => {
            table.delete(&item_key(id), None).await?;
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    if let Err(e) = s.backends.mailer.send(&message).await {
        // Not sent: give the lease back, so the next deliverer need not wait it out.
        let release = Update::new().remove("lease_until").when(Condition::Exists);
        let _ = table.update(&item_key(id), release).await;
        return Err(e);
    }
    table.delete(&item_key(id), None).await?;
    Ok(true)
}

/// What one scheduled delivery pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeliveryReport {
    pub sent: u32,
    pub failed: u32,
}

/// Delivers up to `limit` queued messages, oldest first (the schedule's pass).
pub async fn deliver_pending(s: &Services, limit: usize) -> Result<DeliveryReport> {
    let page = s
        .backends
        .table
        .query(Query::index(&GSI1, INDEX).sort(SortKey::All).limit(limit))
        .await?;
    let mut report = DeliveryReport::default();
    for item in &page.items {
        let Some(id) = item.s("pk").and_then(|pk| pk.strip_prefix("MAILOUT#")) else {
            continue;
        };
        match deliver_one(s, id).await {
            Ok(true) => report.sent += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(message_id = %id, error = %e, "scheduled mail delivery failed");
                report.failed += 1;
            }
        }
    }
    Ok(report)
}
