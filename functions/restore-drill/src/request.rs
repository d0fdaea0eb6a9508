//! What restore-drill is asked: a task (audit, drill, sweep), by hand or on a schedule, about
//! which database (`Subject`). Imports only the trigger types.

use std::fmt;

use serde::{Deserialize, Serialize};

use rds_responder::trigger::{
    parse_identifier, DbTarget, ManualPayload, RdsIdentifier, ResourceKind, ScheduleInput,
    TableName, TriggerError,
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
    /// Validate one AWS Backup restore test's restore (by hand only: the sweep finds the rest).
    Validate,
}

/// Where a drill restores from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DrillFrom {
    /// The newest available snapshot (or DynamoDB backup), ours or automated.
    #[default]
    NewestSnapshot,
    /// The source's latest restorable time (point in time).
    LatestRestorable,
}

/// A database a drill restores or an audit reads: an RDS instance, an Aurora cluster, or a
/// DynamoDB table.
/// Serialized as it is asked for: `{"db_instance": ...}`, `{"db_cluster": ...}`, `{"table": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Subject {
    #[serde(rename = "db_instance")]
    Instance(RdsIdentifier),
    #[serde(rename = "db_cluster")]
    Cluster(RdsIdentifier),
    #[serde(rename = "table")]
    Table(TableName),
}

impl Subject {
    /// `db-instance`, `db-cluster` or `table`.
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::Instance(_) => "db-instance",
            Subject::Cluster(_) => "db-cluster",
            Subject::Table(_) => "table",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Subject::Instance(id) | Subject::Cluster(id) => id.as_str(),
            Subject::Table(t) => t.as_str(),
        }
    }

    /// `<kind>:<name>`, as a scratch resource's source tag and a report's resource name.
    pub fn tag_value(&self) -> String {
        format!("{}:{}", self.kind(), self.name())
    }

    /// The inverse of `tag_value`; `None` for anything else.
    pub fn parse_tag(raw: &str) -> Option<Self> {
        let (kind, name) = raw.split_once(':')?;
        match kind {
            "db-instance" => RdsIdentifier::parse(name, ResourceKind::DbInstance)
                .ok()
                .map(Subject::Instance),
            "db-cluster" => RdsIdentifier::parse(name, ResourceKind::DbCluster)
                .ok()
                .map(Subject::Cluster),
            "table" => TableName::parse(name).ok().map(Subject::Table),
            _ => None,
        }
    }

    pub fn of_db(db: &DbTarget) -> Self {
        match db {
            DbTarget::Instance(id) => Subject::Instance(id.clone()),
            DbTarget::Cluster(id) => Subject::Cluster(id.clone()),
        }
    }

    /// The RDS resource, for instances and clusters.
    pub fn db(&self) -> Option<DbTarget> {
        match self {
            Subject::Instance(id) => Some(DbTarget::Instance(id.clone())),
            Subject::Cluster(id) => Some(DbTarget::Cluster(id.clone())),
            Subject::Table(_) => None,
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tag_value())
    }
}

/// `{"db_instance": ...}`, `{"db_cluster": ...}` or `{"table": ...}`: exactly one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSubject {
    #[serde(default)]
    db_instance: Option<String>,
    #[serde(default)]
    db_cluster: Option<String>,
    #[serde(default)]
    table: Option<String>,
}

impl RawSubject {
    fn is_empty(&self) -> bool {
        self.db_instance.is_none() && self.db_cluster.is_none() && self.table.is_none()
    }

    /// `None` when none is named; an error naming the fields when more than one is.
    fn validate(&self, field: &str) -> Result<Option<Subject>, TriggerError> {
        let named = [&self.db_instance, &self.db_cluster, &self.table]
            .iter()
            .filter(|f| f.is_some())
            .count();
        if named > 1 {
            return Err(invalid(
                &format!("{field}db_instance|{field}db_cluster|{field}table"),
                "name one database: exactly one of the three",
            ));
        }
        if let Some(id) = &self.db_instance {
            let f = format!("{field}db_instance");
            return parse_identifier(&f, id, ResourceKind::DbInstance)
                .map(|id| Some(Subject::Instance(id)));
        }
        if let Some(id) = &self.db_cluster {
            let f = format!("{field}db_cluster");
            return parse_identifier(&f, id, ResourceKind::DbCluster)
                .map(|id| Some(Subject::Cluster(id)));
        }
        match &self.table {
            Some(name) => TableName::parse(name)
                .map(|t| Some(Subject::Table(t)))
                .map_err(|rule| invalid(&format!("{field}table"), rule)),
            None => Ok(None),
        }
    }
}

