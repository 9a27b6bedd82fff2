//! Login, lockout, tokens, refresh and password change through `warden-local`'s router over
//! real HTTP, on both backends (embedded, and AWS on the emulator).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use warden_core::password::breach::BreachedPasswords;
use warden_core::secret::SecretString;
use warden_core::services::{AppState, Services};
use warden_tests::fixtures::{Fixture, serve, test_config, unique};
use warden_tests::http_client::{Response, request, request_from, unique_loopback};

const PASSWORD: &str = "marmalade kiln wobbles at dusk";
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0";

/// Breached passwords for tests: exactly the ones listed.
struct Listed(Vec<&'static str>);

#[async_trait::async_trait]
impl BreachedPasswords for Listed {
    async fn times_seen(&self, p: &SecretString) -> warden_core::Result<u64> {
        Ok(u64::from(self.0.contains(&p.expose())))
    }
}

struct World {
    f: Fixture,
    state: AppState,
    base: String,
    /// This world's own client address: per-IP state (login failures, the anonymous rate
    /// limit) is shared between tests on the emulator's one table.
    ip: std::net::IpAddr,
}

async fn world(f: Fixture) -> World {
    let state = Services::with_breach_check(
        test_config(),
        f.backends.clone(),
        Arc::new(Listed(vec!["correct horse battery staple, breached"])),
    )
    .await
    .unwrap();
    let base = serve(state.clone(), &f).await;
    World {
        f,
        state,
        base,
        ip: unique_loopback(),
    }
}

impl World {
    async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Response {
        let mut h: Vec<(&str, &str)> = vec![("User-Agent", UA)];
        h.extend_from_slice(headers);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        if !body.is_empty() {
            h.push(("Content-Type", "application/json"));
        }
        request_from(
            Some(self.ip),
            method,
            &format!("{}{path}", self.base),
            &h,
            body.as_bytes(),
        )
        .await
        .unwrap()
    }

    async fn refresh(&self, cookie: &str) -> Response {
        self.call("POST", "/auth/refresh", &[("Cookie", cookie)], None)
            .await
    }

    async fn me(&self, bearer: &str) -> Response {
        self.call("GET", "/me", &[("Authorization", bearer)], None)
            .await
    }

    async fn register(&self, email: &str, password: &str) {
        let r = self
            .call(
                "POST",
                "/auth/register",
                &[],
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        let token = self
            .f
            .mailbox()
            .link_token(email, "/verify-email")
            .await
            .expect("a verification link");
        let r = self
            .call(
                "POST",
                "/auth/email/verify",
                &[],
                Some(json!({ "token": token })),
            )
            .await;
        assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    }

    async fn login(&self, email: &str, password: &str, extra: &[(&str, &str)]) -> Response {
        self.call(
            "POST",
            "/auth/login",
            extra,
            Some(json!({"email": email, "password": password})),
        )
        .await
    }
}

fn token(r: &Response) -> String {
    r.json()["access_token"]
        .as_str()
        .expect("access token")
        .to_string()
}

async fn login_issues_tokens_and_secure_cookies(f: Fixture) {
    let w = world(f).await;
    let email = format!("{}@example.com", unique("u"));
    w.register(&email, PASSWORD).await;
    let r = w.login(&email.to_uppercase(), PASSWORD, &[]).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["password_rotation_due"], false);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let set = r
        .headers
        .iter()
        .find(|(k, v)| {
            k.eq_ignore_ascii_case("set-cookie") && v.starts_with("__Secure-warden-refresh=")
        })
        .unwrap()
        .1
        .clone();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/auth"] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!String::from_utf8_lossy(&r.body).contains("warden-refresh"));
    let bearer = format!("Bearer {}", token(&r));
    let me = w.me(&bearer).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["email"], email.as_str());
    let jwks = w.call("GET", "/.well-known/jwks.json", &[], None).await;
    assert_eq!(jwks.status, 200);
    assert_eq!(jwks.json()["keys"][0]["alg"], "RS256");
}

