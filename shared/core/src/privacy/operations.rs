//! The operator's side of privacy requests: the people who answer them.
//!
//! One set of operations behind two doors: the operator API (`functions/operator`, IAM-signed
//! on AWS, the operator token in `warden-local`) and `warden-local privacy …` on the command
//! line. Both call these functions and print what they return, so the doors cannot disagree.
//!
//! Every change an operator makes is one transaction with its audit event, which names the
//! operator ([`Operator`]): the request changes if and only if the log says who changed it.
//! Reads (lists, a request, the metrics) change nothing and are not logged.

use serde::Serialize;
use serde_json::json;

use super::requests::{
    self, Action, Denial, DenyBasis, PrivacyRequest, REMEDIES, Regime, RequestView, State, TYPES,
};
use crate::audit::{EventType, RequestMeta};
use crate::clock::Timestamp;
use crate::mail::Notice;
use crate::mail::outbox;
use crate::privacy::Privacy;
use crate::table::Table;
use crate::table::UnitOfWork;
use crate::{Error, Result};

/// Who acts: the IAM principal that signed the request, or the local runner's operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator(String);

impl Operator {
    /// The operator of `warden-local` (whoever holds its data directory's operator token).
    pub fn local() -> Self {
        Operator("local operator".into())
    }

    /// An operator by name: the IAM principal's ARN that API Gateway's IAM authorizer reports,
    /// or the command line's user. Empty, over 2 KiB or with control characters is refused.
    pub fn named(name: &str) -> Result<Self> {
        let name = name.trim();
        if name.is_empty() || name.len() > 2048 || name.chars().any(char::is_control) {
            return Err(Error::Forbidden);
        }
        Ok(Operator(name.to_string()))
    }

    pub fn name(&self) -> &str {
        &self.0
    }
}

/// The longest reason an operator may give (it is kept with the record and told to the
/// requester).
pub const REASON_MAX: usize = 1000;

pub(super) fn reason(text: &str) -> Result<&str> {
    let text = text.trim();
    if text.is_empty() || text.len() > REASON_MAX {
        return Err(Error::invalid(
            "reason",
            format!("a reason of 1 to {REASON_MAX} bytes"),
        ));
    }
    Ok(text)
}

/// Which requests to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub state: Option<State>,
    /// A type as the regime names it (`delete`, `access`, `do_not_sell`, …) or an action
    /// (`export`, `erase`, `opt_out`).
    pub type_name: Option<String>,
    pub regime: Option<Regime>,
    /// Only open requests past their due date.
    pub overdue: bool,
}

impl Filter {
    /// The filter the query parameters name; an unknown value is a 400 naming its parameter.
    pub fn parse(
        state: Option<&str>,
        type_name: Option<&str>,
        regime: Option<&str>,
        overdue: bool,
    ) -> Result<Self> {
        let state = state
            .map(|s| {
                State::parse(s).ok_or_else(|| {
                    let all: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
                    Error::invalid("state", format!("one of: {}", all.join(", ")))
                })
            })
            .transpose()?;
        let regime = regime
            .map(|r| Regime::parse(r).ok_or_else(|| Error::invalid("regime", "gdpr or ccpa")))
            .transpose()?;
        if let Some(t) = type_name
            && !TYPES.iter().any(|(_, n, _)| *n == t)
            && Action::parse(t).is_none()
        {
            let mut all: Vec<&str> = TYPES.iter().map(|(_, n, _)| *n).collect();
            all.extend(["erase", "opt_out"]);
            all.sort_unstable();
            all.dedup();
            return Err(Error::invalid(
                "type",
                format!("one of: {}", all.join(", ")),
            ));
        }
        Ok(Filter {
            state,
            type_name: type_name.map(str::to_string),
            regime,
            overdue,
        })
    }

    fn matches(&self, r: &PrivacyRequest, now: Timestamp) -> bool {
        self.state.is_none_or(|s| r.state == s)
            && self.regime.is_none_or(|g| r.rtype.regime == g)
            && self
                .type_name
                .as_deref()
                .is_none_or(|t| r.rtype.name() == t || r.rtype.action.as_str() == t)
            && (!self.overdue || r.is_overdue(now))
    }
}

/// A request as the operator sees it: the requester's view, the account it concerns and
/// whether it is overdue.
#[derive(Debug, Clone, Serialize)]
pub struct OperatorView {
    #[serde(flatten)]
    pub request: RequestView,
    pub user_id: String,
    pub overdue: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
    /// The downstream recipients whose acknowledgement it waits for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending_acknowledgements: Vec<String>,
}

