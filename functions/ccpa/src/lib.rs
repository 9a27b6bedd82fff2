//! The `ccpa` function: `POST /privacy/ccpa` `{type: "do_not_sell"|"opt_in"|"access"|"delete",
//! password?}`. An opt-out is done at once (200); opting back in takes two requests (the first
//! answers 202 `verifying`, the confirming second 200); access (the export) and delete (the
//! erasure) are accepted (202) and tracked at `GET /privacy/requests/{id}` (the `gdpr`
//! function).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use warden_core::privacy::requests::{Regime, RequestView, State as RequestState};
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
    let preference = matches!(body.type_name.as_str(), "do_not_sell" | "opt_in");
    let view =
        privacy::handle_request(&s.privacy(), &auth, Regime::Ccpa, body, &client, &meta).await?;
    // The opt-out is recorded at once; downstream recipients may still have to acknowledge it.
    let recorded = matches!(
        view.status,
        RequestState::Completed | RequestState::AwaitingAcknowledgements
    );
    let status = if preference && recorded {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(view)))
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/privacy/ccpa", post(submit))
}
