//! The decision as a table of cases, and each rule at its edges (reasons asserted, not only
//! verdicts): `make mutants` runs these over every file of this directory.

use chrono::{DateTime, Duration, TimeZone, Utc};

use rds_responder::rds::EventRecord;
use rds_responder::storage::{IntRange, PendingStorage, RatioRange, StorageInfo, ValidStorage};

use super::changes::*;
use super::forecast::*;
use super::plan::*;
use super::sizing::*;
use crate::config::Limits;
use crate::request::Sizing;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
}

fn hours(h: i64) -> Duration {
    Duration::hours(h)
}

fn limits() -> Limits {
    Limits {
        ceiling_gib: 1000,
        growth_days: 7,
        max_changes_14_days: 4,
        act_within_hours: 48,
        max_grow_percent: 1000,
    }
}

fn instance(alloc: i32) -> StorageInfo {
    StorageInfo {
        id: "orders-db".into(),
        arn: Some("arn:aws:rds:us-east-1:123456789012:db:orders-db".into()),
        status: "available".into(),
        engine: "postgres".into(),
        cluster_id: None,
        storage_type: "gp2".into(),
        allocated_gib: alloc,
        max_allocated_gib: None,
        iops: None,
        throughput_mibps: None,
        pending: PendingStorage::default(),
        pending_other: Vec::new(),
        endpoint: None,
        tags: Default::default(),
    }
}

/// A forecast: `free` GiB free, using `rate` GiB/h, measured now.
fn fc(free: f64, rate: f64) -> Forecast {
    Forecast {
        points: 288,
        free_gib: free,
        measured_at: now(),
        used_gib_per_hour_all: rate,
        used_gib_per_hour_last_hour: Some(rate),
        used_gib_per_hour: rate,
        full_at: (rate > 0.0).then(|| now() + Duration::seconds((free / rate * 3600.0) as i64)),
    }
}

fn free_now() -> NextChange {
    next_change("available", &[], now())
}

fn rules(storage_type: &str) -> Rules {
    Rules::Reported {
        valid: documented(storage_type).unwrap(),
    }
}

fn verdict_of(
    st: &StorageInfo,
    next: &NextChange,
    forecast: Option<&Forecast>,
    ask: Ask,
    limits: &Limits,
) -> Verdict {
    let r = rules(&st.storage_type);
    decide_storage(
        &Situation {
            storage: st,
            rules: Some(&r),
            next,
            forecast,
            events_read: true,
            now: now(),
            ask,
        },
        limits,
    )
}

fn verdict(st: &StorageInfo, forecast: Option<&Forecast>, ask: Ask) -> Verdict {
    verdict_of(st, &free_now(), forecast, ask, &limits())
}

fn grown_to(v: &Verdict) -> i32 {
    match v.action {
        Action::Grow { to_gib, .. } => to_gib,
        ref other => panic!("expected a grow, got {other:?}: {:?}", v.reasons),
    }
}

fn reason(v: &Verdict) -> String {
    v.reasons.join("; ")
}

// ---- forecast ----

fn series(points: &[(i64, f64)]) -> Vec<(DateTime<Utc>, f64)> {
    points
        .iter()
        .map(|(minutes, gib)| (now() + Duration::minutes(*minutes), gib * GIB))
        .collect()
}

#[test]
fn a_steady_fill_is_forecast_to_the_hour() {
    // 100 GiB free falling 1 GiB/h over 24 h, five-minute points.
    let points: Vec<(i64, f64)> = (0..=288)
        .map(|i| (i * 5 - 24 * 60, 124.0 - i as f64 * 5.0 / 60.0))
        .collect();
    let f = forecast(&series(&points)).unwrap();
    assert_eq!(f.points, 289);
    assert!((f.free_gib - 100.0).abs() < 1e-6, "{}", f.free_gib);
    assert!((f.used_gib_per_hour_all - 1.0).abs() < 1e-6);
    assert!((f.used_gib_per_hour_last_hour.unwrap() - 1.0).abs() < 1e-6);
    assert!((f.used_gib_per_hour - 1.0).abs() < 1e-6);
    let full = f.full_at.unwrap();
    assert!(
        (full - (now() + hours(100))).num_seconds().abs() <= 1,
        "{full}"
    );
    assert!((f.growth_gib(10.0) - 10.0).abs() < 1e-6);
    assert_eq!(f.measured_at, now());
}

#[test]
fn a_load_in_the_last_hour_outruns_the_day() {
    // Flat for a day, then 10 GiB in the last hour.
    let mut points: Vec<(i64, f64)> = (0..=276).map(|i| (i * 5 - 24 * 60, 50.0)).collect();
    points.extend((1..=12).map(|i| (i * 5 - 60, 50.0 - i as f64 * 10.0 / 12.0)));
    let f = forecast(&series(&points)).unwrap();
    let hour = f.used_gib_per_hour_last_hour.unwrap();
    assert!(hour > 9.0 && hour < 11.0, "{hour}");
    assert!(f.used_gib_per_hour_all < hour);
    assert_eq!(f.used_gib_per_hour, hour);
    assert!(f.full_at.unwrap() < now() + hours(5));
}

#[test]
fn freeing_space_forecasts_nothing_and_two_points_are_the_least() {
    let f = forecast(&series(&[(-60, 10.0), (0, 20.0)])).unwrap();
    assert!(f.used_gib_per_hour_all < 0.0);
    assert_eq!(f.used_gib_per_hour, 0.0);
    assert_eq!(f.full_at, None);
    assert_eq!(f.growth_gib(24.0), 0.0);
    assert!(forecast(&series(&[(0, 20.0)])).is_none());
    assert!(forecast(&[]).is_none());
    // All at one instant: no slope.
    assert!(forecast(&series(&[(0, 20.0), (0, 10.0)])).is_none());
    // Only the newest hour's points count for the last hour: two older ones do not.
    let f = forecast(&series(&[(-180, 30.0), (-120, 20.0), (0, 19.0)])).unwrap();
    assert_eq!(f.used_gib_per_hour_last_hour, None);
    // A point exactly an hour old belongs to the last hour.
    let f = forecast(&series(&[(-120, 30.0), (-60, 20.0), (0, 19.0)])).unwrap();
    assert!((f.used_gib_per_hour_last_hour.unwrap() - 1.0).abs() < 1e-9);
    // Negative free readings are read as empty.
    let f = forecast(&series(&[(-60, 1.0), (0, -1.0)])).unwrap();
    assert_eq!(f.free_gib, 0.0);
    assert_eq!(f.full_at, Some(now()));
}

// ---- past changes and the cooldown ----

fn event(minutes_ago: i64, message: &str) -> EventRecord {
    EventRecord {
        time: Some(now() - Duration::minutes(minutes_ago)),
        message: message.into(),
    }
}

#[test]
fn storage_change_messages_are_told_from_the_rest() {
    for starting in [
        "Applying modification to allocated storage",
        "Applying autoscaling-initiated modification to allocated storage.",
        "Applying modification to storage type",
        "Applying modification to Provisioned IOPS",
        "Applying modification to storage throughput",
        "Applying modification to storage size",
    ] {
        assert!(storage_change_started(starting), "{starting}");
    }
    for other in [
        "Finished applying modification to allocated storage",
        "Finished applying autoscaling-initiated modification to allocated storage",
        "Applying modification to database instance class",
        "Backing up DB instance",
        "allocated storage is low",
    ] {
        assert!(!storage_change_started(other), "{other}");
    }
}

#[test]
fn our_record_reads_back() {
    let tag = format!(
        "{} sent 100 to 120 GiB by storage-guard req-1",
        stamp(now() - hours(2))
    );
    assert_eq!(
        read_record(&tag),
        Some(OurRecord {
            at: now() - hours(2),
            sent: true,
            storage: true,
            grew: Some((100, 120))
        })
    );
    let failed = format!(
        "{} failed 100 to 120 GiB 3000 IOPS by storage-guard req-1",
        stamp(now())
    );
    assert_eq!(
        read_record(&failed).map(|r| (r.sent, r.storage)),
        Some((false, true))
    );
    let max = format!(
        "{} sent max 200 to 300 GiB by storage-guard req-2",
        stamp(now())
    );
    assert_eq!(
        read_record(&max),
        Some(OurRecord {
            at: now(),
            sent: true,
            storage: false,
            grew: None
        })
    );
    for other in [
        "",
        "soon sent 100 to 120",
        &format!("{} maybe 1 to 2", stamp(now())),
        &stamp(now()),
        &format!("{} sent", stamp(now())),
    ] {
        assert_eq!(read_record(other), None, "{other:?}");
    }
    assert_eq!(
        read_record(&format!("{} sent xto 120 GiB", stamp(now())))
            .unwrap()
            .grew,
        None
    );
}

