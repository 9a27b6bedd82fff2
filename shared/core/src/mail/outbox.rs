//! The outbox: a message is written in the same transaction as the state change that causes it
//! (a reset link with its token, a lock with its notice), so neither exists without the other,
//! and sending never blocks or fails the request. The request delivers it right after its
//! transaction commits; what that could not send, the schedule delivers
//! ([`deliver_pending`]). An item is kept until delivered and at most [`RETENTION`].
//!
//! | item | pk | sk | gsi1 |
//! | --- | --- | --- | --- |
//! | a queued message | `MAILOUT#{id}` | `MAIL` | `MAILOUT` / `{at:013}#{id}` |
//! | a recipient's budget for one hour | `MAILTO#{email index}` | `BUDGET#{hour}` | — |
//!
//! The message (recipient, subject, parts: a reset link is in there) is sealed under the
//! recipient account's data key, so the table never holds it readable and an erasure shreds
//! it. A message whose recipient the request must not reveal (the notice to the holder of an
//! address someone tried to register: see [`seal_unlinked`]) is sealed under a data key of its
//! own instead (KMS context `{purpose: mail, message_id}`), wrapped in its item, so queueing it
//! costs the same calls as the verification link a new address gets. A deliverer first takes
//! a short lease on the item (a conditional write), so the request and the schedule do not both
//! send it; delivery is still at least once (a send whose answer was lost is sent again).
//!
//! Every recipient has a budget of `WARDEN_MAIL_RECIPIENT_MAX` messages an hour, charged when
//! a message is queued: past it the request answers as it always does and nothing is queued,
//! so register, resend and forgot cannot be used to flood an inbox. Each clock hour has an item
//! of its own, so a charge is always one conditional write — whether or not the address was
//! mailed before, which must not show in the cost of a request (see `crate::registration`).

use std::time::Duration;

use serde::Serialize;

use super::{Message, Notice};
use crate::clock::Timestamp;
use std::sync::Arc;

use aws_lc_rs::hmac;

use super::Mailer;
use crate::clock::Clock;
use crate::config::MailSettings;
use crate::crypto::user_keys::UserKeys;
use crate::keys::Keys;
use crate::table::schema::{GSI1, TTL};
use crate::table::{Condition, Item, Key, Table, TxOp, Update};
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
/// The attribute holding an unlinked message's own wrapped data key.
const WRAPPED_KEY: &str = "wrapped_key";

/// The key context of an unlinked message's own data key.
fn message_context(id: &str) -> crate::keys::EncryptionContext {
    crate::keys::EncryptionContext::new()
        .with("purpose", "mail")
        .with("message_id", id)
}

/// A queued message's partition: this, then its id.
const PK_PREFIX: &str = "MAILOUT#";

fn item_key(id: &str) -> Key {
    Key::new(format!("{PK_PREFIX}{id}"), "MAIL")
}

/// The budget of the recipient whose email has blind index `index`, for clock hour `hour`.
fn budget_key(index: &str, hour: i64) -> Key {
    Key::new(format!("MAILTO#{index}"), format!("BUDGET#{hour}"))
}

/// A message ready to be written with the change that causes it: add [`Queued::op`] to that
/// transaction, then pass it to [`deliver`] once it has committed (which sends the message it
/// holds, without opening the sealed copy).
#[derive(Debug, Clone)]
pub struct Queued {
    pub id: String,
    item: Item,
    message: Message,
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

/// The outbox, with what it uses: the table, the key service (an unlinked message's own data
/// key), the accounts' data keys, the mailer, the clock, the mail settings, and the key of the
/// email blind index (a recipient's budget is keyed by it). Built once by the wiring.
pub struct Outbox {
    table: Arc<dyn Table>,
    keys: Arc<dyn Keys>,
    user_keys: Arc<UserKeys>,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    settings: MailSettings,
    email_index: hmac::Key,
}

impl Outbox {
    pub fn new(
        table: Arc<dyn Table>,
        keys: Arc<dyn Keys>,
        user_keys: Arc<UserKeys>,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
        settings: MailSettings,
        email_index: hmac::Key,
    ) -> Self {
        Outbox {
            table,
            keys,
            user_keys,
            mailer,
            clock,
            settings,
            email_index,
        }
    }

