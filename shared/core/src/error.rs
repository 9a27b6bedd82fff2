//! The one error type of the domain, and how each variant is shown to a client.
//!
//! Adapters convert SDK and storage errors into [`Error::Dependency`], which keeps the original
//! error as its `source` (logged server-side with its whole chain, shown to the client as a bare
//! 503), so no SDK message reaches a response and none is lost for the operator. The
//! mapping to RFC 9457 problem+json lives in `warden_http::problem`.

use std::time::Duration;

/// A field-level reason for rejecting input, listed in the problem+json body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InvalidParam {
    pub name: String,
    pub reason: String,
}

/// The live items a cancelled transaction's failed conditions found, by operation index (an
/// operation whose item was absent is not listed). Its `Debug` names the indices only: items
/// may hold secrets, and errors are logged.
#[derive(Clone, Default, PartialEq)]
pub struct FailedItems(pub Vec<(usize, crate::table::Item)>);

impl FailedItems {
    /// The item operation `index` found, if any.
    pub fn at(&self, index: usize) -> Option<&crate::table::Item> {
        self.0
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, item)| item)
    }
}

impl std::fmt::Debug for FailedItems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let indices: Vec<usize> = self.0.iter().map(|(i, _)| *i).collect();
        write!(f, "FailedItems({indices:?})")
    }
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
    /// The operation needs a recent sign-in that proved `needs` (a second factor when the
    /// account has one): sign in again. 403, problem type `step-up-required`.
    #[error("a fresh sign-in is required: {needs}")]
    StepUpRequired { needs: &'static str },
    /// The password was right, but the account's address is not verified yet: no session.
    #[error("email address not verified")]
    EmailUnverified,
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
    /// A dependency (table, key service, blob store, breach API, the file system) failed: fail
    /// closed. `source` is the dependency's own error (an SDK error with its code and request
    /// id, an I/O error, …), kept for the log and never shown to a client.
    #[error("{dependency} unavailable")]
    Dependency {
        dependency: &'static str,
        #[source]
        source: BoxError,
    },
    /// The service cannot answer now for a reason of its own (contention, start-up): fail
    /// closed.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A conditional write's condition did not hold.
    #[error("condition failed")]
    ConditionFailed,
    /// A transaction was cancelled; the indices of the operations whose condition failed, and
    /// the items they found (so a loser can retry without reading them again).
    #[error("transaction cancelled; failed operations {failed:?}")]
    TransactionCancelled {
        failed: Vec<usize>,
        current: FailedItems,
    },
    /// Ciphertext or wrapped key failed authentication, or the context did not match.
    #[error("decryption failed")]
    Decryption,
    /// A bug or an impossible state; detail is logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
    /// A stored item, object or message does not read as the kind its key says (a required
    /// attribute missing, a field of the wrong shape): written by something other than its
    /// repository, or damaged. Named by kind in the log, never shown.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A bug or an impossible state that an underlying error explains (a request the SDK would
    /// not build, an item that would not encode): logged with its whole chain, never shown.
    #[error("internal error: {context}")]
    InternalCause {
        context: &'static str,
        #[source]
        source: BoxError,
    },
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

    /// `dependency` failed with `source` (any error, or a message when there is none).
    pub fn unavailable(dependency: &'static str, source: impl Into<BoxError>) -> Self {
        Error::Dependency {
            dependency,
            source: source.into(),
        }
    }

    /// An internal error in `context`, keeping `source` (see [`Error::InternalCause`]).
    pub fn internal(context: &'static str, source: impl Into<BoxError>) -> Self {
        Error::InternalCause {
            context,
            source: source.into(),
        }
    }

    /// Whether this is a failure to reach a dependency or to answer now (a 503).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::Dependency { .. } | Error::Unavailable(_))
    }

    /// The error and every source under it, `: `-separated (for logs).
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut next = std::error::Error::source(self);
        while let Some(e) = next {
            out.push_str(": ");
            out.push_str(&e.to_string());
            next = e.source();
        }
        out
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A dependency's own error, whatever its type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dependency_error_keeps_its_source_and_shows_it_only_in_the_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "disk says no");
        let e = Error::unavailable("embedded table", io);
        assert_eq!(e.to_string(), "embedded table unavailable");
        let source = std::error::Error::source(&e).expect("a source");
        assert!(source.downcast_ref::<std::io::Error>().is_some());
        assert_eq!(e.chain(), "embedded table unavailable: disk says no");
        assert!(e.is_unavailable());
    }
}