async fn wrong_password_and_unknown_email_are_indistinguishable(f: Fixture) {
    let w = world(f).await;
    let email = format!("{}@example.com", unique("u"));
    w.register(&email, PASSWORD).await;
    let wrong = w.login(&email, "not the password at all", &[]).await;
    let unknown = w
        .login(
            &format!("{}@example.com", unique("nobody")),
            "not the password at all",
            &[],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.body, unknown.body);
    let names = |r: &Response| {
        let mut n: Vec<String> = r
            .headers
            .iter()
            .map(|(k, _)| k.to_lowercase())
            .filter(|k| k != "date")
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&wrong), names(&unknown));
    // Five failures lock unknown emails too, with the same answer.
    for _ in 0..5 {
        w.login(&email, "wrong wrong wrong", &[]).await;
    }
    let locked = w.login(&email, PASSWORD, &[]).await;
    assert_eq!(locked.status, 429);
    assert!(locked.header("retry-after").is_some());
}

async fn five_failures_lock_for_a_day_and_success_resets(f: Fixture) {
    let w = world(f).await;
    let email = format!("{}@example.com", unique("u"));
    w.register(&email, PASSWORD).await;
    // Four failures, then a success, resets the window: four more failures do not lock.
    for _ in 0..4 {
        assert_eq!(w.login(&email, "wrong wrong wrong", &[]).await.status, 401);
    }
    assert_eq!(w.login(&email, PASSWORD, &[]).await.status, 200);
    for _ in 0..4 {
        assert_eq!(w.login(&email, "wrong wrong wrong", &[]).await.status, 401);
    }
    assert_eq!(w.login(&email, "wrong wrong wrong", &[]).await.status, 401);
    let locked = w.login(&email, PASSWORD, &[]).await;
    assert_eq!(
        locked.status, 429,
        "the right password is refused while locked"
    );
    let retry: u64 = locked.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 23 * 3600 && retry <= 24 * 3600, "{retry}");
    w.f.clock.advance(Duration::from_secs(23 * 3600));
    assert_eq!(w.login(&email, PASSWORD, &[]).await.status, 429);
    w.f.clock.advance(Duration::from_secs(3600 + 1));
    assert_eq!(w.login(&email, PASSWORD, &[]).await.status, 200);
    // Lock and unlock are in the audit log, under the user.
    let uid = w
        .state
        .users()
        .find_by_email(&email)
        .await
        .unwrap()
        .unwrap()
        .id;
    let events: Vec<String> = w
        .state
        .audit
        .for_user(&uid)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    for e in [
        "login_failed",
        "account_locked",
        "account_unlocked",
        "login_succeeded",
    ] {
        assert!(events.iter().any(|x| x == e), "{e} missing from {events:?}");
    }
}

