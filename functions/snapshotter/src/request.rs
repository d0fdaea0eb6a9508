//! What snapshotter accepts: the manual payload (pre-change or retention) and the schedule
//! input, each strict, every refusal naming the field and the rule. Imports only the trigger
//! types; the retention rules and their bounds are named here, since both the environment
//! (`config.rs`) and a request speak of them.

use serde::{Deserialize, Serialize};

use rds_responder::trigger::{
    DbTarget, ManualPayload, RawDbTarget, ScheduleInput, TableName, TriggerError,
};

/// The retention rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Retention {
    /// The newest this many of ours are kept whatever their age (at least 1).
    pub keep_newest: usize,
    /// Past that floor, ours older than this many days are deleted.
    pub max_age_days: i64,
    /// More deletions than this in one run abort the run before any delete.
    pub max_deletes: usize,
}

/// Bounds shared by the environment and the request fields that override it.
pub const KEEP_NEWEST: std::ops::RangeInclusive<u32> = 1..=1000;
pub const MAX_AGE_DAYS: std::ops::RangeInclusive<u32> = 1..=3650;
pub const MAX_DELETES: std::ops::RangeInclusive<u32> = 0..=10_000;

/// Retention settings a request may override, each within the environment's bounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetentionOverride {
    pub keep_newest: Option<u32>,
    pub max_age_days: Option<u32>,
    pub max_deletes: Option<u32>,
}

impl RetentionOverride {
    fn validate(
        field: &str,
        keep_newest: Option<u32>,
        max_age_days: Option<u32>,
        max_deletes: Option<u32>,
    ) -> Result<Self, TriggerError> {
        for (name, value, range) in [
            ("keep_newest", keep_newest, KEEP_NEWEST),
            ("max_age_days", max_age_days, MAX_AGE_DAYS),
            ("max_deletes", max_deletes, MAX_DELETES),
        ] {
            if let Some(v) = value {
                if !range.contains(&v) {
                    return Err(TriggerError::invalid(
                        format!("{field}{name}"),
                        format!("must be {} to {}", range.start(), range.end()),
                    ));
                }
            }
        }
        Ok(Self {
            keep_newest,
            max_age_days,
            max_deletes,
        })
    }
}

/// The most databases or tables one request may name.
pub const MAX_LISTED: usize = 1000;

/// Refuses a list longer than [`MAX_LISTED`] or naming one entry twice.
fn no_repeats<T: PartialEq>(field: &str, list: &[T]) -> Result<(), TriggerError> {
    if list.len() > MAX_LISTED {
        return Err(TriggerError::invalid(
            field,
            format!("may name at most {MAX_LISTED} entries"),
        ));
    }
    for (i, item) in list.iter().enumerate() {
        if list[..i].contains(item) {
            return Err(TriggerError::invalid(
                format!("{field}[{i}]"),
                "names an entry already listed: each once",
            ));
        }
    }
    Ok(())
}

fn targets(
    field: &str,
    raw: Option<Vec<RawDbTarget>>,
) -> Result<Option<Vec<DbTarget>>, TriggerError> {
    let Some(list) = raw else { return Ok(None) };
    let targets: Vec<DbTarget> = list
        .iter()
        .enumerate()
        .map(|(i, t)| t.validate(&format!("{field}targets[{i}].")))
        .collect::<Result<_, _>>()?;
    no_repeats(&format!("{field}targets"), &targets)?;
    Ok(Some(targets))
}

