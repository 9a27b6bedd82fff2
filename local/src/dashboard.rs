//! `/_local/dashboard`: the operator's view of the security monitor, server-rendered HTML with
//! no script: recent alerts, locked accounts and blocked addresses (from the audit log's lock and
//! monitor-action entries), privacy requests, the audit chain's state, and failed logins over the
//! last two hours as an inline SVG bar chart. Every dynamic value is HTML-escaped.

use std::fmt::Write;
use std::time::Duration;

use axum::extract::State;
use axum::response::Html;
use serde_json::Value;
use warden_core::clock::Timestamp;
use warden_core::monitor;
use warden_core::services::AppState;

pub use warden_core::html::escape;

const BUCKET: Duration = Duration::from_secs(300);
const BUCKETS: usize = 24;

pub async fn dashboard(State(s): State<AppState>) -> Result<Html<String>, warden_http::Problem> {
    let now = s.backends.clock.now();
    let alerts = monitor::recent_alerts(&s.monitor(), 20).await?;
    let recent = s.audit.recent(1000).await?;
    let chain = s.verify_audit().await?;
    let open = warden_core::privacy::requests::open_by_due(s.backends.table.as_ref(), 50).await?;

    let mut locks = Vec::new();
    let mut blocks = Vec::new();
    let mut failed = [0u32; BUCKETS];
    let start = now.minus(BUCKET * BUCKETS as u32);
    for e in &recent {
        let details: Value = serde_json::from_str(&e.details).unwrap_or(Value::Null);
        match e.event.as_str() {
            "account_locked" => locks.push((
                e.at,
                e.user_id
                    .clone()
                    .unwrap_or_else(|| "unknown account".into()),
                details["until"].as_str().unwrap_or("").to_string(),
            )),
            "monitor_action" if details["action"] == "lock_account" => locks.push((
                e.at,
                e.user_id.clone().unwrap_or_default(),
                "by the monitor".into(),
            )),
            "monitor_action" if details["action"] == "block_ip" => blocks.push((
                e.at,
                details["ip_tag"].as_str().unwrap_or("").to_string(),
                details["until"].as_str().unwrap_or("").to_string(),
            )),
            "login_failed" if e.at >= start => {
                let i = (e.at.since(start).as_millis() / BUCKET.as_millis()) as usize;
                failed[i.min(BUCKETS - 1)] += 1;
            }
            _ => {}
        }
    }

    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Warden — security dashboard</title>\
         <style>body{{font:14px system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:.5em 0 1.5em}}\
         td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}.critical,.high{{color:#a00}}.ok{{color:#070}}</style></head><body>\
         <h1>Warden security dashboard</h1><p>As of {}</p>",
        escape(&now.to_rfc3339())
    );
    let _ = write!(h, "<h2>Audit chain</h2>");
    match &chain.problem {
        None => {
            let _ = write!(
                h,
                "<p id=\"chain\" class=\"ok\">Audit chain intact: {} entries.</p>",
                chain.entries()
            );
        }
        Some(p) => {
            let _ = write!(
                h,
                "<p id=\"chain\" class=\"critical\">Audit chain BROKEN: {}.</p>",
                escape(&p.to_string())
            );
        }
    }
    let _ = write!(
        h,
        "<h2>Failed logins, last two hours</h2>{}",
        chart(&failed, start)
    );
    let _ = write!(
        h,
        "<h2>Recent alerts</h2><table id=\"alerts\"><tr><th>When</th><th>Level</th><th>Alert</th><th>Details</th></tr>"
    );
    if alerts.is_empty() {
        let _ = write!(h, "<tr><td colspan=\"4\">No alerts.</td></tr>");
    }
    for a in &alerts {
        let level = serde_json::to_value(a.level)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = write!(
            h,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            escape(&level),
            escape(&a.at),
            escape(&level),
            escape(&a.title),
            escape(&a.details.to_string())
        );
    }
    let _ = write!(
        h,
        "</table><h2>Locked accounts (recent)</h2><table id=\"locks\"><tr><th>When</th><th>User id</th><th>Until</th></tr>"
    );
    if locks.is_empty() {
        let _ = write!(h, "<tr><td colspan=\"3\">None.</td></tr>");
    }
    for (at, user, until) in &locks {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&at.to_rfc3339()),
            escape(user),
            escape(until)
        );
    }
    let _ = write!(
        h,
        "</table><h2>Blocked addresses (recent)</h2><table id=\"blocks\"><tr><th>When</th><th>Address tag</th><th>Until</th></tr>"
    );
    if blocks.is_empty() {
        let _ = write!(h, "<tr><td colspan=\"3\">None.</td></tr>");
    }
    for (at, tag, until) in &blocks {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&at.to_rfc3339()),
            escape(tag),
            escape(until)
        );
    }
    let _ = write!(
        h,
        "</table><h2>Open privacy requests</h2><table id=\"privacy\"><tr><th>Due</th><th>Type</th><th>State</th><th>Step</th><th>Request</th></tr>"
    );
    if open.is_empty() {
        let _ = write!(h, "<tr><td colspan=\"5\">None.</td></tr>");
    }
    for r in &open {
        let v = r.view();
        let due = if r.due_at <= now {
            format!("{} (overdue)", v.due_at)
        } else {
            v.due_at.clone()
        };
        let state = serde_json::to_value(v.status).unwrap_or(Value::Null);
        let regime = serde_json::to_value(v.regime).unwrap_or(Value::Null);
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&due),
            escape(&regime.as_str().unwrap_or("").to_uppercase()),
            escape(v.type_name),
            escape(state.as_str().unwrap_or("")),
            escape(v.step.as_deref().unwrap_or("")),
            escape(&v.request_id)
        );
    }
    let _ = write!(h, "</table></body></html>");
    Ok(Html(h))
}

/// Bars of failed logins per five minutes, oldest on the left.
fn chart(counts: &[u32; BUCKETS], start: Timestamp) -> String {
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let (w, hgt, bar) = (BUCKETS as u32 * 20, 120u32, 16u32);
    let mut svg = format!(
        "<svg id=\"failed-logins\" role=\"img\" aria-label=\"Failed logins per five minutes\" width=\"{w}\" height=\"{}\" viewBox=\"0 0 {w} {}\">",
        hgt + 20,
        hgt + 20
    );
    for (i, c) in counts.iter().enumerate() {
        let height = c * hgt / max;
        let x = i as u32 * 20 + 2;
        let from = start.plus(BUCKET * i as u32).to_rfc3339();
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"{bar}\" height=\"{height}\" fill=\"#c33\"><title>{} failed logins from {}</title></rect>",
            hgt - height,
            c,
            escape(&from)
        );
    }
    let _ = write!(
        svg,
        "<text x=\"0\" y=\"{}\" font-size=\"11\">max {max} per 5 min</text></svg>",
        hgt + 15
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }
}
