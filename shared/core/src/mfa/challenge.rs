//! The sign-in's second step. A correct password for an account with a second factor earns an
//! `mfa_token` instead of a session: 256 random bits, stored only as a keyed hash
//! (`MFACHALLENGE#{hash}`), bound to the device that gave the password (the fingerprint of its
//! browser signals), good for five minutes and five wrong codes, and consumed by the sign-in it
//! completes (a delete, conditioned on its existence, in the session's own transaction). It is
//! never a bearer token: nothing but `POST /auth/mfa/*` reads it.

use std::time::Duration;

use aws_lc_rs::constant_time::verify_slices_are_equal;

use crate::clock::Timestamp;
use crate::crypto::server_secret::mac_hex;
use crate::login::SignIn;
use crate::table::schema::TTL;
use crate::table::{Condition, Item, Key, TxOp, Update};
use crate::{Error, Result};

/// How long a challenge lives.
pub const LIFETIME: Duration = Duration::from_secs(300);
/// Wrong codes a challenge takes before it is spent.
pub const TRIES: i64 = 5;

fn key(s: &SignIn<'_>, token: &str) -> Key {
    let hash = mac_hex(
        &s.server_keys.second_factor,
        &[b"mfa-challenge", token.as_bytes()],
    );
    Key::new(format!("MFACHALLENGE#{hash}"), "CHALLENGE")
}

/// A new challenge for `user_id` on device `fingerprint`: the token to hand out and the write
/// that stores it (the caller commits it with the sign-in's audit entry).
pub fn issue(
    s: &SignIn<'_>,
    user_id: &str,
    fingerprint: &str,
    now: Timestamp,
) -> Result<(String, TxOp)> {
    let token = crate::crypto::hex(&crate::crypto::random_bytes::<32>()?);
    let item = Item::new(&key(s, &token))
        .with("user_id", user_id)
        .with("device", fingerprint)
        .with("tries_left", TRIES)
        .with(TTL, now.plus(LIFETIME).secs());
    Ok((
        token,
        TxOp::Put {
            item,
            condition: Some(Condition::NotExists),
        },
    ))
}

/// A live challenge, as the second step found it.
pub struct Open {
    pub user_id: String,
    key: Key,
}

impl Open {
    /// The write that consumes the challenge; it fails if another request consumed it first.
    pub fn consume_op(&self) -> TxOp {
        TxOp::Delete {
            key: self.key.clone(),
            condition: Some(Condition::Exists),
        }
    }

    /// Spends one try after a wrong code; the last one deletes the challenge.
    pub async fn spend_try(&self, s: &SignIn<'_>) -> Result<()> {
        let table = s.table;
        let update = Update::new()
            .add("tries_left", -1)
            .when(Condition::gt("tries_left", 1i64));
        match table.update(&self.key, update).await {
            Ok(_) => Ok(()),
            Err(Error::ConditionFailed) => table.delete(&self.key, None).await,
            Err(e) => Err(e),
        }
    }
}

/// The challenge `token` names, if it is live and was issued to this device. Every refusal is
/// the same 401.
pub async fn open(s: &SignIn<'_>, token: &str, fingerprint: &str) -> Result<Open> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::Unauthorized);
    }
    let key = key(s, token);
    let item = s.table.get(&key).await?.ok_or(Error::Unauthorized)?;
    let bound = item.s("device").unwrap_or_default();
    if verify_slices_are_equal(bound.as_bytes(), fingerprint.as_bytes()).is_err() {
        return Err(Error::Unauthorized);
    }
    let user_id = item.s("user_id").ok_or(Error::Unauthorized)?.to_string();
    Ok(Open { user_id, key })
}
