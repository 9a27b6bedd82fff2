//! The `login` function: `POST /auth/login` `{email, password}` → 200 with an access token in
//! the body, the refresh token in an HttpOnly cookie (and a device cookie on a new device); and
//! recovery, which shares its lockout: `POST /auth/password/forgot` `{email}` → 202 always,
//! `POST /auth/password/reset` `{token, new_password}` → 204; and the links of an email change,
//! `POST /auth/email/verify` `{token}` → 204.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use warden_core::login::{self, LoginRequest};
use warden_core::services::AppState;
use warden_http::JsonBody;
use warden_http::browser::{Origins, check_same_site};
use warden_http::cookies;
use warden_http::signals::Client;
use warden_http::{ClientMeta, Problem};

async fn login(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    Client(client): Client,
    headers: HeaderMap,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Response, Problem> {
    // A page of another site must not sign its visitor in (login CSRF).
    check_same_site(&headers, &Origins::of(&state.config))?;
    let out = login::login(&state, req, &client, &meta).await?;
    let refresh = cookies::set_refresh(&out.refresh_token, out.refresh_max_age);
    let device = out.new_device_cookie.as_deref().map(cookies::set_device);
    let mut resp = Json(out.body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in std::iter::once(refresh).chain(device) {
        h.append(
            header::SET_COOKIE,
            HeaderValue::from_str(&cookie)
                .map_err(|e| warden_core::Error::Internal(e.to_string()))?,
        );
    }
    Ok(resp)
}

async fn forgot(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    JsonBody(req): JsonBody<warden_core::recovery::ForgotRequest>,
) -> Result<Response, Problem> {
    warden_core::recovery::forgot(&state, req, &meta).await?;
    Ok(warden_http::accepted(
        "if the address has an account, a reset link is on its way",
    ))
}

async fn reset(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    JsonBody(req): JsonBody<warden_core::recovery::ResetRequest>,
) -> Result<axum::http::StatusCode, Problem> {
    warden_core::recovery::reset(&state, req, &meta).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

async fn verify_email(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    JsonBody(req): JsonBody<warden_core::email_change::VerifyRequest>,
) -> Result<axum::http::StatusCode, Problem> {
    warden_core::email_change::verify(&state, req, &meta).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/email/verify", post(verify_email))
        .route("/auth/password/forgot", post(forgot))
        .route("/auth/password/reset", post(reset))
}
