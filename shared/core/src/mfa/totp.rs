//! An authenticator app as a second factor: TOTP (RFC 6238: HMAC-SHA-1, six digits, 30-second
//! steps, one step of drift either way), computed by the `totp-rs` crate.
//!
//! The factor is one item in the user's partition, `MFA#TOTP`: the secret sealed under the
//! user's data key (so the erasure's key shredding ends it, and a copy of the table does not
//! hold it), its state (`pending` from `POST /me/mfa/totp` for 15 minutes, `active` once a code
//! confirmed it) and the last time step a code was accepted for. A code is accepted only for a
//! later step than that, in one conditional write: the same code twice — or two codes of one
//! step raced by two requests — is accepted once.

use std::time::Duration;

use serde::Serialize;
use totp_rs::{Builder, Totp};

use crate::audit::{EventType, RequestMeta};
use crate::caller::Caller;
use crate::clock::Timestamp;
use crate::login::SignIn;
use crate::mail::Notice;
use crate::table::UnitOfWork;
use crate::table::schema::{TTL, user_partition};
use crate::table::{Condition, Item, Key, TxOp, Update};
use crate::tokens::access::Methods;
use crate::users::profile_key;
use crate::{Error, Result};

/// How long an enrolment waits for its confirming code.
pub const PENDING: Duration = Duration::from_secs(15 * 60);
/// The profile attribute that says the account has an active TOTP factor (read at sign-in with
/// the profile, so an account without one costs no extra read).
pub const PROFILE_FLAG: &str = "mfa_totp";
const FIELD: &str = "mfa.totp";
const SECRET_BYTES: usize = 20;

pub fn key(user_id: &str) -> Key {
    Key::new(user_partition(user_id), "MFA#TOTP")
}

/// What `POST /me/mfa/totp` answers: the secret three ways (typed, as a link, as a QR code of
/// the link). Shown once; the secret is never shown again.
#[derive(Debug, Serialize)]
pub struct Enrolment {
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

fn generator(secret: Vec<u8>, issuer: &str, account: &str) -> Result<Totp> {
    Builder::new()
        .with_secret(secret)
        .with_issuer(Some(issuer))
        .with_account_name(account)
        .build()
        .map_err(|e| Error::internal("totp", e))
}

/// `POST /me/mfa/totp`: a new secret, pending until a code confirms it. Needs a fresh sign-in;
/// 409 when a factor is already active. Asking again replaces a pending secret.
pub async fn begin(s: &SignIn<'_>, caller: &Caller) -> Result<Enrolment> {
    let table = s.table;
    let now = s.clock.now();
    super::require_fresh(caller, Methods::default(), now)?;
    let user = s
        .users()
        .get(&caller.user_id)
        .await?
        .ok_or(Error::Unauthorized)?;
    let secret = crate::crypto::random_bytes::<SECRET_BYTES>()?.to_vec();
    let totp = generator(secret.clone(), &s.config.mail.branding.product, &user.email)?;
    let sealed = s.user_keys.seal(&user.id, FIELD, &secret).await?;
    let item = Item::new(&key(&user.id))
        .with("state", "pending")
        .with("secret", sealed)
        .with("created_at", now.millis())
        .with(TTL, now.plus(PENDING).secs());
    table
        .put(
            item,
            Some(Condition::NotExists.or(Condition::eq("state", "pending"))),
        )
        .await
        .map_err(|e| match e {
            Error::ConditionFailed => {
                Error::Conflict("an authenticator app is already enrolled; remove it first".into())
            }
            e => e,
        })?;
    let uri = totp.to_url().map_err(|e| Error::internal("totp uri", e))?;
    let qr = qrcode::QrCode::new(uri.as_bytes()).map_err(|e| Error::internal("qr code", e))?;
    Ok(Enrolment {
        secret: totp.secret().to_base32(),
        qr_svg: qr
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .build(),
        otpauth_uri: uri,
    })
}

/// The time step `code` is valid for now (±1 step), if it is.
fn step_of(secret: Vec<u8>, code: &str, now: Timestamp) -> Result<Option<i64>> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let totp = generator(secret, "warden", "check")?;
    Ok(totp
        .check(code, u64::try_from(now.secs()).unwrap_or(0))
        .and_then(|step| i64::try_from(step).ok()))
}

/// The factor's secret, if the item holds one in `state`.
async fn secret_of(
    s: &SignIn<'_>,
    user_id: &str,
    item: &Item,
    state: &str,
) -> Result<Option<Vec<u8>>> {
    if item.s("state") != Some(state) {
        return Ok(None);
    }
    let Some(sealed) = item.b("secret") else {
        return Ok(None);
    };
    Ok(Some(s.user_keys.open(user_id, FIELD, sealed).await?))
}

