//! A directory of records kept in the order they were written: one owner-only file each, named
//! `{epoch ms:013}-{sequence:08}-{id}.{ext}` so that the directory lists oldest first, written
//! whole to a temporary name and renamed into place (a reader never sees half a record). The
//! local mail outbox and the local event bus keep what they are sent this way.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use warden_core::clock::Timestamp;
use warden_core::{Error, Result};

pub struct Spool {
    dir: PathBuf,
    ext: &'static str,
    what: &'static str,
    /// Orders the records of one millisecond (a test's clock may stand still).
    written: AtomicU64,
}

impl Spool {
    /// Records with extension `ext` in `dir`; `what` names the directory in errors.
    pub fn new(dir: PathBuf, ext: &'static str, what: &'static str) -> Self {
        Spool {
            dir,
            ext,
            what,
            written: AtomicU64::new(0),
        }
    }

    fn io_err(&self, e: std::io::Error) -> Error {
        Error::unavailable(self.what, e)
    }

    /// Writes one record, stamped `at`.
    pub async fn write(&self, at: Timestamp, bytes: &[u8]) -> Result<()> {
        crate::private_files::private_dir_async(&self.dir).await?;
        let id = warden_core::crypto::hex(&warden_core::crypto::random_bytes::<8>()?);
        let n = self.written.fetch_add(1, Ordering::SeqCst);
        let name = format!("{:013}-{n:08}-{id}.{}", at.millis(), self.ext);
        let tmp = self.dir.join(format!(".tmp-{id}"));
        let mut file = crate::private_files::new_private_file()
            .open(&tmp)
            .await
            .map_err(|e| self.io_err(e))?;
        tokio::io::AsyncWriteExt::write_all(&mut file, bytes)
            .await
            .map_err(|e| self.io_err(e))?;
        file.sync_all().await.map_err(|e| self.io_err(e))?;
        tokio::fs::rename(&tmp, self.dir.join(name))
            .await
            .map_err(|e| self.io_err(e))
    }

    /// Every record, oldest first.
    pub async fn read_all(&self) -> Result<Vec<Vec<u8>>> {
        let mut names = Vec::new();
        let mut entries = match tokio::fs::read_dir(&self.dir).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io_err(e)),
        };
        let suffix = format!(".{}", self.ext);
        while let Some(entry) = entries.next_entry().await.map_err(|e| self.io_err(e))? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(&suffix) && !name.starts_with('.') {
                names.push(name);
            }
        }
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            out.push(
                tokio::fs::read(self.dir.join(&name))
                    .await
                    .map_err(|e| self.io_err(e))?,
            );
        }
        Ok(out)
    }
}
