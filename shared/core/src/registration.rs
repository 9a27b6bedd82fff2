//! Registration: normalise the email, run the password through the policy and the breach check
//! (fail closed: a breach service that cannot answer is a 503, not a pass), hash, store.

use serde::Deserialize;

use crate::audit::{EventType, RequestMeta};
use crate::secret::SecretString;
use crate::services::Services;
use crate::users::{User, new_user_id, normalize_email};
use crate::{Error, Result};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    pub password: SecretString,
}

/// Checks a new password for `email`: policy, then breaches (fail closed). Returns the
/// normalised password to hash. Shared by registration and password change.
pub async fn accept_new_password(
    services: &Services,
    password: &SecretString,
    email: &str,
) -> Result<SecretString> {
    let normalized = services.policy.check(password, email)?;
    let seen = services.breach.times_seen(&normalized).await?;
    if seen > 0 {
        return Err(Error::invalid(
            "password",
            "appears in known data breaches; choose another",
        ));
    }
    Ok(normalized)
}

/// Creates the account and returns its id.
pub async fn register(
    services: &Services,
    req: RegisterRequest,
    meta: &RequestMeta,
) -> Result<String> {
    let email = normalize_email(&req.email)?;
    let password = accept_new_password(services, &req.password, &email).await?;
    let password_hash = services.passwords.hash(&password).await?;
    let now = services.backends.clock.now();
    let user = User {
        id: new_user_id()?,
        email,
        password_hash,
        password_changed_at: now,
        created_at: now,
        token_epoch: 0,
        password_breached: false,
    };
    services.users().create(&user).await?;
    services
        .audit
        .record(
            meta,
            EventType::UserRegistered,
            Some(&user.id),
            serde_json::json!({}),
        )
        .await?;
    Ok(user.id)
}
