//! Privacy requests from people who are not signed in (issue 20), over real HTTP on both
//! backends: the same 202 for every address, a link by mail that makes the request (received
//! when it was asked), "no data held" for an address without an account, a mailbox alone never
//! exporting an account with a second factor (its owner's signed-in request moves it on), a
//! link that works once however many clicks race, and bad asks named.

use serde_json::{Value, json};
use warden_core::services::{AppState, Services};
use warden_tests::api::Api;
use warden_tests::fixtures::{Fixture, OPERATOR_TOKEN, serve, test_config, unique};
use warden_tests::http_client::{Response, unique_loopback};

struct World {
    state: AppState,
    api: Api,
    ip: std::net::IpAddr,
}

async fn world(f: Fixture) -> World {
    let state = Services::new(test_config(), f.backends.clone())
        .await
        .unwrap();
    let api = Api::on(serve(state.clone(), &f).await, &f);
    World {
        state,
        api,
        ip: unique_loopback(),
    }
}

fn text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

impl World {
    async fn ask(&self, email: &str, regime: &str, kind: &str) -> Response {
        let body = json!({"email": email, "regime": regime, "type": kind});
        self.api
            .call(self.ip, "POST", "/privacy/requests", &[], Some(body))
            .await
    }

    async fn confirm(&self, token: &str) -> Response {
        let body = json!({ "token": token });
        self.api
            .call(self.ip, "POST", "/privacy/requests/verify", &[], Some(body))
            .await
    }

    /// The token of the newest confirmation link mailed to `email`.
    async fn link(&self, email: &str) -> String {
        self.api
            .mailbox
            .link_token(email, "/privacy/verify")
            .await
            .expect("a confirmation link")
    }

    async fn operator_view(&self, id: &str) -> Value {
        let r = self
            .api
            .call_as(
                self.ip,
                Some(OPERATOR_TOKEN),
                "GET",
                &format!("/operator/requests/{id}"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", text(&r));
        r.json()
    }

    async fn account_id(&self, email: &str) -> String {
        self.state
            .users()
            .id_by_email(email)
            .await
            .unwrap()
            .unwrap()
    }
}

async fn a_request_without_a_session_is_made_from_the_mailed_link(f: Fixture) {
    let w = world(f).await;
    let (email, _) = w.api.signed_up(w.ip).await;
    let asked_at = w.state.backends.clock.now();
    let asked = w.ask(&email, "gdpr", "export").await;
    assert_eq!(asked.status, 202, "{}", text(&asked));
    let token = w.link(&email).await;
    let made = w.confirm(&token).await;
    assert_eq!(made.status, 200, "{}", text(&made));
    let v = made.json();
    assert_eq!(v["status"], "completed", "{v}");
    assert!(
        v["download_url"].is_string(),
        "the mailbox gets its archive: {v}"
    );
    // Received when asked: the law's clock does not wait for the click.
    assert_eq!(v["received_at"], asked_at.to_rfc3339());
    let id = v["request_id"].as_str().unwrap();
    assert_eq!(
        w.operator_view(id).await["user_id"],
        w.account_id(&email).await
    );
    let again = w.confirm(&token).await;
    assert_eq!(again.status, 400, "a link works once: {}", text(&again));
    assert!(text(&again).contains("token"));
}

async fn an_address_without_an_account_is_answered_that_no_data_is_held(f: Fixture) {
    let w = world(f).await;
    let (known, _) = w.api.signed_up(w.ip).await;
    let unknown = format!("{}@example.com", unique("nobody"));
    let a = w.ask(&known, "ccpa", "access").await;
    let b = w.ask(&unknown, "ccpa", "access").await;
    assert_eq!((a.status, b.status), (202, 202));
    assert_eq!(
        a.body, b.body,
        "the answer does not tell who has an account"
    );
    let made = w.confirm(&w.link(&unknown).await).await;
    assert_eq!(made.status, 200, "{}", text(&made));
    let v = made.json();
    assert_eq!(v["status"], "completed");
    assert_eq!(v["type"], "access");
    let notes = warden_tests::api::history_notes(&v);
    assert!(
        notes.contains(&"no personal data is held for this address".to_string()),
        "{notes:?}"
    );
    let kept = w.operator_view(v["request_id"].as_str().unwrap()).await;
    assert_eq!(kept["user_id"], "", "the record names no account");
    assert!(kept["closed_at"].is_string());
}

async fn a_mailbox_alone_does_not_export_an_account_with_a_second_factor(f: Fixture) {
    let w = world(f).await;
    let (email, login) = w.api.signed_up(w.ip).await;
    let bearer = login.bearer().trim_start_matches("Bearer ").to_string();
    let enrolled_at = w.state.backends.clock.now().secs();
    let (secret, _) = w.api.enrol_totp(w.ip, &bearer, enrolled_at).await;
    let asked = w.ask(&email, "gdpr", "export").await;
    assert_eq!(asked.status, 202, "{}", text(&asked));
    let made = w.confirm(&w.link(&email).await).await;
    assert_eq!(made.status, 200, "{}", text(&made));
    let waiting = made.json();
    assert_eq!(waiting["status"], "awaiting_operator", "{waiting}");
    assert!(waiting["download_url"].is_null());
    let id = waiting["request_id"].as_str().unwrap().to_string();
    // The requester is told it was received, and what verification it still needs.
    let received: Vec<_> = w
        .api
        .mailbox
        .to(&email)
        .await
        .into_iter()
        .filter(|m| m.subject.contains("We received"))
        .collect();
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(received[0].text.contains(&id));
    assert!(received[0].text.contains("sign in with it and ask again"));

    // Its owner signs in with both factors and asks: the same request runs.
    let challenge = w
        .api
        .login(w.ip, &email, warden_tests::api::PASSWORD, &[])
        .await
        .json();
    let second = w
        .api
        .call(
            w.ip,
            "POST",
            "/auth/mfa/totp",
            &[],
            Some(json!({
                "mfa_token": challenge["mfa_token"],
                // The next time step: the enrolment's code is spent.
                "code": warden_tests::totp::code(&secret, enrolled_at + 30),
            })),
        )
        .await;
    assert_eq!(second.status, 200, "{}", text(&second));
    let strong = second.bearer();
    let asked = w
        .api
        .call(
            w.ip,
            "POST",
            "/privacy/gdpr",
            &[("Authorization", strong.as_str())],
            Some(json!({"type": "export"})),
        )
        .await;
    assert_eq!(asked.status, 202, "{}", text(&asked));
    assert_eq!(asked.json()["request_id"], id.as_str());
    assert_eq!(asked.json()["status"], "completed", "{}", text(&asked));
}

async fn two_clicks_on_one_link_make_one_request(f: Fixture) {
    let w = world(f).await;
    let email = format!("{}@example.com", unique("twice"));
    assert_eq!(w.ask(&email, "gdpr", "delete").await.status, 202);
    let token = w.link(&email).await;
    let (a, b) = tokio::join!(w.confirm(&token), w.confirm(&token));
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400], "{} / {}", text(&a), text(&b));
}

