//! What a function does to AWS, as IAM sees it, and whether `template.yaml` allows it.
//!
//! moto evaluates no IAM, so least privilege is tested statically: the ports are wrapped in
//! recorders that note each call as the request IAM authorises (action, resource, and the
//! values of the condition keys the template uses: `dynamodb:LeadingKeys`,
//! `dynamodb:Attributes`, `kms:EncryptionContext:*`), and each function's `Policies` are read
//! from `template.yaml` and evaluated against them. The evaluator knows the few condition
//! operators the template may use and fails on any other, so a statement it cannot judge is an
//! error, never a pass. It models the trap of the set operators: `ForAllValues` holds when the
//! key is absent from the request, so a statement that relies on it must also require the key
//! (`Null: false`).
//!
//! What a call means to DynamoDB follows `warden_aws::dynamodb`: an update sends `ReturnValues`
//! `ALL_NEW` and a liveness condition on `pk` and `expires_at`, and an update of an expired item
//! is retried as a conditional put of the same attributes; `Exists`/`NotExists` name `pk` and
//! `expires_at`. A write accesses the key attributes, the attributes it writes and those its
//! condition names (DynamoDB counts both). S3 calls are recorded as their actions only (a
//! presigned link needs the action of the request it signs); their buckets and prefixes are
//! not checked here.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use warden_core::blobs::{BlobPage, BlobReader, Blobs};
use warden_core::keys::{DataKey, EncryptionContext, Keys};
use warden_core::secret::SecretBytes;
use warden_core::table::schema::{PK, SK, TTL};
use warden_core::table::{Condition, Item, Key, Page, Query, Table, TxOp, Update};

