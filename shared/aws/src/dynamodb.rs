//! The DynamoDB `Table` adapter.
//!
//! Translates typed [`Condition`]s and [`Update`]s into expressions with placeholder names and
//! values (so no attribute name or value is ever spliced into an expression string), and hides
//! expired items the way the embedded adapter does: reads drop them, `Exists` and `NotExists`
//! compare the TTL attribute with the clock. Reads are strongly consistent.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update as DdbUpdate,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use warden_core::clock::Clock;
use warden_core::table::schema;
use warden_core::table::{Condition, Cursor, Item, Key, Page, Query, SortKey, TxOp, Update, Value};
use warden_core::{Error, Result};

/// Every conditioned operation of a transaction asks for the item its condition found, so a
/// loser learns the state it lost to without reading it again (no extra cost on DynamoDB).
const ALL_OLD: ReturnValuesOnConditionCheckFailure = ReturnValuesOnConditionCheckFailure::AllOld;

pub struct DynamoTable {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl DynamoTable {
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        DynamoTable {
            client,
            table: table.into(),
            clock,
        }
    }
}

fn to_av(v: &Value) -> AttributeValue {
    match v {
        Value::S(s) => AttributeValue::S(s.clone()),
        Value::N(n) => AttributeValue::N(n.to_string()),
        Value::B(b) => AttributeValue::B(b.clone().into()),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::L(l) => AttributeValue::L(l.iter().map(to_av).collect()),
        Value::M(m) => AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), to_av(v))).collect()),
        Value::Null => AttributeValue::Null(true),
    }
}

fn from_av(av: &AttributeValue) -> Result<Value> {
    Ok(match av {
        AttributeValue::S(s) => Value::S(s.clone()),
        AttributeValue::N(n) => Value::N(
            n.parse()
                .map_err(|_| Error::Internal(format!("non-integer number {n}")))?,
        ),
        AttributeValue::B(b) => Value::B(b.as_ref().to_vec()),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::L(l) => Value::L(l.iter().map(from_av).collect::<Result<_>>()?),
        AttributeValue::M(m) => Value::M(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), from_av(v)?)))
                .collect::<Result<_>>()?,
        ),
        AttributeValue::Null(_) => Value::Null,
        other => return Err(Error::Internal(format!("unsupported attribute {other:?}"))),
    })
}

fn to_item(m: &HashMap<String, AttributeValue>) -> Result<Item> {
    Ok(Item(
        m.iter()
            .map(|(k, v)| Ok((k.clone(), from_av(v)?)))
            .collect::<Result<_>>()?,
    ))
}

fn from_item(item: &Item) -> HashMap<String, AttributeValue> {
    item.0.iter().map(|(k, v)| (k.clone(), to_av(v))).collect()
}

fn key_map(key: &Key) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (schema::PK.to_string(), AttributeValue::S(key.pk.clone())),
        (schema::SK.to_string(), AttributeValue::S(key.sk.clone())),
    ])
}

