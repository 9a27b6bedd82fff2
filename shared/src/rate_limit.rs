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
//! the whole item, so the revocation check (the token epoch) rides on the same round trip.
//! Anonymous requests are limited per client IP tag, in an item that expires when idle.

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
    fn interval(&self) -> i64 {
        (60_000 / i64::from(self.per_minute.max(1))).max(1)
    }
    fn tolerance(&self) -> i64 {
        i64::from(self.burst.max(1)) * self.interval()
    }
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
}

/// The limiter, with its per-process hints of each principal's last `tat`.
#[derive(Default)]
pub struct RateLimiter {
    hints: Mutex<HashMap<String, i64>>,
}

pub fn ip_bucket(ip_tag: &str) -> Key {
    Key::new(format!("RATEIP#{ip_tag}"), "BUCKET")
}

impl RateLimiter {
    fn hint(&self, key: &Key) -> Option<i64> {
        self.hints.lock().ok()?.get(&key.pk).copied()
    }

    fn remember(&self, key: &Key, tat: i64) {
        if let Ok(mut h) = self.hints.lock() {
            if h.len() > 100_000 {
                h.clear();
            }
            h.insert(key.pk.clone(), tat);
        }
    }

    /// Admits or refuses one request on `key`. `must_exist`: the item is a user's profile (never
    /// created here); otherwise it is an anonymous bucket, created and expiring as needed.
    pub async fn admit(
        &self,
        table: &dyn Table,
        key: &Key,
        must_exist: bool,
        p: Policy,
        now: Timestamp,
    ) -> Result<Decision> {
        let (t, tau, now_ms) = (p.interval(), p.tolerance(), now.millis());
        let base = |c: Condition| {
            if must_exist {
                Condition::Exists.and(c)
            } else {
                c
            }
        };
        let expiry = now
            .plus(Duration::from_millis((tau + 60_000) as u64))
            .secs();
        let with_ttl = |u: Update| if must_exist { u } else { u.set(TTL, expiry) };
        let hot = with_ttl(Update::new().add(TAT, t)).when(base(
            Condition::ge(TAT, now_ms).and(Condition::le(TAT, now_ms + tau - t)),
        ));
        let idle = with_ttl(Update::new().set(TAT, now_ms + t)).when(base(
            Condition::AttributeNotExists(TAT.into()).or(Condition::lt(TAT, now_ms)),
        ));
        let order = if self.hint(key).is_some_and(|h| h >= now_ms) {
            [hot, idle]
        } else {
            [idle, hot]
        };
        for update in order {
            match table.update(key, update).await {
                Ok(item) => {
                    let tat = item.n(TAT).unwrap_or(now_ms + t);
                    self.remember(key, tat);
                    return Ok(Decision::Allowed {
                        remaining: ((now_ms + tau - tat).max(0) / t) as u32,
                        reset: Duration::from_millis((tat - now_ms).max(0) as u64),
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
            Some(item) => {
                let tat = item.n(TAT).unwrap_or(now_ms);
                self.remember(key, tat);
                let wait = (tat - (now_ms + tau - t)).max(1);
                Ok(Decision::Limited {
                    retry_after: Duration::from_millis(wait as u64),
                })
            }
        }
    }
}
