//! [`RequestMeta`] for the audit log: the request id (API Gateway's, or one the local runner
//! assigns), the client IP (see [`super::client_ip`]) and the user agent (at most 256 characters).

use axum::extract::FromRequestParts;
use http::request::Parts;

use super::ClientIp;
use crate::Error;
use crate::audit::RequestMeta;

/// The request id, inserted as an extension by the Lambda entry point or the local runner.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    /// A fresh random id (the local runner's).
    pub fn random() -> Self {
        RequestId(
            crate::crypto::random_bytes::<12>()
                .map(|b| crate::crypto::hex(&b))
                .unwrap_or_default(),
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
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
        Ok(RequestMeta {
            request_id,
            ip,
            user_agent,
        })
    }
}
