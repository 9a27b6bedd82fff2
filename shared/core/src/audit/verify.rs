//! Verification (`warden-local audit verify`): chains, digests, and completeness.
//!
//! For each shard: every entry present recomputes to its hash and links to its predecessor; the
//! signed head (HMAC) names the last entry. With digests: each digest's signature verifies with
//! the digest public key, each links to the previous one, none is missing between the oldest
//! kept and the newest, and — when the digest store is given — the table's copy equals the
//! store's (the store, under Object Lock, is the original). Then, per shard, from its low-water
//! mark (as of now: see [`super::digest`]) up to the head the newest digest recorded, nothing may
//! be missing, altered or extra; below the mark absence is retention. Entries written after the
//! newest digest are protected only by the chain (and the head's HMAC) until the next one.

use aws_lc_rs::constant_time::verify_slices_are_equal;

use super::digest::{self, SignedDigest};
use super::{AuditEntry, AuditLog};
use crate::blobs::Blobs;
use crate::clock::Timestamp;
use crate::digest_signer::DigestPublicKey;
use crate::{Error, Result};

/// What verification found in one shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardReport {
    pub shard: u32,
    pub entries: u64,
    pub first: Option<u64>,
    pub last: Option<u64>,
    /// The oldest sequence number that had to exist (0: no digest anchors this shard).
    pub low_water: u64,
    /// The head the newest digest recorded (0: none).
    pub digested: u64,
}

/// What verification found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifyReport {
    pub shards: Vec<ShardReport>,
    /// Digests checked.
    pub digests: u64,
    /// The newest digest: its number and time.
    pub latest_digest: Option<(u64, Timestamp)>,
    pub problem: Option<Problem>,
}

impl VerifyReport {
    /// Entries read over every shard.
    pub fn entries(&self) -> u64 {
        self.shards.iter().map(|s| s.entries).sum()
    }

    /// Entries newer than the newest digest: protected by the chain alone until the next.
    pub fn undigested(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.last.unwrap_or(0).saturating_sub(s.digested))
            .sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The entry's content does not match its hash (or the digest's record of it).
    Modified { shard: u32, seq: u64 },
    /// The entry is missing (from the middle, or from above the low-water mark).
    Deleted { shard: u32, seq: u64 },
    /// The entry at this position carries another position's content, or its link to the
    /// previous entry is broken.
    Reordered { shard: u32, seq: u64 },
    /// Entries after this one are gone, or the head was rewritten.
    Truncated { shard: u32, after: u64 },
    /// The shard's head carries an invalid signature.
    ForgedHead { shard: u32 },
    /// The digest's signature does not verify with the digest public key.
    ForgedDigest { number: u64 },
    /// The digest is missing (from the table, or between two kept ones).
    DigestMissing { number: u64 },
    /// The table's copy of the digest differs from the store's.
    DigestAltered { number: u64 },
    /// The digest does not link to its predecessor.
    DigestChainBroken { number: u64 },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Modified { shard, seq } => {
                write!(f, "shard {shard}: entry {seq} was modified")
            }
            Problem::Deleted { shard, seq } => write!(f, "shard {shard}: entry {seq} was deleted"),
            Problem::Reordered { shard, seq } => write!(
                f,
                "shard {shard}: entry {seq} was reordered or its chain link is broken"
            ),
            Problem::Truncated { shard, after } => write!(
                f,
                "shard {shard}: the chain was truncated or rewritten after entry {after}"
            ),
            Problem::ForgedHead { shard } => {
                write!(f, "shard {shard}: the head's signature is invalid")
            }
            Problem::ForgedDigest { number } => {
                write!(f, "digest {number}: the signature does not verify")
            }
            Problem::DigestMissing { number } => write!(f, "digest {number} is missing"),
            Problem::DigestAltered { number } => write!(
                f,
                "digest {number}: the table's copy differs from the digest store's"
            ),
            Problem::DigestChainBroken { number } => {
                write!(f, "digest {number} does not link to the digest before it")
            }
        }
    }
}

