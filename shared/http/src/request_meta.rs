//! [`RequestMeta`] for the audit log: the request id (API Gateway's, or one the local runner
//! assigns), the client IP (see [`super::client_ip`]) and the user agent (at most 256 characters).

use axum::extract::FromRequestParts;
use http::request::Parts;

use super::ClientIp;
use crate::Problem;
use warden_core::audit::RequestMeta;

/// The request id, inserted as an extension by the Lambda entry point or the local runner.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    /// A fresh random id (the local runner's).
    pub fn random() -> Self {
        RequestId(
            warden_core::crypto::random_bytes::<12>()
                .map(|b| warden_core::crypto::hex(&b))
                .unwrap_or_default(),
        )
    }
}

/// The audit log's [`RequestMeta`] of this request, as an extractor.
#[derive(Debug, Clone)]
pub struct ClientMeta(pub RequestMeta);

impl<S: Send + Sync> FromRequestParts<S> for ClientMeta {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let ip = ClientIp::from_request_parts(parts, state)
            .await
            .ok()
            .map(|c| c.0);
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        let user_agent = parts
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect());
        Ok(ClientMeta(RequestMeta {
            request_id,
            ip,
            user_agent,
        }))
    }
}
