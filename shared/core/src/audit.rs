//! The audit log: every security event, append-only and tamper-evident.
//!
//! Entries form one chain in the partition `AUDIT`: entry *n* stores `prev` = hash of entry
//! *n − 1* and `hash` = SHA-256 over its canonical encoding (a version tag, seq, prev, time, event
//! type, pseudonymous user id, request id, details, the encrypted personal part and the IP tag;
//! each length-prefixed, so no field can bleed into another). An append is one transaction: the
//! new entry (`NotExists`) and the head item conditioned on the sequence number the appender read,
//! so concurrent writers — in one process or many Lambdas — can neither fork nor reorder the
//! chain; a loser re-reads the head and retries. Within a process appends also queue on a mutex,
//! so they do not race each other for the head.
//!
//! An unkeyed hash chain can be recomputed by whoever can write the table, so the head and a
//! checkpoint every [`CHECKPOINT_EVERY`] entries carry an HMAC under a server key held through
//! `Keys`: rewriting or truncating the chain shows at the next checkpoint or at the head.
//! [`AuditLog::verify`] reports the first modified, deleted or reordered entry.
//!
//! Personal data (IP address, user agent) is encrypted under the user's data key (or, for events
//! without a user, under a cached system data key), so shredding a user's key erases it while the
//! chain still verifies (the ciphertext is what is hashed). Detection uses `ip_tag`, an HMAC of
//! the IP, which groups events by address without storing it. Details are structured JSON,
//! stored as one string attribute: a newline or fake JSON in a value stays escaped in one entry.
//!
//! Retention: entries expire by TTL after `WARDEN_AUDIT_RETENTION` (default 400 days);
//! verification starts at the oldest entry still present.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::constant_time::verify_slices_are_equal;
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
use crate::table::{Condition, Item, Key, Query, SortKey, Table, TxOp};
use crate::{Error, Result};

pub const CHECKPOINT_EVERY: u64 = 100;
/// The chain's partition (tests give each chain its own with [`AuditLog::in_partition`]).
const PARTITION: &str = "AUDIT";
/// Messages one cached system data key may protect before a new one is generated.
const SYSTEM_KEY_MAX_MESSAGES: u32 = 10_000;
const SYSTEM_KEY_MAX_AGE: Duration = Duration::from_secs(300);

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
    /// Written by the privacy request workflows (GDPR/CCPA) when they exist.
    PrivacyRequestReceived,
    PrivacyRequestCompleted,
    /// An open request ended without its result (an export cancelled by the erasure).
    PrivacyRequestCancelled,
    /// A user asked about a privacy request that is not theirs.
    PrivacyAccessDenied,
    /// The CCPA opt-out of sale and sharing was recorded (by request or Global Privacy Control).
    OptOutRecorded,
    /// Written by the security monitor for each protective action it takes.
    MonitorAction,
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

/// One entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: u64,
    pub prev: Vec<u8>,
    pub hash: Vec<u8>,
    pub at: Timestamp,
    pub event: String,
    pub user_id: Option<String>,
    pub request_id: String,
    pub details: String,
    pub personal: Vec<u8>,
    pub ip_tag: String,
}

impl AuditEntry {
    fn canonical(&self) -> Vec<u8> {
        framed(&[
            b"warden-audit-v1",
            &self.seq.to_be_bytes(),
            &self.prev,
            &self.at.millis().to_be_bytes(),
            self.event.as_bytes(),
            self.user_id.as_deref().unwrap_or("").as_bytes(),
            self.request_id.as_bytes(),
            self.details.as_bytes(),
            &self.personal,
            self.ip_tag.as_bytes(),
        ])
    }

    /// The SHA-256 of the canonical encoding (public: the algorithm is no secret).
    pub fn computed_hash(&self) -> Vec<u8> {
        digest(&SHA256, &self.canonical()).as_ref().to_vec()
    }

    fn to_item(&self, key: Key, expires: Timestamp) -> Item {
        let mut item = Item::new(&key)
            .with("seq", self.seq as i64)
            .with("prev", self.prev.clone())
            .with("hash", self.hash.clone())
            .with("at", self.at.millis())
            .with("event", self.event.as_str())
            .with("request_id", self.request_id.as_str())
            .with("details", self.details.as_str())
            .with("personal", self.personal.clone())
            .with("ip_tag", self.ip_tag.as_str())
            .with(TTL, expires.secs());
        if let Some(u) = &self.user_id {
            item.set("user_id", u.as_str());
            item.set(GSI1.pk, format!("AUDITUSER#{u}"));
            item.set(GSI1.sk, format!("SEQ#{:020}", self.seq));
        }
        item
    }

