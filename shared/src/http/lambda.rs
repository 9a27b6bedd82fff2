//! The Lambda entry point shared by every HTTP function: JSON logs, then `lambda_http` serving
//! the function's axum router, with API Gateway's source IP copied into [`SourceIp`].

use std::net::IpAddr;

use axum::Router;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

use super::client_ip::SourceIp;
use super::request_meta::RequestId;

/// Structured JSON logs to stdout (CloudWatch), level from `RUST_LOG` (default `info`).
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time()
        .try_init();
}

/// Copies API Gateway's `requestContext.http.sourceIp` and `requestId` into the [`SourceIp`]
/// and [`RequestId`] extensions.
pub fn tag_source_ip<B>(mut req: http::Request<B>) -> http::Request<B> {
    let (ip, id) = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => (
            ctx.http
                .source_ip
                .as_deref()
                .and_then(|s| s.parse::<IpAddr>().ok()),
            ctx.request_id.clone(),
        ),
        _ => (None, None),
    };
    if let Some(ip) = ip {
        req.extensions_mut().insert(SourceIp(ip));
    }
    req.extensions_mut()
        .insert(id.map(RequestId).unwrap_or_else(RequestId::random));
    req
}

/// Serves `router` as a Lambda function until the runtime stops it.
pub async fn run(router: Router) -> Result<(), lambda_http::Error> {
    let app = router.layer(axum::middleware::map_request(
        |req: axum::extract::Request| async move { tag_source_ip(req) },
    ));
    lambda_http::run(app).await
}

/// The whole `main` of an HTTP function: logs, configuration, AWS adapters (once, at cold
/// start), then serve `routes`. A bad configuration stops start-up naming the variable.
pub async fn serve(
    routes: fn() -> axum::Router<crate::services::AppState>,
) -> Result<(), lambda_http::Error> {
    init_logging();
    let config = crate::config::Config::from_env()?;
    let clock = std::sync::Arc::new(crate::clock::SystemClock);
    let backends = crate::backends::Backends::aws(&config, clock).await?;
    let state = crate::services::Services::new(config, backends).await?;
    run(super::app(routes(), state)).await
}
