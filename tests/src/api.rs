//! A client of one served `warden-local` router for the flow tests: every request from a chosen
//! client address, with a browser's User-Agent unless the test names one, JSON bodies typed as
//! such; and the few calls most flows start with (register, sign in).

use std::net::IpAddr;

use serde_json::{Value, json};
use warden_core::config::Config;
use warden_core::services::Services;

use crate::fixtures::{Fixture, Mailbox, serve, unique};
use crate::http_client::{Response, request_from};

/// The password of the accounts [`Api::signed_up`] makes.
pub const PASSWORD: &str = "marmalade kiln wobbles at dusk";
/// The User-Agent a request carries unless it names its own.
pub const CHROME_140: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/140.0.7339.80 Safari/537.36";

pub struct Api {
    pub base: String,
    /// Sent when a request names no User-Agent.
    pub user_agent: &'static str,
    /// Where the served backends' mail arrives (verification links are read there).
    pub mailbox: Mailbox,
}

impl Api {
    /// A client of a router already served at `base` on the fixture's backends.
    pub fn on(base: String, f: &Fixture) -> Api {
        Api {
            base,
            user_agent: CHROME_140,
            mailbox: f.mailbox(),
        }
    }

    /// Serves the fixture's backends with `config` and returns a client of it.
    pub async fn new(f: &Fixture, config: Config) -> Api {
        let state = Services::new(config, f.backends.clone()).await.unwrap();
        Api::on(serve(state, f).await, f)
    }

    pub async fn call(
        &self,
        from: IpAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Response {
        let mut h: Vec<(&str, &str)> = headers.to_vec();
        if !h.iter().any(|(k, _)| k.eq_ignore_ascii_case("user-agent")) {
            h.push(("User-Agent", self.user_agent));
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        if !body.is_empty() {
            h.push(("Content-Type", "application/json"));
        }
        request_from(
            Some(from),
            method,
            &format!("{}{path}", self.base),
            &h,
            body.as_bytes(),
        )
        .await
        .unwrap()
    }

    /// [`Api::call`] with `Authorization: Bearer {bearer}`, when there is one.
    pub async fn call_as(
        &self,
        from: IpAddr,
        bearer: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Response {
        let auth = bearer.map(|b| format!("Bearer {b}"));
        let h: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        self.call(from, method, path, &h, body).await
    }

    /// Enrols and confirms an authenticator app for `bearer`'s account at `now_secs` (the
    /// server's clock): its secret and the recovery codes.
    pub async fn enrol_totp(
        &self,
        from: IpAddr,
        bearer: &str,
        now_secs: i64,
    ) -> (String, Vec<String>) {
        let begun = self
            .call_as(from, Some(bearer), "POST", "/me/mfa/totp", None)
            .await;
        assert_eq!(
            begun.status,
            200,
            "{}",
            String::from_utf8_lossy(&begun.body)
        );
        let secret = begun.json()["secret"]
            .as_str()
            .expect("a secret")
            .to_string();
        let code = crate::totp::code(&secret, now_secs);
        let confirmed = self
            .call_as(
                from,
                Some(bearer),
                "POST",
                "/me/mfa/totp/confirm",
                Some(json!({ "code": code })),
            )
            .await;
        assert_eq!(
            confirmed.status,
            200,
            "{}",
            String::from_utf8_lossy(&confirmed.body)
        );
        let codes =
            serde_json::from_value(confirmed.json()["recovery_codes"].clone()).expect("codes");
        (secret, codes)
    }

    pub async fn register(&self, from: IpAddr, email: &str) -> Response {
        self.call(
            from,
            "POST",
            "/auth/register",
            &[],
            Some(json!({"email": email, "password": PASSWORD})),
        )
        .await
    }

    pub async fn login(
        &self,
        from: IpAddr,
        email: &str,
        password: &str,
        h: &[(&str, &str)],
    ) -> Response {
        self.call(
            from,
            "POST",
            "/auth/login",
            h,
            Some(json!({"email": email, "password": password})),
        )
        .await
    }

    /// Follows the newest verification link mailed to `email`.
    pub async fn verify(&self, from: IpAddr, email: &str) -> Response {
        let token = self
            .mailbox
            .link_token(email, "/verify-email")
            .await
            .expect("a verification link");
        self.follow(from, &token).await
    }

    /// Follows a `/verify-email` link (a registration's, an email change's or its undo) whose
    /// token is `token`.
    pub async fn follow(&self, from: IpAddr, token: &str) -> Response {
        self.call(
            from,
            "POST",
            "/auth/email/verify",
            &[],
            Some(json!({ "token": token })),
        )
        .await
    }

    /// Registers `email` (with [`PASSWORD`]) and verifies it: an account that can sign in.
    pub async fn register_verified(&self, from: IpAddr, email: &str) {
        let r = self.register(from, email).await;
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        let r = self.verify(from, email).await;
        assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    }

    /// A fresh account, signed in from `from`: its email and the login response.
    pub async fn signed_up(&self, from: IpAddr) -> (String, Response) {
        let email = format!("{}@example.com", unique("s"));
        self.register_verified(from, &email).await;
        let r = self.login(from, &email, PASSWORD, &[]).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        (email, r)
    }
}

/// The notes of a privacy request's history (a request as the API shows it), oldest first.
pub fn history_notes(request: &Value) -> Vec<String> {
    request["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter_map(|c| c["note"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The claims of an access token (its signature is the server's to check).
pub fn claims(access_token: &str) -> Value {
    use base64::Engine;
    let payload = access_token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("JSON claims")
}
