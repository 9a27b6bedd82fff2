//! Sessions: one refresh-token family per login, bound to a device, rotated on every refresh.
//!
//! A refresh token is `{user_id}.{sid}.{secret}` with 256 random bits of secret. The table keeps
//! only SHA-256 hashes: of the current secret and of the one before it. The successor of secret
//! `s` is `HMAC(server refresh key, s)`, so a duplicate of `s` arriving within the grace window
//! (a lost response, two tabs) is answered with the *same* successor, recomputed from what the
//! client presented, without the table ever holding a usable token.
//!
//! Rotation is one conditional update (`current_hash` must still be the presented hash), which
//! also charges the API rate limit on the family when the guard deferred it to this route, so
//! a refresh is one table round trip. Routine rotations are not audit events (the family keeps
//! `generation`, `rotated_at` and `last_used_at`); reuse and device mismatch are. A
//! presented secret that is neither current nor the grace-window predecessor is reuse: the whole
//! family is revoked. Ten concurrent refreshes of one cookie leave exactly one live successor.
//!
//! Revoking everything a user holds (password change, lockout, reuse, account deletion, monitor
//! actions) deletes the families and bumps the profile's `token_epoch`; access tokens carry the
//! epoch they were issued under and are rejected once it is stale.

use std::time::Duration;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};

use crate::audit::{AuditLog, EventType, RequestMeta};
use crate::clock::Timestamp;
use crate::crypto::server_secret::ServerKeys;
use crate::devices::Fingerprints;
use crate::rate_limit::{Allowance, Bucket, Decision, Policy, RateLimiter};
use crate::table::schema::TTL;
use crate::table::{Condition, Item, Key, Query, SortKey, Table, TxOp, Update, query_all};
use crate::tokens::access::{ACCESS_TTL, Methods, Scope};
use crate::tokens::{b64, unb64};
use crate::users::{Profile, attr, profile_key, read_profile};
use crate::{Error, Result};

#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub grace: Duration,
    pub idle: Duration,
    pub absolute: Duration,
}

pub fn session_key(user_id: &str, sid: &str) -> Key {
    Key::new(
        crate::table::schema::user_partition(user_id),
        format!("SESSION#{sid}"),
    )
}

fn hash(secret: &[u8]) -> Vec<u8> {
    digest(&SHA256, secret).as_ref().to_vec()
}

fn successor(keys: &ServerKeys, secret: &[u8]) -> Vec<u8> {
    aws_lc_rs::hmac::sign(&keys.refresh, secret)
        .as_ref()
        .to_vec()
}

/// Generations checked when telling a replayed token from a forged one (30 days of refreshing
/// every 15 minutes is 2,880).
const MAX_GENERATIONS: i64 = 10_000;

/// Whether following successors from `secret` reaches the family's current hash within
/// `generations` steps: proof that the family issued `secret`.
fn leads_to(keys: &ServerKeys, secret: &[u8], current_hash: &[u8], generations: i64) -> bool {
    let mut s = secret.to_vec();
    for _ in 0..generations {
        s = successor(keys, &s);
        if verify_slices_are_equal(&hash(&s), current_hash).is_ok() {
            return true;
        }
    }
    false
}

fn token(user_id: &str, sid: &str, secret: &[u8]) -> String {
    format!("{user_id}.{sid}.{}", b64(secret))
}

fn is_hex_id(s: &str) -> bool {
    s.len() == 32 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// Whether `token` has the shape of a refresh token (says nothing of its validity).
pub fn well_formed(token: &str) -> bool {
    parse(token).is_some()
}

/// Parses a refresh token; `None` for anything malformed.
fn parse(token: &str) -> Option<(String, String, Vec<u8>)> {
    let mut it = token.split('.');
    let (u, s, secret) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || !is_hex_id(u) || !is_hex_id(s) {
        return None;
    }
    let secret = unb64(secret).filter(|b| b.len() == 32)?;
    Some((u.to_string(), s.to_string(), secret))
}

fn expiry(created: i64, last_used: i64, l: Lifetimes) -> Timestamp {
    Timestamp(created)
        .plus(l.absolute)
        .min(Timestamp(last_used).plus(l.idle))
}

/// A session as its owner sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionInfo {
    pub id: String,
    pub device: String,
    pub created_at: String,
    pub last_used_at: String,
}

