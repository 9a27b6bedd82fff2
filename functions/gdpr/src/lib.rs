//! The `gdpr` function: `POST /privacy/gdpr` `{type: "export"|"delete", password?}` → 202 with
//! the request's state, and `GET /privacy/requests/{id}` (a fresh download link when an export
//! is ready); and for people who are not signed in, `POST /privacy/requests` (a link by mail)
//! and `POST /privacy/requests/verify` (the link makes the request). The work is in
//! [`warden_core::privacy`].

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use warden_core::privacy::requests::{Regime, RequestView};
use warden_core::privacy::{self, SubmitBody, intake};
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
    let view =
        privacy::handle_request(&s.privacy(), &auth, Regime::Gdpr, body, &client, &meta).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

async fn status(
    State(s): State<AppState>,
    auth: Authenticated,
    ClientMeta(meta): ClientMeta,
    Path(id): Path<String>,
) -> Result<Json<RequestView>> {
    Ok(Json(
        privacy::status(&s.privacy(), &auth, &id, &meta).await?,
    ))
}

/// `POST /privacy/requests {email, regime, type}`: a request without a session; the same 202
/// for every address (a link goes to it).
async fn ask(
    State(s): State<AppState>,
    ClientMeta(meta): ClientMeta,
    JsonBody(body): JsonBody<intake::AskBody>,
) -> Result<axum::response::Response> {
    intake::ask(&s.privacy(), &body, &meta).await?;
    Ok(warden_http::accepted(
        "if the address can receive mail, a link to confirm the request is on its way",
    ))
}

/// `POST /privacy/requests/verify {token}`: the link's token makes the request.
async fn verify(
    State(s): State<AppState>,
    ClientMeta(meta): ClientMeta,
    JsonBody(body): JsonBody<intake::VerifyBody>,
) -> Result<Json<intake::Verified>> {
    Ok(Json(
        intake::verify(&s.privacy(), &body.token, &meta).await?,
    ))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/privacy/gdpr", post(submit))
        .route("/privacy/requests", post(ask))
        .route("/privacy/requests/verify", post(verify))
        .route("/privacy/requests/{id}", get(status))
}
