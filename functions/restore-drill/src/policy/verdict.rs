//! What a drill's readings mean: the restored copy against its source (schema, rows, SQL
//! checks, freshness, read speed) and the recovery times against their targets. Pure: the
//! handler reads both databases, these rules judge.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use rds_responder::report::Outcome;
use rds_responder::sql::verify::{DataReport, TableRef};
use rds_responder::table_recovery::{ItemCount, TableSettings};

/// The end of an item comparison a paced count's time cut short: a validation says TIMED_OUT.
pub const CUT_SHORT: &str = "not compared, cut short";

/// How many names a difference lists before it says "and N more".
pub const NAMED: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub name: String,
    pub outcome: Outcome,
    pub detail: String,
}

fn verdict(name: impl Into<String>, outcome: Outcome, detail: impl Into<String>) -> Verdict {
    Verdict {
        name: name.into(),
        outcome,
        detail: detail.into(),
    }
}

fn listed(items: &[&String]) -> String {
    let mut text: Vec<String> = items.iter().take(NAMED).map(|s| s.to_string()).collect();
    if items.len() > NAMED {
        text.push(format!("and {} more", items.len() - NAMED));
    }
    text.join(", ")
}

/// The restored schema must hold every column of the source's, with its type.
pub fn schema(source: &[String], restored: &[String]) -> Verdict {
    let missing: Vec<&String> = source.iter().filter(|c| !restored.contains(c)).collect();
    let extra: Vec<&String> = restored.iter().filter(|c| !source.contains(c)).collect();
    match (missing.is_empty(), extra.is_empty()) {
        // Nothing seen on either side is nothing compared (a database not selected, or empty).
        (true, true) if source.is_empty() => verdict(
            "schema",
            Outcome::Warn,
            "no column on either side: nothing compared (on PostgreSQL DB_NAME, on MySQL the first listed table, names the database read)",
        ),
        (true, true) => verdict(
            "schema",
            Outcome::Pass,
            format!("{} columns, the same as the source's", source.len()),
        ),
        (false, _) => verdict(
            "schema",
            Outcome::Fail,
            format!(
                "{} of the source's {} columns are missing or differ in the restore: {}",
                missing.len(),
                source.len(),
                listed(&missing)
            ),
        ),
        // Columns added at the source after the recovery point are missing in the restore;
        // columns only the restore has were dropped at the source since.
        (true, false) => verdict(
            "schema",
            Outcome::Warn,
            format!(
                "the restore has {} columns the source no longer has (changed since the recovery point?): {}",
                extra.len(),
                listed(&extra)
            ),
        ),
    }
}

/// A table's restored rows against the source's: within the tolerance (the source kept changing
/// after the recovery point); an empty source allows an empty restore.
pub fn rows(
    table: &TableRef,
    source: &Result<i64, String>,
    restored: &Result<i64, String>,
    tolerance_percent: f64,
) -> Verdict {
    counted(
        format!("rows {table}"),
        "rows",
        source,
        restored,
        tolerance_percent,
    )
}

/// A DynamoDB table's restored items against the source's, as `rows`; a count cut short at the
/// scan bound is only a lower bound: it warns, never passes or fails.
pub fn items(
    source: &Result<ItemCount, String>,
    restored: &Result<ItemCount, String>,
    tolerance_percent: f64,
) -> Verdict {
    match (source, restored) {
        // A paced count the run's time stopped: nothing is known of the difference.
        (Ok(s), Ok(r)) if s.cut_short || r.cut_short => verdict(
            "items",
            Outcome::Warn,
            format!(
                "counted {}{} items in the restore and {}{} in the source before the run's time ran short (the source's count is paced to spare its read capacity): {CUT_SHORT}",
                r.items,
                if r.complete { "" } else { "+" },
                s.items,
                if s.complete { "" } else { "+" },
            ),
        ),
        // The source holds at least this many: a whole restore short of it by more than the
        // tolerance lost items.
        (Ok(s), Ok(r))
            if !s.complete
                && r.complete
                && (r.items as f64) < (s.items as f64) * (1.0 - tolerance_percent / 100.0) =>
        {
            verdict(
                "items",
                Outcome::Fail,
                format!(
                    "{} items restored; the source holds at least {} (counted to the scan bound, DRILL_MAX_SCAN_ITEMS): over {tolerance_percent}% short",
                    r.items, s.items
                ),
            )
        }
        (Ok(s), Ok(r)) if !s.complete || !r.complete => verdict(
            "items",
            Outcome::Warn,
            format!(
                "counted {}{} items in the restore and {}{} in the source before the scan bound (DRILL_MAX_SCAN_ITEMS): not compared",
                r.items,
                if r.complete { "" } else { "+" },
                s.items,
                if s.complete { "" } else { "+" },
            ),
        ),
        _ => {
            let whole = |c: &Result<ItemCount, String>| {
                c.clone()
                    .map(|c| i64::try_from(c.items).unwrap_or(i64::MAX))
            };
            counted(
                "items".into(),
                "items",
                &whole(source),
                &whole(restored),
                tolerance_percent,
            )
        }
    }
}

