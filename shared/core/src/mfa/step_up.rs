//! Step-up: `POST /auth/reauthenticate` `{password}`, `{code}` or a passkey's `{challenge_id,
//! credential}` (an assertion of a sign-in ceremony, by one of the caller's passkeys) proves
//! the caller again inside their session and answers a new access token for the same session
//! with a fresh `auth_time` and the proof added to its `amr`. The sensitive operations read those two claims
//! ([`super::require_fresh`]). The session itself is unchanged: its refreshed tokens keep the
//! sign-in's own `auth_time`, so a step-up lasts one access token (15 minutes at most) and its
//! freshness five.
//!
//! A password is checked as at sign-in (the same lockout, per account and per known device); a
//! code is the authenticator app's, accepted once, counted on the same counter as the second
//! step's wrong codes.

use serde::{Deserialize, Serialize};

use super::second_step;
use crate::audit::RequestMeta;
use crate::caller::Caller;
use crate::client::ClientSignals;
use crate::login::SignIn;
use crate::secret::SecretString;
use crate::sessions::Grant;
use crate::tokens::access::{ACCESS_TTL, Methods};
use crate::{Error, Result};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reauthenticate {
    pub password: Option<SecretString>,
    pub code: Option<SecretString>,
    /// A passkey: the sign-in ceremony (`POST /auth/passkeys/options`) and its assertion.
    pub challenge_id: Option<String>,
    pub credential: Option<serde_json::Value>,
}

/// A new access token for the caller's session.
#[derive(Debug, Serialize)]
pub struct SteppedUp {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
}

pub async fn reauthenticate(
    s: &SignIn<'_>,
    caller: &Caller,
    req: Reauthenticate,
    client: &ClientSignals,
    meta: &RequestMeta,
) -> Result<SteppedUp> {
    let passkey = match (req.challenge_id, req.credential) {
        (Some(challenge_id), Some(credential)) => Some(super::passkeys::PasskeySignIn {
            challenge_id,
            credential,
        }),
        (None, None) => None,
        _ => {
            return Err(Error::invalid(
                "credential",
                "a passkey step-up sends both `challenge_id` and `credential`",
            ));
        }
    };
    let proved = match (&req.password, &req.code, passkey) {
        (None, None, Some(assertion)) => {
            super::passkeys::step_up(s, caller, assertion, meta).await?;
            Methods::PASSKEY
        }
        (Some(password), None, None) => {
            crate::account::verify_current_password(s, &caller.user_id, password, client, meta)
                .await?;
            Methods::PASSWORD
        }
        (None, Some(code), None) => {
            let user = s
                .users()
                .get(&caller.user_id)
                .await?
                .ok_or(Error::Unauthorized)?;
            // Without a factor there is no code to check, and no wrong code to count: a caller
            // who sends one learns only that (they are signed in to the account).
            if !user.second_factor {
                return Err(Error::Conflict(
                    "the account has no authenticator app; send the password".into(),
                ));
            }
            let device = crate::login::SignInDevice::of(s, client, &user.email);
            let counter = second_step::verify_totp(s, &user, code, &device, meta).await?;
            crate::lockout::record_success(s.table, &counter).await?;
            Methods::ONE_TIME_CODE
        }
        _ => {
            return Err(Error::invalid(
                "password",
                "send exactly one of `password`, `code`, or a passkey's `challenge_id` and `credential`",
            ));
        }
    };
    let now = s.clock.now();
    let claims = &caller.claims;
    let grant = Grant {
        epoch: claims.epoch,
        scope: claims.scope,
        methods: claims.methods().with(proved),
    };
    let access_token = s
        .tokens()
        .issue(&caller.user_id, &claims.sid, grant, now, now)
        .await?;
    Ok(SteppedUp {
        access_token,
        token_type: "Bearer",
        expires_in: ACCESS_TTL.as_secs(),
    })
}
