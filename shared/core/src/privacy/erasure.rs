//! The erasure (GDPR Art. 17, CCPA § 1798.105): a persisted, resumable sequence of idempotent
//! steps, one per kind of [`Erasure`] in the data map plus preparation, verification and
//! completion. Before each step the request records it; a failure leaves the request
//! `in_progress` at that step, and the next run (the user asking again, or the schedule)
//! resumes there. Every step may be repeated without harm.
//!
//! The request is `completed` only after [`Step::Verify`] finds nothing of the user left: no
//! item in the user's partition, no email claim or login counter, no photo or export object
//! (versions included: the purge removes them), no unfinished upload, no data key.
//!
//! A [legal hold](super::legal_hold) does not stop it: [`Step::SealHeld`] first copies the held
//! categories under the hold's own key, outside everything verification looks at, and the
//! receipt names them with the hold's reason.
//!
//! Nothing outruns it. [`Step::Prepare`] sets the fence ([`crate::users::ERASING`]) that
//! refuses new upload links and new exports; [`Step::CancelExports`] cancels the export already
//! open, whose worker stops writing by the end of the lease it holds. Verification waits until
//! every upload link issued before the fence has expired and every cancelled writer's lease has
//! ended (plus [`SETTLE_MARGIN`] for clock skew), then purges photos and exports once more and
//! only then looks. The completion event is recorded
//! with [`crate::audit::AuditLog::record_once`], so a retried completion writes it once. The
//! audit log itself is kept (Art. 17(3)(b),(e)): its entries name only the random user id, and
//! their personal part was encrypted under the data key this erasure shreds.

use serde::Serialize;
use serde_json::{Value as Json, json};

use super::data_map::{DATA_MAP, Erasure, Location};
use super::export;
use super::requests::{self, PrivacyRequest};
use crate::audit::RequestMeta;
use crate::crypto::user_keys::data_key_key;
use crate::lockout::account_counter;
use crate::mail::outbox;
use crate::photos;
use crate::privacy::Privacy;
use crate::table::{Condition, Key, Query, Table, TxOp, first_live};
use crate::users::{Profile, attr, claim_held_by, claim_holder, email_claim_key, profile_key};
use crate::{Error, Result};

/// Items deleted per transaction while clearing a partition.
const DELETE_BATCH: usize = 100;
/// Added to the moment the last writer must have stopped, for clocks that disagree and an
/// answer still in flight.
pub const SETTLE_MARGIN: std::time::Duration = std::time::Duration::from_secs(30);
/// The progress field: the legal hold the erasure honours, as the requester sees it.
pub const LEGAL_HOLD: &str = "legal_hold";
/// The progress field: until when (epoch ms) a cancelled export's worker may still write.
const EXPORTS_SETTLE_AT: &str = "exports_settle_at";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Prepare,
    SealHeld,
    CancelExports,
    RevokeSessions,
    CancelSubscriptions,
    PurgePhotos,
    PurgeExports,
    DeleteLoginState,
    DeletePartition,
    ShredKey,
    Verify,
    Complete,
}

pub const ORDER: [Step; 12] = [
    Step::Prepare,
    Step::SealHeld,
    Step::CancelExports,
    Step::RevokeSessions,
    Step::CancelSubscriptions,
    Step::PurgePhotos,
    Step::PurgeExports,
    Step::DeleteLoginState,
    Step::DeletePartition,
    Step::ShredKey,
    Step::Verify,
    Step::Complete,
];

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Prepare => "prepare",
            Step::SealHeld => "seal_held",
            Step::CancelExports => "cancel_exports",
            Step::RevokeSessions => "revoke_sessions",
            Step::CancelSubscriptions => "cancel_subscriptions",
            Step::PurgePhotos => "purge_photos",
            Step::PurgeExports => "purge_exports",
            Step::DeleteLoginState => "delete_login_state",
            Step::DeletePartition => "delete_partition",
            Step::ShredKey => "shred_key",
            Step::Verify => "verify",
            Step::Complete => "complete",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        ORDER.into_iter().find(|x| x.as_str() == s)
    }

    /// The step that erases one kind of data, `None` for data kept (exhaustive: a new kind
    /// needs a step or a reason to be kept).
    pub fn erasing(kind: Erasure) -> Option<Step> {
        Some(match kind {
            Erasure::RevokeSessions => Step::RevokeSessions,
            Erasure::CancelSubscriptions => Step::CancelSubscriptions,
            Erasure::PurgePhotos => Step::PurgePhotos,
            Erasure::PurgeExports => Step::PurgeExports,
            Erasure::DeleteLoginState => Step::DeleteLoginState,
            Erasure::DeletePartition => Step::DeletePartition,
            Erasure::ShredKey => Step::ShredKey,
            Erasure::Kept(_) => return None,
        })
    }
}

