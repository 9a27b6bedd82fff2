//! The audit log: every security event, append-only, tamper-evident, and sharded so that it
//! grows with the deployment.
//!
//! **Shards.** Entries are spread over shards ([`layout`]: 16 by default, raised in the table),
//! each a chain in its own partition `{log}#{shard:03}`: entry *n* stores `prev` = hash of entry
//! *n − 1* and `hash` = SHA-256 over its canonical encoding (a version tag, shard, seq, prev,
//! time, event type, pseudonymous user id, request id, details, the encrypted personal part and
//! the IP tag; each length-prefixed, so no field can bleed into another). A user's events stay
//! in one shard, in order (chosen when the account is created and recorded on the profile);
//! events without a user go by address tag. An append is one transaction on its shard only: the
//! new entry (`NotExists`) and the shard's head conditioned on the sequence number the appender
//! read, so concurrent writers can neither fork nor reorder a chain, and writers on different
//! shards never meet. A loser retries a bounded number of times with jittered, growing waits
//! ([`MAX_ATTEMPTS`]; retries are counted), then fails closed.
//!
//! **What proves what.** The head carries an HMAC under a server key, which shows a rewrite by
//! someone who can write the table but not read the secret. Every function can read the secret,
//! so the proof that holds against a compromised function is the signed digest ([`digest`]):
//! on the schedule the scan records every shard's head and low-water mark, chained to the
//! previous digest and signed with a KMS key only the scan may use, in the table and in an
//! Object Lock bucket. [`verify`] checks chains, digests and completeness.
//!
//! Personal data (IP address, user agent) is encrypted under the user's data key (or, for events
//! without a user, under a cached system data key), so shredding a user's key erases it while the
//! chain still verifies (the ciphertext is what is hashed). Detection uses `ip_tag`, an HMAC of
//! the IP under a key of the day ([`crate::address`]), which groups events by address without
//! storing it and cannot be reversed once the day's key is destroyed. Details are structured JSON,
//! stored as one string attribute: a newline or fake JSON in a value stays escaped in one entry.
//!
//! Retention: entries expire by TTL after `WARDEN_AUDIT_RETENTION` (default 400 days); below a
//! shard's low-water mark absence is retention, above it absence is tampering.

pub mod digest;
pub mod layout;
pub mod verify;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::hmac;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::address::AddressTags;
use crate::clock::{Clock, Timestamp};
use crate::crypto::envelope;
use crate::crypto::server_secret::framed;
use crate::crypto::user_keys::UserKeys;
use crate::keys::{DataKey, EncryptionContext, Keys};
use crate::table::schema::{GSI1, TTL};
use crate::table::{Condition, Item, Key, Query, SortKey, Table, TxOp, UnitOfWork};
use crate::{Error, Result};

pub use layout::{DEFAULT_SHARDS, Layout};
pub use verify::{Problem, ShardReport, VerifyReport};

/// The log's name: its shards are the partitions `AUDIT#000`, `AUDIT#001`, … (tests give each
/// log its own with [`AuditLog::in_namespace`]).
const NAMESPACE: &str = "AUDIT";
/// Messages one cached system data key may protect before a new one is generated.
const SYSTEM_KEY_MAX_MESSAGES: u32 = 10_000;
const SYSTEM_KEY_MAX_AGE: Duration = Duration::from_secs(300);
/// Attempts one append makes on a contended head before it fails closed (503).
pub const MAX_ATTEMPTS: u32 = 32;
/// The longest wait between two attempts (the wait is random below a cap that doubles from
/// 2 ms).
const MAX_BACKOFF_MS: u64 = 128;
/// Per-user shard lookups a process remembers (only consulted after a shard count raise).
const USER_SHARD_CACHE: usize = 100_000;
/// The profile attribute that records a user's shard.
pub const PROFILE_SHARD: &str = "audit_shard";