#[test]
fn our_record_and_events_count_once_per_change() {
    let tag = format!(
        "{} sent 100 to 120 GiB by storage-guard req-1",
        stamp(now() - hours(2))
    );
    // The event of our own change (within 30 minutes) and our tag: one change.
    let events = [
        event(100, "Applying modification to allocated storage"),
        event(90, "Finished applying modification to allocated storage"),
        event(
            60 * 30,
            "Applying autoscaling-initiated modification to allocated storage",
        ),
        EventRecord {
            time: None,
            message: "Applying modification to allocated storage".into(),
        },
    ];
    let changes = past_changes(&events, Some(&tag));
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes[0].source, ChangeSource::Event);
    assert!(!changes[0].autoscaling);
    assert!(changes[1].autoscaling);
    assert!(changes[0].at > changes[1].at, "newest first");
    // 31 minutes apart: two changes; our record alone counts too.
    let apart = [event(
        120 + 31,
        "Applying modification to allocated storage",
    )];
    assert_eq!(past_changes(&apart, Some(&tag)).len(), 2);
    let exactly = [event(
        120 + 30,
        "Applying modification to allocated storage",
    )];
    assert_eq!(past_changes(&exactly, Some(&tag)).len(), 1);
    let after = [event(
        120 - 30,
        "Applying modification to allocated storage",
    )];
    assert_eq!(past_changes(&after, Some(&tag)).len(), 1);
    let alone = past_changes(&[], Some(&tag));
    assert_eq!(alone.len(), 1);
    assert_eq!(alone[0].source, ChangeSource::OurRecord);
    assert_eq!(alone[0].detail, tag);
    // A raised maximum is not a storage change; a refused one did not happen.
    let max = format!(
        "{} sent max 200 to 300 GiB by storage-guard req-2",
        stamp(now())
    );
    assert!(past_changes(&[], Some(&max)).is_empty());
    let failed = format!(
        "{} failed 100 to 120 GiB by storage-guard req-3",
        stamp(now())
    );
    assert!(past_changes(&[], Some(&failed)).is_empty());
    assert!(past_changes(&[], Some("not a time")).is_empty());
}

#[test]
fn our_own_growth_counts_as_free_space_once_it_is_newer_than_the_metric() {
    let f = fc(2.0, 2.0);
    let grown = with_added_space(&f, 20.0, now() + Duration::minutes(1));
    assert_eq!(grown.free_gib, 22.0);
    assert_eq!(grown.full_at, Some(now() + hours(11)));
    assert_eq!(
        with_added_space(&f, 20.0, now()),
        f,
        "not newer than the metric"
    );
    assert_eq!(with_added_space(&f, 0.0, now() + hours(1)), f);
    let flat = with_added_space(&fc(2.0, 0.0), 20.0, now() + hours(1));
    assert_eq!((flat.free_gib, flat.full_at), (22.0, None));
}

#[test]
fn modifying_right_after_a_change_is_not_an_alarm() {
    let mut st = instance(100);
    st.status = "modifying".into();
    let ours = PastChange {
        at: now() - hours(1),
        source: ChangeSource::OurRecord,
        autoscaling: false,
        detail: String::new(),
    };
    let next = next_change("modifying", &[ours], now());
    let v = verdict_of(&st, &next, Some(&fc(30.0, 1.0)), Ask::Low, &limits());
    assert_eq!(
        (v.action.clone(), v.severity),
        (Action::None, Severity::Warn)
    );
    // Modifying with no recent storage change: something else holds it; critical.
    let v = verdict(&st, Some(&fc(30.0, 1.0)), Ask::Low);
    assert_eq!(v.severity, Severity::Critical);
}

#[test]
fn the_six_hour_rule_at_its_edge() {
    let change = |h: i64| PastChange {
        at: now() - hours(h),
        source: ChangeSource::Event,
        autoscaling: false,
        detail: String::new(),
    };
    let recent = next_change("available", &[change(5)], now());
    assert_eq!(recent.not_before, now() + hours(1));
    assert!(!recent.allowed_now(now()));
    assert!(recent.allowed_now(now() + hours(1)));
    assert_eq!(recent.reasons.len(), 1);
    assert!(recent.reasons[0]
        .starts_with("6 hours after the last storage change (2026-12-01T07:00:00Z)"));
    assert_eq!(recent.when(now()), "at 2026-12-01T13:00:00Z");
    let exact = next_change("available", &[change(6)], now());
    assert_eq!(exact.not_before, now());
    assert!(exact.allowed_now(now()));
    assert!(exact.reasons.is_empty());
    assert_eq!(exact.when(now()), "now");
    assert_eq!(exact.changes_last_24h, 1);
    assert_eq!(exact.changes_last_14d, 1);
}

#[test]
fn four_changes_a_day_and_the_fortnight_count() {
    let at = |h: i64| PastChange {
        at: now() - hours(h),
        source: ChangeSource::Event,
        autoscaling: true,
        detail: String::new(),
    };
    // Four in 24 hours (newest first): the fourth-newest must leave the window.
    let four = [at(7), at(10), at(15), at(20), at(24 * 13)];
    let n = next_change("available", &four, now());
    assert_eq!(n.changes_last_24h, 4);
    assert_eq!(n.changes_last_14d, 5);
    assert_eq!(n.not_before, now() + hours(4));
    assert!(
        n.reasons[0].contains("4 storage changes in the past 24 hours"),
        "{:?}",
        n.reasons
    );
    // Three: only the six hours (passed).
    let three = next_change("available", &four[1..4], now());
    assert_eq!(three.changes_last_24h, 3);
    assert!(three.allowed_now(now()));
    // The 24 hours window is open at its far end; 14 days too.
    let edge = [at(7), at(10), at(15), at(24), at(24 * 14)];
    let n = next_change("available", &edge, now());
    assert_eq!(n.changes_last_24h, 3);
    assert_eq!(n.changes_last_14d, 4);
    // The later of the two rules wins: the day's (+16 h) over the six hours (+1 h) ...
    let both = [at(5), at(6), at(7), at(8)];
    let n = next_change("available", &both, now());
    assert_eq!(n.not_before, now() + hours(16));
    let late = [at(1), at(20), at(21), at(22)];
    assert_eq!(
        next_change("available", &late, now()).not_before,
        now() + hours(5)
    );
}

#[test]
fn optimization_blocks_until_it_ends() {
    let n = next_change("Storage-Optimization", &[], now());
    assert!(n.optimizing);
    assert!(!n.allowed_now(now()));
    assert!(!n.allowed_now(now() + hours(100)));
    assert_eq!(
        n.when(now()),
        "when storage optimization ends (RDS does not say when)"
    );
    assert!(n.reasons[0].starts_with("storage optimization of the last change is still running"));
    let recent = PastChange {
        at: now() - hours(1),
        source: ChangeSource::OurRecord,
        autoscaling: false,
        detail: String::new(),
    };
    let n = next_change("storage-optimization", &[recent], now());
    assert_eq!(
        n.when(now()),
        "when storage optimization ends, and not before 2026-12-01T17:00:00Z"
    );
}

// ---- valid sizes ----

#[test]
fn documented_rules_per_storage_type() {
    let gp3 = documented("gp3").unwrap();
    assert_eq!(
        gp3.sizes_gib,
        vec![IntRange {
            from: 20,
            to: 65_536,
            step: 1
        }]
    );
    assert_eq!(gp3.iops[0].from, 3_000);
    assert_eq!(gp3.throughput_mibps[0].to, 4_000);
    assert_eq!(documented("io1").unwrap().sizes_gib[0].from, 100);
    assert_eq!(documented("io1").unwrap().iops_per_gib[0].to, 50.0);
    assert_eq!(documented("io2").unwrap().iops_per_gib[0].from, 0.5);
    assert_eq!(documented("standard").unwrap().sizes_gib[0].to, 3_072);
    assert!(documented("gp2").unwrap().iops.is_empty());
    assert!(documented("aurora").is_none());
    assert_eq!(documented("gp2").unwrap().storage_type, "gp2");
}

#[test]
fn rds_answer_first_else_the_documented_rules_with_the_reason() {
    let reported = ValidStorage {
        storage_type: "gp3".into(),
        sizes_gib: vec![IntRange {
            from: 20,
            to: 16_384,
            step: 1,
        }],
        iops: vec![],
        iops_per_gib: vec![],
        throughput_mibps: vec![],
        throughput_per_iops: vec![],
        supports_autoscaling: true,
    };
    let list = [reported.clone()];
    assert_eq!(
        rules_for("gp3", Ok(&list)),
        Some(Rules::Reported {
            valid: reported.clone()
        })
    );
    let why = |r: Option<Rules>| match r {
        Some(Rules::Documented { why, valid }) => (why, valid.storage_type),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        why(rules_for("gp2", Ok(&list))),
        (
            "RDS offered no modification of gp2 storage".into(),
            "gp2".into()
        )
    );
    let empty = [ValidStorage {
        sizes_gib: vec![],
        ..reported
    }];
    assert_eq!(
        why(rules_for("gp3", Ok(&empty))).0,
        "RDS listed no storage sizes for gp3"
    );
    assert_eq!(
        why(rules_for("gp3", Err("AccessDenied"))).0,
        "DescribeValidDBInstanceModifications failed: AccessDenied"
    );
    assert_eq!(rules_for("aurora", Err("x")), None);
    assert_eq!(rules_for("aurora", Ok(&[])), None);
}

