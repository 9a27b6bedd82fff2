//! Registration timing by path (a bench binary, not a timed test):
//! `cargo bench -p warden-tests --bench registration`.
//!
//! `POST /auth/register` must not tell which addresses have accounts, by its answer or by its
//! time. The tests pin equal work (hashes, table and key-service calls, messages); this measures
//! the wall time of the two paths side by side in one run, interleaved so drift hits both alike:
//! registrations of new addresses against registrations of one verified address, through the
//! router on embedded backends with the production Argon2 cost (m=19456 KiB, t=2, p=1).
//! Reports the median, the 10th and 90th percentiles, and the difference of the medians.

use std::time::{Duration, Instant};

use warden_core::config::Argon2Params;
use warden_core::services::Services;
use warden_tests::fixtures::{embedded, test_config, unique};
use warden_tests::in_process::send;

const PASSWORD: &str = "marmalade kiln wobbles at dusk";
const ROUNDS: usize = 60;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let f = embedded();
    let mut config = test_config();
    config.argon2 = Argon2Params {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };
    // Budgets out of the way: every registration here comes from one address, to few recipients.
    config.mail.recipient_max = 1_000_000;
    let s = Services::new(config, f.backends.clone()).await.unwrap();
    let router = warden_local::router(s.clone(), None, warden_tests::fixtures::operator());
    let taken = "bench-taken@example.com";
    warden_tests::accounts::verified(&s, taken, PASSWORD).await;
    let register = |email: String| {
        let router = router.clone();
        async move {
            let body = serde_json::json!({"email": email, "password": PASSWORD}).to_string();
            let start = Instant::now();
            let r = send(
                &router,
                "POST",
                "/auth/register",
                &[("content-type", "application/json")],
                &body,
            )
            .await;
            assert_eq!(r.status(), 202);
            start.elapsed()
        }
    };
    // Warm-up: caches, the audit system key, the blocking pool.
    for _ in 0..3 {
        register(format!("{}@example.com", unique("warm"))).await;
        register(taken.to_string()).await;
    }
    let (mut new, mut old) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        new.push(register(format!("{}@example.com", unique("new"))).await);
        old.push(register(taken.to_string()).await);
    }
    new.sort();
    old.sort();
    println!("registration, {ROUNDS} of each, interleaved (ms: p10 / median / p90):");
    for (name, t) in [("new address  ", &new), ("taken address", &old)] {
        println!(
            "  {name}  {:.2} / {:.2} / {:.2}",
            percentile(t, 0.1),
            percentile(t, 0.5),
            percentile(t, 0.9)
        );
    }
    println!(
        "  median difference (taken - new): {:+.2} ms",
        percentile(&old, 0.5) - percentile(&new, 0.5)
    );
}
