//! Feeds `events/*.json` through `lambda_http`'s own deserialization (what the Lambda runtime
//! does with the invocation payload) and then through a function's router, as in Lambda.

use axum::Router;
use axum::body::Body;
use http::Response;
use tower::ServiceExt;

/// The repository's `events/` folder.
pub fn events_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .join("events")
}

/// Parses the event file as API Gateway would deliver it and runs it through `router`.
pub async fn invoke(router: Router, event_file: &str) -> Response<Body> {
    let raw = std::fs::read_to_string(events_dir().join(event_file)).expect("event file");
    let req = lambda_http::request::from_str(&raw).expect("a valid API Gateway HTTP API event");
    let req = warden_http::lambda::tag_source_ip(req);
    let (parts, body) = req.into_parts();
    let body = match body {
        lambda_http::Body::Empty => Body::empty(),
        lambda_http::Body::Text(t) => Body::from(t),
        lambda_http::Body::Binary(b) => Body::from(b),
        _ => Body::empty(),
    };
    router
        .oneshot(http::Request::from_parts(parts, body))
        .await
        .expect("infallible router")
}

pub async fn body_json(resp: Response<Body>) -> serde_json::Value {
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).expect("JSON body")
}
