//! Reading and writing the two cookies Warden sets. Values are never logged.
//!
//! - refresh: `__Secure-warden-refresh`, `Path=/auth` (only the refresh and logout routes need
//!   it; `__Host-` would force `Path=/`), `HttpOnly; Secure; SameSite=Strict`.
//! - device: `__Host-warden-device`, `Path=/`, same flags, one year: marks a device that has
//!   logged in successfully before (see [`warden_core::lockout`]).
//!
//! Parsing and building go through the `cookie` crate; Warden adds its own rules on top: a name
//! sent twice (in one `Cookie` header or across several) is ambiguous and neither value is
//! trusted (a sibling subdomain can plant a second cookie of the same name), an empty value or one
//! over 512 bytes counts as absent, and every cookie it sets is `HttpOnly; Secure;
//! SameSite=Strict`.

use std::time::Duration;

use cookie::{Cookie, SameSite};
use http::HeaderMap;

pub const REFRESH: &str = "__Secure-warden-refresh";
pub const DEVICE: &str = "__Host-warden-device";

/// The longest cookie value accepted.
const VALUE_MAX: usize = 512;

/// The value of cookie `name` from the `Cookie` headers, if present once.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = None;
    for h in headers.get_all(http::header::COOKIE) {
        // A pair the crate cannot parse (no `=`, say) is skipped, as a browser would.
        for c in Cookie::split_parse(h.to_str().ok()?).flatten() {
            if c.name() == name {
                if found.is_some() {
                    return None; // two cookies of one name: ambiguous, trust neither
                }
                found = Some(c.value_trimmed().to_string());
            }
        }
    }
    found.filter(|v| !v.is_empty() && v.len() <= VALUE_MAX)
}

/// `name=value` with Warden's flags, `path` and `max_age`.
fn strict(name: &'static str, value: &str, path: &'static str, max_age: Duration) -> String {
    Cookie::build((name, value.to_string()))
        .path(path)
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
        ))
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .build()
        .to_string()
}

pub fn set_refresh(value: &str, max_age: Duration) -> String {
    strict(REFRESH, value, "/auth", max_age)
}

pub fn clear_refresh() -> String {
    strict(REFRESH, "", "/auth", Duration::ZERO)
}

pub fn set_device(value: &str) -> String {
    strict(DEVICE, value, "/", Duration::from_secs(31_536_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicated_cookie_is_not_trusted() {
        let mut h = HeaderMap::new();
        h.append(
            http::header::COOKIE,
            "a=1; __Secure-warden-refresh=x".parse().unwrap(),
        );
        assert_eq!(get(&h, REFRESH).as_deref(), Some("x"));
        h.append(
            http::header::COOKIE,
            "__Secure-warden-refresh=y".parse().unwrap(),
        );
        assert_eq!(get(&h, REFRESH), None);
    }

    #[test]
    fn cookies_are_host_only_secure_and_strict() {
        let c = set_refresh("v", Duration::from_secs(60));
        for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/auth"] {
            assert!(c.contains(part), "{c}");
        }
        let device = set_device("v");
        assert!(device.starts_with("__Host-warden-device=v;"), "{device}");
        assert!(device.split("; ").any(|p| p == "Path=/"), "{device}");
        assert!(device.contains("Max-Age=31536000"), "{device}");
        let cleared = clear_refresh();
        assert!(
            cleared.starts_with("__Secure-warden-refresh=;"),
            "{cleared}"
        );
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
    }

    #[test]
    fn quoted_values_are_unquoted_and_malformed_pairs_skipped() {
        let mut h = HeaderMap::new();
        h.append(
            http::header::COOKIE,
            "junk; __Secure-warden-refresh=\"q\"; other=1"
                .parse()
                .unwrap(),
        );
        assert_eq!(get(&h, REFRESH).as_deref(), Some("q"));
        let mut h = HeaderMap::new();
        let long = format!("{REFRESH}={}", "x".repeat(513));
        h.append(http::header::COOKIE, long.parse().unwrap());
        assert_eq!(get(&h, REFRESH), None, "over 512 bytes is absent");
        let mut h = HeaderMap::new();
        h.append(
            http::header::COOKIE,
            "__Secure-warden-refresh=".parse().unwrap(),
        );
        assert_eq!(get(&h, REFRESH), None, "empty is absent");
    }
}
