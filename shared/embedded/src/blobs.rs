//! The directory `Blobs` adapter: objects are files under a root, written to a temporary file
//! and renamed into place (a reader never sees half an object), fsynced before `put` returns.
//!
//! Presigned links are `{base}/_local/blobs/{bucket}/{key}?expires={epoch secs}&signature={hex}`,
//! the signature an HMAC-SHA256 under a per-installation key over method, bucket, key, expiry
//! (and content type for uploads). `warden-local` serves them through [`LocalBlobs::open_link`]
//! (GET) and [`LocalBlobs::accept_upload`] (PUT), which check the signature in constant time and
//! the expiry against the [`Clock`]. A directory keeps no versions, so purging a prefix is
//! deleting its files.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lc_rs::hmac;
use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use warden_core::blobs::{
    BlobMeta, BlobPage, BlobReader, Blobs, DELETE_BATCH, LIST_PAGE, validate_key,
};
use warden_core::clock::Clock;
use warden_core::secret::SecretBytes;
use warden_core::{Error, Result};

pub struct LocalBlobs {
    root: PathBuf,
    bucket: String,
    base_url: String,
    signing: hmac::Key,
    clock: Arc<dyn Clock>,
    /// The bucket's lifecycle rule: objects under the prefix older than the age are gone (as S3
    /// expires them; here checked on every read and listing, which delete what has expired).
    expire_after: Option<(String, std::time::Duration)>,
}

