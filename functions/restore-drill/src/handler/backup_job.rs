//! What a Backup restore job is as a report's result and as a drill, and its verdict posted:
//! shared by a validation of an instance or table (`validate`) and of an Aurora cluster
//! (`member`).

use chrono::Utc;
use serde_json::json;

use rds_responder::backups::TableBackups;
use rds_responder::job::JobStore;
use rds_responder::ledger::Ledger;
use rds_responder::recovery::RestoreControl;
use rds_responder::report::{Check, Outcome};
use rds_responder::restore_testing::{RestoreJob, RestoreJobs, Validation};
use rds_responder::run::RunContext;
use rds_responder::sql::verify::DataInspector;
use rds_responder::table_recovery::TableRestores;

use super::{DrillState, RestoreDrill};
use crate::policy::validation::{validation_deadline, window_closes, ValidationTarget};
use crate::request::Subject;

/// What a validation says in a report's result.
pub(super) fn validation_result(
    job: &RestoreJob,
    target: &ValidationTarget,
    posted: Option<Validation>,
) -> serde_json::Value {
    json!({"validation": {
        "restore_job": job.job_id,
        "plan": job.plan,
        "restored": target.restored.tag_value(),
        "source": target.source.tag_value(),
        "posted": posted.map(Validation::as_str),
    }})
}

/// A Backup restore read as a drill: its recovery point, Backup's restore as its timeline.
pub(super) fn drill_state_of(
    job: &RestoreJob,
    target: &ValidationTarget,
    now: chrono::DateTime<Utc>,
) -> DrillState {
    DrillState {
        source: target.source.name().to_string(),
        kind: target.source.kind().to_string(),
        scratch: target.restored.name().to_string(),
        restore_from: job
            .recovery_point
            .clone()
            .unwrap_or_else(|| "an AWS Backup recovery point".into()),
        point_in_time: false,
        recovery_point: job.recovery_point_created.or(job.created).unwrap_or(now),
        started_at: job.created.unwrap_or(now),
        instance_class: String::new(),
        cluster_available_at: None,
        available_at: job.completed,
        outcome: None,
        checks: Vec::new(),
        rto_seconds: None,
        rpo_seconds: None,
    }
}

/// An Aurora validation's job key: one record per restore job.
pub(super) fn member_key(job_id: &str) -> String {
    format!("restore-job#{job_id}")
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
    /// Posts the verdict and says so in a check; what Backup shows is the verdict only once it
    /// was taken.
    pub(super) async fn post_verdict(
        &self,
        id: &str,
        validation: Validation,
        message: &str,
        checks: &mut Vec<Check>,
    ) -> Option<Validation> {
        let name = format!("validation {id}");
        match self
            .restore_jobs
            .post_validation(id, validation, message)
            .await
        {
            Ok(()) => {
                let outcome = match validation {
                    Validation::Successful => Outcome::Pass,
                    _ => Outcome::Fail,
                };
                let said = format!("posted {} to AWS Backup: {message}", validation.as_str());
                checks.push(Check::new(name, outcome, said));
                Some(validation)
            }
            Err(e) => {
                checks.push(Check::new(
                    name,
                    Outcome::Fail,
                    format!(
                        "{e}: the verdict {} is in this report only (Backup shows VALIDATING)",
                        validation.as_str()
                    ),
                ));
                None
            }
        }
    }

    /// A validation's deadline: the configured one, or its window's close when sooner.
    pub(super) fn validation_deadline_of(
        &self,
        target: &ValidationTarget,
        now: chrono::DateTime<Utc>,
    ) -> chrono::DateTime<Utc> {
        validation_deadline(now, self.config.deadline, target.window_closes)
    }

    /// The target with its validation window's close, read from its plan's selections; a
    /// window that could not be read is a warning (the configured deadline holds).
    pub(super) async fn with_window(
        &self,
        job: &RestoreJob,
        target: &ValidationTarget,
    ) -> (ValidationTarget, Option<Check>) {
        let mut target = target.clone();
        let (Some(plan), Some(kind)) = (job.plan.as_deref(), job.resource_type.as_deref()) else {
            return (target, None);
        };
        match self.restore_jobs.validation_window(plan, kind).await {
            Ok(window) => {
                target.window_closes = window_closes(job.completed, window);
                (target, None)
            }
            Err(e) => (
                target,
                Some(Check::new(
                    "validation window",
                    Outcome::Warn,
                    format!("{e}: the plan's validation window is unknown; DRILL_DEADLINE_MINUTES holds"),
                )),
            ),
        }
    }

    /// A drill's checks of the restored resource against its source.
    pub(super) async fn check_restored(
        &self,
        job: &RestoreJob,
        target: &ValidationTarget,
        run: &RunContext<'_, '_, impl Ledger>,
    ) -> Vec<Check> {
        let mut state = drill_state_of(job, target, run.now);
        match (&target.restored, &target.source) {
            (Subject::Instance(restored_id), source) => {
                match self.rds.describe_recovery(restored_id).await {
                    Ok(Some(restored)) if restored.status == "available" => {
                        self.read_and_judge(&restored, source, &mut state, run)
                            .await
                    }
                    Ok(Some(restored)) => vec![Check::new(
                        "restore",
                        Outcome::Fail,
                        format!(
                            "{restored_id} is {}, not available: nothing could be read",
                            restored.status
                        ),
                    )],
                    Ok(None) => vec![Check::new(
                        "restore",
                        Outcome::Fail,
                        format!("{restored_id} is gone: nothing could be read"),
                    )],
                    Err(e) => vec![Check::new("restore", Outcome::Fail, e.to_string())],
                }
            }
            (Subject::Table(restored_name), Subject::Table(source_name)) => {
                match self.table_restores.table_settings(restored_name).await {
                    Ok(Some(settings)) => {
                        let mut checks = vec![Check::new(
                            "restore",
                            Outcome::Pass,
                            format!(
                                "{restored_name} restored by AWS Backup from {}",
                                state.restore_from
                            ),
                        )];
                        checks.extend(
                            self.judge_table(
                                source_name,
                                restored_name,
                                &settings,
                                &mut state,
                                Utc::now().max(run.now),
                            )
                            .await,
                        );
                        checks
                    }
                    Ok(None) => vec![Check::new(
                        "restore",
                        Outcome::Fail,
                        format!("{restored_name} is gone: nothing could be read"),
                    )],
                    Err(e) => vec![Check::new("restore", Outcome::Fail, e.to_string())],
                }
            }
            (restored, _) => vec![Check::new(
                "restore",
                Outcome::Skipped,
                format!("{} is not validated by this version", restored.tag_value()),
            )],
        }
    }
}
