//! The local `DigestSigner`: an RSA-2048 private key (PKCS#8, mode 0600, created on first run)
//! in the data directory — `warden-local`'s stand-in for the KMS signing key. Whoever can read
//! the data directory can sign; on AWS the key never leaves KMS.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};

use warden_core::digest_signer::{DigestPublicKey, DigestSigner};
use warden_core::{Error, Result};

pub struct LocalDigestKey {
    pair: Arc<KeyPair>,
    public: DigestPublicKey,
}

impl LocalDigestKey {
    /// Loads the key at `path`, creating it if absent.
    pub fn open(path: &Path) -> Result<Self> {
        let io = |e: std::io::Error| Error::unavailable("local digest key file", e);
        let pkcs8 = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    crate::private_files::private_dir(dir)?;
                }
                let pair = KeyPair::generate(KeySize::Rsa2048)
                    .map_err(|e| Error::internal("rsa key generation failed", e))?;
                let der = pair
                    .as_der()
                    .map_err(|e| Error::internal("rsa key export failed", e))?;
                match crate::private_files::create_private_file(path) {
                    Ok(mut f) => {
                        f.write_all(der.as_ref()).map_err(io)?;
                        f.sync_all().map_err(io)?;
                        der.as_ref().to_vec()
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        return Self::open(path);
                    }
                    Err(e) => return Err(io(e)),
                }
            }
            Err(e) => return Err(io(e)),
        };
        let pair = KeyPair::from_pkcs8(&pkcs8)
            .map_err(|_| Error::Internal(format!("{} is not an RSA PKCS#8 key", path.display())))?;
        let der = pair
            .public_key()
            .as_der()
            .map_err(|e| Error::internal("rsa public key export failed", e))?
            .as_ref()
            .to_vec();
        let fingerprint = warden_core::crypto::hex(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der).as_ref(),
        );
        Ok(LocalDigestKey {
            pair: Arc::new(pair),
            public: DigestPublicKey {
                key_id: format!("local:{}", &fingerprint[..32]),
                der,
            },
        })
    }
}

#[async_trait]
impl DigestSigner for LocalDigestKey {
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                message,
                &mut sig,
            )
            .map_err(|e| Error::internal("rsa signing failed", e))?;
        Ok(sig)
    }

    async fn public_key(&self) -> Result<DigestPublicKey> {
        Ok(self.public.clone())
    }
}
