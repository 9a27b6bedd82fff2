//! Audit log contention, simulated: `cargo bench -p warden-tests --bench audit_shards`.
//!
//! The emulator serves one request at a time and cannot show contention, so this drives real
//! logins — successful and failed, through `warden_core::login::login`, Argon2 at 8 KiB and t = 1
//! so two cores measure the table rather than the hash — against [`ContendedTable`]: every call
//! takes `WARDEN_BENCH_LATENCY_MS` (default 5), and a transaction holds its items for its call
//! as DynamoDB's conflict rule says. Each of `WARDEN_BENCH_WRITERS` (default 64) writers is one
//! Lambda: its own `Services` (its own cached shard heads), one request at a time. For 1, 4, 16
//! and 64 shards it reports, side by side: sign-ins per second, p50 and p99 sign-in latency,
//! failed logins per second, audit append retries per event, appends that gave up (503), and
//! table conflicts. One shard is today's single chain (one head, one partition).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use warden_core::audit::layout::{self, Generation, Layout};
use warden_core::config::{Argon2Params, Config};
use warden_core::services::{AppState, Services};
use warden_core::table::Item;
use warden_tests::contention::ContendedTable;

const PASSWORD: &str = "marmalade kiln wobbles at dusk";

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config() -> Config {
    let mut c = Config::from_vars(|_| None).unwrap();
    c.argon2 = Argon2Params {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
    c
}

#[derive(Default)]
struct Tally {
    signed_in: AtomicU64,
    failed: AtomicU64,
    gave_up: AtomicU64,
    other: AtomicU64,
    /// The other outcomes by kind (a locked account's 429, a conflict on a counter, …).
    kinds: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

struct Outcome {
    shards: u32,
    sign_ins: f64,
    p50_ms: f64,
    p99_ms: f64,
    failures: f64,
    retries_per_event: f64,
    gave_up: u64,
    other: u64,
    kinds: String,
    conflicts: u64,
    /// CPU time over wall time: how many of the machine's cores the row kept busy.
    cores: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

/// A small random number (the workload's choices), from the system random source.
fn pick(below: u64) -> u64 {
    let b = warden_core::crypto::random_bytes::<8>().unwrap();
    u64::from_be_bytes(b) % below
}

async fn run(
    shards: u32,
    writers: usize,
    users: usize,
    latency: Duration,
    seconds: u64,
) -> Outcome {
    let root = std::path::Path::new("/dev/shm");
    let dir = warden_tests::fixtures::TempDir(if root.is_dir() {
        let p = root.join(warden_tests::fixtures::unique("warden-bench-"));
        std::fs::create_dir_all(&p).unwrap();
        p
    } else {
        warden_tests::fixtures::TempDir::new().0.clone()
    });
    let clock: Arc<dyn warden_core::clock::Clock> = Arc::new(warden_core::clock::SystemClock);
    let e = warden_embedded::open(&dir.0, "http://127.0.0.1:9", clock).unwrap();
    // The layout first, so accounts are placed under it.
    let single = Layout {
        generations: vec![Generation {
            from_ms: 0,
            count: shards,
        }],
    };
    e.backends
        .table
        .put(
            Item::new(&layout::key("AUDIT"))
                .with("generations", serde_json::to_string(&single).unwrap())
                .with("version", 1),
            None,
        )
        .await
        .unwrap();
    let setup = Services::new(config(), e.backends.clone()).await.unwrap();
    let mut emails = Vec::new();
    for i in 0..users {
        let email = format!("user{i}@example.com");
        warden_tests::accounts::verified(&setup, &email, PASSWORD).await;
        emails.push(email);
    }
    let table = Arc::new(ContendedTable::new(e.backends.table.clone(), latency));
    let backends = warden_core::backends::Backends {
        table: table.clone(),
        ..e.backends.clone()
    };
    let mut lambdas: Vec<AppState> = Vec::new();
    for _ in 0..writers {
        lambdas.push(Services::new(config(), backends.clone()).await.unwrap());
    }
    let emails = Arc::new(emails);
    let tally = Arc::new(Tally::default());
    let (calls_before, conflicts_before) = table.counts();
    let cpu_before = warden_tests::measure::cpu_time();
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for s in &lambdas {
        let (s, emails, tally) = (s.clone(), emails.clone(), tally.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < until {
                let email = &emails[pick(emails.len() as u64) as usize];
                // One in four is a wrong password: attacks and typos share the log.
                let wrong = pick(4) == 0;
                let body = serde_json::json!({
                    "email": email,
                    "password": if wrong { "not the password at all" } else { PASSWORD },
                });
                let meta = warden_core::audit::RequestMeta {
                    request_id: format!("r{}", pick(u64::MAX)),
                    ip: Some(std::net::IpAddr::from(std::net::Ipv4Addr::from(
                        0x0a00_0000 | pick(1 << 24) as u32,
                    ))),
                    user_agent: Some("bench".into()),
                };
                let started = Instant::now();
                let r = warden_core::login::login(
                    &s.sign_in(),
                    serde_json::from_value(body).unwrap(),
                    &Default::default(),
                    &meta,
                )
                .await;
                match r {
                    Ok(_) => {
                        latencies.push(started.elapsed());
                        tally.signed_in.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(warden_core::Error::Unauthorized) => {
                        tally.failed.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(warden_core::Error::Unavailable(_)) => {
                        tally.gave_up.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        tally.other.fetch_add(1, Ordering::Relaxed);
                        let kind = format!("{e:?}");
                        let kind = kind
                            .split(|c: char| !c.is_alphanumeric())
                            .next()
                            .unwrap_or("")
                            .to_string();
                        *tally.kinds.lock().unwrap().entry(kind).or_default() += 1;
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    latencies.sort();
    let cores = (warden_tests::measure::cpu_time() - cpu_before).as_secs_f64() / seconds as f64;
    let (calls, conflicts) = table.counts();
    let _ = calls - calls_before;
    let retries: u64 = lambdas.iter().map(|s| s.audit.retries()).sum();
    let events = tally.signed_in.load(Ordering::Relaxed) + tally.failed.load(Ordering::Relaxed);
    Outcome {
        shards,
        sign_ins: tally.signed_in.load(Ordering::Relaxed) as f64 / seconds as f64,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        failures: tally.failed.load(Ordering::Relaxed) as f64 / seconds as f64,
        retries_per_event: retries as f64 / events.max(1) as f64,
        gave_up: tally.gave_up.load(Ordering::Relaxed),
        other: tally.other.load(Ordering::Relaxed),
        kinds: format!("{:?}", tally.kinds.lock().unwrap()),
        conflicts: conflicts - conflicts_before,
        cores,
    }
}

fn main() {
    let rt = warden_tests::measure::runtime();
    let writers = env("WARDEN_BENCH_WRITERS", 64) as usize;
    let latency = Duration::from_millis(env("WARDEN_BENCH_LATENCY_MS", 5));
    let seconds = env("WARDEN_BENCH_SECONDS", 5);
    let users = env("WARDEN_BENCH_USERS", 3000) as usize;
    println!(
        "audit shards: {writers} writers, {} ms per table call, {seconds} s per row, {users} accounts, 1 in 4 logins with a wrong password",
        latency.as_millis()
    );
    println!(
        "{:>6} {:>12} {:>8} {:>8} {:>12} {:>15} {:>8} {:>8} {:>10} {:>6}",
        "shards",
        "sign-ins/s",
        "p50 ms",
        "p99 ms",
        "failures/s",
        "retries/event",
        "gave up",
        "other",
        "conflicts",
        "cores"
    );
    for shards in [1, 4, 16, 64] {
        let o = rt.block_on(run(shards, writers, users, latency, seconds));
        println!(
            "{:>6} {:>12.0} {:>8.1} {:>8.1} {:>12.0} {:>15.2} {:>8} {:>8} {:>10} {:>6.2}",
            o.shards,
            o.sign_ins,
            o.p50_ms,
            o.p99_ms,
            o.failures,
            o.retries_per_event,
            o.gave_up,
            o.other,
            o.conflicts,
            o.cores
        );
        if o.other > 0 {
            println!("       other: {}", o.kinds);
        }
    }
}