fn counted(
    name: String,
    unit: &str,
    source: &Result<i64, String>,
    restored: &Result<i64, String>,
    tolerance_percent: f64,
) -> Verdict {
    match (source, restored) {
        (_, Err(e)) => verdict(
            name,
            Outcome::Fail,
            format!("could not be counted in the restore: {e}"),
        ),
        (Err(e), Ok(r)) => verdict(
            name,
            Outcome::Warn,
            format!("{r} {unit} restored; the source could not be counted to compare: {e}"),
        ),
        (Ok(0), Ok(r)) => verdict(
            name,
            Outcome::Pass,
            format!("{r} {unit} restored; the source's table is empty now"),
        ),
        (Ok(s), Ok(r)) => {
            let off = ((r - s).abs() as f64) * 100.0 / (*s as f64);
            let outcome = if off <= tolerance_percent {
                Outcome::Pass
            } else {
                Outcome::Fail
            };
            verdict(
                name,
                outcome,
                format!(
                    "{r} {unit} restored, {s} in the source: {off:.1}% apart (tolerance {tolerance_percent}%)"
                ),
            )
        }
    }
}

/// An operator's SQL check on the restore: it must return true.
pub fn sql_check(name: &str, result: &Result<bool, String>) -> Verdict {
    let name = format!("sql {name}");
    match result {
        Ok(true) => verdict(name, Outcome::Pass, "returned true on the restore"),
        Ok(false) => verdict(
            name,
            Outcome::Fail,
            "returned false (or no row) on the restore",
        ),
        Err(e) => verdict(name, Outcome::Fail, format!("failed on the restore: {e}")),
    }
}

/// The data a restore loses: from the newest value it holds to the newest the source held when
/// the drill began (no writes since means nothing lost), against the RPO target when the drill
/// restored the latest restorable time; a snapshot restore loses everything after the snapshot.
pub fn observed_rpo(
    started: DateTime<Utc>,
    source_newest: Option<f64>,
    restored_newest: Option<f64>,
    point_in_time: bool,
    target: Duration,
) -> (Verdict, Option<i64>) {
    let name = "observed rpo";
    let Some(restored) = restored_newest else {
        return match source_newest {
            None => (
                verdict(
                    name,
                    Outcome::Pass,
                    "the column is empty in the source and the restore",
                ),
                None,
            ),
            Some(_) => (
                verdict(
                    name,
                    Outcome::Fail,
                    "the restore holds no value in the column the source has values in",
                ),
                None,
            ),
        };
    };
    let started_at = started.timestamp_millis() as f64 / 1000.0;
    let reference = source_newest.map_or(started_at, |s| s.min(started_at));
    let lost = (reference - restored).max(0.0).round() as i64;
    let target_seconds = target.num_seconds();
    let outcome = match (point_in_time, lost > target_seconds) {
        (true, true) => Outcome::Fail,
        (true, false) => Outcome::Pass,
        (false, _) => Outcome::Pass,
    };
    let detail = if point_in_time {
        format!("the restore's newest row is {lost} s older than the source's at the start (target {target_seconds} s)")
    } else {
        format!(
            "the restore's newest row is {lost} s older than the source's at the start: a snapshot restore loses what came after the snapshot (point-in-time restores are what the {target_seconds} s target is for)"
        )
    };
    (verdict(name, outcome, detail), Some(lost))
}

