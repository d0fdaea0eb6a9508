//! A drill's rules: the scratch resource's name, whether a database is enrolled, where a drill
//! restores from, whether it may start, and what a sweep does with each scratch resource
//! (instance, Aurora cluster and its one instance, DynamoDB table).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use rds_responder::backups::{BackupInfo, PitrStatus, SnapshotInfo, SnapshotOf};
use rds_responder::recovery::{RecoveryInfo, RestoreFrom};
use rds_responder::safety::OFF_VALUES;
use rds_responder::trigger::{RdsIdentifier, ResourceKind, TableName};

use crate::request::{DrillFrom, Subject};

/// The part of a scratch identifier between the source's and the time: `<db>-rr-drill-<time>`.
pub const SCRATCH_MARK: &str = "-rr-drill-";
/// `yyyymmddhhmm`.
const TIME_DIGITS: usize = 12;
/// The tag a scratch instance carries: its drill id (its own identifier).
pub const SCRATCH_TAG: &str = "rds-responder:drill";
/// The database a scratch instance was restored from (`db-instance:<id>`).
pub const SOURCE_TAG: &str = "rds-responder:drill-source";
/// When a scratch instance may be deleted by a sweep of its deployment, drill or not (RFC 3339).
pub const EXPIRES_TAG: &str = "rds-responder:drill-expires";
/// The ledger table that holds the drill's record: the deployment the scratch resource belongs
/// to. Two deployments in one account never sweep each other's copies.
pub const OWNER_TAG: &str = "rds-responder:drill-owner";

/// Whose a scratch resource is, by its [`OWNER_TAG`] against this deployment's ledger table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    Ours,
    /// Another deployment's (its ledger table).
    Other(String),
    /// No owner tag: ours only if a drill record of ours names it (a table whose tags are not
    /// on yet).
    Untagged,
}

