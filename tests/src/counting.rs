//! Port wrappers that count calls, for tests and benches that pin round trips ("one `Table`
//! call per refresh", "Keys calls per 10,000 encryptions").

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use warden::keys::{DataKey, EncryptionContext, Keys};
use warden::secret::SecretBytes;
use warden::table::{Condition, Item, Key, Page, Query, Table, TxOp, Update};

/// Counts every call into the wrapped table.
pub struct CountingTable {
    inner: Arc<dyn Table>,
    calls: AtomicU64,
}

impl CountingTable {
    pub fn new(inner: Arc<dyn Table>) -> Self {
        CountingTable {
            inner,
            calls: AtomicU64::new(0),
        }
    }
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
    fn tick(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Table for CountingTable {
    async fn get(&self, k: &Key) -> warden::Result<Option<Item>> {
        self.tick();
        self.inner.get(k).await
    }
    async fn put(&self, i: Item, c: Option<Condition>) -> warden::Result<()> {
        self.tick();
        self.inner.put(i, c).await
    }
    async fn update(&self, k: &Key, u: Update) -> warden::Result<Item> {
        self.tick();
        self.inner.update(k, u).await
    }
    async fn delete(&self, k: &Key, c: Option<Condition>) -> warden::Result<()> {
        self.tick();
        self.inner.delete(k, c).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> warden::Result<()> {
        self.tick();
        self.inner.transact(ops).await
    }
    async fn query(&self, q: Query) -> warden::Result<Page> {
        self.tick();
        self.inner.query(q).await
    }
}

/// Counts every call into the wrapped key service.
pub struct CountingKeys {
    inner: Arc<dyn Keys>,
    calls: AtomicU64,
}

impl CountingKeys {
    pub fn new(inner: Arc<dyn Keys>) -> Self {
        CountingKeys {
            inner,
            calls: AtomicU64::new(0),
        }
    }
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Keys for CountingKeys {
    async fn generate_data_key(&self, c: &EncryptionContext) -> warden::Result<DataKey> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.generate_data_key(c).await
    }
    async fn decrypt_data_key(
        &self,
        w: &[u8],
        c: &EncryptionContext,
    ) -> warden::Result<SecretBytes> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.decrypt_data_key(w, c).await
    }
}