impl OperatorView {
    pub fn of(r: &PrivacyRequest, now: Timestamp) -> Self {
        OperatorView {
            request: r.view(),
            user_id: r.user_id.clone(),
            overdue: r.is_overdue(now),
            closed_at: r.closed_at.map(Timestamp::to_rfc3339),
            pending_acknowledgements: r.pending_acks.clone(),
        }
    }
}

/// The requests `filter` selects: the open ones first, the earliest due first; then the closed
/// ones, the most recently received first. The indexes it needs are read at once (one round
/// trip's time, not five).
pub async fn list(table: &dyn Table, filter: &Filter, now: Timestamp) -> Result<Vec<OperatorView>> {
    let (wants_open, wants_closed) = match filter.state {
        Some(state) => (state.is_open(), !state.is_open()),
        None => (true, !filter.overdue),
    };
    let year = now.year();
    let closed = |y: i32| async move {
        if wants_closed {
            requests::closed_in(table, y).await
        } else {
            Ok(Vec::new())
        }
    };
    let open = async {
        if wants_open {
            requests::all_open(table).await
        } else {
            Ok(Vec::new())
        }
    };
    // Closed records are kept 24 months from closing, and a request may have been received
    // up to four months before it closed: this year and the three before cover them all.
    let (open, y0, y1, y2, y3) = tokio::try_join!(
        open,
        closed(year),
        closed(year - 1),
        closed(year - 2),
        closed(year - 3)
    )?;
    let newest_first = [y0, y1, y2, y3]
        .into_iter()
        .flat_map(|rs| rs.into_iter().rev());
    Ok(open
        .into_iter()
        .chain(newest_first)
        .filter(|r| filter.matches(r, now))
        .map(|r| OperatorView::of(&r, now))
        .collect())
}

/// One request with its history; 404 for an unknown id.
pub async fn show(table: &dyn Table, id: &str, now: Timestamp) -> Result<OperatorView> {
    let r = requests::get(table, id).await?.ok_or(Error::NotFound)?;
    Ok(OperatorView::of(&r, now))
}

/// Where operator changes are made: the services (the table, the audit log that records who
/// made each change, the outbox that tells the requester) at one instant.
pub struct Desk<'a> {
    pub s: Privacy<'a>,
    pub now: Timestamp,
}

