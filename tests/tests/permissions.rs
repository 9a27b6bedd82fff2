//! Every function's IAM statements in `template.yaml` cover what its code does: each function's
//! flows (and its cold start, on an empty and on a used store) run over `Table` and `Keys`
//! wrappers that record the AWS actions they map to, and the recorded set must be within the
//! actions `template.yaml` grants that function. moto does not enforce IAM, so this is the test
//! that catches a missing permission before a deployment does. Blob calls are recorded as the S3
//! actions they need (a presigned link needs the action of the request it signs); the check is
//! per action, not per bucket and prefix (those are read in the template's comments).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use std::time::Duration;
use warden_core::backends::Backends;
use warden_core::keys::{DataKey, EncryptionContext, Keys};
use warden_core::secret::SecretBytes;
use warden_core::services::{AppState, Services};

use warden_core::blobs::{BlobPage, BlobReader, Blobs};
use warden_core::table::{Condition, Item, Key, Page, Query, Table, TxOp, Update};
use warden_tests::fixtures::{Fixture, embedded, test_config};
use warden_tests::in_process::{bearer, json, refresh_cookie, send};

type Actions = Arc<Mutex<BTreeSet<String>>>;

struct RecordingTable(Arc<dyn Table>, Actions);
struct RecordingKeys(Arc<dyn Keys>, Actions);
struct RecordingBlobs(Arc<dyn Blobs>, Actions);

impl RecordingBlobs {
    fn note(&self, actions: &[&str]) {
        let mut set = self.1.lock().unwrap();
        for a in actions {
            set.insert(format!("s3:{a}"));
        }
    }
}

#[async_trait]
impl Blobs for RecordingBlobs {
    async fn put(&self, key: &str, body: BlobReader, ct: &str) -> warden_core::Result<u64> {
        // Multipart uploads are aborted on failure.
        self.note(&["PutObject", "AbortMultipartUpload"]);
        self.0.put(key, body, ct).await
    }
    async fn get(&self, key: &str) -> warden_core::Result<Option<bytes::Bytes>> {
        self.note(&["GetObject"]);
        self.0.get(key).await
    }
    async fn open(&self, key: &str) -> warden_core::Result<Option<BlobReader>> {
        self.note(&["GetObject"]);
        self.0.open(key).await
    }
    async fn list(&self, prefix: &str, cursor: Option<String>) -> warden_core::Result<BlobPage> {
        self.note(&["ListBucket"]);
        self.0.list(prefix, cursor).await
    }
    async fn delete_many(&self, keys: &[String]) -> warden_core::Result<()> {
        self.note(&["DeleteObject"]);
        self.0.delete_many(keys).await
    }
    async fn presign_get(&self, key: &str, ttl: Duration) -> warden_core::Result<String> {
        self.note(&["GetObject"]);
        self.0.presign_get(key, ttl).await
    }
    async fn presign_put(
        &self,
        key: &str,
        ttl: Duration,
        ct: &str,
        length: u64,
    ) -> warden_core::Result<String> {
        self.note(&["PutObject"]);
        self.0.presign_put(key, ttl, ct, length).await
    }
    async fn purge_prefix(&self, prefix: &str) -> warden_core::Result<u64> {
        self.note(&[
            "ListBucketMultipartUploads",
            "AbortMultipartUpload",
            "ListBucketVersions",
            "DeleteObject",
            "DeleteObjectVersion",
        ]);
        self.0.purge_prefix(prefix).await
    }
    async fn unfinished(&self, prefix: &str) -> warden_core::Result<Vec<String>> {
        self.note(&["ListBucketMultipartUploads"]);
        self.0.unfinished(prefix).await
    }
}

impl RecordingTable {
    fn note(&self, a: &str) {
        self.1.lock().unwrap().insert(format!("dynamodb:{a}"));
    }
}

