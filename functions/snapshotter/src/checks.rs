//! How snapshotter words its report: one check per database, table, plan and delete batch.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use rds_responder::backups::{DbListing, PitrStatus, Quota, SnapshotInfo, SnapshotOf};
use rds_responder::metrics::{db_resource_name, resource_name, SNAPSHOTS_DELETED};
use rds_responder::report::{Check, Findings, Outcome, ResourceMetric, Status};
use rds_responder::safety::TagGate;
use rds_responder::trigger::{DbTarget, RdsIdentifier, ResourceKind, TableName, Target};

use crate::policy::{
    quota_warns, Completion, RetentionPlan, Selection, SnapshotStage, Sweep, CHANGE_ID_TAG,
    QUOTA_WARN_PERCENT, REASON_TAG, TRIGGER_TAG,
};
use crate::request::Retention;

/// What became of one snapshot this run asked for.
#[derive(Debug)]
pub enum Created {
    New(SnapshotInfo),
    /// Already there and ours: a retry, or a second request for the same change.
    Existing(SnapshotInfo),
    /// Not created, for a reason a retry may not meet (no answer, throttling, a state that
    /// passes): the retry finds a snapshot this try made after all, and makes one otherwise.
    Failed(String),
    /// Not created, and a retry would only meet the same answer: the name taken by a snapshot
    /// that is not this request's, a quota, a permission.
    Refused(String),
    /// Not created: the database is in a state that passes (another snapshot of it in
    /// progress). A pre-change request waits for it within its deadline.
    Busy(String),
    /// RDS did not answer the create and the snapshot could not be looked up: it may exist.
    Unknown(String),
    NotStarted(String),
}

/// Why a snapshot was not made, and what may follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotMade {
    pub reason: String,
    /// Nothing was made: the run may give its claim back.
    pub certain: bool,
    /// A retry may make it.
    pub retryable: bool,
}

impl Created {
    /// The snapshot and whether this try made it; or why not, and what may follow.
    pub fn outcome(self) -> Result<(SnapshotInfo, bool), NotMade> {
        let not_made = |reason, certain, retryable| {
            Err(NotMade {
                reason,
                certain,
                retryable,
            })
        };
        match self {
            Created::New(s) => Ok((s, true)),
            Created::Existing(s) => Ok((s, false)),
            Created::Failed(reason) | Created::Busy(reason) | Created::NotStarted(reason) => {
                not_made(reason, true, true)
            }
            Created::Refused(reason) => not_made(reason, true, false),
            Created::Unknown(reason) => not_made(reason, false, false),
        }
    }
}

/// What a retention plan's deletes go through.
#[derive(Debug, Clone, PartialEq)]
pub enum Deletion {
    Snapshot(DbTarget),
    Backup(TableName),
}

impl Deletion {
    /// The `Resource` of its SnapshotsDeleted metric.
    pub fn resource(&self) -> String {
        match self {
            Deletion::Snapshot(db) => db_resource_name(db),
            Deletion::Backup(table) => resource_name(&Target::Table(table.clone())),
        }
    }

    pub fn label(&self, id: &str) -> String {
        match self {
            Deletion::Snapshot(db) => format!("{id} ({db})"),
            Deletion::Backup(table) => format!("{id} (dynamodb-table {table})"),
        }
    }
}

/// The response's `result` for a pre-change snapshot: what a deploy pipeline gates on.
pub fn snapshot_result(
    id: &str,
    db: &DbTarget,
    status: &str,
    progress_percent: Option<i32>,
    elapsed: Option<Duration>,
    created: bool,
) -> Value {
    json!({
        "snapshot_id": id,
        "db": db.id().as_str(),
        "db_kind": match db { DbTarget::Instance(_) => "instance", DbTarget::Cluster(_) => "cluster" },
        "status": status,
        "progress_percent": progress_percent,
        "elapsed_seconds": elapsed.map(|e| e.as_secs_f64()),
        "created_by_this_request": created,
    })
}

