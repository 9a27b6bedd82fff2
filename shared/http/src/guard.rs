//! The one middleware every HTTP function runs before its handler. It charges every request to
//! exactly one rate-limit bucket, and for routes that need a caller it authenticates the bearer
//! token and checks revocation in the same write:
//!
//! | route ([`RouteClass`]) | token | charged to | verdict |
//! | --- | --- | --- | --- |
//! | `Client` (register, login, logout, keys) | ignored | client address | none |
//! | `Session` (refresh) | ignored | the session it rotates (well-formed cookie), else the client address | none |
//! | `Caller` (every other route) | none or invalid | client address | 401 |
//! | `Caller` | valid, user gone / session ended / old epoch | client address | 401 |
//! | `Caller` | valid and still good | the user | the caller |
//!
//! "Still good" is a condition of the rate-limit write on the user's profile
//! ([`warden_core::sessions::token_still_good`]), so an authenticated request costs one table
//! round trip for the limit and the revocation check, a dead token spends no victim's budget,
//! and the handler gets the profile with the caller instead of reading it again. The client
//! address of an IPv6 client is its /64 network (`WARDEN_IPV6_PREFIX`).
//!
//! The verdict travels to the handler as a request extension; [`super::auth::Authenticated`]
//! reads it instead of verifying again.
//!
//! The refresh route charges the limit itself: with a well-formed refresh cookie it gets a
//! [`DeferredCharge`] instead of an IP charge, and the handler charges the session it rotates in
//! the rotation's own write (one round trip for the whole refresh). Should that write fail for
//! any reason, the handler charges the client IP before it looks further, so a refused or forged
//! cookie is limited exactly as an anonymous request.

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
use warden_core::privacy::{downstream, opt_out};
use warden_core::rate_limit::{Allowance, Bucket, Decision, Policy, ip_bucket};
use warden_core::services::AppState;
use warden_core::table::UnitOfWork;
use warden_core::users::{Profile, profile_key};

/// Who pays for a request to a route (the guard's first question).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    /// A route anyone may call: charged to the client's address, `Authorization` ignored.
    Client,
    /// The refresh route: charged to the session it rotates when the cookie is well formed
    /// (the handler charges it in the rotation's write), to the client's address otherwise.
    Session,
    /// A route that needs a caller (the default): a good token is charged to its user; a
    /// missing, invalid or dead one to the client's address, and the route answers 401.
    Caller,
    /// The operator API (`/operator/…`): charged to the client's address; the operator is
    /// proved by the transport (IAM on AWS, the operator token locally), never by a user's
    /// token, and the handlers refuse a request that names none ([`crate::operator`]).
    Operator,
}

/// The operator API's routes: everything under this prefix.
pub const OPERATOR_PREFIX: &str = "/operator/";

/// The routes that need no caller, as `openapi.json` declares them (operations with no
/// `bearer` security; `tests/tests/layers.rs` checks the two agree). Every route not named
/// here needs a caller: a route added without a decision is denied to the anonymous, never
/// opened to them.
pub const ROUTES_WITHOUT_CALLER: &[(&str, &str, RouteClass)] = &[
    ("POST", "/auth/register", RouteClass::Client),
    ("POST", "/auth/login", RouteClass::Client),
    ("POST", "/auth/mfa/totp", RouteClass::Client),
    ("POST", "/auth/mfa/recovery", RouteClass::Client),
    ("POST", "/auth/passkeys/options", RouteClass::Client),
    ("POST", "/auth/passkeys/login", RouteClass::Client),
    ("POST", "/auth/password/forgot", RouteClass::Client),
    ("POST", "/auth/password/reset", RouteClass::Client),
    ("POST", "/auth/email/verify", RouteClass::Client),
    ("POST", "/auth/email/resend", RouteClass::Client),
    ("POST", "/auth/refresh", RouteClass::Session),
    ("POST", "/auth/logout", RouteClass::Client),
    ("POST", "/privacy/requests", RouteClass::Client),
    ("POST", "/privacy/requests/verify", RouteClass::Client),
    ("GET", "/.well-known/jwks.json", RouteClass::Client),
    ("GET", "/.well-known/audit-digest-key", RouteClass::Client),
    (
        "GET",
        "/.well-known/openid-configuration",
        RouteClass::Client,
    ),
    ("GET", "/openapi.json", RouteClass::Client),
];

