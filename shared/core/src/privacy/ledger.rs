//! The erasure ledger: what makes "erased" true of backups as well.
//!
//! Crypto-shredding destroys a user's data key in the table; a point-in-time restore of the
//! table (DynamoDB keeps 35 days) brings the wrapped key back, and the KMS key that unwraps it
//! still exists. So every erasure first writes one ledger entry — the user id and the time, no
//! other data — to object storage, outside the table a restore rewinds (the export bucket's
//! `ledger/erasures/` prefix, which no lifecycle rule expires). After a restore, and before the
//! restored table serves traffic, [`reapply`] (`warden-local ledger apply`) runs the erasure
//! again for every entry whose user has anything left in the table. The procedure is in
//! `docs/COMPLIANCE.md`.
//!
//! The entry is written before anything is deleted, so a restore to any moment of a running
//! erasure is covered too. An entry is kept as long as a backup that predates it may be
//! restored; removing older entries is the operator's decision, made with the backup retention.

use serde::{Deserialize, Serialize};

use super::requests::{self, Action, Regime, RequestType};
use crate::Result;
use crate::audit::RequestMeta;
use crate::blobs::Blobs;
use crate::clock::Timestamp;
use crate::privacy::Privacy;
use crate::table::Query;

/// Where the entries live, one object per erased user.
pub const PREFIX: &str = "ledger/erasures/";

/// One entry: who was erased, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub user_id: String,
    pub erasure_requested_at: String,
}

fn entry_key(user_id: &str) -> String {
    format!("{PREFIX}{user_id}.json")
}

/// Records that `user_id` is being erased (idempotent: a resumed erasure writes the same entry
/// with its first time).
pub async fn record(ledger: &dyn Blobs, user_id: &str, requested_at: Timestamp) -> Result<()> {
    let key = entry_key(user_id);
    if ledger.get(&key).await?.is_some() {
        return Ok(());
    }
    let entry = Entry {
        user_id: user_id.to_string(),
        erasure_requested_at: requested_at.to_rfc3339(),
    };
    let body =
        serde_json::to_vec(&entry).map_err(|e| crate::Error::internal("JSON encoding", e))?;
    ledger
        .put(
            &key,
            Box::new(std::io::Cursor::new(body)),
            "application/json",
        )
        .await
        .map(|_| ())
}

/// What [`reapply`] found and did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReapplyReport {
    /// Entries in the ledger.
    pub entries: u64,
    /// Users the restored table still held something of: their erasure was run again.
    pub reapplied: Vec<String>,
    /// Of those, the ones whose erasure has not completed yet (it waits for something, see
    /// the request; the schedule finishes it).
    pub pending: Vec<String>,
}

/// Runs the erasure again for every ledger entry whose user's partition the table holds
/// anything of (the profile, the data key, …: the erasure empties the partition after it has
/// deleted the email claim and counters, and shreds the key last, so a restore to any moment
/// before the erasure's end shows there).
pub async fn reapply(s: &Privacy<'_>, meta: &RequestMeta) -> Result<ReapplyReport> {
    let mut report = ReapplyReport::default();
    for user_id in entries(s.exports).await? {
        report.entries += 1;
        match reapply_one(s, &user_id, meta).await? {
            Reapplied::NothingLeft => {}
            Reapplied::Erased => report.reapplied.push(user_id),
            Reapplied::Pending => {
                report.reapplied.push(user_id.clone());
                report.pending.push(user_id);
            }
        }
    }
    Ok(report)
}

/// The user ids the ledger names.
pub async fn entries(ledger: &dyn Blobs) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut cursor = None;
    loop {
        let page = ledger.list(PREFIX, cursor).await?;
        ids.extend(page.objects.iter().filter_map(|o| {
            let id = o.key.strip_prefix(PREFIX)?.strip_suffix(".json")?;
            Some(id.to_string())
        }));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(ids),
        }
    }
}

/// What [`reapply_one`] did for one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reapplied {
    /// The table holds nothing of the user.
    NothingLeft,
    /// The erasure ran again and completed.
    Erased,
    /// The erasure ran again and waits for something (the schedule finishes it).
    Pending,
}

/// Re-applies the erasure of one ledger entry's user, if the table holds anything of them.
pub async fn reapply_one(s: &Privacy<'_>, user_id: &str, meta: &RequestMeta) -> Result<Reapplied> {
    let table = s.table;
    let restored = crate::table::first_live(
        table,
        Query::partition(crate::table::schema::user_partition(user_id)),
    )
    .await?
    .is_some();
    if !restored {
        return Ok(Reapplied::NothingLeft);
    }
    let rtype = RequestType {
        regime: Regime::Gdpr,
        action: Action::Erase,
    };
    let (r, _) = requests::submit(table, user_id, rtype, s.clock.now()).await?;
    let done = match super::process(s, &r.id, meta).await {
        // Warden's part is done (downstream recipients were told at the first erasure).
        Ok(Some(done)) => !done.state.is_runnable(),
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(user_id, error = %e, "re-applied erasure did not complete yet");
            false
        }
    };
    Ok(if done {
        Reapplied::Erased
    } else {
        Reapplied::Pending
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_hold_the_user_id_and_a_time_only() {
        let e = Entry {
            user_id: "u1".into(),
            erasure_requested_at: "2026-11-30T00:00:00.000Z".into(),
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 2);
        assert_eq!(entry_key("u1"), "ledger/erasures/u1.json");
    }
}
