//! Second factors over HTTP, on both backends, with an authenticator computed from RFC 6238 in
//! the tests (`warden_tests::totp`): enrolment and confirmation, the sign-in's second step, a
//! replayed code, wrong codes spending the challenge and locking the account's counter (but
//! neither the recovery codes nor the owner), a recovery code working once, a challenge bound to
//! its device, removal needing a sign-in with the factor, and racing requests with one code.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::{Value, json};
use warden_core::clock::Clock;
use warden_tests::api::{Api, PASSWORD, claims};
use warden_tests::fixtures::{Fixture, test_config};
use warden_tests::http_client::{Response, unique_loopback};
use warden_tests::totp;

fn text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).to_string()
}

struct Account {
    email: String,
    bearer: String,
    secret: String,
    recovery_codes: Vec<String>,
}

struct World {
    f: Fixture,
    api: Api,
    ip: IpAddr,
}

impl World {
    async fn new(f: Fixture) -> World {
        let api = Api::new(&f, test_config()).await;
        World {
            f,
            api,
            ip: unique_loopback(),
        }
    }

    fn now_secs(&self) -> i64 {
        self.f.clock.now().secs()
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        self.api.call_as(self.ip, bearer, method, path, body).await
    }

    /// A signed-up account with an authenticator app enrolled and confirmed; the clock is then
    /// moved to the next time step (so the confirming code is not the next one's).
    async fn enrolled(&self) -> Account {
        let (email, login) = self.api.signed_up(self.ip).await;
        let bearer = login.json()["access_token"].as_str().unwrap().to_string();
        let r = self.call("POST", "/me/mfa/totp", Some(&bearer), None).await;
        assert_eq!(r.status, 200, "{}", text(&r));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let enrolment = r.json();
        let secret = enrolment["secret"].as_str().unwrap().to_string();
        let uri = enrolment["otpauth_uri"].as_str().unwrap();
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(uri.contains(&format!("secret={secret}")), "{uri}");
        assert!(enrolment["qr_svg"].as_str().unwrap().contains("<svg"));
        let wrong = self
            .call(
                "POST",
                "/me/mfa/totp/confirm",
                Some(&bearer),
                Some(json!({"code": "000000"})),
            )
            .await;
        assert_eq!(wrong.status, 400, "{}", text(&wrong));
        let code = totp::code(&secret, self.now_secs());
        let r = self
            .call(
                "POST",
                "/me/mfa/totp/confirm",
                Some(&bearer),
                Some(json!({ "code": code })),
            )
            .await;
        assert_eq!(r.status, 200, "{}", text(&r));
        let recovery_codes: Vec<String> =
            serde_json::from_value(r.json()["recovery_codes"].clone()).unwrap();
        self.f.clock.advance(Duration::from_secs(30));
        Account {
            email,
            bearer,
            secret,
            recovery_codes,
        }
    }

    /// A correct password for `a`: the second step's token.
    async fn challenge(&self, a: &Account) -> String {
        let r = self.api.login(self.ip, &a.email, PASSWORD, &[]).await;
        assert_eq!(r.status, 200, "{}", text(&r));
        assert!(
            r.header("set-cookie").is_none(),
            "no cookie before the second step"
        );
        let body = r.json();
        assert_eq!(body["mfa_required"], true, "{body}");
        assert!(body.get("access_token").is_none(), "{body}");
        assert_eq!(body["methods"], json!(["totp", "recovery"]));
        body["mfa_token"].as_str().unwrap().to_string()
    }

    async fn second_step(&self, method: &str, mfa_token: &str, code: &str) -> Response {
        self.call(
            "POST",
            &format!("/auth/mfa/{method}"),
            None,
            Some(json!({ "mfa_token": mfa_token, "code": code })),
        )
        .await
    }

    async fn reauthenticate(&self, bearer: &str, body: Value) -> Response {
        self.call("POST", "/auth/reauthenticate", Some(bearer), Some(body))
            .await
    }

    fn code_now(&self, a: &Account) -> String {
        totp::code(&a.secret, self.now_secs())
    }
}