/// The class of a request's route (see [`RouteClass`]). A CORS preflight of a cookie route is
/// a `Client` request.
pub fn route_class(method: &http::Method, path: &str) -> RouteClass {
    if method == http::Method::OPTIONS && crate::browser::COOKIE_ROUTES.contains(&path) {
        return RouteClass::Client;
    }
    if path.starts_with(OPERATOR_PREFIX) {
        return RouteClass::Operator;
    }
    ROUTES_WITHOUT_CALLER
        .iter()
        .find(|(m, p, _)| method.as_str() == *m && path == *p)
        .map_or(RouteClass::Caller, |(_, _, class)| *class)
}

/// Left by the guard for the refresh handler ([`RouteClass::Session`]): the limit is yet to be
/// charged, on the session (hot path) or else on the client IP's bucket.
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
    warden_core::metrics::count(warden_core::metrics::Metric::RateLimited);
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
) -> warden_core::Result<(Request, Option<Profile>)> {
    let (mut parts, body) = req.into_parts();
    let crate::request_meta::ClientMeta(meta) =
        crate::request_meta::ClientMeta::from_request_parts(&mut parts, &())
            .await
            .map_err(|p| p.0)?;
    let now = s.backends.clock.now();
    let source = opt_out::Source::GlobalPrivacyControl;
    let flipped = opt_out::record(s.backends.table.as_ref(), user_id, source, now).await?;
    if flipped.is_some() {
        // A request record like any other (kept 24 months), with its event.
        let downstream = &s.config.downstream_recipients;
        let (r, mut writes) =
            warden_core::privacy::requests::opt_out_by_signal(user_id, downstream, now)?;
        let kind = downstream::Kind::OptedOut;
        let told =
            s.downstream
                .event(kind, user_id, Some(&r), "global_privacy_control", &[], now)?;
        writes.extend(told.iter().map(downstream::Pending::op));
        let details = serde_json::json!({ "source": "global_privacy_control", "request_id": r.id });
        let event = EventType::OptOutRecorded;
        match s
            .audit
            .commit(
                UnitOfWork::from(writes),
                &meta,
                event,
                Some(user_id),
                details,
            )
            .await
        {
            Ok(_) => s.downstream.deliver(told.as_slice()).await,
            // Another opt-out request is open: it covers this one; the event alone.
            Err(warden_core::Error::TransactionCancelled { .. }) => {
                let details = serde_json::json!({ "source": "global_privacy_control" });
                s.audit.record(&meta, event, Some(user_id), details).await?;
            }
            Err(e) => return Err(e),
        }
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
    match route_class(req.method(), req.uri().path()) {
        RouteClass::Session
            if cookies::get(req.headers(), cookies::REFRESH)
                .is_some_and(|c| warden_core::sessions::well_formed(&c)) =>
        {
            req.extensions_mut().insert(DeferredCharge { policy });
            return Ok((req, policy_headers(policy)));
        }
        // Anyone may call these: `Authorization` buys no budget of its own here.
        RouteClass::Client | RouteClass::Session | RouteClass::Operator => {
            let (req, headers) = charge_client(s, req, policy).await?;
            return Ok((req, headers));
        }
        RouteClass::Caller => {}
    }
    let claims = match bearer(&req) {
        Some(token) => s.tokens().verify(token, now).await.ok(),
        None => None,
    };
    let Some(c) = claims else {
        // No valid token: the client's address pays; the handler's extractor answers 401.
        let (mut req, headers) = charge_client(s, req, policy).await?;
        req.extensions_mut().insert(Verdict::Revoked);
        return Ok((req, headers));
    };
    let decision = match warden_core::sessions::token_still_good(c.epoch, &c.sid) {
        Some(valid) => s
            .rate_limiter
            .admit(
                table,
                &profile_key(&c.sub),
                Bucket::User { valid: &valid },
                policy,
                now,
            )
            .await
            .map_err(reject)?,
        None => Decision::Stale,
    };
    match decision {
        Decision::Limited { retry_after } => Err(limited(policy, retry_after)),
        // A token whose user is gone, whose session ended or whose epoch is old spends nobody's
        // budget but its sender's address, and is a 401.
        Decision::Missing | Decision::Stale => {
            let (mut req, headers) = charge_client(s, req, policy).await?;
            req.extensions_mut().insert(Verdict::Revoked);
            Ok((req, headers))
        }
        Decision::Allowed {
            item,
            remaining,
            reset,
        } => {
            let headers = allowance_headers(policy, Allowance { remaining, reset });
            let mut profile = Profile::from_item(&item).map_err(reject)?;
            if gpc_signal(req.headers()) && !profile.sale.opted_out {
                let (r, flipped) = record_gpc_opt_out(s, req, &c.sub).await.map_err(reject)?;
                req = r;
                profile = flipped.unwrap_or(profile);
            }
            req.extensions_mut()
                .insert(Verdict::Authenticated(Box::new(Caller {
                    user_id: c.sub.clone(),
                    claims: c,
                    profile,
                })));
            Ok((req, headers))
        }
    }
}

/// Charges the request to its client's address (an IPv6 client by its /64 network).
async fn charge_client(
    s: &AppState,
    req: Request,
    policy: Policy,
) -> Result<(Request, http::HeaderMap), Response> {
    let (mut parts, body) = req.into_parts();
    let ip = <ClientIp as FromRequestParts<()>>::from_request_parts(&mut parts, &())
        .await
        .map_err(IntoResponse::into_response)?;
    let req = Request::from_parts(parts, body);
    let tags = s.audit.address_tags(ip.0).await.map_err(reject)?;
    let now = s.backends.clock.now();
    let table = s.backends.table.as_ref();
    let admit = |tag: String| async move {
        s.rate_limiter
            .admit(table, &ip_bucket(&tag), Bucket::Client, policy, now)
            .await
    };
    // Just after the tag keys rotate, the bucket under yesterday's tag still remembers the
    // address's recent requests: it decides, and today's is charged alongside, so that it
    // remembers them by the time it takes over (a rotation resets no limit).
    let decision = match tags.previous_within(policy.memory()) {
        Some(yesterday) => {
            let (decision, today) =
                tokio::join!(admit(yesterday.to_string()), admit(tags.current.clone()));
            today.map_err(reject)?;
            decision
        }
        None => admit(tags.current.clone()).await,
    };
    match decision.map_err(reject)? {
        Decision::Allowed {
            remaining, reset, ..
        } => Ok((
            req,
            allowance_headers(policy, Allowance { remaining, reset }),
        )),
        Decision::Limited { retry_after } => Err(limited(policy, retry_after)),
        Decision::Missing | Decision::Stale => Err(reject(Error::Internal(
            "an address bucket cannot be missing".into(),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guard's list of routes that need no caller is the contract's: exactly the operations
    /// of `openapi.json` without `bearer` security (besides `/healthz`, served outside the guard).
    #[test]
    fn routes_without_a_caller_are_the_ones_openapi_declares_without_bearer() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../../openapi.json")).expect("openapi.json");
        let mut declared = Vec::new();
        for (path, ops) in doc["paths"].as_object().expect("paths") {
            for (method, op) in ops.as_object().expect("operations") {
                let needs_bearer = op["security"].as_array().is_some_and(|alts| {
                    !alts.is_empty() && alts.iter().all(|a| a.get("bearer").is_some())
                });
                if !needs_bearer && path != "/healthz" {
                    declared.push((method.to_uppercase(), path.clone()));
                }
            }
        }
        declared.sort();
        let mut listed: Vec<(String, String)> = ROUTES_WITHOUT_CALLER
            .iter()
            .map(|(m, p, _)| (m.to_string(), p.to_string()))
            .collect();
        listed.sort();
        assert_eq!(listed, declared);
    }

    #[test]
    fn an_unlisted_route_needs_a_caller() {
        assert_eq!(route_class(&http::Method::GET, "/me"), RouteClass::Caller);
        assert_eq!(
            route_class(&http::Method::GET, "/auth/login"),
            RouteClass::Caller,
            "the method is part of the route"
        );
        assert_eq!(
            route_class(&http::Method::POST, "/auth/refresh"),
            RouteClass::Session
        );
        assert_eq!(
            route_class(&http::Method::POST, "/auth/register"),
            RouteClass::Client
        );
    }
}