pub fn planned_snapshot(db: &DbTarget, id: &RdsIdentifier, tags: &[(String, String)]) -> Check {
    Check::new(
        format!("snapshot {}", db.id()),
        Outcome::Planned,
        format!("would create snapshot {id} of {db} (dry run)"),
    )
    .with_data(json!({"snapshot_id": id.as_str(), "tags": tags}))
}

pub fn pre_change_check(
    snapshot: &SnapshotInfo,
    is_new: bool,
    waited: bool,
    wait_note: Option<&str>,
    elapsed: Duration,
) -> Check {
    let how = if is_new {
        "created"
    } else {
        "already existed (made by rds-responder for this request or an earlier try of it)"
    };
    let progress = snapshot
        .progress_percent
        .map(|p| format!(", {p}% done"))
        .unwrap_or_default();
    let (outcome, state) = match snapshot.status.as_str() {
        "available" => (Outcome::Pass, "available".to_string()),
        "failed" | "error" | "missing" => (Outcome::Fail, snapshot.status.clone()),
        other if waited => (
            Outcome::Warn,
            format!(
                "still {other}{progress} after {:.0} s: {}",
                elapsed.as_secs_f64(),
                wait_note.unwrap_or("not available yet")
            ),
        ),
        other => (
            Outcome::Pass,
            format!("{other}{progress}; RDS reports completion with a snapshot event"),
        ),
    };
    Check::new(
        "snapshot",
        outcome,
        format!("snapshot {} of {} {how}: {state}", snapshot.id, snapshot.db),
    )
    .with_data(json!({
        "snapshot_id": snapshot.id,
        "status": snapshot.status,
        "progress_percent": snapshot.progress_percent,
        "elapsed_seconds": elapsed.as_secs_f64(),
    }))
}

/// The database a snapshot is of, for the report's target.
pub fn snapshot_target(snapshot: &SnapshotInfo) -> Option<Target> {
    let kind = match snapshot.of {
        SnapshotOf::Instance => ResourceKind::DbInstance,
        SnapshotOf::Cluster => ResourceKind::DbCluster,
    };
    let id = RdsIdentifier::parse(&snapshot.db, kind).ok()?;
    Some(match snapshot.of {
        SnapshotOf::Instance => Target::Instance(id),
        SnapshotOf::Cluster => Target::Cluster(id),
    })
}

pub fn completion_check(snapshot: &SnapshotInfo, event: &Completion) -> Check {
    let duration = snapshot
        .created
        .map(|c| (event.time - c).num_seconds().max(0));
    let size = snapshot
        .allocated_gib
        .map(|g| format!("{g} GiB"))
        .unwrap_or_else(|| "size unknown".into());
    let asked_by = snapshot
        .tags
        .get(TRIGGER_TAG)
        .map(String::as_str)
        .unwrap_or("unknown trigger");
    let event_name = event
        .event
        .map(|e| e.to_string())
        .unwrap_or_else(|| "event without id".into());
    let (outcome, what) = match (event.stage, snapshot.status.as_str()) {
        (_, "failed" | "error") => (Outcome::Fail, format!("failed ({})", event.message)),
        (SnapshotStage::Created, "available") => (
            Outcome::Pass,
            format!(
                "available: {size}, {} s from start to the event",
                duration.map_or("?".into(), |d| d.to_string())
            ),
        ),
        (SnapshotStage::Created, other) => (
            Outcome::Warn,
            format!("RDS reported it created but lists it as {other}"),
        ),
        (SnapshotStage::Started, other) => (Outcome::Pass, format!("started, now {other}")),
        (SnapshotStage::Other, other) => (Outcome::Pass, format!("{other}: {}", event.message)),
    };
    Check::new(
        "snapshot",
        outcome,
        format!(
            "{event_name}: snapshot {} of {} {what}; asked for by {asked_by}",
            snapshot.id, snapshot.db
        ),
    )
    .with_data(json!({
        "snapshot_id": snapshot.id,
        "status": snapshot.status,
        "allocated_gib": snapshot.allocated_gib,
        "duration_seconds": duration,
        "trigger": snapshot.tags.get(TRIGGER_TAG),
        "reason": snapshot.tags.get(REASON_TAG),
        "change_id": snapshot.tags.get(CHANGE_ID_TAG),
    }))
}