impl Desk<'_> {
    /// Extends request `id` once, before its due date, with the reason the requester is told
    /// (in their view of the request, and by email).
    pub async fn extend(
        &self,
        op: &Operator,
        id: &str,
        reason_text: &str,
        meta: &RequestMeta,
    ) -> Result<OperatorView> {
        let reason = reason(reason_text)?;
        let table = self.s.table;
        let current = requests::get(table, id).await?.ok_or(Error::NotFound)?;
        let (next, write) = requests::extension(&current, reason, self.now)?;
        let details = json!({
            "request_id": id,
            "operator": op.name(),
            "due_at": next.due_at.to_rfc3339(),
        });
        let notice = Notice::PrivacyRequestExtended {
            request: next.rtype.describe().to_string(),
            request_id: next.id.clone(),
            received: next.received_at,
            due: next.due_at,
            reason: reason.to_string(),
        };
        self.commit(
            meta,
            EventType::PrivacyRequestExtended,
            &next,
            details,
            vec![write],
            &notice,
        )
        .await?;
        Ok(OperatorView::of(&next, self.now))
    }

    /// Denies request `id` on `basis`, with the reason the requester is told. Only before the
    /// request's data has moved: an erasure that has begun cannot be undone (409); an export in
    /// progress stops at its worker's next lease renewal, as when an erasure cancels it.
    pub async fn deny(
        &self,
        op: &Operator,
        id: &str,
        basis: &str,
        reason_text: &str,
        meta: &RequestMeta,
    ) -> Result<OperatorView> {
        let basis = DenyBasis::parse(basis)?;
        let reason = reason(reason_text)?;
        let table = self.s.table;
        let current = requests::get(table, id).await?.ok_or(Error::NotFound)?;
        let deniable = match current.state {
            State::Received | State::Verifying | State::AwaitingOperator => true,
            State::InProgress => current.rtype.action == Action::Export,
            _ => false,
        };
        if !deniable {
            return Err(Error::Conflict(format!(
                "a {} request that is {} cannot be denied",
                current.rtype.name(),
                current.state.as_str()
            )));
        }
        let denial = Denial {
            basis,
            provisions: basis.provisions(current.rtype.regime),
            reason: reason.to_string(),
            remedies: REMEDIES,
        };
        let mut denied = current.clone();
        denied.denial = Some(denial.clone());
        let (next, writes) = requests::closing(
            &denied,
            State::Denied,
            &format!("denied: {}", basis.as_str()),
            self.now,
        )?;
        let details = json!({
            "request_id": id,
            "operator": op.name(),
            "basis": basis.as_str(),
        });
        let notice = Notice::PrivacyRequestDenied {
            request: next.rtype.describe().to_string(),
            request_id: next.id.clone(),
            received: next.received_at,
            basis: basis.as_str().to_string(),
            provisions: denial.provisions.to_string(),
            reason: denial.reason,
            remedies: REMEDIES.to_string(),
        };
        self.commit(
            meta,
            EventType::PrivacyRequestDenied,
            &next,
            details,
            writes,
            &notice,
        )
        .await?;
        Ok(OperatorView::of(&next, self.now))
    }

    /// Verifies request `id`, which waits for an operator (made by an authorized agent, or by
    /// mail for an account with a second factor): `note` says how (the consumer confirmed by
    /// phone, the agent's signed permission checked). The request is then `received` and the
    /// schedule runs it. 409 unless it waits for an operator, or while an agent's signed
    /// permission has not been uploaded.
    pub async fn verify(
        &self,
        op: &Operator,
        id: &str,
        note: &str,
        meta: &RequestMeta,
    ) -> Result<OperatorView> {
        let note = reason(note)?;
        let table = self.s.table;
        let current = requests::get(table, id).await?.ok_or(Error::NotFound)?;
        if current.state != State::AwaitingOperator {
            return Err(Error::Conflict(format!(
                "only a request awaiting an operator can be verified; this one is {}",
                current.state.as_str()
            )));
        }
        let by_agent = current.progress.contains_key(super::intake::AGENT);
        if by_agent && !self.permission_uploaded(id).await? {
            return Err(Error::Conflict(
                "the agent has not uploaded the consumer's signed permission yet".into(),
            ));
        }
        let note = format!("verified by an operator: {note}");
        let mut next = requests::moved(&current, State::Received, &note, self.now);
        let write = requests::replacing(&current, &mut next)?;
        let details = json!({
            "request_id": id,
            "operator": op.name(),
            "by_agent": by_agent,
        });
        self.record(
            meta,
            EventType::PrivacyRequestVerified,
            &next,
            details,
            vec![write],
        )
        .await?;
        Ok(OperatorView::of(&next, self.now))
    }

    async fn permission_uploaded(&self, id: &str) -> Result<bool> {
        let key = super::intake::permission_key(id);
        let page = self.s.exports.list(&key, None).await?;
        Ok(page.objects.iter().any(|o| o.key == key))
    }

    /// A link (one hour) to the signed permission an agent uploaded for request `id`; 404 when
    /// there is none.
    pub async fn permission_link(&self, id: &str) -> Result<serde_json::Value> {
        let table = self.s.table;
        requests::get(table, id).await?.ok_or(Error::NotFound)?;
        if !self.permission_uploaded(id).await? {
            return Err(Error::NotFound);
        }
        let ttl = std::time::Duration::from_secs(3600);
        let key = super::intake::permission_key(id);
        let url = self.s.exports.presign_get(&key, ttl).await?;
        Ok(json!({ "url": url, "expires_at": self.now.plus(ttl).to_rfc3339() }))
    }

    /// Records that downstream `recipient` has acted on request `id` (erased, stopped selling):
    /// the last acknowledgement completes the request. 409 unless it awaits that recipient.
    pub async fn acknowledge(
        &self,
        op: &Operator,
        id: &str,
        recipient: &str,
        meta: &RequestMeta,
    ) -> Result<OperatorView> {
        if !requests::is_recipient_name(recipient) {
            return Err(Error::invalid(
                "recipient",
                "a recipient's name as WARDEN_DOWNSTREAM_RECIPIENTS lists it",
            ));
        }
        let table = self.s.table;
        let current = requests::get(table, id).await?.ok_or(Error::NotFound)?;
        let (next, writes) = requests::acknowledgement(&current, recipient, self.now)?;
        let details = json!({
            "request_id": id,
            "operator": op.name(),
            "recipient": recipient,
            "remaining": next.pending_acks.len(),
        });
        self.record(
            meta,
            EventType::PrivacyRequestAcknowledged,
            &next,
            details,
            writes,
        )
        .await?;
        Ok(OperatorView::of(&next, self.now))
    }

    /// Writes `writes` (the request's first, conditioned on its version) with their event.
    async fn record(
        &self,
        meta: &RequestMeta,
        event: EventType,
        r: &PrivacyRequest,
        details: serde_json::Value,
        writes: Vec<crate::table::TxOp>,
    ) -> Result<()> {
        match self
            .s
            .audit
            .commit(
                UnitOfWork::from(writes),
                meta,
                event,
                Some(&r.user_id),
                details,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(Error::TransactionCancelled { .. }) => Err(requests::changed_concurrently()),
            Err(e) => Err(e),
        }
    }

    /// Writes `writes` (the request's first, conditioned on its version) with their event and
    /// the requester's `notice` (queued in the same transaction, then delivered; none when the
    /// account is gone or its mail budget is spent).
    async fn commit(
        &self,
        meta: &RequestMeta,
        event: EventType,
        r: &PrivacyRequest,
        details: serde_json::Value,
        mut writes: Vec<crate::table::TxOp>,
        notice: &Notice,
    ) -> Result<()> {
        let queued = super::notices::address_of(&self.s, r, notice, self.now).await?;
        writes.extend(queued.iter().map(outbox::Queued::op));
        self.record(meta, event, r, details, writes).await?;
        if let Some(q) = queued {
            self.s.outbox.deliver(&[q]).await;
        }
        Ok(())
    }
}

