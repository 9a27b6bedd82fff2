//! The single-table layout: attribute names, secondary indexes, and the key shapes of every
//! kind of item. One place, so the DynamoDB table in `template.yaml`, the embedded store and
//! every repository agree.
//!
//! Each kind has one repository: the module in the last column formats its keys and maps it to
//! and from [`super::Item`]; no other module formats such a key or reads its attributes by name
//! (`layers::items_are_read_and_keyed_only_by_their_repository` checks every source file against
//! this column). Modules with more kinds document their attributes beside the code.
//!
//! | item | pk | sk | gsi1pk / gsi1sk | repository |
//! | --- | --- | --- | --- | --- |
//! | user profile | `USER#{user_id}` | `PROFILE` | — | `users` |
//! | email claim (uniqueness) | `EMAIL#{email key}` | `EMAIL` | — | `users` |
//! | login failure counter | `LOGIN#{user or email key}` | `FAILURES`, `FAILURES#DEVICE#{id}`, `FAILURES#MFA`, `FAILURES#MFA#DEVICE#{id}` | — | `lockout` |
//! | per-IP failure counter | `LOGINIP#{ip tag}` | `FAILURES` | — | `lockout` |
//! | IP block (monitor) | `LOGINIP#{ip tag}` | `BLOCK` | — | `lockout` |
//! | user's data key (wrapped) | `USER#{user_id}` | `DATAKEY` | — | `crypto::user_keys` |
//! | refresh family (session) | `USER#{user_id}` | `SESSION#{sid}` | — | `sessions` |
//! | known device | `USER#{user_id}` | `DEVICE#{fingerprint}` | — | `devices` |
//! | anonymous rate-limit bucket | `RATEIP#{ip tag}` | `BUCKET` | — | `rate_limit` |
//! | registration budget of an address | `REGIP#{ip tag}` | `BUDGET` | — | `registration` |
//! | recovery-mail budget of an address | `FORGOTIP#{ip tag}` | `BUDGET` | — | `recovery` |
//! | address-tag key of a day (wrapped) | `TAGKEY` | `{day:08}` | — | `address` |
//! | audit entry | `AUDIT#{shard:03}` | `SEQ#{seq:020}` | `AUDITUSER#{user_id}` / `{at:013}#{shard:04}#{seq:020}` | `audit` |
//! | audit shard head | `AUDIT#{shard:03}` | `HEAD` | — | `audit` |
//! | an account's audit shard | `USERSHARD#{user_id}` | `AUDIT` | — | `audit` |
//! | audit append-once marker | `AUDIT` | `ONCE#{key}` | — | `audit` |
//! | audit shard layout | `AUDIT` | `LAYOUT` | — | `audit::layout` |
//! | signed audit digest | `AUDIT#DIGESTS` | `{number:020}` | — | `audit::digest` |
//! | signing key / keyset state | `SIGNKEYS` | `KEY#{signs_from:013}#{kid}`, `STATE` | — | `tokens::signing_keys` |
//! | server secret (wrapped) | `SECRET` | `{name}`, `{name}#created` | — | `crypto::server_secret` |
//! | monitor checkpoint and lease | `MONITOR#{chain}` | `CHECKPOINT` | — | `monitor` |
//! | alert | `ALERT#{chain}#{dedup key}` | `ALERT` | `ALERTS#{chain}` / `{at:013}#{dedup key}` | `monitor` |
//! | preferences | `USER#{user_id}` | `PREFERENCES` | — | `profile` |
//! | sign-in activity | `USER#{user_id}` | `ACTIVITY#{at:013}#{rand}` | — | `activity` |
//! | subscription | `USER#{user_id}` | `SUBSCRIPTION#{id}` | — | `billing::table` |
//! | billing outbox event | `BILLING#OUTBOX` | `{at:013}#{subscription id}` | — | `billing::table` |
//! | mail not yet sent; an address's hourly mail budget | `MAILOUT#{id}`; `MAILTO#{email key}` | `MAIL`; `BUDGET#{hour}` | see the module | `mail::outbox` |
//! | authenticator-app secret | `USER#{user_id}` | `MFA#TOTP` | — | `mfa::totp` |
//! | recovery code | `USER#{user_id}` | `MFA#RECOVERY#{hash}` | — | `mfa::recovery_codes` |
//! | remembered device (second step) | `USER#{user_id}` | `MFA#REMEMBER#{device}` | — | `mfa::remembered` |
//! | passkey; passkey ceremony | `USER#{user_id}`; `PASSKEYCEREMONY#{hash}` | `MFA#PASSKEY#{credential}`; `CEREMONY` | — | `mfa::passkeys` |
//! | second-step challenge | `MFACHALLENGE#{hash}` | `CHALLENGE` | — | `mfa::challenge` |
//! | privacy request; open request claim; user's pointer | `PRIVREQ#{id}`; `PRIVOPEN#{user_id}#{action}`; `USER#{user_id}` | `REQUEST`; `OPEN`; `PRIVREQ#{id}` | see the module | `privacy::requests` |
//! | privacy request asked, not yet verified | `PRIVINTAKE#{id}` | `INTAKE` | — | `privacy::intake` |
//! | legal hold on an account (its key wrapped) | `LEGALHOLD#{user_id}` | `HOLD` | — | `privacy::legal_hold` |
//! | downstream event not yet published | `EVENTOUT#{id}` | `EVENT` | `EVENTOUT` / `{at:013}#{id}` | `privacy::downstream` |
//!
//! The user's rate-limit state (`rl_tat`), token epoch, ended-session marks
//! (`revoked_sid_{sid}`: until when, pruned after an access token's lifetime), display name
//! (encrypted), privacy settings (`do_not_sell`, its source and time) and the single-use links
//! (verification, address change and revert, password reset) live on the profile item, which
//! [`crate::users::Profile`] reads: its attributes are named in [`crate::users::attr`] and
//! [`crate::users::LinkKind`], and no other module reads them back by name.
//!
//! Items that expire carry [`TTL`] (epoch seconds), which is also the table's TTL attribute.

/// The partition of everything that belongs to one user (profile, data key, sessions, devices,
/// activity, …): `USER#{user_id}`.
pub fn user_partition(user_id: &str) -> String {
    format!("USER#{user_id}")
}

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// TTL attribute: epoch seconds after which the item is expired.
pub const TTL: &str = "expires_at";

/// A global secondary index (projection: all attributes).
#[derive(Debug, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
}

/// Generic inverted index: items that must be found by something other than their primary key.
pub const GSI1: Index = Index {
    name: "gsi1",
    pk: "gsi1pk",
    sk: "gsi1sk",
};

/// Every secondary index of the table (the embedded store maintains each).
pub const INDEXES: &[&Index] = &[&GSI1];
