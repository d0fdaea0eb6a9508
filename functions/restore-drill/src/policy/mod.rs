//! What restore-drill decides, pure, every rule tested at its edges: what a trigger asks
//! (`decide`, here), how far behind a recovery point is (`rpo`), a drill's rules (`drill`) and
//! what its readings mean (`verdict`).

pub mod drill;
pub mod rpo;
pub mod validation;
pub mod verdict;

use chrono::{DateTime, Utc};

use rds_responder::safety::dry_run;
use rds_responder::trigger::{
    DbTarget, RdsEvent, RdsIdentifier, ResourceKind, RestoreJobEvent, Route, Trigger,
};

use crate::config::DrillConfig;
use crate::request::{DrillFrom, DrillSchedule, ManualTask, Subject, Task};

/// RDS-EVENT-0043 (restored from a snapshot) and 0019 (restored to a point in time): a drill's
/// scratch instance is ready to check.
pub const RESTORED_EVENTS: [u16; 2] = [43, 19];
/// RDS-EVENT-0005 (DB instance created): an Aurora drill's instance is ready to check.
pub const INSTANCE_CREATED_EVENTS: [u16; 1] = [5];
/// RDS-EVENT-0170 (DB cluster created): an Aurora drill's cluster is restored; its instance is
/// added next (RDS creates instances only in an available cluster).
pub const CLUSTER_RESTORED_EVENTS: [u16; 1] = [170];
/// RDS-EVENT-0028: automated backups disabled.
pub const BACKUPS_DISABLED_EVENTS: [u16; 1] = [28];

