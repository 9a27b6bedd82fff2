//! Devices that need no code: after a second step that asked for it (`remember_device: true`),
//! the device the sign-in came from — named by its signed device cookie — is remembered for
//! `WARDEN_MFA_REMEMBER` (30 days): its sign-ins take the password alone. Such a sign-in proves
//! one factor (`amr: ["pwd"]`, `acr: "aal1"`), so the sensitive operations still ask it for a
//! code. Never while the password is flagged (breached, or known to someone who failed the
//! second factor): then every sign-in asks for the code. Removing the factor forgets every
//! device; the erasure deletes them with the partition.
//!
//! One item per device, `MFA#REMEMBER#{device id}` in the user's partition, expiring by TTL.

use crate::Result;
use crate::login::SignIn;
use crate::table::schema::{TTL, user_partition};
use crate::table::{Item, Key, Table, TxOp};

const PREFIX: &str = "MFA#REMEMBER#";

fn key(user_id: &str, device_id: &str) -> Key {
    Key::new(user_partition(user_id), format!("{PREFIX}{device_id}"))
}

/// Whether `device_id` is remembered for `user_id` now.
pub async fn is_remembered(s: &SignIn<'_>, user_id: &str, device_id: &str) -> Result<bool> {
    Ok(s.table.get(&key(user_id, device_id)).await?.is_some())
}

/// Remembers `device_id` for `WARDEN_MFA_REMEMBER` from now.
pub async fn remember(s: &SignIn<'_>, user_id: &str, device_id: &str) -> Result<()> {
    let now = s.clock.now();
    let item = Item::new(&key(user_id, device_id))
        .with("created_at", now.millis())
        .with(TTL, now.plus(s.config.mfa_remember).secs());
    s.table.put(item, None).await
}

/// The account's remembered devices.
pub async fn all(table: &dyn Table, user_id: &str) -> Result<Vec<Item>> {
    super::items_under(table, user_id, PREFIX).await
}

/// A remembered device as the user's export shows it: since when and until when.
pub fn describe(item: &Item) -> serde_json::Value {
    serde_json::json!({
        "remembered_at": item.n("created_at").map(|t| crate::clock::Timestamp(t).to_rfc3339()),
        "until": item.n(TTL).map(|t| crate::clock::Timestamp(t * 1000).to_rfc3339()),
    })
}

/// Deletes of every remembered device (removing the factor forgets them).
pub async fn forget_ops(table: &dyn Table, user_id: &str) -> Result<Vec<TxOp>> {
    Ok(super::deletes(&all(table, user_id).await?))
}
