//! GDPR and CCPA requests through `warden-local`'s router over real HTTP, on both backends:
//! the data that exists (profile, preferences, photos), the export checked field by field with
//! an independent ZIP reader (Python's `zipfile`), verification, idempotency, the erasure with a
//! fault injected at every call it makes and then resumed, the opt-out by request and by
//! Global Privacy Control, and deadlines.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use warden_core::backends::Backends;
use warden_core::privacy::data_map::DATA_MAP;
use warden_core::privacy::requests::{self, Regime, RequestType};
use warden_core::services::{AppState, Services};
use warden_tests::counting::{CountingBlobs, CountingTable, Probe};
use warden_tests::fixtures::{Fixture, serve, test_config, unique};
use warden_tests::http_client::{Response, request, request_from, unique_loopback};
use warden_tests::zip_reader::{read_with_zipfile, unzip};

const PASSWORD: &str = "marmalade kiln wobbles at dusk";

struct World {
    f: Fixture,
    state: AppState,
    base: String,
    ip: std::net::IpAddr,
    /// Watches every table and blob call the services make (and injects faults).
    probe: Arc<Probe>,
}

struct User {
    id: String,
    email: String,
    bearer: String,
}

async fn world(f: Fixture) -> World {
    world_with(f, test_config()).await
}

async fn world_with(f: Fixture, config: warden_core::config::Config) -> World {
    let probe = Probe::new();
    let backends = Backends {
        table: Arc::new(CountingTable::with_probe(
            f.backends.table.clone(),
            probe.clone(),
        )),
        photos: Arc::new(CountingBlobs::with_probe(
            f.backends.photos.clone(),
            probe.clone(),
        )),
        exports: Arc::new(CountingBlobs::with_probe(
            f.backends.exports.clone(),
            probe.clone(),
        )),
        ..f.backends.clone()
    };
    let state = Services::new(config, backends).await.unwrap();
    let base = serve(state.clone(), &f).await;
    World {
        f,
        state,
        base,
        ip: unique_loopback(),
        probe,
    }
}

fn text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).to_string()
}

