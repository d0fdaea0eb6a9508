//! AWS Backup restore testing: which restore jobs restore-drill validates, what it checks them
//! against, and the verdict it posts (`SUCCESSFUL`, `FAILED`, `TIMED_OUT`) with its message.

use chrono::{DateTime, Duration, Utc};
use rds_responder::report::{Check, Outcome};
use rds_responder::restore_testing::{RestoreJob, Validation};

use rds_responder::trigger::{Origin, RdsIdentifier, ResourceKind, TableName};

/// The tag on the instance restore-drill adds to an Aurora cluster AWS Backup restored: the
/// restore job it validates.
pub const VALIDATES_TAG: &str = "rds-responder:validates";

use super::drill::{named_as_scratch, scratch_id, DrillFacts, Step, OWNER_TAG, SCRATCH_TAG};

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
    /// When Backup's validation window closes (`None`: not known): Backup deletes the restore
    /// then and waits for no verdict.
    pub window_closes: Option<DateTime<Utc>>,
}

/// When a restore job's validation window closes: its completion plus its plan's window.
pub fn window_closes(
    completed: Option<DateTime<Utc>>,
    window: Option<Duration>,
) -> Option<DateTime<Utc>> {
    completed.zip(window).map(|(at, window)| at + window)
}

/// The `TIMED_OUT` message of a validation whose window closed before a check began (at its
/// close, nothing is left to check; Backup deletes the restore).
pub fn window_closed(closes: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<String> {
    closes.filter(|at| *at <= now).map(|at| {
        format!(
            "restore-drill: the validation window closed at {} before a check began",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    })
}

/// The deadline of a validation that outlives a run (an Aurora restore's added instance): the
/// configured one, or the window's close when that comes first.
pub fn validation_deadline(
    now: DateTime<Utc>,
    configured: Duration,
    closes: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let deadline = now + configured;
    closes.map_or(deadline, |at| at.min(deadline))
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
    Ok(ValidationTarget {
        restored,
        source,
        window_closes: None,
    })
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
    // An item count the run's time cut short is the run's time running out, not the backup's
    // fault.
    let time_up = time_up
        || checks
            .iter()
            .any(|c| c.name == "items" && c.detail.ends_with(super::verdict::CUT_SHORT));
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

/// Characters of the job's digest in a validation instance's name.
const JOB_DIGEST: usize = 6;

/// The first [`JOB_DIGEST`] hex digits of FNV-1a over `job_id`: stable across builds and runs.
fn job_digest(job_id: &str) -> String {
    let hash = job_id.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("{hash:08x}")[..JOB_DIGEST].to_string()
}

/// The instance restore-drill adds to Aurora cluster `cluster` restored by `job` (Backup
/// restores a cluster without one, so nothing could be queried): named as a drill's scratch
/// instance, `<cluster>-<job digest>-rr-drill-<the restore's end>`, so every run of the
/// validation finds the same one and two jobs of one minute (clusters alike in their first 34
/// characters) never share one.
pub fn validation_instance(
    cluster: &RdsIdentifier,
    job: &RestoreJob,
    now: DateTime<Utc>,
) -> RdsIdentifier {
    let room = 63 - super::drill::SCRATCH_MARK.len() - 12 - JOB_DIGEST - 1;
    let head: String = cluster.as_str().chars().take(room).collect();
    let head = format!("{}-{}", head.trim_end_matches('-'), job_digest(&job.job_id));
    let head =
        RdsIdentifier::parse(&head, ResourceKind::DbInstance).unwrap_or_else(|_| cluster.clone());
    scratch_id(&head, job.completed.or(job.created).unwrap_or(now))
}

/// Whether `cluster`, created at `created`, is the one `job` restored: made while the job ran
/// (5 minutes either side), never a cluster that was there before (a name reused, a source).
pub fn cluster_is_the_restore(created: Option<DateTime<Utc>>, job: &RestoreJob) -> bool {
    let slack = Duration::minutes(5);
    match (created, job.created, job.completed) {
        (Some(at), Some(start), Some(end)) => at >= start - slack && at <= end + slack,
        _ => false,
    }
}

/// The restore job an instance's [`VALIDATES_TAG`] names, if it reads as a job id (the tag is
/// anyone's to write: its job is read from Backup, and the instance must match it).
pub fn tagged_validation(tags: &std::collections::BTreeMap<String, String>) -> Option<&str> {
    tags.get(VALIDATES_TAG)
        .map(String::as_str)
        .filter(|id| rds_responder::trigger::valid_job_id(id))
}

/// The restore job an instance added to a restore test's cluster serves: tagged with it, and in a
/// cluster not of its own name (a drill's instance is in none, an Aurora drill's in its own).
pub fn added_for_validation<'a>(
    tags: &'a std::collections::BTreeMap<String, String>,
    cluster: Option<&str>,
    id: &str,
) -> Option<&'a str> {
    tagged_validation(tags).filter(|_| cluster.is_some_and(|c| c != id))
}

/// An instance under a validation instance's name, as RDS describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberFacts {
    pub name: String,
    pub status: String,
    /// The cluster it is in.
    pub cluster: Option<String>,
    pub tags: std::collections::BTreeMap<String, String>,
}

