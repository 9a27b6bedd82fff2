//! RS256 access tokens, implemented directly on AWS-LC rather than a JWT library, so that what
//! is accepted is exactly what this file says:
//!
//! - the header may contain only `alg`, `typ` and `kid`; `alg` must be `RS256` and `typ` `JWT`;
//!   anything else (`none` in any spelling, `HS256`, embedded `jwk`, `jku`, `x5u`, `x5c`, `crit`)
//!   is rejected before any key is looked up;
//! - `kid` must name a currently published Warden key (no key is ever taken from the token);
//! - `iss`, `aud`, `typ = "access"`, `exp`, `nbf`, `iat` are required; `exp` and `nbf` are checked
//!   with a [`LEEWAY`] of 5 seconds; tokens longer than 4 KiB are not parsed.
//!
//! Revocation is checked by the caller (the per-user not-before in [`crate::sessions`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::signing_keys::SigningKeys;
use super::{b64, unb64};
use crate::clock::Timestamp;
use crate::{Error, Result};

/// Access token lifetime: `exp = iat + 900`.
pub const ACCESS_TTL: Duration = Duration::from_secs(900);
/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY: Duration = Duration::from_secs(5);
const MAX_TOKEN_BYTES: usize = 4096;

/// What a token lets its bearer do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Everything a user may do.
    Full,
    /// Only `POST /auth/password` (the password is known to be breached).
    PasswordChange,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// Session (refresh family) id.
    pub sid: String,
    /// Always `"access"`.
    pub typ: String,
    pub scope: Scope,
    /// When the user last proved their password (epoch seconds), for fresh-auth checks.
    pub auth_time: i64,
    /// The user's token epoch at issue; a later epoch (a revocation) invalidates the token.
    pub epoch: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    typ: Option<String>,
    kid: String,
}

pub struct TokenIssuer<'a> {
    pub keys: &'a SigningKeys,
    pub issuer: &'a str,
    pub audience: &'a str,
}

impl TokenIssuer<'_> {
    /// Signs a token for `sub` in session `sid`, issued at `now`.
    pub async fn issue(
        &self,
        sub: &str,
        sid: &str,
        scope: Scope,
        epoch: i64,
        auth_time: Timestamp,
        now: Timestamp,
    ) -> Result<String> {
        let iat = now.secs();
        let claims = AccessClaims {
            iss: self.issuer.to_string(),
            aud: self.audience.to_string(),
            sub: sub.to_string(),
            iat,
            nbf: iat,
            exp: iat + ACCESS_TTL.as_secs() as i64,
            jti: b64(&crate::crypto::random_bytes::<16>()?),
            sid: sid.to_string(),
            typ: "access".into(),
            scope,
            auth_time: auth_time.secs(),
            epoch,
        };
        let payload =
            b64(&serde_json::to_vec(&claims).map_err(|e| Error::Internal(e.to_string()))?);
        let signer = self.keys.signer().await?;
        let header =
            b64(format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{}"}}"#, signer.kid).as_bytes());
        let signing_input = format!("{header}.{payload}");
        let sig = signer.sign(signing_input.as_bytes())?;
        Ok(format!("{signing_input}.{}", b64(&sig)))
    }

    /// Verifies signature and claims at `now`. Every failure is [`Error::Unauthorized`].
    pub async fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims> {
        let unauthorized = || Error::Unauthorized;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(unauthorized());
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(unauthorized());
        };
        let header: Header = unb64(h)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(unauthorized)?;
        if header.alg != "RS256" || header.typ.as_deref().is_some_and(|t| t != "JWT") {
            return Err(unauthorized());
        }
        if header.kid.is_empty()
            || header.kid.len() > 64
            || !header
                .kid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(unauthorized());
        }
        let sig = unb64(s).ok_or_else(unauthorized)?;
        let signing_input = &token[..h.len() + 1 + p.len()];
        if !self
            .keys
            .verify(&header.kid, signing_input.as_bytes(), &sig)
            .await?
        {
            return Err(unauthorized());
        }
        let claims: AccessClaims = unb64(p)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(unauthorized)?;
        let t = now.secs();
        let leeway = LEEWAY.as_secs() as i64;
        let valid = claims.typ == "access"
            && claims.iss == self.issuer
            && claims.aud == self.audience
            && claims.exp > t - leeway
            && claims.nbf <= t + leeway
            && claims.iat <= t + leeway
            && claims.exp - claims.iat <= ACCESS_TTL.as_secs() as i64;
        if valid {
            Ok(claims)
        } else {
            Err(unauthorized())
        }
    }
}
