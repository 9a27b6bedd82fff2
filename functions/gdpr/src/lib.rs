//! The `gdpr` function: `POST /privacy/gdpr` `{type: "export"|"delete", password?}` → 202 with
//! the request's state, and `GET /privacy/requests/{id}` (a fresh download link when an export
//! is ready). The work is in [`warden::privacy`].

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use warden::Result;
use warden::audit::RequestMeta;
use warden::http::JsonBody;
use warden::http::auth::Authenticated;
use warden::privacy::requests::{Regime, RequestView};
use warden::privacy::{self, SubmitBody};
use warden::services::AppState;

async fn submit(
    State(s): State<AppState>,
    auth: Authenticated,
    meta: RequestMeta,
    JsonBody(body): JsonBody<SubmitBody>,
) -> Result<(StatusCode, Json<RequestView>)> {
    let view = privacy::handle_request(&s, &auth, Regime::Gdpr, body, &meta).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

async fn status(
    State(s): State<AppState>,
    auth: Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> Result<Json<RequestView>> {
    privacy::status(&s, &auth, &id, &meta).await.map(Json)
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/privacy/gdpr", post(submit))
        .route("/privacy/requests/{id}", get(status))
}
