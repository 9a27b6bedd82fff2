//! Per-installation secrets (HMAC keys for device cookies, email blind indexes, fingerprints):
//! 32 random bytes, stored in the table only as an envelope under `Keys`, created once.
//!
//! Created once, by one process: the email blind index and every other derived key depend on
//! the secret, so a new one would orphan every account. Only a process configured to
//! [`Provisioning::Create`] (in AWS the security scan, whose role alone may write the
//! `SECRET` partition) creates it; every other process reads it and fails closed when it is
//! missing. The creator writes a marker with the secret; a missing secret whose marker exists
//! has been deleted, and is an alarm, never silently regenerated. Either refusal logs one line
//! with target [`ALERT_TARGET`] for the alarm to count.
//!
//! Two cold starts racing to create the same secret both write with a `NotExists` condition;
//! the loser reads the winner's, so every instance ends with the same secret.

use crate::keys::{EncryptionContext, Keys};
use crate::secret::SecretBytes;
use crate::table::{Condition, Item, Key, Table, TxOp};
use crate::{Error, Result};

/// The log target of a missing secret (the same as the security monitor's alerts, so the
/// alarm on them counts it).
pub const ALERT_TARGET: &str = "warden::alert";

/// Whether a process may create the server secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provisioning {
    /// Creates it when it has never existed (the marker is absent).
    Create,
    /// Reads it; a missing secret fails closed.
    ReadOnly,
}

fn key(name: &str) -> Key {
    Key::new("SECRET", name)
}

/// The marker written with the secret, so a deleted secret is told from one never created.
fn marker_key(name: &str) -> Key {
    Key::new("SECRET", format!("{name}#created"))
}

fn context(name: &str) -> EncryptionContext {
    EncryptionContext::new()
        .with("purpose", "server-secret")
        .with("name", name)
}

fn missing(name: &str, why: &str) -> Error {
    tracing::error!(target: "warden::alert", secret = name, "server secret missing: {why}");
    Error::Unavailable(format!("server secret {name} missing: {why}"))
}

async fn read(table: &dyn Table, keys: &dyn Keys, name: &str) -> Result<Option<SecretBytes>> {
    let Some(item) = table.get(&key(name)).await? else {
        return Ok(None);
    };
    let sealed = item
        .b("sealed")
        .ok_or_else(|| Error::Malformed("secret item"))?;
    let plain = super::envelope::open(keys, &context(name), sealed).await?;
    Ok(Some(SecretBytes::new(plain)))
}

/// The secret called `name`: read, or (when `provisioning` allows and it never existed) created.
pub async fn load(
    table: &dyn Table,
    keys: &dyn Keys,
    name: &str,
    provisioning: Provisioning,
) -> Result<SecretBytes> {
    for _ in 0..3 {
        if let Some(secret) = read(table, keys, name).await? {
            return Ok(secret);
        }
        if provisioning == Provisioning::ReadOnly {
            return Err(missing(
                name,
                "this function only reads it (the security scan creates it on its first run)",
            ));
        }
        if table.get(&marker_key(name)).await?.is_some() {
            return Err(missing(
                name,
                "it existed and was deleted; restore the item, never regenerate it",
            ));
        }
        let fresh: [u8; 32] = super::random_bytes()?;
        let sealed = super::envelope::seal(keys, &context(name), &fresh).await?;
        let created = table
            .transact(vec![
                TxOp::Put {
                    item: Item::new(&key(name)).with("sealed", sealed),
                    condition: Some(Condition::NotExists),
                },
                TxOp::Put {
                    item: Item::new(&marker_key(name)),
                    condition: Some(Condition::NotExists),
                },
            ])
            .await;
        match created {
            Ok(()) => {
                tracing::info!(secret = name, "server secret created");
                return Ok(SecretBytes::new(fresh.to_vec()));
            }
            Err(Error::ConditionFailed | Error::TransactionCancelled { .. }) => continue,
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
    /// Keyed hashes of recovery codes and of second-step sign-in tokens (a copy of the table
    /// alone cannot be searched for them).
    pub second_factor: aws_lc_rs::hmac::Key,
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
                .map_err(|e| Error::internal("hkdf", e))?;
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
            second_factor: key(b"second-factor")?,
            password_pepper: SecretBytes::new(bytes(b"password-pepper")?.to_vec()),
        })
    }

    pub async fn load(
        table: &dyn Table,
        keys: &dyn Keys,
        provisioning: Provisioning,
    ) -> Result<Self> {
        Self::derive(&load(table, keys, "root", provisioning).await?)
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
