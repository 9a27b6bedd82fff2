//! The KMS `Keys` adapter: `GenerateDataKey` (AES_256) and `Decrypt`, both with the context as
//! KMS `EncryptionContext`, under one customer managed key.

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::DataKeySpec;

use warden_core::keys::{DATA_KEY_LEN, DataKey, EncryptionContext};
use warden_core::secret::SecretBytes;
use warden_core::{Error, Result};

pub struct KmsKeys {
    client: Client,
    key_id: String,
}

impl KmsKeys {
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        KmsKeys {
            client,
            key_id: key_id.into(),
        }
    }
}

fn context_map(c: &EncryptionContext) -> Option<std::collections::HashMap<String, String>> {
    (!c.0.is_empty()).then(|| c.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

#[async_trait]
impl warden_core::keys::Keys for KmsKeys {
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey> {
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(context_map(context))
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(
                    code = e.code().unwrap_or("transport"),
                    "kms GenerateDataKey failed"
                );
                Error::unavailable("kms", e)
            })?;
        let plaintext = out
            .plaintext()
            .map(|b| b.as_ref().to_vec())
            .filter(|p| p.len() == DATA_KEY_LEN)
            .ok_or_else(|| Error::unavailable("kms", "no plaintext data key"))?;
        let wrapped = out
            .ciphertext_blob()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| Error::unavailable("kms", "no wrapped data key"))?;
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
        let out = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(wrapped.to_vec()))
            .set_encryption_context(context_map(context))
            .send()
            .await
            .map_err(|e| match e.code() {
                // A wrong context or an altered blob: the caller's data is bad, not KMS.
                Some("InvalidCiphertextException")
                | Some("IncorrectKeyException")
                | Some("NotFoundException") => Error::Decryption,
                code => {
                    tracing::warn!(code = code.unwrap_or("transport"), "kms Decrypt failed");
                    Error::unavailable("kms", e)
                }
            })?;
        out.plaintext()
            .map(|b| SecretBytes::new(b.as_ref().to_vec()))
            .ok_or_else(|| Error::unavailable("kms", "no plaintext"))
    }
}

/// The KMS `DigestSigner`: an asymmetric `SIGN_VERIFY` key (RSA_2048), `Sign` with
/// `RSASSA_PKCS1_V1_5_SHA_256` over the raw message. The template grants `kms:Sign` to the scan
/// function only and `kms:GetPublicKey` to the function that publishes the key.
pub struct KmsDigestSigner {
    client: Client,
    key_id: String,
    public: tokio::sync::OnceCell<warden_core::digest_signer::DigestPublicKey>,
}

impl KmsDigestSigner {
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        KmsDigestSigner {
            client,
            key_id: key_id.into(),
            public: tokio::sync::OnceCell::new(),
        }
    }
}

#[async_trait]
impl warden_core::digest_signer::DigestSigner for KmsDigestSigner {
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let out = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(aws_sdk_kms::primitives::Blob::new(message.to_vec()))
            .message_type(aws_sdk_kms::types::MessageType::Raw)
            .signing_algorithm(aws_sdk_kms::types::SigningAlgorithmSpec::RsassaPkcs1V15Sha256)
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(code = e.code().unwrap_or("transport"), "kms Sign failed");
                Error::unavailable("kms", e)
            })?;
        out.signature()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| Error::unavailable("kms", "no signature"))
    }

    async fn public_key(&self) -> Result<warden_core::digest_signer::DigestPublicKey> {
        self.public
            .get_or_try_init(|| async {
                let out = self
                    .client
                    .get_public_key()
                    .key_id(&self.key_id)
                    .send()
                    .await
                    .map_err(|e| {
                        tracing::warn!(
                            code = e.code().unwrap_or("transport"),
                            "kms GetPublicKey failed"
                        );
                        Error::unavailable("kms", e)
                    })?;
                let der = out
                    .public_key()
                    .map(|b| b.as_ref().to_vec())
                    .ok_or_else(|| Error::unavailable("kms", "no public key"))?;
                Ok(warden_core::digest_signer::DigestPublicKey {
                    key_id: out.key_id().unwrap_or(&self.key_id).to_string(),
                    der,
                })
            })
            .await
            .cloned()
    }
}