async fn a_confirmed_factor_is_asked_for_at_sign_in_and_a_code_works_once(f: Fixture) {
    let w = World::new(f).await;
    let a = w.enrolled().await;
    assert_eq!(a.recovery_codes.len(), 10);
    let distinct: std::collections::BTreeSet<_> = a.recovery_codes.iter().collect();
    assert_eq!(distinct.len(), 10);
    let again = w.call("POST", "/me/mfa/totp", Some(&a.bearer), None).await;
    assert_eq!(again.status, 409, "{}", text(&again));

    let token = w.challenge(&a).await;
    // The second step's token is no bearer token.
    let me = w.call("GET", "/me", Some(&token), None).await;
    assert_eq!(me.status, 401);
    let code = w.code_now(&a);
    let done = w.second_step("totp", &token, &code).await;
    assert_eq!(done.status, 200, "{}", text(&done));
    assert!(
        done.cookie("__Secure-warden-refresh").is_some(),
        "the refresh cookie"
    );
    let c = claims(done.json()["access_token"].as_str().unwrap());
    assert_eq!(c["amr"], json!(["pwd", "otp"]), "{c}");
    assert_eq!(c["acr"], "aal2", "{c}");
    // The same code again, with a fresh challenge: refused (accepted once per step).
    let token = w.challenge(&a).await;
    let replay = w.second_step("totp", &token, &code).await;
    assert_eq!(replay.status, 401, "{}", text(&replay));
    // A password-only sign-in of another account says so.
    let (_, plain) = w.api.signed_up(w.ip).await;
    let c = claims(plain.json()["access_token"].as_str().unwrap());
    assert_eq!(
        (c["amr"].clone(), c["acr"].clone()),
        (json!(["pwd"]), json!("aal1"))
    );
}

