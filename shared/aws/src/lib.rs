//! `warden-aws`: the port adapters over the services Warden reaches in production — DynamoDB
//! ([`DynamoTable`]), KMS ([`KmsKeys`]), S3 ([`S3Blobs`]), SES ([`SesMailer`]), and the one
//! remote service that is not
//! AWS, the Have I Been Pwned range API ([`HibpRange`]) — plus the SDK configuration they share
//! ([`sdk`]). Function mains and `warden-local --backend aws` wire these; no domain or HTTP code
//! names them.

pub mod dynamodb;
pub mod eventbridge;
pub mod hibp;
pub mod kms;
pub mod s3;
pub mod sdk;
pub mod ses;

use std::sync::Arc;
use std::time::Duration;

use warden_core::backends::Backends;
use warden_core::clock::{Clock, SystemClock};
use warden_core::config::{BreachCheck, Config};
use warden_core::password::breach::{BreachedPasswords, OfflineList};
use warden_core::services::OnFirstUse;
use warden_core::{Error, Result};

pub use dynamodb::DynamoTable;
pub use eventbridge::EventBridgeBus;
pub use hibp::HibpRange;
pub use kms::{KmsDigestSigner, KmsKeys};
pub use s3::S3Blobs;
pub use ses::SesMailer;

/// DynamoDB, KMS and S3 named by the configuration.
pub async fn backends(config: &Config, clock: Arc<dyn Clock>) -> Result<Backends> {
    let res = config
        .aws_resources()
        .map_err(|e| Error::internal("the AWS resources of the configuration", e))?;
    let sdk = sdk::load(config.aws_trust).await?;
    // Emulators serve S3 on one host: address buckets by path when an endpoint is set.
    let s3_conf = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(s3_conf);
    let kms = aws_sdk_kms::Client::new(&sdk);
    Ok(Backends {
        table: Arc::new(DynamoTable::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            res.table,
            clock.clone(),
        )),
        keys: Arc::new(KmsKeys::new(kms.clone(), res.kms_key_id)),
        photos: Arc::new(S3Blobs::new(s3.clone(), res.photo_bucket, clock.clone())),
        exports: Arc::new(S3Blobs::new(s3.clone(), res.export_bucket, clock.clone())),
        digest_signer: config.audit_digest_key_id.clone().map(|k| {
            Arc::new(KmsDigestSigner::new(kms, k))
                as Arc<dyn warden_core::digest_signer::DigestSigner>
        }),
        digest_store: config.audit_digest_bucket.clone().map(|b| {
            Arc::new(S3Blobs::new(s3, b, clock.clone())) as Arc<dyn warden_core::blobs::Blobs>
        }),
        event_bus: config.event_bus.clone().map(|bus| {
            Arc::new(EventBridgeBus::new(
                aws_sdk_eventbridge::Client::new(&sdk),
                bus,
            )) as Arc<dyn warden_core::event_bus::EventBus>
        }),
        mailer: Arc::new(SesMailer::new(
            aws_sdk_sesv2::Client::new(&sdk),
            res.ses_sender,
            res.ses_configuration_set,
            clock.clone(),
        )),
        clock,
    })
}

/// The breach checker the configuration names: the shipped list, or the range API.
pub fn breach_check(config: &Config, clock: Arc<dyn Clock>) -> Result<Arc<dyn BreachedPasswords>> {
    Ok(match &config.breach_check {
        BreachCheck::Offline => Arc::new(OfflineList),
        BreachCheck::Hibp { url } => Arc::new(HibpRange::new(
            url,
            Duration::from_secs(2),
            Duration::from_secs(3600),
            clock,
        )?),
    })
}

/// What every Lambda main starts with: the configuration from the environment (a bad value
/// stops start-up, naming the variable) and the AWS adapters, with the services built on the
/// first request ([`OnFirstUse`]: no network call at start-up).
pub async fn lambda_services() -> Result<OnFirstUse, Box<dyn std::error::Error + Send + Sync>> {
    let config = Config::from_env()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let backends = backends(&config, clock.clone()).await?;
    let breach = breach_check(&config, clock)?;
    Ok(OnFirstUse::new(config, backends, breach))
}
