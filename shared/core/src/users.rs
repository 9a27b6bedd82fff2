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

use std::collections::BTreeMap;

use aws_lc_rs::hmac;

use crate::clock::Timestamp;
use crate::crypto::server_secret::mac_hex;
use crate::crypto::user_keys::UserKeys;
use crate::table::{Condition, Item, Key, Table, TxOp, Update};
use crate::{Error, Result};

/// What the profile records of an account's credentials and standing: the part the stored
/// [`Profile`] and the opened [`User`] share (each derefs to it). Its `Debug` leaves out the
/// password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountState {
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

impl std::fmt::Debug for AccountState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountState")
            .field("password_changed_at", &self.password_changed_at)
            .field("created_at", &self.created_at)
            .field("token_epoch", &self.token_epoch)
            .field("password_breached", &self.password_breached)
            .field("unverified_until", &self.unverified_until)
            .field("audit_shard", &self.audit_shard)
            .field("second_factor", &self.second_factor)
            .finish_non_exhaustive()
    }
}

impl AccountState {
    /// A new account's state: `password_hash` set `now`, epoch 0, unverified until
    /// `unverified_until` (none: verified already), no second factor.
    pub fn new(
        password_hash: String,
        now: Timestamp,
        unverified_until: Option<Timestamp>,
        audit_shard: Option<u32>,
    ) -> Self {
        AccountState {
            password_hash,
            password_changed_at: now,
            created_at: now,
            token_epoch: 0,
            password_breached: false,
            unverified_until,
            audit_shard,
            second_factor: false,
        }
    }
}

/// An account with its address opened ([`Users::open`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub account: AccountState,
}

impl std::ops::Deref for User {
    type Target = AccountState;
    fn deref(&self) -> &AccountState {
        &self.account
    }
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

/// The profile attributes other modules write (each feature's updates name them through these,
/// and only [`Profile::from_item`] reads them back).
pub mod attr {
    /// The address, sealed under the user's data key (`profile.email`).
    pub const EMAIL: &str = "email";
    /// The display name, sealed under the user's data key (`profile.display_name`).
    pub const DISPLAY_NAME: &str = "display_name";
    /// Whether the user opted out of sale and sharing (CCPA), its source and when (epoch ms).
    pub const DO_NOT_SELL: &str = "do_not_sell";
    pub const DO_NOT_SELL_SOURCE: &str = "do_not_sell_source";
    pub const DO_NOT_SELL_AT: &str = "do_not_sell_at";
    /// Bumped to end every access token issued so far.
    pub const TOKEN_EPOCH: &str = "token_epoch";
    /// Until when the photo upload links issued so far work (epoch ms).
    pub const UPLOADS_UNTIL: &str = "uploads_until";
    /// The prefix of an ended session's mark, `revoked_sid_{sid}`: the profile attribute that
    /// refuses the access tokens the session issued that are still in flight; its value is until
    /// when the mark matters (epoch ms; see [`crate::sessions::revoke`]).
    pub const ENDED_SESSION: &str = "revoked_sid_";

    /// The mark of ended session `sid`.
    pub fn ended_session(sid: &str) -> String {
        format!("{ENDED_SESSION}{sid}")
    }
}

/// The profile item, typed: what one read of it (or the guard's rate-limit write, which
/// returns it) tells every feature. Personal fields stay sealed under the user's data key until
/// [`Users::open`] opens them. Its `Debug` leaves out the password hash and the sealed fields.
#[derive(Clone, PartialEq, Eq)]
pub struct Profile {
    pub user_id: String,
    sealed_email: Vec<u8>,
    /// The display name, sealed (see [`crate::profile::display_name`]).
    pub sealed_display_name: Option<Vec<u8>>,
    pub account: AccountState,
    /// The CCPA opt-out of sale and sharing.
    pub sale: SaleChoice,
    /// The single-use links the profile holds now (expired ones included: see
    /// [`Profile::live_link`]).
    pub links: BTreeMap<LinkKind, Link>,
    /// Until when the photo upload links issued so far work.
    pub uploads_until: Option<Timestamp>,
    /// The ended sessions whose access tokens are still refused by name, each until when its
    /// mark matters (`None`: a mark that holds no time, pruned at the next revocation).
    pub ended_sessions: BTreeMap<String, Option<Timestamp>>,
}

/// The kinds of single-use link a profile holds, one of each at most: each is the hash of a
/// token mailed to the user, an end (epoch ms), and for an address change and its revert the
/// address it leads to, sealed under the user's data key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LinkKind {
    /// Confirms a new account's address ([`crate::registration`]).
    Verify,
    /// Confirms an address change ([`crate::email_change`]).
    Change,
    /// Reverts an address change from the old address.
    Revert,
    /// Sets a new password ([`crate::recovery`]).
    Reset,
}

