//! Builds one set of port adapters: embedded (a data directory) or AWS (the SDK's usual
//! configuration, so `AWS_ENDPOINT_URL` points it at an emulator, with the trust store of
//! [`aws_sdk`]).

mod aws_sdk;

use std::path::Path;
use std::sync::Arc;

use crate::blobs::Blobs;
use crate::blobs::local::LocalBlobs;
use crate::blobs::s3::S3Blobs;
use crate::clock::Clock;
use crate::config::Config;
use crate::keys::Keys;
use crate::keys::kms::KmsKeys;
use crate::keys::local::{LocalKeyring, load_or_create_secret};
use crate::table::Table;
use crate::table::dynamodb::DynamoTable;
use crate::table::embedded::EmbeddedTable;
use crate::{Error, Result};

#[derive(Clone)]
pub struct Backends {
    pub table: Arc<dyn Table>,
    pub keys: Arc<dyn Keys>,
    pub photos: Arc<dyn Blobs>,
    pub exports: Arc<dyn Blobs>,
    pub clock: Arc<dyn Clock>,
}

/// The embedded backends, with the concrete blob stores the local runner serves links for.
pub struct Embedded {
    pub backends: Backends,
    pub photos: Arc<LocalBlobs>,
    pub exports: Arc<LocalBlobs>,
}

impl Backends {
    /// Everything under `data_dir`: `warden.redb`, `master.key`, `link-signing.key`, `blobs/`.
    /// Presigned links start with `base_url`.
    pub fn embedded(data_dir: &Path, base_url: &str, clock: Arc<dyn Clock>) -> Result<Embedded> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::unavailable("data directory", e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700));
        }
        let table = Arc::new(EmbeddedTable::open(
            &data_dir.join("warden.redb"),
            clock.clone(),
        )?);
        let keys = Arc::new(LocalKeyring::open(&data_dir.join("master.key"))?);
        let signing = load_or_create_secret(&data_dir.join("link-signing.key"))?;
        let blob = |name: &str| {
            Arc::new(LocalBlobs::new(
                data_dir.join("blobs").join(name),
                name,
                base_url,
                &signing,
                clock.clone(),
            ))
        };
        let (photos, exports) = (blob("photos"), blob("exports"));
        Ok(Embedded {
            backends: Backends {
                table,
                keys,
                photos: photos.clone(),
                exports: exports.clone(),
                clock,
            },
            photos,
            exports,
        })
    }

    /// DynamoDB, KMS and S3 named by the configuration.
    pub async fn aws(config: &Config, clock: Arc<dyn Clock>) -> Result<Backends> {
        let res = config
            .aws_resources()
            .map_err(|e| Error::Internal(e.to_string()))?;
        let sdk = aws_sdk::load(config.aws_trust).await?;
        // Emulators serve S3 on one host: address buckets by path when an endpoint is set.
        let s3_conf = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build();
        let s3 = aws_sdk_s3::Client::from_conf(s3_conf);
        Ok(Backends {
            table: Arc::new(DynamoTable::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                res.table,
                clock.clone(),
            )),
            keys: Arc::new(KmsKeys::new(aws_sdk_kms::Client::new(&sdk), res.kms_key_id)),
            photos: Arc::new(S3Blobs::new(s3.clone(), res.photo_bucket, clock.clone())),
            exports: Arc::new(S3Blobs::new(s3, res.export_bucket, clock.clone())),
            clock,
        })
    }
}