/// What one run does.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Skip {
        target: Option<DbTarget>,
        reason: String,
    },
    /// The recovery points of every enrolled resource, or of one.
    Audit {
        only: Option<Subject>,
        /// RDS said this instance's backups were just disabled (RDS-EVENT-0028).
        disabled: Option<DateTime<Utc>>,
        because: String,
    },
    /// Start a drill of each named database (none named: every one enrolled for drills).
    Start {
        only: Vec<Subject>,
        from: DrillFrom,
        dry_run: bool,
        because: String,
    },
    /// A scratch instance is restored (or an Aurora drill's instance created): check its drill.
    Restored {
        scratch: RdsIdentifier,
        at: DateTime<Utc>,
        because: String,
    },
    /// An Aurora drill's scratch cluster is restored: add its instance.
    ClusterRestored {
        scratch: RdsIdentifier,
        at: DateTime<Utc>,
        because: String,
    },
    Sweep {
        dry_run: bool,
        because: String,
    },
    /// An AWS Backup restore test's restore is done: check it and post the verdict to Backup.
    Validate {
        job_id: String,
        dry_run: bool,
        because: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventKind {
    Restored,
    InstanceCreated,
    ClusterRestored,
    BackupsDisabled,
}

/// Which event this is, by its id or (older events carry none) its message.
fn event_kind(event: &RdsEvent) -> Option<EventKind> {
    let message = event.message.to_ascii_lowercase();
    match event.event_id.map(|e| e.0) {
        Some(n) if RESTORED_EVENTS.contains(&n) => Some(EventKind::Restored),
        Some(n) if INSTANCE_CREATED_EVENTS.contains(&n) => Some(EventKind::InstanceCreated),
        Some(n) if CLUSTER_RESTORED_EVENTS.contains(&n) => Some(EventKind::ClusterRestored),
        Some(n) if BACKUPS_DISABLED_EVENTS.contains(&n) => Some(EventKind::BackupsDisabled),
        Some(_) => None,
        None if message.starts_with("restored from") => Some(EventKind::Restored),
        None if message.contains("automatic backups") && message.contains("disabled") => {
            Some(EventKind::BackupsDisabled)
        }
        None => None,
    }
}

fn event_decision(event: &RdsEvent) -> Decision {
    let label = event
        .event_id
        .map(|e| e.to_string())
        .unwrap_or_else(|| "an RDS event without an id".into());
    let Some(kind) = event_kind(event) else {
        return Decision::Skip {
            target: None,
            reason: format!(
                "restore-drill acts on RDS-EVENT-0043, 0019 and 0005 (a scratch instance restored or created), 0170 (a scratch cluster restored) and 0028 (backups disabled), schedules and manual requests; {label} from {} ignored",
                event.source_id
            ),
        };
    };
    let resource = event.resource();
    let because = format!("{label} ({})", event.message);
    let not_ours = |db: DbTarget| {
        let id = db.id().clone();
        Decision::Skip {
            target: Some(db),
            reason: format!(
                "{label}: {id} is not named as a drill's scratch resource (<db>{}<yyyymmddhhmm>): not a drill of ours",
                drill::SCRATCH_MARK
            ),
        }
    };
    match (kind, resource) {
        (EventKind::Restored | EventKind::InstanceCreated, Some(r))
            if r.kind == ResourceKind::DbInstance =>
        {
            if drill::named_as_scratch(r.id.as_str()) {
                Decision::Restored {
                    scratch: r.id,
                    at: event.time,
                    because,
                }
            } else {
                not_ours(DbTarget::Instance(r.id))
            }
        }
        (EventKind::ClusterRestored, Some(r)) if r.kind == ResourceKind::DbCluster => {
            if drill::named_as_scratch(r.id.as_str()) {
                Decision::ClusterRestored {
                    scratch: r.id,
                    at: event.time,
                    because,
                }
            } else {
                not_ours(DbTarget::Cluster(r.id))
            }
        }
        (EventKind::BackupsDisabled, Some(r)) if r.kind == ResourceKind::DbInstance => {
            Decision::Audit {
                only: Some(Subject::Instance(r.id)),
                disabled: Some(event.time),
                because: format!("{label} (automated backups disabled)"),
            }
        }
        _ => Decision::Skip {
            target: None,
            reason: format!(
                "{label} is about {} {}, which is not what this event means to restore-drill (0043/0019/0005/0028 are about DB instances, 0170 about DB clusters)",
                event.source_type, event.source_id
            ),
        },
    }
}

/// An AWS Backup restore job's event: a hint (the job itself is read before anything is done),
/// so only what it plainly says is refused here.
fn restore_job_decision(job: &RestoreJobEvent, config: &DrillConfig, dry_run: bool) -> Decision {
    let skip = |reason: String| Decision::Skip {
        target: None,
        reason,
    };
    let id = &job.job_id;
    if config.restore_testing_plans.is_empty() {
        return skip(format!(
            "AWS Backup restore job {id}: RESTORE_TESTING_PLANS is empty, restore-drill validates no plan's restores"
        ));
    }
    if job.status != "COMPLETED" {
        return skip(format!(
            "AWS Backup restore job {id} is {}: only a COMPLETED restore is validated",
            job.status
        ));
    }
    if let Some(plan) = job
        .plan_arn
        .as_deref()
        .filter(|p| !validation::plan_listed(p, &config.restore_testing_plans))
    {
        return skip(format!(
            "AWS Backup restore job {id} is of plan {plan}, not one of RESTORE_TESTING_PLANS: not validated"
        ));
    }
    Decision::Validate {
        job_id: id.clone(),
        dry_run,
        because: format!("AWS Backup restore job {id} COMPLETED"),
    }
}

/// What a trigger means for restore-drill.
pub fn decide(trigger: &Trigger<ManualTask, DrillSchedule>, config: &DrillConfig) -> Decision {
    let automatic = dry_run(false, None, config.automatic_dry_run);
    // Routed as nothing for every other function: read before routing.
    if let Trigger::RestoreJob(job) = trigger {
        return restore_job_decision(job, config, automatic);
    }
    match trigger.route() {
        Route::Nothing { target, reason } => Decision::Skip { target, reason },
        Route::Alarm(alarm) => Decision::Skip {
            target: alarm.db_target(),
            reason: format!(
                "restore-drill does not act on alarms (alarm {}): it runs on schedules, RDS restore and backup events, and by hand",
                alarm.name
            ),
        },
        Route::RdsEvent(event) => event_decision(event),
        Route::Schedule(schedule) => {
            let because = format!("schedule {}", schedule.name().unwrap_or("(unnamed)"));
            // Anyone allowed to invoke can write a schedule-shaped payload: only the schedules
            // named in ALLOWED_SCHEDULES act; any other plans (reads are harmless).
            let listed = schedule.listed_in(&config.allowed_schedules);
            let input = &schedule.input;
            match input.task {
                Task::Audit => Decision::Audit {
                    only: None,
                    disabled: None,
                    because,
                },
                Task::Drill => Decision::Start {
                    only: input.targets.clone(),
                    from: input.from,
                    dry_run: !listed || automatic,
                    because,
                },
                Task::Sweep => Decision::Sweep {
                    dry_run: !listed || automatic,
                    because,
                },
                // Refused when the input is read: never here.
                Task::Validate => Decision::Skip {
                    target: None,
                    reason: "a schedule validates no single restore job".into(),
                },
            }
        }
        Route::Manual(request) => {
            let because = "manual request".to_string();
            match request.task {
                Task::Audit => Decision::Audit {
                    only: request.subject.clone(),
                    disabled: None,
                    because,
                },
                Task::Drill => Decision::Start {
                    only: request.subject.iter().cloned().collect(),
                    from: request.from,
                    dry_run: request.dry_run,
                    because,
                },
                Task::Sweep => Decision::Sweep {
                    dry_run: request.dry_run,
                    because,
                },
                Task::Validate => match &request.restore_job {
                    Some(job_id) => Decision::Validate {
                        job_id: job_id.clone(),
                        dry_run: request.dry_run,
                        because,
                    },
                    None => Decision::Skip {
                        target: None,
                        reason: "a validation by hand names its restore_job".into(),
                    },
                },
            }
        }
    }
}

#[cfg(test)]
mod tests;
