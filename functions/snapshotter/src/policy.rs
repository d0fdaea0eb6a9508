//! What snapshotter names and what it may delete: pure, every rule tested at its edges.
//!
//! Names are deterministic, so a retry finds the snapshot it made instead of making another.
//! Retention deletes only snapshots that are ours by tag *and* name, manual and available,
//! always keeps the newest N of them whatever their age, applies the age limit only past that
//! floor, and aborts (deletes nothing) when the plan exceeds the cap.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

pub use rds_responder::backups::SnapshotInfo;
use rds_responder::backups::{BackupError, BackupInfo, DbListing, SnapshotOf};
use rds_responder::rds::RdsError;
use rds_responder::safety::{GateVerdict, TagGate};
use rds_responder::trigger::{
    DbTarget, RdsEvent, RdsEventId, RdsIdentifier, ResourceKind, Route, TableName, Target, Trigger,
};

use crate::config::SnapshotterConfig;
use crate::handler::{ManualSnapshot, SnapshotSchedule};

/// The mark in every snapshot name this tool makes: `<db>-rr-...`.
pub const NAME_MARK: &str = "-rr-";
/// The tag every snapshot this tool makes carries.
pub const CREATED_BY_TAG: &str = "CreatedBy";
pub const CREATED_BY_VALUE: &str = "rds-responder";

/// The longest an RDS snapshot identifier may be.
const MAX_SNAPSHOT_ID: usize = 255;
/// Hex characters of the digest that keeps two different change ids apart after cleaning.
const DIGEST_CHARS: usize = 8;

fn digest(raw: &str) -> String {
    rds_responder::ledger::payload_digest(&serde_json::Value::String(raw.to_string()))
        [..DIGEST_CHARS]
        .to_string()
}

/// `raw` as identifier characters: lower-case letters and digits, every other run of
/// characters one hyphen, no hyphen at either end, at most `max` characters. When cleaning
/// changed more than the case, or left nothing, a digest of `raw` is appended, so two change
/// ids never share a name.
fn clean(raw: &str, max: usize) -> String {
    let mut out = String::new();
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    let unchanged = trimmed.eq_ignore_ascii_case(raw) && trimmed.len() <= max;
    if unchanged && !trimmed.is_empty() {
        return trimmed.to_string();
    }
    // Case alone is not a change: RDS identifiers are case-insensitive.
    let tag = digest(&raw.to_lowercase());
    let room = max.saturating_sub(DIGEST_CHARS + 1);
    let head = trimmed[..trimmed.len().min(room)].trim_end_matches('-');
    if head.is_empty() {
        tag
    } else {
        format!("{head}-{tag}")
    }
}

fn snapshot_id(name: String) -> RdsIdentifier {
    // Built from a valid DB identifier and cleaned parts, so this cannot fail; the fallback keeps
    // the function total all the same.
    RdsIdentifier::parse(&name, ResourceKind::DbSnapshot).unwrap_or_else(|_| {
        RdsIdentifier::parse(&format!("rr-{}", digest(&name)), ResourceKind::DbSnapshot)
            .unwrap_or_else(|_| unreachable!("rr-<hex> is a valid identifier"))
    })
}

/// The pre-change snapshot of `db`: `<db>-rr-<change id>` when a change id is given (cleaned to
/// identifier characters), else `<db>-rr-pre-<yyyymmdd-hhmmss>` (UTC). Always a valid RDS
/// snapshot identifier, and the same for the same request.
pub fn pre_change_snapshot_id(
    db: &RdsIdentifier,
    change_id: Option<&str>,
    at: DateTime<Utc>,
) -> RdsIdentifier {
    let prefix = format!("{db}{NAME_MARK}");
    let room = MAX_SNAPSHOT_ID - prefix.len();
    let tail = match change_id {
        Some(change) => clean(change, room),
        None => format!("pre-{}", at.format("%Y%m%d-%H%M%S")),
    };
    snapshot_id(format!("{prefix}{tail}"))
}

/// The scheduled snapshot of `db` for a run scheduled at `at`: `<db>-rr-<yyyymmdd-hhmmss>`.
pub fn scheduled_snapshot_id(db: &RdsIdentifier, at: DateTime<Utc>) -> RdsIdentifier {
    snapshot_id(format!("{db}{NAME_MARK}{}", at.format("%Y%m%d-%H%M%S")))
}

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

/// Why a copy is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub id: String,
    pub reason: String,
}

/// A copy retention would delete: `handle` is what the delete call takes (a snapshot id, a
/// backup ARN).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Doomed {
    pub id: String,
    /// For the delete call only: the report names the copy by `id`.
    #[serde(skip)]
    pub handle: String,
    pub created: Option<DateTime<Utc>>,
}

/// The decision for one database's or table's copies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetentionPlan {
    /// Oldest first.
    pub delete: Vec<Doomed>,
    pub kept: Vec<Kept>,
}

