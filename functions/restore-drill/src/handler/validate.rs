//! AWS Backup restore testing: a restore testing plan's restore is validated with a drill's
//! checks. The job is read first (the event is only a hint), `VALIDATING` is posted at once, the
//! restored instance or table is checked against its source, and the verdict is posted with its
//! message. Backup deletes the restored resource itself: nothing is deleted here.

use chrono::Utc;

use rds_responder::backups::TableBackups;
use rds_responder::job::JobStore;
use rds_responder::ledger::Ledger;
use rds_responder::recovery::{RecoveryInfo, RestoreControl};
use rds_responder::report::{Check, Findings, Outcome};
use rds_responder::restore_testing::{RestoreJob, RestoreJobs, Validation};
use rds_responder::run::RunContext;
use rds_responder::runner::Invocation;
use rds_responder::sql::verify::DataInspector;
use rds_responder::table_recovery::TableRestores;
use rds_responder::trigger::Target;

use super::backup_job::{member_key, validation_result};
use super::{target_of, RestoreDrill, FUNCTION};
use crate::policy::validation::{
    added_for_validation, sweep_validates, validation_target, verdict, window_closed,
    ValidationTarget, LOOKBACK_DAYS,
};
use crate::request::Subject;

/// Restore jobs one sweep validates at most (each reads two databases).
const SWEEP_VALIDATIONS: usize = 5;

/// What one validation says: its checks and the line for the summary.
pub struct Validated {
    pub checks: Vec<Check>,
    pub line: String,
    pub result: serde_json::Value,
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
    /// The run of one restore job's event.
    pub(super) async fn validate(
        &self,
        job_id: &str,
        dry_run: bool,
        because: &str,
        run: &RunContext<'_, '_, impl Ledger>,
        invocation: &Invocation,
    ) -> Findings {
        let origin = &invocation.origin;
        let job = match self.restore_jobs.describe_job(job_id).await {
            Ok(Some(job)) => job,
            Ok(None) => {
                return Findings::skipped(
                    None::<Target>,
                    format!("AWS Backup knows no restore job {job_id}: nothing validated"),
                )
            }
            Err(e) => {
                let check = Check::new(
                    format!("restore job {job_id}"),
                    Outcome::Fail,
                    format!("{e}; nothing validated, nothing posted"),
                );
                return Findings::new(
                    None::<Target>,
                    vec![check],
                    format!("restore job {job_id} unread"),
                );
            }
        };
        let target = match validation_target(&job, &self.config.restore_testing_plans, origin) {
            Ok(t) => t,
            Err(reason) => {
                return Findings::skipped(None::<Target>, format!("{reason} ({because})"))
            }
        };
        let validated = self
            .validate_job(&job, &target, dry_run, run, invocation)
            .await;
        let mut findings = Findings::new(
            Some(target_of(&target.restored)),
            validated.checks,
            format!("{}; {because}", validated.line),
        );
        findings.result = Some(validated.result);
        findings
    }

    /// The run of an instance's event when it is one added to a restore test's cluster.
    pub(super) async fn validation_of(
        &self,
        instance: &RecoveryInfo,
        because: &str,
        run: &RunContext<'_, '_, impl Ledger>,
        invocation: &Invocation,
    ) -> Option<super::check::Told> {
        let id = instance.db.id();
        let job = added_for_validation(&instance.tags, instance.cluster.as_deref(), id.as_str())?;
        let dry = self.config.automatic_dry_run;
        let f = self.validate(job, dry, because, run, invocation).await;
        Some((f.checks, f.summary, f.result))
    }

    /// The sweep's part: every listed plan's completed restores of the past week that no one
    /// validated (Backup's events are best effort), at most [`SWEEP_VALIDATIONS`] a run.
    pub(super) async fn sweep_validations(
        &self,
        dry_run: bool,
        run: &RunContext<'_, '_, impl Ledger>,
        invocation: &Invocation,
    ) -> (Vec<Check>, Vec<serde_json::Value>) {
        let origin = &invocation.origin;
        let mut checks = Vec::new();
        let mut results = Vec::new();
        let since = run.now - chrono::Duration::days(LOOKBACK_DAYS);
        let plans = &self.config.restore_testing_plans;
        let mut left = SWEEP_VALIDATIONS;
        for plan in plans {
            if !run.time_left() {
                checks.push(Check::new(
                    format!("restore jobs of {plan}"),
                    Outcome::Skipped,
                    "not listed: the run's time is up",
                ));
                continue;
            }
            let jobs = match self.restore_jobs.completed_jobs(plan, since).await {
                Ok(jobs) => jobs,
                Err(e) => {
                    checks.push(Check::new(
                        format!("restore jobs of {plan}"),
                        Outcome::Fail,
                        format!("{e}; none validated"),
                    ));
                    continue;
                }
            };
            for job in &jobs {
                let name = format!("validation {}", job.job_id);
                if !sweep_validates(job, plans, origin, run.now) {
                    // Unvalidated and refused (Aurora, a foreign or odd ARN): said, not dropped.
                    if let (None, Err(reason)) =
                        (&job.validation, validation_target(job, plans, origin))
                    {
                        checks.push(Check::new(name, Outcome::Skipped, reason));
                    }
                    continue;
                }
                if left == 0 || !run.time_left() {
                    checks.push(Check::new(
                        name,
                        Outcome::Skipped,
                        "not validated in this run (its time or its share is used): the next sweep does",
                    ));
                    continue;
                }
                left -= 1;
                let Ok(target) = validation_target(job, plans, origin) else {
                    continue;
                };
                let validated = self
                    .validate_job(job, &target, dry_run, run, invocation)
                    .await;
                // A job that only waits (its instance being created) uses none of the share.
                if validated
                    .checks
                    .iter()
                    .all(|c| c.outcome == Outcome::Skipped)
                {
                    left += 1;
                }
                checks.extend(validated.checks);
                results.push(validated.result);
            }
        }
        (checks, results)
    }

