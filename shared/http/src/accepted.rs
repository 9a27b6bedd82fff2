//! The one 202 answer of the routes that must not say what they did — registration, a resent
//! verification link, a forgotten password, an email change — because what they did depends on
//! whether an address has an account: `{"status": "accepted", "detail": …}`, never cached.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `202 {"status": "accepted", "detail": detail}` with `Cache-Control: no-store`.
pub fn accepted(detail: &'static str) -> Response {
    let mut resp = (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "status": "accepted", "detail": detail })),
    )
        .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