/// The tags every scratch copy carries: its drill (its own name), its source, its expiry and
/// its deployment.
pub fn scratch_tags(
    scratch: &str,
    source: &Subject,
    expires: DateTime<Utc>,
    owner: &str,
) -> Vec<(String, String)> {
    vec![
        (SCRATCH_TAG.to_string(), scratch.to_string()),
        (SOURCE_TAG.to_string(), source.tag_value()),
        (
            EXPIRES_TAG.to_string(),
            expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
        (OWNER_TAG.to_string(), owner.to_string()),
    ]
}

/// The source a scratch copy names in its tag: `db-instance:<id>`, `db-cluster:<id>`,
/// `table:<name>`.
pub fn tagged_source(tags: &BTreeMap<String, String>) -> Option<Subject> {
    Subject::parse_tag(tags.get(SOURCE_TAG)?)
}

/// A scratch copy still there this long past its expiry is escalated (a failed report), not
/// warned about sweep after sweep.
pub const OVERDUE_AFTER_MINUTES: i64 = 60;

pub fn overdue(expires: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    expires.is_some_and(|at| now - at > chrono::Duration::minutes(OVERDUE_AFTER_MINUTES))
}

pub fn ownership(owner_tag: Option<&str>, ledger: &str) -> Ownership {
    match owner_tag {
        Some(owner) if owner == ledger => Ownership::Ours,
        Some(owner) => Ownership::Other(owner.to_string()),
        None => Ownership::Untagged,
    }
}

/// The scratch identifier of a drill of `source` started at `at`: the source's identifier cut
/// so the whole stays within 63 characters (never ending in a hyphen), the mark, the minute.
pub fn scratch_id(source: &RdsIdentifier, at: DateTime<Utc>) -> RdsIdentifier {
    let room = 63 - SCRATCH_MARK.len() - TIME_DIGITS;
    let head: String = source.as_str().chars().take(room).collect();
    let head = head.trim_end_matches('-');
    let id = format!("{head}{SCRATCH_MARK}{}", at.format("%Y%m%d%H%M"));
    // Always valid: a valid head (letters first, no double hyphen) plus the mark and digits.
    RdsIdentifier::parse(&id, ResourceKind::DbInstance).unwrap_or_else(|_| source.clone())
}

/// The scratch resource of a drill of `source`: of the same kind, named `<source>-rr-drill-<time>`
/// (an Aurora drill's one instance carries its cluster's name).
pub fn scratch_of(source: &Subject, at: DateTime<Utc>) -> Subject {
    match source {
        Subject::Instance(id) => Subject::Instance(scratch_id(id, at)),
        Subject::Cluster(id) => {
            let name = scratch_id(id, at);
            Subject::Cluster(
                RdsIdentifier::parse(name.as_str(), ResourceKind::DbCluster)
                    .unwrap_or_else(|_| id.clone()),
            )
        }
        Subject::Table(t) => {
            let room = 255 - SCRATCH_MARK.len() - TIME_DIGITS;
            let head: String = t.as_str().chars().take(room).collect();
            let name = format!("{head}{SCRATCH_MARK}{}", at.format("%Y%m%d%H%M"));
            Subject::Table(TableName::parse(&name).unwrap_or_else(|_| t.clone()))
        }
    }
}

/// Whether an identifier is named as a drill's scratch instance: `<head>-rr-drill-<12 digits>`.
pub fn named_as_scratch(id: &str) -> bool {
    match id.rfind(SCRATCH_MARK) {
        Some(at) => {
            let time = &id[at + SCRATCH_MARK.len()..];
            at > 0 && time.len() == TIME_DIGITS && time.chars().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

/// What a database's tag enrols it in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Enrolment {
    /// Not tagged, or tagged off, or tagged with a value that means nothing here.
    Out {
        reason: String,
    },
    Audit,
    /// Audited and drilled.
    Drill,
}

pub fn enrolment(tags: &BTreeMap<String, String>, tag: &str) -> Enrolment {
    match tags.get(tag).map(|v| v.trim().to_ascii_lowercase()) {
        None => Enrolment::Out {
            reason: format!("not tagged {tag}"),
        },
        Some(v) if v == "audit" => Enrolment::Audit,
        Some(v) if v == "drill" => Enrolment::Drill,
        Some(v) if OFF_VALUES.contains(&v.as_str()) => Enrolment::Out {
            reason: format!("tagged {tag}={v} (opted out)"),
        },
        Some(v) => Enrolment::Out {
            reason: format!("tagged {tag}={v:?}, which is neither audit nor drill: not acted on"),
        },
    }
}

/// Where a drill restores from, and the time it restores to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    pub from: RestoreFrom,
    /// The snapshot's creation time, or the latest restorable time when the drill starts.
    pub recovery_point: DateTime<Utc>,
    pub label: String,
}

/// The newest available snapshot of the instance (ours, automated or AWS Backup's), or its
/// latest restorable time.
pub fn choose_source(
    source: &RecoveryInfo,
    snapshots: &[SnapshotInfo],
    from: DrillFrom,
) -> Result<Source, String> {
    let id = source.db.id().as_str();
    let of = match source.db {
        rds_responder::trigger::DbTarget::Instance(_) => SnapshotOf::Instance,
        rds_responder::trigger::DbTarget::Cluster(_) => SnapshotOf::Cluster,
    };
    match from {
        DrillFrom::NewestSnapshot => snapshots
            .iter()
            .filter(|s| s.db == id && s.of == of && s.status == "available")
            .filter_map(|s| Some((s.created?, s)))
            .max_by_key(|(created, _)| *created)
            .map(|(created, s)| Source {
                from: RestoreFrom::Snapshot(s.id.clone()),
                recovery_point: created,
                label: format!("{} snapshot {}", s.snapshot_type, s.id),
            })
            .ok_or_else(|| format!("{id} has no available snapshot to restore")),
        DrillFrom::LatestRestorable => match source.latest_restorable {
            Some(at) if source.backup_retention_days > 0 => Ok(Source {
                from: RestoreFrom::LatestRestorable,
                recovery_point: at,
                label: format!(
                    "point in time {} (latest restorable)",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            }),
            _ => Err(format!(
                "{id} has no latest restorable time (automated backups off): nothing to restore to a point in time"
            )),
        },
    }
}

/// The newest available on-demand backup of a table, or its latest restorable time (point-in-time
/// recovery on).
pub fn choose_table_source(
    table: &TableName,
    backups: &[BackupInfo],
    pitr: Option<&PitrStatus>,
    from: DrillFrom,
) -> Result<Source, String> {
    match from {
        DrillFrom::NewestSnapshot => backups
            .iter()
            .filter(|b| b.table == table.as_str() && b.status == "AVAILABLE")
            .filter_map(|b| Some((b.created?, b)))
            .max_by_key(|(created, _)| *created)
            .map(|(created, b)| Source {
                from: RestoreFrom::Snapshot(b.arn.clone()),
                recovery_point: created,
                label: format!("backup {}", b.name),
            })
            .ok_or_else(|| format!("{table} has no available on-demand backup to restore")),
        DrillFrom::LatestRestorable => match pitr {
            Some(PitrStatus {
                enabled: true,
                latest_restorable: Some(at),
            }) => Ok(Source {
                from: RestoreFrom::LatestRestorable,
                recovery_point: *at,
                label: format!(
                    "point in time {} (latest restorable)",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            }),
            _ => Err(format!(
                "{table} has no latest restorable time (point-in-time recovery off): nothing to restore to a point in time"
            )),
        },
    }
}

/// A drill's step, as its job record names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// The restore call was made (or is about to be); waiting for the instance, cluster or table.
    Restoring,
    /// An Aurora drill's cluster is restored; its one instance is being created.
    AddingInstance,
    /// Its data is being checked.
    Checking,
    /// Checked (or failed): its scratch instance is being deleted.
    Cleaning,
    Done,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Restoring => "restoring",
            Step::AddingInstance => "adding-instance",
            Step::Checking => "checking",
            Step::Cleaning => "cleaning",
            Step::Done => rds_responder::job::DONE,
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Step::Restoring,
            Step::AddingInstance,
            Step::Checking,
            Step::Cleaning,
            Step::Done,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// A drill's job as the rules need it.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillFacts {
    pub run: String,
    pub step: Option<Step>,
    pub deadline: DateTime<Utc>,
    pub lease: Option<(String, DateTime<Utc>)>,
    /// When its start ran (`None`: its record does not say).
    pub started: Option<DateTime<Utc>>,
}

/// A Lambda run lasts at most this long: a start older than this made its restore call (or
/// died) before any listing taken now.
pub const LONGEST_RUN_MINUTES: i64 = 15;

/// A drill whose record says it is under way though nobody runs it and no copy of it is alive
/// (listed now): its start died before its restore call (a warning: nothing was restored), or
/// its copy was deleted before its check finished (it failed, and never reported). `None`:
/// under way, over, or not known to be abandoned. A new drill of its source takes its place.
pub fn abandoned(
    drill: &DrillFacts,
    scratch_alive: Option<&str>,
    now: DateTime<Utc>,
) -> Option<(rds_responder::report::Outcome, String)> {
    use rds_responder::report::Outcome;
    if scratch_alive.is_some() {
        return None;
    }
    let lease = drill.lease.as_ref().map(|(_, until)| *until);
    if lease.is_some_and(|until| until >= now) {
        return None;
    }
    let step = drill.step?;
    if step == Step::Restoring && lease.is_some() {
        return Some((
            Outcome::Warn,
            format!(
                "drill {} never restored anything: its start died before its restore call",
                drill.run
            ),
        ));
    }
    let long_ago = drill
        .started
        .is_some_and(|at| at + chrono::Duration::minutes(LONGEST_RUN_MINUTES) < now);
    match step {
        Step::Restoring | Step::AddingInstance | Step::Checking if long_ago => Some((
            Outcome::Fail,
            format!(
                "drill {} never finished: its copy is gone while it was {} (deleted by someone else?); it failed, unchecked",
                drill.run,
                step.as_str()
            ),
        )),
        _ => None,
    }
}

impl DrillFacts {
    /// Someone else is running a step of it, and may still be.
    pub(crate) fn leased_by_other(&self, me: &str, now: DateTime<Utc>) -> Option<String> {
        match &self.lease {
            Some((holder, until)) if holder != me && *until >= now => Some(format!(
                "run {holder} holds it until {}",
                until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )),
            _ => None,
        }
    }

    /// Under way: not done, not past its deadline.
    pub fn under_way(&self, now: DateTime<Utc>) -> bool {
        self.step != Some(Step::Done) && now <= self.deadline
    }
}

/// What a start knows of the database it would drill.
#[derive(Debug, Clone, PartialEq)]
pub struct StartFacts<'a> {
    pub subject: &'a Subject,
    /// What RDS lists of it (instances and clusters; `None` for a table).
    pub info: Option<&'a RecoveryInfo>,
    pub enrolled: Enrolment,
    pub existing: Option<&'a DrillFacts>,
    /// A scratch resource restored from it that is still alive, whoever made it (another
    /// stack's drill keeps its record elsewhere).
    pub scratch_alive: Option<&'a str>,
    pub drills_alive: usize,
    pub max_concurrent: usize,
}

/// Why a drill of this source may not start now (`None`: it may).
pub fn start_refusal(facts: &StartFacts<'_>, now: DateTime<Utc>) -> Option<String> {
    let id = facts.subject.name();
    if named_as_scratch(id) {
        return Some(format!("{id} is a drill's scratch resource: never drilled"));
    }
    if let Some(source) = facts.info {
        if let Some(cluster) = &source.cluster {
            return Some(format!(
                "{id} belongs to cluster {cluster}: drill the cluster (its recovery point is the cluster's)"
            ));
        }
        if let Some(of) = &source.replica_of {
            return Some(format!("{id} is a read replica of {of}: drill the source"));
        }
    }
    if let Enrolment::Out { reason } = &facts.enrolled {
        return Some(format!(
            "{id} is {reason}: drills need its tag set to drill"
        ));
    }
    if facts.enrolled != Enrolment::Drill {
        return Some(format!(
            "{id} is enrolled for the audit only: drills need the tag set to drill"
        ));
    }
    if let Some(source) = facts.info {
        if rds_responder::sql::Engine::from_rds(&source.engine).is_none() {
            return Some(format!(
                "{id} runs {}: the data checks speak PostgreSQL and MySQL/MariaDB only",
                source.engine
            ));
        }
    }
    // A start that died between its claim and its restore call, or a drill whose copy is gone:
    // it holds the database no longer (the start reports it).
    if let Some(drill) = facts
        .existing
        .filter(|d| d.under_way(now))
        .filter(|d| abandoned(d, facts.scratch_alive, now).is_none())
    {
        return Some(format!(
            "drill {} of {id} is under way ({}, deadline {}): one drill per database at a time",
            drill.run,
            drill.step.map_or("unknown step", Step::as_str),
            drill
                .deadline
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    if let Some(scratch) = facts.scratch_alive {
        return Some(format!(
            "{scratch}, a drill's scratch copy of {id}, is still there (a drill of another run or stack, or one not cleaned up yet): one drill per database at a time"
        ));
    }
    if facts.drills_alive >= facts.max_concurrent {
        return Some(format!(
            "{} drill scratch resources are alive in the account, at most {} at once (MAX_CONCURRENT_DRILLS)",
            facts.drills_alive, facts.max_concurrent
        ));
    }
    None
}

/// Whether this run may add an Aurora drill's instance now: its cluster is restored and the drill
/// still waits for it, or an earlier add died midway (its lease is there and expired).
pub fn add_instance_refusal(drill: &DrillFacts, me: &str, now: DateTime<Utc>) -> Option<String> {
    match drill.step {
        Some(Step::Restoring) => drill.leased_by_other(me, now),
        // Added (its run let go of the lease): the instance is on its way.
        Some(Step::AddingInstance) if drill.lease.is_none() => Some(format!(
            "drill {} has added its instance already: the check follows once it is available",
            drill.run
        )),
        Some(Step::AddingInstance) => drill.leased_by_other(me, now),
        Some(step) => Some(format!(
            "drill {} is past adding its instance ({})",
            drill.run,
            step.as_str()
        )),
        None => Some(format!(
            "drill {} is in a step this version does not know",
            drill.run
        )),
    }
}

/// Whether this run may take a drill's check step now: it is restoring with its instance
/// available, or a check whose run died (its lease expired).
pub fn check_refusal(drill: &DrillFacts, me: &str, now: DateTime<Utc>) -> Option<String> {
    match drill.step {
        Some(Step::Restoring) | Some(Step::AddingInstance) | Some(Step::Checking) => {
            drill.leased_by_other(me, now)
        }
        Some(Step::Cleaning) | Some(Step::Done) => Some(format!(
            "drill {} is already checked ({})",
            drill.run,
            drill.step.map_or("", Step::as_str)
        )),
        None => Some(format!(
            "drill {} is in a step this version does not know",
            drill.run
        )),
    }
}

/// What kind of scratch resource a sweep looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScratchKind {
    /// A restored DB instance.
    Instance,
    /// An Aurora drill's one instance.
    Member,
    /// An Aurora drill's restored cluster.
    Cluster,
    /// A restored DynamoDB table.
    Table,
}

/// A scratch resource as a sweep sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScratchFacts {
    pub id: String,
    pub kind: ScratchKind,
    /// RDS's status words; a table's `ACTIVE` reads as `available`, `DELETING` as `deleting`.
    pub status: String,
    pub drill_tag: Option<String>,
    pub owner: Ownership,
    /// `None`: no expiry tag, or one that does not read as a time.
    pub expires: Option<DateTime<Utc>>,
}

/// What a sweep does with one scratch resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "action", content = "why")]
pub enum SweepAction {
    /// Its drill's event never came: check it now.
    Check,
    /// An Aurora drill's cluster is restored and its event never came: add its instance.
    AddInstance,
    Wait(String),
    /// Past its drill's deadline: the drill fails, the resource is deleted.
    FailLate,
    Delete(String),
    /// Not a drill's, or not ours to touch: never deleted.
    Leave(String),
    /// A drill's copy, expired, that this deployment may not delete: someone must, by hand.
    Escalate(String),
}

pub fn sweep_action(
    scratch: &ScratchFacts,
    drill: Option<&DrillFacts>,
    me: &str,
    now: DateTime<Utc>,
) -> SweepAction {
    let Some(tag) = scratch.drill_tag.as_deref() else {
        return SweepAction::Leave(format!(
            "{} is named like a drill's scratch resource but lacks the {SCRATCH_TAG} tag: never deleted",
            scratch.id
        ));
    };
    if !named_as_scratch(&scratch.id) || tag != scratch.id {
        return SweepAction::Leave(format!(
            "{} carries {SCRATCH_TAG}={tag} but is not named as that drill's scratch resource: never deleted",
            scratch.id
        ));
    }
    let drill = drill.filter(|d| d.run == scratch.id);
    match (&scratch.owner, drill) {
        (Ownership::Other(owner), _) => {
            return SweepAction::Leave(format!(
                "{} belongs to the drills recorded in {owner}, another deployment's: never touched",
                scratch.id
            ))
        }
        // Being deleted (by a person, at last): nothing to ask of anyone.
        (Ownership::Untagged, None)
            if scratch.status != "deleting" && scratch.expires.is_none_or(|at| at <= now) =>
        {
            return SweepAction::Escalate(format!(
                "{} is a drill's copy past its expiry (or with none) that lacks the {OWNER_TAG} tag, and no drill record here names it: this deployment may not delete it (its IAM deletes only copies carrying its owner tag); delete it by hand: it costs money and blocks drills of its source",
                scratch.id
            ))
        }
        (Ownership::Untagged, None) => {
            return SweepAction::Leave(format!(
                "{} lacks the {OWNER_TAG} tag and no drill record here names it: never deleted",
                scratch.id
            ))
        }
        _ => {}
    }
    if scratch.status == "deleting" {
        return SweepAction::Wait("being deleted".into());
    }
    let expired = scratch.expires.is_none_or(|at| at <= now);
    let Some(drill) = drill else {
        return match expired {
            true => SweepAction::Delete("expired, and no drill record names it".into()),
            false => SweepAction::Wait("no drill record names it; kept until its expiry".into()),
        };
    };
    let available = scratch.status == "available";
    let checked_here = scratch.kind != ScratchKind::Cluster;
    match drill.step {
        Some(Step::Done) | Some(Step::Cleaning) => SweepAction::Delete("its drill is over".into()),
        _ if now > drill.deadline => SweepAction::FailLate,
        Some(Step::Restoring) if scratch.kind == ScratchKind::Cluster && available => {
            match drill.leased_by_other(me, now) {
                Some(held) => SweepAction::Wait(format!("being started: {held}")),
                None => SweepAction::AddInstance,
            }
        }
        Some(Step::Restoring) if scratch.kind == ScratchKind::Member => {
            SweepAction::Wait("its cluster's drill has not recorded it yet".into())
        }
        Some(Step::Restoring) if available => SweepAction::Check,
        Some(Step::Restoring) => SweepAction::Wait(format!("restoring ({})", scratch.status)),
        Some(Step::AddingInstance) => match (scratch.kind, drill.leased_by_other(me, now)) {
            // Its add died midway (a lease left to expire): add it again.
            (ScratchKind::Cluster, None) if drill.lease.is_some() && available => {
                SweepAction::AddInstance
            }
            (ScratchKind::Cluster, None) => {
                SweepAction::Wait("restored; its instance is being created".into())
            }
            (_, Some(held)) => SweepAction::Wait(format!("its instance is being added: {held}")),
            (ScratchKind::Member, None) if available => SweepAction::Check,
            (_, None) => SweepAction::Wait(format!("its instance is {}", scratch.status)),
        },
        Some(Step::Checking) => match drill.leased_by_other(me, now) {
            Some(held) => SweepAction::Wait(format!("being checked: {held}")),
            None if checked_here && available => SweepAction::Check,
            None if checked_here => SweepAction::Wait(format!(
                "check to resume once available ({})",
                scratch.status
            )),
            None => SweepAction::Wait("its instance is being checked".into()),
        },
        None if expired => {
            SweepAction::Delete("expired, in a step this version does not know".into())
        }
        None => SweepAction::Wait("in a step this version does not know".into()),
    }
}
