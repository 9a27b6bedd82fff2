//! The embedded `Table` adapter: one redb file, ACID, for `warden-local` and fast tests.
//!
//! Every write runs in one redb write transaction, and redb admits one writer at a time, so a
//! condition is checked and the write applied with no other writer in between: conditional writes
//! and transactions are atomic exactly as DynamoDB's are. Commits are durable (redb's default
//! `Immediate` durability fsyncs before `commit` returns), so an acknowledged write survives
//! `kill -9`.
//!
//! Storage keys are `pk \0 sk \0` for items and `gpk \0 gsk \0 pk \0 sk \0` for index entries.
//! Key attributes may not contain NUL, so byte order of storage keys is (partition, sort) order,
//! and sort-key conditions become byte ranges (see [`sort_bounds`]).

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use warden_core::clock::Clock;
use warden_core::table::schema::{self, Index};
use warden_core::table::{
    Condition, Cursor, Item, Key, PAGE_BYTES, Page, Query, SortKey, TxOp, Update,
};
use warden_core::{Error, Result};

const ITEMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("items");

fn index_table(index: &Index) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    TableDefinition::new(index.name)
}

pub struct EmbeddedTable {
    db: Arc<redb::Database>,
    clock: Arc<dyn Clock>,
}

fn storage_err(e: impl Into<warden_core::error::BoxError>) -> Error {
    Error::unavailable("embedded table", e)
}

fn check_key_part(s: &str) -> Result<()> {
    if s.is_empty() || s.contains('\0') {
        return Err(Error::Internal(
            "key attributes must be non-empty and free of NUL".into(),
        ));
    }
    Ok(())
}

fn encode(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for p in parts {
        out.extend_from_slice(p.as_bytes());
        out.push(0);
    }
    out
}

fn item_key(key: &Key) -> Result<Vec<u8>> {
    check_key_part(&key.pk)?;
    check_key_part(&key.sk)?;
    Ok(encode(&[&key.pk, &key.sk]))
}

/// The index entry for `item`, if the item carries both of the index's key attributes.
fn index_entry(index: &Index, item: &Item) -> Option<Vec<u8>> {
    let (gpk, gsk) = (item.s(index.pk)?, item.s(index.sk)?);
    let key = item.key()?;
    if [gpk, gsk].iter().any(|s| s.is_empty() || s.contains('\0')) {
        return None;
    }
    Some(encode(&[gpk, gsk, &key.pk, &key.sk]))
}

/// Byte-range bounds selecting the entries of partition `p` whose sort value matches `sort`.
fn sort_bounds(p: &str, sort: &SortKey) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let with = |v: &str, tail: &[u8]| {
        let mut b = Vec::with_capacity(p.len() + v.len() + 1 + tail.len());
        b.extend_from_slice(p.as_bytes());
        b.push(0);
        b.extend_from_slice(v.as_bytes());
        b.extend_from_slice(tail);
        b
    };
    let start = Bound::Included(with("", &[]));
    let end = {
        let mut b = p.as_bytes().to_vec();
        b.push(1);
        Bound::Excluded(b)
    };
    // Entries with sort value v start with `p\0v\0`; `\0` is the least byte and never occurs
    // inside a value, so `p\0v\0` is below every entry with sort value >= v, and `p\0v\x01`
    // is above every entry with sort value v and below every longer value.
    match sort {
        SortKey::All => (start, end),
        SortKey::Eq(v) => (
            Bound::Included(with(v, &[0])),
            Bound::Excluded(with(v, &[1])),
        ),
        SortKey::BeginsWith(pre) => (
            Bound::Included(with(pre, &[])),
            Bound::Excluded(with(pre, &[0xff])),
        ),
        SortKey::Between(a, b) => (
            Bound::Included(with(a, &[0])),
            Bound::Excluded(with(b, &[1])),
        ),
        SortKey::Lt(v) => (start, Bound::Excluded(with(v, &[0]))),
        SortKey::Le(v) => (start, Bound::Excluded(with(v, &[1]))),
        SortKey::Gt(v) => (Bound::Included(with(v, &[1])), end),
        SortKey::Ge(v) => (Bound::Included(with(v, &[0])), end),
    }
}

fn decode_item(bytes: &[u8]) -> Result<Item> {
    serde_json::from_slice(bytes).map_err(|e| Error::internal("a stored item", e))
}

fn encode_item(item: &Item) -> Result<Vec<u8>> {
    serde_json::to_vec(item).map_err(|e| Error::internal("an item to store", e))
}

