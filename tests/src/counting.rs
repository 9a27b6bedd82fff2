//! Port wrappers that count calls, for tests and benches that pin round trips ("one `Table`
//! call per refresh", "Keys calls per 10,000 encryptions"), and that inject a fault at a
//! chosen call (the erasure's resumability tests fail every call in turn).
//!
//! A [`Probe`] is shared by the wrappers it watches, so one count (and one fault position)
//! spans the table and both blob stores.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use warden_core::blobs::{BlobPage, BlobReader, Blobs};
use warden_core::keys::{DataKey, EncryptionContext, Keys};
use warden_core::secret::SecretBytes;
use warden_core::table::{Condition, Item, Key, Page, Query, Table, TxOp, Update};

/// Counts calls; optionally fails one of them.
#[derive(Default)]
pub struct Probe {
    calls: AtomicU64,
    /// The call number (1-based, over the probe's lifetime) that fails; 0: none.
    fail_at: AtomicU64,
    /// When set, the table writes seen: (call number, partition key).
    writes: std::sync::Mutex<Option<Vec<(u64, String)>>>,
    /// The longest chain of calls each started after the previous one ended (see [`Probe::depth`]).
    depth: AtomicU64,
    /// A partition-key prefix whose next write fails once.
    fail_write_to: std::sync::Mutex<Option<String>>,
    /// A delay added before every call, as a network round trip would take.
    latency_ms: AtomicU64,
    /// The next blob `open` of a key under this prefix waits at this gate.
    hold_open: std::sync::Mutex<Option<(String, Arc<Gate>)>>,
    /// The key of every item written (put, update, in a transaction or not).
    written: std::sync::Mutex<std::collections::BTreeSet<(String, String)>>,
}

/// Where a call waits until the test lets it go: a way to stop a workflow at a chosen point
/// (an export mid-copy) and run something else against it.
#[derive(Default)]
pub struct Gate {
    entered: tokio::sync::Notify,
    released: tokio::sync::Notify,
}

impl Gate {
    /// Returns once a call has reached the gate.
    pub async fn reached(&self) {
        self.entered.notified().await;
    }
    /// Lets the waiting call go on.
    pub fn release(&self) {
        self.released.notify_one();
    }
    async fn pass(&self) {
        self.entered.notify_one();
        self.released.notified().await;
    }
}

