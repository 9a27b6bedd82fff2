//! The operator of the privacy operator API, as the transport proved it.
//!
//! On AWS the operator API's route is authorized by IAM (SigV4): API Gateway puts the signer's
//! ARN in the request context, and [`crate::lambda::tag_source_ip`] copies it into the request
//! as an [`Operator`]. In `warden-local` the operator token's middleware does the same for the
//! local operator. The handlers take [`OperatorCaller`], which fails closed: a request with no
//! operator in it — a route deployed without IAM authorization, a test without the token — is a
//! 403, never a request served to nobody in particular.

use axum::extract::FromRequestParts;
use http::request::Parts;

use crate::Problem;
use warden_core::Error;
pub use warden_core::privacy::operations::Operator;

/// The operator who made the request (403 when the transport named none).
#[derive(Debug, Clone)]
pub struct OperatorCaller(pub Operator);

impl<S: Send + Sync> FromRequestParts<S> for OperatorCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        parts
            .extensions
            .get::<Operator>()
            .cloned()
            .map(OperatorCaller)
            .ok_or(Problem(Error::Forbidden))
    }
}
