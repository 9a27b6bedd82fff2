//! The `login` function: `POST /auth/login` `{email, password}` → 200 with an access token in
//! the body, the refresh token in an HttpOnly cookie (and a device cookie on a new device).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use warden::audit::RequestMeta;
use warden::http::JsonBody;
use warden::login::{self, LoginRequest};
use warden::services::AppState;

async fn login(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Response, warden::Error> {
    let out = login::login(&state, req, &headers, &meta).await?;
    let mut resp = Json(out.body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in std::iter::once(out.refresh_cookie).chain(out.device_cookie) {
        h.append(
            header::SET_COOKIE,
            HeaderValue::from_str(&cookie).map_err(|e| warden::Error::Internal(e.to_string()))?,
        );
    }
    Ok(resp)
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/auth/login", post(login))
}
