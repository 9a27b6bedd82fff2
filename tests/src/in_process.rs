//! Requests straight into a router (no socket), as a Lambda or the runner would pass them on,
//! with a fixed client address; and the two things callers take out of a login response.

use axum::Router;
use axum::body::Body;
use http::Response;
use tower::ServiceExt;
use warden_http::client_ip::SourceIp;

/// Sends one request to `router` from 192.0.2.44.
pub async fn send(
    router: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response<Body> {
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("user-agent", "in-process");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req.body(Body::from(body.to_string())).expect("request");
    req.extensions_mut()
        .insert(SourceIp("192.0.2.44".parse().expect("address")));
    router
        .clone()
        .oneshot(req)
        .await
        .expect("infallible router")
}

/// The `name=value` of the refresh cookie a response sets.
pub fn refresh_cookie(r: &Response<Body>) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
        .find(|c| c.starts_with("__Secure-warden-refresh="))
        .expect("a refresh cookie")
}

/// A response's JSON body.
pub async fn json(r: Response<Body>) -> serde_json::Value {
    let b = axum::body::to_bytes(r.into_body(), 1 << 16)
        .await
        .expect("body");
    serde_json::from_slice(&b).expect("JSON body")
}

/// `Bearer <access token>` from a login or refresh response body.
pub async fn bearer(r: Response<Body>) -> String {
    let v = json(r).await;
    format!(
        "Bearer {}",
        v["access_token"].as_str().expect("access_token")
    )
}

/// Registers `email` with `password` through `router` and follows the verification link mailed
/// to it (read from `mailbox`): an account that can sign in.
pub async fn register_verified(
    router: &Router,
    mailbox: &crate::fixtures::Mailbox,
    email: &str,
    password: &str,
) {
    let body = serde_json::json!({"email": email, "password": password}).to_string();
    let r = send(router, "POST", "/auth/register", &[JSON], &body).await;
    assert_eq!(r.status(), 202, "registration of {email}");
    follow_verification(router, mailbox, email).await;
}

/// Follows the newest verification link mailed to `email` (read from `mailbox`) through
/// `router`.
pub async fn follow_verification(router: &Router, mailbox: &crate::fixtures::Mailbox, email: &str) {
    let token = mailbox
        .link_token(email, "/verify-email")
        .await
        .expect("a verification link");
    let body = serde_json::json!({ "token": token }).to_string();
    let r = send(router, "POST", "/auth/email/verify", &[JSON], &body).await;
    assert_eq!(r.status(), 204, "verification of {email}");
}

const JSON: (&str, &str) = ("content-type", "application/json");