/// The digests, checked: from the table, compared with the store when one is given (which also
/// shows digests deleted from the table), each signed by `key` and linked to its predecessor.
async fn checked_digests(
    l: &AuditLog,
    key: Option<&DigestPublicKey>,
    store: Option<&dyn Blobs>,
) -> Result<std::result::Result<Vec<SignedDigest>, Problem>> {
    let mut digests = digest::all(l).await?;
    if let Some(store) = store {
        let first = digests.first().map(|d| d.digest.number).unwrap_or(1);
        let newest_in_table = digests.last().map(|d| d.digest.number);
        for d in &digests {
            match store
                .get(&digest::object_key(&l.namespace, d.digest.number))
                .await?
            {
                Some(bytes) => {
                    if SignedDigest::from_object(&bytes).ok().as_ref() != Some(d) {
                        return Ok(Err(Problem::DigestAltered {
                            number: d.digest.number,
                        }));
                    }
                }
                // The scan writes the store after the table: only the newest may lag (the next
                // run completes it).
                None if Some(d.digest.number) == newest_in_table => {}
                None => {
                    return Ok(Err(Problem::DigestMissing {
                        number: d.digest.number,
                    }));
                }
            }
        }
        // Digests in the store beyond the table's newest were deleted from the table.
        let next = newest_in_table.map(|n| n + 1).unwrap_or(first);
        if store
            .get(&digest::object_key(&l.namespace, next))
            .await?
            .is_some()
        {
            return Ok(Err(Problem::DigestMissing { number: next }));
        }
    }
    if digests.is_empty() {
        return Ok(Ok(digests));
    }
    let Some(key) = key else {
        return Err(Error::Internal(
            "the log has digests but no digest public key was given to verify them".into(),
        ));
    };
    for (i, d) in digests.iter().enumerate() {
        let n = d.digest.number;
        if !key.verifies(d.body.as_bytes(), &d.signature) || d.digest.log != l.namespace {
            return Ok(Err(Problem::ForgedDigest { number: n }));
        }
        if i > 0 {
            let p = &digests[i - 1];
            if n != p.digest.number + 1 {
                return Ok(Err(Problem::DigestMissing {
                    number: p.digest.number + 1,
                }));
            }
            let linked = d.digest.previous.as_ref().is_some_and(|prev| {
                prev.number == p.digest.number
                    && verify_slices_are_equal(prev.sha256.as_bytes(), p.sha256().as_bytes())
                        .is_ok()
            });
            if !linked {
                return Ok(Err(Problem::DigestChainBroken { number: n }));
            }
        } else if n == 1 && d.digest.previous.is_some() {
            return Ok(Err(Problem::DigestChainBroken { number: n }));
        }
    }
    digests.sort_by_key(|d| d.digest.number);
    Ok(Ok(digests))
}

/// Verifies the whole log; see the module docs. `key` may be `None` only for a log that has no
/// digest yet.
pub async fn verify(
    l: &AuditLog,
    key: Option<&DigestPublicKey>,
    store: Option<&dyn Blobs>,
) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let digests = match checked_digests(l, key, store).await? {
        Ok(d) => d,
        Err(p) => {
            report.problem = Some(p);
            return Ok(report);
        }
    };
    report.digests = digests.len() as u64;
    let latest = digests.last();
    report.latest_digest = latest.map(|d| (d.digest.number, Timestamp(d.digest.at_ms)));
    let floor = digest::oldest_alive(l.clock.now(), l.retention);
    let shards = l
        .layout()
        .await?
        .shards()
        .max(latest.map(|d| d.digest.shards.len() as u32).unwrap_or(0));
    for shard in 0..shards {
        let anchor = latest.and_then(|d| d.digest.shard(shard)).map(|m| {
            let heads = digests.iter().filter_map(|d| {
                d.digest
                    .shard(shard)
                    .filter(|_| d.digest.number > m.low_water_from)
                    .map(|h| (d.digest.number, h.head_seq, h.head_at_ms))
            });
            let (low_water, _, _) = digest::advance(
                (m.low_water, m.low_water_at_ms, m.low_water_from),
                heads,
                floor,
            );
            (low_water, m.head_seq, m.head_hash.clone())
        });
        let (r, problem) = verify_shard(l, shard, anchor).await?;
        report.shards.push(r);
        if problem.is_some() {
            report.problem = problem;
            return Ok(report);
        }
    }
    Ok(report)
}

