//! AWS Backup restore testing: which restore jobs restore-drill validates, what it checks them
//! against, and the verdict it posts (`SUCCESSFUL`, `FAILED`, `TIMED_OUT`) with its message.

use chrono::{DateTime, Duration, Utc};
use rds_responder::report::{Check, Outcome};
use rds_responder::restore_testing::{RestoreJob, Validation};

use rds_responder::trigger::{Origin, RdsIdentifier, ResourceKind, TableName};

use super::drill::named_as_scratch;

use crate::request::Subject;

/// A sweep looks at the restore jobs of this many days back: Backup's validation window is at
/// most 168 hours.
pub const LOOKBACK_DAYS: i64 = 7;

/// Whether `plan` (an ARN) is one of `plans`.
pub fn plan_listed(plan: &str, plans: &[String]) -> bool {
    plans.iter().any(|p| p == plan)
}

/// A job left `VALIDATING` this long after its restore finished was abandoned (a run lasts
/// at most 15 minutes): a sweep takes it again.
pub const ABANDONED_AFTER_MINUTES: i64 = 30;

/// Checks that compare the restore's data with its source: a validation passes only if one of
/// them passed.
const DATA_CHECKS: [&str; 4] = ["schema", "rows ", "sql ", "items"];
/// Checks a validation reports without judging: Backup chose the recovery point and its
/// schedule (RPO), ran the restore (RTO), and a new volume reads slowly at first.
const INFORMATIONAL: [&str; 3] = ["rto", "observed rpo", "reads"];

/// The database or table an ARN of this account and region names: `arn:<p>:rds:<r>:<a>:db:<id>`,
/// `...:cluster:<id>`, `arn:<p>:dynamodb:<r>:<a>:table/<name>`.
pub fn subject_of_arn(arn: &str, origin: &Origin) -> Result<Subject, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", partition, service, region, account, resource] = parts.as_slice() else {
        return Err(format!("{arn:?} is not an ARN"));
    };
    if partition.is_empty() {
        return Err(format!("{arn:?} is not an ARN"));
    }
    if *account != origin.account_id || *region != origin.region {
        return Err(format!(
            "{arn:?} is of account {account} in {region}, not this function's ({} in {}): never checked from here",
            origin.account_id, origin.region
        ));
    }
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
pub fn validation_target(
    job: &RestoreJob,
    plans: &[String],
    origin: &Origin,
) -> Result<ValidationTarget, String> {
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
        Some(arn) => subject_of_arn(arn, origin)?,
        None => return Err(format!("restore job {id} names no restored resource")),
    };
    let source = match job.source_resource.as_deref() {
        Some(arn) => subject_of_arn(arn, origin)?,
        None => return Err(format!("restore job {id} names no source resource")),
    };
    if restored.kind() != source.kind() {
        return Err(format!(
            "restore job {id} restored {} from {}: not the same kind of resource",
            restored.tag_value(),
            source.tag_value()
        ));
    }
    if restored.name().eq_ignore_ascii_case(source.name()) {
        return Err(format!(
            "restore job {id} names {} as both its restore and its source: the source would be checked against itself, not validated",
            restored.tag_value()
        ));
    }
    if named_as_scratch(restored.name()) {
        return Err(format!(
            "restore job {id} names {}, a drill's scratch copy: not validated",
            restored.tag_value()
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

/// Whether a sweep validates `job`: a listed plan's completed restore no one has validated, or
/// one left `VALIDATING` well past any run's end (the run that posted it died).
pub fn sweep_validates(
    job: &RestoreJob,
    plans: &[String],
    origin: &Origin,
    now: DateTime<Utc>,
) -> bool {
    let open = match job.validation.as_deref() {
        None => true,
        Some("VALIDATING") => job
            .completed
            .is_some_and(|at| at + Duration::minutes(ABANDONED_AFTER_MINUTES) < now),
        Some(_) => false,
    };
    open && validation_target(job, plans, origin).is_ok()
}

/// The verdict Backup shows, and its message: every failed check named. Only the data is
/// judged (RTO, RPO and read speed are reported, not judged); a validation passes only if a
/// comparison of the data passed; a run whose time ran out times out, whatever failed (a check
/// cut short reads as failed).
pub fn verdict(checks: &[Check], time_up: bool) -> (Validation, String) {
    let judged: Vec<&Check> = checks
        .iter()
        .filter(|c| !INFORMATIONAL.contains(&c.name.as_str()))
        .collect();
    let failed: Vec<String> = judged
        .iter()
        .filter(|c| c.outcome == Outcome::Fail)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    let passed = judged.iter().filter(|c| c.outcome == Outcome::Pass).count();
    let compared = judged
        .iter()
        .any(|c| c.outcome == Outcome::Pass && DATA_CHECKS.iter().any(|d| c.name.starts_with(d)));
    if time_up {
        return (
            Validation::TimedOut,
            format!(
                "restore-drill: the run's time ran out during the checks ({passed} passed, {} failed{})",
                failed.len(),
                if failed.is_empty() {
                    String::new()
                } else {
                    format!(", perhaps cut short - {}", failed.join("; "))
                }
            ),
        );
    }
    if !failed.is_empty() {
        return (
            Validation::Failed,
            format!(
                "restore-drill: {} of {} checks failed - {}",
                failed.len(),
                judged.len(),
                failed.join("; ")
            ),
        );
    }
    if !compared {
        return (
            Validation::Failed,
            "restore-drill: nothing of the data was compared with the source (no schema, row, item or SQL check passed)".into(),
        );
    }
    (
        Validation::Successful,
        format!("restore-drill: all {passed} checks passed"),
    )
}
