//! Backends for tests: embedded ones in a fresh temporary directory, AWS ones against the
//! emulator named by the environment `scripts/test` exports.

use std::path::PathBuf;
use std::sync::Arc;

use warden_core::backends::Backends;
use warden_core::clock::{Clock, ManualClock};
use warden_core::config::Config;
use warden_embedded::Embedded;

/// A unique string per call (tests share one emulator table and must not collide).
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        warden_core::users::new_user_id().expect("rng")
    )
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let p = std::env::temp_dir().join(unique("warden-test-"));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Backends plus the manual clock that drives them.
pub struct Fixture {
    pub backends: Backends,
    pub clock: Arc<ManualClock>,
    pub embedded: Option<Embedded>,
    /// A listener bound before the backends were made (their links name its address);
    /// [`serve`] serves on it.
    bound: std::sync::Mutex<Option<tokio::net::TcpListener>>,
    _dir: Option<TempDir>,
}

impl Fixture {
    /// The fixture clock's current time.
    pub fn clock_now(&self) -> warden_core::clock::Timestamp {
        warden_core::clock::Clock::now(self.clock.as_ref())
    }

    /// Where the messages the fixture's mailer sent can be read.
    pub fn mailbox(&self) -> Mailbox {
        match &self.embedded {
            Some(e) => Mailbox::Local(e.outbox.clone()),
            None => Mailbox::Emulator(require_emulator()),
        }
    }

    /// The messages sent to `to`, oldest first.
    pub async fn mail_to(&self, to: &str) -> Vec<warden_core::mail::Message> {
        self.mailbox().to(to).await
    }

    /// The downstream events published about `user_id`, oldest first: the local bus's files, or
    /// what the emulator's EventBridge delivered through a rule to the tests' tap queue (so the
    /// event went through a real `PutEvents` and a rule match).
    pub async fn published_events(&self, user_id: &str) -> Vec<warden_core::event_bus::BusEvent> {
        let all = match &self.embedded {
            Some(e) => e.events.list().await.expect("the local event bus"),
            None => {
                let url = format!("{}/_warden/events/tapped", require_emulator());
                let r = crate::http_client::request("GET", &url, &[], b"")
                    .await
                    .expect("the emulator's tapped events");
                assert_eq!(r.status, 200);
                let envelopes: Vec<serde_json::Value> =
                    serde_json::from_slice(&r.body).expect("a JSON array");
                envelopes
                    .into_iter()
                    .map(|v| warden_core::event_bus::BusEvent {
                        id: v["detail"]["event_id"].as_str().unwrap_or_default().into(),
                        source: v["source"].as_str().unwrap_or_default().into(),
                        detail_type: v["detail-type"].as_str().unwrap_or_default().into(),
                        time_ms: 0,
                        detail: v["detail"].clone(),
                    })
                    .collect()
            }
        };
        all.into_iter()
            .filter(|e| e.detail["user_id"] == user_id)
            .collect()
    }
}

/// The messages a fixture's mailer sent: the local outbox's files, or what the emulator's SES
/// recorded.
#[derive(Clone)]
pub enum Mailbox {
    Local(Arc<warden_embedded::LocalOutbox>),
    Emulator(String),
}

impl Mailbox {
    /// The messages sent to `to`, oldest first (on the emulator, filtered there: its list holds
    /// every test's mail).
    pub async fn to(&self, to: &str) -> Vec<warden_core::mail::Message> {
        match self {
            Mailbox::Local(outbox) => outbox
                .list()
                .await
                .expect("the local outbox")
                .into_iter()
                .filter(|m| m.to == to)
                .map(|m| warden_core::mail::Message {
                    to: m.to,
                    subject: m.subject,
                    text: m.text,
                    html: m.html,
                })
                .collect(),
            Mailbox::Emulator(endpoint) => {
                let url = format!("{endpoint}/_warden/ses/sent?to={}", percent(to));
                let r = crate::http_client::request("GET", &url, &[], b"")
                    .await
                    .expect("the emulator's sent mail");
                assert_eq!(r.status, 200);
                let raw: Vec<String> = serde_json::from_slice(&r.body).expect("a JSON array");
                raw.iter()
                    .map(|m| {
                        warden_core::mail::mime::parse(m)
                            .expect("a message in Warden's form")
                            .0
                    })
                    .filter(|m| m.to == to)
                    .collect()
            }
        }
    }

    /// The token of the newest link to `path` (`/verify-email`, `/reset-password`) mailed to
    /// `to`.
    pub async fn link_token(&self, to: &str, path: &str) -> Option<String> {
        self.to(to)
            .await
            .iter()
            .rev()
            .find_map(|m| link_token(m, path))
    }
}

/// The token of the link to `path` in message `m`, if it has one.
pub fn link_token(m: &warden_core::mail::Message, path: &str) -> Option<String> {
    let marker = format!("{path}#token=");
    let at = m.text.find(&marker)? + marker.len();
    m.text[at..].split_whitespace().next().map(str::to_string)
}