#[test]
fn sizes_round_up_to_a_step_and_down_under_a_ceiling() {
    let ranges = [
        IntRange {
            from: 100,
            to: 400,
            step: 100,
        },
        IntRange {
            from: 1000,
            to: 2000,
            step: 10,
        },
    ];
    assert_eq!(round_up(50, &ranges), Some(100));
    assert_eq!(round_up(100, &ranges), Some(100));
    assert_eq!(round_up(101, &ranges), Some(200));
    assert_eq!(round_up(400, &ranges), Some(400));
    assert_eq!(round_up(401, &ranges), Some(1000));
    assert_eq!(round_up(1001, &ranges), Some(1010));
    assert_eq!(round_up(2000, &ranges), Some(2000));
    assert_eq!(
        round_up(2001, &ranges),
        Some(2000),
        "above all: the largest"
    );
    assert_eq!(round_up(10, &[]), None);
    // A step that does not land on the range's end.
    assert_eq!(
        round_up(
            390,
            &[IntRange {
                from: 100,
                to: 450,
                step: 100
            }]
        ),
        Some(400)
    );
    assert_eq!(
        round_up(
            420,
            &[IntRange {
                from: 100,
                to: 450,
                step: 100
            }]
        ),
        Some(450)
    );
    assert_eq!(round_down(450, &ranges), Some(400));
    assert_eq!(round_down(399, &ranges), Some(300));
    assert_eq!(round_down(1015, &ranges), Some(1010));
    assert_eq!(round_down(5000, &ranges), Some(2000));
    assert_eq!(round_down(99, &ranges), None);
    assert_eq!(round_down(100, &ranges), Some(100));
}

#[test]
fn iops_and_throughput_follow_the_size() {
    let gp3 = documented("gp3").unwrap();
    let pg = |size, iops, t| performance("postgres", "gp3", size, iops, t, &gp3);
    // Below 400 GiB RDS refuses any IOPS or throughput for MySQL, MariaDB, PostgreSQL: none sent.
    let p = pg(399, Some(3_000), Some(125));
    assert_eq!((p.iops, p.throughput_mibps), (None, None));
    assert!(p.notes.is_empty());
    assert_eq!(pg(100, None, None).iops, None);
    // Crossing 400 GiB: at least 12,000 / 500.
    let p = pg(400, Some(3_000), Some(125));
    assert_eq!((p.iops, p.throughput_mibps), (Some(12_000), Some(500)));
    assert_eq!(p.notes[0], "IOPS 3000 -> 12000 to stay valid at 400 GiB");
    assert_eq!(
        p.notes[1],
        "throughput 125 -> 500 MiB/s to stay valid at 400 GiB"
    );
    // Unset values above the threshold become the baseline.
    assert_eq!(pg(500, None, None).iops, Some(12_000));
    assert!(pg(500, None, None).notes[0].starts_with("IOPS baseline -> 12000"));
    assert!(pg(500, None, None).notes[1].starts_with("throughput baseline -> 500"));
    // Kept when valid: nothing sent.
    let p = pg(500, Some(16_000), Some(1_000));
    assert_eq!((p.iops, p.throughput_mibps), (None, None));
    // Throughput at most 0.25 MiB/s per IOPS.
    let p = pg(500, Some(12_000), Some(4_000));
    assert_eq!((p.iops, p.throughput_mibps), (None, Some(3_000)));
    // Oracle's threshold is 200 GiB; SQL Server has none (3,000 / 125 at every size).
    let ora = performance("oracle-ee", "gp3", 200, Some(3_000), Some(125), &gp3);
    assert_eq!(ora.iops, Some(12_000));
    let ora = performance("oracle-ee", "gp3", 199, Some(3_000), Some(125), &gp3);
    assert_eq!(ora.iops, None);
    let sql = performance("sqlserver-se", "gp3", 500, Some(3_000), Some(125), &gp3);
    assert_eq!((sql.iops, sql.throughput_mibps), (None, None));
    let sql = performance("sqlserver-se", "gp3", 20, None, None, &gp3);
    assert_eq!((sql.iops, sql.throughput_mibps), (Some(3_000), Some(125)));
    assert_eq!(gp3_threshold("postgres"), Some(400));
    assert_eq!(gp3_threshold("Oracle-SE2"), Some(200));
    assert_eq!(gp3_threshold("SQLSERVER-EX"), None);
    // io1: IOPS between 1 and 50 per GiB; sent only when the size makes them invalid.
    let io1 = documented("io1").unwrap();
    let p = performance("postgres", "io1", 100, Some(10_000), None, &io1);
    assert_eq!((p.iops, p.throughput_mibps), (Some(5_000), None));
    assert_eq!(
        p.notes,
        vec!["IOPS 10000 -> 5000 to stay valid at 100 GiB".to_string()]
    );
    let p = performance("postgres", "io1", 2_000, Some(1_000), None, &io1);
    assert_eq!(p.iops, Some(2_000));
    let p = performance("postgres", "io1", 200, Some(1_000), None, &io1);
    assert_eq!(p.iops, None);
    assert!(p.notes.is_empty());
    // Absolute IOPS range too.
    let p = performance(
        "postgres",
        "io2",
        100_000,
        Some(300_000),
        None,
        &documented("io2").unwrap(),
    );
    assert_eq!(p.iops, Some(256_000));
    // gp2 and magnetic: nothing goes with the size.
    let p = performance(
        "postgres",
        "gp2",
        500,
        Some(1_500),
        None,
        &documented("gp2").unwrap(),
    );
    assert_eq!((p.iops, p.throughput_mibps), (None, None));
    assert!(p.notes.is_empty());
    // A reported ratio of zero does not zero the throughput.
    let zero = ValidStorage {
        throughput_per_iops: vec![RatioRange { from: 0.0, to: 0.0 }],
        ..gp3
    };
    assert_eq!(
        performance("postgres", "gp3", 500, Some(12_000), Some(600), &zero).throughput_mibps,
        None
    );
}

// ---- the decision, case by case ----

#[test]
fn without_autoscaling_a_low_alarm_grows_to_an_absolute_size() {
    // 100 GiB, 10 free, 0.1 GiB/h: 7 days + 6 h of growth = 17.4 GiB; (90 + 17.4) / 0.9.
    let st = instance(100);
    let v = verdict(&st, Some(&fc(10.0, 0.1)), Ask::Low);
    assert_eq!(grown_to(&v), 120);
    assert_eq!(v.severity, Severity::Warn);
    assert!(v.snapshot_first);
    assert!(reason(&v).starts_with("growing 100 GiB -> 120 GiB; room for 7 days of forecast growth (0.10 GiB/h) and the 6 h before another change, with 10% free"), "{}", reason(&v));
    assert_eq!(
        v.action.modification("gp2").unwrap(),
        rds_responder::storage::StorageModification {
            allocated_gib: Some(120),
            ..Default::default()
        }
    );
    // No growth in sight: the +10% RDS requires is the least.
    let flat = verdict(&st, Some(&fc(10.0, 0.0)), Ask::Low);
    assert_eq!(grown_to(&flat), 110);
    // No forecast at all: everything counts as used, and 10% stays free.
    assert_eq!(grown_to(&verdict(&st, None, Ask::Low)), 112);
    // Rounded up at 10%: 101 GiB, 100 free -> 112 (111.1).
    assert_eq!(
        grown_to(&verdict(&instance(101), Some(&fc(100.0, 0.0)), Ask::Low)),
        112
    );
}

#[test]
fn a_disk_that_fills_before_another_change_escalates_and_grows_once_enough() {
    let st = instance(100);
    // 2 GiB free at 1 GiB/h: full in 2 h, before the 6 h another change must wait.
    let v = verdict(&st, Some(&fc(2.0, 1.0)), Ask::Low);
    assert_eq!(v.severity, Severity::Critical);
    // (98 + 1 * (7 * 24 + 6)) / 0.9 = 302.2
    assert_eq!(grown_to(&v), 303);
    assert!(reason(&v).contains("sooner than another change could follow this one"));
    // Full in exactly 6 h: still critical; in 7 h: not.
    assert_eq!(
        verdict(&st, Some(&fc(6.0, 1.0)), Ask::Low).severity,
        Severity::Critical
    );
    assert_eq!(
        verdict(&st, Some(&fc(7.0, 1.0)), Ask::Low).severity,
        Severity::Warn
    );
}

