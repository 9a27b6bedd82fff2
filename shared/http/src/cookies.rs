//! Reading and writing the two cookies Warden sets. Values are never logged.
//!
//! - refresh: `__Secure-warden-refresh`, `Path=/auth` (only the refresh and logout routes need
//!   it; `__Host-` would force `Path=/`), `HttpOnly; Secure; SameSite=Strict`.
//! - device: `__Host-warden-device`, `Path=/`, same flags, one year: marks a device that has
//!   logged in successfully before (see [`warden_core::lockout`]).

use std::time::Duration;

use http::HeaderMap;

pub const REFRESH: &str = "__Secure-warden-refresh";
pub const DEVICE: &str = "__Host-warden-device";

/// The value of cookie `name` from the `Cookie` headers, if present once.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = None;
    for h in headers.get_all(http::header::COOKIE) {
        for pair in h.to_str().ok()?.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=')
                && k == name
            {
                if found.is_some() {
                    return None; // two cookies of one name: ambiguous, trust neither
                }
                found = Some(v.trim_matches('"').to_string());
            }
        }
    }
    found.filter(|v| !v.is_empty() && v.len() <= 512)
}

pub fn set_refresh(value: &str, max_age: Duration) -> String {
    format!(
        "{REFRESH}={value}; Path=/auth; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
        max_age.as_secs()
    )
}

pub fn clear_refresh() -> String {
    format!("{REFRESH}=; Path=/auth; Max-Age=0; HttpOnly; Secure; SameSite=Strict")
}

pub fn set_device(value: &str) -> String {
    format!("{DEVICE}={value}; Path=/; Max-Age=31536000; HttpOnly; Secure; SameSite=Strict")
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
        assert!(set_device("v").starts_with("__Host-") && set_device("v").contains("Path=/;"));
    }
}
