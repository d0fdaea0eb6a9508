//! A scheduled (or hand-started) run over many databases and tables: select, snapshot, back up,
//! check point-in-time recovery, then retention and the quota.

use futures_util::stream::{self, StreamExt};
use serde_json::json;

use rds_responder::backups::{BackupInfo, SnapshotCatalog, TableBackups};
use rds_responder::ledger::Ledger;
use rds_responder::metrics::{db_resource_name, resource_name, SNAPSHOTS_CREATED};
use rds_responder::report::{Check, Findings, Outcome};
use rds_responder::trigger::{DbTarget, TableName, Target};

use crate::checks;
use crate::checks::Created;
use crate::policy::{
    backup_name, backup_retryable, creation_tags, failed_copy, retention_scope,
    scheduled_snapshot_id, select, Selection, Sweep,
};

use rds_responder::run::RunContext;

use super::{snapshot_lock, Snapshotter};

impl<C: SnapshotCatalog, T: TableBackups> Snapshotter<C, T> {
    pub(super) async fn sweep<L: Ledger>(
        &self,
        sweep: &Sweep,
        run: &RunContext<'_, '_, L>,
    ) -> Findings {
        let mut report = checks::SweepReport::default();
        if let Some(reason) = &sweep.plan_only_reason {
            report.push(Check::new("schedule", Outcome::Skipped, reason.clone()));
        }
        // 1. What is there: every database (all pages, tags included).
        let databases = match self.catalog.list_databases().await {
            Ok(d) => Some(d),
            Err(e) => {
                report
                    .unfinished
                    .push(format!("the database listing ({e})"));
                report.push(Check::new(
                    "databases",
                    Outcome::Fail,
                    format!(
                        "could not list databases ({e}): no snapshot taken and nothing deleted"
                    ),
                ));
                None
            }
        };
        let selections = databases
            .as_deref()
            .map(|d| select(d, sweep.targets.as_deref(), &self.config.gate))
            .unwrap_or_default();
        if let Some(d) = databases.as_deref() {
            report.push(checks::selection_summary(
                d,
                &selections,
                sweep.targets.is_some(),
                sweep.snapshots,
                &self.config.gate,
            ));
        }

        // 2. Snapshots and backups.
        let mut failed_dbs = Vec::new();
        if sweep.snapshots {
            for (db, selection) in &selections {
                if !matches!(selection, Selection::Snapshot) {
                    report.push(checks::not_snapshotted(db, selection));
                }
            }
            let wanted: Vec<&DbTarget> = selections
                .iter()
                .filter(|(_, s)| matches!(s, Selection::Snapshot))
                .map(|(db, _)| db)
                .collect();
            let tags = |id: &str| creation_tags(id, &sweep.trigger, "scheduled snapshot", None);
            if sweep.dry_run {
                for db in &wanted {
                    let id = scheduled_snapshot_id(db.id(), sweep.at);
                    report.push(checks::planned_snapshot(db, &id, &tags(id.as_str())));
                }
            } else if !wanted.is_empty() || !sweep.tables.is_empty() {
                match run.may_act(&snapshot_lock(None), "snapshots").await {
                    Err(check) => {
                        report.refused = true;
                        if check.outcome == Outcome::Fail {
                            report
                                .unfinished
                                .push(format!("every snapshot ({})", check.detail));
                        }
                        report.push(checks::sweep_refused(check));
                    }
                    Ok(()) => {
                        let results: Vec<(DbTarget, Created)> = stream::iter(wanted)
                            .map(|db| {
                                let tags = &tags;
                                async move {
                                    if !run.time_left() {
                                        return (
                                            db.clone(),
                                            Created::NotStarted(
                                                "the invocation's deadline is near: not started"
                                                    .into(),
                                            ),
                                        );
                                    }
                                    let id = scheduled_snapshot_id(db.id(), sweep.at);
                                    (db.clone(), self.create(db, &id, &tags(id.as_str())).await)
                                }
                            })
                            .buffer_unordered(self.config.concurrency)
                            .collect()
                            .await;
                        for (db, created) in results {
                            let created = match created {
                                // The name is taken by a copy RDS failed: none tonight, and a
                                // retry would find the same one.
                                Created::Existing(s) if failed_copy(&s.status) => {
                                    Created::Refused(format!(
                                        "snapshot {} exists from an earlier try and RDS failed it ({}): no copy of {db} this run",
                                        s.id, s.status
                                    ))
                                }
                                other => other,
                            };
                            // Names are the schedule's: a retry finds what this try made.
                            if let Created::Failed(why)
                            | Created::Busy(why)
                            | Created::Unknown(why)
                            | Created::NotStarted(why) = &created
                            {
                                report
                                    .unfinished
                                    .push(format!("the snapshot of {db} ({why})"));
                            }
                            if let Created::Failed(_)
                            | Created::Busy(_)
                            | Created::Refused(_)
                            | Created::Unknown(_)
                            | Created::NotStarted(_) = &created
                            {
                                failed_dbs.push(db.clone());
                            }
                            // Made by this try: one an earlier try made was counted then.
                            if let Created::New(_) = &created {
                                report
                                    .metrics
                                    .push(SNAPSHOTS_CREATED.of(db_resource_name(&db), 1.0));
                            }
                            report.push(checks::scheduled_snapshot(
                                &db,
                                &scheduled_snapshot_id(db.id(), sweep.at),
                                &created,
                            ));
                        }
                    }
                }
            }
        }

        // 3. Tables: list (for retention and to find this run's backup from a retry), back up,
        // check point-in-time recovery.
        let table_listings: Vec<(TableName, Result<Vec<BackupInfo>, String>)> =
            stream::iter(&sweep.tables)
                .map(|table| async move {
                    (
                        table.clone(),
                        self.tables
                            .list_backups(table)
                            .await
                            .map_err(|e| e.to_string()),
                    )
                })
                .buffer_unordered(self.config.concurrency)
                .collect()
                .await;
        let mut table_listings = table_listings;
        if sweep.snapshots {
            for (table, listing) in table_listings.iter_mut() {
                let name = backup_name(table, sweep.at);
                let check = match listing {
                    Err(e) => {
                        report
                            .unfinished
                            .push(format!("the backup of {table} (listing: {e})"));
                        Check::new(
                            format!("backup {table}"),
                            Outcome::Fail,
                            format!("could not list backups of {table} ({e}): no backup taken"),
                        )
                    }
                    Ok(existing) if existing.iter().any(|b| b.name == name) => Check::new(
                        format!("backup {table}"),
                        Outcome::Pass,
                        format!("backup {name} already exists (an earlier try of this run)"),
                    ),
                    Ok(_) if sweep.dry_run => Check::new(
                        format!("backup {table}"),
                        Outcome::Planned,
                        format!("would create on-demand backup {name}"),
                    ),
                    Ok(_) if report.refused => Check::new(
                        format!("backup {table}"),
                        Outcome::Skipped,
                        "not created: the guard refused this run",
                    ),
                    Ok(_) if !run.time_left() => Check::new(
                        format!("backup {table}"),
                        Outcome::Warn,
                        "not started: the invocation's deadline is near",
                    ),
                    Ok(existing) => {
                        match self.tables.create_backup(table, &name).await {
                            Ok(b) => {
                                let check = Check::new(format!("backup {table}"), Outcome::Pass, format!("on-demand backup {} created ({})", b.name, b.status))
                                .with_data(json!({"backup_arn": b.arn, "name": b.name, "status": b.status}));
                                existing.push(b);
                                report.metrics.push(
                                    SNAPSHOTS_CREATED
                                        .of(resource_name(&Target::Table(table.clone())), 1.0),
                                );
                                check
                            }
                            Err(e) => {
                                if backup_retryable(&e) {
                                    report
                                        .unfinished
                                        .push(format!("the backup of {table} ({e})"));
                                }
                                Check::new(
                                    format!("backup {table}"),
                                    Outcome::Fail,
                                    format!("backup {name} not created: {e}"),
                                )
                            }
                        }
                    }
                };
                report.push(check);
            }
            for table in &sweep.tables {
                report.push(self.pitr_check(table, sweep, run).await);
            }
        }

        // 4. Retention, over complete listings only.
        if let Some(rules) = &sweep.retention {
            let scope = retention_scope(&selections);
            self.retention(
                sweep,
                rules,
                &scope,
                databases.is_some(),
                &table_listings,
                &failed_dbs,
                run,
                &mut report,
            )
            .await;
        }

        // 5. The account's manual snapshot quota.
        report.push(match self.catalog.snapshot_quotas().await {
            Ok(quotas) => checks::quota_check(&quotas),
            Err(e) => Check::new(
                "quota",
                Outcome::Skipped,
                format!("manual snapshot quota not read: {e}"),
            ),
        });
        let findings = report.finish(sweep);
        if findings.retry.is_some() {
            // Nothing deleted; snapshots and backups are found by name by the retry, not made
            // twice.
            run.guard.nothing_took_effect();
        }
        findings
    }

