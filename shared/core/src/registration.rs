//! Registration without enumeration: `POST /auth/register` answers 202 with one body whether
//! the address is new, awaiting verification or taken, and does the same work on each path — the
//! policy and breach check, the client address's budget, one Argon2 hash, one read of the
//! address's claim, one key-service call, one charge of the recipient's mail budget, one write
//! carrying the audit event and one message, and its delivery — so neither the answer, nor its
//! timing, nor the mail count tells anyone which addresses have accounts.
//!
//! - A new address gets an unverified account (see [`crate::users`]: it cannot sign in and
//!   expires after `WARDEN_UNVERIFIED_TTL`, freeing the address) and a verification link
//!   (single use, [`VERIFY_TTL`]); `POST /auth/email/verify` activates it.
//! - An address awaiting verification has its claim moved to a new unverified account: the old
//!   account's links die (activation requires the claim) and its items expire unused. Whoever
//!   receives the mail decides which registration stands.
//! - A verified address's owner gets a notice instead ("someone tried to create an account with
//!   your address"), sealed under a key of its own so it costs what the new account's key does.
//!
//! `POST /auth/email/resend {email}` sends a fresh link to an address awaiting verification and
//! answers 202 whatever the address is.
//!
//! Every registration costs an Argon2 hash, so each client address (an IPv6 client by its
//! network, see [`crate::address`]) has a budget of its own (`WARDEN_REGISTER_IP_MAX` per hour),
//! charged before the hash: the only 429. Activation clears the login failure counter keyed by
//! the address in the same transaction: a lock earned by guesses before its owner proved the
//! address does not bind them.

use std::time::Duration;

use serde::Deserialize;

use crate::account::Accounts;
use crate::audit::{EventType, RequestMeta};
use crate::clock::Timestamp;
use crate::lockout::{self, Gate};
use crate::mail::Notice;
use crate::secret::SecretString;
use crate::table::UnitOfWork;
use crate::table::{Condition, Key, TxOp, Update};
use crate::users::{
    AccountState, LinkKind, Profile, UNVERIFIED_UNTIL, User, new_user_id, normalize_email,
    profile_key,
};
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
    s: &Accounts<'_>,
    password: &SecretString,
    email: &str,
) -> Result<SecretString> {
    let normalized = s.policy.check(password, email)?;
    let seen = s.breach.times_seen(&normalized).await?;
    if seen > 0 {
        return Err(Error::invalid(
            "password",
            "appears in known data breaches; choose another",
        ));
    }
    Ok(normalized)
}

/// Takes one registration from the client address's budget: 429 once it is spent.
async fn charge_address_budget(s: &Accounts<'_>, meta: &RequestMeta) -> Result<()> {
    let ip = meta
        .ip
        .ok_or_else(|| Error::Internal("no client IP on a registration".into()))?;
    let limits = lockout::Limits {
        max_failures: s.config.register_ip_max,
        window: BUDGET_WINDOW,
        lockout: BUDGET_WINDOW,
    };
    let tags = s.audit.address_tags(ip).await?;
    let earlier = tags.previous_within(BUDGET_WINDOW).map(address_budget);
    let now = s.clock.now();
    let table = s.table;
    match lockout::reserve_across(
        table,
        &address_budget(&tags.current),
        earlier.as_ref(),
        limits,
        now,
    )
    .await?
    {
        Gate::Proceed { .. } => Ok(()),
        Gate::Locked { retry_after } => Err(Error::TooManyRequests { retry_after }),
    }
}

/// How long a verification link works (the account itself lives `WARDEN_UNVERIFIED_TTL`).
pub const VERIFY_TTL: Duration = Duration::from_secs(24 * 3600);

/// How often a registration decides again when a concurrent one of the same address changed
/// its claim between the read and the write. Each lost race is another registration's win, so
/// this bounds only a flood of them; past it the answer is still the same 202 and this one's
/// password is not stored (the address's mailbox holds the winner's link).
const CLAIM_TRIES: usize = 8;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    pub email: String,
}

/// A fresh verification link for `user_id`: the hash and expiry the profile keeps, and the
/// notice carrying the link.
fn verification(
    s: &Accounts<'_>,
    user_id: &str,
    now: Timestamp,
) -> Result<(String, Timestamp, Notice)> {
    let link = crate::links::new(user_id)?;
    let base = &s.config.mail.branding.public_url;
    let notice = Notice::VerifyEmail {
        link: format!("{base}/verify-email#token={}", link.token),
    };
    Ok((link.hash, now.plus(VERIFY_TTL), notice))
}

/// `POST /auth/register`: the same answer (202) and the same work for a new, a pending and a
/// taken address (see the module's documentation).
pub async fn register(s: &Accounts<'_>, req: RegisterRequest, meta: &RequestMeta) -> Result<()> {
    let email = normalize_email(&req.email)?;
    let password = accept_new_password(s, &req.password, &email).await?;
    charge_address_budget(s, meta).await?;
    let password_hash = s.passwords.hash(&password).await?;
    // Charged once, whatever the path and however many races it loses.
    let may_mail = s.outbox.charge_recipient(&email, s.clock.now()).await?;
    for _ in 0..CLAIM_TRIES {
        let now = s.clock.now();
        let outcome = match s.users().claim(&email).await? {
            Some(claim) if claim.unverified_until.is_none() => {
                return tell_holder(s, &email, may_mail, meta, now).await;
            }
            pending => {
                let replaces = pending.map(|c| c.user_id);
                let replaces = replaces.as_deref();
                create_unverified(s, &email, &password_hash, replaces, may_mail, meta, now).await
            }
        };
        match outcome {
            // Another registration of the address claimed it between the read and the write:
            // decide again on what it left.
            Err(Error::TransactionCancelled { failed, .. }) if failed.contains(&0) => continue,
            other => return other,
        }
    }
    tracing::warn!("registration lost every race for its address's claim; nothing stored");
    Ok(())
}