/// Why a snapshot is not ours to delete, or `None` if it is one of ours (tag and name).
pub fn not_ours(snapshot: &SnapshotInfo, db: &RdsIdentifier) -> Option<&'static str> {
    let id = snapshot.id.to_ascii_lowercase();
    if id.starts_with("rds:") || snapshot.snapshot_type.eq_ignore_ascii_case("automated") {
        return Some("automated snapshot");
    }
    if id.starts_with("awsbackup:") || snapshot.snapshot_type.eq_ignore_ascii_case("awsbackup") {
        return Some("AWS Backup snapshot");
    }
    if !snapshot.snapshot_type.eq_ignore_ascii_case("manual") {
        return Some("not a manual snapshot of this account (shared or public)");
    }
    if snapshot.copied_from.is_some() {
        return Some("copied in from another snapshot");
    }
    if snapshot.tags.get(CREATED_BY_TAG).map(String::as_str) != Some(CREATED_BY_VALUE) {
        return Some("not tagged CreatedBy=rds-responder");
    }
    if !id.starts_with(&format!("{db}{NAME_MARK}")) {
        return Some("not named <db>-rr-...");
    }
    // A copy made with CopyTags carries the original's tags: its own name differs from the one
    // the tag records.
    if !snapshot
        .tags
        .get(SNAPSHOT_ID_TAG)
        .is_some_and(|own| own.eq_ignore_ascii_case(&snapshot.id))
    {
        return Some(
            "its rds-responder:snapshot-id tag does not name it (a copy, or made by hand)",
        );
    }
    None
}

/// Whether a create RDS did not do may succeed on a retry: no answer, throttling or a service
/// fault; an answer the adapter could not read (the snapshot may exist, and the retry finds it
/// by name); a database in a state that passes (backing up, modifying). A quota, a permission
/// or a bad parameter will not pass: a retry would only fail again.
pub fn create_retryable(error: &RdsError) -> bool {
    match error {
        RdsError::Unexpected { .. } => true,
        RdsError::NotFound { .. } | RdsError::AlreadyExists { .. } => false,
        RdsError::Api { .. } => {
            error.transient()
                || error.code().is_some_and(|code| {
                    code.starts_with("InvalidDBInstanceState")
                        || code.starts_with("InvalidDBClusterState")
                })
        }
    }
}

/// The same for a DynamoDB backup: no answer, throttling, a service fault, a limit on
/// operations running at once (`LimitExceededException`, `BackupInUseException`) or a table
/// being created or updated (`TableInUseException`) passes; a missing table, a permission or a
/// bad name does not.
pub fn backup_retryable(error: &BackupError) -> bool {
    error.source.transient()
        || matches!(
            error.source.code.as_deref(),
            Some(
                "LimitExceededException"
                    | "BackupInUseException"
                    | "TableInUseException"
                    | "ContinuousBackupsUnavailableException"
            )
        )
}

/// One copy as retention sees it, whatever it is a copy of.
struct Candidate {
    id: String,
    handle: String,
    not_ours: Option<&'static str>,
    available: bool,
    status: String,
    created: Option<DateTime<Utc>>,
}

/// Keeps what is not ours, not available or of unknown age; of ours, keeps the newest
/// `keep_newest` (at least 1) whatever their age and, past that floor, what is younger than the
/// age limit. Exactly at the limit is kept.
fn plan_candidates(
    candidates: Vec<Candidate>,
    rules: &Retention,
    now: DateTime<Utc>,
) -> RetentionPlan {
    let mut kept = Vec::new();
    let mut ours = Vec::new();
    for c in candidates {
        let keep = |reason: String| Kept {
            id: c.id.clone(),
            reason,
        };
        match c.not_ours {
            Some(reason) => kept.push(keep(reason.into())),
            None if !c.available => kept.push(keep(format!("status {}, not available", c.status))),
            None if c.created.is_none() => kept.push(keep("creation time unknown".into())),
            None => ours.push(c),
        }
    }
    // Newest first; the id breaks ties so the plan never depends on listing order.
    ours.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
    let floor = rules.keep_newest.max(1);
    let max_age = Duration::days(rules.max_age_days);
    let mut delete = Vec::new();
    for (rank, c) in ours.into_iter().enumerate() {
        let age = c.created.map(|t| now - t).unwrap_or_default();
        if rank < floor {
            kept.push(Kept {
                id: c.id,
                reason: format!("one of the newest {floor} of ours"),
            });
        } else if age <= max_age {
            kept.push(Kept {
                id: c.id,
                reason: format!("younger than the {} day limit", rules.max_age_days),
            });
        } else {
            delete.push(Doomed {
                id: c.id,
                handle: c.handle,
                created: c.created,
            });
        }
    }
    delete.reverse();
    RetentionPlan { delete, kept }
}

/// Which of `db`'s snapshots retention deletes, and why the others are kept. `snapshots` must
/// be the complete listing (every page); snapshots of other databases are left out. The floor
/// is at least 1, so the newest available snapshot of ours always stays: a scheduled snapshot
/// that failed in this run never leaves a database without its last good copy.
pub fn plan_retention(
    db: &RdsIdentifier,
    snapshots: &[SnapshotInfo],
    rules: &Retention,
    now: DateTime<Utc>,
) -> RetentionPlan {
    let candidates = snapshots
        .iter()
        .filter(|s| s.db.eq_ignore_ascii_case(db.as_str()))
        .map(|s| Candidate {
            id: s.id.clone(),
            handle: s.id.clone(),
            not_ours: not_ours(s, db),
            available: s.status == "available",
            status: s.status.clone(),
            created: s.created,
        })
        .collect();
    plan_candidates(candidates, rules, now)
}

