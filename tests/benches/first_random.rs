//! The cost of the first random number in a process (AWS-LC seeds its DRBG on first use; with
//! CPU-jitter entropy enabled that seeding is what a cold start pays):
//! `cargo bench -p warden-tests --bench first_random` (run it a few times: each run is one
//! fresh process). Build with `AWS_LC_SYS_NO_JITTER_ENTROPY=1` to compare.

use std::time::Instant;

fn main() {
    let t = Instant::now();
    let mut b = [0u8; 32];
    aws_lc_rs::rand::fill(&mut b).expect("rng");
    let first = t.elapsed();
    let t = Instant::now();
    aws_lc_rs::rand::fill(&mut b).expect("rng");
    let second = t.elapsed();
    println!(
        "first random number: {:.2} ms; second: {:.3} ms (jitter entropy {})",
        first.as_secs_f64() * 1000.0,
        second.as_secs_f64() * 1000.0,
        if std::env::var("AWS_LC_SYS_NO_JITTER_ENTROPY").is_ok() {
            "disabled at build time"
        } else {
            "as built"
        }
    );
}