fn tables(field: &str, raw: Option<Vec<String>>) -> Result<Option<Vec<TableName>>, TriggerError> {
    let Some(list) = raw else { return Ok(None) };
    let tables: Vec<TableName> = list
        .iter()
        .enumerate()
        .map(|(i, t)| {
            TableName::parse(t).map_err(|rule| {
                TriggerError::invalid(
                    format!("{field}tables[{i}]"),
                    format!("{rule} (DynamoDB table names)"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    no_repeats(&format!("{field}tables"), &tables)?;
    Ok(Some(tables))
}

/// The longest `reason`, in characters.
pub const MAX_REASON: usize = 200;
/// The longest `change_id`, in characters.
pub const MAX_CHANGE_ID: usize = 255;

/// A hand-started run. A pre-change snapshot (the default action):
/// `{"db_instance"|"db_cluster": "...", "reason": "...", "change_id": "...", "wait": true,
/// "dry_run": false, "request_id": "..."}`; retention alone: `{"action": "retention",
/// "targets": [...], "tables": [...], "keep_newest": 7, "max_age_days": 35, "max_deletes": 50,
/// "dry_run": false}`, a dry run unless `"dry_run": false`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum ManualSnapshot {
    PreChange(PreChangeRequest),
    Retention(RetentionRequest),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreChangeRequest {
    pub db: DbTarget,
    pub reason: String,
    pub change_id: Option<String>,
    pub wait: bool,
    pub dry_run: bool,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetentionRequest {
    pub targets: Option<Vec<DbTarget>>,
    pub tables: Option<Vec<TableName>>,
    pub rules: RetentionOverride,
    pub dry_run: bool,
    pub request_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManualSnapshot {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    db_instance: Option<String>,
    #[serde(default)]
    db_cluster: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    change_id: Option<String>,
    #[serde(default)]
    wait: Option<bool>,
    #[serde(default)]
    dry_run: Option<bool>,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    targets: Option<Vec<RawDbTarget>>,
    #[serde(default)]
    tables: Option<Vec<String>>,
    #[serde(default)]
    keep_newest: Option<u32>,
    #[serde(default)]
    max_age_days: Option<u32>,
    #[serde(default)]
    max_deletes: Option<u32>,
}

/// A free text (reason, change id): `1..=max` characters, no control characters.
fn free_text(field: &str, raw: &str, max: usize) -> Result<String, TriggerError> {
    let count = raw.chars().count();
    if raw.trim().is_empty() || count > max {
        return Err(TriggerError::invalid(
            field,
            format!("must be 1-{max} characters, not blank"),
        ));
    }
    if raw.chars().any(char::is_control) {
        return Err(TriggerError::invalid(
            field,
            "must not contain control characters (newlines, tabs)",
        ));
    }
    Ok(raw.to_string())
}

impl ManualPayload for ManualSnapshot {
    type Raw = RawManualSnapshot;
    const SHAPE: &'static str = "snapshotter manual request";

    fn validate(raw: RawManualSnapshot) -> Result<Self, TriggerError> {
        let refuse_fields = |fields: &[(&str, bool)], action: &str| match fields
            .iter()
            .find(|(_, present)| *present)
        {
            Some((name, _)) => Err(TriggerError::invalid(
                *name,
                format!("is not a field of the {action} action"),
            )),
            None => Ok(()),
        };
        match raw.action.as_deref().unwrap_or("pre-change") {
            "pre-change" => {
                refuse_fields(
                    &[
                        ("targets", raw.targets.is_some()),
                        ("tables", raw.tables.is_some()),
                        ("keep_newest", raw.keep_newest.is_some()),
                        ("max_age_days", raw.max_age_days.is_some()),
                        ("max_deletes", raw.max_deletes.is_some()),
                    ],
                    "pre-change",
                )?;
                let db = RawDbTarget {
                    db_instance: raw.db_instance,
                    db_cluster: raw.db_cluster,
                }
                .validate("")?;
                let reason = match raw.reason.as_deref() {
                    Some(r) => free_text("reason", r, MAX_REASON)?,
                    None => {
                        return Err(TriggerError::invalid(
                            "reason",
                            "is required: why the snapshot is taken (1-200 characters)",
                        ))
                    }
                };
                let change_id = raw
                    .change_id
                    .as_deref()
                    .map(|c| free_text("change_id", c, MAX_CHANGE_ID))
                    .transpose()?;
                Ok(ManualSnapshot::PreChange(PreChangeRequest {
                    db,
                    reason,
                    change_id,
                    wait: raw.wait.unwrap_or(false),
                    // Taking a snapshot destroys nothing: it is done unless asked to plan.
                    dry_run: raw.dry_run.unwrap_or(false),
                    request_id: raw.request_id,
                }))
            }
            "retention" => {
                refuse_fields(
                    &[
                        ("db_instance", raw.db_instance.is_some()),
                        ("db_cluster", raw.db_cluster.is_some()),
                        ("reason", raw.reason.is_some()),
                        ("change_id", raw.change_id.is_some()),
                        ("wait", raw.wait.is_some()),
                    ],
                    "retention",
                )?;
                Ok(ManualSnapshot::Retention(RetentionRequest {
                    targets: targets("", raw.targets)?,
                    tables: tables("", raw.tables)?,
                    rules: RetentionOverride::validate(
                        "",
                        raw.keep_newest,
                        raw.max_age_days,
                        raw.max_deletes,
                    )?,
                    // Deletes: a dry run unless the caller says otherwise.
                    dry_run: rds_responder::safety::dry_run(true, raw.dry_run, false),
                    request_id: raw.request_id,
                }))
            }
            other => Err(TriggerError::invalid(
                "action",
                format!("must be \"pre-change\" (the default) or \"retention\", got {other:?}"),
            )),
        }
    }

    fn request_id(&self) -> Option<&str> {
        match self {
            ManualSnapshot::PreChange(r) => r.request_id.as_deref(),
            ManualSnapshot::Retention(r) => r.request_id.as_deref(),
        }
    }
}

/// The schedule input: `{"targets": [{"db_instance": "..."}], "tables": ["orders"],
/// "snapshots": true, "retention": true, "keep_newest": 7, "max_age_days": 35,
/// "max_deletes": 50, "dry_run": false}`, every field optional.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotSchedule {
    pub targets: Option<Vec<DbTarget>>,
    pub tables: Option<Vec<TableName>>,
    pub snapshots: bool,
    pub retention: bool,
    pub rules: RetentionOverride,
    pub dry_run: Option<bool>,
}

impl Default for SnapshotSchedule {
    fn default() -> Self {
        Self {
            targets: None,
            tables: None,
            snapshots: true,
            retention: true,
            rules: RetentionOverride::default(),
            dry_run: None,
        }
    }
}

impl ScheduleInput for SnapshotSchedule {
    fn from_value(input: serde_json::Value, field: &str) -> Result<Self, TriggerError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default)]
            targets: Option<Vec<RawDbTarget>>,
            #[serde(default)]
            tables: Option<Vec<String>>,
            #[serde(default)]
            snapshots: Option<bool>,
            #[serde(default)]
            retention: Option<bool>,
            #[serde(default)]
            keep_newest: Option<u32>,
            #[serde(default)]
            max_age_days: Option<u32>,
            #[serde(default)]
            max_deletes: Option<u32>,
            #[serde(default)]
            dry_run: Option<bool>,
        }
        if input.is_null() {
            return Ok(Self::default());
        }
        let raw: Raw = rds_responder::trigger::read_value(input, "snapshotter schedule input")?;
        let snapshots = raw.snapshots.unwrap_or(true);
        let retention = raw.retention.unwrap_or(true);
        if !snapshots && !retention {
            return Err(TriggerError::invalid(
                format!("{field}snapshots|{field}retention"),
                "at least one must be true: the run would do nothing",
            ));
        }
        Ok(Self {
            targets: targets(field, raw.targets)?,
            tables: tables(field, raw.tables)?,
            snapshots,
            retention,
            rules: RetentionOverride::validate(
                field,
                raw.keep_newest,
                raw.max_age_days,
                raw.max_deletes,
            )?,
            dry_run: raw.dry_run,
        })
    }
}