/// `{"task": "audit" | "drill" | "sweep", "db_instance": "orders-db" (or "db_cluster" or
/// "table"), "from": "newest-snapshot" | "latest-restorable", "dry_run": false, "request_id":
/// "..."}`. The database names the one database of an audit or a drill (a drill needs it by
/// hand); a drill by hand is a dry run unless `"dry_run": false`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManualTask {
    pub task: Task,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    pub from: DrillFrom,
    pub dry_run: bool,
    pub request_id: Option<String>,
    /// The AWS Backup restore job a `validate` request names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_job: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManualTask {
    task: Task,
    #[serde(default)]
    db_instance: Option<String>,
    #[serde(default)]
    db_cluster: Option<String>,
    #[serde(default)]
    table: Option<String>,
    #[serde(default)]
    from: Option<DrillFrom>,
    #[serde(default)]
    dry_run: Option<bool>,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    restore_job: Option<String>,
}

fn invalid(field: &str, rule: impl Into<String>) -> TriggerError {
    TriggerError::invalid(field, rule)
}

impl ManualPayload for ManualTask {
    type Raw = RawManualTask;
    const SHAPE: &'static str = "restore-drill manual request";

    fn validate(raw: RawManualTask) -> Result<Self, TriggerError> {
        let subject = RawSubject {
            db_instance: raw.db_instance,
            db_cluster: raw.db_cluster,
            table: raw.table,
        }
        .validate("")?;
        match raw.task {
            Task::Drill if subject.is_none() => {
                return Err(invalid(
                    "db_instance|db_cluster|table",
                    "one is required for a drill by hand (the database to restore)",
                ))
            }
            Task::Sweep if subject.is_some() => {
                return Err(invalid(
                    "db_instance|db_cluster|table",
                    "is not taken by a sweep (it looks at every drill)",
                ))
            }
            Task::Validate if subject.is_some() => return Err(invalid(
                "db_instance|db_cluster|table",
                "is not taken by a validation (its restore job names the restore and its source)",
            )),
            _ => {}
        }
        match (&raw.restore_job, raw.task) {
            (None, Task::Validate) => {
                return Err(invalid(
                    "restore_job",
                    "is required by a validation: the AWS Backup restore job id",
                ))
            }
            (Some(id), Task::Validate) if !rds_responder::trigger::valid_job_id(id) => {
                return Err(invalid(
                    "restore_job",
                    "must be 1-128 ASCII letters, digits, '-' or '_' (an AWS Backup restore job id)",
                ))
            }
            (Some(_), task) if task != Task::Validate => {
                return Err(invalid("restore_job", "is only taken by a validation"))
            }
            _ => {}
        }
        if raw.from.is_some() && raw.task != Task::Drill {
            return Err(invalid("from", "is only taken by a drill"));
        }
        Ok(Self {
            task: raw.task,
            subject,
            from: raw.from.unwrap_or_default(),
            dry_run: rds_responder::safety::dry_run(true, raw.dry_run, false),
            request_id: raw.request_id,
            restore_job: raw.restore_job,
        })
    }

    fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

/// A schedule's input: `{"task": "audit"}`, `{"task": "sweep"}`, or `{"task": "drill",
/// "targets": [{"db_instance": "orders-db"}, {"db_cluster": "orders-aurora"}, {"table":
/// "orders"}], "from": "latest-restorable"}` (no targets: every database tagged for drills and
/// every table in DRILL_TABLES).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillSchedule {
    pub task: Task,
    pub targets: Vec<Subject>,
    pub from: DrillFrom,
}