/// `POST /me/mfa/totp/confirm {code}`: a code from the app turns the pending secret into the
/// account's factor, with ten new recovery codes (returned once, stored as keyed hashes). One
/// transaction: the factor, the codes, the profile's flag and the audit entry.
pub async fn confirm(
    s: &SignIn<'_>,
    caller: &Caller,
    code: &str,
    meta: &RequestMeta,
) -> Result<Vec<String>> {
    let table = s.table;
    let now = s.clock.now();
    if code.len() > 64 {
        return Err(Error::invalid("code", "at most 64 characters"));
    }
    super::require_fresh(caller, Methods::default(), now)?;
    let user_id = &caller.user_id;
    let wrong = || Error::invalid("code", "is not the current code of the enrolled secret");
    let item = table
        .get(&key(user_id))
        .await?
        .ok_or_else(|| Error::Conflict("no enrolment is pending: start one first".into()))?;
    let secret = secret_of(s, user_id, &item, "pending")
        .await?
        .ok_or_else(|| Error::Conflict("no enrolment is pending: start one first".into()))?;
    let step = step_of(secret, code, now)?.ok_or_else(wrong)?;
    let (codes, code_ops) = super::recovery_codes::generate(s, user_id, now)?;
    let mut writes = vec![TxOp::Update {
        key: key(user_id),
        update: Update::new()
            .set("state", "active")
            .set("last_step", step)
            .set("enrolled_at", now.millis())
            .remove(TTL)
            .when(Condition::eq("state", "pending").and(Condition::eq(
                "created_at",
                item.n("created_at").unwrap_or_default(),
            ))),
    }];
    writes.extend(super::recovery_codes::clear_ops(s.table, user_id).await?);
    writes.extend(code_ops);
    writes.push(TxOp::Update {
        key: profile_key(user_id),
        update: Update::new()
            .set(PROFILE_FLAG, true)
            .when(Condition::Exists),
    });
    s.audit
        .commit(
            UnitOfWork::from(writes),
            meta,
            EventType::MfaEnrolled,
            Some(user_id),
            serde_json::json!({ "method": "totp", "recovery_codes": codes.len() }),
        )
        .await
        .map_err(|e| match e {
            Error::TransactionCancelled { .. } => {
                Error::Conflict("the enrolment changed concurrently; start again".into())
            }
            e => e,
        })?;
    if let Some(user) = s.users().get(user_id).await? {
        let notice = Notice::SecondFactorChanged {
            when: now,
            change: "an authenticator app (TOTP) was added as a second factor".into(),
        };
        s.outbox.notify(&user.id, &user.email, &notice).await;
    }
    Ok(codes)
}

/// Whether `code` is the account's current TOTP code and was not accepted before; accepting it
/// records its step (one conditional write), so it is accepted once.
pub async fn accept(s: &SignIn<'_>, user_id: &str, code: &str) -> Result<bool> {
    let table = s.table;
    let now = s.clock.now();
    let Some(item) = table.get(&key(user_id)).await? else {
        return Ok(false);
    };
    let Some(secret) = secret_of(s, user_id, &item, "active").await? else {
        return Ok(false);
    };
    let Some(step) = step_of(secret, code, now)? else {
        return Ok(false);
    };
    let update = Update::new()
        .set("last_step", step)
        .when(Condition::eq("state", "active").and(Condition::lt("last_step", step)));
    match table.update(&key(user_id), update).await {
        Ok(_) => Ok(true),
        Err(Error::ConditionFailed) => Ok(false), // replayed, or removed meanwhile
        Err(e) => Err(e),
    }
}

/// `DELETE /me/mfa/totp`: needs a sign-in of the last five minutes that used the second factor.
/// Removes the factor and the recovery codes, clears the profile's flag, and tells the owner.
pub async fn remove(s: &SignIn<'_>, caller: &Caller, meta: &RequestMeta) -> Result<()> {
    let now = s.clock.now();
    super::require_fresh_multi_factor(caller, now)?;
    let user_id = &caller.user_id;
    let mut writes = vec![TxOp::Delete {
        key: key(user_id),
        condition: Some(Condition::eq("state", "active")),
    }];
    // The factor's codes and remembered devices, read together.
    let (codes, devices) = tokio::join!(
        super::recovery_codes::clear_ops(s.table, user_id),
        super::remembered::forget_ops(s.table, user_id)
    );
    writes.extend(codes?);
    writes.extend(devices?);
    writes.push(TxOp::Update {
        key: profile_key(user_id),
        update: Update::new().remove(PROFILE_FLAG).when(Condition::Exists),
    });
    s.audit
        .commit(
            UnitOfWork::from(writes),
            meta,
            EventType::MfaRemoved,
            Some(user_id),
            serde_json::json!({ "method": "totp" }),
        )
        .await
        .map_err(|e| match e {
            Error::TransactionCancelled { .. } => Error::NotFound,
            e => e,
        })?;
    if let Some(user) = s.users().get(user_id).await? {
        let notice = Notice::SecondFactorChanged {
            when: now,
            change:
                "the authenticator app (TOTP) was removed; the account has no second factor now"
                    .into(),
        };
        s.outbox.notify(&user.id, &user.email, &notice).await;
    }
    Ok(())
}

/// The factor as the user's export shows it: when it was enrolled, never the secret.
pub fn describe(item: &Item) -> Option<serde_json::Value> {
    (item.s("state") == Some("active")).then(|| {
        serde_json::json!({
            "type": "totp",
            "description": "an authenticator app (TOTP)",
            "enrolled_at": item.n("enrolled_at").map(|t| Timestamp(t).to_rfc3339()),
        })
    })
}
