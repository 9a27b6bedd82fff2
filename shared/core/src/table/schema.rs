//! The single-table layout: attribute names, secondary indexes, and the key shapes of every
//! kind of item. One place, so the DynamoDB table in `template.yaml`, the embedded store and
//! every repository agree.
//!
//! | item | pk | sk | gsi1pk / gsi1sk |
//! | --- | --- | --- | --- |
//! | user profile | `USER#{user_id}` | `PROFILE` | — |
//! | email claim (uniqueness) | `EMAIL#{email key}` | `EMAIL` | — |
//! | login failure counter | `LOGIN#{user or email key}` | `FAILURES` or `FAILURES#DEVICE#{id}` | — |
//! | per-IP failure counter | `LOGINIP#{ip tag}` | `FAILURES` | — |
//! | IP block (monitor) | `LOGINIP#{ip tag}` | `BLOCK` | — |
//! | user's data key (wrapped) | `USER#{user_id}` | `DATAKEY` | — |
//! | refresh family (session) | `USER#{user_id}` | `SESSION#{sid}` | — |
//! | known device | `USER#{user_id}` | `DEVICE#{fingerprint}` | — |
//! | anonymous rate-limit bucket | `RATEIP#{ip tag}` | `BUCKET` | — |
//! | registration budget of an address | `REGIP#{ip tag}` | `BUDGET` | — |
//! | audit entry | `AUDIT#{shard:03}` | `SEQ#{seq:020}` | `AUDITUSER#{user_id}` / `{at:013}#{shard:04}#{seq:020}` |
//! | audit shard head | `AUDIT#{shard:03}` | `HEAD` | — |
//! | audit shard layout | `AUDIT` | `LAYOUT` | — |
//! | an account's audit shard | `USERSHARD#{user_id}` | `AUDIT` | — |
//! | signed audit digest | `AUDIT#DIGESTS` | `{number:020}` | — |
//! | signing key / keyset state | `SIGNKEYS` | `KEY#{signs_from:013}#{kid}`, `STATE` | — |
//! | server secret (wrapped) | `SECRET` | `root` | — |
//! | monitor checkpoint and lease | `MONITOR` | `CHECKPOINT` | — |
//! | alert | `ALERT#{dedup key}` | `ALERT` | `ALERTS` / `{at:013}` |
//! | preferences | `USER#{user_id}` | `PREFERENCES` | — |
//! | sign-in activity | `USER#{user_id}` | `ACTIVITY#{at:013}#{rand}` | — |
//! | subscription | `USER#{user_id}` | `SUBSCRIPTION#{id}` | — |
//! | billing outbox event | `BILLING#OUTBOX` | `{at:013}#{subscription id}` | — |
//! | privacy request | `PRIVREQ#{id}` | `REQUEST` | `PRIVREQS#OPEN` / `{due:013}#{id}` while open |
//! | open privacy request claim | `PRIVOPEN#{user_id}#{action}` | `OPEN` | — |
//! | user's privacy request pointer | `USER#{user_id}` | `PRIVREQ#{id}` | — |
//! | audit append-once marker | `AUDIT` | `ONCE#{key}` | — |
//! | legal hold on an account (its key wrapped) | `LEGALHOLD#{user_id}` | `HOLD` | — |
//! | downstream event not yet published | `EVENTOUT#{id}` | `EVENT` | `EVENTOUT` / `{at:013}#{id}` |
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