impl ScheduleInput for DrillSchedule {
    fn from_value(input: serde_json::Value, field: &str) -> Result<Self, TriggerError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            task: Option<Task>,
            #[serde(default)]
            targets: Vec<RawSubject>,
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
        if task == Task::Validate {
            return Err(invalid(
                &format!("{field}task"),
                "\"validate\" is taken by hand only: the sweep validates the listed plans' restores",
            ));
        }
        if task != Task::Drill && (!raw.targets.is_empty() || raw.from.is_some()) {
            return Err(invalid(
                &format!("{field}targets"),
                "targets and from are only taken by a drill",
            ));
        }
        let mut targets: Vec<Subject> = Vec::new();
        for (i, t) in raw.targets.iter().enumerate() {
            let name = format!("{field}targets[{i}].");
            if t.is_empty() {
                return Err(invalid(
                    &format!("{name}db_instance|{name}db_cluster|{name}table"),
                    "name one database: exactly one of the three",
                ));
            }
            if let Some(subject) = t.validate(&name)? {
                if !targets.contains(&subject) {
                    targets.push(subject);
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
        assert_eq!(field_of(err), "db_instance|db_cluster|table");
        let t = ManualTask::from_value(json!({"task": "drill", "db_cluster": "orders-aurora"}))
            .unwrap();
        assert_eq!(t.subject.unwrap().tag_value(), "db-cluster:orders-aurora");
        let t = ManualTask::from_value(json!({"task": "drill", "table": "orders.v2"})).unwrap();
        assert_eq!(
            t.subject,
            Some(Subject::Table(TableName::parse("orders.v2").unwrap()))
        );
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
            (
                json!({"task": "drill", "db_instance": "a-db", "table": "orders"}),
                "db_instance|db_cluster|table",
            ),
            (json!({"task": "drill", "table": "no/slash"}), "table"),
            (json!({"task": "drill", "db_cluster": "x--y"}), "db_cluster"),
            (json!({"task": "audit", "extra": 1}), "extra"),
            (json!({"task": "audit", "request_id": ""}), "request_id"),
            (json!({"task": "validate"}), "restore_job"),
            (
                json!({"task": "validate", "restore_job": ""}),
                "restore_job",
            ),
            (
                json!({"task": "validate", "restore_job": "job 1; drop"}),
                "restore_job",
            ),
            (
                json!({"task": "validate", "restore_job": "x".repeat(129)}),
                "restore_job",
            ),
            (
                json!({"task": "sweep", "restore_job": "job-1"}),
                "restore_job",
            ),
            (
                json!({"task": "validate", "restore_job": "job-1", "db_instance": "orders-db"}),
                "db_instance|db_cluster|table",
            ),
        ] {
            let err = ManualTask::from_value(payload.clone()).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(field), "{payload}: {text}");
        }
    }

    #[test]
    fn a_validation_by_hand_names_its_restore_job_and_is_a_dry_run_unless_told() {
        let t =
            ManualTask::from_value(json!({"task": "validate", "restore_job": "job-1_A"})).unwrap();
        assert_eq!(t.task, Task::Validate);
        assert_eq!(t.restore_job.as_deref(), Some("job-1_A"));
        assert!(t.dry_run);
        let long = "x".repeat(128);
        let t = ManualTask::from_value(
            json!({"task": "validate", "restore_job": long, "dry_run": false}),
        )
        .unwrap();
        assert!(!t.dry_run);
        // Never on a schedule: the sweep validates every listed plan's restores.
        let err = DrillSchedule::from_value(json!({"task": "validate"}), "detail.").unwrap_err();
        assert_eq!(field_of(err), "detail.task");
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
        let s = DrillSchedule::from_value(
            json!({"task": "drill", "targets": [{"db_cluster": "orders-aurora"},
                {"table": "orders"}, {"table": "orders"}]}),
            "detail.",
        )
        .unwrap();
        assert_eq!(
            s.targets.iter().map(Subject::tag_value).collect::<Vec<_>>(),
            ["db-cluster:orders-aurora", "table:orders"]
        );
        let err = DrillSchedule::from_value(json!({"task": "drill", "targets": [{}]}), "detail.")
            .unwrap_err();
        assert!(field_of(err).starts_with("detail.targets[0].db_instance"));
    }

    #[test]
    fn requests_read_back_in_the_shape_they_were_asked_in() {
        let t = ManualTask::from_value(json!({"task": "drill", "db_cluster": "orders-aurora"}))
            .unwrap();
        let shown = serde_json::to_value(&t).unwrap();
        assert_eq!(shown["db_cluster"], "orders-aurora", "{shown}");
        assert!(shown.get("subject").is_none(), "{shown}");
        let s = DrillSchedule::from_value(
            json!({"task": "drill", "targets": [{"table": "orders"}]}),
            "detail.",
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&s).unwrap()["targets"],
            json!([{"table": "orders"}])
        );
        let sweep = ManualTask::from_value(json!({"task": "sweep"})).unwrap();
        assert!(serde_json::to_value(&sweep)
            .unwrap()
            .get("db_instance")
            .is_none());
    }

    #[test]
    fn a_source_tag_reads_back_as_its_subject_and_nothing_else_does() {
        for raw in [
            "db-instance:orders-db",
            "db-cluster:orders-aurora",
            "table:orders.v2",
        ] {
            assert_eq!(Subject::parse_tag(raw).unwrap().tag_value(), raw);
        }
        for raw in [
            "orders-db",
            "db-instance:",
            "db-instance:1bad",
            "table:a/b",
            "s3:bucket",
        ] {
            assert_eq!(Subject::parse_tag(raw), None, "{raw}");
        }
    }
}
