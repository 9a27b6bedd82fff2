//! GDPR and CCPA: the data map, privacy requests with deadlines, the export, the erasure and
//! the opt-out of sale. The `gdpr` and `ccpa` functions submit requests and run them at once;
//! a request whose run failed stays `in_progress` and is resumed by the user asking again or by
//! the schedule ([`resume_open`], run by the `security-scan` function).

pub mod data_map;
pub mod downstream;
pub mod erasure;
pub mod export;
pub mod intake;
pub mod ledger;
pub mod legal_hold;
pub mod notices;
pub mod operations;
pub mod opt_out;
pub mod requests;
pub mod ropa;
mod zip_stream;

use serde::Serialize;
use serde_json::json;

use crate::Result;
use crate::audit::{EventType, RequestMeta};
use crate::billing::Billing;
use crate::blobs::Blobs;
use crate::keys::Keys;
use crate::login::SignIn;
use crate::mail::outbox;
use requests::{Action, PrivacyRequest};

/// What the privacy workflows use: everything a sign-in uses (a request may need the password;
/// an erasure ends sessions and mails its notices as a sign-in does), the key service (legal
/// holds seal under keys of their own), the photo and export stores, the downstream events and
/// the billing port. The wiring builds it (`Services::privacy`); it reads as the [`SignIn`] it
/// extends.
pub struct Privacy<'a> {
    pub sign_in: SignIn<'a>,
    pub keys: &'a dyn Keys,
    pub photos: &'a dyn Blobs,
    pub exports: &'a dyn Blobs,
    pub downstream: &'a downstream::Downstream,
    pub billing: &'a dyn Billing,
}

impl<'a> std::ops::Deref for Privacy<'a> {
    type Target = SignIn<'a>;
    fn deref(&self) -> &SignIn<'a> {
        &self.sign_in
    }
}

/// Runs request `id` if no other worker holds it: `None` when it is completed or leased.
/// On failure the lease is released and the error returned; the request stays open.
pub async fn process(
    s: &Privacy<'_>,
    id: &str,
    meta: &RequestMeta,
) -> Result<Option<PrivacyRequest>> {
    let table = s.table;
    let Some(mut r) = requests::claim(table, id, s.clock.now()).await? else {
        return Ok(None);
    };
    let result = match r.rtype.action {
        Action::Export => export::run(s, &mut r, meta).await.map(|_| ()),
        Action::Erase => erasure::run(s, &mut r, meta).await.map(|_| ()),
        Action::OptOut => run_sale_choice(s, &mut r, meta, true).await,
        Action::OptIn => run_sale_choice(s, &mut r, meta, false).await,
    };
    match result {
        Ok(()) => Ok(Some(r)),
        Err(e) => {
            let _ = requests::release(table, &r).await;
            Err(e)
        }
    }
}

/// Records the request's completion event, once however often a completing step is retried.
pub(crate) async fn record_completion(
    s: &Privacy<'_>,
    r: &PrivacyRequest,
    meta: &RequestMeta,
) -> Result<()> {
    s.audit
        .record_once(
            &format!("privacy-completed:{}", r.id),
            meta,
            EventType::PrivacyRequestCompleted,
            Some(&r.user_id),
            json!({
                "request_id": r.id,
                "regime": r.rtype.regime,
                "type": r.rtype.name(),
            }),
        )
        .await
        .map(|_| ())
}

/// Records the sale-and-sharing choice a request makes (out, or back in), with its event when
/// the request changed it, then completes the request (or waits for the downstream recipients).
async fn run_sale_choice(
    s: &Privacy<'_>,
    r: &mut PrivacyRequest,
    meta: &RequestMeta,
    opt_out_of_sale: bool,
) -> Result<()> {
    let table = s.table;
    let now = s.clock.now();
    let (changed, event, details, note) = if opt_out_of_sale {
        let source = opt_out::Source::Request;
        (
            opt_out::record(table, &r.user_id, source, now).await?,
            EventType::OptOutRecorded,
            json!({ "source": "request", "request_id": r.id }),
            "opt-out of sale and sharing recorded",
        )
    } else {
        (
            opt_out::withdraw(table, &r.user_id, now).await?,
            EventType::OptInRecorded,
            json!({ "request_id": r.id }),
            "opted back in to sale and sharing",
        )
    };
    if changed.is_some() {
        s.audit
            .record(meta, event, Some(&r.user_id), details)
            .await?;
    }
    record_completion(s, r, meta).await?;
    let outcome = if opt_out_of_sale {
        "Your opt-out of the sale and sharing of your personal information is recorded, and applies from now on."
    } else {
        "You opted back in to the sale and sharing of your personal information."
    };
    let notice = notices::completed(s, r, outcome.into(), now).await?;
    let kind = if opt_out_of_sale {
        downstream::Kind::OptedOut
    } else {
        downstream::Kind::OptedIn
    };
    let event = s
        .downstream
        .event(kind, &r.user_id, Some(r), "request", &[], now)?;
    let mut with: Vec<_> = notice.iter().map(outbox::Queued::op).collect();
    with.extend(event.iter().map(downstream::Pending::op));
    let recipients = &s.config.downstream_recipients;
    requests::complete(table, r, note, recipients, with, now).await?;
    s.outbox.deliver(notice.as_slice()).await;
    s.downstream.deliver(event.as_slice()).await;
    Ok(())
}

