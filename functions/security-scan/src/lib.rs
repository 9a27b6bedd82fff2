//! The `security-scan` function: one run of the security monitor per EventBridge invocation.
//!
//! The payload is not interpreted: EventBridge Scheduler sends the target's configured input
//! (any JSON), classic scheduled rules send a `Scheduled Event` envelope; both only mean "run
//! now". The result is the run's report (alerts raised, actions taken, checkpoint).

use warden::monitor::{self, ScanReport};
use warden::services::AppState;

/// Handles one scheduled invocation, whatever its payload.
pub async fn handle(state: &AppState, _payload: serde_json::Value) -> warden::Result<ScanReport> {
    monitor::scan(state).await
}
