//! Privacy requests: one record per request, idempotent while open, with its legal deadline,
//! its state history and, for the long-running ones, a lease so one worker runs it at a time.
//!
//! Items:
//!
//! | item | pk | sk | gsi1 |
//! | --- | --- | --- | --- |
//! | the request | `PRIVREQ#{id}` | `REQUEST` | `PRIVREQS#OPEN` / `{due:013}#{id}` while open |
//! | the open-request claim | `PRIVOPEN#{user}#{action}` | `OPEN` | — |
//! | the user's pointer | `USER#{user}` | `PRIVREQ#{id}` | — |
//!
//! Submitting writes all three in one transaction, the claim conditioned on not existing: two
//! concurrent asks create one request, and the loser reads the claim and answers with the
//! winner's id. The request lives outside the user's partition, so the erasure's own record
//! survives the erasure as a pseudonymous receipt; it expires after 24 months (CCPA
//! regulations § 7101). Every change is conditioned on the record's `version`, and a worker
//! first claims a lease (`lease_until`), so a request is never run twice at once.
//!
//! An erasure excludes the export: an export is submitted only while the profile carries no
//! erasure fence ([`crate::users::ERASING`], checked in the submitting transaction), and the
//! erasure [cancels](cancel_open) the one already open. The cancelled worker finds out at its
//! next lease renewal, which it makes well within the lease, so it has stopped writing by the
//! lease's end; the erasure verifies only after that.

use std::time::Duration;

use serde::Serialize;

use crate::clock::Timestamp;
use crate::table::schema::{GSI1, TTL};
use crate::table::{Condition, Item, Key, Query, SortKey, Table, TxOp, Update, Value};
use crate::{Error, Result};

/// How long request records are kept.
pub const RECORD_RETENTION: Duration = Duration::from_secs(730 * 86_400);
/// How long one worker holds a request before another may take over.
pub const LEASE: Duration = Duration::from_secs(120);
pub const OPEN_INDEX: &str = "PRIVREQS#OPEN";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Regime {
    Gdpr,
    Ccpa,
}

/// What a request does; at most one open request per user and action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Export,
    Erase,
    OptOut,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Export => "export",
            Action::Erase => "erase",
            Action::OptOut => "opt_out",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        [Action::Export, Action::Erase, Action::OptOut]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
    /// Whether the requester must have authenticated within the last five minutes.
    pub fn needs_fresh_auth(self) -> bool {
        !matches!(self, Action::OptOut)
    }
}

/// A request type as the user names it: `gdpr`/`export`, `ccpa`/`do_not_sell`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestType {
    pub regime: Regime,
    pub action: Action,
}

const TYPES: &[(Regime, &str, Action)] = &[
    (Regime::Gdpr, "export", Action::Export),
    (Regime::Gdpr, "delete", Action::Erase),
    (Regime::Ccpa, "do_not_sell", Action::OptOut),
    (Regime::Ccpa, "access", Action::Export),
    (Regime::Ccpa, "delete", Action::Erase),
];

impl RequestType {
    /// The type named `name` under `regime`; anything else is a 400 naming it.
    pub fn parse(regime: Regime, name: &str) -> Result<Self> {
        TYPES
            .iter()
            .find(|(r, n, _)| *r == regime && *n == name)
            .map(|(regime, _, action)| RequestType {
                regime: *regime,
                action: *action,
            })
            .ok_or_else(|| {
                let shown: String = name.chars().take(64).collect();
                Error::invalid("type", format!("Invalid request type: {shown}"))
            })
    }

