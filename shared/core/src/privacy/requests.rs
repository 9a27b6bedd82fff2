//! Privacy requests: one record per request, idempotent while open, with its legal deadline,
//! its state history and, for the long-running ones, a lease so one worker runs it at a time.
//!
//! Items:
//!
//! | item | pk | sk | gsi1 |
//! | --- | --- | --- | --- |
//! | the request | `PRIVREQ#{id}` | `REQUEST` | open: `PRIVREQS#OPEN` / `{due:013}#{id}`; closed: `PRIVREQS#Y{year received}` / `{received:013}#{id}` |
//! | the open-request claim | `PRIVOPEN#{user}#{action}` | `OPEN` | — |
//! | the user's pointer | `USER#{user}` | `PRIVREQ#{id}` | — |
//!
//! Submitting writes all three in one transaction, the claim conditioned on not existing: two
//! concurrent asks create one request, and the loser reads the claim and answers with the
//! winner's id. The request lives outside the user's partition, so the erasure's own record
//! survives the erasure as a pseudonymous receipt; it is kept 24 months from the day it closed
//! (CCPA regulations § 7101), and no expiry is set while it is open. Closed requests are indexed
//! by the year they were received, open ones by due date: an operator's list and the § 7102
//! metrics read both ([`crate::privacy::operations`]). Every change is conditioned on the record's `version`, and a worker
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
use crate::table::{Condition, Item, Key, Query, SortKey, Table, TxOp, Update, Value, query_all};
use crate::{Error, Result};

/// How long request records are kept.
pub const RECORD_RETENTION: Duration = Duration::from_secs(730 * 86_400);
/// How long one worker holds a request before another may take over.
pub const LEASE: Duration = Duration::from_secs(120);
pub const OPEN_INDEX: &str = "PRIVREQS#OPEN";
/// The index partition of requests closed and received in one UTC year: this, then the year.
const CLOSED_INDEX: &str = "PRIVREQS#Y";

/// The index partition of the closed requests received in `year`.
pub fn closed_index(year: i32) -> String {
    format!("{CLOSED_INDEX}{year}")
}

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
    /// Back in to the sale and sharing of personal information, after an opt-out: in two
    /// steps, the second a separate confirmation (CCPA regulations § 7028(a)).
    OptIn,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Export => "export",
            Action::Erase => "erase",
            Action::OptOut => "opt_out",
            Action::OptIn => "opt_in",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Action::Export, Action::Erase, Action::OptOut, Action::OptIn]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
    /// Whether the requester must have authenticated within the last five minutes.
    pub fn needs_fresh_auth(self) -> bool {
        !matches!(self, Action::OptOut | Action::OptIn)
    }
}

/// A request type as the user names it: `gdpr`/`export`, `ccpa`/`do_not_sell`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestType {
    pub regime: Regime,
    pub action: Action,
}

