//! The `login` function: `POST /auth/login` `{email, password}` → 200 with an access token in
//! the body, the refresh token in an HttpOnly cookie (and a device cookie on a new device); and
//! recovery, which shares its lockout: `POST /auth/password/forgot` `{email}` → 202 always,
//! `POST /auth/password/reset` `{token, new_password}` → 204; and the links of an email change,
//! `POST /auth/email/verify` `{token}` → 204. For an account with a second factor, the
//! password answers 200 `{mfa_required, mfa_token, methods, expires_in}` and the sign-in
//! completes at `POST /auth/mfa/totp` or `POST /auth/mfa/recovery` `{mfa_token, code}`. A
//! passkey is a sign-in of its own: `POST /auth/passkeys/options` `{}` → `{challenge_id,
//! publicKey}`, `POST /auth/passkeys/login` `{challenge_id, credential}` → the login body.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use warden_core::login::{self, LoginRequest, LoginResult};
use warden_core::mfa::second_step::{self, SecondStep};
use warden_core::services::AppState;
use warden_http::JsonBody;
use warden_http::browser::{Origins, check_same_site};
use warden_http::secret_response::signed_in;
use warden_http::signals::Client;
use warden_http::{ClientMeta, Problem, no_store};

async fn login(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    Client(client): Client,
    headers: HeaderMap,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Response, Problem> {
    // A page of another site must not sign its visitor in (login CSRF).
    check_same_site(&headers, &Origins::of(&state.config))?;
    match login::login(&state.sign_in(), req, &client, &meta).await? {
        LoginResult::Session(out) => signed_in(out),
        LoginResult::SecondFactor(challenge) => Ok(no_store(Json(challenge))),
    }
}

async fn passkey_options(State(state): State<AppState>) -> Result<Response, Problem> {
    Ok(no_store(Json(
        warden_core::mfa::passkeys::sign_in_options(&state.sign_in()).await?,
    )))
}

async fn passkey_sign_in(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    Client(client): Client,
    headers: HeaderMap,
    JsonBody(req): JsonBody<warden_core::mfa::passkeys::PasskeySignIn>,
) -> Result<Response, Problem> {
    check_same_site(&headers, &Origins::of(&state.config))?;
    signed_in(warden_core::mfa::passkeys::sign_in(&state.sign_in(), req, &client, &meta).await?)
}

async fn second_step(
    State(state): State<AppState>,
    Path(method): Path<String>,
    ClientMeta(meta): ClientMeta,
    Client(client): Client,
    headers: HeaderMap,
    JsonBody(req): JsonBody<SecondStep>,
) -> Result<Response, Problem> {
    let method = second_step::Method::parse(&method)?;
    check_same_site(&headers, &Origins::of(&state.config))?;
    signed_in(second_step::complete(&state.sign_in(), method, req, &client, &meta).await?)
}

async fn forgot(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    JsonBody(req): JsonBody<warden_core::recovery::ForgotRequest>,
) -> Result<Response, Problem> {
    warden_core::recovery::forgot(&state.accounts(), req, &meta).await?;
    Ok(warden_http::accepted(
        "if the address has an account, a reset link is on its way",
    ))
}

async fn reset(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    JsonBody(req): JsonBody<warden_core::recovery::ResetRequest>,
) -> Result<axum::http::StatusCode, Problem> {
    warden_core::recovery::reset(&state.accounts(), req, &meta).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

async fn verify_email(
    State(state): State<AppState>,
    ClientMeta(meta): ClientMeta,
    JsonBody(req): JsonBody<warden_core::email_change::VerifyRequest>,
) -> Result<axum::http::StatusCode, Problem> {
    warden_core::email_change::verify(&state.accounts(), req, &meta).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/mfa/{method}", post(second_step))
        .route("/auth/passkeys/options", post(passkey_options))
        .route("/auth/passkeys/login", post(passkey_sign_in))
        .route("/auth/email/verify", post(verify_email))
        .route("/auth/password/forgot", post(forgot))
        .route("/auth/password/reset", post(reset))
}
