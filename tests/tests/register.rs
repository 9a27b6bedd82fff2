//! `register` end to end: the Lambda event through lambda_http and the handler, and HTTP
//! requests through `warden-local`, on both backends.

use warden_core::services::Services;
use warden_core::table::Key;
use warden_tests::fixtures::{Fixture, embedded_served, test_config};
use warden_tests::http_client::{post_json, request};
use warden_tests::lambda_events::{body_json, invoke};

async fn event_registers_the_user(f: Fixture) {
    let state = Services::new(test_config(), f.backends.clone())
        .await
        .unwrap();
    let router = || warden_http::app(warden_register::routes(), state.clone());
    // The sample event's email may exist from an earlier run on a shared emulator: release it.
    let users = state.users();
    let claim = Key::new(
        format!("EMAIL#{}", users.index("ada.lovelace@example.com")),
        "EMAIL",
    );
    f.backends.table.delete(&claim, None).await.unwrap();

    let resp = invoke(router(), "register.json").await;
    assert_eq!(resp.status(), 201);
    let body = body_json(resp).await;
    let id = body["user_id"].as_str().unwrap().to_string();
    let user = users
        .find_by_email("ada.lovelace@example.com")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(user.id, id);
    assert!(user.password_hash.starts_with("$argon2id$"));
    // The table's keys never hold the email: the claim the table holds is under the keyed
    // index. (Checked for strings no hex digest can contain by chance: "ada" alone is hex and
    // appears in about 1.5 % of indexes.)
    assert!(f.backends.table.get(&claim).await.unwrap().is_some());
    assert!(!claim.pk.contains("lovelace") && !claim.pk.contains("example"));
    // The same event again: the email is taken.
    let again = invoke(router(), "register.json").await;
    assert_eq!(again.status(), 409);
    assert_eq!(again.headers()["content-type"], "application/problem+json");
}

warden_tests::on_both_backends!(event_registers_the_user);

#[tokio::test]
async fn local_runner_rejects_bad_input_with_problems() {
    let (_f, base) = embedded_served(test_config()).await;
    let url = format!("{base}/auth/register");
    let r = post_json(
        &url,
        &serde_json::json!({"email": "not-an-email", "password": "x".repeat(20)}),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.json()["invalid_params"][0]["name"], "email");

    let r = request(
        "POST",
        &url,
        &[("Content-Type", "application/json")],
        b"{\"email\":",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400);

    let big = format!(
        "{{\"email\":\"a@b.co\",\"password\":\"{}\"}}",
        "x".repeat(20_000)
    );
    let r = request(
        "POST",
        &url,
        &[("Content-Type", "application/json")],
        big.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 413);

    let r = request("POST", &url, &[("Content-Type", "text/plain")], b"hello")
        .await
        .unwrap();
    assert_eq!(r.status, 400);

    let r = post_json(
        &url,
        &serde_json::json!({"email": "a@b.co", "password": "p".repeat(257)}),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400);

    let r = warden_tests::http_client::get(&format!("{base}/no/such/route"))
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
}

#[tokio::test]
async fn concurrent_registrations_of_one_email_create_one_account() {
    let (_f, base) = embedded_served(test_config()).await;
    let url = format!("{base}/auth/register");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let email = if i % 2 == 0 {
                "Race@Example.com"
            } else {
                " race@example.COM "
            };
            post_json(
                &url,
                &serde_json::json!({"email": email, "password": "a perfectly fine passphrase"}),
            )
            .await
            .unwrap()
            .status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
}
