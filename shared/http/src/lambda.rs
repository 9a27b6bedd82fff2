//! The Lambda entry point shared by every HTTP function: JSON logs, then `lambda_http` serving
//! the function's axum router, with API Gateway's source IP copied into [`SourceIp`]. Start-up
//! makes no network call: the services (keys) are built on the first request.
//!
//! Every function's `main` runs on Tokio's current-thread runtime: Lambda hands an execution
//! environment one event at a time, so worker threads would only add start-up work (their
//! stacks and allocator arenas; about a fifth of init, docs/BENCHMARKS.md). Argon2 still runs on
//! the blocking pool, off the thread that serves.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::response::IntoResponse;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use tokio::sync::OnceCell;
use tower::ServiceExt;

use super::client_ip::SourceIp;
use super::request_meta::RequestId;
use crate::Problem;
use warden_core::services::{AppState, OnFirstUse};

/// Logs to stdout (CloudWatch) as Lambda's logging controls ask: see [`crate::logging`].
pub fn init_logging() {
    crate::logging::init();
}

/// Copies API Gateway's `requestContext.http.sourceIp` and `requestId` into the [`SourceIp`]
/// and [`RequestId`] extensions, and the IAM authorizer's caller ARN, when the route has IAM
/// authorization, into an [`Operator`](crate::operator::Operator).
pub fn tag_source_ip<B>(mut req: http::Request<B>) -> http::Request<B> {
    let (ip, id, operator) = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => (
            ctx.http
                .source_ip
                .as_deref()
                .and_then(|s| s.parse::<IpAddr>().ok()),
            ctx.request_id.clone(),
            ctx.authorizer
                .as_ref()
                .and_then(|a| a.iam.as_ref())
                .and_then(|iam| iam.user_arn.as_deref())
                .and_then(|arn| crate::operator::Operator::named(arn).ok()),
        ),
        _ => (None, None, None),
    };
    if let Some(ip) = ip {
        req.extensions_mut().insert(SourceIp(ip));
    }
    if let Some(operator) = operator {
        req.extensions_mut().insert(operator);
    }
    req.extensions_mut()
        .insert(id.map(RequestId).unwrap_or_else(RequestId::random));
    req
}

fn tagged(router: Router) -> Router {
    router.layer(axum::middleware::map_request(
        |req: axum::extract::Request| async move { tag_source_ip(req) },
    ))
}

/// Serves `routes` to Lambda with the services the main wired ([`on_first_use`]: built on the
/// first request). The main has initialised logging and built `services` first, so a bad
/// configuration stops start-up, naming the variable.
pub async fn serve(
    routes: fn() -> Router<AppState>,
    services: OnFirstUse,
) -> Result<(), lambda_http::Error> {
    lambda_http::run(on_first_use(Arc::new(services), routes)).await
}

/// `routes` as the Lambda service: the services are built on the first request
/// ([`OnFirstUse`]) and the router once they exist. Until they can be built, each request tries
/// again and is answered with a 503 problem (fail closed).
pub fn on_first_use(
    services: Arc<OnFirstUse>,
    routes: fn() -> Router<AppState>,
) -> impl tower::Service<
    lambda_http::Request,
    Response = axum::response::Response,
    Error = Infallible,
    Future: Send,
> + Clone {
    let app: Arc<OnceCell<Router>> = Arc::new(OnceCell::new());
    tower::service_fn(move |req: lambda_http::Request| {
        let (services, app) = (services.clone(), app.clone());
        async move {
            let built = app
                .get_or_try_init(|| async {
                    let state = services.get().await?;
                    Ok::<_, warden_core::Error>(tagged(super::app(routes(), state)))
                })
                .await;
            match built {
                Ok(router) => router.clone().oneshot(req).await,
                Err(e) => {
                    tracing::error!(error = %e.chain(), "services unavailable at first use");
                    Ok(Problem(warden_core::Error::Unavailable(
                        "starting up; try again".into(),
                    ))
                    .into_response())
                }
            }
        }
    })
}
