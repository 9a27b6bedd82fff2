//! The `register` function: `POST /auth/register` `{email, password}` and
//! `POST /auth/email/resend` `{email}`, each → 202 with one body for every address (new,
//! awaiting verification or taken: see `warden_core::registration`).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use warden_core::registration::{self, RegisterRequest, ResendRequest};
use warden_core::services::AppState;
use warden_http::JsonBody;
use warden_http::{ClientMeta, Problem};

async fn register(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<Response, Problem> {
    registration::register(&state.accounts(), req, &meta).await?;
    Ok(warden_http::accepted(
        "a message about this registration is on its way to the address: follow its link to confirm it",
    ))
}

async fn resend(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    JsonBody(req): JsonBody<ResendRequest>,
) -> Result<Response, Problem> {
    registration::resend(&state.accounts(), req, &meta).await?;
    Ok(warden_http::accepted(
        "if the address awaits confirmation, a new link is on its way",
    ))
}

/// This function's routes (the local runner mounts the same ones).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/email/resend", post(resend))
}