impl World {
    async fn call(&self, method: &str, path: &str, bearer: &str, body: Option<Value>) -> Response {
        let mut h: Vec<(&str, &str)> = vec![("User-Agent", "Firefox/140 privacy-test")];
        if !bearer.is_empty() {
            h.push(("Authorization", bearer));
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        if !body.is_empty() {
            h.push(("Content-Type", "application/json"));
        }
        let url = format!("{}{path}", self.base);
        request_from(Some(self.ip), method, &url, &h, body.as_bytes())
            .await
            .unwrap()
    }

    async fn user(&self) -> User {
        let email = format!("{}@example.com", unique("p"));
        let creds = json!({"email": email, "password": PASSWORD});
        let r = self
            .call("POST", "/auth/register", "", Some(creds.clone()))
            .await;
        assert_eq!(r.status, 202, "{}", text(&r));
        let token = self
            .f
            .mailbox()
            .link_token(&email, "/verify-email")
            .await
            .expect("a verification link");
        let r = self
            .call(
                "POST",
                "/auth/email/verify",
                "",
                Some(json!({ "token": token })),
            )
            .await;
        assert_eq!(r.status, 204, "{}", text(&r));
        let id = self
            .state
            .users()
            .id_by_email(&email)
            .await
            .unwrap()
            .unwrap();
        let r = self.call("POST", "/auth/login", "", Some(creds)).await;
        assert_eq!(r.status, 200, "{}", text(&r));
        let bearer = r.bearer();
        User { id, email, bearer }
    }

    async fn ask(&self, u: &User, regime: &str, body: Value) -> Response {
        self.call("POST", &format!("/privacy/{regime}"), &u.bearer, Some(body))
            .await
    }

    /// Gives the user one of everything the data map names.
    async fn seed(&self, u: &User) -> Vec<u8> {
        let r = self
            .call(
                "PATCH",
                "/me",
                &u.bearer,
                Some(json!({"display_name": "  Ada Lovelace "})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", text(&r));
        let r = self
            .call(
                "PUT",
                "/me/preferences",
                &u.bearer,
                Some(json!({"theme": "dark", "newsletter": false, "page_size": 25})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", text(&r));
        let photo = b"\xff\xd8\xff\xe0 not really a jpeg".to_vec();
        let r = self
            .call(
                "POST",
                "/me/photos",
                &u.bearer,
                Some(json!({"content_type": "image/jpeg", "content_length": photo.len()})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", text(&r));
        let url = r.json()["upload_url"].as_str().unwrap().to_string();
        let up = request("PUT", &url, &[("Content-Type", "image/jpeg")], &photo)
            .await
            .unwrap();
        assert_eq!(up.status, 200, "{}", text(&up));
        let now = self.state.backends.clock.now();
        self.state
            .billing
            .subscribe(&u.id, "pro-monthly", now)
            .await
            .unwrap();
        let r = self.ask(u, "ccpa", json!({"type": "do_not_sell"})).await;
        assert_eq!(r.status, 200, "{}", text(&r));
        photo
    }

    async fn events(&self, user_id: &str, event: &str) -> usize {
        self.state
            .audit
            .for_user(user_id)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.event == event)
            .count()
    }

    /// Completion events recorded for one request.
    async fn completions(&self, user_id: &str, request_id: &str) -> usize {
        self.state
            .audit
            .for_user(user_id)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.event == "privacy_request_completed" && e.details.contains(request_id))
            .count()
    }
}

/// The archive's entries as name → (size, SHA-256), without the bytes crossing back.
fn zip_digest(bytes: &[u8]) -> BTreeMap<String, (u64, String)> {
    serde_json::from_value(read_with_zipfile(
        bytes,
        "{i.filename: [i.file_size, hashlib.sha256(z.read(i)).hexdigest()] for i in z.infolist()}",
    ))
    .unwrap()
}

/// About 100 MiB of photos, uploaded through their links, come back whole in the export: the
/// archive streams from the photo store through the ZIP writer into the export store and opens
/// in an independent reader.
async fn a_100_mib_export_holds_every_photo_byte_for_byte(f: Fixture) {
    use aws_lc_rs::digest::{SHA256, digest};
    const PHOTOS: usize = 20;
    const SIZE: usize = 5 * 1024 * 1024;
    let w = world(f).await;
    let u = w.user().await;
    let mut expected = BTreeMap::new();
    for i in 0..PHOTOS {
        // Different bytes in every photo (a simple xorshift stream).
        let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (i as u64 + 1);
        let photo: Vec<u8> = (0..SIZE / 8)
            .flat_map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()
            })
            .collect();
        let r = w
            .call(
                "POST",
                "/me/photos",
                &u.bearer,
                Some(json!({"content_type": "image/jpeg", "content_length": SIZE})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", text(&r));
        let r = r.json();
        let up = request(
            "PUT",
            r["upload_url"].as_str().unwrap(),
            &[("Content-Type", "image/jpeg")],
            &photo,
        )
        .await
        .unwrap();
        assert_eq!(up.status, 200, "{}", text(&up));
        let id = r["photo_id"].as_str().unwrap().to_string();
        let sha: String = digest(&SHA256, &photo)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        expected.insert(format!("photos/{id}"), (SIZE as u64, sha));
    }
    let r = w.ask(&u, "gdpr", json!({"type": "export"})).await;
    assert_eq!(r.status, 202, "{}", text(&r));
    let id = r.json()["request_id"].as_str().unwrap().to_string();
    let status = w
        .call("GET", &format!("/privacy/requests/{id}"), &u.bearer, None)
        .await
        .json();
    assert_eq!(status["status"], "completed", "{status}");
    let zip = request("GET", status["download_url"].as_str().unwrap(), &[], b"")
        .await
        .unwrap();
    assert_eq!(zip.status, 200);
    assert!(zip.body.len() > PHOTOS * SIZE);
    let mut entries = zip_digest(&zip.body);
    assert!(entries.remove("data.json").is_some());
    assert!(entries.remove("manifest.json").is_some());
    assert_eq!(entries, expected);
}

/// An export that outlasts the request's budget answers `in_progress` (not a timeout), and the
/// schedule finishes it once the cut-short run's lease has lapsed.
async fn an_export_longer_than_the_request_budget_is_finished_by_the_schedule(f: Fixture) {
    let mut config = test_config();
    config.privacy_run_budget = Duration::ZERO;
    let w = world_with(f, config).await;
    let u = w.user().await;
    let r = w.ask(&u, "gdpr", json!({"type": "export"})).await;
    assert_eq!(r.status, 202, "{}", text(&r));
    let accepted = r.json();
    assert!(
        ["received", "in_progress"].contains(&accepted["status"].as_str().unwrap()),
        "{accepted}"
    );
    let id = accepted["request_id"].as_str().unwrap().to_string();
    let path = format!("/privacy/requests/{id}");
    // Should the cut-short run have claimed the request, its lease lapses first.
    w.f.clock.advance(requests::LEASE + Duration::from_secs(1));
    // (On the emulator the table is shared: the pass may finish other tests' requests too.)
    let report = warden_core::privacy::resume_open(&w.state.privacy(), 100)
        .await
        .unwrap();
    assert!(report.completed >= 1, "{report:?}");
    let status = w.call("GET", &path, &u.bearer, None).await.json();
    assert_eq!(status["status"], "completed", "{status}");
    assert!(status["download_url"].is_string(), "{status}");
}

async fn profile_preferences_and_photos_round_trip(f: Fixture) {
    let w = world(f).await;
    let u = w.user().await;
    let photo = w.seed(&u).await;
    let me = w.call("GET", "/me", &u.bearer, None).await.json();
    assert_eq!(me["display_name"], "Ada Lovelace");
    assert_eq!(me["privacy"]["do_not_sell"], true);
    assert_eq!(me["privacy"]["source"], "request");
    let prefs = w
        .call("GET", "/me/preferences", &u.bearer, None)
        .await
        .json();
    assert_eq!(
        prefs,
        json!({"theme": "dark", "newsletter": false, "page_size": 25})
    );
    let photos = w.call("GET", "/me/photos", &u.bearer, None).await.json();
    let list = photos["photos"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    let got = request("GET", list[0]["url"].as_str().unwrap(), &[], b"")
        .await
        .unwrap();
    assert_eq!(got.body, photo);
    // Bad input is refused with the field named, and nothing changes.
    for (method, path, body) in [
        ("PATCH", "/me", json!({"display_name": "x".repeat(101)})),
        ("PATCH", "/me", json!({"nickname": "x"})),
        ("PUT", "/me/preferences", json!({"theme": {"nested": true}})),
        ("POST", "/me/photos", json!({"content_type": "text/html"})),
    ] {
        let r = w.call(method, path, &u.bearer, Some(body)).await;
        assert_eq!(r.status, 400, "{path}: {}", text(&r));
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
    let me = w.call("GET", "/me", &u.bearer, None).await.json();
    assert_eq!(me["display_name"], "Ada Lovelace");
}

async fn unknown_request_types_are_refused_naming_the_type(f: Fixture) {
    let w = world(f).await;
    let u = w.user().await;
    for (regime, t) in [
        ("gdpr", "do_not_sell"),
        ("ccpa", "export"),
        ("gdpr", "erase-all"),
    ] {
        let r = w.ask(&u, regime, json!({"type": t})).await;
        assert_eq!(r.status, 400, "{}", text(&r));
        assert!(
            text(&r).contains(&format!("Invalid request type: {t}")),
            "{}",
            text(&r)
        );
    }
    // A password of the wrong type, `null` included, is refused before anything runs.
    for (regime, t) in [("gdpr", "delete"), ("ccpa", "delete"), ("gdpr", "export")] {
        for password in [json!(null), json!(42), json!(["x"])] {
            let r = w
                .ask(&u, regime, json!({"type": t, "password": password}))
                .await;
            assert_eq!(r.status, 400, "{regime} {t} {password}: {}", text(&r));
        }
    }
    let me = w.call("GET", "/me", &u.bearer, None).await;
    assert_eq!(me.status, 200, "the account was not erased");
    let r = w
        .call("POST", "/privacy/gdpr", "", Some(json!({"type": "export"})))
        .await;
    assert_eq!(r.status, 401);
}

async fn the_export_holds_every_category_field_by_field(f: Fixture) {
    let w = world(f).await;
    let other = w.user().await;
    w.seed(&other).await;
    let u = w.user().await;
    let photo = w.seed(&u).await;
    // A stranger fails to sign in to the account from elsewhere, with a browser of its own.
    let stranger = request_from(
        Some(unique_loopback()),
        "POST",
        &format!("{}/auth/login", w.base),
        &[
            ("Content-Type", "application/json"),
            ("User-Agent", "StrangerBot/9.9 (identifying)"),
        ],
        json!({"email": u.email, "password": "not their password"})
            .to_string()
            .as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(stranger.status, 401);
    let r = w.ask(&u, "gdpr", json!({"type": "export"})).await;
    assert_eq!(r.status, 202, "{}", text(&r));
    let accepted = r.json();
    assert_eq!(accepted["status"], "completed", "{accepted}");
    let id = accepted["request_id"].as_str().unwrap();
    let status = w
        .call("GET", &format!("/privacy/requests/{id}"), &u.bearer, None)
        .await;
    assert_eq!(status.status, 200, "{}", text(&status));
    let status = status.json();
    let url = status["download_url"]
        .as_str()
        .expect("a download link")
        .to_string();
    let zip = request("GET", &url, &[], b"").await.unwrap();
    assert_eq!(zip.status, 200);
    let files = unzip(&zip.body);
    let names: BTreeSet<&str> = files.keys().map(String::as_str).collect();
    let data: Value = serde_json::from_slice(&files["data.json"]).unwrap();
    assert_eq!(data["schema"], "warden-export");
    assert_eq!(data["schema_version"], 1);
    assert_eq!(data["user_id"], u.id.as_str());
    for c in DATA_MAP {
        assert_eq!(
            data.get(c.name).is_some(),
            c.export.is_some(),
            "data.json section {}",
            c.name
        );
    }
    let p = &data["profile"];
    assert_eq!(p["email"], u.email.as_str());
    assert_eq!(p["display_name"], "Ada Lovelace");
    assert!(p["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(data["preferences"]["theme"], "dark");
    assert_eq!(data["privacy_settings"]["do_not_sell"], true);
    let activity = data["activity"].as_array().unwrap();
    assert_eq!(activity.len(), 1);
    assert_eq!(activity[0]["kind"], "sign_in");
    assert!(activity[0]["network"].as_str().unwrap().ends_with(".0/24"));
    assert_eq!(data["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(data["devices"].as_array().unwrap().len(), 1);
    assert_eq!(data["subscriptions"][0]["plan"], "pro-monthly");
    assert_eq!(data["subscriptions"][0]["status"], "active");
    let kinds: BTreeSet<&str> = data["privacy_requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, BTreeSet::from(["do_not_sell", "export"]));
    let events: Vec<&str> = data["security_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for e in [
        "user_registered",
        "login_succeeded",
        "privacy_request_received",
    ] {
        assert!(events.contains(&e), "{e} in {events:?}");
    }
    let login = data["security_events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "login_succeeded")
        .unwrap();
    assert!(login["ip"].as_str().unwrap().starts_with("127."));
    // The stranger's attempt is there, without the stranger: a /16, no address, agent or device.
    let attempt = data["security_events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "login_failed")
        .expect("the failed sign-in");
    let network = attempt["network"].as_str().unwrap_or_default();
    assert!(
        network.starts_with("127.") && network.ends_with(".0.0/16"),
        "{attempt}"
    );
    assert!(
        attempt.get("ip").is_none() && attempt.get("user_agent").is_none(),
        "{attempt}"
    );
    assert!(attempt["details"].get("device").is_none(), "{attempt}");
    assert!(!String::from_utf8_lossy(&files["data.json"]).contains("StrangerBot"));
    let photo_id = data["photos"][0]["photo_id"].as_str().unwrap();
    assert_eq!(files[&format!("photos/{photo_id}")], photo);
    assert_eq!(names.len(), 3, "{names:?}");
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(
        manifest["categories"].as_array().unwrap().len(),
        DATA_MAP.len()
    );
    for k in [
        "a_purposes",
        "c_recipients",
        "d_retention",
        "e_rights",
        "f_complaint",
        "g_source",
        "h_automated_decisions",
    ] {
        assert!(manifest["art_15_1"][k].is_string(), "{k}");
    }
    // Nothing secret and nothing of the other user.
    let raw = String::from_utf8_lossy(&files["data.json"]).to_string();
    for secret in [
        "$argon2",
        "password_hash",
        "wrapped",
        "refresh",
        other.email.as_str(),
        other.id.as_str(),
    ] {
        assert!(!raw.contains(secret), "data.json contains {secret}");
    }
    assert!(!raw.contains(u.bearer.trim_start_matches("Bearer ")));
    // The link is issued afresh per read and lives at most an hour.
    let expires = status["download_expires_at"].as_str().unwrap();
    assert!(expires > status["completed_at"].as_str().unwrap());
    // One completion event each: the opt-out and the export.
    assert_eq!(w.events(&u.id, "privacy_request_completed").await, 2);
    let again = w
        .call("GET", &format!("/privacy/requests/{id}"), &u.bearer, None)
        .await
        .json();
    assert!(again["download_url"].is_string());
}

async fn exports_and_erasures_need_a_fresh_sign_in_or_the_password(f: Fixture) {
    let w = world(f).await;
    let u = w.user().await;
    w.f.clock.advance(Duration::from_secs(6 * 60));
    let r = w.ask(&u, "gdpr", json!({"type": "export"})).await;
    assert_eq!(r.status, 401, "{}", text(&r));
    assert!(text(&r).contains("reauthentication-required"));
    let r = w
        .ask(
            &u,
            "ccpa",
            json!({"type": "access", "password": "not the password at all"}),
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(!text(&r).contains("reauthentication-required"));
    let r = w
        .ask(&u, "ccpa", json!({"type": "access", "password": PASSWORD}))
        .await;
    assert_eq!(r.status, 202, "{}", text(&r));
    // The opt-out needs no verification.
    let r = w.ask(&u, "ccpa", json!({"type": "do_not_sell"})).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(r.json()["status"], "completed");
}

async fn another_users_request_is_forbidden_and_recorded(f: Fixture) {
    let w = world(f).await;
    let a = w.user().await;
    let b = w.user().await;
    let r = w.ask(&a, "ccpa", json!({"type": "do_not_sell"})).await;
    let id = r.json()["request_id"].as_str().unwrap().to_string();
    let r = w
        .call("GET", &format!("/privacy/requests/{id}"), &b.bearer, None)
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(w.events(&b.id, "privacy_access_denied").await, 1);
    let r = w
        .call(
            "GET",
            &format!("/privacy/requests/{}", "0".repeat(32)),
            &a.bearer,
            None,
        )
        .await;
    assert_eq!(r.status, 404);
}

async fn concurrent_asks_open_one_request(f: Fixture) {
    let w = world(f).await;
    let u = w.user().await;
    let table = w.state.backends.table.clone();
    let now = w.state.backends.clock.now();
    let export = RequestType::parse(Regime::Gdpr, "export").unwrap();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (table, id) = (table.clone(), u.id.clone());
        set.spawn(async move {
            requests::submit(table.as_ref(), &id, export, now)
                .await
                .unwrap()
        });
    }
    let mut ids = BTreeSet::new();
    let mut created = 0;
    while let Some(r) = set.join_next().await {
        let (r, new) = r.unwrap();
        ids.insert(r.id);
        created += usize::from(new);
    }
    assert_eq!((ids.len(), created), (1, 1));
    // Over HTTP: concurrent deletes are one job with one completion event.
    let v = w.user().await;
    let mut set = tokio::task::JoinSet::new();
    let w = Arc::new(w);
    for _ in 0..6 {
        let (w, bearer) = (w.clone(), v.bearer.clone());
        set.spawn(async move {
            let u = User {
                id: String::new(),
                email: String::new(),
                bearer,
            };
            let r = w.ask(&u, "gdpr", json!({"type": "delete"})).await;
            (
                r.status,
                r.json()
                    .get("request_id")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            )
        });
    }
    let mut ids = BTreeSet::new();
    while let Some(r) = set.join_next().await {
        let (status, id) = r.unwrap();
        assert!(status == 202 || status == 401, "{status}");
        ids.extend(id);
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = ids.into_iter().next().unwrap();
    let r = requests::get(w.state.backends.table.as_ref(), &id)
        .await
        .unwrap()
        .unwrap();
    assert!(!r.is_open());
    assert_eq!(w.events(&v.id, "privacy_request_completed").await, 1);
    assert_eq!(w.events(&v.id, "privacy_request_received").await, 1);
}

/// Everything stored about `user`, by name: table items, claims, objects in both buckets.
async fn traces(w: &World, u: &User) -> Vec<String> {
    let table = w.f.backends.table.as_ref();
    let mut found = Vec::new();
    let items = warden_core::table::query_all(
        table,
        warden_core::table::Query::partition(format!("USER#{}", u.id)),
    )
    .await
    .unwrap();
    found.extend(
        items
            .iter()
            .map(|i| format!("item {}", i.s("sk").unwrap_or_default())),
    );
    let index = w.state.users().index(&u.email);
    if table
        .get(&warden_core::users::email_claim_key(&index))
        .await
        .unwrap()
        .is_some()
    {
        found.push("email claim".into());
    }
    for (name, blobs) in [
        ("photos", &w.f.backends.photos),
        ("exports", &w.f.backends.exports),
    ] {
        for prefix in [format!("users/{}/", u.id), format!("exports/{}/", u.id)] {
            let objects = warden_core::blobs::list_all(blobs.as_ref(), &prefix)
                .await
                .unwrap();
            found.extend(objects.iter().map(|o| format!("{name} object {}", o.key)));
            let unfinished = blobs.unfinished(&prefix).await.unwrap();
            found.extend(
                unfinished
                    .iter()
                    .map(|k| format!("{name} unfinished upload {k}")),
            );
        }
    }
    found
}

/// A backup restored after an erasure brings the user's items back, data key included (the KMS
/// key that unwraps it still exists). The restore procedure re-applies the erasure ledger
/// before the table serves traffic: afterwards nothing of the user is left, and the old
/// password signs nobody in.
async fn an_erasure_is_reapplied_from_the_ledger_after_a_restore(f: Fixture) {
    let w = world(f).await;
    let table = w.f.backends.table.clone();
    let u = w.user().await;
    w.seed(&u).await;
    // The backup: every item of the user's partition and the email claim, as a restore to
    // this moment brings them back.
    let mut backup = warden_core::table::query_all(
        table.as_ref(),
        warden_core::table::Query::partition(format!("USER#{}", u.id)),
    )
    .await
    .unwrap();
    let index = w.state.users().index(&u.email);
    backup.extend(
        table
            .get(&warden_core::users::email_claim_key(&index))
            .await
            .unwrap(),
    );
    assert!(backup.iter().any(|i| i.s("sk") == Some("DATAKEY")));

    let (erased, _) = erase(&w, &u, 0).await;
    assert_eq!(erased.state, requests::State::Completed);
    assert_eq!(traces(&w, &u).await, Vec::<String>::new());

    // The restore.
    for item in backup {
        table.put(item, None).await.unwrap();
    }
    assert!(
        !traces(&w, &u).await.is_empty(),
        "the restore brought the user back"
    );

    use warden_core::privacy::ledger;
    let meta = warden_core::audit::RequestMeta::default();
    if w.f.embedded.is_some() {
        // A store of its own: the whole procedure.
        let report = ledger::reapply(&w.state.privacy(), &meta).await.unwrap();
        assert_eq!(report.reapplied, vec![u.id.clone()], "{report:?}");
        assert!(report.pending.is_empty(), "{report:?}");
    } else {
        // The emulator's bucket holds the ledger of every test running at once (some mid-
        // erasure, with faults injected): re-apply this user's entry only.
        let listed = ledger::entries(w.state.backends.exports.as_ref())
            .await
            .unwrap();
        assert!(listed.contains(&u.id));
        let done = ledger::reapply_one(&w.state.privacy(), &u.id, &meta)
            .await
            .unwrap();
        assert_eq!(done, ledger::Reapplied::Erased);
    }
    assert_eq!(traces(&w, &u).await, Vec::<String>::new());
    assert!(w.state.users().get(&u.id).await.unwrap().is_none());
    let r = w
        .call(
            "POST",
            "/auth/login",
            "",
            Some(json!({"email": u.email, "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 401);
    // Applying it again finds nothing to do.
    assert_eq!(
        ledger::reapply_one(&w.state.privacy(), &u.id, &meta)
            .await
            .unwrap(),
        ledger::Reapplied::NothingLeft
    );
}

/// Finding 1 of the erasure issue: an export running when the erasure starts used to survive
/// it (a ZIP of the erased user's data, kept 7 days). Now the erasure cancels it, no export
/// can start after the fence, and the verification waits for the cancelled writer's lease and
/// then finds nothing, not even half an upload.
async fn an_export_running_when_the_erasure_starts_is_cancelled_and_leaves_nothing(f: Fixture) {
    let w = world(f).await;
    let u = w.user().await;
    let table = w.state.backends.table.as_ref();
    // A photo of more than one upload part, so the archive is mid-upload when it stops (S3: a
    // multipart upload with a part stored; the directory store: a temporary file).
    let photos = w.state.backends.photos.clone();
    let prefix = warden_core::photos::prefix(&u.id);
    let big = vec![0x5a; warden_core::blobs::PART_SIZE + 1024];
    for (name, body) in [("a.jpg", big), ("b.jpg", b"small".to_vec())] {
        photos
            .put(
                &format!("{prefix}{name}"),
                Box::new(std::io::Cursor::new(body)),
                "image/jpeg",
            )
            .await
            .unwrap();
    }
    // The export stops at the second photo, with the first already in the archive.
    let gate = w.probe.hold_next_open(&format!("{prefix}b.jpg"));
    let export = tokio::spawn({
        let (base, ip, bearer) = (w.base.clone(), w.ip, u.bearer.clone());
        async move {
            let h = [
                ("User-Agent", "Firefox/140 privacy-test"),
                ("Authorization", bearer.as_str()),
                ("Content-Type", "application/json"),
            ];
            let body = json!({"type": "export"}).to_string();
            request_from(
                Some(ip),
                "POST",
                &format!("{base}/privacy/gdpr"),
                &h,
                body.as_bytes(),
            )
            .await
            .unwrap()
        }
    });
    tokio::time::timeout(Duration::from_secs(60), gate.reached())
        .await
        .expect("the export reaches the second photo");

    let asked = w.ask(&u, "gdpr", json!({"type": "delete"})).await;
    assert_eq!(asked.status, 202, "{}", text(&asked));
    assert_eq!(
        asked.json()["status"],
        "in_progress",
        "it waits for the cancelled export to stop: {}",
        text(&asked)
    );
    // Past the fence no export starts (the user's token is dead by now: ask the domain).
    let again = requests::submit(
        table,
        &u.id,
        RequestType::parse(Regime::Gdpr, "export").unwrap(),
        w.state.backends.clock.now(),
    )
    .await;
    assert!(
        matches!(again, Err(warden_core::Error::Conflict(_))),
        "{again:?}"
    );

    // The export goes on from where it stopped, and ends cancelled with nothing kept.
    gate.release();
    let exported = tokio::time::timeout(Duration::from_secs(120), export)
        .await
        .expect("the export ends")
        .unwrap();
    assert_eq!(exported.status, 202, "{}", text(&exported));
    assert_eq!(
        exported.json()["status"],
        "cancelled",
        "{}",
        text(&exported)
    );
    assert!(exported.json().get("download_url").is_none());
    let export_id = exported.json()["request_id"].as_str().unwrap().to_string();

    // The erasure completes once the cancelled worker's lease (and the margin) has passed.
    w.f.clock.advance(
        requests::LEASE + warden_core::privacy::erasure::SETTLE_MARGIN + Duration::from_secs(1),
    );
    let report = warden_security_scan::handle(&w.state, Value::Null)
        .await
        .unwrap();
    assert!(report.privacy.completed >= 1, "{:?}", report.privacy);
    let id = asked.json()["request_id"].as_str().unwrap().to_string();
    let done = requests::get(table, &id).await.unwrap().unwrap();
    assert_eq!(done.state, requests::State::Completed, "{:?}", done.step);
    assert_eq!(traces(&w, &u).await, Vec::<String>::new());
    let cancelled = requests::get(table, &export_id).await.unwrap().unwrap();
    assert_eq!(cancelled.state, requests::State::Cancelled);
    assert_eq!(
        cancelled.history.last().map(|h| h.note.as_str()),
        Some("cancelled: the account is being erased")
    );
    assert_eq!(w.events(&u.id, "privacy_request_cancelled").await, 1);
}

/// Runs one erasure with the `fail_at`-th call failing (none when 0), then runs it again as a
/// retry does (the same `process` the user's repeated ask and the schedule call); returns the
/// request and whether the fault interrupted the first run.
async fn erase(w: &World, u: &User, fail_at: u64) -> (requests::PrivacyRequest, bool) {
    let table = w.state.backends.table.as_ref();
    // The seeded upload link has expired (an erasure waits for live ones: see
    // `an_upload_link_issued_before_an_erasure_cannot_outlive_it`).
    w.f.clock
        .advance(warden_core::photos::LINK_TTL + Duration::from_secs(1));
    let rtype = RequestType::parse(Regime::Gdpr, "delete").unwrap();
    let (r, _) = requests::submit(table, &u.id, rtype, w.state.backends.clock.now())
        .await
        .unwrap();
    let meta = warden_core::audit::RequestMeta::default();
    if fail_at > 0 {
        w.probe.fail_call(fail_at);
    }
    let first = warden_core::privacy::process(&w.state.privacy(), &r.id, &meta).await;
    let fired = fail_at > 0 && w.probe.fault_fired();
    w.probe.disarm();
    if first.is_err() {
        let stuck = requests::get(table, &r.id).await.unwrap().unwrap();
        assert!(stuck.is_open(), "a failed run leaves the request open");
        assert!(
            stuck.lease_until.is_none(),
            "a failed run releases its lease"
        );
        warden_core::privacy::process(&w.state.privacy(), &r.id, &meta)
            .await
            .unwrap();
    }
    (
        requests::get(table, &r.id).await.unwrap().unwrap(),
        fired && first.is_err(),
    )
}

/// Fails every call of the erasure in turn (`every_call`), or the first call of each step and
/// the step's own progress write (the emulator is slower: a full sweep there takes minutes),
/// and checks that a retry ends exactly where an uninterrupted run does.
async fn erasure_faults_resume_to_the_same_end(f: Fixture, every_call: bool) {
    let w = world(f).await;
    // The uninterrupted run, for comparison; it also shows where each step starts (the
    // request's progress write before each step).
    let u = w.user().await;
    w.seed(&u).await;
    w.probe.record_writes();
    let before = w.probe.calls();
    let (clean, _) = erase(&w, &u, 0).await;
    let step_starts: BTreeSet<u64> = w
        .probe
        .take_writes()
        .into_iter()
        .filter(|(_, pk)| pk.starts_with("PRIVREQ#"))
        .flat_map(|(n, _)| [n - before, n - before + 1])
        .collect();
    assert!(step_starts.len() >= 18, "{step_starts:?}");
    assert!(!clean.is_open());
    assert_eq!(traces(&w, &u).await, Vec::<String>::new());
    let shape = |r: &requests::PrivacyRequest| {
        (
            r.history.iter().map(|h| h.state).collect::<Vec<_>>(),
            r.progress.get("receipt").map(|v| v["erased"].clone()),
            r.progress.contains_key("email_index"),
        )
    };
    let mut faulted = 0;
    for fail_at in 1.. {
        if !every_call && !step_starts.contains(&fail_at) && fail_at <= *step_starts.last().unwrap()
        {
            continue;
        }
        let u = w.user().await;
        w.seed(&u).await;
        let (done, failed) = erase(&w, &u, fail_at).await;
        assert!(!done.is_open(), "fault at call {fail_at}: {:?}", done.step);
        assert_eq!(shape(&done), shape(&clean), "fault at call {fail_at}");
        assert_eq!(
            traces(&w, &u).await,
            Vec::<String>::new(),
            "fault at call {fail_at}"
        );
        assert_eq!(
            w.completions(&u.id, &done.id).await,
            1,
            "fault at call {fail_at}"
        );
        // Signed-in data is unreadable: the key is gone.
        assert!(w.state.users().get(&u.id).await.unwrap().is_none());
        if !failed {
            break; // the fault fell after the erasure's last call
        }
        faulted += 1;
    }
    assert!(
        faulted >= 15,
        "only {faulted} faults interrupted the erasure"
    );
    // Signing in after the erasure is a plain unknown email.
    let r = w
        .call(
            "POST",
            "/auth/login",
            "",
            Some(json!({"email": u.email, "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 401);
}

async fn an_erasure_fails_at_every_call_and_resumes_to_the_same_end(f: Fixture) {
    erasure_faults_resume_to_the_same_end(f, true).await;
}

async fn an_erasure_fails_at_every_step_and_resumes_to_the_same_end(f: Fixture) {
    erasure_faults_resume_to_the_same_end(f, false).await;
}

/// A photo's size is declared and bounded before any link exists: over
/// `WARDEN_PHOTO_MAX_BYTES` (or zero) is a 400 naming `content_length`.
async fn a_photo_upload_over_the_limit_gets_no_link(f: Fixture) {
    let w = world(f).await;
    let u = w.user().await;
    let max = w.state.config.photo_max_bytes;
    for length in [0, max + 1, 1 << 40] {
        let r = w
            .call(
                "POST",
                "/me/photos",
                &u.bearer,
                Some(json!({"content_type": "image/png", "content_length": length})),
            )
            .await;
        assert_eq!(r.status, 400, "{length}: {}", text(&r));
        assert_eq!(r.json()["invalid_params"][0]["name"], "content_length");
    }
    let ok = w
        .call(
            "POST",
            "/me/photos",
            &u.bearer,
            Some(json!({"content_type": "image/png", "content_length": max})),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", text(&ok));
}

/// An upload link issued before the erasure, used after it began, leaves nothing behind: the
/// erasure refuses new links at once, waits for the old ones to expire, then purges and
/// verifies; the schedule finishes it.
async fn an_upload_link_issued_before_an_erasure_cannot_outlive_it(f: Fixture) {
    let w = world(f).await;
    let u = w.user().await;
    let r = w
        .call(
            "POST",
            "/me/photos",
            &u.bearer,
            Some(json!({"content_type": "image/png", "content_length": 10})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", text(&r));
    let link = r.json()["upload_url"].as_str().unwrap().to_string();

    let asked = w.ask(&u, "gdpr", json!({"type": "delete"})).await;
    assert_eq!(asked.status, 202, "{}", text(&asked));
    assert_eq!(
        asked.json()["status"],
        "in_progress",
        "it waits for the link"
    );
    // No new link once the erasure has begun.
    let refused = warden_core::photos::new_upload(
        w.state.backends.table.as_ref(),
        w.state.backends.photos.as_ref(),
        &u.id,
        &serde_json::from_value(json!({"content_type": "image/png", "content_length": 10}))
            .unwrap(),
        w.state.config.photo_max_bytes,
        w.state.backends.clock.now(),
    )
    .await;
    assert!(refused.is_err(), "{refused:?}");
    // The old link still works for a while: an object lands under the erased user's prefix.
    let late = request(
        "PUT",
        &link,
        &[("Content-Type", "image/png")],
        b"late photo",
    )
    .await
    .unwrap();
    assert_eq!(late.status, 200, "{}", text(&late));

    w.f.clock
        .advance(warden_core::photos::LINK_TTL + Duration::from_secs(1));
    let report = warden_security_scan::handle(&w.state, Value::Null)
        .await
        .unwrap();
    assert!(report.privacy.completed >= 1, "{:?}", report.privacy);
    let id = asked.json()["request_id"].as_str().unwrap().to_string();
    let done = requests::get(w.state.backends.table.as_ref(), &id)
        .await
        .unwrap()
        .unwrap();
    assert!(!done.is_open(), "{:?}", done.step);
    assert_eq!(traces(&w, &u).await, Vec::<String>::new());
}

async fn an_interrupted_erasure_is_finished_by_the_schedule(f: Fixture) {
    let w = world(f).await;
    let u = w.user().await;
    w.seed(&u).await;
    // The seeded upload link has expired (an erasure waits for live ones).
    w.f.clock
        .advance(warden_core::photos::LINK_TTL + Duration::from_secs(1));
    let table = w.state.backends.table.as_ref();
    let rtype = RequestType::parse(Regime::Ccpa, "delete").unwrap();
    let (r, _) = requests::submit(table, &u.id, rtype, w.state.backends.clock.now())
        .await
        .unwrap();
    // Fail a call in the middle (after prepare and revoke have run).
    w.probe.fail_call(12);
    let meta = warden_core::audit::RequestMeta::default();
    assert!(
        warden_core::privacy::process(&w.state.privacy(), &r.id, &meta)
            .await
            .is_err()
    );
    w.probe.disarm();
    let stuck = requests::get(table, &r.id).await.unwrap().unwrap();
    assert_eq!(stuck.state, requests::State::InProgress);
    assert!(stuck.step.is_some());
    let report = warden_security_scan::handle(&w.state, Value::Null)
        .await
        .unwrap();
    assert!(report.privacy.completed >= 1, "{:?}", report.privacy);
    let done = requests::get(table, &r.id).await.unwrap().unwrap();
    assert!(!done.is_open(), "{:?}", done.step);
    assert_eq!(traces(&w, &u).await, Vec::<String>::new());
}

async fn global_privacy_control_opts_out_once(f: Fixture) {
    let w = Arc::new(world(f).await);
    let u = w.user().await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let (w, bearer) = (w.clone(), u.bearer.clone());
        set.spawn(async move {
            let url = format!("{}/me", w.base);
            request_from(
                Some(w.ip),
                "GET",
                &url,
                &[("Authorization", &bearer), ("Sec-GPC", "1")],
                b"",
            )
            .await
            .unwrap()
            .status
        });
    }
    while let Some(s) = set.join_next().await {
        assert_eq!(s.unwrap(), 200);
    }
    let me = w.call("GET", "/me", &u.bearer, None).await.json();
    assert_eq!(me["privacy"]["do_not_sell"], true);
    assert_eq!(me["privacy"]["source"], "global_privacy_control");
    assert_eq!(w.events(&u.id, "opt_out_recorded").await, 1);
    // A request record like any other (CCPA regulations § 7101), answered at once.
    let table = w.state.backends.table.as_ref();
    let filter =
        warden_core::privacy::operations::Filter::parse(None, Some("do_not_sell"), None, false)
            .unwrap();
    let now = w.state.backends.clock.now();
    let records: Vec<_> = warden_core::privacy::operations::list(table, &filter, now)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.user_id == u.id)
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].request.status, requests::State::Completed);
    assert_eq!(
        records[0].request.history[0].note,
        "Global Privacy Control signal received"
    );
}

warden_tests::on_both_backends!(
    embedded = warden_tests::fixtures::embedded_linked().await;
    an_erasure_is_reapplied_from_the_ledger_after_a_restore,
    an_export_running_when_the_erasure_starts_is_cancelled_and_leaves_nothing,
    an_upload_link_issued_before_an_erasure_cannot_outlive_it,
    a_photo_upload_over_the_limit_gets_no_link,
    profile_preferences_and_photos_round_trip,
    unknown_request_types_are_refused_naming_the_type,
    the_export_holds_every_category_field_by_field,
    exports_and_erasures_need_a_fresh_sign_in_or_the_password,
    another_users_request_is_forbidden_and_recorded,
    concurrent_asks_open_one_request,
    an_erasure_fails_at_every_step_and_resumes_to_the_same_end,
    an_interrupted_erasure_is_finished_by_the_schedule,
    global_privacy_control_opts_out_once,
    a_100_mib_export_holds_every_photo_byte_for_byte,
    an_export_longer_than_the_request_budget_is_finished_by_the_schedule,
);

/// The embedded store can fail at every single call (the AWS adapters are covered by the
/// step-level failures above).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_erasure_fails_at_every_call_and_resumes_to_the_same_end_embedded() {
    an_erasure_fails_at_every_call_and_resumes_to_the_same_end(
        warden_tests::fixtures::embedded_linked().await,
    )
    .await;
}

/// The data map is complete: every kind of table item the flows write — registration, sign-ins
/// right and wrong, a lock, the monitor's alert and block, profile, preferences, photos,
/// subscriptions, an export, an erasure — is named by `data_map::STORED`, and the kinds this
/// issue added to the map (alerts, billing events, request claims) are among those written.
/// Alerts and devices expire; preferences are stored encrypted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_item_kind_written_is_named_by_the_data_map() {
    use warden_core::privacy::data_map::stored_kind;
    use warden_core::table::schema::TTL;
    let w = world(warden_tests::fixtures::embedded_linked().await).await;
    let table = w.f.backends.table.clone();
    let u = w.user().await;
    w.seed(&u).await;
    // A second factor with its recovery codes, and a sign-in's second step left pending.
    let begun = w.call("POST", "/me/mfa/totp", &u.bearer, None).await.json();
    let now = warden_core::clock::Clock::now(w.f.clock.as_ref()).secs();
    let code = warden_tests::totp::code(begun["secret"].as_str().unwrap(), now);
    let r = w
        .call(
            "POST",
            "/me/mfa/totp/confirm",
            &u.bearer,
            Some(json!({ "code": code })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let creds = json!({"email": u.email, "password": PASSWORD});
    let r = w.call("POST", "/auth/login", "", Some(creds.clone())).await;
    assert_eq!(r.json()["mfa_required"], true, "{}", text(&r));
    // With a factor, the export and the erasure need a sign-in that used it.
    w.f.clock.advance(Duration::from_secs(30));
    let challenge = w.call("POST", "/auth/login", "", Some(creds)).await.json();
    let now = warden_core::clock::Clock::now(w.f.clock.as_ref()).secs();
    let code = warden_tests::totp::code(begun["secret"].as_str().unwrap(), now);
    let r = w
        .call(
            "POST",
            "/auth/mfa/totp",
            "",
            Some(json!({"mfa_token": challenge["mfa_token"], "code": code})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let u = User {
        bearer: r.bearer(),
        ..u
    };
    let wrong = json!({"email": u.email, "password": "not the password at all"});
    for _ in 0..6 {
        w.call("POST", "/auth/login", "", Some(wrong.clone())).await;
    }
    // Credential stuffing from another address: an alert and a block of that address.
    let stuffer = unique_loopback();
    for i in 0..22 {
        let body = json!({"email": format!("{}-{i}@example.com", unique("stuffed")), "password": "guess guess guess"});
        let r = request_from(
            Some(stuffer),
            "POST",
            &format!("{}/auth/login", w.base),
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 401, "{}", text(&r));
    }
    let scan = warden_security_scan::handle(&w.state, Value::Null)
        .await
        .unwrap();
    assert!(!scan.alerts.is_empty(), "{:?}", scan.alerts);

    // Preferences are sealed under the user's key; devices expire.
    let prefs = table
        .get(&warden_core::profile::preferences_key(&u.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(prefs.s("preferences"), None, "no clear copy");
    let sealed = prefs.b("sealed_preferences").expect("sealed preferences");
    assert!(!sealed.windows(4).any(|x| x == b"dark"));
    // As stored: every device item carries the table's TTL.
    let devices = warden_core::table::query_all(
        table.as_ref(),
        warden_core::table::Query::partition(warden_core::table::schema::user_partition(&u.id))
            .sort(warden_core::table::SortKey::BeginsWith("DEVICE#".into())),
    )
    .await
    .unwrap();
    assert!(!devices.is_empty());
    assert!(devices.iter().all(|d| d.n(TTL).is_some()), "devices expire");

    let r = w.ask(&u, "gdpr", json!({"type": "export"})).await;
    assert_eq!(r.status, 202, "{}", text(&r));
    let r = w.ask(&u, "gdpr", json!({"type": "delete"})).await;
    assert_eq!(r.status, 202, "{}", text(&r));
    let id = r.json()["request_id"].as_str().unwrap().to_string();
    w.f.clock
        .advance(warden_core::photos::LINK_TTL + Duration::from_secs(1));
    warden_security_scan::handle(&w.state, Value::Null)
        .await
        .unwrap();

    let written = w.probe.written_keys();
    let unnamed: Vec<&(String, String)> = written
        .iter()
        .filter(|(pk, sk)| stored_kind(pk, sk).is_none())
        .collect();
    assert!(
        unnamed.is_empty(),
        "item kinds the data map does not name: {unnamed:?}"
    );
    let kinds: BTreeSet<(&str, &str)> = written
        .iter()
        .filter_map(|(pk, sk)| stored_kind(pk, sk))
        .map(|k| (k.pk, k.sk))
        .collect();
    for expected in [
        ("USER#", "SESSION#"),
        ("USER#", "DEVICE#"),
        ("USER#", "PREFERENCES"),
        ("ALERT#", "ALERT"),
        ("BILLING#", "*"),
        ("PRIVOPEN#", "OPEN"),
        ("LOGINIP#", "BLOCK"),
    ] {
        assert!(
            kinds.contains(&expected),
            "{expected:?} not written: {kinds:?}"
        );
    }
    for (pk, sk) in written.iter().filter(|(pk, _)| pk.starts_with("ALERT#")) {
        let alert = table
            .get(&warden_core::table::Key::new(pk.as_str(), sk.as_str()))
            .await
            .unwrap()
            .unwrap();
        assert!(alert.n(TTL).is_some(), "alerts expire");
    }

    // The erasure's receipt, in the request view: erased and kept, each kept one with its basis.
    let done = requests::get(table.as_ref(), &id).await.unwrap().unwrap();
    let receipt = done.view().receipt.expect("a receipt");
    let erased: Vec<&str> = receipt["erased"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(erased.contains(&"profile") && erased.contains(&"data_key"));
    assert!(!erased.contains(&"security_events"), "{erased:?}");
    let kept = receipt["kept"].as_array().unwrap();
    for name in ["security_events", "privacy_requests", "security_alerts"] {
        let entry = kept
            .iter()
            .find(|k| k["category"] == name)
            .unwrap_or_else(|| panic!("{name} kept: {receipt}"));
        assert!(!entry["basis"].as_str().unwrap().is_empty());
    }
}

/// The embedded store expires exports as the bucket's lifecycle rule does: gone from listings,
/// reads and download links after `export::RETENTION`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_exports_expire_like_the_buckets() {
    let f = warden_tests::fixtures::embedded_linked().await;
    let exports = f.backends.exports.clone();
    let key = format!("exports/{}/r.zip", unique("u"));
    exports
        .put(
            &key,
            Box::new(std::io::Cursor::new(b"zip".to_vec())),
            "application/zip",
        )
        .await
        .unwrap();
    let prefix = key.rsplit_once('/').unwrap().0.to_string() + "/";
    f.clock
        .advance(warden_core::privacy::export::RETENTION - Duration::from_secs(60));
    assert!(
        exports.get(&key).await.unwrap().is_some(),
        "kept until then"
    );
    f.clock.advance(Duration::from_secs(61));
    assert!(exports.get(&key).await.unwrap().is_none());
    assert!(exports.open(&key).await.unwrap().is_none());
    assert!(
        warden_core::blobs::list_all(exports.as_ref(), &prefix)
            .await
            .unwrap()
            .is_empty()
    );
    // Photos have no lifecycle rule.
    let photo = format!("{}/p.jpg", unique("users/"));
    f.backends
        .photos
        .put(
            &photo,
            Box::new(std::io::Cursor::new(b"p".to_vec())),
            "image/jpeg",
        )
        .await
        .unwrap();
    f.clock.advance(warden_core::privacy::export::RETENTION * 2);
    assert!(f.backends.photos.get(&photo).await.unwrap().is_some());
}
