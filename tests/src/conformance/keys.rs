//! `Keys` conformance cases.

use warden_core::Error;
use warden_core::keys::{DATA_KEY_LEN, EncryptionContext};

use crate::fixtures::Fixture;

fn ctx(user: &str) -> EncryptionContext {
    EncryptionContext::new()
        .with("purpose", "user-data")
        .with("user_id", user)
}

pub async fn data_key_unwraps_under_the_same_context(f: Fixture) {
    let k = &f.backends.keys;
    let dk = k.generate_data_key(&ctx("u1")).await.unwrap();
    assert_eq!(dk.plaintext.expose().len(), DATA_KEY_LEN);
    let back = k.decrypt_data_key(&dk.wrapped, &ctx("u1")).await.unwrap();
    assert_eq!(back.expose(), dk.plaintext.expose());
}

pub async fn decrypt_under_a_different_context_fails(f: Fixture) {
    let k = &f.backends.keys;
    let dk = k.generate_data_key(&ctx("u1")).await.unwrap();
    let err = k
        .decrypt_data_key(&dk.wrapped, &ctx("u2"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decryption), "{err:?}");
    let err = k
        .decrypt_data_key(&dk.wrapped, &EncryptionContext::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decryption), "{err:?}");
}

pub async fn a_tampered_wrapped_key_fails(f: Fixture) {
    tampered_at(f, |len| vec![len / 2, len - 1]).await;
}

/// Flips the first byte (where KMS keeps the key reference, and the local keyring its format
/// version).
pub async fn a_wrapped_key_with_a_tampered_header_fails(f: Fixture) {
    tampered_at(f, |_| vec![0]).await;
}

async fn tampered_at(f: Fixture, positions: impl Fn(usize) -> Vec<usize>) {
    let k = &f.backends.keys;
    let dk = k.generate_data_key(&ctx("u1")).await.unwrap();
    for i in positions(dk.wrapped.len()) {
        let mut bad = dk.wrapped.clone();
        bad[i] ^= 0x01;
        let err = k.decrypt_data_key(&bad, &ctx("u1")).await.unwrap_err();
        assert!(matches!(err, Error::Decryption), "byte {i}: {err:?}");
    }
    let err = k
        .decrypt_data_key(&dk.wrapped[..dk.wrapped.len() - 1], &ctx("u1"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decryption), "{err:?}");
}

pub async fn every_data_key_is_fresh(f: Fixture) {
    let k = &f.backends.keys;
    let a = k.generate_data_key(&ctx("u1")).await.unwrap();
    let b = k.generate_data_key(&ctx("u1")).await.unwrap();
    assert_ne!(a.plaintext.expose(), b.plaintext.expose());
    assert_ne!(a.wrapped, b.wrapped);
}

#[macro_export]
macro_rules! keys_suite {
    ($fixture:expr) => {
        $crate::keys_suite!(@cases $fixture;
            data_key_unwraps_under_the_same_context,
            decrypt_under_a_different_context_fails,
            a_tampered_wrapped_key_fails,
            every_data_key_is_fresh,
        );
    };
    (@cases $fixture:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::conformance::keys::$case($fixture).await;
            }
        )*
    };
}