impl EmbeddedTable {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self> {
        if let Some(dir) = path.parent() {
            crate::private_files::private_dir(dir)?;
        }
        crate::private_files::private_file(path)?;
        let db = redb::Database::create(path).map_err(storage_err)?;
        // Create the tables once so read transactions always find them.
        let tx = db.begin_write().map_err(storage_err)?;
        tx.open_table(ITEMS).map_err(storage_err)?;
        for index in schema::INDEXES {
            tx.open_table(index_table(index)).map_err(storage_err)?;
        }
        tx.commit().map_err(storage_err)?;
        Ok(EmbeddedTable {
            db: Arc::new(db),
            clock,
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&redb::Database, i64) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let db = self.db.clone();
        let now = self.clock.now().secs();
        tokio::task::spawn_blocking(move || f(&db, now))
            .await
            .map_err(|e| Error::internal("an embedded table task", e))?
    }
}

/// A write transaction's view: reads the live item, writes items and their index entries.
struct Writer<'a> {
    tx: &'a redb::WriteTransaction,
    now: i64,
}

impl Writer<'_> {
    fn stored(&self, key: &Key) -> Result<Option<Item>> {
        let t = self.tx.open_table(ITEMS).map_err(storage_err)?;
        let raw = t.get(item_key(key)?.as_slice()).map_err(storage_err)?;
        raw.map(|v| decode_item(v.value())).transpose()
    }

    fn live(&self, key: &Key) -> Result<Option<Item>> {
        Ok(self.stored(key)?.filter(|i| i.is_live(self.now)))
    }

    fn remove(&self, key: &Key) -> Result<()> {
        let Some(old) = self.stored(key)? else {
            return Ok(());
        };
        for index in schema::INDEXES {
            if let Some(e) = index_entry(index, &old) {
                let mut t = self
                    .tx
                    .open_table(index_table(index))
                    .map_err(storage_err)?;
                t.remove(e.as_slice()).map_err(storage_err)?;
            }
        }
        let mut t = self.tx.open_table(ITEMS).map_err(storage_err)?;
        t.remove(item_key(key)?.as_slice()).map_err(storage_err)?;
        Ok(())
    }

    fn write(&self, item: &Item) -> Result<()> {
        let key = item
            .key()
            .ok_or_else(|| Error::Internal("item without string pk/sk".into()))?;
        self.remove(&key)?;
        let ik = item_key(&key)?;
        for index in schema::INDEXES {
            if let Some(e) = index_entry(index, item) {
                let mut t = self
                    .tx
                    .open_table(index_table(index))
                    .map_err(storage_err)?;
                t.insert(e.as_slice(), ik.as_slice()).map_err(storage_err)?;
            }
        }
        let mut t = self.tx.open_table(ITEMS).map_err(storage_err)?;
        t.insert(ik.as_slice(), encode_item(item)?.as_slice())
            .map_err(storage_err)?;
        Ok(())
    }

    fn check(&self, key: &Key, condition: Option<&Condition>) -> Result<bool> {
        match condition {
            None => Ok(true),
            Some(c) => Ok(c.holds(self.live(key)?.as_ref())),
        }
    }
}

