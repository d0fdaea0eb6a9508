//! The runs: the RPO audit (here), a drill's start (`start`), an Aurora drill's instance
//! (`cluster`), its check and cleanup (`check`; a table's in `table`), and the sweep (`sweep`).
//! A drill outlives one invocation: its job record (shared `job`) holds its step, each step is
//! taken by compare-and-swap, and no step depends on the next one succeeding: whatever is left,
//! the sweep finishes or deletes.

mod backup_job;
mod check;
mod cleanup;
mod cluster;
mod member;
mod reads;
mod restore;
mod start;
mod sweep;
mod table;
mod validate;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use rds_responder::backups::TableBackups;
use rds_responder::config::EndpointMap;
use rds_responder::guard::ActionGuard;
use rds_responder::job::{JobRecord, JobStore};
use rds_responder::ledger::Ledger;
use rds_responder::rds::RdsError;
use rds_responder::recovery::{RecoveryInfo, RestoreControl};
use rds_responder::report::{Check, Findings, Outcome};
use rds_responder::restore_testing::RestoreJobs;
use rds_responder::run::RunContext;
use rds_responder::runner::{Invocation, Responder};
use rds_responder::sql::verify::DataInspector;
use rds_responder::table_recovery::TableRestores;
use rds_responder::trigger::Target;
use rds_responder::trigger::{DbTarget, Trigger};

use crate::checks;
use crate::config::DrillConfig;
use crate::policy::drill::{enrolment, named_as_scratch, DrillFacts, Enrolment, Step};
use crate::policy::rpo::{assess, newest_snapshots, Facts, Newest};
use crate::policy::{decide, Decision};
use crate::request::{DrillSchedule, ManualTask, Subject};

pub const FUNCTION: &str = "restore-drill";
/// How long a finished drill's record is kept (its report is in S3 for good).
pub const KEEP_DAYS: i64 = 14;
/// DynamoDB tables audited at once.
pub const TABLE_CONCURRENCY: usize = 8;

pub struct RestoreDrill<R, B, T, D, J, V> {
    pub rds: R,
    pub tables: B,
    pub table_restores: T,
    pub data: D,
    pub jobs: J,
    pub endpoints: EndpointMap,
    pub config: DrillConfig,
    /// This deployment's ledger table: the owner tag of every scratch copy it makes, and the
    /// only one its sweep touches.
    pub owner: String,
    /// AWS Backup's restore jobs: restore testing validations.
    pub restore_jobs: V,
}

/// A drill's own state, in its job record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillState {
    pub source: String,
    /// `db-instance`, `db-cluster` or `table` (records before cluster and table drills: none).
    #[serde(default = "instance_kind")]
    pub kind: String,
    pub scratch: String,
    pub restore_from: String,
    pub point_in_time: bool,
    pub recovery_point: DateTime<Utc>,
    /// The restore call.
    pub started_at: DateTime<Utc>,
    pub instance_class: String,
    /// An Aurora drill's cluster became available.
    #[serde(default)]
    pub cluster_available_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub available_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub outcome: Option<String>,
    /// The check step's findings, kept so a run that dies before the cleanup loses none.
    #[serde(default)]
    pub checks: Vec<Check>,
    #[serde(default)]
    pub rto_seconds: Option<i64>,
    #[serde(default)]
    pub rpo_seconds: Option<i64>,
}

pub fn target_of(subject: &Subject) -> Target {
    match subject {
        Subject::Instance(id) => Target::Instance(id.clone()),
        Subject::Cluster(id) => Target::Cluster(id.clone()),
        Subject::Table(t) => Target::Table(t.clone()),
    }
}

fn instance_kind() -> String {
    "db-instance".into()
}

/// The job key of a drill of `source`: one drill per database.
pub fn drill_key(source: &Subject) -> String {
    format!("{}#{}", source.kind(), source.name())
}

/// The lock a drill's actions take within one run (the job record is the lock across runs).
pub fn drill_lock(source: &Subject) -> String {
    format!("drill#{}", drill_key(source))
}