    pub fn from_item(i: &Item) -> Result<Self> {
        let bad = || Error::Internal("malformed audit entry".into());
        Ok(AuditEntry {
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
        })
    }
}

/// What verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub entries: u64,
    pub first: Option<u64>,
    pub last: Option<u64>,
    pub problem: Option<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The entry's content does not match its hash.
    Modified { seq: u64 },
    /// The entry is missing from the middle of the chain.
    Deleted { seq: u64 },
    /// The entry at this position carries another position's content, or its link to the
    /// previous entry is broken.
    Reordered { seq: u64 },
    /// Entries after this one are gone, or the head was rewritten.
    Truncated { after: u64 },
    /// A checkpoint or the head carries an invalid signature.
    ForgedSignature { seq: u64 },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Modified { seq } => write!(f, "entry {seq} was modified"),
            Problem::Deleted { seq } => write!(f, "entry {seq} was deleted"),
            Problem::Reordered { seq } => {
                write!(f, "entry {seq} was reordered or its chain link is broken")
            }
            Problem::Truncated { after } => {
                write!(f, "the log was truncated or rewritten after entry {after}")
            }
            Problem::ForgedSignature { seq } => {
                write!(f, "the signature at entry {seq} is invalid")
            }
        }
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
    partition: String,
    appending: tokio::sync::Mutex<()>,
    system_key: Mutex<Option<SystemKey>>,
    /// The head this process last wrote or read: the next append tries it without a read and
    /// falls back to reading the head only when another writer has moved it.
    last_head: Mutex<Option<(u64, Vec<u8>)>>,
}

