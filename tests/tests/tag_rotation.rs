//! Address tags under keys of the day, on both backends: a tag is matched under today's key and
//! yesterday's, and once its key is destroyed (two days on) nothing recomputes it; the midnight
//! rotation neither resets the per-address login counter nor lifts the monitor's block, and the
//! monitor sees one address's stuffing across midnight as one attack.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use warden_core::address::{day_of, tag_key_key};
use warden_core::monitor;
use warden_core::services::{AppState, Services};
use warden_tests::fixtures::{Fixture, serve, test_config, unique};
use warden_tests::http_client::{Response, request_from, unique_loopback};

const DAY: Duration = Duration::from_secs(86_400);

/// Moves the fixture's clock to `before` ahead of the next UTC midnight.
fn to_before_midnight(f: &Fixture, before: Duration) {
    let now = f.clock_now().millis();
    let next = (day_of(f.clock_now()) + 1) * DAY.as_millis() as i64;
    let target = next - before.as_millis() as i64;
    if target > now {
        f.clock
            .advance(Duration::from_millis((target - now) as u64));
    } else {
        f.clock.advance(Duration::from_millis(
            (target + DAY.as_millis() as i64 - now) as u64,
        ));
    }
}

async fn services(f: &Fixture, max_ip_failures: u32) -> AppState {
    let mut config = test_config();
    config.login_ip_max_failures = max_ip_failures;
    let s = Services::new(config, f.backends.clone()).await.unwrap();
    let mut s = Arc::try_unwrap(s).ok().expect("sole owner");
    s.audit = s.new_audit_log().in_namespace(&unique("AUDIT-R-"));
    Arc::new(s)
}

async fn login(base: &str, ip: std::net::IpAddr, email: &str, password: &str) -> Response {
    request_from(
        Some(ip),
        "POST",
        &format!("{base}/auth/login"),
        &[
            ("Content-Type", "application/json"),
            ("User-Agent", "rotation-test"),
        ],
        json!({"email": email, "password": password})
            .to_string()
            .as_bytes(),
    )
    .await
    .unwrap()
}

async fn a_tag_is_matched_for_a_day_after_its_own_and_then_cannot_be_recomputed(f: Fixture) {
    let s = services(&f, 50).await;
    let ip = unique_loopback();
    let today = s.address_tags.tags(ip).await.unwrap();
    // A tag under the server secret's keys would be the same every day: this one is not.
    f.clock.advance(DAY);
    let tomorrow = s.address_tags.tags(ip).await.unwrap();
    assert_ne!(tomorrow.current, today.current);
    assert_eq!(tomorrow.previous.as_deref(), Some(today.current.as_str()));
    // Two days on, the first day's key is gone from the table: no process can make its tags.
    let first_day = day_of(f.clock_now()) - 1;
    f.clock.advance(DAY);
    assert!(
        f.backends
            .table
            .get(&tag_key_key(first_day))
            .await
            .unwrap()
            .is_none(),
        "the key of a day expires when the next day ends"
    );
    let later = s.address_tags.tags(ip).await.unwrap();
    assert_ne!(later.current, today.current);
    assert_ne!(later.previous.as_deref(), Some(today.current.as_str()));
    // Another process (fresh caches) agrees with this one.
    let other = services(&f, 50).await;
    assert_eq!(other.address_tags.tags(ip).await.unwrap(), later);
}

async fn midnight_neither_resets_the_address_counter_nor_lifts_a_block(f: Fixture) {
    let s = services(&f, 3).await;
    let base = serve(s.clone(), &f).await;
    to_before_midnight(&f, Duration::from_secs(600));
    // Two failures before midnight, one after: the third reaches the limit of three.
    let ip = unique_loopback();
    let guess = |n: usize| format!("{}@example.com", unique(&format!("nobody{n}")));
    for n in 0..2 {
        assert_eq!(
            login(&base, ip, &guess(n), "wrong wrong wrong")
                .await
                .status,
            401
        );
    }
    f.clock.advance(Duration::from_secs(900));
    assert_eq!(
        login(&base, ip, &guess(2), "wrong wrong wrong")
            .await
            .status,
        401
    );
    assert_eq!(
        login(&base, ip, &guess(3), "wrong wrong wrong")
            .await
            .status,
        429,
        "the count from before midnight still counts"
    );

    // A block placed before midnight (on that day's tag) holds after it, and past the end of
    // its key's life (carried to the new day's tag).
    let blocked = unique_loopback();
    to_before_midnight(&f, Duration::from_secs(300));
    let tag = s.address_tags.tags(blocked).await.unwrap().current;
    let until = f.clock_now().plus(Duration::from_secs(3 * 86_400));
    warden_core::lockout::block_ip(s.backends.table.as_ref(), &tag, until)
        .await
        .unwrap();
    f.clock.advance(Duration::from_secs(600));
    assert_eq!(
        login(&base, blocked, &guess(4), "x y z w v").await.status,
        429
    );
    f.clock.advance(DAY + Duration::from_secs(3600));
    assert_eq!(
        login(&base, blocked, &guess(5), "x y z w v").await.status,
        429,
        "the block outlives the key it was placed under"
    );
}

async fn stuffing_across_midnight_is_one_attack_from_one_address(f: Fixture) {
    let s = services(&f, 1_000).await;
    let base = serve(s.clone(), &f).await;
    let threshold = s.config.monitor.stuffing_accounts as usize;
    to_before_midnight(&f, Duration::from_secs(120));
    let stuffer = unique_loopback();
    for n in 0..threshold {
        if n == threshold / 2 {
            f.clock.advance(Duration::from_secs(240)); // past midnight
        }
        let email = format!("{}@example.com", unique("victim"));
        assert_eq!(
            login(&base, stuffer, &email, "hunter2 hunter2")
                .await
                .status,
            401
        );
    }
    let report = monitor::scan(&s.monitor()).await.unwrap();
    let stuffing: Vec<_> = report
        .alerts
        .iter()
        .filter(|a| a.starts_with("credential-stuffing:"))
        .collect();
    assert_eq!(stuffing.len(), 1, "{:?}", report.alerts);
    let email = format!("{}@example.com", unique("later"));
    assert_eq!(
        login(&base, stuffer, &email, "hunter2 hunter2")
            .await
            .status,
        429,
        "the address is blocked under the tag logins use today"
    );
}

warden_tests::on_both_backends!(
    a_tag_is_matched_for_a_day_after_its_own_and_then_cannot_be_recomputed,
    midnight_neither_resets_the_address_counter_nor_lifts_a_block,
    stuffing_across_midnight_is_one_attack_from_one_address,
);
