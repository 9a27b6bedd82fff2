//! Every function's IAM statements in `template.yaml` allow what its code does, and no more
//! than the finding on least privilege asks: each function's flows (and its cold start, on an
//! empty and on a used store) run over wrappers that record each AWS request with the values
//! IAM conditions on (partition key, attributes written, encryption context; see
//! `warden_tests::iam`), and every recorded request must be allowed by the function's
//! statements, conditions included. moto does not enforce IAM, so this is the test that catches
//! a missing or a too-narrow permission before a deployment does; the tests at the end pin what
//! the template must refuse (a public function writing a user's data key or sessions, any
//! function but the scan creating the server secret, an unguarded `ForAllValues`).

use std::collections::BTreeSet;
use std::sync::Arc;

use warden_core::backends::Backends;
use warden_core::crypto::server_secret::Provisioning;
use warden_core::services::{AppState, Services};
use warden_tests::fixtures::{Fixture, embedded, test_config};
use warden_tests::iam::{
    Access, Recorded, RecordingBlobs, RecordingBus, RecordingKeys, RecordingMailer, RecordingTable,
    allows, function_statements, resource_block, template_text,
};
use warden_tests::in_process::{bearer, json, refresh_cookie, send};

type Actions = Recorded;

/// The server secret mode `template.yaml` gives `<name>Function`: the Globals' value unless the
/// function sets its own.
fn provisioning(name: &str) -> Provisioning {
    let template = template_text();
    let own = resource_block(&template, &format!("{name}Function"));
    let globals = resource_block(&template, "Function");
    let value = |block: &str| {
        block
            .lines()
            .find_map(|l| l.trim().strip_prefix("WARDEN_SERVER_SECRET: "))
            .map(str::to_string)
    };
    match value(own).or_else(|| value(globals)).as_deref() {
        Some("create") => Provisioning::Create,
        Some("read-only") => Provisioning::ReadOnly,
        other => panic!("{name}Function: WARDEN_SERVER_SECRET is {other:?}"),
    }
}

/// Services over recording wrappers, configured as `<name>Function` is deployed.
async fn services(name: &str, f: &Fixture, actions: &Actions) -> warden_core::Result<AppState> {
    let backends = Backends {
        table: Arc::new(RecordingTable(f.backends.table.clone(), actions.clone())),
        keys: Arc::new(RecordingKeys(f.backends.keys.clone(), actions.clone())),
        photos: Arc::new(RecordingBlobs(f.backends.photos.clone(), actions.clone())),
        exports: Arc::new(RecordingBlobs(f.backends.exports.clone(), actions.clone())),
        mailer: Arc::new(RecordingMailer(f.backends.mailer.clone(), actions.clone())),
        event_bus: f.backends.event_bus.clone().map(|bus| {
            Arc::new(RecordingBus(bus, actions.clone()))
                as Arc<dyn warden_core::event_bus::EventBus>
        }),
        ..f.backends.clone()
    };
    let mut config = passkey_config();
    config.server_secret = provisioning(name);
    Services::new(config, backends).await
}

/// The test configuration with a relying party for passkeys.
fn passkey_config() -> warden_core::config::Config {
    let mut config = test_config();
    config.rp_id = Some("localhost".into());
    config.allowed_origins = vec![PASSKEY_ORIGIN.into()];
    config
}

const PASSKEY_ORIGIN: &str = "http://localhost:3000";

/// Registers a passkey through `router` for the signed-in `bearer`.
async fn register_passkey(
    router: &axum::Router,
    bearer: &str,
) -> warden_tests::authenticator::Credential {
    let auth = ("authorization", bearer);
    let options = json(send(router, "POST", "/me/passkeys/options", &[auth], "").await).await;
    let (credential, answer) = warden_tests::authenticator::create(
        &options["publicKey"],
        PASSKEY_ORIGIN,
        &Default::default(),
    );
    let body = serde_json::json!({"challenge_id": options["challenge_id"], "credential": answer, "name": "key"});
    let done = send(
        router,
        "POST",
        "/me/passkeys",
        &[JSON, auth],
        &body.to_string(),
    )
    .await;
    assert_eq!(done.status(), 201);
    credential
}

/// A sign-in ceremony through `router`, answered by `credential`: `{challenge_id, credential}`.
async fn passkey_assertion(
    router: &axum::Router,
    credential: &mut warden_tests::authenticator::Credential,
) -> serde_json::Value {
    let options = json(send(router, "POST", "/auth/passkeys/options", &[JSON], "{}").await).await;
    let assertion = credential.get(&options["publicKey"], PASSKEY_ORIGIN, &Default::default());
    serde_json::json!({"challenge_id": options["challenge_id"], "credential": assertion})
}

