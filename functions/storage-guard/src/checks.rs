//! How storage-guard's report says it: one check per fact or action, and the machine-readable
//! `result` the owners of the infrastructure code read before their next apply.

use serde_json::{json, Value};

use rds_responder::report::{Check, Outcome};
use rds_responder::sql::space::SpaceReport;
use rds_responder::storage::StorageInfo;

use crate::policy::changes::{stamp, NextChange, PastChange};
use crate::policy::forecast::{Forecast, GIB};
use crate::policy::plan::{Action, Severity, Verdict};
use crate::policy::sizing::Rules;

/// The tag storage-guard writes on an instance before it changes it: when, what, by whom. It
/// is the guard's own record of its changes (read back by the next run) and tells the owners
/// of the infrastructure code what changed.
pub const CHANGE_TAG: &str = "rds-responder:storage-change";

pub fn severity_outcome(severity: Severity) -> Outcome {
    match severity {
        Severity::Ok => Outcome::Pass,
        Severity::Warn => Outcome::Warn,
        Severity::Critical => Outcome::Fail,
    }
}

pub fn describe(st: &StorageInfo) -> Check {
    let max = st
        .max_allocated_gib
        .map_or("autoscaling off".to_string(), |m| {
            format!("autoscaling up to {m} GiB")
        });
    let perf = match (st.iops, st.throughput_mibps) {
        (Some(i), Some(t)) => format!(", {i} IOPS, {t} MiB/s"),
        (Some(i), None) => format!(", {i} IOPS"),
        _ => String::new(),
    };
    Check::new(
        "describe",
        Outcome::Pass,
        format!(
            "{} is {} ({}): {} GiB {}{perf}, {max}",
            st.id, st.status, st.engine, st.allocated_gib, st.storage_type
        ),
    )
    .with_data(json!({
        "status": st.status,
        "allocated_gib": st.allocated_gib,
        "max_allocated_gib": st.max_allocated_gib,
        "storage_type": st.storage_type,
        "iops": st.iops,
        "storage_throughput_mibps": st.throughput_mibps,
        "pending": st.pending,
    }))
}

pub fn forecast_check(forecast: Option<&Forecast>, failure: Option<&str>, allocated: i32) -> Check {
    match (forecast, failure) {
        (Some(f), _) => {
            let full = match f.full_at {
                Some(t) => format!("full forecast at {}", stamp(t)),
                None => "free space is not falling".into(),
            };
            let share = if allocated > 0 {
                f.free_gib / f64::from(allocated) * 100.0
            } else {
                0.0
            };
            Check::new(
                "forecast",
                Outcome::Pass,
                format!(
                    "{:.2} GiB free ({share:.1}%); using {:.3} GiB/h ({} points; {:.3} GiB/h over the history, {} over the last hour); {full}",
                    f.free_gib,
                    f.used_gib_per_hour,
                    f.points,
                    f.used_gib_per_hour_all,
                    f.used_gib_per_hour_last_hour
                        .map_or("too few points".to_string(), |h| format!("{h:.3} GiB/h")),
                ),
            )
            .with_data(json!({
                "free_gib": f.free_gib,
                "free_bytes": (f.free_gib * GIB).round(),
                "used_gib_per_hour": f.used_gib_per_hour,
                "points": f.points,
                "full_at": f.full_at.map(stamp),
                "measured_at": stamp(f.measured_at),
            }))
        }
        (None, Some(e)) => Check::new(
            "forecast",
            Outcome::Warn,
            format!("FreeStorageSpace history could not be read ({e}): decided without a forecast"),
        ),
        (None, None) => Check::new(
            "forecast",
            Outcome::Warn,
            "FreeStorageSpace has fewer than two points in the last 24 hours: decided without a forecast",
        ),
    }
}

