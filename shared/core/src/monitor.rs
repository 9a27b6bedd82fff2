//! The security monitor (`SecurityMonitor`): a scheduled scan of the audit log that detects
//! attacks, acts on them and raises alerts — once, however often or concurrently it runs.
//!
//! **Incremental and bounded.** Each run reads the audit entries after its checkpoint (at most
//! `batch`), plus the look-back still inside the detectors' window, never the whole table. A
//! lease on the checkpoint item (one conditional write) keeps two overlapping runs from
//! processing the same entries; the checkpoint advances only under the lease.
//!
//! **Exactly once.** A finding is reported only if it involves an entry this run has not seen
//! before, and its alert is written with a dedup key (detector, subject, window bucket) under a
//! `NotExists` condition; the protective actions run only when that write wins. Re-running over
//! the same window, or two runs racing past an expired lease, adds nothing.
//!
//! **Detectors** (thresholds in [`crate::config::MonitorSettings`]): brute force on one account;
//! credential stuffing (one IP, or one client fingerprint over many IPs, failing across many
//! accounts); a distributed attack on one account
//! (many IPs); refresh-token reuse; device mismatch; a burst of lockouts; a burst of privacy
//! exports; privacy requests near or past their deadline (read from the open-request index,
//! not the log); a break in the audit chain among the entries read. **Actions**: lock the account and end its sessions, block the IP
//! (login checks it), alert (fingerprint stuffing alerts only: see `detect`). Every action is itself an audit event (`monitor_action`), which the
//! detectors ignore.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Value, json};

use crate::audit::{AuditEntry, AuditLog, EventType, RequestMeta};
use crate::clock::Clock;
use crate::clock::Timestamp;
use crate::mail::outbox::Outbox;
use crate::table::Table;
use crate::table::schema::{GSI1, TTL};
use crate::table::{Condition, Item, Key, Query, Update};
use crate::users::Users;
use crate::{Error, Result, lockout, sessions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Info,
    Warning,
    High,
    Critical,
}

/// What one run did.
#[derive(Debug, Default, Serialize)]
pub struct ScanReport {
    /// Another run held the lease: this one did nothing.
    pub skipped: bool,
    /// New audit entries processed.
    pub scanned: usize,
    /// Dedup keys of the alerts this run raised.
    pub alerts: Vec<String>,
    /// Protective actions taken.
    pub actions: usize,
    /// The last audit sequence number processed, per shard.
    pub checkpoint: BTreeMap<u32, u64>,
    /// Privacy requests the same scheduled run resumed (see [`crate::privacy::resume_open`]).
    pub privacy: crate::privacy::ResumeReport,
    /// Queued mail the same run delivered (see [`crate::mail::outbox::deliver_pending`]).
    pub mail: crate::mail::outbox::DeliveryReport,
    /// Downstream events the same run published (see
    /// [`crate::privacy::downstream::deliver_pending`]).
    pub events: crate::privacy::downstream::PublishReport,
    /// The signed audit digest the same run wrote (its number; `None` when an overlapping run
    /// wrote it).
    pub digest: Option<u64>,
}

/// A persisted alert.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub dedup: String,
    pub level: Level,
    pub title: String,
    pub details: Value,
    pub at: String,
}

enum Action {
    LockAccount(String),
    /// Someone has the password: the next sign-in may only change it, and the owner is told.
    RequirePasswordChange(String),
    EndSessions(String),
    BlockIp(String),
}

struct Finding {
    dedup: String,
    level: Level,
    title: String,
    details: Value,
    actions: Vec<Action>,
}

/// What the monitor uses: the table (its checkpoint, alerts and the accounts it acts on), the
/// clock, the settings, the audit log it reads, the outbox that tells users, and the users.
/// The wiring builds it (`Services::monitor`).
pub struct Monitor<'a> {
    pub table: &'a dyn Table,
    pub clock: &'a dyn Clock,
    pub config: &'a crate::config::Config,
    pub audit: &'a AuditLog,
    pub outbox: &'a Outbox,
    pub users: Users<'a>,
}

