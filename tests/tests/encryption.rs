//! Envelope encryption of personal fields, on both backends: a value moved to another user's
//! record fails, the same value encrypts differently each time, a failing `Keys` stores nothing
//! (registration fails closed), and the profile's email is never stored in clear.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;
use warden_core::backends::Backends;
use warden_core::crypto::envelope::{open, seal};
use warden_core::crypto::user_keys::UserKeys;
use warden_core::keys::{DataKey, EncryptionContext, Keys};
use warden_core::secret::SecretBytes;
use warden_core::services::Services;
use warden_embedded::LocalKeyring;
use warden_tests::fixtures::{Fixture, serve, test_config, unique};
use warden_tests::http_client::{request_from, unique_loopback};

async fn user_with_key(f: &Fixture, keys: &UserKeys) -> String {
    let user = unique("");
    let (op, _) = keys.create(&user).await.unwrap();
    f.backends.table.transact(vec![op]).await.unwrap();
    user
}

async fn a_value_moved_to_another_user_or_field_does_not_decrypt(f: Fixture) {
    let k = UserKeys::new(
        f.backends.table.clone(),
        f.backends.keys.clone(),
        f.backends.clock.clone(),
    );
    let (alice, bob) = (user_with_key(&f, &k).await, user_with_key(&f, &k).await);
    let sealed = k
        .seal(&alice, "profile.email", b"alice@example.com")
        .await
        .unwrap();
    assert_eq!(
        k.open(&alice, "profile.email", &sealed).await.unwrap(),
        b"alice@example.com"
    );
    assert!(matches!(
        k.open(&bob, "profile.email", &sealed).await,
        Err(warden_core::Error::Decryption)
    ));
    assert!(k.open(&alice, "profile.name", &sealed).await.is_err());
    let again = k
        .seal(&alice, "profile.email", b"alice@example.com")
        .await
        .unwrap();
    assert_ne!(sealed, again, "a fresh nonce every time");
    for i in [0, sealed.len() / 2, sealed.len() - 1] {
        let mut bad = sealed.clone();
        bad[i] ^= 1;
        assert!(
            k.open(&alice, "profile.email", &bad).await.is_err(),
            "byte {i}"
        );
    }
}

/// `Keys` that always fails, as KMS does when it is down or access is denied.
struct Down;

#[async_trait]
impl Keys for Down {
    async fn generate_data_key(&self, _: &EncryptionContext) -> warden_core::Result<DataKey> {
        Err(warden_core::Error::Unavailable("kms down".into()))
    }
    async fn decrypt_data_key(
        &self,
        _: &[u8],
        _: &EncryptionContext,
    ) -> warden_core::Result<SecretBytes> {
        Err(warden_core::Error::Unavailable("kms down".into()))
    }
}

async fn a_failing_key_service_stores_nothing(f: Fixture) {
    // Start normally (server secret and signing keys exist), then lose the key service.
    let up = Services::new(test_config(), f.backends.clone())
        .await
        .unwrap();
    let backends = Backends {
        keys: Arc::new(Down),
        ..f.backends.clone()
    };
    let mut config = test_config();
    config.audit_retention = up.config.audit_retention;
    let down = Services::new(config.clone(), backends.clone()).await;
    // Cold start fails closed when the key service is down (the server secret cannot be opened).
    assert!(down.is_err());
    // A warm process that loses KMS: register must fail and store nothing.
    let warm = Arc::new(Services {
        user_keys: Arc::new(UserKeys::new(
            f.backends.table.clone(),
            Arc::new(Down),
            f.backends.clock.clone(),
        )),
        ..Arc::try_unwrap(up).ok().expect("sole owner")
    });
    let base = serve(warm.clone(), &f).await;
    let email = format!("{}@example.com", unique("k"));
    let r = request_from(
        Some(unique_loopback()),
        "POST",
        &format!("{base}/auth/register"),
        &[("Content-Type", "application/json")],
        json!({"email": email, "password": "marmalade kiln wobbles at dusk"})
            .to_string()
            .as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 503);
    assert!(
        warm.users().find_by_email(&email).await.unwrap().is_none(),
        "nothing stored"
    );
}

async fn the_profile_email_is_stored_encrypted(f: Fixture) {
    let s = Services::new(test_config(), f.backends.clone())
        .await
        .unwrap();
    let email = format!("{}@example.com", unique("plain"));
    warden_core::registration::register(
        &s.accounts(),
        serde_json::from_value(
            json!({"email": email, "password": "marmalade kiln wobbles at dusk"}),
        )
        .unwrap(),
        &warden_core::audit::RequestMeta {
            ip: Some("203.0.113.9".parse().unwrap()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let user = s.users().find_by_email(&email).await.unwrap().unwrap();
    assert_eq!(user.email, email);
    let raw = f
        .backends
        .table
        .get(&warden_core::users::profile_key(&user.id))
        .await
        .unwrap()
        .unwrap();
    assert!(
        !format!("{raw:?}").contains(&email[..10]),
        "no plaintext email in the item"
    );
    s.user_keys.shred(&user.id).await.unwrap();
    let fresh = Services::new(test_config(), f.backends.clone())
        .await
        .unwrap();
    assert!(
        fresh.users().get(&user.id).await.is_err(),
        "shredded: the email is gone"
    );
}

warden_tests::on_both_backends!(
    a_value_moved_to_another_user_or_field_does_not_decrypt,
    a_failing_key_service_stores_nothing,
    the_profile_email_is_stored_encrypted,
);

fn keyring() -> LocalKeyring {
    LocalKeyring::from_master(&SecretBytes::new(vec![7; 32])).unwrap()
}
fn ctx(id: &str) -> EncryptionContext {
    EncryptionContext::new().with("record", id)
}

#[tokio::test]
async fn envelope_round_trips_and_differs_each_time() {
    let k = keyring();
    let a = seal(&k, &ctx("a"), b"hello").await.unwrap();
    let b = seal(&k, &ctx("a"), b"hello").await.unwrap();
    assert_ne!(a, b);
    assert_eq!(open(&k, &ctx("a"), &a).await.unwrap(), b"hello");
}

#[tokio::test]
async fn envelope_any_flipped_byte_fails_without_plaintext() {
    let k = keyring();
    let sealed = seal(&k, &ctx("a"), b"secret value").await.unwrap();
    for i in 0..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x80;
        assert!(open(&k, &ctx("a"), &bad).await.is_err(), "byte {i}");
    }
}

#[tokio::test]
async fn envelope_a_value_moved_to_another_record_fails() {
    let k = keyring();
    let sealed = seal(&k, &ctx("a"), b"secret").await.unwrap();
    assert!(matches!(
        open(&k, &ctx("b"), &sealed).await,
        Err(warden_core::Error::Decryption)
    ));
}