/// Reads of the restore against the source's: much slower means its volume is still loading
/// from S3, and it is not usable yet. A few milliseconds either way are noise.
pub fn reads(source_ms: f64, restored_ms: f64, factor: f64) -> Verdict {
    const NOISE_MS: f64 = 50.0;
    let outcome = if restored_ms <= source_ms * factor + NOISE_MS {
        Outcome::Pass
    } else {
        Outcome::Warn
    };
    let detail = match outcome {
        Outcome::Pass => format!("the restore read its tables in {restored_ms:.0} ms, the source in {source_ms:.0} ms"),
        _ => format!(
            "the restore read its tables in {restored_ms:.0} ms, over {factor}x the source's {source_ms:.0} ms: its volume is still loading, not usable at full speed yet"
        ),
    };
    verdict("reads", outcome, detail)
}

/// Every reading of a restore against its source's.
pub fn compare(
    source: &DataReport,
    restored: &DataReport,
    tolerance_percent: f64,
    slow_read_factor: f64,
) -> Vec<Verdict> {
    let mut out = vec![schema(&source.columns, &restored.columns)];
    for (table, restored_count) in &restored.row_counts {
        let source_count = source
            .row_counts
            .iter()
            .find(|(t, _)| t == table)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| Err("not counted".into()));
        out.push(rows(
            table,
            &source_count,
            restored_count,
            tolerance_percent,
        ));
    }
    for (name, result) in &restored.sql_checks {
        out.push(sql_check(name, result));
    }
    if !restored.row_counts.is_empty() {
        out.push(reads(source.read_ms, restored.read_ms, slow_read_factor));
    }
    out
}

/// The share of a provisioned source table's read capacity its count may take.
pub const SOURCE_SCAN_SHARE: f64 = 0.25;
/// The pace of a count whose source's capacity could not be read.
pub const UNKNOWN_CAPACITY_PACE: f64 = 10.0;

/// Read units a second a count of the source table may consume: a share of its provisioned
/// capacity (at least one unit); on demand, unpaced (`None`); unknown, a slow pace.
pub fn source_scan_pace(settings: Option<&TableSettings>) -> Option<f64> {
    match settings {
        None => Some(UNKNOWN_CAPACITY_PACE),
        Some(s) => s
            .read_capacity
            .map(|units| (units as f64 * SOURCE_SCAN_SHARE).max(1.0)),
    }
}

/// What a restore of a table leaves behind, as the source has it: DynamoDB restores the data
/// and indexes, never TTL, streams, point-in-time recovery, tags or auto scaling. A real restore
/// must set these again; the drill names which.
pub fn dropped_settings(source: &TableSettings, restored: &TableSettings) -> Verdict {
    let mut dropped = Vec::new();
    if let Some(attr) = source
        .ttl_attribute
        .as_ref()
        .filter(|_| restored.ttl_attribute.is_none())
    {
        dropped.push(format!("TTL on {attr}"));
    }
    if let Some(view) = source
        .stream_view
        .as_ref()
        .filter(|_| restored.stream_view.is_none())
    {
        dropped.push(format!("stream ({view})"));
    }
    if source.pitr && !restored.pitr {
        dropped.push("point-in-time recovery".into());
    }
    let tags: Vec<&String> = source
        .tags
        .keys()
        .filter(|k| !restored.tags.contains_key(*k))
        .collect();
    if !tags.is_empty() {
        dropped.push(format!("tags {}", listed(&tags)));
    }
    if source.billing_mode.as_deref() == Some("PROVISIONED") {
        // Application Auto Scaling is not read (another API): said as what to check.
        dropped.push(
            "any auto scaling of its provisioned capacity (its scaling policies are never restored: check them)".into(),
        );
    }
    if source.deletion_protection && !restored.deletion_protection {
        dropped.push("deletion protection".into());
    }
    match dropped.is_empty() {
        true => verdict(
            "settings",
            Outcome::Pass,
            "the restore has every setting the source has (TTL, stream, point-in-time recovery, tags)",
        ),
        false => verdict(
            "settings",
            Outcome::Warn,
            format!(
                "a restore drops what a real recovery must set again: {}",
                dropped.join("; ")
            ),
        ),
    }
}