    /// Takes one message from the hourly budget of the address `to`: `false` when it is spent.
    /// One conditional write: the hour's item is made by its first charge.
    pub async fn charge_recipient(&self, to: &str, now: Timestamp) -> Result<bool> {
        let window = BUDGET_WINDOW.as_millis() as i64;
        let hour = now.millis().div_euclid(window);
        let charge = Update::new()
            .add("sent", 1)
            .set(TTL, Timestamp((hour + 1) * window).secs())
            .when(Condition::NotExists.or(Condition::lt(
                "sent",
                i64::from(self.settings.recipient_max),
            )));
        let key = budget_key(&crate::users::email_index(&self.email_index, to), hour);
        match self.table.update(&key, charge).await {
            Ok(_) => Ok(true),
            Err(Error::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Renders `notice` for account `user_id` (whose address is `to`), charges the recipient's
    /// budget, and returns the write that queues it — `None` when the budget is spent.
    pub async fn queue(
        &self,
        user_id: &str,
        to: &str,
        notice: &Notice,
        now: Timestamp,
    ) -> Result<Option<Queued>> {
        if !self.charged(to, notice, now).await? {
            return Ok(None);
        }
        self.seal_for_account(user_id, to, notice, now)
            .await
            .map(Some)
    }

    /// As [`queue`], for a message whose recipient must not be tied to an account by the request
    /// that sends it (see [`seal_unlinked`]).
    pub async fn queue_unlinked(
        &self,
        to: &str,
        notice: &Notice,
        now: Timestamp,
    ) -> Result<Option<Queued>> {
        if !self.charged(to, notice, now).await? {
            return Ok(None);
        }
        self.seal_unlinked(to, notice, now).await.map(Some)
    }

    /// Charges the recipient's budget for `notice`: `false` (logged) when it is spent.
    async fn charged(&self, to: &str, notice: &Notice, now: Timestamp) -> Result<bool> {
        let ok = self.charge_recipient(to, now).await?;
        if !ok {
            tracing::info!(
                notice = notice.name(),
                "recipient's mail budget spent; not queued"
            );
        }
        Ok(ok)
    }

    /// The message for account `user_id`, sealed under its data key, ready to queue (its budget
    /// charged by the caller: a request that retries its write charges once).
    pub async fn seal_for_account(
        &self,
        user_id: &str,
        to: &str,
        notice: &Notice,
        now: Timestamp,
    ) -> Result<Queued> {
        let message = notice.render(to, &self.settings.branding);
        let plain =
            serde_json::to_vec(&message).map_err(|e| Error::internal("JSON encoding", e))?;
        let sealed = self.user_keys.seal(user_id, SEALED_FIELD, &plain).await?;
        let id = crate::crypto::random_id()?;
        let item = queued_item(&id, notice, sealed, now).with("user_id", user_id);
        Ok(Queued { id, item, message })
    }

    /// The message to `to`, sealed under a data key of its own (one key-service call, as a new
    /// account's key costs), not the recipient account's: for a message whose recipient must not
    /// be tied to an account by the request that sends it. Its budget is charged by the caller.
    pub async fn seal_unlinked(&self, to: &str, notice: &Notice, now: Timestamp) -> Result<Queued> {
        let message = notice.render(to, &self.settings.branding);
        let plain =
            serde_json::to_vec(&message).map_err(|e| Error::internal("JSON encoding", e))?;
        let id = crate::crypto::random_id()?;
        let key = self.keys.generate_data_key(&message_context(&id)).await?;
        let sealed = crate::crypto::envelope::seal_with_key(
            &key.plaintext,
            id.as_bytes(),
            &message_context(&id),
            &plain,
        )?;
        let item = queued_item(&id, notice, sealed, now).with(WRAPPED_KEY, key.wrapped);
        Ok(Queued { id, item, message })
    }

    /// The message a queued item holds; [`Error::Decryption`] or [`Error::NotFound`] once its key
    /// is gone (the account was erased).
    async fn open(&self, id: &str, item: &Item) -> Result<Message> {
        let sealed = item.b("sealed").unwrap_or_default();
        let plain = match item.b(WRAPPED_KEY) {
            Some(wrapped) => {
                let key = self
                    .keys
                    .decrypt_data_key(wrapped, &message_context(id))
                    .await?;
                let env = crate::crypto::envelope::Envelope::parse(sealed)?;
                if env.key_field != id.as_bytes() {
                    return Err(Error::Decryption);
                }
                crate::crypto::envelope::open_with_key(&key, &env, &message_context(id))?
            }
            None => {
                let user_id = item.s("user_id").unwrap_or_default();
                self.user_keys.open(user_id, SEALED_FIELD, sealed).await?
            }
        };
        serde_json::from_slice(&plain).map_err(|_| Error::Decryption)
    }

    /// Queues `notice` on its own (a notice that follows a change already written) and delivers it.
    /// Never fails the caller: a notice that could not be queued is logged.
    pub async fn notify(&self, user_id: &str, to: &str, notice: &Notice) {
        let now = self.clock.now();
        let queued = async {
            let Some(q) = self.queue(user_id, to, notice, now).await? else {
                return Ok(None);
            };
            // Nothing to write with it: one put, not a transaction of one.
            self.table
                .put(q.item.clone(), Some(Condition::NotExists))
                .await?;
            Ok::<_, Error>(Some(q))
        };
        match queued.await {
            Ok(Some(q)) => self.deliver(&[q]).await,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(notice = notice.name(), error = %e, "a notice could not be queued")
            }
        }
    }

    /// Delivers queued messages right after the transaction that queued them; whatever fails
    /// stays queued for the schedule (a failure is logged, never returned).
    pub async fn deliver(&self, queued: &[Queued]) {
        for q in queued {
            if let Err(e) = self.deliver_one(&q.id, Some(&q.message)).await {
                tracing::warn!(message_id = %q.id, error = %e, "mail not delivered yet; the schedule retries");
            }
        }
    }

    /// Sends one queued message if no other deliverer holds it; `Ok(false)` when it was not this
    /// deliverer's to send (gone, or leased). `known` is the message when the deliverer queued it
    /// itself (nothing to open).
    async fn deliver_one(&self, id: &str, known: Option<&Message>) -> Result<bool> {
        let table = self.table.as_ref();
        let now = self.clock.now();
        let Some(item) = crate::table::take_lease(table, &item_key(id), now, LEASE).await? else {
            return Ok(false);
        };
        let message: Message = match known {
            Some(m) => m.clone(),
            None => match self.open(id, &item).await {
                Ok(m) => m,
                // The account was erased meanwhile (its key is gone): nothing can be sent.
                Err(Error::Decryption) | Err(Error::NotFound) => {
                    table.delete(&item_key(id), None).await?;
                    return Ok(false);
                }
                Err(e) => return Err(e),
            },
        };
        if let Err(e) = self.mailer.send(&message).await {
            // Not sent: give the lease back, so the next deliverer need not wait it out.
            let release = Update::new()
                .remove(crate::table::LEASE_UNTIL)
                .when(Condition::Exists);
            let _ = table.update(&item_key(id), release).await;
            return Err(e);
        }
        table.delete(&item_key(id), None).await?;
        Ok(true)
    }

    /// Delivers up to `limit` queued messages, oldest first (the schedule's pass).
    pub async fn deliver_pending(&self, limit: usize) -> Result<DeliveryReport> {
        let deliver = |id: String| async move { self.deliver_one(&id, None).await };
        let table = self.table.as_ref();
        let (sent, failed) =
            crate::table::drain_queue(table, INDEX, PK_PREFIX, limit, "mail", deliver).await?;
        Ok(DeliveryReport { sent, failed })
    }
}

/// The outbox item of message `id`, without its key's reference.
fn queued_item(id: &str, notice: &Notice, sealed: Vec<u8>, now: Timestamp) -> Item {
    Item::new(&item_key(id))
        .with("notice", notice.name())
        .with("sealed", sealed)
        .with("at", now.millis())
        .with(TTL, now.plus(RETENTION).secs())
        .with(GSI1.pk, INDEX)
        .with(GSI1.sk, format!("{:013}#{id}", now.millis()))
}

/// What one scheduled delivery pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeliveryReport {
    pub sent: u32,
    pub failed: u32,
}
