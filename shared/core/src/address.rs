//! A client's address as a principal: what the API limit, the per-address login counter, the
//! monitor's detectors and its blocks count by.
//!
//! An IPv4 client is its address. An IPv6 client is its network prefix (`WARDEN_IPV6_PREFIX`,
//! /64 by default): one subscriber is routinely handed a whole /64 and can pick any of its 2⁶⁴
//! addresses, so counting per address would hand every attacker an unlimited budget. An
//! IPv4-mapped IPv6 address counts as the IPv4 address it carries. The principal is stored and
//! compared only as a keyed hash ([`AddressTags::tag`]), never as the address.

use std::net::{IpAddr, Ipv6Addr};

use aws_lc_rs::hmac;

use crate::crypto::server_secret::mac_hex;

/// The default IPv6 prefix length a client is counted by.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;

/// Turns client addresses into the pseudonymous tags principals are keyed by.
#[derive(Clone)]
pub struct AddressTags {
    key: hmac::Key,
    ipv6_prefix: u8,
}

impl AddressTags {
    /// `ipv6_prefix` is clamped to 1..=128.
    pub fn new(key: hmac::Key, ipv6_prefix: u8) -> Self {
        AddressTags {
            key,
            ipv6_prefix: ipv6_prefix.clamp(1, 128),
        }
    }

    /// The principal `ip` belongs to: itself (IPv4), or its IPv6 network.
    pub fn principal(&self, ip: IpAddr) -> IpAddr {
        match ip.to_canonical() {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => {
                let mask = u128::MAX << (128 - u32::from(self.ipv6_prefix));
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        }
    }

    /// The pseudonymous tag (HMAC, 32 hex characters) of `ip`'s principal.
    pub fn tag(&self, ip: IpAddr) -> String {
        let principal = self.principal(ip);
        mac_hex(&self.key, &[principal.to_string().as_bytes()])[..32].to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(prefix: u8) -> AddressTags {
        AddressTags::new(hmac::Key::new(hmac::HMAC_SHA256, b"k"), prefix)
    }

    #[test]
    fn ipv6_addresses_of_one_64_share_a_tag_and_other_networks_do_not() {
        let t = tags(DEFAULT_IPV6_PREFIX);
        let a = t.tag("2001:db8:1:2::1".parse().unwrap());
        assert_eq!(
            a,
            t.tag("2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap())
        );
        assert_ne!(a, t.tag("2001:db8:1:3::1".parse().unwrap()));
    }

    #[test]
    fn ipv4_is_counted_per_address_also_when_mapped_into_ipv6() {
        let t = tags(DEFAULT_IPV6_PREFIX);
        let a = t.tag("203.0.113.7".parse().unwrap());
        assert_ne!(a, t.tag("203.0.113.8".parse().unwrap()));
        assert_eq!(a, t.tag("::ffff:203.0.113.7".parse().unwrap()));
    }

    #[test]
    fn the_prefix_length_is_configurable() {
        let t = tags(48);
        assert_eq!(
            t.tag("2001:db8:1:2::1".parse().unwrap()),
            t.tag("2001:db8:1:ffff::1".parse().unwrap())
        );
        assert_eq!(
            tags(128).principal("2001:db8::1".parse().unwrap()),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
    }
}
