//! Browsers on the cookie routes — sign-in, refresh, logout: the routes that set or read the
//! refresh cookie, and so the ones a page of another site could try to ride (CSRF).
//!
//! [`check_same_site`] accepts, with no configuration, the API's own origin (the origin of
//! `WARDEN_ISSUER`) and `Sec-Fetch-Site: same-origin`; a request with neither `Origin` nor
//! `Sec-Fetch-Site` (not a browser: it cannot have been forged by one) is accepted; anything
//! cross-site is refused (403). Origins in `WARDEN_ALLOWED_ORIGINS` — an app on another origin of
//! the same site, since the cookie is `SameSite=Strict` — are accepted too and get CORS with
//! credentials, preflight included, on these routes only ([`cors`]).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use warden_core::config::Config;
use warden_core::{Error, Result};

use crate::Problem;

/// The routes that set or read the refresh cookie.
pub const COOKIE_ROUTES: &[&str] = &[
    "/auth/login",
    "/auth/mfa/totp",
    "/auth/mfa/recovery",
    "/auth/passkeys/login",
    "/auth/refresh",
    "/auth/logout",
];

/// The origins the cookie routes accept.
#[derive(Debug, Clone)]
pub struct Origins {
    /// The API's own origin (from the issuer), accepted without CORS.
    own: Option<String>,
    /// Configured origins of the same site, accepted with CORS.
    configured: Vec<String>,
}

impl Origins {
    pub fn of(config: &Config) -> Self {
        Origins {
            own: origin_of(&config.issuer),
            configured: config.allowed_origins.clone(),
        }
    }

    fn configured(&self, origin: &str) -> bool {
        self.configured.iter().any(|a| a == origin)
    }

    fn accepts(&self, origin: &str) -> bool {
        self.own.as_deref() == Some(origin) || self.configured(origin)
    }
}

/// `scheme://host[:port]` of a URL (lower-cased), if it has one.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| format!("{scheme}://{authority}").to_ascii_lowercase())
}

fn origin_header(headers: &HeaderMap) -> Option<std::result::Result<String, ()>> {
    headers.get(header::ORIGIN).map(|o| {
        o.to_str()
            .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
            .map_err(|_| ())
    })
}

/// Refuses a cookie-route request a page of another site sent (see the module docs).
pub fn check_same_site(headers: &HeaderMap, origins: &Origins) -> Result<()> {
    match origin_header(headers) {
        Some(Ok(origin)) if origins.accepts(&origin) => Ok(()),
        Some(_) => Err(Error::Forbidden),
        None => match headers.get("sec-fetch-site").map(HeaderValue::as_bytes) {
            Some(b"cross-site") | Some(b"same-site") => Err(Error::Forbidden),
            _ => Ok(()),
        },
    }
}

/// CORS for the configured origins on the cookie routes: answers their preflight, and lets
/// their pages read the response with credentials. Other origins get no CORS headers (and a
/// preflight from them a 403), so their pages can neither send nor read.
pub async fn cors(origins: Origins, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let on_cookie_route = COOKIE_ROUTES.contains(&path);
    let configured = match origin_header(req.headers()) {
        Some(Ok(o)) if on_cookie_route && origins.configured(&o) => Some(o),
        _ => None,
    };
    if on_cookie_route && req.method() == Method::OPTIONS {
        let Some(origin) = configured else {
            return Problem(Error::Forbidden).into_response();
        };
        let mut resp = StatusCode::NO_CONTENT.into_response();
        allow(resp.headers_mut(), &origin);
        let h = resp.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        return resp;
    }
    let mut resp = next.run(req).await;
    if let Some(origin) = configured {
        allow(resp.headers_mut(), &origin);
        resp.headers_mut().insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("ratelimit, ratelimit-policy, retry-after"),
        );
    }
    resp
}

fn allow(h: &mut HeaderMap, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    h.append(header::VARY, HeaderValue::from_static("origin"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(issuer: &str, configured: &[&str]) -> Origins {
        Origins {
            own: origin_of(issuer),
            configured: configured.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn with(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_apis_own_origin_and_same_origin_fetches_pass_without_configuration() {
        let o = origins("https://api.example.com/v1", &[]);
        assert!(check_same_site(&with(&[("origin", "https://api.example.com")]), &o).is_ok());
        assert!(check_same_site(&with(&[("sec-fetch-site", "same-origin")]), &o).is_ok());
        assert!(
            check_same_site(&HeaderMap::new(), &o).is_ok(),
            "not a browser"
        );
    }

    #[test]
    fn cross_site_requests_are_refused_and_configured_origins_pass() {
        let o = origins("https://api.example.com", &["https://app.example.com"]);
        assert!(check_same_site(&with(&[("origin", "https://evil.example")]), &o).is_err());
        assert!(check_same_site(&with(&[("origin", "null")]), &o).is_err());
        assert!(check_same_site(&with(&[("sec-fetch-site", "cross-site")]), &o).is_err());
        assert!(check_same_site(&with(&[("origin", "https://app.example.com")]), &o).is_ok());
        assert!(check_same_site(&with(&[("origin", "https://APP.example.com/")]), &o).is_ok());
    }

    #[test]
    fn the_origin_of_the_issuer_drops_path_and_keeps_port() {
        assert_eq!(
            origin_of("http://127.0.0.1:3000/x?y").as_deref(),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(origin_of("not a url"), None);
    }
}
