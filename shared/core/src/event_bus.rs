//! The `EventBus` port: where the systems downstream of Warden (processors, third parties, the
//! operator's own services) hear that a person's data was erased, corrected, or may no longer be
//! sold or shared. Adapters: Amazon EventBridge (`PutEvents` on `WARDEN_EVENT_BUS`), and the
//! local runner's store of what it was sent (listed at `GET /_local/events`).
//!
//! Events are written to an outbox in the transaction of the change they announce and published
//! from it ([`crate::privacy::downstream`]), so publishing is at least once: receivers
//! deduplicate on [`BusEvent::id`].

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;

/// Events per publish call (EventBridge's `PutEvents` limit).
pub const BATCH: usize = 10;

/// One event as the bus carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusEvent {
    /// Unique per event and stable across retries: the receivers' deduplication key.
    pub id: String,
    /// EventBridge's `Source`.
    pub source: String,
    /// EventBridge's `DetailType`.
    pub detail_type: String,
    /// The event itself: JSON in the schema `docs/events/privacy-event.v1.json`.
    pub detail: serde_json::Value,
    /// When the change happened, in epoch milliseconds (the detail says it in RFC 3339).
    pub time_ms: i64,
}

#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Publishes up to [`BATCH`] events; for each, in order, `Ok` when the bus took it or the
    /// bus's reason when it did not (that one is tried again). `Err` when the call failed as a
    /// whole.
    async fn publish(&self, events: &[BusEvent]) -> Result<Vec<std::result::Result<(), String>>>;
}
