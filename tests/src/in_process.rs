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
