//! `warden-local`: every Warden function on one HTTP server, on embedded or AWS backends.
//!
//! The routes are the function crates' own `routes()`, finished by the same
//! [`warden_http::app`] the Lambdas use, so the local runner serves the code the Lambdas run.
//! Local-only routes live under `/_local/` (the presigned blob links of the directory adapter).

pub mod args;
pub mod dashboard;
pub mod operator;
pub mod privacy_cli;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Deserialize;
use warden_core::backends::Backends;
use warden_core::clock::{Clock, OffsetClock};
use warden_core::config::Config;
use warden_core::services::{AppState, Services};
use warden_embedded::Embedded;
use warden_embedded::blobs::LocalBlobs;
use warden_http::Problem;
use warden_http::client_ip::SourceIp;
use warden_http::request_meta::RequestId;

pub use args::{Args, Backend};
pub use operator::Operator;

/// Every function's routes, merged.
pub fn function_routes() -> Router<AppState> {
    Router::new()
        .merge(warden_register::routes())
        .merge(warden_login::routes())
        .merge(warden_refresh::routes())
        .merge(warden_account::routes())
        .merge(warden_jwks::routes())
        .merge(warden_gdpr::routes())
        .merge(warden_ccpa::routes())
}

/// The embedded stores the runner serves itself: the directory blob stores (their presigned
/// links), the mail outbox (listed to the operator at `GET /_local/mail`) and the event bus
/// (`GET /_local/events`).
#[derive(Clone)]
pub struct LinkStores {
    pub photos: Arc<LocalBlobs>,
    pub exports: Arc<LocalBlobs>,
    pub outbox: Arc<warden_embedded::LocalOutbox>,
    pub events: Arc<warden_embedded::LocalEventBus>,
}

impl LinkStores {
    pub fn of(e: &Embedded) -> Self {
        LinkStores {
            photos: e.photos.clone(),
            exports: e.exports.clone(),
            outbox: e.outbox.clone(),
            events: e.events.clone(),
        }
    }
}

/// `GET /_local/mail`: every message the local outbox holds, oldest first.
async fn list_mail(
    State(outbox): State<Arc<warden_embedded::LocalOutbox>>,
) -> Result<axum::Json<Vec<warden_embedded::outbox::StoredMail>>, Problem> {
    Ok(axum::Json(outbox.list().await?))
}

/// `GET /_local/events`: every event published to downstream systems, oldest first.
async fn list_events(
    State(bus): State<Arc<warden_embedded::LocalEventBus>>,
) -> Result<axum::Json<Vec<warden_core::event_bus::BusEvent>>, Problem> {
    Ok(axum::Json(bus.list().await?))
}

#[derive(Deserialize)]
struct LinkQuery {
    expires: i64,
    /// Upload links only: the body's exact length (signed).
    length: Option<u64>,
    signature: String,
}

async fn serve_link(
    State(stores): State<LinkStores>,
    Path((bucket, key)): Path<(String, String)>,
    Query(q): Query<LinkQuery>,
) -> Result<impl IntoResponse, Problem> {
    let store = match bucket.as_str() {
        "photos" => &stores.photos,
        "exports" => &stores.exports,
        _ => return Err(warden_core::Error::NotFound.into()),
    };
    let bytes = store.open_link(&key, q.expires, &q.signature).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    ))
}

