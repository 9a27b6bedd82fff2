//! Account recovery: a password reset link by mail, which is also the way out of a lock.
//!
//! `POST /auth/password/forgot {email}` answers 202 with the same body whether or not the
//! address has an account, and does the same work either way: it charges the client address's
//! budget (`WARDEN_FORGOT_IP_MAX` an hour, the one 429) and the recipient's mail budget (past
//! it, nothing is sent), and mails the address. A verified account's address gets a link
//! `{WARDEN_PUBLIC_URL}/reset-password#token=…`, queued in the same transaction that stores the
//! token's hash on the profile; any other address a notice that no account uses it.
//!
//! The token is a [link token](crate::links); its hash is stored as `reset_hash`, with
//! `reset_until`, 30 minutes on. The profile holds one hash, so a newer link kills the older
//! one; a password change, a reset or an email change removes it; the reset consumes it in the
//! same conditional write that changes the password, so it works once. The secret is compared
//! by the table's condition on its hash, never by reading it back.
//!
//! `POST /auth/password/reset {token, new_password}` applies the password policy, hashes, and in
//! one transaction: stores the password (conditioned on the link's hash and expiry), ends every
//! access token (the epoch), clears the account's lockout counters, records the event and
//! queues the "password changed" notice; then ends every session. Known devices stay known.

use std::time::Duration;

use serde::Deserialize;

use crate::account::Accounts;
use crate::audit::{EventType, RequestMeta};
use crate::clock::Timestamp;
use crate::links::dead as bad_link;
use crate::lockout::{self, Gate, Limits};
use crate::mail::Notice;
use crate::mail::outbox::Outbox;
use crate::registration::accept_new_password;
use crate::secret::SecretString;
use crate::table::UnitOfWork;
use crate::table::{Condition, Key, Query, Table, TxOp, Update};
use crate::users::{LinkKind, User, attr, normalize_email, profile_key, read_profile};
use crate::{Error, Result};

/// How long a reset link works.
pub const LINK_TTL: Duration = Duration::from_secs(30 * 60);
/// The window of the per-address budget of forgot requests.
pub const BUDGET_WINDOW: Duration = Duration::from_secs(3600);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgotRequest {
    pub email: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub token: SecretString,
    pub new_password: SecretString,
}

/// The counter of forgot requests from one client address.
fn address_budget(ip_tag: &str) -> Key {
    Key::new(format!("FORGOTIP#{ip_tag}"), "BUDGET")
}

/// A fresh link for account `user_id`: the profile update that stores its hash (for the
/// caller's transaction) and the link itself.
fn new_link(public_url: &str, user_id: &str, now: Timestamp) -> Result<(TxOp, String)> {
    let link = crate::links::new(user_id)?;
    let op = TxOp::Update {
        key: profile_key(user_id),
        update: LinkKind::Reset
            .issue(Update::new(), &link.hash, now.plus(LINK_TTL), None)
            .when(Condition::Exists),
    };
    Ok((
        op,
        format!("{public_url}/reset-password#token={}", link.token),
    ))
}

/// Writes a new reset link for `user` and queues `notice(link)` with it, in one transaction,
/// then delivers it. Nothing is written when the recipient's mail budget is spent.
pub async fn send_link(
    table: &dyn Table,
    outbox: &Outbox,
    public_url: &str,
    user: &User,
    notice: impl FnOnce(String) -> Notice,
    now: Timestamp,
) -> Result<bool> {
    let (store, link) = new_link(public_url, &user.id, now)?;
    let Some(queued) = outbox
        .queue(&user.id, &user.email, &notice(link), now)
        .await?
    else {
        return Ok(false);
    };
    table.transact(vec![store, queued.op()]).await?;
    outbox.deliver(&[queued]).await;
    Ok(true)
}