/// One request as IAM authorises it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// A DynamoDB item action (`GetItem`, `PutItem`, …; a transaction's items each count as
    /// their own action) or `Query`, on the table or on an index.
    Table {
        action: &'static str,
        /// The index a query reads (its partition key is then the index's).
        index: Option<&'static str>,
        /// The partition key value (`dynamodb:LeadingKeys`).
        partition: String,
        /// The attribute names a write accesses (`dynamodb:Attributes`); `None` for reads,
        /// deletes and condition checks, which the template does not limit by attribute.
        attributes: Option<BTreeSet<String>>,
    },
    /// A KMS call on the data key, with its encryption context.
    Kms {
        action: &'static str,
        context: BTreeMap<String, String>,
    },
    /// An S3 action (either bucket).
    S3 { action: &'static str },
    /// An SES send (from the template's identity, in its configuration set).
    Ses { action: &'static str },
    /// An EventBridge call on the privacy event bus.
    Events { action: &'static str },
}

impl Access {
    /// The partition as a pattern: its prefix up to the first `#` and `*` after it, or the
    /// whole value when it has no `#` (`USER#*`, `SECRET`).
    pub fn partition_pattern(partition: &str) -> String {
        match partition.split_once('#') {
            Some((prefix, _)) => format!("{prefix}#*"),
            None => partition.to_string(),
        }
    }

    /// One line for a report, with identifiers replaced by patterns.
    pub fn describe(&self) -> String {
        match self {
            Access::Table {
                action,
                index,
                partition,
                attributes,
            } => {
                let on = index.map(|i| format!(" (index {i})")).unwrap_or_default();
                let attrs = attributes
                    .as_ref()
                    .map(|a| format!(" {a:?}"))
                    .unwrap_or_default();
                format!(
                    "dynamodb:{action}{on} {}{attrs}",
                    Self::partition_pattern(partition)
                )
            }
            Access::Kms { action, context } => {
                let generic: BTreeMap<&str, &str> = context
                    .iter()
                    .map(|(k, v)| match k.as_str() {
                        "purpose" | "name" => (k.as_str(), v.as_str()),
                        _ => (k.as_str(), "*"),
                    })
                    .collect();
                format!("kms:{action} {generic:?}")
            }
            Access::S3 { action } => format!("s3:{action}"),
            Access::Ses { action } => format!("ses:{action}"),
            Access::Events { action } => format!("events:{action}"),
        }
    }
}

/// Everything the wrappers of one run recorded.
pub type Recorded = Arc<Mutex<BTreeSet<Access>>>;

fn note(r: &Recorded, a: Access) {
    r.lock().expect("recorder lock").insert(a);
}

/// The attribute names a condition reads, as the DynamoDB adapter writes it.
fn condition_names(c: &Condition, out: &mut BTreeSet<String>) {
    match c {
        Condition::Exists | Condition::NotExists => {
            out.insert(PK.into());
            out.insert(TTL.into());
        }
        Condition::AttributeExists(n)
        | Condition::AttributeNotExists(n)
        | Condition::Eq(n, _)
        | Condition::Ne(n, _)
        | Condition::Lt(n, _)
        | Condition::Le(n, _)
        | Condition::Gt(n, _)
        | Condition::Ge(n, _) => {
            out.insert(n.clone());
        }
        Condition::And(cs) | Condition::Or(cs) => {
            for c in cs {
                condition_names(c, out);
            }
        }
        Condition::Not(c) => condition_names(c, out),
    }
}

fn key_names() -> BTreeSet<String> {
    [PK, SK].into_iter().map(String::from).collect()
}

fn put_access(item: &Item, condition: Option<&Condition>) -> Access {
    let mut attributes = key_names();
    attributes.extend(item.0.keys().cloned());
    if let Some(c) = condition {
        condition_names(c, &mut attributes);
    }
    Access::Table {
        action: "PutItem",
        index: None,
        partition: item.s(PK).unwrap_or_default().to_string(),
        attributes: Some(attributes),
    }
}

/// An update, and the conditional put the adapter sends when the item has expired.
fn update_accesses(key: &Key, u: &Update) -> [Access; 2] {
    let mut attributes = key_names();
    attributes.extend(u.set.iter().map(|(n, _)| n.clone()));
    attributes.extend(u.add.iter().map(|(n, _)| n.clone()));
    let mut fallback = attributes.clone();
    attributes.extend(u.remove.iter().cloned());
    if let Some(c) = &u.condition {
        condition_names(c, &mut attributes);
    }
    // The liveness condition every update carries.
    attributes.insert(TTL.into());
    // The fallback put: the update applied to an empty item, `NotExists`.
    fallback.insert(TTL.into());
    [
        Access::Table {
            action: "UpdateItem",
            index: None,
            partition: key.pk.clone(),
            attributes: Some(attributes),
        },
        Access::Table {
            action: "PutItem",
            index: None,
            partition: key.pk.clone(),
            attributes: Some(fallback),
        },
    ]
}

fn keyed(action: &'static str, key: &Key) -> Access {
    Access::Table {
        action,
        index: None,
        partition: key.pk.clone(),
        attributes: None,
    }
}

/// A `Table` that records each call as the DynamoDB requests it makes.
pub struct RecordingTable(pub Arc<dyn Table>, pub Recorded);
/// A `Keys` that records each call as the KMS request it makes.
pub struct RecordingKeys(pub Arc<dyn Keys>, pub Recorded);
/// A `Blobs` that records each call as the S3 actions it needs.
pub struct RecordingBlobs(pub Arc<dyn Blobs>, pub Recorded);
pub struct RecordingMailer(pub Arc<dyn warden_core::mail::Mailer>, pub Recorded);
/// An `EventBus` that records each publication as the EventBridge request it makes.
pub struct RecordingBus(pub Arc<dyn warden_core::event_bus::EventBus>, pub Recorded);

#[async_trait]
impl warden_core::event_bus::EventBus for RecordingBus {
    async fn publish(
        &self,
        events: &[warden_core::event_bus::BusEvent],
    ) -> warden_core::Result<Vec<std::result::Result<(), String>>> {
        note(
            &self.1,
            Access::Events {
                action: "PutEvents",
            },
        );
        self.0.publish(events).await
    }
}

#[async_trait]
impl warden_core::mail::Mailer for RecordingMailer {
    async fn send(&self, m: &warden_core::mail::Message) -> warden_core::Result<()> {
        note(
            &self.1,
            Access::Ses {
                action: "SendEmail",
            },
        );
        self.0.send(m).await
    }
}

#[async_trait]
impl Table for RecordingTable {
    async fn get(&self, k: &Key) -> warden_core::Result<Option<Item>> {
        note(&self.1, keyed("GetItem", k));
        self.0.get(k).await
    }
    async fn put(&self, i: Item, c: Option<Condition>) -> warden_core::Result<()> {
        note(&self.1, put_access(&i, c.as_ref()));
        self.0.put(i, c).await
    }
    async fn update(&self, k: &Key, u: Update) -> warden_core::Result<Item> {
        for a in update_accesses(k, &u) {
            note(&self.1, a);
        }
        self.0.update(k, u).await
    }
    async fn delete(&self, k: &Key, c: Option<Condition>) -> warden_core::Result<()> {
        note(&self.1, keyed("DeleteItem", k));
        self.0.delete(k, c).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> warden_core::Result<()> {
        for op in &ops {
            match op {
                TxOp::Put { item, condition } => {
                    note(&self.1, put_access(item, condition.as_ref()))
                }
                // In a transaction an update is not retried as a put.
                TxOp::Update { key, update } => {
                    let [u, _] = update_accesses(key, update);
                    note(&self.1, u);
                }
                TxOp::Delete { key, .. } => note(&self.1, keyed("DeleteItem", key)),
                TxOp::Check { key, .. } => note(&self.1, keyed("ConditionCheckItem", key)),
            }
        }
        self.0.transact(ops).await
    }
    async fn query(&self, q: Query) -> warden_core::Result<Page> {
        note(
            &self.1,
            Access::Table {
                action: "Query",
                index: q.index.map(|i| i.name),
                partition: q.partition.clone(),
                attributes: None,
            },
        );
        self.0.query(q).await
    }
}

fn kms(action: &'static str, c: &EncryptionContext) -> Access {
    Access::Kms {
        action,
        context: c.0.clone(),
    }
}

#[async_trait]
impl Keys for RecordingKeys {
    async fn generate_data_key(&self, c: &EncryptionContext) -> warden_core::Result<DataKey> {
        note(&self.1, kms("GenerateDataKey", c));
        self.0.generate_data_key(c).await
    }
    async fn decrypt_data_key(
        &self,
        w: &[u8],
        c: &EncryptionContext,
    ) -> warden_core::Result<SecretBytes> {
        note(&self.1, kms("Decrypt", c));
        self.0.decrypt_data_key(w, c).await
    }
}

impl RecordingBlobs {
    fn note(&self, actions: &[&'static str]) {
        for action in actions {
            note(&self.1, Access::S3 { action });
        }
    }
}

#[async_trait]
impl Blobs for RecordingBlobs {
    async fn put(&self, key: &str, body: BlobReader, ct: &str) -> warden_core::Result<u64> {
        // Multipart uploads are aborted on failure.
        self.note(&["PutObject", "AbortMultipartUpload"]);
        self.0.put(key, body, ct).await
    }
    async fn get(&self, key: &str) -> warden_core::Result<Option<bytes::Bytes>> {
        self.note(&["GetObject"]);
        self.0.get(key).await
    }
    async fn open(&self, key: &str) -> warden_core::Result<Option<BlobReader>> {
        self.note(&["GetObject"]);
        self.0.open(key).await
    }
    async fn list(&self, prefix: &str, cursor: Option<String>) -> warden_core::Result<BlobPage> {
        self.note(&["ListBucket"]);
        self.0.list(prefix, cursor).await
    }
    async fn delete_many(&self, keys: &[String]) -> warden_core::Result<()> {
        self.note(&["DeleteObject"]);
        self.0.delete_many(keys).await
    }
    async fn presign_get(&self, key: &str, ttl: Duration) -> warden_core::Result<String> {
        self.note(&["GetObject"]);
        self.0.presign_get(key, ttl).await
    }
    async fn presign_put(
        &self,
        key: &str,
        ttl: Duration,
        ct: &str,
        length: u64,
    ) -> warden_core::Result<String> {
        self.note(&["PutObject"]);
        self.0.presign_put(key, ttl, ct, length).await
    }
    async fn purge_prefix(&self, prefix: &str) -> warden_core::Result<u64> {
        self.note(&[
            "ListBucketMultipartUploads",
            "AbortMultipartUpload",
            "ListBucketVersions",
            "DeleteObject",
            "DeleteObjectVersion",
        ]);
        self.0.purge_prefix(prefix).await
    }
    async fn unfinished(&self, prefix: &str) -> warden_core::Result<Vec<String>> {
        self.note(&["ListBucketMultipartUploads"]);
        self.0.unfinished(prefix).await
    }
}

// ---------------------------------------------------------------------------------- template

/// A node of the YAML subset the functions' policies are written in: block maps and lists,
/// flow lists of scalars, plain or quoted scalars (tags such as `!GetAtt` stay part of the
/// scalar). Anything else is rejected.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Scalar(String),
    List(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    fn scalars(&self) -> Vec<String> {
        match self {
            Node::Scalar(s) => vec![s.clone()],
            Node::List(items) => items
                .iter()
                .map(|n| match n {
                    Node::Scalar(s) => s.clone(),
                    other => panic!("expected a scalar, found {other:?}"),
                })
                .collect(),
            Node::Map(_) => panic!("expected a scalar or a list, found {self:?}"),
        }
    }
    fn map(&self) -> &[(String, Node)] {
        match self {
            Node::Map(m) => m,
            other => panic!("expected a map, found {other:?}"),
        }
    }
    fn list(&self) -> &[Node] {
        match self {
            Node::List(l) => l,
            other => panic!("expected a list, found {other:?}"),
        }
    }
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return s[1..s.len() - 1].to_string();
        }
    }
    assert!(
        !s.contains(" #") && !s.starts_with('"') && !s.starts_with('\''),
        "unsupported scalar (inline comment or stray quote): {s}"
    );
    s.to_string()
}

fn scalar_or_flow(s: &str) -> Node {
    let s = s.trim();
    match s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        Some(inner) => Node::List(inner.split(',').map(|v| Node::Scalar(unquote(v))).collect()),
        None => {
            assert!(!s.starts_with('{'), "flow maps are not supported: {s}");
            Node::Scalar(unquote(s))
        }
    }
}

/// `key: value` or `key:` (the value is the block below).
fn split_entry(text: &str) -> (String, Option<&str>) {
    if let Some(k) = text.strip_suffix(':') {
        return (unquote(k), None);
    }
    let (k, v) = text
        .split_once(": ")
        .unwrap_or_else(|| panic!("expected `key: value`, found {text}"));
    (unquote(k), Some(v))
}

/// Parses the block at `indent` starting at `lines[*i]`.
fn parse_block(lines: &mut [(usize, String)], i: &mut usize, indent: usize) -> Node {
    let is_item = |t: &str| t == "-" || t.starts_with("- ");
    if is_item(&lines[*i].1) {
        let mut items = Vec::new();
        while *i < lines.len() && lines[*i].0 == indent && is_item(&lines[*i].1) {
            let rest = lines[*i].1[1..].trim_start().to_string();
            assert!(!rest.is_empty(), "empty list item");
            let is_entry = rest.ends_with(':') || rest.contains(": ");
            if is_entry && !rest.starts_with('"') {
                // `- key: value`: a map whose first entry is on this line.
                lines[*i] = (indent + 2, rest);
                items.push(parse_block(lines, i, indent + 2));
            } else {
                items.push(scalar_or_flow(&rest));
                *i += 1;
            }
        }
        return Node::List(items);
    }
    let mut entries = Vec::new();
    while *i < lines.len() && lines[*i].0 == indent && !is_item(&lines[*i].1) {
        let text = lines[*i].1.clone();
        let (k, v) = split_entry(&text);
        *i += 1;
        let value = match v {
            Some(v) => scalar_or_flow(v),
            None => {
                let deeper = lines.get(*i).map(|l| l.0).unwrap_or(0);
                assert!(deeper > indent, "`{k}:` has no value below it");
                parse_block(lines, i, deeper)
            }
        };
        entries.push((k, value));
    }
    if let Some((n, t)) = lines.get(*i) {
        assert!(*n < indent, "bad indentation at `{t}`");
    }
    Node::Map(entries)
}

/// Parses a YAML-subset document given as its lines (comments and blank lines are skipped).
pub fn parse(text: &str) -> Node {
    let mut lines: Vec<(usize, String)> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| (l.len() - l.trim_start().len(), l.trim().to_string()))
        .collect();
    assert!(!lines.is_empty(), "nothing to parse");
    let indent = lines[0].0;
    let mut i = 0;
    let node = parse_block(&mut lines, &mut i, indent);
    assert_eq!(i, lines.len(), "trailing lines at {:?}", lines.get(i));
    node
}

