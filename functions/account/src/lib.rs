//! The `account` function: the caller's own account. `POST /auth/password` (change password;
//! accepts a password-change-only token), `GET /me`, `PATCH /me` (display name),
//! `GET/PUT /me/preferences`, `POST /me/photos` (a presigned upload link), `GET /me/photos`,
//! `GET /me/sessions`, `DELETE /me/sessions/{id}`; a second factor: `POST /me/mfa/totp` (a new
//! secret), `POST /me/mfa/totp/confirm` `{code}` (enables it, answers the recovery codes),
//! `DELETE /me/mfa/totp`; passkeys: `POST /me/passkeys/options`, `POST /me/passkeys`
//! `{challenge_id, credential, name}`, `GET /me/passkeys`, `DELETE /me/passkeys/{id}`; and `POST /auth/reauthenticate` `{password}` or `{code}` (a new access
//! token for the same session, freshly proved: the step-up the sensitive operations ask for).

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use serde::Serialize;
use warden_core::Error;
use warden_core::account::{self, ChangePassword};
use warden_core::audit::EventType;
use warden_core::photos::{self, Photo, Upload, UploadRequest};
use warden_core::privacy::opt_out::{self, PrivacySettings};
use warden_core::profile::{self, Preferences, ProfilePatch};
use warden_core::services::AppState;
use warden_core::sessions::{self, SessionInfo};
use warden_core::users::Profile;
use warden_http::ClientMeta;
use warden_http::JsonBody;
use warden_http::Result;
use warden_http::auth::{Authenticated, PasswordChangeAuth};
use warden_http::signals::Client;

async fn change_password(
    State(s): State<AppState>,
    PasswordChangeAuth(auth): PasswordChangeAuth,
    ClientMeta(meta): ClientMeta,
    Client(client): Client,
    JsonBody(req): JsonBody<ChangePassword>,
) -> Result<StatusCode> {
    account::change_password(&s.accounts(), &auth, req, &client, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn begin_totp(
    State(s): State<AppState>,
    Authenticated(auth): Authenticated,
) -> Result<axum::response::Response> {
    let enrolment = warden_core::mfa::totp::begin(&s.sign_in(), &auth).await?;
    Ok(warden_http::no_store(Json(enrolment)))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Confirm {
    code: String,
}

#[derive(Serialize)]
struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

async fn confirm_totp(
    State(s): State<AppState>,
    Authenticated(auth): Authenticated,
    ClientMeta(meta): ClientMeta,
    JsonBody(req): JsonBody<Confirm>,
) -> Result<axum::response::Response> {
    let recovery_codes =
        warden_core::mfa::totp::confirm(&s.sign_in(), &auth, &req.code, &meta).await?;
    Ok(warden_http::no_store(Json(RecoveryCodes {
        recovery_codes,
    })))
}

async fn reauthenticate(
    State(s): State<AppState>,
    Authenticated(auth): Authenticated,
    ClientMeta(meta): ClientMeta,
    Client(client): Client,
    JsonBody(req): JsonBody<warden_core::mfa::step_up::Reauthenticate>,
) -> Result<axum::response::Response> {
    let token =
        warden_core::mfa::step_up::reauthenticate(&s.sign_in(), &auth, req, &client, &meta).await?;
    Ok(warden_http::no_store(Json(token)))
}

async fn passkey_options(
    State(s): State<AppState>,
    Authenticated(auth): Authenticated,
) -> Result<axum::response::Response> {
    let options = warden_core::mfa::passkeys::registration_options(&s.sign_in(), &auth).await?;
    Ok(warden_http::no_store(Json(options)))
}

async fn add_passkey(
    State(s): State<AppState>,
    Authenticated(auth): Authenticated,
    ClientMeta(meta): ClientMeta,
    JsonBody(req): JsonBody<warden_core::mfa::passkeys::NewPasskey>,
) -> Result<(StatusCode, Json<serde_json::Value>)> {
    let id = warden_core::mfa::passkeys::register(&s.sign_in(), &auth, req, &meta).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))))
}

async fn list_passkeys(
    State(s): State<AppState>,
    Authenticated(auth): Authenticated,
) -> Result<Json<serde_json::Value>> {
    let passkeys = warden_core::mfa::passkeys::list(&s.sign_in(), &auth).await?;
    Ok(Json(serde_json::json!({ "passkeys": passkeys })))
}

