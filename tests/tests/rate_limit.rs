//! The API rate limit through the runner's router, on both backends: a burst of 20 then one
//! request per 600 ms per principal, 429 with `Retry-After` and `RateLimit` headers, users
//! limited separately from each other and from their IP, revocation riding on the same
//! single table round trip, and a refresh charged on its session in its one round trip.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use warden_core::backends::Backends;
use warden_core::services::{AppState, Services};
use warden_tests::counting::CountingTable;
use warden_tests::fixtures::{Fixture, serve, test_config, unique};
use warden_tests::http_client::{Response, request_from, unique_loopback};

fn limited_config() -> warden_core::config::Config {
    let mut c = test_config();
    c.api_rate_per_minute = 100;
    c.api_burst = 20;
    c
}

async fn anonymous_requests_are_limited_per_ip_with_headers(f: Fixture) {
    let s = Services::new(limited_config(), f.backends.clone())
        .await
        .unwrap();
    let base = serve(s, &f).await;
    let url = format!("{base}/.well-known/jwks.json");
    // A source address of this test's own: the emulator's table is shared between tests.
    let ip = Some(unique_loopback());
    let request =
        |m: &'static str, u: &str, h: &'static [(&'static str, &'static str)], b: &'static [u8]| {
            let u = u.to_string();
            async move { request_from(ip, m, &u, h, b).await }
        };
    // 25 requests at t = 0: 20 pass (the burst), 5 get 429.
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..25 {
        let r = request("GET", &url, &[], b"").await.unwrap();
        assert!(r.header("ratelimit-policy").is_some());
        statuses.push(r.status);
        last = Some(r);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        20,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        5,
        "{statuses:?}"
    );
    let r = last.unwrap();
    assert_eq!(r.status, 429);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(r.header("ratelimit").is_some());
    f.clock.advance(Duration::from_millis(600));
    assert_eq!(request("GET", &url, &[], b"").await.unwrap().status, 200);
    assert_eq!(request("GET", &url, &[], b"").await.unwrap().status, 429);
}

/// The limited services over a table that counts its calls, served; the counter, the state and
/// the base URL.
async fn counted(f: &Fixture) -> (Arc<CountingTable>, AppState, String) {
    let counting = Arc::new(CountingTable::new(f.backends.table.clone()));
    let backends = Backends {
        table: counting.clone(),
        ..f.backends.clone()
    };
    let s = Services::new(limited_config(), backends).await.unwrap();
    let base = serve(s.clone(), f).await;
    (counting, s, base)
}

/// Registers a fresh account from `ip` and logs it in; the login's response.
async fn signed_up(f: &Fixture, base: &str, ip: Option<IpAddr>) -> Response {
    let email = format!("{}@example.com", unique("r"));
    warden_tests::api::Api::on(base.to_string(), f)
        .register_verified(ip.expect("a client address"), &email)
        .await;
    let body = json!({"email": email, "password": "marmalade kiln wobbles at dusk"}).to_string();
    let h = [("Content-Type", "application/json"), ("User-Agent", "t")];
    let post = |path: &str| {
        let url = format!("{base}{path}");
        let body = body.clone();
        async move {
            request_from(ip, "POST", &url, &h, body.as_bytes())
                .await
                .unwrap()
        }
    };
    let login = post("/auth/login").await;
    assert_eq!(login.status, 200);
    login
}

