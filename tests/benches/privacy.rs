//! Privacy benchmark: `cargo bench -p warden-tests --bench privacy`.
//!
//! Export and erasure of one user on the embedded store, at three sizes side by side in one run:
//! 1,000 activity entries and 100 photos, then 10,000 and 1,000 (photos of 16 KiB), then one
//! photo of 1 GiB (what a user controls: the export must copy it as a stream). For each:
//! wall time, `Table` calls and `Blobs` calls, and the process's peak RSS during the operation
//! (the kernel's high-water mark, reset before each measured step), which should stay flat as
//! the user grows: the export streams pages and one photo at a time, the erasure deletes a page
//! at a time.

use std::sync::Arc;
use std::time::Instant;

use warden_core::audit::RequestMeta;
use warden_core::backends::Backends;
use warden_core::privacy::requests::{self, Regime, RequestType};
use warden_core::services::{AppState, Services};
use warden_core::table::TxOp;
use warden_tests::counting::{CountingBlobs, CountingTable, Probe};

const SMALL_PHOTO: u64 = 16 * 1024;
const HUGE_PHOTO: u64 = 1 << 30;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// Resets the peak to the current RSS (Linux: `5` to `clear_refs`).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn seeded_user(s: &AppState, activity: usize, photos: usize, photo_bytes: u64) -> String {
    let email = format!("{}@example.com", warden_tests::fixtures::unique("bench"));
    let user_id =
        warden_tests::accounts::verified(s, &email, "marmalade kiln wobbles at dusk").await;
    let now = s.backends.clock.now();
    let ip = std::net::IpAddr::from([198, 51, 100, 7]);
    let mut batch = Vec::new();
    for i in 0..activity {
        let at = warden_core::clock::Timestamp(now.millis() - i as i64 * 60_000);
        let item =
            warden_core::activity::sign_in_item(&s.user_keys, &user_id, "0123456789abcdef", ip, at)
                .await
                .unwrap();
        batch.push(TxOp::Put {
            item,
            condition: None,
        });
        if batch.len() == 100 {
            s.backends
                .table
                .transact(std::mem::take(&mut batch))
                .await
                .unwrap();
        }
    }
    if !batch.is_empty() {
        s.backends.table.transact(batch).await.unwrap();
    }
    let prefix = warden_core::photos::prefix(&user_id);
    for i in 0..photos {
        // Generated as it is written: the seed itself holds no photo in memory.
        use tokio::io::AsyncReadExt;
        let body: warden_core::blobs::BlobReader =
            Box::new(tokio::io::repeat(0x5a).take(photo_bytes));
        s.backends
            .photos
            .put(&format!("{prefix}{i:05}.jpg"), body, "image/jpeg")
            .await
            .unwrap();
    }
    user_id
}

struct Measured {
    wall_ms: f64,
    table: u64,
    blobs: u64,
    rss_before_kib: u64,
    peak_kib: u64,
}

async fn measure(s: &AppState, table: &Probe, blobs: &Probe, user: &str, kind: &str) -> Measured {
    let rtype = RequestType::parse(Regime::Gdpr, kind).unwrap();
    let (r, _) = requests::submit(
        s.backends.table.as_ref(),
        user,
        rtype,
        s.backends.clock.now(),
    )
    .await
    .unwrap();
    reset_peak();
    let rss_before_kib = warden_tests::measure::rss_kib();
    let (t0, b0, start) = (table.calls(), blobs.calls(), Instant::now());
    let done = warden_core::privacy::process(&s.privacy(), &r.id, &RequestMeta::default())
        .await
        .unwrap()
        .unwrap();
    assert!(!done.is_open());
    Measured {
        wall_ms: start.elapsed().as_secs_f64() * 1000.0,
        table: table.calls() - t0,
        blobs: blobs.calls() - b0,
        rss_before_kib,
        peak_kib: peak_rss_kib(),
    }
}

fn main() {
    let rt = warden_tests::measure::runtime();
    rt.block_on(async {
        let (_dir, e) = warden_tests::measure::embedded_backends();
        let (tp, bp) = (Probe::new(), Probe::new());
        let backends = Backends {
            table: Arc::new(CountingTable::with_probe(e.backends.table.clone(), tp.clone())),
            photos: Arc::new(CountingBlobs::with_probe(e.backends.photos.clone(), bp.clone())),
            exports: Arc::new(CountingBlobs::with_probe(e.backends.exports.clone(), bp.clone())),
            ..e.backends.clone()
        };
        let s = Services::new(warden_tests::fixtures::test_config(), backends).await.unwrap();
        println!("| user | step | wall | Table calls | Blobs calls | RSS before | peak RSS | peak growth |");
        println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (activity, photos, bytes) in [
            (1_000, 100, SMALL_PHOTO),
            (10_000, 1_000, SMALL_PHOTO),
            (10, 1, HUGE_PHOTO),
        ] {
            let user = seeded_user(&s, activity, photos, bytes).await;
            let size = if bytes >= 1 << 30 {
                format!("{} GiB", bytes >> 30)
            } else {
                format!("{} KiB", bytes >> 10)
            };
            for step in ["export", "delete"] {
                let m = measure(&s, &tp, &bp, &user, step).await;
                println!(
                    "| {activity} activity, {photos} photos of {size} | {step} | {:.0} ms | {} | {} | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
                    m.wall_ms,
                    m.table,
                    m.blobs,
                    m.rss_before_kib as f64 / 1024.0,
                    m.peak_kib as f64 / 1024.0,
                    m.peak_kib.saturating_sub(m.rss_before_kib) as f64 / 1024.0
                );
            }
        }
    });
}