async fn remove_passkey(
    State(s): State<AppState>,
    Authenticated(auth): Authenticated,
    ClientMeta(meta): ClientMeta,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    warden_core::mfa::passkeys::remove(&s.sign_in(), &auth, &id, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_totp(
    State(s): State<AppState>,
    Authenticated(auth): Authenticated,
    ClientMeta(meta): ClientMeta,
) -> Result<StatusCode> {
    warden_core::mfa::totp::remove(&s.sign_in(), &auth, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn change_email(
    State(s): State<AppState>,
    Authenticated(auth): Authenticated,
    ClientMeta(meta): ClientMeta,
    Client(client): Client,
    JsonBody(req): JsonBody<warden_core::email_change::ChangeRequest>,
) -> Result<axum::response::Response> {
    warden_core::email_change::request(&s.accounts(), &auth, req, &client, &meta).await?;
    Ok(warden_http::accepted(
        "a link to confirm the change is on its way to the new address",
    ))
}

#[derive(Serialize)]
struct Me {
    user_id: String,
    email: String,
    display_name: Option<String>,
    created_at: String,
    password_changed_at: String,
    privacy: PrivacySettings,
}

/// `GET /me` from the profile the guard's write returned: no read of its own.
async fn me(State(s): State<AppState>, auth: Authenticated) -> Result<Json<Me>> {
    describe(&s, &auth.profile).await
}

async fn describe(s: &AppState, p: &Profile) -> Result<Json<Me>> {
    let u = s.users().open(p).await?;
    Ok(Json(Me {
        display_name: profile::display_name(&s.user_keys, p).await?,
        user_id: u.id,
        email: u.email,
        created_at: u.account.created_at.to_rfc3339(),
        password_changed_at: u.account.password_changed_at.to_rfc3339(),
        privacy: opt_out::settings(p),
    }))
}

async fn patch_me(
    State(s): State<AppState>,
    auth: Authenticated,
    JsonBody(patch): JsonBody<ProfilePatch>,
) -> Result<Json<Me>> {
    let changed = profile::apply_patch(
        s.backends.table.as_ref(),
        &s.user_keys,
        &auth.user_id,
        patch,
    )
    .await?;
    describe(&s, changed.as_ref().unwrap_or(&auth.profile)).await
}

async fn get_preferences(
    State(s): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Preferences>> {
    Ok(Json(
        Preferences::load(s.backends.table.as_ref(), &s.user_keys, &auth.user_id).await?,
    ))
}

async fn put_preferences(
    State(s): State<AppState>,
    auth: Authenticated,
    JsonBody(prefs): JsonBody<Preferences>,
) -> Result<Json<Preferences>> {
    prefs
        .store(s.backends.table.as_ref(), &s.user_keys, &auth.user_id)
        .await?;
    Ok(Json(prefs))
}

async fn new_photo(
    State(s): State<AppState>,
    auth: Authenticated,
    JsonBody(req): JsonBody<UploadRequest>,
) -> Result<(StatusCode, Json<Upload>)> {
    let now = s.backends.clock.now();
    let upload = photos::new_upload(
        s.backends.table.as_ref(),
        s.backends.photos.as_ref(),
        &auth.user_id,
        &req,
        s.config.photo_max_bytes,
        now,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(upload)))
}

#[derive(Serialize)]
struct Photos {
    photos: Vec<Photo>,
}

async fn list_photos(State(s): State<AppState>, auth: Authenticated) -> Result<Json<Photos>> {
    let photos = photos::list(s.backends.photos.as_ref(), &auth.user_id).await?;
    Ok(Json(Photos { photos }))
}

#[derive(Serialize)]
struct Sessions {
    sessions: Vec<SessionInfo>,
    current: String,
}

async fn list_sessions(State(s): State<AppState>, auth: Authenticated) -> Result<Json<Sessions>> {
    let now = s.backends.clock.now();
    let list = sessions::list(
        s.backends.table.as_ref(),
        &auth.user_id,
        now,
        s.session_lifetimes(),
    )
    .await?;
    Ok(Json(Sessions {
        sessions: list,
        current: auth.0.claims.sid,
    }))
}

async fn delete_session(
    State(s): State<AppState>,
    auth: Authenticated,
    ClientMeta(meta): ClientMeta,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    if id.len() != 32 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::NotFound.into());
    }
    // The key is under the caller's own partition: another user's session id finds nothing.
    let table = s.backends.table.as_ref();
    if table
        .get(&sessions::session_key(&auth.user_id, &id))
        .await?
        .is_none()
    {
        return Err(Error::NotFound.into());
    }
    sessions::revoke(table, &auth.user_id, &id, s.backends.clock.now()).await?;
    s.audit
        .record(
            &meta,
            EventType::SessionRevoked,
            Some(&auth.user_id),
            serde_json::json!({ "sid": id }),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/password", post(change_password))
        .route("/me", get(me).patch(patch_me))
        .route("/me/email", post(change_email))
        .route("/me/preferences", get(get_preferences).put(put_preferences))
        .route("/me/photos", get(list_photos).post(new_photo))
        .route("/me/sessions", get(list_sessions))
        .route("/me/sessions/{id}", delete(delete_session))
        .route("/me/mfa/totp", post(begin_totp).delete(remove_totp))
        .route("/me/mfa/totp/confirm", post(confirm_totp))
        .route("/me/passkeys/options", post(passkey_options))
        .route("/me/passkeys", get(list_passkeys).post(add_passkey))
        .route("/me/passkeys/{id}", delete(remove_passkey))
        .route("/auth/reauthenticate", post(reauthenticate))
}
