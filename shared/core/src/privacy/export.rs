//! The export (GDPR Art. 15 and 20, CCPA access): one ZIP per request in the export bucket,
//! `exports/{user}/{request}.zip`, holding
//!
//! - `data.json`: every exported category of the [data map](super::data_map), in the schema
//!   `warden-export` version [`SCHEMA_VERSION`] (documented in `docs/COMPLIANCE.md`); never a
//!   password hash, token, key or another user's data;
//! - `photos/{photo id}`: the user's photos as uploaded;
//! - `manifest.json`: the Art. 15(1)(a–h) information, from the data map.
//!
//! The archive is produced and uploaded at once through a bounded pipe: activity and audit
//! entries are read and written a page at a time, photos one at a time, and the upload sends
//! parts as they fill, so memory does not grow with the user's data (measured in
//! `docs/BENCHMARKS.md`). The bucket encrypts under SSE-KMS by default and expires exports by
//! lifecycle; the user downloads through a presigned link of at most one hour, issued afresh
//! on each status read.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value as Json, json};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::data_map::{Category, DATA_MAP, Location, Section};
use super::opt_out;
use super::requests::{self, PrivacyRequest};
use super::zip_stream::{Entry, ZipStream};
use crate::activity;
use crate::audit::{AuditEntry, RequestMeta};
use crate::clock::Timestamp;
use crate::mail::outbox::Queued;
use crate::privacy::Privacy;
use crate::profile::{self, Preferences};
use crate::sessions;
use crate::users::read_profile;
use crate::{Error, Result};

pub const SCHEMA_VERSION: u32 = 1;
/// How long a download link works (the law's "secure means"; short by design).
pub const LINK_TTL: Duration = Duration::from_secs(3600);
/// How long an archive is kept: the export bucket's lifecycle rule (`template.yaml`) and the
/// embedded store's.
pub const RETENTION: Duration = Duration::from_secs(7 * 86_400);
/// Bytes in flight between the archive writer and the upload.
const PIPE_BYTES: usize = 256 * 1024;
/// Items read per table page while streaming long sections.
const PAGE_ITEMS: usize = 200;

/// Where every archive lives (the bucket's lifecycle rule expires this prefix only: the
/// erasure ledger shares the bucket).
pub const PREFIX_ALL: &str = "exports/";

pub fn prefix(user_id: &str) -> String {
    format!("{PREFIX_ALL}{user_id}/")
}

pub fn object_key(user_id: &str, request_id: &str) -> String {
    format!("{}{request_id}.zip", prefix(user_id))
}

/// What one export wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportReport {
    pub bytes: u64,
    pub photos: u64,
    pub activity: u64,
    pub security_events: u64,
}