fn io_err(e: std::io::Error) -> Error {
    Error::unavailable("blob directory", e)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl LocalBlobs {
    /// `root` holds the objects of `bucket`; links start with `base_url` (the runner's address).
    pub fn new(
        root: PathBuf,
        bucket: &str,
        base_url: &str,
        signing_key: &SecretBytes,
        clock: Arc<dyn Clock>,
    ) -> Self {
        LocalBlobs {
            root,
            bucket: bucket.to_string(),
            base_url: base_url.trim_end_matches('/').to_string(),
            signing: hmac::Key::new(hmac::HMAC_SHA256, signing_key.expose()),
            clock,
            expire_after: None,
        }
    }

    /// Objects under `prefix` expire `age` after they were written, like a bucket's lifecycle
    /// rule with a prefix filter.
    pub fn expiring_after(mut self, prefix: &str, age: std::time::Duration) -> Self {
        self.expire_after = Some((prefix.to_string(), age));
        self
    }

    /// Whether the file of `key` written at `modified` has outlived the lifecycle rule.
    fn expired(&self, key: &str, modified: std::io::Result<std::time::SystemTime>) -> bool {
        let (Some((prefix, age)), Ok(modified)) = (&self.expire_after, modified) else {
            return false;
        };
        if !key.starts_with(prefix.as_str()) {
            return false;
        }
        let written = modified
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        written + age.as_millis() as i64 <= self.clock.now().millis()
    }

    /// The file for `key` if it exists and has not expired (an expired one is deleted).
    async fn live_path(&self, key: &str) -> Result<Option<PathBuf>> {
        let path = self.path(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(m) if self.expired(key, m.modified()) => {
                let _ = tokio::fs::remove_file(&path).await;
                Ok(None)
            }
            Ok(_) => Ok(Some(path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    fn signed_message(
        &self,
        method: &str,
        key: &str,
        expires: i64,
        content_type: &str,
        length: Option<u64>,
    ) -> Vec<u8> {
        warden_core::keys::EncryptionContext::new()
            .with("method", method)
            .with("bucket", &self.bucket)
            .with("key", key)
            .with("expires", &expires.to_string())
            .with("content_type", content_type)
            .with("length", &length.map(|n| n.to_string()).unwrap_or_default())
            .canonical()
    }

    fn link(
        &self,
        method: &str,
        key: &str,
        ttl: Duration,
        content_type: &str,
        length: Option<u64>,
    ) -> Result<String> {
        validate_key(key)?;
        let expires = self.clock.now().plus(ttl).secs();
        let sig = hmac::sign(
            &self.signing,
            &self.signed_message(method, key, expires, content_type, length),
        );
        let length = length.map(|n| format!("&length={n}")).unwrap_or_default();
        Ok(format!(
            "{}/_local/blobs/{}/{}?expires={expires}{length}&signature={}",
            self.base_url,
            self.bucket,
            key,
            hex(sig.as_ref())
        ))
    }

    /// Every failure is the same [`Error::Forbidden`] (no oracle for which part was wrong).
    fn check_link(
        &self,
        method: &str,
        key: &str,
        expires: i64,
        content_type: &str,
        length: Option<u64>,
        signature: &str,
    ) -> Result<()> {
        let sig = unhex(signature).ok_or(Error::Forbidden)?;
        hmac::verify(
            &self.signing,
            &self.signed_message(method, key, expires, content_type, length),
            &sig,
        )
        .map_err(|_| Error::Forbidden)?;
        if self.clock.now().secs() >= expires {
            return Err(Error::Forbidden);
        }
        Ok(())
    }

    /// Serves a presigned download link: the object's bytes if the signature is valid and
    /// unexpired.
    pub async fn open_link(&self, key: &str, expires: i64, signature: &str) -> Result<Bytes> {
        self.check_link("GET", key, expires, "", None, signature)?;
        warden_core::blobs::Blobs::get(self, key)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Serves a presigned upload link: stores `body` at `key` if the signature (which covers
    /// the content type and the length) is valid and unexpired, and the body is that long.
    pub async fn accept_upload(
        &self,
        key: &str,
        expires: i64,
        content_type: &str,
        length: Option<u64>,
        signature: &str,
        body: Bytes,
    ) -> Result<u64> {
        self.check_link("PUT", key, expires, content_type, length, signature)?;
        if length != Some(body.len() as u64) {
            return Err(Error::Forbidden);
        }
        let reader: BlobReader = Box::new(std::io::Cursor::new(body));
        warden_core::blobs::Blobs::put(self, key, reader, content_type).await
    }
}

/// Which files a [`walk`] reports: the stored objects, or the temporary files of uploads that
/// have not finished (each upload writes `.tmp-…` beside its key, then renames it).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Files {
    Objects,
    Unfinished,
}

fn walk(dir: &Path, root: &Path, files: Files, out: &mut Vec<BlobMeta>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let ft = entry.file_type()?;
        let path = entry.path();
        if ft.is_dir() {
            walk(&path, root, files, out)?;
        } else if ft.is_file() {
            let temporary = entry.file_name().to_string_lossy().starts_with(".tmp-");
            if temporary != (files == Files::Unfinished) {
                continue;
            }
            if let Ok(rel) = path.strip_prefix(root) {
                out.push(BlobMeta {
                    key: rel.to_string_lossy().into_owned(),
                    size: entry.metadata()?.len(),
                });
            }
        }
    }
    Ok(())
}

impl LocalBlobs {
    /// The files of one kind whose keys start with `prefix`, in key order.
    async fn walk_prefix(&self, prefix: &str, files: Files) -> Result<Vec<BlobMeta>> {
        let root = self.root.clone();
        // Walk only the deepest directory the prefix names completely.
        let start_dir = match prefix.rfind('/') {
            Some(i) => {
                validate_key(&prefix[..i])?;
                root.join(&prefix[..i])
            }
            None => root.clone(),
        };
        let prefix = prefix.to_string();
        tokio::task::spawn_blocking(move || {
            let mut all = Vec::new();
            walk(&start_dir, &root, files, &mut all).map_err(io_err)?;
            all.retain(|m| m.key.starts_with(&prefix));
            all.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(all)
        })
        .await
        .map_err(|e| Error::internal("a blob listing task", e))?
    }
}

#[async_trait]
impl Blobs for LocalBlobs {
    async fn put(&self, key: &str, mut body: BlobReader, _content_type: &str) -> Result<u64> {
        let path = self.path(key)?;
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        crate::private_files::private_dir_async(&dir).await?;
        let mut nonce = [0u8; 8];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|e| Error::internal("rng", e))?;
        let tmp = dir.join(format!(".tmp-{}", hex(&nonce)));
        let mut file = crate::private_files::new_private_file()
            .open(&tmp)
            .await
            .map_err(io_err)?;
        let copied = tokio::io::copy(&mut body, &mut file).await;
        let written = match copied {
            Ok(n) => n,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(io_err(e));
            }
        };
        file.flush().await.map_err(io_err)?;
        file.sync_all().await.map_err(io_err)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io_err)?;
        Ok(written)
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let Some(path) = self.live_path(key).await? else {
            return Ok(None);
        };
        match tokio::fs::read(path).await {
            Ok(b) => Ok(Some(Bytes::from(b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }

    async fn open(&self, key: &str) -> Result<Option<BlobReader>> {
        let Some(path) = self.live_path(key).await? else {
            return Ok(None);
        };
        match tokio::fs::File::open(path).await {
            Ok(f) => Ok(Some(Box::new(f))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }

    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<BlobPage> {
        let mut all = self.walk_prefix(prefix, Files::Objects).await?;
        if self.expire_after.is_some() {
            let mut live = Vec::with_capacity(all.len());
            for m in all {
                if self.live_path(&m.key).await?.is_some() {
                    live.push(m);
                }
            }
            all = live;
        }
        let mut all: Vec<BlobMeta> = all
            .into_iter()
            .filter(|m| cursor.as_ref().is_none_or(|c| m.key.as_str() > c.as_str()))
            .collect();
        let next = (all.len() > LIST_PAGE).then(|| all[LIST_PAGE - 1].key.clone());
        all.truncate(LIST_PAGE);
        Ok(BlobPage { objects: all, next })
    }

    async fn unfinished(&self, prefix: &str) -> Result<Vec<String>> {
        let files = self.walk_prefix(prefix, Files::Unfinished).await?;
        Ok(files.into_iter().map(|m| m.key).collect())
    }

    async fn delete_many(&self, keys: &[String]) -> Result<()> {
        for batch in keys.chunks(DELETE_BATCH) {
            for key in batch {
                match tokio::fs::remove_file(self.path(key)?).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(e)),
                }
            }
        }
        Ok(())
    }

    async fn presign_get(&self, key: &str, ttl: Duration) -> Result<String> {
        self.link("GET", key, ttl, "", None)
    }

    async fn presign_put(
        &self,
        key: &str,
        ttl: Duration,
        content_type: &str,
        content_length: u64,
    ) -> Result<String> {
        self.link("PUT", key, ttl, content_type, Some(content_length))
    }

    async fn purge_prefix(&self, prefix: &str) -> Result<u64> {
        // An upload still writing its temporary file fails at its rename once the file is gone.
        for key in self.unfinished(prefix).await? {
            match tokio::fs::remove_file(self.root.join(&key)).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(e)),
            }
        }
        let mut removed = 0;
        loop {
            let page = self.list(prefix, None).await?;
            if page.objects.is_empty() {
                return Ok(removed);
            }
            let keys: Vec<String> = page.objects.into_iter().map(|m| m.key).collect();
            self.delete_many(&keys).await?;
            removed += keys.len() as u64;
        }
    }
}