/// `POST /auth/password/forgot`.
pub async fn forgot(s: &Accounts<'_>, req: ForgotRequest, meta: &RequestMeta) -> Result<()> {
    let email = normalize_email(&req.email)?;
    let now = s.clock.now();
    let ip = meta
        .ip
        .ok_or_else(|| Error::Internal("no client IP on a reset request".into()))?;
    let limits = Limits {
        max_failures: s.config.forgot_ip_max,
        window: BUDGET_WINDOW,
        lockout: BUDGET_WINDOW,
    };
    let tags = s.audit.address_tags(ip).await?;
    let earlier = tags.previous_within(BUDGET_WINDOW).map(address_budget);
    if let Gate::Locked { retry_after } = lockout::reserve_across(
        s.table,
        &address_budget(&tags.current),
        earlier.as_ref(),
        limits,
        now,
    )
    .await?
    {
        return Err(Error::TooManyRequests { retry_after });
    }
    // The same calls on both paths (one claim read, one key-service call, one recipient
    // charge, one write with the audit event, one delivery): an owner's link and the notice to
    // an address without an account are both sealed under a key of their own, and the event
    // names no account, so neither the answer nor its cost says which the address is.
    let owner = match s.users().claim(&email).await? {
        Some(c) if c.unverified_until.is_none() => Some(c.user_id),
        // No account, or one never verified (registering again replaces it): no link.
        _ => None,
    };
    let (notice, store) = match &owner {
        Some(user_id) => {
            let (store, link) = new_link(&s.config.mail.branding.public_url, user_id, now)?;
            (Notice::PasswordReset { link }, Some(store))
        }
        None => (Notice::ResetUnknownAddress, None),
    };
    let queued = s.outbox.queue_unlinked(&email, &notice, now).await?;
    let mut ops: Vec<TxOp> = queued.iter().map(|q| q.op()).collect();
    if queued.is_some() {
        ops.extend(store);
    }
    match s
        .audit
        .commit(
            UnitOfWork::from(ops),
            meta,
            EventType::PasswordResetRequested,
            None,
            serde_json::json!({}),
        )
        .await
    {
        // The account went (erased) between the read and the write: nothing to send.
        Err(Error::TransactionCancelled { .. }) => return Ok(()),
        other => other?,
    };
    s.outbox.deliver(queued.as_slice()).await;
    Ok(())
}

/// `POST /auth/password/reset`.
pub async fn reset(s: &Accounts<'_>, req: ResetRequest, meta: &RequestMeta) -> Result<()> {
    let table = s.table;
    let (user_id, secret_hash) = crate::links::parse(req.token.expose()).ok_or_else(bad_link)?;
    let now = s.clock.now();
    // One read; a dead link is refused on it, before any decryption or hash (the write below
    // checks again, atomically).
    let profile = read_profile(table, user_id).await?.ok_or_else(bad_link)?;
    if profile
        .live_link(LinkKind::Reset, &secret_hash, now)
        .is_none()
    {
        return Err(bad_link());
    }
    let user = s.users().open(&profile).await?;
    let password = accept_new_password(s, &req.new_password, &user.email).await?;
    let hash = s.passwords.hash(&password).await?;
    let account = s.users().index(&user.email);
    let mut ops = vec![TxOp::Update {
        key: profile_key(user_id),
        update: LinkKind::Reset
            .clear(Update::new())
            .set("password_hash", hash.as_str())
            .set("password_changed_at", now.millis())
            .set("password_breached", false)
            .add(attr::TOKEN_EPOCH, 1)
            .when(LinkKind::Reset.live(&secret_hash, now)),
    }];
    // The account's lockout counters (its own and its known devices'): the lock is over.
    let counters = crate::table::query_all(
        table,
        Query::partition(lockout::account_counter(&account, None).pk),
    )
    .await?;
    ops.extend(
        counters
            .iter()
            .filter_map(|c| c.key())
            .take(20)
            .map(|key| TxOp::Delete {
                key,
                condition: None,
            }),
    );
    let notice = Notice::PasswordChanged { when: now };
    let queued = s.outbox.queue(&user.id, &user.email, &notice, now).await?;
    if let Some(q) = &queued {
        ops.push(q.op());
    }
    match s
        .audit
        .commit(
            UnitOfWork::from(ops),
            meta,
            EventType::PasswordReset,
            Some(&user.id),
            serde_json::json!({}),
        )
        .await
    {
        Ok(_) => {}
        Err(Error::TransactionCancelled { failed, .. }) if failed.contains(&0) => {
            return Err(bad_link());
        }
        Err(e) => return Err(e),
    }
    crate::sessions::revoke_all(table, &user.id, None).await?;
    if let Some(q) = queued {
        s.outbox.deliver(&[q]).await;
    }
    Ok(())
}
