//! How many shards the audit log has, and since when: stored in the table, not in each
//! function's environment, so raising the count on a live deployment neither rewrites history
//! nor leaves two Lambdas disagreeing about where an event goes.
//!
//! The layout is a list of generations, each a shard count and the time from which it applies.
//! A raise is written [`NOTICE`] ahead of the time it applies, and every process re-reads the
//! layout at least every [`REFRESH`], so all of them switch at the same moment. Shards are never
//! removed: a lower count would orphan a shard's chain. A user's events stay in the shard chosen
//! when the account was created (recorded on the profile), whatever the count becomes; events
//! without a user go by address tag under the generation in force when they happen.

use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::table::{Condition, Item, Key, Table};
use crate::{Error, Result};

/// The shard count of a log whose layout was never raised: enough that one shard's share of a
/// large deployment's sign-ins stays far below a partition's write limit (see
/// `docs/BENCHMARKS.md`, "Audit log shards").
pub const DEFAULT_SHARDS: u32 = 16;
/// The most shards a log may have (each costs the scan one query and the digest one line).
pub const MAX_SHARDS: u32 = 1024;
/// How long a process keeps the layout it read.
pub const REFRESH: Duration = Duration::from_secs(60);
/// How far ahead of its start a raise is written: longer than [`REFRESH`] plus any clock skew.
pub const NOTICE: Duration = Duration::from_secs(600);

/// One generation: from `from` on, new placements pick among `count` shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generation {
    pub from_ms: i64,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    pub generations: Vec<Generation>,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            generations: vec![Generation {
                from_ms: 0,
                count: DEFAULT_SHARDS,
            }],
        }
    }
}

/// The shard `key` falls in among `count`: the first 8 bytes of its SHA-256, modulo the count.
pub fn place(key: &str, count: u32) -> u32 {
    let d = digest(&SHA256, key.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d.as_ref()[..8]);
    (u64::from_be_bytes(b) % u64::from(count.max(1))) as u32
}

impl Layout {
    /// The shard count new placements use at `at`.
    pub fn count_at(&self, at: Timestamp) -> u32 {
        self.generations
            .iter()
            .rev()
            .find(|g| g.from_ms <= at.millis())
            .map(|g| g.count)
            .unwrap_or(DEFAULT_SHARDS)
    }

    /// Every shard that exists or will (counts only grow): `0..shards()`.
    pub fn shards(&self) -> u32 {
        self.generations
            .iter()
            .map(|g| g.count)
            .max()
            .unwrap_or(DEFAULT_SHARDS)
    }

    /// The count of the first generation: where accounts created before any raise were placed.
    pub fn first_count(&self) -> u32 {
        self.generations
            .first()
            .map(|g| g.count)
            .unwrap_or(DEFAULT_SHARDS)
    }

    /// Whether placement never changed: a user's shard then follows from the id alone.
    pub fn is_single(&self) -> bool {
        self.generations.len() == 1
    }

    pub(crate) fn from_item(item: Option<&Item>) -> Result<Layout> {
        match item.and_then(|i| i.s("generations")) {
            None => Ok(Layout::default()),
            Some(json) => {
                let layout: Layout = serde_json::from_str(json)
                    .map_err(|_| Error::Malformed("audit shard layout"))?;
                if layout.generations.is_empty() {
                    return Err(Error::Internal("empty audit shard layout".into()));
                }
                Ok(layout)
            }
        }
    }
}

/// The item that holds `namespace`'s layout.
pub fn key(namespace: &str) -> Key {
    Key::new(namespace, "LAYOUT")
}

/// Raises the shard count to `count` from [`NOTICE`] after `now` (`warden-local audit shards`).
/// One conditional write on the layout item, so two operators raising at once cannot both win.
pub async fn raise(
    table: &dyn Table,
    namespace: &str,
    count: u32,
    now: Timestamp,
) -> Result<Generation> {
    let item = table.get(&key(namespace)).await?;
    let current = Layout::from_item(item.as_ref())?;
    if current.generations.iter().any(|g| g.from_ms > now.millis()) {
        return Err(Error::Conflict(
            "a raise is already waiting to apply; wait until it does".into(),
        ));
    }
    if count <= current.shards() || count > MAX_SHARDS {
        return Err(Error::invalid(
            "count",
            format!(
                "must be above the current {} and at most {MAX_SHARDS} (shards are never removed)",
                current.shards()
            ),
        ));
    }
    let next = Generation {
        from_ms: now.plus(NOTICE).millis(),
        count,
    };
    let mut layout = current.clone();
    layout.generations.push(next);
    let version = item.as_ref().and_then(|i| i.n("version")).unwrap_or(0);
    let body = serde_json::to_string(&layout).map_err(|e| Error::internal("JSON encoding", e))?;
    let condition = match item {
        Some(_) => Condition::eq("version", version),
        None => Condition::NotExists,
    };
    table
        .put(
            Item::new(&key(namespace))
                .with("generations", body)
                .with("version", version + 1),
            Some(condition),
        )
        .await
        .map_err(|e| match e {
            Error::ConditionFailed => {
                Error::Conflict("the layout changed meanwhile; read it and try again".into())
            }
            e => e,
        })?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raise_applies_from_its_start_and_earlier_placements_keep_their_count() {
        let l = Layout {
            generations: vec![
                Generation {
                    from_ms: 0,
                    count: 16,
                },
                Generation {
                    from_ms: 1000,
                    count: 64,
                },
            ],
        };
        assert_eq!(l.count_at(Timestamp(999)), 16);
        assert_eq!(l.count_at(Timestamp(1000)), 64);
        assert_eq!(l.shards(), 64);
        assert!(!l.is_single());
    }

    #[test]
    fn placement_is_stable_and_spreads_over_every_shard() {
        assert_eq!(place("user-a", 16), place("user-a", 16));
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..1000 {
            seen.insert(place(&format!("user-{i}"), 16));
        }
        assert_eq!(seen.len(), 16);
    }
}