/// A refresh refused for a reason its caller must act on (the domain has already ended every
/// session): the presented token was a stolen or replayed one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    ReuseDetected { user_id: String },
}

/// The result of a successful refresh.
#[derive(Debug)]
pub struct Refreshed {
    pub user_id: String,
    pub sid: String,
    pub token: String,
    pub auth_time: Timestamp,
    pub expires_at: Timestamp,
    pub grant: Grant,
    /// What is left of the rate limit, when this refresh was charged on its family.
    pub allowance: Option<Allowance>,
}

/// A refresh whose API rate-limit charge the guard deferred (see `warden_http::guard`):
/// charged on the family in the rotation's write, or on the client IP's bucket when the hot
/// path does not apply.
pub struct Charge<'a> {
    pub limiter: &'a RateLimiter,
    pub policy: Policy,
    pub ip_bucket: Key,
}

pub use crate::tokens::access::Grant;

fn scope_str(s: Scope) -> &'static str {
    match s {
        Scope::Full => "full",
        Scope::PasswordChange => "password_change",
    }
}

/// A stored refresh family, typed: every reader of a session item goes through
/// [`Family::from_item`] (its writers are [`new_family`], the rotation and [`revoke_all`]).
/// Absent times read as 0 (such a family has expired); absent hashes match nothing.
#[derive(Debug, Clone)]
struct Family {
    sid: Option<String>,
    device: Option<String>,
    current_hash: Option<Vec<u8>>,
    previous_hash: Option<Vec<u8>>,
    created_at: i64,
    last_used_at: i64,
    rotated_at: Option<Timestamp>,
    /// When the sign-in behind the family proved its factors (its creation, if not recorded).
    auth_time: Timestamp,
    generation: i64,
    grant: Grant,
}

impl Family {
    fn from_item(item: &Item) -> Family {
        let created_at = item.n("created_at").unwrap_or(0);
        Family {
            sid: item.s("sid").map(str::to_string),
            device: item.s("device").map(str::to_string),
            current_hash: item.b("current_hash").map(<[u8]>::to_vec),
            previous_hash: item.b("previous_hash").map(<[u8]>::to_vec),
            created_at,
            last_used_at: item.n("last_used_at").unwrap_or(0),
            rotated_at: item.n("rotated_at").map(Timestamp),
            auth_time: Timestamp(item.n("auth_time").unwrap_or(created_at)),
            generation: item.n("generation").unwrap_or(0),
            grant: Grant {
                methods: Methods::from_bits(item.n("amr")),
                epoch: item.n("token_epoch").unwrap_or(0),
                scope: match item.s("scope") {
                    Some("full") => Scope::Full,
                    _ => Scope::PasswordChange,
                },
            },
        }
    }

    /// When the family ends if it is not used again.
    fn expiry(&self, l: Lifetimes) -> Timestamp {
        expiry(self.created_at, self.last_used_at, l)
    }

    /// Whether `hash` is the family's current hash (`current`) or its previous one, compared in
    /// constant time.
    fn holds(&self, hash: &[u8], current: bool) -> bool {
        let stored = if current {
            &self.current_hash
        } else {
            &self.previous_hash
        };
        stored
            .as_deref()
            .is_some_and(|s| verify_slices_are_equal(s, hash).is_ok())
    }
}

/// A new session family, not yet written: the caller puts `write` in its transaction (login
/// writes it with the sign-in's activity entry, the counter reset and the audit entry).
pub struct NewFamily {
    pub sid: String,
    /// The refresh token to hand out (only its hash is in `write`).
    pub token: String,
    pub write: TxOp,
}

/// Starts a family for `user_id` on device `fp`.
pub fn new_family(
    user_id: &str,
    fp: &str,
    grant: Grant,
    now: Timestamp,
    l: Lifetimes,
) -> Result<NewFamily> {
    let sid = crate::crypto::random_id()?;
    let secret = crate::crypto::random_bytes::<32>()?;
    let item = Item::new(&session_key(user_id, &sid))
        .with("sid", sid.as_str())
        .with("device", fp)
        .with("current_hash", hash(&secret))
        .with("generation", 0)
        .with("created_at", now.millis())
        .with("last_used_at", now.millis())
        .with("auth_time", now.millis())
        .with("token_epoch", grant.epoch)
        .with("scope", scope_str(grant.scope))
        .with("amr", grant.methods.bits())
        .with(TTL, expiry(now.millis(), now.millis(), l).secs());
    Ok(NewFamily {
        token: token(user_id, &sid, &secret),
        sid,
        write: TxOp::Put {
            item,
            condition: Some(Condition::NotExists),
        },
    })
}

