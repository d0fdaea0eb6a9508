//! What is ours: the one ownership rule retention, a create and a completion event share.

use rds_responder::backups::{BackupInfo, SnapshotInfo, SnapshotOf};
use rds_responder::trigger::{DbTarget, TableName};

use super::naming::{
    backup_prefix, is_timestamp, CREATED_BY_TAG, CREATED_BY_VALUE, NAME_MARK, REASON_TAG,
    SNAPSHOT_ID_TAG,
};

/// Why a snapshot is not one this tool made of database `db`, or `None` if it is: a manual
/// snapshot of this account, not copied in, tagged `CreatedBy=rds-responder`, named
/// `<db>-rr-...` and naming itself in its `rds-responder:snapshot-id` tag. The one ownership
/// rule: retention deletes only these, a create counts only these as its own earlier try
/// ([`ours_of`]), and a completion event is reported only for these.
pub fn not_ours(snapshot: &SnapshotInfo, db: &str) -> Option<&'static str> {
    let id = snapshot.id.to_ascii_lowercase();
    let db = db.to_ascii_lowercase();
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

/// Whether a snapshot found under this request's name was made for the same change: change
/// ids compare as the name treats them (without case), and no change id matches only none.
pub fn same_change(recorded: Option<&str>, asked: Option<&str>) -> bool {
    match (recorded, asked) {
        (Some(recorded), Some(asked)) => recorded.eq_ignore_ascii_case(asked),
        (None, None) => true,
        _ => false,
    }
}

/// The reason an earlier request gave for a snapshot this request found rather than made,
/// when it differs from this request's: then the snapshot is not one of this moment.
pub fn earlier_reason(
    found: &SnapshotInfo,
    made_now: bool,
    asked_reason: Option<&str>,
) -> Option<String> {
    found
        .tags
        .get(REASON_TAG)
        .filter(|recorded| !made_now && Some(recorded.as_str()) != asked_reason)
        .cloned()
}

/// Whether `snapshot` is this tool's snapshot of `db` itself ([`not_ours`] finds nothing, and
/// it is of that instance or that cluster): what a create that finds its name taken counts as
/// its own earlier try.
pub fn ours_of(snapshot: &SnapshotInfo, db: &DbTarget) -> bool {
    snapshot.db.eq_ignore_ascii_case(db.id().as_str())
        && snapshot.of == SnapshotOf::of(db)
        && not_ours(snapshot, db.id().as_str()).is_none()
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