/// How long an opt-in waits for its confirmation (the second of its two steps).
pub const OPT_IN_CONFIRMATION: std::time::Duration = std::time::Duration::from_secs(86_400);

/// What one scheduled pass over open requests did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResumeReport {
    pub resumed: u32,
    pub completed: u32,
    pub failed: u32,
}

/// Resumes open requests whose worker stopped (lease expired), earliest deadline first, at
/// most `limit` per pass.
pub async fn resume_open(s: &Privacy<'_>, limit: usize) -> Result<ResumeReport> {
    let now = s.clock.now();
    let meta = RequestMeta {
        request_id: "scheduled-privacy-resume".into(),
        ..Default::default()
    };
    let mut report = ResumeReport::default();
    for r in requests::open_by_due(s.table, limit).await? {
        if r.state == requests::State::Verifying
            && r.rtype.action == Action::OptIn
            && now.since(r.received_at) > OPT_IN_CONFIRMATION
        {
            let note = "not confirmed within a day: nothing changed";
            let table = s.table;
            requests::cancel_open(table, &r.user_id, Action::OptIn, note, now).await?;
            continue;
        }
        // Waiting for a person (an operator, a downstream acknowledgement), or held by a worker.
        if !r.state.is_runnable() || r.lease_until.is_some_and(|t| t > now) {
            continue;
        }
        report.resumed += 1;
        match process(s, &r.id, &meta).await {
            Ok(Some(done)) if !done.is_open() => report.completed += 1,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(request_id = %r.id, error = %e, "resuming a privacy request failed");
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

/// How recent a sign-in must be for an export or erasure without the password.
pub const FRESH_AUTH: std::time::Duration = std::time::Duration::from_secs(300);

/// The body of `POST /privacy/gdpr` and `POST /privacy/ccpa`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    #[serde(rename = "type")]
    pub type_name: String,
    /// The current password, when the sign-in is older than [`FRESH_AUTH`]. Absent or a
    /// string: `null` is refused like any other wrong type (it once passed as "no password",
    /// and an erasure with a fresh sign-in ran on a body the document calls invalid).
    #[serde(default, deserialize_with = "present_string")]
    pub password: Option<crate::secret::SecretString>,
}

/// An optional field that, when present, must be a string.
fn present_string<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<crate::secret::SecretString>, D::Error> {
    <crate::secret::SecretString as serde::Deserialize>::deserialize(d).map(Some)
}

/// `handle_data_request` / `handle_privacy_request`: checks the type and the verification,
/// opens the request (or finds the open one of the same action) and runs it now. A run that
/// fails leaves the request in progress for the schedule; the answer is the request's state.
pub async fn handle_request(
    s: &Privacy<'_>,
    auth: &crate::caller::Caller,
    regime: requests::Regime,
    body: SubmitBody,
    client: &crate::client::ClientSignals,
    meta: &RequestMeta,
) -> Result<requests::RequestView> {
    let table = s.table;
    let rtype = requests::RequestType::parse(regime, &body.type_name)?;
    if rtype.action.needs_fresh_auth() {
        let now = s.clock.now();
        crate::mfa::require_second_factor_if_enrolled(auth, now)?;
        let fresh = now.secs() - auth.claims.auth_time <= FRESH_AUTH.as_secs() as i64;
        if !fresh {
            let password = body
                .password
                .as_ref()
                .ok_or(crate::Error::ReauthenticationRequired)?;
            crate::account::verify_current_password(
                &s.sign_in,
                &auth.user_id,
                password,
                client,
                meta,
            )
            .await?;
        }
    }
    let now = s.clock.now();
    // Opting back in takes two steps (CCPA regulations § 7028(a)): the first request asks and
    // waits `verifying`, where no worker may take it; a second one within a day confirms it.
    let two_step = rtype.action == Action::OptIn;
    let first = if two_step {
        requests::State::Verifying
    } else {
        requests::State::Received
    };
    let opening = requests::Opening::new(first);
    let (mut r, created) = requests::submit_in(table, &auth.user_id, rtype, now, opening).await?;
    if two_step && !created && r.state == requests::State::Verifying {
        r = requests::move_to(table, &r, requests::State::Received, "confirmed", now).await?;
    }
    if r.state == requests::State::AwaitingOperator {
        // Made by mail for this account, which a mailbox alone may not act for: its owner has
        // now asked signed in (with the second factor, checked above), so it runs.
        let note = "its owner asked signed in";
        r = requests::move_to(table, &r, requests::State::Received, note, now).await?;
    }
    if created {
        s.audit
            .record(
                meta,
                EventType::PrivacyRequestReceived,
                Some(&auth.user_id),
                json!({
                    "request_id": r.id,
                    "regime": regime,
                    "type": rtype.name(),
                    "due_at": r.due_at.to_rfc3339(),
                }),
            )
            .await?;
    }
    run_and_acknowledge(s, r, created, meta).await
}

/// Runs `r` within the budget ([`run_for_budget`]) and answers its state; a request just made
/// that is not answered by then is acknowledged to its requester by mail
/// ([`notices::received`]).
pub(crate) async fn run_and_acknowledge(
    s: &Privacy<'_>,
    r: PrivacyRequest,
    created: bool,
    meta: &RequestMeta,
) -> Result<requests::RequestView> {
    let r = run_for_budget(s, r, meta).await?;
    if created {
        notices::received(s, &r).await;
    }
    view(s, &r).await
}

/// Runs request `r` for at most `WARDEN_PRIVACY_RUN_BUDGET` and returns it as it then stands:
/// a run cut short holds its lease until the lease lapses (what it uploaded is never completed
/// into an object), and the schedule resumes it from its last step.
async fn run_for_budget(
    s: &Privacy<'_>,
    r: PrivacyRequest,
    meta: &RequestMeta,
) -> Result<PrivacyRequest> {
    let table = s.table;
    let run = tokio::time::timeout(s.config.privacy_run_budget, process(s, &r.id, meta)).await;
    let r = match run {
        Ok(Ok(Some(done))) => done,
        Ok(Ok(None)) => requests::get(table, &r.id).await?.unwrap_or(r),
        Ok(Err(e)) => {
            tracing::warn!(request_id = %r.id, error = %e, "privacy request run failed; it stays in progress");
            requests::get(table, &r.id).await?.unwrap_or(r)
        }
        Err(_) => {
            tracing::info!(request_id = %r.id, "privacy request outlasted the request's budget; the schedule finishes it");
            requests::get(table, &r.id).await?.unwrap_or(r)
        }
    };
    Ok(r)
}

/// `GET /privacy/requests/{id}`: the caller's own request, with a fresh download link when an
/// export is ready. Another user's request is refused and recorded.
pub async fn status(
    s: &Privacy<'_>,
    auth: &crate::caller::Caller,
    id: &str,
    meta: &RequestMeta,
) -> Result<requests::RequestView> {
    let r = requests::get(s.table, id)
        .await?
        .ok_or(crate::Error::NotFound)?;
    if r.user_id != auth.user_id {
        s.audit
            .record(
                meta,
                EventType::PrivacyAccessDenied,
                Some(&auth.user_id),
                json!({ "request_id": id }),
            )
            .await?;
        return Err(crate::Error::Forbidden);
    }
    view(s, &r).await
}

async fn view(s: &Privacy<'_>, r: &PrivacyRequest) -> Result<requests::RequestView> {
    let mut v = r.view();
    if r.rtype.action == Action::Export
        && !r.is_open()
        && let Some((url, expires)) = export::download_link(s, r).await?
    {
        v.download_url = Some(url);
        v.download_expires_at = Some(expires.to_rfc3339());
    }
    Ok(v)
}