/// Runs the export of a claimed request and completes it.
///
/// The worker renews its lease while it writes and stops writing when a renewal fails: that
/// is how an erasure's [cancellation](requests::cancel_open) reaches it, within a quarter of the
/// lease. A cancelled export deletes what it uploaded; what a stopped writer leaves half
/// uploaded, the erasure's purge removes.
pub async fn run(
    s: &Privacy<'_>,
    r: &mut PrivacyRequest,
    meta: &RequestMeta,
) -> Result<ExportReport> {
    let table = s.table;
    let now = s.clock.now();
    requests::advance(table, r, "writing_archive", now).await?;
    let key = object_key(&r.user_id, &r.id);
    let user_id = r.user_id.clone();
    let written = async {
        let (reader, writer) = tokio::io::duplex(PIPE_BYTES);
        let upload = s.exports.put(&key, Box::new(reader), "application/zip");
        let produce = async {
            let mut zip = ZipStream::new(writer);
            let report = write_archive(s, &user_id, now, &mut zip, &|_| true).await?;
            let mut w = zip.finish().await?;
            w.shutdown()
                .await
                .map_err(|e| Error::unavailable("export stream", e))?;
            Ok::<_, Error>(report)
        };
        // If either side fails, the other is dropped with it: a failed archive is never
        // completed into an object (the upload sees no end of stream), and a failed upload
        // stops the writer.
        tokio::try_join!(upload, produce)
    };
    let outcome = tokio::select! {
        written = written => written,
        lost = hold_lease(s, r) => Err(lost),
    };
    let (bytes, mut report) = outcome?;
    report.bytes = bytes;
    r.progress
        .insert("export_key".into(), Json::from(key.clone()));
    r.progress.insert(
        "report".into(),
        serde_json::to_value(&report).map_err(|e| Error::internal("JSON encoding", e))?,
    );
    // The event first, as every completion does (recorded once however often this is retried);
    // should the erasure cancel the request in between, its cancellation event follows.
    super::record_completion(s, r, meta).await?;
    let done = s.clock.now();
    let outcome = format!(
        "Your archive is ready: sign in and open the request in your account to download it. It is kept for {} days.",
        RETENTION.as_secs() / 86_400
    );
    let notice = super::notices::completed(s, r, outcome, done).await?;
    let with = notice.iter().map(Queued::op).collect();
    if let Err(e) =
        requests::complete(table, r, "archive ready for download", &[], with, done).await
    {
        // Cancelled (or taken over) while the last part went up: the archive is nobody's.
        if let Err(cleanup) = s.exports.delete_many(&[key]).await {
            tracing::warn!(error = %cleanup, "the archive of an export that did not complete stays for the erasure's purge");
        }
        return Err(e);
    }
    s.outbox.deliver(notice.as_slice()).await;
    Ok(report)
}

/// Renews the worker's lease every quarter lease while the export writes; returns the error
/// that ended it (the request was cancelled or taken over, or the table did not answer in
/// time), never otherwise. The lease in the table is therefore always at least three quarters
/// of a lease ahead of the moment the worker would notice it is no longer the holder.
pub(super) async fn hold_lease(s: &Privacy<'_>, r: &mut PrivacyRequest) -> Error {
    let table = s.table;
    let every = requests::LEASE / 4;
    loop {
        tokio::time::sleep(every).await;
        let step = r.step.clone().unwrap_or_default();
        let now = s.clock.now();
        match tokio::time::timeout(every, requests::advance(table, r, &step, now)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return e,
            Err(_) => {
                return Error::Unavailable(
                    "the export's lease could not be renewed in time".into(),
                );
            }
        }
    }
}

/// A fresh download link for a completed export whose object still exists.
pub async fn download_link(
    s: &Privacy<'_>,
    r: &PrivacyRequest,
) -> Result<Option<(String, Timestamp)>> {
    let Some(key) = r.progress.get("export_key").and_then(Json::as_str) else {
        return Ok(None);
    };
    let exists = s
        .exports
        .list(key, None)
        .await?
        .objects
        .iter()
        .any(|m| m.key == key);
    if !exists {
        return Ok(None); // expired by lifecycle: the user asks again
    }
    let url = s.exports.presign_get(key, LINK_TTL).await?;
    Ok(Some((url, s.clock.now().plus(LINK_TTL))))
}

/// `data.json` written piecewise: `{"k":v,"k2":[...]}`.
struct JsonObject {
    first: bool,
}

impl JsonObject {
    async fn open<W: AsyncWrite + Unpin>(z: &mut Entry<'_, W>) -> Result<Self> {
        z.write(b"{").await?;
        Ok(JsonObject { first: true })
    }
    async fn key<W: AsyncWrite + Unpin>(&mut self, z: &mut Entry<'_, W>, name: &str) -> Result<()> {
        let sep = if std::mem::take(&mut self.first) {
            ""
        } else {
            ","
        };
        z.write(format!("{sep}{}:", json!(name)).as_bytes()).await
    }
    async fn field<W: AsyncWrite + Unpin>(
        &mut self,
        z: &mut Entry<'_, W>,
        name: &str,
        value: &impl Serialize,
    ) -> Result<()> {
        self.key(z, name).await?;
        z.write(&to_json(value)?).await
    }
}