/// The checks of a run over many databases, and whether the guard turned it away.
#[derive(Debug, Default)]
pub struct SweepReport {
    pub checks: Vec<Check>,
    pub refused: bool,
    /// Tonight's copies (or the reads they need) that were not taken, and why: with no delete
    /// sent, the run asks for a retry, which finds what was made by name and makes the rest.
    pub unfinished: Vec<String>,
    /// A delete was sent: the run counts as acted, whatever else failed.
    pub deleted: bool,
    /// Snapshots and backups created and deleted, per database or table.
    pub metrics: Vec<ResourceMetric>,
}

impl SweepReport {
    pub fn push(&mut self, check: Check) {
        self.checks.push(check);
    }

    pub fn finish(self, sweep: &Sweep) -> Findings {
        let count = |o: Outcome| self.checks.iter().filter(|c| c.outcome == o).count();
        let summary = format!(
            "{} run {}: {} ok, {} planned, {} to look at, {} failed",
            if sweep.snapshots {
                "snapshot"
            } else {
                "retention"
            },
            sweep.trigger,
            count(Outcome::Pass),
            count(Outcome::Planned),
            count(Outcome::Warn),
            count(Outcome::Fail),
        );
        let mut findings = Findings::new(Some(Target::Account), self.checks, summary);
        findings.metrics = self.metrics;
        if findings
            .checks
            .iter()
            .all(|c| c.outcome == Outcome::Skipped)
        {
            findings.status = Some(Status::Skipped);
        }
        if !self.unfinished.is_empty() && !self.deleted {
            findings.retry = Some(format!(
                "not taken: {}; a retry finds what this run made and makes the rest",
                self.unfinished.join("; ")
            ));
        }
        findings
    }
}

pub fn selection_summary(
    databases: &[DbListing],
    selections: &[(DbTarget, Selection)],
    listed: bool,
    snapshots: bool,
    gate: &TagGate,
) -> Check {
    let chosen = selections
        .iter()
        .filter(|(_, s)| matches!(s, Selection::Snapshot))
        .count();
    let verb = if snapshots { "to snapshot" } else { "in scope" };
    let scope = if listed {
        "listed in the input".to_string()
    } else {
        format!(
            "tagged {}",
            gate.opt_in_tag.as_deref().unwrap_or("(no opt-in tag)")
        )
    };
    let left_out = databases.len().saturating_sub(selections.len());
    Check::new(
        "databases",
        Outcome::Pass,
        format!(
            "{} databases listed (every page); {} {verb} ({scope}); {left_out} not in scope",
            databases.len(),
            chosen
        ),
    )
}

pub fn not_snapshotted(db: &DbTarget, selection: &Selection) -> Check {
    let name = format!("snapshot {}", db.id());
    match selection {
        Selection::Snapshot => Check::new(name, Outcome::Pass, "to snapshot"),
        Selection::Covered {
            cluster,
            cluster_selected: true,
        } => Check::new(
            name,
            Outcome::Skipped,
            format!("{db} is a member of cluster {cluster}: covered by the cluster's snapshot"),
        ),
        Selection::Covered {
            cluster,
            cluster_selected: false,
        } => Check::new(
            name,
            Outcome::Warn,
            format!("{db} is a member of cluster {cluster}, which this run does not snapshot: cluster members are snapshotted through their cluster, so opt the cluster in (or list it)"),
        ),
        Selection::OptedOut { reason } => {
            Check::new(name, Outcome::Skipped, format!("{db}: {reason}"))
        }
        Selection::Skip { reason, warn } => Check::new(
            name,
            if *warn { Outcome::Warn } else { Outcome::Skipped },
            format!("{db}: {reason}"),
        ),
    }
}

