//! The local keyring: a 256-bit master key in a file (mode 0600, created on first run), data
//! keys wrapped with AES-256-GCM under it, the canonical encryption context as associated data.
//!
//! Wrapped format: `0x01 | nonce (12) | ciphertext (32) | tag (16)`. The leading version byte lets
//! a later format be read beside this one.

use std::io::Write;
use std::path::Path;

use async_trait::async_trait;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use warden_core::keys::{DATA_KEY_LEN, DataKey, EncryptionContext};
use warden_core::secret::SecretBytes;
use warden_core::{Error, Result};

const FORMAT_V1: u8 = 1;

pub struct LocalKeyring {
    master: LessSafeKey,
    rng: SystemRandom,
}

/// Reads a 32-byte secret from `path`, creating it with mode 0600 if absent. Also used for the
/// other per-installation secrets of the local runner (the blob link signing key).
pub fn load_or_create_secret(path: &Path) -> Result<SecretBytes> {
    let io = |e: std::io::Error| Error::unavailable("local key file", e);
    match std::fs::read(path) {
        Ok(bytes) if bytes.len() == DATA_KEY_LEN => return Ok(SecretBytes::new(bytes)),
        Ok(_) => {
            return Err(Error::Internal(format!(
                "key file {} is not {DATA_KEY_LEN} bytes",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    if let Some(dir) = path.parent() {
        crate::private_files::private_dir(dir)?;
    }
    let mut key = vec![0u8; DATA_KEY_LEN];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|e| Error::internal("random source failed", e))?;
    match crate::private_files::create_private_file(path) {
        Ok(mut f) => {
            f.write_all(&key).map_err(io)?;
            f.sync_all().map_err(io)?;
            Ok(SecretBytes::new(key))
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create_secret(path),
        Err(e) => Err(io(e)),
    }
}

impl LocalKeyring {
    /// Opens the keyring whose master key is at `path` (created with mode 0600 if absent).
    pub fn open(path: &Path) -> Result<Self> {
        let master = load_or_create_secret(path)?;
        Self::from_master(&master)
    }

    pub fn from_master(master: &SecretBytes) -> Result<Self> {
        let key = UnboundKey::new(&AES_256_GCM, master.expose())
            .map_err(|e| Error::internal("bad master key", e))?;
        Ok(LocalKeyring {
            master: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        })
    }
}

#[async_trait]
impl warden_core::keys::Keys for LocalKeyring {
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey> {
        let rand_err = |_| Error::Internal("random source failed".into());
        let mut plaintext = vec![0u8; DATA_KEY_LEN];
        self.rng.fill(&mut plaintext).map_err(rand_err)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(rand_err)?;
        let mut sealed = plaintext.clone();
        self.master
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.canonical()),
                &mut sealed,
            )
            .map_err(|e| Error::internal("wrap failed", e))?;
        let mut wrapped = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        wrapped.push(FORMAT_V1);
        wrapped.extend_from_slice(&nonce);
        wrapped.extend_from_slice(&sealed);
        Ok(DataKey {
            plaintext: SecretBytes::new(plaintext),
            wrapped,
        })
    }

    async fn decrypt_data_key(
        &self,
        wrapped: &[u8],
        context: &EncryptionContext,
    ) -> Result<SecretBytes> {
        if wrapped.len() != 1 + NONCE_LEN + DATA_KEY_LEN + 16 || wrapped[0] != FORMAT_V1 {
            return Err(Error::Decryption);
        }
        let nonce = Nonce::try_assume_unique_for_key(&wrapped[1..1 + NONCE_LEN])
            .map_err(|_| Error::Decryption)?;
        let mut buf = wrapped[1 + NONCE_LEN..].to_vec();
        let plain = self
            .master
            .open_in_place(nonce, Aad::from(context.canonical()), &mut buf)
            .map_err(|_| Error::Decryption)?;
        Ok(SecretBytes::new(plain.to_vec()))
    }
}