/// The kinds of security event Warden records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// An account was created for an address that awaits verification.
    UserRegistered,
    /// Someone registered an address that has a verified account (its holder was told).
    RegistrationAddressTaken,
    /// A fresh verification link went to an address awaiting verification.
    VerificationResent,
    /// The address was verified: the account is active.
    EmailVerified,
    /// A correct password for an account whose address is not verified yet: no session.
    LoginRefusedUnverified,
    LoginSucceeded,
    LoginFailed,
    AccountLocked,
    AccountUnlocked,
    PasswordChanged,
    /// Someone asked for a password reset link (`sent`: whether one went out).
    PasswordResetRequested,
    /// The password was reset through a link: every session ended, the lock cleared.
    PasswordReset,
    /// The account's address is to change (a link went to the new address, or a notice when it
    /// is taken).
    EmailChangeRequested,
    /// The change was confirmed from the new address.
    EmailChanged,
    /// The old address undid a change: every session ended.
    EmailChangeReverted,
    PasswordBreachDetected,
    BreachCheckUnavailable,
    NewDevice,
    RefreshReuseDetected,
    DeviceMismatch,
    SessionRevoked,
    SessionsRevokedAll,
    Logout,
    /// Someone not signed in asked for a privacy request (`regime`, `type`; a link went to the
    /// address, which the entry does not name).
    PrivacyRequestAsked,
    /// Written by the privacy request workflows (GDPR/CCPA) when they exist.
    PrivacyRequestReceived,
    PrivacyRequestCompleted,
    /// An open request ended without its result (an export cancelled by the erasure).
    PrivacyRequestCancelled,
    /// An operator extended a request's deadline (`operator`, the new `due_at`).
    PrivacyRequestExtended,
    /// An operator denied a request (`operator`, `basis`).
    PrivacyRequestDenied,
    /// An operator verified a request that waited for one (`operator`, `by_agent`): it runs.
    PrivacyRequestVerified,
    /// An operator recorded a downstream recipient's acknowledgement (`operator`, `recipient`,
    /// `remaining`).
    PrivacyRequestAcknowledged,
    /// An operator placed a legal hold on an account (`operator`, `hold_id`, `categories`).
    LegalHoldPlaced,
    /// An operator lifted a legal hold (`operator`, `hold_id`, `copy_deleted`: whether an
    /// erasure had sealed a copy, now deleted with its key).
    LegalHoldReleased,
    /// A user asked about a privacy request that is not theirs.
    PrivacyAccessDenied,
    /// The CCPA opt-out of sale and sharing was recorded (by request or Global Privacy Control).
    OptOutRecorded,
    /// The user opted back in to sale and sharing (a confirmed two-step request).
    OptInRecorded,
    /// Written by the security monitor for each protective action it takes.
    MonitorAction,
    /// A second factor was enrolled (`method`: `totp`), with a new set of recovery codes.
    MfaEnrolled,
    /// A second factor was removed, with the account's recovery codes.
    MfaRemoved,
    /// A correct password for an account with a second factor: the sign-in's second step was
    /// asked for.
    MfaRequired,
    /// A wrong second-factor code (`method`: `totp` or `recovery`) after a correct password.
    MfaFailed,
    /// A recovery code completed a sign-in (`remaining`: how many are left).
    RecoveryCodeUsed,
}

impl EventType {
    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// Who asked: the request id, client IP and user agent of the request an event belongs to.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub request_id: String,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// The personal part of an entry, encrypted at rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Personal {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Where an entry sits: its shard and its position in the shard's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryId {
    pub shard: u32,
    pub seq: u64,
}

/// One entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub shard: u32,
    pub seq: u64,
    pub prev: Vec<u8>,
    pub hash: Vec<u8>,
    pub at: Timestamp,
    pub event: String,
    pub user_id: Option<String>,
    pub request_id: String,
    pub details: String,
    pub personal: Vec<u8>,
    /// The client address's tag under the key of the event's day, and under the previous day's
    /// (empty when it had none): the monitor links one address's events across midnight by
    /// either. Both keys are destroyed within two days ([`crate::address`]).
    pub ip_tag: String,
    pub ip_tag_prev: String,
}

impl AuditEntry {
    pub fn id(&self) -> EntryId {
        EntryId {
            shard: self.shard,
            seq: self.seq,
        }
    }

    fn canonical(&self) -> Vec<u8> {
        framed(&[
            b"warden-audit-v2",
            &self.shard.to_be_bytes(),
            &self.seq.to_be_bytes(),
            &self.prev,
            &self.at.millis().to_be_bytes(),
            self.event.as_bytes(),
            self.user_id.as_deref().unwrap_or("").as_bytes(),
            self.request_id.as_bytes(),
            self.details.as_bytes(),
            &self.personal,
            self.ip_tag.as_bytes(),
            self.ip_tag_prev.as_bytes(),
        ])
    }

    /// The SHA-256 of the canonical encoding (public: the algorithm is no secret).
    pub fn computed_hash(&self) -> Vec<u8> {
        digest(&SHA256, &self.canonical()).as_ref().to_vec()
    }