/// Builds one expression's placeholder maps.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn name(&mut self, n: &str) -> String {
        if let Some((p, _)) = self.names.iter().find(|(_, v)| v.as_str() == n) {
            return p.clone();
        }
        let p = format!("#n{}", self.names.len());
        self.names.insert(p.clone(), n.to_string());
        p
    }
    fn value(&mut self, v: AttributeValue) -> String {
        let p = format!(":v{}", self.values.len());
        self.values.insert(p.clone(), v);
        p
    }

    fn condition(&mut self, c: &Condition, now: i64) -> String {
        let cmp = |e: &mut Self, n: &str, op: &str, v: &Value| {
            let (n, v) = (e.name(n), e.value(to_av(v)));
            format!("{n} {op} {v}")
        };
        match c {
            Condition::Exists => {
                let (pk, ttl, now) = (
                    self.name(schema::PK),
                    self.name(schema::TTL),
                    self.value(AttributeValue::N(now.to_string())),
                );
                format!(
                    "(attribute_exists({pk}) AND (attribute_not_exists({ttl}) OR {ttl} > {now}))"
                )
            }
            Condition::NotExists => {
                let (pk, ttl, now) = (
                    self.name(schema::PK),
                    self.name(schema::TTL),
                    self.value(AttributeValue::N(now.to_string())),
                );
                format!("(attribute_not_exists({pk}) OR {ttl} <= {now})")
            }
            Condition::AttributeExists(n) => format!("attribute_exists({})", self.name(n)),
            Condition::AttributeNotExists(n) => format!("attribute_not_exists({})", self.name(n)),
            Condition::Eq(n, v) => cmp(self, n, "=", v),
            // DynamoDB's `<>` is true for a missing attribute; ours is false, as for `<`.
            Condition::Ne(n, v) => {
                let (n, v) = (self.name(n), self.value(to_av(v)));
                format!("(attribute_exists({n}) AND {n} <> {v})")
            }
            Condition::Lt(n, v) => cmp(self, n, "<", v),
            Condition::Le(n, v) => cmp(self, n, "<=", v),
            Condition::Gt(n, v) => cmp(self, n, ">", v),
            Condition::Ge(n, v) => cmp(self, n, ">=", v),
            Condition::And(cs) => self.join(cs, " AND ", now),
            Condition::Or(cs) => self.join(cs, " OR ", now),
            Condition::Not(c) => format!("(NOT {})", self.condition(c, now)),
        }
    }

    fn join(&mut self, cs: &[Condition], sep: &str, now: i64) -> String {
        let parts: Vec<String> = cs.iter().map(|c| self.condition(c, now)).collect();
        format!("({})", parts.join(sep))
    }

    fn update(&mut self, u: &Update) -> String {
        let mut clauses = Vec::new();
        if !u.set.is_empty() {
            let sets: Vec<String> = u
                .set
                .iter()
                .map(|(n, v)| format!("{} = {}", self.name(n), self.value(to_av(v))))
                .collect();
            clauses.push(format!("SET {}", sets.join(", ")));
        }
        if !u.add.is_empty() {
            let adds: Vec<String> = u
                .add
                .iter()
                .map(|(n, d)| {
                    format!(
                        "{} {}",
                        self.name(n),
                        self.value(AttributeValue::N(d.to_string()))
                    )
                })
                .collect();
            clauses.push(format!("ADD {}", adds.join(", ")));
        }
        if !u.remove.is_empty() {
            let rems: Vec<String> = u.remove.iter().map(|n| self.name(n)).collect();
            clauses.push(format!("REMOVE {}", rems.join(", ")));
        }
        clauses.join(" ")
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }
    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

fn sdk_err<E, R>(op: &str, e: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if e.code() == Some("ConditionalCheckFailedException") {
        return Error::ConditionFailed;
    }
    // A single write to an item a transaction in flight holds: the caller may retry, as after
    // a lost race (a transaction's own conflict is reported the same way).
    if e.code() == Some("TransactionConflictException") {
        return Error::Conflict("the item is held by a transaction in flight".into());
    }
    tracing::warn!(
        operation = op,
        code = e.code().unwrap_or("transport"),
        "dynamodb call failed"
    );
    Error::unavailable("dynamodb", e)
}

/// Cursor = the last evaluated key, as JSON of our `Value`s, base64url.
fn encode_cursor(k: &HashMap<String, AttributeValue>) -> Result<Cursor> {
    let item = to_item(k)?;
    let json = serde_json::to_vec(&item).map_err(|e| Error::internal("an item as JSON", e))?;
    Ok(Cursor(URL_SAFE_NO_PAD.encode(json)))
}

fn decode_cursor(c: &Cursor) -> Result<HashMap<String, AttributeValue>> {
    let bytes = URL_SAFE_NO_PAD
        .decode(&c.0)
        .map_err(|_| Error::bad_request("invalid page cursor"))?;
    let item: Item =
        serde_json::from_slice(&bytes).map_err(|_| Error::bad_request("invalid page cursor"))?;
    Ok(from_item(&item))
}

impl DynamoTable {
    fn now(&self) -> i64 {
        self.clock.now().secs()
    }

    /// The update expression, and a condition that is the caller's condition and, when
    /// `require_live`, that the stored item (if any) has not expired.
    fn update_parts(
        &self,
        u: &Update,
        require_live: bool,
    ) -> Result<(String, Option<String>, Expr)> {
        if u.set.is_empty() && u.add.is_empty() && u.remove.is_empty() {
            return Err(Error::Internal("an update must change something".into()));
        }
        let mut e = Expr::default();
        let expr = e.update(u);
        let now = self.now();
        let mut conds = Vec::new();
        if let Some(c) = &u.condition {
            conds.push(e.condition(c, now));
        }
        if require_live {
            let (pk, ttl, nowv) = (
                e.name(schema::PK),
                e.name(schema::TTL),
                e.value(AttributeValue::N(now.to_string())),
            );
            conds.push(format!(
                "(attribute_not_exists({pk}) OR attribute_not_exists({ttl}) OR {ttl} > {nowv})"
            ));
        }
        let cond = (!conds.is_empty()).then(|| conds.join(" AND "));
        Ok((expr, cond, e))
    }
}

