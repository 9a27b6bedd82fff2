//! The `Keys` port: data keys for envelope encryption, bound to an encryption context.
//!
//! A data key is 256 random bits returned twice: in plaintext (used, then dropped) and wrapped
//! under a master key the port never reveals. Unwrapping needs the same [`EncryptionContext`]:
//! a wrapped key moved to another record (another context) does not decrypt. Adapters: KMS
//! (`GenerateDataKey`/`Decrypt` with `EncryptionContext`) and a local keyring (a master key file,
//! AES-256-GCM wrap with the canonical context as associated data).
//!
//! Contexts appear in CloudTrail, so they hold identifiers and purposes, never personal data.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::Result;
use crate::secret::SecretBytes;

/// Key-value pairs a data key is bound to. Ordered, so its canonical encoding is stable.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EncryptionContext(pub BTreeMap<String, String>);

impl EncryptionContext {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with(mut self, k: &str, v: &str) -> Self {
        self.0.insert(k.to_string(), v.to_string());
        self
    }

    /// Canonical bytes: for each pair in key order, `len(k) k len(v) v` with 4-byte big-endian
    /// lengths. Unambiguous, unlike joining with separators that a value might contain.
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in &self.0 {
            for s in [k, v] {
                out.extend_from_slice(&(s.len() as u32).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
        }
        out
    }
}

/// A fresh data key: use `plaintext`, store `wrapped`.
#[derive(Debug)]
pub struct DataKey {
    pub plaintext: SecretBytes,
    pub wrapped: Vec<u8>,
}

/// Length of every data key, in bytes (AES-256).
pub const DATA_KEY_LEN: usize = 32;

#[async_trait]
pub trait Keys: Send + Sync + 'static {
    /// A new 256-bit data key, wrapped under the master key and `context`.
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey>;
    /// Unwraps `wrapped`; fails with [`crate::Error::Decryption`] when it was wrapped under another
    /// context or has been altered.
    async fn decrypt_data_key(
        &self,
        wrapped: &[u8],
        context: &EncryptionContext,
    ) -> Result<SecretBytes>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_context_is_unambiguous() {
        let a = EncryptionContext::new().with("a", "b=c");
        let b = EncryptionContext::new().with("a=b", "c");
        assert_ne!(a.canonical(), b.canonical());
        let c1 = EncryptionContext::new().with("x", "1").with("y", "2");
        let c2 = EncryptionContext::new().with("y", "2").with("x", "1");
        assert_eq!(c1.canonical(), c2.canonical());
    }
}
