//! Per-user data keys, the basis of crypto-shredding, and the bounded caches that keep KMS off
//! the hot path.
//!
//! Each user has one data key, stored only wrapped (under `Keys`, context
//! `{purpose: user-data, user_id}`) in the item `USER#{id}` / `DATAKEY`. Every personal field of
//! that user — profile email, IP addresses and user agents in the audit log — is an envelope
//! whose key field is the reference `user:{id}`. Deleting the one `DATAKEY` item makes all of them
//! unreadable everywhere, backups included once they age out.
//!
//! Each envelope derives its own AES key from the data key and a fresh 96-bit nonce (HKDF, see
//! [`super::envelope`]), so one data key may protect many values without approaching AES-GCM's
//! random-nonce limit for a single key.
//!
//! Cache: unwrapped keys live in memory for at most [`MAX_AGE`], at most [`MAX_ENTRIES`] users,
//! so a warm container calls KMS about once per user per five minutes. A `Keys` failure fails
//! the operation (nothing is stored unencrypted).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::envelope::{self, Envelope};
use crate::clock::{Clock, Timestamp};
use crate::keys::{EncryptionContext, Keys};
use crate::secret::SecretBytes;
use crate::table::{Condition, Item, Key, Table, TxOp};
use crate::{Error, Result};

pub const MAX_AGE: Duration = Duration::from_secs(300);
pub const MAX_ENTRIES: usize = 10_000;

pub fn data_key_key(user_id: &str) -> Key {
    Key::new(crate::table::schema::user_partition(user_id), "DATAKEY")
}

fn context(user_id: &str) -> EncryptionContext {
    EncryptionContext::new()
        .with("purpose", "user-data")
        .with("user_id", user_id)
}

/// The context of one field: binds a ciphertext to its owner and its field, so it cannot be
/// moved into another user's record or another field.
fn field_context(user_id: &str, field: &str) -> EncryptionContext {
    context(user_id).with("field", field)
}

fn reference(user_id: &str) -> Vec<u8> {
    format!("user:{user_id}").into_bytes()
}

pub struct UserKeys {
    table: Arc<dyn Table>,
    keys: Arc<dyn Keys>,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<String, (Timestamp, SecretBytes)>>,
}

impl UserKeys {
    pub fn new(table: Arc<dyn Table>, keys: Arc<dyn Keys>, clock: Arc<dyn Clock>) -> Self {
        UserKeys {
            table,
            keys,
            clock,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// A fresh data key for a new user: the item to write (in the registration transaction)
    /// and the plaintext to encrypt the user's first fields with.
    pub async fn create(&self, user_id: &str) -> Result<(TxOp, SecretBytes)> {
        let dk = self.keys.generate_data_key(&context(user_id)).await?;
        let op = TxOp::Put {
            item: Item::new(&data_key_key(user_id)).with("wrapped", dk.wrapped),
            condition: Some(Condition::NotExists),
        };
        self.remember(user_id, dk.plaintext.clone());
        Ok((op, dk.plaintext))
    }

    fn remember(&self, user_id: &str, key: SecretBytes) {
        let now = self.clock.now();
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= MAX_ENTRIES {
                c.retain(|_, (at, _)| now.since(*at) < MAX_AGE);
                if c.len() >= MAX_ENTRIES {
                    c.clear();
                }
            }
            c.insert(user_id.to_string(), (now, key));
        }
    }

    /// The user's data key; [`Error::Decryption`] once it has been shredded.
    pub async fn get(&self, user_id: &str) -> Result<SecretBytes> {
        let now = self.clock.now();
        if let Ok(c) = self.cache.lock()
            && let Some((at, k)) = c.get(user_id)
            && now.since(*at) < MAX_AGE
        {
            return Ok(k.clone());
        }
        let item = self
            .table
            .get(&data_key_key(user_id))
            .await?
            .ok_or(Error::Decryption)?;
        let wrapped = item
            .b("wrapped")
            .ok_or_else(|| Error::Malformed("data key item"))?;
        let key = self
            .keys
            .decrypt_data_key(wrapped, &context(user_id))
            .await?;
        self.remember(user_id, key.clone());
        Ok(key)
    }

    /// Destroys the user's data key: every value encrypted under it becomes unreadable.
    pub async fn shred(&self, user_id: &str) -> Result<()> {
        if let Ok(mut c) = self.cache.lock() {
            c.remove(user_id);
        }
        self.table.delete(&data_key_key(user_id), None).await
    }

    /// Encrypts `plaintext` as field `field` of `user_id`.
    pub fn seal_with(
        key: &SecretBytes,
        user_id: &str,
        field: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        envelope::seal_with_key(
            key,
            &reference(user_id),
            &field_context(user_id, field),
            plaintext,
        )
    }

    pub async fn seal(&self, user_id: &str, field: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let key = self.get(user_id).await?;
        Self::seal_with(&key, user_id, field, plaintext)
    }

    /// Decrypts field `field` of `user_id`; fails if the value belongs to another user or field,
    /// was altered, or the user's key was shredded.
    pub async fn open(&self, user_id: &str, field: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let env = Envelope::parse(sealed)?;
        if env.key_field != reference(user_id).as_slice() {
            return Err(Error::Decryption);
        }
        let key = self.get(user_id).await?;
        envelope::open_with_key(&key, &env, &field_context(user_id, field))
    }
}