impl Probe {
    pub fn new() -> Arc<Self> {
        Arc::new(Probe::default())
    }
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
    /// The `n`-th call from now (1 = the next one) fails with `Error::Unavailable`.
    pub fn fail_call(&self, n: u64) {
        self.fail_at.store(self.calls() + n, Ordering::SeqCst);
    }
    pub fn disarm(&self) {
        self.fail_at.store(0, Ordering::SeqCst);
    }
    /// Whether the armed fault has fired (or none was armed).
    pub fn fault_fired(&self) -> bool {
        let at = self.fail_at.load(Ordering::SeqCst);
        at == 0 || self.calls() >= at
    }
    /// Starts recording the partition keys of table writes (put, update).
    pub fn record_writes(&self) {
        *self.writes.lock().unwrap() = Some(Vec::new());
    }
    /// Stops recording and returns what was written, in call order.
    pub fn take_writes(&self) -> Vec<(u64, String)> {
        self.writes.lock().unwrap().take().unwrap_or_default()
    }
    /// The next `put` or `update` of an item whose partition key starts with `prefix` fails
    /// with `Error::Unavailable` (once).
    pub fn fail_next_write_to(&self, prefix: &str) {
        *self.fail_write_to.lock().unwrap() = Some(prefix.to_string());
    }
    /// The keys of every item written so far, as (pk, sk).
    pub fn written_keys(&self) -> std::collections::BTreeSet<(String, String)> {
        self.written.lock().unwrap().clone()
    }
    fn note_written(&self, key: &Key) {
        self.written
            .lock()
            .unwrap()
            .insert((key.pk.clone(), key.sk.clone()));
    }
    /// The next blob `open` of a key under `prefix` waits at the returned gate.
    pub fn hold_next_open(&self, prefix: &str) -> Arc<Gate> {
        let gate = Arc::new(Gate::default());
        *self.hold_open.lock().unwrap() = Some((prefix.to_string(), gate.clone()));
        gate
    }
    fn take_hold(&self, key: &str) -> Option<Arc<Gate>> {
        let mut armed = self.hold_open.lock().unwrap();
        if armed
            .as_ref()
            .is_some_and(|(p, _)| key.starts_with(p.as_str()))
        {
            return armed.take().map(|(_, gate)| gate);
        }
        None
    }
    fn note_write(&self, pk: &str) -> warden_core::Result<()> {
        if let Some(w) = self.writes.lock().unwrap().as_mut() {
            w.push((self.calls(), pk.to_string()));
        }
        let mut armed = self.fail_write_to.lock().unwrap();
        if armed.as_deref().is_some_and(|p| pk.starts_with(p)) {
            *armed = None;
            return Err(warden_core::Error::Unavailable(format!(
                "injected fault writing {pk}"
            )));
        }
        Ok(())
    }
    /// The sequential depth of the calls since [`Probe::reset_depth`]: a call that starts while
    /// others are in flight is as deep as the deepest call that had *ended* before it started,
    /// plus one. Calls issued together (`join!`) share a depth; a call that waits for an answer
    /// is one deeper. So this is the number of round trips on the critical path.
    pub fn depth(&self) -> u64 {
        self.depth.load(Ordering::SeqCst)
    }
    pub fn reset_depth(&self) {
        self.depth.store(0, Ordering::SeqCst);
    }
    /// Delays every call by `latency` (a round trip's worth), so that calls issued together
    /// overlap however fast the store answers, and [`Probe::depth`] measures dependencies
    /// rather than the store's speed.
    pub fn set_latency(&self, latency: Duration) {
        self.latency_ms
            .store(latency.as_millis() as u64, Ordering::SeqCst);
    }
    async fn timed<T>(&self, call: impl std::future::Future<Output = T>) -> T {
        let mine = self.depth.load(Ordering::SeqCst) + 1;
        let latency = self.latency_ms.load(Ordering::SeqCst);
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        let out = call.await;
        self.depth.fetch_max(mine, Ordering::SeqCst);
        out
    }

    fn tick(&self) -> warden_core::Result<()> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.fail_at.load(Ordering::SeqCst) {
            return Err(warden_core::Error::Unavailable(format!(
                "injected fault at call {n}"
            )));
        }
        Ok(())
    }
}

/// Counts every call into the wrapped table.
pub struct CountingTable {
    inner: Arc<dyn Table>,
    probe: Arc<Probe>,
}

impl CountingTable {
    pub fn new(inner: Arc<dyn Table>) -> Self {
        Self::with_probe(inner, Probe::new())
    }
    pub fn with_probe(inner: Arc<dyn Table>, probe: Arc<Probe>) -> Self {
        CountingTable { inner, probe }
    }
    pub fn calls(&self) -> u64 {
        self.probe.calls()
    }
    pub fn probe(&self) -> &Probe {
        &self.probe
    }
}