fn to_json(v: &impl Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::internal("JSON encoding", e))
}

/// Writes a JSON array whose elements arrive a page at a time.
async fn array_item<W: AsyncWrite + Unpin>(
    z: &mut Entry<'_, W>,
    count: &mut u64,
    v: &impl Serialize,
) -> Result<()> {
    if *count > 0 {
        z.write(b",").await?;
    }
    *count += 1;
    z.write(&to_json(v)?).await
}

/// Writes the archive of `user_id`'s exported categories that `include` accepts (the photos'
/// files only with their category): every one for an export, the held ones for a legal hold.
pub(super) async fn write_archive<W: AsyncWrite + Unpin>(
    s: &Privacy<'_>,
    user_id: &str,
    now: Timestamp,
    zip: &mut ZipStream<W>,
    include: &(dyn Fn(&Category) -> bool + Sync),
) -> Result<ExportReport> {
    let table = s.table;
    let users = s.users();
    let profile = read_profile(table, user_id).await?.ok_or(Error::NotFound)?;
    let user = users.open(&profile).await?;
    let mut report = ExportReport::default();

    let mut data = zip.start("data.json").await?;
    let z = &mut data;
    let mut doc = JsonObject::open(z).await?;
    doc.field(z, "schema", &"warden-export").await?;
    doc.field(z, "schema_version", &SCHEMA_VERSION).await?;
    doc.field(z, "generated_at", &now.to_rfc3339()).await?;
    doc.field(z, "user_id", &user_id).await?;
    let photo_prefix = crate::photos::prefix(user_id);
    // Read once: the devices section lists them, and the security events tell the user's own
    // devices from others' by them.
    let known_devices = crate::devices::known(table, user_id).await?;
    let own_devices = crate::devices::tags_of(&known_devices);
    let mut with_photos = false;
    for (category, section) in DATA_MAP
        .iter()
        .filter(|c| include(c))
        .filter_map(|c| c.export.map(|section| (c, section)))
    {
        match section {
            Section::Profile => {
                let display_name = profile::display_name(s.user_keys, &profile).await?;
                let v = json!({
                    "user_id": user.id,
                    "email": user.email,
                    "display_name": display_name,
                    "created_at": user.created_at.to_rfc3339(),
                    "password_changed_at": user.password_changed_at.to_rfc3339(),
                });
                doc.field(z, category.name, &v).await?;
            }
            Section::Preferences => {
                let prefs = Preferences::load(table, s.user_keys, user_id).await?;
                doc.field(z, category.name, &prefs).await?;
            }
            Section::PrivacySettings => {
                doc.field(z, category.name, &opt_out::settings(&profile))
                    .await?;
            }
            Section::Activity => {
                doc.key(z, category.name).await?;
                z.write(b"[").await?;
                let mut q = activity::entries(user_id).limit(PAGE_ITEMS);
                loop {
                    let page = table.query(q.clone()).await?;
                    for item in &page.items {
                        let a = activity::from_item(s.user_keys, user_id, item).await?;
                        array_item(z, &mut report.activity, &a).await?;
                    }
                    match page.next {
                        Some(c) => q.start = Some(c),
                        None => break,
                    }
                }
                z.write(b"]").await?;
            }
            Section::Sessions => {
                let list = sessions::list(table, user_id, now, s.session_lifetimes()).await?;
                doc.field(z, category.name, &list).await?;
            }
            Section::Devices => {
                let mut devices = Vec::new();
                for d in &known_devices {
                    devices.push(json!({
                        "device": crate::devices::tag(&d.fingerprint),
                        "first_seen": d.first_seen.map(Timestamp::to_rfc3339),
                        "last_seen": d.last_seen.map(Timestamp::to_rfc3339),
                        "network": d.network(s.user_keys, user_id).await?,
                    }));
                }
                doc.field(z, category.name, &devices).await?;
            }
            Section::SecondFactors => {
                let mut factors = Vec::new();
                if let Some(item) = table.get(&crate::mfa::totp::key(user_id)).await?
                    && let Some(v) = crate::mfa::totp::describe(&item)
                {
                    factors.push(v);
                }
                let codes = crate::mfa::recovery_codes::remaining(table, user_id).await?;
                if !codes.is_empty() {
                    factors.push(json!({
                        "type": "recovery_codes",
                        "description": "single-use recovery codes (only keyed hashes are kept)",
                        "remaining": codes.len(),
                    }));
                }
                for p in crate::mfa::passkeys::of_user(table, user_id).await? {
                    factors.push(json!({ "type": "passkey", "passkey": p }));
                }
                let devices = crate::mfa::remembered::all(table, user_id).await?;
                if !devices.is_empty() {
                    factors.push(json!({
                        "type": "remembered_devices",
                        "description": "devices that sign in with the password alone until the time given",
                        "devices": devices.iter().map(crate::mfa::remembered::describe).collect::<Vec<_>>(),
                    }));
                }
                doc.field(z, category.name, &factors).await?;
            }
            Section::Photos => {
                with_photos = true;
                doc.key(z, category.name).await?;
                z.write(b"[").await?;
                let mut n = 0;
                let mut cursor = None;
                loop {
                    let page = s.photos.list(&photo_prefix, cursor).await?;
                    for m in &page.objects {
                        let id = &m.key[photo_prefix.len()..];
                        let v = json!({ "photo_id": id, "size": m.size, "file": format!("photos/{id}") });
                        array_item(z, &mut n, &v).await?;
                    }
                    match page.next {
                        Some(c) => cursor = Some(c),
                        None => break,
                    }
                }
                z.write(b"]").await?;
            }
            Section::Subscriptions => {
                let subs = s.billing.subscriptions(user_id).await?;
                doc.field(z, category.name, &subs).await?;
            }
            Section::PrivacyRequests => {
                let views: Vec<_> = requests::of_user(table, user_id)
                    .await?
                    .iter()
                    .map(PrivacyRequest::view)
                    .collect();
                doc.field(z, category.name, &views).await?;
            }
            Section::SecurityEvents => {
                doc.key(z, category.name).await?;
                z.write(b"[").await?;
                let mut cursor = None;
                loop {
                    let (entries, next) = s.audit.for_user_page(user_id, cursor).await?;
                    for e in &entries {
                        let v = security_event(s, e, &own_devices).await?;
                        array_item(z, &mut report.security_events, &v).await?;
                    }
                    match next {
                        Some(c) => cursor = Some(c),
                        None => break,
                    }
                }
                z.write(b"]").await?;
            }
        }
    }
    z.write(b"}").await?;
    data.finish().await?;

    if with_photos {
        copy_photos(s, &photo_prefix, zip, &mut report).await?;
    }
    zip.entry("manifest.json", &to_json(&manifest(s, now))?)
        .await?;
    Ok(report)
}

