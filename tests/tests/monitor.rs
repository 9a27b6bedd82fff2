//! The security monitor on both backends: seeded attacks (50 accounts from one address, 6
//! addresses on one account, a reused refresh token, one client fingerprint over 20 addresses)
//! give the expected alerts and actions exactly once; a second run and two concurrent runs add nothing. Privacy requests near and past their
//! deadline warn and alert once each; a burst of exports alerts once.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use warden_core::monitor;
use warden_core::privacy::requests::{self, Regime, RequestType};
use warden_core::services::{AppState, Services};
use warden_tests::fixtures::{Fixture, serve, test_config, unique};
use warden_tests::http_client::{Response, request_from, unique_loopback};

const PASSWORD: &str = "marmalade kiln wobbles at dusk";

/// Services whose audit chain (and so the monitor's state) is this test's own: the emulator's
/// table is shared between tests.
async fn services(f: &Fixture) -> AppState {
    let mut config = test_config();
    config.login_ip_max_failures = 1_000; // so a 429 after the scan is the monitor's block
    let s = Services::new(config, f.backends.clone()).await.unwrap();
    let mut s = Arc::try_unwrap(s).ok().expect("sole owner");
    s.audit = s.new_audit_log().in_namespace(&unique("AUDIT-M-"));
    Arc::new(s)
}

async fn post(
    base: &str,
    ip: std::net::IpAddr,
    path: &str,
    body: serde_json::Value,
    cookie: Option<&str>,
) -> Response {
    let mut h = vec![
        ("Content-Type", "application/json"),
        ("User-Agent", "monitor-test"),
    ];
    if let Some(c) = cookie {
        h.push(("Cookie", c));
    }
    request_from(
        Some(ip),
        "POST",
        &format!("{base}{path}"),
        &h,
        body.to_string().as_bytes(),
    )
    .await
    .unwrap()
}

fn count(alerts: &[String], prefix: &str) -> usize {
    alerts.iter().filter(|a| a.starts_with(prefix)).count()
}

/// Asserts how many alerts of each kind (dedup-key prefix) a run raised.
fn expect_alerts(alerts: &[String], expected: &[(&str, usize)]) {
    for (prefix, n) in expected {
        assert_eq!(count(alerts, prefix), *n, "{prefix} in {alerts:?}");
    }
}

