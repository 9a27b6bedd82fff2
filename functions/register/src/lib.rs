//! The `register` function: `POST /auth/register` `{email, password}` → 201 `{user_id}`.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde::Serialize;
use warden::audit::RequestMeta;
use warden::http::JsonBody;
use warden::registration::{self, RegisterRequest};
use warden::services::AppState;

#[derive(Serialize)]
pub struct Registered {
    pub user_id: String,
}

async fn register(
    State(state): State<AppState>,
    meta: RequestMeta,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<(StatusCode, Json<Registered>), warden::Error> {
    let user_id = registration::register(&state, req, &meta).await?;
    Ok((StatusCode::CREATED, Json(Registered { user_id })))
}

/// This function's routes (the local runner mounts the same ones).
pub fn routes() -> Router<AppState> {
    Router::new().route("/auth/register", post(register))
}
