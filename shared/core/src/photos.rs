//! The user's photos: objects in the photo bucket under `users/{id}/photos/`. Uploads go
//! straight to the bucket through a presigned PUT link (Warden never proxies the bytes); the
//! list hands out presigned GET links. Erasure purges the prefix with every version.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::blobs::{Blobs, list_all};
use crate::clock::Timestamp;
use crate::{Error, Result};

/// How long an upload or download link works.
pub const LINK_TTL: Duration = Duration::from_secs(15 * 60);
/// Content types accepted, with the file extension each object gets.
pub const CONTENT_TYPES: &[(&str, &str)] = &[
    ("image/jpeg", "jpg"),
    ("image/png", "png"),
    ("image/webp", "webp"),
];

pub fn prefix(user_id: &str) -> String {
    format!("users/{user_id}/photos/")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    pub content_type: String,
    /// The photo's exact size in bytes: the link accepts a body of this length only.
    pub content_length: u64,
}

#[derive(Debug, Serialize)]
pub struct Upload {
    pub photo_id: String,
    pub upload_url: String,
    /// The client sends the PUT with exactly this `Content-Type`.
    pub content_type: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize)]
pub struct Photo {
    pub photo_id: String,
    pub size: u64,
    pub url: String,
}

/// A fresh photo id and a link that uploads it. The link's expiry is recorded on the profile
/// first (refused once an erasure has begun), so an erasure knows how long a link issued
/// before it may still put an object under the user's prefix.
pub async fn new_upload(
    table: &dyn crate::table::Table,
    blobs: &dyn Blobs,
    user_id: &str,
    req: &UploadRequest,
    max_bytes: u64,
    now: Timestamp,
) -> Result<Upload> {
    if req.content_length == 0 || req.content_length > max_bytes {
        return Err(Error::invalid(
            "content_length",
            format!("from 1 to {max_bytes} bytes"),
        ));
    }
    let Some((content_type, ext)) = CONTENT_TYPES.iter().find(|(t, _)| *t == req.content_type)
    else {
        let allowed: Vec<&str> = CONTENT_TYPES.iter().map(|(t, _)| *t).collect();
        return Err(Error::invalid(
            "content_type",
            format!("one of {}", allowed.join(", ")),
        ));
    };
    let photo_id = format!("{}.{ext}", crate::crypto::random_id()?);
    let fence =
        crate::table::Update::new()
            .set(
                crate::users::attr::UPLOADS_UNTIL,
                now.plus(LINK_TTL).millis(),
            )
            .when(crate::table::Condition::Exists.and(
                crate::table::Condition::AttributeNotExists(crate::users::ERASING.into()),
            ));
    match table
        .update(&crate::users::profile_key(user_id), fence)
        .await
    {
        Ok(_) => {}
        Err(Error::ConditionFailed) => {
            return Err(Error::Conflict("the account is being erased".into()));
        }
        Err(e) => return Err(e),
    }
    let upload_url = blobs
        .presign_put(
            &format!("{}{photo_id}", prefix(user_id)),
            LINK_TTL,
            content_type,
            req.content_length,
        )
        .await?;
    Ok(Upload {
        photo_id,
        upload_url,
        content_type: content_type.to_string(),
        expires_at: now.plus(LINK_TTL).to_rfc3339(),
    })
}

/// The user's photos, each with a download link.
pub async fn list(blobs: &dyn Blobs, user_id: &str) -> Result<Vec<Photo>> {
    let prefix = prefix(user_id);
    let mut out = Vec::new();
    for meta in list_all(blobs, &prefix).await? {
        let url = blobs.presign_get(&meta.key, LINK_TTL).await?;
        out.push(Photo {
            photo_id: meta.key[prefix.len()..].to_string(),
            size: meta.size,
            url,
        });
    }
    Ok(out)
}