pub fn facts_of(job: &JobRecord) -> DrillFacts {
    DrillFacts {
        run: job.run.clone(),
        step: Step::parse(&job.step),
        deadline: job.deadline,
        lease: job.lease.as_ref().map(|l| (l.holder.clone(), l.until)),
        started: state_of(job).map(|s| s.started_at),
    }
}

pub fn state_of(job: &JobRecord) -> Option<DrillState> {
    serde_json::from_value(job.state.clone()).ok()
}

fn list_failed(what: &str, e: &RdsError) -> Findings {
    let mut findings = Findings::new(
        Some(Target::Account),
        vec![Check::new(
            "list",
            Outcome::Fail,
            format!("{what}: {e}; nothing was done"),
        )],
        format!("{what} failed: nothing was done"),
    );
    findings.retry = Some(e.to_string());
    findings
}

impl<R, B, T, D, J, V> Responder for RestoreDrill<R, B, T, D, J, V>
where
    R: RestoreControl,
    B: TableBackups,
    T: TableRestores,
    D: DataInspector,
    J: JobStore,
    V: RestoreJobs,
{
    type Manual = ManualTask;
    type Schedule = DrillSchedule;
    const FUNCTION: &'static str = FUNCTION;

    async fn respond<L: Ledger>(
        &self,
        trigger: &Trigger<ManualTask, DrillSchedule>,
        invocation: &Invocation,
        guard: &ActionGuard<'_, L>,
    ) -> Findings {
        let run = RunContext::new(guard, invocation);
        match decide(trigger, &self.config) {
            Decision::Skip { target, reason } => Findings::skipped(target, reason),
            Decision::Audit {
                only,
                disabled,
                because,
            } => self.audit(only.as_ref(), disabled, &because, &run).await,
            Decision::Start {
                only,
                from,
                dry_run,
                because,
            } => {
                self.start(&only, from, dry_run, &because, &run, invocation)
                    .await
            }
            Decision::Restored {
                scratch,
                at,
                because,
            } => {
                let (checks, summary, result) = self
                    .check_drill(&scratch, Some(at), &because, &run, invocation)
                    .await;
                let mut findings =
                    Findings::new(Some(DbTarget::Instance(scratch)), checks, summary);
                if result.is_none() && findings.checks.is_empty() {
                    findings.status = Some(rds_responder::report::Status::Skipped);
                }
                findings.result = result;
                findings
            }
            Decision::ClusterRestored {
                scratch,
                at,
                because,
            } => {
                let check = self
                    .add_instance(&scratch, Some(at), &because, &run, invocation)
                    .await;
                let skipped = check.outcome == Outcome::Skipped;
                let summary = check.detail.clone();
                let mut findings =
                    Findings::new(Some(DbTarget::Cluster(scratch)), vec![check], summary);
                if skipped {
                    findings.status = Some(rds_responder::report::Status::Skipped);
                }
                findings
            }
            Decision::Sweep { dry_run, because } => {
                self.sweep(dry_run, &because, &run, invocation).await
            }
            Decision::Validate {
                job_id,
                dry_run,
                because,
            } => {
                self.validate(&job_id, dry_run, &because, &run, invocation)
                    .await
            }
        }
    }
}

fn resource_name(db: &DbTarget) -> String {
    match db {
        DbTarget::Instance(id) => format!("db-instance:{id}"),
        DbTarget::Cluster(id) => format!("db-cluster:{id}"),
    }
}