fn checkpoint_key(chain: &str) -> Key {
    Key::new(format!("MONITOR#{chain}"), "CHECKPOINT")
}

fn alert_key(chain: &str, dedup: &str) -> Key {
    Key::new(format!("ALERT#{chain}#{dedup}"), "ALERT")
}

fn alerts_index(chain: &str) -> String {
    format!("ALERTS#{chain}")
}

/// The dedup prefix of a privacy request's deadline alert (counted as a metric of its own).
const PRIVACY_DEADLINE: &str = "privacy-";

/// What the scan has processed in each shard: the last sequence number done, and where the
/// context window kept for the next run starts.
#[derive(Debug, Clone, Default)]
struct ShardMarks(BTreeMap<u32, (u64, u64)>);

impl ShardMarks {
    fn of(state: &Item) -> Self {
        ShardMarks(
            state
                .s("marks")
                .and_then(|m| serde_json::from_str(m).ok())
                .unwrap_or_default(),
        )
    }

    /// `(done, window)` of `shard`.
    fn get(&self, shard: u32) -> (u64, u64) {
        let (done, window) = self.0.get(&shard).copied().unwrap_or((0, 0));
        (done, window.min(done))
    }

    fn advance(&mut self, shard: u32, seq: u64) {
        let m = self.0.entry(shard).or_insert((0, 0));
        m.0 = m.0.max(seq);
    }

    fn set_window(&mut self, shard: u32, window: u64) {
        if let Some(m) = self.0.get_mut(&shard) {
            m.1 = window;
        }
    }

    fn done(&self) -> BTreeMap<u32, u64> {
        self.0.iter().map(|(s, (d, _))| (*s, *d)).collect()
    }

    fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_default()
    }
}

/// The last sequence number a run had already processed in each shard: entries after it are
/// fresh.
#[derive(Debug, Default)]
struct Seen(BTreeMap<u32, u64>);

impl Seen {
    fn fresh(&self, e: &AuditEntry) -> bool {
        e.seq > self.0.get(&e.shard).copied().unwrap_or(0)
    }
}

/// The system's own request metadata for the audit events the monitor writes.
fn system_meta() -> RequestMeta {
    RequestMeta {
        request_id: "security-scan".into(),
        ip: None,
        user_agent: None,
    }
}

