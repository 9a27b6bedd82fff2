//! Process measurements for the bench binaries (Linux `/proc`).

use std::time::Duration;

pub fn cpu_time() -> Duration {
    // Time on CPU summed over this process's threads (the blocking pool runs Argon2), from
    // each thread's `schedstat` (nanoseconds; `stat`'s utime/stime tick at 10 ms, too coarse
    // for sub-millisecond differences). Threads that exited are not counted; the pool keeps
    // its threads.
    let mut nanos = 0u64;
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        nanos += stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Duration::from_nanos(nanos)
}

pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// The multi-threaded runtime every bench binary runs in.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Embedded backends on the system clock in a fresh temporary directory (kept alive by the
/// returned guard).
pub fn embedded_backends() -> (crate::fixtures::TempDir, warden_embedded::Embedded) {
    let dir = crate::fixtures::TempDir::new();
    let clock: std::sync::Arc<dyn warden_core::clock::Clock> =
        std::sync::Arc::new(warden_core::clock::SystemClock);
    let e = warden_embedded::open(&dir.0, "http://127.0.0.1:9", clock).expect("embedded backends");
    (dir, e)
}