/// `s` percent-encoded for a query value.
fn percent(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Embedded backends in a fresh directory; presigned links point at `base_url`.
pub fn embedded_with_base(base_url: &str) -> Fixture {
    let dir = TempDir::new();
    let clock = Arc::new(ManualClock::starting_now());
    let e = warden_embedded::open(&dir.0, base_url, clock.clone() as Arc<dyn Clock>)
        .expect("embedded backends");
    Fixture {
        backends: e.backends.clone(),
        clock,
        embedded: Some(e),
        bound: Default::default(),
        _dir: Some(dir),
    }
}

pub fn embedded() -> Fixture {
    embedded_with_base("http://127.0.0.1:9")
}

/// Embedded backends whose presigned links point at the server [`serve`] will start.
pub async fn embedded_linked() -> Fixture {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let f = embedded_with_base(&format!("http://{}", listener.local_addr().unwrap()));
    *f.bound.lock().unwrap() = Some(listener);
    f
}

/// Panics unless the emulator environment from `scripts/test` is present and on loopback.
pub fn require_emulator() -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    let table = std::env::var("WARDEN_TABLE").unwrap_or_default();
    assert!(
        !endpoint.is_empty() && !table.is_empty(),
        "the AWS suites need the emulator: run ./scripts/test (AWS_ENDPOINT_URL and WARDEN_TABLE are not set)"
    );
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "refusing to run the AWS suites against a non-loopback endpoint"
    );
    endpoint
}

/// AWS backends (DynamoDB, KMS, S3) against the emulator.
pub async fn aws() -> Fixture {
    require_emulator();
    let clock = Arc::new(ManualClock::starting_now());
    let config = Config::from_env().expect("config from the emulator environment");
    let backends = warden_aws::backends(&config, clock.clone() as Arc<dyn Clock>)
        .await
        .expect("aws backends");
    Fixture {
        backends,
        clock,
        embedded: None,
        bound: Default::default(),
        _dir: None,
    }
}

/// Embedded backends behind a real `warden-local` server on an ephemeral loopback port, so
/// presigned links and routes are exercised over HTTP. Returns the fixture and the base URL.
pub async fn embedded_served(config: Config) -> (Fixture, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let f = embedded_with_base(&base);
    let state = warden_core::services::Services::new(config, f.backends.clone())
        .await
        .expect("services");
    let links = f.embedded.as_ref().map(warden_local::LinkStores::of);
    spawn_server(listener, warden_local::router(state, links, operator()));
    (f, base)
}

/// Serves `state` (any backends) through the runner's router on a loopback port; returns the
/// base URL.
pub async fn serve(state: warden_core::services::AppState, f: &Fixture) -> String {
    let bound = f.bound.lock().unwrap().take();
    let listener = match bound {
        Some(l) => l,
        None => tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback"),
    };
    let base = format!("http://{}", listener.local_addr().unwrap());
    let links = f.embedded.as_ref().map(warden_local::LinkStores::of);
    spawn_server(listener, warden_local::router(state, links, operator()));
    base
}

/// The operator token of every runner the fixtures serve.
pub const OPERATOR_TOKEN: &str = "operator-token-of-the-test-fixtures-0123456789";

/// The operator credential of the fixtures' runners ([`OPERATOR_TOKEN`]).
pub fn operator() -> std::sync::Arc<warden_local::Operator> {
    warden_local::Operator::new(OPERATOR_TOKEN.into(), None)
}

fn spawn_server(listener: tokio::net::TcpListener, router: axum::Router) {
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
}

/// A configuration for tests: cheap Argon2 parameters (the policy under test does not depend
/// on them), a rate limit out of the way, everything else at its default.
pub fn test_config() -> Config {
    let mut c = Config::from_vars(|_| None).expect("default config");
    c.argon2 = warden_core::config::Argon2Params {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    };
    // Suites fire many requests from one loopback address; the rate limit has its own tests.
    c.api_rate_per_minute = 60_000;
    c.api_burst = 100_000;
    // Likewise the registration budget per address (tested in `seams.rs`).
    c.register_ip_max = 100_000;
    c
}

/// Counts the HTTP requests a DynamoDB client sends (retries included): the port promises one
/// round trip per method, and only the wire can show it.
#[derive(Debug, Default)]
pub struct WireCounter(std::sync::atomic::AtomicU64);

impl WireCounter {
    pub fn requests(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[derive(Debug)]
struct CountRequests(Arc<WireCounter>);

impl aws_sdk_dynamodb::config::Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_before_transmit(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.0.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

/// The AWS fixture, with its table built on a DynamoDB client whose requests `WireCounter` counts.
pub async fn aws_counting_table_requests() -> (Fixture, Arc<WireCounter>) {
    let mut f = aws().await;
    let config = Config::from_env().expect("config from the emulator environment");
    let sdk = warden_aws::sdk::load(config.aws_trust)
        .await
        .expect("sdk config");
    let counter = Arc::new(WireCounter::default());
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(CountRequests(counter.clone()))
            .build(),
    );
    let table = config.aws_resources().expect("aws resources").table;
    f.backends.table = Arc::new(warden_aws::DynamoTable::new(
        client,
        table,
        f.clock.clone() as Arc<dyn Clock>,
    ));
    (f, counter)
}
