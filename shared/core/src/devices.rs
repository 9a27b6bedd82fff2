//! Devices: a fingerprint hashed from stable client signals, the user's known devices, and the
//! signed device cookie.
//!
//! The fingerprint is an HMAC (server key) over User-Agent, Accept-Language, the client hints
//! `Sec-CH-UA`, `Sec-CH-UA-Platform`, `Sec-CH-UA-Mobile`, and an optional client-supplied
//! `X-Device-Id`, with every version number folded out of the User-Agent and the brand list,
//! so a routine browser update keeps the fingerprint (`Chrome/140` and `Chrome/141` are one
//! device); the signals themselves are never stored. It is a binding, not an identity: a
//! refresh from a device whose fingerprint no longer matches ends that one session, never the
//! user's others (bystanders share fingerprints; only reuse proves theft).
//!
//! Transition: sessions bound before version folding carry the [`Fingerprints::legacy`] form;
//! a refresh accepts it and rebinds the session to the current form, so deploying the change
//! logs nobody out. The legacy form can go once every such session has passed its absolute
//! lifetime (`WARDEN_REFRESH_LIFETIME` after the deploy).

use std::net::IpAddr;

use aws_lc_rs::hmac;

use crate::clock::Timestamp;
use crate::crypto::server_secret::{framed, mac, mac_hex};
use crate::crypto::user_keys::UserKeys;
use crate::table::schema::TTL;
use crate::table::{Condition, Item, Key, Table, Update};
use crate::{Error, Result};

/// The request headers a fingerprint is made of, in order. The transport reads them into
/// [`DeviceSignals`]; the domain never sees the request.
pub const SIGNAL_HEADERS: &[&str] = &[
    "user-agent",
    "accept-language",
    "sec-ch-ua",
    "sec-ch-ua-platform",
    "sec-ch-ua-mobile",
    "x-device-id",
];

/// The values of [`SIGNAL_HEADERS`] one request carried, in that order (an absent header is
/// empty), each cut to its first 512 bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceSignals(Vec<Vec<u8>>);

impl DeviceSignals {
    /// `value_of(name)` for each of [`SIGNAL_HEADERS`].
    pub fn read<'a>(value_of: impl Fn(&str) -> Option<&'a [u8]>) -> Self {
        DeviceSignals(
            SIGNAL_HEADERS
                .iter()
                .map(|h| {
                    value_of(h)
                        .map(|v| v[..v.len().min(512)].to_vec())
                        .unwrap_or_default()
                })
                .collect(),
        )
    }
}

/// The device fingerprint of a request (64 hex characters): the signals with version numbers
/// folded out of the User-Agent and `Sec-CH-UA` (see the module docs).
pub fn fingerprint(key: &hmac::Key, signals: &DeviceSignals) -> String {
    let folded: Vec<Vec<u8>> = signals
        .0
        .iter()
        .zip(SIGNAL_HEADERS)
        .map(|(value, header)| match *header {
            "user-agent" | "sec-ch-ua" => fold_versions(value),
            _ => value.clone(),
        })
        .collect();
    let mut parts: Vec<&[u8]> = vec![b"fingerprint/v2"];
    parts.extend(folded.iter().map(Vec::as_slice));
    mac_hex(key, &parts)
}

/// A request's fingerprint in the current form and in the form sessions were bound to before
/// version folding (accepted by a refresh during the transition, see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprints {
    pub current: String,
    pub legacy: String,
}

impl Fingerprints {
    pub fn of(key: &hmac::Key, signals: &DeviceSignals) -> Self {
        let parts: Vec<&[u8]> = signals.0.iter().map(Vec::as_slice).collect();
        Fingerprints {
            current: fingerprint(key, signals),
            legacy: mac_hex(key, &parts),
        }
    }

    /// Whether a session bound to `bound` belongs to this device.
    pub fn matches(&self, bound: Option<&str>) -> bool {
        bound.is_some_and(|b| b == self.current || b == self.legacy)
    }
}

/// Every run of digits (and the dots and underscores between them) becomes one `#`.
fn fold_versions(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut in_version = false;
    for &b in value {
        let versionish = b.is_ascii_digit() || (in_version && (b == b'.' || b == b'_'));
        if versionish {
            if !in_version {
                out.push(b'#');
            }
            in_version = true;
        } else {
            in_version = false;
            out.push(b);
        }
    }
    out
}

/// The shortened fingerprint audit entries name a device by (48 bits of the keyed hash: enough
/// to group one client's events, not to recompute its signals).
pub fn tag(fp: &str) -> &str {
    &fp[..fp.len().min(12)]
}

