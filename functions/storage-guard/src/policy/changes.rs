//! When the next storage change is allowed. AWS states the rule two ways (six hours after the
//! last change or until optimization ends, whichever is longer; and: optimization finished and
//! fewer than four changes in the past 24 hours): both are applied, from what the instance
//! and its events say, and the later answer wins.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use rds_responder::rds::EventRecord;

/// Six hours after a storage change, no other is allowed.
pub const COOLDOWN_HOURS: i64 = 6;
/// The newer text: fewer than four changes in the past 24 hours.
pub const CHANGES_PER_DAY: usize = 4;
/// Changes counted against `MAX_CHANGES_14_DAYS`.
pub const COUNT_DAYS: i64 = 14;
/// An event and our own record of one change this close together are one change.
const SAME_CHANGE_MINUTES: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeSource {
    /// An RDS event of the instance (autoscaling's, or a change by hand or by code).
    Event,
    /// The tag storage-guard writes before every change it makes.
    OurRecord,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PastChange {
    pub at: DateTime<Utc>,
    pub source: ChangeSource,
    pub autoscaling: bool,
    pub detail: String,
}

/// Whether an event message tells of a storage change starting: "Applying modification to
/// allocated storage", "Applying autoscaling-initiated modification to allocated storage", or a
/// storage type/IOPS change. A "Finished applying ..." message is the same change ending.
pub fn storage_change_started(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    let storage = m.contains("allocated storage")
        || m.contains("storage type")
        || m.contains("provisioned iops")
        || m.contains("storage throughput")
        || m.contains("storage size");
    let starting = m.contains("applying") && !m.contains("finished");
    storage && starting
}

/// Our record of a change, as the tag on the instance holds it:
/// `<RFC 3339> <state> <what> by storage-guard <request>`, where the state is `sent` (written
/// before the change is sent: it counts, even if the run ends there) or `failed` (RDS refused
/// it: nothing changed), and `<what>` is `<from> to <to> GiB ...` or `max <from> to <to> GiB`
/// (RDS tag values take letters, digits, spaces and `_.:/=+-@` only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OurRecord {
    pub at: DateTime<Utc>,
    pub sent: bool,
    /// A storage change (`false`: only autoscaling's maximum moved).
    pub storage: bool,
    /// `(from, to)` GiB of a storage change.
    pub grew: Option<(i32, i32)>,
}

pub const RECORD_SENT: &str = "sent";
pub const RECORD_FAILED: &str = "failed";

/// Reads our tag; `None` when it is not one of ours.
pub fn read_record(tag_value: &str) -> Option<OurRecord> {
    let mut words = tag_value.split_whitespace();
    let at = DateTime::parse_from_rfc3339(words.next()?)
        .ok()?
        .with_timezone(&Utc);
    let sent = match words.next()? {
        RECORD_SENT => true,
        RECORD_FAILED => false,
        _ => return None,
    };
    let first = words.next()?;
    let storage = first != "max";
    let grew = match (storage, words.next(), words.next()) {
        (true, Some("to"), Some(to)) => first.parse().ok().zip(to.parse().ok()),
        _ => None,
    };
    Some(OurRecord {
        at,
        sent,
        storage,
        grew,
    })
}

/// Every storage change the events and our record show, newest first, one per change.
pub fn past_changes(events: &[EventRecord], our_record: Option<&str>) -> Vec<PastChange> {
    let mut changes: Vec<PastChange> = events
        .iter()
        .filter(|e| storage_change_started(&e.message))
        .filter_map(|e| {
            Some(PastChange {
                at: e.time?,
                source: ChangeSource::Event,
                autoscaling: e.message.to_ascii_lowercase().contains("autoscaling"),
                detail: e.message.clone(),
            })
        })
        .collect();
    // Only a storage change that was sent counts: a raised maximum is none, a refused one did
    // not happen.
    let record = our_record.and_then(|r| Some((r, read_record(r)?)));
    if let Some((text, record)) = record.filter(|(_, r)| r.sent && r.storage) {
        let at = record.at;
        let seen = changes
            .iter()
            .any(|c| (c.at - at).num_minutes().abs() <= SAME_CHANGE_MINUTES);
        if !seen {
            changes.push(PastChange {
                at,
                source: ChangeSource::OurRecord,
                autoscaling: false,
                detail: text.to_string(),
            });
        }
    }
    changes.sort_by_key(|c| std::cmp::Reverse(c.at));
    changes
}

/// When the next storage change may be made, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NextChange {
    /// The earliest time the rules allow; while optimization runs it is later than this, by
    /// an amount RDS does not say.
    pub not_before: DateTime<Utc>,
    pub optimizing: bool,
    pub reasons: Vec<String>,
    pub changes_last_24h: usize,
    pub changes_last_14d: usize,
}

impl NextChange {
    pub fn allowed_now(&self, now: DateTime<Utc>) -> bool {
        !self.optimizing && self.not_before <= now
    }

    /// The words for "when": a time, or "when optimization ends (not before ...)".
    pub fn when(&self, now: DateTime<Utc>) -> String {
        let at = stamp(self.not_before);
        match (self.optimizing, self.not_before <= now) {
            (true, true) => "when storage optimization ends (RDS does not say when)".into(),
            (true, false) => format!("when storage optimization ends, and not before {at}"),
            (false, true) => "now".into(),
            (false, false) => format!("at {at}"),
        }
    }
}

pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn next_change(status: &str, changes: &[PastChange], now: DateTime<Utc>) -> NextChange {
    let mut not_before = now;
    let mut reasons = Vec::new();
    if let Some(last) = changes.first() {
        let after = last.at + Duration::hours(COOLDOWN_HOURS);
        if after > now {
            not_before = after;
            reasons.push(format!(
                "{COOLDOWN_HOURS} hours after the last storage change ({})",
                stamp(last.at)
            ));
        }
    }
    let day_ago = now - Duration::hours(24);
    let last_day: Vec<&PastChange> = changes.iter().filter(|c| c.at > day_ago).collect();
    if last_day.len() >= CHANGES_PER_DAY {
        // The fourth-newest change has to leave the 24-hour window.
        let after = last_day[CHANGES_PER_DAY - 1].at + Duration::hours(24);
        not_before = not_before.max(after);
        reasons.push(format!(
            "{} storage changes in the past 24 hours (RDS allows another only with fewer than {CHANGES_PER_DAY})",
            last_day.len()
        ));
    }
    let optimizing = status.eq_ignore_ascii_case("storage-optimization");
    if optimizing {
        reasons.push(
            "storage optimization of the last change is still running (RDS allows no other storage change until it ends)"
                .into(),
        );
    }
    let fortnight = now - Duration::days(COUNT_DAYS);
    NextChange {
        not_before,
        optimizing,
        reasons,
        changes_last_24h: last_day.len(),
        changes_last_14d: changes.iter().filter(|c| c.at > fortnight).count(),
    }
}
