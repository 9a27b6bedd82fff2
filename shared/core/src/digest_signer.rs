//! The `DigestSigner` port: the asymmetric key that signs the audit log's digests.
//!
//! The key never leaves its holder: KMS in production (`kms:Sign` granted to the scan function
//! alone), a private key file in the data directory for `warden-local`. Anyone may verify with
//! the public key, which is published apart from the token keys (`GET
//! /.well-known/audit-digest-key`): a key that signs digests must never be able to mint tokens,
//! nor the other way round. Every other function's role can unwrap the server secret, so a key
//! derived from it could be used by any of them to re-sign a rewritten history; this one cannot.

use async_trait::async_trait;
use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

use crate::Result;

/// The one signature scheme digests use (KMS `RSASSA_PKCS1_V1_5_SHA_256`).
pub const ALGORITHM: &str = "RSASSA_PKCS1_V1_5_SHA_256";

/// A verifier's copy of the digest key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestPublicKey {
    /// Which key signed (a KMS key ARN, or the local key's fingerprint).
    pub key_id: String,
    /// DER `SubjectPublicKeyInfo`.
    pub der: Vec<u8>,
}

impl DigestPublicKey {
    /// Whether `signature` is this key's RSASSA-PKCS1-v1_5 SHA-256 signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.der)
            .verify(message, signature)
            .is_ok()
    }

    /// The key as PEM (`PUBLIC KEY`), as `openssl` reads it.
    pub fn pem(&self) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.der);
        let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END PUBLIC KEY-----\n");
        out
    }
}

#[async_trait]
pub trait DigestSigner: Send + Sync + 'static {
    /// The RSASSA-PKCS1-v1_5 SHA-256 signature of `message`.
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>>;
    /// The public half, for verifiers.
    async fn public_key(&self) -> Result<DigestPublicKey>;
}
