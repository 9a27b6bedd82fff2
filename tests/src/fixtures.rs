//! Backends for tests: embedded ones in a fresh temporary directory, AWS ones against the
//! emulator named by the environment `scripts/test` exports.

use std::path::PathBuf;
use std::sync::Arc;

use warden::backends::{Backends, Embedded};
use warden::clock::{Clock, ManualClock};
use warden::config::Config;

/// A unique string per call (tests share one emulator table and must not collide).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", warden::users::new_user_id().expect("rng"))
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
    _dir: Option<TempDir>,
}

/// Embedded backends in a fresh directory; presigned links point at `base_url`.
pub fn embedded_with_base(base_url: &str) -> Fixture {
    let dir = TempDir::new();
    let clock = Arc::new(ManualClock::starting_now());
    let e = Backends::embedded(&dir.0, base_url, clock.clone() as Arc<dyn Clock>)
        .expect("embedded backends");
    Fixture {
        backends: e.backends.clone(),
        clock,
        embedded: Some(e),
        _dir: Some(dir),
    }
}

pub fn embedded() -> Fixture {
    embedded_with_base("http://127.0.0.1:9")
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
    let backends = Backends::aws(&config, clock.clone() as Arc<dyn Clock>)
        .await
        .expect("aws backends");
    Fixture {
        backends,
        clock,
        embedded: None,
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
    let mut f = embedded_with_base(&base);
    let e = f.embedded.take().expect("embedded");
    let app = warden_local::assemble_embedded(config, e)
        .await
        .expect("app");
    tokio::spawn(warden_local::serve(listener, app, std::future::pending()));
    (f, base)
}

/// A configuration for tests: cheap Argon2 parameters (the policy under test does not depend
/// on them), everything else at its default.
pub fn test_config() -> Config {
    let mut c = Config::from_vars(|_| None).expect("default config");
    c.argon2 = warden::config::Argon2Params {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    };
    c
}
