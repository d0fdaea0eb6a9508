//! Which triggers mean "verify now": pure, table-driven rules.

use rds_responder::trigger::{DbTarget, RdsEvent, ResourceKind, Route, Trigger};

use crate::request::ManualCheck;

/// What to do with a trigger.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Verify {
        target: DbTarget,
        /// The instance an Aurora failover event says it promoted.
        expected_writer: Option<String>,
        /// The alarm that triggered us is expected to be in ALARM still.
        triggering_alarm: Option<String>,
    },
    Skip {
        target: Option<DbTarget>,
        reason: String,
    },
}

/// Multi-AZ instance failover completed.
pub const INSTANCE_FAILOVER_COMPLETED: [u16; 4] = [15, 49, 51, 65];
/// Multi-AZ instance failover started.
pub const INSTANCE_FAILOVER_STARTED: [u16; 1] = [13];
/// Aurora cluster failover completed (0071) or failed (0069): both need a look at the cluster.
pub const CLUSTER_FAILOVER_FINISHED: [u16; 2] = [71, 69];
/// Aurora cluster failover started (same AZ / cross AZ).
pub const CLUSTER_FAILOVER_STARTED: [u16; 2] = [72, 73];

pub fn decide(trigger: &Trigger<ManualCheck>) -> Decision {
    let verify = |target: DbTarget, triggering_alarm: Option<String>| Decision::Verify {
        target,
        expected_writer: None,
        triggering_alarm,
    };
    match trigger.route() {
        Route::Nothing { target, reason } => Decision::Skip { target, reason },
        Route::RdsEvent(event) => decide_rds_event(event),
        Route::Alarm(alarm) => match alarm.db_target() {
            Some(target) => verify(target, Some(alarm.name.clone())),
            None => Decision::Skip {
                target: None,
                reason: format!(
                    "alarm {} has no DBInstanceIdentifier or DBClusterIdentifier dimension",
                    alarm.name
                ),
            },
        },
        Route::Schedule(schedule) => match schedule.input.single() {
            Ok(target) => verify(target.clone(), None),
            Err(reason) => Decision::Skip {
                target: None,
                reason,
            },
        },
        Route::Manual(request) => verify(request.target.clone(), None),
    }
}

/// The event ids that mean "finished" and "started" for one kind of source, and the message
/// words that stand in for them on older events without an id.
struct FailoverEvents {
    finished: &'static [u16],
    started: &'static [u16],
    finished_words: &'static [&'static str],
}

const INSTANCE_EVENTS: FailoverEvents = FailoverEvents {
    finished: &INSTANCE_FAILOVER_COMPLETED,
    started: &INSTANCE_FAILOVER_STARTED,
    finished_words: &["complete"],
};

const CLUSTER_EVENTS: FailoverEvents = FailoverEvents {
    finished: &CLUSTER_FAILOVER_FINISHED,
    started: &CLUSTER_FAILOVER_STARTED,
    finished_words: &["complete", "fail"],
};

enum Phase {
    Finished,
    Started,
    Other,
}

impl FailoverEvents {
    fn phase(&self, event: &RdsEvent) -> Phase {
        let message = event.message.to_ascii_lowercase();
        let failover = message.contains("failover");
        let (finished, started) = match event.event_id {
            Some(id) => (self.finished.contains(&id.0), self.started.contains(&id.0)),
            // Older events carry no id: read the message.
            None => (
                failover && self.finished_words.iter().any(|w| message.contains(w)),
                failover && message.contains("start"),
            ),
        };
        match (finished, started) {
            (true, _) => Phase::Finished,
            (false, true) => Phase::Started,
            _ => Phase::Other,
        }
    }
}

fn decide_rds_event(event: &RdsEvent) -> Decision {
    let label = event
        .event_id
        .map(|e| e.to_string())
        .unwrap_or_else(|| "event without an id".into());
    let resource = event.resource().map(|r| (r.kind, r.id));
    let (target, events, expected_writer) = match resource {
        Some((ResourceKind::DbInstance, id)) => (DbTarget::Instance(id), INSTANCE_EVENTS, None),
        Some((ResourceKind::DbCluster, id)) => (
            DbTarget::Cluster(id),
            CLUSTER_EVENTS,
            promoted_instance(&event.message),
        ),
        _ => {
            return Decision::Skip {
                target: None,
                reason: format!(
                    "{label} from a {} is not about a failover",
                    event.source_type
                ),
            }
        }
    };
    match events.phase(event) {
        Phase::Finished => Decision::Verify {
            target,
            expected_writer,
            triggering_alarm: None,
        },
        Phase::Started => Decision::Skip {
            reason: format!(
                "{label}: {target} failover started; acknowledged, verification runs when it completes"
            ),
            target: Some(target),
        },
        Phase::Other => Decision::Skip {
            reason: format!("{label} is not a failover-completed event"),
            target: Some(target),
        },
    }
}

/// `Completed failover to DB instance: orders-aurora-2` -> `orders-aurora-2`.
pub fn promoted_instance(message: &str) -> Option<String> {
    let (_, tail) = message.rsplit_once("DB instance")?;
    let name = tail
        .trim_start_matches([':', ' '])
        .trim_end_matches(['.', ' '])
        .split_whitespace()
        .next()?;
    rds_responder::trigger::RdsIdentifier::parse(name, ResourceKind::DbInstance)
        .ok()
        .map(|id| id.to_string())
}

/// Recent event messages that mean the failover did not go cleanly.
const TROUBLE_WORDS: [&str; 4] = ["failed", "not attempting", "storage-full", "incompatible"];

pub fn troubling_events(messages: &[String]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| {
            let lower = m.to_ascii_lowercase();
            TROUBLE_WORDS.iter().any(|w| lower.contains(w))
        })
        .cloned()
        .collect()
}
