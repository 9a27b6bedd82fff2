//! The local [`EventBus`]: every event is kept, not sent — one JSON file per event in
//! `<data-dir>/events/` ([`Spool`]), oldest first. `warden-local` lists them at
//! `GET /_local/events`, which is how a person (or a test) running Warden locally sees what
//! downstream systems would hear.

use std::path::PathBuf;

use async_trait::async_trait;
use warden_core::event_bus::{BusEvent, EventBus};
use warden_core::{Error, Result};

use crate::spool::Spool;

pub struct LocalEventBus {
    spool: Spool,
}

impl LocalEventBus {
    pub fn new(dir: PathBuf) -> Self {
        LocalEventBus {
            spool: Spool::new(dir, "json", "event directory"),
        }
    }

    /// Every event published, oldest first.
    pub async fn list(&self) -> Result<Vec<BusEvent>> {
        self.spool
            .read_all()
            .await?
            .iter()
            .map(|raw| {
                serde_json::from_slice(raw).map_err(|e| Error::internal("a stored event", e))
            })
            .collect()
    }
}

#[async_trait]
impl EventBus for LocalEventBus {
    async fn publish(&self, events: &[BusEvent]) -> Result<Vec<std::result::Result<(), String>>> {
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            let raw = serde_json::to_vec(e).map_err(|x| Error::internal("an event as JSON", x))?;
            self.spool
                .write(warden_core::clock::Timestamp(e.time_ms), &raw)
                .await?;
            out.push(Ok(()));
        }
        Ok(out)
    }
}
