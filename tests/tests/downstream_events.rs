//! Downstream events (issue 20): every completed erasure, opt-out (a request's and a Global
//! Privacy Control signal's), opt back in and corrected address is announced on the event bus
//! once, in the schema `docs/events/privacy-event.v1.json`; an event the bus refuses waits in
//! the outbox and the schedule publishes it, once however many passes run at once. On both
//! backends: the local bus's files, and on the emulator a real `PutEvents` read back through an
//! EventBridge rule's SQS target.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Value, json};
use warden_core::event_bus::{BusEvent, EventBus};
use warden_core::services::{AppState, Services};
use warden_tests::api::{Api, PASSWORD};
use warden_tests::fixtures::{Fixture, serve, test_config, unique};
use warden_tests::http_client::{Response, unique_loopback};

struct World {
    f: Fixture,
    state: AppState,
    api: Api,
    ip: std::net::IpAddr,
}

async fn world(f: Fixture, bus: Option<Arc<dyn EventBus>>) -> World {
    let mut config = test_config();
    config.downstream_recipients = vec!["crm".into()];
    let mut backends = f.backends.clone();
    if bus.is_some() {
        backends.event_bus = bus;
    }
    let state = Services::new(config, backends).await.unwrap();
    let api = Api::on(serve(state.clone(), &f).await, &f);
    World {
        f,
        state,
        api,
        ip: unique_loopback(),
    }
}

impl World {
    /// A new account: its id and access token.
    async fn user(&self) -> (String, String) {
        let (email, login) = self.api.signed_up(self.ip).await;
        let id = self
            .state
            .users()
            .id_by_email(&email)
            .await
            .unwrap()
            .unwrap();
        (id, login.bearer())
    }

    async fn call(&self, bearer: &str, method: &str, path: &str, body: Option<Value>) -> Response {
        self.api
            .call(self.ip, method, path, &[("Authorization", bearer)], body)
            .await
    }

    async fn events(&self, user_id: &str) -> Vec<BusEvent> {
        self.f.published_events(user_id).await
    }
}

fn text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// Fails unless `detail` follows the published schema: its required fields, no others, the
/// constants and the enumerations (the schema is the contract receivers code against).
fn assert_follows_the_schema(detail: &Value) {
    let schema: Value =
        serde_json::from_str(include_str!("../../docs/events/privacy-event.v1.json")).unwrap();
    check(&schema, detail, "detail");
}

fn check(schema: &Value, v: &Value, at: &str) {
    if let Some(c) = schema.get("const") {
        assert_eq!(v, c, "{at}");
    }
    if let Some(options) = schema["enum"].as_array() {
        assert!(options.contains(v), "{at}: {v} is not one of {options:?}");
    }
    if let Some(required) = schema["required"].as_array() {
        for name in required {
            let name = name.as_str().unwrap();
            assert!(v.get(name).is_some(), "{at}: {name} is missing in {v}");
        }
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, value) in v.as_object().unwrap() {
            let property = properties
                .get(name)
                .unwrap_or_else(|| panic!("{at}: {name} is not in the schema"));
            check(property, value, &format!("{at}.{name}"));
        }
    }
    if let (Some(items), Some(values)) = (schema.get("items"), v.as_array()) {
        for x in values {
            check(items, x, &format!("{at}[]"));
        }
    }
}

/// The one event published about `user_id`, checked against the schema.
async fn the_event(w: &World, user_id: &str) -> Value {
    let events = w.events(user_id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.source, "warden.privacy");
    assert_eq!(e.detail_type, "Warden privacy event");
    assert_eq!(e.detail["event_id"], e.id.as_str());
    assert_follows_the_schema(&e.detail);
    e.detail.clone()
}

