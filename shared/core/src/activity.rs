//! Activity history: the user's own record of successful sign-ins (time, device, network
//! prefix), which `GET /me` does not show but the export does. Entries live in the user's
//! partition, so erasure deletes them with it, and expire after a year. The network prefix is
//! encrypted under the user's data key.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use crate::clock::Timestamp;
use crate::crypto::user_keys::UserKeys;
use crate::devices::ip_prefix;
use crate::table::schema::TTL;
use crate::table::{Item, Key};
use crate::{Error, Result};

/// How long one entry is kept.
pub const RETENTION: Duration = Duration::from_secs(365 * 86_400);
const SORT_PREFIX: &str = "ACTIVITY#";
const NETWORK_FIELD: &str = "activity.network";

/// One entry as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Activity {
    pub at: String,
    pub kind: String,
    /// The keyed hash of the device's signals (see [`crate::devices`]), shortened.
    pub device: String,
    pub network: String,
}

fn entry_key(user_id: &str, at: Timestamp) -> Result<Key> {
    let suffix = crate::crypto::hex(&crate::crypto::random_bytes::<4>()?);
    Ok(Key::new(
        crate::table::schema::user_partition(user_id),
        format!("{SORT_PREFIX}{:013}#{suffix}", at.millis()),
    ))
}

/// The item for one sign-in; login writes it in the same transaction as the session.
pub async fn sign_in_item(
    user_keys: &UserKeys,
    user_id: &str,
    device: &str,
    ip: IpAddr,
    at: Timestamp,
) -> Result<Item> {
    let network = user_keys
        .seal(user_id, NETWORK_FIELD, ip_prefix(ip).as_bytes())
        .await?;
    Ok(Item::new(&entry_key(user_id, at)?)
        .with("kind", "sign_in")
        .with("at", at.millis())
        .with("device", crate::devices::tag(device))
        .with("network", network)
        .with(TTL, at.plus(RETENTION).secs()))
}

/// The user's entries, oldest first (the export pages through them).
pub fn entries(user_id: &str) -> crate::table::Query {
    crate::table::Query::partition(crate::table::schema::user_partition(user_id))
        .sort(crate::table::SortKey::BeginsWith(SORT_PREFIX.into()))
}

/// Decrypts one stored entry for the export.
pub async fn from_item(user_keys: &UserKeys, user_id: &str, item: &Item) -> Result<Activity> {
    let bad = || Error::Malformed("activity item");
    let network = match item.b("network") {
        Some(sealed) => String::from_utf8(user_keys.open(user_id, NETWORK_FIELD, sealed).await?)
            .map_err(|_| Error::Decryption)?,
        None => String::new(),
    };
    Ok(Activity {
        at: Timestamp(item.n("at").ok_or_else(bad)?).to_rfc3339(),
        kind: item.s("kind").ok_or_else(bad)?.to_string(),
        device: item.s("device").unwrap_or_default().to_string(),
        network,
    })
}