async fn each_user_has_a_bucket_and_revocation_shares_its_round_trip(f: Fixture) {
    let (counting, s, base) = counted(&f).await;
    let ip = Some(unique_loopback());
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let r = signed_up(&f, &base, ip).await;
        tokens.push(r.bearer());
        // Let this IP's anonymous bucket refill between users.
        f.clock.advance(Duration::from_secs(60));
    }
    let sessions = format!("{base}/me/sessions");
    // The status of `GET /me/sessions` with `tokens[i]`.
    let list = |i: usize| {
        let (url, auth) = (sessions.clone(), tokens[i].clone());
        async move {
            request_from(ip, "GET", &url, &[("Authorization", &auth)], b"")
                .await
                .unwrap()
                .status
        }
    };
    // The first user's burst, then 429...
    for _ in 0..20 {
        assert_eq!(list(0).await, 200);
    }
    assert_eq!(list(0).await, 429);
    // ...while the second user, from the same address, is unaffected.
    assert_eq!(list(1).await, 200);
    // One round trip for rate limit + revocation: GET /me/sessions costs the guard's one write
    // plus the handler's own query.
    f.clock.advance(Duration::from_secs(60));
    let before = counting.calls();
    assert_eq!(list(1).await, 200);
    assert_eq!(counting.calls() - before, 2);
    // GET /me shows the profile the guard's write returned: that one write is all it costs.
    let before = counting.calls();
    let me = request_from(
        ip,
        "GET",
        &format!("{base}/me"),
        &[("Authorization", &tokens[1])],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(me.status, 200);
    assert!(
        me.json()["email"]
            .as_str()
            .is_some_and(|e| e.ends_with("@example.com"))
    );
    assert_eq!(counting.calls() - before, 1);
    // Revocation takes effect on the next request.
    let uid = s
        .tokens()
        .verify(tokens[1].trim_start_matches("Bearer "), f.clock_now())
        .await
        .unwrap()
        .sub;
    warden_core::sessions::revoke_all(s.backends.table.as_ref(), &uid, None)
        .await
        .unwrap();
    assert_eq!(list(1).await, 401);
}

async fn a_refresh_is_one_round_trip_charged_on_its_session(f: Fixture) {
    let (counting, _, base) = counted(&f).await;
    let ip = Some(unique_loopback());
    let mut cookie = signed_up(&f, &base, ip).await.refresh_cookie();
    let name = warden_http::cookies::REFRESH;
    let url = format!("{base}/auth/refresh");
    let refresh = |cookie: String| {
        let url = url.clone();
        async move {
            request_from(
                ip,
                "POST",
                &url,
                &[("Cookie", &cookie), ("User-Agent", "t")],
                b"",
            )
            .await
            .unwrap()
        }
    };

    // Twenty refreshes at t = 0 from the address that also registered and logged in: all
    // pass, so they are not charged on the address; each costs one table round trip.
    let before = counting.calls();
    for i in 0..20 {
        let r = refresh(cookie.clone()).await;
        assert_eq!(r.status, 200, "refresh {i}");
        assert!(r.header("ratelimit").is_some() && r.header("ratelimit-policy").is_some());
        cookie = r.refresh_cookie();
    }
    assert_eq!(counting.calls() - before, 20, "one round trip per refresh");
    // The session's burst is spent: 429 with the headers, and the token is not rotated.
    let r = refresh(cookie.clone()).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(r.header("ratelimit").is_some());
    assert!(r.cookie(name).is_none());
    f.clock.advance(Duration::from_millis(600));
    assert_eq!(refresh(cookie).await.status, 200);

    // Forged cookies of the right shape are charged on the sender's address instead.
    let forger = Some(unique_loopback());
    let forged = format!(
        "{name}={}.{}.{}",
        "ab".repeat(16),
        "cd".repeat(16),
        "A".repeat(43)
    );
    let mut statuses = Vec::new();
    for _ in 0..21 {
        let r = request_from(
            forger,
            "POST",
            &url,
            &[("Cookie", &forged), ("User-Agent", "t")],
            b"",
        )
        .await
        .unwrap();
        statuses.push(r.status);
    }
    assert_eq!(statuses[..20], [401; 20], "{statuses:?}");
    assert_eq!(statuses[20], 429, "{statuses:?}");
}

warden_tests::on_both_backends!(
    anonymous_requests_are_limited_per_ip_with_headers,
    a_refresh_is_one_round_trip_charged_on_its_session,
    each_user_has_a_bucket_and_revocation_shares_its_round_trip,
);
