//! `warden-http`: the transport every HTTP function shares, at the edge of the domain.
//!
//! It turns a request into domain values — the caller ([`auth`]), the client's address
//! ([`client_ip`]) and signals ([`signals`]), the audit metadata ([`request_meta`]), a size-limited
//! JSON body ([`body`]) — runs the [`guard`] (token, rate limit, revocation) before every handler,
//! and turns domain results back into responses: cookies ([`cookies`]) and the one problem+json
//! mapping of the domain error ([`problem`]). [`lambda`] serves a router through `lambda_http`.
//! It depends on `warden-core` only; which adapters back the domain is the main's choice.

pub mod accepted;
pub mod auth;
pub mod body;
pub mod browser;
pub mod client_ip;
pub mod cookies;
pub mod guard;
pub mod lambda;
pub mod logging;
pub mod operator;
pub mod problem;
pub mod request_meta;
pub mod secret_response;
pub mod signals;

pub use accepted::accepted;
pub use body::{BODY_LIMIT, JsonBody};
pub use client_ip::ClientIp;
pub use problem::Problem;
pub use request_meta::ClientMeta;
pub use secret_response::no_store;

/// What a handler returns: a domain failure becomes its problem+json response.
pub type Result<T, E = Problem> = std::result::Result<T, E>;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tower::ServiceBuilder;

use client_ip::TrustedHops;
use warden_core::Error;
use warden_core::services::AppState;

/// Finishes a function's routes into the served router: state, the 404 problem fallback, the
/// trusted-proxy setting for [`ClientIp`], a request timeout, and one log line per request.
/// Lambdas and `warden-local` both go through here, so they behave alike.
pub fn app(routes: Router<AppState>, state: AppState) -> Router {
    let hops = TrustedHops(state.config.trusted_proxy_hops);
    let origins = browser::Origins::of(&state.config);
    routes
        .fallback(problem::not_found)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .with_state(state.clone())
        // Inside the guard, so a preflight is charged like any request.
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                browser::cors(origins.clone(), req, next)
            },
        ))
        .layer(axum::middleware::from_fn_with_state(state, guard::guard))
        // Liveness is outside the rate limit.
        .route("/healthz", get(|| async { "ok" }))
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn(request_log::log_request))
                .layer(axum::Extension(hops))
                .layer(axum::middleware::from_fn(
                    move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                        match tokio::time::timeout(Duration::from_secs(29), next.run(req)).await {
                            Ok(r) => r,
                            Err(_) => axum::response::IntoResponse::into_response(Problem(
                                Error::Unavailable("request timed out".into()),
                            )),
                        }
                    },
                )),
        )
}

pub mod request_log {
    //! One structured log event per request: method, route path, status and latency. Never
    //! headers, query strings or bodies (they carry tokens, cookies and passwords). The request
    //! is served inside a span naming its request id, so every line it logs carries the id (the
    //! JSON logs print the current span), the same id the audit log records.

    use axum::extract::Request;
    use axum::middleware::Next;
    use axum::response::Response;
    use tracing::Instrument;

    use crate::request_meta::RequestId;

    pub async fn log_request(mut req: Request, next: Next) -> Response {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let request_id = match req.extensions().get::<RequestId>() {
            Some(id) => id.0.clone(),
            None => {
                let id = req
                    .headers()
                    .get("x-amzn-requestid")
                    .or_else(|| req.headers().get("x-request-id"))
                    .and_then(|v| v.to_str().ok())
                    .filter(|v| {
                        v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    })
                    .map(|v| RequestId(v.to_string()))
                    .unwrap_or_else(RequestId::random);
                req.extensions_mut().insert(id.clone());
                id.0
            }
        };
        let span = tracing::info_span!("request", request_id = %request_id);
        let started = std::time::Instant::now();
        let resp = next.run(req).instrument(span.clone()).await;
        span.in_scope(|| {
            tracing::info!(
                %method,
                path = %path,
                status = resp.status().as_u16(),
                latency_ms = started.elapsed().as_millis() as u64,
                "request"
            )
        });
        resp
    }
}
