//! What retention deletes: only copies that are ours by tag *and* name, manual and available;
//! always the newest N of them kept whatever their age, the age limit applied only past that
//! floor, and nothing deleted when the plan exceeds the cap.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use rds_responder::backups::{BackupInfo, SnapshotInfo};
use rds_responder::trigger::{RdsIdentifier, TableName};

use super::ownership::{backup_not_ours, not_ours};
use crate::request::{Retention, RetentionOverride};

/// The rules a request runs by: the configured ones are the least it keeps. It may keep more
/// (a higher floor, a longer age) and delete fewer (a lower cap), never the other way.
pub fn retention_with(asked: &RetentionOverride, base: Retention) -> Retention {
    Retention {
        keep_newest: asked
            .keep_newest
            .map_or(base.keep_newest, |v| (v as usize).max(base.keep_newest)),
        max_age_days: asked
            .max_age_days
            .map_or(base.max_age_days, |v| i64::from(v).max(base.max_age_days)),
        // The configured cap is a ceiling: a request may lower it, never raise it.
        max_deletes: asked
            .max_deletes
            .map_or(base.max_deletes, |v| (v as usize).min(base.max_deletes)),
    }
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
            not_ours: not_ours(s, db.as_str()),
            available: s.status == "available",
            status: s.status.clone(),
            created: s.created,
        })
        .collect();
    plan_candidates(candidates, rules, now)
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