/// The longest DynamoDB backup name.
const MAX_BACKUP_NAME: usize = 255;
/// `-rr-yyyymmdd-hhmmss`
const BACKUP_SUFFIX_LEN: usize = 19;

/// The part of a backup name before the timestamp: the table name, cut so the whole fits.
pub fn backup_prefix(table: &TableName) -> String {
    let cut = &table.as_str()[..table
        .as_str()
        .len()
        .min(MAX_BACKUP_NAME - BACKUP_SUFFIX_LEN)];
    format!("{cut}{NAME_MARK}")
}

/// The on-demand backup of `table` for a run scheduled at `at`: `<table>-rr-<yyyymmdd-hhmmss>`.
pub fn backup_name(table: &TableName, at: DateTime<Utc>) -> String {
    format!("{}{}", backup_prefix(table), at.format("%Y%m%d-%H%M%S"))
}

/// Why a DynamoDB backup is not ours to delete, or `None`. Backups carry no tags in a listing,
/// so ours are `USER` backups of this table with our name.
pub fn backup_not_ours(backup: &BackupInfo, table: &TableName) -> Option<&'static str> {
    if !backup.backup_type.eq_ignore_ascii_case("USER") {
        return Some("not an on-demand (USER) backup");
    }
    if backup.table != table.as_str() {
        return Some("a backup of another table");
    }
    let stamp = backup.name.strip_prefix(&backup_prefix(table));
    if !stamp.is_some_and(is_timestamp) {
        return Some("not named <table>-rr-<yyyymmdd-hhmmss>");
    }
    None
}

/// `yyyymmdd-hhmmss`, as this tool stamps names.
fn is_timestamp(text: &str) -> bool {
    text.len() == 15
        && text
            .char_indices()
            .all(|(i, c)| if i == 8 { c == '-' } else { c.is_ascii_digit() })
}

/// The same rules for a table's backups.
pub fn plan_backup_retention(
    table: &TableName,
    backups: &[BackupInfo],
    rules: &Retention,
    now: DateTime<Utc>,
) -> RetentionPlan {
    let candidates = backups
        .iter()
        .map(|b| Candidate {
            id: b.name.clone(),
            handle: b.arn.clone(),
            not_ours: backup_not_ours(b, table),
            available: b.status == "AVAILABLE",
            status: b.status.clone(),
            created: b.created,
        })
        .collect();
    plan_candidates(candidates, rules, now)
}

/// The run's cap on deletions: more planned than `max_deletes`, and nothing is deleted.
pub fn deletions_capped(planned: usize, rules: &Retention) -> bool {
    planned > rules.max_deletes
}

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

/// Letters RDS accepts in a tag value (`\\p{L}`) that this tool keeps: Latin, Greek, Cyrillic,
/// kana, CJK and Hangul letters. Other scripts' letters may come with combining marks RDS refuses,
/// so they become `_` like every other character outside the rule.
fn kept_letter(c: char) -> bool {
    matches!(c as u32,
        0xC0..=0xD6 | 0xD8..=0xF6 | 0xF8..=0x24F      // Latin-1 and Latin Extended letters
        | 0x386 | 0x388..=0x3FF                       // Greek
        | 0x400..=0x481 | 0x48A..=0x52F               // Cyrillic, without combining marks
        | 0x3041..=0x3096 | 0x30A1..=0x30FA           // Hiragana, Katakana
        | 0x4E00..=0x9FFF                             // CJK ideographs
        | 0xAC00..=0xD7A3)                            // Hangul syllables
        && c.is_alphabetic()
}

/// A tag value RDS accepts: ASCII letters and digits, the letters above, spaces and
/// `_ . : / = + - @`, at most 256 characters, not starting with `aws:` or `rds:` (reserved);
/// everything else becomes `_`, so a reason in any language tags cleanly.
pub fn tag_value(raw: &str) -> String {
    let value: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c) || kept_letter(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect();
    let reserved = ["aws:", "rds:"].iter().any(|p| {
        value
            .get(..4)
            .is_some_and(|head| head.eq_ignore_ascii_case(p))
    });
    if reserved {
        format!("_{}", value.chars().take(255).collect::<String>())
    } else {
        value
    }
}

/// The tags every snapshot this tool makes carries.
pub fn creation_tags(
    snapshot_id: &str,
    trigger: &str,
    reason: &str,
    change_id: Option<&str>,
) -> Vec<(String, String)> {
    let mut tags = vec![
        (CREATED_BY_TAG.to_string(), CREATED_BY_VALUE.to_string()),
        (SNAPSHOT_ID_TAG.to_string(), snapshot_id.to_string()),
        (TRIGGER_TAG.to_string(), tag_value(trigger)),
        (REASON_TAG.to_string(), tag_value(reason)),
    ];
    if let Some(change) = change_id {
        tags.push((CHANGE_ID_TAG.to_string(), tag_value(change)));
    }
    tags
}

