//! The operator credential of `warden-local`: every `/_local/*` route but the presigned blob
//! links (capability URLs of their own) needs it, loopback or not — the local mailbox will hold
//! reset links, and neither another local process nor a DNS-rebinding page may read them.
//!
//! The token is 256 random bits, created at first start in `<data-dir>/operator-token` (mode
//! 0600, its directory 0700) and sent as `Authorization: Bearer`. A browser trades it once at
//! `GET /_local/login?token=…` for an `HttpOnly; SameSite=Strict` cookie scoped to `/_local`
//! (the request log never records query strings); a POST authenticated by that cookie must also
//! come from the runner's own pages (`Origin`/`Sec-Fetch-Site`), so no other site can forge
//! one. Every request must name the runner by a loopback host (or its listen address) in
//! `Host`, which a DNS-rebinding page cannot.

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use warden_core::{Error, Result};
use warden_http::Problem;

/// The cookie a browser holds after trading the token.
pub const COOKIE: &str = "warden-operator";

#[derive(Debug)]
pub struct Operator {
    token: String,
    /// Host names (without port) a request may name: loopback, and the listen address.
    hosts: Vec<String>,
}

impl Operator {
    /// An operator credential with this token, for a runner listening on `listen`.
    pub fn new(token: String, listen: Option<IpAddr>) -> Arc<Operator> {
        let mut hosts: Vec<String> = ["127.0.0.1", "localhost", "[::1]"]
            .into_iter()
            .map(String::from)
            .collect();
        if let Some(ip) = listen.filter(|ip| !ip.is_unspecified()) {
            hosts.push(match ip {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            });
        }
        Arc::new(Operator { token, hosts })
    }

    /// Reads `<data_dir>/operator-token`, creating it (0600) at first start.
    pub fn load_or_create(data_dir: &Path, listen: Option<IpAddr>) -> Result<Arc<Operator>> {
        warden_embedded::private_files::private_dir(data_dir)?;
        let path = data_dir.join("operator-token");
        let unavailable = |e: std::io::Error| {
            Error::Unavailable(format!("{}: cannot read or create: {e}", path.display()))
        };
        match std::fs::read_to_string(&path) {
            Ok(t) if t.trim().len() >= 32 => {
                warden_embedded::private_files::private_file(&path)?;
                return Ok(Operator::new(t.trim().to_string(), listen));
            }
            Ok(_) => {
                return Err(Error::Unavailable(format!(
                    "{}: not an operator token (delete it to make a new one)",
                    path.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(unavailable(e)),
        }
        let token = warden_core::crypto::hex(&warden_core::crypto::random_bytes::<32>()?);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        match opts.open(&path) {
            Ok(mut f) => {
                f.write_all(token.as_bytes()).map_err(unavailable)?;
                f.sync_all().map_err(unavailable)?;
                Ok(Operator::new(token, listen))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Operator::load_or_create(data_dir, listen)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    fn is(&self, presented: &str) -> bool {
        verify_slices_are_equal(presented.as_bytes(), self.token.as_bytes()).is_ok()
    }

    /// Whether the request names the runner in exactly one `Host` header.
    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let mut hosts = headers.get_all(header::HOST).iter();
        match (hosts.next(), hosts.next()) {
            (Some(host), None) => host.to_str().is_ok_and(|h| self.authority_allowed(h)),
            _ => false, // none, or ambiguous
        }
    }

    /// Whether `authority` (`name:port`, `[v6]:port` or a bare name) names the runner.
    fn authority_allowed(&self, authority: &str) -> bool {
        let name = match authority.rfind(':') {
            Some(i) if !authority[i..].contains(']') => &authority[..i],
            _ => authority,
        };
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(name))
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let h = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = h.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Whether a cookie-authenticated request comes from the runner's own pages.
fn same_origin(headers: &HeaderMap, op: &Operator) -> bool {
    let site_ok = headers
        .get("sec-fetch-site")
        .is_none_or(|v| v.as_bytes() == b"same-origin" || v.as_bytes() == b"none");
    let origin_ok = headers.get(header::ORIGIN).is_none_or(|o| {
        o.to_str()
            .ok()
            .and_then(|o| o.strip_prefix("http://"))
            .is_some_and(|authority| op.authority_allowed(authority))
    });
    site_ok && origin_ok
}

/// The middleware in front of the operator routes.
/// An admitted request carries the local operator ([`warden_core::privacy::operations::Operator`])
/// for the handlers that record who acted.
pub async fn require(State(op): State<Arc<Operator>>, mut req: Request, next: Next) -> Response {
    let headers = req.headers();
    if !op.host_allowed(headers) {
        return Problem(Error::Forbidden).into_response();
    }
    let by_bearer = bearer(headers).is_some_and(|t| op.is(t));
    let by_cookie = warden_http::cookies::get(headers, COOKIE).is_some_and(|t| op.is(&t));
    let admitted =
        by_bearer || (by_cookie && (req.method() == Method::GET || same_origin(headers, &op)));
    if !admitted {
        return Problem(Error::Unauthorized).into_response();
    }
    req.extensions_mut()
        .insert(warden_core::privacy::operations::Operator::local());
    next.run(req).await
}

#[derive(Deserialize)]
pub struct Login {
    token: String,
}

/// `GET /_local/login?token=…`: trades the token for the operator cookie, then shows the
/// dashboard.
pub async fn login(
    State(op): State<Arc<Operator>>,
    headers: HeaderMap,
    Query(q): Query<Login>,
) -> Response {
    if !op.host_allowed(&headers) {
        return Problem(Error::Forbidden).into_response();
    }
    if !op.is(&q.token) {
        return Problem(Error::Unauthorized).into_response();
    }
    let cookie = format!(
        "{COOKIE}={}; Path=/_local; Max-Age=43200; HttpOnly; SameSite=Strict",
        op.token
    );
    let mut resp = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, "/_local/dashboard")],
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