/// What one run removed (for logs and benchmarks; the receipt keeps no counts, which a
/// resumed run could not reproduce).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ErasureReport {
    pub exports_cancelled: u32,
    pub sessions_ended: usize,
    pub subscriptions_cancelled: u32,
    pub photo_versions: u64,
    pub export_versions: u64,
    pub login_items: u64,
    pub partition_items: u64,
}

/// Runs (or resumes) the erasure of a claimed request to completion.
pub async fn run(
    s: &Privacy<'_>,
    r: &mut PrivacyRequest,
    meta: &RequestMeta,
) -> Result<ErasureReport> {
    let table = s.table;
    let first = r
        .step
        .as_deref()
        .and_then(Step::parse)
        .unwrap_or(Step::Prepare);
    let mut report = ErasureReport::default();
    for step in ORDER.into_iter().skip_while(|s| *s != first) {
        requests::advance(table, r, step.as_str(), s.clock.now()).await?;
        if let Err(e) = run_step(s, r, step, meta, &mut report).await {
            tracing::warn!(request_id = %r.id, step = step.as_str(), error = %e, "erasure step failed; the request stays in progress");
            return Err(e);
        }
    }
    Ok(report)
}

fn email_index(r: &PrivacyRequest) -> Option<String> {
    r.progress
        .get("email_index")
        .and_then(Json::as_str)
        .map(str::to_string)
}

