//! The `account` function: the caller's own account. `POST /auth/password` (change password;
//! accepts a password-change-only token), `GET /me`, `GET /me/sessions`,
//! `DELETE /me/sessions/{id}`.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use serde::Serialize;
use warden::account::{self, ChangePassword};
use warden::audit::{EventType, RequestMeta};
use warden::http::JsonBody;
use warden::http::auth::{Authenticated, PasswordChangeAuth};
use warden::services::AppState;
use warden::sessions::{self, SessionInfo};
use warden::{Error, Result};

async fn change_password(
    State(s): State<AppState>,
    PasswordChangeAuth(auth): PasswordChangeAuth,
    meta: RequestMeta,
    JsonBody(req): JsonBody<ChangePassword>,
) -> Result<StatusCode> {
    account::change_password(&s, &auth, req, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
struct Me {
    user_id: String,
    email: String,
    created_at: String,
    password_changed_at: String,
}

async fn me(State(s): State<AppState>, auth: Authenticated) -> Result<Json<Me>> {
    let u = s
        .users()
        .get(&auth.user_id)
        .await?
        .ok_or(Error::Unauthorized)?;
    Ok(Json(Me {
        user_id: u.id,
        email: u.email,
        created_at: u.created_at.to_rfc3339(),
        password_changed_at: u.password_changed_at.to_rfc3339(),
    }))
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
        current: auth.claims.sid,
    }))
}

async fn delete_session(
    State(s): State<AppState>,
    auth: Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    if id.len() != 32 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::NotFound);
    }
    // The key is under the caller's own partition: another user's session id finds nothing.
    let table = s.backends.table.as_ref();
    if table
        .get(&sessions::session_key(&auth.user_id, &id))
        .await?
        .is_none()
    {
        return Err(Error::NotFound);
    }
    sessions::revoke(table, &auth.user_id, &id).await?;
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
        .route("/me", get(me))
        .route("/me/sessions", get(list_sessions))
        .route("/me/sessions/{id}", delete(delete_session))
}
