//! What snapshotter decides, pure, every rule tested at its edges: what a trigger means
//! (`decide`), and, one concern a file, names and tags (`naming`), what is ours (`ownership`),
//! what retention deletes (`retention`), what a sweep snapshots (`selection`), which failures a
//! retry may fix (`failures`).

mod failures;
mod naming;
mod ownership;
mod retention;
mod selection;

pub use failures::{backup_retryable, create_retryable, database_busy, no_answer};
pub use naming::{
    backup_name, backup_prefix, creation_tags, pre_change_snapshot_id, scheduled_snapshot_id,
    tag_value, CHANGE_ID_TAG, CREATED_BY_TAG, CREATED_BY_VALUE, NAME_MARK, REASON_TAG,
    SNAPSHOT_ID_TAG, TRIGGER_TAG,
};
pub use ownership::{backup_not_ours, earlier_reason, not_ours, ours_of, same_change};
pub use rds_responder::backups::SnapshotInfo;
pub use retention::{
    deletions_capped, plan_backup_retention, plan_retention, retention_with, Doomed, Kept,
    RetentionPlan,
};
pub use selection::{
    failed_copy, quota_warns, retention_scope, select, settled, snapshottable, Selection,
    QUOTA_WARN_PERCENT,
};

use chrono::{DateTime, Utc};
use serde::Serialize;

use rds_responder::backups::SnapshotOf;
use rds_responder::trigger::{
    DbTarget, RdsEvent, RdsEventId, RdsIdentifier, ResourceKind, Route, TableName, Target, Trigger,
};

use crate::config::SnapshotterConfig;
use crate::request::{ManualSnapshot, Retention, SnapshotSchedule};

/// Where an RDS snapshot event leaves a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SnapshotStage {
    Started,
    Created,
    /// Any other event about the snapshot (a failure among them): its status tells.
    Other,
}

/// The snapshot event ids this function reads (data, not branches). Automated-snapshot events
/// are acknowledged before this table is read.
const SNAPSHOT_EVENTS: &[(u16, SnapshotStage)] = &[
    (40, SnapshotStage::Started),
    (42, SnapshotStage::Created),
    (74, SnapshotStage::Started),
    (75, SnapshotStage::Created),
];

/// Automated-snapshot creating / created (instance 0090/0091, cluster 0168/0169).
const AUTOMATED_SNAPSHOT_EVENTS: [u16; 4] = [90, 91, 168, 169];

/// A pre-change snapshot, decided.
#[derive(Debug, Clone, PartialEq)]
pub struct PreChange {
    pub db: DbTarget,
    pub snapshot_id: RdsIdentifier,
    pub tags: Vec<(String, String)>,
    pub wait: bool,
    pub dry_run: bool,
}

/// A scheduled (or hand-started) run over many databases and tables.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// The scheduled time: names of this run's snapshots and backups.
    pub at: DateTime<Utc>,
    /// `schedule:<name>` or `manual:<request id>`: tagged on what the run creates.
    pub trigger: String,
    /// Explicit databases; `None`: every database carrying the opt-in tag.
    pub targets: Option<Vec<DbTarget>>,
    pub tables: Vec<TableName>,
    pub snapshots: bool,
    pub retention: Option<Retention>,
    /// Plan everything: no snapshot, backup, PITR change or delete.
    pub dry_run: bool,
    /// Deletes only plan (a dry run, or a schedule not in `ALLOWED_SCHEDULES`).
    pub deletes_plan_only: bool,
    /// Why deletes only plan in this run, when they do for a reason other than `dry_run`.
    pub plan_only_reason: Option<String>,
}

/// A snapshot event, decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub of: SnapshotOf,
    pub snapshot: RdsIdentifier,
    pub stage: SnapshotStage,
    pub event: Option<RdsEventId>,
    pub message: String,
    pub time: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    PreChange(PreChange),
    Sweep(Sweep),
    Completion(Completion),
    Skip {
        target: Option<Target>,
        reason: String,
    },
}

fn label(kind: &str, name: Option<&str>) -> String {
    format!("{kind}:{}", name.unwrap_or("unnamed"))
}

