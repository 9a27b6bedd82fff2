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
    world_with(f, test_config()).await
}

async fn world_with(f: Fixture, config: warden_core::config::Config) -> World {
    let state = Services::new(config, f.backends.clone()).await.unwrap();
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

    /// The messages to `email` whose subject contains `subject`.
    async fn mail(&self, email: &str, subject: &str) -> Vec<warden_core::mail::Message> {
        let mut all = self.api.mailbox.to(email).await;
        all.retain(|m| m.subject.contains(subject));
        all
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
    let received = w.mail(&email, "We received").await;
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

/// A signed permission, as an agent would upload it (a PDF's first bytes and some more).
fn permission_pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.7\n% the consumer's signed permission\n".to_vec();
    pdf.resize(4096, b'.');
    pdf
}

impl World {
    async fn operator(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        self.api
            .call_as(self.ip, Some(OPERATOR_TOKEN), method, path, body)
            .await
    }

    /// An authorized agent at `agent` asks for `email`'s `kind` request and confirms it.
    async fn agent_asks(&self, email: &str, agent: &str, kind: &str, bytes: usize) -> Value {
        let body = json!({
            "email": email,
            "regime": "ccpa",
            "type": kind,
            "agent": {
                "name": "Privacy Helpers Inc.",
                "email": agent,
                "permission": {"content_type": "application/pdf", "bytes": bytes},
            },
        });
        let asked = self
            .api
            .call(self.ip, "POST", "/privacy/requests", &[], Some(body))
            .await;
        assert_eq!(asked.status, 202, "{}", text(&asked));
        assert!(
            self.api
                .mailbox
                .link_token(email, "/privacy/verify")
                .await
                .is_none(),
            "the link goes to the agent, not the consumer"
        );
        let made = self.confirm(&self.link(agent).await).await;
        assert_eq!(made.status, 200, "{}", text(&made));
        made.json()
    }
}

async fn an_authorized_agent_uploads_the_signed_permission_and_waits_for_an_operator(f: Fixture) {
    let w = world(f).await;
    let (email, _) = w.api.signed_up(w.ip).await;
    let user_id = w.account_id(&email).await;
    let agent = format!("{}@agents.example", unique("agent"));
    let pdf = permission_pdf();
    let receipt = w.agent_asks(&email, &agent, "access", pdf.len()).await;
    let id = receipt["request_id"].as_str().unwrap().to_string();
    assert!(
        receipt.get("status").is_none(),
        "an agent learns no more: {receipt}"
    );
    let upload = &receipt["permission_upload"];
    assert_eq!(upload["method"], "PUT");
    assert_eq!(upload["content_length"], pdf.len());
    let view = w.operator_view(&id).await;
    assert_eq!(view["status"], "awaiting_operator", "{view}");
    assert_eq!(view["user_id"], user_id.as_str());
    assert_eq!(view["agent"]["email"], agent.as_str());
    // The consumer is told, and may object.
    let told = w.mail(&email, "We received").await;
    assert_eq!(told.len(), 1);
    assert!(
        told[0].text.contains("Privacy Helpers Inc."),
        "{}",
        told[0].text
    );

    // Nothing moves before the permission is there, nor before an operator has checked it.
    let verify = format!("/operator/requests/{id}/verify");
    let note = json!({"reason": "signature matches the account holder's, confirmed by phone"});
    let early = w.operator("POST", &verify, Some(note.clone())).await;
    assert_eq!(early.status, 409, "{}", text(&early));
    // The command line's door says the same.
    let cli = warden_local::privacy_cli::Command::Verify {
        id: id.clone(),
        reason: "checked".into(),
    };
    let op = warden_core::privacy::operations::Operator::local();
    let refused = cli.run(&w.state, &op).await.unwrap_err();
    assert_eq!(
        warden_local::privacy_cli::error_line(&cli, &refused),
        "the agent has not uploaded the consumer's signed permission yet"
    );
    let permission = format!("/operator/requests/{id}/permission");
    assert_eq!(w.operator("GET", &permission, None).await.status, 404);
    warden_core::privacy::resume_open(&w.state.privacy(), 50)
        .await
        .unwrap();
    assert_eq!(w.operator_view(&id).await["status"], "awaiting_operator");

    // The upload, with the type and size signed into the link (the emulator does not check
    // S3's signatures; the directory store's links are checked by the conformance suite).
    let url = upload["upload_url"].as_str().unwrap();
    let put = warden_tests::http_client::request(
        "PUT",
        url,
        &[("content-type", "application/pdf")],
        &pdf,
    )
    .await
    .unwrap();
    assert_eq!(put.status, 200, "{}", text(&put));
    let link = w.operator("GET", &permission, None).await;
    assert_eq!(link.status, 200, "{}", text(&link));
    let read =
        warden_tests::http_client::request("GET", link.json()["url"].as_str().unwrap(), &[], b"")
            .await
            .unwrap();
    assert_eq!(read.body, pdf, "the operator reads what the agent uploaded");

    let verified = w.operator("POST", &verify, Some(note)).await;
    assert_eq!(verified.status, 200, "{}", text(&verified));
    assert_eq!(verified.json()["status"], "received");
    let again = w
        .operator("POST", &verify, Some(json!({"reason": "twice"})))
        .await;
    assert_eq!(again.status, 409, "{}", text(&again));
    // The schedule runs it.
    warden_core::privacy::resume_open(&w.state.privacy(), 50)
        .await
        .unwrap();
    let done = w.operator_view(&id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let notes = warden_tests::api::history_notes(&done);
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("made by an authorized agent"))
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("verified by an operator: signature matches"))
    );
    let events = w.state.audit.for_user(&user_id).await.unwrap();
    let verified: Vec<_> = events
        .iter()
        .filter(|e| e.event == "privacy_request_verified")
        .collect();
    assert_eq!(verified.len(), 1);
    assert!(verified[0].details.contains("local operator"));
}