async fn five_wrong_codes_spend_the_challenge_and_lock_the_code_not_the_owner(f: Fixture) {
    let w = World::new(f).await;
    let a = w.enrolled().await;
    let token = w.challenge(&a).await;
    for _ in 0..5 {
        let r = w.second_step("totp", &token, "123456").await;
        assert!(matches!(r.status, 401 | 429), "{}", text(&r));
    }
    // The challenge is spent: even the right code no longer completes it.
    let spent = w.second_step("totp", &token, &w.code_now(&a)).await;
    assert!(matches!(spent.status, 401 | 429), "{}", text(&spent));
    // The account's code counter is locked (the codes came from a device it does not know) …
    let token = w.challenge(&a).await;
    let locked = w.second_step("totp", &token, &w.code_now(&a)).await;
    assert_eq!(locked.status, 429, "{}", text(&locked));
    // … but a recovery code still signs the owner in, and the password must change.
    let rescued = w
        .second_step("recovery", &token, &a.recovery_codes[0])
        .await;
    assert_eq!(rescued.status, 200, "{}", text(&rescued));
    assert_eq!(rescued.json()["password_change_required"], true);
    let mail = w.f.mail_to(&a.email).await;
    assert!(
        mail.iter().any(|m| m.subject.contains("knows your")),
        "the owner is told someone knows the password: {:?}",
        mail.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
}

async fn a_recovery_code_signs_in_once(f: Fixture) {
    let w = World::new(f).await;
    let a = w.enrolled().await;
    let code = a.recovery_codes[3].to_uppercase().replace('-', " ");
    let token = w.challenge(&a).await;
    let done = w.second_step("recovery", &token, &code).await;
    assert_eq!(done.status, 200, "{}", text(&done));
    let token = w.challenge(&a).await;
    let again = w
        .second_step("recovery", &token, &a.recovery_codes[3])
        .await;
    assert_eq!(again.status, 401, "{}", text(&again));
    let other = w
        .second_step("recovery", &token, &a.recovery_codes[4])
        .await;
    assert_eq!(other.status, 200, "{}", text(&other));
}

async fn a_challenge_works_only_from_the_device_that_gave_the_password(f: Fixture) {
    let w = World::new(f).await;
    let a = w.enrolled().await;
    let token = w.challenge(&a).await;
    let elsewhere = w
        .api
        .call(
            w.ip,
            "POST",
            "/auth/mfa/totp",
            &[("User-Agent", "curl/8.0")],
            Some(json!({"mfa_token": token, "code": w.code_now(&a)})),
        )
        .await;
    assert_eq!(elsewhere.status, 401, "{}", text(&elsewhere));
    let here = w.second_step("totp", &token, &w.code_now(&a)).await;
    assert_eq!(here.status, 200, "{}", text(&here));
}

async fn enrolling_needs_a_recent_sign_in_and_removing_one_with_the_factor(f: Fixture) {
    let w = World::new(f).await;
    let a = w.enrolled().await;
    // A password-only sign-in cannot remove the factor.
    let refused = w
        .call("DELETE", "/me/mfa/totp", Some(&a.bearer), None)
        .await;
    assert_eq!(refused.status, 403, "{}", text(&refused));
    assert_eq!(
        refused.json()["type"],
        "urn:warden:problem:step-up-required"
    );
    let token = w.challenge(&a).await;
    let done = w.second_step("totp", &token, &w.code_now(&a)).await;
    let bearer = done.json()["access_token"].as_str().unwrap().to_string();
    let removed = w.call("DELETE", "/me/mfa/totp", Some(&bearer), None).await;
    assert_eq!(removed.status, 204, "{}", text(&removed));
    let again = w.call("DELETE", "/me/mfa/totp", Some(&bearer), None).await;
    assert_eq!(again.status, 404, "{}", text(&again));
    // The password alone signs in again; the old recovery codes are gone with the factor.
    let plain = w.api.login(w.ip, &a.email, PASSWORD, &[]).await;
    assert!(plain.json()["access_token"].is_string(), "{}", text(&plain));
    let mail = w.f.mail_to(&a.email).await;
    assert!(mail.iter().any(|m| m.subject.contains("second factor")));
    // Six minutes later the sign-in is no longer fresh enough to enrol.
    w.f.clock.advance(Duration::from_secs(360));
    let stale = w.call("POST", "/me/mfa/totp", Some(&bearer), None).await;
    assert_eq!(stale.status, 403, "{}", text(&stale));
    assert_eq!(stale.json()["type"], "urn:warden:problem:step-up-required");
}

async fn racing_requests_with_one_code_complete_one_sign_in(f: Fixture) {
    let w = World::new(f).await;
    let a = w.enrolled().await;
    // One challenge, one code, eight requests at once.
    let token = w.challenge(&a).await;
    let code = w.code_now(&a);
    let answers =
        warden_tests::join_all((0..8).map(|_| w.second_step("totp", &token, &code))).await;
    let ok = answers.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    // One recovery code on two challenges at once.
    let (t1, t2) = (w.challenge(&a).await, w.challenge(&a).await);
    let code = &a.recovery_codes[7];
    let (r1, r2) = tokio::join!(
        w.second_step("recovery", &t1, code),
        w.second_step("recovery", &t2, code)
    );
    assert_eq!(
        [r1.status, r2.status].iter().filter(|s| **s == 200).count(),
        1,
        "{} {}",
        text(&r1),
        text(&r2)
    );
}

async fn with_a_factor_sensitive_operations_need_a_fresh_step_up_that_used_it(f: Fixture) {
    let w = World::new(f).await;
    let a = w.enrolled().await;
    let export = json!({"type": "export"});
    let change =
        json!({"current_password": PASSWORD, "new_password": "quince lantern orbits the fjord"});
    // The enrolling sign-in (password only, still recent) is not enough any more.
    for (path, body) in [("/privacy/gdpr", &export), ("/auth/password", &change)] {
        let r = w
            .call("POST", path, Some(&a.bearer), Some(body.clone()))
            .await;
        assert_eq!(r.status, 403, "{path}: {}", text(&r));
        assert_eq!(r.json()["type"], "urn:warden:problem:step-up-required");
    }
    let up = w
        .reauthenticate(&a.bearer, json!({"code": w.code_now(&a)}))
        .await;
    assert_eq!(up.status, 200, "{}", text(&up));
    let strong = up.json()["access_token"].as_str().unwrap().to_string();
    let (before, after) = (claims(&a.bearer), claims(&strong));
    assert_eq!(after["sid"], before["sid"], "the same session");
    assert_eq!(after["amr"], json!(["pwd", "otp"]));
    assert_eq!(after["acr"], "aal2");
    assert_eq!(after["auth_time"], json!(w.now_secs()));
    let r = w
        .call("POST", "/privacy/gdpr", Some(&strong), Some(export.clone()))
        .await;
    assert_eq!(r.status, 202, "{}", text(&r));
    // The same code again: refused.
    let replay = w
        .reauthenticate(&a.bearer, json!({"code": w.code_now(&a)}))
        .await;
    assert_eq!(replay.status, 401, "{}", text(&replay));
    // Five minutes on, the step-up is stale.
    w.f.clock.advance(Duration::from_secs(301));
    let r = w
        .call("POST", "/auth/password", Some(&strong), Some(change))
        .await;
    assert_eq!(r.status, 403, "{}", text(&r));
}

async fn a_step_up_with_the_password_freshens_a_sign_in_without_a_factor(f: Fixture) {
    let w = World::new(f).await;
    let (_, login) = w.api.signed_up(w.ip).await;
    let bearer = login.json()["access_token"].as_str().unwrap().to_string();
    w.f.clock.advance(Duration::from_secs(360));
    let export = json!({"type": "export"});
    let stale = w
        .call("POST", "/privacy/gdpr", Some(&bearer), Some(export.clone()))
        .await;
    assert_eq!(stale.status, 401, "{}", text(&stale));
    for body in [json!({}), json!({"password": PASSWORD, "code": "123456"})] {
        let r = w.reauthenticate(&bearer, body).await;
        assert_eq!(r.status, 400, "{}", text(&r));
    }
    // No authenticator app: a code is refused as such (409), and counts as no failure.
    let r = w.reauthenticate(&bearer, json!({"code": "123456"})).await;
    assert_eq!(r.status, 409, "{}", text(&r));
    let wrong = w
        .reauthenticate(&bearer, json!({"password": "not the password at all"}))
        .await;
    assert_eq!(wrong.status, 401, "{}", text(&wrong));
    let up = w
        .reauthenticate(&bearer, json!({ "password": PASSWORD }))
        .await;
    assert_eq!(up.status, 200, "{}", text(&up));
    let fresh = up.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(claims(&fresh)["amr"], json!(["pwd"]));
    assert_eq!(claims(&fresh)["auth_time"], json!(w.now_secs()));
    let r = w
        .call("POST", "/privacy/gdpr", Some(&fresh), Some(export))
        .await;
    assert_eq!(r.status, 202, "{}", text(&r));
}

async fn wrong_codes_after_the_password_are_an_alert_and_a_password_change_not_a_lock(f: Fixture) {
    let w = World::new(f).await;
    let a = w.enrolled().await;
    let token = w.challenge(&a).await;
    for _ in 0..3 {
        let r = w.second_step("totp", &token, "999999").await;
        assert_eq!(r.status, 401, "{}", text(&r));
    }
    let monitor = warden_core::services::Services::new(test_config(), w.f.backends.clone())
        .await
        .unwrap();
    let report = warden_core::monitor::scan(&monitor.monitor())
        .await
        .unwrap();
    let user_id = claims(&a.bearer)["sub"].as_str().unwrap().to_string();
    let prefix = format!("second-factor-failures:{user_id}:");
    assert!(
        report.alerts.iter().any(|a| a.starts_with(&prefix)),
        "{:?}",
        report.alerts
    );
    // Not locked: the owner signs in with the password and the code, and must change the password.
    let token = w.challenge(&a).await;
    let done = w.second_step("totp", &token, &w.code_now(&a)).await;
    assert_eq!(done.status, 200, "{}", text(&done));
    assert_eq!(done.json()["password_change_required"], true);
    let mail = w.f.mail_to(&a.email).await;
    assert!(mail.iter().any(|m| m.subject.contains("knows your")));
}

async fn a_remembered_device_signs_in_with_the_password_until_it_is_forgotten(f: Fixture) {
    let w = World::new(f).await;
    let a = w.enrolled().await;
    let token = w.challenge(&a).await;
    let done = w
        .call(
            "POST",
            "/auth/mfa/totp",
            None,
            Some(json!({"mfa_token": token, "code": w.code_now(&a), "remember_device": true})),
        )
        .await;
    assert_eq!(done.status, 200, "{}", text(&done));
    let cookie = done
        .cookie("__Host-warden-device")
        .expect("a device cookie");
    let with_cookie = [("Cookie", cookie.as_str())];
    // From the remembered device: the password alone, and a one-factor session.
    let r = w.api.login(w.ip, &a.email, PASSWORD, &with_cookie).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let body = r.json();
    let c = claims(
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("signed in without a code: {body} ({cookie})")),
    );
    assert_eq!(
        (c["amr"].clone(), c["acr"].clone()),
        (json!(["pwd"]), json!("aal1"))
    );
    // From anywhere else: the code.
    w.challenge(&a).await;
    // Removing the factor forgets the device; enrolling again asks for codes on it again.
    let token = w.challenge(&a).await;
    let strong = w
        .second_step("recovery", &token, &a.recovery_codes[0])
        .await
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let removed = w.call("DELETE", "/me/mfa/totp", Some(&strong), None).await;
    assert_eq!(removed.status, 204, "{}", text(&removed));
    let r = w.call("POST", "/me/mfa/totp", Some(&strong), None).await;
    let secret = r.json()["secret"].as_str().unwrap().to_string();
    let confirm = w
        .call(
            "POST",
            "/me/mfa/totp/confirm",
            Some(&strong),
            Some(json!({"code": totp::code(&secret, w.now_secs())})),
        )
        .await;
    assert_eq!(confirm.status, 200, "{}", text(&confirm));
    let r = w.api.login(w.ip, &a.email, PASSWORD, &with_cookie).await;
    assert_eq!(r.json()["mfa_required"], true, "{}", text(&r));
}

