//! [`UnitOfWork`]: the writes of one operation, gathered from every repository it touches and
//! committed once, as one transaction.
//!
//! An operation states its writes (a session, an activity entry, a counter reset, …) as it
//! decides them, then commits them together: alone with [`UnitOfWork::commit`], or with its
//! audit entry through `AuditLog::commit`, where the audit log is one more participant — it
//! adds its entry and shard head to the same transaction, and retries its own part when
//! another writer moved the head. A write's [`Slot`] is how a cancelled commit names it.

use crate::table::{Table, TxOp};
use crate::{Error, Result};

/// The writes of one operation, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnitOfWork {
    ops: Vec<TxOp>,
}

/// A write's place in its [`UnitOfWork`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot(usize);

impl Slot {
    /// Whether `e` is a cancelled commit whose only failed condition is this write's.
    pub fn alone_failed(self, e: &Error) -> bool {
        matches!(e, Error::TransactionCancelled { failed, .. } if failed == &[self.0])
    }
}

impl UnitOfWork {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a write; its slot names it in a cancellation.
    pub fn add(&mut self, op: TxOp) -> Slot {
        self.ops.push(op);
        Slot(self.ops.len() - 1)
    }

    /// Takes back the write in `slot`, which must be the last one added (a step that learns its
    /// write cannot land, after a cancelled commit, and commits the rest).
    pub fn drop_last(&mut self, slot: Slot) -> Result<TxOp> {
        if slot.0 + 1 != self.ops.len() {
            return Err(Error::Internal(
                "only the last write of a unit of work can be taken back".into(),
            ));
        }
        self.ops
            .pop()
            .ok_or_else(|| Error::Internal("an empty unit of work".into()))
    }

    /// The writes, for a participant that commits them with writes of its own (the audit log).
    pub fn into_ops(self) -> Vec<TxOp> {
        self.ops
    }

    /// Commits the writes, all or none (nothing to do for none).
    pub async fn commit(self, table: &dyn Table) -> Result<()> {
        if self.ops.is_empty() {
            return Ok(());
        }
        table.transact(self.ops).await
    }
}

impl From<Vec<TxOp>> for UnitOfWork {
    fn from(ops: Vec<TxOp>) -> Self {
        UnitOfWork { ops }
    }
}

impl FromIterator<TxOp> for UnitOfWork {
    fn from_iter<I: IntoIterator<Item = TxOp>>(ops: I) -> Self {
        UnitOfWork {
            ops: ops.into_iter().collect(),
        }
    }
}

impl Extend<TxOp> for UnitOfWork {
    fn extend<I: IntoIterator<Item = TxOp>>(&mut self, ops: I) {
        self.ops.extend(ops);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Key;

    fn delete(pk: &str) -> TxOp {
        TxOp::Delete {
            key: Key::new(pk, "x"),
            condition: None,
        }
    }

    #[test]
    fn a_slot_names_its_write_in_a_cancellation() {
        let mut work = UnitOfWork::new();
        let first = work.add(delete("a"));
        let second = work.add(delete("b"));
        let cancelled = Error::TransactionCancelled {
            failed: vec![1],
            current: Default::default(),
        };
        assert!(second.alone_failed(&cancelled));
        assert!(!first.alone_failed(&cancelled));
        assert!(!second.alone_failed(&Error::ConditionFailed));
    }

    #[test]
    fn only_the_last_write_can_be_taken_back() {
        let mut work = UnitOfWork::new();
        let first = work.add(delete("a"));
        let second = work.add(delete("b"));
        assert!(work.drop_last(first).is_err());
        assert_eq!(work.drop_last(second).unwrap(), delete("b"));
        assert_eq!(work.into_ops(), vec![delete("a")]);
    }
}