impl LinkKind {
    const ALL: [LinkKind; 4] = [
        LinkKind::Verify,
        LinkKind::Change,
        LinkKind::Revert,
        LinkKind::Reset,
    ];

    /// The profile attributes: the token's hash, the end, the sealed address (if any).
    const fn attributes(self) -> (&'static str, &'static str, Option<&'static str>) {
        match self {
            LinkKind::Verify => ("verify_hash", "verify_until", None),
            LinkKind::Change => (
                "email_change_hash",
                "email_change_until",
                Some("email_change_to"),
            ),
            LinkKind::Revert => (
                "email_revert_hash",
                "email_revert_until",
                Some("email_revert_to"),
            ),
            LinkKind::Reset => ("reset_hash", "reset_until", None),
        }
    }

    /// `update` with a new link of this kind (replacing the one before it).
    pub fn issue(
        self,
        update: Update,
        hash: &str,
        until: Timestamp,
        sealed_address: Option<Vec<u8>>,
    ) -> Update {
        let (h, u, a) = self.attributes();
        let update = update.set(h, hash).set(u, until.millis());
        match (a, sealed_address) {
            (Some(a), Some(sealed)) => update.set(a, sealed),
            _ => update,
        }
    }

    /// A new profile item with a link of this kind (a registration's first).
    pub fn on_new_item(self, item: Item, hash: &str, until: Timestamp) -> Item {
        let (h, u, _) = self.attributes();
        item.with(h, hash).with(u, until.millis())
    }

    /// `update` without this kind's link.
    pub fn clear(self, update: Update) -> Update {
        let (h, u, a) = self.attributes();
        let update = update.remove(h).remove(u);
        match a {
            Some(a) => update.remove(a),
            None => update,
        }
    }

    /// The condition that the link whose token hashes to `hash` is this kind's and alive at
    /// `now` (what the write that uses the link checks again, atomically).
    pub fn live(self, hash: &str, now: Timestamp) -> Condition {
        let (h, u, _) = self.attributes();
        Condition::eq(h, hash).and(Condition::gt(u, now.millis()))
    }
}

/// One link a profile holds (see [`LinkKind`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub hash: String,
    pub until: Timestamp,
    pub sealed_address: Option<Vec<u8>>,
}

/// The opt-out of sale and sharing as the profile records it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaleChoice {
    pub opted_out: bool,
    /// What set or cleared it last (`request`, `global_privacy_control`, `opt_in_request`).
    pub source: Option<String>,
    pub at: Option<Timestamp>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("user_id", &self.user_id)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for Profile {
    type Target = AccountState;
    fn deref(&self) -> &AccountState {
        &self.account
    }
}

impl Profile {
    /// The link of `kind` if `hash` is its token's hash and it works at `now` (a dead link is
    /// refused on this, before any decryption; the write checks [`LinkKind::live`] again).
    pub fn live_link(&self, kind: LinkKind, hash: &str, now: Timestamp) -> Option<&Link> {
        self.links.get(&kind).filter(|l| {
            l.until > now
                && aws_lc_rs::constant_time::verify_slices_are_equal(
                    l.hash.as_bytes(),
                    hash.as_bytes(),
                )
                .is_ok()
        })
    }

