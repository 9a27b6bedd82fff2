//! Account operations of a logged-in user: changing the password.

use serde::Deserialize;

use crate::audit::{EventType, RequestMeta};
use crate::caller::Caller;
use crate::client::ClientSignals;
use crate::lockout;
use crate::login::{SignIn, count_failed_attempt, reserve_attempt};
use crate::password::policy::PasswordPolicy;
use crate::password::policy::normalize;
use crate::registration::accept_new_password;
use crate::secret::SecretString;
use crate::sessions;
use crate::users::User;
use crate::{Error, Result};

/// What the account's own operations use — registration and its verification, recovery,
/// address and password changes, deletion: everything a sign-in uses (they check passwords,
/// count failures and mail links as it does) and the password policy. Built by the wiring
/// (`Services::accounts`); it reads as the [`SignIn`] it extends.
pub struct Accounts<'a> {
    pub sign_in: SignIn<'a>,
    pub policy: &'a PasswordPolicy,
    /// An address change is announced to downstream systems.
    pub downstream: &'a crate::privacy::downstream::Downstream,
}

impl<'a> std::ops::Deref for Accounts<'a> {
    type Target = SignIn<'a>;
    fn deref(&self) -> &SignIn<'a> {
        &self.sign_in
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: SecretString,
    pub new_password: SecretString,
}

/// Verifies a signed-in user's password again (a password change, a privacy request without a
/// recent sign-in). Failures count against the same lockout as login, so a stolen access token
/// cannot be used to guess the password — and, as at login, a request from the owner's known
/// device counts on that device's own counter, so a lock earned by others does not refuse it.
pub async fn verify_current_password(
    s: &SignIn<'_>,
    user_id: &str,
    password: &SecretString,
    client: &ClientSignals,
    meta: &RequestMeta,
) -> Result<User> {
    let current = normalize(password)?;
    let user = s.users().get(user_id).await?.ok_or(Error::Unauthorized)?;
    let account = s.users().index(&user.email);
    let known_device = client.known_device(&s.server_keys.device_cookie, &account);
    let counter = lockout::account_counter(&account, known_device.as_deref());
    let n = reserve_attempt(s, meta, &counter, Some(&user.id)).await?;
    if !s
        .passwords
        .verify(&current, Some(&user.password_hash))
        .await?
    {
        count_failed_attempt(s, meta, &counter, n, Some(&user.id)).await?;
        return Err(Error::Unauthorized);
    }
    lockout::record_success(s.table, &counter).await?;
    Ok(user)
}

/// Verifies the current password (counted against the same lockout as login), accepts the new
/// one (policy, breach check failing closed), stores it, and revokes every other session and
/// every access token issued so far.
pub async fn change_password(
    s: &Accounts<'_>,
    auth: &Caller,
    req: ChangePassword,
    client: &ClientSignals,
    meta: &RequestMeta,
) -> Result<()> {
    let table = s.table;
    let now = s.clock.now();
    crate::mfa::require_second_factor_if_enrolled(auth, now)?;
    let user = verify_current_password(
        &s.sign_in,
        &auth.user_id,
        &req.current_password,
        client,
        meta,
    )
    .await?;
    let new = accept_new_password(s, &req.new_password, &user.email).await?;
    if s.passwords.verify(&new, Some(&user.password_hash)).await? {
        return Err(Error::invalid(
            "new_password",
            "must differ from the current password",
        ));
    }
    let hash = s.passwords.hash(&new).await?;
    s.users()
        .set_password_hash(&user.id, &user.password_hash, &hash, Some(now))
        .await
        .map_err(|e| match e {
            Error::ConditionFailed => {
                Error::Conflict("the password was changed concurrently".into())
            }
            e => e,
        })?;
    let ended = sessions::revoke_all(table, &user.id, Some(&auth.claims.sid))
        .await?
        .ended;
    s.audit
        .record(
            meta,
            EventType::PasswordChanged,
            Some(&user.id),
            serde_json::json!({ "sessions_ended": ended }),
        )
        .await?;
    let notice = crate::mail::Notice::PasswordChanged { when: now };
    s.outbox.notify(&user.id, &user.email, &notice).await;
    Ok(())
}