/// The photos under `photo_prefix` into the archive, one at a time, each streamed through a
/// fixed buffer: memory stays flat whatever a photo's size.
async fn copy_photos<W: AsyncWrite + Unpin>(
    s: &Privacy<'_>,
    photo_prefix: &str,
    zip: &mut ZipStream<W>,
    report: &mut ExportReport,
) -> Result<()> {
    let mut cursor = None;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let page = s.photos.list(photo_prefix, cursor).await?;
        for m in &page.objects {
            let Some(mut body) = s.photos.open(&m.key).await? else {
                continue; // deleted since the listing
            };
            let id = &m.key[photo_prefix.len()..];
            let mut z = zip.start(&format!("photos/{id}")).await?;
            loop {
                let n = tokio::io::AsyncReadExt::read(&mut body, &mut buf)
                    .await
                    .map_err(|e| Error::unavailable("photo store", e))?;
                if n == 0 {
                    break;
                }
                z.write(&buf[..n]).await?;
            }
            z.finish().await?;
            report.photos += 1;
        }
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(())
}

/// Whether someone other than the account's holder may have caused `e`: a failed sign-in from
/// a device the user does not have, a lock or unlock, a refresh from another device, a reuse.
fn by_others(e: &AuditEntry, details: &Json, own_devices: &BTreeSet<String>) -> bool {
    match e.event.as_str() {
        "login_failed" => !details["device"]
            .as_str()
            .is_some_and(|d| own_devices.contains(d)),
        "account_locked" | "account_unlocked" | "device_mismatch" | "refresh_reuse_detected" => {
            true
        }
        _ => false,
    }
}