    /// Reads a profile item; a profile missing one of its required attributes is an internal
    /// error (the item was not written by [`Users`]).
    pub fn from_item(i: &Item) -> Result<Profile> {
        let bad = || Error::Malformed("user item");
        Ok(Profile {
            user_id: i.s("user_id").ok_or_else(bad)?.to_string(),
            sealed_email: i.b(attr::EMAIL).ok_or_else(bad)?.to_vec(),
            sealed_display_name: i.b(attr::DISPLAY_NAME).map(<[u8]>::to_vec),
            account: AccountState {
                password_hash: i.s("password_hash").ok_or_else(bad)?.to_string(),
                password_changed_at: Timestamp(i.n("password_changed_at").ok_or_else(bad)?),
                created_at: Timestamp(i.n("created_at").ok_or_else(bad)?),
                token_epoch: i.n(attr::TOKEN_EPOCH).unwrap_or(0),
                password_breached: i.bool("password_breached").unwrap_or(false),
                unverified_until: i.n(UNVERIFIED_UNTIL).map(Timestamp),
                audit_shard: i
                    .n(crate::audit::PROFILE_SHARD)
                    .and_then(|s| u32::try_from(s).ok()),
                second_factor: i.bool(crate::mfa::totp::PROFILE_FLAG).unwrap_or(false),
            },
            sale: SaleChoice {
                opted_out: i.bool(attr::DO_NOT_SELL) == Some(true),
                source: i.s(attr::DO_NOT_SELL_SOURCE).map(str::to_string),
                at: i.n(attr::DO_NOT_SELL_AT).map(Timestamp),
            },
            links: LinkKind::ALL
                .into_iter()
                .filter_map(|kind| {
                    let (h, u, a) = kind.attributes();
                    let link = Link {
                        hash: i.s(h)?.to_string(),
                        until: Timestamp(i.n(u)?),
                        sealed_address: a.and_then(|a| i.b(a)).map(<[u8]>::to_vec),
                    };
                    Some((kind, link))
                })
                .collect(),
            uploads_until: i.n(attr::UPLOADS_UNTIL).map(Timestamp),
            ended_sessions: i
                .0
                .iter()
                .filter_map(|(name, until)| {
                    let sid = name.strip_prefix(attr::ENDED_SESSION)?;
                    let until = match until {
                        crate::table::Value::N(t) => Some(Timestamp(*t)),
                        _ => None,
                    };
                    Some((sid.to_string(), until))
                })
                .collect(),
        })
    }
}