    pub fn name(self) -> &'static str {
        TYPES
            .iter()
            .find(|(r, _, a)| *r == self.regime && *a == self.action)
            .map(|(_, n, _)| *n)
            .unwrap_or("unknown")
    }

    /// The statutory deadline for a request received at `received`: GDPR Art. 12(3) one month;
    /// CCPA § 1798.130 45 days; a CCPA opt-out 15 business days (regulations § 7026(f)).
    pub fn due(self, received: Timestamp) -> Timestamp {
        match (self.regime, self.action) {
            (_, Action::OptOut) => received.plus_business_days(15),
            (Regime::Gdpr, _) => received.plus_months(1),
            (Regime::Ccpa, _) => received.plus(Duration::from_secs(45 * 86_400)),
        }
    }

    /// The one extension the law allows, from the current due date: GDPR two further months,
    /// CCPA 45 further days; none for opt-outs.
    pub fn extended_due(self, due: Timestamp) -> Option<Timestamp> {
        match (self.regime, self.action) {
            (_, Action::OptOut) => None,
            (Regime::Gdpr, _) => Some(due.plus_months(2)),
            (Regime::Ccpa, _) => Some(due.plus(Duration::from_secs(45 * 86_400))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Received,
    InProgress,
    Completed,
    /// Ended without its result: an export cancelled by the account's erasure.
    Cancelled,
}

impl State {
    const ALL: [State; 4] = [
        State::Received,
        State::InProgress,
        State::Completed,
        State::Cancelled,
    ];
    fn as_str(self) -> &'static str {
        match self {
            State::Received => "received",
            State::InProgress => "in_progress",
            State::Completed => "completed",
            State::Cancelled => "cancelled",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        State::ALL.into_iter().find(|x| x.as_str() == s)
    }
    /// Whether the request still has work to do (completed and cancelled ones have none).
    pub fn is_open(self) -> bool {
        matches!(self, State::Received | State::InProgress)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateChange {
    pub state: State,
    pub at: String,
    pub note: String,
}

/// One request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivacyRequest {
    pub id: String,
    pub user_id: String,
    pub rtype: RequestType,
    pub state: State,
    pub received_at: Timestamp,
    pub due_at: Timestamp,
    pub extension_reason: Option<String>,
    pub completed_at: Option<Timestamp>,
    pub history: Vec<StateChange>,
    /// The erasure's next step, or the export's progress.
    pub step: Option<String>,
    /// Workflow data that survives a restart (the export's object key, the erasure's counts).
    pub progress: serde_json::Map<String, serde_json::Value>,
    /// Until when the worker that claimed it holds it.
    pub lease_until: Option<Timestamp>,
    pub version: i64,
}

/// What the routes return about a request.
#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    pub request_id: String,
    pub regime: Regime,
    #[serde(rename = "type")]
    pub type_name: &'static str,
    pub status: State,
    pub received_at: String,
    pub due_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub history: Vec<StateChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_expires_at: Option<String>,
    /// A completed erasure's receipt: what was erased, and what was kept, for how long and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<serde_json::Value>,
}

impl PrivacyRequest {
    pub fn view(&self) -> RequestView {
        RequestView {
            request_id: self.id.clone(),
            regime: self.rtype.regime,
            type_name: self.rtype.name(),
            status: self.state,
            received_at: self.received_at.to_rfc3339(),
            due_at: self.due_at.to_rfc3339(),
            extension_reason: self.extension_reason.clone(),
            completed_at: self.completed_at.map(Timestamp::to_rfc3339),
            step: self.step.clone(),
            history: self.history.clone(),
            download_url: None,
            download_expires_at: None,
            receipt: self.progress.get("receipt").cloned(),
        }
    }

    pub fn is_open(&self) -> bool {
        self.state.is_open()
    }
}

pub fn request_key(id: &str) -> Key {
    Key::new(format!("PRIVREQ#{id}"), "REQUEST")
}

fn claim_key(user_id: &str, action: Action) -> Key {
    Key::new(format!("PRIVOPEN#{user_id}#{}", action.as_str()), "OPEN")
}

pub fn pointer_key(user_id: &str, id: &str) -> Key {
    Key::new(
        crate::table::schema::user_partition(user_id),
        format!("PRIVREQ#{id}"),
    )
}

fn history_value(h: &[StateChange]) -> Value {
    Value::L(
        h.iter()
            .map(|c| {
                Value::M(
                    [
                        ("state".to_string(), Value::from(c.state.as_str())),
                        ("at".to_string(), Value::from(c.at.as_str())),
                        ("note".to_string(), Value::from(c.note.as_str())),
                    ]
                    .into_iter()
                    .collect(),
                )
            })
            .collect(),
    )
}

fn history_from(v: Option<&Value>) -> Vec<StateChange> {
    let Some(Value::L(list)) = v else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|c| {
            let Value::M(m) = c else { return None };
            let s = |k: &str| match m.get(k) {
                Some(Value::S(s)) => Some(s.clone()),
                _ => None,
            };
            Some(StateChange {
                state: State::parse(&s("state")?)?,
                at: s("at")?,
                note: s("note").unwrap_or_default(),
            })
        })
        .collect()
}

fn to_item(r: &PrivacyRequest) -> Result<Item> {
    let mut item = Item::new(&request_key(&r.id))
        .with("request_id", r.id.as_str())
        .with("user_id", r.user_id.as_str())
        .with(
            "regime",
            if r.rtype.regime == Regime::Gdpr {
                "gdpr"
            } else {
                "ccpa"
            },
        )
        .with("action", r.rtype.action.as_str())
        .with("state", r.state.as_str())
        .with("received_at", r.received_at.millis())
        .with("due_at", r.due_at.millis())
        .with("history", history_value(&r.history))
        .with(
            "progress",
            serde_json::to_string(&r.progress).map_err(|e| Error::Internal(e.to_string()))?,
        )
        .with("version", r.version)
        .with(TTL, r.received_at.plus(RECORD_RETENTION).secs());
    if r.is_open() {
        item.set(GSI1.pk, OPEN_INDEX);
        item.set(GSI1.sk, format!("{:013}#{}", r.due_at.millis(), r.id));
    }
    if let Some(reason) = &r.extension_reason {
        item.set("extension_reason", reason.as_str());
    }
    if let Some(at) = r.completed_at {
        item.set("completed_at", at.millis());
    }
    if let Some(step) = &r.step {
        item.set("step", step.as_str());
    }
    if let Some(t) = r.lease_until {
        item.set("lease_until", t.millis());
    }
    Ok(item)
}

pub fn from_item(i: &Item) -> Result<PrivacyRequest> {
    let bad = || Error::Internal("malformed privacy request item".into());
    let regime = match i.s("regime") {
        Some("gdpr") => Regime::Gdpr,
        Some("ccpa") => Regime::Ccpa,
        _ => return Err(bad()),
    };
    let action = i.s("action").and_then(Action::parse).ok_or_else(bad)?;
    Ok(PrivacyRequest {
        id: i.s("request_id").ok_or_else(bad)?.to_string(),
        user_id: i.s("user_id").ok_or_else(bad)?.to_string(),
        rtype: RequestType { regime, action },
        state: i.s("state").and_then(State::parse).ok_or_else(bad)?,
        received_at: Timestamp(i.n("received_at").ok_or_else(bad)?),
        due_at: Timestamp(i.n("due_at").ok_or_else(bad)?),
        extension_reason: i.s("extension_reason").map(str::to_string),
        completed_at: i.n("completed_at").map(Timestamp),
        history: history_from(i.get("history")),
        step: i.s("step").map(str::to_string),
        progress: i
            .s("progress")
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default(),
        lease_until: i.n("lease_until").map(Timestamp),
        version: i.n("version").unwrap_or(0),
    })
}

/// The request `id`, if it exists (whoever it belongs to: the caller checks).
pub async fn get(table: &dyn Table, id: &str) -> Result<Option<PrivacyRequest>> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    table
        .get(&request_key(id))
        .await?
        .as_ref()
        .map(from_item)
        .transpose()
}

