//! Nothing secret reaches a log line: every line written during a full flow (register, login,
//! refresh, a failed login, password change, logout), captured as the JSON the Lambdas write, is
//! searched for the passwords, tokens, cookies, the email and the Authorization header; and
//! every line a request writes names that request's id (the subscriber is the Lambdas' own,
//! `warden_http::logging`, at trace level).

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use warden_core::services::Services;
use warden_tests::fixtures::{embedded, serve, test_config};
use warden_tests::http_client::request;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn set_cookie(r: &warden_tests::http_client::Response, name: &str) -> String {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, v)| v.split(';').next())
        .find(|kv| kv.starts_with(name))
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_full_flow_logs_no_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    let settings = warden_http::logging::LogSettings {
        json: true,
        filter: "trace".into(),
    };
    warden_http::logging::install(&settings, move || writer.clone());

    let f = embedded();
    let state = Services::new(test_config(), f.backends.clone())
        .await
        .unwrap();
    let base = serve(state, &f).await;
    let email = "grace.hopper@example.com";
    let (pw1, pw2) = (
        "compiler moth in relay seventy",
        "nanosecond wire eleven point eight",
    );
    let post = |path: &str, headers: Vec<(&'static str, String)>, body: serde_json::Value| {
        let url = format!("{base}{path}");
        async move {
            let mut h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            h.push(("Content-Type", "application/json"));
            h.push(("User-Agent", "Mozilla/5.0 secret-check"));
            request("POST", &url, &h, body.to_string().as_bytes())
                .await
                .unwrap()
        }
    };
    assert_eq!(
        post(
            "/auth/register",
            vec![],
            json!({"email": email, "password": pw1})
        )
        .await
        .status,
        202
    );
    // The verification link's token is a secret too.
    let verify_token = f
        .mailbox()
        .link_token(email, "/verify-email")
        .await
        .expect("a verification link");
    assert_eq!(
        post(
            "/auth/email/verify",
            vec![],
            json!({ "token": verify_token })
        )
        .await
        .status,
        204
    );
    assert_eq!(
        post(
            "/auth/login",
            vec![],
            json!({"email": email, "password": "wrong guess entirely"})
        )
        .await
        .status,
        401
    );
    let login = post(
        "/auth/login",
        vec![],
        json!({"email": email, "password": pw1}),
    )
    .await;
    assert_eq!(login.status, 200);
    let access = login.json()["access_token"].as_str().unwrap().to_string();
    let refresh_cookie = set_cookie(&login, "__Secure-warden-refresh");
    let device_cookie = set_cookie(&login, "__Host-warden-device");
    let refreshed = post(
        "/auth/refresh",
        vec![("Cookie", refresh_cookie.clone())],
        json!({}),
    )
    .await;
    assert_eq!(refreshed.status, 200);
    let access2 = refreshed.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let changed = post(
        "/auth/password",
        vec![("Authorization", format!("Bearer {access2}"))],
        json!({"current_password": pw1, "new_password": pw2}),
    )
    .await;
    assert_eq!(changed.status, 204);
    let rotated = set_cookie(&refreshed, "__Secure-warden-refresh");
    assert_eq!(
        post("/auth/logout", vec![("Cookie", rotated.clone())], json!({}))
            .await
            .status,
        204
    );

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("security event"),
        "the flow was logged at all"
    );
    let value = |c: &str| c.split_once('=').unwrap().1.to_string();
    for secret in [
        verify_token.clone(),
        verify_token.split('.').nth(1).unwrap().to_string(),
        pw1.to_string(),
        pw2.to_string(),
        access.clone(),
        access2.clone(),
        access.split('.').nth(2).unwrap().to_string(),
        value(&refresh_cookie),
        value(&rotated),
        value(&device_cookie),
        email.to_string(),
        "Bearer".to_string(),
        "authorization".to_string(),
        "Mozilla/5.0 secret-check".to_string(),
    ] {
        assert!(
            !logs.to_lowercase().contains(&secret.to_lowercase()),
            "a log line contains {secret:.12}…"
        );
    }
    // Every line is one JSON object (no injected line breaks), and every line a request wrote
    // names its request: its per-request line, and each security event with the same id the
    // audit entry records.
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).expect("each log line is one JSON object"))
        .collect();
    let in_request = |v: &serde_json::Value| {
        ["request", "security event"].contains(&v["fields"]["message"].as_str().unwrap_or(""))
    };
    assert!(lines.iter().filter(|v| in_request(v)).count() >= 8);
    for v in lines.iter().filter(|v| in_request(v)) {
        let id = v["span"]["request_id"].as_str().unwrap_or_default();
        assert!(!id.is_empty(), "a request's line without its id: {v}");
        if let Some(recorded) = v["fields"]["request_id"].as_str() {
            assert_eq!(recorded, id, "{v}");
        }
    }
}
