//! Counts of what matters to an operator, as CloudWatch embedded metric format (EMF): one JSON
//! line per count on stdout, which CloudWatch Logs turns into a metric in namespace `Warden`
//! with no API call and no agent. One dimension, `Function` (the Lambda's name), so a metric
//! has one series per function and the template's alarms sum them.
//!
//! The counts come from the places that decide: the audit log's append (sign-ins, failures,
//! locks, refresh-token reuse, privacy requests), the guard's refusal (rate-limited requests)
//! and the monitor's alert (alerts; privacy deadlines among them).

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use crate::audit::EventType;
use crate::clock::Timestamp;

/// The metric namespace.
pub const NAMESPACE: &str = "Warden";

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    SignIns,
    SignInFailures,
    Locks,
    RefreshReuse,
    RateLimited,
    PrivacyRequests,
    Alerts,
    PrivacyDeadlineAlerts,
    /// Audit appends that lost their shard's head to another writer and went again.
    AuditAppendRetries,
    /// Wrong second-factor codes (each after a correct password).
    SecondFactorFailures,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::SignIns => "SignIns",
            Metric::SignInFailures => "SignInFailures",
            Metric::Locks => "Locks",
            Metric::RefreshReuse => "RefreshReuse",
            Metric::RateLimited => "RateLimited",
            Metric::PrivacyRequests => "PrivacyRequests",
            Metric::Alerts => "SecurityAlerts",
            Metric::PrivacyDeadlineAlerts => "PrivacyDeadlineAlerts",
            Metric::AuditAppendRetries => "AuditAppendRetries",
            Metric::SecondFactorFailures => "SecondFactorFailures",
        }
    }

    /// The metric an audit event counts towards, if any.
    pub fn of_event(event: EventType) -> Option<Metric> {
        match event {
            EventType::LoginSucceeded => Some(Metric::SignIns),
            EventType::LoginFailed => Some(Metric::SignInFailures),
            EventType::AccountLocked => Some(Metric::Locks),
            EventType::RefreshReuseDetected => Some(Metric::RefreshReuse),
            EventType::PrivacyRequestReceived => Some(Metric::PrivacyRequests),
            EventType::MfaFailed => Some(Metric::SecondFactorFailures),
            _ => None,
        }
    }
}

type Sink = Box<dyn Fn(&str) + Send + Sync>;

fn sink() -> &'static Mutex<Option<Sink>> {
    static SINK: OnceLock<Mutex<Option<Sink>>> = OnceLock::new();
    SINK.get_or_init(|| Mutex::new(None))
}

/// Sends every later line to `f` instead of stdout (a test reads what was emitted).
pub fn capture(f: impl Fn(&str) + Send + Sync + 'static) {
    if let Ok(mut s) = sink().lock() {
        *s = Some(Box::new(f));
    }
}

/// The Lambda's name (`AWS_LAMBDA_FUNCTION_NAME`), `None` outside Lambda.
fn lambda_name() -> Option<&'static str> {
    static NAME: OnceLock<Option<String>> = OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("AWS_LAMBDA_FUNCTION_NAME")
            .ok()
            .filter(|n| !n.is_empty())
    })
    .as_deref()
}

/// The one dimension: the Lambda's name, or `local`.
fn function_name() -> &'static str {
    lambda_name().unwrap_or("local")
}

/// The EMF line counting one `metric` at `at`.
pub fn line(metric: Metric, at: Timestamp) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": at.millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": [{ "Name": metric.name(), "Unit": "Count" }],
            }],
        },
        "Function": function_name(),
        metric.name(): 1,
    })
    .to_string()
}

/// Counts one `metric`, stamped with the wall clock (CloudWatch's time, not a test's clock).
/// Written to stdout in a Lambda; elsewhere (the local runner, tests) only to a [`capture`]
/// sink, if one is set.
pub fn count(metric: Metric) {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| Timestamp(d.as_millis() as i64))
        .unwrap_or(Timestamp(0));
    let line = line(metric, at);
    if let Ok(s) = sink().lock()
        && let Some(f) = s.as_ref()
    {
        f(&line);
        return;
    }
    if lambda_name().is_some() {
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_emf_with_one_dimension_and_the_metric_set_to_one() {
        let v: serde_json::Value =
            serde_json::from_str(&line(Metric::SignInFailures, Timestamp(1_700_000_000_000)))
                .unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000i64);
        assert_eq!(directive["Namespace"], "Warden");
        assert_eq!(directive["Dimensions"], serde_json::json!([["Function"]]));
        assert_eq!(directive["Metrics"][0]["Name"], "SignInFailures");
        assert_eq!(v["SignInFailures"], 1);
        assert_eq!(v["Function"], "local");
    }
}