impl<R, B, T, D, J, V> RestoreDrill<R, B, T, D, J, V>
where
    R: RestoreControl,
    B: TableBackups,
    T: TableRestores,
    D: DataInspector,
    J: JobStore,
    V: RestoreJobs,
{
    /// Whether the audit looks at this database: enrolled (or named), and its own recovery
    /// point (an Aurora member's is the cluster's; a scratch instance is not a database).
    fn audited(&self, info: &RecoveryInfo, only: Option<&Subject>) -> bool {
        let id = info.db.id();
        if named_as_scratch(id.as_str()) || info.cluster.is_some() {
            return false;
        }
        match only {
            Some(only) => *only == Subject::of_db(&info.db),
            None => !matches!(
                enrolment(&info.tags, &self.config.tag),
                Enrolment::Out { .. }
            ),
        }
    }

    async fn audit(
        &self,
        only: Option<&Subject>,
        disabled: Option<DateTime<Utc>>,
        because: &str,
        run: &RunContext<'_, '_, impl Ledger>,
    ) -> Findings {
        let listed = match self.rds.list_recovery().await {
            Ok(l) => l,
            Err(e) => return list_failed("listing DB instances and clusters", &e),
        };
        let snapshots = match self.rds.list_backups().await {
            Ok(s) => s,
            Err(e) => return list_failed("listing snapshots", &e),
        };
        let newest = newest_snapshots(&snapshots, run.now);
        let target_minutes = self.config.rpo_target.num_minutes();
        let mut checks = Vec::new();
        let mut metrics = Vec::new();
        for info in listed.iter().filter(|i| self.audited(i, only)) {
            let resource = resource_name(&info.db);
            let facts = Facts {
                status: info.status.clone(),
                backups_on: info.backup_retention_days > 0,
                latest_restorable: info.latest_restorable,
                newest_snapshot: newest.get(&resource).and_then(Newest::any),
                snapshots_audited: true,
                disabled_event: disabled.filter(|_| only.is_some()),
            };
            let assessment = assess(
                &facts,
                run.now,
                self.config.rpo_target,
                self.config.snapshot_max_age,
            );
            let (check, metric) = checks::audit_check(&resource, &assessment, target_minutes);
            let ages = newest.get(&resource).cloned().unwrap_or_default();
            checks.push(checks::with_backup_facts(
                check,
                Some(info.backup_retention_days),
                &ages,
            ));
            metrics.extend(metric);
        }
        if let Some(only) = only {
            if let Subject::Table(table) = only {
                let tables = self.audit_tables(std::slice::from_ref(table), run).await;
                for (check, metric) in tables {
                    checks.push(check);
                    metrics.extend(metric);
                }
            } else if checks.is_empty() {
                checks.push(Check::new(
                    format!("rpo {only}"),
                    Outcome::Fail,
                    format!("{} is not a {} RDS lists (an Aurora member's recovery point is its cluster's: audit the cluster)", only.name(), only.kind()),
                ));
            }
        } else {
            let tables = self.audit_tables(&self.config.audit_tables, run).await;
            for (check, metric) in tables {
                checks.push(check);
                metrics.extend(metric);
            }
        }
        let summary = format!(
            "{}; {because}",
            checks::audit_summary(&checks, target_minutes)
        );
        let target = only.map_or(Target::Account, target_of);
        let mut findings = Findings::new(Some(target), checks, summary);
        findings.result = Some(checks::audit_result(&findings.checks));
        findings.metrics = metrics;
        findings
    }

    async fn audit_tables(
        &self,
        tables: &[rds_responder::trigger::TableName],
        run: &RunContext<'_, '_, impl Ledger>,
    ) -> Vec<(Check, Vec<rds_responder::report::ResourceMetric>)> {
        use futures_util::stream::{self, StreamExt};
        let target_minutes = self.config.rpo_target.num_minutes();
        stream::iter(tables.iter())
            .map(|table| async move {
                let resource = format!("table:{table}");
                match self.tables.pitr(table).await {
                    Ok(pitr) => {
                        let facts = Facts {
                            status: "ACTIVE".into(),
                            backups_on: pitr.enabled,
                            latest_restorable: pitr.latest_restorable,
                            newest_snapshot: None,
                            snapshots_audited: false,
                            disabled_event: None,
                        };
                        let assessment = assess(
                            &facts,
                            run.now,
                            self.config.rpo_target,
                            self.config.snapshot_max_age,
                        );
                        checks::audit_check(&resource, &assessment, target_minutes)
                    }
                    Err(e) => (
                        Check::new(
                            format!("rpo {resource}"),
                            Outcome::Fail,
                            format!("could not read its point-in-time recovery: {e}"),
                        ),
                        Vec::new(),
                    ),
                }
            })
            .buffered(TABLE_CONCURRENCY)
            .collect()
            .await
    }
}
