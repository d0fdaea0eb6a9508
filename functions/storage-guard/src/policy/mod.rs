//! What storage-guard decides, pure, every rule tested at its edges: what a trigger asks
//! (`decide`, here), how fast the disk fills (`forecast`), when the next change is allowed
//! (`changes`), which sizes are valid (`sizing`) and what to do about one instance (`plan`).

pub mod changes;
pub mod forecast;
pub mod plan;
pub mod sizing;

use rds_responder::alarm_scope::{alarm_scope, Scope, WatchedMetric};
use rds_responder::safety::dry_run;
use rds_responder::trigger::{
    Breach, DbTarget, RdsEvent, RdsIdentifier, ResourceKind, Route, TargetList, Trigger,
};

use crate::config::GuardConfig;
use crate::request::ManualGrow;
use plan::Ask;

/// The metric storage-guard answers without being told: free storage of one instance, below
/// its threshold.
pub const FREE_STORAGE: WatchedMetric = WatchedMetric {
    function: "storage-guard",
    namespace: "AWS/RDS",
    name: "FreeStorageSpace",
    fires: Breach::Below,
    answers: "free storage is low (an alarm above its threshold means plenty)",
};

/// Instance events that mean storage is low now: 0089 over 90% used, 0007 exhausted,
/// 0221 / 0222 storage-full shutdown and threshold, 0220 autoscaling in its cooldown, and
/// autoscaling's failures ([`AUTOSCALING_FAILED_EVENTS`]).
pub const LOW_STORAGE_EVENTS: [u16; 9] = [7, 89, 219, 220, 221, 222, 223, 237, 254];
/// Autoscaling could not act: 0219 bad state, 0223 could not scale, 0237 storage type
/// unavailable, 0254 account quota. Its headroom then covers nothing.
pub const AUTOSCALING_FAILED_EVENTS: [u16; 4] = [219, 223, 237, 254];
/// Autoscaling at (0224) or near (0225) its maximum.
pub const NEAR_MAXIMUM_EVENTS: [u16; 2] = [224, 225];
/// Aurora cluster storage low (0227): reported only; Aurora grows by itself.
pub const AURORA_STORAGE_EVENTS: [u16; 1] = [227];

/// What one run does.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Skip {
        target: Option<DbTarget>,
        reason: String,
    },
    /// Forecast and decide for one instance.
    Instance {
        id: RdsIdentifier,
        ask: Ask,
        dry_run: bool,
        /// What the run says it is answering (tags, report).
        because: String,
    },
    /// A cluster: reported, never changed (Aurora grows by itself).
    Cluster { id: RdsIdentifier, because: String },
    /// A sweep over the listed instances, or every opted-in one.
    Sweep {
        only: Vec<RdsIdentifier>,
        dry_run: bool,
        because: String,
    },
}

fn event_decision(event: &RdsEvent, config: &GuardConfig) -> Decision {
    let id = event.event_id.map(|e| e.0);
    let label = event
        .event_id
        .map(|e| e.to_string())
        .unwrap_or_else(|| "an RDS event without an id".into());
    let skip = |reason: String| Decision::Skip {
        target: None,
        reason,
    };
    let resource = event.resource();
    match (id, resource) {
        (Some(n), Some(r)) if AURORA_STORAGE_EVENTS.contains(&n) => match r.kind {
            ResourceKind::DbCluster => Decision::Cluster {
                id: r.id,
                because: format!("{label} (Aurora storage low)"),
            },
            _ => skip(format!("{label} is a cluster event; it came from {} {}", event.source_type, event.source_id)),
        },
        (Some(n), Some(r))
            if LOW_STORAGE_EVENTS.contains(&n) || NEAR_MAXIMUM_EVENTS.contains(&n) =>
        {
            if r.kind != ResourceKind::DbInstance {
                return skip(format!(
                    "{label} names {} {}, not a DB instance: nothing to grow",
                    event.source_type, event.source_id
                ));
            }
            let ask = if NEAR_MAXIMUM_EVENTS.contains(&n) {
                Ask::NearMaximum
            } else if AUTOSCALING_FAILED_EVENTS.contains(&n) {
                Ask::AutoscalingFailed
            } else {
                Ask::Low
            };
            Decision::Instance {
                id: r.id,
                ask,
                dry_run: dry_run(false, None, config.automatic_dry_run),
                because: label,
            }
        }
        (Some(_), _) | (None, _) => skip(format!(
            "storage-guard acts on low-storage events ({}), Aurora's 0227, FreeStorageSpace alarms, schedules and manual requests; {label} from {} ignored",
            LOW_STORAGE_EVENTS
                .iter()
                .chain(&NEAR_MAXIMUM_EVENTS)
                .map(|n| format!("{n:04}"))
                .collect::<Vec<_>>()
                .join(", "),
            event.source_id
        )),
    }
}

/// What a trigger means for storage-guard.
pub fn decide(trigger: &Trigger<ManualGrow, TargetList>, config: &GuardConfig) -> Decision {
    let automatic = dry_run(false, None, config.automatic_dry_run);
    match trigger.route() {
        Route::Nothing { target, reason } => Decision::Skip { target, reason },
        Route::Alarm(alarm) => match alarm_scope(
            alarm,
            &FREE_STORAGE,
            &config.allowed_alarms,
            config.default_instance.as_ref(),
        ) {
            Ok(Scope::Instance(id)) => Decision::Instance {
                id,
                ask: Ask::Low,
                dry_run: automatic,
                because: format!("alarm {}", alarm.name),
            },
            Ok(scope) => Decision::Cluster {
                id: scope.target().id().clone(),
                because: format!("alarm {} about {scope}", alarm.name),
            },
            Err(reason) => Decision::Skip {
                target: alarm.db_target(),
                reason,
            },
        },
        Route::RdsEvent(event) => event_decision(event, config),
        Route::Schedule(schedule) => {
            let mut only = Vec::new();
            for target in &schedule.input.targets {
                match target {
                    DbTarget::Instance(id) => only.push(id.clone()),
                    DbTarget::Cluster(id) => {
                        return Decision::Skip {
                            target: Some(target.clone()),
                            reason: format!(
                                "the schedule names cluster {id}: storage-guard sweeps DB instances (Aurora grows by itself)"
                            ),
                        }
                    }
                }
            }
            // Anyone allowed to invoke can write a schedule-shaped payload: only the schedules
            // named in ALLOWED_SCHEDULES act; any other plans.
            let listed = schedule.listed_in(&config.allowed_schedules);
            Decision::Sweep {
                only,
                dry_run: !listed || automatic,
                because: format!("schedule {}", schedule.name().unwrap_or("(unnamed)")),
            }
        }
        Route::Manual(request) => Decision::Instance {
            id: request.db.clone(),
            ask: Ask::Manual {
                sizing: request.sizing,
            },
            dry_run: request.dry_run,
            because: request
                .reason
                .clone()
                .unwrap_or_else(|| "manual request".into()),
        },
    }
}

#[cfg(test)]
mod tests;