impl Regime {
    pub const ALL: [Regime; 2] = [Regime::Gdpr, Regime::Ccpa];
    pub fn as_str(self) -> &'static str {
        match self {
            Regime::Gdpr => "gdpr",
            Regime::Ccpa => "ccpa",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Regime::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Every request type, in the order reports list them.
pub const TYPES: &[(Regime, &str, Action)] = &[
    (Regime::Gdpr, "export", Action::Export),
    (Regime::Gdpr, "delete", Action::Erase),
    (Regime::Ccpa, "do_not_sell", Action::OptOut),
    (Regime::Ccpa, "opt_in", Action::OptIn),
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

    /// The request in words, as a notice to the requester names it.
    pub fn describe(self) -> &'static str {
        match (self.regime, self.action) {
            (Regime::Gdpr, Action::Export) => "GDPR request for a copy of your data",
            (Regime::Gdpr, Action::Erase) => "GDPR request to erase your data",
            (Regime::Gdpr, Action::OptOut) => "request to stop the sale and sharing of your data",
            (Regime::Ccpa, Action::Export) => "CCPA request to know the data held about you",
            (Regime::Ccpa, Action::Erase) => "CCPA request to delete your data",
            (Regime::Ccpa, Action::OptOut) => {
                "CCPA request to opt out of the sale and sharing of your data"
            }
            (_, Action::OptIn) => "request to opt back in to the sale and sharing of your data",
        }
    }

    /// The statutory deadline for a request received at `received`: GDPR Art. 12(3) one month;
    /// CCPA § 1798.130 45 days; a CCPA opt-out 15 business days (regulations § 7026(f)).
    pub fn due(self, received: Timestamp) -> Timestamp {
        match (self.regime, self.action) {
            (_, Action::OptOut | Action::OptIn) => received.plus_business_days(15),
            (Regime::Gdpr, _) => received.plus_months(1),
            (Regime::Ccpa, _) => received.plus(Duration::from_secs(45 * 86_400)),
        }
    }

    /// The one extension the law allows, from the current due date: GDPR two further months,
    /// CCPA 45 further days; none for opt-outs.
    pub fn extended_due(self, due: Timestamp) -> Option<Timestamp> {
        match (self.regime, self.action) {
            (_, Action::OptOut | Action::OptIn) => None,
            (Regime::Gdpr, _) => Some(due.plus_months(2)),
            (Regime::Ccpa, _) => Some(due.plus(Duration::from_secs(45 * 86_400))),
        }
    }
}

/// The one set of states a request passes through (documented in docs/COMPLIANCE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Made and recorded; no worker has started it.
    Received,
    /// Waits for the requester to prove who they are (a request made without a session).
    Verifying,
    /// Waits for an operator: an authorized agent's permission to check, or an account that
    /// a mailbox alone may not act for.
    AwaitingOperator,
    /// A worker is running it (or will resume it: the lease says which).
    InProgress,
    /// Warden's part is done; the downstream recipients have not all acknowledged it.
    AwaitingAcknowledgements,
    /// Done: complied with in whole or in part.
    Completed,
    /// Refused by an operator, with a basis the requester is told.
    Denied,
    /// Ended without its result: an export cancelled by the account's erasure.
    Cancelled,
}

impl State {
    pub const ALL: [State; 8] = [
        State::Received,
        State::Verifying,
        State::AwaitingOperator,
        State::InProgress,
        State::AwaitingAcknowledgements,
        State::Completed,
        State::Denied,
        State::Cancelled,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            State::Received => "received",
            State::Verifying => "verifying",
            State::AwaitingOperator => "awaiting_operator",
            State::InProgress => "in_progress",
            State::AwaitingAcknowledgements => "awaiting_acknowledgements",
            State::Completed => "completed",
            State::Denied => "denied",
            State::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        State::ALL.into_iter().find(|x| x.as_str() == s)
    }
    /// Whether the request still has work to do (completed, denied and cancelled ones have
    /// none).
    pub fn is_open(self) -> bool {
        !matches!(self, State::Completed | State::Denied | State::Cancelled)
    }
    /// Whether a worker may take it: the states the engine runs (the others wait for a person).
    pub fn is_runnable(self) -> bool {
        matches!(self, State::Received | State::InProgress)
    }
}

/// Why an operator refused a request: one fixed list, each with the provision it rests on
/// (documented in docs/COMPLIANCE.md, told to the requester).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyBasis {
    /// The requester could not be verified as the person the data is about.
    IdentityNotVerified,
    /// Manifestly unfounded.
    ManifestlyUnfounded,
    /// Excessive, in particular because repetitive.
    Excessive,
    /// Answering would adversely affect the rights and freedoms of others.
    RightsOfOthers,
    /// The data must be kept to comply with a legal obligation.
    LegalObligation,
    /// The data is needed to establish, exercise or defend legal claims.
    LegalClaims,
    /// The data falls under an exemption of the law the request was made under.
    ExemptData,
}

