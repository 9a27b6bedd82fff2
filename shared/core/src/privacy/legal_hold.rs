//! Legal holds (GDPR Art. 17(3)(e), CCPA § 1798.145(a)(1)(E)): an operator keeps an account's
//! data, or some categories of it, for a legal claim, and an erasure must not destroy it.
//!
//! The erasure still runs: the account stops existing for the service. But before anything is
//! deleted ([`super::erasure::Step::SealHeld`]) the held categories are written as an archive
//! (the export's own writer, restricted to them) and sealed, a chunk at a time
//! ([`crate::crypto::sealed_stream`]), under the hold's own data key, wrapped in the hold's item
//! under the context `{purpose: legal-hold, user_id, hold_id}`. The user's key is shredded as
//! usual; the copy stays readable through the hold's key only, outside everything the
//! erasure's verification looks at, and the receipt names the held categories with the
//! hold's reason. Lifting the hold deletes the copy and, with the item, its key.
//!
//! A hold is placed only on an account that exists and whose erasure has not begun (one
//! transaction with a check on the profile's erasure fence): data already being deleted cannot
//! be held, and a hold the erasure has not seen cannot appear behind it. A hold lifted while
//! the erasure seals leaves nothing: the seal's record is conditioned on the hold, and the
//! sealed object is removed when it fails.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::json;

use super::data_map::DATA_MAP;
use super::export;
use super::operations::{Desk, Operator, reason};
use super::requests::PrivacyRequest;
use super::zip_stream::ZipStream;
use crate::audit::{EventType, RequestMeta};
use crate::clock::Timestamp;
use crate::crypto::sealed_stream;
use crate::keys::EncryptionContext;
use crate::privacy::Privacy;
use crate::table::UnitOfWork;
use crate::table::{Condition, Item, Key, Table, TxOp, Update, Value};
use crate::users::{ERASING, profile_key};
use crate::{Error, Result};

/// Where sealed copies live in the export bucket (outside `exports/`, which the bucket's
/// lifecycle expires, and outside every prefix the erasure purges and verifies).
pub const PREFIX_ALL: &str = "legal-holds/";
/// Bytes in flight between the archive writer, the sealer and the upload.
const PIPE_BYTES: usize = 256 * 1024;

pub fn prefix(user_id: &str) -> String {
    format!("{PREFIX_ALL}{user_id}/")
}

fn key(user_id: &str) -> Key {
    Key::new(format!("LEGALHOLD#{user_id}"), "HOLD")
}

fn context(user_id: &str, hold_id: &str) -> EncryptionContext {
    EncryptionContext::new()
        .with("purpose", "legal-hold")
        .with("user_id", user_id)
        .with("hold_id", hold_id)
}

/// The categories a hold may name: those the export writes (it is the export's writer that
/// copies them).
pub fn holdable() -> impl Iterator<Item = &'static str> {
    DATA_MAP
        .iter()
        .filter(|c| c.export.is_some())
        .map(|c| c.name)
}