/// Signs in with `credential` through `router`: the bearer token.
async fn passkey_sign_in(
    router: &axum::Router,
    credential: &mut warden_tests::authenticator::Credential,
) -> String {
    let body = passkey_assertion(router, credential).await;
    warden_tests::in_process::bearer(
        send(
            router,
            "POST",
            "/auth/passkeys/login",
            &[JSON],
            &body.to_string(),
        )
        .await,
    )
    .await
}

/// The recorded cold start of `<name>Function` on an empty store: the creator of the server
/// secret builds, every other function fails closed.
async fn cold_start_on_an_empty_store(name: &str, actions: &Actions) {
    let started = services(name, &embedded(), actions).await;
    match provisioning(name) {
        Provisioning::Create => {
            started.unwrap();
        }
        Provisioning::ReadOnly => assert!(
            matches!(started, Err(warden_core::Error::Unavailable(_))),
            "{name}Function must not start without the server secret"
        ),
    }
}

const JSON: (&str, &str) = ("content-type", "application/json");
const CREDS: &str = r#"{"email":"iam@example.com","password":"marmalade kiln wobbles at dusk"}"#;
const WRONG: &str = r#"{"email":"iam@example.com","password":"wrong wrong wrong"}"#;

/// A store where an account exists, with a session (and `failures` wrong-password logins);
/// returns the refresh cookie and the bearer token of that session.
async fn used_store(failures: usize) -> (Fixture, String, String) {
    let f = embedded();
    let setup = Services::new(test_config(), f.backends.clone())
        .await
        .unwrap();
    let router = warden_local::router(setup, None, warden_tests::fixtures::operator());
    warden_tests::in_process::register_verified(
        &router,
        &f.mailbox(),
        "iam@example.com",
        "marmalade kiln wobbles at dusk",
    )
    .await;
    let login = send(&router, "POST", "/auth/login", &[JSON], CREDS).await;
    let cookie = refresh_cookie(&login);
    let token = bearer(login).await;
    for _ in 0..failures {
        send(&router, "POST", "/auth/login", &[JSON], WRONG).await;
    }
    (f, cookie, token)
}

/// Every route, on unrecorded services over the fixture's backends (the other functions' part
/// of a flow).
/// Places a legal hold on the account of `bearer` outside the function under test (an
/// operator's doing), so that the erasures it runs seal a copy.
async fn hold_account(f: &Fixture, bearer: &str) {
    let user = warden_tests::api::claims(bearer.trim_start_matches("Bearer "))["sub"]
        .as_str()
        .unwrap()
        .to_string();
    let s = Services::new(passkey_config(), f.backends.clone())
        .await
        .unwrap();
    let desk = warden_core::privacy::operations::Desk {
        s: s.privacy(),
        now: warden_core::clock::Clock::now(f.clock.as_ref()),
    };
    let op = warden_core::privacy::operations::Operator::local();
    desk.hold(&op, &user, "a pending claim", None, &Default::default())
        .await
        .unwrap();
}

async fn full_router(f: &Fixture) -> axum::Router {
    warden_local::router(
        Services::new(passkey_config(), f.backends.clone())
            .await
            .unwrap(),
        None,
        warden_tests::fixtures::operator(),
    )
}

/// Enrols and confirms an authenticator app through `router` for the signed-in `bearer`; moves
/// the clock to the next time step. Returns the secret and one recovery code.
async fn enrol_totp(f: &Fixture, router: &axum::Router, bearer: &str) -> (String, String) {
    use warden_core::clock::Clock;
    let auth = ("authorization", bearer);
    let begun = json(send(router, "POST", "/me/mfa/totp", &[auth], "").await).await;
    let secret = begun["secret"].as_str().expect("a secret").to_string();
    let code = warden_tests::totp::code(&secret, f.clock.now().secs());
    let body = serde_json::json!({ "code": code }).to_string();
    let confirmed =
        json(send(router, "POST", "/me/mfa/totp/confirm", &[JSON, auth], &body).await).await;
    f.clock.advance(std::time::Duration::from_secs(30));
    let recovery = confirmed["recovery_codes"][0]
        .as_str()
        .expect("recovery codes")
        .to_string();
    (secret, recovery)
}