    fn to_item(&self, key: Key, expires: Timestamp) -> Item {
        let mut item = Item::new(&key)
            .with("shard", i64::from(self.shard))
            .with("seq", self.seq as i64)
            .with("prev", self.prev.clone())
            .with("hash", self.hash.clone())
            .with("at", self.at.millis())
            .with("event", self.event.as_str())
            .with("request_id", self.request_id.as_str())
            .with("details", self.details.as_str())
            .with("personal", self.personal.clone())
            .with("ip_tag", self.ip_tag.as_str())
            .with("ip_tag_prev", self.ip_tag_prev.as_str())
            .with(TTL, expires.secs());
        if let Some(u) = &self.user_id {
            item.set("user_id", u.as_str());
            item.set(GSI1.pk, format!("AUDITUSER#{u}"));
            // Time first: a user's events read in the order they happened.
            item.set(
                GSI1.sk,
                format!(
                    "{:013}#{:04}#{:020}",
                    self.at.millis(),
                    self.shard,
                    self.seq
                ),
            );
        }
        item
    }

    pub fn from_item(i: &Item) -> Result<Self> {
        let bad = || Error::Malformed("audit entry");
        Ok(AuditEntry {
            shard: u32::try_from(i.n("shard").ok_or_else(bad)?).map_err(|_| bad())?,
            seq: i.n("seq").ok_or_else(bad)? as u64,
            prev: i.b("prev").ok_or_else(bad)?.to_vec(),
            hash: i.b("hash").ok_or_else(bad)?.to_vec(),
            at: Timestamp(i.n("at").ok_or_else(bad)?),
            event: i.s("event").ok_or_else(bad)?.to_string(),
            user_id: i.s("user_id").map(str::to_string),
            request_id: i.s("request_id").unwrap_or("").to_string(),
            details: i.s("details").unwrap_or("").to_string(),
            personal: i.b("personal").unwrap_or_default().to_vec(),
            ip_tag: i.s("ip_tag").unwrap_or("").to_string(),
            ip_tag_prev: i.s("ip_tag_prev").unwrap_or("").to_string(),
        })
    }
}

struct SystemKey {
    at: Timestamp,
    used: u32,
    key: DataKey,
}

pub struct AuditLog {
    table: Arc<dyn Table>,
    keys: Arc<dyn Keys>,
    user_keys: Arc<UserKeys>,
    clock: Arc<dyn Clock>,
    signing: hmac::Key,
    ip_tags: AddressTags,
    retention: Duration,
    namespace: String,
    /// Appends of this process queue per shard, so they do not race each other for a head.
    queues: Mutex<HashMap<u32, Arc<tokio::sync::Mutex<()>>>>,
    system_key: Mutex<Option<SystemKey>>,
    /// The head of each shard this process last wrote or read: the next append tries it without
    /// a read and falls back to reading the head only when another writer has moved it.
    heads: Mutex<HashMap<u32, (u64, Vec<u8>)>>,
    layout: Mutex<Option<(Timestamp, Arc<Layout>)>>,
    user_shards: Mutex<HashMap<String, u32>>,
    retries: AtomicU64,
    /// Every shard's head was read once (see [`AuditLog::warm_heads`]); concurrent first
    /// appends wait for the one read.
    warmed: tokio::sync::OnceCell<()>,
}

fn system_context() -> EncryptionContext {
    EncryptionContext::new().with("purpose", "audit-personal")
}

fn poisoned() -> Error {
    Error::Internal("audit log state lock poisoned".into())
}