#[test]
fn a_change_not_allowed_yet_is_refused_saying_when() {
    let st = instance(100);
    let recent = PastChange {
        at: now() - hours(2),
        source: ChangeSource::Event,
        autoscaling: false,
        detail: String::new(),
    };
    let next = next_change("available", &[recent], now());
    let v = verdict_of(&st, &next, Some(&fc(2.0, 1.0)), Ask::Low, &limits());
    assert_eq!(v.action, Action::None);
    assert_eq!(v.severity, Severity::Critical);
    assert!(!v.snapshot_first);
    assert!(
        reason(&v).starts_with("a storage change is not allowed yet (6 hours after the last storage change (2026-12-01T10:00:00Z)); the next is possible at 2026-12-01T16:00:00Z; full is forecast at 2026-12-01T14:00:00Z (in 2.0 h)"),
        "{}",
        reason(&v)
    );
    // A manual request meets the same rule.
    let manual = Ask::Manual {
        sizing: Sizing::TargetGib(200),
    };
    let v = verdict_of(&st, &next, None, manual, &limits());
    assert_eq!(v.action, Action::None);
    assert!(reason(&v).contains("free space is not falling (no full forecast)"));
    assert_eq!(v.severity, Severity::Warn, "nothing says it fills first");
    // Full exactly when the change is allowed: critical; a minute later: it can wait.
    let v = verdict_of(&st, &next, Some(&fc(4.0, 1.0)), Ask::Low, &limits());
    assert_eq!(v.severity, Severity::Critical);
    let v = verdict_of(
        &st,
        &next,
        Some(&fc(4.0 + 1.0 / 60.0, 1.0)),
        Ask::Low,
        &limits(),
    );
    assert_eq!(v.severity, Severity::Warn);
}

#[test]
fn optimization_in_progress_refuses_growth_but_not_a_higher_maximum() {
    let mut st = instance(100);
    st.status = "storage-optimization".into();
    let next = next_change(&st.status, &[], now());
    let v = verdict_of(&st, &next, Some(&fc(3.0, 1.0)), Ask::Low, &limits());
    assert_eq!(v.action, Action::None);
    assert_eq!(v.severity, Severity::Critical);
    assert!(
        reason(&v).contains(
            "the next is possible when storage optimization ends (RDS does not say when)"
        ),
        "{}",
        reason(&v)
    );
    // Full beyond the horizon: it can wait for the optimization; within it, not.
    assert_eq!(
        verdict_of(&st, &next, Some(&fc(49.0, 1.0)), Ask::Low, &limits()).severity,
        Severity::Warn
    );
    assert_eq!(
        verdict_of(&st, &next, Some(&fc(48.0, 1.0)), Ask::Low, &limits()).severity,
        Severity::Critical
    );
    // The rules' own time counts too while optimizing: full before it is critical.
    let recent = PastChange {
        at: now() - hours(1),
        source: ChangeSource::Event,
        autoscaling: false,
        detail: String::new(),
    };
    let held = next_change(&st.status, &[recent], now());
    let long = Limits {
        act_within_hours: 1,
        ..limits()
    };
    assert_eq!(
        verdict_of(&st, &held, Some(&fc(5.0, 1.0)), Ask::Low, &long).severity,
        Severity::Critical
    );
    assert_eq!(
        verdict_of(&st, &held, Some(&fc(6.0, 1.0)), Ask::Low, &long).severity,
        Severity::Warn
    );
    // Autoscaling near its maximum while optimizing: the maximum may still rise.
    st.max_allocated_gib = Some(105);
    let v = verdict_of(
        &st,
        &next,
        Some(&fc(30.0, 0.1)),
        Ask::NearMaximum,
        &limits(),
    );
    assert!(matches!(v.action, Action::RaiseMaximum { .. }), "{v:?}");
    assert!(v.snapshot_first);
}

#[test]
fn autoscaling_with_headroom_and_time_is_left_alone() {
    let mut st = instance(100);
    st.max_allocated_gib = Some(500);
    let v = verdict(&st, Some(&fc(10.0, 0.1)), Ask::Low);
    assert_eq!(v.action, Action::None);
    assert_eq!(v.severity, Severity::Ok);
    assert_eq!(
        reason(&v),
        "autoscaling is on (maximum 500 GiB, 400 GiB of headroom) and may act again now; full is forecast at 2026-12-05T16:00:00Z (in 100.0 h): no change"
    );
    // No forecast: autoscaling is trusted.
    assert_eq!(verdict(&st, None, Ask::Low).action, Action::None);
    // Exactly one step of headroom (10 GiB at 100 GiB) is still room.
    st.max_allocated_gib = Some(110);
    assert_eq!(
        verdict(&st, Some(&fc(10.0, 0.1)), Ask::Low).action,
        Action::None
    );
}

#[test]
fn autoscaling_near_its_maximum_raises_it_within_the_ceiling() {
    let mut st = instance(100);
    st.max_allocated_gib = Some(109);
    let v = verdict(&st, Some(&fc(10.0, 0.1)), Ask::Low);
    // At least 26% above allocated (126), room for 7 days: (90 + 16.8) / 0.9 = 118.7 -> 119,
    // and at least 10% above the old maximum (120): 126.
    assert_eq!(
        v.action,
        Action::RaiseMaximum {
            from_gib: 109,
            to_gib: 126
        }
    );
    assert_eq!(v.severity, Severity::Warn);
    assert!(reason(&v).starts_with("autoscaling is near its maximum (109 GiB, 100 GiB allocated): raising the maximum to 126 GiB"));
    assert_eq!(
        v.action.modification("gp2").unwrap(),
        rds_responder::storage::StorageModification {
            max_allocated_gib: Some(126),
            ..Default::default()
        }
    );
    // The step is the larger of 10 GiB, 10% and 7 h of growth: 3 GiB/h -> 21 GiB.
    st.max_allocated_gib = Some(120);
    let fast = verdict(&st, Some(&fc(200.0, 3.0)), Ask::Low);
    assert!(
        matches!(fast.action, Action::RaiseMaximum { from_gib: 120, .. }),
        "{fast:?}"
    );
    st.max_allocated_gib = Some(121);
    assert_eq!(
        verdict(&st, Some(&fc(200.0, 3.0)), Ask::Low).action,
        Action::None
    );
    // 10% of a large volume: 1000 GiB allocated, maximum 1099.
    let mut big = instance(1000);
    big.max_allocated_gib = Some(1099);
    let l = Limits {
        ceiling_gib: 5000,
        ..limits()
    };
    let v = verdict_of(&big, &free_now(), None, Ask::Low, &l);
    assert_eq!(
        v.action,
        Action::RaiseMaximum {
            from_gib: 1099,
            to_gib: 1260
        }
    );
    big.max_allocated_gib = Some(1100);
    assert_eq!(
        verdict_of(&big, &free_now(), None, Ask::Low, &l).action,
        Action::None
    );
    // RDS says near the maximum (0224/0225): raised even with room by our count.
    let mut roomy = instance(100);
    roomy.max_allocated_gib = Some(200);
    let v = verdict(&roomy, None, Ask::NearMaximum);
    assert_eq!(
        v.action,
        Action::RaiseMaximum {
            from_gib: 200,
            to_gib: 220
        }
    );
}

#[test]
fn the_ceiling_holds_the_maximum_and_refuses_past_it() {
    let mut st = instance(900);
    st.max_allocated_gib = Some(950);
    let v = verdict(&st, None, Ask::Low);
    assert_eq!(
        v.action,
        Action::RaiseMaximum {
            from_gib: 950,
            to_gib: 1000
        }
    );
    assert_eq!(v.severity, Severity::Critical);
    assert!(reason(&v)
        .contains("MAX_STORAGE_GIB (1000 GiB) holds the maximum below the 1134 GiB wanted"));
    // One autoscaling step (90 GiB) still fits under 1000: left to autoscaling.
    st.max_allocated_gib = Some(1000);
    assert_eq!(verdict(&st, None, Ask::Low).severity, Severity::Ok);
    let mut at_max = instance(950);
    at_max.max_allocated_gib = Some(1000);
    let v = verdict(&at_max, None, Ask::Low);
    assert_eq!(v.action, Action::None);
    assert_eq!(v.severity, Severity::Critical);
    assert!(reason(&v).starts_with("autoscaling is near its maximum (1000 GiB, 950 GiB allocated) and MAX_STORAGE_GIB (1000 GiB) allows no higher maximum"));
}

