//! `warden-embedded`: the port adapters `warden-local` runs on without any AWS service — a redb
//! file for the [`Table`](warden_core::table::Table), a keyring whose master key is a local file
//! for [`Keys`](warden_core::keys::Keys), directories with HMAC-signed expiring links for
//! [`Blobs`](warden_core::blobs::Blobs), and a directory of message files for the
//! [`Mailer`](warden_core::mail::Mailer). The Lambda binaries never link this crate.

pub mod blobs;
pub mod digest_key;
pub mod event_bus;
pub mod keyring;
pub mod outbox;
pub mod private_files;
pub mod spool;
pub mod table;

use std::path::Path;
use std::sync::Arc;

use warden_core::Result;
use warden_core::backends::Backends;
use warden_core::clock::Clock;

pub use blobs::LocalBlobs;
pub use digest_key::LocalDigestKey;
pub use event_bus::LocalEventBus;
pub use keyring::{LocalKeyring, load_or_create_secret};
pub use outbox::LocalOutbox;
pub use table::EmbeddedTable;

/// The embedded backends, with the concrete blob stores the local runner serves links for and
/// the outbox it lists.
pub struct Embedded {
    pub backends: Backends,
    pub photos: Arc<LocalBlobs>,
    pub exports: Arc<LocalBlobs>,
    pub outbox: Arc<LocalOutbox>,
    pub events: Arc<LocalEventBus>,
}

/// Everything under `data_dir`: `warden.redb`, `master.key`, `link-signing.key`,
/// `audit-digest.key`, `blobs/`, `mail/`, `events/`.
/// Presigned links start with `base_url`.
pub fn open(data_dir: &Path, base_url: &str, clock: Arc<dyn Clock>) -> Result<Embedded> {
    private_files::private_dir(data_dir)?;
    let table = Arc::new(EmbeddedTable::open(
        &data_dir.join("warden.redb"),
        clock.clone(),
    )?);
    let keys = Arc::new(LocalKeyring::open(&data_dir.join("master.key"))?);
    let signing = load_or_create_secret(&data_dir.join("link-signing.key"))?;
    let blob = |name: &str| {
        LocalBlobs::new(
            data_dir.join("blobs").join(name),
            name,
            base_url,
            &signing,
            clock.clone(),
        )
    };
    let photos = Arc::new(blob("photos"));
    // The export bucket's lifecycle rule, here too.
    let exports = Arc::new(blob("exports").expiring_after(
        warden_core::privacy::export::PREFIX_ALL,
        warden_core::privacy::export::RETENTION,
    ));
    let outbox = Arc::new(LocalOutbox::new(data_dir.join("mail"), clock.clone()));
    let events = Arc::new(LocalEventBus::new(data_dir.join("events")));
    let digest_key = Arc::new(LocalDigestKey::open(&data_dir.join("audit-digest.key"))?);
    // No Object Lock here: whoever can write the data directory can replace these files (the
    // signature still shows it).
    let digests = Arc::new(blob("audit-digests"));
    Ok(Embedded {
        backends: Backends {
            table,
            keys,
            photos: photos.clone(),
            exports: exports.clone(),
            mailer: outbox.clone(),
            clock,
            digest_signer: Some(digest_key),
            digest_store: Some(digests),
            event_bus: Some(events.clone()),
        },
        photos,
        exports,
        outbox,
        events,
    })
}
