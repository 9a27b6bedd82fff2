//! The sign-in's second step: `POST /auth/mfa/totp` and `POST /auth/mfa/recovery`
//! `{mfa_token, code}` complete a sign-in whose password was right, with the normal login body
//! and cookies. Every refusal is the same 401 (a locked TOTP counter: 429).

use serde::Deserialize;

use super::{challenge, recovery_codes, totp};
use crate::audit::{EventType, RequestMeta};
use crate::client::ClientSignals;
use crate::devices;
use crate::lockout;
use crate::login::SignIn;
use crate::login::{LoginOutcome, SignInDevice, reserve_attempt, start_session};
use crate::mail::Notice;
use crate::secret::SecretString;
use crate::sessions::Grant;
use crate::table::TxOp;
use crate::table::UnitOfWork;
use crate::tokens::access::{Methods, Scope};
use crate::users::User;
use crate::{Error, Result};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondStep {
    pub mfa_token: String,
    pub code: SecretString,
    /// Remember this device: its sign-ins take the password alone for `WARDEN_MFA_REMEMBER`
    /// (see [`super::remembered`]).
    #[serde(default)]
    pub remember_device: bool,
}

/// The challenge, its user, and the device the step comes from.
struct Step {
    challenge: challenge::Open,
    user: User,
    device: SignInDevice,
}

/// The largest `mfa_token` and `code` looked at (as `openapi.json` states them).
const MAX_TOKEN: usize = 128;
const MAX_CODE: usize = 64;

async fn open(s: &SignIn<'_>, req: &SecondStep, client: &ClientSignals) -> Result<Step> {
    if req.mfa_token.len() > MAX_TOKEN {
        return Err(Error::invalid("mfa_token", "at most 128 characters"));
    }
    if req.code.expose().len() > MAX_CODE {
        return Err(Error::invalid("code", "at most 64 characters"));
    }
    let fingerprint = devices::fingerprint(&s.server_keys.fingerprint, &client.device);
    let challenge = challenge::open(s, &req.mfa_token, &fingerprint).await?;
    let user = s
        .users()
        .get(&challenge.user_id)
        .await?
        .ok_or(Error::Unauthorized)?;
    let device = SignInDevice::with_fingerprint(s, client, fingerprint, &user.email);
    Ok(Step {
        challenge,
        user,
        device,
    })
}

/// The grant of a sign-in with a password and a second factor.
fn grant(user: &User) -> Grant {
    Grant {
        epoch: user.token_epoch,
        scope: if user.password_breached {
            Scope::PasswordChange
        } else {
            Scope::Full
        },
        methods: Methods::PASSWORD.with(Methods::ONE_TIME_CODE),
    }
}

/// Commits the session with the challenge consumed and the caller's `writes`; a challenge or
/// code spent meanwhile by a concurrent request refuses this one.
async fn finish(
    s: &SignIn<'_>,
    step: &Step,
    meta: &RequestMeta,
    writes: Vec<TxOp>,
) -> Result<LoginOutcome> {
    let mut work = UnitOfWork::new();
    work.add(step.challenge.consume_op());
    work.extend(writes);
    start_session(s, &step.user, grant(&step.user), &step.device, meta, work)
        .await
        .map_err(|e| match e {
            Error::TransactionCancelled { .. } => Error::Unauthorized,
            e => e,
        })
}

/// Records a wrong second-factor code (`method`: `totp` or `recovery`) with the device's tags.
async fn record_wrong_code(
    s: &SignIn<'_>,
    user: &User,
    device: &SignInDevice,
    meta: &RequestMeta,
    method: &str,
    attempt: Option<u32>,
) -> Result<()> {
    let tags = s.audit.device_tags(&device.fingerprint).await?;
    let mut details = serde_json::json!({ "method": method, "device": tags.current });
    if let Some(n) = attempt {
        details["attempt"] = n.into();
    }
    s.audit
        .record(meta, EventType::MfaFailed, Some(&user.id), details)
        .await?;
    Ok(())
}

/// Checks an authenticator code of `user` (the second step, a step-up). The attempt is
/// reserved on the code counter — the account's, or a known device's own — (429 when locked); a
/// wrong code is recorded and counted (see [`count_wrong_code`]) and answers 401; a right one
/// answers the counter, which the caller resets with its write.
pub(crate) async fn verify_totp(
    s: &SignIn<'_>,
    user: &User,
    code: &SecretString,
    device: &SignInDevice,
    meta: &RequestMeta,
) -> Result<crate::table::Key> {
    let counter = lockout::second_factor_counter(&device.account, device.known.as_deref());
    let n = reserve_attempt(s, meta, &counter, Some(&user.id)).await?;
    if totp::accept(s, &user.id, code.expose()).await? {
        return Ok(counter);
    }
    record_wrong_code(s, user, device, meta, "totp", Some(n)).await?;
    count_wrong_code(s, meta, &counter, n, user, device.known.is_none()).await?;
    Err(Error::Unauthorized)
}

