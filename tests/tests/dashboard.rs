//! The operator dashboard, tried in a real browser: headless Chromium (Debian's package, which
//! `scripts/test` installs) loads `/_local/dashboard` after a seeded attack and a scan, and the
//! rendered DOM shows the alert, the block, the chain state and the chart.

use std::process::Command;

use serde_json::json;
use warden_core::services::Services;
use warden_tests::fixtures::{TempDir, embedded, serve, test_config, unique};
use warden_tests::http_client::{request_from, unique_loopback};

fn chromium() -> String {
    let path = std::env::var("WARDEN_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&path).exists(),
        "the dashboard test needs Chromium at {path}: run ./scripts/test (it installs Debian's chromium) or set WARDEN_CHROMIUM"
    );
    path
}

/// The DOM after Chromium rendered `url` (headless, no network beyond loopback).
fn render(url: &str) -> String {
    let profile = TempDir::new();
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.0.display()))
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_renders_alerts_blocks_chain_and_chart_in_a_browser() {
    let f = embedded();
    let s = Services::new(test_config(), f.backends.clone())
        .await
        .unwrap();
    let base = serve(s.clone(), &f).await;
    let ip = unique_loopback();
    for i in 0..25 {
        let body = json!({"email": format!("{}-{i}@example.com", unique("d")), "password": "guess guess guess"});
        request_from(
            Some(ip),
            "POST",
            &format!("{base}/auth/login"),
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .await
        .unwrap();
    }
    let report = warden_core::monitor::scan(&s.monitor()).await.unwrap();
    assert_eq!(report.alerts.len(), 1);
    // An open privacy request, listed with its deadline.
    let rtype = warden_core::privacy::requests::RequestType::parse(
        warden_core::privacy::requests::Regime::Gdpr,
        // (an export is refused for an id without an account: the erasure fence)
        "delete",
    )
    .unwrap();
    let (request, _) = warden_core::privacy::requests::submit(
        s.backends.table.as_ref(),
        &unique("user-"),
        rtype,
        s.backends.clock.now(),
    )
    .await
    .unwrap();

    // The operator trades the token for the dashboard's cookie, as a person would.
    let url = format!(
        "{base}/_local/login?token={}",
        warden_tests::fixtures::OPERATOR_TOKEN
    );
    let dom = tokio::task::spawn_blocking(move || render(&url))
        .await
        .unwrap();
    assert!(dom.contains("Warden security dashboard"), "{dom}");
    assert!(dom.contains("Audit chain intact"), "{dom}");
    assert!(
        dom.contains("Credential stuffing from one address"),
        "{dom}"
    );
    assert!(dom.contains("id=\"failed-logins\""), "the chart rendered");
    let privacy = dom.split("id=\"privacy\"").nth(1).unwrap_or("");
    assert!(
        privacy.contains(&request.id),
        "the open request is listed: {privacy}"
    );
    assert!(
        privacy.contains(&request.due_at.to_rfc3339()),
        "with its deadline"
    );
    assert!(
        dom.contains("25 failed logins from"),
        "the chart counts the seeded failures"
    );
    let blocks = dom.split("id=\"blocks\"").nth(1).unwrap_or("");
    assert!(
        !blocks
            .split("</table>")
            .next()
            .unwrap_or("")
            .contains("None."),
        "a block is listed"
    );
}
