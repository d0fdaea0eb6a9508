//! What snapshotter names and tags: deterministic names (a retry finds the snapshot it made
//! instead of making another), always valid identifiers, tag values RDS accepts.

use chrono::{DateTime, Utc};

use rds_responder::trigger::{RdsIdentifier, ResourceKind, TableName};

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

/// Hex characters of the request's digest in a pre-change name without a change id: enough
/// that two requests never share a name (a shared name would hand one request the other's
/// snapshot).
const REQUEST_DIGEST_CHARS: usize = 16;

/// The pre-change snapshot of `db`: `<db>-rr-<change id>` when a change id is given (cleaned to
/// identifier characters), else `<db>-rr-pre-<digest of the request>`, where the request is its
/// `request_id` or else the invocation's (which Lambda's retries keep). Always a valid RDS
/// snapshot identifier, and the same for the same request, so a retry finds the snapshot its
/// first try made instead of making a second.
pub fn pre_change_snapshot_id(
    db: &RdsIdentifier,
    change_id: Option<&str>,
    request: &str,
) -> RdsIdentifier {
    let prefix = format!("{db}{NAME_MARK}");
    let room = MAX_SNAPSHOT_ID - prefix.len();
    let tail = match change_id {
        Some(change) => {
            let tail = clean(change, room);
            if is_timestamp(&tail) || tail.starts_with("pre-") {
                // Shaped like a name the tool gives itself (a schedule's stamp, a request's
                // `pre-` digest): kept apart from those by the change id's digest.
                let head = &tail[..tail.len().min(room - DIGEST_CHARS - 1)];
                format!(
                    "{}-{}",
                    head.trim_end_matches('-'),
                    digest(&change.to_lowercase())
                )
            } else {
                tail
            }
        }
        None => format!(
            "pre-{}",
            &rds_responder::ledger::payload_digest(&serde_json::Value::String(request.to_string()))
                [..REQUEST_DIGEST_CHARS]
        ),
    };
    snapshot_id(format!("{prefix}{tail}"))
}

/// The scheduled snapshot of `db` for a run scheduled at `at`: `<db>-rr-<yyyymmdd-hhmmss>`.
pub fn scheduled_snapshot_id(db: &RdsIdentifier, at: DateTime<Utc>) -> RdsIdentifier {
    snapshot_id(format!("{db}{NAME_MARK}{}", at.format("%Y%m%d-%H%M%S")))
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

/// `yyyymmdd-hhmmss`, as this tool stamps names.
pub(super) fn is_timestamp(text: &str) -> bool {
    text.len() == 15
        && text
            .char_indices()
            .all(|(i, c)| if i == 8 { c == '-' } else { c.is_ascii_digit() })
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