/// One security event as the user's export shows it. Events others may have caused show their
/// time, kind and outcome and a coarse network only — never the other party's address, user
/// agent or device tag (the export holds the requester's data only).
async fn security_event(
    s: &Privacy<'_>,
    e: &AuditEntry,
    own_devices: &BTreeSet<String>,
) -> Result<Json> {
    let personal = s.audit.open_personal(e).await.ok();
    let mut details = serde_json::from_str::<Json>(&e.details).unwrap_or(Json::Null);
    if by_others(e, &details, own_devices) {
        if let Some(d) = details.as_object_mut() {
            d.remove("device");
        }
        let network = personal
            .as_ref()
            .and_then(|p| p.ip.as_deref())
            .and_then(|ip| ip.parse().ok())
            .map(crate::devices::stranger_network);
        return Ok(json!({
            "seq": e.seq,
            "at": e.at.to_rfc3339(),
            "event": e.event,
            "details": details,
            "by": "someone else, or a device of yours this service does not know",
            "network": network,
        }));
    }
    Ok(json!({
        "seq": e.seq,
        "at": e.at.to_rfc3339(),
        "event": e.event,
        "details": details,
        "ip": personal.as_ref().and_then(|p| p.ip.clone()),
        "user_agent": personal.and_then(|p| p.user_agent),
    }))
}

/// The Art. 15(1) information, from the data map.
fn manifest(s: &Privacy<'_>, now: Timestamp) -> Json {
    let categories: Vec<Json> = DATA_MAP
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "description": c.description,
                "purpose": c.purpose,
                "legal_basis": c.legal_basis,
                "recipients": c.recipients,
                "retention": c.retention,
                "source": c.source,
                "in_this_archive": c.export.is_some(),
                "stored_in": match c.location {
                    Location::UserPartition(_) | Location::Keyed(_) | Location::AuditLog => "database",
                    Location::PhotoBucket
                    | Location::ExportBucket
                    | Location::AgentPermission => "object storage",
                    Location::LegalHold => "database and object storage",
                    Location::ServiceLogs => "service logs",
                },
                "kept_after_erasure": c.erasure.kept_because(),
            })
        })
        .collect();
    json!({
        "schema": "warden-export-manifest",
        "schema_version": SCHEMA_VERSION,
        "generated_at": now.to_rfc3339(),
        "controller": s.config.service_name,
        "files": {
            "data.json": "every category marked in_this_archive, as JSON (schema warden-export)",
            "photos/": "the photos you uploaded, as uploaded",
            "manifest.json": "this file",
        },
        "art_15_1": {
            "a_purposes": "per category: purpose",
            "b_categories": "per category: name and description",
            "c_recipients": "per category: recipients; no transfers outside the processors named",
            "d_retention": "per category: retention",
            "e_rights": "you may ask for rectification (PATCH /me), erasure (POST /privacy/gdpr {\"type\":\"delete\"}), restriction and objection; and you may withdraw consent",
            "f_complaint": "you may lodge a complaint with a supervisory authority",
            "g_source": "per category: source",
            "h_automated_decisions": "none with legal or similarly significant effect; the security monitor may lock an account or block an address automatically to stop an attack, which you may contest",
        },
        "categories": categories,
    })
}
