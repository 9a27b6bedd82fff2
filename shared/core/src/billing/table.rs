//! The table adapter of `Billing`: subscriptions as items `USER#{id}` / `SUBSCRIPTION#{id}`;
//! a cancellation flips `status` conditionally (so two cancellers cancel once) and, in the same
//! transaction, puts an outbox item `BILLING#OUTBOX` / `{at:013}#{subscription id}` that names
//! the subscription (not the user) for the billing provider.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{Billing, Subscription};
use crate::clock::Timestamp;
use crate::table::schema::TTL;
use crate::table::{Condition, Item, Key, Query, SortKey, Table, TxOp, Update, query_all};
use crate::{Error, Result};

pub const OUTBOX_PARTITION: &str = "BILLING#OUTBOX";
const OUTBOX_RETENTION: Duration = Duration::from_secs(30 * 86_400);

pub struct TableBilling {
    table: Arc<dyn Table>,
}

impl TableBilling {
    pub fn new(table: Arc<dyn Table>) -> Self {
        TableBilling { table }
    }
}

fn subscription_key(user_id: &str, id: &str) -> Key {
    Key::new(
        crate::table::schema::user_partition(user_id),
        format!("SUBSCRIPTION#{id}"),
    )
}

fn from_item(i: &Item) -> Result<Subscription> {
    let bad = || Error::Malformed("subscription item");
    Ok(Subscription {
        subscription_id: i.s("subscription_id").ok_or_else(bad)?.to_string(),
        plan: i.s("plan").ok_or_else(bad)?.to_string(),
        status: i.s("status").ok_or_else(bad)?.to_string(),
        started_at: Timestamp(i.n("started_at").ok_or_else(bad)?).to_rfc3339(),
        cancelled_at: i.n("cancelled_at").map(|t| Timestamp(t).to_rfc3339()),
    })
}

#[async_trait]
impl Billing for TableBilling {
    async fn subscriptions(&self, user_id: &str) -> Result<Vec<Subscription>> {
        query_all(
            self.table.as_ref(),
            Query::partition(crate::table::schema::user_partition(user_id))
                .sort(SortKey::BeginsWith("SUBSCRIPTION#".into())),
        )
        .await?
        .iter()
        .map(from_item)
        .collect()
    }

    async fn subscribe(&self, user_id: &str, plan: &str, at: Timestamp) -> Result<Subscription> {
        let id = crate::crypto::hex(&crate::crypto::random_bytes::<12>()?);
        let item = Item::new(&subscription_key(user_id, &id))
            .with("subscription_id", id.as_str())
            .with("plan", plan)
            .with("status", "active")
            .with("started_at", at.millis());
        self.table
            .put(item.clone(), Some(Condition::NotExists))
            .await?;
        from_item(&item)
    }

    async fn cancel_all(&self, user_id: &str, reason: &str, at: Timestamp) -> Result<u32> {
        let mut cancelled = 0;
        for s in self.subscriptions(user_id).await? {
            if s.status != "active" {
                continue;
            }
            let outbox = Item::new(&Key::new(
                OUTBOX_PARTITION,
                format!("{:013}#{}", at.millis(), s.subscription_id),
            ))
            .with("event", "subscription.cancelled")
            .with("subscription_id", s.subscription_id.as_str())
            .with("reason", reason)
            .with(TTL, at.plus(OUTBOX_RETENTION).secs());
            let result = self
                .table
                .transact(vec![
                    TxOp::Update {
                        key: subscription_key(user_id, &s.subscription_id),
                        update: Update::new()
                            .set("status", "cancelled")
                            .set("cancelled_at", at.millis())
                            .when(Condition::eq("status", "active")),
                    },
                    TxOp::Put {
                        item: outbox,
                        condition: None,
                    },
                ])
                .await;
            match result {
                Ok(()) => cancelled += 1,
                // Cancelled concurrently: the other canceller wrote the event.
                Err(Error::TransactionCancelled { failed, .. }) if failed == [0] => {}
                Err(e) => return Err(e),
            }
        }
        Ok(cancelled)
    }
}