fn system_context() -> EncryptionContext {
    EncryptionContext::new().with("purpose", "audit-personal")
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
            partition: PARTITION.to_string(),
            appending: tokio::sync::Mutex::new(()),
            system_key: Mutex::new(None),
            last_head: Mutex::new(None),
        }
    }

    /// The same log writing to another partition (a separate chain).
    pub fn in_partition(mut self, partition: &str) -> Self {
        self.partition = partition.to_string();
        self
    }

    /// The chain's partition name (the monitor keeps its state per chain).
    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// The key of entry `seq`.
    pub fn entry_key(&self, seq: u64) -> Key {
        Key::new(&self.partition, format!("SEQ#{seq:020}"))
    }

    pub fn head_key(&self) -> Key {
        Key::new(&self.partition, "HEAD")
    }

    fn checkpoint_key(&self, seq: u64) -> Key {
        Key::new(&self.partition, format!("CHECKPOINT#{seq:020}"))
    }

    /// The pseudonymous tag of an IP address (HMAC, hex), as stored in entries and used by
    /// detectors and blocks.
    pub fn ip_tag(&self, ip: IpAddr) -> String {
        self.ip_tags.tag(ip)
    }

    fn sign(&self, seq: u64, hash: &[u8]) -> Vec<u8> {
        hmac::sign(
            &self.signing,
            &framed(&[b"audit-head", &seq.to_be_bytes(), hash]),
        )
        .as_ref()
        .to_vec()
    }

    fn signature_ok(&self, seq: u64, hash: &[u8], sig: &[u8]) -> bool {
        hmac::verify(
            &self.signing,
            &framed(&[b"audit-head", &seq.to_be_bytes(), hash]),
            sig,
        )
        .is_ok()
    }

    /// Encrypts the personal part: under the user's key, or a cached system data key (bounded
    /// by age and message count) when there is no user or the user's key is gone.
    async fn seal_personal(&self, user_id: Option<&str>, p: &Personal) -> Result<Vec<u8>> {
        let plain = serde_json::to_vec(p).map_err(|e| Error::Internal(e.to_string()))?;
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
            let mut g = self
                .system_key
                .lock()
                .map_err(|_| Error::Internal("lock".into()))?;
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
                *self
                    .system_key
                    .lock()
                    .map_err(|_| Error::Internal("lock".into()))? = Some(SystemKey {
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
    ) -> Result<u64> {
        self.record_with(meta, event, user_id, details, Vec::new())
            .await
    }

    /// As [`AuditLog::record`], in one transaction with `with`: the caller's writes land if and
    /// only if their event does (a login's session and its `login_succeeded` entry). Should one of
    /// `with` fail its condition, nothing is written and the error is
    /// [`Error::TransactionCancelled`] naming its position in `with`.
    pub async fn record_with(
        &self,
        meta: &RequestMeta,
        event: EventType,
        user_id: Option<&str>,
        details: Value,
        with: Vec<TxOp>,
    ) -> Result<u64> {
        self.append(meta, event, user_id, details, None, with)
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
    ) -> Result<Option<u64>> {
        self.append(meta, event, user_id, details, Some(once), Vec::new())
            .await
    }

    async fn append(
        &self,
        meta: &RequestMeta,
        event: EventType,
        user_id: Option<&str>,
        details: Value,
        once: Option<&str>,
        with: Vec<TxOp>,
    ) -> Result<Option<u64>> {
        let personal = Personal {
            ip: meta.ip.map(|ip| ip.to_string()),
            user_agent: meta.user_agent.clone(),
        };
        let sealed = self.seal_personal(user_id, &personal).await?;
        let ip_tag = meta.ip.map(|ip| self.ip_tag(ip)).unwrap_or_default();
        let details =
            serde_json::to_string(&details).map_err(|e| Error::Internal(e.to_string()))?;
        let _queue = self.appending.lock().await;
        for attempt in 0..100u32 {
            let cached = self.last_head.lock().ok().and_then(|mut h| h.take());
            let from_cache = cached.is_some();
            let (seq, prev, exists) = match cached {
                Some((seq, hash)) => (seq, hash, true),
                None => match self.table.get(&self.head_key()).await? {
                    Some(h) => (
                        h.n("seq").unwrap_or(0) as u64,
                        h.b("hash").unwrap_or_default().to_vec(),
                        true,
                    ),
                    None => (0, vec![0u8; 32], false),
                },
            };
            let now = self.clock.now();
            let mut entry = AuditEntry {
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
            };
            entry.hash = entry.computed_hash();
            let expires = now.plus(self.retention);
            let sig = self.sign(entry.seq, &entry.hash);
            let mut ops = vec![
                TxOp::Put {
                    item: entry.to_item(self.entry_key(entry.seq), expires),
                    condition: Some(Condition::NotExists),
                },
                TxOp::Put {
                    item: Item::new(&self.head_key())
                        .with("seq", entry.seq as i64)
                        .with("hash", entry.hash.clone())
                        .with("sig", sig.clone()),
                    condition: Some(if exists {
                        Condition::eq("seq", seq as i64)
                    } else {
                        Condition::NotExists
                    }),
                },
            ];
            let once_op = once.map(|key| {
                ops.push(TxOp::Put {
                    item: Item::new(&Key::new(&self.partition, format!("ONCE#{key}")))
                        .with("seq", entry.seq as i64)
                        .with(TTL, expires.secs()),
                    condition: Some(Condition::NotExists),
                });
                ops.len() - 1
            });
            if entry.seq.is_multiple_of(CHECKPOINT_EVERY) {
                ops.push(TxOp::Put {
                    item: Item::new(&self.checkpoint_key(entry.seq))
                        .with("seq", entry.seq as i64)
                        .with("hash", entry.hash.clone())
                        .with("sig", sig)
                        .with(TTL, expires.secs()),
                    condition: Some(Condition::NotExists),
                });
            }
            // The caller's writes go first, so their positions in the transaction are theirs.
            let theirs = with.len();
            let once_op = once_op.map(|i| i + theirs);
            let ops: Vec<TxOp> = with.iter().cloned().chain(ops).collect();
            match self.table.transact(ops).await {
                Ok(()) => {
                    if let Ok(mut h) = self.last_head.lock() {
                        *h = Some((entry.seq, entry.hash.clone()));
                    }
                    tracing::info!(
                        target: "warden::audit",
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
                    return Ok(Some(entry.seq));
                }
                Err(Error::TransactionCancelled { failed })
                    if failed.iter().any(|i| *i < theirs) =>
                {
                    return Err(Error::TransactionCancelled {
                        failed: failed.into_iter().filter(|i| *i < theirs).collect(),
                    });
                }
                Err(Error::TransactionCancelled { failed })
                    if once_op.is_some_and(|i| failed.contains(&i)) =>
                {
                    // Already recorded; the cached head may be stale, so read it next time.
                    return Ok(None);
                }
                // Another writer appended first: back off (random, growing) and retry.
                Err(Error::TransactionCancelled { .. }) | Err(Error::Conflict(_)) => {
                    if from_cache {
                        continue; // the remembered head was stale: read it, no need to wait
                    }
                    let cap = 1u64 << attempt.min(6);
                    let jitter = u64::from(crate::crypto::random_bytes::<1>()?[0]) % cap;
                    tokio::time::sleep(Duration::from_millis(jitter + 1)).await;
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Unavailable("audit log contended".into()))
    }

    /// Entries after `after_seq`, in order, at most `limit` (the monitor's incremental read).
    pub async fn since(&self, after_seq: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        let mut out = Vec::new();
        let mut q = Query::partition(&self.partition)
            .sort(SortKey::Between(
                format!("SEQ#{:020}", after_seq + 1),
                format!("SEQ#{:020}", u64::MAX),
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

    /// The latest `limit` entries, newest first (the operator view).
    pub async fn recent(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        let page = self
            .table
            .query(
                Query::partition(&self.partition)
                    .sort(SortKey::BeginsWith("SEQ#".into()))
                    .backward()
                    .limit(limit),
            )
            .await?;
        page.items.iter().map(AuditEntry::from_item).collect()
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

    /// Walks the whole chain and reports the first problem (`warden-local audit verify`).
    pub async fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport {
            entries: 0,
            first: None,
            last: None,
            problem: None,
        };
        let mut q = Query::partition(&self.partition).sort(SortKey::BeginsWith("SEQ#".into()));
        let mut last: Option<(u64, Vec<u8>)> = None;
        'pages: loop {
            let page = self.table.query(q.clone()).await?;
            for item in &page.items {
                let position: u64 = item
                    .s("sk")
                    .and_then(|s| s.strip_prefix("SEQ#"))
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| Error::Internal("malformed audit key".into()))?;
                let e = AuditEntry::from_item(item)?;
                report.entries += 1;
                report.first.get_or_insert(position);
                if let Some((prev_seq, _)) = &last
                    && position != prev_seq + 1
                {
                    report.problem = Some(Problem::Deleted { seq: prev_seq + 1 });
                    break 'pages;
                }
                if e.seq != position {
                    report.problem = Some(Problem::Reordered { seq: position });
                    break 'pages;
                }
                if e.computed_hash() != e.hash {
                    report.problem = Some(Problem::Modified { seq: position });
                    break 'pages;
                }
                if let Some((_, prev_hash)) = &last
                    && verify_slices_are_equal(prev_hash, &e.prev).is_err()
                {
                    report.problem = Some(Problem::Reordered { seq: position });
                    break 'pages;
                }
                last = Some((position, e.hash));
            }
            match page.next {
                Some(c) => q.start = Some(c),
                None => break,
            }
        }
        report.last = last.as_ref().map(|(s, _)| *s);
        if report.problem.is_some() {
            return Ok(report);
        }
        // Signed checkpoints: each must be valid and match the entry at its position.
        let checkpoints = crate::table::query_all(
            self.table.as_ref(),
            Query::partition(&self.partition).sort(SortKey::BeginsWith("CHECKPOINT#".into())),
        )
        .await?;
        for c in &checkpoints {
            let seq = c.n("seq").unwrap_or(0) as u64;
            let (hash, sig) = (
                c.b("hash").unwrap_or_default(),
                c.b("sig").unwrap_or_default(),
            );
            if !self.signature_ok(seq, hash, sig) {
                report.problem = Some(Problem::ForgedSignature { seq });
                return Ok(report);
            }
            if report.first.is_some_and(|f| seq < f) {
                continue; // older than retention
            }
            match self.table.get(&self.entry_key(seq)).await? {
                Some(i) if i.b("hash") == Some(hash) => {}
                Some(_) => {
                    report.problem = Some(Problem::Modified { seq });
                    return Ok(report);
                }
                None => {
                    report.problem = Some(Problem::Truncated {
                        after: report.last.unwrap_or(0),
                    });
                    return Ok(report);
                }
            }
        }
        // The signed head must name the last entry.
        if let Some(h) = self.table.get(&self.head_key()).await? {
            let seq = h.n("seq").unwrap_or(0) as u64;
            let (hash, sig) = (
                h.b("hash").unwrap_or_default(),
                h.b("sig").unwrap_or_default(),
            );
            if !self.signature_ok(seq, hash, sig) {
                report.problem = Some(Problem::ForgedSignature { seq });
            } else if Some(seq) != report.last
                || last.as_ref().is_some_and(|(_, lh)| lh.as_slice() != hash)
            {
                report.problem = Some(Problem::Truncated {
                    after: report.last.unwrap_or(0),
                });
            }
        } else if report.entries > 0 {
            report.problem = Some(Problem::Truncated { after: 0 });
        }
        Ok(report)
    }
}