async fn every_erasure_opt_out_opt_in_and_correction_is_announced_once(f: Fixture) {
    let w = world(f, None).await;

    // An opt-out by request, then back in (two steps): two events, in order.
    let (opted, bearer) = w.user().await;
    let ccpa = |kind: &str| {
        w.call(
            &bearer,
            "POST",
            "/privacy/ccpa",
            Some(json!({ "type": kind })),
        )
    };
    assert_eq!(ccpa("do_not_sell").await.status, 200);
    let out = the_event(&w, &opted).await;
    assert_eq!(out["type"], "opted_out");
    assert_eq!(out["made_by"], "request");
    assert_eq!(out["request"]["type"], "do_not_sell");
    assert_eq!(out["acknowledgement_from"], json!(["crm"]));
    assert_eq!(ccpa("opt_in").await.status, 202);
    assert_eq!(
        w.events(&opted).await.len(),
        1,
        "the first step announces nothing"
    );
    assert_eq!(ccpa("opt_in").await.status, 200);
    let events = w.events(&opted).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1].detail["type"], "opted_in");
    assert_follows_the_schema(&events[1].detail);

    // The browser's signal, on any signed-in request: once, however often it is sent.
    let (signalled, bearer) = w.user().await;
    for _ in 0..3 {
        let r = w
            .api
            .call(
                w.ip,
                "GET",
                "/me",
                &[("Authorization", bearer.as_str()), ("Sec-GPC", "1")],
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", text(&r));
    }
    let gpc = the_event(&w, &signalled).await;
    assert_eq!(gpc["type"], "opted_out");
    assert_eq!(gpc["made_by"], "global_privacy_control");

    // A corrected address: the field, not its value.
    let (moved, bearer) = w.user().await;
    let new = format!("{}@example.org", unique("moved"));
    let body = json!({"new_email": new, "password": PASSWORD});
    let asked = w.call(&bearer, "POST", "/me/email", Some(body)).await;
    assert_eq!(asked.status, 202, "{}", text(&asked));
    let token = w
        .api
        .mailbox
        .link_token(&new, "/verify-email")
        .await
        .expect("a link to the new address");
    assert_eq!(w.api.follow(w.ip, &token).await.status, 204);
    let corrected = the_event(&w, &moved).await;
    assert_eq!(corrected["type"], "corrected");
    assert_eq!(corrected["fields"], json!(["email"]));
    assert!(corrected.get("request").is_none());
    assert!(!corrected.to_string().contains(&new), "no value travels");

    // An erasure: announced once it is verified, naming the request the recipients acknowledge.
    let (erased, bearer) = w.user().await;
    let body = json!({"type": "delete"});
    let done = w.call(&bearer, "POST", "/privacy/gdpr", Some(body)).await;
    assert_eq!(done.status, 202, "{}", text(&done));
    assert_eq!(done.json()["status"], "awaiting_acknowledgements");
    let e = the_event(&w, &erased).await;
    assert_eq!(e["type"], "erasure_completed");
    assert_eq!(e["request"]["request_id"], done.json()["request_id"]);
    assert_eq!(e["acknowledgement_from"], json!(["crm"]));
}

/// A bus that refuses the first `refusals` events it is given, then passes them on.
struct Reluctant {
    inner: Arc<dyn EventBus>,
    refusals: AtomicU32,
    published: AtomicU32,
}

#[async_trait::async_trait]
impl EventBus for Reluctant {
    async fn publish(
        &self,
        events: &[BusEvent],
    ) -> warden_core::Result<Vec<std::result::Result<(), String>>> {
        let refuse = self
            .refusals
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if refuse {
            return Ok(events
                .iter()
                .map(|_| Err("ThrottlingException: slow down".to_string()))
                .collect());
        }
        let out = self.inner.publish(events).await?;
        self.published.fetch_add(
            out.iter().filter(|r| r.is_ok()).count() as u32,
            Ordering::SeqCst,
        );
        Ok(out)
    }
}

async fn an_event_the_bus_refuses_waits_for_the_schedule_and_is_published_once(f: Fixture) {
    let bus = Arc::new(Reluctant {
        inner: f.backends.event_bus.clone().expect("a bus"),
        refusals: AtomicU32::new(1),
        published: AtomicU32::new(0),
    });
    let w = world(f, Some(bus.clone())).await;
    let (user, bearer) = w.user().await;
    let r = w
        .call(
            &bearer,
            "POST",
            "/privacy/ccpa",
            Some(json!({"type": "do_not_sell"})),
        )
        .await;
    // The opt-out applies whatever the bus says.
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(w.events(&user).await.is_empty(), "refused: not published");
    // Three schedule passes at once: one publishes it, the others find it leased or gone.
    let pass = || w.state.downstream.deliver_pending(1000);
    let (a, b, c) = tokio::join!(pass(), pass(), pass());
    let published: u32 = [a, b, c].into_iter().map(|r| r.unwrap().published).sum();
    assert!(published >= 1, "{published}");
    assert_eq!(w.events(&user).await.len(), 1);
    // Nothing left to publish about it.
    w.state.downstream.deliver_pending(1000).await.unwrap();
    assert_eq!(w.events(&user).await.len(), 1);
    assert!(bus.published.load(Ordering::SeqCst) >= 1);
}

warden_tests::on_both_backends!(
    every_erasure_opt_out_opt_in_and_correction_is_announced_once,
    an_event_the_bus_refuses_waits_for_the_schedule_and_is_published_once,
);