pub fn scheduled_snapshot(db: &DbTarget, id: &RdsIdentifier, created: &Created) -> Check {
    let name = format!("snapshot {}", db.id());
    match created {
        Created::New(s) => Check::new(
            name,
            Outcome::Pass,
            format!("snapshot {} of {db} started ({})", s.id, s.status),
        )
        .with_data(json!({"snapshot_id": s.id, "status": s.status})),
        Created::Existing(s) => Check::new(
            name,
            Outcome::Pass,
            format!(
                "snapshot {} of {db} already exists (an earlier try of this run): {}",
                s.id, s.status
            ),
        )
        .with_data(json!({"snapshot_id": s.id, "status": s.status})),
        Created::Failed(reason)
        | Created::Busy(reason)
        | Created::Refused(reason)
        | Created::Unknown(reason) => Check::new(
            name,
            Outcome::Fail,
            format!("snapshot {id} of {db} not created: {reason}"),
        ),
        Created::NotStarted(reason) => Check::new(
            name,
            Outcome::Warn,
            format!("snapshot {id} of {db}: {reason}"),
        ),
    }
}

pub fn pitr_enabled(
    name: &str,
    status: &PitrStatus,
    now: DateTime<Utc>,
    max_lag: Duration,
) -> Check {
    let lag = status
        .latest_restorable
        .map(|t| (now - t).num_seconds().max(0));
    let too_far = lag.is_none_or(|l| l as u64 > max_lag.as_secs());
    Check::new(
        name,
        if too_far {
            Outcome::Warn
        } else {
            Outcome::Pass
        },
        match lag {
            Some(l) => format!(
                "point-in-time recovery on; latest restorable time {l} s ago (limit {} s)",
                max_lag.as_secs()
            ),
            None => "point-in-time recovery on, but no latest restorable time reported".into(),
        },
    )
    .with_data(json!({"enabled": true, "lag_seconds": lag}))
}

/// What becomes of a retention plan in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanFate {
    /// A dry run, a schedule not allowed to delete, or nothing to delete.
    Planned,
    /// Over the cap, or the guard refused: nothing deleted.
    Held,
    Deleting,
}

pub fn retention_plan(
    what: &Deletion,
    plan: &RetentionPlan,
    rules: &Retention,
    fate: PlanFate,
    failed: &[DbTarget],
) -> Check {
    let name = match what {
        Deletion::Snapshot(db) => format!("retention {}", db.id()),
        Deletion::Backup(table) => format!("retention {table}"),
    };
    let newest_failed = matches!(what, Deletion::Snapshot(db) if failed.contains(db));
    let (verb, outcome) = match (plan.delete.is_empty(), fate) {
        (true, _) => ("deleting", Outcome::Pass),
        (false, PlanFate::Deleting) => ("deleting", Outcome::Pass),
        (false, PlanFate::Planned) => ("would delete", Outcome::Planned),
        (false, PlanFate::Held) => ("would delete", Outcome::Skipped),
    };
    let mut detail = format!(
        "{verb} {} (oldest first), keeping {}; rules: newest {} kept, then {} days",
        plan.delete.len(),
        plan.kept.len(),
        rules.keep_newest,
        rules.max_age_days
    );
    if newest_failed {
        detail.push_str("; this run's snapshot failed: the newest available one is kept");
    }
    // Kept copies grouped by reason: the report stays small over thousands of snapshots.
    let mut kept: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for k in &plan.kept {
        kept.entry(k.reason.as_str())
            .or_default()
            .push(k.id.as_str());
    }
    Check::new(name, outcome, detail).with_data(json!({
        "delete": plan.delete,
        "kept": kept,
    }))
}

/// A sweep the guard turned away did not take tonight's copies: worth a look, not a skip.
pub fn sweep_refused(mut check: Check) -> Check {
    if check.outcome == Outcome::Skipped {
        check.outcome = Outcome::Warn;
    }
    check
}