/// `send_alert(level, title, details)`: persists the alert under its dedup key (false if it
/// already exists) and writes one structured log line, which the template's metric filter
/// counts.
pub async fn send_alert(
    s: &Monitor<'_>,
    dedup: &str,
    level: Level,
    title: &str,
    details: &Value,
) -> Result<bool> {
    let chain = s.audit.namespace();
    let now = s.clock.now();
    let item = Item::new(&alert_key(chain, dedup))
        .with("dedup", dedup)
        .with(
            "level",
            serde_json::to_string(&level)
                .unwrap_or_default()
                .trim_matches('"'),
        )
        .with("title", title)
        .with("details", details.to_string())
        .with("at", now.millis())
        // Alerts name user ids and address tags: kept as long as the security events they
        // are drawn from, no longer.
        .with(TTL, now.plus(s.config.audit_retention).secs())
        .with(GSI1.pk, alerts_index(chain))
        .with(GSI1.sk, format!("{:013}#{dedup}", now.millis()));
    match s.table.put(item, Some(Condition::NotExists)).await {
        Ok(()) => {
            tracing::warn!(
                target: "warden::alert",
                alert = true,
                level = ?level,
                title,
                dedup,
                details = %details,
                "security alert"
            );
            crate::metrics::count(crate::metrics::Metric::Alerts);
            if dedup.starts_with(PRIVACY_DEADLINE) {
                crate::metrics::count(crate::metrics::Metric::PrivacyDeadlineAlerts);
            }
            Ok(true)
        }
        Err(Error::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The most recent alerts, newest first.
pub async fn recent_alerts(s: &Monitor<'_>, limit: usize) -> Result<Vec<Alert>> {
    let page = s
        .table
        .query(
            Query::index(&GSI1, alerts_index(s.audit.namespace()))
                .backward()
                .limit(limit),
        )
        .await?;
    Ok(page
        .items
        .iter()
        .map(|i| Alert {
            dedup: i.s("dedup").unwrap_or("").to_string(),
            level: match i.s("level") {
                Some("critical") => Level::Critical,
                Some("high") => Level::High,
                Some("warning") => Level::Warning,
                _ => Level::Info,
            },
            title: i.s("title").unwrap_or("").to_string(),
            details: i
                .s("details")
                .and_then(|d| serde_json::from_str(d).ok())
                .unwrap_or(Value::Null),
            at: Timestamp(i.n("at").unwrap_or(0)).to_rfc3339(),
        })
        .collect())
}

/// Runs one scan (see the module docs).
pub async fn scan(s: &Monitor<'_>) -> Result<ScanReport> {
    let table = s.table;
    let now = s.clock.now();
    let settings = s.config.monitor;
    let chain = s.audit.namespace().to_string();
    let key = checkpoint_key(&chain);
    let owner = crate::crypto::hex(&crate::crypto::random_bytes::<8>()?);
    // The lease: one conditional write; a run that cannot take it does nothing.
    let lease = Update::new()
        .set("lease_owner", owner.as_str())
        .set(
            "lease_until",
            now.plus(std::time::Duration::from_secs(300)).millis(),
        )
        .when(
            Condition::AttributeNotExists("lease_until".into())
                .or(Condition::lt("lease_until", now.millis())),
        );
    let state = match table.update(&key, lease).await {
        Ok(item) => item,
        Err(Error::ConditionFailed) => {
            return Ok(ScanReport {
                skipped: true,
                ..Default::default()
            });
        }
        Err(e) => return Err(e),
    };
    let marks = ShardMarks::of(&state);
    let mut entries = Vec::new();
    let mut seen = Seen::default();
    for shard in 0..s.audit.layout().await?.shards() {
        let (done, window) = marks.get(shard);
        let lookback = (done - window) as usize;
        entries.extend(
            s.audit
                .since(shard, window, lookback + settings.batch)
                .await?,
        );
        seen.0.insert(shard, done);
    }
    entries.sort_by_key(|e| (e.at, e.shard, e.seq));
    // The context the next run keeps: the entries within a window of the latest event read
    // (event time, not the scan's clock, so a late run keeps what an on-time one would).
    let horizon = entries
        .iter()
        .map(|e| e.at)
        .max()
        .unwrap_or(now)
        .minus(settings.window);
    let mut next = marks.clone();
    for e in entries.iter().filter(|e| seen.fresh(e)) {
        next.advance(e.shard, e.seq);
    }
    let mut report = ScanReport {
        scanned: entries.iter().filter(|e| seen.fresh(e)).count(),
        checkpoint: next.done(),
        ..Default::default()
    };
    let mut findings = detect(&entries, seen, settings);
    findings.extend(deadline_findings(s, now, settings).await?);
    for f in findings {
        // Raised before: its actions were done then (an alert is written only after them).
        if table.get(&alert_key(&chain, &f.dedup)).await?.is_some() {
            continue;
        }
        // Actions first, each idempotent; should one fail, the scan fails before the alert and
        // the checkpoint are written, and the next run finds the same entries and retries.
        for action in &f.actions {
            act(s, action, &f.dedup, now).await?;
            report.actions += 1;
        }
        if send_alert(s, &f.dedup, f.level, &f.title, &f.details).await? {
            report.alerts.push(f.dedup.clone());
        }
    }
    for (shard, done) in next.done() {
        let window = entries
            .iter()
            .find(|e| e.shard == shard && e.at >= horizon)
            .map(|e| e.seq.saturating_sub(1))
            .unwrap_or(done);
        next.set_window(shard, window.min(done));
    }
    // Advance and release, only while the lease is still ours.
    let done = Update::new()
        .set("marks", next.to_json())
        .set("last_run", now.millis())
        .remove("lease_until")
        .remove("lease_owner")
        .when(Condition::eq("lease_owner", owner.as_str()));
    match table.update(&key, done).await {
        Ok(_) => {}
        Err(Error::ConditionFailed) => {
            tracing::warn!(
                "security scan lost its lease; the next run continues from the old checkpoint"
            );
        }
        Err(e) => return Err(e),
    }
    Ok(report)
}

async fn act(s: &Monitor<'_>, action: &Action, alert: &str, now: Timestamp) -> Result<()> {
    let table = s.table;
    let (user, details) = match action {
        Action::LockAccount(uid) => {
            if let Some(user) = s.users.get(uid).await.ok().flatten() {
                let counter = lockout::account_counter(&s.users.index(&user.email), None);
                let until = now.plus(s.config.login_lockout);
                lockout::lock(table, &counter, s.config.login_limits(), until).await?;
            }
            // Failed guesses prove the guesser lacks the password: the lock refuses sign-in
            // from unknown devices and ends no session (SECURITY.md, "Lockout").
            (
                Some(uid.as_str()),
                json!({ "action": "lock_account", "alert": alert }),
            )
        }
        Action::RequirePasswordChange(uid) => {
            if let Some(user) = s.users.get(uid).await.ok().flatten() {
                s.users.flag_breached(&user.id).await?;
                let notice = crate::mail::Notice::SecondFactorFailures { when: now };
                s.outbox.notify(&user.id, &user.email, &notice).await;
            }
            (
                Some(uid.as_str()),
                json!({ "action": "require_password_change", "alert": alert }),
            )
        }
        Action::EndSessions(uid) => {
            sessions::revoke_all(table, uid, None).await?;
            (
                Some(uid.as_str()),
                json!({ "action": "end_sessions", "alert": alert }),
            )
        }
        Action::BlockIp(tag) => {
            let until = now.plus(s.config.monitor.block);
            lockout::block_ip(table, tag, until).await?;
            (
                None,
                json!({ "action": "block_ip", "ip_tag": tag, "until": until.to_rfc3339(), "alert": alert }),
            )
        }
    };
    s.audit
        .record(&system_meta(), EventType::MonitorAction, user, details)
        .await?;
    Ok(())
}

/// Open privacy requests near or past their due date (read from the open-request index, earliest
/// first; one alert per request and stage, so repeated runs add nothing).
async fn deadline_findings(
    s: &Monitor<'_>,
    now: Timestamp,
    m: crate::config::MonitorSettings,
) -> Result<Vec<Finding>> {
    let open = crate::privacy::requests::open_by_due(s.table, 100).await?;
    let mut out = Vec::new();
    for r in open {
        let (stage, level, title) = if r.due_at <= now {
            ("overdue", Level::High, "Privacy request past its deadline")
        } else if r.due_at <= now.plus(m.deadline_warning) {
            (
                "due-soon",
                Level::Warning,
                "Privacy request near its deadline",
            )
        } else {
            break; // ordered by due date: the rest are later
        };
        out.push(Finding {
            dedup: format!("{PRIVACY_DEADLINE}{stage}:{}", r.id),
            level,
            title: title.into(),
            details: json!({
                "request_id": r.id,
                "type": r.rtype.name(),
                "due_at": r.due_at.to_rfc3339(),
                "state": r.view().status,
            }),
            actions: vec![],
        });
    }
    Ok(out)
}

/// The window bucket of a time, so one attack in one window is one alert.
fn bucket(at: Timestamp, window: std::time::Duration) -> i64 {
    at.millis() / (window.as_millis().max(1) as i64)
}

/// The accounts a group of failed logins tried. Unknown emails have no user id; each such
/// failure counts as its own account (the account key is not in the log), which is the
/// stuffing signature anyway.
fn accounts_in(group: &[&AuditEntry]) -> BTreeSet<String> {
    group
        .iter()
        .map(|e| {
            e.user_id
                .clone()
                .unwrap_or_else(|| format!("unknown#{}-{}", e.shard, e.seq))
        })
        .collect()
}

/// The latest stretch of `group` (sorted by event time) no longer than `window` that ends at an
/// entry this scan has not seen yet and for which `holds` — or `None`. Windows are measured on
/// the entries' own timestamps, so a scan that runs late, or catches up over several batches,
/// finds what an on-time scan would have found.
fn attack_window<'a, 'e>(
    group: &'a [&'e AuditEntry],
    window: std::time::Duration,
    seen: &Seen,
    holds: impl Fn(&[&'e AuditEntry]) -> bool,
) -> Option<&'a [&'e AuditEntry]> {
    let mut start = 0;
    let mut found = None;
    for end in 0..group.len() {
        let from = group[end].at.minus(window);
        while group[start].at < from {
            start += 1;
        }
        let stretch = &group[start..=end];
        if seen.fresh(group[end]) && holds(stretch) {
            found = Some(stretch);
        }
    }
    found
}

/// Entries grouped by `key`, each group sorted by event time.
fn grouped<'e, K: Ord>(
    entries: impl Iterator<Item = &'e AuditEntry>,
    key: impl Fn(&'e AuditEntry) -> Option<K>,
) -> BTreeMap<K, Vec<&'e AuditEntry>> {
    let mut groups: BTreeMap<K, Vec<&'e AuditEntry>> = BTreeMap::new();
    for e in entries {
        if let Some(k) = key(e) {
            groups.entry(k).or_default().push(e);
        }
    }
    for g in groups.values_mut() {
        g.sort_by_key(|e| (e.at, e.shard, e.seq));
    }
    groups
}

/// Tags that name one principal across a key rotation: an entry made the day after a rotation
/// carries its tag under its day's key and under the previous day's (`ip_tag_prev`,
/// `device_prev`), which links the two. Each group is named by its least tag.
struct Links<K> {
    parent: BTreeMap<K, K>,
}

impl<K: Ord + Clone> Links<K> {
    fn new(pairs: impl IntoIterator<Item = (K, K)>) -> Self {
        let mut links = Links {
            parent: BTreeMap::new(),
        };
        for (a, b) in pairs {
            let (a, b) = (links.root(&a), links.root(&b));
            match a.cmp(&b) {
                std::cmp::Ordering::Less => links.parent.insert(b, a),
                std::cmp::Ordering::Greater => links.parent.insert(a, b),
                std::cmp::Ordering::Equal => None,
            };
        }
        links
    }

    fn root(&self, k: &K) -> K {
        let mut k = k.clone();
        while let Some(p) = self.parent.get(&k) {
            k = p.clone();
        }
        k
    }
}

/// The device tags of an entry's details (`device`, and `device_prev` after a rotation).
fn device_tags(e: &AuditEntry) -> (Option<String>, Option<String>) {
    let d = serde_json::from_str::<Value>(&e.details).unwrap_or(Value::Null);
    let tag = |k: &str| d[k].as_str().map(str::to_string);
    (tag("device"), tag("device_prev"))
}

/// Every detector over one scan's entries, in the order their findings are acted on.
fn detect(entries: &[AuditEntry], seen: Seen, m: crate::config::MonitorSettings) -> Vec<Finding> {
    let addresses = Links::new(
        entries
            .iter()
            .filter(|e| !e.ip_tag.is_empty() && !e.ip_tag_prev.is_empty())
            .map(|e| (e.ip_tag.as_str(), e.ip_tag_prev.as_str())),
    );
    let devices = Links::new(entries.iter().filter_map(|e| match device_tags(e) {
        (Some(d), Some(p)) => Some((d, p)),
        _ => None,
    }));
    let d = Detectors {
        entries,
        seen,
        m,
        addresses,
        devices,
    };
    let mut out = Vec::new();
    let mut attacking = d.account_attacks(&mut out);
    let stuffing = d.address_stuffing(&mut out);
    attacking.extend(stuffing.iter().copied());
    d.attacker_sign_ins(&attacking, &mut out);
    d.fingerprint_stuffing(&stuffing, &mut out);
    d.session_evidence(&mut out);
    d.second_factor_failures(&mut out);
    d.burst(
        ("lockout-burst", "Burst of account lockouts", "lockouts"),
        m.lockout_burst,
        |e| e.event == EventType::AccountLocked.as_str(),
        &mut out,
    );
    d.burst(
        ("export-burst", "Burst of privacy exports", "exports"),
        m.export_burst,
        |e| {
            e.event == EventType::PrivacyRequestReceived.as_str()
                && serde_json::from_str::<Value>(&e.details)
                    .ok()
                    .and_then(|d| d["type"].as_str().map(|t| t == "export" || t == "access"))
                    .unwrap_or(false)
        },
        &mut out,
    );
    d.chain_breaks(&mut out);
    out
}

/// One scan's entries (the context of a window before the checkpoint, and the fresh ones after
/// it), the checkpoint, and the thresholds.
struct Detectors<'e> {
    entries: &'e [AuditEntry],
    seen: Seen,
    m: crate::config::MonitorSettings,
    addresses: Links<&'e str>,
    devices: Links<String>,
}

impl<'e> Detectors<'e> {
    /// The address an entry came from, the same on both sides of a key rotation ("" if none).
    fn address(&self, e: &'e AuditEntry) -> &'e str {
        self.addresses.root(&e.ip_tag.as_str())
    }

    /// The distinct addresses of a stretch of entries.
    fn tags(&self, stretch: &[&'e AuditEntry]) -> BTreeSet<&'e str> {
        stretch
            .iter()
            .map(|e| self.address(e))
            .filter(|t| !t.is_empty())
            .collect()
    }

    fn failures(&self) -> impl Iterator<Item = &'e AuditEntry> {
        self.entries
            .iter()
            .filter(|e| e.event == EventType::LoginFailed.as_str())
    }

    /// Per account: a distributed attack (many addresses) or brute force (many failures) locks
    /// it. Returns the addresses taking part in any attack in the context, alerted on before or
    /// not (a sign-in from one ends sessions).
    fn account_attacks(&self, out: &mut Vec<Finding>) -> BTreeSet<&'e str> {
        let (m, seen) = (self.m, &self.seen);
        let mut attacking = BTreeSet::new();
        for (user, group) in &grouped(self.failures(), |e| e.user_id.as_deref()) {
            let distributed = |s: &[&AuditEntry]| self.tags(s).len() >= m.distributed_ips as usize;
            let brute = |s: &[&AuditEntry]| s.len() >= m.brute_force as usize;
            for s in [
                attack_window(group, m.window, &Seen::default(), distributed),
                attack_window(group, m.window, &Seen::default(), brute),
            ]
            .into_iter()
            .flatten()
            {
                attacking.extend(self.tags(s));
            }
            if let Some(s) = attack_window(group, m.window, seen, distributed) {
                out.push(Finding {
                    dedup: format!("distributed-attack:{user}:{}", bucket(s[0].at, m.window)),
                    level: Level::High,
                    title: "Distributed login attack on one account".into(),
                    details: json!({ "user_id": user, "ips": self.tags(s).len(), "failures": s.len() }),
                    actions: vec![Action::LockAccount(user.to_string())],
                });
            } else if let Some(s) = attack_window(group, m.window, seen, brute) {
                out.push(Finding {
                    dedup: format!("brute-force:{user}:{}", bucket(s[0].at, m.window)),
                    level: Level::High,
                    title: "Brute force on one account".into(),
                    details: json!({ "user_id": user, "failures": s.len() }),
                    actions: vec![Action::LockAccount(user.to_string())],
                });
            }
        }
        attacking
    }

    /// Per address: credential stuffing (failures across many accounts, known or not) blocks
    /// it. Returns the stuffing addresses of the context.
    fn address_stuffing(&self, out: &mut Vec<Finding>) -> BTreeSet<&'e str> {
        let (m, seen) = (self.m, &self.seen);
        let mut stuffing_ips = BTreeSet::new();
        let by_ip = grouped(self.failures(), |e| {
            (!e.ip_tag.is_empty()).then_some(self.address(e))
        });
        for (tag, group) in &by_ip {
            let stuffing = |s: &[&AuditEntry]| accounts_in(s).len() >= m.stuffing_accounts as usize;
            if attack_window(group, m.window, &Seen::default(), stuffing).is_some() {
                stuffing_ips.insert(*tag);
            }
            let Some(s) = attack_window(group, m.window, seen, stuffing) else {
                continue;
            };
            // Named by the tags of the stretch's first and last entries, not by the group's
            // name (which a later run, seeing the next day's tag, may choose differently): the
            // alert keeps its dedup key, and the block goes on the freshest tag, which logins
            // look for today and tomorrow.
            let (first, last) = (s[0], s[s.len() - 1]);
            out.push(Finding {
                dedup: format!(
                    "credential-stuffing:{}:{}",
                    first.ip_tag,
                    bucket(first.at, m.window)
                ),
                level: Level::High,
                title: "Credential stuffing from one address".into(),
                details: json!({ "ip_tag": last.ip_tag, "accounts": accounts_in(s).len(), "failures": s.len() }),
                actions: vec![Action::BlockIp(last.ip_tag.clone())],
            });
        }
        stuffing_ips
    }

    /// A successful sign-in from an address taking part in an attack: the attacker may have
    /// guessed right, which is evidence a credential is in someone else's hands. End the
    /// account's sessions (the one rule by which an attack ends sessions; a lock does not).
    fn attacker_sign_ins(&self, attacking: &BTreeSet<&str>, out: &mut Vec<Finding>) {
        for e in self.entries.iter().filter(|e| {
            self.seen.fresh(e)
                && e.event == EventType::LoginSucceeded.as_str()
                && attacking.contains(self.address(e))
        }) {
            let Some(user) = &e.user_id else { continue };
            out.push(Finding {
                dedup: format!("attacker-sign-in:{}-{}", e.shard, e.seq),
                level: Level::Critical,
                title: "Successful sign-in from an address taking part in an attack".into(),
                details: json!({ "user_id": user, "ip_tag": e.ip_tag, "audit_shard": e.shard, "audit_seq": e.seq }),
                actions: vec![Action::EndSessions(user.clone())],
            });
        }
    }

    /// Per client fingerprint: stuffing spread over many addresses (one tool behind a botnet or
    /// rotating proxies), counted over the addresses the per-address detector did not catch.
    /// Alert only: a fingerprint is shared by every user of the same browser build and
    /// language, so blocking it would lock out bystanders; an attacker can also vary it.
    fn fingerprint_stuffing(&self, stuffing_ips: &BTreeSet<&str>, out: &mut Vec<Finding>) {
        let (m, seen) = (self.m, &self.seen);
        let by_device = grouped(
            self.failures()
                .filter(|e| !stuffing_ips.contains(self.address(e))),
            |e| device_tags(e).0.map(|d| self.devices.root(&d)),
        );
        for (device, group) in &by_device {
            let spread = |s: &[&AuditEntry]| {
                accounts_in(s).len() >= m.stuffing_accounts as usize && self.tags(s).len() >= 2
            };
            if let Some(s) = attack_window(group, m.window, seen, spread) {
                out.push(Finding {
                    dedup: format!(
                        "credential-stuffing-device:{device}:{}",
                        bucket(s[0].at, m.window)
                    ),
                    level: Level::High,
                    title: "Credential stuffing from one client fingerprint across addresses"
                        .into(),
                    details: json!({
                        "device": device,
                        "accounts": accounts_in(s).len(),
                        "ips": self.tags(s).len(),
                        "failures": s.len(),
                    }),
                    actions: vec![],
                });
            }
        }
    }

    /// Each reuse or device mismatch (the session layer has already ended what it proves:
    /// every session on reuse, the one session on a mismatch). Reuse is evidence of theft, so
    /// its alert also ends whatever was opened since; a mismatch only alerts.
    fn session_evidence(&self, out: &mut Vec<Finding>) {
        for e in self.entries.iter().filter(|e| self.seen.fresh(e)) {
            let (kind, title, level) = if e.event == EventType::RefreshReuseDetected.as_str() {
                ("refresh-reuse", "Refresh token reuse", Level::High)
            } else if e.event == EventType::DeviceMismatch.as_str() {
                (
                    "device-mismatch",
                    "Refresh token used from another device",
                    Level::Warning,
                )
            } else {
                continue;
            };
            let user = e.user_id.clone().unwrap_or_default();
            out.push(Finding {
                dedup: format!("{kind}:{}-{}", e.shard, e.seq),
                level,
                title: title.into(),
                details: json!({ "user_id": user, "audit_shard": e.shard, "audit_seq": e.seq }),
                actions: match kind {
                    "refresh-reuse" => e.user_id.iter().cloned().map(Action::EndSessions).collect(),
                    _ => vec![],
                },
            });
        }
    }

    /// Per account: wrong second-factor codes, each after the correct password, within the
    /// window. The password is in someone else's hands; the second factor held. Nothing is
    /// locked (the owner must still get in): the next sign-in may only change the password.
    fn second_factor_failures(&self, out: &mut Vec<Finding>) {
        let m = self.m;
        let failures = self
            .entries
            .iter()
            .filter(|e| e.event == EventType::MfaFailed.as_str());
        for (user, group) in &grouped(failures, |e| e.user_id.as_deref()) {
            let enough = |s: &[&AuditEntry]| s.len() >= m.second_factor_failures as usize;
            if let Some(s) = attack_window(group, m.window, &self.seen, enough) {
                out.push(Finding {
                    dedup: format!("second-factor-failures:{user}:{}", bucket(s[0].at, m.window)),
                    level: Level::High,
                    title: "Repeated second-factor failures after the correct password".into(),
                    details: json!({ "user_id": user, "failures": s.len(), "ips": self.tags(s).len() }),
                    actions: vec![Action::RequirePasswordChange(user.to_string())],
                });
            }
        }
    }

    /// A burst across accounts: at least `threshold` entries of a kind within the window.
    fn burst(
        &self,
        (kind, title, noun): (&str, &str, &str),
        threshold: u32,
        of_kind: impl Fn(&AuditEntry) -> bool,
        out: &mut Vec<Finding>,
    ) {
        let mut group: Vec<&AuditEntry> = self.entries.iter().filter(|e| of_kind(e)).collect();
        group.sort_by_key(|e| (e.at, e.shard, e.seq));
        let enough = |s: &[&AuditEntry]| s.len() >= threshold as usize;
        if let Some(s) = attack_window(&group, self.m.window, &self.seen, enough) {
            out.push(Finding {
                dedup: format!("{kind}:{}", bucket(s[0].at, self.m.window)),
                level: Level::Warning,
                title: title.into(),
                details: Value::Object([(noun.to_string(), json!(s.len()))].into_iter().collect()),
                actions: vec![],
            });
        }
    }

    /// The chain among the entries read: in each shard, each hash recomputes and links to its
    /// predecessor.
    fn chain_breaks(&self, out: &mut Vec<Finding>) {
        let mut by_shard: BTreeMap<u32, Vec<&AuditEntry>> = BTreeMap::new();
        for e in self.entries {
            by_shard.entry(e.shard).or_default().push(e);
        }
        for (shard, mut chain) in by_shard {
            chain.sort_by_key(|e| e.seq);
            for pair in chain.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                if b.seq != a.seq + 1 || b.prev != a.hash || b.computed_hash() != b.hash {
                    out.push(Finding {
                        dedup: format!("audit-chain:{shard}-{}", b.seq),
                        level: Level::Critical,
                        title: "Audit chain failed verification".into(),
                        details: json!({ "shard": shard, "at_seq": b.seq }),
                        actions: vec![],
                    });
                    break;
                }
            }
        }
    }
}