/// One IAM policy statement as the template writes it.
#[derive(Debug, Clone)]
pub struct Statement {
    pub effect: String,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// Operator → condition key → values.
    pub condition: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

pub fn template_text() -> String {
    std::fs::read_to_string(crate::lambda_events::events_dir().join("../template.yaml"))
        .expect("template.yaml")
}

/// The text of the resource `logical_id` in the template (up to the next resource).
pub fn resource_block<'a>(template: &'a str, logical_id: &str) -> &'a str {
    let start = template
        .find(&format!("\n  {logical_id}:\n"))
        .unwrap_or_else(|| panic!("{logical_id} in template.yaml"));
    let block = &template[start + 1..];
    let end = block
        .match_indices("\n  ")
        .map(|(i, _)| i + 1)
        .find(|&i| {
            block
                .as_bytes()
                .get(i + 2)
                .is_some_and(u8::is_ascii_alphabetic)
        })
        .unwrap_or(block.len());
    &block[..end]
}

fn statement(node: &Node) -> Statement {
    let mut s = Statement {
        effect: String::new(),
        actions: Vec::new(),
        resources: Vec::new(),
        condition: BTreeMap::new(),
    };
    for (k, v) in node.map() {
        match k.as_str() {
            "Sid" => {}
            "Effect" => s.effect = v.scalars().concat(),
            "Action" => s.actions = v.scalars(),
            "Resource" => s.resources = v.scalars(),
            "Condition" => {
                for (op, keys) in v.map() {
                    let keys = keys
                        .map()
                        .iter()
                        .map(|(key, values)| (key.clone(), values.scalars()))
                        .collect();
                    s.condition.insert(op.clone(), keys);
                }
            }
            other => panic!("unsupported statement element {other}"),
        }
    }
    assert!(
        s.effect == "Allow" || s.effect == "Deny",
        "Effect must be Allow or Deny: {s:?}"
    );
    assert!(!s.actions.is_empty() && !s.resources.is_empty(), "{s:?}");
    s
}