/// What one refresh works with: the table, the keys that derive successors, the audit log for
/// its refusals, the device that presents the token, the time, and the rate limit the guard
/// deferred to it (if any).
pub struct Rotation<'a> {
    pub table: &'a dyn Table,
    pub keys: &'a ServerKeys,
    pub audit: &'a AuditLog,
    pub meta: &'a RequestMeta,
    pub device: &'a Fingerprints,
    pub now: Timestamp,
    pub lifetimes: Lifetimes,
    pub charge: Option<Charge<'a>>,
}

/// A presented refresh token, parsed: its family, the hash the family must hold, and the
/// successor a rotation hands out.
struct Presented {
    user_id: String,
    sid: String,
    secret: Vec<u8>,
    key: Key,
    hash: Vec<u8>,
    next: Vec<u8>,
    next_hash: Vec<u8>,
}

impl Presented {
    fn parse(keys: &ServerKeys, presented: &str) -> Result<Presented> {
        let (user_id, sid, secret) = parse(presented).ok_or(Error::Unauthorized)?;
        let next = successor(keys, &secret);
        Ok(Presented {
            key: session_key(&user_id, &sid),
            hash: hash(&secret),
            next_hash: hash(&next),
            user_id,
            sid,
            secret,
            next,
        })
    }
}

/// What one look at the family decided, off the hot path.
enum Looked {
    Done(std::result::Result<Refreshed, Refused>),
    /// A concurrent refresh of the same token won: look again (now within grace).
    LostRace,
}

/// Rotates the presented token (see the module docs). Every refusal is [`Error::Unauthorized`],
/// but the one its caller must act on: a reused token ended every session of its user, which
/// `Ok(Err(Refused::ReuseDetected))` reports (the caller tells the user, and answers 401).
pub async fn refresh(
    r: &Rotation<'_>,
    presented: &str,
) -> Result<std::result::Result<Refreshed, Refused>> {
    let p = Presented::parse(r.keys, presented)?;
    if let Some(done) = r.hot_path(&p).await? {
        return Ok(Ok(done));
    }
    r.charge_client().await?;
    for _ in 0..3 {
        let Some(fam) = r.table.get(&p.key).await? else {
            return Err(Error::Unauthorized);
        };
        match r.look(&p, &fam).await? {
            Looked::Done(done) => return Ok(done),
            Looked::LostRace => continue,
        }
    }
    Err(Error::Unauthorized)
}

