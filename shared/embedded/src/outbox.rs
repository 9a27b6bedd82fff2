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
use warden_core::{Error, Result};

/// The sender the local messages name.
const LOCAL_SENDER: &str = "warden@localhost";

pub struct LocalOutbox {
    dir: PathBuf,
    clock: Arc<dyn Clock>,
    /// Orders the messages of one millisecond (a test's clock may stand still).
    sent: std::sync::atomic::AtomicU64,
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

fn io_err(e: std::io::Error) -> Error {
    Error::unavailable("mail directory", e)
}

impl LocalOutbox {
    pub fn new(dir: PathBuf, clock: Arc<dyn Clock>) -> Self {
        LocalOutbox {
            dir,
            clock,
            sent: Default::default(),
        }
    }

    /// Every stored message, oldest first.
    pub async fn list(&self) -> Result<Vec<StoredMail>> {
        let mut names = Vec::new();
        let mut entries = match tokio::fs::read_dir(&self.dir).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(e)),
        };
        while let Some(entry) = entries.next_entry().await.map_err(io_err)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".eml") {
                names.push(name);
            }
        }
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let raw = tokio::fs::read_to_string(self.dir.join(&name))
                .await
                .map_err(io_err)?;
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
        crate::private_files::private_dir_async(&self.dir).await?;
        let now = self.clock.now();
        let id = warden_core::crypto::hex(&warden_core::crypto::random_bytes::<8>()?);
        let raw = mime::render(message, LOCAL_SENDER, now, &id)?;
        // Sortable by time, then unique; written whole, then renamed into place.
        let n = self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("{:013}-{n:08}-{id}.eml", now.millis());
        let tmp = self.dir.join(format!(".tmp-{id}"));
        let mut file = crate::private_files::new_private_file()
            .open(&tmp)
            .await
            .map_err(io_err)?;
        tokio::io::AsyncWriteExt::write_all(&mut file, raw.as_bytes())
            .await
            .map_err(io_err)?;
        file.sync_all().await.map_err(io_err)?;
        tokio::fs::rename(&tmp, self.dir.join(name))
            .await
            .map_err(io_err)
    }
}
