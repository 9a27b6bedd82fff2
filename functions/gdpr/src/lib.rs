//! The `gdpr` function: `POST /privacy/gdpr` `{type: "export"|"delete", password?}` → 202 with
//! the request's state, and `GET /privacy/requests/{id}` (a fresh download link when an export
//! is ready). The work is in [`warden_core::privacy`].

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use warden_core::privacy::requests::{Regime, RequestView};
use warden_core::privacy::{self, SubmitBody};
use warden_core::services::AppState;
use warden_http::ClientMeta;
use warden_http::JsonBody;
use warden_http::Result;
use warden_http::auth::Authenticated;
use warden_http::signals::Client;

async fn submit(
    State(s): State<AppState>,
    auth: Authenticated,
    ClientMeta(meta): ClientMeta,
    Client(client): Client,
    JsonBody(body): JsonBody<SubmitBody>,
) -> Result<(StatusCode, Json<RequestView>)> {
    let view = privacy::handle_request(&s, &auth, Regime::Gdpr, body, &client, &meta).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

async fn status(
    State(s): State<AppState>,
    auth: Authenticated,
    ClientMeta(meta): ClientMeta,
    Path(id): Path<String>,
) -> Result<Json<RequestView>> {
    Ok(Json(privacy::status(&s, &auth, &id, &meta).await?))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/privacy/gdpr", post(submit))
        .route("/privacy/requests/{id}", get(status))
}