/// A presigned upload link of the directory store (S3 takes the PUT itself in AWS).
async fn accept_upload(
    State(stores): State<LinkStores>,
    Path((bucket, key)): Path<(String, String)>,
    Query(q): Query<LinkQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<axum::http::StatusCode, Problem> {
    // Photos, and an authorized agent's signed permission (S3 takes both PUTs in AWS).
    let store = match bucket.as_str() {
        "photos" => &stores.photos,
        "exports" if key.starts_with(warden_core::privacy::intake::PERMISSION_PREFIX) => {
            &stores.exports
        }
        _ => return Err(warden_core::Error::NotFound.into()),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    store
        .accept_upload(&key, q.expires, content_type, q.length, &q.signature, body)
        .await?;
    Ok(axum::http::StatusCode::OK)
}

/// The runner's application: functions plus local-only routes, with the socket's peer address
/// as the client's source IP.
pub struct LocalApp {
    pub router: Router,
    pub state: AppState,
}

/// Builds the app for `args` (opening the data directory or the AWS clients).
pub async fn build(args: &Args, config: Config) -> warden_core::Result<LocalApp> {
    let clock: Arc<dyn Clock> = Arc::new(OffsetClock {
        offset_millis: args.time_offset_millis,
    });
    // The operator credential lives in the data directory on either backend.
    let operator = Operator::load_or_create(&args.data_dir, Some(args.listen.ip()))?;
    match args.backend {
        Backend::Embedded => {
            let base_url = format!("http://{}", args.listen);
            let e = warden_embedded::open(&args.data_dir, &base_url, clock)?;
            let links = LinkStores::of(&e);
            assemble(config, e.backends, Some(links), operator).await
        }
        Backend::Aws => {
            let backends = warden_aws::backends(&config, clock).await?;
            assemble(config, backends, None, operator).await
        }
    }
}

async fn assemble(
    config: Config,
    backends: Backends,
    links: Option<LinkStores>,
    operator: Arc<Operator>,
) -> warden_core::Result<LocalApp> {
    let breach = warden_aws::breach_check(&config, backends.clock.clone())?;
    let state = Services::with_breach_check(config, backends, breach).await?;
    Ok(LocalApp {
        router: router(state.clone(), links, operator),
        state,
    })
}

/// The runner's router over `state`: every function's routes, the operator's routes behind the
/// operator credential ([`operator`]), the local link route when the blob stores are
/// directories, and the socket's peer address as the client's source IP.
pub fn router(state: AppState, links: Option<LinkStores>, operator: Arc<Operator>) -> Router {
    let scan_state = state.clone();
    // The links fix each upload's length; this only stops a body past the largest allowed.
    let upload_limit = usize::try_from(state.config.photo_max_bytes).unwrap_or(usize::MAX);
    let mut operator_routes = Router::new();
    if let Some(links) = &links {
        operator_routes = operator_routes
            .route(
                "/_local/mail",
                get(list_mail).with_state(links.outbox.clone()),
            )
            .route(
                "/_local/events",
                get(list_events).with_state(links.events.clone()),
            );
    }
    let operator_routes = operator_routes
        // Local only: run the security scan now (the Lambda runs on the EventBridge schedule).
        .route(
            "/_local/scan",
            axum::routing::post(move || {
                let state = scan_state.clone();
                async move {
                    warden_security_scan::handle(&state, serde_json::Value::Null)
                        .await
                        .map(axum::Json)
                        .map_err(Problem)
                }
            }),
        )
        .route(
            "/_local/dashboard",
            get(dashboard::dashboard).with_state(state.clone()),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            operator.clone(),
            operator::require,
        ))
        .route(
            "/_local/login",
            get(operator::login).with_state(operator.clone()),
        );
    // The privacy operator API, behind the operator token (IAM on AWS).
    let operator_api = warden_operator::routes().route_layer(axum::middleware::from_fn_with_state(
        operator.clone(),
        operator::require,
    ));
    let mut router = warden_http::app(function_routes().merge(operator_api), state)
        .merge(operator_routes)
        // A page on the API's own origin that signs in, refreshes and logs out (tried in
        // headless Chromium by local/tests/browser.rs).
        .route("/demo/", get(demo_page))
        .route("/demo/demo.js", get(demo_script))
        .route(
            "/openapi.json",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    include_str!("../../openapi.json"),
                )
            }),
        );
    if let Some(links) = links {
        router = router.merge(
            Router::new()
                .route(
                    "/_local/blobs/{bucket}/{*key}",
                    get(serve_link)
                        .put(accept_upload)
                        .layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
                )
                .with_state(links),
        );
    }
    router.layer(axum::middleware::map_request(
        |mut req: axum::extract::Request| async move {
            if let Some(ConnectInfo(addr)) = req.extensions().get::<ConnectInfo<SocketAddr>>() {
                let ip = addr.ip();
                req.extensions_mut().insert(SourceIp(ip));
            }
            req.extensions_mut().insert(RequestId::random());
            req
        },
    ))
}

async fn demo_page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'self'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'",
            ),
        ],
        include_str!("demo/index.html"),
    )
}

async fn demo_script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("demo/demo.js"),
    )
}

/// Serves `app` on `listener` until `shutdown` resolves, finishing in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: LocalApp,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.router
            .into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