/// What a trigger asks of snapshotter. Alarms are not its triggers; snapshot events only about
/// snapshots; schedules and manual requests by their own schemas.
pub fn decide(
    trigger: &Trigger<ManualSnapshot, SnapshotSchedule>,
    invocation_now: DateTime<Utc>,
    request_id: &str,
    config: &SnapshotterConfig,
) -> Decision {
    let skip = |target: Option<Target>, reason: String| Decision::Skip { target, reason };
    match trigger.route() {
        Route::Nothing { target, reason } => skip(target.map(Into::into), reason),
        Route::Alarm(alarm) => skip(
            alarm.db_target().map(Into::into),
            format!(
                "alarm {} is not a snapshotter trigger (snapshot events, schedules and manual requests are): nothing to do",
                alarm.name
            ),
        ),
        Route::RdsEvent(event) => completion(event),
        Route::Schedule(schedule) => {
            let input = &schedule.input;
            let name = schedule.name();
            let allowed = schedule.listed_in(&config.allowed_schedules);
            // The input may ask for a plan; it cannot lift AUTOMATIC_DRY_RUN.
            let dry_run = config.automatic_dry_run || input.dry_run == Some(true);
            Decision::Sweep(Sweep {
                at: schedule.time,
                trigger: label("schedule", name),
                targets: input.targets.clone(),
                tables: input.tables.clone().unwrap_or_else(|| config.tables.clone()),
                snapshots: input.snapshots,
                retention: input
                    .retention
                    .then(|| retention_with(&input.rules, config.retention)),
                dry_run,
                deletes_plan_only: dry_run || !allowed,
                plan_only_reason: (!allowed && !dry_run).then(|| {
                    format!(
                        "schedule {} is not in ALLOWED_SCHEDULES: deletes only plan",
                        schedule.identity().unwrap_or("(unnamed)")
                    )
                }),
            })
        }
        Route::Manual(ManualSnapshot::PreChange(request)) => {
            let request_key = request.request_id.as_deref().unwrap_or(request_id);
            let snapshot_id =
                pre_change_snapshot_id(request.db.id(), request.change_id.as_deref(), request_key);
            let trigger = label("manual", Some(request_key));
            Decision::PreChange(PreChange {
                db: request.db.clone(),
                tags: creation_tags(
                    snapshot_id.as_str(),
                    &trigger,
                    &request.reason,
                    request.change_id.as_deref(),
                ),
                snapshot_id,
                wait: request.wait,
                dry_run: request.dry_run,
            })
        }
        Route::Manual(ManualSnapshot::Retention(request)) => Decision::Sweep(Sweep {
            at: invocation_now,
            trigger: label("manual", Some(request.request_id.as_deref().unwrap_or(request_id))),
            targets: request.targets.clone(),
            tables: request.tables.clone().unwrap_or_else(|| config.tables.clone()),
            snapshots: false,
            retention: Some(retention_with(&request.rules, config.retention)),
            dry_run: request.dry_run,
            deletes_plan_only: request.dry_run,
            plan_only_reason: None,
        }),
    }
}

fn completion(event: &RdsEvent) -> Decision {
    let Some(resource) = event.resource() else {
        if matches!(
            event.source_kind,
            Some(ResourceKind::DbSnapshot | ResourceKind::DbClusterSnapshot)
        ) {
            return Decision::Skip {
                target: None,
                reason: format!(
                    "snapshot {:?} is not one rds-responder makes (another service's, e.g. AWS Backup): ignored",
                    event.source_id
                ),
            };
        }
        return Decision::Skip {
            target: None,
            reason: format!(
                "{} event about {:?} is not about a snapshot: nothing to do",
                event.source_type, event.source_id
            ),
        };
    };
    let of = match resource.kind {
        ResourceKind::DbSnapshot => SnapshotOf::Instance,
        ResourceKind::DbClusterSnapshot => SnapshotOf::Cluster,
        _ => {
            return Decision::Skip {
                target: None,
                reason: format!(
                    "{} event about {} is not about a snapshot: nothing to do",
                    event.source_type, resource.id
                ),
            }
        }
    };
    let automated_id = event
        .event_id
        .is_some_and(|id| AUTOMATED_SNAPSHOT_EVENTS.contains(&id.0));
    if resource.automated || automated_id {
        return Decision::Skip {
            target: None,
            reason: format!(
                "automated snapshot {} ({}): acknowledged, RDS manages it",
                resource.name(),
                event
                    .event_id
                    .map(|id| id.to_string())
                    .unwrap_or_else(|| "no event id".into())
            ),
        };
    }
    let stage = event
        .event_id
        .and_then(|id| SNAPSHOT_EVENTS.iter().find(|(n, _)| *n == id.0))
        .map(|(_, stage)| *stage)
        .unwrap_or(SnapshotStage::Other);
    Decision::Completion(Completion {
        of,
        snapshot: resource.id,
        stage,
        event: event.event_id,
        message: event.message.clone(),
        time: event.time,
    })
}

#[cfg(test)]
mod tests;
