//! The HIBP range adapter against a fake range server on loopback: k-anonymity (only the
//! 5-character prefix is sent), padding requested and ignored, the cache, and timeouts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use warden_aws::HibpRange;
use warden_core::clock::ManualClock;
use warden_core::password::breach::{BreachedPasswords, sha1_prefix_suffix};
use warden_core::secret::SecretString;

#[derive(Default)]
struct Seen {
    paths: Vec<String>,
    padding: Vec<Option<String>>,
}

async fn range(
    State(seen): State<Arc<Mutex<Seen>>>,
    Path(prefix): Path<String>,
    headers: HeaderMap,
) -> String {
    let mut s = seen.lock().unwrap();
    s.paths.push(prefix.clone());
    s.padding.push(
        headers
            .get("add-padding")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    );
    let (p, suffix) = sha1_prefix_suffix("hunter2hunter2hunter2");
    let mut body = String::new();
    if prefix == p {
        body.push_str(&format!("{suffix}:42\r\n"));
    }
    // Padding rows, as the real API sends with Add-Padding.
    body.push_str(
        "00000000000000000000000000000000000:0\r\nFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF:0\r\n",
    );
    body
}

async fn fake_server(delay: Duration) -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let app = axum::Router::new()
        .route(
            "/range/{prefix}",
            get(move |st, p, h| async move {
                tokio::time::sleep(delay).await;
                range(st, p, h).await
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

fn pw(s: &str) -> SecretString {
    SecretString::new(s.to_string())
}

#[tokio::test]
async fn only_the_prefix_leaves_and_counts_are_read() {
    let (url, seen) = fake_server(Duration::ZERO).await;
    let clock = Arc::new(ManualClock::starting_now());
    let hibp = HibpRange::new(
        &url,
        Duration::from_secs(2),
        Duration::from_secs(3600),
        clock.clone(),
    )
    .unwrap();
    assert_eq!(
        hibp.times_seen(&pw("hunter2hunter2hunter2")).await.unwrap(),
        42
    );
    assert_eq!(
        hibp.times_seen(&pw("marmalade kiln wobbles at dusk"))
            .await
            .unwrap(),
        0
    );
    let s = seen.lock().unwrap();
    assert!(s.paths.iter().all(|p| p.len() == 5), "{:?}", s.paths);
    assert!(s.padding.iter().all(|p| p.as_deref() == Some("true")));
}

#[tokio::test]
async fn prefixes_are_cached_until_their_ttl() {
    let (url, seen) = fake_server(Duration::ZERO).await;
    let clock = Arc::new(ManualClock::starting_now());
    let hibp = HibpRange::new(
        &url,
        Duration::from_secs(2),
        Duration::from_secs(3600),
        clock.clone(),
    )
    .unwrap();
    for _ in 0..3 {
        hibp.times_seen(&pw("hunter2hunter2hunter2")).await.unwrap();
    }
    assert_eq!(seen.lock().unwrap().paths.len(), 1);
    clock.advance(Duration::from_secs(3601));
    hibp.times_seen(&pw("hunter2hunter2hunter2")).await.unwrap();
    assert_eq!(seen.lock().unwrap().paths.len(), 2);
}

#[tokio::test]
async fn a_slow_or_absent_service_is_unavailable_not_clean() {
    let (url, _) = fake_server(Duration::from_secs(5)).await;
    let clock = Arc::new(ManualClock::starting_now());
    let slow = HibpRange::new(
        &url,
        Duration::from_millis(200),
        Duration::from_secs(60),
        clock.clone(),
    )
    .unwrap();
    let timed_out = slow
        .times_seen(&pw("anything at all here"))
        .await
        .unwrap_err();
    assert!(timed_out.is_unavailable(), "{timed_out:?}");
    assert!(
        timed_out.chain().contains("breach check unavailable: "),
        "the cause is kept: {}",
        timed_out.chain()
    );
    // Nothing listens on port 9 of loopback.
    let absent = HibpRange::new(
        "http://127.0.0.1:9",
        Duration::from_millis(500),
        Duration::from_secs(60),
        clock,
    )
    .unwrap();
    let refused = absent
        .times_seen(&pw("anything at all here"))
        .await
        .unwrap_err();
    assert!(refused.is_unavailable(), "{refused:?}");
    assert!(
        std::error::Error::source(&refused).is_some(),
        "the connection error is kept"
    );
}
