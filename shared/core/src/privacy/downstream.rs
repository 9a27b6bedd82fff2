//! Downstream events (GDPR Art. 19; CCPA § 1798.105(c)(1), regulations § 7022(b), § 7026(f)):
//! every completed erasure, opt-out of sale and sharing (a request's or a Global Privacy
//! Control signal's), opt back in, and correction of an address is announced on the event bus
//! ([`crate::event_bus`]), so that the processors and third parties that hold the person's data
//! can act on it — and, where `WARDEN_DOWNSTREAM_RECIPIENTS` names them, acknowledge it through
//! the operator interface.
//!
//! An event is an outbox item written in the transaction of the change it announces: there is
//! no change without its event, and no event without its change. It is published right after
//! that transaction commits and, failing that, by the schedule ([`deliver_pending`]), which
//! retries until the bus takes it (a deliverer leases the item first, so two do not publish it
//! at once; publishing is still at least once, and receivers deduplicate on the event id).
//!
//! | item | pk | sk | gsi1 |
//! | --- | --- | --- | --- |
//! | an event not yet published | `EVENTOUT#{id}` | `EVENT` | `EVENTOUT` / `{at:013}#{id}` |
//!
//! The event names the person only by the random user id, and a correction names the fields
//! that changed, never their values. Its schema is `docs/events/privacy-event.v1.json`.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::requests::PrivacyRequest;
use crate::clock::{Clock, Timestamp};
use crate::event_bus::{BusEvent, EventBus};
use crate::table::schema::{GSI1, TTL};
use crate::table::{Condition, Item, Key, Table, TxOp, Update};
use crate::{Error, Result};

/// EventBridge's `Source` of every event.
pub const SOURCE: &str = "warden.privacy";
/// EventBridge's `DetailType` of every event.
pub const DETAIL_TYPE: &str = "Warden privacy event";
/// The `version` of the schema the events follow.
pub const SCHEMA_VERSION: u32 = 1;
/// How long an event is retried before it expires unpublished (the schedule logs every
/// failure; a bus that is gone this long needs an operator anyway).
pub const RETENTION: Duration = Duration::from_secs(30 * 86_400);
/// How long one deliverer holds an event before another may try it.
const LEASE: Duration = Duration::from_secs(60);
/// The index partition of unpublished events, oldest first.
pub const INDEX: &str = "EVENTOUT";

/// An unpublished event's partition: this, then its id.
const PK_PREFIX: &str = "EVENTOUT#";

fn item_key(id: &str) -> Key {
    Key::new(format!("{PK_PREFIX}{id}"), "EVENT")
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The account was erased (and the erasure verified).
    ErasureCompleted,
    /// The person opted out of the sale and sharing of their personal information.
    OptedOut,
    /// The person opted back in.
    OptedIn,
    /// Personal data was corrected (`fields` names what).
    Corrected,
}

/// An event to write with its change, then publish.
#[derive(Debug, Clone)]
pub struct Pending {
    pub event: BusEvent,
    item: Item,
}

impl Pending {
    /// The write that queues the event, for the transaction of its change.
    pub fn op(&self) -> TxOp {
        TxOp::Put {
            item: self.item.clone(),
            condition: Some(Condition::NotExists),
        }
    }
}

/// The downstream outbox, with what it uses: the table its events wait in, the bus they go to
/// (none configured: no event is written), the clock, and the recipients whose
/// acknowledgements a request waits for. Built once by the wiring.
pub struct Downstream {
    table: Arc<dyn Table>,
    bus: Option<Arc<dyn EventBus>>,
    clock: Arc<dyn Clock>,
    recipients: Vec<String>,
}

impl Downstream {
    pub fn new(
        table: Arc<dyn Table>,
        bus: Option<Arc<dyn EventBus>>,
        clock: Arc<dyn Clock>,
        recipients: Vec<String>,
    ) -> Self {
        Downstream {
            table,
            bus,
            clock,
            recipients,
        }
    }