/// The statements of `<name>Function`'s `Policies` (inline statements only: a SAM policy
/// template there is an error, since this check could not see what it grants).
pub fn function_statements(template: &str, name: &str) -> Vec<Statement> {
    let block = resource_block(template, &format!("{name}Function"));
    let start = block
        .find("\n      Policies:\n")
        .unwrap_or_else(|| panic!("{name}Function has Policies"));
    let body = &block[start + "\n      Policies:\n".len()..];
    // Policies is the last property written at this depth, or ends where one at its depth starts.
    let end = body
        .lines()
        .position(|l| {
            let indent = l.len() - l.trim_start().len();
            !l.trim().is_empty() && !l.trim_start().starts_with('#') && indent <= 6
        })
        .map(|n| body.lines().take(n).map(|l| l.len() + 1).sum())
        .unwrap_or(body.len());
    let policies = parse(&body[..end]);
    policies
        .list()
        .iter()
        .flat_map(|p| {
            let [(k, v)] = p.map() else {
                panic!("{name}Function: each policy is one `Statement:` list, found {p:?}")
            };
            assert_eq!(
                k, "Statement",
                "{name}Function: policy templates are not checked"
            );
            v.list().iter().map(statement).collect::<Vec<_>>()
        })
        .collect()
}

// ---------------------------------------------------------------------------------- evaluation