async fn bad_asks_are_refused_naming_the_field(f: Fixture) {
    let w = world(f).await;
    // Values the body may hold but the request cannot: the parameter is named.
    for (body, field) in [
        (
            json!({"email": "a@example.com", "regime": "pipeda", "type": "export"}),
            "regime",
        ),
        (
            json!({"email": "a@example.com", "regime": "gdpr", "type": "forget"}),
            "type",
        ),
        (
            json!({"email": "not an address", "regime": "gdpr", "type": "export"}),
            "email",
        ),
    ] {
        let r = w
            .api
            .call(w.ip, "POST", "/privacy/requests", &[], Some(body.clone()))
            .await;
        assert_eq!(r.status, 400, "{body}: {}", text(&r));
        assert_eq!(
            r.json()["invalid_params"][0]["name"],
            field,
            "{body}: {}",
            text(&r)
        );
    }
    // A body of another shape: refused before any work, saying where it went wrong.
    for body in [
        json!({"email": "a@example.com", "regime": "gdpr"}),
        json!({"email": "a@example.com", "regime": "gdpr", "type": "export", "agent": true}),
    ] {
        let r = w
            .api
            .call(w.ip, "POST", "/privacy/requests", &[], Some(body.clone()))
            .await;
        assert_eq!(r.status, 400, "{body}: {}", text(&r));
        let detail = r.json()["detail"].as_str().unwrap_or_default().to_string();
        assert!(detail.contains("fields"), "{body}: {detail}");
    }
    for token in [
        "",
        "nonsense",
        &format!("{}.{}", "ab".repeat(16), "A".repeat(43)),
    ] {
        let r = w.confirm(token).await;
        assert_eq!(r.status, 400, "{token}: {}", text(&r));
    }
}

warden_tests::on_both_backends!(
    a_request_without_a_session_is_made_from_the_mailed_link,
    an_address_without_an_account_is_answered_that_no_data_is_held,
    a_mailbox_alone_does_not_export_an_account_with_a_second_factor,
    two_clicks_on_one_link_make_one_request,
    bad_asks_are_refused_naming_the_field,
);
