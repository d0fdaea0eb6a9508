//! The run: the decision (`policy`), then the copies (created through the guard), the sweep
//! over many databases (`sweep.rs`), retention (`retention.rs`: decided over complete
//! listings, capped, guarded) and one report.

mod pre_change;
mod retention;
mod sweep;

pub use pre_change::PreChangeSnapshots;

use std::time::Instant;

use rds_responder::backups::{SnapshotCatalog, SnapshotOf, TableBackups};
use rds_responder::guard::{db_resource, ActionGuard};
use rds_responder::ledger::Ledger;
use rds_responder::rds::RdsError;
use rds_responder::report::{Check, Findings, Outcome, Status};
use rds_responder::run::RunContext;
use rds_responder::runner::{Invocation, Responder};
use rds_responder::trigger::{DbTarget, Target};

use crate::checks;
use crate::checks::Created;
use crate::config::SnapshotterConfig;
use crate::policy::{
    create_retryable, database_busy, decide, earlier_reason, no_answer, not_ours, ours_of,
    same_change, settled, Completion, Decision, PreChange, CHANGE_ID_TAG, REASON_TAG,
};
use crate::request::{ManualSnapshot, SnapshotSchedule};

pub struct Snapshotter<C, T> {
    pub catalog: C,
    pub tables: T,
    pub config: SnapshotterConfig,
}

/// The lock a snapshotter run takes: per database for a pre-change snapshot, one for the
/// account for a sweep. Separate from other functions' database locks: a snapshot never waits
/// for an idle-session reap.
pub fn snapshot_lock(db: Option<&DbTarget>) -> String {
    match db {
        Some(db) => format!("snapshots#{}", db_resource(db)),
        None => "snapshots#account".into(),
    }
}

impl<C: SnapshotCatalog, T: TableBackups> Responder for Snapshotter<C, T> {
    type Manual = ManualSnapshot;
    type Schedule = SnapshotSchedule;
    const FUNCTION: &'static str = "snapshotter";

    async fn respond<L: Ledger>(
        &self,
        trigger: &rds_responder::trigger::Trigger<ManualSnapshot, SnapshotSchedule>,
        invocation: &Invocation,
        guard: &ActionGuard<'_, L>,
    ) -> Findings {
        let run = RunContext::new(guard, invocation);
        match decide(
            trigger,
            invocation.now,
            &invocation.request_id,
            &self.config,
        ) {
            Decision::Skip { target, reason } => Findings::skipped(target, reason),
            Decision::PreChange(request) => self.pre_change(&request, &run).await,
            Decision::Sweep(sweep) => self.sweep(&sweep, &run).await,
            Decision::Completion(event) => self.completion(&event).await,
        }
    }
}

impl<C: SnapshotCatalog, T: TableBackups> Snapshotter<C, T> {
    pub fn pre_changes(&self) -> PreChangeSnapshots<'_, C> {
        PreChangeSnapshots {
            catalog: &self.catalog,
            wait_poll: self.config.wait_poll,
        }
    }

    async fn create(
        &self,
        db: &DbTarget,
        id: &rds_responder::trigger::RdsIdentifier,
        tags: &[(String, String)],
    ) -> Created {
        self.pre_changes().create(db, id, tags).await
    }

    async fn pre_change<L: Ledger>(
        &self,
        request: &PreChange,
        run: &RunContext<'_, '_, L>,
    ) -> Findings {
        self.pre_changes().take(request, run).await
    }
}

impl<C: SnapshotCatalog, T: TableBackups> Snapshotter<C, T> {
    async fn completion(&self, event: &Completion) -> Findings {
        let snapshot = match self
            .catalog
            .find_snapshot(event.of, event.snapshot.as_str())
            .await
        {
            Ok(Some(s)) => s,
            Ok(None) => {
                return Findings::skipped(
                    None::<Target>,
                    format!(
                        "snapshot {} is not listed (deleted since?): nothing to report",
                        event.snapshot
                    ),
                )
            }
            Err(e) => {
                return Findings::new(
                    None::<Target>,
                    vec![Check::new(
                        "describe",
                        Outcome::Fail,
                        format!("could not describe snapshot {}: {e}", event.snapshot),
                    )],
                    format!("snapshot {}: could not be described", event.snapshot),
                )
            }
        };
        if let Some(why) = not_ours(&snapshot, &snapshot.db) {
            return Findings::skipped(
                None::<Target>,
                format!(
                    "snapshot {} was not made by rds-responder ({why}): ignored",
                    snapshot.id
                ),
            );
        }
        let target = checks::snapshot_target(&snapshot);
        let check = checks::completion_check(&snapshot, event);
        let summary = format!(
            "snapshot {} of {}: {}",
            snapshot.id, snapshot.db, snapshot.status
        );
        Findings::new(target, vec![check], summary)
    }
}

#[cfg(test)]
mod tests;