pub const TRIGGER_TAG: &str = "rds-responder:trigger";
/// The snapshot's own id: a copy carrying our tags names another snapshot there.
pub const SNAPSHOT_ID_TAG: &str = "rds-responder:snapshot-id";
pub const REASON_TAG: &str = "rds-responder:reason";
pub const CHANGE_ID_TAG: &str = "rds-responder:change-id";

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
            let allowed = name.is_some_and(|n| {
                config
                    .allowed_schedules
                    .iter()
                    .any(|p| rds_responder::safety::glob_match(p, n))
            });
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
                    .then(|| input.rules.apply(config.retention)),
                dry_run,
                deletes_plan_only: dry_run || !allowed,
                plan_only_reason: (!allowed && !dry_run).then(|| {
                    format!(
                        "schedule {} is not in ALLOWED_SCHEDULES: deletes only plan",
                        name.unwrap_or("(unnamed)")
                    )
                }),
            })
        }
        Route::Manual(ManualSnapshot::PreChange(request)) => {
            let snapshot_id = pre_change_snapshot_id(
                request.db.id(),
                request.change_id.as_deref(),
                invocation_now,
            );
            let trigger = label(
                "manual",
                Some(request.request_id.as_deref().unwrap_or(request_id)),
            );
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
            retention: Some(request.rules.apply(config.retention)),
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

/// What a scheduled run does with one database it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Selection {
    Snapshot,
    /// An instance of a cluster: the cluster's snapshot covers it.
    Covered {
        cluster: String,
        cluster_selected: bool,
    },
    /// The opt-out tag (or, without a target list, no opt-in tag): not acted on at all.
    OptedOut {
        reason: String,
    },
    /// Not snapshotted; `warn` when an operator should look. Retention still applies.
    Skip {
        reason: String,
        warn: bool,
    },
}

/// Which databases a scheduled run snapshots. Listed targets need no opt-in tag; without a
/// list, only databases carrying the opt-in tag. The opt-out tag wins either way. Instances of a
/// cluster are reported as covered by the cluster snapshot (never snapshotted one by one); read
/// replicas and databases that are not available are reported with the reason. Databases not
/// opted in and not listed are left out (counted by the caller).
pub fn select(
    databases: &[DbListing],
    listed: Option<&[DbTarget]>,
    gate: &TagGate,
) -> Vec<(DbTarget, Selection)> {
    let is_listed = |db: &DbTarget| listed.is_some_and(|l| l.contains(db));
    let listing_gate = TagGate {
        opt_out_tag: gate.opt_out_tag.clone(),
        opt_in_tag: None,
    };
    let verdict = |d: &DbListing| {
        if listed.is_some() {
            listing_gate.check::<String>(Ok(&d.tags))
        } else {
            gate.check::<String>(Ok(&d.tags))
        }
    };
    let in_scope = |d: &DbListing| listed.is_none() || is_listed(&d.db);
    let selected_clusters: Vec<&str> = databases
        .iter()
        .filter(|d| matches!(d.db, DbTarget::Cluster(_)) && in_scope(d))
        .filter(|d| verdict(d).allowed() && d.replica_of.is_none() && d.status == "available")
        .map(|d| d.db.id().as_str())
        .collect();
    let mut out = Vec::new();
    for d in databases {
        let member_of = d
            .cluster
            .as_deref()
            .filter(|_| matches!(d.db, DbTarget::Instance(_)));
        let cluster_selected =
            member_of.is_some_and(|c| selected_clusters.iter().any(|s| s.eq_ignore_ascii_case(c)));
        let gate_verdict = verdict(d);
        if !in_scope(d) && !cluster_selected {
            continue;
        }
        if let GateVerdict::NotOptedIn { .. } = gate_verdict {
            if !cluster_selected {
                continue;
            }
        }
        let selection = if let Some(cluster) = member_of {
            Selection::Covered {
                cluster: cluster.to_string(),
                cluster_selected,
            }
        } else if !gate_verdict.allowed() {
            Selection::OptedOut {
                reason: gate_verdict.to_string(),
            }
        } else if let Some(source) = &d.replica_of {
            Selection::Skip {
                reason: format!("read replica of {source}: its source's snapshots cover it"),
                warn: false,
            }
        } else if d.status != "available" {
            let stopped = matches!(d.status.as_str(), "stopped" | "stopping");
            Selection::Skip {
                reason: format!(
                    "{} is {}, not available: no snapshot this run",
                    d.db.id(),
                    d.status
                ),
                warn: !stopped,
            }
        } else {
            Selection::Snapshot
        };
        out.push((d.db.clone(), selection));
    }
    if let Some(listed) = listed {
        for target in listed {
            if !databases.iter().any(|d| &d.db == target) {
                out.push((
                    target.clone(),
                    Selection::Skip {
                        reason: format!("{target} not found"),
                        warn: true,
                    },
                ));
            }
        }
    }
    out
}

/// The databases whose snapshots retention looks at: the ones this run may act on (listed, or
/// opted in and not opted out), never an instance of a cluster. Listed databases that no
/// longer exist are included: their snapshots still follow the rules.
pub fn retention_scope(selections: &[(DbTarget, Selection)]) -> Vec<DbTarget> {
    selections
        .iter()
        .filter(|(_, s)| matches!(s, Selection::Snapshot | Selection::Skip { .. }))
        .map(|(db, _)| db.clone())
        .collect()
}

/// Share of the manual snapshot quota past which the report warns.
pub const QUOTA_WARN_PERCENT: i64 = 80;

