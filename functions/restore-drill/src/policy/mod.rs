//! What restore-drill decides, pure, every rule tested at its edges: what a trigger asks
//! (`decide`, here), how far behind a recovery point is (`rpo`), a drill's rules (`drill`) and
//! what its readings mean (`verdict`).

pub mod drill;
pub mod rpo;
pub mod verdict;

use chrono::{DateTime, Utc};

use rds_responder::safety::dry_run;
use rds_responder::trigger::{DbTarget, RdsEvent, RdsIdentifier, ResourceKind, Route, Trigger};

use crate::config::DrillConfig;
use crate::request::{DrillFrom, DrillSchedule, ManualTask, Task};

/// RDS-EVENT-0043 (restored from a snapshot) and 0019 (restored to a point in time): a drill's
/// scratch instance is ready to check.
pub const RESTORED_EVENTS: [u16; 2] = [43, 19];
/// RDS-EVENT-0028: automated backups disabled.
pub const BACKUPS_DISABLED_EVENTS: [u16; 1] = [28];

/// What one run does.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Skip {
        target: Option<DbTarget>,
        reason: String,
    },
    /// The recovery points of every enrolled resource, or of one instance.
    Audit {
        only: Option<RdsIdentifier>,
        /// RDS said this instance's backups were just disabled (RDS-EVENT-0028).
        disabled: Option<DateTime<Utc>>,
        because: String,
    },
    /// Start a drill of each named instance (none named: every one enrolled for drills).
    Start {
        only: Vec<RdsIdentifier>,
        from: DrillFrom,
        dry_run: bool,
        because: String,
    },
    /// A scratch instance is restored: check its drill.
    Restored {
        scratch: RdsIdentifier,
        at: DateTime<Utc>,
        because: String,
    },
    Sweep {
        dry_run: bool,
        because: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventKind {
    Restored,
    BackupsDisabled,
}

/// Which event this is, by its id or (older events carry none) its message.
fn event_kind(event: &RdsEvent) -> Option<EventKind> {
    let message = event.message.to_ascii_lowercase();
    match event.event_id.map(|e| e.0) {
        Some(n) if RESTORED_EVENTS.contains(&n) => Some(EventKind::Restored),
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
    let instance = event
        .resource()
        .filter(|r| r.kind == ResourceKind::DbInstance)
        .map(|r| r.id);
    match (event_kind(event), instance) {
        (Some(EventKind::Restored), Some(id)) if drill::named_as_scratch(id.as_str()) => {
            Decision::Restored {
                scratch: id,
                at: event.time,
                because: format!("{label} ({})", event.message),
            }
        }
        (Some(EventKind::Restored), Some(id)) => Decision::Skip {
            target: Some(DbTarget::Instance(id.clone())),
            reason: format!(
                "{label}: {id} was restored, but it is not named as a drill's scratch instance (<db>{}<yyyymmddhhmm>): not a drill of ours",
                drill::SCRATCH_MARK
            ),
        },
        (Some(EventKind::BackupsDisabled), Some(id)) => Decision::Audit {
            only: Some(id),
            disabled: Some(event.time),
            because: format!("{label} (automated backups disabled)"),
        },
        (Some(_), None) => Decision::Skip {
            target: None,
            reason: format!(
                "{label} is about {} {}, not a DB instance: drills and this audit event are about instances",
                event.source_type, event.source_id
            ),
        },
        (None, _) => Decision::Skip {
            target: None,
            reason: format!(
                "restore-drill acts on RDS-EVENT-0043 and 0019 (a scratch instance restored) and 0028 (backups disabled), schedules and manual requests; {label} from {} ignored",
                event.source_id
            ),
        },
    }
}

/// What a trigger means for restore-drill.
pub fn decide(trigger: &Trigger<ManualTask, DrillSchedule>, config: &DrillConfig) -> Decision {
    let automatic = dry_run(false, None, config.automatic_dry_run);
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
            }
        }
        Route::Manual(request) => {
            let because = "manual request".to_string();
            match request.task {
                Task::Audit => Decision::Audit {
                    only: request.db.clone(),
                    disabled: None,
                    because,
                },
                Task::Drill => Decision::Start {
                    only: request.db.iter().cloned().collect(),
                    from: request.from,
                    dry_run: request.dry_run,
                    because,
                },
                Task::Sweep => Decision::Sweep {
                    dry_run: request.dry_run,
                    because,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests;
