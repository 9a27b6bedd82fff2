//! The security event log's entry point: every security event goes through
//! [`log_security_event`], so the tamper-evident audit chain (the audit issue) replaces one
//! function body and every caller is covered.
//!
//! Today each event is one structured log line with the event type, the pseudonymous user id,
//! the request id and non-personal details. Client IP and user agent are not logged in plain
//! text (they are personal data); the chain will store them encrypted under the user's key.

use serde_json::Value;

/// The kinds of security event Warden records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    UserRegistered,
    LoginSucceeded,
    LoginFailed,
    AccountLocked,
    AccountUnlocked,
    PasswordChanged,
    PasswordBreachDetected,
    BreachCheckUnavailable,
    NewDevice,
    RefreshRotated,
    RefreshReuseDetected,
    DeviceMismatch,
    SessionRevoked,
    SessionsRevokedAll,
    Logout,
}

/// Records a security event. Never fails the caller's request: a logging failure is itself
/// logged (the chain-backed version will fail closed where the audit issue says so).
pub fn log_security_event(event: EventType, user_id: Option<&str>, details: Value) {
    tracing::info!(
        target: "warden::audit",
        event = ?event,
        user_id = user_id.unwrap_or("-"),
        details = %details,
        "security event"
    );
}
