//! A table double for measuring contention, which the emulator cannot show (it serves one
//! request at a time): every call takes a configurable latency, and DynamoDB's per-item
//! conflict rule applies — a transaction holds its items for the length of its call, and a
//! transaction or single write that touches an item another transaction holds is cancelled
//! (`TransactionConflict`, [`Error::Conflict`]) without effect. Reads are not blocked, as plain
//! `GetItem`/`Query` are not on DynamoDB. The state itself lives in the wrapped table (an
//! embedded table on a memory-backed directory, whose own serialisation costs microseconds
//! against the milliseconds simulated here).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use warden_core::table::{Condition, Item, Key, Page, Query, Table, TxOp, Update};
use warden_core::{Error, Result};

pub struct ContendedTable {
    inner: Arc<dyn Table>,
    latency: Duration,
    held: Mutex<HashSet<Key>>,
    calls: AtomicU64,
    conflicts: AtomicU64,
}

impl ContendedTable {
    pub fn new(inner: Arc<dyn Table>, latency: Duration) -> Self {
        ContendedTable {
            inner,
            latency,
            held: Mutex::new(HashSet::new()),
            calls: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
        }
    }

    /// Calls made, and calls cancelled by a conflict, since the table was made.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.calls.load(Ordering::Relaxed),
            self.conflicts.load(Ordering::Relaxed),
        )
    }

    /// The latency of one call, then `Err(Conflict)` if any of `keys` is held by a transaction
    /// in flight.
    async fn call(&self, keys: &[Key]) -> Result<()> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(self.latency).await;
        let held = self.held.lock().expect("held keys");
        if keys.iter().any(|k| held.contains(k)) {
            self.conflicts.fetch_add(1, Ordering::Relaxed);
            return Err(Error::Conflict("transaction conflict".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl Table for ContendedTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>> {
        self.call(&[]).await?;
        self.inner.get(key).await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<()> {
        let key = item
            .key()
            .ok_or_else(|| Error::Internal("an item without its key".into()))?;
        self.call(&[key]).await?;
        self.inner.put(item, condition).await
    }

    async fn update(&self, key: &Key, update: Update) -> Result<Item> {
        self.call(std::slice::from_ref(key)).await?;
        self.inner.update(key, update).await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<()> {
        self.call(std::slice::from_ref(key)).await?;
        self.inner.delete(key, condition).await
    }

    async fn transact(&self, ops: Vec<TxOp>) -> Result<()> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let keys: Vec<Key> = ops.iter().map(|op| op.key()).collect();
        let taken = {
            let mut held = self.held.lock().expect("held keys");
            let taken = keys.iter().any(|k| held.contains(k));
            if !taken {
                held.extend(keys.iter().cloned());
            }
            taken
        };
        if taken {
            self.conflicts.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(self.latency).await;
            return Err(Error::Conflict("transaction conflict".into()));
        }
        // Held for the whole call; applied at its end, as DynamoDB commits.
        tokio::time::sleep(self.latency).await;
        let result = self.inner.transact(ops).await;
        let mut held = self.held.lock().expect("held keys");
        for k in &keys {
            held.remove(k);
        }
        result
    }

    async fn query(&self, query: Query) -> Result<Page> {
        self.call(&[]).await?;
        self.inner.query(query).await
    }
}