impl DenyBasis {
    pub const ALL: [DenyBasis; 7] = [
        DenyBasis::IdentityNotVerified,
        DenyBasis::ManifestlyUnfounded,
        DenyBasis::Excessive,
        DenyBasis::RightsOfOthers,
        DenyBasis::LegalObligation,
        DenyBasis::LegalClaims,
        DenyBasis::ExemptData,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            DenyBasis::IdentityNotVerified => "identity_not_verified",
            DenyBasis::ManifestlyUnfounded => "manifestly_unfounded",
            DenyBasis::Excessive => "excessive",
            DenyBasis::RightsOfOthers => "rights_of_others",
            DenyBasis::LegalObligation => "legal_obligation",
            DenyBasis::LegalClaims => "legal_claims",
            DenyBasis::ExemptData => "exempt_data",
        }
    }
    /// The basis named `s`; anything else is a 400 listing the bases.
    pub fn parse(s: &str) -> Result<Self> {
        DenyBasis::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = DenyBasis::ALL.iter().map(|b| b.as_str()).collect();
                Error::invalid("basis", format!("one of: {}", names.join(", ")))
            })
    }
    /// The provisions the basis rests on, as the requester's notice cites them.
    pub fn provisions(self, regime: Regime) -> &'static str {
        match (self, regime) {
            (DenyBasis::IdentityNotVerified, Regime::Gdpr) => "GDPR Art. 12(2) and 12(6)",
            (DenyBasis::IdentityNotVerified, Regime::Ccpa) => {
                "Cal. Civ. Code § 1798.140(ak); CCPA regulations § 7060-7062"
            }
            (DenyBasis::ManifestlyUnfounded, Regime::Gdpr) => "GDPR Art. 12(5)(b)",
            (DenyBasis::ManifestlyUnfounded, Regime::Ccpa) => "Cal. Civ. Code § 1798.145(h)(3)",
            (DenyBasis::Excessive, Regime::Gdpr) => "GDPR Art. 12(5)(b)",
            (DenyBasis::Excessive, Regime::Ccpa) => "Cal. Civ. Code § 1798.145(h)(3)",
            (DenyBasis::RightsOfOthers, Regime::Gdpr) => "GDPR Art. 15(4)",
            (DenyBasis::RightsOfOthers, Regime::Ccpa) => "Cal. Civ. Code § 1798.145(k)",
            (DenyBasis::LegalObligation, Regime::Gdpr) => "GDPR Art. 17(3)(b)",
            (DenyBasis::LegalObligation, Regime::Ccpa) => {
                "Cal. Civ. Code § 1798.105(d)(8) and § 1798.145(a)(1)(A)"
            }
            (DenyBasis::LegalClaims, Regime::Gdpr) => "GDPR Art. 17(3)(e)",
            (DenyBasis::LegalClaims, Regime::Ccpa) => "Cal. Civ. Code § 1798.145(a)(1)(E)",
            (DenyBasis::ExemptData, Regime::Gdpr) => "GDPR Art. 23 (a restriction in law)",
            (DenyBasis::ExemptData, Regime::Ccpa) => "Cal. Civ. Code § 1798.145 and § 1798.146",
        }
    }
}

/// An operator's refusal, as the requester sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    pub basis: DenyBasis,
    /// The provisions the basis rests on.
    pub provisions: &'static str,
    pub reason: String,
    /// The requester's remedies, which a refusal must name (GDPR Art. 12(4); CCPA regulations
    /// § 7022(f), § 7024(e)).
    pub remedies: &'static str,
}

pub const REMEDIES: &str = "You may lodge a complaint with a supervisory authority (for the GDPR, in the member state of your residence, work or the alleged infringement) or, in California, with the California Privacy Protection Agency or the Attorney General, and you may seek a judicial remedy.";

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
    /// When it was answered: completed, denied or cancelled.
    pub closed_at: Option<Timestamp>,
    pub denial: Option<Denial>,
    pub history: Vec<StateChange>,
    /// The erasure's next step, or the export's progress.
    pub step: Option<String>,
    /// Workflow data that survives a restart (the export's object key, the erasure's counts).
    pub progress: serde_json::Map<String, serde_json::Value>,
    /// Until when the worker that claimed it holds it.
    pub lease_until: Option<Timestamp>,
    /// The downstream recipients that have yet to acknowledge it (state
    /// `awaiting_acknowledgements`).
    pub pending_acks: Vec<String>,
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
    /// A denied request's basis, the reason given and the requester's remedies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denial: Option<Denial>,
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
    /// An erasure's legal hold: the categories kept and the hold's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_hold: Option<serde_json::Value>,
    /// The authorized agent that made it: name and address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<serde_json::Value>,
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
            denial: self.denial.clone(),
            step: self.step.clone(),
            history: self.history.clone(),
            download_url: None,
            download_expires_at: None,
            receipt: self.progress.get("receipt").cloned(),
            legal_hold: self.progress.get(super::erasure::LEGAL_HOLD).cloned(),
            agent: self
                .progress
                .get(super::intake::AGENT)
                .map(|a| serde_json::json!({ "name": a["name"], "email": a["email"] })),
        }
    }

    pub fn is_open(&self) -> bool {
        self.state.is_open()
    }

    /// Whether it is still open past its due date at `now`.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        self.is_open() && self.due_at < now
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
        format!("{POINTER_PREFIX}{id}"),
    )
}