/// IAM's `StringLike`: `*` any run of characters, `?` any one; case-sensitive.
pub fn string_like(pattern: &str, value: &str) -> bool {
    fn go(p: &[u8], v: &[u8]) -> bool {
        match p.split_first() {
            None => v.is_empty(),
            Some((b'*', rest)) => (0..=v.len()).any(|i| go(rest, &v[i..])),
            Some((b'?', rest)) => !v.is_empty() && go(rest, &v[1..]),
            Some((c, rest)) => v.first() == Some(c) && go(rest, &v[1..]),
        }
    }
    go(pattern.as_bytes(), value.as_bytes())
}

/// The request's condition-key values (absent keys are absent).
fn context(a: &Access) -> BTreeMap<String, Vec<String>> {
    let mut c = BTreeMap::new();
    match a {
        Access::Table {
            partition,
            attributes,
            ..
        } => {
            c.insert("dynamodb:LeadingKeys".into(), vec![partition.clone()]);
            if let Some(attrs) = attributes {
                c.insert(
                    "dynamodb:Attributes".into(),
                    attrs.iter().cloned().collect(),
                );
            }
        }
        Access::Kms { context, .. } => {
            for (k, v) in context {
                c.insert(format!("kms:EncryptionContext:{k}"), vec![v.clone()]);
            }
            c.insert(
                "kms:EncryptionContextKeys".into(),
                context.keys().cloned().collect(),
            );
        }
        Access::S3 { .. } | Access::Ses { .. } | Access::Events { .. } => {}
    }
    c
}

