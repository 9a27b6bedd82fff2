//! The server secret is created once, by the one process allowed to: every other process reads
//! it and fails closed when it is missing, and a deleted secret is never regenerated (a new one
//! would orphan every email blind index), even by the creator.

use warden_core::crypto::server_secret::{Provisioning, load};
use warden_core::table::Key;
use warden_tests::fixtures::embedded;

#[tokio::test]
async fn a_read_only_process_fails_closed_without_the_secret() {
    let f = embedded();
    let (table, keys) = (f.backends.table.as_ref(), f.backends.keys.as_ref());
    let missing = load(table, keys, "root", Provisioning::ReadOnly).await;
    assert!(matches!(missing, Err(warden_core::Error::Unavailable(_))));
    assert!(
        table
            .get(&Key::new("SECRET", "root"))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn the_creator_creates_it_once_and_readers_get_the_same_secret() {
    let f = embedded();
    let (table, keys) = (f.backends.table.as_ref(), f.backends.keys.as_ref());
    let created = load(table, keys, "root", Provisioning::Create)
        .await
        .unwrap();
    let again = load(table, keys, "root", Provisioning::Create)
        .await
        .unwrap();
    let read = load(table, keys, "root", Provisioning::ReadOnly)
        .await
        .unwrap();
    assert_eq!(created.expose(), again.expose());
    assert_eq!(created.expose(), read.expose());
}

#[tokio::test]
async fn a_deleted_secret_is_never_regenerated() {
    let f = embedded();
    let (table, keys) = (f.backends.table.as_ref(), f.backends.keys.as_ref());
    load(table, keys, "root", Provisioning::Create)
        .await
        .unwrap();
    table
        .delete(&Key::new("SECRET", "root"), None)
        .await
        .unwrap();
    let after = load(table, keys, "root", Provisioning::Create).await;
    assert!(matches!(after, Err(warden_core::Error::Unavailable(_))));
    assert!(
        table
            .get(&Key::new("SECRET", "root"))
            .await
            .unwrap()
            .is_none()
    );
}
