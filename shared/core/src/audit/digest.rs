//! Signed digests of the audit log, CloudTrail-style: what no function but the scan can forge.
//!
//! On the schedule the scan writes digest *n*: every shard's head (sequence number, hash and the
//! head entry's time) and its low-water mark (the oldest sequence number that must still exist),
//! the SHA-256 of digest *n − 1*'s body, the retention, and the key that signed it. The body is
//! signed with the digest key ([`crate::digest_signer`]: KMS `Sign`, granted to the scan alone)
//! and written twice: to the table (conditioned on the number being free, so two overlapping
//! scans write one digest *n*) and then to the digest store (an S3 bucket with Object Lock in
//! compliance mode: not even an administrator of the account can delete or rewrite it before
//! its retention ends). A store write that failed is repeated by the next run.
//!
//! **Low-water marks.** Entries expire by TTL, so the start of a shard disappears legitimately
//! and must not read as tampering; but deleting the start must not read as retention either.
//! A mark is a pair (*seq*, *at*): every entry from *seq* on was written at or after *at*. While
//! *at* is younger than the retention less a margin ([`MARGIN`], for clock skew and TTL
//! timing), every entry from *seq* on must exist. When it ages past that, the mark moves to the
//! first digested head that is still young enough (every entry after a head was written after
//! it). The first digest of a shard takes the oldest entry present then (trust on first use).
//! Between two digests the marks lag by at most one digest interval: that interval at the old
//! end of each shard is the log's grey zone.

use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::AuditLog;
use crate::blobs::Blobs;
use crate::clock::Timestamp;
use crate::digest_signer::{ALGORITHM, DigestSigner};
use crate::table::schema::TTL;
use crate::table::{Condition, Item, Key, Query, SortKey};
use crate::{Error, Result};

/// Slack on the retention boundary: a mark is kept only while its time is younger than the
/// retention less this.
pub const MARGIN: Duration = Duration::from_secs(3600);
/// How much longer than the entries a digest stays in the table.
const KEEP_BEYOND_RETENTION: Duration = Duration::from_secs(30 * 86_400);
/// Digests read per page when a mark has to move.
const PAGE: usize = 16;

/// One shard's line in a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMark {
    pub shard: u32,
    pub head_seq: u64,
    /// Hex SHA-256 of the head entry (empty while the shard is empty).
    pub head_hash: String,
    pub head_at_ms: i64,
    pub low_water: u64,
    pub low_water_at_ms: i64,
    /// The digest whose head set the mark (0: the oldest entry present at the first digest).
    pub low_water_from: u64,
}

/// The link to the previous digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Previous {
    pub number: u64,
    /// Hex SHA-256 of the previous digest's body.
    pub sha256: String,
}

/// A digest's body, as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    pub version: u32,
    pub log: String,
    pub number: u64,
    pub at_ms: i64,
    pub previous: Option<Previous>,
    pub key_id: String,
    pub algorithm: String,
    pub retention_ms: i64,
    pub shards: Vec<ShardMark>,
}

impl Digest {
    pub fn shard(&self, shard: u32) -> Option<&ShardMark> {
        self.shards.iter().find(|m| m.shard == shard)
    }
}

/// A digest with its exact signed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDigest {
    /// The body exactly as signed (JSON).
    pub body: String,
    pub signature: Vec<u8>,
    pub digest: Digest,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    body: String,
    signature: String,
}

impl SignedDigest {
    fn parse(body: String, signature: Vec<u8>) -> Result<Self> {
        let digest = serde_json::from_str(&body).map_err(|_| Error::Malformed("audit digest"))?;
        Ok(SignedDigest {
            body,
            signature,
            digest,
        })
    }

    /// Hex SHA-256 of the body: what the next digest links to.
    pub fn sha256(&self) -> String {
        crate::crypto::hex(digest(&SHA256, self.body.as_bytes()).as_ref())
    }

    /// The object written to the digest store: `{"body": "<the signed JSON>", "signature":
    /// "<base64>"}`.
    pub fn to_object(&self) -> Vec<u8> {
        serde_json::to_vec(&Stored {
            body: self.body.clone(),
            signature: base64::engine::general_purpose::STANDARD.encode(&self.signature),
        })
        .unwrap_or_default()
    }