#[async_trait]
impl warden_core::table::Table for DynamoTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_err("GetItem", e))?;
        let now = self.now();
        Ok(out
            .item()
            .map(to_item)
            .transpose()?
            .filter(|i| i.is_live(now)))
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<()> {
        let mut e = Expr::default();
        let cond = condition.as_ref().map(|c| e.condition(c, self.now()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(from_item(&item)))
            .set_condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await
            .map_err(|e| sdk_err("PutItem", e))?;
        Ok(())
    }

    async fn update(&self, key: &Key, update: Update) -> Result<Item> {
        // The write is conditioned on the stored item being live, so an expired item that
        // DynamoDB has not deleted yet never leaks its attributes into the result. A failed
        // condition returns the stored item, so telling "expired" from "the caller's condition
        // failed" costs no read: one round trip, two when the item has expired but is not yet
        // deleted (the update then applies to an empty item, as on the embedded store).
        let (expr, cond, e) = self.update_parts(&update, true)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .update_expression(expr)
            .set_condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(out) => return to_item(out.attributes().unwrap_or(&HashMap::new())),
            Err(err) => err,
        };
        let stored = match err.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(c)) => c.item().map(to_item),
            _ => return Err(sdk_err("UpdateItem", err)),
        };
        match stored.transpose()? {
            // Expired: apply to an empty item, conditioned on the item still being absent or
            // expired (a concurrent writer that revived it wins).
            Some(s) if !s.is_live(self.now()) => {
                if !update.condition.as_ref().is_none_or(|c| c.holds(None)) {
                    return Err(Error::ConditionFailed);
                }
                let fresh = update.apply(key, None);
                self.put(fresh.clone(), Some(Condition::NotExists)).await?;
                Ok(fresh)
            }
            // Live or absent: the caller's condition failed.
            _ => Err(Error::ConditionFailed),
        }
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<()> {
        let mut e = Expr::default();
        let cond = condition.as_ref().map(|c| e.condition(c, self.now()));
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .set_condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await
            .map_err(|e| sdk_err("DeleteItem", e))?;
        Ok(())
    }

    async fn transact(&self, ops: Vec<TxOp>) -> Result<()> {
        warden_core::table::validate_transaction(&ops)?;
        let now = self.now();
        let mut items = Vec::with_capacity(ops.len());
        for op in &ops {
            let mut e = Expr::default();
            let built = match op {
                TxOp::Put { item, condition } => {
                    let cond = condition.as_ref().map(|c| e.condition(c, now));
                    TransactWriteItem::builder().put(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(from_item(item)))
                            .set_condition_expression(cond)
                            .set_expression_attribute_names(e.names())
                            .set_expression_attribute_values(e.values())
                            .return_values_on_condition_check_failure(ALL_OLD)
                            .build()
                            .map_err(|e| Error::internal("a DynamoDB transaction operation", e))?,
                    )
                }
                TxOp::Update { key, update } => {
                    // In a transaction an update of an expired, not yet deleted item fails its
                    // condition (reported like any other); domain code puts such items whole.
                    let (expr, cond, e) = self.update_parts(update, true)?;
                    TransactWriteItem::builder().update(
                        DdbUpdate::builder()
                            .table_name(&self.table)
                            .set_key(Some(key_map(key)))
                            .update_expression(expr)
                            .set_condition_expression(cond)
                            .set_expression_attribute_names(e.names())
                            .set_expression_attribute_values(e.values())
                            .return_values_on_condition_check_failure(ALL_OLD)
                            .build()
                            .map_err(|e| Error::internal("a DynamoDB transaction operation", e))?,
                    )
                }
                TxOp::Delete { key, condition } => {
                    let cond = condition.as_ref().map(|c| e.condition(c, now));
                    TransactWriteItem::builder().delete(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(key_map(key)))
                            .set_condition_expression(cond)
                            .set_expression_attribute_names(e.names())
                            .set_expression_attribute_values(e.values())
                            .return_values_on_condition_check_failure(ALL_OLD)
                            .build()
                            .map_err(|e| Error::internal("a DynamoDB transaction operation", e))?,
                    )
                }
                TxOp::Check { key, condition } => {
                    let cond = e.condition(condition, now);
                    TransactWriteItem::builder().condition_check(
                        ConditionCheck::builder()
                            .table_name(&self.table)
                            .set_key(Some(key_map(key)))
                            .condition_expression(cond)
                            .set_expression_attribute_names(e.names())
                            .set_expression_attribute_values(e.values())
                            .return_values_on_condition_check_failure(ALL_OLD)
                            .build()
                            .map_err(|e| Error::internal("a DynamoDB transaction operation", e))?,
                    )
                }
            };
            items.push(built.build());
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                if let Some(svc) = e.as_service_error()
                    && let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) = svc
                {
                    let reasons: Vec<_> = c
                        .cancellation_reasons()
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                        .collect();
                    if !reasons.is_empty() {
                        let now = self.now();
                        let mut current = Vec::new();
                        for (i, r) in &reasons {
                            if let Some(m) = r.item() {
                                let item = to_item(m)?;
                                if item.is_live(now) {
                                    current.push((*i, item));
                                }
                            }
                        }
                        return Err(Error::TransactionCancelled {
                            failed: reasons.iter().map(|(i, _)| *i).collect(),
                            current: warden_core::error::FailedItems(current),
                        });
                    }
                    // Cancelled for another reason (a conflicting concurrent transaction):
                    // the caller may retry, as after a lost race.
                    return Err(Error::Conflict("transaction conflict".into()));
                }
                Err(sdk_err("TransactWriteItems", e))
            }
        }
    }

    async fn query(&self, q: Query) -> Result<Page> {
        let now = self.now();
        let mut e = Expr::default();
        let (pk_attr, sk_attr) = match q.index {
            Some(i) => (i.pk, i.sk),
            None => (schema::PK, schema::SK),
        };
        let pk = e.name(pk_attr);
        let pv = e.value(AttributeValue::S(q.partition.clone()));
        let mut key_cond = format!("{pk} = {pv}");
        // Only name the sort key when a clause uses it: DynamoDB rejects unused names.
        let sk = if q.sort == SortKey::All {
            String::new()
        } else {
            e.name(sk_attr)
        };
        let sk_clause = match &q.sort {
            SortKey::All => None,
            SortKey::Eq(v) => Some(format!("{sk} = {}", e.value(AttributeValue::S(v.clone())))),
            SortKey::BeginsWith(p) => Some(format!(
                "begins_with({sk}, {})",
                e.value(AttributeValue::S(p.clone()))
            )),
            SortKey::Between(a, b) => {
                let (a, b) = (
                    e.value(AttributeValue::S(a.clone())),
                    e.value(AttributeValue::S(b.clone())),
                );
                Some(format!("{sk} BETWEEN {a} AND {b}"))
            }
            SortKey::Lt(v) => Some(format!("{sk} < {}", e.value(AttributeValue::S(v.clone())))),
            SortKey::Le(v) => Some(format!("{sk} <= {}", e.value(AttributeValue::S(v.clone())))),
            SortKey::Gt(v) => Some(format!("{sk} > {}", e.value(AttributeValue::S(v.clone())))),
            SortKey::Ge(v) => Some(format!("{sk} >= {}", e.value(AttributeValue::S(v.clone())))),
        };
        if let Some(c) = sk_clause {
            key_cond = format!("{key_cond} AND {c}");
        }
        let ttl = e.name(schema::TTL);
        let nowv = e.value(AttributeValue::N(now.to_string()));
        let filter = format!("attribute_not_exists({ttl}) OR {ttl} > {nowv}");
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(q.index.map(|i| i.name.to_string()))
            .key_condition_expression(key_cond)
            .filter_expression(filter)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .scan_index_forward(q.forward)
            .set_limit(q.limit.map(|l| l.min(i32::MAX as usize) as i32))
            .set_consistent_read(q.index.is_none().then_some(true))
            .set_exclusive_start_key(q.start.as_ref().map(decode_cursor).transpose()?)
            .send()
            .await
            .map_err(|e| sdk_err("Query", e))?;
        let items = out
            .items()
            .iter()
            .map(to_item)
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .filter(|i| i.is_live(now))
            .collect();
        let next = out.last_evaluated_key().map(encode_cursor).transpose()?;
        Ok(Page { items, next })
    }
}
