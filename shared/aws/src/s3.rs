//! The S3 `Blobs` adapter: single `PutObject` below one part, multipart above (aborted on any
//! failure so no orphaned parts are billed), `ListObjectsV2` pages, `DeleteObjects` in batches
//! of 1,000 (per-key errors are failures), SigV4 presigned GETs and PUTs dated by the [`Clock`],
//! and purges that walk `ListObjectVersions` so a versioned bucket keeps nothing behind.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use bytes::Bytes;
use tokio::io::AsyncReadExt;

use warden_core::blobs::{
    BlobMeta, BlobPage, BlobReader, DELETE_BATCH, LIST_PAGE, PART_SIZE, validate_key,
};
use warden_core::clock::Clock;
use warden_core::{Error, Result};

pub struct S3Blobs {
    client: Client,
    bucket: String,
    clock: Arc<dyn Clock>,
}

fn s3_err<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    op: &str,
    e: E,
) -> Error {
    tracing::warn!(
        operation = op,
        code = e.code().unwrap_or("transport"),
        "s3 call failed"
    );
    Error::unavailable("s3", e)
}

/// Reads until `buf` holds `PART_SIZE` bytes or the stream ends.
async fn fill_part(body: &mut BlobReader, buf: &mut Vec<u8>) -> Result<()> {
    buf.clear();
    let mut limited = body.take(PART_SIZE as u64);
    limited
        .read_to_end(buf)
        .await
        .map_err(|e| Error::unavailable("upload body", e))?;
    Ok(())
}

impl S3Blobs {
    fn presigning(&self, ttl: Duration) -> Result<PresigningConfig> {
        PresigningConfig::builder()
            .start_time(self.clock.now().to_system_time())
            .expires_in(ttl)
            .build()
            .map_err(|e| Error::internal("an S3 request", e))
    }

    /// One `DeleteObjects` call (at most [`DELETE_BATCH`] identifiers); a per-key error fails it.
    async fn delete_identifiers(&self, ids: Vec<ObjectIdentifier>) -> Result<()> {
        let out = self
            .client
            .delete_objects()
            .bucket(&self.bucket)
            .delete(
                Delete::builder()
                    .set_objects(Some(ids))
                    .quiet(true)
                    .build()
                    .map_err(|e| Error::internal("an S3 request", e))?,
            )
            .send()
            .await
            .map_err(|e| s3_err("DeleteObjects", e))?;
        if let Some(err) = out.errors().first() {
            tracing::warn!(code = ?err.code(), "s3 DeleteObjects reported a per-key error");
            return Err(Error::unavailable(
                "s3",
                format!("DeleteObjects: {} keys failed", out.errors().len()),
            ));
        }
        Ok(())
    }

    pub fn new(client: Client, bucket: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        S3Blobs {
            client,
            bucket: bucket.into(),
            clock,
        }
    }

    async fn multipart(
        &self,
        key: &str,
        content_type: &str,
        first: Vec<u8>,
        body: &mut BlobReader,
    ) -> Result<u64> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| s3_err("CreateMultipartUpload", e))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| Error::unavailable("s3", "no upload id"))?
            .to_string();
        let result = async {
            let mut parts = Vec::new();
            let mut total = 0u64;
            let mut buf = first;
            let mut number = 1;
            while !buf.is_empty() {
                total += buf.len() as u64;
                let out = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .body(ByteStream::from(std::mem::take(&mut buf)))
                    .send()
                    .await
                    .map_err(|e| s3_err("UploadPart", e))?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(out.e_tag().map(str::to_string))
                        .build(),
                );
                number += 1;
                buf = Vec::with_capacity(PART_SIZE);
                fill_part(body, &mut buf).await?;
            }
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| s3_err("CompleteMultipartUpload", e))?;
            Ok(total)
        }
        .await;
        if result.is_err() {
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }
}

impl S3Blobs {
    /// The multipart uploads begun under `prefix` and neither completed nor aborted, as
    /// `(key, upload id)`, following pages.
    async fn multipart_uploads(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        let mut found = Vec::new();
        let (mut key_marker, mut id_marker) = (None, None);
        loop {
            let out = self
                .client
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(id_marker.take())
                .send()
                .await
                .map_err(|e| s3_err("ListMultipartUploads", e))?;
            found.extend(
                out.uploads()
                    .iter()
                    .filter_map(|u| Some((u.key()?.to_string(), u.upload_id()?.to_string()))),
            );
            if out.is_truncated() != Some(true) {
                return Ok(found);
            }
            key_marker = out.next_key_marker().map(str::to_string);
            id_marker = out.next_upload_id_marker().map(str::to_string);
            if key_marker.is_none() && id_marker.is_none() {
                return Ok(found);
            }
        }
    }