/// A coarse network prefix (/24 for IPv4, /48 for IPv6): enough to recognise a network, not a host.
pub fn ip_prefix(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

/// The network a stranger's address is shown as in the user's own export: /16 for IPv4, /48 for
/// IPv6 — where an attempt came from, not who made it.
pub fn stranger_network(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.0.0/16", o[0], o[1])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

/// A person's words for the client a User-Agent names ("Firefox on Linux"), for a new-device
/// notice: the browser family and the system, never the version string or anything rarer.
pub fn describe(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or_default();
    // Order matters: Edge and Opera say Chrome too, Chrome says Safari.
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(token, _)| ua.contains(token))
    .map_or("an unknown browser", |(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(token, _)| ua.contains(token))
    .map_or("an unknown system", |(_, name)| name);
    format!("{browser} on {system}")
}

/// The sort-key prefix of the user's known devices.
const DEVICE_PREFIX: &str = "DEVICE#";

/// A device not signed in from for this long is forgotten (its item expires; the next sign-in
/// from it is a new device again). Each sign-in from it moves the expiry.
pub const DEVICE_RETENTION: std::time::Duration = std::time::Duration::from_secs(365 * 86_400);

/// Attributes of a known device item.
const FINGERPRINT: &str = "fingerprint";
const FIRST_SEEN: &str = "first_seen";
const LAST_SEEN: &str = "last_seen";
const IP_PREFIX: &str = "ip_prefix";
/// What the network prefix is sealed for, under the user's data key.
const IP_PREFIX_FIELD: &str = "device.ip_prefix";

/// A device the user has signed in from, as stored.
#[derive(Debug, Clone)]
pub struct KnownDevice {
    /// The keyed hash of the device's signals.
    pub fingerprint: String,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    /// The network prefix of its last sign-in, sealed under the user's data key.
    sealed_prefix: Option<Vec<u8>>,
}

impl KnownDevice {
    fn from_item(i: &Item) -> Self {
        KnownDevice {
            fingerprint: i.s(FINGERPRINT).unwrap_or_default().to_string(),
            first_seen: i.n(FIRST_SEEN).map(Timestamp),
            last_seen: i.n(LAST_SEEN).map(Timestamp),
            sealed_prefix: i.b(IP_PREFIX).map(<[u8]>::to_vec),
        }
    }

    /// The network prefix of its last sign-in, decrypted (empty when none was stored).
    pub async fn network(&self, user_keys: &UserKeys, user_id: &str) -> Result<String> {
        match &self.sealed_prefix {
            Some(sealed) => {
                String::from_utf8(user_keys.open(user_id, IP_PREFIX_FIELD, sealed).await?)
                    .map_err(|_| Error::Decryption)
            }
            None => Ok(String::new()),
        }
    }
}

/// The user's known devices.
pub async fn known(table: &dyn Table, user_id: &str) -> Result<Vec<KnownDevice>> {
    Ok(crate::table::query_all(
        table,
        crate::table::Query::partition(crate::table::schema::user_partition(user_id))
            .sort(crate::table::SortKey::BeginsWith(DEVICE_PREFIX.into())),
    )
    .await?
    .iter()
    .map(KnownDevice::from_item)
    .collect())
}

/// The tags ([`tag`]) of these devices.
pub fn tags_of(devices: &[KnownDevice]) -> std::collections::BTreeSet<String> {
    devices
        .iter()
        .filter(|d| !d.fingerprint.is_empty())
        .map(|d| tag(&d.fingerprint).to_string())
        .collect()
}

/// The device cookie value for `device_id` on `account` (the email's blind index).
pub fn device_cookie(key: &hmac::Key, device_id: &str, account: &str) -> String {
    let tag = mac(key, &[device_id.as_bytes(), account.as_bytes()]);
    format!("{device_id}.{}", crate::tokens::b64(tag.as_ref()))
}

/// The device id in a device cookie, if its signature is valid for `account` (constant time).
pub fn verify_device_cookie(key: &hmac::Key, cookie: &str, account: &str) -> Option<String> {
    let (id, sig) = cookie.split_once('.')?;
    if id.len() != 32 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let sig = crate::tokens::unb64(sig)?;
    hmac::verify(key, &framed(&[id.as_bytes(), account.as_bytes()]), &sig).ok()?;
    Some(id.to_string())
}

fn device_key(user_id: &str, fp: &str) -> Key {
    Key::new(
        crate::table::schema::user_partition(user_id),
        format!("{DEVICE_PREFIX}{fp}"),
    )
}

/// The write that records a sign-in from a device the user already has: an update of the known
/// device, conditioned on it existing, for a transaction (the login's last write). If it fails,
/// the device is new: [`add`] records it.
pub async fn seen_op(
    user_keys: &UserKeys,
    user_id: &str,
    fp: &str,
    ip: IpAddr,
    now: Timestamp,
) -> Result<crate::table::TxOp> {
    let prefix = user_keys
        .seal(user_id, IP_PREFIX_FIELD, ip_prefix(ip).as_bytes())
        .await?;
    Ok(crate::table::TxOp::Update {
        key: device_key(user_id, fp),
        update: Update::new()
            .set(LAST_SEEN, now.millis())
            .set(IP_PREFIX, prefix)
            .set(TTL, now.plus(DEVICE_RETENTION).secs())
            .when(Condition::Exists),
    })
}

/// Records device `fp` as the user's (the sign-in from it found it unknown: [`seen_op`] was
/// refused); returns `true` if this request added it, `false` if a concurrent sign-in from the
/// same new device did. The network prefix is personal data: it is stored encrypted under the
/// user's key.
pub async fn add(
    table: &dyn Table,
    user_keys: &UserKeys,
    user_id: &str,
    fp: &str,
    ip: IpAddr,
    now: Timestamp,
) -> Result<bool> {
    let prefix = user_keys
        .seal(user_id, IP_PREFIX_FIELD, ip_prefix(ip).as_bytes())
        .await?;
    let fresh = Item::new(&device_key(user_id, fp))
        .with(FINGERPRINT, fp)
        .with(FIRST_SEEN, now.millis())
        .with(LAST_SEEN, now.millis())
        .with(IP_PREFIX, prefix)
        .with(TTL, now.plus(DEVICE_RETENTION).secs());
    match table.put(fresh, Some(Condition::NotExists)).await {
        Ok(()) => Ok(true),
        // A concurrent sign-in from the same new device recorded it first.
        Err(Error::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &[3; 32])
    }

    #[test]
    fn a_device_cookie_is_bound_to_its_account() {
        let id = "0123456789abcdef0123456789abcdef";
        let c = device_cookie(&key(), id, "acct-a");
        assert_eq!(
            verify_device_cookie(&key(), &c, "acct-a").as_deref(),
            Some(id)
        );
        assert_eq!(verify_device_cookie(&key(), &c, "acct-b"), None);
        let forged = c.replace("0123", "9123");
        assert_eq!(verify_device_cookie(&key(), &forged, "acct-a"), None);
    }

    #[test]
    fn fingerprints_change_with_the_signals_and_hide_them() {
        let firefox = |lang: Option<&'static [u8]>| {
            DeviceSignals::read(move |h| match h {
                "user-agent" => Some(b"Firefox/140"),
                "accept-language" => lang,
                _ => None,
            })
        };
        let a = fingerprint(&key(), &firefox(None));
        let b = fingerprint(&key(), &firefox(Some(b"de")));
        assert_ne!(a, b);
        assert!(!a.contains("Firefox"));
    }

    #[test]
    fn a_browser_update_keeps_the_fingerprint_and_another_browser_does_not() {
        let browser = |ua: &'static [u8], brands: &'static [u8]| {
            DeviceSignals::read(move |h| match h {
                "user-agent" => Some(ua),
                "sec-ch-ua" => Some(brands),
                "sec-ch-ua-platform" => Some(b"\"Linux\""),
                _ => None,
            })
        };
        let v140 = browser(
            b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/140.0.7339.80 Safari/537.36",
            b"\"Chromium\";v=\"140\", \"Google Chrome\";v=\"140\"",
        );
        let v141 = browser(
            b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/141.0.7390.54 Safari/537.36",
            b"\"Chromium\";v=\"141\", \"Google Chrome\";v=\"141\"",
        );
        let firefox = browser(
            b"Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
            b"",
        );
        assert_eq!(fingerprint(&key(), &v140), fingerprint(&key(), &v141));
        assert_ne!(fingerprint(&key(), &v140), fingerprint(&key(), &firefox));
        // The form sessions were bound to before folding is still recognised.
        let legacy = Fingerprints::of(&key(), &v140).legacy;
        assert!(Fingerprints::of(&key(), &v140).matches(Some(&legacy)));
        assert!(!Fingerprints::of(&key(), &v141).matches(Some(&legacy)));
    }

    #[test]
    fn ip_prefixes_are_coarse() {
        assert_eq!(ip_prefix("203.0.113.77".parse().unwrap()), "203.0.113.0/24");
        assert_eq!(
            ip_prefix("2001:db8:1:2::9".parse().unwrap()),
            "2001:db8:1::/48"
        );
    }
}
