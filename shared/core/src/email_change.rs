//! Changing the account's address (the right to rectification, GDPR Art. 16; CCPA § 1798.106).
//!
//! `POST /me/email {new_email, password}` re-checks the password (counted against the lockout)
//! and answers 202 whether or not the new address is taken: a free address gets a link (a
//! [link token](crate::links), 24 hours, `/verify-email#token=…`); a taken one gets a notice
//! instead and nothing changes. `POST /auth/email/verify {token}` completes the change in one
//! transaction — the new address's claim (refused if it was claimed meanwhile: no address is
//! claimed twice), the old claim's removal, the sealed address and its pending change on the
//! profile, the audit event, and the notice to the old address with a revert link (7 days). The
//! same route takes the revert link: it restores the old address (if it is still free) and ends
//! every session and access token, since the change may have been an attacker's. A change or a
//! revert kills any pending password reset link.

use std::time::Duration;

use serde::Deserialize;

use crate::account::Accounts;
use crate::audit::{EventType, RequestMeta};
use crate::caller::Caller;
use crate::client::ClientSignals;
use crate::links::dead as bad_link;
use crate::mail::Notice;
use crate::secret::SecretString;
use crate::table::UnitOfWork;
use crate::table::{Condition, TxOp, Update};
use crate::users::{
    Link, LinkKind, Profile, UNVERIFIED_UNTIL, User, attr, claim_held_by, claim_holder,
    email_claim, email_claim_key, normalize_email, profile_key, read_profile,
};
use crate::{Error, Result};

/// How long the link to the new address works.
pub const CHANGE_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long the old address can undo the change.
pub const REVERT_TTL: Duration = Duration::from_secs(7 * 86_400);

/// The sealed fields (bound into their envelopes).
const CHANGE_TO_FIELD: &str = "profile.email_change_to";
const REVERT_TO_FIELD: &str = "profile.email_revert_to";
const EMAIL_FIELD: &str = "profile.email";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequest {
    pub new_email: String,
    pub password: SecretString,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub token: SecretString,
}

fn link(s: &Accounts<'_>, token: &str) -> String {
    let base = &s.config.mail.branding.public_url;
    format!("{base}/verify-email#token={token}")
}