/// The categories named, each once and known, in the data map's order; all holdable ones
/// when none is named.
pub fn parse_categories(names: Option<&[String]>) -> Result<Vec<&'static str>> {
    let Some(names) = names else {
        return Ok(holdable().collect());
    };
    let wanted: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    if wanted.is_empty() || wanted.len() != names.len() {
        return Err(Error::invalid(
            "categories",
            "one or more categories, each once",
        ));
    }
    if let Some(unknown) = wanted.iter().find(|n| !holdable().any(|h| h == **n)) {
        return Err(Error::invalid(
            "categories",
            format!(
                "{unknown} is not a category a hold can keep (one of: {})",
                holdable().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok(holdable().filter(|h| wanted.contains(h)).collect())
}

/// A hold's sealed copy, once an erasure has made it.
#[derive(Debug, Clone, Serialize)]
pub struct Sealed {
    pub object: String,
    pub sealed_at: String,
    pub by_request: String,
    pub bytes: u64,
}

/// A legal hold on one account.
#[derive(Debug, Clone, Serialize)]
pub struct Hold {
    pub user_id: String,
    pub hold_id: String,
    pub reason: String,
    pub categories: Vec<String>,
    pub placed_by: String,
    pub placed_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealed: Option<Sealed>,
    #[serde(skip)]
    wrapped_key: Vec<u8>,
    #[serde(skip)]
    version: i64,
}

impl Hold {
    fn from_item(i: &Item) -> Result<Self> {
        let bad = || Error::Malformed("legal hold item");
        let text = |name: &str| i.s(name).map(str::to_string).ok_or_else(bad);
        let categories = match i.get("categories") {
            Some(Value::L(l)) => l
                .iter()
                .map(|v| match v {
                    Value::S(s) => Ok(s.clone()),
                    _ => Err(bad()),
                })
                .collect::<Result<Vec<_>>>()?,
            _ => return Err(bad()),
        };
        let sealed = match i.s("sealed_object") {
            Some(object) => Some(Sealed {
                object: object.to_string(),
                sealed_at: Timestamp(i.n("sealed_at").ok_or_else(bad)?).to_rfc3339(),
                by_request: text("sealed_by")?,
                bytes: i.n("sealed_bytes").unwrap_or(0) as u64,
            }),
            None => None,
        };
        Ok(Hold {
            user_id: text("user_id")?,
            hold_id: text("hold_id")?,
            reason: text("reason")?,
            categories,
            placed_by: text("placed_by")?,
            placed_at: Timestamp(i.n("placed_at").ok_or_else(bad)?).to_rfc3339(),
            sealed,
            wrapped_key: i.b("wrapped_key").ok_or_else(bad)?.to_vec(),
            version: i.n("version").ok_or_else(bad)?,
        })
    }

    /// What the requester's view and the erasure's receipt say of the hold (not who placed it,
    /// nor where the copy is).
    pub fn public(&self) -> serde_json::Value {
        json!({
            "categories": self.categories,
            "reason": self.reason,
            "since": self.placed_at,
            "kept_until": "the hold is lifted",
        })
    }

    fn holds(&self, category: &str) -> bool {
        self.categories.iter().any(|c| c == category)
    }
}

fn changed_concurrently() -> Error {
    Error::Conflict("the legal hold changed concurrently: try again".into())
}

/// The hold on `user_id`, if any.
pub async fn get(table: &dyn Table, user_id: &str) -> Result<Option<Hold>> {
    table
        .get(&key(user_id))
        .await?
        .map(|i| Hold::from_item(&i))
        .transpose()
}

impl Desk<'_> {
    /// Places a hold on `user_id`'s account, keeping `categories` (all that can be held when
    /// `None`) for `reason`. 404 for an unknown account, 409 when one is held already or its
    /// erasure has begun.
    pub async fn hold(
        &self,
        op: &Operator,
        user_id: &str,
        reason_text: &str,
        categories: Option<&[String]>,
        meta: &RequestMeta,
    ) -> Result<Hold> {
        let reason = reason(reason_text)?;
        let categories = parse_categories(categories)?;
        let hold_id = crate::crypto::random_id()?;
        let dk = self
            .s
            .keys
            .generate_data_key(&context(user_id, &hold_id))
            .await?;
        let item = Item::new(&key(user_id))
            .with("user_id", user_id)
            .with("hold_id", hold_id.as_str())
            .with("reason", reason)
            .with(
                "categories",
                Value::L(categories.iter().map(|c| Value::S(c.to_string())).collect()),
            )
            .with("placed_by", op.name())
            .with("placed_at", self.now.millis())
            .with("wrapped_key", dk.wrapped)
            .with("version", 1);
        let hold = Hold::from_item(&item)?;
        let writes = vec![
            TxOp::Put {
                item,
                condition: Some(Condition::NotExists),
            },
            TxOp::Check {
                key: profile_key(user_id),
                condition: Condition::Exists
                    .and(Condition::AttributeNotExists(ERASING.to_string())),
            },
        ];
        let details = json!({
            "operator": op.name(),
            "hold_id": hold_id,
            "categories": categories,
        });
        match self
            .s
            .audit
            .commit(
                UnitOfWork::from(writes),
                meta,
                EventType::LegalHoldPlaced,
                Some(user_id),
                details,
            )
            .await
        {
            Ok(_) => Ok(hold),
            Err(Error::TransactionCancelled { .. }) => Err(self.why_not_held(user_id).await),
            Err(e) => Err(e),
        }
    }

    /// Why a hold could not be placed on `user_id`.
    async fn why_not_held(&self, user_id: &str) -> Error {
        let table = self.s.table;
        match get(table, user_id).await {
            Ok(Some(h)) => {
                return Error::Conflict(format!(
                    "the account is under a legal hold already (since {}): lift it first",
                    h.placed_at
                ));
            }
            Ok(None) => {}
            Err(e) => return e,
        }
        match table.get(&profile_key(user_id)).await {
            Ok(None) => Error::NotFound,
            Ok(Some(_)) => Error::Conflict(
                "the account's erasure has begun: its data can no longer be held".into(),
            ),
            Err(e) => e,
        }
    }

    /// Lifts the hold on `user_id`: its sealed copy is deleted, then the hold's item with its
    /// key. 404 when the account has no hold.
    ///
    /// The copy goes first, and the item only as it was read: an erasure that seals a copy
    /// meanwhile changes the item, so the release starts over and deletes that copy too; one
    /// that records its seal after the item went fails and deletes its own copy. No copy
    /// outlives its hold.
    pub async fn release(&self, op: &Operator, user_id: &str, meta: &RequestMeta) -> Result<Hold> {
        let table = self.s.table;
        for _ in 0..3 {
            let hold = get(table, user_id).await?.ok_or(Error::NotFound)?;
            self.s.exports.purge_prefix(&prefix(user_id)).await?;
            let writes = vec![TxOp::Delete {
                key: key(user_id),
                condition: Some(Condition::eq("version", hold.version)),
            }];
            let details = json!({
                "operator": op.name(),
                "hold_id": hold.hold_id,
                "copy_deleted": hold.sealed.is_some(),
            });
            match self
                .s
                .audit
                .commit(
                    UnitOfWork::from(writes),
                    meta,
                    EventType::LegalHoldReleased,
                    Some(user_id),
                    details,
                )
                .await
            {
                Ok(_) => return Ok(hold),
                // Sealed (or lifted) meanwhile: read it again.
                Err(Error::TransactionCancelled { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(changed_concurrently())
    }
}

/// The erasure's step: seals the held categories of `r`'s account under the hold's key, once
/// per hold. Returns the hold the erasure honours (`None` without one, or when it was lifted
/// meanwhile).
pub async fn seal(s: &Privacy<'_>, r: &mut PrivacyRequest) -> Result<Option<Hold>> {
    let table = s.table;
    let user_id = r.user_id.clone();
    let Some(hold) = get(table, &user_id).await? else {
        return Ok(None);
    };
    if hold.sealed.is_some() {
        return Ok(Some(hold));
    }
    let ctx = context(&user_id, &hold.hold_id);
    let dk = s.keys.decrypt_data_key(&hold.wrapped_key, &ctx).await?;
    let object = format!("{}{}.sealed", prefix(&user_id), hold.hold_id);
    let now = s.clock.now();
    let key_field = format!("hold:{}", hold.hold_id).into_bytes();
    let write = async {
        let (zip_out, zip_in) = tokio::io::duplex(PIPE_BYTES);
        let (sealed_out, sealed_in) = tokio::io::duplex(PIPE_BYTES);
        let upload = s
            .exports
            .put(&object, Box::new(sealed_out), "application/octet-stream");
        let held = |c: &super::data_map::Category| hold.holds(c.name);
        let produce = async {
            let mut zip = ZipStream::new(zip_in);
            export::write_archive(s, &user_id, now, &mut zip, &held).await?;
            let mut w = zip.finish().await?;
            tokio::io::AsyncWriteExt::shutdown(&mut w)
                .await
                .map_err(|e| Error::unavailable("legal hold stream", e))?;
            Ok::<_, Error>(())
        };
        let sealing = sealed_stream::seal(&dk, &key_field, &ctx, zip_out, sealed_in);
        tokio::try_join!(upload, produce, sealing)
    };
    // A large account takes longer than a lease: renew it while the copy is written.
    let (bytes, (), _) = tokio::select! {
        done = write => done?,
        lost = export::hold_lease(s, r) => return Err(lost),
    };
    let done = s.clock.now();
    let update = Update::new()
        .set("sealed_object", object.as_str())
        .set("sealed_at", done.millis())
        .set("sealed_by", r.id.as_str())
        .set("sealed_bytes", bytes as i64)
        .set("version", hold.version + 1)
        .when(Condition::eq("version", hold.version));
    // A transaction's update never falls back to a put: the erasure's role cannot create or
    // replace a hold's item, only record its copy on one.
    let recorded = TxOp::Update {
        key: key(&user_id),
        update,
    };
    match table.transact(vec![recorded]).await {
        Ok(()) => Ok(Some(Hold {
            sealed: Some(Sealed {
                object,
                sealed_at: done.to_rfc3339(),
                by_request: r.id.clone(),
                bytes,
            }),
            version: hold.version + 1,
            ..hold
        })),
        Err(Error::TransactionCancelled { .. }) => {
            // Lifted (or sealed by another worker) while this copy was written.
            s.exports.delete_many(&[object]).await?;
            match get(table, &user_id).await? {
                Some(h) if h.sealed.is_some() => Ok(Some(h)),
                Some(_) => Err(changed_concurrently()),
                None => Ok(None),
            }
        }
        Err(e) => Err(e),
    }
}

/// The held copy of `user_id`'s account: the archive (a ZIP, as an export's) opened with the
/// hold's key. 404 without a hold or before an erasure sealed one.
pub async fn open_copy(s: &Privacy<'_>, user_id: &str) -> Result<Vec<u8>> {
    let hold = get(s.table, user_id).await?.ok_or(Error::NotFound)?;
    let sealed = hold.sealed.as_ref().ok_or(Error::NotFound)?;
    let bytes = s
        .exports
        .get(&sealed.object)
        .await?
        .ok_or(Error::NotFound)?;
    let ctx = context(user_id, &hold.hold_id);
    let dk = s.keys.decrypt_data_key(&hold.wrapped_key, &ctx).await?;
    sealed_stream::open(&dk, &ctx, &bytes)
}