/// Signs in with the password through `router`, then completes the second step with `code` at
/// `/auth/mfa/{method}` (asking to remember the device).
async fn second_step(router: &axum::Router, method: &str, code: &str) -> axum::response::Response {
    let challenge = json(send(router, "POST", "/auth/login", &[JSON], CREDS).await).await;
    let body = serde_json::json!({"mfa_token": challenge["mfa_token"], "code": code, "remember_device": true});
    send(
        router,
        "POST",
        &format!("/auth/mfa/{method}"),
        &[JSON],
        &body.to_string(),
    )
    .await
}

/// Removes the authenticator app through `router` with a token of a sign-in that used it.
async fn remove_totp(router: &axum::Router, bearer: &str) {
    let removed = send(
        router,
        "DELETE",
        "/me/mfa/totp",
        &[("authorization", bearer)],
        "",
    )
    .await;
    assert_eq!(removed.status(), 204);
}

/// Runs `flow` with a recorded cold start on an empty store and on a used one; returns the union.
async fn exercise(name: &str, routes: fn() -> axum::Router<AppState>) -> BTreeSet<Access> {
    let actions: Actions = Default::default();
    cold_start_on_an_empty_store(name, &actions).await;
    // A used store: an account exists, with a session.
    let (f, cookie, bearer) = used_store(0).await;
    let s = services(name, &f, &actions).await.unwrap();
    let r = warden_http::app(routes(), s.clone());
    match name {
        "Register" => {
            let new = r#"{"email":"new@example.com","password":"marmalade kiln wobbles at dusk"}"#;
            // A new address, the same again (the unverified account replaced), a taken one
            // (its holder told), and a resent link.
            for body in [new, new, CREDS] {
                let done = send(&r, "POST", "/auth/register", &[JSON], body).await;
                assert_eq!(done.status(), 202);
            }
            let resend = r#"{"email":"new@example.com"}"#;
            let done = send(&r, "POST", "/auth/email/resend", &[JSON], resend).await;
            assert_eq!(done.status(), 202);
        }
        "Login" => {
            send(&r, "POST", "/auth/login", &[JSON], CREDS).await;
            // A second factor (enrolled through the account function): a wrong code, a right
            // one and a recovery code complete sign-ins here; then it is removed again.
            let account = full_router(&f).await;
            let codes = enrol_totp(&f, &account, &bearer).await;
            let now = warden_core::clock::Clock::now(f.clock.as_ref()).secs();
            second_step(&r, "totp", "000000").await;
            second_step(&r, "totp", &warden_tests::totp::code(&codes.0, now)).await;
            let strong =
                warden_tests::in_process::bearer(second_step(&r, "recovery", &codes.1).await).await;
            remove_totp(&account, &strong).await;
            // A passkey (registered through the account function) signs in here.
            let mut passkey = register_passkey(&account, &bearer).await;
            passkey_sign_in(&r, &mut passkey).await;
            // A registration (elsewhere) refused sign-in before, and verified here.
            let register = warden_local::router(
                Services::new(test_config(), f.backends.clone())
                    .await
                    .unwrap(),
                None,
                warden_tests::fixtures::operator(),
            );
            let fresh =
                r#"{"email":"fresh@example.com","password":"marmalade kiln wobbles at dusk"}"#;
            send(&register, "POST", "/auth/register", &[JSON], fresh).await;
            let refused = send(&r, "POST", "/auth/login", &[JSON], fresh).await;
            assert_eq!(refused.status(), 403);
            let token = f
                .mailbox()
                .link_token("fresh@example.com", "/verify-email")
                .await
                .expect("a verification link");
            let body = serde_json::json!({ "token": token }).to_string();
            let done = send(&r, "POST", "/auth/email/verify", &[JSON], &body).await;
            assert_eq!(done.status(), 204);
            // Locks the account: the lock notice with its reset link.
            for _ in 0..6 {
                send(&r, "POST", "/auth/login", &[JSON], WRONG).await;
            }
            // Recovery: a link asked for, and used.
            let forgot = r#"{"email":"iam@example.com"}"#;
            send(&r, "POST", "/auth/password/forgot", &[JSON], forgot).await;
            let token = f
                .mailbox()
                .link_token("iam@example.com", "/reset-password")
                .await
                .expect("a reset link");
            let reset = serde_json::json!({"token": token, "new_password": "quince lantern orbits the fjord"});
            let done = send(
                &r,
                "POST",
                "/auth/password/reset",
                &[JSON],
                &reset.to_string(),
            )
            .await;
            assert_eq!(done.status(), 204);
            // An email change asked for elsewhere (the account function), completed here, then
            // undone from the old address.
            let account = warden_local::router(
                Services::new(test_config(), f.backends.clone())
                    .await
                    .unwrap(),
                None,
                warden_tests::fixtures::operator(),
            );
            let signed_in = send(
                &account,
                "POST",
                "/auth/login",
                &[JSON],
                r#"{"email":"iam@example.com","password":"quince lantern orbits the fjord"}"#,
            )
            .await;
            let token = warden_tests::in_process::bearer(signed_in).await;
            let change =
                r#"{"new_email":"moved@example.com","password":"quince lantern orbits the fjord"}"#;
            send(
                &account,
                "POST",
                "/me/email",
                &[JSON, ("authorization", &token)],
                change,
            )
            .await;
            let mailbox = f.mailbox();
            let verify = mailbox
                .link_token("moved@example.com", "/verify-email")
                .await
                .expect("the verify link");
            let body = serde_json::json!({"token": verify}).to_string();
            let done = send(&r, "POST", "/auth/email/verify", &[JSON], &body).await;
            assert_eq!(done.status(), 204);
            let undo = mailbox
                .link_token("iam@example.com", "/verify-email")
                .await
                .expect("the revert link");
            let body = serde_json::json!({"token": undo}).to_string();
            let done = send(&r, "POST", "/auth/email/verify", &[JSON], &body).await;
            assert_eq!(done.status(), 204);
        }
        "Refresh" => {
            let next = refresh_cookie(
                &send(&r, "POST", "/auth/refresh", &[("cookie", &cookie)], "").await,
            );
            // A replayed token past the grace: every session ends and the owner is told.
            f.clock.advance(std::time::Duration::from_secs(60));
            let replay = send(&r, "POST", "/auth/refresh", &[("cookie", &cookie)], "").await;
            assert_eq!(replay.status(), 401);
            send(&r, "POST", "/auth/logout", &[("cookie", &next)], "").await;
            assert!(
                f.mail_to("iam@example.com")
                    .await
                    .iter()
                    .any(|m| m.subject.contains("signed out")),
                "the sessions-ended notice"
            );
        }
        "Account" => {
            send(&r, "GET", "/me", &[("authorization", &bearer)], "").await;
            send(&r, "GET", "/me/sessions", &[("authorization", &bearer)], "").await;
            let auth = ("authorization", bearer.as_str());
            send(
                &r,
                "PATCH",
                "/me",
                &[JSON, auth],
                r#"{"display_name":"Ada"}"#,
            )
            .await;
            send(
                &r,
                "PUT",
                "/me/preferences",
                &[JSON, auth],
                r#"{"theme":"dark"}"#,
            )
            .await;
            send(&r, "GET", "/me/preferences", &[auth], "").await;
            send(
                &r,
                "POST",
                "/me/photos",
                &[JSON, auth],
                r#"{"content_type":"image/png"}"#,
            )
            .await;
            send(&r, "GET", "/me/photos", &[auth], "").await;
            // Global Privacy Control on any authenticated request records the opt-out.
            send(&r, "GET", "/me", &[auth, ("sec-gpc", "1")], "").await;
            send(
                &r,
                "DELETE",
                "/me/sessions/0123456789abcdef0123456789abcdef",
                &[("authorization", &bearer)],
                "",
            )
            .await;
            // A second factor enrolled here, used at a sign-in elsewhere, and removed here.
            let codes = enrol_totp(&f, &r, &bearer).await;
            // Step-ups: with the authenticator's code, and with the password.
            let now = warden_core::clock::Clock::now(f.clock.as_ref()).secs();
            for body in [
                serde_json::json!({ "code": warden_tests::totp::code(&codes.0, now) }),
                serde_json::json!({ "password": "marmalade kiln wobbles at dusk" }),
            ] {
                let up = send(
                    &r,
                    "POST",
                    "/auth/reauthenticate",
                    &[JSON, ("authorization", &bearer)],
                    &body.to_string(),
                )
                .await;
                assert_eq!(up.status(), 200);
            }
            let login = full_router(&f).await;
            let strong =
                warden_tests::in_process::bearer(second_step(&login, "recovery", &codes.1).await)
                    .await;
            remove_totp(&r, &strong).await;
            // A passkey registered, listed, used (elsewhere) and removed here.
            let mut passkey = register_passkey(&r, &bearer).await;
            send(&r, "GET", "/me/passkeys", &[("authorization", &bearer)], "").await;
            let login = full_router(&f).await;
            let strong_key = passkey_sign_in(&login, &mut passkey).await;
            // A step-up with it, here.
            let body = passkey_assertion(&login, &mut passkey).await;
            let up = send(
                &r,
                "POST",
                "/auth/reauthenticate",
                &[JSON, ("authorization", &bearer)],
                &body.to_string(),
            )
            .await;
            assert_eq!(up.status(), 200);
            let listed = json(
                send(
                    &r,
                    "GET",
                    "/me/passkeys",
                    &[("authorization", &strong_key)],
                    "",
                )
                .await,
            )
            .await;
            let id = listed["passkeys"][0]["id"]
                .as_str()
                .expect("a passkey")
                .to_string();
            let removed = send(
                &r,
                "DELETE",
                &format!("/me/passkeys/{id}"),
                &[("authorization", &strong_key)],
                "",
            )
            .await;
            assert_eq!(removed.status(), 204);
            send(&r, "POST", "/auth/password", &[JSON, ("authorization", &bearer)],
                 r#"{"current_password":"marmalade kiln wobbles at dusk","new_password":"quince lantern orbits the fjord"}"#).await;
        }
        "Gdpr" => {
            let auth = ("authorization", bearer.as_str());
            let export = send(
                &r,
                "POST",
                "/privacy/gdpr",
                &[JSON, auth],
                r#"{"type":"export"}"#,
            )
            .await;
            let id = json(export).await["request_id"]
                .as_str()
                .unwrap()
                .to_string();
            send(&r, "GET", &format!("/privacy/requests/{id}"), &[auth], "").await;
            // Without a session: an address with no account, and the account's own address
            // (its export), each confirmed from the link mailed to it.
            for email in ["nobody@example.com", "iam@example.com"] {
                let body = format!(r#"{{"email":"{email}","regime":"gdpr","type":"export"}}"#);
                let asked = send(&r, "POST", "/privacy/requests", &[JSON], &body).await;
                assert_eq!(asked.status(), 202);
                let token = f
                    .mailbox()
                    .link_token(email, "/privacy/verify")
                    .await
                    .expect("a confirmation link");
                let body = format!(r#"{{"token":"{token}"}}"#);
                let made = send(&r, "POST", "/privacy/requests/verify", &[JSON], &body).await;
                assert_eq!(made.status(), 200);
            }
            // Under a legal hold: the erasure seals the held copy first.
            hold_account(&f, &bearer).await;
            let erased = send(
                &r,
                "POST",
                "/privacy/gdpr",
                &[JSON, auth],
                r#"{"type":"delete"}"#,
            )
            .await;
            assert_eq!(
                json(erased).await["legal_hold"]["reason"],
                "a pending claim"
            );
        }
        "Ccpa" => {
            let auth = ("authorization", bearer.as_str());
            send(
                &r,
                "POST",
                "/privacy/ccpa",
                &[JSON, auth],
                r#"{"type":"do_not_sell"}"#,
            )
            .await;
            // Back in, in two steps (ask, confirm).
            for _ in 0..2 {
                let body = r#"{"type":"opt_in"}"#;
                send(&r, "POST", "/privacy/ccpa", &[JSON, auth], body).await;
            }
            send(
                &r,
                "POST",
                "/privacy/ccpa",
                &[JSON, auth],
                r#"{"type":"access"}"#,
            )
            .await;
            hold_account(&f, &bearer).await;
            let erased = send(
                &r,
                "POST",
                "/privacy/ccpa",
                &[JSON, auth],
                r#"{"type":"delete"}"#,
            )
            .await;
            assert_eq!(
                json(erased).await["legal_hold"]["reason"],
                "a pending claim"
            );
        }
        "Operator" => {
            use warden_core::privacy::requests::{self, Regime, RequestType};
            let user = warden_tests::api::claims(bearer.trim_start_matches("Bearer "))["sub"]
                .as_str()
                .unwrap()
                .to_string();
            let (table, now) = (
                f.backends.table.as_ref(),
                warden_core::clock::Clock::now(f.clock.as_ref()),
            );
            let open = |regime, name| {
                let rtype = RequestType::parse(regime, name).unwrap();
                let user = user.clone();
                async move { requests::submit(table, &user, rtype, now).await.unwrap().0 }
            };
            let (export, erase, mut opt_out) = (
                open(Regime::Gdpr, "export").await,
                open(Regime::Ccpa, "delete").await,
                open(Regime::Ccpa, "do_not_sell").await,
            );
            // An opt-out done but for a downstream recipient's acknowledgement.
            let crm = ["crm".to_string()];
            requests::complete(table, &mut opt_out, "recorded", &crm, Vec::new(), now)
                .await
                .unwrap();
            // API Gateway's IAM authorizer names the signer.
            let r = r.layer(axum::middleware::map_request(
                |mut req: axum::extract::Request| async move {
                    let signer = "arn:aws:iam::123456789012:role/privacy-desk";
                    req.extensions_mut()
                        .insert(warden_core::privacy::operations::Operator::named(signer).unwrap());
                    req
                },
            ));
            for path in [
                "/operator/requests".to_string(),
                "/operator/requests?overdue=true".to_string(),
                format!("/operator/requests/{}", export.id),
                "/operator/metrics".to_string(),
            ] {
                let done = send(&r, "GET", &path, &[], "").await;
                assert_eq!(done.status(), 200, "{path}");
            }
            let extend = format!("/operator/requests/{}/extend", erase.id);
            let done = send(&r, "POST", &extend, &[JSON], r#"{"reason":"many records"}"#).await;
            assert_eq!(done.status(), 200);
            let deny = format!("/operator/requests/{}/deny", export.id);
            let body = r#"{"basis":"excessive","reason":"the fourth this month"}"#;
            assert_eq!(send(&r, "POST", &deny, &[JSON], body).await.status(), 200);
            let ack = format!("/operator/requests/{}/acks", opt_out.id);
            let body = r#"{"recipient":"crm"}"#;
            assert_eq!(send(&r, "POST", &ack, &[JSON], body).await.status(), 200);
            // An erased account's request waiting for acknowledgements, extended: the notice
            // goes to the address its erasure sealed (under a key of its own).
            let outside = Services::new(passkey_config(), f.backends.clone())
                .await
                .unwrap();
            let ghost = "f".repeat(32);
            let rtype = RequestType::parse(Regime::Gdpr, "delete").unwrap();
            let (mut waiting, _) = requests::submit(table, &ghost, rtype, now).await.unwrap();
            warden_core::privacy::notices::seal_address(
                &outside.privacy(),
                &mut waiting,
                "gone@example.com",
            )
            .await
            .unwrap();
            requests::move_to(table, &waiting, requests::State::Received, "sealed", now)
                .await
                .unwrap();
            let extend = format!("/operator/requests/{}/extend", waiting.id);
            let done = send(
                &r,
                "POST",
                &extend,
                &[JSON],
                r#"{"reason":"a processor is slow"}"#,
            )
            .await;
            assert_eq!(done.status(), 200);
            // A legal hold: placed, shown; the erasure (run by another function) seals its
            // copy, which the operator reads; lifted, with the copy.
            let hold = format!("/operator/users/{user}/hold");
            let body = r#"{"reason":"a pending claim"}"#;
            assert_eq!(send(&r, "POST", &hold, &[JSON], body).await.status(), 201);
            assert_eq!(send(&r, "GET", &hold, &[], "").await.status(), 200);
            let scan = Services::new(passkey_config(), f.backends.clone())
                .await
                .unwrap();
            warden_core::privacy::resume_open(&scan.privacy(), 10)
                .await
                .unwrap();
            let copy = format!("{hold}/copy");
            assert_eq!(send(&r, "GET", &copy, &[], "").await.status(), 200);
            assert_eq!(send(&r, "DELETE", &hold, &[], "").await.status(), 200);
        }
        "Jwks" => {
            send(&r, "GET", "/.well-known/jwks.json", &[], "").await;
            f.clock
                .advance(warden_core::tokens::signing_keys::ROTATION_PERIOD);
            send(&r, "GET", "/.well-known/jwks.json", &[], "").await;
        }
        _ => unreachable!(),
    }
    actions.lock().unwrap().clone()
}

/// Fails unless the template allows every recorded request of `<name>Function`; the message
/// lists what the function used and what the template refuses.
fn assert_granted(name: &str, used: &BTreeSet<Access>) {
    let statements = function_statements(&template_text(), name);
    let refused: BTreeSet<String> = used
        .iter()
        .filter(|a| !allows(&statements, a))
        .map(Access::describe)
        .collect();
    let all: BTreeSet<String> = used.iter().map(Access::describe).collect();
    assert!(
        refused.is_empty(),
        "{name}Function does what template.yaml does not allow:\n  {}\n\nall it does:\n  {}",
        refused.into_iter().collect::<Vec<_>>().join("\n  "),
        all.into_iter().collect::<Vec<_>>().join("\n  "),
    );
}

macro_rules! function_case {
    ($test:ident, $name:literal, $routes:path) => {
        #[tokio::test]
        async fn $test() {
            assert_granted($name, &exercise($name, $routes).await);
        }
    };
}

function_case!(
    register_function_has_the_permissions_it_uses,
    "Register",
    warden_register::routes
);
function_case!(
    login_function_has_the_permissions_it_uses,
    "Login",
    warden_login::routes
);
function_case!(
    refresh_function_has_the_permissions_it_uses,
    "Refresh",
    warden_refresh::routes
);
function_case!(
    account_function_has_the_permissions_it_uses,
    "Account",
    warden_account::routes
);
function_case!(
    gdpr_function_has_the_permissions_it_uses,
    "Gdpr",
    warden_gdpr::routes
);
function_case!(
    ccpa_function_has_the_permissions_it_uses,
    "Ccpa",
    warden_ccpa::routes
);
function_case!(
    operator_function_has_the_permissions_it_uses,
    "Operator",
    warden_operator::routes
);
function_case!(
    jwks_function_has_the_permissions_it_uses,
    "Jwks",
    warden_jwks::routes
);

#[tokio::test]
async fn security_scan_function_has_the_permissions_it_uses() {
    let actions: Actions = Default::default();
    // Its first run after the first deployment creates the server secret and the first key.
    cold_start_on_an_empty_store("SecurityScan", &actions).await;
    let (f, _, bearer) = used_store(12).await;
    let s = services("SecurityScan", &f, &actions).await.unwrap();
    // A stalled erasure (accepted, never run) for the scheduled run to resume, for the user of
    // the token (whose sessions the lockout has ended: read the id from the token itself).
    use base64::Engine;
    let payload = bearer.split('.').nth(1).unwrap();
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let me: serde_json::Value = serde_json::from_slice(&claims).unwrap();
    let delete = warden_core::privacy::requests::RequestType::parse(
        warden_core::privacy::requests::Regime::Gdpr,
        "delete",
    )
    .unwrap();
    warden_core::privacy::requests::submit(
        s.backends.table.as_ref(),
        me["sub"].as_str().unwrap(),
        delete,
        s.backends.clock.now(),
    )
    .await
    .unwrap();
    hold_account(&f, &bearer).await;
    let report = warden_security_scan::handle(&s, serde_json::Value::Null)
        .await
        .unwrap();
    assert!(report.privacy.completed >= 1, "{:?}", report.privacy);
    warden_core::monitor::recent_alerts(&s.monitor(), 10)
        .await
        .unwrap();
    let used = actions.lock().unwrap().clone();
    assert_granted("SecurityScan", &used);
}

const FUNCTIONS: [&str; 8] = [
    "Register",
    "Login",
    "Refresh",
    "Account",
    "Jwks",
    "Gdpr",
    "Ccpa",
    "SecurityScan",
];

#[test]
fn every_table_and_data_key_grant_is_conditioned_and_guarded_against_absent_keys() {
    let template = template_text();
    for name in FUNCTIONS {
        for s in function_statements(&template, name) {
            let on_table = s.resources.iter().any(|r| r.contains("Table.Arn"));
            let on_data_key = s.resources.iter().any(|r| r == "!GetAtt DataKey.Arn");
            if on_table {
                let leading = s
                    .condition
                    .get("ForAllValues:StringLike")
                    .and_then(|k| k.get("dynamodb:LeadingKeys"));
                assert!(
                    leading.is_some(),
                    "{name}Function: {s:?} has no LeadingKeys"
                );
            }
            if on_data_key {
                let purpose = s
                    .condition
                    .get("StringEquals")
                    .and_then(|k| k.get("kms:EncryptionContext:purpose"));
                assert!(purpose.is_some(), "{name}Function: {s:?} names no purpose");
            }
            // ForAllValues holds when the key is absent: each such key must be required.
            for (op, keys) in &s.condition {
                if op.starts_with("ForAllValues:") {
                    for key in keys.keys() {
                        let required = s
                            .condition
                            .get("Null")
                            .and_then(|n| n.get(key))
                            .is_some_and(|v| v == &["false".to_string()]);
                        assert!(required, "{name}Function: {key} is not required in {s:?}");
                    }
                }
            }
        }
    }
}

fn table_write(action: &'static str, partition: &str, attributes: &[&str]) -> Access {
    Access::Table {
        action,
        index: None,
        partition: partition.into(),
        attributes: Some(attributes.iter().map(|a| a.to_string()).collect()),
    }
}

#[test]
fn only_the_security_scan_may_create_the_server_secret() {
    let template = template_text();
    let put = table_write("PutItem", "SECRET", &["pk", "sk", "sealed", "expires_at"]);
    let seal = Access::Kms {
        action: "GenerateDataKey",
        context: [("purpose", "server-secret"), ("name", "root")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    for name in FUNCTIONS {
        let s = function_statements(&template, name);
        let creator = name == "SecurityScan";
        assert_eq!(allows(&s, &put), creator, "{name}Function: PutItem SECRET");
        assert_eq!(
            allows(&s, &seal),
            creator,
            "{name}Function: seal the server secret"
        );
        assert_eq!(
            provisioning(name) == Provisioning::Create,
            creator,
            "{name}Function: WARDEN_SERVER_SECRET"
        );
    }
}

#[test]
fn public_functions_cannot_rewrite_a_users_data_key_or_sessions() {
    let template = template_text();
    let data_key = table_write("UpdateItem", "USER#u1", &["pk", "sk", "wrapped"]);
    let session = table_write(
        "PutItem",
        "USER#u1",
        &["pk", "sk", "current_hash", "generation", "device"],
    );
    let charge = table_write("UpdateItem", "USER#u1", &["pk", "sk", "rl_tat"]);
    for name in ["Register", "Jwks"] {
        let s = function_statements(&template, name);
        assert!(
            !allows(&s, &data_key),
            "{name}Function may update a data key"
        );
        assert!(!allows(&s, &session), "{name}Function may write a session");
        assert!(!allows(&s, &charge), "{name}Function may charge a user");
    }
    // Nothing but the registration writes a data key.
    for name in FUNCTIONS.into_iter().filter(|n| *n != "Register") {
        let s = function_statements(&template, name);
        let put = table_write("PutItem", "USER#u1", &["pk", "sk", "wrapped"]);
        assert!(!allows(&s, &put), "{name}Function may write a data key");
    }
}

#[test]
fn only_functions_that_use_a_users_key_may_unwrap_it() {
    let template = template_text();
    let unwrap = Access::Kms {
        action: "Decrypt",
        context: [("purpose", "user-data"), ("user_id", "u1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    for name in FUNCTIONS {
        let s = function_statements(&template, name);
        let public = ["Register", "Jwks"].contains(&name);
        assert_eq!(
            allows(&s, &unwrap),
            !public,
            "{name}Function: Decrypt user-data"
        );
    }
}

/// API Gateway serves only the routes the template declares: every operation of `openapi.json`
/// must be routed to a function (but the local runner's own `/healthz` and `/openapi.json`), and
/// nothing is routed that the document does not describe.
#[test]
fn every_documented_operation_is_routed_by_the_template_and_nothing_else() {
    let template = template_text();
    let mut routed = BTreeSet::new();
    let mut lines = template.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if let Some(path) = line.strip_prefix("Path: ") {
            let method = lines
                .next()
                .and_then(|l| l.strip_prefix("Method: "))
                .expect("Method follows Path");
            routed.insert((method.to_string(), path.to_string()));
        }
    }
    // The public API's document, and the operator API's.
    let root = warden_tests::lambda_events::events_dir().join("..");
    let docs: Vec<serde_json::Value> = ["openapi.json", "docs/operator-api.json"]
        .iter()
        .map(|p| {
            serde_json::from_str(&std::fs::read_to_string(root.join(p)).expect(p)).expect("json")
        })
        .collect();
    let local_only = ["/healthz", "/openapi.json"];
    let documented: BTreeSet<(String, String)> = docs
        .iter()
        .flat_map(|doc| doc["paths"].as_object().expect("paths").iter())
        .filter(|(path, _)| !local_only.contains(&path.as_str()))
        .flat_map(|(path, ops)| {
            ops.as_object()
                .expect("operations")
                .keys()
                .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(|m| (m.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let missing: Vec<_> = documented.difference(&routed).collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "documented but not routed on AWS: {missing:?}"
    );
    assert!(
        undocumented.is_empty(),
        "routed but not documented: {undocumented:?}"
    );
}
