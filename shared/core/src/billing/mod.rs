//! The `Billing` port: the user's subscriptions, as far as privacy requests need them (listed
//! in exports, cancelled by erasure). Warden does not charge anyone; a deployment plugs its
//! billing provider in here. The shipped adapter, [`TableBilling`], records the state in the
//! table, and each cancellation writes an outbox event in the same transaction for a real
//! billing integration to consume.

mod table;

use async_trait::async_trait;
use serde::Serialize;

pub use table::TableBilling;

use crate::Result;
use crate::clock::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscription {
    pub subscription_id: String,
    pub plan: String,
    /// `active` or `cancelled`.
    pub status: String,
    pub started_at: String,
    pub cancelled_at: Option<String>,
}

#[async_trait]
pub trait Billing: Send + Sync + 'static {
    /// Every subscription of the user, active or not.
    async fn subscriptions(&self, user_id: &str) -> Result<Vec<Subscription>>;
    /// Starts a subscription (the seam a checkout flow would call; tests seed data with it).
    async fn subscribe(&self, user_id: &str, plan: &str, at: Timestamp) -> Result<Subscription>;
    /// Cancels every active subscription; idempotent. Returns how many it cancelled now.
    async fn cancel_all(&self, user_id: &str, reason: &str, at: Timestamp) -> Result<u32>;
}
