//! The `Table` port: a DynamoDB-shaped key-value store with typed conditions.
//!
//! Items live under a partition key `pk` and sort key `sk` in one table (single-table design,
//! see [`schema`]). Domain code states conditions and updates as values of [`Condition`] and
//! [`Update`], never as expression strings; each adapter translates them (the DynamoDB adapter
//! into condition and update expressions, the embedded adapter into checks inside one redb
//! write transaction).
//!
//! TTL: an item whose [`schema::TTL`] attribute (epoch seconds) is not in the future is
//! *expired*. DynamoDB deletes such items lazily, so both adapters hide them: expired items are
//! invisible to `get`, `query` and to conditions (`Exists` fails, `NotExists` holds), and a
//! `put` over one replaces it. An `update` of an expired item starts from an empty item.
//!
//! Pagination: a [`Page`] stops at the adapter's page size (1 MB of data for both, as DynamoDB
//! does) and carries an opaque [`Cursor`]; [`query_all`] follows cursors to the end.

pub mod schema;
mod unit_of_work;

pub use unit_of_work::{Slot, UnitOfWork};

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;

/// An attribute value. Numbers are integers: Warden stores times as epoch milliseconds or
/// seconds and counters as counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Value {
    S(String),
    N(i64),
    B(#[serde(with = "base64_bytes")] Vec<u8>),
    Bool(bool),
    L(Vec<Value>),
    M(BTreeMap<String, Value>),
    Null,
}

mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(b))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::S(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::S(s)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::N(n)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::B(b)
    }
}

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Key {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// An item: its attributes, including `pk` and `sk`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Item(pub BTreeMap<String, Value>);

impl Item {
    /// A new item with its key attributes set.
    pub fn new(key: &Key) -> Self {
        let mut m = BTreeMap::new();
        m.insert(schema::PK.to_string(), Value::S(key.pk.clone()));
        m.insert(schema::SK.to_string(), Value::S(key.sk.clone()));
        Item(m)
    }
    pub fn with(mut self, name: &str, v: impl Into<Value>) -> Self {
        self.0.insert(name.to_string(), v.into());
        self
    }
    pub fn set(&mut self, name: &str, v: impl Into<Value>) {
        self.0.insert(name.to_string(), v.into());
    }
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }
    pub fn s(&self, name: &str) -> Option<&str> {
        match self.0.get(name) {
            Some(Value::S(s)) => Some(s),
            _ => None,
        }
    }
    pub fn n(&self, name: &str) -> Option<i64> {
        match self.0.get(name) {
            Some(Value::N(n)) => Some(*n),
            _ => None,
        }
    }
    pub fn b(&self, name: &str) -> Option<&[u8]> {
        match self.0.get(name) {
            Some(Value::B(b)) => Some(b),
            _ => None,
        }
    }
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.0.get(name) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }
    /// The item's primary key, if both key attributes are strings.
    pub fn key(&self) -> Option<Key> {
        Some(Key::new(self.s(schema::PK)?, self.s(schema::SK)?))
    }
    /// Whether the item is live at `now_secs` (no TTL, or a TTL in the future).
    pub fn is_live(&self, now_secs: i64) -> bool {
        match self.0.get(schema::TTL) {
            Some(Value::N(t)) => *t > now_secs,
            _ => true,
        }
    }
    /// Approximate stored size in bytes (names plus values), as DynamoDB counts it.
    pub fn size(&self) -> usize {
        fn value_size(v: &Value) -> usize {
            match v {
                Value::S(s) => s.len(),
                Value::N(_) => 8,
                Value::B(b) => b.len(),
                Value::Bool(_) | Value::Null => 1,
                Value::L(l) => 3 + l.iter().map(value_size).sum::<usize>(),
                Value::M(m) => {
                    3 + m
                        .iter()
                        .map(|(k, v)| k.len() + value_size(v))
                        .sum::<usize>()
                }
            }
        }
        self.0.iter().map(|(k, v)| k.len() + value_size(v)).sum()
    }
}

/// A typed condition on the item a write targets (or on an attribute of it).
///
/// Comparisons against a missing attribute are false, as in DynamoDB.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// A live item exists at the key.
    Exists,
    /// No live item exists at the key.
    NotExists,
    AttributeExists(String),
    AttributeNotExists(String),
    Eq(String, Value),
    Ne(String, Value),
    Lt(String, Value),
    Le(String, Value),
    Gt(String, Value),
    Ge(String, Value),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
}