    /// The object's body, unread (`None` when there is no such key).
    async fn body(&self, key: &str) -> Result<Option<ByteStream>> {
        validate_key(key)?;
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match out {
            Ok(o) => Ok(Some(o.body)),
            Err(e) if e.code() == Some("NoSuchKey") => Ok(None),
            Err(e) => Err(s3_err("GetObject", e)),
        }
    }
}

#[async_trait]
impl warden_core::blobs::Blobs for S3Blobs {
    async fn put(&self, key: &str, mut body: BlobReader, content_type: &str) -> Result<u64> {
        validate_key(key)?;
        let mut first = Vec::with_capacity(PART_SIZE);
        fill_part(&mut body, &mut first).await?;
        if first.len() < PART_SIZE {
            let len = first.len() as u64;
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type(content_type)
                .body(ByteStream::from(first))
                .send()
                .await
                .map_err(|e| s3_err("PutObject", e))?;
            return Ok(len);
        }
        self.multipart(key, content_type, first, &mut body).await
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        match self.body(key).await? {
            Some(body) => {
                let data = body
                    .collect()
                    .await
                    .map_err(|e| Error::unavailable("s3", e))?;
                Ok(Some(data.into_bytes()))
            }
            None => Ok(None),
        }
    }

    async fn open(&self, key: &str) -> Result<Option<BlobReader>> {
        Ok(self
            .body(key)
            .await?
            .map(|body| Box::new(body.into_async_read()) as BlobReader))
    }

    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<BlobPage> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .max_keys(LIST_PAGE as i32)
            .set_continuation_token(cursor)
            .send()
            .await
            .map_err(|e| s3_err("ListObjectsV2", e))?;
        let objects = out
            .contents()
            .iter()
            .filter_map(|o| {
                Some(BlobMeta {
                    key: o.key()?.to_string(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                })
            })
            .collect();
        let next = if out.is_truncated() == Some(true) {
            out.next_continuation_token().map(str::to_string)
        } else {
            None
        };
        Ok(BlobPage { objects, next })
    }

    async fn delete_many(&self, keys: &[String]) -> Result<()> {
        for batch in keys.chunks(DELETE_BATCH) {
            let ids = batch
                .iter()
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::internal("an S3 request", e))?;
            self.delete_identifiers(ids).await?;
        }
        Ok(())
    }

    async fn presign_get(&self, key: &str, ttl: Duration) -> Result<String> {
        validate_key(key)?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(self.presigning(ttl)?)
            .await
            .map_err(|e| s3_err("presign GetObject", e))?;
        Ok(req.uri().to_string())
    }

    async fn presign_put(
        &self,
        key: &str,
        ttl: Duration,
        content_type: &str,
        content_length: u64,
    ) -> Result<String> {
        validate_key(key)?;
        let length = i64::try_from(content_length)
            .map_err(|_| Error::invalid("content_length", "too large"))?;
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            // Signed: S3 refuses a PUT of any other length (no presigned POST policy needed).
            .content_length(length)
            .presigned(self.presigning(ttl)?)
            .await
            .map_err(|e| s3_err("presign PutObject", e))?;
        Ok(req.uri().to_string())
    }

    async fn unfinished(&self, prefix: &str) -> Result<Vec<String>> {
        let uploads = self.multipart_uploads(prefix).await?;
        Ok(uploads.into_iter().map(|(key, _)| key).collect())
    }

    async fn purge_prefix(&self, prefix: &str) -> Result<u64> {
        // First the unfinished uploads: their parts are stored data no version listing shows.
        for (key, upload_id) in self.multipart_uploads(prefix).await? {
            match self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&key)
                .upload_id(&upload_id)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if e.code() == Some("NoSuchUpload") => {} // finished or aborted meanwhile
                Err(e) => return Err(s3_err("AbortMultipartUpload", e)),
            }
        }
        let mut removed = 0u64;
        // Each round lists from the start: what the previous round deleted is gone, so the
        // listing shrinks until nothing is left (no markers to carry across deletions).
        loop {
            let out = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(prefix)
                .max_keys(DELETE_BATCH as i32)
                .send()
                .await
                .map_err(|e| s3_err("ListObjectVersions", e))?;
            let versions = out
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(
                    out.delete_markers()
                        .iter()
                        .map(|m| (m.key(), m.version_id())),
                );
            let mut ids = Vec::new();
            for (key, version) in versions {
                let Some(key) = key else { continue };
                ids.push(
                    ObjectIdentifier::builder()
                        .key(key)
                        .set_version_id(version.map(str::to_string))
                        .build()
                        .map_err(|e| Error::internal("an S3 request", e))?,
                );
            }
            if ids.is_empty() {
                return Ok(removed);
            }
            removed += ids.len() as u64;
            self.delete_identifiers(ids).await?;
        }
    }
}