/// Whether one condition block holds for the request context `ctx` (strict: an operator or a
/// key the evaluator does not know is an error).
fn condition_holds(
    condition: &BTreeMap<String, BTreeMap<String, Vec<String>>>,
    ctx: &BTreeMap<String, Vec<String>>,
) -> bool {
    condition.iter().all(|(op, keys)| {
        keys.iter().all(|(key, patterns)| {
            assert!(
                key.starts_with("dynamodb:LeadingKeys")
                    || key == "dynamodb:Attributes"
                    || key.starts_with("kms:EncryptionContext"),
                "condition key {key} is not modelled"
            );
            let values = ctx.get(key);
            let matches = |v: &String, like: bool| {
                patterns
                    .iter()
                    .any(|p| if like { string_like(p, v) } else { p == v })
            };
            match op.as_str() {
                "Null" => {
                    let [want] = patterns.as_slice() else {
                        panic!("Null takes one value")
                    };
                    match want.as_str() {
                        "true" => values.is_none(),
                        "false" => values.is_some(),
                        other => panic!("Null: {other}"),
                    }
                }
                // Vacuous when the key is absent, as IAM evaluates it.
                "ForAllValues:StringLike" | "ForAllValues:StringEquals" => {
                    let like = op.ends_with("Like");
                    values.is_none_or(|vs| vs.iter().all(|v| matches(v, like)))
                }
                "StringLike" | "StringEquals" => {
                    let like = op.ends_with("Like");
                    match values.map(Vec::as_slice) {
                        Some([v]) => matches(v, like),
                        Some(_) => panic!("{key} is multivalued: use ForAllValues"),
                        None => false,
                    }
                }
                other => panic!("condition operator {other} is not modelled"),
            }
        })
    })
}

fn resource_of(a: &Access) -> Option<Vec<&'static str>> {
    match a {
        Access::Table { index: None, .. } => Some(vec!["!GetAtt Table.Arn"]),
        Access::Table {
            index: Some("gsi1"),
            ..
        } => Some(vec![
            "!Sub ${Table.Arn}/index/gsi1",
            "!Sub ${Table.Arn}/index/*",
        ]),
        Access::Table { index: Some(i), .. } => panic!("index {i} is not modelled"),
        Access::Kms { .. } => Some(vec!["!GetAtt DataKey.Arn"]),
        // Buckets and prefixes are not checked (see the module docs).
        Access::S3 { .. } => None,
        Access::Ses { .. } => Some(vec![
            "!Sub arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${MailIdentity}",
        ]),
        Access::Events { .. } => Some(vec!["!GetAtt PrivacyEventBus.Arn"]),
    }
}

