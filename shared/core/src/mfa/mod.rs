//! Second factors: an authenticator app (TOTP, RFC 6238, [`totp`]) with the recovery codes that
//! come with it ([`recovery_codes`]), and the sign-in's second step ([`challenge`]).
//!
//! Why a module of its own: a second factor is enrolled from the account, asked for by the
//! sign-in and recorded in the session's assurance (`amr`/`acr` in the access token); its state
//! and its rules live here, and `account`, `login` and the HTTP handlers call in.
//!
//! The rules a security team will look for:
//! - enrolling needs a sign-in of the last five minutes; removing needs one that used the
//!   second factor ([`require_fresh`]);
//! - a code is accepted once: a TOTP code's time step is recorded in the same conditional write
//!   that accepts it, a recovery code's item is deleted in the sign-in's own transaction;
//! - wrong TOTP codes are counted per account and, from a known device, on that device's own
//!   counter, as passwords are; a lock there is not a lock of the owner (recovery codes ignore
//!   it, and their 50 random bits are guessed no better for it); when the account-wide counter
//!   locks, the password is known to someone: the owner is told and the next sign-in must
//!   change it.

pub mod challenge;
pub mod passkeys;
pub mod recovery_codes;
pub mod remembered;
pub mod second_step;
pub mod step_up;
pub mod totp;

use std::time::Duration;

use crate::caller::Caller;
use crate::clock::Timestamp;
use crate::tokens::access::Methods;
use crate::{Error, Result};

/// The user's items of one kind of factor: those whose sort key starts with `prefix`.
pub(crate) async fn items_under(
    table: &dyn crate::table::Table,
    user_id: &str,
    prefix: &str,
) -> Result<Vec<crate::table::Item>> {
    use crate::table::{Query, SortKey, query_all, schema::user_partition};
    query_all(
        table,
        Query::partition(user_partition(user_id)).sort(SortKey::BeginsWith(prefix.into())),
    )
    .await
}

/// Unconditional deletes of `items` (what goes with a factor when it goes).
pub(crate) fn deletes(items: &[crate::table::Item]) -> Vec<crate::table::TxOp> {
    items
        .iter()
        .filter_map(crate::table::Item::key)
        .map(|key| crate::table::TxOp::Delete {
            key,
            condition: None,
        })
        .collect()
}

/// How recent a sign-in must be for enrolling or removing a factor.
pub const FRESH: Duration = Duration::from_secs(300);

/// For an account with a second factor, the sensitive operations (export, erasure, password
/// and email change, removing the factor) need a sign-in of the last five minutes that used it
/// (a sign-in, or `POST /auth/reauthenticate` with a code); for others this asks nothing, and
/// the operation applies its own rule (a recent sign-in or the password).
pub fn require_second_factor_if_enrolled(caller: &Caller, now: Timestamp) -> Result<()> {
    if caller.profile.second_factor {
        require_fresh_multi_factor(caller, now)
    } else {
        Ok(())
    }
}

/// Refuses with 403 `step-up-required` unless the caller signed in within [`FRESH`] of `now`
/// with two factors (a password and a code, or a passkey).
pub fn require_fresh_multi_factor(caller: &Caller, now: Timestamp) -> Result<()> {
    require_fresh(caller, Methods::default(), now)?;
    if caller.claims.methods().is_multi_factor() {
        Ok(())
    } else {
        Err(Error::StepUpRequired {
            needs: "a sign-in that used the second factor",
        })
    }
}

/// Refuses with 403 `step-up-required` unless the caller signed in within [`FRESH`] of `now`,
/// with every method of `needs`.
pub fn require_fresh(caller: &Caller, needs: Methods, now: Timestamp) -> Result<()> {
    let fresh = now.secs() - caller.claims.auth_time <= FRESH.as_secs() as i64;
    if !fresh {
        return Err(Error::StepUpRequired {
            needs: "a sign-in within the last five minutes",
        });
    }
    if !caller.claims.methods().includes(needs) {
        return Err(Error::StepUpRequired {
            needs: "a sign-in that used the second factor",
        });
    }
    Ok(())
}
