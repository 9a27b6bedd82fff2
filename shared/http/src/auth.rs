//! Authentication extractors for the routes that need a user.
//!
//! [`Authenticated`] takes `Authorization: Bearer <access token>`, verifies it (signature, claims,
//! see [`warden_core::tokens::access`]), then reads the user's profile once to compare the token's epoch
//! with the user's current one: a token issued before a revocation is refused at once, not at
//! its expiry. Tokens limited to a password change are refused here; [`PasswordChangeAuth`]
//! accepts them (and full tokens). A route listed in `WARDEN_SECOND_FACTOR_ROUTES` also needs a
//! token of a two-factor sign-in (`acr` `aal2`), else 403 `step-up-required`.

use axum::extract::FromRequestParts;
use http::request::Parts;

use crate::Problem;
use warden_core::caller::Caller;
use warden_core::services::AppState;
use warden_core::tokens::access::Scope;
use warden_core::users::read_profile;
use warden_core::{Error, Result};

/// A verified caller with a full-scope token.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

impl std::ops::Deref for Authenticated {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.0
    }
}

/// A verified caller whose token may be limited to changing the password.
#[derive(Debug, Clone)]
pub struct PasswordChangeAuth(pub Caller);

fn bearer(parts: &Parts) -> Result<&str> {
    let h = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(Error::Unauthorized)?;
    let (scheme, token) = h.split_once(' ').ok_or(Error::Unauthorized)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Error::Unauthorized);
    }
    Ok(token.trim())
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller> {
    // The guard middleware has already verified the token and checked revocation.
    match parts.extensions.get::<super::guard::Verdict>() {
        Some(super::guard::Verdict::Authenticated(a)) => return Ok((**a).clone()),
        Some(super::guard::Verdict::Revoked) => return Err(Error::Unauthorized),
        None => {}
    }
    let token = bearer(parts)?;
    let now = state.backends.clock.now();
    let claims = state.tokens().verify(token, now).await?;
    let profile = read_profile(state.backends.table.as_ref(), &claims.sub)
        .await?
        .ok_or(Error::Unauthorized)?;
    if claims.epoch != profile.token_epoch {
        return Err(Error::Unauthorized);
    }
    Ok(Caller {
        user_id: claims.sub.clone(),
        claims,
        profile,
    })
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let caller = authenticate(parts, state).await?;
        if caller.claims.scope != Scope::Full {
            return Err(Error::Forbidden.into());
        }
        let route = parts
            .extensions
            .get::<axum::extract::MatchedPath>()
            .map(|p| p.as_str());
        let needs_two = route.is_some_and(|path| {
            state
                .config
                .second_factor_routes
                .iter()
                .any(|(m, p)| *m == parts.method.as_str() && p == path)
        });
        if needs_two && !caller.claims.methods().is_multi_factor() {
            return Err(Error::StepUpRequired {
                needs: "a sign-in with a second factor",
            }
            .into());
        }
        Ok(Authenticated(caller))
    }
}

impl FromRequestParts<AppState> for PasswordChangeAuth {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        Ok(PasswordChangeAuth(authenticate(parts, state).await?))
    }
}
