//! A client's address as a principal: what the API limit, the per-address login counter, the
//! monitor's detectors and its blocks count by.
//!
//! An IPv4 client is its address. An IPv6 client is its network prefix (`WARDEN_IPV6_PREFIX`,
//! /64 by default): one subscriber is routinely handed a whole /64 and can pick any of its 2⁶⁴
//! addresses, so counting per address would hand every attacker an unlimited budget. An
//! IPv4-mapped IPv6 address counts as the IPv4 address it carries. The principal is stored and
//! compared only as a keyed hash ([`AddressTags::tags`]), never as the address.
//!
//! **Tags rotate.** A tag kept past its day must not let anyone turn it back into an address:
//! an IPv4 tag under a long-lived key is reversed by trying all 2³² addresses. So tags are made
//! with a key per UTC day ([`TagKeys`]): random, wrapped under the KMS key in the table, made by
//! the first process that needs it, and destroyed (table TTL) when the day after it ends. A tag
//! is matched under its own day's key and, through the next day, under the previous one —
//! counters and blocks look under both while their window can span midnight — so a rotation
//! neither resets a counter nor lifts a block, and 24–48 hours after it was made a tag can no
//! longer be recomputed from any address (nor with the server secret, which does not derive
//! these keys). Device fingerprints in audit entries are tagged the same way.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::hmac;

use crate::clock::{Clock, Timestamp};
use crate::crypto::server_secret::mac_hex;
use crate::keys::{EncryptionContext, Keys};
use crate::table::schema::TTL;
use crate::table::{Condition, Item, Key, Table};
use crate::{Error, Result};

/// The default IPv6 prefix length a client is counted by.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;
const DAY: Duration = Duration::from_secs(86_400);
/// How long a process trusts that the previous day has no key (one may be made at midnight by a
/// process whose clock is a little behind).
const ABSENT_RECHECK: Duration = Duration::from_secs(60);

/// The UTC day `t` falls in (days since the epoch).
pub fn day_of(t: Timestamp) -> i64 {
    t.millis().div_euclid(DAY.as_millis() as i64)
}

fn day_start(day: i64) -> Timestamp {
    Timestamp(day * DAY.as_millis() as i64)
}

/// Where day `day`'s tag key is kept.
pub fn tag_key_key(day: i64) -> Key {
    Key::new("TAGKEY", format!("{day:08}"))
}

fn tag_key_context(day: i64) -> EncryptionContext {
    EncryptionContext::new()
        .with("purpose", "address-tag")
        .with("day", &day.to_string())
}

/// The per-day tag keys (see the module docs).
pub struct TagKeys {
    table: Arc<dyn Table>,
    keys: Arc<dyn Keys>,
    clock: Arc<dyn Clock>,
    /// Day → its key, or `None` with when its absence was seen.
    cache: Mutex<BTreeMap<i64, (Option<hmac::Key>, Timestamp)>>,
}

impl TagKeys {
    pub fn new(table: Arc<dyn Table>, keys: Arc<dyn Keys>, clock: Arc<dyn Clock>) -> Self {
        TagKeys {
            table,
            keys,
            clock,
            cache: Mutex::new(BTreeMap::new()),
        }
    }

    /// Day `day`'s key; made when `create` and it does not exist yet (one conditional put: two
    /// processes at midnight agree on the first one's).
    async fn key(&self, day: i64, create: bool) -> Result<Option<hmac::Key>> {
        let now = self.clock.now();
        if let Some((k, seen)) = self
            .cache
            .lock()
            .map_err(|_| Error::Internal("tag key cache poisoned".into()))?
            .get(&day)
            && (k.is_some() || (!create && now.since(*seen) < ABSENT_RECHECK))
        {
            return Ok(k.clone());
        }
        let mut item = self.table.get(&tag_key_key(day)).await?;
        if item.is_none() && create {
            let dk = self.keys.generate_data_key(&tag_key_context(day)).await?;
            let fresh = Item::new(&tag_key_key(day))
                .with("wrapped", dk.wrapped.clone())
                // Usable through the next day, then gone.
                .with(TTL, day_start(day + 2).secs());
            item = match self
                .table
                .put(fresh.clone(), Some(Condition::NotExists))
                .await
            {
                Ok(()) => Some(fresh),
                Err(Error::ConditionFailed) => self.table.get(&tag_key_key(day)).await?,
                Err(e) => return Err(e),
            };
        }
        let key = match item {
            Some(i) => {
                let wrapped = i.b("wrapped").ok_or_else(|| Error::Malformed("tag key"))?;
                let plain = self
                    .keys
                    .decrypt_data_key(wrapped, &tag_key_context(day))
                    .await?;
                Some(hmac::Key::new(hmac::HMAC_SHA256, plain.expose()))
            }
            None => None,
        };
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| Error::Internal("tag key cache poisoned".into()))?;
        let today = day_of(now);
        cache.retain(|d, _| *d >= today - 1);
        cache.insert(day, (key.clone(), now));
        Ok(key)
    }
}