#[test]
fn autoscaling_that_cannot_act_in_time_is_overtaken_by_a_grow() {
    let mut st = instance(100);
    st.max_allocated_gib = Some(500);
    let recent = PastChange {
        at: now() - hours(5),
        source: ChangeSource::Event,
        autoscaling: true,
        detail: String::new(),
    };
    // Autoscaling may act again in 1 h; the disk is full in 30 minutes; no change of ours is
    // allowed either: refused and escalated.
    let next = next_change("available", &[recent], now());
    let v = verdict_of(&st, &next, Some(&fc(0.5, 1.0)), Ask::Low, &limits());
    assert_eq!(v.action, Action::None);
    assert_eq!(v.severity, Severity::Critical);
    // Full before autoscaling's own five-minute wait could end... and a change is allowed
    // now: one grow now, autoscaling's maximum kept 10% above it.
    let v = verdict(&st, Some(&fc(0.0, 1.0)), Ask::Low);
    assert_eq!(v.severity, Severity::Critical);
    let to = grown_to(&v);
    assert_eq!(to, 305); // (100 + 174) / 0.9 = 304.4
    match v.action {
        Action::Grow { max_to_gib, .. } => assert_eq!(max_to_gib, None, "500 is above 336"),
        _ => unreachable!(),
    }
    // A grow that passes the maximum moves it along: at least +10%, 26% when the ceiling
    // allows.
    st.max_allocated_gib = Some(320);
    match verdict(&st, Some(&fc(0.0, 1.0)), Ask::Low).action {
        Action::Grow { max_to_gib, .. } => assert_eq!(max_to_gib, Some(385)),
        other => panic!("{other:?}"),
    }
    st.max_allocated_gib = Some(336);
    match verdict(&st, Some(&fc(0.0, 1.0)), Ask::Low).action {
        Action::Grow { max_to_gib, .. } => assert_eq!(max_to_gib, None),
        other => panic!("{other:?}"),
    }
    st.max_allocated_gib = Some(335);
    match verdict(&st, Some(&fc(0.0, 1.0)), Ask::Low).action {
        Action::Grow { max_to_gib, .. } => assert_eq!(max_to_gib, Some(385)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn storage_full_grows_without_a_snapshot() {
    let mut st = instance(100);
    st.status = "storage-full".into();
    let v = verdict(&st, None, Ask::Low);
    assert_eq!(grown_to(&v), 112); // 100 used / 0.9
    assert!(!v.snapshot_first);
    assert_eq!(v.severity, Severity::Critical);
    assert_eq!(v.full_at, Some(now()));
    assert!(reason(&v).contains(
        "the instance is storage-full: grown without a snapshot (RDS cannot snapshot it)"
    ));
    // Even with autoscaling on and room: it is full now, autoscaling did not save it.
    st.max_allocated_gib = Some(500);
    let v = verdict(&st, Some(&fc(5.0, 0.0)), Ask::Low);
    assert!(matches!(v.action, Action::Grow { .. }), "{v:?}");
    // A stale free reading does not shrink the need: storage-full counts all as used.
    assert_eq!(grown_to(&v), 112);
}

#[test]
fn states_rds_cannot_modify_are_refused() {
    for status in [
        "modifying",
        "backing-up",
        "rebooting",
        "stopped",
        "incompatible-parameters",
    ] {
        let mut st = instance(100);
        st.status = status.into();
        let v = verdict(&st, Some(&fc(1.0, 1.0)), Ask::Low);
        assert_eq!(v.action, Action::None, "{status}");
        assert_eq!(v.severity, Severity::Critical);
        assert!(reason(&v).starts_with(&format!("orders-db is {status}: RDS modifies storage only when it is available, storage-optimization or storage-full")), "{}", reason(&v));
    }
    let mut st = instance(100);
    st.status = "Available".into();
    assert!(verdict(&st, None, Ask::Low).action.changes());
}

#[test]
fn a_pending_change_is_not_doubled() {
    let mut st = instance(100);
    st.pending.allocated_gib = Some(120);
    st.pending.iops = Some(3000);
    let v = verdict(&st, Some(&fc(30.0, 0.1)), Ask::Low);
    assert_eq!(v.action, Action::None);
    assert_eq!(v.severity, Severity::Warn);
    assert!(reason(&v).starts_with(
        "a storage change is already pending (to 120 GiB, 3000 IOPS): not adding another"
    ));
    // Critical when the disk fills within ACT_WITHIN_HOURS (48 h): at 48 h, yes; 49, no.
    assert_eq!(
        verdict(&st, Some(&fc(48.0, 1.0)), Ask::Low).severity,
        Severity::Critical
    );
    assert_eq!(
        verdict(&st, Some(&fc(49.0, 1.0)), Ask::Low).severity,
        Severity::Warn
    );
    let mut t = instance(100);
    t.pending.storage_type = Some("gp3".into());
    t.pending.throughput_mibps = Some(125);
    assert!(reason(&verdict(&t, None, Ask::Low)).contains("(125 MiB/s, type gp3)"));
}

#[test]
fn too_many_changes_in_fourteen_days_are_refused() {
    let st = instance(100);
    let at = |d: i64| PastChange {
        at: now() - Duration::days(d),
        source: ChangeSource::Event,
        autoscaling: false,
        detail: String::new(),
    };
    let four = [at(1), at(3), at(5), at(7)];
    let next = next_change("available", &four, now());
    let v = verdict_of(&st, &next, None, Ask::Low, &limits());
    assert_eq!(v.action, Action::None);
    assert_eq!(v.severity, Severity::Critical);
    assert!(reason(&v).starts_with("4 storage changes in the past 14 days, the most MAX_CHANGES_14_DAYS allows (4): refusing another"));
    let three = next_change("available", &four[..3], now());
    assert!(verdict_of(&st, &three, None, Ask::Low, &limits())
        .action
        .changes());
}

#[test]
fn the_ceiling_caps_a_grow_or_refuses_it() {
    let st = instance(900);
    // 900 -> 990 wanted (+10%), ceiling 1000: fits.
    assert_eq!(grown_to(&verdict(&st, Some(&fc(90.0, 0.0)), Ask::Low)), 990);
    // Room for growth wants more: capped at the ceiling, critical.
    let v = verdict(&st, Some(&fc(10.0, 1.0)), Ask::Low);
    assert_eq!(grown_to(&v), 1000);
    assert_eq!(v.severity, Severity::Critical);
    assert!(
        reason(&v).contains(
            "MAX_STORAGE_GIB (1000 GiB) holds the new size at 1000 GiB, below the 1183 GiB wanted"
        ),
        "{}",
        reason(&v)
    );
    // +10% no longer fits: refused.
    let v = verdict(&instance(910), Some(&fc(90.0, 0.0)), Ask::Low);
    assert_eq!(v.action, Action::None);
    assert_eq!(v.severity, Severity::Critical);
    assert!(reason(&v).starts_with("MAX_STORAGE_GIB (1000 GiB) is reached: 910 GiB allocated, and the smallest increase RDS allows is to 1001 GiB"));
    // With autoscaling on, its maximum must fit 10% above the size within the ceiling too.
    let mut auto = instance(800);
    auto.max_allocated_gib = Some(850);
    let v = verdict(&auto, Some(&fc(0.0, 1.0)), Ask::Low);
    assert_eq!(grown_to(&v), 909); // 1000 / 1.1
    match v.action {
        Action::Grow { max_to_gib, .. } => assert_eq!(max_to_gib, Some(1000)),
        _ => unreachable!(),
    }
}

#[test]
fn the_largest_valid_size_below_the_least_increase_is_refused() {
    let mut st = instance(3_000);
    st.storage_type = "standard".into();
    let l = Limits {
        ceiling_gib: 65_536,
        ..limits()
    };
    let v = verdict_of(&st, &free_now(), None, Ask::Low, &l);
    assert_eq!(v.action, Action::None);
    assert!(reason(&v).starts_with("standard storage cannot grow past 3072 GiB (the largest valid size), below the 3300 GiB needed"), "{}", reason(&v));
}

#[test]
fn a_sweep_acts_only_within_its_horizon() {
    let st = instance(100);
    // Full in 40 h (within 48): grow.
    assert!(verdict(&st, Some(&fc(40.0, 1.0)), Ask::Sweep)
        .action
        .changes());
    assert!(verdict(&st, Some(&fc(48.0, 1.0)), Ask::Sweep)
        .action
        .changes());
    // Full in 60 h: reported only.
    let v = verdict(&st, Some(&fc(60.0, 1.0)), Ask::Sweep);
    assert_eq!(v.action, Action::None);
    assert_eq!(v.severity, Severity::Ok);
    assert_eq!(
        reason(&v),
        "full is forecast at 2026-12-04T00:00:00Z (in 60.0 h); not within ACT_WITHIN_HOURS (48 h): no change"
    );
    // No forecast: nothing to act on.
    assert_eq!(verdict(&st, None, Ask::Sweep).action, Action::None);
}

#[test]
fn manual_sizings() {
    let st = instance(100);
    let manual = |sizing| Ask::Manual { sizing };
    let v = verdict(&st, None, manual(Sizing::TargetGib(200)));
    assert_eq!(grown_to(&v), 200);
    assert!(reason(&v).contains("target_gib 200 asked"));
    // Below +10%: refused with the rule.
    let v = verdict(&st, None, manual(Sizing::TargetGib(109)));
    assert_eq!(v.action, Action::None);
    assert_eq!(v.severity, Severity::Warn);
    assert_eq!(
        reason(&v),
        "target_gib 109 is below 110 GiB, the +10% RDS requires of 100 GiB: nothing changed"
    );
    assert_eq!(
        grown_to(&verdict(&st, None, manual(Sizing::TargetGib(110)))),
        110
    );
    assert_eq!(
        grown_to(&verdict(&st, None, manual(Sizing::GrowPercent(25)))),
        125
    );
    assert_eq!(
        grown_to(&verdict(&st, None, manual(Sizing::GrowPercent(10)))),
        110
    );
    // A bulk load of 300 GiB with 40 free and 0.1 GiB/h: (60 + 300 + 17.4) / 0.9 = 419.3.
    let v = verdict(
        &st,
        Some(&fc(40.0, 0.1)),
        manual(Sizing::ExpectedGrowthGib(300)),
    );
    assert_eq!(grown_to(&v), 420);
    assert!(reason(&v).contains("room for expected_growth_gib 300 plus 7 days of forecast growth"));
    // Forecast sizing by hand, even with autoscaling on and room.
    let mut auto = instance(100);
    auto.max_allocated_gib = Some(500);
    let v = verdict(&auto, Some(&fc(50.0, 0.0)), manual(Sizing::Forecast));
    assert_eq!(grown_to(&v), 110);
    // gp3 crossing 400 GiB by hand: IOPS and throughput sent with the size, and the type.
    let mut gp3 = instance(300);
    gp3.storage_type = "gp3".into();
    gp3.iops = Some(3000);
    gp3.throughput_mibps = Some(125);
    let v = verdict(&gp3, None, manual(Sizing::TargetGib(500)));
    assert_eq!(
        v.action,
        Action::Grow {
            from_gib: 300,
            to_gib: 500,
            max_to_gib: None,
            iops: Some(12_000),
            throughput_mibps: Some(500)
        }
    );
    assert_eq!(
        v.action.modification("gp3").unwrap(),
        rds_responder::storage::StorageModification {
            allocated_gib: Some(500),
            max_allocated_gib: None,
            iops: Some(12_000),
            throughput_mibps: Some(500),
            storage_type: Some("gp3".into()),
        }
    );
    assert!(reason(&v).contains("IOPS 3000 -> 12000 to stay valid at 500 GiB"));
}

#[test]
fn aurora_members_and_multi_az_cluster_members_are_not_grown() {
    let mut st = instance(100);
    st.engine = "aurora-postgresql".into();
    st.storage_type = "aurora".into();
    st.cluster_id = Some("orders-aurora".into());
    let v = decide_storage(
        &Situation {
            storage: &st,
            rules: None,
            next: &free_now(),
            forecast: None,
            events_read: true,
            now: now(),
            ask: Ask::Low,
        },
        &limits(),
    );
    assert_eq!(v.action, Action::None);
    assert_eq!(v.severity, Severity::Warn);
    assert!(reason(&v).starts_with("orders-db is an aurora-postgresql instance of cluster orders-aurora: the cluster volume grows by itself"), "{}", reason(&v));
    // A Multi-AZ DB cluster member (not Aurora): its storage is the cluster's; critical.
    let mut member = instance(100);
    member.cluster_id = Some("orders-cluster".into());
    let v = verdict(&member, Some(&fc(1.0, 1.0)), Ask::Low);
    assert_eq!(v.severity, Severity::Critical);
    assert!(reason(&v).starts_with("orders-db is a member of Multi-AZ DB cluster orders-cluster: its storage changes only through the cluster (ModifyDBCluster)"), "{}", reason(&v));
    let mut odd = instance(100);
    odd.storage_type = "io3".into();
    let v = decide_storage(
        &Situation {
            storage: &odd,
            rules: None,
            next: &free_now(),
            forecast: None,
            events_read: true,
            now: now(),
            ask: Ask::Low,
        },
        &limits(),
    );
    assert_eq!(v.action, Action::None);
    assert_eq!(v.severity, Severity::Critical);
    assert!(reason(&v).starts_with("storage type io3 has no known valid sizes"));
}

#[test]
fn documented_rules_are_named_in_the_reasons() {
    let st = instance(100);
    let r = Rules::Documented {
        valid: documented("gp2").unwrap(),
        why: "RDS offered no modification of gp2 storage".into(),
    };
    let v = decide_storage(
        &Situation {
            storage: &st,
            rules: Some(&r),
            next: &free_now(),
            forecast: None,
            events_read: true,
            now: now(),
            ask: Ask::Low,
        },
        &limits(),
    );
    assert!(reason(&v)
        .contains("sized by the documented gp2 rules: RDS offered no modification of gp2 storage"));
    // A reported step rounds the size up.
    let stepped = Rules::Reported {
        valid: ValidStorage {
            sizes_gib: vec![IntRange {
                from: 100,
                to: 1000,
                step: 50,
            }],
            ..documented("gp2").unwrap()
        },
    };
    let v = decide_storage(
        &Situation {
            storage: &st,
            rules: Some(&stepped),
            next: &free_now(),
            forecast: None,
            events_read: true,
            now: now(),
            ask: Ask::Low,
        },
        &limits(),
    );
    assert_eq!(grown_to(&v), 150);
}

#[test]
fn the_smallest_fitting_size_wins_in_any_order() {
    let ranges = [
        IntRange {
            from: 1000,
            to: 2000,
            step: 10,
        },
        IntRange {
            from: 100,
            to: 400,
            step: 100,
        },
    ];
    assert_eq!(round_up(50, &ranges), Some(100));
    assert_eq!(round_up(401, &ranges), Some(1000));
    assert_eq!(round_up(5000, &ranges), Some(2000));
}

#[test]
fn a_raised_maximum_leaves_room_for_the_growth_days() {
    // 90 GiB used, 1 GiB/h: 7 days of growth want (90 + 168) / 0.9 = 286.7 -> 287 GiB.
    let mut st = instance(100);
    st.max_allocated_gib = Some(105);
    let v = verdict(&st, Some(&fc(10.0, 1.0)), Ask::NearMaximum);
    assert_eq!(
        v.action,
        Action::RaiseMaximum {
            from_gib: 105,
            to_gib: 287
        }
    );
    // Free space counts: 50 GiB free, (50 + 168) / 0.9 = 242.2.
    let v = verdict(&st, Some(&fc(50.0, 1.0)), Ask::NearMaximum);
    assert_eq!(
        v.action,
        Action::RaiseMaximum {
            from_gib: 105,
            to_gib: 243
        }
    );
}

#[test]
fn a_size_exactly_at_the_ceiling_is_not_held_by_it() {
    let l = Limits {
        ceiling_gib: 990,
        ..limits()
    };
    let v = verdict_of(
        &instance(900),
        &free_now(),
        Some(&fc(90.0, 0.0)),
        Ask::Low,
        &l,
    );
    assert_eq!(grown_to(&v), 990);
    assert_eq!(v.severity, Severity::Warn);
    assert!(!reason(&v).contains("holds the new size"), "{}", reason(&v));
}

#[test]
fn storage_full_is_said_to_be_full_now() {
    let mut st = instance(100);
    st.status = "storage-full".into();
    st.pending.allocated_gib = Some(120);
    let v = verdict(&st, None, Ask::Low);
    assert!(
        reason(&v).ends_with("not adding another; it is full now"),
        "{}",
        reason(&v)
    );
}

#[test]
fn a_gib_is_two_to_the_thirtieth_bytes() {
    assert_eq!(GIB, 1_073_741_824.0);
}

#[test]
fn provisioned_types_send_their_type_with_iops_or_throughput_alone() {
    let iops_only = Action::Grow {
        from_gib: 100,
        to_gib: 200,
        max_to_gib: None,
        iops: Some(5_000),
        throughput_mibps: None,
    };
    assert_eq!(
        iops_only
            .modification("io1")
            .unwrap()
            .storage_type
            .as_deref(),
        Some("io1")
    );
    let throughput_only = Action::Grow {
        from_gib: 500,
        to_gib: 600,
        max_to_gib: None,
        iops: None,
        throughput_mibps: Some(600),
    };
    assert_eq!(
        throughput_only
            .modification("gp3")
            .unwrap()
            .storage_type
            .as_deref(),
        Some("gp3")
    );
    let size_only = Action::Grow {
        from_gib: 100,
        to_gib: 200,
        max_to_gib: Some(300),
        iops: None,
        throughput_mibps: None,
    };
    let m = size_only.modification("gp2").unwrap();
    assert_eq!((m.storage_type, m.max_allocated_gib), (None, Some(300)));
}

#[test]
fn actions_say_whether_they_change() {
    assert!(!Action::None.changes());
    assert!(Action::RaiseMaximum {
        from_gib: 1,
        to_gib: 2
    }
    .changes());
    assert_eq!(Action::None.modification("gp2"), None);
}

// ---- what the hostile review found ----

#[test]
fn a_dip_in_the_last_hour_sizes_only_the_next_hours() {
    // Flat at 40 GiB free for a day, 8 GiB in the last minutes: 17.6 GiB/h over the last hour.
    let mut f = fc(8.0, 17.6);
    f.used_gib_per_hour_all = 0.2;
    // 6 h at the fast rate, the rest at the day's.
    assert!((f.growth_gib(24.0) - (17.6 * 6.0 + 0.2 * 18.0)).abs() < 1e-9);
    assert!((f.growth_gib(3.0) - 17.6 * 3.0).abs() < 1e-9);
    assert_eq!(f.growth_gib(-1.0), 0.0);
    let freeing = Forecast {
        used_gib_per_hour_all: -1.0,
        ..fc(8.0, 2.0)
    };
    assert!(
        (freeing.growth_gib(10.0) - 12.0).abs() < 1e-9,
        "a falling day adds nothing"
    );
    // (92 + 105.6 + 0.2 * 168) / 0.9 = 256.9: not the 6,792 GiB two weeks at 17.6 GiB/h want.
    let v = verdict(&instance(100), Some(&f), Ask::Low);
    assert_eq!(grown_to(&v), 257);
}

#[test]
fn an_automatic_change_grows_by_at_most_max_grow_percent() {
    let l = Limits {
        max_grow_percent: 100,
        ..limits()
    };
    let v = verdict_of(
        &instance(100),
        &free_now(),
        Some(&fc(2.0, 1.0)),
        Ask::Low,
        &l,
    );
    assert_eq!(grown_to(&v), 200);
    assert!(reason(&v).contains("MAX_GROW_PERCENT (100%) holds this automatic change to 200 GiB of the 303 GiB the forecast wants"), "{}", reason(&v));
    // Within the cap: untouched.
    assert_eq!(
        grown_to(&verdict_of(
            &instance(100),
            &free_now(),
            Some(&fc(10.0, 0.1)),
            Ask::Low,
            &l
        )),
        120
    );
    // Exactly at it: not capped (no note).
    let edge = Limits {
        max_grow_percent: 203,
        ..limits()
    };
    let v = verdict_of(
        &instance(100),
        &free_now(),
        Some(&fc(2.0, 1.0)),
        Ask::Low,
        &edge,
    );
    assert_eq!(grown_to(&v), 303);
    assert!(!reason(&v).contains("MAX_GROW_PERCENT"));
    // A request by hand is not capped.
    let manual = Ask::Manual {
        sizing: Sizing::TargetGib(500),
    };
    assert_eq!(
        grown_to(&verdict_of(&instance(100), &free_now(), None, manual, &l)),
        500
    );
}

#[test]
fn other_pending_modifications_are_not_applied_with_a_change() {
    let mut st = instance(100);
    st.pending_other = vec!["DBInstanceClass".into(), "MultiAZ".into()];
    let v = verdict(&st, Some(&fc(2.0, 1.0)), Ask::Low);
    assert_eq!(
        (v.action.clone(), v.severity),
        (Action::None, Severity::Critical)
    );
    assert!(reason(&v).starts_with("modifications wait for the maintenance window (DBInstanceClass, MultiAZ): a storage change applied now would apply them too"));
    // storage-full: the database is down already; it is grown.
    st.status = "storage-full".into();
    assert!(verdict(&st, None, Ask::Low).action.changes());
}

#[test]
fn a_raised_maximum_is_at_least_ten_percent_above_allocated() {
    let mut st = instance(920);
    st.max_allocated_gib = Some(950);
    let v = verdict(&st, None, Ask::Low);
    assert_eq!(v.action, Action::None);
    assert_eq!(v.severity, Severity::Critical);
    assert!(
        reason(&v).contains("allows no higher maximum"),
        "{}",
        reason(&v)
    );
    // 909 allocated: 10% above is 1000, the ceiling: allowed.
    let mut edge = instance(909);
    edge.max_allocated_gib = Some(950);
    assert_eq!(
        verdict(&edge, None, Ask::Low).action,
        Action::RaiseMaximum {
            from_gib: 950,
            to_gib: 1000
        }
    );
    // At its maximum (allocated == maximum): near it, raised.
    let mut at = instance(100);
    at.max_allocated_gib = Some(100);
    assert_eq!(
        verdict(&at, None, Ask::Low).action,
        Action::RaiseMaximum {
            from_gib: 100,
            to_gib: 126
        }
    );
}

#[test]
fn a_sweep_leaves_a_tight_maximum_alone_outside_its_horizon() {
    let mut st = instance(100);
    st.max_allocated_gib = Some(105);
    let v = verdict(&st, Some(&fc(60.0, 1.0)), Ask::Sweep);
    assert_eq!((v.action.clone(), v.severity), (Action::None, Severity::Ok));
    assert!(reason(&v).contains("not within ACT_WITHIN_HOURS"));
    assert!(matches!(
        verdict(&st, Some(&fc(40.0, 1.0)), Ask::Sweep).action,
        Action::RaiseMaximum { .. }
    ));
}

#[test]
fn without_its_events_only_what_cannot_wait_is_changed() {
    let st = instance(100);
    let blind = |forecast: Option<&Forecast>, st: &StorageInfo| {
        let r = rules("gp2");
        decide_storage(
            &Situation {
                storage: st,
                rules: Some(&r),
                next: &free_now(),
                forecast,
                events_read: false,
                now: now(),
                ask: Ask::Low,
            },
            &limits(),
        )
    };
    let v = blind(Some(&fc(60.0, 1.0)), &st);
    assert_eq!(
        (v.action.clone(), v.severity),
        (Action::None, Severity::Warn)
    );
    assert!(reason(&v).starts_with(
        "the instance's events could not be read, so its recent storage changes are unknown"
    ));
    assert_eq!(blind(None, &st).action, Action::None);
    // Full within the horizon, or full now: saved all the same.
    assert!(blind(Some(&fc(48.0, 1.0)), &st).action.changes());
    let mut full = instance(100);
    full.status = "storage-full".into();
    assert!(blind(None, &full).action.changes());
}

#[test]
fn when_rds_says_autoscaling_failed_its_headroom_covers_nothing() {
    let mut st = instance(100);
    st.max_allocated_gib = Some(500);
    assert_eq!(
        verdict(&st, Some(&fc(10.0, 0.1)), Ask::Low).action,
        Action::None
    );
    let v = verdict(&st, Some(&fc(10.0, 0.1)), Ask::AutoscalingFailed);
    assert_eq!(grown_to(&v), 120);
}

// ---- what a trigger asks ----

mod triggers {
    use rds_responder::config::Env;
    use rds_responder::testing::{origin, sample};
    use rds_responder::trigger::{parse_trigger, RdsIdentifier, ResourceKind, TargetList, Trigger};
    use serde_json::{json, Value};

    use super::super::{decide, Decision};
    use super::Ask;
    use crate::config::GuardConfig;
    use crate::request::{ManualGrow, Sizing};

    fn config(pairs: &[(&str, &str)]) -> GuardConfig {
        GuardConfig::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap()
    }

    fn trigger(event: Value) -> Trigger<ManualGrow, TargetList> {
        parse_trigger(event, &origin("storage-guard")).unwrap()
    }

    fn id(raw: &str) -> RdsIdentifier {
        RdsIdentifier::parse(raw, ResourceKind::DbInstance).unwrap()
    }

    fn skip_reason(d: Decision) -> String {
        match d {
            Decision::Skip { reason, .. } => reason,
            other => panic!("expected a skip, got {other:?}"),
        }
    }

    fn instance_ask(d: Decision) -> (RdsIdentifier, Ask, bool, String) {
        match d {
            Decision::Instance {
                id,
                ask,
                dry_run,
                because,
            } => (id, ask, dry_run, because),
            other => panic!("expected an instance run, got {other:?}"),
        }
    }

    #[test]
    fn free_storage_alarms_in_every_shape_mean_their_instance() {
        for name in [
            "alarm.free-storage.eventbridge.json",
            "alarm.free-storage.sns.json",
        ] {
            let (db, ask, dry_run, because) =
                instance_ask(decide(&trigger(sample(name)), &config(&[])));
            assert_eq!(db, id("orders-db"), "{name}");
            assert_eq!(ask, Ask::Low);
            assert!(!dry_run);
            assert_eq!(because, "alarm orders-db-low-storage");
        }
        let (_, _, dry_run, _) = instance_ask(decide(
            &trigger(sample("alarm.free-storage.eventbridge.json")),
            &config(&[("AUTOMATIC_DRY_RUN", "true")]),
        ));
        assert!(dry_run);
    }

    #[test]
    fn other_alarms_are_skipped_with_the_reason() {
        let connections = skip_reason(decide(
            &trigger(sample("alarm.connections.eventbridge.json")),
            &config(&[]),
        ));
        assert!(
            connections.contains(
                "fires above its threshold; storage-guard acts only when free storage is low"
            ),
            "{connections}"
        );
        let mut cpu = sample("alarm.free-storage.eventbridge.json");
        cpu["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["name"] =
            json!("CPUUtilization");
        let reason = skip_reason(decide(&trigger(cpu), &config(&[])));
        assert!(reason.contains("not AWS/RDS/FreeStorageSpace"), "{reason}");
        let ok = skip_reason(decide(
            &trigger(sample("alarm-ok.eventbridge.json")),
            &config(&[]),
        ));
        assert!(ok.contains("not into ALARM"), "{ok}");
    }

    #[test]
    fn a_cluster_alarm_is_reported_for_the_cluster() {
        let mut readers = sample("alarm.free-storage.eventbridge.json");
        readers["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] =
            json!({"DBClusterIdentifier": "orders-aurora", "Role": "WRITER"});
        match decide(&trigger(readers), &config(&[])) {
            Decision::Cluster { id, because } => {
                assert_eq!(id.as_str(), "orders-aurora");
                assert_eq!(
                    because,
                    "alarm orders-db-low-storage about the writer of db-cluster orders-aurora"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn low_storage_events_in_both_shapes() {
        let (db, ask, _, because) = instance_ask(decide(
            &trigger(sample("rds-instance-low-storage.eventbridge.json")),
            &config(&[]),
        ));
        assert_eq!(
            (db, ask, because.as_str()),
            (id("orders-db"), Ask::Low, "RDS-EVENT-0089")
        );
        let (_, ask, _, because) = instance_ask(decide(
            &trigger(sample("rds-instance-storage-full.sns.json")),
            &config(&[]),
        ));
        assert_eq!((ask, because.as_str()), (Ask::Low, "RDS-EVENT-0221"));
        let (_, ask, _, _) = instance_ask(decide(
            &trigger(sample(
                "rds-instance-storage-autoscaling-max.eventbridge.json",
            )),
            &config(&[]),
        ));
        assert_eq!(ask, Ask::NearMaximum);
        for n in super::super::LOW_STORAGE_EVENTS {
            let mut e = sample("rds-instance-low-storage.eventbridge.json");
            e["detail"]["EventID"] = json!(format!("RDS-EVENT-{n:04}"));
            let expected = if super::super::AUTOSCALING_FAILED_EVENTS.contains(&n) {
                Ask::AutoscalingFailed
            } else {
                Ask::Low
            };
            assert_eq!(
                instance_ask(decide(&trigger(e), &config(&[]))).1,
                expected,
                "{n}"
            );
        }
        for n in super::super::AUTOSCALING_FAILED_EVENTS {
            assert!(super::super::LOW_STORAGE_EVENTS.contains(&n), "{n}");
        }
        for n in super::super::NEAR_MAXIMUM_EVENTS {
            let mut e = sample("rds-instance-low-storage.eventbridge.json");
            e["detail"]["EventID"] = json!(format!("RDS-EVENT-{n:04}"));
            assert_eq!(
                instance_ask(decide(&trigger(e), &config(&[]))).1,
                Ask::NearMaximum,
                "{n}"
            );
        }
    }

    #[test]
    fn aurora_storage_low_reports_the_cluster() {
        match decide(
            &trigger(sample("rds-cluster-storage-low.eventbridge.json")),
            &config(&[]),
        ) {
            Decision::Cluster { id, because } => {
                assert_eq!(id.as_str(), "orders-aurora");
                assert_eq!(because, "RDS-EVENT-0227 (Aurora storage low)");
            }
            other => panic!("{other:?}"),
        }
        // 0227 from an instance is not what it says.
        let mut e = sample("rds-instance-low-storage.eventbridge.json");
        e["detail"]["EventID"] = json!("RDS-EVENT-0227");
        assert!(skip_reason(decide(&trigger(e), &config(&[])))
            .starts_with("RDS-EVENT-0227 is a cluster event"));
        // A low-storage id on a cluster names nothing to grow.
        let mut c = sample("rds-cluster-storage-low.eventbridge.json");
        c["detail"]["EventID"] = json!("RDS-EVENT-0089");
        assert!(skip_reason(decide(&trigger(c), &config(&[])))
            .contains("not a DB instance: nothing to grow"));
    }

    #[test]
    fn other_events_are_ignored_naming_the_ones_acted_on() {
        let reason = skip_reason(decide(
            &trigger(sample("rds-instance-failover-completed.eventbridge.json")),
            &config(&[]),
        ));
        assert!(reason.starts_with("storage-guard acts on low-storage events (0007, 0089, 0219, 0220, 0221, 0222, 0223, 0237, 0254, 0224, 0225)"), "{reason}");
        assert!(
            reason.ends_with("RDS-EVENT-0049 from orders-db ignored"),
            "{reason}"
        );
        let none = skip_reason(decide(
            &trigger(sample("rds-instance-event-without-id.eventbridge.json")),
            &config(&[]),
        ));
        assert!(none.contains("an RDS event without an id"), "{none}");
    }

    #[test]
    fn schedules_sweep_and_act_only_when_listed() {
        let listed = config(&[(
            "ALLOWED_SCHEDULES",
            "rds-responder-storage/storage-forecast",
        )]);
        match decide(
            &trigger(sample("schedule.storage-guard.scheduler.json")),
            &listed,
        ) {
            Decision::Sweep {
                only,
                dry_run,
                because,
            } => {
                assert!(only.is_empty());
                assert!(!dry_run);
                assert_eq!(because, "schedule storage-forecast");
            }
            other => panic!("{other:?}"),
        }
        match decide(
            &trigger(sample("schedule.storage-guard.scheduler.json")),
            &config(&[]),
        ) {
            Decision::Sweep { dry_run, .. } => assert!(dry_run, "not listed: plans only"),
            other => panic!("{other:?}"),
        }
        let mut named = sample("schedule.storage-guard.scheduler.json");
        named["targets"] = json!([{"db_instance": "orders-db"}, {"db_instance": "billing-db"}]);
        match decide(&trigger(named), &listed) {
            Decision::Sweep { only, .. } => {
                assert_eq!(only, vec![id("orders-db"), id("billing-db")])
            }
            other => panic!("{other:?}"),
        }
        let mut cluster = sample("schedule.storage-guard.scheduler.json");
        cluster["targets"] = json!([{"db_cluster": "orders-aurora"}]);
        assert!(skip_reason(decide(&trigger(cluster), &listed)).contains("sweeps DB instances"));
        let dry = config(&[
            (
                "ALLOWED_SCHEDULES",
                "rds-responder-storage/storage-forecast",
            ),
            ("AUTOMATIC_DRY_RUN", "true"),
        ]);
        match decide(
            &trigger(sample("schedule.storage-guard.scheduler.json")),
            &dry,
        ) {
            Decision::Sweep { dry_run, .. } => assert!(dry_run),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn manual_requests_carry_their_sizing_and_reason() {
        let (db, ask, dry_run, because) = instance_ask(decide(
            &trigger(sample("manual.storage-guard.json")),
            &config(&[]),
        ));
        assert_eq!(db, id("orders-db"));
        assert_eq!(
            ask,
            Ask::Manual {
                sizing: Sizing::ExpectedGrowthGib(50)
            }
        );
        assert!(dry_run);
        assert_eq!(because, "bulk load of the 2026 archive");
        let (_, _, dry_run, because) = instance_ask(decide(
            &trigger(json!({"db": "orders-db", "dry_run": false})),
            &config(&[("AUTOMATIC_DRY_RUN", "true")]),
        ));
        assert!(!dry_run, "a request's own dry_run is not the automatic one");
        assert_eq!(because, "manual request");
    }

    #[test]
    fn the_subscription_notice_is_nothing_to_do() {
        let reason = skip_reason(decide(
            &trigger(sample("sns-subscription-notice.json")),
            &config(&[]),
        ));
        assert!(reason.contains("subscription notice"), "{reason}");
    }
}