/// `user_id`'s profile (one read), typed.
pub async fn read_profile(table: &dyn Table, user_id: &str) -> Result<Option<Profile>> {
    table
        .get(&profile_key(user_id))
        .await?
        .as_ref()
        .map(Profile::from_item)
        .transpose()
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

/// The attribute of an email claim naming the account that holds it.
const CLAIM_HOLDER: &str = "user_id";

/// The item that claims an address (by its blind index) for `user_id`.
pub fn email_claim(index: &str, user_id: &str) -> Item {
    Item::new(&email_claim_key(index)).with(CLAIM_HOLDER, user_id)
}

/// Holds when the claim is `user_id`'s (a claim is only ever given up by its holder).
pub fn claim_held_by(user_id: &str) -> Condition {
    Condition::eq(CLAIM_HOLDER, user_id)
}

impl Claim {
    /// The claim on the blind index `index`, if there is one (one read; an expired unverified
    /// claim is hidden by the table's TTL and reads as none).
    pub async fn read(table: &dyn Table, index: &str) -> Result<Option<Claim>> {
        let Some(item) = table.get(&email_claim_key(index)).await? else {
            return Ok(None);
        };
        Ok(Some(Claim {
            user_id: item
                .s(CLAIM_HOLDER)
                .ok_or(Error::Malformed("email claim"))?
                .to_string(),
            unverified_until: item.n(UNVERIFIED_UNTIL).map(Timestamp),
        }))
    }
}

/// The account whose claim holds the blind index `index`, confirmed or not (one read).
pub async fn claim_holder(table: &dyn Table, index: &str) -> Result<Option<String>> {
    Ok(Claim::read(table, index).await?.map(|c| c.user_id))
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
    aws_lc_rs::rand::fill(&mut b).map_err(|e| Error::internal("rng", e))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// The profile item; `email` is the email encrypted under the user's own data key.
fn to_item(u: &User, email: Vec<u8>) -> Item {
    let item = Item::new(&profile_key(&u.id))
        .with("user_id", u.id.as_str())
        .with(attr::EMAIL, email)
        .with("password_hash", u.password_hash.as_str())
        .with("password_changed_at", u.password_changed_at.millis())
        .with("created_at", u.created_at.millis())
        .with(attr::TOKEN_EPOCH, u.token_epoch)
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
        let claim = unverified(email_claim(&index, &user.id), user.unverified_until);
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
            Some(old) => {
                claim_held_by(old).and(Condition::AttributeExists(UNVERIFIED_UNTIL.into()))
            }
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
        Claim::read(self.table, &self.index(email)).await
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
                    .when(claim_held_by(&user.id)),
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
        match read_profile(self.table, user_id).await? {
            Some(profile) => self.open(&profile).await.map(Some),
            None => Ok(None),
        }
    }

    /// The user a profile describes (its email opened with the user's key).
    pub async fn open(&self, p: &Profile) -> Result<User> {
        let email = self
            .user_keys
            .open(&p.user_id, "profile.email", &p.sealed_email)
            .await?;
        let email = String::from_utf8(email).map_err(|_| Error::Decryption)?;
        Ok(User {
            id: p.user_id.clone(),
            email,
            account: p.account.clone(),
        })
    }

    pub async fn find_by_email(&self, email: &str) -> Result<Option<User>> {
        match self.id_by_email(email).await? {
            Some(id) => self.get(&id).await,
            None => Ok(None),
        }
    }

    /// The id of the account that holds `email`, from its claim (one read).
    pub async fn id_by_email(&self, email: &str) -> Result<Option<String>> {
        claim_holder(self.table, &self.index(email)).await
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
                .set("password_breached", false);
            u = LinkKind::Reset.clear(u);
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

    fn profile_item() -> Item {
        Item::new(&profile_key("u1"))
            .with("user_id", "u1")
            .with("email", vec![1u8, 2, 3])
            .with("password_hash", "$argon2id$…")
            .with("password_changed_at", 1_000)
            .with("created_at", 1_000)
    }

    #[test]
    fn a_profile_reads_every_field_a_feature_writes() {
        let now = Timestamp(5_000);
        let update = LinkKind::Change.issue(
            Update::new().add(attr::TOKEN_EPOCH, 3),
            "h1",
            Timestamp(9_000),
            Some(vec![7]),
        );
        let item = update
            .set(attr::DO_NOT_SELL, true)
            .set(attr::DO_NOT_SELL_SOURCE, "request")
            .set(attr::DO_NOT_SELL_AT, 4_000)
            .set(&attr::ended_session("s1"), 6_000)
            .set(attr::UPLOADS_UNTIL, 8_000)
            .apply(&profile_key("u1"), Some(&profile_item()));
        let p = Profile::from_item(&item).unwrap();
        assert_eq!(p.token_epoch, 3);
        assert!(p.sale.opted_out);
        assert_eq!(p.sale.source.as_deref(), Some("request"));
        assert_eq!(p.uploads_until, Some(Timestamp(8_000)));
        assert_eq!(p.ended_sessions.get("s1"), Some(&Some(Timestamp(6_000))));
        let link = p.live_link(LinkKind::Change, "h1", now).unwrap();
        assert_eq!(link.sealed_address.as_deref(), Some(&[7u8][..]));
        assert!(LinkKind::Change.live("h1", now).holds(Some(&item)));
    }

    #[test]
    fn a_link_is_live_only_for_its_kind_its_hash_and_before_its_end() {
        let item = LinkKind::Reset
            .issue(Update::new(), "h1", Timestamp(9_000), None)
            .apply(&profile_key("u1"), Some(&profile_item()));
        let p = Profile::from_item(&item).unwrap();
        assert!(
            p.live_link(LinkKind::Reset, "h1", Timestamp(8_999))
                .is_some()
        );
        assert!(
            p.live_link(LinkKind::Reset, "h1", Timestamp(9_000))
                .is_none()
        );
        assert!(p.live_link(LinkKind::Reset, "h2", Timestamp(1)).is_none());
        assert!(p.live_link(LinkKind::Verify, "h1", Timestamp(1)).is_none());
        let cleared = LinkKind::Reset
            .clear(Update::new())
            .apply(&profile_key("u1"), Some(&item));
        assert!(Profile::from_item(&cleared).unwrap().links.is_empty());
    }

    #[test]
    fn a_profile_without_its_required_fields_is_refused() {
        let mut item = profile_item();
        item.0.remove("email");
        assert!(Profile::from_item(&item).is_err());
    }

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