pub fn deletions(done: &[(String, Result<(), String>)]) -> Check {
    let deleted: Vec<&str> = done
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(l, _)| l.as_str())
        .collect();
    let failed: Vec<Value> = done
        .iter()
        .filter_map(|(l, r)| r.as_ref().err().map(|e| json!({"copy": l, "why": e})))
        .collect();
    Check::new(
        "deleted",
        if failed.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail
        },
        format!("{} deleted, {} not deleted", deleted.len(), failed.len()),
    )
    .with_data(json!({"deleted": deleted, "not_deleted": failed}))
}

/// SnapshotsDeleted per database or table: the deletes this run made (`of`: each label's
/// resource), not the copies already gone when it asked.
pub fn deleted_metrics(
    done: &[(String, Result<(), String>)],
    of: &BTreeMap<String, String>,
    gone: &BTreeSet<String>,
) -> Vec<ResourceMetric> {
    let mut deleted: BTreeMap<&str, f64> = BTreeMap::new();
    for (label, result) in done {
        if let (Ok(()), Some(resource), false) = (result, of.get(label), gone.contains(label)) {
            *deleted.entry(resource.as_str()).or_default() += 1.0;
        }
    }
    deleted
        .into_iter()
        .map(|(resource, count)| SNAPSHOTS_DELETED.of(resource, count))
        .collect()
}

pub fn quota_check(quotas: &[Quota]) -> Check {
    if quotas.is_empty() {
        return Check::new(
            "quota",
            Outcome::Skipped,
            "RDS reported no manual snapshot quota",
        );
    }
    let warn = quotas.iter().any(|q| quota_warns(q.used, q.max));
    let text: Vec<String> = quotas
        .iter()
        .map(|q| {
            format!(
                "{} {} of {} ({} left)",
                q.name,
                q.used,
                q.max,
                q.max - q.used
            )
        })
        .collect();
    Check::new(
        "quota",
        if warn { Outcome::Warn } else { Outcome::Pass },
        format!(
            "{}{}",
            text.join("; "),
            if warn {
                format!("; above {QUOTA_WARN_PERCENT}% of the quota")
            } else {
                String::new()
            }
        ),
    )
    .with_data(json!({"quotas": quotas}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleted_counts_each_resources_deletes_made_by_this_run_only() {
        let of: BTreeMap<String, String> = [
            ("a-1 (orders)", "db-instance:orders"),
            ("a-2 (orders)", "db-instance:orders"),
            ("a-3 (orders)", "db-instance:orders"),
            ("b-1 (dynamodb-table t)", "table:t"),
            ("b-2 (dynamodb-table t)", "table:t"),
        ]
        .into_iter()
        .map(|(l, r)| (l.to_string(), r.to_string()))
        .collect();
        let done = vec![
            ("a-1 (orders)".to_string(), Ok(())),
            ("a-2 (orders)".to_string(), Ok(())),
            ("a-3 (orders)".to_string(), Ok(())),
            (
                "b-1 (dynamodb-table t)".to_string(),
                Err("throttled".into()),
            ),
            ("b-2 (dynamodb-table t)".to_string(), Ok(())),
            ("unknown".to_string(), Ok(())),
        ];
        let gone: BTreeSet<String> = ["a-3 (orders)".to_string()].into();
        let metrics = deleted_metrics(&done, &of, &gone);
        let counts: Vec<(&str, &str, f64)> = metrics
            .iter()
            .map(|m| (m.name.as_str(), m.resource.as_str(), m.value))
            .collect();
        // Two of orders' three (the third was gone already), one of the table's two (the other
        // failed); a label of no known resource counts nowhere.
        assert_eq!(
            counts,
            [
                ("SnapshotsDeleted", "db-instance:orders", 2.0),
                ("SnapshotsDeleted", "table:t", 1.0)
            ]
        );
        assert!(deleted_metrics(&[], &of, &gone).is_empty());
    }
}