    pub fn from_object(bytes: &[u8]) -> Result<Self> {
        let bad = || Error::Malformed("audit digest object");
        let s: Stored = serde_json::from_slice(bytes).map_err(|_| bad())?;
        let sig = base64::engine::general_purpose::STANDARD
            .decode(s.signature)
            .map_err(|_| bad())?;
        Self::parse(s.body, sig)
    }

    fn from_item(i: &Item) -> Result<Self> {
        let bad = || Error::Malformed("audit digest item");
        Self::parse(
            i.s("body").ok_or_else(bad)?.to_string(),
            i.b("sig").ok_or_else(bad)?.to_vec(),
        )
    }
}

pub fn partition(log: &str) -> String {
    format!("{log}#DIGESTS")
}

pub fn key(log: &str, number: u64) -> Key {
    Key::new(partition(log), format!("{number:020}"))
}

/// Where digest `number` of `log` lives in the digest store.
pub fn object_key(log: &str, number: u64) -> String {
    format!("audit-digests/{log}/{number:020}.json")
}

/// Digests of `log` in the table numbered `from` or later, ascending, one page.
async fn page_from(l: &AuditLog, from: u64, limit: usize) -> Result<Vec<SignedDigest>> {
    let page = l
        .table
        .query(
            Query::partition(partition(&l.namespace))
                .sort(SortKey::Ge(format!("{from:020}")))
                .limit(limit),
        )
        .await?;
    page.items.iter().map(SignedDigest::from_item).collect()
}

/// Every digest of the log still in the table, ascending.
pub async fn all(l: &AuditLog) -> Result<Vec<SignedDigest>> {
    crate::table::query_all(l.table.as_ref(), Query::partition(partition(&l.namespace)))
        .await?
        .iter()
        .map(SignedDigest::from_item)
        .collect()
}

/// The newest digest in the table.
pub async fn latest(l: &AuditLog) -> Result<Option<SignedDigest>> {
    crate::table::first_live(
        l.table.as_ref(),
        Query::partition(partition(&l.namespace)).backward(),
    )
    .await?
    .as_ref()
    .map(SignedDigest::from_item)
    .transpose()
}

/// Moves a mark forward when it has aged out: to the first head in `heads` (ascending `(seq,
/// at)` of digested heads) that is past the mark and young enough; past the newest head when
/// none is. `oldest_alive` is the oldest time an entry that must exist can have.
pub fn advance(
    mark: (u64, i64, u64),
    heads: impl IntoIterator<Item = (u64, u64, i64)>,
    oldest_alive: i64,
) -> (u64, i64, u64) {
    if mark.1 > oldest_alive {
        return mark;
    }
    let mut last = mark;
    for (number, seq, at) in heads {
        if seq < mark.0 {
            continue;
        }
        let candidate = (seq + 1, at, number);
        if at > oldest_alive {
            return candidate;
        }
        last = candidate;
    }
    last
}

/// The oldest time an entry that must still exist at `now` can have.
pub fn oldest_alive(now: Timestamp, retention: Duration) -> i64 {
    now.millis() - retention.as_millis() as i64 + MARGIN.as_millis() as i64
}