    /// The event announcing `kind` for `user_id` (by `request` when one made it; `how` says what
    /// made it: `request`, `global_privacy_control`, `email_change`), or `None` when no bus is
    /// configured.
    pub fn event(
        &self,
        kind: Kind,
        user_id: &str,
        request: Option<&PrivacyRequest>,
        how: &str,
        fields: &[&str],
        now: Timestamp,
    ) -> Result<Option<Pending>> {
        if self.bus.is_none() {
            return Ok(None);
        }
        let id = crate::crypto::random_id()?;
        // A request waits for the configured recipients' acknowledgements; a correction does not.
        let waits_for: &[String] = match request {
            Some(_) => &self.recipients,
            None => &[],
        };
        let mut detail = json!({
            "schema": "warden-privacy-event",
            "version": SCHEMA_VERSION,
            "event_id": id,
            "type": kind,
            "user_id": user_id,
            "occurred_at": now.to_rfc3339(),
            "made_by": how,
            "acknowledgement_from": waits_for,
        });
        if let Some(r) = request {
            detail["request"] = json!({
                "request_id": r.id,
                "regime": r.rtype.regime,
                "type": r.rtype.name(),
            });
        }
        if !fields.is_empty() {
            detail["fields"] = json!(fields);
        }
        let event = BusEvent {
            id: id.clone(),
            source: SOURCE.into(),
            detail_type: DETAIL_TYPE.into(),
            detail,
            time_ms: now.millis(),
        };
        let body =
            serde_json::to_string(&event).map_err(|e| Error::internal("JSON encoding", e))?;
        let item = Item::new(&item_key(&id))
            .with("event", body)
            .with("at", now.millis())
            .with(TTL, now.plus(RETENTION).secs())
            .with(GSI1.pk, INDEX)
            .with(GSI1.sk, format!("{:013}#{id}", now.millis()));
        Ok(Some(Pending { event, item }))
    }

    /// Publishes events right after the transaction that queued them; what fails stays queued for
    /// the schedule (logged, never returned).
    pub async fn deliver(&self, pending: &[Pending]) {
        for p in pending {
            if let Err(e) = self.deliver_one(&p.event.id, Some(&p.event)).await {
                tracing::warn!(event_id = %p.event.id, error = %e, "event not published yet; the schedule retries");
            }
        }
    }

    /// Publishes one queued event if no other deliverer holds it: `Ok(false)` when it was not this
    /// deliverer's (gone, or leased).
    async fn deliver_one(&self, id: &str, known: Option<&BusEvent>) -> Result<bool> {
        let Some(bus) = &self.bus else {
            return Ok(false);
        };
        let table = self.table.as_ref();
        let now = self.clock.now();
        let Some(item) = crate::table::take_lease(table, &item_key(id), now, LEASE).await? else {
            return Ok(false);
        };
        let event: BusEvent = match known {
            Some(e) => e.clone(),
            None => serde_json::from_str(item.s("event").unwrap_or_default())
                .map_err(|e| Error::internal("malformed queued event", e))?,
        };
        let refused = match bus.publish(std::slice::from_ref(&event)).await {
            Ok(outcomes) => match outcomes.into_iter().next() {
                Some(Ok(())) => None,
                Some(Err(reason)) => Some(reason),
                None => Some("the bus answered for no event".to_string()),
            },
            Err(e) => Some(e.chain().to_string()),
        };
        if let Some(reason) = refused {
            // Not taken: give the lease back and note why, for the next try.
            let release = Update::new()
                .remove(crate::table::LEASE_UNTIL)
                .add("attempts", 1)
                .set("last_error", reason.as_str())
                .when(Condition::Exists);
            let _ = table.update(&item_key(id), release).await;
            return Err(Error::Unavailable(format!(
                "the event bus refused the event: {reason}"
            )));
        }
        table.delete(&item_key(id), None).await?;
        Ok(true)
    }

    /// Publishes up to `limit` queued events, oldest first (the schedule's pass).
    pub async fn deliver_pending(&self, limit: usize) -> Result<PublishReport> {
        if self.bus.is_none() {
            return Ok(PublishReport::default());
        }
        let deliver = |id: String| async move { self.deliver_one(&id, None).await };
        let table = self.table.as_ref();
        let (published, failed) =
            crate::table::drain_queue(table, INDEX, PK_PREFIX, limit, "privacy event", deliver)
                .await?;
        Ok(PublishReport { published, failed })
    }
}

/// What one scheduled publishing pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PublishReport {
    pub published: u32,
    pub failed: u32,
}