/// An agent is answered alike whether or not the address has an account: the answer does not
/// tell an agent who is a customer.
async fn an_agent_cannot_tell_a_customer_from_a_stranger(f: Fixture) {
    let w = world(f).await;
    let (email, _) = w.api.signed_up(w.ip).await;
    let stranger = format!("{}@example.com", unique("stranger"));
    let agent = format!("{}@agents.example", unique("agent"));
    let shape = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        (keys, v["permission_upload"]["method"].clone())
    };
    let known = w.agent_asks(&email, &agent, "delete", 100).await;
    let unknown = w.agent_asks(&stranger, &agent, "delete", 100).await;
    assert_eq!(shape(&known), shape(&unknown));
    assert_eq!(
        known["due_at"].as_str().map(str::len),
        unknown["due_at"].as_str().map(str::len)
    );
    // Bad agents are refused naming the field.
    for (agent, field) in [
        (
            json!({"name": "", "email": "a@agents.example", "permission": {"content_type": "application/pdf", "bytes": 10}}),
            "agent.name",
        ),
        (
            json!({"name": "A", "email": "nope", "permission": {"content_type": "application/pdf", "bytes": 10}}),
            "agent.email",
        ),
        (
            json!({"name": "A", "email": "a@agents.example", "permission": {"content_type": "text/html", "bytes": 10}}),
            "agent.permission.content_type",
        ),
        (
            json!({"name": "A", "email": "a@agents.example", "permission": {"content_type": "application/pdf", "bytes": 6_000_000}}),
            "agent.permission.bytes",
        ),
    ] {
        let body = json!({"email": email, "regime": "gdpr", "type": "export", "agent": agent});
        let r = w
            .api
            .call(w.ip, "POST", "/privacy/requests", &[], Some(body))
            .await;
        assert_eq!(r.status, 400, "{field}: {}", text(&r));
        assert_eq!(r.json()["invalid_params"][0]["name"], field);
    }
}

