//! The EventBridge [`EventBus`]: `PutEvents` on `WARDEN_EVENT_BUS`. The call as a whole is
//! retried by the SDK's standard strategy; an entry the bus refuses (its `ErrorCode`) is
//! reported for that entry alone and stays in Warden's outbox for the schedule.

use async_trait::async_trait;
use aws_sdk_eventbridge::error::ProvideErrorMetadata;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use warden_core::event_bus::{BusEvent, EventBus};
use warden_core::{Error, Result};

pub struct EventBridgeBus {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridgeBus {
    /// The bus named `bus` (a name or an ARN).
    pub fn new(client: aws_sdk_eventbridge::Client, bus: String) -> Self {
        EventBridgeBus { client, bus }
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, events: &[BusEvent]) -> Result<Vec<std::result::Result<(), String>>> {
        let mut entries = Vec::with_capacity(events.len());
        for e in events {
            let detail = serde_json::to_string(&e.detail)
                .map_err(|x| Error::internal("an event's detail as JSON", x))?;
            entries.push(
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(&e.source)
                    .detail_type(&e.detail_type)
                    .detail(detail)
                    .time(DateTime::from_millis(e.time_ms))
                    .build(),
            );
        }
        let out = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(
                    code = e.code().unwrap_or("transport"),
                    "eventbridge PutEvents failed"
                );
                Error::unavailable("eventbridge", e)
            })?;
        let results = out.entries();
        if results.len() != events.len() {
            return Err(Error::Internal(format!(
                "PutEvents answered for {} of {} events",
                results.len(),
                events.len()
            )));
        }
        Ok(results
            .iter()
            .map(|r| match r.error_code() {
                None => Ok(()),
                Some(code) => Err(format!("{code}: {}", r.error_message().unwrap_or_default())),
            })
            .collect())
    }
}
