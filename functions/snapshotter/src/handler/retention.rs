//! Retention in a run: complete listings or nothing, one plan per database and table, one cap
//! for the run, the guard, then deletes that stop at the first failure.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use futures_util::stream::{self, StreamExt};

use rds_responder::backups::{BackupInfo, SnapshotCatalog, SnapshotInfo, SnapshotOf, TableBackups};
use rds_responder::ledger::Ledger;
use rds_responder::rds::RdsError;
use rds_responder::report::{Check, Outcome};
use rds_responder::trigger::{DbTarget, TableName};

use crate::checks;
use crate::checks::Deletion;
use crate::policy::{
    deletions_capped, plan_backup_retention, plan_retention, RetentionPlan, Sweep,
};
use crate::request::Retention;

use rds_responder::run::RunContext;

use super::{snapshot_lock, Snapshotter};

impl<C: SnapshotCatalog, T: TableBackups> Snapshotter<C, T> {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn retention<L: Ledger>(
        &self,
        sweep: &Sweep,
        rules: &Retention,
        scope: &[DbTarget],
        databases_listed: bool,
        table_listings: &[(TableName, Result<Vec<BackupInfo>, String>)],
        failed_dbs: &[DbTarget],
        run: &RunContext<'_, '_, L>,
        report: &mut checks::SweepReport,
    ) {
        // Fail closed: every listing complete, or no delete at all.
        let mut unread = Vec::new();
        if !databases_listed {
            unread.push("the database listing failed".to_string());
        }
        // One listing per database in scope (every page, tags included): on RDS as many
        // requests as an account-wide listing of the same snapshots, without reading other
        // databases' snapshots, and each response stays small.
        let listings: Vec<(&DbTarget, Result<Vec<SnapshotInfo>, RdsError>)> = stream::iter(scope)
            .map(|db| async move {
                (
                    db,
                    self.catalog
                        .list_snapshots(SnapshotOf::of(db), Some(db.id()))
                        .await,
                )
            })
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
        let mut snapshots: Vec<(&DbTarget, Vec<SnapshotInfo>)> = Vec::new();
        for (db, listing) in listings {
            match listing {
                Ok(list) => snapshots.push((db, list)),
                Err(e) => unread.push(format!("snapshots of {db}: {e}")),
            }
        }
        for (table, listing) in table_listings {
            if let Err(e) = listing {
                unread.push(format!("backups of {table}: {e}"));
            }
        }
        if !unread.is_empty() {
            report.push(Check::new(
                "retention",
                Outcome::Fail,
                format!(
                    "nothing deleted: a listing could not be read completely ({})",
                    unread.join("; ")
                ),
            ));
            return;
        }
        // Listings finish in any order; the report follows the scope's.
        snapshots.sort_by_key(|(db, _)| scope.iter().position(|s| s == *db));
        let mut plans: Vec<(Deletion, RetentionPlan)> = Vec::new();
        for (db, list) in &snapshots {
            plans.push((
                Deletion::Snapshot((*db).clone()),
                plan_retention(db.id(), list, rules, run.now),
            ));
        }
        for (table, listing) in table_listings {
            if let Ok(backups) = listing {
                plans.push((
                    Deletion::Backup(table.clone()),
                    plan_backup_retention(table, backups, rules, run.now),
                ));
            }
        }
        let planned: usize = plans.iter().map(|(_, p)| p.delete.len()).sum();
        let capped = deletions_capped(planned, rules);
        // Whether the deletes go ahead is settled before the plan is worded.
        let mut refusal = None;
        let fate = if planned == 0 || sweep.deletes_plan_only {
            checks::PlanFate::Planned
        } else if capped {
            checks::PlanFate::Held
        } else if report.refused {
            refusal = Some(Check::new(
                "retention",
                Outcome::Warn,
                "nothing deleted: the guard refused this run",
            ));
            checks::PlanFate::Held
        } else {
            match run.may_act(&snapshot_lock(None), "deletes").await {
                Ok(()) => checks::PlanFate::Deleting,
                Err(check) => {
                    report.refused = true;
                    refusal = Some(checks::sweep_refused(check));
                    checks::PlanFate::Held
                }
            }
        };
        for (what, plan) in &plans {
            report.push(checks::retention_plan(what, plan, rules, fate, failed_dbs));
        }
        if capped {
            report.push(Check::new(
                "retention",
                Outcome::Fail,
                format!("{planned} deletions planned, more than the cap of {} per run: nothing deleted (read the plan, then raise MAX_DELETES_PER_RUN; a request can only lower it)", rules.max_deletes),
            ));
            return;
        }
        if let Some(check) = refusal {
            report.push(check);
        }
        if fate != checks::PlanFate::Deleting {
            return;
        }
        let stop = Cell::new(None::<String>);
        let jobs: Vec<(&Deletion, &crate::policy::Doomed)> = plans
            .iter()
            .flat_map(|(what, plan)| plan.delete.iter().map(move |d| (what, d)))
            .collect();
        report.deleted |= !jobs.is_empty();
        // What each deletion is of, by its label, for the SnapshotsDeleted metric.
        let of: BTreeMap<String, String> = jobs
            .iter()
            .map(|(what, doomed)| (what.label(&doomed.id), what.resource()))
            .collect();
        // Copies gone before this run's delete: retention holds, but this run deleted nothing.
        let gone = RefCell::new(BTreeSet::new());
        let done: Vec<(String, Result<(), String>)> = stream::iter(jobs)
            .map(|(what, doomed)| {
                let (stop, gone) = (&stop, &gone);
                async move {
                    let label = what.label(&doomed.id);
                    if let Some(why) = stop.take().inspect(|w| stop.set(Some(w.clone()))) {
                        return (label, Err(format!("not attempted: {why}")));
                    }
                    if !run.time_left() {
                        return (
                            label,
                            Err("not attempted: the invocation's deadline is near".into()),
                        );
                    }
                    let result = match what {
                        Deletion::Snapshot(db) => match self
                            .catalog
                            .delete_snapshot(SnapshotOf::of(db), &doomed.handle)
                            .await
                        {
                            Ok(()) => Ok(()),
                            // Gone since the listing: what retention wanted holds.
                            Err(RdsError::NotFound { .. }) => {
                                gone.borrow_mut().insert(label.clone());
                                Ok(())
                            }
                            Err(e) => Err(e.to_string()),
                        },
                        Deletion::Backup(table) => {
                            match self.tables.delete_backup(table, &doomed.handle).await {
                                Ok(()) => Ok(()),
                                // Gone since the listing, as for a snapshot.
                                Err(e) if e.gone() => {
                                    gone.borrow_mut().insert(label.clone());
                                    Ok(())
                                }
                                Err(e) => Err(e.to_string()),
                            }
                        }
                    };
                    if let Err(e) = &result {
                        // Throttled or refused: stop here rather than press on.
                        stop.set(Some(format!("an earlier delete failed ({e})")));
                    }
                    (label, result)
                }
            })
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
        report
            .metrics
            .extend(checks::deleted_metrics(&done, &of, &gone.into_inner()));
        report.push(checks::deletions(&done));
    }
}
