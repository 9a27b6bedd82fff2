//! RS256 access tokens, encoded, signed, verified and validated by `jsonwebtoken` (the crate
//! the Rust ecosystem audits), with Warden's narrower rules checked around it:
//!
//! - before the crate sees a token: at most 4 KiB, three parts, and a header that may contain
//!   only `alg`, `typ` and `kid`, with `alg` = `RS256` and `typ` = `JWT`; anything else (`none`
//!   in any spelling, `HS256`, embedded `jwk`, `jku`, `x5u`, `x5c`, `crit`) is rejected before any
//!   key is looked up. The crate would ignore most of those fields; here they are refused;
//! - `kid` must name a currently published Warden key (no key is ever taken from the token);
//! - the crate checks the signature with that key, pinned to RS256, requires `exp`, `nbf`, `iss`,
//!   `aud` and `sub`, and checks `iss` and `aud`; the claims struct refuses unknown claims;
//! - times are checked here, against Warden's [`Clock`](crate::clock::Clock) rather than the
//!   crate's system clock (the same instant in production; tests and the monitor move the
//!   clock): `exp` and `nbf` with a [`LEEWAY`] of 5 seconds, `iat` not in the future, and a
//!   lifetime of at most [`ACCESS_TTL`]; and `typ` = `access`.
//!
//! Revocation is checked by the caller (the per-user not-before in [`crate::sessions`]).

use std::time::Duration;

use jsonwebtoken::{Algorithm, Validation};
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

/// How the holder of a session proved who they are: the token's `amr` (RFC 8176 values) and
/// the assurance level that reaches, its `acr` (NIST SP 800-63B: `aal2` takes two factors).
/// Kept on the session, so a refreshed token says what the sign-in proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Methods(u8);

impl Methods {
    /// A password (`pwd`).
    pub const PASSWORD: Methods = Methods(1);
    /// A one-time code (`otp`): a TOTP code, or one of the account's recovery codes (a
    /// single-use look-up secret, NIST's other one-time authenticator).
    pub const ONE_TIME_CODE: Methods = Methods(2);
    /// A passkey with user verification (`swk`: a software-protected key, since no attestation
    /// proves the key lives in hardware): possession and verification, two factors in one.
    pub const PASSKEY: Methods = Methods(4);
    const NAMES: [(Methods, &'static str); 3] = [
        (Self::PASSWORD, "pwd"),
        (Self::ONE_TIME_CODE, "otp"),
        (Self::PASSKEY, "swk"),
    ];

    pub fn with(self, other: Methods) -> Methods {
        Methods(self.0 | other.0)
    }

    /// Whether every method of `other` was used (none asked: true).
    pub fn includes(self, other: Methods) -> bool {
        self.0 & other.0 == other.0
    }

    /// Two factors or more (a verified passkey is two by itself).
    pub fn is_multi_factor(self) -> bool {
        self.0.count_ones() >= 2 || self.includes(Self::PASSKEY)
    }

    /// As stored on a session.
    pub fn bits(self) -> i64 {
        i64::from(self.0)
    }

    /// From a session's stored bits (sessions from before methods were kept: a password).
    pub fn from_bits(bits: Option<i64>) -> Methods {
        match bits {
            Some(b) => Methods((b & 0xff) as u8),
            None => Self::PASSWORD,
        }
    }

    /// The RFC 8176 `amr` values.
    pub fn amr(self) -> Vec<String> {
        Self::NAMES
            .iter()
            .filter(|(m, _)| self.includes(*m))
            .map(|(_, name)| (*name).to_string())
            .collect()
    }

    /// From a token's `amr`.
    pub fn from_amr(amr: &[String]) -> Methods {
        Self::NAMES
            .iter()
            .filter(|(_, name)| amr.iter().any(|a| a == name))
            .fold(Methods::default(), |acc, (m, _)| acc.with(*m))
    }

    /// The `acr` value: `aal2` with two factors, else `aal1`.
    pub fn acr(self) -> &'static str {
        if self.is_multi_factor() {
            "aal2"
        } else {
            "aal1"
        }
    }
}

/// The access a session's tokens carry: the user's token epoch when it was granted, the scope,
/// and how the sign-in was proved. Kept on the session family (`crate::sessions`), so a
/// refresh needs no read of the profile; every event that changes the epoch ends the families
/// or updates the one it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub epoch: i64,
    pub scope: Scope,
    pub methods: Methods,
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
    /// How the sign-in behind the session was proved (RFC 8176); see [`Methods`].
    #[serde(default)]
    pub amr: Vec<String>,
    /// `aal1` or `aal2`.
    #[serde(default)]
    pub acr: String,
}

impl AccessClaims {
    /// What the sign-in behind this token proved.
    pub fn methods(&self) -> Methods {
        Methods::from_amr(&self.amr)
    }
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

impl<'a> TokenIssuer<'a> {
    /// The issuer of `keys`, naming the configured issuer and audience.
    pub fn new(keys: &'a SigningKeys, config: &'a crate::config::Config) -> Self {
        TokenIssuer {
            keys,
            issuer: &config.issuer,
            audience: &config.audience,
        }
    }

    /// Signs a token for `sub` in session `sid`, issued at `now`.
    pub async fn issue(
        &self,
        sub: &str,
        sid: &str,
        grant: Grant,
        auth_time: Timestamp,
        now: Timestamp,
    ) -> Result<String> {
        let Grant {
            epoch,
            scope,
            methods,
        } = grant;
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
            amr: methods.amr(),
            acr: methods.acr().to_string(),
        };
        self.keys.signer().await?.encode(&claims)
    }

    /// Verifies signature and claims at `now`. Every failure is [`Error::Unauthorized`].
    pub async fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims> {
        let unauthorized = || Error::Unauthorized;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(unauthorized());
        }
        let mut parts = token.split('.');
        let (Some(h), Some(_), Some(_), None) =
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
        let key = self
            .keys
            .verifying_key(&header.kid)
            .await?
            .ok_or_else(unauthorized)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[self.issuer]);
        validation.set_audience(&[self.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        // Times are checked below against Warden's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)
            .map_err(|_| unauthorized())?
            .claims;
        let t = now.secs();
        let leeway = LEEWAY.as_secs() as i64;
        let valid = claims.typ == "access"
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