/// A new unverified account for `email` (replacing the unverified `replaces`), its verification
/// link queued in the same transaction as the account and its audit event.
async fn create_unverified(
    s: &Accounts<'_>,
    email: &str,
    password_hash: &str,
    replaces: Option<&str>,
    may_mail: bool,
    meta: &RequestMeta,
    now: Timestamp,
) -> Result<()> {
    let id = new_user_id()?;
    let user = User {
        account: AccountState::new(
            password_hash.to_string(),
            now,
            Some(now.plus(s.config.unverified_ttl)),
            Some(s.audit.shard_for_new_user(&id).await?),
        ),
        id,
        email: email.to_string(),
    };
    let (key_op, key) = s.user_keys.create(&user.id).await?;
    let (hash, until, notice) = verification(s, &user.id, now)?;
    let mut ops = s.users().account_ops(&user, key_op, &key, replaces, |p| {
        LinkKind::Verify.on_new_item(p, &hash, until)
    })?;
    // The new key is in the cache: sealing the message costs no call.
    let queued = match may_mail {
        true => Some(
            s.outbox
                .seal_for_account(&user.id, email, &notice, now)
                .await?,
        ),
        false => None,
    };
    ops.extend(queued.as_ref().map(|q| q.op()));
    s.audit
        .commit(
            UnitOfWork::from(ops),
            meta,
            EventType::UserRegistered,
            Some(&user.id),
            serde_json::json!({ "replaced_unverified": replaces.is_some() }),
        )
        .await?;
    s.outbox.deliver(queued.as_slice()).await;
    Ok(())
}

/// The address has a verified account: its holder is told, nothing changes.
async fn tell_holder(
    s: &Accounts<'_>,
    email: &str,
    may_mail: bool,
    meta: &RequestMeta,
    now: Timestamp,
) -> Result<()> {
    let queued = match may_mail {
        true => Some(
            s.outbox
                .seal_unlinked(email, &Notice::RegistrationTaken, now)
                .await?,
        ),
        false => None,
    };
    s.audit
        .commit(
            queued.iter().map(|q| q.op()).collect(),
            meta,
            EventType::RegistrationAddressTaken,
            // Not the holder's own event: sealing its personal part under the holder's key
            // would cost a read and a key-service call a new address does not.
            None,
            serde_json::json!({}),
        )
        .await?;
    s.outbox.deliver(queued.as_slice()).await;
    Ok(())
}

/// `POST /auth/email/resend`: a fresh link (the old one dies) to an address awaiting
/// verification; for any other address, nothing but the same budget charges. Always `Ok`.
pub async fn resend(s: &Accounts<'_>, req: ResendRequest, meta: &RequestMeta) -> Result<()> {
    let email = normalize_email(&req.email)?;
    charge_address_budget(s, meta).await?;
    let now = s.clock.now();
    let pending = match s.users().claim(&email).await? {
        Some(c) if c.unverified_until.is_some_and(|t| t > now) => Some(c.user_id),
        _ => None,
    };
    let Some(user_id) = pending else {
        s.outbox.charge_recipient(&email, now).await?;
        return Ok(());
    };
    let (hash, until, notice) = verification(s, &user_id, now)?;
    let Some(queued) = s.outbox.queue(&user_id, &email, &notice, now).await? else {
        return Ok(());
    };
    let ops = vec![
        TxOp::Update {
            key: profile_key(&user_id),
            update: LinkKind::Verify
                .issue(Update::new(), &hash, until, None)
                .when(Condition::AttributeExists(UNVERIFIED_UNTIL.into())),
        },
        queued.op(),
    ];
    match s
        .audit
        .commit(
            UnitOfWork::from(ops),
            meta,
            EventType::VerificationResent,
            Some(&user_id),
            serde_json::json!({}),
        )
        .await
    {
        // Verified or replaced meanwhile: nothing to resend.
        Err(Error::TransactionCancelled { .. }) => return Ok(()),
        other => other?,
    };
    s.outbox.deliver(&[queued]).await;
    Ok(())
}

/// Completes a registration from its verification link (`POST /auth/email/verify`), given the
/// profile read by the caller and the link's hash, which the profile holds live.
pub async fn activate(
    s: &Accounts<'_>,
    profile: &Profile,
    hash: &str,
    meta: &RequestMeta,
) -> Result<()> {
    let now = s.clock.now();
    let user = s.users().open(profile).await?;
    let link_live = LinkKind::Verify
        .live(hash, now)
        .and(Condition::AttributeExists(UNVERIFIED_UNTIL.into()));
    let update = LinkKind::Verify.clear(Update::new()).when(link_live);
    let ops = s.users().activate(&user, update);
    match s
        .audit
        .commit(
            UnitOfWork::from(ops),
            meta,
            EventType::EmailVerified,
            Some(&user.id),
            serde_json::json!({}),
        )
        .await
    {
        // A concurrent use of the same link won, or the account was replaced: this link is spent.
        Err(Error::TransactionCancelled { .. }) => Err(crate::links::dead()),
        other => other.map(|_| ()),
    }
}
