//! Access token verification against hostile tokens, and signing key rotation (publication
//! lead, retirement, two rotators at once), on both backends.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use serde_json::{Value, json};
use warden_core::clock::Clock;
use warden_core::tokens::access::{Grant, Methods, Scope, TokenIssuer};
use warden_core::tokens::signing_keys::{PUBLISH_LEAD, ROTATION_PERIOD, SigningKeys};
use warden_tests::fixtures::{Fixture, unique};

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// A password sign-in's grant, under epoch 0.
const PASSWORD_GRANT: Grant = Grant {
    epoch: 0,
    scope: Scope::Full,
    methods: Methods::PASSWORD,
};

/// A published key's id.
fn kid(jwk: &Jwk) -> String {
    jwk.common
        .key_id
        .clone()
        .expect("every published key has a kid")
}

/// A keyset in a partition of its own (the emulator's table is shared between tests).
async fn keys_in(f: &Fixture, partition: &str) -> SigningKeys {
    SigningKeys::load_from(
        f.backends.table.clone(),
        f.backends.keys.clone(),
        f.backends.clock.clone(),
        partition,
    )
    .await
    .unwrap()
}

fn issuer(k: &SigningKeys) -> TokenIssuer<'_> {
    TokenIssuer {
        keys: k,
        issuer: "https://warden.test",
        audience: "app",
    }
}

/// Re-signs `header.payload` with the current key (to test claim checks behind a valid signature).
async fn signed(k: &SigningKeys, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let sig = k.signer().await.unwrap().sign(input.as_bytes()).unwrap();
    format!("{input}.{sig}")
}

async fn hostile_tokens_are_rejected(f: Fixture) {
    let k = keys_in(&f, &unique("SIGNKEYS-T-")).await;
    let t = issuer(&k);
    let now = f.clock.now();
    let good = t
        .issue("user-1", "sid-1", PASSWORD_GRANT, now, now)
        .await
        .unwrap();
    let claims = t.verify(&good, now).await.unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.exp - claims.iat),
        ("user-1", 900)
    );
    let kid = kid(&k.jwks().await.unwrap()[0]);
    let parts: Vec<&str> = good.split('.').collect();
    let payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();

    let mut hostile = Vec::new();
    for alg in ["none", "None", "NONE", "nOnE"] {
        hostile.push(format!(
            "{}.{}.",
            b64(&json!({"alg": alg, "typ": "JWT", "kid": kid})),
            parts[1]
        ));
    }
    // HS256 "signed" with the public key's modulus as the HMAC secret.
    let AlgorithmParameters::RSA(rsa) = &k.jwks().await.unwrap()[0].algorithm else {
        panic!("an RSA key");
    };
    let n = &rsa.n;
    let input = format!(
        "{}.{}",
        b64(&json!({"alg": "HS256", "typ": "JWT", "kid": kid})),
        parts[1]
    );
    let mac = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, n.as_bytes()),
        input.as_bytes(),
    );
    hostile.push(format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref())));
    for extra in [
        json!({"b64": false}),
        json!({"cty": "JWT"}),
        json!({"jwk": {"kty": "RSA"}}),
        json!({"jku": "https://evil.example/jwks"}),
        json!({"x5u": "https://evil.example/c"}),
        json!({"crit": ["exp"]}),
    ] {
        let mut h = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
        h.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        hostile.push(signed(&k, &h, &payload).await);
    }
    for bad_kid in [
        "unknown",
        "../../etc/passwd",
        "' OR 1=1 --",
        &"k".repeat(200),
    ] {
        hostile.push(
            signed(
                &k,
                &json!({"alg": "RS256", "typ": "JWT", "kid": bad_kid}),
                &payload,
            )
            .await,
        );
    }
    // Well formed, our kid, signed by a key that is not ours.
    {
        use aws_lc_rs::encoding::AsDer;
        let other = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let key =
            warden_core::tokens::jwt_provider::rsa_encoding_key(other.as_der().unwrap().as_ref())
                .unwrap();
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = Some(kid.clone());
        hostile.push(jsonwebtoken::encode(&h, &payload, &key).unwrap());
    }
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    let with = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut p = payload.as_object().unwrap().clone();
        f(&mut p);
        Value::Object(p)
    };
    for claims in [
        with(&|p| {
            p.insert("iss".into(), json!("https://evil.example"));
        }),
        with(&|p| {
            p.insert("aud".into(), json!("other-app"));
        }),
        with(&|p| {
            p.remove("exp");
        }),
        with(&|p| {
            p.insert("exp".into(), json!(now.secs() - 60));
        }),
        with(&|p| {
            p.insert("nbf".into(), json!(now.secs() + 600));
        }),
        with(&|p| {
            p.insert("typ".into(), json!("refresh"));
        }),
        with(&|p| {
            p.insert("exp".into(), json!(now.secs() + 86_400));
        }),
        with(&|p| {
            p.insert("admin".into(), json!(true));
        }),
        // Shapes the JWT crate's own validation would let through: an audience or issuer list
        // that merely contains ours, a time as a string, no subject.
        with(&|p| {
            p.insert("aud".into(), json!(["app", "other-app"]));
        }),
        with(&|p| {
            p.insert(
                "iss".into(),
                json!(["https://warden.test", "https://evil.example"]),
            );
        }),
        with(&|p| {
            p.insert("exp".into(), json!((now.secs() + 600).to_string()));
        }),
        with(&|p| {
            p.remove("sub");
        }),
    ] {
        hostile.push(signed(&k, &header, &claims).await);
    }
    // A flipped signature bit, a truncated token, garbage.
    let mut flipped = good.clone().into_bytes();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    hostile.push(String::from_utf8(flipped).unwrap());
    hostile.push(parts[..2].join("."));
    hostile.push("a.b.c".into());
    hostile.push("x".repeat(10_000));
    for (i, token) in hostile.iter().enumerate() {
        assert!(
            matches!(
                t.verify(token, now).await,
                Err(warden_core::Error::Unauthorized)
            ),
            "hostile token {i} was accepted"
        );
    }
    // Leeway: 5 seconds past exp still verifies, 6 does not.
    assert!(
        t.verify(&good, now.plus(Duration::from_secs(904)))
            .await
            .is_ok()
    );
    assert!(
        t.verify(&good, now.plus(Duration::from_secs(906)))
            .await
            .is_err()
    );
}