#[async_trait]
impl Table for RecordingTable {
    async fn get(&self, k: &Key) -> warden_core::Result<Option<Item>> {
        self.note("GetItem");
        self.0.get(k).await
    }
    async fn put(&self, i: Item, c: Option<Condition>) -> warden_core::Result<()> {
        self.note("PutItem");
        self.0.put(i, c).await
    }
    async fn update(&self, k: &Key, u: Update) -> warden_core::Result<Item> {
        self.note("UpdateItem");
        self.0.update(k, u).await
    }
    async fn delete(&self, k: &Key, c: Option<Condition>) -> warden_core::Result<()> {
        self.note("DeleteItem");
        self.0.delete(k, c).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> warden_core::Result<()> {
        for op in &ops {
            self.note(match op {
                TxOp::Put { .. } => "PutItem",
                TxOp::Update { .. } => "UpdateItem",
                TxOp::Delete { .. } => "DeleteItem",
                TxOp::Check { .. } => "ConditionCheckItem",
            });
        }
        self.0.transact(ops).await
    }
    async fn query(&self, q: Query) -> warden_core::Result<Page> {
        self.note(if q.index.is_some() {
            "Query(index)"
        } else {
            "Query"
        });
        self.0.query(q).await
    }
}

#[async_trait]
impl Keys for RecordingKeys {
    async fn generate_data_key(&self, c: &EncryptionContext) -> warden_core::Result<DataKey> {
        self.1.lock().unwrap().insert("kms:GenerateDataKey".into());
        self.0.generate_data_key(c).await
    }
    async fn decrypt_data_key(
        &self,
        w: &[u8],
        c: &EncryptionContext,
    ) -> warden_core::Result<SecretBytes> {
        self.1.lock().unwrap().insert("kms:Decrypt".into());
        self.0.decrypt_data_key(w, c).await
    }
}

/// The actions `template.yaml` grants `<name>Function` (`Query(index)` when it names the index).
fn granted(name: &str) -> BTreeSet<String> {
    let template =
        std::fs::read_to_string(warden_tests::lambda_events::events_dir().join("../template.yaml"))
            .unwrap();
    let start = template
        .find(&format!("\n  {name}Function:\n"))
        .unwrap_or_else(|| panic!("{name}Function in template.yaml"));
    let block = &template[start + 1..];
    // The block ends where the next resource starts: a line with two spaces and a letter.
    let end = block
        .match_indices("\n  ")
        .map(|(i, _)| i + 1)
        .find(|&i| {
            i > 0
                && block
                    .as_bytes()
                    .get(i + 2)
                    .is_some_and(u8::is_ascii_alphabetic)
        })
        .unwrap_or(block.len());
    let block = &block[..end];
    let mut set: BTreeSet<String> = block
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .filter(|a| a.starts_with("dynamodb:") || a.starts_with("kms:") || a.starts_with("s3:"))
        .map(str::to_string)
        .collect();
    if block.contains("/index/*") {
        set.insert("dynamodb:Query(index)".into());
    }
    set
}

async fn recorded(f: &Fixture, actions: &Actions) -> AppState {
    let backends = Backends {
        table: Arc::new(RecordingTable(f.backends.table.clone(), actions.clone())),
        keys: Arc::new(RecordingKeys(f.backends.keys.clone(), actions.clone())),
        photos: Arc::new(RecordingBlobs(f.backends.photos.clone(), actions.clone())),
        exports: Arc::new(RecordingBlobs(f.backends.exports.clone(), actions.clone())),
        ..f.backends.clone()
    };
    Services::new(test_config(), backends).await.unwrap()
}

const JSON: (&str, &str) = ("content-type", "application/json");
const CREDS: &str = r#"{"email":"iam@example.com","password":"marmalade kiln wobbles at dusk"}"#;
const WRONG: &str = r#"{"email":"iam@example.com","password":"wrong wrong wrong"}"#;

/// A store where an account exists, with a session (and `failures` wrong-password logins);
/// returns the refresh cookie and the bearer token of that session.
async fn used_store(failures: usize) -> (Fixture, String, String) {
    let f = embedded();
    let setup = Services::new(test_config(), f.backends.clone())
        .await
        .unwrap();
    let router = warden_local::router(setup, None, warden_tests::fixtures::operator());
    send(&router, "POST", "/auth/register", &[JSON], CREDS).await;
    let login = send(&router, "POST", "/auth/login", &[JSON], CREDS).await;
    let cookie = refresh_cookie(&login);
    let token = bearer(login).await;
    for _ in 0..failures {
        send(&router, "POST", "/auth/login", &[JSON], WRONG).await;
    }
    (f, cookie, token)
}

/// Runs `flow` with a recorded cold start on an empty store and on a used one; returns the union.
async fn exercise(name: &str, routes: fn() -> axum::Router<AppState>) -> BTreeSet<String> {
    let actions: Actions = Default::default();
    // Cold start on an empty store: creates the server secret and the first signing key.
    let empty = embedded();
    recorded(&empty, &actions).await;
    // A used store: an account exists, with a session.
    let (f, cookie, bearer) = used_store(0).await;
    let s = recorded(&f, &actions).await;
    let r = warden_http::app(routes(), s.clone());
    match name {
        "Register" => {
            send(
                &r,
                "POST",
                "/auth/register",
                &[JSON],
                r#"{"email":"new@example.com","password":"marmalade kiln wobbles at dusk"}"#,
            )
            .await;
        }
        "Login" => {
            send(&r, "POST", "/auth/login", &[JSON], CREDS).await;
            for _ in 0..6 {
                send(&r, "POST", "/auth/login", &[JSON], WRONG).await;
            }
        }
        "Refresh" => {
            let next = refresh_cookie(
                &send(&r, "POST", "/auth/refresh", &[("cookie", &cookie)], "").await,
            );
            send(&r, "POST", "/auth/logout", &[("cookie", &next)], "").await;
        }
        "Account" => {
            send(&r, "GET", "/me", &[("authorization", &bearer)], "").await;
            send(&r, "GET", "/me/sessions", &[("authorization", &bearer)], "").await;
            let auth = ("authorization", bearer.as_str());
            send(
                &r,
                "PATCH",
                "/me",
                &[JSON, auth],
                r#"{"display_name":"Ada"}"#,
            )
            .await;
            send(
                &r,
                "PUT",
                "/me/preferences",
                &[JSON, auth],
                r#"{"theme":"dark"}"#,
            )
            .await;
            send(&r, "GET", "/me/preferences", &[auth], "").await;
            send(
                &r,
                "POST",
                "/me/photos",
                &[JSON, auth],
                r#"{"content_type":"image/png"}"#,
            )
            .await;
            send(&r, "GET", "/me/photos", &[auth], "").await;
            // Global Privacy Control on any authenticated request records the opt-out.
            send(&r, "GET", "/me", &[auth, ("sec-gpc", "1")], "").await;
            send(
                &r,
                "DELETE",
                "/me/sessions/0123456789abcdef0123456789abcdef",
                &[("authorization", &bearer)],
                "",
            )
            .await;
            send(&r, "POST", "/auth/password", &[JSON, ("authorization", &bearer)],
                 r#"{"current_password":"marmalade kiln wobbles at dusk","new_password":"quince lantern orbits the fjord"}"#).await;
        }
        "Gdpr" => {
            let auth = ("authorization", bearer.as_str());
            let export = send(
                &r,
                "POST",
                "/privacy/gdpr",
                &[JSON, auth],
                r#"{"type":"export"}"#,
            )
            .await;
            let id = json(export).await["request_id"]
                .as_str()
                .unwrap()
                .to_string();
            send(&r, "GET", &format!("/privacy/requests/{id}"), &[auth], "").await;
            send(
                &r,
                "POST",
                "/privacy/gdpr",
                &[JSON, auth],
                r#"{"type":"delete"}"#,
            )
            .await;
        }
        "Ccpa" => {
            let auth = ("authorization", bearer.as_str());
            send(
                &r,
                "POST",
                "/privacy/ccpa",
                &[JSON, auth],
                r#"{"type":"do_not_sell"}"#,
            )
            .await;
            send(
                &r,
                "POST",
                "/privacy/ccpa",
                &[JSON, auth],
                r#"{"type":"access"}"#,
            )
            .await;
            send(
                &r,
                "POST",
                "/privacy/ccpa",
                &[JSON, auth],
                r#"{"type":"delete"}"#,
            )
            .await;
        }
        "Jwks" => {
            send(&r, "GET", "/.well-known/jwks.json", &[], "").await;
            f.clock
                .advance(warden_core::tokens::signing_keys::ROTATION_PERIOD);
            send(&r, "GET", "/.well-known/jwks.json", &[], "").await;
        }
        _ => unreachable!(),
    }
    actions.lock().unwrap().clone()
}

macro_rules! function_case {
    ($test:ident, $name:literal, $routes:path) => {
        #[tokio::test]
        async fn $test() {
            let used = exercise($name, $routes).await;
            let granted = granted($name);
            let missing: Vec<&String> = used.difference(&granted).collect();
            assert!(
                missing.is_empty(),
                "{}Function uses {missing:?}, which template.yaml does not grant",
                $name
            );
        }
    };
}

function_case!(
    register_function_has_the_permissions_it_uses,
    "Register",
    warden_register::routes
);
function_case!(
    login_function_has_the_permissions_it_uses,
    "Login",
    warden_login::routes
);
function_case!(
    refresh_function_has_the_permissions_it_uses,
    "Refresh",
    warden_refresh::routes
);
function_case!(
    account_function_has_the_permissions_it_uses,
    "Account",
    warden_account::routes
);
function_case!(
    gdpr_function_has_the_permissions_it_uses,
    "Gdpr",
    warden_gdpr::routes
);
function_case!(
    ccpa_function_has_the_permissions_it_uses,
    "Ccpa",
    warden_ccpa::routes
);
function_case!(
    jwks_function_has_the_permissions_it_uses,
    "Jwks",
    warden_jwks::routes
);

#[tokio::test]
async fn security_scan_function_has_the_permissions_it_uses() {
    let actions: Actions = Default::default();
    let (f, _, bearer) = used_store(12).await;
    let s = recorded(&f, &actions).await;
    // A stalled erasure (accepted, never run) for the scheduled run to resume, for the user of
    // the token (whose sessions the lockout has ended: read the id from the token itself).
    use base64::Engine;
    let payload = bearer.split('.').nth(1).unwrap();
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let me: serde_json::Value = serde_json::from_slice(&claims).unwrap();
    let delete = warden_core::privacy::requests::RequestType::parse(
        warden_core::privacy::requests::Regime::Gdpr,
        "delete",
    )
    .unwrap();
    warden_core::privacy::requests::submit(
        s.backends.table.as_ref(),
        me["sub"].as_str().unwrap(),
        delete,
        s.backends.clock.now(),
    )
    .await
    .unwrap();
    let report = warden_security_scan::handle(&s, serde_json::Value::Null)
        .await
        .unwrap();
    assert!(report.privacy.completed >= 1, "{:?}", report.privacy);
    warden_core::monitor::recent_alerts(&s, 10).await.unwrap();
    let used = actions.lock().unwrap().clone();
    let granted = granted("SecurityScan");
    let missing: Vec<&String> = used.difference(&granted).collect();
    assert!(
        missing.is_empty(),
        "SecurityScanFunction uses {missing:?}, which template.yaml does not grant"
    );
}
