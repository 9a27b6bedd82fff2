//! The `register` function: `POST /auth/register` `{email, password}` → 201 `{user_id}`.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde::Serialize;
use warden_core::registration::{self, RegisterRequest};
use warden_core::services::AppState;
use warden_http::JsonBody;
use warden_http::{ClientMeta, Problem};

#[derive(Serialize)]
pub struct Registered {
    pub user_id: String,
}

async fn register(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<(StatusCode, Json<Registered>), Problem> {
    let user_id = registration::register(&state, req, &meta).await?;
    Ok((StatusCode::CREATED, Json(Registered { user_id })))
}

/// This function's routes (the local runner mounts the same ones).
pub fn routes() -> Router<AppState> {
    Router::new().route("/auth/register", post(register))
}
