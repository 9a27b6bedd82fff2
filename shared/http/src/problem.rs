//! RFC 9457 `application/problem+json` for every [`Error`]: right status, a stable `type`, a
//! human `title`, and for 400 the list of `invalid_params`. Internal and dependency errors are
//! logged with their detail and shown only as a bare status, so no SDK message or secret leaks.
//!
//! [`Problem`] is the domain error as a response: every handler and extractor returns it, and a
//! `?` on a domain result converts, so this is the one place the mapping is written.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use warden_core::error::{Error, InvalidParam};

/// A domain [`Error`] on its way to the client.
#[derive(Debug)]
pub struct Problem(pub Error);

impl From<Error> for Problem {
    fn from(e: Error) -> Self {
        Problem(e)
    }
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    invalid_params: &'a [InvalidParam],
}

pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
        Error::Unauthorized | Error::Decryption | Error::ReauthenticationRequired => {
            StatusCode::UNAUTHORIZED
        }
        Error::Forbidden | Error::EmailUnverified | Error::StepUpRequired { .. } => {
            StatusCode::FORBIDDEN
        }
        Error::NotFound => StatusCode::NOT_FOUND,
        Error::Conflict(_) | Error::ConditionFailed | Error::TransactionCancelled { .. } => {
            StatusCode::CONFLICT
        }
        Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Dependency { .. } | Error::Unavailable(_) | Error::Overloaded { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        Error::Internal(_) | Error::Malformed(_) | Error::InternalCause { .. } => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let Problem(error) = self;
        let status = status_of(&error);
        let (kind, title, detail, params): (&str, &str, Option<String>, &[InvalidParam]) =
            match &error {
                Error::BadRequest {
                    detail,
                    invalid_params,
                } => (
                    "urn:warden:problem:invalid-request",
                    "Invalid request",
                    Some(detail.clone()),
                    invalid_params,
                ),
                Error::Unauthorized | Error::Decryption => (
                    "urn:warden:problem:unauthorized",
                    "Authentication failed",
                    None,
                    &[],
                ),
                Error::ReauthenticationRequired => (
                    "urn:warden:problem:reauthentication-required",
                    "Reauthentication required",
                    Some("sign in again, or send your current password as \"password\"".into()),
                    &[],
                ),
                Error::Forbidden => ("urn:warden:problem:forbidden", "Forbidden", None, &[]),
                Error::StepUpRequired { needs } => (
                    "urn:warden:problem:step-up-required",
                    "A fresh sign-in is required",
                    Some(format!("sign in again within five minutes of this request: {needs}")),
                    &[],
                ),
                Error::EmailUnverified => (
                    "urn:warden:problem:email-unverified",
                    "Email address not verified",
                    Some(
                        "confirm the address with the link sent to it, or ask for a new one at /auth/email/resend"
                            .into(),
                    ),
                    &[],
                ),
                Error::NotFound => ("urn:warden:problem:not-found", "Not found", None, &[]),
                Error::Conflict(d) => (
                    "urn:warden:problem:conflict",
                    "Conflict",
                    Some(d.clone()),
                    &[],
                ),
                Error::ConditionFailed | Error::TransactionCancelled { .. } => (
                    "urn:warden:problem:conflict",
                    "Conflict",
                    Some("the resource changed concurrently; retry".into()),
                    &[],
                ),
                Error::PayloadTooLarge { limit } => (
                    "urn:warden:problem:payload-too-large",
                    "Payload too large",
                    Some(format!("the body may be at most {limit} bytes")),
                    &[],
                ),
                Error::TooManyRequests { .. } => (
                    "urn:warden:problem:too-many-requests",
                    "Too many requests",
                    None,
                    &[],
                ),
                Error::Overloaded { .. } => (
                    "urn:warden:problem:overloaded",
                    "Service overloaded",
                    Some("too many requests are being processed; retry after the delay".into()),
                    &[],
                ),
                Error::Dependency { .. } => {
                    tracing::error!(error = %error.chain(), "dependency unavailable");
                    (
                        "urn:warden:problem:unavailable",
                        "Service unavailable",
                        None,
                        &[],
                    )
                }
                Error::Unavailable(d) => {
                    tracing::error!(detail = %d, "dependency unavailable");
                    (
                        "urn:warden:problem:unavailable",
                        "Service unavailable",
                        None,
                        &[],
                    )
                }
                Error::Internal(_) | Error::Malformed(_) | Error::InternalCause { .. } => {
                    tracing::error!(error = %error.chain(), "internal error");
                    ("urn:warden:problem:internal", "Internal error", None, &[])
                }
            };
        let body = ProblemBody {
            kind,
            title,
            status: status.as_u16(),
            detail,
            invalid_params: params,
        };
        let mut resp = (status, Json(body)).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Error::TooManyRequests { retry_after } | Error::Overloaded { retry_after } = &error {
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        resp
    }
}

/// The fallback for unknown routes: a 404 problem rather than an empty body.
pub async fn not_found() -> Problem {
    Problem(Error::NotFound)
}

/// A known route with another method: 405 as a problem.
pub async fn method_not_allowed() -> Response {
    let mut resp = Problem(Error::bad_request("method not allowed on this route")).into_response();
    *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    if let Ok(v) = serde_json::to_vec(&serde_json::json!({
        "type": "urn:warden:problem:method-not-allowed",
        "title": "Method not allowed",
        "status": 405,
    })) {
        *resp.body_mut() = axum::body::Body::from(v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An internal error — a bug, stored data that does not read as its kind, a library's
    /// failure with its source — is a bare 500: its message and its source go to the log only.
    #[tokio::test]
    async fn internal_errors_are_a_500_that_shows_nothing_of_them() {
        for error in [
            Error::Internal("secret detail".into()),
            Error::Malformed("secret item kind"),
            Error::internal("secret context", std::io::Error::other("secret source")),
        ] {
            let response = Problem(error).into_response();
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .expect("a body");
            let text = String::from_utf8(body.to_vec()).expect("UTF-8");
            assert!(text.contains("urn:warden:problem:internal"), "{text}");
            assert!(!text.contains("secret"), "{text}");
        }
    }
}
