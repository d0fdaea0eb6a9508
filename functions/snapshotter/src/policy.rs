//! What snapshotter names and what it may delete: pure, every rule tested at its edges.
//!
//! Names are deterministic, so a retry finds the snapshot it made instead of making another.
//! Retention deletes only snapshots that are ours by tag *and* name, manual and available,
//! always keeps the newest N of them whatever their age, applies the age limit only past that
//! floor, and aborts (deletes nothing) when the plan exceeds the cap.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use rds_responder::trigger::{RdsIdentifier, ResourceKind};

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
    let tag = digest(raw);
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

/// A snapshot as listed (tags come with the describe call).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotInfo {
    /// As RDS lists it: `rds:` for automated, `awsbackup:` for AWS Backup snapshots.
    pub id: String,
    /// The DB instance or cluster it is of.
    pub db: String,
    /// `manual`, `automated`, `shared`, `public` or `awsbackup`.
    pub snapshot_type: String,
    pub status: String,
    pub created: Option<DateTime<Utc>>,
    pub tags: BTreeMap<String, String>,
    /// Set when it was copied in from another snapshot (another region or account).
    pub copied_from: Option<String>,
}

/// The retention rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The newest this many of ours are kept whatever their age (at least 1).
    pub keep_newest: usize,
    /// Past that floor, ours older than this are deleted.
    pub max_age: Duration,
    /// More deletions than this in one run abort the run before any delete.
    pub max_deletes: usize,
}

/// Why a snapshot is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub id: String,
    pub reason: String,
}

/// The decision for one database's snapshots.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetentionPlan {
    /// Oldest first.
    pub delete: Vec<SnapshotInfo>,
    pub kept: Vec<Kept>,
    pub cap: usize,
    /// More to delete than the cap: nothing is deleted.
    pub cap_exceeded: bool,
}

impl RetentionPlan {
    /// What to delete: nothing when the cap is exceeded.
    pub fn to_delete(&self) -> &[SnapshotInfo] {
        if self.cap_exceeded {
            &[]
        } else {
            &self.delete
        }
    }
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
    None
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
    let mut kept = Vec::new();
    let mut ours = Vec::new();
    let of_db: Vec<&SnapshotInfo> = snapshots
        .iter()
        .filter(|s| s.db.eq_ignore_ascii_case(db.as_str()))
        .collect();
    for snapshot in &of_db {
        let keep = |reason: String| Kept {
            id: snapshot.id.clone(),
            reason,
        };
        match not_ours(snapshot, db) {
            Some(reason) => kept.push(keep(reason.into())),
            None if snapshot.status != "available" => {
                kept.push(keep(format!("status {}, not available", snapshot.status)))
            }
            None if snapshot.created.is_none() => kept.push(keep("creation time unknown".into())),
            None => ours.push(*snapshot),
        }
    }
    // Newest first; the id breaks ties so the plan never depends on listing order.
    ours.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
    let floor = rules.keep_newest.max(1);
    let mut delete = Vec::new();
    for (rank, snapshot) in ours.into_iter().enumerate() {
        let keep = |reason: String| Kept {
            id: snapshot.id.clone(),
            reason,
        };
        let age = snapshot.created.map(|c| now - c).unwrap_or_default();
        if rank < floor {
            kept.push(keep(format!("one of the newest {floor} of ours")));
        } else if age <= rules.max_age {
            kept.push(keep(format!(
                "younger than the {} day limit",
                rules.max_age.num_days()
            )));
        } else {
            delete.push(snapshot.clone());
        }
    }
    delete.reverse();
    RetentionPlan {
        cap_exceeded: delete.len() > rules.max_deletes,
        cap: rules.max_deletes,
        delete,
        kept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            tags: [(CREATED_BY_TAG.to_string(), CREATED_BY_VALUE.to_string())].into(),
            copied_from: None,
        }
    }

    fn rules(keep_newest: usize, max_age_days: i64, max_deletes: usize) -> Retention {
        Retention {
            keep_newest,
            max_age: Duration::days(max_age_days),
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

    fn ids(snapshots: &[SnapshotInfo]) -> Vec<&str> {
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
        let at_cap = plan(&all, &rules(1, 35, 3));
        assert!(!at_cap.cap_exceeded);
        assert_eq!(at_cap.to_delete().len(), 3);
        let over = plan(&all, &rules(1, 35, 2));
        assert!(over.cap_exceeded);
        assert!(over.to_delete().is_empty());
        assert_eq!(over.delete.len(), 3, "the plan still shows what would go");
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
}