/// The sort-key prefix of the user's pointers to their requests.
const POINTER_PREFIX: &str = "PRIVREQ#";

/// Every request the user's pointers name that is still the user's, in the pointers' order
/// (one query, then one read per request).
pub async fn of_user(table: &dyn Table, user_id: &str) -> Result<Vec<PrivacyRequest>> {
    let pointers = crate::table::query_all(
        table,
        crate::table::Query::partition(crate::table::schema::user_partition(user_id))
            .sort(crate::table::SortKey::BeginsWith(POINTER_PREFIX.into())),
    )
    .await?;
    let mut out = Vec::new();
    for p in &pointers {
        if let Some(id) = p.s("request_id")
            && let Some(r) = get(table, id).await?
            && r.user_id == user_id
        {
            out.push(r);
        }
    }
    Ok(out)
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
        .with("regime", r.rtype.regime.as_str())
        .with("action", r.rtype.action.as_str())
        .with("state", r.state.as_str())
        .with("received_at", r.received_at.millis())
        .with("due_at", r.due_at.millis())
        .with("history", history_value(&r.history))
        .with(
            "progress",
            serde_json::to_string(&r.progress).map_err(|e| Error::internal("JSON encoding", e))?,
        )
        .with("version", r.version);
    match r.closed_at.filter(|_| !r.is_open()) {
        None => {
            item.set(GSI1.pk, OPEN_INDEX);
            item.set(GSI1.sk, format!("{:013}#{}", r.due_at.millis(), r.id));
        }
        Some(closed) => {
            item.set(GSI1.pk, closed_index(r.received_at.year()));
            item.set(GSI1.sk, format!("{:013}#{}", r.received_at.millis(), r.id));
            item.set("closed_at", closed.millis());
            item.set(TTL, closed.plus(RECORD_RETENTION).secs());
        }
    }
    if !r.pending_acks.is_empty() {
        item.set(
            "pending_acks",
            Value::L(
                r.pending_acks
                    .iter()
                    .map(|n| Value::from(n.as_str()))
                    .collect(),
            ),
        );
    }
    if let Some(d) = &r.denial {
        item.set("deny_basis", d.basis.as_str());
        item.set("deny_reason", d.reason.as_str());
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
    let bad = || Error::Malformed("privacy request item");
    let regime = i.s("regime").and_then(Regime::parse).ok_or_else(bad)?;
    let denial = match (i.s("deny_basis"), i.s("deny_reason")) {
        (Some(basis), Some(reason)) => {
            let basis = DenyBasis::parse(basis).map_err(|_| bad())?;
            Some(Denial {
                basis,
                provisions: basis.provisions(regime),
                reason: reason.to_string(),
                remedies: REMEDIES,
            })
        }
        _ => None,
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
        // Requests closed before `closed_at` existed: their completion, or their last change.
        closed_at: i
            .n("closed_at")
            .map(Timestamp)
            .or(i.n("completed_at").map(Timestamp)),
        denial,
        history: history_from(i.get("history")),
        step: i.s("step").map(str::to_string),
        progress: i
            .s("progress")
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default(),
        lease_until: i.n("lease_until").map(Timestamp),
        pending_acks: match i.get("pending_acks") {
            Some(Value::L(names)) => names
                .iter()
                .filter_map(|n| match n {
                    Value::S(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        },
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
    submit_in(table, user_id, rtype, now, Opening::new(State::Received)).await
}

/// How a request begins: the state it is made in, and what its record holds from the start (a
/// note on why it waits, the agent that made it), all in the transaction that makes it.
#[derive(Debug, Clone)]
pub struct Opening {
    pub state: State,
    pub note: Option<String>,
    pub progress: serde_json::Map<String, serde_json::Value>,
}

impl Opening {
    pub fn new(state: State) -> Self {
        Opening {
            state,
            note: None,
            progress: Default::default(),
        }
    }
}

/// As [`submit`], a new request starting in `state` (an opt-in starts `verifying`: no worker
/// may take it before its confirmation).
pub async fn submit_in(
    table: &dyn Table,
    user_id: &str,
    rtype: RequestType,
    now: Timestamp,
    opening: Opening,
) -> Result<(PrivacyRequest, bool)> {
    let state = opening.state;
    let mut history = vec![StateChange {
        state,
        at: now.to_rfc3339(),
        note: format!("{} request received", rtype.name()),
    }];
    history.extend(opening.note.map(|note| StateChange {
        state,
        at: now.to_rfc3339(),
        note,
    }));
    for _ in 0..5 {
        let id = crate::crypto::random_id()?;
        let request = PrivacyRequest {
            id: id.clone(),
            user_id: user_id.to_string(),
            rtype,
            state,
            received_at: now,
            due_at: rtype.due(now),
            extension_reason: None,
            completed_at: None,
            closed_at: None,
            denial: None,
            history: history.clone(),
            step: None,
            progress: opening.progress.clone(),
            lease_until: None,
            pending_acks: Vec::new(),
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
        .put(item, Some(unchanged(current)))
        .await
        .map_err(|e| match e {
            Error::ConditionFailed => changed_concurrently(),
            e => e,
        })
}

/// Claims the request for one worker until `now + LEASE`; `None` when it is not runnable
/// ([`State::is_runnable`]: closed, or waiting for a person) or another worker holds it.
pub async fn claim(table: &dyn Table, id: &str, now: Timestamp) -> Result<Option<PrivacyRequest>> {
    let runnable = State::ALL
        .into_iter()
        .filter(|s| s.is_runnable())
        .map(|s| Condition::eq("state", s.as_str()))
        .reduce(Condition::or)
        .unwrap_or(Condition::NotExists);
    let update = Update::new()
        .set("lease_until", now.plus(LEASE).millis())
        .add("version", 1)
        .when(
            Condition::Exists.and(runnable).and(
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
/// of the same action can be made. An erasure or an opt-out that `downstream` recipients must
/// acknowledge waits for them instead (`awaiting_acknowledgements`, still open, its claim kept).
pub async fn complete(
    table: &dyn Table,
    r: &mut PrivacyRequest,
    note: &str,
    downstream: &[String],
    with: Vec<TxOp>,
    now: Timestamp,
) -> Result<()> {
    if downstream.is_empty() || r.rtype.action == Action::Export {
        return close(table, r, State::Completed, note, with, now).await;
    }
    let mut done = r.clone();
    done.step = None;
    done.lease_until = None;
    done.pending_acks = downstream.to_vec();
    let note = format!(
        "{note}; waiting for acknowledgements from {}",
        downstream.join(", ")
    );
    let mut next = moved(&done, State::AwaitingAcknowledgements, &note, now);
    let mut ops = vec![replacing(&done, &mut next)?];
    ops.extend(with);
    commit(table, ops).await?;
    *r = next;
    Ok(())
}

/// Writes a request's change (its record first) with what goes with it, in one transaction.
async fn commit(table: &dyn Table, ops: Vec<TxOp>) -> Result<()> {
    match table.transact(ops).await {
        Ok(()) => Ok(()),
        Err(Error::TransactionCancelled { .. }) => Err(changed_concurrently()),
        Err(e) => Err(e),
    }
}

/// Moves open request `r` to `state` (waiting for a person, or back to the engine), with a
/// note in its history; conditioned on nobody having changed it since it was read.
pub async fn move_to(
    table: &dyn Table,
    r: &PrivacyRequest,
    state: State,
    note: &str,
    now: Timestamp,
) -> Result<PrivacyRequest> {
    let mut next = moved(r, state, note, now);
    replace(table, r, &mut next).await?;
    Ok(next)
}

/// `r` moved to `state` with `note` in its history (not yet written).
pub(crate) fn moved(
    r: &PrivacyRequest,
    state: State,
    note: &str,
    now: Timestamp,
) -> PrivacyRequest {
    let mut next = r.clone();
    next.state = state;
    next.history.push(StateChange {
        state,
        at: now.to_rfc3339(),
        note: note.to_string(),
    });
    next
}

/// A request answered the moment it is made, and the writes that store it: its record
/// (`received` and `answered` the two notes of its history), and for an account the pointer in
/// its partition. It waits for `downstream` acknowledgements when there are any (and then holds
/// the open claim, so no second request of its action opens meanwhile).
fn answered_at_once(
    user_id: Option<&str>,
    rtype: RequestType,
    received: (Timestamp, String),
    answered: &str,
    downstream: &[String],
    now: Timestamp,
) -> Result<(PrivacyRequest, Vec<TxOp>)> {
    let id = crate::crypto::random_id()?;
    let waits = !downstream.is_empty() && user_id.is_some();
    let state = if waits {
        State::AwaitingAcknowledgements
    } else {
        State::Completed
    };
    let answered = if waits {
        format!(
            "{answered}; waiting for acknowledgements from {}",
            downstream.join(", ")
        )
    } else {
        answered.to_string()
    };
    let r = PrivacyRequest {
        id: id.clone(),
        user_id: user_id.unwrap_or_default().to_string(),
        rtype,
        state,
        received_at: received.0,
        due_at: rtype.due(received.0),
        extension_reason: None,
        completed_at: (!waits).then_some(now),
        closed_at: (!waits).then_some(now),
        denial: None,
        history: vec![
            StateChange {
                state: State::Received,
                at: received.0.to_rfc3339(),
                note: received.1,
            },
            StateChange {
                state,
                at: now.to_rfc3339(),
                note: answered,
            },
        ],
        step: None,
        progress: Default::default(),
        lease_until: None,
        pending_acks: if waits {
            downstream.to_vec()
        } else {
            Vec::new()
        },
        version: 1,
    };
    let mut writes = vec![TxOp::Put {
        item: to_item(&r)?,
        condition: Some(Condition::NotExists),
    }];
    if let Some(user_id) = user_id {
        writes.push(TxOp::Put {
            item: Item::new(&pointer_key(user_id, &id)).with("request_id", id.as_str()),
            condition: None,
        });
        if waits {
            writes.push(TxOp::Put {
                item: Item::new(&claim_key(user_id, rtype.action))
                    .with("request_id", id.as_str())
                    .with(TTL, now.plus(RECORD_RETENTION).secs()),
                condition: Some(Condition::NotExists),
            });
        }
    }
    Ok((r, writes))
}

/// A request from an address that has no account, answered at once: a closed record (no
/// claim, no pointer: there is no account) saying no personal data is held, with the deadlines
/// of its type, and the write that stores it.
pub(crate) fn answered_without_data(
    rtype: RequestType,
    received: Timestamp,
    now: Timestamp,
) -> Result<(PrivacyRequest, Vec<TxOp>)> {
    let note = format!("{} request received by mail", rtype.name());
    let answered = "no personal data is held for this address";
    answered_at_once(None, rtype, (received, note), answered, &[], now)
}

/// The record of an opt-out that a Global Privacy Control signal made (CCPA regulations
/// § 7025: a request like any other, kept 24 months), applied at once; and its writes, for the
/// transaction of its audit event. When another opt-out request is open the claim write fails
/// and the caller records the event alone: that request already covers the opt-out.
pub fn opt_out_by_signal(
    user_id: &str,
    downstream: &[String],
    now: Timestamp,
) -> Result<(PrivacyRequest, Vec<TxOp>)> {
    let rtype = RequestType {
        regime: Regime::Ccpa,
        action: Action::OptOut,
    };
    let received = (now, "Global Privacy Control signal received".to_string());
    let answered = "opt-out of sale and sharing recorded";
    answered_at_once(Some(user_id), rtype, received, answered, downstream, now)
}

/// Whether `name` may name a downstream recipient: 1 to 64 lowercase ASCII letters, digits,
/// `-`, `_` or `.`.
pub fn is_recipient_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}

/// `current` acknowledged by `recipient`, and the writes that store it: the last
/// acknowledgement completes the request (and closes its claim). Refused (409) unless the
/// request awaits that recipient.
pub(crate) fn acknowledgement(
    current: &PrivacyRequest,
    recipient: &str,
    now: Timestamp,
) -> Result<(PrivacyRequest, Vec<TxOp>)> {
    if current.state != State::AwaitingAcknowledgements {
        return Err(Error::Conflict(format!(
            "the request is {}, not awaiting acknowledgements",
            current.state.as_str()
        )));
    }
    if !current.pending_acks.iter().any(|r| r == recipient) {
        return Err(Error::Conflict(format!(
            "{recipient} has no acknowledgement pending (awaiting: {})",
            current.pending_acks.join(", ")
        )));
    }
    let mut acked = current.clone();
    acked.pending_acks.retain(|r| r != recipient);
    let note = format!("acknowledged by {recipient}");
    if acked.pending_acks.is_empty() {
        return closing(&acked, State::Completed, &note, now);
    }
    acked.history.push(StateChange {
        state: State::AwaitingAcknowledgements,
        at: now.to_rfc3339(),
        note,
    });
    let write = replacing(current, &mut acked)?;
    Ok((acked, vec![write]))
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
        match close(table, &mut r, State::Cancelled, note, Vec::new(), now).await {
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
    with: Vec<TxOp>,
    now: Timestamp,
) -> Result<()> {
    let (next, mut ops) = closing(r, state, note, now)?;
    ops.extend(with);
    commit(table, ops).await?;
    *r = next;
    Ok(())
}

pub(crate) fn changed_concurrently() -> Error {
    Error::Conflict("the privacy request changed concurrently".into())
}

/// `r` ended in `state` at `now`, and the writes that store it: the record, conditioned on the
/// version read (first), and the open claim's removal, conditioned on naming this request.
pub(crate) fn closing(
    r: &PrivacyRequest,
    state: State,
    note: &str,
    now: Timestamp,
) -> Result<(PrivacyRequest, Vec<TxOp>)> {
    let mut next = r.clone();
    next.state = state;
    next.completed_at = (state == State::Completed).then_some(now);
    next.closed_at = Some(now);
    next.step = None;
    next.lease_until = None;
    // A closed record keeps no address (an erasure keeps one sealed while it waits).
    next.progress.remove(super::notices::SEALED_ADDRESS);
    next.history.push(StateChange {
        state,
        at: now.to_rfc3339(),
        note: note.to_string(),
    });
    next.version = r.version + 1;
    let ops = vec![
        TxOp::Put {
            item: to_item(&next)?,
            condition: Some(unchanged(r)),
        },
        TxOp::Delete {
            key: claim_key(&r.user_id, r.rtype.action),
            condition: Some(Condition::eq("request_id", r.id.as_str())),
        },
    ];
    Ok((next, ops))
}

/// The write of `next` over `current`, conditioned on nobody having changed it since it was
/// read.
pub(crate) fn replacing(current: &PrivacyRequest, next: &mut PrivacyRequest) -> Result<TxOp> {
    next.version = current.version + 1;
    Ok(TxOp::Put {
        item: to_item(next)?,
        condition: Some(unchanged(current)),
    })
}

fn unchanged(r: &PrivacyRequest) -> Condition {
    Condition::eq("version", r.version)
}

/// `current` with its deadline extended once, for `reason` (which the requester is told), and
/// the write that stores it: refused (409) for a closed request, a second extension, one asked
/// for after the due date, and an opt-out (which the law does not let wait).
pub(crate) fn extension(
    current: &PrivacyRequest,
    reason: &str,
    now: Timestamp,
) -> Result<(PrivacyRequest, TxOp)> {
    if !current.is_open() {
        return Err(Error::Conflict(format!(
            "the request is already {}",
            current.state.as_str()
        )));
    }
    if current.extension_reason.is_some() {
        return Err(Error::Conflict(
            "the request was already extended once".into(),
        ));
    }
    if now > current.due_at {
        return Err(Error::Conflict(format!(
            "the request was due {}: an extension must be made before the due date",
            current.due_at.to_rfc3339()
        )));
    }
    let due = current.rtype.extended_due(current.due_at).ok_or_else(|| {
        Error::Conflict(
            "an opt-out must be honoured within its deadline: it cannot be extended".into(),
        )
    })?;
    let mut next = current.clone();
    next.due_at = due;
    next.extension_reason = Some(reason.to_string());
    next.history.push(StateChange {
        state: current.state,
        at: now.to_rfc3339(),
        note: format!("deadline extended to {}: {reason}", due.to_rfc3339()),
    });
    let op = replacing(current, &mut next)?;
    Ok((next, op))
}

/// Every open request, the earliest due first (an operator's list, the metrics).
pub async fn all_open(table: &dyn Table) -> Result<Vec<PrivacyRequest>> {
    let items = query_all(table, Query::index(&GSI1, OPEN_INDEX).sort(SortKey::All)).await?;
    items.iter().map(from_item).collect()
}

/// Every closed request received in `year`, the earliest received first.
pub async fn closed_in(table: &dyn Table, year: i32) -> Result<Vec<PrivacyRequest>> {
    let index = Query::index(&GSI1, closed_index(year)).sort(SortKey::All);
    let items = query_all(table, index).await?;
    items.iter().map(from_item).collect()
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