fn action_of(a: &Access) -> String {
    match a {
        Access::Table { action, .. } => format!("dynamodb:{action}"),
        Access::Kms { action, .. } => format!("kms:{action}"),
        Access::S3 { action } => format!("s3:{action}"),
        Access::Ses { action } => format!("ses:{action}"),
        Access::Events { action } => format!("events:{action}"),
    }
}

/// Whether `statements` allow `a`: some Allow matches its action, resource and conditions, and
/// no Deny matches.
pub fn allows(statements: &[Statement], a: &Access) -> bool {
    let action = action_of(a);
    let resources = resource_of(a);
    let ctx = context(a);
    let applies = |s: &Statement| {
        s.actions.iter().any(|x| string_like(x, &action))
            && match &resources {
                Some(rs) => s.resources.iter().any(|r| rs.contains(&r.as_str())),
                None => true,
            }
            && (resources.is_none() || condition_holds(&s.condition, &ctx))
    };
    let allowed = statements.iter().any(|s| s.effect == "Allow" && applies(s));
    let denied = statements.iter().any(|s| s.effect == "Deny" && applies(s));
    allowed && !denied
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICIES: &str = r#"
        - Statement:
            # a comment
            - Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:PutItem]
              Resource: !GetAtt Table.Arn
              Condition:
                ForAllValues:StringLike:
                  dynamodb:LeadingKeys:
                    - "USER#*"
                "Null":
                  dynamodb:LeadingKeys: "false"
            - Effect: Allow
              Action:
                - kms:Decrypt
              Resource: !GetAtt DataKey.Arn
              Condition:
                StringEquals:
                  kms:EncryptionContext:purpose: server-secret
"#;

    fn statements() -> Vec<Statement> {
        parse(POLICIES)
            .list()
            .iter()
            .flat_map(|p| {
                p.map()[0]
                    .1
                    .list()
                    .iter()
                    .map(statement)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn get(pk: &str) -> Access {
        Access::Table {
            action: "GetItem",
            index: None,
            partition: pk.into(),
            attributes: None,
        }
    }

    #[test]
    fn leading_keys_limit_the_partitions() {
        let s = statements();
        assert!(allows(&s, &get("USER#1")));
        assert!(!allows(&s, &get("SECRET")));
        assert!(!allows(
            &s,
            &Access::Table {
                action: "DeleteItem",
                index: None,
                partition: "USER#1".into(),
                attributes: None
            }
        ));
    }

    #[test]
    fn for_all_values_is_vacuous_without_the_key_and_null_guards_it() {
        let mut c = BTreeMap::new();
        c.insert(
            "ForAllValues:StringLike".to_string(),
            BTreeMap::from([("dynamodb:Attributes".to_string(), vec!["a".to_string()])]),
        );
        assert!(condition_holds(&c, &BTreeMap::new()));
        c.insert(
            "Null".to_string(),
            BTreeMap::from([("dynamodb:Attributes".to_string(), vec!["false".to_string()])]),
        );
        assert!(!condition_holds(&c, &BTreeMap::new()));
    }

    #[test]
    fn encryption_context_conditions_need_the_pair() {
        let s = statements();
        let decrypt = |purpose: &str| Access::Kms {
            action: "Decrypt",
            context: BTreeMap::from([("purpose".to_string(), purpose.to_string())]),
        };
        assert!(allows(&s, &decrypt("server-secret")));
        assert!(!allows(&s, &decrypt("user-data")));
        assert!(!allows(
            &s,
            &Access::Kms {
                action: "Decrypt",
                context: BTreeMap::new()
            }
        ));
    }

    #[test]
    fn string_like_matches_iam_wildcards() {
        assert!(string_like("USER#*", "USER#abc"));
        assert!(!string_like("USER#*", "USERX"));
        assert!(string_like("SECRET", "SECRET"));
        assert!(string_like("a?c", "abc"));
        assert!(!string_like("SECRET", "SECRETS"));
    }
}
