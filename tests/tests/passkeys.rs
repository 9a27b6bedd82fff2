//! Passkeys over HTTP, on both backends, with the tests' own software authenticator
//! (`warden_tests::authenticator`): registration by a signed-in user and discoverable sign-in; a
//! challenge spent by its first use and bound to its ceremony; assertions for another origin or
//! relying party, and a cloned authenticator's, refused; removal needing a two-factor sign-in.

use std::net::IpAddr;

use serde_json::{Value, json};
use warden_tests::api::{Api, claims};
use warden_tests::authenticator::{self, Bend, Credential};
use warden_tests::fixtures::{Fixture, test_config};
use warden_tests::http_client::{Response, unique_loopback};

const ORIGIN: &str = "http://localhost:3000";

fn text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).to_string()
}

struct World {
    api: Api,
    ip: IpAddr,
}

impl World {
    async fn new(f: &Fixture) -> World {
        let mut config = test_config();
        config.rp_id = Some("localhost".into());
        config.allowed_origins = vec![ORIGIN.into()];
        World {
            api: Api::new(f, config).await,
            ip: unique_loopback(),
        }
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

    /// A signed-up account: its bearer token.
    async fn account(&self) -> String {
        let (_, login) = self.api.signed_up(self.ip).await;
        login.json()["access_token"].as_str().unwrap().to_string()
    }

    async fn registration(&self, bearer: &str) -> Value {
        let r = self
            .call("POST", "/me/passkeys/options", Some(bearer), None)
            .await;
        assert_eq!(r.status, 200, "{}", text(&r));
        r.json()
    }

    /// Registers a passkey for `bearer`'s account.
    async fn registered(&self, bearer: &str) -> Credential {
        let options = self.registration(bearer).await;
        assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
        assert_eq!(
            options["publicKey"]["authenticatorSelection"]["residentKey"],
            "required"
        );
        let (credential, answer) =
            authenticator::create(&options["publicKey"], ORIGIN, &Bend::default());
        let r = self
            .call(
                "POST",
                "/me/passkeys",
                Some(bearer),
                Some(json!({"challenge_id": options["challenge_id"], "credential": answer, "name": "laptop"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", text(&r));
        credential
    }

    async fn sign_in_options(&self) -> Value {
        let r = self
            .call("POST", "/auth/passkeys/options", None, Some(json!({})))
            .await;
        assert_eq!(r.status, 200, "{}", text(&r));
        r.json()
    }

    async fn sign_in(&self, challenge_id: &Value, assertion: Value) -> Response {
        self.call(
            "POST",
            "/auth/passkeys/login",
            None,
            Some(json!({"challenge_id": challenge_id, "credential": assertion})),
        )
        .await
    }

    /// A sign-in with `credential`, bent or not.
    async fn sign_in_with(&self, credential: &mut Credential, bend: &Bend) -> Response {
        let options = self.sign_in_options().await;
        let assertion = credential.get(&options["publicKey"], ORIGIN, bend);
        self.sign_in(&options["challenge_id"], assertion).await
    }
}

async fn a_passkey_is_registered_and_signs_in_without_a_name(f: Fixture) {
    let w = World::new(&f).await;
    let bearer = w.account().await;
    let mut credential = w.registered(&bearer).await;
    let listed = w
        .call("GET", "/me/passkeys", Some(&bearer), None)
        .await
        .json();
    assert_eq!(listed["passkeys"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["passkeys"][0]["name"], "laptop");
    let options = w.sign_in_options().await;
    assert!(
        options["publicKey"]
            .get("allowCredentials")
            .is_none_or(|a| a.as_array().is_some_and(Vec::is_empty))
    );
    let done = w
        .sign_in(
            &options["challenge_id"],
            credential.get(&options["publicKey"], ORIGIN, &Bend::default()),
        )
        .await;
    assert_eq!(done.status, 200, "{}", text(&done));
    assert!(done.cookie("__Secure-warden-refresh").is_some());
    let c = claims(done.json()["access_token"].as_str().unwrap());
    assert_eq!(
        c["sub"],
        claims(&bearer)["sub"],
        "the account the passkey belongs to"
    );
    assert_eq!(
        (c["amr"].clone(), c["acr"].clone()),
        (json!(["swk"]), json!("aal2"))
    );
    let listed = w
        .call("GET", "/me/passkeys", Some(&bearer), None)
        .await
        .json();
    assert!(
        listed["passkeys"][0]["last_used_at"].is_string(),
        "{listed}"
    );
}

async fn a_challenge_is_spent_by_its_first_use_and_bound_to_its_ceremony(f: Fixture) {
    let w = World::new(&f).await;
    let bearer = w.account().await;
    let mut credential = w.registered(&bearer).await;
    // A sign-in challenge used twice: the second use is refused, even with a fresh assertion.
    let options = w.sign_in_options().await;
    let first = w
        .sign_in(
            &options["challenge_id"],
            credential.get(&options["publicKey"], ORIGIN, &Bend::default()),
        )
        .await;
    assert_eq!(first.status, 200, "{}", text(&first));
    let again = w
        .sign_in(
            &options["challenge_id"],
            credential.get(&options["publicKey"], ORIGIN, &Bend::default()),
        )
        .await;
    assert_eq!(again.status, 401, "{}", text(&again));
    // A registration's challenge cannot finish a sign-in …
    let registration = w.registration(&bearer).await;
    let assertion = credential.get(&registration["publicKey"], ORIGIN, &Bend::default());
    let crossed = w.sign_in(&registration["challenge_id"], assertion).await;
    assert_eq!(crossed.status, 401, "{}", text(&crossed));
    // … nor a sign-in's a registration.
    let options = w.sign_in_options().await;
    let mut as_registration = options["publicKey"].clone();
    as_registration["rp"] = json!({"id": "localhost"});
    as_registration["user"] = json!({"id": "AAAAAAAAAAAAAAAAAAAAAA"});
    let (_, answer) = authenticator::create(&as_registration, ORIGIN, &Bend::default());
    let crossed = w
        .call(
            "POST",
            "/me/passkeys",
            Some(&bearer),
            Some(
                json!({"challenge_id": options["challenge_id"], "credential": answer, "name": "x"}),
            ),
        )
        .await;
    assert_eq!(crossed.status, 400, "{}", text(&crossed));
    // A registration's challenge is spent by a wrong answer too.
    let registration = w.registration(&bearer).await;
    let (_, wrong) = authenticator::create(
        &registration["publicKey"],
        ORIGIN,
        &Bend {
            origin: Some("http://evil.example".into()),
            ..Bend::default()
        },
    );
    let body =
        json!({"challenge_id": registration["challenge_id"], "credential": wrong, "name": "x"});
    let r = w
        .call("POST", "/me/passkeys", Some(&bearer), Some(body))
        .await;
    assert_eq!(r.status, 400, "{}", text(&r));
    let (_, right) = authenticator::create(&registration["publicKey"], ORIGIN, &Bend::default());
    let body =
        json!({"challenge_id": registration["challenge_id"], "credential": right, "name": "x"});
    let r = w
        .call("POST", "/me/passkeys", Some(&bearer), Some(body))
        .await;
    assert_eq!(r.status, 400, "{}", text(&r));
}

async fn assertions_for_another_origin_or_relying_party_or_from_a_clone_are_refused(f: Fixture) {
    let w = World::new(&f).await;
    let bearer = w.account().await;
    let mut credential = w.registered(&bearer).await;
    for bend in [
        Bend {
            origin: Some("http://localhost.evil.example".into()),
            ..Bend::default()
        },
        Bend {
            origin: Some("http://localhost:4000".into()),
            ..Bend::default()
        },
        Bend {
            rp_id: Some("evil.example".into()),
            ..Bend::default()
        },
    ] {
        let r = w.sign_in_with(&mut credential, &bend).await;
        assert_eq!(r.status, 401, "{}", text(&r));
    }
    let ok = w.sign_in_with(&mut credential, &Bend::default()).await;
    assert_eq!(ok.status, 200, "{}", text(&ok));
    // A clone of the authenticator reports a counter the original already used.
    let used = credential.counter - 1;
    let clone = w
        .sign_in_with(
            &mut credential,
            &Bend {
                counter: Some(used),
                ..Bend::default()
            },
        )
        .await;
    assert_eq!(clone.status, 401, "{}", text(&clone));
}

async fn removing_a_passkey_needs_a_two_factor_sign_in_and_ends_its_use(f: Fixture) {
    let w = World::new(&f).await;
    let bearer = w.account().await;
    let mut credential = w.registered(&bearer).await;
    let id = w
        .call("GET", "/me/passkeys", Some(&bearer), None)
        .await
        .json()["passkeys"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/me/passkeys/{id}");
    let refused = w.call("DELETE", &path, Some(&bearer), None).await;
    assert_eq!(refused.status, 403, "{}", text(&refused));
    assert_eq!(
        refused.json()["type"],
        "urn:warden:problem:step-up-required"
    );
    let signed_in = w.sign_in_with(&mut credential, &Bend::default()).await;
    let strong = signed_in.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let removed = w.call("DELETE", &path, Some(&strong), None).await;
    assert_eq!(removed.status, 204, "{}", text(&removed));
    let gone = w.sign_in_with(&mut credential, &Bend::default()).await;
    assert_eq!(gone.status, 401, "{}", text(&gone));
}

async fn a_passkey_steps_up_its_owners_session_and_no_one_elses(f: Fixture) {
    let w = World::new(&f).await;
    let bearer = w.account().await;
    let mut credential = w.registered(&bearer).await;
    let options = w.sign_in_options().await;
    let assertion = credential.get(&options["publicKey"], ORIGIN, &Bend::default());
    let up = w
        .call(
            "POST",
            "/auth/reauthenticate",
            Some(&bearer),
            Some(json!({"challenge_id": options["challenge_id"], "credential": assertion})),
        )
        .await;
    assert_eq!(up.status, 200, "{}", text(&up));
    let (before, after) = (
        claims(&bearer),
        claims(up.json()["access_token"].as_str().unwrap()),
    );
    assert_eq!(after["sid"], before["sid"], "the same session");
    assert_eq!(
        (after["amr"].clone(), after["acr"].clone()),
        (json!(["pwd", "swk"]), json!("aal2"))
    );
    // Another account's passkey proves nothing about this caller.
    let other = w.account().await;
    let options = w.sign_in_options().await;
    let assertion = credential.get(&options["publicKey"], ORIGIN, &Bend::default());
    let r = w
        .call(
            "POST",
            "/auth/reauthenticate",
            Some(&other),
            Some(json!({"challenge_id": options["challenge_id"], "credential": assertion})),
        )
        .await;
    assert_eq!(r.status, 401, "{}", text(&r));
}

async fn the_second_step_offers_a_passkey_when_the_account_holds_one(f: Fixture) {
    let w = World::new(&f).await;
    let (email, login) = w.api.signed_up(w.ip).await;
    let bearer = login.json()["access_token"].as_str().unwrap().to_string();
    w.registered(&bearer).await;
    let now = warden_core::clock::Clock::now(f.clock.as_ref()).secs();
    w.api.enrol_totp(w.ip, &bearer, now).await;
    let r = w
        .api
        .login(w.ip, &email, warden_tests::api::PASSWORD, &[])
        .await;
    assert_eq!(
        r.json()["methods"],
        json!(["totp", "recovery", "passkey"]),
        "{}",
        text(&r)
    );
}

warden_tests::on_both_backends!(
    the_second_step_offers_a_passkey_when_the_account_holds_one,
    a_passkey_steps_up_its_owners_session_and_no_one_elses,
    a_passkey_is_registered_and_signs_in_without_a_name,
    a_challenge_is_spent_by_its_first_use_and_bound_to_its_ceremony,
    assertions_for_another_origin_or_relying_party_or_from_a_clone_are_refused,
    removing_a_passkey_needs_a_two_factor_sign_in_and_ends_its_use,
);