/// The § 7102 figures for one request type (or all of them).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TypeMetrics {
    pub regime: Option<Regime>,
    #[serde(rename = "type")]
    pub type_name: &'static str,
    pub received: u32,
    /// Complied with in whole or in part.
    pub complied: u32,
    pub denied: u32,
    /// Ended without an answer (an export cancelled by the account's erasure).
    pub cancelled: u32,
    /// Not answered yet.
    pub open: u32,
    /// Days from receipt to response of the complied-with and denied requests, counted as UTC
    /// calendar days; `None` when none was answered.
    pub median_days: Option<f64>,
    /// As `median_days`, the mean to one decimal.
    pub mean_days: Option<f64>,
}

/// CCPA regulations § 7102(a) metrics for the requests received in one UTC calendar year.
#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    pub year: i32,
    pub by_type: Vec<TypeMetrics>,
    pub total: TypeMetrics,
}

/// The figures for requests received in `year` (UTC): every closed one of that year's index and
/// the open ones received in it.
pub async fn metrics(table: &dyn Table, year: i32) -> Result<Metrics> {
    if !(2000..=9999).contains(&year) {
        return Err(Error::invalid("year", "a year such as 2026"));
    }
    let (closed, open) =
        tokio::try_join!(requests::closed_in(table, year), requests::all_open(table))?;
    let all: Vec<PrivacyRequest> = closed
        .into_iter()
        .chain(open.into_iter().filter(|r| r.received_at.year() == year))
        .collect();
    let by_type = TYPES
        .iter()
        .map(|(regime, name, _)| {
            let of_type: Vec<&PrivacyRequest> = all
                .iter()
                .filter(|r| r.rtype.regime == *regime && r.rtype.name() == *name)
                .collect();
            figures(Some(*regime), name, &of_type)
        })
        .collect();
    let every: Vec<&PrivacyRequest> = all.iter().collect();
    Ok(Metrics {
        year,
        by_type,
        total: figures(None, "all", &every),
    })
}

fn figures(regime: Option<Regime>, type_name: &'static str, rs: &[&PrivacyRequest]) -> TypeMetrics {
    let count = |s: State| rs.iter().filter(|r| r.state == s).count() as u32;
    let mut days: Vec<i64> = rs
        .iter()
        .filter(|r| matches!(r.state, State::Completed | State::Denied))
        .filter_map(|r| r.closed_at.map(|c| c.utc_day() - r.received_at.utc_day()))
        .collect();
    days.sort_unstable();
    let (median_days, mean_days) = match days.len() {
        0 => (None, None),
        n => {
            let median = if n % 2 == 1 {
                days[n / 2] as f64
            } else {
                (days[n / 2 - 1] + days[n / 2]) as f64 / 2.0
            };
            let mean = days.iter().sum::<i64>() as f64 / n as f64;
            (Some(median), Some((mean * 10.0).round() / 10.0))
        }
    };
    TypeMetrics {
        regime,
        type_name,
        received: rs.len() as u32,
        complied: count(State::Completed),
        denied: count(State::Denied),
        cancelled: count(State::Cancelled),
        open: rs.iter().filter(|r| r.is_open()).count() as u32,
        median_days,
        mean_days,
    }
}
