//! The user repository: accounts and the email claims that keep emails unique.
//!
//! A user is two items written in one transaction: the profile under the user's partition, and
//! an email claim keyed by the email's blind index (an HMAC under a server key, so the table's
//! keys never hold an email), conditioned on not existing. Two concurrent registrations of one
//! email therefore produce exactly one account.
//!
//! An account registered through `POST /auth/register` starts *unverified*: its profile and its
//! claim carry [`UNVERIFIED_UNTIL`], and its three items (claim, profile, data key) the table's
//! TTL, so an address nobody confirms is freed when they expire, taking the account's only key
//! with them. Verification removes both in one transaction ([`Users::activate`]).

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
    /// Set while the address awaits verification: the account expires then, and cannot sign in
    /// before it is verified.
    pub unverified_until: Option<Timestamp>,
    /// The audit log shard this account's events go to, chosen at creation
    /// ([`crate::audit::AuditLog::shard_for_new_user`]).
    pub audit_shard: Option<u32>,
    /// The account has a second factor: a correct password earns the sign-in's second step,
    /// not a session ([`crate::mfa`]).
    pub second_factor: bool,
}

/// The attribute, on the profile and on the email claim, of an account whose address is not
/// verified yet: when it expires (epoch ms).
pub const UNVERIFIED_UNTIL: &str = "unverified_until";

/// Who holds an address, as its claim says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub user_id: String,
    /// `Some` while the holder's address is unverified: the claim can be replaced by a new
    /// registration.
    pub unverified_until: Option<Timestamp>,
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

/// The answer when an address has an account already.
pub fn taken() -> Error {
    Error::Conflict("an account with this email already exists".into())
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
    let item = Item::new(&profile_key(&u.id))
        .with("user_id", u.id.as_str())
        .with("email", email)
        .with("password_hash", u.password_hash.as_str())
        .with("password_changed_at", u.password_changed_at.millis())
        .with("created_at", u.created_at.millis())
        .with("token_epoch", u.token_epoch)
        .with("password_breached", u.password_breached);
    let item = match u.audit_shard {
        Some(shard) => item.with(crate::audit::PROFILE_SHARD, i64::from(shard)),
        None => item,
    };
    unverified(item, u.unverified_until)
}

/// `item` with the unverified marker and the TTL of an account that expires at `until`.
fn unverified(item: Item, until: Option<Timestamp>) -> Item {
    match until {
        Some(t) => item
            .with(UNVERIFIED_UNTIL, t.millis())
            .with(crate::table::schema::TTL, t.secs()),
        None => item,
    }
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
        unverified_until: i.n(UNVERIFIED_UNTIL).map(Timestamp),
        audit_shard: i
            .n(crate::audit::PROFILE_SHARD)
            .and_then(|s| u32::try_from(s).ok()),
        second_factor: i.bool(crate::mfa::totp::PROFILE_FLAG).unwrap_or(false),
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

    /// Stores a new user whose address is verified (an import, a benchmark's accounts) with a
    /// fresh data key of their own; [`Error::Conflict`] if the email is taken.
    pub async fn create(&self, user: &User) -> Result<()> {
        let (data_key_op, data_key) = self.user_keys.create(&user.id).await?;
        let ops = self.account_ops(user, data_key_op, &data_key, None, |p| p)?;
        match self.table.transact(ops).await {
            Err(Error::TransactionCancelled { failed, .. }) if failed.contains(&0) => Err(taken()),
            other => other,
        }
    }

    /// The writes that store `user` with its data key (`data_key_op`, `data_key`, from
    /// [`UserKeys::create`]), for one transaction; `profile` adds the caller's attributes to
    /// the profile item. The first write is the email claim: it requires the address to be
    /// free, or held by `replaces` (an unverified account of the same address, which this one
    /// replaces: its links die, since activation requires the claim, and its profile and key
    /// expire unused). An unverified account's items expire with it.
    pub fn account_ops(
        &self,
        user: &User,
        data_key_op: TxOp,
        data_key: &crate::secret::SecretBytes,
        replaces: Option<&str>,
        profile: impl FnOnce(Item) -> Item,
    ) -> Result<Vec<TxOp>> {
        let index = self.index(&user.email);
        let claim = unverified(
            Item::new(&email_claim_key(&index)).with("user_id", user.id.as_str()),
            user.unverified_until,
        );
        let email =
            UserKeys::seal_with(data_key, &user.id, "profile.email", user.email.as_bytes())?;
        let data_key_op = match (data_key_op, user.unverified_until) {
            (TxOp::Put { item, condition }, Some(t)) => TxOp::Put {
                item: item.with(crate::table::schema::TTL, t.secs()),
                condition,
            },
            (op, _) => op,
        };
        let claim_free = match replaces {
            None => Condition::NotExists,
            Some(old) => Condition::eq("user_id", old)
                .and(Condition::AttributeExists(UNVERIFIED_UNTIL.into())),
        };
        let mut ops = vec![
            TxOp::Put {
                item: claim,
                condition: Some(claim_free),
            },
            TxOp::Put {
                item: profile(to_item(user, email)),
                condition: Some(Condition::NotExists),
            },
            data_key_op,
        ];
        if let Some(shard) = user.audit_shard {
            let mut item =
                Item::new(&crate::audit::user_shard_key(&user.id)).with("shard", i64::from(shard));
            if let Some(t) = user.unverified_until {
                item.set(crate::table::schema::TTL, t.secs());
            }
            ops.push(TxOp::Put {
                item,
                condition: None,
            });
        }
        if user.unverified_until.is_none() {
            // Guesses made before the account existed do not lock its owner out.
            ops.push(TxOp::Delete {
                key: crate::lockout::account_counter(&index, None),
                condition: None,
            });
        }
        Ok(ops)
    }

    /// Who holds `email`, from its claim (one read); an expired unverified claim reads as none.
    pub async fn claim(&self, email: &str) -> Result<Option<Claim>> {
        let Some(claim) = self.table.get(&email_claim_key(&self.index(email))).await? else {
            return Ok(None);
        };
        let user_id = claim
            .s("user_id")
            .ok_or_else(|| Error::Internal("malformed email claim".into()))?;
        Ok(Some(Claim {
            user_id: user_id.to_string(),
            unverified_until: claim.n(UNVERIFIED_UNTIL).map(Timestamp),
        }))
    }

    /// The writes that make unverified `user` a verified account, for the caller's transaction
    /// (with the link check on the profile, `profile_update`): the marker and the TTL leave the
    /// claim, the profile and the data key; the address's login counter is cleared, since
    /// guesses made before its owner proved it do not lock them out.
    pub fn activate(&self, user: &User, profile_update: Update) -> Vec<TxOp> {
        let ttl = crate::table::schema::TTL;
        let index = self.index(&user.email);
        vec![
            TxOp::Update {
                key: profile_key(&user.id),
                update: profile_update.remove(UNVERIFIED_UNTIL).remove(ttl),
            },
            TxOp::Update {
                key: email_claim_key(&index),
                update: Update::new()
                    .remove(UNVERIFIED_UNTIL)
                    .remove(ttl)
                    .when(Condition::eq("user_id", user.id.as_str())),
            },
            TxOp::Update {
                key: crate::crypto::user_keys::data_key_key(&user.id),
                update: Update::new().remove(ttl).when(Condition::Exists),
            },
            TxOp::Delete {
                key: crate::lockout::account_counter(&index, None),
                condition: None,
            },
        ]
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