impl Rotation<'_> {
    /// The rotation's write: the successor becomes current, the presented hash previous,
    /// if the presented hash is still current and `extra` holds.
    fn rotation(&self, p: &Presented, extra: Condition) -> Update {
        let now = self.now;
        Update::new()
            .set("current_hash", p.next_hash.clone())
            .set("previous_hash", p.hash.clone())
            .set("rotated_at", now.millis())
            .set("last_used_at", now.millis())
            // Rebinds a session bound to the legacy fingerprint form (see `devices`).
            .set("device", self.device.current.as_str())
            // An upper bound of the expiry (the absolute lifetime may end sooner): TTL only
            // cleans up, every read compares the timestamps themselves.
            .set(TTL, now.plus(self.lifetimes.idle).secs())
            .add("generation", 1)
            .when(Condition::Eq("current_hash".into(), p.hash.clone().into()).and(extra))
    }

    /// The allowance left after a charge on the family, when this refresh carries one.
    fn charged(&self, p: &Presented, fam: &Item) -> Option<Allowance> {
        self.charge
            .as_ref()
            .map(|c| c.limiter.charged(&p.key, fam, c.policy, self.now))
    }

    fn refreshed(
        &self,
        p: &Presented,
        fam: &Family,
        expires_at: Timestamp,
        allowance: Option<Allowance>,
    ) -> Refreshed {
        Refreshed {
            user_id: p.user_id.clone(),
            sid: p.sid.clone(),
            token: token(&p.user_id, &p.sid, &p.next),
            auth_time: fam.auth_time,
            expires_at,
            grant: fam.grant,
            allowance,
        }
    }

    /// Hot path: one conditional write rotates a current, live token presented from its
    /// device (and charges the deferred rate limit on the family). `None`: not this path.
    async fn hot_path(&self, p: &Presented) -> Result<Option<Refreshed>> {
        let (now, l) = (self.now, self.lifetimes);
        let live = Condition::eq("device", self.device.current.as_str())
            .and(Condition::gt("created_at", now.minus(l.absolute).millis()))
            .and(Condition::gt("last_used_at", now.minus(l.idle).millis()));
        let hot = match &self.charge {
            Some(c) => {
                let [likelier, _] = c.limiter.riders(&p.key, c.policy, now);
                self.rotation(p, live).and(likelier)
            }
            None => self.rotation(p, live),
        };
        match self.table.update(&p.key, hot).await {
            Ok(item) => {
                let fam = Family::from_item(&item);
                let expires_at = expiry(fam.created_at, now.millis(), l);
                Ok(Some(self.refreshed(
                    p,
                    &fam,
                    expires_at,
                    self.charged(p, &item),
                )))
            }
            Err(Error::ConditionFailed) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Off the hot path (a refused, forged, duplicate or rate-limited token): charge the
    /// client's IP before reading anything, as the guard would have.
    async fn charge_client(&self) -> Result<()> {
        let Some(c) = &self.charge else {
            return Ok(());
        };
        let ip = c
            .limiter
            .admit(self.table, &c.ip_bucket, Bucket::Client, c.policy, self.now)
            .await?;
        match ip {
            Decision::Limited { retry_after } => Err(Error::TooManyRequests { retry_after }),
            _ => Ok(()),
        }
    }

    /// One look at the family as read: expired, reused, from another device, within the
    /// grace window, or to be rotated.
    async fn look(&self, p: &Presented, item: &Item) -> Result<Looked> {
        let (now, l) = (self.now, self.lifetimes);
        let fam = Family::from_item(item);
        if fam.expiry(l) <= now {
            self.table.delete(&p.key, None).await?;
            return Err(Error::Unauthorized);
        }
        let is_current = fam.holds(&p.hash, true);
        let in_grace = fam.holds(&p.hash, false)
            && fam.holds(&p.next_hash, true)
            && fam.rotated_at.is_some_and(|r| now.since(r) <= l.grace);
        if !is_current && !in_grace {
            return self.reused(p, &fam).await.map(|r| Looked::Done(Err(r)));
        }
        if !self.device.matches(fam.device.as_deref()) {
            return self.device_changed(p).await;
        }
        if in_grace {
            let expires_at = fam.expiry(l);
            return Ok(Looked::Done(Ok(self.refreshed(p, &fam, expires_at, None))));
        }
        let expires_at = expiry(fam.created_at, now.millis(), l);
        let rotate = match &self.charge {
            Some(c) => match c.policy.case_for(item, now) {
                Ok(rider) => self.rotation(p, Condition::Exists).and(rider),
                Err(retry_after) => return Err(Error::TooManyRequests { retry_after }),
            },
            None => self.rotation(p, Condition::Exists),
        };
        match self.table.update(&p.key, rotate).await {
            Ok(item) => {
                let allowance = self.charged(p, &item);
                let fam = Family::from_item(&item);
                Ok(Looked::Done(Ok(
                    self.refreshed(p, &fam, expires_at, allowance)
                )))
            }
            Err(Error::ConditionFailed) => Ok(Looked::LostRace),
            Err(e) => Err(e),
        }
    }

    /// A token that is neither current nor the grace-window predecessor. Only a token this
    /// family really issued proves reuse (its successors lead to the current hash): then it was
    /// stolen or replayed, and everything the user holds ends. Anything else is a forgery
    /// naming the session, refused without letting its sender end the victim's sessions.
    async fn reused(&self, p: &Presented, fam: &Family) -> Result<Refused> {
        let generation = fam.generation.clamp(0, MAX_GENERATIONS);
        let current = fam.current_hash.as_deref().unwrap_or_default();
        if !leads_to(self.keys, &p.secret, current, generation) {
            return Err(Error::Unauthorized);
        }
        revoke_all(self.table, &p.user_id, None).await?;
        let details = serde_json::json!({ "sid": p.sid });
        self.audit
            .record(
                self.meta,
                EventType::RefreshReuseDetected,
                Some(&p.user_id),
                details,
            )
            .await?;
        Ok(Refused::ReuseDetected {
            user_id: p.user_id.clone(),
        })
    }

    /// Another browser, or one whose signals changed beyond a version: a bystander may share a
    /// fingerprint and a real device may change, so this proves no theft. End this session
    /// only (reuse is the proof that ends everything).
    async fn device_changed(&self, p: &Presented) -> Result<Looked> {
        revoke(self.table, &p.user_id, &p.sid, self.now).await?;
        let details = serde_json::json!({ "sid": p.sid });
        self.audit
            .record(
                self.meta,
                EventType::DeviceMismatch,
                Some(&p.user_id),
                details,
            )
            .await?;
        Err(Error::Unauthorized)
    }
}

/// At most this many live revocation marks on a profile: one more revocation within an access
/// token's lifetime bumps the user's token epoch instead (every access token ends), so the
/// profile item the guard writes on every request stays small.
pub const MAX_REVOKED_MARKS: usize = 32;

/// Whether an access token of session `sid` issued under `epoch` is still good, as a condition
/// on the user's profile: the epoch is current and the session was not ended. The guard's
/// rate-limit write carries it, so the check costs no round trip of its own. `None` for a
/// session id this service never issues (no profile could satisfy it).
pub fn token_still_good(epoch: i64, sid: &str) -> Option<Condition> {
    if sid.is_empty() || !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let epoch_current = if epoch == 0 {
        Condition::AttributeNotExists(attr::TOKEN_EPOCH.into())
            .or(Condition::eq(attr::TOKEN_EPOCH, 0))
    } else {
        Condition::eq(attr::TOKEN_EPOCH, epoch)
    };
    Some(epoch_current.and(Condition::AttributeNotExists(attr::ended_session(sid))))
}

/// Ends one session of `user_id` (logout, the user revoking a device, a fingerprint that no
/// longer matches) and the access tokens it issued: one transaction deletes the family and
/// marks the session on the profile, pruning marks older than an access token's lifetime.
/// Idempotent.
pub async fn revoke(table: &dyn Table, user_id: &str, sid: &str, now: Timestamp) -> Result<()> {
    let family = session_key(user_id, sid);
    let Some(profile) = read_profile(table, user_id).await? else {
        return table.delete(&family, None).await;
    };
    let mark = attr::ended_session(sid);
    // The other sessions' marks, and whether each still matters.
    let others: Vec<(String, bool)> = profile
        .ended_sessions
        .iter()
        .filter(|(ended, _)| *ended != sid)
        .map(|(ended, until)| (attr::ended_session(ended), until.is_some_and(|u| u > now)))
        .collect();
    let live = others.iter().filter(|(_, live)| *live).count();
    let (update, drop_live) = if live >= MAX_REVOKED_MARKS {
        // Too many at once: end every access token of the user instead; the marks are moot.
        (Update::new().add(attr::TOKEN_EPOCH, 1), true)
    } else {
        // Access tokens live ACCESS_TTL; a minute more covers clock skew between instances.
        let until = now.plus(ACCESS_TTL + Duration::from_secs(60)).millis();
        (Update::new().set(&mark, until), false)
    };
    let update = others
        .into_iter()
        .filter(|(_, live)| drop_live || !live)
        .fold(update, |u, (name, _)| u.remove(&name));
    table
        .transact(vec![
            TxOp::Delete {
                key: family,
                condition: None,
            },
            TxOp::Update {
                key: profile_key(user_id),
                update: update.when(Condition::Exists),
            },
        ])
        .await
}

/// Logout: ends the session the presented token belongs to, if it is the session's current
/// token or its grace-window predecessor (only the holder may end a session; nothing rotates).
/// Returns the user id and session id that ended, if any.
pub async fn end(
    table: &dyn Table,
    presented: &str,
    now: Timestamp,
    l: Lifetimes,
) -> Result<Option<(String, String)>> {
    let Some((user_id, sid, secret)) = parse(presented) else {
        return Ok(None);
    };
    let key = session_key(&user_id, &sid);
    let Some(item) = table.get(&key).await? else {
        return Ok(None);
    };
    let fam = Family::from_item(&item);
    let h = hash(&secret);
    let holder = fam.holds(&h, true)
        || (fam.holds(&h, false) && fam.rotated_at.is_some_and(|r| now.since(r) <= l.grace));
    if !holder {
        return Ok(None);
    }
    revoke(table, &user_id, &sid, now).await?;
    Ok(Some((user_id, sid)))
}

/// Ends every session of `user_id` except `keep`, and invalidates every access token issued so
/// far (bumps `token_epoch`; the kept session moves to the new epoch).
pub async fn revoke_all(table: &dyn Table, user_id: &str, keep: Option<&str>) -> Result<Revoked> {
    let epoch = match table
        .update(
            &profile_key(user_id),
            Update::new()
                .add(attr::TOKEN_EPOCH, 1)
                .when(Condition::Exists),
        )
        .await
    {
        Ok(profile) => Some(Profile::from_item(&profile)?.token_epoch),
        Err(Error::ConditionFailed) => None,
        Err(e) => return Err(e),
    };
    let families = query_all(
        table,
        Query::partition(crate::table::schema::user_partition(user_id))
            .sort(SortKey::BeginsWith("SESSION#".into())),
    )
    .await?;
    let mut ended = 0;
    for f in families.iter().map(Family::from_item) {
        let Some(sid) = f.sid.as_deref() else {
            continue;
        };
        if Some(sid) != keep {
            // The epoch bump above has ended the access tokens already.
            table.delete(&session_key(user_id, sid), None).await?;
            ended += 1;
        } else if let Some(epoch) = epoch {
            // The kept session continues under the new epoch with full scope (its holder has
            // just proved the new password).
            let update = Update::new()
                .set("token_epoch", epoch)
                .set("scope", scope_str(Scope::Full))
                .when(Condition::Exists);
            match table.update(&session_key(user_id, sid), update).await {
                Ok(_) | Err(Error::ConditionFailed) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(Revoked { ended, epoch })
}

/// What [`revoke_all`] did.
#[derive(Debug, Clone, Copy)]
pub struct Revoked {
    /// Sessions ended.
    pub ended: usize,
    /// The user's token epoch now (`None` if the user does not exist).
    pub epoch: Option<i64>,
}

/// The user's live sessions, newest first.
pub async fn list(
    table: &dyn Table,
    user_id: &str,
    now: Timestamp,
    l: Lifetimes,
) -> Result<Vec<SessionInfo>> {
    let families = query_all(
        table,
        Query::partition(crate::table::schema::user_partition(user_id))
            .sort(SortKey::BeginsWith("SESSION#".into())),
    )
    .await?;
    let mut out: Vec<(i64, SessionInfo)> = families
        .iter()
        .map(Family::from_item)
        .filter(|f| f.expiry(l) > now)
        .filter_map(|f| {
            Some((
                f.created_at,
                SessionInfo {
                    id: f.sid?,
                    device: f.device?.chars().take(12).collect(),
                    created_at: Timestamp(f.created_at).to_rfc3339(),
                    last_used_at: Timestamp(f.last_used_at).to_rfc3339(),
                },
            ))
        })
        .collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.0));
    Ok(out.into_iter().map(|(_, s)| s).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_tokens_do_not_parse() {
        let good = format!("{}.{}.{}", "a".repeat(32), "b".repeat(32), b64(&[0u8; 32]));
        assert!(parse(&good).is_some());
        for bad in [
            "".to_string(),
            format!("{}.{}", "a".repeat(32), "b".repeat(32)),
            format!("{}.{}.{}", "a".repeat(31), "b".repeat(32), b64(&[0u8; 32])),
            format!("{}.{}.{}", "a".repeat(32), "b".repeat(32), b64(&[0u8; 31])),
            format!("{good}.x"),
        ] {
            assert!(parse(&bad).is_none(), "{bad}");
        }
    }
}
