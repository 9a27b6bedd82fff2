//! Per-installation secrets (HMAC keys for device cookies, email blind indexes, fingerprints):
//! 32 random bytes, stored in the table only as an envelope under `Keys`, created once.
//!
//! Two cold starts racing to create the same secret both write with a `NotExists` condition;
//! the loser reads the winner's, so every instance ends with the same secret.

use crate::keys::{EncryptionContext, Keys};
use crate::secret::SecretBytes;
use crate::table::{Condition, Item, Key, Table};
use crate::{Error, Result};

fn key(name: &str) -> Key {
    Key::new("SECRET", name)
}

fn context(name: &str) -> EncryptionContext {
    EncryptionContext::new()
        .with("purpose", "server-secret")
        .with("name", name)
}

/// The secret called `name`, created on first use.
pub async fn load_or_create(table: &dyn Table, keys: &dyn Keys, name: &str) -> Result<SecretBytes> {
    for _ in 0..3 {
        if let Some(item) = table.get(&key(name)).await? {
            let sealed = item
                .b("sealed")
                .ok_or_else(|| Error::Internal("malformed secret item".into()))?;
            let plain = super::envelope::open(keys, &context(name), sealed).await?;
            return Ok(SecretBytes::new(plain));
        }
        let fresh: [u8; 32] = super::random_bytes()?;
        let sealed = super::envelope::seal(keys, &context(name), &fresh).await?;
        match table
            .put(
                Item::new(&key(name)).with("sealed", sealed),
                Some(Condition::NotExists),
            )
            .await
        {
            Ok(()) => return Ok(SecretBytes::new(fresh.to_vec())),
            Err(Error::ConditionFailed) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Unavailable("could not load server secret".into()))
}

/// The HMAC keys derived from the root server secret, one per purpose (HKDF-SHA256 with the
/// purpose as info), so no key serves two purposes.
pub struct ServerKeys {
    /// Blind index of emails (lookups without storing the plaintext in a key).
    pub email_index: aws_lc_rs::hmac::Key,
    /// Refresh token MACs.
    pub refresh: aws_lc_rs::hmac::Key,
    /// Device fingerprints.
    pub fingerprint: aws_lc_rs::hmac::Key,
    /// Signed device cookies (login lockout per known device).
    pub device_cookie: aws_lc_rs::hmac::Key,
    /// Signatures of the audit log's head and checkpoints.
    pub audit_signing: aws_lc_rs::hmac::Key,
    /// Pseudonymous tags of client IP addresses in the audit log.
    pub ip_tag: aws_lc_rs::hmac::Key,
    /// The password pepper (Argon2's secret input), when enabled.
    pub password_pepper: SecretBytes,
}

impl ServerKeys {
    pub fn derive(root: &SecretBytes) -> Result<Self> {
        use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
        use aws_lc_rs::hmac;
        let prk = Salt::new(HKDF_SHA256, b"warden server keys v1").extract(root.expose());
        let bytes = |info: &[u8]| -> Result<[u8; 32]> {
            let mut out = [0u8; 32];
            prk.expand(&[info], HKDF_SHA256)
                .and_then(|okm| okm.fill(&mut out))
                .map_err(|_| Error::Internal("hkdf".into()))?;
            Ok(out)
        };
        let key = |info: &[u8]| -> Result<hmac::Key> {
            Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes(info)?))
        };
        Ok(ServerKeys {
            email_index: key(b"email-index")?,
            refresh: key(b"refresh-token")?,
            fingerprint: key(b"device-fingerprint")?,
            device_cookie: key(b"device-cookie")?,
            audit_signing: key(b"audit-signing")?,
            ip_tag: key(b"ip-tag")?,
            password_pepper: SecretBytes::new(bytes(b"password-pepper")?.to_vec()),
        })
    }

    pub async fn load(table: &dyn Table, keys: &dyn Keys) -> Result<Self> {
        Self::derive(&load_or_create(table, keys, "root").await?)
    }
}

/// Hex HMAC of `parts` (each length-prefixed, so part boundaries are unambiguous).
pub fn mac_hex(key: &aws_lc_rs::hmac::Key, parts: &[&[u8]]) -> String {
    super::hex(mac(key, parts).as_ref())
}

pub fn mac(key: &aws_lc_rs::hmac::Key, parts: &[&[u8]]) -> aws_lc_rs::hmac::Tag {
    aws_lc_rs::hmac::sign(key, &framed(parts))
}

/// Each part prefixed with its 4-byte big-endian length.
pub fn framed(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(&(p.len() as u32).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}
