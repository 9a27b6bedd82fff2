//! Login failure counting and lockout, atomic in the table.
//!
//! A counter item holds `failures` within a window (its TTL ends the window) and, once locked,
//! `locked_until`. Before verifying a password the login *reserves* an attempt: one conditional
//! update adds 1 only if the account is not locked and fewer than `max` attempts are counted.
//! So 20 concurrent wrong attempts reserve exactly `max` slots (at most `max` Argon2 runs); the
//! rest are answered as locked. The attempt that fills the last slot and fails sets
//! `locked_until`; a success deletes the counter (a success resets the window).
//!
//! Unknown emails use the same counters (keyed by the email's blind index), so they behave
//! exactly like known ones. A device that logged in before presents a signed device cookie and
//! counts its failures in its own counter, so an attacker elsewhere cannot lock the owner out.

use std::time::Duration;

use crate::clock::Timestamp;
use crate::table::schema::TTL;
use crate::table::{Condition, Item, Key, Table, TxOp, Update};
use crate::{Error, Result};

/// Counter limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_failures: u32,
    pub window: Duration,
    pub lockout: Duration,
}

/// The outcome of asking to try a password.
#[derive(Debug, PartialEq, Eq)]
pub enum Gate {
    /// Go ahead; this attempt is counted as the `n`-th in the window. `unlocked` is true when
    /// this request found an ended lock and cleared it (the caller records the unlock event).
    Proceed { n: u32, unlocked: bool },
    /// Locked (or all attempts of the window are taken); retry after this long.
    Locked { retry_after: Duration },
}

pub fn account_counter(account: &str, device: Option<&str>) -> Key {
    match device {
        Some(d) => Key::new(format!("LOGIN#{account}"), format!("FAILURES#DEVICE#{d}")),
        None => Key::new(format!("LOGIN#{account}"), "FAILURES"),
    }
}

/// The counter of wrong second-factor codes: the account's, or a known device's own (so a
/// password thief's wrong codes cannot lock the owner's device out), beside the password's.
pub fn second_factor_counter(account: &str, device: Option<&str>) -> Key {
    match device {
        Some(d) => Key::new(
            format!("LOGIN#{account}"),
            format!("FAILURES#MFA#DEVICE#{d}"),
        ),
        None => Key::new(format!("LOGIN#{account}"), "FAILURES#MFA"),
    }
}

/// The per-IP failure counter, keyed by the IP's pseudonymous tag (never the address itself).
pub fn ip_counter(ip_tag: &str) -> Key {
    Key::new(format!("LOGINIP#{ip_tag}"), "FAILURES")
}

/// A block of an IP (by tag) placed by the security monitor, in the counter's partition so one
/// query reads both.
pub fn ip_block(ip_tag: &str) -> Key {
    Key::new(format!("LOGINIP#{ip_tag}"), "BLOCK")
}