/// What the second step's code is: `POST /auth/mfa/{method}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `totp`: the authenticator app's current code.
    Totp,
    /// `recovery`: one of the account's recovery codes.
    RecoveryCode,
}

impl Method {
    /// The route's `{method}`; any other is 404.
    pub fn parse(name: &str) -> Result<Method> {
        match name {
            "totp" => Ok(Method::Totp),
            "recovery" => Ok(Method::RecoveryCode),
            _ => Err(Error::NotFound),
        }
    }
}

/// `POST /auth/mfa/{method}`: completes the sign-in `req.mfa_token` started.
pub async fn complete(
    s: &SignIn<'_>,
    method: Method,
    req: SecondStep,
    client: &ClientSignals,
    meta: &RequestMeta,
) -> Result<LoginOutcome> {
    let step = open(s, &req, client).await?;
    let (user_id, breached) = (step.user.id.clone(), step.user.password_breached);
    let out = match method {
        Method::Totp => with_totp(s, step, &req.code, meta).await,
        Method::RecoveryCode => with_recovery_code(s, step, &req.code, meta).await,
    }?;
    if req.remember_device && !breached {
        // The sign-in stands either way: a device not remembered asks for a code next time.
        if let Err(e) = super::remembered::remember(s, &user_id, &out.device_id).await {
            tracing::warn!(error = %e, "the device could not be remembered for the second factor");
        }
    }
    Ok(out)
}

async fn with_totp(
    s: &SignIn<'_>,
    step: Step,
    code: &SecretString,
    meta: &RequestMeta,
) -> Result<LoginOutcome> {
    match verify_totp(s, &step.user, code, &step.device, meta).await {
        Ok(counter) => finish(s, &step, meta, vec![lockout::success_op(&counter)]).await,
        Err(Error::Unauthorized) => {
            step.challenge.spend_try(s).await?;
            Err(Error::Unauthorized)
        }
        Err(e) => Err(e),
    }
}

/// A recovery code, spent by the sign-in it completes. Not subject to the TOTP counter's lock
/// (the way in when the authenticator is lost, or when a password thief's wrong codes locked
/// the account's counter).
async fn with_recovery_code(
    s: &SignIn<'_>,
    step: Step,
    code: &SecretString,
    meta: &RequestMeta,
) -> Result<LoginOutcome> {
    let Some(spend) = recovery_codes::spend_op(s, &step.user.id, code.expose()).await? else {
        step.challenge.spend_try(s).await?;
        record_wrong_code(s, &step.user, &step.device, meta, "recovery", None).await?;
        return Err(Error::Unauthorized);
    };
    let out = finish(s, &step, meta, vec![spend]).await?;
    let remaining = recovery_codes::remaining(s.table, &step.user.id)
        .await?
        .len();
    s.audit
        .record(
            meta,
            EventType::RecoveryCodeUsed,
            Some(&step.user.id),
            serde_json::json!({ "remaining": remaining }),
        )
        .await?;
    let notice = Notice::SecondFactorChanged {
        when: s.clock.now(),
        change: format!("a recovery code was used to sign in; {remaining} remain"),
    };
    s.outbox
        .notify(&step.user.id, &step.user.email, &notice)
        .await;
    Ok(out)
}

/// Counts wrong TOTP code `n`. When the account's own counter locks (codes from devices the
/// account does not know), whoever sent them had the password: the owner is told, and the next
/// sign-in may only change it. Nothing is locked for the owner's known devices, nor for
/// recovery codes.
async fn count_wrong_code(
    s: &SignIn<'_>,
    meta: &RequestMeta,
    counter: &crate::table::Key,
    n: u32,
    user: &User,
    from_an_unknown_device: bool,
) -> Result<()> {
    let table = s.table;
    let now = s.clock.now();
    let Some(until) = lockout::record_failure(table, counter, n, s.login_limits(), now).await?
    else {
        return Ok(());
    };
    let details = serde_json::json!({ "until": until.to_rfc3339(), "counter": counter.sk });
    s.audit
        .record(meta, EventType::AccountLocked, Some(&user.id), details)
        .await?;
    if from_an_unknown_device {
        s.users().flag_breached(&user.id).await?;
        let notice = Notice::SecondFactorFailures { when: now };
        s.outbox.notify(&user.id, &user.email, &notice).await;
    }
    Ok(())
}
