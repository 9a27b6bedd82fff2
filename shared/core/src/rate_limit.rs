//! The API rate limit: a generic cell rate algorithm (GCRA, a token bucket with one number of
//! state) kept in the table, so every Lambda instance shares it.
//!
//! State is `rl_tat`, the "theoretical arrival time" in epoch ms. With emission interval
//! `T = 60 s / rate` and burst tolerance `τ = burst · T`, a request at `now` is admitted iff
//! `max(tat, now) + T − now ≤ τ`, and then `tat := max(tat, now) + T`. DynamoDB cannot compute
//! `max` in an update, so there are two conditional updates, one per case: *hot*
//! (`tat ≥ now`: add `T` if `tat ≤ now + τ − T`) and *idle* (`tat < now` or unset: set
//! `now + T`). Each is a single atomic write; a process remembers each principal's last `tat` to
//! try the right case first, so a steady client costs one round trip. Neither case admitting
//! means limited; one read then computes `Retry-After`.
//!
//! For an authenticated user the state lives on the user's profile item and the write returns
//! the whole item; the write is conditioned on the caller's token still being good (its epoch
//! current, its session not revoked: [`Bucket::User`]), so the revocation check rides on the
//! same round trip, and a dead token never spends its user's budget: the guard charges the
//! client's address instead ([`Decision::Missing`], [`Decision::Stale`]).
//! A refresh is charged on the session family it rotates, in the rotation's own write
//! ([`RateLimiter::riders`]), so a refresh is one round trip too. Anonymous requests are
//! limited per client IP tag, in an item that expires when idle.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::clock::Timestamp;
use crate::table::schema::TTL;
use crate::table::{Condition, Item, Key, Table, Update};
use crate::{Error, Result};

const TAT: &str = "rl_tat";

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub per_minute: u32,
    pub burst: u32,
}

impl Policy {
    /// How long a bucket remembers a request: past this an idle bucket is as good as new.
    pub fn memory(&self) -> Duration {
        Duration::from_millis((self.tolerance() + self.interval()) as u64)
    }

    fn interval(&self) -> i64 {
        (60_000 / i64::from(self.per_minute.max(1))).max(1)
    }
    fn tolerance(&self) -> i64 {
        i64::from(self.burst.max(1)) * self.interval()
    }
    /// The *hot* case: the bucket is in use (`tat ≥ now`) and has room for one more.
    fn hot(&self, now_ms: i64) -> Update {
        let (t, tau) = (self.interval(), self.tolerance());
        Update::new()
            .add(TAT, t)
            .when(Condition::ge(TAT, now_ms).and(Condition::le(TAT, now_ms + tau - t)))
    }
    /// The *idle* case: the bucket is full (`tat < now` or never used).
    fn idle(&self, now_ms: i64) -> Update {
        Update::new()
            .set(TAT, now_ms + self.interval())
            .when(Condition::AttributeNotExists(TAT.into()).or(Condition::lt(TAT, now_ms)))
    }
    /// What is left after an admitted request left `tat`: requests of the burst, and the time
    /// until the bucket is full again.
    fn standing(&self, tat: i64, now_ms: i64) -> Allowance {
        let (t, tau) = (self.interval(), self.tolerance());
        Allowance {
            remaining: ((now_ms + tau - tat).max(0) / t) as u32,
            reset: Duration::from_millis((tat - now_ms).max(0) as u64),
        }
    }
    /// From an item as read: the case that admits a request now, or how long to wait.
    pub fn case_for(&self, item: &Item, now: Timestamp) -> std::result::Result<Update, Duration> {
        let (t, tau, now_ms) = (self.interval(), self.tolerance(), now.millis());
        match item.n(TAT) {
            None => Ok(self.idle(now_ms)),
            Some(tat) if tat < now_ms => Ok(self.idle(now_ms)),
            Some(tat) if tat <= now_ms + tau - t => Ok(self.hot(now_ms)),
            Some(tat) => Err(Duration::from_millis(
                (tat - (now_ms + tau - t)).max(1) as u64
            )),
        }
    }
}

/// What an admitted request leaves of the limit (the `RateLimit` header's `r` and `t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub remaining: u32,
    pub reset: Duration,
}

