//! AWS Backup restore testing: which restore jobs restore-drill validates, what it checks them
//! against, and the verdict it posts (`SUCCESSFUL`, `FAILED`, `TIMED_OUT`) with its message.

use rds_responder::report::{Check, Outcome};
use rds_responder::restore_testing::{RestoreJob, Validation};
use rds_responder::trigger::{RdsIdentifier, ResourceKind, TableName};

use crate::request::Subject;

/// A sweep looks at the restore jobs of this many days back: Backup's validation window is at
/// most 168 hours.
pub const LOOKBACK_DAYS: i64 = 7;

/// Whether `plan` (an ARN) is one of `plans`.
pub fn plan_listed(plan: &str, plans: &[String]) -> bool {
    plans.iter().any(|p| p == plan)
}

/// The database or table an ARN names: `arn:<p>:rds:<r>:<a>:db:<id>`, `...:cluster:<id>`,
/// `arn:<p>:dynamodb:<r>:<a>:table/<name>`.
pub fn subject_of_arn(arn: &str) -> Result<Subject, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, service, _, _, resource] = parts.as_slice() else {
        return Err(format!("{arn:?} is not an ARN"));
    };
    let parsed = match (*service, resource.split_once([':', '/'])) {
        ("rds", Some(("db", id))) => RdsIdentifier::parse(id, ResourceKind::DbInstance)
            .map(Subject::Instance)
            .map_err(|r| r.to_string()),
        ("rds", Some(("cluster", id))) => RdsIdentifier::parse(id, ResourceKind::DbCluster)
            .map(Subject::Cluster)
            .map_err(|r| r.to_string()),
        ("dynamodb", Some(("table", name))) => TableName::parse(name)
            .map(Subject::Table)
            .map_err(|r| r.to_string()),
        _ => Err("names no RDS DB instance, Aurora cluster or DynamoDB table".to_string()),
    };
    parsed.map_err(|rule| format!("{arn:?}: {rule}"))
}

/// What a validation restores and compares: the restored resource and its source.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationTarget {
    pub restored: Subject,
    pub source: Subject,
}

/// Why restore job `job` is not validated, or what it is checked against.
pub fn validation_target(job: &RestoreJob, plans: &[String]) -> Result<ValidationTarget, String> {
    let id = &job.job_id;
    if plans.is_empty() {
        return Err(format!(
            "restore job {id}: RESTORE_TESTING_PLANS is empty, restore-drill validates no plan's restores"
        ));
    }
    let Some(plan) = job.plan.as_deref() else {
        return Err(format!(
            "restore job {id} was not started by a restore testing plan: not validated"
        ));
    };
    if !plan_listed(plan, plans) {
        return Err(format!(
            "restore job {id} is of plan {plan}, not one of RESTORE_TESTING_PLANS: not validated"
        ));
    }
    if job.status != "COMPLETED" {
        return Err(format!(
            "restore job {id} is {}: only a COMPLETED restore is validated",
            job.status
        ));
    }
    if let Some(done) = job
        .validation
        .as_deref()
        .filter(|v| *v != Validation::Validating.as_str())
    {
        return Err(format!(
            "restore job {id} is already validated ({done}): not validated again"
        ));
    }
    let restored = match job.created_resource.as_deref() {
        Some(arn) => subject_of_arn(arn)?,
        None => return Err(format!("restore job {id} names no restored resource")),
    };
    let source = match job.source_resource.as_deref() {
        Some(arn) => subject_of_arn(arn)?,
        None => return Err(format!("restore job {id} names no source resource")),
    };
    if restored.kind() != source.kind() {
        return Err(format!(
            "restore job {id} restored {} from {}: not the same kind of resource",
            restored.tag_value(),
            source.tag_value()
        ));
    }
    if let Subject::Cluster(_) = restored {
        return Err(format!(
            "restore job {id} restored Aurora cluster {}, which AWS Backup leaves without an instance; restore-drill does not add one to a restore it did not make: not validated",
            restored.name()
        ));
    }
    Ok(ValidationTarget { restored, source })
}

/// Whether a sweep validates `job`: a listed plan's completed restore no one has validated.
/// A job left `VALIDATING` is another run's (or another validator's): its event run posts.
pub fn sweep_validates(job: &RestoreJob, plans: &[String]) -> bool {
    job.validation.is_none() && validation_target(job, plans).is_ok()
}

/// The verdict Backup shows, and its message: every failed check named; a run whose time ran
/// out before its checks did times out.
pub fn verdict(checks: &[Check], time_up: bool) -> (Validation, String) {
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| c.outcome == Outcome::Fail)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    let passed = checks.iter().filter(|c| c.outcome == Outcome::Pass).count();
    if !failed.is_empty() {
        return (
            Validation::Failed,
            format!(
                "restore-drill: {} of {} checks failed - {}",
                failed.len(),
                checks.len(),
                failed.join("; ")
            ),
        );
    }
    if time_up {
        return (
            Validation::TimedOut,
            format!(
                "restore-drill: the run's time ran out after {passed} checks passed, before the rest"
            ),
        );
    }
    if passed == 0 {
        return (
            Validation::Failed,
            "restore-drill: no check passed (nothing could be read)".into(),
        );
    }
    (
        Validation::Successful,
        format!("restore-drill: all {passed} checks passed"),
    )
}