async fn seeded_attacks_are_detected_and_acted_on_exactly_once(f: Fixture) {
    let s = services(&f).await;
    let base = serve(s.clone(), &f).await;

    // 50 accounts from one address in a few minutes.
    let stuffer = unique_loopback();
    for i in 0..50 {
        let email = format!("{}-{i}@example.com", unique("victim"));
        let r = post(
            &base,
            stuffer,
            "/auth/login",
            json!({"email": email, "password": "123456 password guess"}),
            None,
        )
        .await;
        assert_eq!(r.status, 401);
        if i % 10 == 9 {
            f.clock.advance(Duration::from_secs(30));
        }
    }
    // 6 addresses on one account.
    let target = format!("{}@example.com", unique("target"));
    let home = unique_loopback();
    warden_tests::api::Api::on(base.clone(), &f)
        .register_verified(home, &target)
        .await;
    for _ in 0..6 {
        post(
            &base,
            unique_loopback(),
            "/auth/login",
            json!({"email": target, "password": "not the password"}),
            None,
        )
        .await;
    }
    // A reused refresh token.
    let owner = format!("{}@example.com", unique("owner"));
    warden_tests::api::Api::on(base.clone(), &f)
        .register_verified(home, &owner)
        .await;
    let first = post(
        &base,
        home,
        "/auth/login",
        json!({"email": owner, "password": PASSWORD}),
        None,
    )
    .await
    .refresh_cookie();
    assert_eq!(
        post(&base, home, "/auth/refresh", json!({}), Some(&first))
            .await
            .status,
        200
    );
    f.clock.advance(Duration::from_secs(11));
    assert_eq!(
        post(&base, home, "/auth/refresh", json!({}), Some(&first))
            .await
            .status,
        401
    );

    let report = monitor::scan(&s.monitor()).await.unwrap();
    assert!(!report.skipped);
    expect_alerts(
        &report.alerts,
        &[
            ("credential-stuffing:", 1),
            ("distributed-attack:", 1),
            ("refresh-reuse:", 1),
            ("credential-stuffing-device:", 0),
        ],
    );
    // Actions: the stuffing address is blocked (even with a valid password)...
    let blocked = post(
        &base,
        stuffer,
        "/auth/login",
        json!({"email": owner, "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(blocked.status, 429);
    // ...and the attacked account is locked, from anywhere.
    let locked = post(
        &base,
        unique_loopback(),
        "/auth/login",
        json!({"email": target, "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(locked.status, 429);
    // Every action is itself an audit event.
    let actions = s
        .audit
        .recent(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event == "monitor_action")
        .count();
    assert_eq!(actions, report.actions);
    assert!(report.actions >= 3);
    let persisted = monitor::recent_alerts(&s.monitor(), 50).await.unwrap();
    assert_eq!(persisted.len(), report.alerts.len());

    // A second run, and two concurrent runs, add nothing.
    let again = monitor::scan(&s.monitor()).await.unwrap();
    assert!(again.alerts.is_empty(), "{:?}", again.alerts);
    let m = s.monitor();
    let (a, b) = tokio::join!(monitor::scan(&m), monitor::scan(&m));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.alerts.is_empty() && b.alerts.is_empty());
    assert_eq!(
        monitor::recent_alerts(&s.monitor(), 50)
            .await
            .unwrap()
            .len(),
        report.alerts.len()
    );
    // And the chain the monitor read, including its own actions, still verifies.
    assert_eq!(s.verify_audit().await.unwrap().problem, None);
}

/// The monitor's lock of an account under a distributed attack ends none of the owner's sessions; a successful
/// sign-in from an address taking part in an attack does end that account's sessions.
async fn only_a_sign_in_from_an_attacking_address_ends_sessions(f: Fixture) {
    let s = services(&f).await;
    let base = serve(s.clone(), &f).await;
    let home = unique_loopback();
    let api = warden_tests::api::Api::on(base.clone(), &f);
    let register = |email: String| {
        let api = &api;
        async move { api.register_verified(home, &email).await }
    };
    // The owner of an account under brute force, signed in at home.
    let target = format!("{}@example.com", unique("target"));
    register(target.clone()).await;
    let owner_session = post(
        &base,
        home,
        "/auth/login",
        json!({"email": target, "password": PASSWORD}),
        None,
    )
    .await
    .refresh_cookie();
    for _ in 0..6 {
        post(
            &base,
            unique_loopback(),
            "/auth/login",
            json!({"email": target, "password": "not the password"}),
            None,
        )
        .await;
    }
    // A victim of stuffing whose password the stuffer knows: it signs in from the stuffer.
    let victim = format!("{}@example.com", unique("victim"));
    register(victim.clone()).await;
    let victim_session = post(
        &base,
        home,
        "/auth/login",
        json!({"email": victim, "password": PASSWORD}),
        None,
    )
    .await
    .refresh_cookie();
    let stuffer = unique_loopback();
    for i in 0..25 {
        let email = format!("{}-{i}@example.com", unique("other"));
        post(
            &base,
            stuffer,
            "/auth/login",
            json!({"email": email, "password": "guess guess guess"}),
            None,
        )
        .await;
    }
    let guessed = post(
        &base,
        stuffer,
        "/auth/login",
        json!({"email": victim, "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(guessed.status, 200);

    let report = monitor::scan(&s.monitor()).await.unwrap();
    expect_alerts(
        &report.alerts,
        &[
            ("distributed-attack:", 1),
            ("credential-stuffing:", 1),
            ("attacker-sign-in:", 1),
        ],
    );
    let refresh = |cookie: String| {
        let base = base.clone();
        async move {
            post(&base, home, "/auth/refresh", json!({}), Some(&cookie))
                .await
                .status
        }
    };
    assert_eq!(
        refresh(owner_session).await,
        200,
        "the lock ended no session"
    );
    assert_eq!(
        refresh(victim_session).await,
        401,
        "the attacker's sign-in ended them"
    );
    assert_eq!(refresh(guessed.refresh_cookie()).await, 401);
}

/// Services over a table that can fail a chosen write, with this test's own audit chain and the
/// monitor batch `batch`.
async fn faulty_services(
    f: &Fixture,
    batch: usize,
) -> (AppState, Arc<warden_tests::counting::Probe>) {
    let probe = warden_tests::counting::Probe::new();
    let table = Arc::new(warden_tests::counting::CountingTable::with_probe(
        f.backends.table.clone(),
        probe.clone(),
    ));
    let backends = warden_core::backends::Backends {
        table,
        ..f.backends.clone()
    };
    let mut config = test_config();
    config.login_ip_max_failures = 1_000;
    config.monitor.batch = batch;
    let s = Services::new(config, backends).await.unwrap();
    let mut s = Arc::try_unwrap(s).ok().expect("sole owner");
    s.audit = s.new_audit_log().in_namespace(&unique("AUDIT-M-"));
    (Arc::new(s), probe)
}

/// 22 failed logins for different accounts from one address within two minutes.
async fn stuff(base: &str, from: std::net::IpAddr, f: &Fixture) {
    for i in 0..22 {
        let email = format!("{}-{i}@example.com", unique("late"));
        let r = post(
            base,
            from,
            "/auth/login",
            json!({"email": email, "password": "guess guess guess"}),
            None,
        )
        .await;
        assert_eq!(r.status, 401);
        if i % 5 == 4 {
            f.clock.advance(Duration::from_secs(20));
        }
    }
}

/// Windows are measured on the events' own time: a scan eleven minutes late (longer than the
/// ten-minute window) raises the alert and takes the action an on-time scan would have.
async fn a_late_scan_finds_what_an_on_time_scan_would(f: Fixture) {
    let (s, _) = faulty_services(&f, 1000).await;
    let base = serve(s.clone(), &f).await;
    let stuffer = unique_loopback();
    stuff(&base, stuffer, &f).await;
    f.clock.advance(Duration::from_secs(11 * 60));
    let report = monitor::scan(&s.monitor()).await.unwrap();
    expect_alerts(&report.alerts, &[("credential-stuffing:", 1)]);
    let blocked = post(
        &base,
        stuffer,
        "/auth/login",
        json!({"email": "x@example.com", "password": "guess guess guess"}),
        None,
    )
    .await;
    assert_eq!(blocked.status, 429, "the address is blocked");
}

/// A backlog processed over several runs (a batch of 10 entries each) raises the one alert the
/// whole backlog shows, once.
async fn a_catch_up_over_several_batches_alerts_once(f: Fixture) {
    let (s, _) = faulty_services(&f, 10).await;
    let base = serve(s.clone(), &f).await;
    stuff(&base, unique_loopback(), &f).await;
    let mut alerts = Vec::new();
    for _ in 0..4 {
        alerts.extend(monitor::scan(&s.monitor()).await.unwrap().alerts);
    }
    expect_alerts(&alerts, &[("credential-stuffing:", 1)]);
}

/// An action that fails is retried by the next run, and only then is the alert marked handled.
async fn a_protective_action_that_fails_is_retried(f: Fixture) {
    let (s, probe) = faulty_services(&f, 1000).await;
    let base = serve(s.clone(), &f).await;
    let stuffer = unique_loopback();
    stuff(&base, stuffer, &f).await;
    probe.fail_next_write_to("LOGINIP#");
    assert!(
        monitor::scan(&s.monitor()).await.is_err(),
        "the block failed: the run fails"
    );
    assert!(
        monitor::recent_alerts(&s.monitor(), 10)
            .await
            .unwrap()
            .is_empty(),
        "not marked handled"
    );
    // The failed run held the lease; the next scheduled run comes after it lapses.
    f.clock.advance(Duration::from_secs(301));
    let report = monitor::scan(&s.monitor()).await.unwrap();
    expect_alerts(&report.alerts, &[("credential-stuffing:", 1)]);
    let blocked = post(
        &base,
        stuffer,
        "/auth/login",
        json!({"email": "x@example.com", "password": "guess guess guess"}),
        None,
    )
    .await;
    assert_eq!(blocked.status, 429);
    assert!(monitor::scan(&s.monitor()).await.unwrap().alerts.is_empty());
}

async fn stuffing_by_one_fingerprint_over_many_addresses_alerts_once(f: Fixture) {
    let s = services(&f).await;
    let base = serve(s.clone(), &f).await;
    // One tool (one set of client signals) behind 20 addresses, 2 accounts from each: no
    // address crosses the per-IP threshold (20 accounts), the fingerprint does.
    let tool = [
        ("Content-Type", "application/json"),
        ("User-Agent", "stuffing-tool/1.0"),
        ("Accept-Language", "xx"),
    ];
    let mut addresses = Vec::new();
    for i in 0..40 {
        if i % 2 == 0 {
            addresses.push(unique_loopback());
        }
        let email = format!("{}-{i}@example.com", unique("stuffed"));
        let body = json!({"email": email, "password": "123456 password guess"}).to_string();
        let r = request_from(
            addresses.last().copied(),
            "POST",
            &format!("{base}/auth/login"),
            &tool,
            body.as_bytes(),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 401);
    }
    // A few ordinary failures from another client elsewhere do not join the group.
    for i in 0..3 {
        let email = format!("{}-{i}@example.com", unique("typo"));
        post(
            &base,
            unique_loopback(),
            "/auth/login",
            json!({"email": email, "password": "a wrong one entirely"}),
            None,
        )
        .await;
    }

    let report = monitor::scan(&s.monitor()).await.unwrap();
    expect_alerts(
        &report.alerts,
        &[
            ("credential-stuffing-device:", 1),
            ("credential-stuffing:", 0),
        ],
    );
    let alert = monitor::recent_alerts(&s.monitor(), 10)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.dedup.starts_with("credential-stuffing-device:"))
        .expect("persisted alert");
    assert_eq!(alert.details["accounts"], 40);
    assert_eq!(alert.details["ips"], 20);
    // Alert only: none of the addresses is blocked.
    assert_eq!(report.actions, 0);
    let again = monitor::scan(&s.monitor()).await.unwrap();
    assert!(again.alerts.is_empty(), "{:?}", again.alerts);
}

async fn overlapping_runs_process_once(f: Fixture) {
    let s = services(&f).await;
    let base = serve(s.clone(), &f).await;
    let ip = unique_loopback();
    for i in 0..30 {
        let email = format!("{}-{i}@example.com", unique("v"));
        post(
            &base,
            ip,
            "/auth/login",
            json!({"email": email, "password": "guess guess guess"}),
            None,
        )
        .await;
    }
    let m = s.monitor();
    let (a, b) = tokio::join!(monitor::scan(&m), monitor::scan(&m));
    let (a, b) = (a.unwrap(), b.unwrap());
    // Whether they overlapped (one skipped on the lease) or ran one after the other, no entry
    // was processed twice and the attack raised one alert.
    let total = s.audit.recent(10_000).await.unwrap().len();
    assert!(
        a.scanned + b.scanned <= total,
        "{} + {} > {total}",
        a.scanned,
        b.scanned
    );
    assert_eq!(a.alerts.len() + b.alerts.len(), 1);
}

async fn privacy_deadlines_warn_then_alert_once(f: Fixture) {
    let s = services(&f).await;
    let table = s.backends.table.as_ref();
    let t0 = s.backends.clock.now();
    // A deletion: an export is refused for an id without an account (the erasure fence).
    let rtype = RequestType::parse(Regime::Ccpa, "delete").unwrap();
    let (r, _) = requests::submit(table, &unique("user-"), rtype, t0)
        .await
        .unwrap();
    // Held by a (pretend) worker past the test's horizon, so no scheduled resume elsewhere on
    // the shared emulator completes it meanwhile.
    let held = requests::claim(table, &r.id, t0.plus(Duration::from_secs(60 * 86_400)))
        .await
        .unwrap();
    assert!(held.is_some());
    let mine = |alerts: &[String], stage: &str| {
        alerts
            .iter()
            .filter(|a| **a == format!("privacy-{stage}:{}", r.id))
            .count()
    };
    let report = monitor::scan(&s.monitor()).await.unwrap();
    assert_eq!(
        mine(&report.alerts, "due-soon") + mine(&report.alerts, "overdue"),
        0
    );
    // 45 days are due: two days before, a warning...
    f.clock.advance(Duration::from_secs(43 * 86_400));
    let report = monitor::scan(&s.monitor()).await.unwrap();
    assert_eq!(mine(&report.alerts, "due-soon"), 1, "{:?}", report.alerts);
    assert_eq!(mine(&report.alerts, "overdue"), 0);
    // ...past it, an alert; each once however often the scan runs.
    f.clock.advance(Duration::from_secs(3 * 86_400));
    let report = monitor::scan(&s.monitor()).await.unwrap();
    assert_eq!(mine(&report.alerts, "overdue"), 1, "{:?}", report.alerts);
    assert_eq!(mine(&report.alerts, "due-soon"), 0);
    let m = s.monitor();
    let (a, b) = tokio::join!(monitor::scan(&m), monitor::scan(&m));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(mine(&a.alerts, "overdue") + mine(&b.alerts, "overdue"), 0);
    let persisted = monitor::recent_alerts(&s.monitor(), 500).await.unwrap();
    let overdue = persisted
        .iter()
        .find(|a| a.dedup == format!("privacy-overdue:{}", r.id))
        .expect("the alert is persisted");
    assert_eq!(overdue.title, "Privacy request past its deadline");
}

async fn a_burst_of_exports_raises_one_alert(f: Fixture) {
    let s = services(&f).await;
    let meta = warden_core::audit::RequestMeta::default();
    let burst = s.config.monitor.export_burst;
    for i in 0..burst {
        let details = json!({ "request_id": i, "regime": "gdpr", "type": "export" });
        s.audit
            .record(
                &meta,
                warden_core::audit::EventType::PrivacyRequestReceived,
                Some(&unique("u")),
                details,
            )
            .await
            .unwrap();
    }
    let report = monitor::scan(&s.monitor()).await.unwrap();
    assert_eq!(
        count(&report.alerts, "export-burst:"),
        1,
        "{:?}",
        report.alerts
    );
    let again = monitor::scan(&s.monitor()).await.unwrap();
    assert_eq!(count(&again.alerts, "export-burst:"), 0);
}

warden_tests::on_both_backends!(
    a_late_scan_finds_what_an_on_time_scan_would,
    a_catch_up_over_several_batches_alerts_once,
    a_protective_action_that_fails_is_retried,
    only_a_sign_in_from_an_attacking_address_ends_sessions,
    privacy_deadlines_warn_then_alert_once,
    a_burst_of_exports_raises_one_alert,
    seeded_attacks_are_detected_and_acted_on_exactly_once,
    stuffing_by_one_fingerprint_over_many_addresses_alerts_once,
    overlapping_runs_process_once,
);
