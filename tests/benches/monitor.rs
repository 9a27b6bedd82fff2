//! Security monitor benchmark: `cargo bench -p warden-tests --bench monitor`.
//!
//! Seeds 20,000 audit events (failed logins of unknown emails from 500 addresses, so every
//! address crosses the credential-stuffing threshold: the scans also raise alerts and block) on
//! the embedded store, then runs scans of up to 1,000 events each until the log is drained:
//! events scanned per second and `Table` calls per scanned event (reads, plus the alert and
//! action writes).

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use warden_core::audit::{EventType, RequestMeta};
use warden_core::backends::Backends;
use warden_core::services::Services;
use warden_tests::counting::CountingTable;

fn main() {
    let rt = warden_tests::measure::runtime();
    rt.block_on(async {
        let (_dir, e) = warden_tests::measure::embedded_backends();

        let table = Arc::new(CountingTable::new(e.backends.table.clone()));
        let backends = Backends {
            table: table.clone(),
            ..e.backends.clone()
        };
        let s = Services::new(warden_tests::fixtures::test_config(), backends).await.unwrap();
        let n = 20_000;
        let t = Instant::now();
        for i in 0..n {
            let meta = RequestMeta {
                request_id: format!("r{i}"),
                ip: Some(std::net::IpAddr::from([198, 51, (i % 250) as u8, (i % 2) as u8])), // 500 addresses
                user_agent: Some("bench".into()),
            };
            s.audit
                .record(&meta, EventType::LoginFailed, None, json!({ "i": i % 2000 }))
                .await
                .unwrap();
        }
        let append = n as f64 / t.elapsed().as_secs_f64();
        let (c0, t) = (table.calls(), Instant::now());
        let mut scanned = 0;
        loop {
            let r = warden_core::monitor::scan(&s.monitor()).await.unwrap();
            if r.scanned == 0 {
                break;
            }
            scanned += r.scanned;
        }
        let secs = t.elapsed().as_secs_f64();
        let calls = table.calls() - c0;
        println!("audit appends (embedded, one writer): {append:.0} per second");
        println!(
            "scan: {scanned} events in {secs:.2} s = {:.0} events per second; {calls} Table calls = {:.4} per scanned event",
            scanned as f64 / secs,
            calls as f64 / scanned as f64
        );
    });
}
