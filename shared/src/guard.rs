//! The door every destructive call goes through: after the decision and before the first
//! terminate, delete, create or modify, a run takes the database's lock and marks its ledger
//! claim `ACTING`. From then on no retry or duplicate of the trigger acts again, and no other
//! destructive run acts on that database until the lock is released or expires.

use std::cell::{Cell, RefCell};

use chrono::{DateTime, Utc};

use crate::ledger::{Ledger, LedgerError, LockHolder, LockOutcome};
use crate::report::{Check, Outcome};
use crate::trigger::{DbTarget, Target};

#[derive(Debug, thiserror::Error)]
pub enum GuardRefusal {
    #[error("{resource} is being acted on by {holder}: not acting, one destructive run per database at a time")]
    Locked {
        resource: String,
        holder: LockHolder,
    },
    #[error(
        "{0}: not acting, since an action the ledger cannot record could be repeated by a retry"
    )]
    Ledger(#[from] LedgerError),
}

impl GuardRefusal {
    /// How a refusal reads in a report: another run holding the lock is a skip (that run acts
    /// and reports); a ledger that cannot record the intent is a failure (nothing was done, and
    /// a retry may act).
    pub fn outcome(&self) -> Outcome {
        match self {
            GuardRefusal::Locked { .. } => Outcome::Skipped,
            GuardRefusal::Ledger(_) => Outcome::Fail,
        }
    }

    /// The `guard` check of a refused `what` ("snapshot", "terminating sessions").
    pub fn check(&self, what: &str) -> Check {
        Check::new("guard", self.outcome(), format!("{self}; {what} not done"))
    }
}

/// The lock name of what a run acts on: a DB instance or cluster, a table, the account.
pub fn resource(target: &Target) -> String {
    match target {
        Target::Instance(id) => format!("db-instance#{id}"),
        Target::Cluster(id) => format!("db-cluster#{id}"),
        Target::Table(name) => format!("dynamodb-table#{name}"),
        Target::Account => "account".into(),
    }
}

/// The lock name of a database.
pub fn db_resource(target: &DbTarget) -> String {
    resource(&target.clone().into())
}

pub struct ActionGuard<'a, L> {
    ledger: &'a L,
    holder: LockHolder,
    acting: Cell<bool>,
    /// Said by the run: it passed the door, and nothing it sent could have taken effect.
    without_effect: Cell<bool>,
    locks: RefCell<Vec<String>>,
}

impl<'a, L: Ledger> ActionGuard<'a, L> {
    pub fn new(
        ledger: &'a L,
        function: &str,
        trigger_key: &str,
        request_id: &str,
        deadline: DateTime<Utc>,
    ) -> Self {
        Self {
            ledger,
            holder: LockHolder {
                function: function.to_string(),
                request_id: request_id.to_string(),
                trigger_key: trigger_key.to_string(),
                until: deadline,
            },
            acting: Cell::new(false),
            without_effect: Cell::new(false),
            locks: RefCell::default(),
        }
    }

    /// Call right before the first destructive call on `resource` (see [`db_resource`]).
    /// An error means: do not act, and report why.
    pub async fn before_acting(&self, resource: &str) -> Result<(), GuardRefusal> {
        let now = Utc::now();
        let held = self.locks.borrow().iter().any(|r| r == resource);
        if !held {
            match self.ledger.lock(resource, &self.holder, now).await? {
                LockOutcome::Acquired => self.locks.borrow_mut().push(resource.to_string()),
                LockOutcome::HeldBy(holder) => {
                    return Err(GuardRefusal::Locked {
                        resource: resource.to_string(),
                        holder,
                    })
                }
            }
        }
        if !self.acting.get() {
            if let Err(e) = self
                .ledger
                .begin_acting(
                    &self.holder.trigger_key,
                    &self.holder.request_id,
                    now,
                    self.holder.until,
                )
                .await
            {
                // Nothing was done under these locks yet.
                self.release_locks().await;
                return Err(e.into());
            }
            self.acting.set(true);
        }
        Ok(())
    }

    /// True once the run was allowed to act: its report must reach the ledger as `ACTED`.
    pub fn acted(&self) -> bool {
        self.acting.get()
    }

    /// The run passed the door and every action it tried was refused with an answer that says
    /// it was not done (or is idempotent by name): with [`crate::report::Findings::retry`] set,
    /// the runner gives the claim back so a retry acts. Never call it after anything may have
    /// taken effect.
    pub fn nothing_took_effect(&self) {
        self.without_effect.set(true);
    }

    pub fn without_effect(&self) -> bool {
        self.without_effect.get()
    }

    /// Gives back every lock this run holds; a failure leaves the lock to expire at the deadline.
    pub async fn release_locks(&self) {
        let locks: Vec<String> = self.locks.borrow_mut().drain(..).collect();
        for resource in locks {
            if let Err(e) = self.ledger.unlock(&resource, &self.holder.request_id).await {
                tracing::warn!(error = %e, %resource, "lock not released; it expires at the deadline");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{guard, invocation, MemoryLedger};

    fn held_by_other(ledger: &MemoryLedger, resource: &str) {
        ledger.locks.borrow_mut().insert(
            resource.into(),
            LockHolder {
                function: "idle-reaper".into(),
                request_id: "req-other".into(),
                trigger_key: "other".into(),
                until: Utc::now() + chrono::Duration::seconds(60),
            },
        );
    }

    #[tokio::test]
    async fn each_resource_is_locked_on_its_own() {
        let ledger = MemoryLedger::default();
        let inv = invocation("idle-reaper");
        let g = guard(&ledger, &inv);
        held_by_other(&ledger, "db-instance#reader-2");
        g.before_acting("db-instance#reader-1").await.unwrap();
        // Holding one lock does not stand in for another.
        let refusal = g.before_acting("db-instance#reader-2").await.unwrap_err();
        assert!(
            matches!(&refusal, GuardRefusal::Locked { resource, holder } if resource == "db-instance#reader-2" && holder.request_id == "req-other"),
            "{refusal}"
        );
        // The same resource again is ours already: no second lock call.
        let calls = ledger.calls.borrow().len();
        g.before_acting("db-instance#reader-1").await.unwrap();
        assert_eq!(ledger.calls.borrow().len(), calls);
        assert!(g.acted());
        g.release_locks().await;
        assert!(!ledger.locks.borrow().contains_key("db-instance#reader-1"));
        assert!(
            ledger.locks.borrow().contains_key("db-instance#reader-2"),
            "not ours to release"
        );
    }

    #[test]
    fn every_target_kind_has_its_own_lock_name() {
        use crate::trigger::{RdsIdentifier, ResourceKind, TableName};
        let id = |raw| RdsIdentifier::parse(raw, ResourceKind::DbInstance).unwrap();
        assert_eq!(resource(&Target::Instance(id("a"))), "db-instance#a");
        assert_eq!(resource(&Target::Cluster(id("a"))), "db-cluster#a");
        assert_eq!(
            resource(&Target::Table(TableName::parse("orders").unwrap())),
            "dynamodb-table#orders"
        );
        assert_eq!(resource(&Target::Account), "account");
        assert_eq!(db_resource(&DbTarget::Instance(id("a"))), "db-instance#a");
    }
}
