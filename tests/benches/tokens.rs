//! Token and session benchmark: `cargo bench -p warden-tests --bench tokens`.
//!
//! Reports JWT (RS256, RSA-2048) sign and verify per second, side by side in one run: Warden's
//! token code (`TokenIssuer`: `jsonwebtoken` with Warden's caching provider,
//! `warden_core::tokens::jwt_provider`, and Warden's checks around it), the crate with its stock
//! aws-lc provider and with the caching provider alone, and the hand-written encoder on AWS-LC
//! that Warden used before (reproduced here as the baseline); and for one refresh and one
//! authenticated request on a warm process (embedded backends, through the same router the
//! runner serves): `Table` round trips, `Keys` calls and CPU time.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use tower::ServiceExt;
use warden_core::backends::Backends;
use warden_core::services::Services;
use warden_core::tokens::access::{Grant, Methods, Scope};

const PASSWORD_GRANT: Grant = Grant {
    epoch: 0,
    scope: Scope::Full,
    methods: Methods::PASSWORD,
};
use warden_http::client_ip::SourceIp;
use warden_tests::counting::{CountingKeys, CountingTable};
use warden_tests::in_process::{bearer, refresh_cookie};
use warden_tests::measure::cpu_time;

/// The same signature through `jsonwebtoken`: `encode` as the crate does it (header and claims
/// serialised and encoded, one signer from the provider's factory per token), once with the
/// stock aws-lc provider and once with the caching one; `decode` with full validation (both
/// providers verify with the crate's own verifier).
fn jwt_crate_rows(n: usize) {
    use aws_lc_rs::encoding::AsDer;
    use base64::Engine;
    use jsonwebtoken::crypto::CryptoProvider;
    use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
    use warden_core::tokens::jwt_provider;

    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let encoding = jwt_provider::rsa_encoding_key(pair.as_der().unwrap().as_ref()).unwrap();
    let public = aws_lc_rs::signature::KeyPair::public_key(&pair)
        .as_der()
        .unwrap();
    let decoding = DecodingKey::from_rsa_der(public.as_ref());
    let now = jsonwebtoken::get_current_timestamp();
    let claims = serde_json::json!({
        "iss": "https://warden.example", "aud": "warden", "sub": "user", "sid": "sid",
        "scope": "full", "epoch": 0, "iat": now, "nbf": now, "exp": now + 900,
        "auth_time": now, "jti": "0123456789abcdef0123456789abcdef",
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("kid".into());
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let encode_with = |provider: &CryptoProvider| {
        let signer = (provider.signer_factory)(&Algorithm::RS256, &encoding).unwrap();
        let message = format!(
            "{}.{}",
            b64(&serde_json::to_vec(&header).unwrap()),
            b64(&serde_json::to_vec(&claims).unwrap())
        );
        let signature =
            jsonwebtoken::signature::Signer::try_sign(&*signer, message.as_bytes()).unwrap();
        format!("{message}.{}", b64(&signature))
    };
    let per_second = |f: &dyn Fn() -> String| {
        let start = Instant::now();
        let mut last = String::new();
        for _ in 0..n {
            last = f();
        }
        (n as f64 / start.elapsed().as_secs_f64(), last)
    };
    // The hand-written encoder Warden had: the header as a literal, the claims serialised,
    // RSASSA-PKCS1-v1_5 by a parsed AWS-LC key.
    let (hand_sign, hand_token) = per_second(&|| {
        let message = format!(
            "{}.{}",
            b64(br#"{"alg":"RS256","typ":"JWT","kid":"kid"}"#),
            b64(&serde_json::to_vec(&claims).unwrap())
        );
        let mut sig = vec![0; pair.public_modulus_len()];
        pair.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            message.as_bytes(),
            &mut sig,
        )
        .unwrap();
        format!("{message}.{}", b64(&sig))
    });
    let components = aws_lc_rs::signature::RsaPublicKeyComponents {
        n: aws_lc_rs::signature::KeyPair::public_key(&pair)
            .modulus()
            .big_endian_without_leading_zero()
            .to_vec(),
        e: aws_lc_rs::signature::KeyPair::public_key(&pair)
            .exponent()
            .big_endian_without_leading_zero()
            .to_vec(),
    };
    let start = Instant::now();
    for _ in 0..n {
        let (message, sig) = hand_token.rsplit_once('.').unwrap();
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sig)
            .unwrap();
        let _: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(message.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        components
            .verify(
                &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
                message.as_bytes(),
                &sig,
            )
            .unwrap();
    }
    let hand_verify = n as f64 / start.elapsed().as_secs_f64();
    println!(
        "RS256 (RSA-2048, AWS-LC), hand-written encoder (the code Warden replaced): sign {hand_sign:.0}/s, verify {hand_verify:.0}/s"
    );
    let stock = &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
    let (stock_sign, token) = per_second(&|| encode_with(stock));
    // The caching provider installed as the process default: `encode` itself.
    let _ = jwt_provider::PROVIDER.install_default();
    let (cached_sign, cached_token) =
        per_second(&|| jsonwebtoken::encode(&header, &claims, &encoding).unwrap());
    assert_eq!(token, cached_token, "the same token either way");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["warden"]);
    validation.set_issuer(&["https://warden.example"]);
    let start = Instant::now();
    for _ in 0..n {
        jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
    }
    let verify = n as f64 / start.elapsed().as_secs_f64();
    println!(
        "RS256 (RSA-2048, AWS-LC), jsonwebtoken 12, stock provider: sign {stock_sign:.0}/s, verify {verify:.0}/s"
    );
    println!(
        "RS256 (RSA-2048, AWS-LC), jsonwebtoken 12, caching provider: sign {cached_sign:.0}/s, verify {verify:.0}/s (the crate's verifier)"
    );
}

fn main() {
    let rt = warden_tests::measure::runtime();
    rt.block_on(async {
        let (_dir, e) = warden_tests::measure::embedded_backends();
        let clock = e.backends.clock.clone();
        let table = Arc::new(CountingTable::new(e.backends.table.clone()));
        let keys = Arc::new(CountingKeys::new(e.backends.keys.clone()));
        let backends = Backends {
            table: table.clone(),
            keys: keys.clone(),
            ..e.backends.clone()
        };
        let mut config = warden_tests::fixtures::test_config();
        config.argon2 = warden_core::config::Argon2Params::default();
        let s = Services::new(config, backends).await.unwrap();
        let router = warden_local::router(s.clone(), None, warden_tests::fixtures::operator());

        // JWT sign / verify.
        let now = clock.now();
        let t = s.tokens();
        let n = 2_000;
        let start = Instant::now();
        let mut token = String::new();
        for _ in 0..n {
            token = t.issue("user", "sid", PASSWORD_GRANT, now, now).await.unwrap();
        }
        let sign = n as f64 / start.elapsed().as_secs_f64();
        let start = Instant::now();
        for _ in 0..n {
            t.verify(&token, now).await.unwrap();
        }
        let verify = n as f64 / start.elapsed().as_secs_f64();
        println!("RS256 (RSA-2048, AWS-LC), Warden's TokenIssuer (jsonwebtoken + caching provider, Warden's checks): sign {sign:.0}/s, verify {verify:.0}/s");
        jwt_crate_rows(n);

        let call = |req: http::Request<Body>| {
            let router = router.clone();
            async move {
                let mut req = req;
                req.extensions_mut().insert(SourceIp("192.0.2.9".parse().unwrap()));
                router.oneshot(req).await.unwrap()
            }
        };
        let json = |path: &str, body: serde_json::Value| {
            http::Request::post(path)
                .header("content-type", "application/json")
                .header("user-agent", "bench")
                .body(Body::from(body.to_string()))
                .unwrap()
        };
        let creds = serde_json::json!({"email": "bench@example.com", "password": "marmalade kiln wobbles at dusk"});
        warden_tests::accounts::verified(&s, "bench@example.com", "marmalade kiln wobbles at dusk")
            .await;
        let login = call(json("/auth/login", creds)).await;
        let mut c = refresh_cookie(&login);
        let bearer = bearer(login).await;

        let refreshes = 300;
        let (t0, k0, c0) = (table.calls(), keys.calls(), cpu_time());
        for _ in 0..refreshes {
            let r = call(
                http::Request::post("/auth/refresh")
                    .header("cookie", &c)
                    .header("user-agent", "bench")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            assert_eq!(r.status(), 200);
            c = refresh_cookie(&r);
        }
        let per = |x: u64| x as f64 / refreshes as f64;
        let refresh_cpu = (cpu_time() - c0).as_secs_f64() * 1000.0 / refreshes as f64;
        println!(
            "refresh: {:.1} Table round trips, {:.1} Keys calls, {refresh_cpu:.2} ms CPU per refresh, {:.2} ms beyond the signature",
            per(table.calls() - t0),
            per(keys.calls() - k0),
            refresh_cpu - 1000.0 / sign
        );

        let requests = 1_000;
        let (t0, k0, c0) = (table.calls(), keys.calls(), cpu_time());
        for _ in 0..requests {
            let r = call(
                http::Request::get("/me")
                    .header("authorization", &bearer)
                    .header("user-agent", "bench")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            assert_eq!(r.status(), 200);
        }
        let per = |x: u64| x as f64 / requests as f64;
        println!(
            "GET /me (authenticated): {:.1} Table round trips (the guard's rate-limit write returns the profile it checks and the handler shows), {:.1} Keys calls, {:.3} ms CPU per request",
            per(table.calls() - t0),
            per(keys.calls() - k0),
            (cpu_time() - c0).as_secs_f64() * 1000.0 / requests as f64
        );
    });
}
