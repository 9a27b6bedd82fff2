//! Registration: normalise the email, run the password through the policy and the breach check
//! (fail closed: a breach service that cannot answer is a 503, not a pass), charge the client's
//! registration budget, hash, store.
//!
//! Every registration costs an Argon2 hash, so each client address (an IPv6 client by its
//! network, see [`crate::address`]) has a budget of its own (`WARDEN_REGISTER_IP_MAX` per hour),
//! charged before the hash. The account's creation clears the login failure counter keyed by
//! its address in the same transaction: a lock earned by guesses before the account existed
//! does not bind its owner. A registration of a taken address clears nothing.

use std::time::Duration;

use serde::Deserialize;

use crate::audit::{EventType, RequestMeta};
use crate::lockout::{self, Gate};
use crate::secret::SecretString;
use crate::services::Services;
use crate::table::Key;
use crate::users::{User, new_user_id, normalize_email};
use crate::{Error, Result};

/// The window of the per-address registration budget.
pub const BUDGET_WINDOW: Duration = Duration::from_secs(3600);

/// The counter of registrations from one client address (by its tag) in the current window.
pub fn address_budget(ip_tag: &str) -> Key {
    Key::new(format!("REGIP#{ip_tag}"), "BUDGET")
}

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

/// Takes one registration from the client address's budget: 429 once it is spent.
async fn charge_address_budget(s: &Services, meta: &RequestMeta) -> Result<()> {
    let ip = meta
        .ip
        .ok_or_else(|| Error::Internal("no client IP on a registration".into()))?;
    let limits = lockout::Limits {
        max_failures: s.config.register_ip_max,
        window: BUDGET_WINDOW,
        lockout: BUDGET_WINDOW,
    };
    let key = address_budget(&s.audit.ip_tag(ip));
    let now = s.backends.clock.now();
    match lockout::reserve(s.backends.table.as_ref(), &key, limits, now).await? {
        Gate::Proceed { .. } => Ok(()),
        Gate::Locked { retry_after } => Err(Error::TooManyRequests { retry_after }),
    }
}

/// Creates the account and returns its id.
pub async fn register(
    services: &Services,
    req: RegisterRequest,
    meta: &RequestMeta,
) -> Result<String> {
    let email = normalize_email(&req.email)?;
    let password = accept_new_password(services, &req.password, &email).await?;
    charge_address_budget(services, meta).await?;
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
