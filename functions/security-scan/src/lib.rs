//! The `security-scan` function: one run of the security monitor per EventBridge invocation.
//!
//! The payload is not interpreted: EventBridge Scheduler sends the target's configured input
//! (any JSON), classic scheduled rules send a `Scheduled Event` envelope; both only mean "run
//! now". The result is the run's report (alerts raised, actions taken, checkpoint).
//!
//! The same run resumes privacy requests whose worker stopped (a failed erasure step, a crashed
//! export), earliest deadline first, so none waits for its user to ask again; and delivers the
//! mail whose delivery right after its request failed (the mail outbox), oldest first; and last
//! writes the audit log's signed digest (`warden_core::audit::digest`), which is why only this
//! function may use the digest key.

use warden_core::monitor::{self, ScanReport};
use warden_core::privacy;
use warden_core::services::AppState;

/// Open privacy requests resumed per run at most.
pub const PRIVACY_RESUME_LIMIT: usize = 20;
/// Queued messages delivered per run at most.
pub const MAIL_DELIVERY_LIMIT: usize = 100;
/// Queued downstream events published per run at most.
pub const EVENT_PUBLISH_LIMIT: usize = 100;

/// Handles one scheduled invocation, whatever its payload.
pub async fn handle(
    state: &AppState,
    _payload: serde_json::Value,
) -> warden_core::Result<ScanReport> {
    let mut report = monitor::scan(&state.monitor()).await?;
    report.privacy = privacy::resume_open(&state.privacy(), PRIVACY_RESUME_LIMIT).await?;
    report.mail = state.outbox.deliver_pending(MAIL_DELIVERY_LIMIT).await?;
    report.events = state
        .downstream
        .deliver_pending(EVENT_PUBLISH_LIMIT)
        .await?;
    warden_core::address::destroy_expired_tag_keys(
        state.backends.table.as_ref(),
        state.backends.clock.now(),
    )
    .await?;
    // Last, so the digest covers what this run appended (its monitor actions).
    report.digest = state.write_audit_digest().await?.map(|d| d.digest.number);
    Ok(report)
}