pub fn changes_check(
    next: &NextChange,
    changes: &[PastChange],
    events_failure: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Check {
    let mut detail = format!(
        "{} storage changes in 14 days, {} in 24 hours; the next change is possible {}",
        next.changes_last_14d,
        next.changes_last_24h,
        next.when(now)
    );
    if !next.reasons.is_empty() {
        detail.push_str(&format!(" ({})", next.reasons.join("; ")));
    }
    let outcome = match events_failure {
        Some(e) => {
            detail.push_str(&format!(
                "; the instance's events could not be read ({e}): only storage-guard's own record counted"
            ));
            Outcome::Warn
        }
        None => Outcome::Pass,
    };
    Check::new("storage-changes", outcome, detail).with_data(json!({
        "changes": changes,
        "next_change_not_before": stamp(next.not_before),
        "optimizing": next.optimizing,
    }))
}

pub fn rules_check(rules: Option<&Rules>) -> Check {
    match rules {
        Some(Rules::Reported { valid }) => Check::new(
            "valid-sizes",
            Outcome::Pass,
            format!(
                "RDS lists valid {} sizes for this instance ({})",
                valid.storage_type,
                ranges(valid)
            ),
        ),
        Some(Rules::Documented { valid, why }) => Check::new(
            "valid-sizes",
            Outcome::Warn,
            format!(
                "{why}: using the documented {} rules ({})",
                valid.storage_type,
                ranges(valid)
            ),
        ),
        None => Check::new(
            "valid-sizes",
            Outcome::Fail,
            "no valid sizes known for this storage type",
        ),
    }
}

fn ranges(valid: &rds_responder::storage::ValidStorage) -> String {
    valid
        .sizes_gib
        .iter()
        .map(|r| format!("{}-{} GiB step {}", r.from, r.to, r.step))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn decision_check(verdict: &Verdict) -> Check {
    Check::new(
        "decision",
        severity_outcome(verdict.severity),
        verdict.reasons.join("; "),
    )
    .with_data(json!({ "action": verdict.action, "full_at": verdict.full_at.map(stamp) }))
}

pub fn space_check(space: Result<&SpaceReport, String>) -> Check {
    match space {
        Ok(report) => {
            let largest: Vec<String> = report
                .largest
                .iter()
                .take(5)
                .map(|r| format!("{} {} {:.2} GiB", r.kind, r.name, r.bytes as f64 / GIB))
                .collect();
            let held: Vec<String> = report
                .slots
                .iter()
                .filter(|s| !s.active)
                .map(|s| {
                    format!(
                        "inactive {} slot {} holds {}",
                        s.slot_type,
                        s.name,
                        s.retained_bytes.map_or("unknown WAL".to_string(), |b| format!(
                            "{:.2} GiB of WAL",
                            b as f64 / GIB
                        ))
                    )
                })
                .collect();
            let outcome = if held.is_empty() {
                Outcome::Pass
            } else {
                Outcome::Warn
            };
            let mut detail = format!(
                "largest in {}: {}",
                report.database,
                if largest.is_empty() {
                    "nothing".to_string()
                } else {
                    largest.join(", ")
                }
            );
            if !held.is_empty() {
                detail.push_str(&format!(
                    "; {} (WAL is kept until the slot's consumer reads it or the slot is dropped)",
                    held.join(", ")
                ));
            }
            Check::new("what-grew", outcome, detail).with_data(json!(report))
        }
        Err(e) => Check::new(
            "what-grew",
            Outcome::Skipped,
            format!("the database could not be asked what grew ({e}); the decision does not depend on it"),
        ),
    }
}

/// What a run changed (or would), where the infrastructure code reads it.
pub fn result(
    st: &StorageInfo,
    verdict: &Verdict,
    outcome: &str,
    after: Option<&StorageInfo>,
    snapshot: Option<&str>,
    next: &NextChange,
) -> Value {
    let (allocated, max, iops, throughput) = match (&verdict.action, after) {
        (_, Some(a)) if outcome == "changed" => (
            a.pending.allocated_gib.unwrap_or(a.allocated_gib),
            a.max_allocated_gib,
            a.pending.iops.or(a.iops),
            a.pending.throughput_mibps.or(a.throughput_mibps),
        ),
        (
            Action::Grow {
                to_gib,
                max_to_gib,
                iops,
                throughput_mibps,
                ..
            },
            _,
        ) => (
            *to_gib,
            max_to_gib.or(st.max_allocated_gib),
            iops.or(st.iops),
            throughput_mibps.or(st.throughput_mibps),
        ),
        (Action::RaiseMaximum { to_gib, .. }, _) => (
            st.allocated_gib,
            Some(*to_gib),
            st.iops,
            st.throughput_mibps,
        ),
        (Action::None, _) => (
            st.allocated_gib,
            st.max_allocated_gib,
            st.iops,
            st.throughput_mibps,
        ),
    };
    json!({
        "db_instance": st.id,
        "outcome": outcome,
        "action": verdict.action,
        "severity": verdict.severity,
        "before": {
            "allocated_storage_gib": st.allocated_gib,
            "max_allocated_storage_gib": st.max_allocated_gib,
            "iops": st.iops,
            "storage_throughput_mibps": st.throughput_mibps,
            "storage_type": st.storage_type,
        },
        "after": {
            "allocated_storage_gib": allocated,
            "max_allocated_storage_gib": max,
            "iops": iops,
            "storage_throughput_mibps": throughput,
            "storage_type": st.storage_type,
        },
        "snapshot_id": snapshot,
        "full_forecast_at": verdict.full_at.map(stamp),
        "next_change_not_before": stamp(next_after(verdict, outcome, next)),
        "change_tag": CHANGE_TAG,
    })
}

/// When the next storage change is allowed, as the infrastructure code needs it: after a storage
/// change this run made, six hours from it at the least.
fn next_after(
    verdict: &Verdict,
    outcome: &str,
    next: &NextChange,
) -> chrono::DateTime<chrono::Utc> {
    let grew = matches!(verdict.action, Action::Grow { .. }) && outcome == "changed";
    if grew {
        let after =
            chrono::Utc::now() + chrono::Duration::hours(crate::policy::changes::COOLDOWN_HOURS);
        next.not_before.max(after)
    } else {
        next.not_before
    }
}

/// The value of [`CHANGE_TAG`] (read back by `policy::changes::read_record`): `<when> <state>
/// <from> to <to> GiB [max <m> GiB] [<iops> IOPS] [<t> MiB/s] by storage-guard <request>`, at
/// most 256 characters.
pub fn change_tag_value(
    now: chrono::DateTime<chrono::Utc>,
    state: &str,
    action: &Action,
    request: &str,
) -> String {
    let what = match action {
        Action::None => "none".to_string(),
        Action::RaiseMaximum { from_gib, to_gib } => {
            format!("max {from_gib} to {to_gib} GiB")
        }
        Action::Grow {
            from_gib,
            to_gib,
            max_to_gib,
            iops,
            throughput_mibps,
        } => {
            let mut s = format!("{from_gib} to {to_gib} GiB");
            if let Some(m) = max_to_gib {
                s.push_str(&format!(" max {m} GiB"));
            }
            if let Some(i) = iops {
                s.push_str(&format!(" {i} IOPS"));
            }
            if let Some(t) = throughput_mibps {
                s.push_str(&format!(" {t} MiB/s"));
            }
            s
        }
    };
    let request: String = request
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.:/=+@".contains(*c))
        .take(80)
        .collect();
    let value = format!("{} {state} {what} by storage-guard {request}", stamp(now));
    value.chars().take(256).collect()
}

/// The action in words a tag value takes (RDS allows no `>`).
pub fn tag_words(action: &Action) -> String {
    match action {
        Action::None => "no change".into(),
        Action::RaiseMaximum { from_gib, to_gib } => {
            format!("raising the autoscaling maximum from {from_gib} to {to_gib} GiB")
        }
        Action::Grow {
            from_gib, to_gib, ..
        } => {
            format!("growing from {from_gib} to {to_gib} GiB")
        }
    }
}

pub fn any_failed(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.outcome == Outcome::Fail)
}

pub fn action_words(action: &Action) -> String {
    match action {
        Action::None => "change nothing".into(),
        Action::RaiseMaximum { from_gib, to_gib } => {
            format!("raise the autoscaling maximum {from_gib} -> {to_gib} GiB")
        }
        Action::Grow {
            from_gib,
            to_gib,
            max_to_gib,
            iops,
            throughput_mibps,
        } => {
            let mut s = format!("grow {from_gib} -> {to_gib} GiB");
            if let Some(m) = max_to_gib {
                s.push_str(&format!(", autoscaling maximum {m} GiB"));
            }
            if let Some(i) = iops {
                s.push_str(&format!(", {i} IOPS"));
            }
            if let Some(t) = throughput_mibps {
                s.push_str(&format!(", {t} MiB/s"));
            }
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What RDS takes in a tag value: letters, digits, spaces and `_.:/=+-@`, 256 at most.
    fn rds_tag_value(v: &str) -> bool {
        v.chars().count() <= 256
            && v.chars()
                .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
    }

    #[test]
    fn the_record_is_a_tag_value_rds_takes_and_reads_back() {
        let now = chrono::Utc::now();
        let grow = Action::Grow {
            from_gib: 100,
            to_gib: 200,
            max_to_gib: Some(252),
            iops: Some(12_000),
            throughput_mibps: Some(500),
        };
        let hostile = format!("req>{}<\u{7}é{}", "x".repeat(300), "\"';");
        for (state, action, request) in [
            ("sent", &grow, "req-1"),
            ("failed", &grow, hostile.as_str()),
            (
                "sent",
                &Action::RaiseMaximum {
                    from_gib: 105,
                    to_gib: 173,
                },
                "r",
            ),
        ] {
            let value = change_tag_value(now, state, action, request);
            assert!(rds_tag_value(&value), "{value:?}");
            let record = crate::policy::changes::read_record(&value).expect("reads back");
            assert_eq!(record.sent, state == "sent");
        }
        let value = change_tag_value(now, "sent", &grow, "req-1");
        assert!(
            value.ends_with(
                " sent 100 to 200 GiB max 252 GiB 12000 IOPS 500 MiB/s by storage-guard req-1"
            ),
            "{value}"
        );
        assert_eq!(
            crate::policy::changes::read_record(&value).unwrap().grew,
            Some((100, 200))
        );
    }
}