impl MemberFacts {
    pub fn of(i: &rds_responder::recovery::RecoveryInfo) -> Self {
        Self {
            name: i.db.id().to_string(),
            status: i.status.clone(),
            cluster: i.cluster.clone(),
            tags: i.tags.clone(),
        }
    }
}

/// Whether `member` is the instance this deployment added to `cluster` for `job_id`: its tags
/// name it, the job and this deployment, and it is in that cluster. Anything else under the
/// name is never checked, posted on as ours, or deleted.
pub fn member_is_ours(member: &MemberFacts, cluster: &str, job_id: &str, owner: &str) -> bool {
    let tag = |k: &str| member.tags.get(k).map(String::as_str);
    tag(SCRATCH_TAG) == Some(member.name.as_str())
        && tag(VALIDATES_TAG) == Some(job_id)
        && tag(OWNER_TAG) == Some(owner)
        && member.cluster.as_deref() == Some(cluster)
}

/// What an Aurora restore's validation does next.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberStep {
    /// No instance yet and none is under way: post `VALIDATING`, add it.
    Create,
    /// Its instance is being created, or another run holds the validation.
    Wait(String),
    /// Its instance is available: check it, post the verdict, delete the instance.
    Check,
    /// The verdict without a check (the instance is gone or late).
    Conclude(Validation, String),
    /// Someone else's instance under its name: never touched, nothing posted (not the restore's
    /// fault), said in the report.
    Refuse(String),
    /// An earlier run decided the verdict and Backup did not take it: post it again.
    Repost,
}

/// The next step of validation `record` (its job record; `None`: not begun) with the instance
/// under its name (`None`: there is none; `Some(false)`: someone else's), run `me`, at `now`.
/// The record is written before the instance is created, so a run that died midway is seen.
pub fn member_step(
    record: Option<&DrillFacts>,
    member: Option<(&MemberFacts, bool)>,
    me: &str,
    now: DateTime<Utc>,
) -> MemberStep {
    if let Some((m, false)) = member {
        return MemberStep::Refuse(format!(
            "{} exists and is not the instance restore-drill adds to validate this restore (tags, cluster or deployment differ): not touched, nothing checked or posted",
            m.name
        ));
    }
    let Some(record) = record else {
        return match member {
            None => MemberStep::Create,
            Some((m, _)) if m.status == "available" => MemberStep::Check,
            Some((m, _)) => MemberStep::Wait(format!("its instance {} is {}", m.name, m.status)),
        };
    };
    if record.step == Some(Step::Done) {
        return MemberStep::Repost;
    }
    if let Some(held) = record.leased_by_other(me, now) {
        return MemberStep::Wait(format!("another run holds it: {held}"));
    }
    let late = now > record.deadline;
    match member {
        _ if late => MemberStep::Conclude(
            Validation::TimedOut,
            format!(
                "restore-drill: the instance it added was not checked by {}",
                record
                    .deadline
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        ),
        // A create that died before it reached RDS (its record says so): again.
        None if record.step == Some(Step::AddingInstance) => MemberStep::Create,
        None => MemberStep::Conclude(
            Validation::Failed,
            format!(
                "restore-drill: its instance {} was deleted before its check finished",
                record.run
            ),
        ),
        Some((m, _)) if m.status == "available" => MemberStep::Check,
        Some((m, _)) => MemberStep::Wait(format!("its instance {} is {}", m.name, m.status)),
    }
}

/// A status as a record keeps it.
pub fn parse_validation(raw: &str) -> Option<Validation> {
    [
        Validation::Validating,
        Validation::Successful,
        Validation::Failed,
        Validation::TimedOut,
    ]
    .into_iter()
    .find(|v| v.as_str() == raw)
}
