//! The one middleware every HTTP function runs before its handler: authenticate the bearer
//! token (if any), apply the API rate limit to the principal (the user when the token is valid,
//! the client IP otherwise), and check revocation — the rate-limit write on the user's profile
//! returns the profile, so an authenticated request costs one table round trip for both, and
//! the handler gets that profile with the caller ([`Authenticated::profile`]) instead of
//! reading it again.
//!
//! The verdict travels to the handler as a request extension; [`super::auth::Authenticated`]
//! reads it instead of verifying again.
//!
//! One route charges the limit itself: `POST /auth/refresh` with a well-formed refresh cookie
//! gets a [`DeferredCharge`] instead of an IP charge, and the handler charges the session it
//! rotates in the rotation's own write (one round trip for the whole refresh). Should that write
//! fail for any reason, the handler charges the client IP before it looks further, so a refused
//! or forged cookie is limited exactly as an anonymous request.

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;

use super::ClientIp;
use crate::Error;
use crate::Problem;
use crate::cookies;
use warden_core::audit::EventType;
use warden_core::caller::Caller;
use warden_core::privacy::opt_out;
use warden_core::rate_limit::{Allowance, Decision, Policy, ip_bucket};
use warden_core::services::AppState;
use warden_core::users::profile_key;

/// The route whose handler charges the rate limit on the session it rotates.
pub const SESSION_CHARGED_ROUTE: &str = "/auth/refresh";

/// Left by the guard for the [`SESSION_CHARGED_ROUTE`] handler: the limit is yet to be charged,
/// on the session (hot path) or else on the client IP's bucket.
#[derive(Debug, Clone, Copy)]
pub struct DeferredCharge {
    pub policy: Policy,
}

/// `RateLimit` / `RateLimit-Policy` headers for an admitted request.
pub fn allowance_headers(policy: Policy, a: Allowance) -> http::HeaderMap {
    let mut headers = policy_headers(policy);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "\"api\";r={};t={}",
        a.remaining,
        a.reset.as_secs() + u64::from(a.reset.subsec_nanos() > 0)
    )) {
        headers.insert("ratelimit", v);
    }
    headers
}

fn policy_headers(policy: Policy) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    let policy_header = format!(
        "\"api\";q={};w=60;burst={}",
        policy.per_minute, policy.burst
    );
    if let Ok(v) = HeaderValue::from_str(&policy_header) {
        headers.insert("ratelimit-policy", v);
    }
    headers
}

/// The 429 for a request over the limit: `Retry-After` and the `RateLimit` headers.
pub fn limited(policy: Policy, retry_after: std::time::Duration) -> Response {
    let mut resp = Problem(Error::TooManyRequests { retry_after }).into_response();
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    if let Ok(v) = HeaderValue::from_str(&format!("\"api\";r=0;t={secs}")) {
        resp.headers_mut().insert("ratelimit", v);
    }
    resp.headers_mut().extend(policy_headers(policy));
    resp
}

/// What the guard concluded about the bearer token.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// A valid, unrevoked token.
    Authenticated(Box<Caller>),
    /// A validly signed token whose user has since revoked it (or no longer exists).
    Revoked,
}

fn bearer(req: &Request) -> Option<&str> {
    let h = req
        .headers()
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = h.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A `Sec-GPC: 1` request from a user not yet opted out: record the opt-out (one conditional
/// write; only the request that flips it writes the audit event). Returns the profile after
/// the write when this request flipped it.
async fn record_gpc_opt_out(
    s: &AppState,
    req: Request,
    user_id: &str,
) -> warden_core::Result<(Request, Option<warden_core::table::Item>)> {
    let (mut parts, body) = req.into_parts();
    let crate::request_meta::ClientMeta(meta) =
        crate::request_meta::ClientMeta::from_request_parts(&mut parts, &())
            .await
            .map_err(|p| p.0)?;
    let now = s.backends.clock.now();
    let source = opt_out::Source::GlobalPrivacyControl;
    let flipped = opt_out::record(s.backends.table.as_ref(), user_id, source, now).await?;
    if flipped.is_some() {
        s.audit
            .record(
                &meta,
                EventType::OptOutRecorded,
                Some(user_id),
                serde_json::json!({ "source": "global_privacy_control" }),
            )
            .await?;
    }
    Ok((Request::from_parts(parts, body), flipped))
}

/// Whether the request carries the Global Privacy Control signal (`Sec-GPC: 1`).
pub fn gpc_signal(headers: &http::HeaderMap) -> bool {
    headers
        .get("sec-gpc")
        .is_some_and(|v| v.as_bytes().trim_ascii() == b"1")
}

/// A domain error as the response that ends the request here.
fn reject(e: impl Into<Problem>) -> Response {
    e.into().into_response()
}

pub async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    match admit(&s, req).await {
        Ok((req, headers)) => {
            let mut resp = next.run(req).await;
            resp.headers_mut().extend(headers);
            resp
        }
        Err(resp) => resp,
    }
}

async fn admit(s: &AppState, mut req: Request) -> Result<(Request, http::HeaderMap), Response> {
    let policy = Policy {
        per_minute: s.config.api_rate_per_minute,
        burst: s.config.api_burst,
    };
    let now = s.backends.clock.now();
    let table = s.backends.table.as_ref();
    let claims = match bearer(&req) {
        Some(token) => s.tokens().verify(token, now).await.ok(),
        None => None,
    };
    let charged_by_session = claims.is_none()
        && req.method() == http::Method::POST
        && req.uri().path() == SESSION_CHARGED_ROUTE
        && cookies::get(req.headers(), cookies::REFRESH)
            .is_some_and(|c| warden_core::sessions::well_formed(&c));
    if charged_by_session {
        req.extensions_mut().insert(DeferredCharge { policy });
        return Ok((req, policy_headers(policy)));
    }
    let (key, user) = match &claims {
        Some(c) => (profile_key(&c.sub), true),
        None => {
            let (mut parts, body) = req.into_parts();
            let ip = <ClientIp as FromRequestParts<()>>::from_request_parts(&mut parts, &()).await;
            req = Request::from_parts(parts, body);
            let ip = ip.map_err(reject)?;
            (ip_bucket(&s.audit.ip_tag(ip.0)), false)
        }
    };
    let decision = s
        .rate_limiter
        .admit(table, &key, user, policy, now)
        .await
        .map_err(reject)?;
    match decision {
        Decision::Limited { retry_after } => Err(limited(policy, retry_after)),
        Decision::Missing => {
            req.extensions_mut().insert(Verdict::Revoked);
            Ok((req, policy_headers(policy)))
        }
        Decision::Allowed {
            mut item,
            remaining,
            reset,
        } => {
            let headers = allowance_headers(policy, Allowance { remaining, reset });
            if let Some(c) = claims {
                let current = item.n("token_epoch").unwrap_or(0);
                if current == c.epoch && gpc_signal(req.headers()) && !opt_out::is_opted_out(&item)
                {
                    let (r, flipped) = record_gpc_opt_out(s, req, &c.sub).await.map_err(reject)?;
                    req = r;
                    item = flipped.unwrap_or(item);
                }
                let verdict = if current == c.epoch {
                    Verdict::Authenticated(Box::new(Caller {
                        user_id: c.sub.clone(),
                        claims: c,
                        profile: item,
                    }))
                } else {
                    Verdict::Revoked
                };
                req.extensions_mut().insert(verdict);
            }
            Ok((req, headers))
        }
    }
}