impl Condition {
    pub fn eq(name: &str, v: impl Into<Value>) -> Self {
        Condition::Eq(name.to_string(), v.into())
    }
    pub fn lt(name: &str, v: impl Into<Value>) -> Self {
        Condition::Lt(name.to_string(), v.into())
    }
    pub fn le(name: &str, v: impl Into<Value>) -> Self {
        Condition::Le(name.to_string(), v.into())
    }
    pub fn gt(name: &str, v: impl Into<Value>) -> Self {
        Condition::Gt(name.to_string(), v.into())
    }
    pub fn ge(name: &str, v: impl Into<Value>) -> Self {
        Condition::Ge(name.to_string(), v.into())
    }
    pub fn and(self, other: Condition) -> Self {
        Condition::And(vec![self, other])
    }
    pub fn or(self, other: Condition) -> Self {
        Condition::Or(vec![self, other])
    }

    /// Evaluates the condition against the live item at the key (`None` = no live item).
    /// The embedded adapter uses this directly; the DynamoDB adapter translates instead.
    pub fn holds(&self, item: Option<&Item>) -> bool {
        use std::cmp::Ordering::*;
        let cmp = |name: &str, v: &Value, ok: &dyn Fn(std::cmp::Ordering) -> bool| {
            item.and_then(|i| i.get(name))
                .and_then(|a| comparable(a, v))
                .is_some_and(ok)
        };
        match self {
            Condition::Exists => item.is_some(),
            Condition::NotExists => item.is_none(),
            Condition::AttributeExists(n) => item.is_some_and(|i| i.get(n).is_some()),
            Condition::AttributeNotExists(n) => item.is_none_or(|i| i.get(n).is_none()),
            Condition::Eq(n, v) => item.and_then(|i| i.get(n)) == Some(v),
            Condition::Ne(n, v) => item.and_then(|i| i.get(n)).is_some_and(|a| a != v),
            Condition::Lt(n, v) => cmp(n, v, &|o| o == Less),
            Condition::Le(n, v) => cmp(n, v, &|o| o != Greater),
            Condition::Gt(n, v) => cmp(n, v, &|o| o == Greater),
            Condition::Ge(n, v) => cmp(n, v, &|o| o != Less),
            Condition::And(cs) => cs.iter().all(|c| c.holds(item)),
            Condition::Or(cs) => cs.iter().any(|c| c.holds(item)),
            Condition::Not(c) => !c.holds(item),
        }
    }
}

/// Ordering between two values of the same scalar type; `None` for mismatched or non-scalar types.
fn comparable(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::S(x), Value::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::N(x), Value::N(y)) => Some(x.cmp(y)),
        (Value::B(x), Value::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// An update: attributes to set, numbers to add to (missing counts as 0), attributes to remove,
/// and an optional condition. Returns the item as it is after the update.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    pub set: Vec<(String, Value)>,
    pub add: Vec<(String, i64)>,
    pub remove: Vec<String>,
    pub condition: Option<Condition>,
}

impl Update {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set(mut self, name: &str, v: impl Into<Value>) -> Self {
        self.set.push((name.to_string(), v.into()));
        self
    }
    pub fn add(mut self, name: &str, n: i64) -> Self {
        self.add.push((name.to_string(), n));
        self
    }
    pub fn remove(mut self, name: &str) -> Self {
        self.remove.push(name.to_string());
        self
    }
    pub fn when(mut self, c: Condition) -> Self {
        self.condition = Some(c);
        self
    }
    /// Both updates as one write to the same item: every change of each, under both conditions.
    pub fn and(mut self, other: Update) -> Self {
        self.set.extend(other.set);
        self.add.extend(other.add);
        self.remove.extend(other.remove);
        self.condition = match (self.condition, other.condition) {
            (Some(a), Some(b)) => Some(a.and(b)),
            (a, b) => a.or(b),
        };
        self
    }

    /// Applies the update to the live item (or a fresh one at `key`), as both adapters define it.
    pub fn apply(&self, key: &Key, current: Option<&Item>) -> Item {
        let mut item = current.cloned().unwrap_or_else(|| Item::new(key));
        for (n, v) in &self.set {
            item.set(n, v.clone());
        }
        for (n, d) in &self.add {
            let cur = item.n(n).unwrap_or(0);
            item.set(n, Value::N(cur + d));
        }
        for n in &self.remove {
            item.0.remove(n);
        }
        item
    }
}

/// One operation of an all-or-nothing transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum TxOp {
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    Update {
        key: Key,
        update: Update,
    },
    Delete {
        key: Key,
        condition: Option<Condition>,
    },
    /// Checks a condition on an item without writing it.
    Check {
        key: Key,
        condition: Condition,
    },
}