impl AuditLog {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        table: Arc<dyn Table>,
        keys: Arc<dyn Keys>,
        user_keys: Arc<UserKeys>,
        clock: Arc<dyn Clock>,
        signing: hmac::Key,
        ip_tags: AddressTags,
        retention: Duration,
    ) -> Self {
        AuditLog {
            table,
            keys,
            user_keys,
            clock,
            signing,
            ip_tags,
            retention,
            namespace: NAMESPACE.to_string(),
            queues: Mutex::new(HashMap::new()),
            system_key: Mutex::new(None),
            heads: Mutex::new(HashMap::new()),
            layout: Mutex::new(None),
            user_shards: Mutex::new(HashMap::new()),
            retries: AtomicU64::new(0),
            warmed: tokio::sync::OnceCell::new(),
        }
    }

    /// The same log under another name (a separate set of shards, layout and digests).
    pub fn in_namespace(mut self, namespace: &str) -> Self {
        self.namespace = namespace.to_string();
        self
    }

    /// The log's name (the monitor keeps its state per log).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// How long entries are kept.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// Attempts that lost a race for a head and were retried, since this log was made.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// The partition of `shard`'s chain.
    pub fn shard_partition(&self, shard: u32) -> String {
        format!("{}#{shard:03}", self.namespace)
    }

    /// The key of entry `seq` of `shard`.
    pub fn entry_key(&self, shard: u32, seq: u64) -> Key {
        Key::new(
            self.shard_partition(shard),
            format!("{ENTRY_PREFIX}{seq:020}"),
        )
    }

    /// Every entry of `shard`, in order (the head, in the same partition, is not one).
    pub fn entries_of(&self, shard: u32) -> Query {
        Query::partition(self.shard_partition(shard)).sort(SortKey::BeginsWith(ENTRY_PREFIX.into()))
    }

    /// `shard`'s head, `None` while the shard has no entry.
    pub async fn head(&self, shard: u32) -> Result<Option<ShardHead>> {
        Ok(self
            .table
            .get(&self.head_key(shard))
            .await?
            .as_ref()
            .map(ShardHead::from_item))
    }

    pub fn head_key(&self, shard: u32) -> Key {
        Key::new(self.shard_partition(shard), "HEAD")
    }

    /// The pseudonymous tags of a client address (today's and yesterday's key), as stored in
    /// entries and used by counters, detectors and blocks.
    pub async fn address_tags(&self, ip: IpAddr) -> Result<crate::address::Tag> {
        self.ip_tags.tags(ip).await
    }

    /// The tags of a device fingerprint, as audit entries name a device.
    pub async fn device_tags(&self, fingerprint: &str) -> Result<crate::address::Tag> {
        self.ip_tags.device_tags(fingerprint).await
    }

    /// The layout, re-read at most every [`layout::REFRESH`].
    pub async fn layout(&self) -> Result<Arc<Layout>> {
        let now = self.clock.now();
        if let Some((at, l)) = self.layout.lock().map_err(|_| poisoned())?.as_ref()
            && now.since(*at) < layout::REFRESH
        {
            return Ok(l.clone());
        }
        let item = self.table.get(&layout::key(&self.namespace)).await?;
        let l = Arc::new(Layout::from_item(item.as_ref())?);
        *self.layout.lock().map_err(|_| poisoned())? = Some((now, l.clone()));
        Ok(l)
    }

    /// Raises the shard count (see [`layout::raise`]); this process sees it at once.
    pub async fn raise_shards(&self, count: u32) -> Result<layout::Generation> {
        let g = layout::raise(
            self.table.as_ref(),
            &self.namespace,
            count,
            self.clock.now(),
        )
        .await?;
        *self.layout.lock().map_err(|_| poisoned())? = None;
        Ok(g)
    }

    /// The shard a new account's events go to, recorded on its profile at creation.
    pub async fn shard_for_new_user(&self, user_id: &str) -> Result<u32> {
        let layout = self.layout().await?;
        let shard = layout::place(user_id, layout.count_at(self.clock.now()));
        self.remember_shard(user_id, shard);
        Ok(shard)
    }

    /// Tells the log a user's shard (read from their profile), saving it a lookup.
    pub fn remember_shard(&self, user_id: &str, shard: u32) {
        if let Ok(mut c) = self.user_shards.lock() {
            if c.len() >= USER_SHARD_CACHE {
                c.clear();
            }
            c.insert(user_id.to_string(), shard);
        }
    }

    /// A user's shard. While the layout never changed, it follows from the id; after a raise it
    /// is what was recorded at the account's creation (an item of its own, readable without the
    /// profile), or for an account older than any raise, its placement under the first layout.
    async fn user_shard(&self, user_id: &str) -> Result<u32> {
        let layout = self.layout().await?;
        if layout.is_single() {
            return Ok(layout::place(user_id, layout.shards()));
        }
        if let Some(s) = self
            .user_shards
            .lock()
            .map_err(|_| poisoned())?
            .get(user_id)
        {
            return Ok(*s);
        }
        let recorded = self
            .table
            .get(&user_shard_key(user_id))
            .await?
            .and_then(|i| i.n("shard"))
            .and_then(|s| u32::try_from(s).ok());
        let shard = recorded.unwrap_or_else(|| layout::place(user_id, layout.first_count()));
        self.remember_shard(user_id, shard);
        Ok(shard)
    }

    async fn shard_of(&self, user_id: Option<&str>, ip_tag: &str, request_id: &str) -> Result<u32> {
        match user_id {
            Some(u) => self.user_shard(u).await,
            None => {
                let layout = self.layout().await?;
                let by = if ip_tag.is_empty() {
                    request_id
                } else {
                    ip_tag
                };
                Ok(layout::place(by, layout.count_at(self.clock.now())))
            }
        }
    }

    fn sign(&self, shard: u32, seq: u64, hash: &[u8]) -> Vec<u8> {
        hmac::sign(&self.signing, &head_message(shard, seq, hash))
            .as_ref()
            .to_vec()
    }

    fn head_signature_ok(&self, shard: u32, head: &ShardHead) -> bool {
        hmac::verify(
            &self.signing,
            &head_message(shard, head.seq, &head.hash),
            &head.sig,
        )
        .is_ok()
    }

    /// Encrypts the personal part: under the user's key, or a cached system data key (bounded
    /// by age and message count) when there is no user or the user's key is gone.
    async fn seal_personal(&self, user_id: Option<&str>, p: &Personal) -> Result<Vec<u8>> {
        let plain = serde_json::to_vec(p).map_err(|e| Error::internal("JSON encoding", e))?;
        if let Some(u) = user_id {
            match self.user_keys.seal(u, "audit.personal", &plain).await {
                Ok(c) => return Ok(c),
                Err(Error::Decryption) => {} // erased user: no personal data under their name
                Err(e) => return Err(e),
            }
            return self.seal_system(b"{}").await;
        }
        self.seal_system(&plain).await
    }

    async fn seal_system(&self, plain: &[u8]) -> Result<Vec<u8>> {
        let now = self.clock.now();
        let cached = {
            let mut g = self.system_key.lock().map_err(|_| poisoned())?;
            match g.as_mut() {
                Some(k)
                    if k.used < SYSTEM_KEY_MAX_MESSAGES && now.since(k.at) < SYSTEM_KEY_MAX_AGE =>
                {
                    k.used += 1;
                    Some((k.key.plaintext.clone(), k.key.wrapped.clone()))
                }
                _ => None,
            }
        };
        let (plaintext, wrapped) = match cached {
            Some(k) => k,
            None => {
                let dk = self.keys.generate_data_key(&system_context()).await?;
                let out = (dk.plaintext.clone(), dk.wrapped.clone());
                *self.system_key.lock().map_err(|_| poisoned())? = Some(SystemKey {
                    at: now,
                    used: 1,
                    key: dk,
                });
                out
            }
        };
        envelope::seal_with_key(&plaintext, &wrapped, &system_context(), plain)
    }

    /// Decrypts an entry's personal part (fails once the user's key is shredded).
    pub async fn open_personal(&self, e: &AuditEntry) -> Result<Personal> {
        let env = envelope::Envelope::parse(&e.personal)?;
        let plain = match &e.user_id {
            Some(u) if env.key_field == format!("user:{u}").as_bytes() => {
                self.user_keys
                    .open(u, "audit.personal", &e.personal)
                    .await?
            }
            _ => envelope::open(self.keys.as_ref(), &system_context(), &e.personal).await?,
        };
        serde_json::from_slice(&plain).map_err(|_| Error::Decryption)
    }

    /// Appends one event (`AuditLogger.log_security_event`). Fails closed: if the entry cannot
    /// be written, the caller's operation fails.
    pub async fn record(
        &self,
        meta: &RequestMeta,
        event: EventType,
        user_id: Option<&str>,
        details: Value,
    ) -> Result<EntryId> {
        self.commit(UnitOfWork::new(), meta, event, user_id, details)
            .await
    }

    /// Commits `work` with this event's entry, as one transaction: the operation's writes land
    /// if and only if their event does (a login's session and its `login_succeeded` entry). The
    /// log is a participant like the others: it adds its entry and its shard's head, and
    /// retries its own part when another writer moved the head. Should one of `work`'s writes
    /// fail its condition, nothing is written and the error is
    /// [`Error::TransactionCancelled`] naming that write's [`crate::table::Slot`].
    pub async fn commit(
        &self,
        work: UnitOfWork,
        meta: &RequestMeta,
        event: EventType,
        user_id: Option<&str>,
        details: Value,
    ) -> Result<EntryId> {
        self.append(meta, event, user_id, details, None, work.into_ops())
            .await?
            .ok_or_else(|| Error::Internal("an unconditional append was refused".into()))
    }

    /// As [`AuditLog::record`], but at most once per `once` key (kept as long as the entries):
    /// `Ok(None)` when an entry with this key was already appended. A step that may be retried
    /// (the erasure's completion) records its event this way, so a retry never adds a second.
    pub async fn record_once(
        &self,
        once: &str,
        meta: &RequestMeta,
        event: EventType,
        user_id: Option<&str>,
        details: Value,
    ) -> Result<Option<EntryId>> {
        self.append(meta, event, user_id, details, Some(once), Vec::new())
            .await
    }

    fn queue(&self, shard: u32) -> Result<Arc<tokio::sync::Mutex<()>>> {
        Ok(self
            .queues
            .lock()
            .map_err(|_| poisoned())?
            .entry(shard)
            .or_default()
            .clone())
    }

    async fn append(
        &self,
        meta: &RequestMeta,
        event: EventType,
        user_id: Option<&str>,
        details: Value,
        once: Option<&str>,
        with: Vec<TxOp>,
    ) -> Result<Option<EntryId>> {
        let personal = Personal {
            ip: meta.ip.map(|ip| ip.to_string()),
            user_agent: meta.user_agent.clone(),
        };
        let sealed = self.seal_personal(user_id, &personal).await?;
        let (ip_tag, ip_tag_prev) = match meta.ip {
            Some(ip) => {
                let t = self.address_tags(ip).await?;
                (t.current, t.previous.unwrap_or_default())
            }
            None => Default::default(),
        };
        let details =
            serde_json::to_string(&details).map_err(|e| Error::internal("JSON encoding", e))?;
        let shard = self.shard_of(user_id, &ip_tag, &meta.request_id).await?;
        self.warm_heads().await?;
        let queue = self.queue(shard)?;
        let _queued = queue.lock().await;
        let mut waited = 0u32;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let cached = self.heads.lock().map_err(|_| poisoned())?.remove(&shard);
            let from_cache = cached.is_some();
            let (seq, prev) = match cached {
                Some(head) => head,
                None => self.read_head(shard).await?,
            };
            let exists = seq > 0;
            let now = self.clock.now();
            let mut entry = AuditEntry {
                shard,
                seq: seq + 1,
                prev,
                hash: Vec::new(),
                at: now,
                event: event.as_str(),
                user_id: user_id.map(str::to_string),
                request_id: meta.request_id.clone(),
                details: details.clone(),
                personal: sealed.clone(),
                ip_tag: ip_tag.clone(),
                ip_tag_prev: ip_tag_prev.clone(),
            };
            entry.hash = entry.computed_hash();
            let expires = now.plus(self.retention);
            let mut ops = vec![
                TxOp::Put {
                    item: entry.to_item(self.entry_key(shard, entry.seq), expires),
                    condition: Some(Condition::NotExists),
                },
                TxOp::Put {
                    item: Item::new(&self.head_key(shard))
                        .with("shard", i64::from(shard))
                        .with("seq", entry.seq as i64)
                        .with("hash", entry.hash.clone())
                        .with("at", now.millis())
                        .with("sig", self.sign(shard, entry.seq, &entry.hash)),
                    condition: Some(if exists {
                        Condition::eq("seq", seq as i64)
                    } else {
                        Condition::NotExists
                    }),
                },
            ];
            let once_op = once.map(|key| {
                ops.push(TxOp::Put {
                    item: Item::new(&Key::new(&self.namespace, format!("ONCE#{key}")))
                        .with("shard", i64::from(shard))
                        .with("seq", entry.seq as i64)
                        .with(TTL, expires.secs()),
                    condition: Some(Condition::NotExists),
                });
                ops.len() - 1
            });
            // The caller's writes go first, so their positions in the transaction are theirs.
            let theirs = with.len();
            let once_op = once_op.map(|i| i + theirs);
            let ops: Vec<TxOp> = with.iter().cloned().chain(ops).collect();
            match self.table.transact(ops).await {
                Ok(()) => {
                    if let Ok(mut h) = self.heads.lock() {
                        h.insert(shard, (entry.seq, entry.hash.clone()));
                    }
                    tracing::info!(
                        target: "warden::audit",
                        shard,
                        seq = entry.seq,
                        event = %entry.event,
                        user_id = user_id.unwrap_or("-"),
                        request_id = %meta.request_id,
                        details = %entry.details,
                        "security event"
                    );
                    if let Some(metric) = crate::metrics::Metric::of_event(event) {
                        crate::metrics::count(metric);
                    }
                    return Ok(Some(entry.id()));
                }
                Err(Error::TransactionCancelled { failed, current })
                    if failed.iter().any(|i| *i < theirs) =>
                {
                    return Err(Error::TransactionCancelled {
                        failed: failed.into_iter().filter(|i| *i < theirs).collect(),
                        current: crate::error::FailedItems(
                            current.0.into_iter().filter(|(i, _)| *i < theirs).collect(),
                        ),
                    });
                }
                Err(Error::TransactionCancelled { failed, .. })
                    if once_op.is_some_and(|i| failed.contains(&i)) =>
                {
                    // Already recorded; the cached head may be stale, so read it next time.
                    return Ok(None);
                }
                // Another writer appended first. The cancellation carries the head it left:
                // the first retry goes at once from there; later ones wait a random time below
                // a growing cap (a head that keeps moving under us means many writers).
                Err(Error::TransactionCancelled { current, .. }) if attempts < MAX_ATTEMPTS => {
                    self.retried();
                    let head = current.at(theirs + 1).map(|h| head_of(Some(h)));
                    let known = head.is_some();
                    if let Some(head) = head {
                        self.heads
                            .lock()
                            .map_err(|_| poisoned())?
                            .insert(shard, head);
                    }
                    if (known || from_cache) && waited == 0 {
                        waited += 1;
                        continue;
                    }
                    self.backoff(&mut waited).await?;
                }
                // Cancelled by a transaction in flight on the same items (DynamoDB's
                // TransactionConflict): nothing is known, wait and read again.
                Err(Error::Conflict(_)) if attempts < MAX_ATTEMPTS => {
                    self.retried();
                    self.backoff(&mut waited).await?;
                }
                Err(Error::TransactionCancelled { .. }) | Err(Error::Conflict(_)) => {
                    tracing::warn!(shard, attempts, "audit append gave up on a contended shard");
                    return Err(Error::Unavailable("audit log contended".into()));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A shard's head as `(seq, hash)`; `(0, zeros)` while the shard is empty.
    async fn read_head(&self, shard: u32) -> Result<(u64, Vec<u8>)> {
        Ok(head_of(
            self.table.get(&self.head_key(shard)).await?.as_ref(),
        ))
    }

    /// Reads every shard's head once per process (all at once), so that the first append to a
    /// shard costs what any later one does — one transaction while the remembered head is
    /// current — whichever shard an event goes to (otherwise an event in a shard this process
    /// has not written yet would cost a read more, and the shard of a new account differs from
    /// that of an existing one: a timing signal).
    async fn warm_heads(&self) -> Result<()> {
        self.warmed
            .get_or_try_init(|| self.read_all_heads())
            .await
            .map(|_| ())
    }

    async fn read_all_heads(&self) -> Result<()> {
        let mut reads = tokio::task::JoinSet::new();
        for shard in 0..self.layout().await?.shards() {
            let (table, key) = (self.table.clone(), self.head_key(shard));
            reads.spawn(async move { (shard, table.get(&key).await) });
        }
        let mut found = Vec::new();
        while let Some(done) = reads.join_next().await {
            let (shard, head) = done.map_err(|e| Error::internal("an audit head read task", e))?;
            found.push((shard, head_of(head?.as_ref())));
        }
        let mut heads = self.heads.lock().map_err(|_| poisoned())?;
        for (shard, head) in found {
            heads.entry(shard).or_insert(head);
        }
        Ok(())
    }

    /// Counts one retry: in this log's counter and as a metric (a rising rate means a shard
    /// count too low for the load).
    fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        crate::metrics::count(crate::metrics::Metric::AuditAppendRetries);
    }

    /// Waits a random time below a cap that doubles with each wait (2 ms up to
    /// [`MAX_BACKOFF_MS`]): full jitter, so contending writers spread out.
    async fn backoff(&self, waited: &mut u32) -> Result<()> {
        let cap = (2u64 << (*waited).min(6)).min(MAX_BACKOFF_MS);
        *waited += 1;
        let r = u64::from(u16::from_be_bytes(crate::crypto::random_bytes::<2>()?));
        tokio::time::sleep(Duration::from_micros(r % (cap * 1000) + 1)).await;
        Ok(())
    }

    /// Entries of `shard` after `after_seq`, in order, at most `limit` (the monitor's
    /// incremental read).
    pub async fn since(&self, shard: u32, after_seq: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        let mut out = Vec::new();
        let mut q = Query::partition(self.shard_partition(shard))
            .sort(SortKey::Between(
                self.entry_key(shard, after_seq + 1).sk,
                self.entry_key(shard, u64::MAX).sk,
            ))
            .limit(limit);
        while out.len() < limit {
            let page = self.table.query(q.clone()).await?;
            for i in &page.items {
                out.push(AuditEntry::from_item(i)?);
            }
            match page.next {
                Some(c) => q.start = Some(c),
                None => break,
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    /// The latest `limit` entries over every shard, newest first (the operator view).
    pub async fn recent(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        let mut all = Vec::new();
        for shard in 0..self.layout().await?.shards() {
            let page = self
                .table
                .query(self.entries_of(shard).backward().limit(limit))
                .await?;
            for i in &page.items {
                all.push(AuditEntry::from_item(i)?);
            }
        }
        all.sort_by_key(|e| std::cmp::Reverse((e.at, e.shard, e.seq)));
        all.truncate(limit);
        Ok(all)
    }

    /// One page of the entries about `user_id`, oldest first (the export streams them).
    pub async fn for_user_page(
        &self,
        user_id: &str,
        start: Option<crate::table::Cursor>,
    ) -> Result<(Vec<AuditEntry>, Option<crate::table::Cursor>)> {
        let page = self
            .table
            .query(
                Query::index(&GSI1, format!("AUDITUSER#{user_id}"))
                    .limit(500)
                    .start(start),
            )
            .await?;
        let entries = page
            .items
            .iter()
            .map(AuditEntry::from_item)
            .collect::<Result<_>>()?;
        Ok((entries, page.next))
    }

    /// Every entry about `user_id` (for exports), via the secondary index.
    pub async fn for_user(&self, user_id: &str) -> Result<Vec<AuditEntry>> {
        crate::table::query_all(
            self.table.as_ref(),
            Query::index(&GSI1, format!("AUDITUSER#{user_id}")),
        )
        .await?
        .iter()
        .map(AuditEntry::from_item)
        .collect()
    }
}

/// A shard's head as stored: the last entry's position and hash, when it was appended, and the
/// log's signature over shard, position and hash. An attribute a damaged item lacks reads as
/// zero or empty, so a verification reports the head as forged instead of failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardHead {
    pub seq: u64,
    pub hash: Vec<u8>,
    pub at: i64,
    pub sig: Vec<u8>,
}

impl ShardHead {
    fn from_item(h: &Item) -> Self {
        ShardHead {
            seq: h.n("seq").unwrap_or(0) as u64,
            hash: h.b("hash").unwrap_or_default().to_vec(),
            at: h.n("at").unwrap_or(0),
            sig: h.b("sig").unwrap_or_default().to_vec(),
        }
    }
}

/// A head item as `(seq, hash)`; an absent one (an empty shard) as seq 0 and a zero hash, the
/// `prev` of a shard's first entry.
fn head_of(item: Option<&Item>) -> (u64, Vec<u8>) {
    match item.map(ShardHead::from_item) {
        Some(h) => (h.seq, h.hash),
        None => (0, vec![0u8; 32]),
    }
}

/// The position (`seq`) and time (epoch milliseconds) of an entry item, read without the rest
/// of it (the digest's low-water mark of a shard; missing attributes read as the first position
/// and the epoch).
pub(crate) fn entry_mark(item: &Item) -> (u64, i64) {
    (item.n("seq").unwrap_or(1) as u64, item.n("at").unwrap_or(0))
}

/// The position an entry item is stored at, from its sort key (which the verification checks
/// against the chain, so it is not read from the entry's own `seq`).
pub(crate) fn entry_position(item: &Item) -> Option<u64> {
    item.s(crate::table::schema::SK)
        .and_then(|s| s.strip_prefix(ENTRY_PREFIX))
        .and_then(|s| s.parse().ok())
}

/// The sort-key prefix of a shard's entries.
const ENTRY_PREFIX: &str = "SEQ#";

/// Where an account's shard is recorded at its creation (beside the profile attribute
/// [`PROFILE_SHARD`]): a small item every appender may read without reading the profile.
pub fn user_shard_key(user_id: &str) -> Key {
    Key::new(format!("USERSHARD#{user_id}"), "AUDIT")
}

fn head_message(shard: u32, seq: u64, hash: &[u8]) -> Vec<u8> {
    framed(&[
        b"audit-head-v2",
        &shard.to_be_bytes(),
        &seq.to_be_bytes(),
        hash,
    ])
}
