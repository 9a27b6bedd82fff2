//! The one error type of the domain, and how each variant is shown to a client.
//!
//! Adapters convert SDK and storage errors into [`Error::Unavailable`] (logged server-side with
//! their detail, shown to the client as a bare 503), so no SDK message reaches a response. The
//! mapping to RFC 9457 problem+json lives in `warden_http::problem`.

use std::time::Duration;

/// A field-level reason for rejecting input, listed in the problem+json body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InvalidParam {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed or fails validation.
    #[error("invalid request: {detail}")]
    BadRequest {
        detail: String,
        invalid_params: Vec<InvalidParam>,
    },
    /// Credentials or token are wrong. One generic message for every cause.
    #[error("authentication failed")]
    Unauthorized,
    /// The operation needs a recent sign-in (or the password with the request).
    #[error("reauthentication required")]
    ReauthenticationRequired,
    /// Authenticated, but the resource is not the caller's.
    #[error("forbidden")]
    Forbidden,
    /// The resource does not exist (or is not visible to the caller).
    #[error("not found")]
    NotFound,
    /// The request conflicts with existing state (a duplicate, a lost race).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The body is larger than the route accepts.
    #[error("payload too large (limit {limit} bytes)")]
    PayloadTooLarge { limit: usize },
    /// Rate limited or locked out; the client may retry after the given delay.
    #[error("too many requests")]
    TooManyRequests { retry_after: Duration },
    /// Too much work queued (password hashing is saturated): the client may retry after the
    /// given delay. Shown as 503 with `Retry-After`.
    #[error("overloaded")]
    Overloaded { retry_after: Duration },
    /// A dependency (table, key service, blob store, breach API) failed: fail closed.
    #[error("dependency unavailable: {0}")]
    Unavailable(String),
    /// A conditional write's condition did not hold.
    #[error("condition failed")]
    ConditionFailed,
    /// A transaction was cancelled; the indices of the operations whose condition failed.
    #[error("transaction cancelled; failed operations {failed:?}")]
    TransactionCancelled { failed: Vec<usize> },
    /// Ciphertext or wrapped key failed authentication, or the context did not match.
    #[error("decryption failed")]
    Decryption,
    /// A bug or an impossible state; detail is logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Error::BadRequest {
            detail: detail.into(),
            invalid_params: Vec::new(),
        }
    }

    pub fn invalid(name: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Error::BadRequest {
            detail: format!("{name}: {reason}"),
            invalid_params: vec![InvalidParam {
                name: name.to_string(),
                reason,
            }],
        }
    }

    pub fn unavailable(what: &str, err: impl std::fmt::Display) -> Self {
        Error::Unavailable(format!("{what}: {err}"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
