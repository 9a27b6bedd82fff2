//! [`Backends`]: one set of port adapters, as the domain sees them (trait objects only).
//!
//! The adapters themselves live outside this crate: `warden-aws` builds the DynamoDB, KMS and S3
//! set for the Lambdas (and for `warden-local --backend aws`), `warden-embedded` the redb, local
//! keyring and directory set for `warden-local`. Nothing here names either.

use std::sync::Arc;

use crate::blobs::Blobs;
use crate::clock::Clock;
use crate::digest_signer::DigestSigner;
use crate::keys::Keys;
use crate::table::Table;

#[derive(Clone)]
pub struct Backends {
    pub table: Arc<dyn Table>,
    pub keys: Arc<dyn Keys>,
    pub photos: Arc<dyn Blobs>,
    pub exports: Arc<dyn Blobs>,
    pub mailer: Arc<dyn crate::mail::Mailer>,
    pub clock: Arc<dyn Clock>,
    /// The audit digest key: present where the configuration names it (the scan signs with it,
    /// the `jwks` function publishes its public half); absent elsewhere.
    pub digest_signer: Option<Arc<dyn DigestSigner>>,
    /// Where signed audit digests are kept (an Object Lock bucket on AWS); the scan's only.
    pub digest_store: Option<Arc<dyn Blobs>>,
    /// Where downstream systems hear of privacy changes: present where the configuration names
    /// a bus (and always in `warden-local`); without one no event is written.
    pub event_bus: Option<Arc<dyn crate::event_bus::EventBus>>,
}
