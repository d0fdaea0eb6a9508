//! The run: the request, the decision, then the copies (created through the guard), retention
//! (decided over complete listings, capped, guarded) and one report.

use std::cell::Cell;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;

use rds_responder::backups::{BackupInfo, SnapshotCatalog, SnapshotInfo, SnapshotOf, TableBackups};
use rds_responder::guard::{db_resource, ActionGuard, GuardRefusal};
use rds_responder::ledger::Ledger;
use rds_responder::rds::RdsError;
use rds_responder::report::{Check, Findings, Outcome, Status};
use rds_responder::runner::{Invocation, Responder};
use rds_responder::trigger::{
    DbTarget, ManualPayload, RawDbTarget, ScheduleInput, TableName, Target, TriggerError,
};

use crate::checks;
use crate::config::{SnapshotterConfig, KEEP_NEWEST, MAX_AGE_DAYS, MAX_DELETES};
use crate::policy::{
    backup_name, creation_tags, decide, deletions_capped, plan_backup_retention, plan_retention,
    retention_scope, scheduled_snapshot_id, select, Completion, Decision, PreChange, Retention,
    RetentionPlan, Selection, Sweep, CHANGE_ID_TAG, CREATED_BY_TAG, CREATED_BY_VALUE, REASON_TAG,
};

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

    /// The configured rules are the least a request keeps: it may keep more (a higher floor, a
    /// longer age) and delete fewer (a lower cap), never the other way.
    pub fn apply(&self, base: Retention) -> Retention {
        Retention {
            keep_newest: self
                .keep_newest
                .map_or(base.keep_newest, |v| (v as usize).max(base.keep_newest)),
            max_age_days: self
                .max_age_days
                .map_or(base.max_age_days, |v| i64::from(v).max(base.max_age_days)),
            // The configured cap is a ceiling: a request may lower it, never raise it.
            max_deletes: self
                .max_deletes
                .map_or(base.max_deletes, |v| (v as usize).min(base.max_deletes)),
        }
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

pub struct Snapshotter<C, T> {
    pub catalog: C,
    pub tables: T,
    pub config: SnapshotterConfig,
}

/// The lock a snapshotter run takes: per database for a pre-change snapshot, one for the
/// account for a sweep. Separate from other functions' database locks: a snapshot never waits
/// for an idle-session reap.
pub fn snapshot_lock(db: Option<&DbTarget>) -> String {
    match db {
        Some(db) => format!("snapshots#{}", db_resource(db)),
        None => "snapshots#account".into(),
    }
}

/// How one run acts: through which guard, until when, with what care.
struct Run<'a, 'g, L> {
    guard: &'a ActionGuard<'g, L>,
    stop_at: Instant,
    now: DateTime<Utc>,
}

impl<L: Ledger> Run<'_, '_, L> {
    /// The guard for `lock`, worded for the report: `Err` holds the check that says why not.
    async fn may_act(&self, lock: &str, what: &str) -> Result<(), Check> {
        match self.guard.before_acting(lock).await {
            Ok(()) => Ok(()),
            Err(refusal @ GuardRefusal::Locked { .. }) => Err(Check::new(
                "guard",
                Outcome::Skipped,
                format!("{refusal}; {what} not done"),
            )),
            Err(refusal) => Err(Check::new(
                "guard",
                Outcome::Fail,
                format!("{refusal}; {what} not done"),
            )),
        }
    }

    fn time_left(&self) -> bool {
        Instant::now() < self.stop_at
    }
}

impl<C: SnapshotCatalog, T: TableBackups> Responder for Snapshotter<C, T> {
    type Manual = ManualSnapshot;
    type Schedule = SnapshotSchedule;
    const FUNCTION: &'static str = "snapshotter";

    async fn respond<L: Ledger>(
        &self,
        trigger: &rds_responder::trigger::Trigger<ManualSnapshot, SnapshotSchedule>,
        invocation: &Invocation,
        guard: &ActionGuard<'_, L>,
    ) -> Findings {
        let run = Run {
            guard,
            stop_at: Instant::now() + invocation.work_left(Utc::now()),
            now: invocation.now,
        };
        match decide(
            trigger,
            invocation.now,
            &invocation.request_id,
            &self.config,
        ) {
            Decision::Skip { target, reason } => Findings::skipped(target, reason),
            Decision::PreChange(request) => self.pre_change(&request, &run).await,
            Decision::Sweep(sweep) => self.sweep(&sweep, &run).await,
            Decision::Completion(event) => self.completion(&event).await,
        }
    }
}

/// Is this snapshot one this tool made of `db`?
fn made_by_us(snapshot: &SnapshotInfo, db: &DbTarget) -> bool {
    snapshot.tags.get(CREATED_BY_TAG).map(String::as_str) == Some(CREATED_BY_VALUE)
        && snapshot.db.eq_ignore_ascii_case(db.id().as_str())
        && snapshot.of == SnapshotOf::of(db)
}

/// What became of one snapshot this run asked for.
#[derive(Debug)]
pub enum Created {
    New(SnapshotInfo),
    /// Already there and ours: a retry, or a second request for the same change.
    Existing(SnapshotInfo),
    Failed(String),
    NotStarted(String),
}

impl<C: SnapshotCatalog, T: TableBackups> Snapshotter<C, T> {
    /// Creates `id`, or finds it made by an earlier try. Call only after the guard said yes.
    async fn create(
        &self,
        db: &DbTarget,
        id: &rds_responder::trigger::RdsIdentifier,
        tags: &[(String, String)],
    ) -> Created {
        match self.catalog.create_snapshot(db, id, tags).await {
            Ok(info) => Created::New(info),
            Err(RdsError::AlreadyExists { .. }) => {
                match self.catalog.find_snapshot(SnapshotOf::of(db), id.as_str()).await {
                    Ok(Some(s)) if made_by_us(&s, db) => Created::Existing(s),
                    Ok(Some(s)) => Created::Failed(format!(
                        "snapshot {id} already exists and was not made by rds-responder for {db} (it is of {}, tags {:?}): left untouched; choose another change_id",
                        s.db,
                        s.tags.keys().collect::<Vec<_>>()
                    )),
                    Ok(None) => Created::Failed(format!(
                        "RDS says snapshot {id} exists but does not list it: nothing created"
                    )),
                    Err(e) => Created::Failed(format!(
                        "snapshot {id} exists and could not be described ({e}): nothing created"
                    )),
                }
            }
            Err(e) => Created::Failed(e.to_string()),
        }
    }

    async fn pre_change<L: Ledger>(&self, request: &PreChange, run: &Run<'_, '_, L>) -> Findings {
        let db = &request.db;
        let id = &request.snapshot_id;
        let target = Some(Target::from(db.clone()));
        if request.dry_run {
            let mut findings = Findings::new(
                target,
                vec![checks::planned_snapshot(db, id, &request.tags)],
                format!("{db}: would create snapshot {id} (dry run)"),
            );
            findings.result = Some(checks::snapshot_result(
                id.as_str(),
                db,
                "planned",
                None,
                None,
                false,
            ));
            return findings;
        }
        if let Err(check) = run.may_act(&snapshot_lock(Some(db)), "snapshot").await {
            let retry = (check.outcome == Outcome::Fail).then(|| check.detail.clone());
            let mut findings = Findings::new(
                target,
                vec![check],
                format!("{db}: snapshot {id} not created"),
            );
            findings.retry = retry;
            if findings.retry.is_none() {
                findings.status = Some(Status::Skipped);
            }
            findings.result = Some(checks::snapshot_result(
                id.as_str(),
                db,
                "not-created",
                None,
                None,
                false,
            ));
            return findings;
        }
        let started = Instant::now();
        let created = self.create(db, id, &request.tags).await;
        let tag_of = |tags: &[(String, String)], key: &str| {
            tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        };
        let asked_change = tag_of(&request.tags, CHANGE_ID_TAG);
        let asked_reason = tag_of(&request.tags, REASON_TAG);
        let created = match created {
            // Same name, another change (a change id that cleans alike): not this request's.
            Created::Existing(s) if s.tags.get(CHANGE_ID_TAG) != asked_change.as_ref() => {
                Created::Failed(format!(
                    "snapshot {id} exists for another change (change id {:?}): left untouched; choose another change_id",
                    s.tags.get(CHANGE_ID_TAG).map(String::as_str).unwrap_or("none")
                ))
            }
            other => other,
        };
        let (mut snapshot, is_new) = match created {
            Created::New(s) => (s, true),
            Created::Existing(s) => (s, false),
            Created::Failed(reason) | Created::NotStarted(reason) => {
                let mut findings = Findings::new(
                    target,
                    vec![Check::new("snapshot", Outcome::Fail, reason)],
                    format!("{db}: snapshot {id} not created"),
                );
                findings.result = Some(checks::snapshot_result(
                    id.as_str(),
                    db,
                    "failed",
                    None,
                    Some(started.elapsed()),
                    false,
                ));
                return findings;
            }
        };
        let mut wait_note = None;
        if request.wait {
            while !checks::settled(&snapshot.status) {
                if Instant::now() + self.config.wait_poll >= run.stop_at {
                    wait_note = Some(
                        "the invocation's deadline came before the snapshot was available"
                            .to_string(),
                    );
                    break;
                }
                tokio::time::sleep(self.config.wait_poll).await;
                match self
                    .catalog
                    .find_snapshot(SnapshotOf::of(db), id.as_str())
                    .await
                {
                    Ok(Some(s)) => snapshot = s,
                    Ok(None) => {
                        wait_note = Some("the snapshot is no longer listed".into());
                        snapshot.status = "missing".into();
                        break;
                    }
                    Err(e) => {
                        wait_note = Some(format!("could not look at the snapshot: {e}"));
                        break;
                    }
                }
            }
        }
        let elapsed = started.elapsed();
        let earlier_reason = snapshot
            .tags
            .get(REASON_TAG)
            .filter(|r| !is_new && Some(*r) != asked_reason.as_ref())
            .cloned();
        let check = checks::pre_change_check(
            &snapshot,
            is_new,
            request.wait,
            wait_note.as_deref(),
            elapsed,
        );
        let mut checks = vec![check];
        if let Some(earlier) = earlier_reason {
            checks.push(Check::new(
                "reuse",
                Outcome::Warn,
                format!("snapshot {id} was made earlier for another reason ({earlier:?}): it is not a snapshot of this moment; give this change its own change_id"),
            ));
        }
        let mut findings = Findings::new(
            target,
            checks,
            format!("{db}: snapshot {id} {}", snapshot.status),
        );
        let mut result = checks::snapshot_result(
            id.as_str(),
            db,
            &snapshot.status,
            snapshot.progress_percent,
            Some(elapsed),
            is_new,
        );
        result["created_at"] = serde_json::to_value(snapshot.created).unwrap_or_default();
        findings.result = Some(result);
        findings
    }

    async fn completion(&self, event: &Completion) -> Findings {
        let snapshot = match self
            .catalog
            .find_snapshot(event.of, event.snapshot.as_str())
            .await
        {
            Ok(Some(s)) => s,
            Ok(None) => {
                return Findings::skipped(
                    None::<Target>,
                    format!(
                        "snapshot {} is not listed (deleted since?): nothing to report",
                        event.snapshot
                    ),
                )
            }
            Err(e) => {
                return Findings::new(
                    None::<Target>,
                    vec![Check::new(
                        "describe",
                        Outcome::Fail,
                        format!("could not describe snapshot {}: {e}", event.snapshot),
                    )],
                    format!("snapshot {}: could not be described", event.snapshot),
                )
            }
        };
        if snapshot.tags.get(CREATED_BY_TAG).map(String::as_str) != Some(CREATED_BY_VALUE) {
            return Findings::skipped(
                None::<Target>,
                format!("snapshot {} was not made by rds-responder (no CreatedBy=rds-responder tag): ignored", snapshot.id),
            );
        }
        let target = checks::snapshot_target(&snapshot);
        let check = checks::completion_check(&snapshot, event);
        let summary = format!(
            "snapshot {} of {}: {}",
            snapshot.id, snapshot.db, snapshot.status
        );
        Findings::new(target, vec![check], summary)
    }

    async fn sweep<L: Ledger>(&self, sweep: &Sweep, run: &Run<'_, '_, L>) -> Findings {
        let mut report = checks::SweepReport::default();
        if let Some(reason) = &sweep.plan_only_reason {
            report.push(Check::new("schedule", Outcome::Skipped, reason.clone()));
        }
        // 1. What is there: every database (all pages, tags included).
        let databases = match self.catalog.list_databases().await {
            Ok(d) => Some(d),
            Err(e) => {
                report.push(Check::new(
                    "databases",
                    Outcome::Fail,
                    format!(
                        "could not list databases ({e}): no snapshot taken and nothing deleted"
                    ),
                ));
                None
            }
        };
        let selections = databases
            .as_deref()
            .map(|d| select(d, sweep.targets.as_deref(), &self.config.gate))
            .unwrap_or_default();
        if let Some(d) = databases.as_deref() {
            report.push(checks::selection_summary(
                d,
                &selections,
                sweep.targets.is_some(),
                sweep.snapshots,
                &self.config.gate,
            ));
        }

        // 2. Snapshots and backups.
        let mut failed_dbs = Vec::new();
        if sweep.snapshots {
            for (db, selection) in &selections {
                if !matches!(selection, Selection::Snapshot) {
                    report.push(checks::not_snapshotted(db, selection));
                }
            }
            let wanted: Vec<&DbTarget> = selections
                .iter()
                .filter(|(_, s)| matches!(s, Selection::Snapshot))
                .map(|(db, _)| db)
                .collect();
            let tags = |id: &str| creation_tags(id, &sweep.trigger, "scheduled snapshot", None);
            if sweep.dry_run {
                for db in &wanted {
                    let id = scheduled_snapshot_id(db.id(), sweep.at);
                    report.push(checks::planned_snapshot(db, &id, &tags(id.as_str())));
                }
            } else if !wanted.is_empty() || !sweep.tables.is_empty() {
                match run.may_act(&snapshot_lock(None), "snapshots").await {
                    Err(check) => {
                        report.refused = true;
                        report.push(checks::sweep_refused(check));
                    }
                    Ok(()) => {
                        let results: Vec<(DbTarget, Created)> = stream::iter(wanted)
                            .map(|db| {
                                let tags = &tags;
                                async move {
                                    if !run.time_left() {
                                        return (
                                            db.clone(),
                                            Created::NotStarted(
                                                "the invocation's deadline is near: not started"
                                                    .into(),
                                            ),
                                        );
                                    }
                                    let id = scheduled_snapshot_id(db.id(), sweep.at);
                                    (db.clone(), self.create(db, &id, &tags(id.as_str())).await)
                                }
                            })
                            .buffer_unordered(self.config.concurrency)
                            .collect()
                            .await;
                        for (db, created) in results {
                            if matches!(created, Created::Failed(_) | Created::NotStarted(_)) {
                                failed_dbs.push(db.clone());
                            }
                            report.push(checks::scheduled_snapshot(
                                &db,
                                &scheduled_snapshot_id(db.id(), sweep.at),
                                &created,
                            ));
                        }
                    }
                }
            }
        }

        // 3. Tables: list (for retention and to find this run's backup from a retry), back up,
        // check point-in-time recovery.
        let table_listings: Vec<(TableName, Result<Vec<BackupInfo>, String>)> =
            stream::iter(&sweep.tables)
                .map(|table| async move {
                    (
                        table.clone(),
                        self.tables
                            .list_backups(table)
                            .await
                            .map_err(|e| e.to_string()),
                    )
                })
                .buffer_unordered(self.config.concurrency)
                .collect()
                .await;
        let mut table_listings = table_listings;
        if sweep.snapshots {
            for (table, listing) in table_listings.iter_mut() {
                let name = backup_name(table, sweep.at);
                let check = match listing {
                    Err(e) => Check::new(
                        format!("backup {table}"),
                        Outcome::Fail,
                        format!("could not list backups of {table} ({e}): no backup taken"),
                    ),
                    Ok(existing) if existing.iter().any(|b| b.name == name) => Check::new(
                        format!("backup {table}"),
                        Outcome::Pass,
                        format!("backup {name} already exists (an earlier try of this run)"),
                    ),
                    Ok(_) if sweep.dry_run => Check::new(
                        format!("backup {table}"),
                        Outcome::Planned,
                        format!("would create on-demand backup {name}"),
                    ),
                    Ok(_) if report.refused => Check::new(
                        format!("backup {table}"),
                        Outcome::Skipped,
                        "not created: the guard refused this run",
                    ),
                    Ok(_) if !run.time_left() => Check::new(
                        format!("backup {table}"),
                        Outcome::Warn,
                        "not started: the invocation's deadline is near",
                    ),
                    Ok(existing) => {
                        match self.tables.create_backup(table, &name).await {
                            Ok(b) => {
                                let check = Check::new(format!("backup {table}"), Outcome::Pass, format!("on-demand backup {} created ({})", b.name, b.status))
                                .with_data(json!({"backup_arn": b.arn, "name": b.name, "status": b.status}));
                                existing.push(b);
                                check
                            }
                            Err(e) => Check::new(
                                format!("backup {table}"),
                                Outcome::Fail,
                                format!("backup {name} not created: {e}"),
                            ),
                        }
                    }
                };
                report.push(check);
            }
            for table in &sweep.tables {
                report.push(self.pitr_check(table, sweep, run).await);
            }
        }

        // 4. Retention, over complete listings only.
        if let Some(rules) = &sweep.retention {
            let scope = retention_scope(&selections);
            self.retention(
                sweep,
                rules,
                &scope,
                databases.is_some(),
                &table_listings,
                &failed_dbs,
                run,
                &mut report,
            )
            .await;
        }

        // 5. The account's manual snapshot quota.
        report.push(match self.catalog.snapshot_quotas().await {
            Ok(quotas) => checks::quota_check(&quotas),
            Err(e) => Check::new(
                "quota",
                Outcome::Skipped,
                format!("manual snapshot quota not read: {e}"),
            ),
        });
        report.finish(sweep)
    }

    async fn pitr_check<L: Ledger>(
        &self,
        table: &TableName,
        sweep: &Sweep,
        run: &Run<'_, '_, L>,
    ) -> Check {
        let name = format!("pitr {table}");
        let status = match self.tables.pitr(table).await {
            Ok(s) => s,
            Err(e) => {
                return Check::new(
                    name,
                    Outcome::Warn,
                    format!("point-in-time recovery not read: {e}"),
                )
            }
        };
        if status.enabled {
            return checks::pitr_enabled(&name, &status, run.now, self.config.pitr_max_lag);
        }
        if !self.config.enable_pitr {
            return Check::new(name, Outcome::Warn, format!("point-in-time recovery is off for {table}; set ENABLE_PITR=true to have it turned on"));
        }
        if sweep.dry_run {
            return Check::new(
                name,
                Outcome::Planned,
                format!("would turn point-in-time recovery on for {table}"),
            );
        }
        if let Err(check) = run
            .may_act(&snapshot_lock(None), "turning on point-in-time recovery")
            .await
        {
            return check;
        }
        match self.tables.enable_pitr(table).await {
            Ok(()) => Check::new(
                name,
                Outcome::Pass,
                format!("point-in-time recovery was off for {table}: turned on (ENABLE_PITR)"),
            ),
            Err(e) => Check::new(
                name,
                Outcome::Fail,
                format!("point-in-time recovery is off and could not be turned on: {e}"),
            ),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn retention<L: Ledger>(
        &self,
        sweep: &Sweep,
        rules: &Retention,
        scope: &[DbTarget],
        databases_listed: bool,
        table_listings: &[(TableName, Result<Vec<BackupInfo>, String>)],
        failed_dbs: &[DbTarget],
        run: &Run<'_, '_, L>,
        report: &mut checks::SweepReport,
    ) {
        // Fail closed: every listing complete, or no delete at all.
        let mut unread = Vec::new();
        if !databases_listed {
            unread.push("the database listing failed".to_string());
        }
        // One listing per database in scope (every page, tags included): on RDS as many
        // requests as an account-wide listing of the same snapshots, without reading other
        // databases' snapshots, and each response stays small.
        let listings: Vec<(&DbTarget, Result<Vec<SnapshotInfo>, RdsError>)> = stream::iter(scope)
            .map(|db| async move {
                (
                    db,
                    self.catalog
                        .list_snapshots(SnapshotOf::of(db), Some(db.id()))
                        .await,
                )
            })
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
        let mut snapshots: Vec<(&DbTarget, Vec<SnapshotInfo>)> = Vec::new();
        for (db, listing) in listings {
            match listing {
                Ok(list) => snapshots.push((db, list)),
                Err(e) => unread.push(format!("snapshots of {db}: {e}")),
            }
        }
        for (table, listing) in table_listings {
            if let Err(e) = listing {
                unread.push(format!("backups of {table}: {e}"));
            }
        }
        if !unread.is_empty() {
            report.push(Check::new(
                "retention",
                Outcome::Fail,
                format!(
                    "nothing deleted: a listing could not be read completely ({})",
                    unread.join("; ")
                ),
            ));
            return;
        }
        // Listings finish in any order; the report follows the scope's.
        snapshots.sort_by_key(|(db, _)| scope.iter().position(|s| s == *db));
        let mut plans: Vec<(Deletion, RetentionPlan)> = Vec::new();
        for (db, list) in &snapshots {
            plans.push((
                Deletion::Snapshot((*db).clone()),
                plan_retention(db.id(), list, rules, run.now),
            ));
        }
        for (table, listing) in table_listings {
            if let Ok(backups) = listing {
                plans.push((
                    Deletion::Backup(table.clone()),
                    plan_backup_retention(table, backups, rules, run.now),
                ));
            }
        }
        let planned: usize = plans.iter().map(|(_, p)| p.delete.len()).sum();
        let capped = deletions_capped(planned, rules);
        // Whether the deletes go ahead is settled before the plan is worded.
        let mut refusal = None;
        let fate = if planned == 0 || sweep.deletes_plan_only {
            checks::PlanFate::Planned
        } else if capped {
            checks::PlanFate::Held
        } else if report.refused {
            refusal = Some(Check::new(
                "retention",
                Outcome::Warn,
                "nothing deleted: the guard refused this run",
            ));
            checks::PlanFate::Held
        } else {
            match run.may_act(&snapshot_lock(None), "deletes").await {
                Ok(()) => checks::PlanFate::Deleting,
                Err(check) => {
                    report.refused = true;
                    refusal = Some(checks::sweep_refused(check));
                    checks::PlanFate::Held
                }
            }
        };
        for (what, plan) in &plans {
            report.push(checks::retention_plan(what, plan, rules, fate, failed_dbs));
        }
        if capped {
            report.push(Check::new(
                "retention",
                Outcome::Fail,
                format!("{planned} deletions planned, more than the cap of {} per run: nothing deleted (read the plan, then raise MAX_DELETES_PER_RUN; a request can only lower it)", rules.max_deletes),
            ));
            return;
        }
        if let Some(check) = refusal {
            report.push(check);
        }
        if fate != checks::PlanFate::Deleting {
            return;
        }
        let stop = Cell::new(None::<String>);
        let jobs: Vec<(&Deletion, &crate::policy::Doomed)> = plans
            .iter()
            .flat_map(|(what, plan)| plan.delete.iter().map(move |d| (what, d)))
            .collect();
        let done: Vec<(String, Result<(), String>)> = stream::iter(jobs)
            .map(|(what, doomed)| {
                let stop = &stop;
                async move {
                    let label = what.label(&doomed.id);
                    if let Some(why) = stop.take().inspect(|w| stop.set(Some(w.clone()))) {
                        return (label, Err(format!("not attempted: {why}")));
                    }
                    if !run.time_left() {
                        return (
                            label,
                            Err("not attempted: the invocation's deadline is near".into()),
                        );
                    }
                    let result = match what {
                        Deletion::Snapshot(db) => match self
                            .catalog
                            .delete_snapshot(SnapshotOf::of(db), &doomed.handle)
                            .await
                        {
                            // Gone since the listing: what retention wanted holds.
                            Ok(()) | Err(RdsError::NotFound { .. }) => Ok(()),
                            Err(e) => Err(e.to_string()),
                        },
                        Deletion::Backup(table) => self
                            .tables
                            .delete_backup(table, &doomed.handle)
                            .await
                            .map_err(|e| e.to_string()),
                    };
                    if let Err(e) = &result {
                        // Throttled or refused: stop here rather than press on.
                        stop.set(Some(format!("an earlier delete failed ({e})")));
                    }
                    (label, result)
                }
            })
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
        report.push(checks::deletions(&done));
    }
}

/// What a retention plan's deletes go through.
#[derive(Debug, Clone, PartialEq)]
pub enum Deletion {
    Snapshot(DbTarget),
    Backup(TableName),
}

impl Deletion {
    pub fn label(&self, id: &str) -> String {
        match self {
            Deletion::Snapshot(db) => format!("{id} ({db})"),
            Deletion::Backup(table) => format!("{id} (dynamodb-table {table})"),
        }
    }
}

#[cfg(test)]
mod tests;