/// One shard: its chain, its head, and (with `anchor` = low-water mark, digested head seq and
/// hash) its completeness.
async fn verify_shard(
    l: &AuditLog,
    shard: u32,
    anchor: Option<(u64, u64, String)>,
) -> Result<(ShardReport, Option<Problem>)> {
    let (low_water, digested, digested_hash) = anchor.clone().unwrap_or((0, 0, String::new()));
    let mut r = ShardReport {
        shard,
        entries: 0,
        first: None,
        last: None,
        low_water,
        digested,
    };
    let must_start = anchor.is_some() && low_water <= digested;
    let mut q = l.entries_of(shard);
    let mut last: Option<(u64, Vec<u8>)> = None;
    loop {
        let page = l.table.query(q.clone()).await?;
        for item in &page.items {
            let position =
                super::entry_position(item).ok_or_else(|| Error::Malformed("audit key"))?;
            let e = AuditEntry::from_item(item)?;
            r.entries += 1;
            if r.first.is_none() {
                r.first = Some(position);
                if must_start && position > low_water {
                    return Ok((
                        r,
                        Some(Problem::Deleted {
                            shard,
                            seq: low_water,
                        }),
                    ));
                }
            }
            if let Some((prev_seq, _)) = &last
                && position != prev_seq + 1
            {
                let seq = prev_seq + 1;
                return Ok((r, Some(Problem::Deleted { shard, seq })));
            }
            if e.seq != position || e.shard != shard {
                return Ok((
                    r,
                    Some(Problem::Reordered {
                        shard,
                        seq: position,
                    }),
                ));
            }
            if e.computed_hash() != e.hash {
                return Ok((
                    r,
                    Some(Problem::Modified {
                        shard,
                        seq: position,
                    }),
                ));
            }
            if let Some((_, prev_hash)) = &last
                && verify_slices_are_equal(prev_hash, &e.prev).is_err()
            {
                return Ok((
                    r,
                    Some(Problem::Reordered {
                        shard,
                        seq: position,
                    }),
                ));
            }
            if position == digested && crate::crypto::hex(&e.hash) != digested_hash {
                return Ok((
                    r,
                    Some(Problem::Modified {
                        shard,
                        seq: position,
                    }),
                ));
            }
            last = Some((position, e.hash));
        }
        match page.next {
            Some(c) => q.start = Some(c),
            None => break,
        }
    }
    r.last = last.as_ref().map(|(s, _)| *s);
    if must_start && r.first.is_none() {
        return Ok((
            r,
            Some(Problem::Deleted {
                shard,
                seq: low_water,
            }),
        ));
    }
    if must_start && r.last.unwrap_or(0) < digested {
        let after = r.last.unwrap_or(0);
        return Ok((r, Some(Problem::Truncated { shard, after })));
    }
    // The signed head must name the last entry.
    match l.head(shard).await? {
        Some(h) => {
            let (seq, hash) = (h.seq, h.hash.as_slice());
            if !l.head_signature_ok(shard, &h) {
                return Ok((r, Some(Problem::ForgedHead { shard })));
            }
            // Every entry up to the head has expired (the digests say none had to remain).
            let expired = r.entries == 0 && anchor.is_some() && seq < low_water;
            let names_last =
                Some(seq) == r.last && last.as_ref().is_none_or(|(_, lh)| lh.as_slice() == hash);
            if !expired && !names_last {
                let after = r.last.unwrap_or(0);
                return Ok((r, Some(Problem::Truncated { shard, after })));
            }
        }
        None if r.entries > 0 => {
            return Ok((r, Some(Problem::Truncated { shard, after: 0 })));
        }
        None => {}
    }
    Ok((r, None))
}
