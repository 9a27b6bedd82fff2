//! Registration: validate the email and password, hash the password, store the user.

use serde::Deserialize;

use crate::secret::SecretString;
use crate::services::Services;
use crate::users::{User, Users, new_user_id, normalize_email};
use crate::{Error, Result};

/// Longest accepted password, in characters (checked before any hashing).
pub const PASSWORD_MAX_CHARS: usize = 256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    pub password: SecretString,
}

/// Creates the account and returns its id.
pub async fn register(services: &Services, req: RegisterRequest) -> Result<String> {
    let email = normalize_email(&req.email)?;
    let chars = req.password.expose().chars().count();
    if chars > PASSWORD_MAX_CHARS {
        return Err(Error::invalid(
            "password",
            format!("must be at most {PASSWORD_MAX_CHARS} characters"),
        ));
    }
    if chars < services.config.password_min_length {
        return Err(Error::invalid(
            "password",
            format!(
                "must be at least {} characters",
                services.config.password_min_length
            ),
        ));
    }
    let password_hash = services.passwords.hash(&req.password).await?;
    let now = services.backends.clock.now();
    let user = User {
        id: new_user_id()?,
        email,
        password_hash,
        password_changed_at: now,
        created_at: now,
    };
    Users::new(services.backends.table.as_ref())
        .create(&user)
        .await?;
    tracing::info!(user_id = %user.id, "user registered");
    Ok(user.id)
}