fn write_tx<T>(
    db: &redb::Database,
    now: i64,
    f: impl FnOnce(&Writer<'_>) -> Result<T>,
) -> Result<T> {
    let tx = db.begin_write().map_err(storage_err)?;
    let out = f(&Writer { tx: &tx, now })?;
    tx.commit().map_err(storage_err)?;
    Ok(out)
}

#[async_trait]
impl warden_core::table::Table for EmbeddedTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>> {
        let ik = item_key(key)?;
        self.blocking(move |db, now| {
            let tx = db.begin_read().map_err(storage_err)?;
            let t = tx.open_table(ITEMS).map_err(storage_err)?;
            let raw = t.get(ik.as_slice()).map_err(storage_err)?;
            Ok(raw
                .map(|v| decode_item(v.value()))
                .transpose()?
                .filter(|i| i.is_live(now)))
        })
        .await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<()> {
        let key = item
            .key()
            .ok_or_else(|| Error::Internal("item without string pk/sk".into()))?;
        self.blocking(move |db, now| {
            write_tx(db, now, |w| {
                if !w.check(&key, condition.as_ref())? {
                    return Err(Error::ConditionFailed);
                }
                w.write(&item)
            })
        })
        .await
    }

    async fn update(&self, key: &Key, update: Update) -> Result<Item> {
        let key = key.clone();
        self.blocking(move |db, now| {
            write_tx(db, now, |w| {
                let current = w.live(&key)?;
                if let Some(c) = &update.condition
                    && !c.holds(current.as_ref())
                {
                    return Err(Error::ConditionFailed);
                }
                let item = update.apply(&key, current.as_ref());
                w.write(&item)?;
                Ok(item)
            })
        })
        .await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<()> {
        let key = key.clone();
        self.blocking(move |db, now| {
            write_tx(db, now, |w| {
                if !w.check(&key, condition.as_ref())? {
                    return Err(Error::ConditionFailed);
                }
                w.remove(&key)
            })
        })
        .await
    }

    async fn transact(&self, ops: Vec<TxOp>) -> Result<()> {
        warden_core::table::validate_transaction(&ops)?;
        self.blocking(move |db, now| {
            write_tx(db, now, |w| {
                let mut failed = Vec::new();
                let mut current = Vec::new();
                for (i, op) in ops.iter().enumerate() {
                    // As on DynamoDB, an update inside a transaction needs the stored item live
                    // or absent: an expired, not yet deleted item fails it (domain code puts
                    // such items whole). A single `update` starts from an empty item instead.
                    let expired = matches!(op, TxOp::Update { .. })
                        && w.stored(&op.key())?.is_some_and(|i| !i.is_live(now));
                    if expired || !w.check(&op.key(), op.condition())? {
                        failed.push(i);
                        if let Some(item) = w.live(&op.key())? {
                            current.push((i, item));
                        }
                    }
                }
                if !failed.is_empty() {
                    // Returning an error drops the write transaction: nothing is applied.
                    return Err(Error::TransactionCancelled {
                        failed,
                        current: warden_core::error::FailedItems(current),
                    });
                }
                for op in &ops {
                    match op {
                        TxOp::Put { item, .. } => w.write(item)?,
                        TxOp::Update { key, update } => {
                            let current = w.live(key)?;
                            w.write(&update.apply(key, current.as_ref()))?;
                        }
                        TxOp::Delete { key, .. } => w.remove(key)?,
                        TxOp::Check { .. } => {}
                    }
                }
                Ok(())
            })
        })
        .await
    }

    async fn query(&self, q: Query) -> Result<Page> {
        check_key_part(&q.partition)?;
        let start = q
            .start
            .as_ref()
            .map(|c| URL_SAFE_NO_PAD.decode(&c.0))
            .transpose()
            .map_err(|_| Error::bad_request("invalid page cursor"))?;
        self.blocking(move |db, now| {
            let tx = db.begin_read().map_err(storage_err)?;
            let items = tx.open_table(ITEMS).map_err(storage_err)?;
            let index = q
                .index
                .map(|i| tx.open_table(index_table(i)))
                .transpose()
                .map_err(storage_err)?;
            let (mut lo, mut hi) = sort_bounds(&q.partition, &q.sort);
            if let Some(c) = start {
                if q.forward {
                    lo = Bound::Excluded(c);
                } else {
                    hi = Bound::Excluded(c);
                }
            }
            let range = (
                lo.as_ref().map(Vec::as_slice),
                hi.as_ref().map(Vec::as_slice),
            );
            let source = index.as_ref().unwrap_or(&items);
            let iter = source.range::<&[u8]>(range).map_err(storage_err)?;
            let iter: Box<dyn Iterator<Item = _>> = if q.forward {
                Box::new(iter)
            } else {
                Box::new(iter.rev())
            };
            // As on DynamoDB, `limit` and the page size bound the items *evaluated*, expired
            // ones included: a page may hold fewer live items than the limit and still carry a
            // cursor (see the port's contract in `warden_core::table`).
            let limit = q.limit.unwrap_or(usize::MAX);
            let mut page = Page::default();
            let (mut bytes, mut evaluated, mut last) = (0usize, 0usize, None);
            for entry in iter {
                let (k, v) = entry.map_err(storage_err)?;
                if evaluated >= limit || bytes >= PAGE_BYTES {
                    page.next = last.map(|l: Vec<u8>| Cursor(URL_SAFE_NO_PAD.encode(l)));
                    break;
                }
                let item = if index.is_some() {
                    match items.get(v.value()).map_err(storage_err)? {
                        Some(raw) => decode_item(raw.value())?,
                        None => continue,
                    }
                } else {
                    decode_item(v.value())?
                };
                last = Some(k.value().to_vec());
                evaluated += 1;
                bytes += item.size();
                if item.is_live(now) {
                    page.items.push(item);
                }
            }
            Ok(page)
        })
        .await
    }
}