impl TxOp {
    pub fn key(&self) -> Key {
        match self {
            TxOp::Put { item, .. } => item.key().unwrap_or_else(|| Key::new("", "")),
            TxOp::Update { key, .. } | TxOp::Delete { key, .. } | TxOp::Check { key, .. } => {
                key.clone()
            }
        }
    }
    pub fn condition(&self) -> Option<&Condition> {
        match self {
            TxOp::Put { condition, .. } | TxOp::Delete { condition, .. } => condition.as_ref(),
            TxOp::Update { update, .. } => update.condition.as_ref(),
            TxOp::Check { condition, .. } => Some(condition),
        }
    }
}

/// A condition on the sort key within one partition.
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    All,
    Eq(String),
    BeginsWith(String),
    /// Inclusive on both ends, as DynamoDB's `BETWEEN`.
    Between(String, String),
    Lt(String),
    Le(String),
    Gt(String),
    Ge(String),
}

impl SortKey {
    pub fn matches(&self, sk: &str) -> bool {
        match self {
            SortKey::All => true,
            SortKey::Eq(v) => sk == v,
            SortKey::BeginsWith(p) => sk.starts_with(p.as_str()),
            SortKey::Between(a, b) => sk >= a.as_str() && sk <= b.as_str(),
            SortKey::Lt(v) => sk < v.as_str(),
            SortKey::Le(v) => sk <= v.as_str(),
            SortKey::Gt(v) => sk > v.as_str(),
            SortKey::Ge(v) => sk >= v.as_str(),
        }
    }
}

/// An opaque position from which a query continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub String);

/// A query of one partition of the table or of a secondary index.
#[derive(Debug, Clone)]
pub struct Query {
    pub index: Option<&'static schema::Index>,
    pub partition: String,
    pub sort: SortKey,
    pub forward: bool,
    /// How many items the page may *evaluate*, expired ones included (DynamoDB's `Limit`):
    /// a page can hold fewer live items than this and still carry a cursor. A caller after
    /// "the first live item" follows the cursor ([`first_live`]).
    pub limit: Option<usize>,
    pub start: Option<Cursor>,
}

impl Query {
    pub fn partition(pk: impl Into<String>) -> Self {
        Query {
            index: None,
            partition: pk.into(),
            sort: SortKey::All,
            forward: true,
            limit: None,
            start: None,
        }
    }
    pub fn index(index: &'static schema::Index, pk: impl Into<String>) -> Self {
        Query {
            index: Some(index),
            ..Self::partition(pk)
        }
    }
    pub fn sort(mut self, s: SortKey) -> Self {
        self.sort = s;
        self
    }
    pub fn backward(mut self) -> Self {
        self.forward = false;
        self
    }
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }
    pub fn start(mut self, c: Option<Cursor>) -> Self {
        self.start = c;
        self
    }
}

/// One page of a query's results.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<Cursor>,
}

/// The port. Every method is one round trip to the backend.
#[async_trait]
///
/// Every method is one round trip to the store, with one exception: an [`Table::update`] of an
/// item that has expired but that DynamoDB has not deleted yet takes two (the conformance suite
/// counts them).
pub trait Table: Send + Sync + 'static {
    /// The live item at `key`, read consistently.
    async fn get(&self, key: &Key) -> Result<Option<Item>>;
    /// Writes `item` whole; fails with [`crate::Error::ConditionFailed`] if the condition does not hold.
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<()>;
    /// Applies `update` and returns the item after it; an expired item counts as absent, so the
    /// update starts from an empty item.
    async fn update(&self, key: &Key, update: Update) -> Result<Item>;
    /// Deletes the item at `key` (absent is not an error unless the condition says so).
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<()>;
    /// All operations or none; [`crate::Error::TransactionCancelled`] names the failed ones.
    /// At most 100 operations, on distinct keys. Unlike a single update, a [`TxOp::Update`] of
    /// an expired, not yet deleted item fails (DynamoDB cannot reset an item inside a
    /// transaction): put such items whole.
    async fn transact(&self, ops: Vec<TxOp>) -> Result<()>;
    /// One page of a partition (or index partition) in sort-key order; see [`Query::limit`].
    async fn query(&self, query: Query) -> Result<Page>;
}

/// The first live item of `query` (in its order), following cursors past pages that held only
/// expired items.
pub async fn first_live(table: &dyn Table, query: Query) -> Result<Option<Item>> {
    let mut query = query.limit(1);
    loop {
        let page = table.query(query.clone()).await?;
        if let Some(item) = page.items.into_iter().next() {
            return Ok(Some(item));
        }
        match page.next {
            Some(c) => query.start = Some(c),
            None => return Ok(None),
        }
    }
}

