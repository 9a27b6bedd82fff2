//! The `Blobs` port: an object store for photos and exports.
//!
//! Objects are written from a stream (multipart above [`PART_SIZE`] on S3, so memory stays
//! bounded by one part), listed by prefix a page at a time, deleted in batches, and handed to
//! clients as expiring presigned links (GET to download, PUT to upload one object). Erasure
//! uses [`Blobs::purge_prefix`], which also removes the old versions and delete markers a
//! versioned bucket keeps. Adapters: S3, and a directory whose links are HMAC-signed URLs that
//! `warden-local` serves.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{Error, Result};

/// A body to upload, read once.
pub type BlobReader = Box<dyn tokio::io::AsyncRead + Send + Unpin>;

/// Bodies larger than this go up in parts of this size (S3's minimum part is 5 MiB).
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Keys per delete call (S3's `DeleteObjects` limit).
pub const DELETE_BATCH: usize = 1000;
/// Keys per list page.
pub const LIST_PAGE: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub key: String,
    pub size: u64,
}

#[derive(Debug, Clone, Default)]
pub struct BlobPage {
    pub objects: Vec<BlobMeta>,
    /// Pass back to continue; `None` at the end.
    pub next: Option<String>,
}

#[async_trait]
pub trait Blobs: Send + Sync + 'static {
    /// Stores the stream under `key`, replacing any object there; returns its size.
    async fn put(&self, key: &str, body: BlobReader, content_type: &str) -> Result<u64>;
    /// The object's bytes, if it exists (for small objects; exports are never read back).
    async fn get(&self, key: &str) -> Result<Option<Bytes>>;
    /// The object as a stream, if it exists: memory stays bounded whatever its size (the
    /// export copies photos this way).
    async fn open(&self, key: &str) -> Result<Option<BlobReader>>;
    /// One page of the keys under `prefix`, in key order.
    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<BlobPage>;
    /// Deletes the keys (absent ones are not an error), batching as the backend requires.
    async fn delete_many(&self, keys: &[String]) -> Result<()>;
    /// A link that downloads `key` until `ttl` from now.
    async fn presign_get(&self, key: &str, ttl: Duration) -> Result<String>;
    /// A link that uploads one object to `key` until `ttl` from now: an HTTP PUT with exactly
    /// `content_type` and a body of exactly `content_length` bytes (both are signed, so the
    /// store refuses any other type or size).
    async fn presign_put(
        &self,
        key: &str,
        ttl: Duration,
        content_type: &str,
        content_length: u64,
    ) -> Result<String>;
    /// Deletes everything stored under `prefix`: uploads begun and not finished (see
    /// [`Blobs::unfinished`]), current objects and, in a versioned bucket, every noncurrent
    /// version and delete marker. Returns how many versions were removed. Memory stays bounded
    /// by one listing page.
    async fn purge_prefix(&self, prefix: &str) -> Result<u64>;
    /// The keys of uploads under `prefix` that were begun and not finished: S3's multipart
    /// uploads, the directory store's temporary files. They hold data that no listing shows
    /// (an upload whose writer stopped half way), so the erasure's verification asks for them.
    async fn unfinished(&self, prefix: &str) -> Result<Vec<String>>;
}

/// Every key under `prefix`, following pages.
pub async fn list_all(blobs: &dyn Blobs, prefix: &str) -> Result<Vec<BlobMeta>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = blobs.list(prefix, cursor).await?;
        out.extend(page.objects);
        match page.next {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// Keys are relative paths of safe segments: no empty, `.` or `..` segment, no backslash or
/// control character, at most 1024 bytes. Both adapters enforce the same rule.
pub fn validate_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 1024
        && !key.chars().any(|c| c.is_control() || c == '\\')
        && key
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..");
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("key", "not a valid object key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_escape_or_hide_are_rejected() {
        for bad in ["", "/a", "a/../b", "a//b", "a\\b", "a/./b", "a\nb", "a/"] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
        validate_key("users/123/photos/p1.jpg").unwrap();
    }
}
