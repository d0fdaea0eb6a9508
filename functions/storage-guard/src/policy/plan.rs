//! The decision for one instance: report only, raise autoscaling's maximum, grow to an absolute
//! size, or refuse and escalate. Pure; every branch is a row of the case table in the tests.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use rds_responder::storage::{StorageInfo, StorageModification};

use super::changes::{stamp, NextChange, COOLDOWN_HOURS};
use super::forecast::Forecast;
use super::sizing::{performance, round_down, round_up, Rules};
use crate::config::Limits;
use crate::request::Sizing;

/// An increase must be at least this share (an RDS rule).
pub const MIN_GROWTH_PERCENT: i64 = 10;
/// Autoscaling's maximum is kept at least this far above allocated (AWS's advice, so that
/// RDS-EVENT-0225 does not fire); RDS itself requires 10%.
pub const MAX_HEADROOM_PERCENT: i64 = 26;
/// Autoscaling acts when free space is at most this share: a target leaves more than this free
/// after the growth it is sized for.
pub const FREE_SHARE_KEPT: f64 = 0.10;
/// Autoscaling grows by at least this much.
pub const AUTOSCALE_MIN_STEP_GIB: i64 = 10;
/// ... or by the growth forecast for this many hours.
pub const AUTOSCALE_FORECAST_HOURS: f64 = 7.0;
/// States in which RDS takes a storage modification.
pub const MODIFIABLE: [&str; 3] = ["available", "storage-optimization", "storage-full"];

/// What the trigger asks of this instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Ask {
    /// An alarm or event says storage is low now: act unless autoscaling covers it.
    Low,
    /// RDS says autoscaling is at or near its maximum (0224, 0225).
    NearMaximum,
    /// RDS says autoscaling could not act (0219 bad state, 0223 could not scale, 0237
    /// storage type unavailable, 0254 quota): it does not cover this, whatever its headroom.
    AutoscalingFailed,
    /// A scheduled sweep: act only where the forecast reaches full within the horizon or
    /// before the next allowed change.
    Sweep,
    /// By hand, sized as asked.
    Manual { sizing: Sizing },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Ok,
    Warn,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Action {
    /// No change.
    None,
    /// Raise autoscaling's maximum.
    RaiseMaximum { from_gib: i32, to_gib: i32 },
    /// Grow the volume to an absolute size (so a retry never grows twice).
    Grow {
        from_gib: i32,
        to_gib: i32,
        /// Set when autoscaling's maximum has to move with the size.
        max_to_gib: Option<i32>,
        iops: Option<i32>,
        throughput_mibps: Option<i32>,
    },
}

impl Action {
    pub fn changes(&self) -> bool {
        *self != Action::None
    }