/// Deletes the tag keys whose life ended (days before yesterday), not waiting for the table's
/// TTL, which on DynamoDB may take days to remove an expired item (the scheduled scan runs it;
/// a day missed is caught by the next runs).
pub async fn destroy_expired_tag_keys(table: &dyn Table, now: Timestamp) -> Result<()> {
    let today = day_of(now);
    for day in (today - 4)..=(today - 2) {
        table.delete(&tag_key_key(day), None).await?;
    }
    Ok(())
}

/// A principal's (or a device's) tags: under today's key, and under yesterday's while it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub current: String,
    pub previous: Option<String>,
    /// How long ago today's key took over: a counter whose window is longer may have started
    /// under yesterday's.
    pub since_rotation: Duration,
}

impl Tag {
    /// Yesterday's tag, while a window of `window` could still reach back into its day.
    pub fn previous_within(&self, window: Duration) -> Option<&str> {
        self.previous
            .as_deref()
            .filter(|_| self.since_rotation < window)
    }
}

/// Turns client addresses (and device fingerprints) into the pseudonymous tags principals are
/// keyed by.
#[derive(Clone)]
pub struct AddressTags {
    keys: Arc<TagKeys>,
    ipv6_prefix: u8,
}

impl AddressTags {
    /// `ipv6_prefix` is clamped to 1..=128.
    pub fn new(keys: Arc<TagKeys>, ipv6_prefix: u8) -> Self {
        AddressTags {
            keys,
            ipv6_prefix: ipv6_prefix.clamp(1, 128),
        }
    }

    /// The principal `ip` belongs to: itself (IPv4), or its IPv6 network.
    pub fn principal(&self, ip: IpAddr) -> IpAddr {
        principal(ip, self.ipv6_prefix)
    }

    /// The tags of `ip`'s principal.
    pub async fn tags(&self, ip: IpAddr) -> Result<Tag> {
        let principal = self.principal(ip).to_string();
        self.tagged(b"ip", principal.as_bytes()).await
    }

    /// The tags of a device fingerprint (what audit entries name a device by).
    pub async fn device_tags(&self, fingerprint: &str) -> Result<Tag> {
        self.tagged(b"device", fingerprint.as_bytes()).await
    }

    async fn tagged(&self, label: &[u8], value: &[u8]) -> Result<Tag> {
        let now = self.keys.clock.now();
        let today = day_of(now);
        let current = self
            .keys
            .key(today, true)
            .await?
            .ok_or_else(|| Error::Internal("no tag key for today".into()))?;
        let previous = self.keys.key(today - 1, false).await?;
        Ok(Tag {
            current: tag_with(&current, label, value),
            previous: previous.map(|k| tag_with(&k, label, value)),
            since_rotation: now.since(day_start(today)),
        })
    }
}

fn principal(ip: IpAddr, ipv6_prefix: u8) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let mask = u128::MAX << (128 - u32::from(ipv6_prefix.clamp(1, 128)));
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// A tag: 32 hex characters of an HMAC of `value`, labelled so an address and a device never
/// share one.
fn tag_with(key: &hmac::Key, label: &[u8], value: &[u8]) -> String {
    mac_hex(key, &[label, value])[..32].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(prefix: u8, ip: &str) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"k");
        let p = principal(ip.parse().unwrap(), prefix).to_string();
        tag_with(&key, b"ip", p.as_bytes())
    }

    #[test]
    fn ipv6_addresses_of_one_64_share_a_tag_and_other_networks_do_not() {
        let a = tag(DEFAULT_IPV6_PREFIX, "2001:db8:1:2::1");
        assert_eq!(
            a,
            tag(DEFAULT_IPV6_PREFIX, "2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(a, tag(DEFAULT_IPV6_PREFIX, "2001:db8:1:3::1"));
    }

    #[test]
    fn ipv4_is_counted_per_address_also_when_mapped_into_ipv6() {
        let a = tag(DEFAULT_IPV6_PREFIX, "203.0.113.7");
        assert_ne!(a, tag(DEFAULT_IPV6_PREFIX, "203.0.113.8"));
        assert_eq!(a, tag(DEFAULT_IPV6_PREFIX, "::ffff:203.0.113.7"));
    }

    #[test]
    fn the_prefix_length_is_configurable() {
        assert_eq!(tag(48, "2001:db8:1:2::1"), tag(48, "2001:db8:1:ffff::1"));
        assert_eq!(
            principal("2001:db8::1".parse().unwrap(), 128),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn an_address_and_a_device_never_share_a_tag() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"k");
        assert_ne!(tag_with(&key, b"ip", b"x"), tag_with(&key, b"device", b"x"));
    }

    #[test]
    fn yesterdays_tag_counts_only_while_a_window_can_reach_back_to_it() {
        let t = Tag {
            current: "c".into(),
            previous: Some("p".into()),
            since_rotation: Duration::from_secs(1800),
        };
        assert_eq!(t.previous_within(Duration::from_secs(3600)), Some("p"));
        assert_eq!(t.previous_within(Duration::from_secs(600)), None);
    }
}