/// The attribute of a work item's lease (epoch ms): until when one worker holds it.
pub const LEASE_UNTIL: &str = "lease_until";

/// Takes the lease on the work item at `key` (a queued message, an unpublished event) until
/// `now + lease`, in one conditional write: `None` when the item is gone or another worker's
/// lease is still running. Returns the item as leased.
pub async fn take_lease(
    table: &dyn Table,
    key: &Key,
    now: crate::clock::Timestamp,
    lease: std::time::Duration,
) -> Result<Option<Item>> {
    let take = Update::new()
        .set(LEASE_UNTIL, now.plus(lease).millis())
        .when(
            Condition::Exists.and(
                Condition::AttributeNotExists(LEASE_UNTIL.into())
                    .or(Condition::lt(LEASE_UNTIL, now.millis())),
            ),
        );
    match table.update(key, take).await {
        Ok(item) => Ok(Some(item)),
        Err(crate::Error::ConditionFailed) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The ids of up to `limit` work items waiting in index partition `index`, oldest first: each
/// item's partition key after `pk_prefix` (`MAILOUT#{id}`, `EVENTOUT#{id}`).
/// A schedule's pass over an outbox: `deliver` on up to `limit` queued ids, oldest first.
/// Returns how many it delivered and how many failed (each failure logged, naming `what`); an
/// id `deliver` found leased or gone (`Ok(false)`) counts as neither.
pub async fn drain_queue<F, Fut>(
    table: &dyn Table,
    index: &str,
    pk_prefix: &str,
    limit: usize,
    what: &'static str,
    deliver: F,
) -> Result<(u32, u32)>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let (mut delivered, mut failed) = (0, 0);
    for id in queued_ids(table, index, pk_prefix, limit).await? {
        match deliver(id.clone()).await {
            Ok(true) => delivered += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(id = %id, error = %e, what, "scheduled delivery failed");
                failed += 1;
            }
        }
    }
    Ok((delivered, failed))
}

pub async fn queued_ids(
    table: &dyn Table,
    index: &str,
    pk_prefix: &str,
    limit: usize,
) -> Result<Vec<String>> {
    let page = table
        .query(
            Query::index(&schema::GSI1, index)
                .sort(SortKey::All)
                .limit(limit),
        )
        .await?;
    Ok(page
        .items
        .iter()
        .filter_map(|i| i.s(schema::PK)?.strip_prefix(pk_prefix).map(str::to_string))
        .collect())
}

/// Follows a query's cursors to the end and returns every item (use only on bounded partitions;
/// stream with [`Table::query`] otherwise).
pub async fn query_all(table: &dyn Table, mut query: Query) -> Result<Vec<Item>> {
    let mut out = Vec::new();
    loop {
        let page = table.query(query.clone()).await?;
        out.extend(page.items);
        match page.next {
            Some(c) => query.start = Some(c),
            None => return Ok(out),
        }
    }
}

/// The largest page both adapters return, in bytes of item data (DynamoDB's limit).
pub const PAGE_BYTES: usize = 1024 * 1024;

/// Checks the shape of a transaction before it reaches a backend: both adapters reject the same
/// things (more than 100 operations, two operations on one key).
pub fn validate_transaction(ops: &[TxOp]) -> Result<()> {
    if ops.is_empty() || ops.len() > 100 {
        return Err(crate::Error::Internal(format!(
            "a transaction takes 1 to 100 operations, got {}",
            ops.len()
        )));
    }
    let mut keys: Vec<Key> = ops.iter().map(TxOp::key).collect();
    keys.sort();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(crate::Error::Internal(
            "a transaction touches one key twice".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_against_missing_attributes_are_false() {
        let item = Item::new(&Key::new("p", "s")).with("n", 3);
        assert!(Condition::lt("n", 4).holds(Some(&item)));
        assert!(!Condition::lt("missing", 4).holds(Some(&item)));
        assert!(!Condition::Ne("missing".into(), Value::N(1)).holds(Some(&item)));
        assert!(!Condition::lt("n", 4).holds(None));
        assert!(Condition::AttributeNotExists("n".into()).holds(None));
    }

    #[test]
    fn update_adds_to_missing_numbers_from_zero() {
        let k = Key::new("p", "s");
        let item = Update::new().add("c", 2).set("x", "y").apply(&k, None);
        assert_eq!(item.n("c"), Some(2));
        assert_eq!(item.key(), Some(k));
    }
}
