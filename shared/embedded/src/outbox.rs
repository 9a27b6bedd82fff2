//! The local [`Mailer`]: every message is stored, not sent — one RFC 5322 file per message in
//! `<data-dir>/mail/` (owner-only, like every file of the data directory), named so that the
//! directory lists oldest first. `warden-local` shows them at `GET /_local/mail`, which is how a
//! person (or a test) running Warden locally follows a reset or verification link.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use warden_core::clock::Clock;
use warden_core::mail::{Mailer, Message, mime};

use crate::spool::Spool;
use warden_core::{Error, Result};

/// The sender the local messages name.
const LOCAL_SENDER: &str = "warden@localhost";

pub struct LocalOutbox {
    spool: Spool,
    clock: Arc<dyn Clock>,
}

/// One stored message, as `GET /_local/mail` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The `Date` header.
    pub sent_at: String,
}

impl LocalOutbox {
    pub fn new(dir: PathBuf, clock: Arc<dyn Clock>) -> Self {
        LocalOutbox {
            spool: Spool::new(dir, "eml", "mail directory"),
            clock,
        }
    }

    /// Every stored message, oldest first.
    pub async fn list(&self) -> Result<Vec<StoredMail>> {
        let mut out = Vec::new();
        for raw in self.spool.read_all().await? {
            let raw = String::from_utf8(raw)
                .map_err(|e| Error::internal("a stored message is not UTF-8", e))?;
            let (m, sent_at) = mime::parse(&raw)?;
            out.push(StoredMail {
                to: m.to,
                subject: m.subject,
                text: m.text,
                html: m.html,
                sent_at,
            });
        }
        Ok(out)
    }
}

#[async_trait]
impl Mailer for LocalOutbox {
    async fn send(&self, message: &Message) -> Result<()> {
        let now = self.clock.now();
        let id = warden_core::crypto::hex(&warden_core::crypto::random_bytes::<8>()?);
        let raw = mime::render(message, LOCAL_SENDER, now, &id)?;
        self.spool.write(now, raw.as_bytes()).await
    }
}