    /// Posts `VALIDATING`, checks the restore, posts the verdict.
    pub(super) async fn validate_job(
        &self,
        job: &RestoreJob,
        target: &ValidationTarget,
        dry_run: bool,
        run: &RunContext<'_, '_, impl Ledger>,
        invocation: &Invocation,
    ) -> Validated {
        let origin = &invocation.origin;
        let id = &job.job_id;
        let name = format!("validation {id}");
        let restored = target.restored.tag_value();
        let source = target.source.tag_value();
        let result = |posted: Option<Validation>| validation_result(job, target, posted);
        // An Aurora validation a real run began (its instance added) is finished by any run:
        // a dry one must not leave the instance it did not make to cost money.
        let begun = match &target.restored {
            Subject::Cluster(_) if dry_run => {
                matches!(
                    self.jobs.load(FUNCTION, &member_key(&job.job_id)).await,
                    Ok(Some(_))
                )
            }
            _ => false,
        };
        if dry_run && !begun {
            return Validated {
                checks: vec![Check::new(
                    name,
                    Outcome::Planned,
                    format!("would post VALIDATING, check {restored} against {source} and post the verdict (dry run)"),
                )],
                line: format!("restore job {id} would be validated (dry run)"),
                result: result(None),
            };
        }
        let lock = format!("validate#{id}");
        if let Err(refused) = run
            .may_act(&lock, &format!("validating restore job {id}"))
            .await
        {
            return Validated {
                line: refused.detail.clone(),
                checks: vec![refused],
                result: result(None),
            };
        }
        // Read again under the lock: a run that held it may have posted since this one read.
        match self.restore_jobs.describe_job(id).await {
            Ok(Some(fresh)) => {
                if let Err(reason) =
                    validation_target(&fresh, &self.config.restore_testing_plans, origin)
                {
                    return Validated {
                        checks: vec![Check::new(name, Outcome::Skipped, reason.clone())],
                        line: reason,
                        result: result(None),
                    };
                }
            }
            Ok(None) => {
                let gone = format!("AWS Backup no longer knows restore job {id}: nothing posted");
                return Validated {
                    checks: vec![Check::new(name, Outcome::Skipped, gone.clone())],
                    line: gone,
                    result: result(None),
                };
            }
            Err(e) => {
                return Validated {
                    checks: vec![Check::new(
                        name,
                        Outcome::Fail,
                        format!("{e}; nothing posted"),
                    )],
                    line: format!("restore job {id} could not be read again"),
                    result: result(None),
                }
            }
        }
        let (target, window_note) = self.with_window(job, target).await;
        let target = &target;
        // An Aurora validation already begun (its instance added) ends in its own flow, which
        // deletes that instance; one not begun adds none after the window.
        let begun_member = match &target.restored {
            Subject::Cluster(_) => {
                !matches!(self.jobs.load(FUNCTION, &member_key(id)).await, Ok(None))
            }
            _ => false,
        };
        let closed = window_closed(target.window_closes, Utc::now().max(run.now));
        if let Some(message) = closed.filter(|_| !begun_member) {
            let mut checks = window_note.into_iter().collect::<Vec<_>>();
            let shown = self
                .post_verdict(id, Validation::TimedOut, &message, &mut checks)
                .await;
            return Validated {
                checks,
                line: format!("restore job {id} ({restored}): its validation window closed"),
                result: result(shown),
            };
        }
        if !run.time_left() {
            let late = format!(
                "restore job {id} not validated: the run's time is up (the next sweep takes it)"
            );
            return Validated {
                checks: vec![Check::new(name, Outcome::Skipped, late.clone())],
                line: late,
                result: result(None),
            };
        }
        if let Subject::Cluster(cluster) = &target.restored {
            return self
                .validate_member(job, target, cluster, run, invocation)
                .await;
        }
        let started = format!("restore-drill is checking {restored} against {source}");
        if let Err(e) = self
            .restore_jobs
            .post_validation(id, Validation::Validating, &started)
            .await
        {
            return Validated {
                checks: vec![Check::new(name, Outcome::Fail, format!("{e}; not checked"))],
                line: format!("restore job {id} could not be marked VALIDATING"),
                result: result(None),
            };
        }
        let mut checks: Vec<Check> = window_note.into_iter().collect();
        checks.extend(self.check_restored(job, target, run).await);
        let (validation, message) = verdict(&checks, !run.time_left());
        let shown = self
            .post_verdict(id, validation, &message, &mut checks)
            .await;
        Validated {
            checks,
            line: format!("restore job {id} ({restored}): {}", validation.as_str()),
            result: result(shown),
        }
    }
}