async fn concurrent_wrong_attempts_count_exactly_five(f: Fixture) {
    let w = Arc::new(world(f).await);
    let email = format!("{}@example.com", unique("u"));
    w.register(&email, PASSWORD).await;
    let before = w.state.passwords.verifications();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (w, email) = (w.clone(), email.clone());
        tasks.push(tokio::spawn(async move {
            w.login(&email, "wrong wrong wrong", &[]).await.status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        15,
        "{statuses:?}"
    );
    assert!(w.state.passwords.verifications() - before <= 5);
}

async fn a_known_device_is_not_locked_out_by_others(f: Fixture) {
    let w = world(f).await;
    let email = format!("{}@example.com", unique("u"));
    w.register(&email, PASSWORD).await;
    let ok = w.login(&email, PASSWORD, &[]).await;
    let device = ok.cookie("__Host-warden-device").expect("device cookie");
    for _ in 0..6 {
        w.login(&email, "attacker guesses", &[]).await;
    }
    assert_eq!(w.login(&email, PASSWORD, &[]).await.status, 429);
    let owner = w.login(&email, PASSWORD, &[("Cookie", &device)]).await;
    assert_eq!(owner.status, 200, "the owner's device has its own counter");
    // A device cookie made for another account does not help.
    let other = format!("{}@example.com", unique("u"));
    w.register(&other, PASSWORD).await;
    for _ in 0..5 {
        w.login(&other, "attacker guesses", &[]).await;
    }
    assert_eq!(
        w.login(&other, PASSWORD, &[("Cookie", &device)])
            .await
            .status,
        429
    );
}

async fn refresh_rotates_and_reuse_revokes_the_family(f: Fixture) {
    let w = world(f).await;
    let email = format!("{}@example.com", unique("u"));
    w.register(&email, PASSWORD).await;
    let first = w.login(&email, PASSWORD, &[]).await.refresh_cookie();
    let r = w.refresh(&first).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let second = r.refresh_cookie();
    assert_ne!(first, second);
    // Within the grace window a duplicate gets the same successor, not a new branch.
    let dup = w.refresh(&first).await;
    assert_eq!(dup.status, 200);
    assert_eq!(dup.refresh_cookie(), second);
    // A second session of the same user, and its access token.
    let other = w.login(&email, PASSWORD, &[]).await;
    let (other_cookie, other_bearer) =
        (other.refresh_cookie(), format!("Bearer {}", token(&other)));
    w.f.clock.advance(Duration::from_secs(11));
    // A forged secret naming the real session is refused without ending anything.
    let (ids, _) = first.rsplit_once('.').unwrap();
    let forged = format!("{ids}.{}", "A".repeat(43));
    assert_eq!(w.refresh(&forged).await.status, 401);
    assert_eq!(w.me(&other_bearer).await.status, 200);
    // The genuine rotated token is reuse: everything the user holds ends.
    let reuse = w.refresh(&first).await;
    assert_eq!(reuse.status, 401);
    let after = w.refresh(&second).await;
    assert_eq!(after.status, 401, "reuse revoked the whole family");
    assert_eq!(w.refresh(&other_cookie).await.status, 401);
    assert_eq!(w.me(&other_bearer).await.status, 401);
}

async fn refresh_tokens_expire_when_idle_and_at_their_absolute_lifetime(f: Fixture) {
    let w = world(f).await;
    let email = format!("{}@example.com", unique("u"));
    w.register(&email, PASSWORD).await;
    let idle = w.login(&email, PASSWORD, &[]).await.refresh_cookie();
    w.f.clock.advance(Duration::from_secs(7 * 86_400 + 1));
    assert_eq!(w.refresh(&idle).await.status, 401, "idle 7 days");
    // Used every 6 days, a session still ends 30 days after login.
    let mut c = w.login(&email, PASSWORD, &[]).await.refresh_cookie();
    for _ in 0..4 {
        w.f.clock.advance(Duration::from_secs(6 * 86_400));
        let r = w.refresh(&c).await;
        assert_eq!(r.status, 200);
        c = r.refresh_cookie();
    }
    w.f.clock.advance(Duration::from_secs(6 * 86_400 + 1));
    assert_eq!(w.refresh(&c).await.status, 401, "30 days");
}

async fn refresh_racing_logout_leaves_no_live_session(f: Fixture) {
    let w = Arc::new(world(f).await);
    let email = format!("{}@example.com", unique("u"));
    w.register(&email, PASSWORD).await;
    for _ in 0..3 {
        let c = w.login(&email, PASSWORD, &[]).await.refresh_cookie();
        let (w1, w2, c1, c2) = (w.clone(), w.clone(), c.clone(), c.clone());
        let (r, l) = tokio::join!(
            tokio::spawn(async move { w1.refresh(&c1).await }),
            tokio::spawn(async move {
                w2.call("POST", "/auth/logout", &[("Cookie", &c2)], None)
                    .await
            }),
        );
        let (r, l) = (r.unwrap(), l.unwrap());
        assert_eq!(l.status, 204);
        if r.status == 200 {
            let successor = r.refresh_cookie();
            assert_eq!(w.refresh(&successor).await.status, 401);
        }
        assert_eq!(w.refresh(&c).await.status, 401);
    }
}

async fn concurrent_refreshes_leave_one_live_successor(f: Fixture) {
    let w = Arc::new(world(f).await);
    let email = format!("{}@example.com", unique("u"));
    w.register(&email, PASSWORD).await;
    let first = w.login(&email, PASSWORD, &[]).await.refresh_cookie();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (w, c) = (w.clone(), first.clone());
        tasks.push(tokio::spawn(async move { w.refresh(&c).await }));
    }
    let mut successors = std::collections::BTreeSet::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200);
        successors.insert(r.refresh_cookie());
    }
    assert_eq!(successors.len(), 1, "exactly one successor");
    let next = successors.into_iter().next().unwrap();
    assert_eq!(w.refresh(&next).await.status, 200);
}