/// Writes the next digest (the scan, on its schedule). Returns `None` when another run wrote
/// this number first.
pub async fn write(
    l: &AuditLog,
    signer: &dyn DigestSigner,
    store: &dyn Blobs,
) -> Result<Option<SignedDigest>> {
    let now = l.clock.now();
    let previous = latest(l).await?;
    if let Some(p) = &previous {
        // A run that stopped between the table and the store: finish its store write.
        let k = object_key(&l.namespace, p.digest.number);
        if store.get(&k).await?.is_none() {
            put_object(store, &k, p).await?;
        }
    }
    let shards = l.layout().await?.shards();
    let floor = oldest_alive(now, l.retention);
    // Marks that aged out move along the digests after the one that set them.
    let mut marks: Vec<(u64, i64, u64)> = Vec::new();
    let mut heads = Vec::new();
    for shard in 0..shards {
        let (seq, hash, at) = match l.head(shard).await? {
            Some(h) => (h.seq, crate::crypto::hex(&h.hash), h.at),
            None => (0, String::new(), 0),
        };
        heads.push((seq, hash, at));
        let mark = match previous.as_ref().and_then(|p| p.digest.shard(shard)) {
            Some(m) => (m.low_water, m.low_water_at_ms, m.low_water_from),
            // The shard's first digest: the oldest entry present now.
            None => match crate::table::first_live(l.table.as_ref(), l.entries_of(shard)).await? {
                Some(e) => {
                    let (seq, at) = super::entry_mark(&e);
                    (seq, at, 0)
                }
                None => (1, now.millis(), 0),
            },
        };
        marks.push(mark);
    }
    if marks.iter().any(|m| m.1 <= floor) {
        let mut from = marks
            .iter()
            .filter(|m| m.1 <= floor)
            .map(|m| m.2)
            .min()
            .unwrap_or(0);
        loop {
            let page = page_from(l, from, PAGE).await?;
            let last = page.last().map(|d| d.digest.number);
            for (shard, mark) in marks.iter_mut().enumerate() {
                let ds = page.iter().filter_map(|d| {
                    d.digest
                        .shard(shard as u32)
                        .map(|m| (d.digest.number, m.head_seq, m.head_at_ms))
                });
                *mark = advance(*mark, ds, floor);
            }
            match last {
                Some(n) if page.len() == PAGE && marks.iter().any(|m| m.1 <= floor) => from = n + 1,
                _ => break,
            }
        }
    }
    let public = signer.public_key().await?;
    let digest = Digest {
        version: 1,
        log: l.namespace.clone(),
        number: previous.as_ref().map(|p| p.digest.number + 1).unwrap_or(1),
        at_ms: now.millis(),
        previous: previous.as_ref().map(|p| Previous {
            number: p.digest.number,
            sha256: p.sha256(),
        }),
        key_id: public.key_id,
        algorithm: ALGORITHM.into(),
        retention_ms: l.retention.as_millis() as i64,
        shards: heads
            .into_iter()
            .zip(marks)
            .enumerate()
            .map(|(shard, ((seq, hash, at), (lw, lw_at, from)))| ShardMark {
                shard: shard as u32,
                head_seq: seq,
                head_hash: hash,
                head_at_ms: at,
                // Nothing below the head's successor can be demanded.
                low_water: lw.min(seq + 1),
                low_water_at_ms: lw_at,
                low_water_from: from,
            })
            .collect(),
    };
    let body = serde_json::to_string(&digest).map_err(|e| Error::internal("JSON encoding", e))?;
    let signature = signer.sign(body.as_bytes()).await?;
    let signed = SignedDigest {
        body,
        signature,
        digest,
    };
    let item = Item::new(&key(&l.namespace, signed.digest.number))
        .with("body", signed.body.as_str())
        .with("sig", signed.signature.clone())
        .with(TTL, now.plus(l.retention + KEEP_BEYOND_RETENTION).secs());
    match l.table.put(item, Some(Condition::NotExists)).await {
        Ok(()) => {}
        Err(Error::ConditionFailed) => return Ok(None),
        Err(e) => return Err(e),
    }
    put_object(
        store,
        &object_key(&l.namespace, signed.digest.number),
        &signed,
    )
    .await?;
    Ok(Some(signed))
}

async fn put_object(store: &dyn Blobs, key: &str, d: &SignedDigest) -> Result<()> {
    let bytes = d.to_object();
    store
        .put(
            key,
            Box::new(std::io::Cursor::new(bytes)),
            "application/json",
        )
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_young_mark_stays_and_an_old_one_moves_to_the_first_young_head() {
        // Digests 1..=3 digested heads 10, 20, 30 written at t = 100, 200, 300.
        let heads = [(1, 10, 100), (2, 20, 200), (3, 30, 300)];
        assert_eq!(advance((1, 50, 0), heads, 40), (1, 50, 0));
        assert_eq!(advance((1, 50, 0), heads, 150), (21, 200, 2));
        // Every head aged out: nothing digested must exist any more.
        assert_eq!(advance((1, 50, 0), heads, 1000), (31, 300, 3));
        // Heads below the mark are skipped.
        assert_eq!(advance((25, 50, 2), heads, 250), (31, 300, 3));
    }
}