/// A request's whole life as a regulator would follow it: asked by mail without a session,
/// confirmed from the link, erased and verified, extended while a processor catches up, and
/// completed by that processor's acknowledgement; the requester told of its answer.
async fn a_request_lives_from_the_mailed_ask_to_the_last_acknowledgement(f: Fixture) {
    let mut config = test_config();
    config.downstream_recipients = vec!["crm".into()];
    let w = world_with(f, config).await;
    let (email, _) = w.api.signed_up(w.ip).await;
    let user_id = w.account_id(&email).await;
    assert_eq!(w.ask(&email, "ccpa", "delete").await.status, 202);
    let made = w.confirm(&w.link(&email).await).await;
    assert_eq!(made.status, 200, "{}", text(&made));
    let v = made.json();
    assert_eq!(v["status"], "awaiting_acknowledgements", "{v}");
    assert!(v["receipt"]["verified_at"].is_string(), "{v}");
    let id = v["request_id"].as_str().unwrap().to_string();
    let path = format!("/operator/requests/{id}");
    let extended = w
        .operator(
            "POST",
            &format!("{path}/extend"),
            Some(json!({"reason": "the CRM restores its backups first"})),
        )
        .await;
    assert_eq!(extended.status, 200, "{}", text(&extended));
    let acked = w
        .operator(
            "POST",
            &format!("{path}/acks"),
            Some(json!({"recipient": "crm"})),
        )
        .await;
    assert_eq!(acked.status, 200, "{}", text(&acked));
    let done = acked.json();
    assert_eq!(done["status"], "completed", "{done}");
    let notes = warden_tests::api::history_notes(&done);
    assert!(
        notes
            .iter()
            .any(|n| n.contains("waiting for acknowledgements from crm"))
    );
    assert!(notes.iter().any(|n| n.contains("extended")), "{notes:?}");
    assert!(
        notes.contains(&"acknowledged by crm".to_string()),
        "{notes:?}"
    );
    assert!(w.state.users().get(&user_id).await.unwrap().is_none());
    let answered = w.mail(&email, "is answered").await;
    assert_eq!(
        answered.len(),
        1,
        "told once, at the address the erasure kept sealed"
    );
    assert!(answered[0].text.contains(&id));
    // The account was gone when the deadline moved: the extension still reached its holder.
    let extended = w.mail(&email, "needs more time").await;
    assert_eq!(extended.len(), 1);
    assert!(
        extended[0]
            .text
            .contains("the CRM restores its backups first")
    );
    let record = warden_core::privacy::requests::get(w.state.backends.table.as_ref(), &id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !record.progress.contains_key("notify_to"),
        "the closed record keeps no address"
    );
}

/// Two operators verifying the same waiting request at once: it is verified once (the loser
/// is told it no longer waits), with one audit event.
async fn two_operators_verifying_at_once_verify_once(f: Fixture) {
    let w = world(f).await;
    let (email, login) = w.api.signed_up(w.ip).await;
    let bearer = login.bearer().trim_start_matches("Bearer ").to_string();
    let enrolled_at = w.state.backends.clock.now().secs();
    w.api.enrol_totp(w.ip, &bearer, enrolled_at).await;
    assert_eq!(w.ask(&email, "gdpr", "export").await.status, 202);
    let made = w.confirm(&w.link(&email).await).await;
    assert_eq!(
        made.json()["status"],
        "awaiting_operator",
        "{}",
        text(&made)
    );
    let id = made.json()["request_id"].as_str().unwrap().to_string();
    let verify = format!("/operator/requests/{id}/verify");
    let call = |who: &str| {
        let body = json!({ "reason": format!("{who} called the holder back") });
        w.operator("POST", &verify, Some(body))
    };
    let (a, b) = tokio::join!(call("ana"), call("ben"));
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{} / {}", text(&a), text(&b));
    let user_id = w.account_id(&email).await;
    let events = w.state.audit.for_user(&user_id).await.unwrap();
    let verified = events
        .iter()
        .filter(|e| e.event == "privacy_request_verified")
        .count();
    assert_eq!(verified, 1);
    let view = w.operator_view(&id).await;
    let notes = warden_tests::api::history_notes(&view);
    let by_operator = notes
        .iter()
        .filter(|n| n.starts_with("verified by an operator"))
        .count();
    assert_eq!(by_operator, 1, "{notes:?}");
}

warden_tests::on_both_backends!(
    embedded = warden_tests::fixtures::embedded_linked().await;
    two_operators_verifying_at_once_verify_once,
    a_request_lives_from_the_mailed_ask_to_the_last_acknowledgement,
    an_authorized_agent_uploads_the_signed_permission_and_waits_for_an_operator,
    an_agent_cannot_tell_a_customer_from_a_stranger,
    a_request_without_a_session_is_made_from_the_mailed_link,
    an_address_without_an_account_is_answered_that_no_data_is_held,
    a_mailbox_alone_does_not_export_an_account_with_a_second_factor,
    two_clicks_on_one_link_make_one_request,
    bad_asks_are_refused_naming_the_field,
);