/// One stage of the recovery time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    pub name: &'static str,
    pub seconds: i64,
}

/// When each stage of a restore was reached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeline {
    /// The restore call.
    pub started: DateTime<Utc>,
    /// An Aurora drill's cluster became available (its instance is created after).
    pub cluster_available: Option<DateTime<Utc>>,
    /// The instance (or table) became available.
    pub available: DateTime<Utc>,
    pub first_query: DateTime<Utc>,
}

/// How the restore's reads came out against its source's.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadSpeed {
    /// Nothing was timed against the source; why (no tables counted, the source unreadable).
    Untimed(String),
    /// At the source's speed from this time on (the first query's, or a later re-read's).
    Normal(DateTime<Utc>),
    /// Still slower than the source's when the check stopped re-reading.
    Slow,
}

/// The pause between timings of a restore's reads while its volume loads.
pub const REREAD_PAUSE: std::time::Duration = std::time::Duration::from_secs(5);
/// How long after the first query a check keeps timing a slow restore's reads.
pub const REREAD_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);
/// Kept back from the run's stop point (itself short of the deadline) for the cleanup calls.
pub const REREAD_RESERVE: std::time::Duration = std::time::Duration::from_secs(5);

/// The pause before timing a slow restore's reads again, or `None` to stop: only within
/// [`REREAD_WINDOW`] of the first timing, and only when the pause, a read as long as the last
/// one and [`REREAD_RESERVE`] still fit in the time left.
pub fn next_reread(
    since_first: std::time::Duration,
    time_left: std::time::Duration,
    last_read: std::time::Duration,
) -> Option<std::time::Duration> {
    let needs = REREAD_PAUSE + last_read + REREAD_RESERVE;
    (since_first + REREAD_PAUSE <= REREAD_WINDOW && needs <= time_left).then_some(REREAD_PAUSE)
}

/// The recovery time in stages, from the restore call: to `available` (Aurora: the cluster, then
/// its instance), to the first successful query, to reads at the source's speed (when they got
/// there). The total (the last stage) is to usable: reads at speed when timed, else the first
/// query; a restore still reading slowly is not called usable (a warning within the target).
pub fn rto(timeline: &Timeline, reads: &ReadSpeed, target: Duration) -> (Verdict, Vec<Stage>) {
    let secs = |to: DateTime<Utc>| (to - timeline.started).num_seconds().max(0);
    let mut stages = Vec::new();
    let available = match timeline.cluster_available {
        Some(cluster) => {
            stages.push(Stage {
                name: "cluster available",
                seconds: secs(cluster),
            });
            stages.push(Stage {
                name: "instance available",
                seconds: secs(timeline.available),
            });
            format!(
                "restore call to cluster available {} s, to its instance available {} s",
                secs(cluster),
                secs(timeline.available)
            )
        }
        None => {
            stages.push(Stage {
                name: "available",
                seconds: secs(timeline.available),
            });
            format!("restore call to available {} s", secs(timeline.available))
        }
    };
    let first_query = secs(timeline.first_query);
    stages.push(Stage {
        name: "first query",
        seconds: first_query,
    });
    let (total, reads_words) = match reads {
        ReadSpeed::Normal(at) => {
            let normal = secs(*at).max(first_query);
            stages.push(Stage {
                name: "reads normal",
                seconds: normal,
            });
            (
                normal,
                format!(", to reads at the source's speed {normal} s"),
            )
        }
        ReadSpeed::Slow => (
            first_query,
            ", reads still slower than the source's: not usable at full speed yet".into(),
        ),
        ReadSpeed::Untimed(why) => (
            first_query,
            format!(", read speed not timed ({why}): usable as of the first query"),
        ),
    };
    let target_seconds = target.num_seconds();
    let outcome = match (total > target_seconds, reads) {
        (true, _) => Outcome::Fail,
        (false, ReadSpeed::Slow) => Outcome::Warn,
        (false, _) => Outcome::Pass,
    };
    let detail = format!(
        "{available}, to first query {first_query} s{reads_words} (target {target_seconds} s)"
    );
    (verdict("rto", outcome, detail), stages)
}