/// Whether `used` of `max` is past the warning share (exactly at 80% is not).
pub fn quota_warns(used: i64, max: i64) -> bool {
    max > 0 && used * 100 > max * QUOTA_WARN_PERCENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_backup_that_may_pass_later_is_retried() {
        let failed = |code: Option<&str>| BackupError {
            operation: "CreateBackup",
            table: "orders".into(),
            source: Box::new(rds_responder::aws::SdkFailure {
                service: "DynamoDB",
                code: code.map(String::from),
                message: "injected".into(),
                request_id: None,
            }),
        };
        for code in [
            None,
            Some("ThrottlingException"),
            Some("InternalServerError"),
            Some("LimitExceededException"),
            Some("BackupInUseException"),
            Some("ContinuousBackupsUnavailableException"),
            Some("TableInUseException"),
        ] {
            assert!(backup_retryable(&failed(code)), "{code:?}");
        }
        for code in [
            "TableNotFoundException",
            "AccessDeniedException",
            "ValidationException",
        ] {
            assert!(!backup_retryable(&failed(Some(code))), "{code}");
        }
    }

    #[test]
    fn only_a_create_that_may_pass_later_is_retried() {
        let api = |code: &str| RdsError::Api {
            operation: "CreateDBSnapshot",
            source: rds_responder::testing::sdk_failure(code),
        };
        for code in [
            "Throttling",
            "InternalFailure",
            "InvalidDBInstanceState",
            "InvalidDBInstanceStateFault",
            "InvalidDBClusterStateFault",
        ] {
            assert!(create_retryable(&api(code)), "{code}");
        }
        for code in [
            "SnapshotQuotaExceeded",
            "AccessDenied",
            "InvalidParameterValue",
            "DBInstanceNotFound",
        ] {
            assert!(!create_retryable(&api(code)), "{code}");
        }
        let no_answer = RdsError::Api {
            operation: "CreateDBSnapshot",
            source: rds_responder::aws::SdkFailure {
                service: "RDS",
                code: None,
                message: "timed out".into(),
                request_id: None,
            },
        };
        assert!(create_retryable(&no_answer));
        assert!(create_retryable(&RdsError::Unexpected {
            operation: "CreateDBSnapshot",
            detail: "no snapshot in the answer".into(),
        }));
        for answered in [
            RdsError::NotFound {
                kind: "DB instance",
                id: "orders-db".into(),
            },
            RdsError::AlreadyExists {
                kind: "DB snapshot",
                id: "orders-db-rr-x".into(),
            },
        ] {
            assert!(!create_retryable(&answered), "{answered}");
        }
    }

    fn db(raw: &str) -> RdsIdentifier {
        RdsIdentifier::parse(raw, ResourceKind::DbInstance).unwrap()
    }

    fn at(raw: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(raw)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn names_are_deterministic_and_always_valid() {
        let when = at("2026-11-22T03:04:05Z");
        let orders = db("orders-db");
        assert_eq!(
            pre_change_snapshot_id(&orders, None, when).as_str(),
            "orders-db-rr-pre-20261122-030405"
        );
        assert_eq!(
            pre_change_snapshot_id(&orders, Some("CHG-4711"), when).as_str(),
            "orders-db-rr-chg-4711"
        );
        assert_eq!(
            scheduled_snapshot_id(&orders, when).as_str(),
            "orders-db-rr-20261122-030405"
        );
        for change in [
            "chg 4711 / hotfix",
            "ÄÖÜ-变更-🙂",
            "--",
            "",
            "a--b",
            "trailing-",
            &"x".repeat(1000),
            &"é".repeat(500),
        ] {
            let id = pre_change_snapshot_id(&db(&"d".repeat(63)), Some(change), when);
            assert!(id.as_str().len() <= 255, "{change}: {}", id.as_str().len());
            assert!(
                RdsIdentifier::parse(id.as_str(), ResourceKind::DbSnapshot).is_ok(),
                "{change}: {id}"
            );
            assert_eq!(
                id,
                pre_change_snapshot_id(&db(&"d".repeat(63)), Some(change), when),
                "same request, same name"
            );
        }
    }

    #[test]
    fn long_change_ids_are_cut_to_fit_and_keep_the_database_prefix() {
        let when = at("2026-11-22T03:04:05Z");
        let longest_db = db(&"d".repeat(63));
        for change in [
            "x".repeat(1000),
            "x".repeat(188),
            "x".repeat(189),
            "é".repeat(300),
        ] {
            let id = pre_change_snapshot_id(&longest_db, Some(&change), when);
            assert!(
                id.as_str().starts_with(&format!("{}-rr-", "d".repeat(63))),
                "{id}"
            );
            assert!(id.as_str().len() <= 255, "{}", id.as_str().len());
        }
        // Exactly as long as RDS allows, digest included.
        let cut = pre_change_snapshot_id(&longest_db, Some(&"x".repeat(1000)), when);
        assert_eq!(cut.as_str().len(), 255);
        // 188 characters fit as they are; 189 are cut and tagged.
        let fits = pre_change_snapshot_id(&longest_db, Some(&"x".repeat(188)), when);
        assert_eq!(
            fits.as_str(),
            format!("{}-rr-{}", "d".repeat(63), "x".repeat(188))
        );
    }

    #[test]
    fn change_ids_that_clean_alike_get_different_names() {
        let when = at("2026-11-22T03:04:05Z");
        let orders = db("orders-db");
        let names: Vec<String> = ["chg-1", "CHG 1", "chg_1", "chg--1"]
            .iter()
            .map(|c| pre_change_snapshot_id(&orders, Some(c), when).to_string())
            .collect();
        assert_eq!(names[0], "orders-db-rr-chg-1");
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                assert_ne!(a, b);
            }
        }
        // Case alone is not a change: RDS identifiers are case-insensitive.
        assert_eq!(
            pre_change_snapshot_id(&orders, Some("CHG-1"), when).as_str(),
            "orders-db-rr-chg-1"
        );
    }

    fn ours(id: &str, days_old: i64) -> SnapshotInfo {
        SnapshotInfo {
            id: id.into(),
            db: "orders-db".into(),
            snapshot_type: "manual".into(),
            status: "available".into(),
            created: Some(at("2026-11-22T00:00:00Z") - Duration::days(days_old)),
            tags: [
                (CREATED_BY_TAG.to_string(), CREATED_BY_VALUE.to_string()),
                (SNAPSHOT_ID_TAG.to_string(), id.to_string()),
            ]
            .into(),
            copied_from: None,
            of: rds_responder::backups::SnapshotOf::Instance,
            progress_percent: Some(100),
            allocated_gib: Some(20),
        }
    }

    fn rules(keep_newest: usize, max_age_days: i64, max_deletes: usize) -> Retention {
        Retention {
            keep_newest,
            max_age_days,
            max_deletes,
        }
    }

    fn plan(snapshots: &[SnapshotInfo], rules: &Retention) -> RetentionPlan {
        plan_retention(
            &db("orders-db"),
            snapshots,
            rules,
            at("2026-11-22T00:00:00Z"),
        )
    }

    fn ids(snapshots: &[Doomed]) -> Vec<&str> {
        snapshots.iter().map(|s| s.id.as_str()).collect()
    }

    fn reason<'a>(plan: &'a RetentionPlan, id: &str) -> &'a str {
        &plan
            .kept
            .iter()
            .find(|k| k.id == id)
            .unwrap_or_else(|| panic!("{id} not kept: {plan:#?}"))
            .reason
    }

    #[test]
    fn keeps_the_newest_n_whatever_their_age() {
        let all: Vec<SnapshotInfo> = (0..5)
            .map(|i| ours(&format!("orders-db-rr-{i}"), 100 + i))
            .collect();
        let p = plan(&all, &rules(3, 35, 10));
        assert_eq!(
            ids(&p.delete),
            ["orders-db-rr-4", "orders-db-rr-3"],
            "oldest first"
        );
        for i in 0..3 {
            assert_eq!(
                reason(&p, &format!("orders-db-rr-{i}")),
                "one of the newest 3 of ours"
            );
        }
        // A floor of 0 is read as 1: the last good copy always stays.
        let p = plan(&all, &rules(0, 35, 10));
        assert_eq!(p.delete.len(), 4);
        assert_eq!(reason(&p, "orders-db-rr-0"), "one of the newest 1 of ours");
    }

    #[test]
    fn the_age_limit_applies_only_past_the_floor_and_exactly_at_it_keeps() {
        let all = vec![
            ours("orders-db-rr-a", 1),
            ours("orders-db-rr-b", 35),
            ours("orders-db-rr-c", 36),
        ];
        let p = plan(&all, &rules(1, 35, 10));
        assert_eq!(ids(&p.delete), ["orders-db-rr-c"]);
        assert_eq!(
            reason(&p, "orders-db-rr-b"),
            "younger than the 35 day limit"
        );
    }

    #[test]
    fn touches_nothing_that_is_not_ours() {
        let mut automated = ours("rds:orders-db-2026-01-01-03-00", 300);
        automated.snapshot_type = "automated".into();
        let mut backup = ours("awsbackup:job-1", 300);
        backup.snapshot_type = "awsbackup".into();
        let mut shared = ours("orders-db-rr-shared", 300);
        shared.snapshot_type = "shared".into();
        let mut copied = ours("orders-db-rr-copied", 300);
        copied.copied_from = Some("arn:aws:rds:eu-west-1:123456789012:snapshot:x".into());
        let mut untagged = ours("orders-db-rr-untagged", 300);
        untagged.tags.clear();
        let mut wrong_tag = ours("orders-db-rr-wrongtag", 300);
        wrong_tag
            .tags
            .insert(CREATED_BY_TAG.into(), "someone-else".into());
        let foreign_name = ours("orders-db-manual-20260101", 300);
        let mut in_progress = ours("orders-db-rr-creating", 300);
        in_progress.status = "creating".into();
        let mut other_db = ours("orders-db-2-rr-x", 300);
        other_db.db = "orders-db-2".into();
        let all = vec![
            ours("orders-db-rr-newest", 0),
            automated,
            backup,
            shared,
            copied,
            untagged,
            wrong_tag,
            foreign_name,
            in_progress,
            other_db,
        ];
        let p = plan(&all, &rules(1, 35, 10));
        assert!(p.delete.is_empty(), "{:#?}", p.delete);
        for (id, why) in [
            ("rds:orders-db-2026-01-01-03-00", "automated snapshot"),
            ("awsbackup:job-1", "AWS Backup snapshot"),
            (
                "orders-db-rr-shared",
                "not a manual snapshot of this account (shared or public)",
            ),
            ("orders-db-rr-copied", "copied in from another snapshot"),
            (
                "orders-db-rr-untagged",
                "not tagged CreatedBy=rds-responder",
            ),
            (
                "orders-db-rr-wrongtag",
                "not tagged CreatedBy=rds-responder",
            ),
            ("orders-db-manual-20260101", "not named <db>-rr-..."),
            ("orders-db-rr-creating", "status creating, not available"),
        ] {
            assert_eq!(reason(&p, id), why, "{id}");
        }
        assert!(
            !p.kept.iter().any(|k| k.id == "orders-db-2-rr-x"),
            "another database's snapshots are not this plan's"
        );
    }

    #[test]
    fn either_mark_of_an_automated_or_backup_snapshot_is_enough() {
        let mut typed_automated = ours("orders-db-rr-typed-auto", 300);
        typed_automated.snapshot_type = "automated".into();
        let named_automated = ours("rds:orders-db-rr-named", 300);
        let mut typed_backup = ours("orders-db-rr-typed-backup", 300);
        typed_backup.snapshot_type = "awsbackup".into();
        let named_backup = ours("awsbackup:orders-db-rr-named", 300);
        let all = vec![
            ours("orders-db-rr-newest", 0),
            typed_automated,
            named_automated,
            typed_backup,
            named_backup,
        ];
        let p = plan(&all, &rules(1, 35, 10));
        assert!(p.delete.is_empty(), "{:#?}", p.delete);
        assert_eq!(reason(&p, "orders-db-rr-typed-auto"), "automated snapshot");
        assert_eq!(reason(&p, "rds:orders-db-rr-named"), "automated snapshot");
        assert_eq!(
            reason(&p, "orders-db-rr-typed-backup"),
            "AWS Backup snapshot"
        );
        assert_eq!(
            reason(&p, "awsbackup:orders-db-rr-named"),
            "AWS Backup snapshot"
        );
    }

    #[test]
    fn a_snapshot_without_a_creation_time_is_kept() {
        let mut unknown = ours("orders-db-rr-unknown", 0);
        unknown.created = None;
        let all = vec![
            ours("orders-db-rr-a", 100),
            ours("orders-db-rr-b", 200),
            unknown,
        ];
        let p = plan(&all, &rules(1, 35, 10));
        assert_eq!(reason(&p, "orders-db-rr-unknown"), "creation time unknown");
        assert_eq!(ids(&p.delete), ["orders-db-rr-b"]);
    }

    #[test]
    fn a_snapshot_of_a_database_whose_name_extends_ours_is_not_ours() {
        // `orders-rr-` must not match `orders-db-rr-...` and the other way round.
        let mut s = ours("orders-db-rr-1", 300);
        s.db = "orders".into();
        let p = plan_retention(
            &db("orders"),
            &[s],
            &rules(0, 1, 10),
            at("2026-11-22T00:00:00Z"),
        );
        assert!(p.delete.is_empty());
        assert_eq!(reason(&p, "orders-db-rr-1"), "not named <db>-rr-...");
    }

    #[test]
    fn the_cap_aborts_every_delete_and_exactly_at_the_cap_deletes() {
        let all: Vec<SnapshotInfo> = (0..4)
            .map(|i| ours(&format!("orders-db-rr-{i}"), 100 + i))
            .collect();
        let p = plan(&all, &rules(1, 35, 3));
        assert_eq!(p.delete.len(), 3);
        assert!(!deletions_capped(p.delete.len(), &rules(1, 35, 3)));
        assert!(deletions_capped(p.delete.len(), &rules(1, 35, 2)));
        assert!(!deletions_capped(0, &rules(1, 35, 0)));
        assert!(deletions_capped(1, &rules(1, 35, 0)));
    }

    #[test]
    fn after_a_failed_scheduled_snapshot_the_newest_available_stays() {
        // The newest available snapshot of the database is ours and past the floor only when
        // other, newer ones of ours are not available: it must survive.
        let mut newer = ours("orders-db-rr-new", 0);
        newer.status = "failed".into();
        let all = vec![
            newer,
            ours("orders-db-rr-old", 100),
            ours("orders-db-rr-older", 200),
        ];
        let p = plan(&all, &rules(1, 35, 10));
        assert_eq!(
            reason(&p, "orders-db-rr-old"),
            "one of the newest 1 of ours"
        );
        assert_eq!(ids(&p.delete), ["orders-db-rr-older"]);
        let mut automated_newest = ours("rds:orders-db-auto", 50);
        automated_newest.snapshot_type = "automated".into();
        let all = vec![
            ours("orders-db-rr-a", 60),
            ours("orders-db-rr-b", 70),
            automated_newest,
        ];
        let p = plan(&all, &rules(1, 35, 10));
        assert_eq!(ids(&p.delete), ["orders-db-rr-b"]);
    }

    #[test]
    fn the_plan_does_not_depend_on_listing_order() {
        let mut all: Vec<SnapshotInfo> = (0..6)
            .map(|i| ours(&format!("orders-db-rr-{i}"), 40 + (i % 3)))
            .collect();
        let first = plan(&all, &rules(2, 35, 10));
        all.reverse();
        let second = plan(&all, &rules(2, 35, 10));
        assert_eq!(ids(&first.delete), ids(&second.delete));
    }

    #[test]
    fn a_copy_carrying_our_tags_is_not_ours() {
        let mut copy = ours("orders-db-rr-legal-hold", 300);
        copy.tags.insert(
            SNAPSHOT_ID_TAG.into(),
            "orders-db-rr-20260101-030000".into(),
        );
        let mut untagged_id = ours("orders-db-rr-by-hand", 300);
        untagged_id.tags.remove(SNAPSHOT_ID_TAG);
        let mut upper = ours("orders-db-rr-upper", 300);
        upper
            .tags
            .insert(SNAPSHOT_ID_TAG.into(), "ORDERS-DB-RR-UPPER".into());
        let all = vec![ours("orders-db-rr-new", 0), copy, untagged_id, upper];
        let p = plan(&all, &rules(1, 35, 10));
        let why = "its rds-responder:snapshot-id tag does not name it (a copy, or made by hand)";
        assert_eq!(reason(&p, "orders-db-rr-legal-hold"), why);
        assert_eq!(reason(&p, "orders-db-rr-by-hand"), why);
        assert_eq!(
            ids(&p.delete),
            ["orders-db-rr-upper"],
            "ids compare without case"
        );
    }

    fn backup(name: &str, table: &str) -> BackupInfo {
        BackupInfo {
            arn: format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}/backup/{name}"),
            name: name.into(),
            table: table.into(),
            status: "AVAILABLE".into(),
            backup_type: "USER".into(),
            created: Some(at("2025-01-01T00:00:00Z")),
            size_bytes: None,
        }
    }

    #[test]
    fn only_backups_named_exactly_as_we_name_them_are_ours() {
        let table = TableName::parse("orders").unwrap();
        assert_eq!(
            backup_not_ours(&backup("orders-rr-20260101-030000", "orders"), &table),
            None
        );
        for (name, on, why) in [
            (
                "orders-rr-keep-forever",
                "orders",
                "not named <table>-rr-<yyyymmdd-hhmmss>",
            ),
            (
                "orders-rr-20260101-0300001",
                "orders",
                "not named <table>-rr-<yyyymmdd-hhmmss>",
            ),
            (
                "orders-rr-2026010103-0000",
                "orders",
                "not named <table>-rr-<yyyymmdd-hhmmss>",
            ),
            (
                "orders-rr-20260101_030000",
                "orders",
                "not named <table>-rr-<yyyymmdd-hhmmss>",
            ),
            (
                "orders-rr-2026o101-030000",
                "orders",
                "not named <table>-rr-<yyyymmdd-hhmmss>",
            ),
            (
                "orders-rr-20260101-030000",
                "orders-rr-archive",
                "a backup of another table",
            ),
        ] {
            assert_eq!(
                backup_not_ours(&backup(name, on), &table),
                Some(why),
                "{name} of {on}"
            );
        }
        let mut system = backup("orders-rr-20260101-030000", "orders");
        system.backup_type = "SYSTEM".into();
        assert_eq!(
            backup_not_ours(&system, &table),
            Some("not an on-demand (USER) backup")
        );
        // The longest table name still leaves a name DynamoDB accepts.
        let long = TableName::parse(&"t".repeat(255)).unwrap();
        let name = backup_name(&long, at("2026-11-22T03:00:00Z"));
        assert_eq!(name.len(), 255);
        assert_eq!(backup_not_ours(&backup(&name, long.as_str()), &long), None);
    }

    #[test]
    fn tag_values_hold_only_what_rds_accepts() {
        assert_eq!(tag_value("migración 42: índice"), "migración 42: índice");
        assert_eq!(tag_value("变更 ΔΣ Ж かな 한국"), "变更 ΔΣ Ж かな 한국");
        assert_eq!(tag_value("माइग्रेशन"), "_________");
        assert_eq!(
            tag_value("a\tb!\"#$%&'()*,;<>?[]^`{|}~"),
            "a_b_______________________"
        );
        assert_eq!(tag_value("rds: engine upgrade"), "_rds: engine upgrade");
        assert_eq!(tag_value("AWS:x"), "_AWS:x");
        assert_eq!(tag_value(&"é".repeat(300)).chars().count(), 256);
        assert_eq!(
            tag_value(&format!("aws:{}", "x".repeat(300)))
                .chars()
                .count(),
            256
        );
        assert_eq!(tag_value("×÷"), "__", "Latin-1 signs are not letters");
    }

    #[test]
    fn case_alone_is_not_a_change() {
        let when = at("2026-11-22T03:04:05Z");
        let orders = db("orders-db");
        assert_eq!(
            pre_change_snapshot_id(&orders, Some("CHG 1"), when),
            pre_change_snapshot_id(&orders, Some("chg 1"), when)
        );
        assert_ne!(
            pre_change_snapshot_id(&orders, Some("chg 1"), when),
            pre_change_snapshot_id(&orders, Some("chg 2"), when)
        );
    }

    #[test]
    fn the_quota_warns_above_eighty_percent_only() {
        assert!(!quota_warns(80, 100));
        assert!(quota_warns(81, 100));
        assert!(!quota_warns(0, 0), "no quota reported");
        assert!(!quota_warns(5, 0), "no quota reported, whatever is used");
        assert!(quota_warns(1, 1));
    }
}