async fn run_step(
    s: &Privacy<'_>,
    r: &mut PrivacyRequest,
    step: Step,
    meta: &RequestMeta,
    report: &mut ErasureReport,
) -> Result<()> {
    let table = s.table;
    let user_id = r.user_id.clone();
    let now = s.clock.now();
    match step {
        Step::Prepare => {
            // First the ledger, outside the table: a restored backup is erased again from it.
            super::ledger::record(s.exports, &user_id, r.received_at).await?;
            // The address the notices that follow go to, while the account still has it.
            if let Some(user) = s.users().get(&user_id).await? {
                super::notices::seal_address(s, r, &user.email).await?;
            }
            // The email's blind index finds the claim and counters once the profile is gone.
            if email_index(r).is_none()
                && let Some(user) = s.users().get(&user_id).await?
            {
                r.progress.insert(
                    "email_index".into(),
                    Json::from(s.users().index(&user.email)),
                );
            }
            // No upload link from now on; remember until when those already issued work.
            let fence = crate::table::Update::new()
                .set(crate::users::ERASING, now.millis())
                .when(Condition::Exists);
            match table.update(&profile_key(&user_id), fence).await {
                Ok(profile) => {
                    if let Some(until) = Profile::from_item(&profile)?.uploads_until {
                        r.progress
                            .insert(attr::UPLOADS_UNTIL.into(), Json::from(until.millis()));
                    }
                }
                Err(Error::ConditionFailed) => {} // resumed after the profile went
                Err(e) => return Err(e),
            }
        }
        Step::SealHeld => {
            // After the fence (no hold can be placed from then on), before anything is deleted.
            match super::legal_hold::seal(s, r).await? {
                Some(hold) => {
                    r.progress.insert(LEGAL_HOLD.into(), hold.public());
                }
                None => {
                    r.progress.remove(LEGAL_HOLD);
                }
            }
        }
        Step::CancelExports => {
            let note = "cancelled: the account is being erased";
            if let Some(until) =
                requests::cancel_open(table, &user_id, requests::Action::Export, note, now).await?
            {
                let settle = until.plus(SETTLE_MARGIN).millis();
                let earlier = r.progress.get(EXPORTS_SETTLE_AT).and_then(Json::as_i64);
                r.progress.insert(
                    EXPORTS_SETTLE_AT.into(),
                    Json::from(earlier.unwrap_or(0).max(settle)),
                );
                report.exports_cancelled += 1;
            }
            // Recorded once per erasure however often the step is resumed; the details name
            // no request (it is found by the user id and the time).
            if r.progress.contains_key(EXPORTS_SETTLE_AT) {
                s.audit
                    .record_once(
                        &format!("privacy-cancelled-exports:{}", r.id),
                        meta,
                        crate::audit::EventType::PrivacyRequestCancelled,
                        Some(&user_id),
                        json!({ "type": "export", "by_request": r.id }),
                    )
                    .await?;
            }
        }
        Step::RevokeSessions => {
            report.sessions_ended = crate::sessions::revoke_all(table, &user_id, None)
                .await?
                .ended;
        }
        Step::CancelSubscriptions => {
            report.subscriptions_cancelled = s.billing.cancel_all(&user_id, "erasure", now).await?;
        }
        Step::PurgePhotos => {
            report.photo_versions = s.photos.purge_prefix(&photos::prefix(&user_id)).await?;
        }
        Step::PurgeExports => {
            report.export_versions = s.exports.purge_prefix(&export::prefix(&user_id)).await?;
        }
        Step::DeleteLoginState => {
            if let Some(index) = email_index(r) {
                // Only this user's claim: the email may already belong to a new account.
                match table
                    .delete(&email_claim_key(&index), Some(claim_held_by(&user_id)))
                    .await
                {
                    Ok(()) | Err(Error::ConditionFailed) => {}
                    Err(e) => return Err(e),
                }
                let counters = account_counter(&index, None).pk;
                report.login_items += clear_partition(table, &counters, None).await?;
            }
        }
        Step::DeletePartition => {
            let keep = data_key_key(&user_id);
            report.partition_items += clear_partition(
                table,
                &crate::table::schema::user_partition(&user_id),
                Some(&keep),
            )
            .await?;
        }
        Step::ShredKey => s.user_keys.shred(&user_id).await?,
        Step::Verify => {
            // A link issued before the fence may still put a photo under the user's prefix
            // until it expires, and a cancelled export's worker may write until its lease
            // ends: verify (and purge again) only after the last of them.
            let quiet_at = [attr::UPLOADS_UNTIL, EXPORTS_SETTLE_AT]
                .iter()
                .filter_map(|field| r.progress.get(*field).and_then(Json::as_i64))
                .max();
            if let Some(until) = quiet_at
                && now.millis() <= until
            {
                r.step = Some(Step::PurgePhotos.as_str().into());
                requests::advance(table, r, Step::PurgePhotos.as_str(), now).await?;
                return Err(Error::Unavailable(format!(
                    "erasure waits until {} for upload links to expire and cancelled exports to stop",
                    crate::clock::Timestamp(until).to_rfc3339()
                )));
            }
            let leftovers = leftovers(s, r).await?;
            if !leftovers.is_empty() {
                // Something was written while the erasure ran (a late sign-in, an upload):
                // start over; every step is idempotent.
                r.step = Some(Step::RevokeSessions.as_str().into());
                r.progress
                    .insert("last_verification".into(), json!(leftovers));
                requests::advance(table, r, Step::RevokeSessions.as_str(), now).await?;
                return Err(Error::Unavailable(format!(
                    "erasure verification found data left: {}",
                    leftovers.join(", ")
                )));
            }
            r.progress
                .insert("verified_at".into(), Json::from(now.to_rfc3339()));
        }
        Step::Complete => {
            super::record_completion(s, r, meta).await?;
            r.progress.remove("email_index");
            let verified_at = r.progress.get("verified_at").cloned();
            let held = r.progress.get(LEGAL_HOLD);
            let receipt = receipt(verified_at.unwrap_or(Json::Null), held);
            let outcome = super::notices::erasure_outcome(&receipt);
            r.progress.insert("receipt".into(), receipt);
            let notice = super::notices::completed(s, r, outcome, now).await?;
            let kind = super::downstream::Kind::ErasureCompleted;
            let event = s
                .downstream
                .event(kind, &user_id, Some(r), "request", &[], now)?;
            let mut with: Vec<_> = notice.iter().map(outbox::Queued::op).collect();
            with.extend(event.iter().map(super::downstream::Pending::op));
            let downstream = &s.config.downstream_recipients;
            let note = "erasure completed and verified";
            requests::complete(table, r, note, downstream, with, now).await?;
            s.outbox.deliver(notice.as_slice()).await;
            s.downstream.deliver(event.as_slice()).await;
        }
    }
    Ok(())
}