    async fn pitr_check<L: Ledger>(
        &self,
        table: &TableName,
        sweep: &Sweep,
        run: &RunContext<'_, '_, L>,
    ) -> Check {
        let name = format!("pitr {table}");
        let status = match self.tables.pitr(table).await {
            Ok(s) => s,
            Err(e) => {
                return Check::new(
                    name,
                    Outcome::Warn,
                    format!("point-in-time recovery not read: {e}"),
                )
            }
        };
        if status.enabled {
            return checks::pitr_enabled(&name, &status, run.now, self.config.pitr_max_lag);
        }
        if !self.config.enable_pitr {
            return Check::new(name, Outcome::Warn, format!("point-in-time recovery is off for {table}; set ENABLE_PITR=true to have it turned on"));
        }
        if sweep.dry_run {
            return Check::new(
                name,
                Outcome::Planned,
                format!("would turn point-in-time recovery on for {table}"),
            );
        }
        if let Err(check) = run
            .may_act(&snapshot_lock(None), "turning on point-in-time recovery")
            .await
        {
            return check;
        }
        match self.tables.enable_pitr(table).await {
            Ok(()) => Check::new(
                name,
                Outcome::Pass,
                format!("point-in-time recovery was off for {table}: turned on (ENABLE_PITR)"),
            ),
            Err(e) => Check::new(
                name,
                Outcome::Fail,
                format!("point-in-time recovery is off and could not be turned on: {e}"),
            ),
        }
    }
}