async fn a_remembered_device_is_forgotten_after_its_time(f: Fixture) {
    let w = World::new(f).await;
    let a = w.enrolled().await;
    let token = w.challenge(&a).await;
    let done = w
        .call(
            "POST",
            "/auth/mfa/recovery",
            None,
            Some(json!({"mfa_token": token, "code": a.recovery_codes[1], "remember_device": true})),
        )
        .await;
    assert_eq!(done.status, 200, "{}", text(&done));
    let cookie = done
        .cookie("__Host-warden-device")
        .expect("a device cookie");
    let remembered = w
        .api
        .login(w.ip, &a.email, PASSWORD, &[("Cookie", cookie.as_str())])
        .await;
    assert!(
        remembered.json()["access_token"].is_string(),
        "{}",
        text(&remembered)
    );
    w.f.clock.advance(Duration::from_secs(31 * 86_400));
    let r = w
        .api
        .login(w.ip, &a.email, PASSWORD, &[("Cookie", cookie.as_str())])
        .await;
    assert_eq!(r.json()["mfa_required"], true, "{}", text(&r));
}

async fn a_route_configured_for_two_factors_refuses_a_password_only_sign_in(f: Fixture) {
    let mut config = test_config();
    config.second_factor_routes = vec![("GET".into(), "/me/sessions".into())];
    let api = Api::new(&f, config).await;
    let w = World {
        f,
        api,
        ip: unique_loopback(),
    };
    let a = w.enrolled().await;
    let refused = w.call("GET", "/me/sessions", Some(&a.bearer), None).await;
    assert_eq!(refused.status, 403, "{}", text(&refused));
    assert_eq!(
        refused.json()["type"],
        "urn:warden:problem:step-up-required"
    );
    let other = w.call("GET", "/me", Some(&a.bearer), None).await;
    assert_eq!(other.status, 200, "an unlisted route: {}", text(&other));
    let token = w.challenge(&a).await;
    let strong = w.second_step("totp", &token, &w.code_now(&a)).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let allowed = w.call("GET", "/me/sessions", Some(&strong), None).await;
    assert_eq!(allowed.status, 200, "{}", text(&allowed));
}

warden_tests::on_both_backends!(
    a_route_configured_for_two_factors_refuses_a_password_only_sign_in,
    a_remembered_device_signs_in_with_the_password_until_it_is_forgotten,
    a_remembered_device_is_forgotten_after_its_time,
    wrong_codes_after_the_password_are_an_alert_and_a_password_change_not_a_lock,
    with_a_factor_sensitive_operations_need_a_fresh_step_up_that_used_it,
    a_step_up_with_the_password_freshens_a_sign_in_without_a_factor,
    a_confirmed_factor_is_asked_for_at_sign_in_and_a_code_works_once,
    five_wrong_codes_spend_the_challenge_and_lock_the_code_not_the_owner,
    a_recovery_code_signs_in_once,
    a_challenge_works_only_from_the_device_that_gave_the_password,
    enrolling_needs_a_recent_sign_in_and_removing_one_with_the_factor,
    racing_requests_with_one_code_complete_one_sign_in,
);