#[derive(Debug)]
pub enum Decision {
    /// Admitted; the item after the write (the profile, for users), what is left of the burst,
    /// and when the bucket is full again.
    Allowed {
        item: Item,
        remaining: u32,
        reset: Duration,
    },
    Limited {
        retry_after: Duration,
    },
    /// The item that must exist (a user's profile) does not.
    Missing,
    /// The user exists, but the caller's token is no longer good (an old epoch, a revoked
    /// session): nothing was charged.
    Stale,
}

/// Whose bucket a request is charged to.
#[derive(Debug, Clone, Copy)]
pub enum Bucket<'a> {
    /// An anonymous bucket (a client address), created and expiring as needed.
    Client,
    /// A user's profile, never created here: it must exist and satisfy `valid`.
    User { valid: &'a Condition },
}

/// The limiter, with its per-process hints of each principal's last `tat`.
#[derive(Default)]
pub struct RateLimiter {
    hints: Mutex<HashMap<String, i64>>,
}

pub fn ip_bucket(ip_tag: &str) -> Key {
    Key::new(format!("RATEIP#{ip_tag}"), "BUCKET")
}

fn hint_key(key: &Key) -> String {
    format!("{}\u{1f}{}", key.pk, key.sk)
}

impl RateLimiter {
    fn hint(&self, key: &Key) -> Option<i64> {
        self.hints.lock().ok()?.get(&hint_key(key)).copied()
    }

    fn remember(&self, key: &Key, tat: i64) {
        if let Ok(mut h) = self.hints.lock() {
            if h.len() > 100_000 {
                h.clear();
            }
            h.insert(hint_key(key), tat);
        }
    }

    /// Both cases, likelier first, for a caller that charges the limit in its own conditional
    /// update of the item at `key` ([`Update::and`]): when neither its write nor a re-read
    /// admits, [`Policy::case_for`] says which case applies or how long to wait.
    pub fn riders(&self, key: &Key, p: Policy, now: Timestamp) -> [Update; 2] {
        let now_ms = now.millis();
        if self.hint(key).is_some_and(|h| h >= now_ms) {
            [p.hot(now_ms), p.idle(now_ms)]
        } else {
            [p.idle(now_ms), p.hot(now_ms)]
        }
    }

    /// Records what a rider's write left (`item` after it) and returns the allowance.
    pub fn charged(&self, key: &Key, item: &Item, p: Policy, now: Timestamp) -> Allowance {
        let tat = item.n(TAT).unwrap_or(now.millis() + p.interval());
        self.remember(key, tat);
        p.standing(tat, now.millis())
    }

    /// Admits or refuses one request on `key`, the bucket `bucket` names.
    pub async fn admit(
        &self,
        table: &dyn Table,
        key: &Key,
        bucket: Bucket<'_>,
        p: Policy,
        now: Timestamp,
    ) -> Result<Decision> {
        let (tau, now_ms) = (p.tolerance(), now.millis());
        let must_exist = matches!(bucket, Bucket::User { .. });
        let base = |c: Condition| match bucket {
            Bucket::User { valid } => Condition::Exists.and(valid.clone()).and(c),
            Bucket::Client => c,
        };
        let expiry = now
            .plus(Duration::from_millis((tau + 60_000) as u64))
            .secs();
        for mut update in self.riders(key, p, now) {
            update.condition = update.condition.map(base);
            if !must_exist {
                update = update.set(TTL, expiry);
            }
            match table.update(key, update).await {
                Ok(item) => {
                    let Allowance { remaining, reset } = self.charged(key, &item, p, now);
                    return Ok(Decision::Allowed {
                        remaining,
                        reset,
                        item,
                    });
                }
                Err(Error::ConditionFailed) => {}
                Err(e) => return Err(e),
            }
        }
        match table.get(key).await? {
            None if must_exist => Ok(Decision::Missing),
            None => Err(Error::Unavailable("rate limit state contended".into())),
            Some(item) if matches!(bucket, Bucket::User { valid } if !valid.holds(Some(&item))) => {
                Ok(Decision::Stale)
            }
            Some(item) => {
                self.remember(key, item.n(TAT).unwrap_or(now_ms));
                match p.case_for(&item, now) {
                    Err(retry_after) => Ok(Decision::Limited { retry_after }),
                    // The bucket moved between the writes and the read: it has room now.
                    Ok(_) => Ok(Decision::Limited {
                        retry_after: Duration::from_millis(1),
                    }),
                }
            }
        }
    }
}