    /// The `ModifyDBInstance` fields, for an instance of `storage_type`.
    pub fn modification(&self, storage_type: &str) -> Option<StorageModification> {
        match self {
            Action::None => None,
            Action::RaiseMaximum { to_gib, .. } => Some(StorageModification {
                max_allocated_gib: Some(*to_gib),
                ..StorageModification::default()
            }),
            Action::Grow {
                to_gib,
                max_to_gib,
                iops,
                throughput_mibps,
                ..
            } => Some(StorageModification {
                allocated_gib: Some(*to_gib),
                max_allocated_gib: *max_to_gib,
                iops: *iops,
                throughput_mibps: *throughput_mibps,
                storage_type: (iops.is_some() || throughput_mibps.is_some())
                    .then(|| storage_type.to_string()),
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub action: Action,
    pub severity: Severity,
    /// Why, in the order the rules were applied; the first names the decision.
    pub reasons: Vec<String>,
    /// Take a snapshot before changing (never of a `storage-full` instance: RDS cannot).
    pub snapshot_first: bool,
    pub full_at: Option<DateTime<Utc>>,
}

/// Everything the decision reads.
#[derive(Debug, Clone)]
pub struct Situation<'a> {
    pub storage: &'a StorageInfo,
    pub rules: Option<&'a Rules>,
    pub next: &'a NextChange,
    pub forecast: Option<&'a Forecast>,
    /// The instance's events could be read (else only our own record counts its changes).
    pub events_read: bool,
    pub now: DateTime<Utc>,
    pub ask: Ask,
}

fn ceil_percent(gib: i32, percent: i64) -> i32 {
    let g = i64::from(gib);
    i32::try_from((g * (100 + percent) + 99) / 100).unwrap_or(i32::MAX)
}

fn refuse(severity: Severity, reasons: Vec<String>, full_at: Option<DateTime<Utc>>) -> Verdict {
    Verdict {
        action: Action::None,
        severity,
        reasons,
        snapshot_first: false,
        full_at,
    }
}

fn full_words(full_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match full_at {
        Some(t) if t <= now => "it is full now".into(),
        Some(t) => format!(
            "full is forecast at {} (in {:.1} h)",
            stamp(t),
            (t - now).num_minutes() as f64 / 60.0
        ),
        None => "free space is not falling (no full forecast)".into(),
    }
}

/// Hours from `now` to `t`, at least zero.
fn hours_until(t: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
    ((t - now).num_seconds().max(0) as f64) / 3600.0
}

pub fn decide_storage(s: &Situation, limits: &Limits) -> Verdict {
    let st = s.storage;
    let now = s.now;
    let full = st.status.eq_ignore_ascii_case("storage-full");
    let full_at = if full {
        Some(now)
    } else {
        s.forecast.and_then(|f| f.full_at)
    };
    let fills_within = |hours: f64| full_at.is_some_and(|t| hours_until(t, now) <= hours);
    let when_next = s.next.when(now);

    if st.engine.to_ascii_lowercase().starts_with("aurora") {
        return refuse(
            Severity::Warn,
            vec![format!(
                "{} is an {} instance of cluster {}: the cluster volume grows by itself; the instance's own FreeStorageSpace is its local (temporary) storage, which only a larger instance class adds; reported only",
                st.id,
                st.engine,
                st.cluster_id.as_deref().unwrap_or("(none)")
            )],
            full_at,
        );
    }
    if let Some(cluster) = &st.cluster_id {
        return refuse(
            Severity::Critical,
            vec![format!(
                "{} is a member of Multi-AZ DB cluster {cluster}: its storage changes only through the cluster (ModifyDBCluster), which storage-guard does not change; {}",
                st.id,
                full_words(full_at, now)
            )],
            full_at,
        );
    }
    if !MODIFIABLE.iter().any(|m| st.status.eq_ignore_ascii_case(m)) {
        // Modifying right after a storage change (ours or autoscaling's): it is being applied.
        let applying = st.status.eq_ignore_ascii_case("modifying") && s.next.not_before > now;
        return refuse(
            if applying {
                Severity::Warn
            } else {
                Severity::Critical
            },
            vec![format!(
                "{} is {}: RDS modifies storage only when it is available, storage-optimization or storage-full; {}",
                st.id,
                st.status,
                full_words(full_at, now)
            )],
            full_at,
        );
    }
    if !st.pending_other.is_empty() && !full {
        return refuse(
            Severity::Critical,
            vec![format!(
                "modifications wait for the maintenance window ({}): a storage change applied now would apply them too (a reboot, a class change); not changing; {}",
                st.pending_other.join(", "),
                full_words(full_at, now)
            )],
            full_at,
        );
    }
    if !st.pending.is_empty() {
        let severity = if fills_within(f64::from(limits.act_within_hours)) {
            Severity::Critical
        } else {
            Severity::Warn
        };
        return refuse(
            severity,
            vec![format!(
                "a storage change is already pending ({}): not adding another; {}",
                pending_words(st),
                full_words(full_at, now)
            )],
            full_at,
        );
    }
    // A sweep changes nothing that is not filling within its horizon (nor raises a maximum an
    // owner keeps tight for cost).
    let horizon = f64::from(limits.act_within_hours);
    if s.ask == Ask::Sweep && !fills_within(horizon) {
        return refuse(
            Severity::Ok,
            vec![format!(
                "{}; not within ACT_WITHIN_HOURS ({horizon} h): no change",
                full_words(full_at, now)
            )],
            full_at,
        );
    }
    let Some(rules) = s.rules else {
        return refuse(
            Severity::Critical,
            vec![format!(
                "storage type {} has no known valid sizes (RDS did not say, and it is not gp2, gp3, io1, io2 or standard): not guessing; {}",
                st.storage_type,
                full_words(full_at, now)
            )],
            full_at,
        );
    };
    if s.next.changes_last_14d >= limits.max_changes_14_days {
        return refuse(
            Severity::Critical,
            vec![format!(
                "{} storage changes in the past 14 days, the most MAX_CHANGES_14_DAYS allows ({}): refusing another; look at what grows; {}",
                s.next.changes_last_14d,
                limits.max_changes_14_days,
                full_words(full_at, now)
            )],
            full_at,
        );
    }

    let forecast_growth = |hours: f64| s.forecast.map_or(0.0, |f| f.growth_gib(hours));
    let alloc = st.allocated_gib;
    let horizon = f64::from(limits.act_within_hours);

    // Without the instance's events the 6-hour and 14-day rules see only our own record: a
    // change that can wait, waits.
    if !s.events_read && !full && !fills_within(horizon) {
        return refuse(
            Severity::Warn,
            vec![format!(
                "the instance's events could not be read, so its recent storage changes are unknown; {}: no change until they can be read",
                full_words(full_at, now)
            )],
            full_at,
        );
    }

    // Autoscaling on, room under its maximum: it may cover this.
    let autoscaling_may_cover = !matches!(s.ask, Ask::Manual { .. } | Ask::AutoscalingFailed);
    if let (Some(max), true) = (st.max_allocated_gib, autoscaling_may_cover) {
        let step = i64::from(alloc) * MIN_GROWTH_PERCENT / 100;
        let step = step
            .max(AUTOSCALE_MIN_STEP_GIB)
            .max(forecast_growth(AUTOSCALE_FORECAST_HOURS).ceil() as i64);
        let near_max = s.ask == Ask::NearMaximum || i64::from(alloc) + step > i64::from(max);
        // Autoscaling cannot act before the disk fills: it is full, the rules hold it until
        // after the forecast, or optimization (of unknown length) runs into the horizon.
        let waits_past_full = match full_at {
            None => false,
            Some(t) => {
                full || t <= s.next.not_before || (s.next.optimizing && fills_within(horizon))
            }
        };
        if !near_max && !waits_past_full {
            return refuse(
                Severity::Ok,
                vec![format!(
                    "autoscaling is on (maximum {max} GiB, {} GiB of headroom) and may act again {when_next}; {}: no change",
                    max - alloc,
                    full_words(full_at, now)
                )],
                full_at,
            );
        }
        if near_max && !waits_past_full {
            return raise_maximum(s, limits, max, full_at);
        }
        // Autoscaling cannot act before the disk fills: grow now if a change is allowed.
    }

    if !s.next.allowed_now(now) {
        // Critical when the disk fills before the change is allowed (optimization's end is
        // unknown: within the horizon); otherwise it can wait.
        let fills_first = match full_at {
            None => false,
            Some(t) if s.next.optimizing => t <= s.next.not_before || fills_within(horizon),
            Some(t) => t <= s.next.not_before,
        };
        return refuse(
            if fills_first {
                Severity::Critical
            } else {
                Severity::Warn
            },
            vec![format!(
                "a storage change is not allowed yet ({}); the next is possible {when_next}; {}",
                s.next.reasons.join("; "),
                full_words(full_at, now)
            )],
            full_at,
        );
    }
    grow(s, limits, rules, full_at)
}

fn pending_words(st: &StorageInfo) -> String {
    let p = &st.pending;
    let mut parts = Vec::new();
    if let Some(g) = p.allocated_gib {
        parts.push(format!("to {g} GiB"));
    }
    if let Some(i) = p.iops {
        parts.push(format!("{i} IOPS"));
    }
    if let Some(t) = p.throughput_mibps {
        parts.push(format!("{t} MiB/s"));
    }
    if let Some(t) = &p.storage_type {
        parts.push(format!("type {t}"));
    }
    parts.join(", ")
}

fn raise_maximum(
    s: &Situation,
    limits: &Limits,
    max: i32,
    full_at: Option<DateTime<Utc>>,
) -> Verdict {
    let alloc = s.storage.allocated_gib;
    let hours = f64::from(limits.growth_days) * 24.0;
    let used = s
        .forecast
        .map_or(f64::from(alloc), |f| f64::from(alloc) - f.free_gib);
    let for_growth =
        ((used + s.forecast.map_or(0.0, |f| f.growth_gib(hours))) / (1.0 - FREE_SHARE_KEPT)).ceil();
    let wanted = ceil_percent(alloc, MAX_HEADROOM_PERCENT)
        .max(for_growth.min(f64::from(i32::MAX)) as i32)
        .max(ceil_percent(max, MIN_GROWTH_PERCENT));
    let to = wanted.min(limits.ceiling_gib);
    // RDS takes a maximum at least 10% above allocated, and only a higher one is a raise.
    if to <= max || to < ceil_percent(alloc, MIN_GROWTH_PERCENT) {
        return refuse(
            Severity::Critical,
            vec![format!(
                "autoscaling is near its maximum ({max} GiB, {alloc} GiB allocated) and MAX_STORAGE_GIB ({} GiB) allows no higher maximum; {}",
                limits.ceiling_gib,
                full_words(full_at, s.now)
            )],
            full_at,
        );
    }
    let mut reasons = vec![format!(
        "autoscaling is near its maximum ({max} GiB, {alloc} GiB allocated): raising the maximum to {to} GiB, at least {MAX_HEADROOM_PERCENT}% above allocated and room for {} days of growth",
        limits.growth_days
    )];
    let mut severity = Severity::Warn;
    if to < wanted {
        severity = Severity::Critical;
        reasons.push(format!(
            "MAX_STORAGE_GIB ({} GiB) holds the maximum below the {wanted} GiB wanted",
            limits.ceiling_gib
        ));
    }
    Verdict {
        action: Action::RaiseMaximum {
            from_gib: max,
            to_gib: to,
        },
        severity,
        reasons,
        snapshot_first: !s.storage.status.eq_ignore_ascii_case("storage-full"),
        full_at,
    }
}

fn grow(s: &Situation, limits: &Limits, rules: &Rules, full_at: Option<DateTime<Utc>>) -> Verdict {
    let st = s.storage;
    let alloc = st.allocated_gib;
    let now = s.now;
    let valid = rules.valid();
    let min_target = ceil_percent(alloc, MIN_GROWTH_PERCENT);
    let free = s.forecast.map(|f| f.free_gib);
    let used = if st.status.eq_ignore_ascii_case("storage-full") {
        f64::from(alloc)
    } else {
        f64::from(alloc) - free.unwrap_or(0.0)
    };
    // Room for the configured days of growth and for the cooldown after this change: one
    // increase that outlasts the wait, not the minimum.
    let hours = f64::from(limits.growth_days) * 24.0 + COOLDOWN_HOURS as f64;
    let growth = s.forecast.map_or(0.0, |f| f.growth_gib(hours));
    let sized = |extra: f64| ((used + extra) / (1.0 - FREE_SHARE_KEPT)).ceil();
    let mut reasons = Vec::new();
    let wanted: f64 = match s.ask {
        Ask::Manual {
            sizing: Sizing::TargetGib(t),
        } => {
            if i64::from(t) < i64::from(min_target) {
                return refuse(
                    Severity::Warn,
                    vec![format!(
                        "target_gib {t} is below {min_target} GiB, the +{MIN_GROWTH_PERCENT}% RDS requires of {alloc} GiB: nothing changed"
                    )],
                    full_at,
                );
            }
            reasons.push(format!("target_gib {t} asked"));
            f64::from(t)
        }
        Ask::Manual {
            sizing: Sizing::GrowPercent(p),
        } => {
            reasons.push(format!("grow_percent {p} asked"));
            f64::from(ceil_percent(alloc, i64::from(p)))
        }
        Ask::Manual {
            sizing: Sizing::ExpectedGrowthGib(g),
        } => {
            reasons.push(format!(
                "room for expected_growth_gib {g} plus {} days of forecast growth",
                limits.growth_days
            ));
            sized(f64::from(g) + growth)
        }
        _ => {
            reasons.push(format!(
                "room for {} days of forecast growth ({:.2} GiB/h) and the {COOLDOWN_HOURS} h before another change, with {}% free",
                limits.growth_days,
                s.forecast.map_or(0.0, |f| f.used_gib_per_hour),
                (FREE_SHARE_KEPT * 100.0) as i32
            ));
            sized(growth)
        }
    };
    let mut wanted = wanted.min(f64::from(i32::MAX)) as i32;
    // An automatic change grows by at most MAX_GROW_PERCENT: storage never shrinks, and a
    // forecast can be wrong; more than that is a request by hand.
    let automatic = !matches!(s.ask, Ask::Manual { .. });
    let grow_cap = ceil_percent(alloc, i64::from(limits.max_grow_percent));
    if automatic && wanted > grow_cap {
        reasons.push(format!(
            "MAX_GROW_PERCENT ({}%) holds this automatic change to {grow_cap} GiB of the {wanted} GiB the forecast wants; a larger one is a request by hand",
            limits.max_grow_percent
        ));
        wanted = grow_cap;
    }
    let target = wanted.max(min_target);
    let Some(mut to) = round_up(target, &valid.sizes_gib) else {
        return refuse(
            Severity::Critical,
            vec![format!("no valid size is known for {}", st.storage_type)],
            full_at,
        );
    };
    let mut severity = Severity::Warn;
    // With autoscaling on, its maximum must stay at least 10% above the new size, within the
    // ceiling too.
    let autoscaling = st.max_allocated_gib.is_some();
    let cap = if autoscaling {
        (i64::from(limits.ceiling_gib) * 100 / (100 + MIN_GROWTH_PERCENT)) as i32
    } else {
        limits.ceiling_gib
    };
    if to > cap {
        match round_down(cap, &valid.sizes_gib).filter(|c| *c >= min_target) {
            Some(c) => {
                severity = Severity::Critical;
                reasons.push(format!(
                    "MAX_STORAGE_GIB ({} GiB) holds the new size at {c} GiB, below the {to} GiB wanted",
                    limits.ceiling_gib
                ));
                to = c;
            }
            None => {
                return refuse(
                    Severity::Critical,
                    vec![format!(
                        "MAX_STORAGE_GIB ({} GiB) is reached: {alloc} GiB allocated, and the smallest increase RDS allows is to {min_target} GiB; {}",
                        limits.ceiling_gib,
                        full_words(full_at, now)
                    )],
                    full_at,
                )
            }
        }
    }
    if to < min_target {
        // Above every valid size: the largest valid one is below what RDS requires.
        return refuse(
            Severity::Critical,
            vec![format!(
                "{} storage cannot grow past {to} GiB (the largest valid size), below the {min_target} GiB needed",
                st.storage_type
            )],
            full_at,
        );
    }
    let max_to = st.max_allocated_gib.and_then(|max| {
        let needed = ceil_percent(to, MIN_GROWTH_PERCENT);
        (max < needed).then(|| {
            ceil_percent(to, MAX_HEADROOM_PERCENT)
                .min(limits.ceiling_gib)
                .max(needed)
        })
    });
    let perf = performance(
        &st.engine,
        &st.storage_type,
        to,
        st.iops,
        st.throughput_mibps,
        valid,
    );
    reasons.insert(0, format!("growing {alloc} GiB -> {to} GiB"));
    if let Rules::Documented { why, .. } = rules {
        reasons.push(format!(
            "sized by the documented {} rules: {why}",
            st.storage_type
        ));
    }
    reasons.extend(perf.notes.iter().cloned());
    let full_now = st.status.eq_ignore_ascii_case("storage-full");
    if full_now {
        severity = Severity::Critical;
        reasons.push(
            "the instance is storage-full: grown without a snapshot (RDS cannot snapshot it)"
                .into(),
        );
    } else if full_at.is_some_and(|t| t <= now + Duration::hours(COOLDOWN_HOURS)) {
        severity = Severity::Critical;
        reasons.push(format!(
            "{}: sooner than another change could follow this one",
            full_words(full_at, now)
        ));
    }
    if let Some(m) = max_to {
        reasons.push(format!(
            "autoscaling's maximum moves to {m} GiB with it (RDS requires it at least {MIN_GROWTH_PERCENT}% above allocated)"
        ));
    }
    Verdict {
        action: Action::Grow {
            from_gib: alloc,
            to_gib: to,
            max_to_gib: max_to,
            iops: perf.iops,
            throughput_mibps: perf.throughput_mibps,
        },
        severity,
        reasons,
        snapshot_first: !full_now,
        full_at,
    }
}
