//! The `refresh` function: `POST /auth/refresh` (refresh cookie → new access token and rotated
//! cookie) and `POST /auth/logout` (ends this session, clears the cookie → 204). Both are
//! cookie-authenticated, so both refuse cross-site requests.

use axum::Extension;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Serialize;
use warden_core::audit::{EventType, RequestMeta};
use warden_core::rate_limit::Policy;
use warden_core::services::AppState;
use warden_core::tokens::access::ACCESS_TTL;
use warden_core::{Error, sessions};
use warden_http::ClientIp;
use warden_http::browser::{Origins, check_same_site};
use warden_http::cookies;
use warden_http::guard::{self, DeferredCharge};
use warden_http::signals::device_signals;
use warden_http::{ClientMeta, Problem};

#[derive(Serialize)]
struct Refreshed {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
}

fn with_cookie(mut resp: Response, cookie: &str) -> Result<Response, Error> {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.append(
        header::SET_COOKIE,
        HeaderValue::from_str(cookie).map_err(|e| Error::internal("a Set-Cookie header", e))?,
    );
    Ok(resp)
}

async fn refresh(
    State(s): State<AppState>,
    ClientMeta(meta): ClientMeta,
    ip: ClientIp,
    deferred: Option<Extension<DeferredCharge>>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let policy = deferred.map(|Extension(d)| d.policy);
    match (rotate(&s, &meta, ip, policy, &headers).await, policy) {
        // The limit was charged here rather than by the guard: answer as the guard would.
        (Err(Error::TooManyRequests { retry_after }), Some(p)) => {
            Ok(guard::limited(p, retry_after))
        }
        (r, _) => Ok(r?),
    }
}

async fn rotate(
    s: &AppState,
    meta: &RequestMeta,
    ip: ClientIp,
    policy: Option<Policy>,
    headers: &HeaderMap,
) -> Result<Response, Error> {
    check_same_site(headers, &Origins::of(&s.config))?;
    let presented = cookies::get(headers, cookies::REFRESH).ok_or(Error::Unauthorized)?;
    let device = device_signals(headers);
    let r = s
        .refresher()
        .refresh(&presented, &device, ip.0, policy, meta)
        .await?;
    let body = Json(Refreshed {
        access_token: r.access_token,
        token_type: "Bearer",
        expires_in: ACCESS_TTL.as_secs(),
    });
    let mut resp = body.into_response();
    if let (Some(p), Some(a)) = (policy, r.allowance) {
        resp.headers_mut().extend(guard::allowance_headers(p, a));
    }
    with_cookie(
        resp,
        &cookies::set_refresh(&r.refresh_token, r.refresh_max_age),
    )
}

async fn logout(
    State(s): State<AppState>,
    ClientMeta(meta): ClientMeta,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    check_same_site(&headers, &Origins::of(&s.config))?;
    if let Some(presented) = cookies::get(&headers, cookies::REFRESH) {
        let table = s.backends.table.as_ref();
        let now = s.backends.clock.now();
        if let Some((user_id, sid)) =
            sessions::end(table, &presented, now, s.session_lifetimes()).await?
        {
            s.audit
                .record(
                    &meta,
                    EventType::Logout,
                    Some(&user_id),
                    serde_json::json!({ "sid": sid }),
                )
                .await?;
        }
    }
    // Always clear the cookie: logging out twice, or with a stale cookie, is not an error.
    Ok(with_cookie(
        StatusCode::NO_CONTENT.into_response(),
        &cookies::clear_refresh(),
    )?)
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
}