/// An address shown without giving it away: its first character and its domain.
pub fn hint(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

/// `POST /me/email`.
pub async fn request(
    s: &Accounts<'_>,
    auth: &Caller,
    req: ChangeRequest,
    client: &ClientSignals,
    meta: &RequestMeta,
) -> Result<()> {
    let new = normalize_email(&req.new_email)?;
    crate::mfa::require_second_factor_if_enrolled(auth, s.clock.now())?;
    let user = crate::account::verify_current_password(
        &s.sign_in,
        &auth.user_id,
        &req.password,
        client,
        meta,
    )
    .await?;
    if new == user.email {
        return Err(Error::invalid(
            "new_email",
            "is the account's address already",
        ));
    }
    let now = s.clock.now();
    let holder = s.users().claim(&new).await?;
    if let Some(holder) = holder.filter(|c| c.unverified_until.is_none()) {
        // Taken: tell that address, change nothing (the asker learns nothing from the answer).
        // (An unconfirmed registration does not hold it: see `move_address`.)
        s.outbox
            .notify(&holder.user_id, &new, &Notice::EmailChangeTaken)
            .await;
    } else {
        let token = crate::links::new(&user.id)?;
        let sealed = s
            .user_keys
            .seal(&user.id, CHANGE_TO_FIELD, new.as_bytes())
            .await?;
        let pending = TxOp::Update {
            key: profile_key(&user.id),
            update: LinkKind::Change
                .issue(
                    Update::new(),
                    &token.hash,
                    now.plus(CHANGE_TTL),
                    Some(sealed),
                )
                .when(Condition::Exists),
        };
        let notice = Notice::EmailChangeVerify {
            link: link(s, &token.token),
        };
        let mut ops = vec![pending];
        let queued = s.outbox.queue(&user.id, &new, &notice, now).await?;
        ops.extend(queued.as_ref().map(|q| q.op()));
        s.table.transact(ops).await?;
        if let Some(q) = queued {
            s.outbox.deliver(&[q]).await;
        }
    }
    s.audit
        .record(
            meta,
            EventType::EmailChangeRequested,
            Some(&user.id),
            serde_json::json!({}),
        )
        .await?;
    Ok(())
}

/// Moves the account's claim from its current address to `to` and re-seals the address, in one
/// transaction with `update` (conditioned on the link being live), `extra` (a queued notice) and
/// the audit event. The new claim is refused if `to` was claimed meanwhile.
async fn move_address(
    s: &Accounts<'_>,
    user: &crate::users::User,
    to: &str,
    update: Update,
    extra: Option<TxOp>,
    event: EventType,
    meta: &RequestMeta,
) -> Result<()> {
    let users = s.users();
    let sealed = s
        .user_keys
        .seal(&user.id, EMAIL_FIELD, to.as_bytes())
        .await?;
    let mut ops = vec![
        TxOp::Put {
            item: email_claim(&users.index(to), &user.id),
            // Free, or held by a registration nobody confirmed (its links die with the claim):
            // an unproven claim does not hold an address against its proven owner.
            condition: Some(
                Condition::NotExists.or(Condition::AttributeExists(UNVERIFIED_UNTIL.into())),
            ),
        },
        TxOp::Delete {
            key: email_claim_key(&users.index(&user.email)),
            condition: Some(claim_held_by(&user.id)),
        },
        TxOp::Update {
            key: profile_key(&user.id),
            update: LinkKind::Reset.clear(LinkKind::Change.clear(update.set(attr::EMAIL, sealed))),
        },
    ];
    ops.extend(extra);
    // Downstream systems hear that the address was corrected (not what it is now).
    let kind = crate::privacy::downstream::Kind::Corrected;
    let now = s.clock.now();
    let told = s
        .downstream
        .event(kind, &user.id, None, "email_change", &["email"], now)?;
    ops.extend(told.iter().map(crate::privacy::downstream::Pending::op));
    match s
        .audit
        .commit(
            UnitOfWork::from(ops),
            meta,
            event,
            Some(&user.id),
            serde_json::json!({}),
        )
        .await
    {
        Ok(_) => {
            s.downstream.deliver(told.as_slice()).await;
            Ok(())
        }
        Err(Error::TransactionCancelled { failed, .. }) => {
            // The claim refused: by someone else's account, or by this one's own (a concurrent
            // use of the same link won, and this link is spent).
            let claimed_by_other = failed.contains(&0)
                && claim_holder(s.table, &users.index(to))
                    .await?
                    .is_some_and(|holder| holder != user.id);
            Err(if claimed_by_other {
                Error::Conflict("the address has been taken meanwhile".into())
            } else {
                bad_link()
            })
        }
        Err(e) => Err(e),
    }
}

/// The account a live link belongs to, opened, and the address the link holds (sealed under
/// the user's key as `field`).
async fn opened(
    s: &Accounts<'_>,
    profile: &Profile,
    link: &Link,
    field: &str,
) -> Result<(User, String)> {
    let user = s.users().open(profile).await?;
    let sealed = link.sealed_address.as_deref().ok_or_else(bad_link)?;
    let address = String::from_utf8(s.user_keys.open(&user.id, field, sealed).await?)
        .map_err(|_| Error::Decryption)?;
    Ok((user, address))
}

/// `POST /auth/email/verify`: completes a registration (see [`crate::registration`]) or a
/// change, or reverts one.
pub async fn verify(s: &Accounts<'_>, req: VerifyRequest, meta: &RequestMeta) -> Result<()> {
    let table = s.table;
    let (user_id, hash) = crate::links::parse(req.token.expose()).ok_or_else(bad_link)?;
    // One read: the profile says which link is live (a dead one is refused before any
    // decryption), and holds the address.
    let profile = read_profile(table, user_id).await?.ok_or_else(bad_link)?;
    let now = s.clock.now();
    if profile.live_link(LinkKind::Verify, &hash, now).is_some() {
        return crate::registration::activate(s, &profile, &hash, meta).await;
    }
    if let Some(change) = profile.live_link(LinkKind::Change, &hash, now) {
        return confirm_change(s, &profile, change, &hash, meta).await;
    }
    if let Some(revert) = profile.live_link(LinkKind::Revert, &hash, now) {
        return revert_change(s, &profile, revert, &hash, meta).await;
    }
    Err(bad_link())
}

/// The new address's link: the address moves, and the old one gets a link to revert it.
async fn confirm_change(
    s: &Accounts<'_>,
    profile: &Profile,
    change: &Link,
    hash: &str,
    meta: &RequestMeta,
) -> Result<()> {
    let now = s.clock.now();
    let user_id = &profile.user_id;
    let (user, new) = opened(s, profile, change, CHANGE_TO_FIELD).await?;
    let revert = crate::links::new(user_id)?;
    let sealed_old = s
        .user_keys
        .seal(user_id, REVERT_TO_FIELD, user.email.as_bytes())
        .await?;
    let update = LinkKind::Revert
        .issue(
            Update::new(),
            &revert.hash,
            now.plus(REVERT_TTL),
            Some(sealed_old),
        )
        .when(LinkKind::Change.live(hash, now));
    let notice = Notice::EmailChanged {
        when: now,
        hint: hint(&new),
        link: link(s, &revert.token),
    };
    let queued = s.outbox.queue(user_id, &user.email, &notice, now).await?;
    let extra = queued.as_ref().map(|q| q.op());
    move_address(s, &user, &new, update, extra, EventType::EmailChanged, meta).await?;
    if let Some(q) = queued {
        s.outbox.deliver(&[q]).await;
    }
    Ok(())
}

/// The old address's link: the address moves back, and every access token ends (the change
/// may have been an attacker's).
async fn revert_change(
    s: &Accounts<'_>,
    profile: &Profile,
    revert: &Link,
    hash: &str,
    meta: &RequestMeta,
) -> Result<()> {
    let now = s.clock.now();
    let user_id = &profile.user_id;
    let (user, old) = opened(s, profile, revert, REVERT_TO_FIELD).await?;
    let update = LinkKind::Revert
        .clear(Update::new())
        .add(attr::TOKEN_EPOCH, 1)
        .when(LinkKind::Revert.live(hash, now));
    move_address(
        s,
        &user,
        &old,
        update,
        None,
        EventType::EmailChangeReverted,
        meta,
    )
    .await?;
    crate::sessions::revoke_all(s.table, user_id, None).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hint_shows_the_first_character_and_the_domain_only() {
        assert_eq!(super::hint("ada@example.com"), "a***@example.com");
        assert_eq!(super::hint("nonsense"), "***");
    }
}
