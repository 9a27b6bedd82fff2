//! The embedded-metric-format lines the operator's alarms read (`shared/core/src/metrics.rs`),
//! captured and parsed as CloudWatch would: one flow through the served router on embedded
//! backends, and each count it should produce, exactly. (One test in this binary: the capture
//! is process-wide.)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use warden_core::services::Services;
use warden_tests::api::{Api, PASSWORD};
use warden_tests::fixtures::{embedded, serve, test_config, unique};
use warden_tests::http_client::unique_loopback;

/// Each captured line checked as EMF, and the counts by metric name.
fn counts(lines: &[String]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in lines {
        let v: Value = serde_json::from_str(line).expect("one JSON object per line");
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert!(v["_aws"]["Timestamp"].as_i64().unwrap() > 1_700_000_000_000);
        assert_eq!(directive["Namespace"], "Warden", "{line}");
        assert_eq!(directive["Dimensions"], json!([["Function"]]), "{line}");
        assert!(v["Function"].is_string(), "{line}");
        let name = directive["Metrics"][0]["Name"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(directive["Metrics"][0]["Unit"], "Count");
        assert_eq!(v[&name], 1, "the line sets its own metric: {line}");
        *out.entry(name).or_default() += 1;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flow_writes_one_emf_count_per_event_an_operator_alarms_on() {
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    warden_core::metrics::capture(move |l| sink.lock().unwrap().push(l.to_string()));

    let f = embedded();
    let mut config = test_config();
    config.api_rate_per_minute = 100;
    config.api_burst = 40;
    let api = Api::new(&f, config.clone()).await;
    let home = unique_loopback();
    // One sign-in (its registration and verification count nothing).
    let (email, signed_in) = api.signed_up(home).await;
    // Five wrong passwords from elsewhere: five failures, one lock.
    let thief = unique_loopback();
    for _ in 0..5 {
        let r = api
            .login(thief, &email, "not the password at all", &[])
            .await;
        assert_eq!(r.status, 401);
    }
    // A rotated refresh token used again: one reuse.
    let stolen = signed_in.refresh_cookie();
    let rotated = api
        .call(home, "POST", "/auth/refresh", &[("Cookie", &stolen)], None)
        .await;
    assert_eq!(rotated.status, 200);
    f.clock.advance(Duration::from_secs(60));
    let replay = api
        .call(home, "POST", "/auth/refresh", &[("Cookie", &stolen)], None)
        .await;
    assert_eq!(replay.status, 401);
    // A privacy request, from a fresh account signed in just now.
    let newcomer = unique_loopback();
    let (fresh_email, fresh) = api.signed_up(newcomer).await;
    let bearer = fresh.bearer();
    let asked = api
        .call(
            home,
            "POST",
            "/privacy/gdpr",
            &[("Authorization", &bearer)],
            Some(json!({"type": "export"})),
        )
        .await;
    assert_eq!(
        asked.status,
        202,
        "{}",
        String::from_utf8_lossy(&asked.body)
    );
    // The same account enrols an authenticator app; a wrong code after its password: one
    // second-factor failure.
    let now = warden_core::clock::Clock::now(f.clock.as_ref()).secs();
    api.enrol_totp(newcomer, bearer.trim_start_matches("Bearer "), now)
        .await;
    let challenge = api
        .login(newcomer, &fresh_email, PASSWORD, &[])
        .await
        .json();
    let wrong = api
        .call(
            newcomer,
            "POST",
            "/auth/mfa/totp",
            &[],
            Some(json!({"mfa_token": challenge["mfa_token"], "code": "000000"})),
        )
        .await;
    assert_eq!(wrong.status, 401);
    // An anonymous client past its burst: rate-limited requests.
    let flood = unique_loopback();
    let mut limited = 0;
    for _ in 0..45 {
        let r = api
            .login(
                flood,
                &format!("{}@example.com", unique("x")),
                PASSWORD,
                &[],
            )
            .await;
        limited += u64::from(r.status == 429);
    }
    assert!(limited > 0);
    // An alert, and a privacy deadline's alert.
    let s = Services::new(config, f.backends.clone()).await.unwrap();
    let _ = serve(s.clone(), &f).await;
    for dedup in ["test-alert:1", "privacy-due-soon:test"] {
        let raised = warden_core::monitor::send_alert(
            &s.monitor(),
            dedup,
            warden_core::monitor::Level::Warning,
            "a test alert",
            &json!({}),
        )
        .await
        .unwrap();
        assert!(raised);
    }

    let got = counts(&lines.lock().unwrap());
    let failures_from_flood = 45 - limited;
    let want: BTreeMap<String, u64> = [
        ("SignIns", 2),
        ("SignInFailures", 5 + failures_from_flood),
        ("Locks", 1),
        ("RefreshReuse", 1),
        ("PrivacyRequests", 1),
        ("RateLimited", limited),
        ("SecurityAlerts", 2),
        ("PrivacyDeadlineAlerts", 1),
        ("SecondFactorFailures", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(got, want);
}