async fn a_refresh_from_another_device_is_refused_and_ends_the_session(f: Fixture) {
    let w = world(f).await;
    let email = format!("{}@example.com", unique("u"));
    w.register(&email, PASSWORD).await;
    let c = w.login(&email, PASSWORD, &[]).await.refresh_cookie();
    let stolen = request_from(
        Some(w.ip),
        "POST",
        &format!("{}/auth/refresh", w.base),
        &[("Cookie", &c), ("User-Agent", "curl/8.0")],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(stolen.status, 401);
    assert_eq!(w.refresh(&c).await.status, 401);
}

async fn cross_site_cookie_requests_are_refused(f: Fixture) {
    let w = world(f).await;
    let email = format!("{}@example.com", unique("u"));
    w.register(&email, PASSWORD).await;
    let c = w.login(&email, PASSWORD, &[]).await.refresh_cookie();
    let r = w
        .call(
            "POST",
            "/auth/refresh",
            &[("Cookie", &c), ("Origin", "https://evil.example")],
            None,
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(w.refresh(&c).await.status, 200);
}

async fn password_change_revokes_other_sessions_and_old_tokens(f: Fixture) {
    let w = world(f).await;
    let email = format!("{}@example.com", unique("u"));
    w.register(&email, PASSWORD).await;
    let a = w.login(&email, PASSWORD, &[]).await;
    let b = w.login(&email, PASSWORD, &[]).await;
    let (a_token, a_cookie, b_cookie) = (token(&a), a.refresh_cookie(), b.refresh_cookie());
    let bearer = format!("Bearer {a_token}");
    let bad = w
        .call("POST", "/auth/password", &[("Authorization", &bearer)],
              Some(json!({"current_password": "not it", "new_password": "quince lantern orbits the fjord"})))
        .await;
    assert_eq!(bad.status, 401);
    let weak = w
        .call(
            "POST",
            "/auth/password",
            &[("Authorization", &bearer)],
            Some(json!({"current_password": PASSWORD, "new_password": "short"})),
        )
        .await;
    assert_eq!(weak.status, 400);
    let ok = w
        .call("POST", "/auth/password", &[("Authorization", &bearer)],
              Some(json!({"current_password": PASSWORD, "new_password": "quince lantern orbits the fjord"})))
        .await;
    assert_eq!(ok.status, 204, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(w.me(&bearer).await.status, 401);
    assert_eq!(w.refresh(&b_cookie).await.status, 401);
    let a2 = w.refresh(&a_cookie).await;
    assert_eq!(a2.status, 200, "this session continues");
    let me = w
        .call(
            "GET",
            "/me",
            &[("Authorization", &format!("Bearer {}", token(&a2)))],
            None,
        )
        .await;
    assert_eq!(me.status, 200);
    assert_eq!(w.login(&email, PASSWORD, &[]).await.status, 401);
    assert_eq!(
        w.login(&email, "quince lantern orbits the fjord", &[])
            .await
            .status,
        200
    );
}

async fn a_breached_password_only_allows_a_password_change(f: Fixture) {
    let w = world(f).await;
    let email = format!("{}@example.com", unique("u"));
    // Registration fails closed on the breach check...
    let r = w
        .call(
            "POST",
            "/auth/register",
            &[],
            Some(json!({"email": email, "password": "correct horse battery staple, breached"})),
        )
        .await;
    assert_eq!(r.status, 400);
    // ...but a password breached after registration is caught at login.
    w.register(&email, PASSWORD).await;
    w.state
        .users()
        .flag_breached(
            &w.state
                .users()
                .find_by_email(&email)
                .await
                .unwrap()
                .unwrap()
                .id,
        )
        .await
        .unwrap();
    let r = w.login(&email, PASSWORD, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["password_change_required"], true);
    let bearer = format!("Bearer {}", token(&r));
    assert_eq!(w.me(&bearer).await.status, 403);
    let ok = w
        .call("POST", "/auth/password", &[("Authorization", &bearer)],
              Some(json!({"current_password": PASSWORD, "new_password": "quince lantern orbits the fjord"})))
        .await;
    assert_eq!(ok.status, 204);
    let r = w
        .login(&email, "quince lantern orbits the fjord", &[])
        .await;
    assert_eq!(r.json()["password_change_required"], false);
}

async fn access_tokens_expire_and_rotation_is_prompted_after_a_year(f: Fixture) {
    let w = world(f).await;
    let email = format!("{}@example.com", unique("u"));
    w.register(&email, PASSWORD).await;
    let bearer = format!("Bearer {}", token(&w.login(&email, PASSWORD, &[]).await));
    w.f.clock.advance(Duration::from_secs(899));
    assert_eq!(w.me(&bearer).await.status, 200);
    w.f.clock.advance(Duration::from_secs(10));
    assert_eq!(w.me(&bearer).await.status, 401);
    w.f.clock.advance(Duration::from_secs(366 * 86_400));
    let r = w.login(&email, PASSWORD, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["password_rotation_due"], true);
}

async fn sessions_are_listed_and_revocable_by_their_owner_only(f: Fixture) {
    let w = world(f).await;
    let (e1, e2) = (
        format!("{}@example.com", unique("u")),
        format!("{}@example.com", unique("u")),
    );
    w.register(&e1, PASSWORD).await;
    w.register(&e2, PASSWORD).await;
    let a = w.login(&e1, PASSWORD, &[]).await;
    let _ = w.login(&e1, PASSWORD, &[]).await;
    let other = w.login(&e2, PASSWORD, &[]).await;
    let bearer = format!("Bearer {}", token(&a));
    let list = w
        .call("GET", "/me/sessions", &[("Authorization", &bearer)], None)
        .await
        .json();
    let sessions = list["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    let victim = w
        .call(
            "GET",
            "/me/sessions",
            &[("Authorization", &format!("Bearer {}", token(&other)))],
            None,
        )
        .await
        .json();
    let victim_sid = victim["current"].as_str().unwrap();
    let r = w
        .call(
            "DELETE",
            &format!("/me/sessions/{victim_sid}"),
            &[("Authorization", &bearer)],
            None,
        )
        .await;
    assert_eq!(r.status, 404, "another user's session is not found");
    let mine = sessions
        .iter()
        .find(|s| s["id"] != list["current"])
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = w
        .call(
            "DELETE",
            &format!("/me/sessions/{mine}"),
            &[("Authorization", &bearer)],
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let list = w
        .call("GET", "/me/sessions", &[("Authorization", &bearer)], None)
        .await
        .json();
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
}

warden_tests::on_both_backends!(
    login_issues_tokens_and_secure_cookies,
    wrong_password_and_unknown_email_are_indistinguishable,
    five_failures_lock_for_a_day_and_success_resets,
    concurrent_wrong_attempts_count_exactly_five,
    a_known_device_is_not_locked_out_by_others,
    refresh_rotates_and_reuse_revokes_the_family,
    refresh_tokens_expire_when_idle_and_at_their_absolute_lifetime,
    refresh_racing_logout_leaves_no_live_session,
    concurrent_refreshes_leave_one_live_successor,
    a_refresh_from_another_device_is_refused_and_ends_the_session,
    cross_site_cookie_requests_are_refused,
    password_change_revokes_other_sessions_and_old_tokens,
    a_breached_password_only_allows_a_password_change,
    access_tokens_expire_and_rotation_is_prompted_after_a_year,
    sessions_are_listed_and_revocable_by_their_owner_only,
);

/// A breach service that is down.
struct Down;

#[async_trait::async_trait]
impl BreachedPasswords for Down {
    async fn times_seen(&self, _: &SecretString) -> warden_core::Result<u64> {
        Err(warden_core::Error::Unavailable(
            "breach service down".into(),
        ))
    }
}

#[tokio::test]
async fn breach_check_fails_closed_at_registration_and_soft_at_login() {
    // One store: the user registers while the check works, then the check goes down.
    let up = world(warden_tests::fixtures::embedded()).await;
    let email = format!("{}@example.com", unique("u"));
    up.register(&email, PASSWORD).await;
    let down = Services::with_breach_check(test_config(), up.f.backends.clone(), Arc::new(Down))
        .await
        .unwrap();
    let base = serve(down, &up.f).await;
    let post = |path: &'static str, body: Value| {
        let url = format!("{base}{path}");
        async move {
            request(
                "POST",
                &url,
                &[("Content-Type", "application/json"), ("User-Agent", UA)],
                body.to_string().as_bytes(),
            )
            .await
            .unwrap()
        }
    };
    let other = format!("{}@example.com", unique("v"));
    let r = post(
        "/auth/register",
        json!({"email": other, "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status, 503, "registration fails closed");
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert!(
        !String::from_utf8_lossy(&r.body).contains("breach service down"),
        "no dependency detail leaks"
    );
    let r = post("/auth/login", json!({"email": email, "password": PASSWORD})).await;
    assert_eq!(r.status, 200, "login fails soft");
    assert_eq!(r.json()["password_change_required"], false);
}

#[tokio::test]
async fn logout_ends_only_the_holders_session() {
    let w = world(warden_tests::fixtures::embedded()).await;
    let email = format!("{}@example.com", unique("u"));
    w.register(&email, PASSWORD).await;
    let first = w.login(&email, PASSWORD, &[]).await.refresh_cookie();
    let second = w.refresh(&first).await.refresh_cookie();
    w.f.clock.advance(Duration::from_secs(11));
    // A stale token cannot end the session...
    let r = w
        .call("POST", "/auth/logout", &[("Cookie", &first)], None)
        .await;
    assert_eq!(r.status, 204);
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.contains("Max-Age=0"))
    );
    let still = w.refresh(&second).await;
    assert_eq!(still.status, 200, "the session survived the stale logout");
    let third = still.refresh_cookie();
    // ...the holder of the current one can, and then it no longer refreshes.
    assert_eq!(
        w.call("POST", "/auth/logout", &[("Cookie", &third)], None)
            .await
            .status,
        204
    );
    assert_eq!(w.refresh(&third).await.status, 401);
}

#[tokio::test]
async fn turning_the_pepper_on_rehashes_at_the_next_login() {
    let plain = world(warden_tests::fixtures::embedded()).await;
    let email = format!("{}@example.com", unique("p"));
    plain.register(&email, PASSWORD).await;
    let mut config = test_config();
    config.password_pepper = true;
    let peppered = Services::new(config, plain.f.backends.clone())
        .await
        .unwrap();
    let base = serve(peppered.clone(), &plain.f).await;
    let login = || {
        let url = format!("{base}/auth/login");
        let body = json!({"email": email, "password": PASSWORD}).to_string();
        async move {
            request(
                "POST",
                &url,
                &[("Content-Type", "application/json"), ("User-Agent", UA)],
                body.as_bytes(),
            )
            .await
            .unwrap()
            .status
        }
    };
    let stored = || async {
        peppered
            .users()
            .find_by_email(&email)
            .await
            .unwrap()
            .unwrap()
            .account
            .password_hash
    };
    assert!(!stored().await.contains("pepper=1"));
    assert_eq!(login().await, 200);
    assert!(
        stored().await.contains("pepper=1"),
        "rehashed with the pepper"
    );
    assert_eq!(login().await, 200);
    // Turning it off again works too: Warden can always derive the pepper, and rehashes without.
    assert_eq!(plain.login(&email, PASSWORD, &[]).await.status, 200);
    assert!(!stored().await.contains("pepper=1"));
}