/// Locks the counter `key` until `until` (the monitor's protective action; idempotent).
pub async fn lock(table: &dyn Table, key: &Key, limits: Limits, until: Timestamp) -> Result<()> {
    let item = Item::new(key)
        .with("failures", i64::from(limits.max_failures))
        .with("locked_until", until.millis())
        .with(TTL, until.plus(limits.window).secs());
    match table
        .put(
            item,
            Some(
                Condition::NotExists
                    .or(Condition::AttributeNotExists("locked_until".into()))
                    .or(Condition::lt("locked_until", until.millis())),
            ),
        )
        .await
    {
        Ok(()) | Err(Error::ConditionFailed) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Blocks logins from `ip_tag` until `until` (idempotent: a later block extends it).
pub async fn block_ip(table: &dyn Table, ip_tag: &str, until: Timestamp) -> Result<()> {
    let item = Item::new(&ip_block(ip_tag))
        .with("blocked_until", until.millis())
        .with(TTL, until.secs());
    match table
        .put(
            item,
            Some(Condition::NotExists.or(Condition::lt("blocked_until", until.millis()))),
        )
        .await
    {
        Ok(()) | Err(Error::ConditionFailed) => Ok(()),
        Err(e) => Err(e),
    }
}

fn not_locked(now: Timestamp) -> Condition {
    Condition::AttributeNotExists("locked_until".into())
        .or(Condition::le("locked_until", now.millis()))
}

/// A counter, a lock or an address block as stored, typed: every reader of these items goes
/// through [`Counter::from_item`].
#[derive(Debug, Clone, Copy, Default)]
struct Counter {
    /// Failures counted in the window (absent on a block).
    failures: Option<i64>,
    /// Until when the principal is locked (epoch ms).
    locked_until: Option<i64>,
    /// Until when an address is blocked by the monitor (epoch ms).
    blocked_until: Option<i64>,
    /// When the item expires (epoch seconds, the table's TTL).
    expires_at: Option<i64>,
    /// A failure counter, not a block.
    is_failures: bool,
}

impl Counter {
    fn from_item(item: &Item) -> Counter {
        Counter {
            failures: item.n("failures"),
            locked_until: item.n("locked_until"),
            blocked_until: item.n("blocked_until"),
            expires_at: item.n(TTL),
            is_failures: item.s("sk") == Some("FAILURES"),
        }
    }

    /// How long until the principal may try again (at least a second).
    fn retry_after(&self, now: Timestamp) -> Duration {
        let until = self
            .locked_until
            .or_else(|| self.expires_at.map(|s| s * 1000))
            .unwrap_or(now.millis() + 1000);
        Timestamp(until).since(now).max(Duration::from_secs(1))
    }
}

/// Reserves one attempt on `key` (see the module docs).
pub async fn reserve(table: &dyn Table, key: &Key, limits: Limits, now: Timestamp) -> Result<Gate> {
    // Most attempts find no counter (a success deletes it): open the window in one write.
    let fresh = || {
        Item::new(key)
            .with("failures", 1)
            .with(TTL, now.plus(limits.window).secs())
    };
    // A conflict is another request's transaction holding the counter (a sign-in resetting
    // it): it is over in milliseconds, so it is retried like a lost condition.
    match table.put(fresh(), Some(Condition::NotExists)).await {
        Ok(()) => {
            return Ok(Gate::Proceed {
                n: 1,
                unlocked: false,
            });
        }
        Err(Error::ConditionFailed | Error::Conflict(_)) => {}
        Err(e) => return Err(e),
    }
    let mut unlocked = false;
    for _ in 0..8 {
        let counted = table
            .update(
                key,
                Update::new().add("failures", 1).when(
                    Condition::Exists
                        .and(Condition::lt("failures", i64::from(limits.max_failures)))
                        .and(not_locked(now)),
                ),
            )
            .await;
        match counted {
            Ok(item) => {
                return Ok(Gate::Proceed {
                    n: Counter::from_item(&item).failures.unwrap_or(1) as u32,
                    unlocked,
                });
            }
            Err(Error::ConditionFailed | Error::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        match table.get(key).await? {
            None => match table.put(fresh(), Some(Condition::NotExists)).await {
                Ok(()) => return Ok(Gate::Proceed { n: 1, unlocked }),
                Err(Error::ConditionFailed | Error::Conflict(_)) => continue,
                Err(e) => return Err(e),
            },
            Some(item) => {
                let counter = Counter::from_item(&item);
                // The lock has ended: clear it (once, however many requests race here).
                if let Some(until) = counter.locked_until.filter(|u| *u <= now.millis()) {
                    match table
                        .delete(key, Some(Condition::eq("locked_until", until)))
                        .await
                    {
                        Ok(()) => unlocked = true,
                        Err(Error::ConditionFailed) => {}
                        Err(e) => return Err(e),
                    }
                    continue;
                }
                let locked = counter.locked_until.is_some_and(|u| u > now.millis());
                let full = counter.failures.unwrap_or(0) >= i64::from(limits.max_failures);
                if locked || full {
                    return Ok(Gate::Locked {
                        retry_after: counter.retry_after(now),
                    });
                }
                // The item changed under us: try again.
            }
        }
    }
    Err(Error::Unavailable("login counter contended".into()))
}

/// Records that the reserved attempt `n` failed; locks when it was the last allowed one.
/// Returns the lock's end if this failure locked the account.
pub async fn record_failure(
    table: &dyn Table,
    key: &Key,
    n: u32,
    limits: Limits,
    now: Timestamp,
) -> Result<Option<Timestamp>> {
    if n < limits.max_failures {
        return Ok(None);
    }
    let until = now.plus(limits.lockout);
    // The item outlives the lock by a window, so the first attempt after it ends sees the ended
    // lock and records the unlock.
    let locked = table
        .update(
            key,
            Update::new()
                .set("locked_until", until.millis())
                .set(TTL, until.plus(limits.window).secs())
                .when(Condition::Exists),
        )
        .await;
    match locked {
        Ok(_) => Ok(Some(until)),
        // The counter was reset by a concurrent success: nothing to lock.
        Err(Error::ConditionFailed) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A successful login resets the window.
pub async fn record_success(table: &dyn Table, key: &Key) -> Result<()> {
    table.delete(key, None).await
}

/// [`record_success`] as one operation of a caller's transaction.
pub fn success_op(key: &Key) -> TxOp {
    TxOp::Delete {
        key: key.clone(),
        condition: None,
    }
}

/// Whether the address tagged `current` may try a login: refused (with the wait) when it
/// reached `max` failures in its window or the monitor blocked it. Its items under today's tag
/// and under yesterday's (`earlier`: given only while a window or block from before midnight
/// can still be running) count together, one query each side by side, so the midnight
/// rotation neither resets the counter nor lifts a block; a block found under yesterday's tag
/// is carried over to today's, so it outlives yesterday's key.
pub async fn ip_refused(
    table: &dyn Table,
    current: &str,
    earlier: Option<&str>,
    max: u32,
    now: Timestamp,
) -> Result<Option<Duration>> {
    let query = |tag: &str| {
        crate::table::query_all(
            table,
            crate::table::Query::partition(format!("LOGINIP#{tag}")),
        )
    };
    let (today, yesterday) = tokio::join!(query(current), async {
        match earlier {
            Some(p) => query(p).await,
            None => Ok(Vec::new()),
        }
    });
    let (today, yesterday) = (today?, yesterday?);
    let mut failures = 0;
    let mut refused: Option<Duration> = None;
    for (item, carried) in today
        .iter()
        .map(|i| (Counter::from_item(i), false))
        .chain(yesterday.iter().map(|i| (Counter::from_item(i), true)))
    {
        if let Some(until) = item.blocked_until.filter(|u| *u > now.millis()) {
            if carried {
                block_ip(table, current, Timestamp(until)).await?;
            }
            return Ok(Some(
                Timestamp(until).since(now).max(Duration::from_secs(1)),
            ));
        }
        if item.is_failures {
            failures += item.failures.unwrap_or(0);
            if failures >= i64::from(max) {
                refused = Some(item.retry_after(now));
            }
        }
    }
    Ok(refused)
}

/// [`reserve`] on today's tag of a principal, counting what its tag under yesterday's key
/// (`earlier`) already used in a window that started before midnight: a rotation does not
/// hand an address a fresh budget.
pub async fn reserve_across(
    table: &dyn Table,
    key: &Key,
    earlier: Option<&Key>,
    limits: Limits,
    now: Timestamp,
) -> Result<Gate> {
    let used = match earlier {
        Some(k) => table.get(k).await?,
        None => None,
    };
    match used {
        Some(item) => {
            let counter = Counter::from_item(&item);
            let used = u32::try_from(counter.failures.unwrap_or(0)).unwrap_or(u32::MAX);
            if used >= limits.max_failures {
                return Ok(Gate::Locked {
                    retry_after: counter.retry_after(now),
                });
            }
            let left = Limits {
                max_failures: limits.max_failures - used,
                ..limits
            };
            reserve(table, key, left, now).await
        }
        None => reserve(table, key, limits, now).await,
    }
}

/// Counts one failure on `key` (creating the window if needed).
pub async fn count_failure(
    table: &dyn Table,
    key: &Key,
    window: Duration,
    now: Timestamp,
) -> Result<()> {
    for _ in 0..4 {
        match table
            .update(
                key,
                Update::new().add("failures", 1).when(Condition::Exists),
            )
            .await
        {
            Ok(_) => return Ok(()),
            Err(Error::ConditionFailed) => {}
            Err(e) => return Err(e),
        }
        let fresh = Item::new(key)
            .with("failures", 1)
            .with(TTL, now.plus(window).secs());
        match table.put(fresh, Some(Condition::NotExists)).await {
            Ok(()) => return Ok(()),
            Err(Error::ConditionFailed) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Unavailable("login counter contended".into()))
}