/// The erasure's receipt, from the data map: what was erased, and what was kept with its
/// retention and the basis for keeping it; under a legal hold (`held`, as
/// [`Hold::public`](super::legal_hold::Hold::public) says it), the held categories with the
/// hold's reason instead of among the erased. The request view shows it.
pub fn receipt(verified_at: Json, held: Option<&Json>) -> Json {
    let held_names: Vec<&str> = held
        .and_then(|h| h.get("categories"))
        .and_then(Json::as_array)
        .map(|names| names.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    let erased: Vec<&str> = DATA_MAP
        .iter()
        .filter(|c| c.erasure.kept_because().is_none() && !held_names.contains(&c.name))
        .map(|c| c.name)
        .collect();
    let kept: Vec<Json> = DATA_MAP
        .iter()
        .filter(|c| c.location != Location::LegalHold || held.is_some())
        .filter_map(|c| {
            let basis = c.erasure.kept_because()?;
            Some(json!({ "category": c.name, "retention": c.retention, "basis": basis }))
        })
        .collect();
    let mut receipt = json!({ "erased": erased, "kept": kept, "verified_at": verified_at });
    if let Some(hold) = held {
        receipt["legal_hold"] = hold.clone();
    }
    receipt
}

/// Deletes every item of partition `pk` (except `keep`), a page and a transaction at a time.
/// A page evaluates at most `DELETE_BATCH` items (expired ones included, which it skips), and
/// the next page starts after it: deletions behind the cursor do not move it.
async fn clear_partition(table: &dyn Table, pk: &str, keep: Option<&Key>) -> Result<u64> {
    let mut deleted = 0;
    let mut query = Query::partition(pk).limit(DELETE_BATCH);
    loop {
        let page = table.query(query.clone()).await?;
        let keys: Vec<Key> = page
            .items
            .iter()
            .filter_map(|i| i.key())
            .filter(|k| Some(k) != keep)
            .collect();
        if !keys.is_empty() {
            deleted += keys.len() as u64;
            table
                .transact(
                    keys.into_iter()
                        .map(|key| TxOp::Delete {
                            key,
                            condition: None,
                        })
                        .collect(),
                )
                .await?;
        }
        match page.next {
            Some(c) => query.start = Some(c),
            None => return Ok(deleted),
        }
    }
}

/// What of the user is still stored, by name (empty when the erasure is complete).
pub async fn leftovers(s: &Privacy<'_>, r: &PrivacyRequest) -> Result<Vec<String>> {
    let table = s.table;
    let user_id = &r.user_id;
    let mut found = Vec::new();
    if first_live(
        table,
        Query::partition(crate::table::schema::user_partition(user_id)),
    )
    .await?
    .is_some()
    {
        found.push("user partition".to_string());
    }
    if table.get(&profile_key(user_id)).await?.is_some() {
        found.push("profile".into());
    }
    if table.get(&data_key_key(user_id)).await?.is_some() {
        found.push("data key".into());
    }
    if let Some(index) = email_index(r) {
        if claim_holder(table, &index).await?.as_deref() == Some(user_id) {
            found.push("email claim".into());
        }
        let counters = account_counter(&index, None).pk;
        if first_live(table, Query::partition(counters))
            .await?
            .is_some()
        {
            found.push("login counters".into());
        }
    }
    let stores = [
        ("photos", &s.photos, photos::prefix(user_id)),
        ("exports", &s.exports, export::prefix(user_id)),
    ];
    for (name, blobs, prefix) in stores {
        if !blobs.list(&prefix, None).await?.objects.is_empty() {
            found.push(name.to_string());
        }
        if !blobs.unfinished(&prefix).await?.is_empty() {
            found.push(format!("unfinished {name} uploads"));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_data_in_the_map_has_an_erasure_step_in_the_order() {
        for c in DATA_MAP {
            if let Some(step) = Step::erasing(c.erasure) {
                assert!(ORDER.contains(&step), "{}", c.name);
            }
        }
        for s in ORDER {
            assert_eq!(Step::parse(s.as_str()), Some(s));
        }
    }
}
