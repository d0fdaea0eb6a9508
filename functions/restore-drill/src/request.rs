//! What restore-drill is asked: a task (audit, drill, sweep), by hand or on a schedule.
//! Imports only the trigger types.

use serde::{Deserialize, Serialize};

use rds_responder::trigger::{
    parse_identifier, ManualPayload, RawDbTarget, RdsIdentifier, ResourceKind, ScheduleInput,
    TriggerError,
};

/// What one run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// The recovery point of every opted-in database and configured table.
    Audit,
    /// Start a restore drill.
    Drill,
    /// Advance drills whose event never came, fail late ones, delete expired scratch.
    Sweep,
}

/// Where a drill restores from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DrillFrom {
    /// The newest available snapshot, ours or automated.
    #[default]
    NewestSnapshot,
    /// The source's latest restorable time (point in time).
    LatestRestorable,
}

/// `{"task": "audit" | "drill" | "sweep", "db_instance": "orders-db", "from":
/// "newest-snapshot" | "latest-restorable", "dry_run": false, "request_id": "..."}`.
/// `db_instance` names the one database of an audit or a drill (a drill needs it by hand);
/// a drill by hand is a dry run unless `"dry_run": false`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManualTask {
    pub task: Task,
    pub db: Option<RdsIdentifier>,
    pub from: DrillFrom,
    pub dry_run: bool,
    pub request_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManualTask {
    task: Task,
    #[serde(default)]
    db_instance: Option<String>,
    #[serde(default)]
    from: Option<DrillFrom>,
    #[serde(default)]
    dry_run: Option<bool>,
    #[serde(default)]
    request_id: Option<String>,
}

fn invalid(field: &str, rule: impl Into<String>) -> TriggerError {
    TriggerError::invalid(field, rule)
}

impl ManualPayload for ManualTask {
    type Raw = RawManualTask;
    const SHAPE: &'static str = "restore-drill manual request";

    fn validate(raw: RawManualTask) -> Result<Self, TriggerError> {
        let db = raw
            .db_instance
            .as_deref()
            .map(|id| parse_identifier("db_instance", id, ResourceKind::DbInstance))
            .transpose()?;
        match raw.task {
            Task::Drill if db.is_none() => {
                return Err(invalid(
                    "db_instance",
                    "is required for a drill by hand (the database to restore)",
                ))
            }
            Task::Sweep if db.is_some() => {
                return Err(invalid(
                    "db_instance",
                    "is not taken by a sweep (it looks at every drill)",
                ))
            }
            _ => {}
        }
        if raw.from.is_some() && raw.task != Task::Drill {
            return Err(invalid("from", "is only taken by a drill"));
        }
        Ok(Self {
            task: raw.task,
            db,
            from: raw.from.unwrap_or_default(),
            dry_run: rds_responder::safety::dry_run(true, raw.dry_run, false),
            request_id: raw.request_id,
        })
    }

    fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

/// A schedule's input: `{"task": "audit"}`, `{"task": "sweep"}`, or `{"task": "drill",
/// "targets": [{"db_instance": "orders-db"}], "from": "latest-restorable"}` (no targets: every
/// instance tagged for drills).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillSchedule {
    pub task: Task,
    pub targets: Vec<RdsIdentifier>,
    pub from: DrillFrom,
}

impl ScheduleInput for DrillSchedule {
    fn from_value(input: serde_json::Value, field: &str) -> Result<Self, TriggerError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            task: Option<Task>,
            #[serde(default)]
            targets: Vec<RawDbTarget>,
            #[serde(default)]
            from: Option<DrillFrom>,
        }
        let raw: Raw = if input.is_null() {
            Raw {
                task: None,
                targets: Vec::new(),
                from: None,
            }
        } else {
            rds_responder::trigger::read_value(input, "restore-drill schedule input")?
        };
        let task = raw.task.ok_or_else(|| {
            invalid(
                &format!("{field}task"),
                "is required: \"audit\", \"drill\" or \"sweep\"",
            )
        })?;
        if task != Task::Drill && (!raw.targets.is_empty() || raw.from.is_some()) {
            return Err(invalid(
                &format!("{field}targets"),
                "targets and from are only taken by a drill",
            ));
        }
        let mut targets = Vec::new();
        for (i, t) in raw.targets.iter().enumerate() {
            let name = format!("{field}targets[{i}].");
            match t.validate(&name)? {
                rds_responder::trigger::DbTarget::Instance(id) => targets.push(id),
                rds_responder::trigger::DbTarget::Cluster(_) => {
                    return Err(invalid(
                        &format!("{name}db_cluster"),
                        "drills restore DB instances; Aurora cluster drills are not built yet",
                    ))
                }
            }
        }
        Ok(Self {
            task,
            targets,
            from: raw.from.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(err: TriggerError) -> String {
        match err {
            TriggerError::InvalidField { field, .. } => field,
            TriggerError::Malformed { path, .. } => path,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_drill_by_hand_names_its_database_and_is_a_dry_run_unless_told() {
        let t =
            ManualTask::from_value(json!({"task": "drill", "db_instance": "orders-db"})).unwrap();
        assert_eq!(t.task, Task::Drill);
        assert!(t.dry_run);
        assert_eq!(t.from, DrillFrom::NewestSnapshot);
        let t = ManualTask::from_value(json!({"task": "drill", "db_instance": "orders-db",
            "from": "latest-restorable", "dry_run": false, "request_id": "r-1"}))
        .unwrap();
        assert!(!t.dry_run);
        assert_eq!(t.from, DrillFrom::LatestRestorable);
        let err = ManualTask::from_value(json!({"task": "drill"})).unwrap_err();
        assert_eq!(field_of(err), "db_instance");
    }

    #[test]
    fn bad_requests_name_the_field() {
        for (payload, field) in [
            (
                json!({"task": "sweep", "db_instance": "orders-db"}),
                "db_instance",
            ),
            (json!({"task": "audit", "from": "newest-snapshot"}), "from"),
            (
                json!({"task": "drill", "db_instance": "1bad"}),
                "db_instance",
            ),
            (json!({"task": "restore"}), "task"),
            (json!({"task": "audit", "extra": 1}), "extra"),
            (json!({"task": "audit", "request_id": ""}), "request_id"),
        ] {
            let err = ManualTask::from_value(payload.clone()).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(field), "{payload}: {text}");
        }
    }

    #[test]
    fn schedules_name_their_task() {
        let s = DrillSchedule::from_value(json!({"task": "audit"}), "detail.").unwrap();
        assert_eq!(s.task, Task::Audit);
        let s = DrillSchedule::from_value(
            json!({"task": "drill", "targets": [{"db_instance": "orders-db"}]}),
            "detail.",
        )
        .unwrap();
        assert_eq!(s.targets.len(), 1);
        let err = DrillSchedule::from_value(serde_json::Value::Null, "detail.").unwrap_err();
        assert_eq!(field_of(err), "detail.task");
        let err = DrillSchedule::from_value(
            json!({"task": "sweep", "targets": [{"db_instance": "orders-db"}]}),
            "detail.",
        )
        .unwrap_err();
        assert_eq!(field_of(err), "detail.targets");
        let err = DrillSchedule::from_value(
            json!({"task": "drill", "targets": [{"db_cluster": "orders-aurora"}]}),
            "detail.",
        )
        .unwrap_err();
        assert!(err.to_string().contains("Aurora"), "{err}");
    }
}
