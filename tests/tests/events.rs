//! Every sample in `events/` through `lambda_http`'s own deserialization (as the Lambda runtime
//! delivers it) into its function's router, checking the response. The samples are replayed in
//! order on one store, so login and refresh see the account that register created (and the
//! test confirmed through the link it mailed).

use axum::Router;
use warden_core::services::{AppState, Services};
use warden_tests::fixtures::{embedded, test_config};
use warden_tests::lambda_events::{body_json, events_dir, invoke};

fn function(state: &AppState, routes: Router<AppState>) -> Router {
    warden_http::app(routes, state.clone())
}

#[tokio::test]
async fn every_sample_event_gets_the_expected_response() {
    let f = embedded();
    let state = Services::new(test_config(), f.backends.clone())
        .await
        .unwrap();
    let register = || function(&state, warden_register::routes());
    let login = || function(&state, warden_login::routes());
    let refresh = || function(&state, warden_refresh::routes());
    let account = || function(&state, warden_account::routes());
    let jwks = || function(&state, warden_jwks::routes());
    let gdpr = || function(&state, warden_gdpr::routes());
    let ccpa = || function(&state, warden_ccpa::routes());
    let operator = || function(&state, warden_operator::routes());

    let registered = invoke(register(), "register.json").await;
    assert_eq!(registered.status().as_u16(), 202, "register.json");
    let mut covered = vec!["register.json"];
    warden_tests::in_process::follow_verification(
        &login(),
        &f.mailbox(),
        "ada.lovelace@example.com",
    )
    .await;
    let cases: Vec<(&str, Router, u16)> = vec![
        ("login.json", login(), 200),
        ("login-wrong-password.json", login(), 401),
        // A well-formed refresh token of no session.
        ("refresh.json", refresh(), 401),
        ("logout.json", refresh(), 204),
        // A bearer token that is not Warden's.
        ("password.json", account(), 401),
        ("me.json", account(), 401),
        ("sessions.json", account(), 401),
        ("delete-session.json", account(), 401),
        ("me-patch.json", account(), 401),
        ("preferences-get.json", account(), 401),
        ("preferences-put.json", account(), 401),
        ("photos-list.json", account(), 401),
        ("photos-new.json", account(), 401),
        ("privacy-gdpr.json", gdpr(), 401),
        ("privacy-request.json", gdpr(), 401),
        ("privacy-ccpa.json", ccpa(), 401),
        // The operator API: API Gateway's IAM authorizer names the signer; a request that
        // reached the function without one (a route deployed without IAM) is refused.
        ("operator-requests.json", operator(), 200),
        ("operator-requests-unsigned.json", operator(), 403),
        ("jwks.json", jwks(), 200),
        ("openid-configuration.json", jwks(), 200),
    ];
    // The schedule's payloads (a classic scheduled event, and EventBridge Scheduler's default
    // input) through the security-scan handler, deserialized as the runtime does.
    covered.extend(["schedule.json", "schedule-scheduler.json"]);
    for file in ["schedule.json", "schedule-scheduler.json"] {
        let raw = std::fs::read_to_string(events_dir().join(file)).unwrap();
        let payload: serde_json::Value = serde_json::from_str(&raw).expect("a JSON payload");
        let report = warden_security_scan::handle(&state, payload).await.unwrap();
        assert!(!report.skipped, "{file}");
    }
    for (file, router, status) in cases {
        let resp = invoke(router, file).await;
        assert_eq!(resp.status().as_u16(), status, "{file}");
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        match status {
            200 if file == "login.json" => {
                let cookies: Vec<_> = resp.headers().get_all("set-cookie").iter().collect();
                assert!(
                    cookies
                        .iter()
                        .any(|c| c.to_str().unwrap().starts_with("__Secure-warden-refresh="))
                );
                let body = body_json(resp).await;
                assert_eq!(body["expires_in"], 900);
            }
            200 if file == "openid-configuration.json" => {
                let body = body_json(resp).await;
                assert!(
                    body["jwks_uri"]
                        .as_str()
                        .unwrap()
                        .ends_with("/.well-known/jwks.json")
                );
            }
            200 if file == "operator-requests.json" => {
                let body = body_json(resp).await;
                assert!(body["requests"].is_array(), "{body}");
            }
            200 => {
                let body = body_json(resp).await;
                assert!(!body["keys"].as_array().unwrap().is_empty());
            }
            204 => {}
            _ => assert_eq!(ct.as_deref(), Some("application/problem+json"), "{file}"),
        }
        covered.push(file);
    }
    // Every sample in events/ is exercised here.
    let mut all: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    all.sort();
    covered.sort();
    assert_eq!(all, covered);
}

/// The Lambda mains build their services on the first request (no network call at start-up):
/// a store that fails then gets that request a 503 problem, and the next request builds them.
#[tokio::test]
async fn a_store_down_at_the_first_request_is_a_503_and_the_next_request_starts_the_function() {
    use std::sync::Arc;
    use tower::ServiceExt;
    use warden_tests::counting::{CountingTable, Probe};

    let f = embedded();
    let probe = Probe::new();
    let table = Arc::new(CountingTable::with_probe(
        f.backends.table.clone(),
        probe.clone(),
    ));
    let backends = warden_core::backends::Backends {
        table,
        ..f.backends.clone()
    };
    let services = Arc::new(warden_core::services::OnFirstUse::new(
        test_config(),
        backends,
        Arc::new(warden_core::password::breach::OfflineList),
    ));
    let lambda = warden_http::lambda::on_first_use(services.clone(), warden_jwks::routes);
    let event = || {
        let raw = std::fs::read_to_string(events_dir().join("jwks.json")).unwrap();
        lambda_http::request::from_str(&raw).unwrap()
    };
    probe.fail_call(1);
    let down = lambda.clone().oneshot(event()).await.unwrap();
    assert_eq!(down.status(), 503);
    assert_eq!(down.headers()["content-type"], "application/problem+json");
    let up = lambda.clone().oneshot(event()).await.unwrap();
    assert_eq!(up.status(), 200);
    assert!(
        body_json(up).await["keys"]
            .as_array()
            .is_some_and(|k| !k.is_empty())
    );
    // Built once: later requests reuse the same services.
    let calls = probe.calls();
    let first = services.get().await.unwrap();
    assert!(Arc::ptr_eq(&first, &services.get().await.unwrap()));
    assert_eq!(probe.calls(), calls);
}
