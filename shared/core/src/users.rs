//! The user repository: accounts and the email claims that keep emails unique.
//!
//! A user is two items written in one transaction: the profile under the user's partition, and
//! an email claim keyed by the email's blind index (an HMAC under a server key, so the table's
//! keys never hold an email), conditioned on not existing. Two concurrent registrations of one
//! email therefore produce exactly one account.

use aws_lc_rs::hmac;

use crate::clock::Timestamp;
use crate::crypto::server_secret::mac_hex;
use crate::crypto::user_keys::UserKeys;
use crate::table::{Condition, Item, Key, Table, TxOp, Update};
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub password_changed_at: Timestamp,
    pub created_at: Timestamp,
    /// Access tokens issued under an older epoch are rejected (see [`crate::sessions`]).
    pub token_epoch: i64,
    /// The current password was found in a breach: only a password change is allowed.
    pub password_breached: bool,
}

pub fn profile_key(user_id: &str) -> Key {
    Key::new(crate::table::schema::user_partition(user_id), "PROFILE")
}

/// The profile attribute an erasure sets first (epoch ms), the fence that excludes the actions
/// that would write the user's data beside it: from then on no upload link is issued and no
/// export starts; the erasure cancels the export already running.
pub const ERASING: &str = "erasing";

/// The blind index of a normalised email: what the table stores instead of the email in keys.
pub fn email_index(key: &hmac::Key, email: &str) -> String {
    mac_hex(key, &[email.as_bytes()])
}

pub fn email_claim_key(index: &str) -> Key {
    Key::new(format!("EMAIL#{index}"), "EMAIL")
}

/// Normalises an email so case and surrounding space variants are one account, and checks its
/// shape (one `@`, a non-empty local part, a dotted domain, at most 254 characters).
pub fn normalize_email(raw: &str) -> Result<String> {
    let e = raw.trim().to_lowercase();
    let valid = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && match e.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if valid {
        Ok(e)
    } else {
        Err(Error::invalid("email", "not a valid email address"))
    }
}

/// A new random user id: 128 bits, hex.
pub fn new_user_id() -> Result<String> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| Error::Internal("rng".into()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// The profile item; `email` is the email encrypted under the user's own data key.
fn to_item(u: &User, email: Vec<u8>) -> Item {
    Item::new(&profile_key(&u.id))
        .with("user_id", u.id.as_str())
        .with("email", email)
        .with("password_hash", u.password_hash.as_str())
        .with("password_changed_at", u.password_changed_at.millis())
        .with("created_at", u.created_at.millis())
        .with("token_epoch", u.token_epoch)
        .with("password_breached", u.password_breached)
}

fn from_item(i: &Item, email: String) -> Result<User> {
    let bad = || Error::Internal("malformed user item".into());
    Ok(User {
        id: i.s("user_id").ok_or_else(bad)?.to_string(),
        email,
        password_hash: i.s("password_hash").ok_or_else(bad)?.to_string(),
        password_changed_at: Timestamp(i.n("password_changed_at").ok_or_else(bad)?),
        created_at: Timestamp(i.n("created_at").ok_or_else(bad)?),
        token_epoch: i.n("token_epoch").unwrap_or(0),
        password_breached: i.bool("password_breached").unwrap_or(false),
    })
}

pub struct Users<'a> {
    table: &'a dyn Table,
    index_key: &'a hmac::Key,
    user_keys: &'a UserKeys,
}

impl<'a> Users<'a> {
    pub fn new(table: &'a dyn Table, index_key: &'a hmac::Key, user_keys: &'a UserKeys) -> Self {
        Users {
            table,
            index_key,
            user_keys,
        }
    }

    /// The blind index of a normalised email.
    pub fn index(&self, email: &str) -> String {
        email_index(self.index_key, email)
    }

    /// Stores a new user with a fresh data key of their own; [`Error::Conflict`] if the email is
    /// taken.
    pub async fn create(&self, user: &User) -> Result<()> {
        let claim =
            Item::new(&email_claim_key(&self.index(&user.email))).with("user_id", user.id.as_str());
        let (data_key_op, data_key) = self.user_keys.create(&user.id).await?;
        let email =
            UserKeys::seal_with(&data_key, &user.id, "profile.email", user.email.as_bytes())?;
        let result = self
            .table
            .transact(vec![
                TxOp::Put {
                    item: claim,
                    condition: Some(Condition::NotExists),
                },
                TxOp::Put {
                    item: to_item(user, email),
                    condition: Some(Condition::NotExists),
                },
                data_key_op,
                // Guesses made before the account existed do not lock its owner out.
                TxOp::Delete {
                    key: crate::lockout::account_counter(&self.index(&user.email), None),
                    condition: None,
                },
            ])
            .await;
        match result {
            Err(Error::TransactionCancelled { failed }) if failed.contains(&0) => Err(
                Error::Conflict("an account with this email already exists".into()),
            ),
            other => other,
        }
    }

    pub async fn get(&self, user_id: &str) -> Result<Option<User>> {
        match self.table.get(&profile_key(user_id)).await? {
            Some(item) => self.from_profile(&item).await.map(Some),
            None => Ok(None),
        }
    }

    /// The user a profile item describes (its email decrypted).
    pub async fn from_profile(&self, item: &Item) -> Result<User> {
        let bad = || Error::Internal("malformed user item".into());
        let user_id = item.s("user_id").ok_or_else(bad)?;
        let sealed = item.b("email").ok_or_else(bad)?;
        let email = self
            .user_keys
            .open(user_id, "profile.email", sealed)
            .await?;
        let email = String::from_utf8(email).map_err(|_| Error::Decryption)?;
        from_item(item, email)
    }

    pub async fn find_by_email(&self, email: &str) -> Result<Option<User>> {
        match self.id_by_email(email).await? {
            Some(id) => self.get(&id).await,
            None => Ok(None),
        }
    }

    /// The id of the account that holds `email`, from its claim (one read).
    pub async fn id_by_email(&self, email: &str) -> Result<Option<String>> {
        let Some(claim) = self.table.get(&email_claim_key(&self.index(email))).await? else {
            return Ok(None);
        };
        claim
            .s("user_id")
            .map(|id| Some(id.to_string()))
            .ok_or_else(|| Error::Internal("malformed email claim".into()))
    }

    /// Replaces the password hash if it is still `expected` (a concurrent change wins once).
    pub async fn set_password_hash(
        &self,
        user_id: &str,
        expected: &str,
        new_hash: &str,
        changed_at: Option<Timestamp>,
    ) -> Result<()> {
        let mut u = Update::new()
            .set("password_hash", new_hash)
            .when(Condition::Exists.and(Condition::eq("password_hash", expected)));
        if let Some(at) = changed_at {
            // A new password also kills any reset link issued for the old one.
            u = u
                .set("password_changed_at", at.millis())
                .set("password_breached", false)
                .remove(crate::recovery::RESET_HASH)
                .remove(crate::recovery::RESET_UNTIL);
        }
        self.table
            .update(&profile_key(user_id), u)
            .await
            .map(|_| ())
    }

    /// Marks the password as found in a breach.
    pub async fn flag_breached(&self, user_id: &str) -> Result<()> {
        self.table
            .update(
                &profile_key(user_id),
                Update::new()
                    .set("password_breached", true)
                    .when(Condition::Exists),
            )
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_variants_normalise_to_one_account() {
        assert_eq!(
            normalize_email("  Alice@Example.COM ").unwrap(),
            "alice@example.com"
        );
        for bad in [
            "alice",
            "@example.com",
            "alice@",
            "alice@example",
            "a b@example.com",
            "a@b@c.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