#[async_trait]
impl Table for CountingTable {
    async fn get(&self, k: &Key) -> warden_core::Result<Option<Item>> {
        self.probe.tick()?;
        self.probe.timed(self.inner.get(k)).await
    }
    async fn put(&self, i: Item, c: Option<Condition>) -> warden_core::Result<()> {
        self.probe.tick()?;
        self.probe.note_write(i.s("pk").unwrap_or_default())?;
        if let Some(key) = i.key() {
            self.probe.note_written(&key);
        }
        self.probe.timed(self.inner.put(i, c)).await
    }
    async fn update(&self, k: &Key, u: Update) -> warden_core::Result<Item> {
        self.probe.tick()?;
        self.probe.note_write(&k.pk)?;
        self.probe.note_written(k);
        self.probe.timed(self.inner.update(k, u)).await
    }
    async fn delete(&self, k: &Key, c: Option<Condition>) -> warden_core::Result<()> {
        self.probe.tick()?;
        self.probe.timed(self.inner.delete(k, c)).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> warden_core::Result<()> {
        self.probe.tick()?;
        for op in &ops {
            if matches!(op, TxOp::Put { .. } | TxOp::Update { .. }) {
                self.probe.note_written(&op.key());
            }
        }
        self.probe.timed(self.inner.transact(ops)).await
    }
    async fn query(&self, q: Query) -> warden_core::Result<Page> {
        self.probe.tick()?;
        self.probe.timed(self.inner.query(q)).await
    }
}

/// Counts every call into the wrapped blob store.
pub struct CountingBlobs {
    inner: Arc<dyn Blobs>,
    probe: Arc<Probe>,
}

impl CountingBlobs {
    pub fn with_probe(inner: Arc<dyn Blobs>, probe: Arc<Probe>) -> Self {
        CountingBlobs { inner, probe }
    }
}

#[async_trait]
impl Blobs for CountingBlobs {
    async fn put(
        &self,
        key: &str,
        body: BlobReader,
        content_type: &str,
    ) -> warden_core::Result<u64> {
        self.probe.tick()?;
        self.inner.put(key, body, content_type).await
    }
    async fn get(&self, key: &str) -> warden_core::Result<Option<bytes::Bytes>> {
        self.probe.tick()?;
        self.inner.get(key).await
    }
    async fn open(&self, key: &str) -> warden_core::Result<Option<BlobReader>> {
        self.probe.tick()?;
        if let Some(gate) = self.probe.take_hold(key) {
            gate.pass().await;
        }
        self.inner.open(key).await
    }
    async fn list(&self, prefix: &str, cursor: Option<String>) -> warden_core::Result<BlobPage> {
        self.probe.tick()?;
        self.inner.list(prefix, cursor).await
    }
    async fn delete_many(&self, keys: &[String]) -> warden_core::Result<()> {
        self.probe.tick()?;
        self.inner.delete_many(keys).await
    }
    async fn presign_get(&self, key: &str, ttl: Duration) -> warden_core::Result<String> {
        self.inner.presign_get(key, ttl).await
    }
    async fn presign_put(
        &self,
        key: &str,
        ttl: Duration,
        ct: &str,
        length: u64,
    ) -> warden_core::Result<String> {
        self.inner.presign_put(key, ttl, ct, length).await
    }
    async fn purge_prefix(&self, prefix: &str) -> warden_core::Result<u64> {
        self.probe.tick()?;
        self.inner.purge_prefix(prefix).await
    }
    async fn unfinished(&self, prefix: &str) -> warden_core::Result<Vec<String>> {
        self.probe.tick()?;
        self.inner.unfinished(prefix).await
    }
}

/// Counts every call into the wrapped key service.
pub struct CountingKeys {
    inner: Arc<dyn Keys>,
    probe: Arc<Probe>,
}

impl CountingKeys {
    pub fn new(inner: Arc<dyn Keys>) -> Self {
        CountingKeys {
            inner,
            probe: Probe::new(),
        }
    }
    pub fn calls(&self) -> u64 {
        self.probe.calls()
    }
}

#[async_trait]
impl Keys for CountingKeys {
    async fn generate_data_key(&self, c: &EncryptionContext) -> warden_core::Result<DataKey> {
        self.probe.tick()?;
        self.inner.generate_data_key(c).await
    }
    async fn decrypt_data_key(
        &self,
        w: &[u8],
        c: &EncryptionContext,
    ) -> warden_core::Result<SecretBytes> {
        self.probe.tick()?;
        self.inner.decrypt_data_key(w, c).await
    }
}