async fn the_next_key_is_published_before_it_signs_and_retired_keys_linger(f: Fixture) {
    let k = keys_in(&f, &unique("SIGNKEYS-T-")).await;
    let first = k.jwks().await.unwrap();
    assert_eq!(first.len(), 1);
    let t = issuer(&k);
    let now = f.clock.now();
    let old_token = t.issue("u", "s", PASSWORD_GRANT, now, now).await.unwrap();
    assert!(!k.rotate_if_due().await.unwrap(), "not due yet");
    f.clock.advance(ROTATION_PERIOD - PUBLISH_LEAD);
    assert!(k.rotate_if_due().await.unwrap());
    let published = k.jwks().await.unwrap();
    assert_eq!(published.len(), 2, "the next key is published ahead");
    // Still signing with the old key until the lead has passed.
    let before = t
        .issue("u", "s", PASSWORD_GRANT, f.clock.now(), f.clock.now())
        .await
        .unwrap();
    assert_eq!(
        before.split('.').next(),
        old_token.split('.').next(),
        "same key id in the header"
    );
    f.clock.advance(PUBLISH_LEAD - Duration::from_secs(10));
    let last_old = t
        .issue("u", "s", PASSWORD_GRANT, f.clock.now(), f.clock.now())
        .await
        .unwrap();
    f.clock.advance(Duration::from_secs(11));
    let switched = k.signer().await.unwrap();
    assert_ne!(switched.kid, kid(&first[0]));
    // The old key stays published, and its last token verifies, until that token has expired.
    assert_eq!(k.jwks().await.unwrap().len(), 2);
    assert!(t.verify(&last_old, f.clock.now()).await.is_ok());
    f.clock.advance(Duration::from_secs(905));
    let left = k.jwks().await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(kid(&left[0]), switched.kid);
    assert!(t.verify(&last_old, f.clock.now()).await.is_err());
}

async fn two_rotators_at_once_create_one_key(f: Fixture) {
    let partition = unique("SIGNKEYS-T-");
    let k = keys_in(&f, &partition).await;
    f.clock.advance(ROTATION_PERIOD);
    let a = Arc::new(k);
    let b = Arc::new(keys_in(&f, &partition).await);
    let (ra, rb) = tokio::join!(a.rotate_if_due(), b.rotate_if_due());
    assert_eq!(
        u8::from(ra.unwrap()) + u8::from(rb.unwrap()),
        1,
        "exactly one rotation"
    );
    a.reload().await.unwrap();
    b.reload().await.unwrap();
    assert_eq!(a.jwks().await.unwrap(), b.jwks().await.unwrap());
    assert_eq!(a.jwks().await.unwrap().len(), 2);
}

warden_tests::on_both_backends!(
    hostile_tokens_are_rejected,
    the_next_key_is_published_before_it_signs_and_retired_keys_linger,
    two_rotators_at_once_create_one_key,
);

#[tokio::test]
async fn the_jwks_route_rotates_when_due() {
    let f = warden_tests::fixtures::embedded();
    let s = warden_core::services::Services::new(
        warden_tests::fixtures::test_config(),
        f.backends.clone(),
    )
    .await
    .unwrap();
    let base = warden_tests::fixtures::serve(s, &f).await;
    let url = format!("{base}/.well-known/jwks.json");
    let keys = |r: warden_tests::http_client::Response| r.json()["keys"].as_array().unwrap().len();
    assert_eq!(keys(warden_tests::http_client::get(&url).await.unwrap()), 1);
    f.clock.advance(ROTATION_PERIOD);
    assert_eq!(
        keys(warden_tests::http_client::get(&url).await.unwrap()),
        2,
        "next key published"
    );
}