/// Opens a request, or returns the open one of the same action: `(request, created)`.
pub async fn submit(
    table: &dyn Table,
    user_id: &str,
    rtype: RequestType,
    now: Timestamp,
) -> Result<(PrivacyRequest, bool)> {
    for _ in 0..5 {
        let id = crate::crypto::hex(&crate::crypto::random_bytes::<16>()?);
        let request = PrivacyRequest {
            id: id.clone(),
            user_id: user_id.to_string(),
            rtype,
            state: State::Received,
            received_at: now,
            due_at: rtype.due(now),
            extension_reason: None,
            completed_at: None,
            history: vec![StateChange {
                state: State::Received,
                at: now.to_rfc3339(),
                note: format!("{} request received", rtype.name()),
            }],
            step: None,
            progress: Default::default(),
            lease_until: None,
            version: 1,
        };
        let mut ops = vec![
            TxOp::Put {
                item: Item::new(&claim_key(user_id, rtype.action))
                    .with("request_id", id.as_str())
                    .with(TTL, now.plus(RECORD_RETENTION).secs()),
                condition: Some(Condition::NotExists),
            },
            TxOp::Put {
                item: to_item(&request)?,
                condition: Some(Condition::NotExists),
            },
            TxOp::Put {
                item: Item::new(&pointer_key(user_id, &id)).with("request_id", id.as_str()),
                condition: None,
            },
        ];
        let fenced = rtype.action == Action::Export;
        if fenced {
            // Checked in the same transaction: an erasure that set its fence first sees no
            // export begin after it (and cancels one that began before).
            // (A missing profile is refused too: the erasure may be past deleting it.)
            ops.push(TxOp::Check {
                key: crate::users::profile_key(user_id),
                condition: Condition::Exists
                    .and(Condition::AttributeNotExists(crate::users::ERASING.into())),
            });
        }
        match table.transact(ops).await {
            Ok(()) => return Ok((request, true)),
            Err(Error::TransactionCancelled { failed, .. }) if fenced && failed.contains(&3) => {
                return Err(Error::Conflict(
                    "the account is being erased: no export can start".into(),
                ));
            }
            Err(Error::TransactionCancelled { failed, .. }) if failed.contains(&0) => {
                let claim = table.get(&claim_key(user_id, rtype.action)).await?;
                let existing = match claim.as_ref().and_then(|c| c.s("request_id")) {
                    Some(id) => get(table, id).await?,
                    None => None, // completed in between: try again
                };
                if let Some(r) = existing.filter(PrivacyRequest::is_open) {
                    return Ok((r, false));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict(
        "the privacy request could not be opened; retry".into(),
    ))
}

/// Writes `next` over `current` if nobody changed the record since it was read.
async fn replace(
    table: &dyn Table,
    current: &PrivacyRequest,
    next: &mut PrivacyRequest,
) -> Result<()> {
    next.version = current.version + 1;
    let item = to_item(next)?;
    table
        .put(item, Some(Condition::eq("version", current.version)))
        .await
        .map_err(|e| match e {
            Error::ConditionFailed => {
                Error::Conflict("the privacy request changed concurrently".into())
            }
            e => e,
        })
}

/// Claims the request for one worker until `now + LEASE`; `None` when it is completed or
/// another worker holds it.
pub async fn claim(table: &dyn Table, id: &str, now: Timestamp) -> Result<Option<PrivacyRequest>> {
    let update = Update::new()
        .set("lease_until", now.plus(LEASE).millis())
        .add("version", 1)
        .when(
            Condition::Exists
                .and(Condition::Ne(
                    "state".into(),
                    Value::from(State::Completed.as_str()),
                ))
                .and(Condition::Ne(
                    "state".into(),
                    Value::from(State::Cancelled.as_str()),
                ))
                .and(
                    Condition::AttributeNotExists("lease_until".into())
                        .or(Condition::lt("lease_until", now.millis())),
                ),
        );
    match table.update(&request_key(id), update).await {
        Ok(item) => from_item(&item).map(Some),
        Err(Error::ConditionFailed) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Ends the worker's lease (the next worker need not wait for it to expire).
pub async fn release(table: &dyn Table, r: &PrivacyRequest) -> Result<()> {
    let update = Update::new()
        .remove("lease_until")
        .add("version", 1)
        .when(Condition::eq("version", r.version));
    match table.update(&request_key(&r.id), update).await {
        Ok(_) | Err(Error::ConditionFailed) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Records progress of a claimed request (state `in_progress`, the step, its data); the
/// lease is extended. Fails with a conflict if another worker has taken it over.
pub async fn advance(
    table: &dyn Table,
    r: &mut PrivacyRequest,
    step: &str,
    now: Timestamp,
) -> Result<()> {
    let mut next = r.clone();
    if next.state != State::InProgress {
        next.state = State::InProgress;
        next.history.push(StateChange {
            state: State::InProgress,
            at: now.to_rfc3339(),
            note: "processing started".into(),
        });
    }
    next.step = Some(step.to_string());
    next.lease_until = Some(now.plus(LEASE));
    replace(table, r, &mut next).await?;
    *r = next;
    Ok(())
}

/// Completes a claimed request: state, time, history; closes the open claim so a new request
/// of the same action can be made.
pub async fn complete(
    table: &dyn Table,
    r: &mut PrivacyRequest,
    note: &str,
    now: Timestamp,
) -> Result<()> {
    close(table, r, State::Completed, note, now).await
}

/// Cancels the user's open request of `action`, whoever holds it, and returns until when its
/// worker may still be writing (the lease it held; `None` when no request was open). The
/// worker's next renewal fails on the changed version, and it stops.
pub async fn cancel_open(
    table: &dyn Table,
    user_id: &str,
    action: Action,
    note: &str,
    now: Timestamp,
) -> Result<Option<Timestamp>> {
    // Each retry follows a worker's renewal that changed the version in between.
    for _ in 0..10 {
        let claim = table.get(&claim_key(user_id, action)).await?;
        let Some(id) = claim.as_ref().and_then(|c| c.s("request_id")) else {
            return Ok(None);
        };
        let Some(mut r) = get(table, id).await?.filter(PrivacyRequest::is_open) else {
            return Ok(None); // closed in between (closing removes the claim)
        };
        let writing_until = r.lease_until.unwrap_or(now).max(now);
        match close(table, &mut r, State::Cancelled, note, now).await {
            Ok(()) => return Ok(Some(writing_until)),
            Err(Error::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict(
        "the open request kept changing; retry".into(),
    ))
}

/// Ends a request in `state` (completed or cancelled): time, history, no step or lease; the
/// open claim goes in the same transaction, conditioned on naming this request.
async fn close(
    table: &dyn Table,
    r: &mut PrivacyRequest,
    state: State,
    note: &str,
    now: Timestamp,
) -> Result<()> {
    let mut next = r.clone();
    next.state = state;
    next.completed_at = (state == State::Completed).then_some(now);
    next.step = None;
    next.lease_until = None;
    next.history.push(StateChange {
        state,
        at: now.to_rfc3339(),
        note: note.to_string(),
    });
    next.version = r.version + 1;
    let result = table
        .transact(vec![
            TxOp::Put {
                item: to_item(&next)?,
                condition: Some(Condition::eq("version", r.version)),
            },
            TxOp::Delete {
                key: claim_key(&r.user_id, r.rtype.action),
                condition: Some(Condition::eq("request_id", r.id.as_str())),
            },
        ])
        .await;
    match result {
        Ok(()) => {
            *r = next;
            Ok(())
        }
        Err(Error::TransactionCancelled { .. }) => Err(Error::Conflict(
            "the privacy request changed concurrently".into(),
        )),
        Err(e) => Err(e),
    }
}

/// Extends an open request's deadline once, with the reason the user is told.
pub async fn extend(
    table: &dyn Table,
    id: &str,
    reason: &str,
    now: Timestamp,
) -> Result<PrivacyRequest> {
    let reason = reason.trim();
    if reason.is_empty() || reason.len() > 500 {
        return Err(Error::invalid("reason", "1 to 500 characters"));
    }
    let current = get(table, id).await?.ok_or(Error::NotFound)?;
    if !current.is_open() {
        return Err(Error::Conflict("the request is already completed".into()));
    }
    if current.extension_reason.is_some() {
        return Err(Error::Conflict(
            "the request was already extended once".into(),
        ));
    }
    let due = current
        .rtype
        .extended_due(current.due_at)
        .ok_or_else(|| Error::invalid("type", "an opt-out cannot be extended"))?;
    let mut next = current.clone();
    next.due_at = due;
    next.extension_reason = Some(reason.to_string());
    next.history.push(StateChange {
        state: current.state,
        at: now.to_rfc3339(),
        note: format!("deadline extended to {}", due.to_rfc3339()),
    });
    replace(table, &current, &mut next).await?;
    Ok(next)
}

/// Open requests ordered by due date, the earliest first (the monitor and the dashboard).
pub async fn open_by_due(table: &dyn Table, limit: usize) -> Result<Vec<PrivacyRequest>> {
    let page = table
        .query(
            Query::index(&GSI1, OPEN_INDEX)
                .sort(SortKey::All)
                .limit(limit),
        )
        .await?;
    page.items.iter().map(from_item).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_types_are_named_in_the_error() {
        let e = RequestType::parse(Regime::Gdpr, "do_not_sell").unwrap_err();
        assert!(
            e.to_string().contains("Invalid request type: do_not_sell"),
            "{e}"
        );
        assert!(RequestType::parse(Regime::Ccpa, "export").is_err());
        assert_eq!(
            RequestType::parse(Regime::Ccpa, "access").unwrap().action,
            Action::Export
        );
    }

    #[test]
    fn deadlines_follow_each_regime() {
        // 2026-01-31T00:00Z
        let t = Timestamp(1_769_817_600_000);
        let gdpr = RequestType::parse(Regime::Gdpr, "export").unwrap();
        assert_eq!(gdpr.due(t).to_rfc3339(), "2026-02-28T00:00:00.000Z");
        assert_eq!(
            gdpr.extended_due(gdpr.due(t)).unwrap().to_rfc3339(),
            "2026-04-28T00:00:00.000Z"
        );
        let ccpa = RequestType::parse(Regime::Ccpa, "delete").unwrap();
        assert_eq!(ccpa.due(t).to_rfc3339(), "2026-03-17T00:00:00.000Z");
        let opt_out = RequestType::parse(Regime::Ccpa, "do_not_sell").unwrap();
        // Saturday 31 January + 15 business days = Friday 20 February.
        assert_eq!(opt_out.due(t).to_rfc3339(), "2026-02-20T00:00:00.000Z");
        assert_eq!(opt_out.extended_due(t), None);
    }
}
