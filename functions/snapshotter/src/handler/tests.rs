use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use rds_responder::backups::{BackupInfo, PitrStatus, Quota, SnapshotOf};
use rds_responder::report::{Findings, Outcome, Status};
use rds_responder::runner::{Invocation, Responder};
use rds_responder::testing::*;
use rds_responder::trigger::{parse_trigger, RdsIdentifier, ResourceKind, Trigger};

use super::*;

const FUNCTION: &str = "snapshotter";

fn config() -> SnapshotterConfig {
    let mut config = SnapshotterConfig::from_env(&rds_responder::config::Env::from_pairs([
        ("TABLES", "orders-table"),
        ("ALLOWED_SCHEDULES", "nightly-*"),
    ]))
    .unwrap();
    config.wait_poll = Duration::from_millis(5);
    config
}

fn instance(id: &str) -> DbTarget {
    DbTarget::Instance(RdsIdentifier::parse(id, ResourceKind::DbInstance).unwrap())
}

fn cluster(id: &str) -> DbTarget {
    DbTarget::Cluster(RdsIdentifier::parse(id, ResourceKind::DbCluster).unwrap())
}

const OPT_IN: (&str, &str) = ("rds-responder:snapshot", "true");

fn snapshotter(catalog: FakeCatalog) -> Snapshotter<FakeCatalog, FakeBackups> {
    Snapshotter {
        catalog,
        tables: FakeBackups::default(),
        config: config(),
    }
}

fn trigger(event: Value) -> Trigger<ManualSnapshot, SnapshotSchedule> {
    parse_trigger(event, &origin(FUNCTION)).unwrap()
}

fn refusal(event: Value) -> String {
    parse_trigger::<ManualSnapshot, SnapshotSchedule>(event, &origin(FUNCTION))
        .unwrap_err()
        .to_string()
}

async fn run_at(
    s: &Snapshotter<FakeCatalog, FakeBackups>,
    event: Value,
    invocation: &Invocation,
    ledger: &MemoryLedger,
) -> Findings {
    s.respond(&trigger(event), invocation, &guard(ledger, invocation))
        .await
}

async fn run(s: &Snapshotter<FakeCatalog, FakeBackups>, event: Value) -> Findings {
    run_at(s, event, &invocation(FUNCTION), &MemoryLedger::default()).await
}

/// Another run of `function` (trigger `key`, request `request`) holding the lock on `resource`.
async fn hold_lock(
    ledger: &MemoryLedger,
    function: &str,
    key: &str,
    request: &str,
    resource: &str,
    inv: &Invocation,
) {
    ledger.records.borrow_mut().insert(
        key.into(),
        LedgerRecord::InProgress {
            request_id: request.into(),
            until: inv.deadline,
            digest: None,
        },
    );
    rds_responder::guard::ActionGuard::new(ledger, function, key, request, inv.deadline)
        .before_acting(resource)
        .await
        .unwrap();
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

/// A scheduled run from the nightly schedule (allowed to delete), at `time`, with `input`.
fn schedule(input: Value, time: &str) -> Value {
    let mut event = sample("schedule.scheduler.json");
    event.as_object_mut().unwrap().remove("targets");
    event["scheduler"]["scheduled_time"] = json!(time);
    event["scheduler"]["schedule_arn"] =
        json!("arn:aws:scheduler:us-east-1:123456789012:schedule/default/nightly-snapshots");
    if let Some(map) = input.as_object() {
        for (k, v) in map {
            event[k] = v.clone();
        }
    }
    event
}

// --- pre-change snapshots -------------------------------------------------------------------

#[tokio::test]
async fn a_pre_change_snapshot_is_named_tagged_and_its_id_is_in_the_result() {
    let s = snapshotter(FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[])],
        vec![],
    ));
    let findings = run(
        &s,
        json!({"db_instance": "orders-db", "reason": "migration 42: add index", "change_id": "CHG 4711 / hotfix!"}),
    )
    .await;
    let result = findings.result.clone().unwrap();
    let id = result["snapshot_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("orders-db-rr-chg-4711-hotfix-"), "{id}");
    assert_eq!(result["created_by_this_request"], json!(true));
    let made = s.catalog.snapshots.borrow()[0].clone();
    assert_eq!(made.tags["CreatedBy"], "rds-responder");
    assert_eq!(made.tags["rds-responder:reason"], "migration 42: add index");
    assert_eq!(made.tags["rds-responder:change-id"], "CHG 4711 / hotfix_");
    assert_eq!(made.tags["rds-responder:trigger"], "manual:req-1");
    assert_eq!(check(&findings, "snapshot").outcome, Outcome::Pass);
}

#[tokio::test]
async fn an_existing_snapshot_of_ours_is_success_and_a_foreign_one_an_error_naming_it() {
    let s = snapshotter(FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[])],
        vec![{
            let mut s = our_snapshot("orders-db-rr-chg-1", "orders-db", now());
            s.tags
                .insert("rds-responder:change-id".into(), "chg-1".into());
            s
        }],
    ));
    let findings = run(
        &s,
        json!({"db_instance": "orders-db", "reason": "again", "change_id": "chg-1"}),
    )
    .await;
    assert_eq!(check(&findings, "snapshot").outcome, Outcome::Pass);
    let result = findings.result.unwrap();
    assert_eq!(result["created_by_this_request"], json!(false));
    assert_eq!(result["status"], "available");
    assert_eq!(s.catalog.snapshots.borrow().len(), 1);

    let mut foreign = our_snapshot("orders-db-rr-chg-2", "orders-db", now());
    foreign.tags.clear();
    let s = snapshotter(FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[])],
        vec![foreign],
    ));
    let findings = run(
        &s,
        json!({"db_instance": "orders-db", "reason": "x", "change_id": "chg-2"}),
    )
    .await;
    let c = check(&findings, "snapshot");
    assert_eq!(c.outcome, Outcome::Fail);
    assert!(
        c.detail
            .contains("orders-db-rr-chg-2 already exists and was not made by rds-responder"),
        "{}",
        c.detail
    );
    assert!(c.detail.ends_with("nothing was created"), "{}", c.detail);
    assert_eq!(findings.result.unwrap()["status"], "not-created");
    assert!(
        findings.retry.is_none(),
        "a retry would meet the same foreign snapshot: reported, not retried"
    );
}

#[tokio::test]
async fn wait_follows_creating_to_available() {
    let catalog = FakeCatalog::with(vec![listing(cluster("ledger"), "available", &[])], vec![]);
    catalog.looks_until_available.set(Some(3));
    let s = snapshotter(catalog);
    let findings = run(
        &s,
        json!({"db_cluster": "ledger", "reason": "upgrade", "wait": true}),
    )
    .await;
    let result = findings.result.clone().unwrap();
    assert_eq!(result["status"], "available");
    assert_eq!(result["db_kind"], "cluster");
    assert_eq!(check(&findings, "snapshot").outcome, Outcome::Pass);
    assert_eq!(s.catalog.calls_of("find_snapshot").len(), 4);
    assert_eq!(s.catalog.snapshots.borrow()[0].of, SnapshotOf::Cluster);
}

#[tokio::test]
async fn wait_stops_before_the_deadline_and_says_so() {
    let catalog = FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[])],
        vec![],
    );
    catalog.looks_until_available.set(None);
    let s = snapshotter(catalog);
    let mut inv = invocation(FUNCTION);
    // 100 ms of work left after the reserve.
    inv.deadline = Utc::now() + chrono::Duration::milliseconds(10_100);
    let findings = run_at(
        &s,
        json!({"db_instance": "orders-db", "reason": "deploy", "wait": true}),
        &inv,
        &MemoryLedger::default(),
    )
    .await;
    let c = check(&findings, "snapshot");
    assert_eq!(c.outcome, Outcome::Warn);
    assert!(
        c.detail
            .contains("deadline came before the snapshot was available"),
        "{}",
        c.detail
    );
    assert_eq!(findings.result.unwrap()["status"], "creating");
}

#[tokio::test]
async fn a_pre_change_dry_run_creates_nothing() {
    let s = snapshotter(FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[])],
        vec![],
    ));
    let findings = run(
        &s,
        json!({"db_instance": "orders-db", "reason": "x", "dry_run": true}),
    )
    .await;
    assert!(s.catalog.calls_of("create_snapshot").is_empty());
    assert_eq!(findings.result.unwrap()["status"], "planned");
}

#[tokio::test]
async fn a_pre_change_snapshot_waits_for_no_lock_but_its_own_and_a_held_one_stops_it() {
    let s = snapshotter(FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[])],
        vec![],
    ));
    let ledger = MemoryLedger::default();
    let inv = invocation(FUNCTION);
    // Another function's lock on the database does not stop a snapshot.
    hold_lock(
        &ledger,
        "idle-reaper",
        "idle#k",
        "other-req",
        "db-instance#orders-db",
        &inv,
    )
    .await;
    let findings = run_at(
        &s,
        json!({"db_instance": "orders-db", "reason": "x"}),
        &inv,
        &ledger,
    )
    .await;
    assert_eq!(check(&findings, "snapshot").outcome, Outcome::Pass);
    // Another snapshotter run on the same database does.
    let ledger = MemoryLedger::default();
    let s2 = snapshotter(FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[])],
        vec![],
    ));
    hold_lock(
        &ledger,
        "snapshotter",
        "snap#k",
        "snap-req",
        &snapshot_lock(Some(&instance("orders-db"))),
        &inv,
    )
    .await;
    let mut inv2 = inv.clone();
    inv2.request_id = "req-2".into();
    let findings = run_at(
        &s2,
        json!({"db_instance": "orders-db", "reason": "x"}),
        &inv2,
        &ledger,
    )
    .await;
    assert_eq!(findings.status, Some(Status::Skipped));
    assert!(
        check(&findings, "guard")
            .detail
            .contains("is being acted on by"),
        "{:?}",
        findings.checks
    );
    assert!(s2.catalog.calls_of("create_snapshot").is_empty());
}

#[test]
fn manual_payloads_are_strict_and_name_the_field() {
    for (payload, field) in [
        (json!({"db_instance": "orders-db"}), "reason"),
        (json!({"db_instance": "orders-db", "reason": ""}), "reason"),
        (
            json!({"db_instance": "orders-db", "reason": "   "}),
            "reason",
        ),
        (
            json!({"db_instance": "orders-db", "reason": "x".repeat(201)}),
            "reason",
        ),
        (
            json!({"db_instance": "orders-db", "reason": "a\nb"}),
            "reason",
        ),
        (
            json!({"db_instance": "orders-db", "reason": "x", "change_id": ""}),
            "change_id",
        ),
        (
            json!({"db_instance": "orders-db", "reason": "x", "change_id": "é".repeat(256)}),
            "change_id",
        ),
        (json!({"reason": "x"}), "db_instance|db_cluster"),
        (
            json!({"db_instance": "a", "db_cluster": "b", "reason": "x"}),
            "db_instance|db_cluster",
        ),
        (json!({"db_instance": "1bad", "reason": "x"}), "db_instance"),
        (
            json!({"db_instance": "orders-db", "reason": "x", "keep_newest": 3}),
            "keep_newest",
        ),
        (json!({"action": "retention", "reason": "x"}), "reason"),
        (
            json!({"action": "retention", "keep_newest": 0}),
            "keep_newest",
        ),
        (
            json!({"action": "retention", "max_age_days": 3651}),
            "max_age_days",
        ),
        (
            json!({"action": "retention", "tables": ["ok-table", "no"]}),
            "tables[1]",
        ),
        (
            json!({"action": "retention", "targets": [{"db_instance": "x--y"}]}),
            "targets[0].db_instance",
        ),
        (json!({"action": "delete-everything"}), "action"),
        (
            json!({"db_instance": "orders-db", "reason": "x", "request_id": ""}),
            "request_id",
        ),
    ] {
        let err = refusal(payload.clone());
        assert!(err.contains(field), "{payload}: {err}");
    }
    // Exactly at the limits is fine.
    trigger(
        json!({"db_instance": "orders-db", "reason": "é".repeat(200), "change_id": "x".repeat(255)}),
    );
    trigger(
        json!({"action": "retention", "keep_newest": 1, "max_age_days": 3650, "max_deletes": 0}),
    );
    assert!(
        refusal(json!({"db_instance": "orders-db", "reason": "x", "surprise": 1}))
            .contains("surprise")
    );
}

#[test]
fn manual_retention_is_a_dry_run_unless_told_otherwise() {
    for (payload, dry) in [
        (json!({"action": "retention"}), true),
        (json!({"action": "retention", "dry_run": true}), true),
        (json!({"action": "retention", "dry_run": false}), false),
    ] {
        match decide(&trigger(payload), now(), "req-1", &config()) {
            Decision::Sweep(sweep) => {
                assert_eq!(sweep.dry_run, dry);
                assert!(!sweep.snapshots);
                assert!(sweep.retention.is_some());
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn schedule_input_is_strict() {
    for (input, field) in [
        (
            json!({"snapshots": false, "retention": false}),
            "snapshots|retention",
        ),
        (json!({"keep_newest": 0}), "keep_newest"),
        (json!({"max_deletes": 10001}), "max_deletes"),
        (
            json!({"targets": [{"db_instance": "-x"}]}),
            "targets[0].db_instance",
        ),
    ] {
        let err = refusal(schedule(input.clone(), "2026-11-22T03:00:00Z"));
        assert!(err.contains(field), "{input}: {err}");
    }
    let err = refusal(schedule(json!({"retain": true}), "2026-11-22T03:00:00Z"));
    assert!(err.contains("retain"), "{err}");
}

#[test]
fn only_allowed_schedules_delete() {
    let mut event = schedule(json!({}), "2026-11-22T03:00:00Z");
    match decide(&trigger(event.clone()), now(), "r", &config()) {
        Decision::Sweep(sweep) => {
            assert!(!sweep.dry_run);
            assert!(sweep.plan_only_reason.is_none());
            assert_eq!(sweep.trigger, "schedule:nightly-snapshots");
            assert_eq!(sweep.tables.len(), 1, "TABLES from the environment");
        }
        other => panic!("{other:?}"),
    }
    event["scheduler"]["schedule_arn"] =
        json!("arn:aws:scheduler:us-east-1:123456789012:schedule/default/someone-elses");
    match decide(&trigger(event), now(), "r", &config()) {
        Decision::Sweep(sweep) => {
            assert!(!sweep.dry_run, "snapshots are still taken");
            assert!(sweep.deletes_plan_only);
            assert!(sweep
                .plan_only_reason
                .unwrap()
                .contains("not in ALLOWED_SCHEDULES"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn alarms_are_not_snapshotter_triggers() {
    match decide(
        &trigger(sample("alarm.connections.eventbridge.json")),
        now(),
        "r",
        &config(),
    ) {
        Decision::Skip { reason, .. } => {
            assert!(reason.contains("not a snapshotter trigger"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    match decide(
        &trigger(sample("rds-instance-failover-completed.eventbridge.json")),
        now(),
        "r",
        &config(),
    ) {
        Decision::Skip { reason, .. } => {
            assert!(reason.contains("not about a snapshot"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

// --- scheduled runs -----------------------------------------------------------------------------

fn estate() -> FakeCatalog {
    let mut member = listing(instance("ledger-1"), "available", &[OPT_IN]);
    member.cluster = Some("ledger".into());
    let mut member2 = listing(instance("ledger-2"), "available", &[]);
    member2.cluster = Some("ledger".into());
    let mut replica = listing(instance("orders-replica"), "available", &[OPT_IN]);
    replica.replica_of = Some("orders-db".into());
    let mut lonely_member = listing(instance("audit-1"), "available", &[OPT_IN]);
    lonely_member.cluster = Some("audit".into());
    FakeCatalog::with(
        vec![
            listing(instance("orders-db"), "available", &[OPT_IN]),
            listing(instance("untagged-db"), "available", &[]),
            listing(
                instance("opted-out"),
                "available",
                &[OPT_IN, ("rds-responder:snapshotter", "off")],
            ),
            listing(instance("stopped-db"), "stopped", &[OPT_IN]),
            listing(instance("full-db"), "storage-full", &[OPT_IN]),
            listing(cluster("ledger"), "available", &[OPT_IN]),
            listing(cluster("audit"), "available", &[]),
            member,
            member2,
            replica,
            lonely_member,
        ],
        vec![],
    )
}

#[tokio::test]
async fn a_scheduled_run_snapshots_opted_in_databases_and_reports_every_other_one() {
    let s = snapshotter(estate());
    let findings = run(
        &s,
        schedule(json!({"retention": false}), "2026-11-22T03:00:00Z"),
    )
    .await;
    let mut created = s.catalog.calls_of("create_snapshot");
    created.sort();
    assert_eq!(
        created,
        [
            "create_snapshot ledger-rr-20261122-030000",
            "create_snapshot orders-db-rr-20261122-030000"
        ]
    );
    for (name, outcome, words) in [
        ("snapshot orders-db", Outcome::Pass, "started"),
        ("snapshot ledger", Outcome::Pass, "started"),
        (
            "snapshot ledger-1",
            Outcome::Skipped,
            "covered by the cluster's snapshot",
        ),
        (
            "snapshot ledger-2",
            Outcome::Skipped,
            "covered by the cluster's snapshot",
        ),
        ("snapshot audit-1", Outcome::Warn, "opt the cluster in"),
        (
            "snapshot orders-replica",
            Outcome::Skipped,
            "read replica of orders-db",
        ),
        ("snapshot opted-out", Outcome::Skipped, "opted out"),
        (
            "snapshot stopped-db",
            Outcome::Skipped,
            "stopped, not available",
        ),
        (
            "snapshot full-db",
            Outcome::Warn,
            "storage-full, not available",
        ),
    ] {
        let c = check(&findings, name);
        assert_eq!(c.outcome, outcome, "{name}: {}", c.detail);
        assert!(c.detail.contains(words), "{name}: {}", c.detail);
    }
    assert!(!findings
        .checks
        .iter()
        .any(|c| c.name == "snapshot untagged-db"));
    assert!(check(&findings, "databases")
        .detail
        .contains("11 databases listed"));
    let made = &s.catalog.snapshots.borrow()[0];
    assert_eq!(
        made.tags["rds-responder:trigger"],
        "schedule:nightly-snapshots"
    );
}

#[tokio::test]
async fn listed_targets_need_no_opt_in_but_the_opt_out_still_wins() {
    let s = snapshotter(estate());
    let findings = run(
        &s,
        schedule(
            json!({"retention": false, "targets": [{"db_instance": "untagged-db"}, {"db_instance": "opted-out"}, {"db_instance": "gone-db"}]}),
            "2026-11-22T03:00:00Z",
        ),
    )
    .await;
    assert_eq!(
        s.catalog.calls_of("create_snapshot"),
        ["create_snapshot untagged-db-rr-20261122-030000"]
    );
    assert_eq!(
        check(&findings, "snapshot opted-out").outcome,
        Outcome::Skipped
    );
    assert_eq!(check(&findings, "snapshot gone-db").outcome, Outcome::Warn);
}

#[tokio::test]
async fn a_duplicate_scheduled_run_finds_its_snapshots_and_creates_none() {
    let s = snapshotter(estate());
    let event = schedule(json!({"retention": false}), "2026-11-22T03:00:00Z");
    run(&s, event.clone()).await;
    let before = s.catalog.snapshots.borrow().len();
    let again = run(&s, event).await;
    assert_eq!(s.catalog.snapshots.borrow().len(), before);
    assert!(check(&again, "snapshot orders-db")
        .detail
        .contains("already exists"));
}

#[tokio::test]
async fn a_failed_listing_stops_before_any_snapshot_or_delete() {
    let catalog = estate();
    catalog.fail("list_databases");
    let s = snapshotter(catalog);
    let findings = run(&s, schedule(json!({}), "2026-11-22T03:00:00Z")).await;
    assert!(s.catalog.calls_of("create_snapshot").is_empty());
    assert!(s.catalog.calls_of("delete_snapshot").is_empty());
    assert_eq!(check(&findings, "databases").outcome, Outcome::Fail);
    assert!(check(&findings, "retention")
        .detail
        .contains("nothing deleted"));
}

#[tokio::test]
async fn a_run_near_its_deadline_starts_nothing_new_and_says_what_is_left() {
    let s = snapshotter(estate());
    let mut inv = invocation(FUNCTION);
    inv.deadline = Utc::now() + chrono::Duration::seconds(5); // less than the 10 s reserve
    let findings = run_at(
        &s,
        schedule(json!({"retention": false}), "2026-11-22T03:00:00Z"),
        &inv,
        &MemoryLedger::default(),
    )
    .await;
    assert!(s.catalog.calls_of("create_snapshot").is_empty());
    let c = check(&findings, "snapshot orders-db");
    assert_eq!(c.outcome, Outcome::Warn);
    assert!(c.detail.contains("deadline is near"), "{}", c.detail);
}

// --- retention --------------------------------------------------------------------------------

fn days_ago(days: i64) -> DateTime<Utc> {
    Utc::now() - chrono::Duration::days(days)
}

/// orders-db with ten of ours (1, 11, ..., 91 days old) and a zoo of snapshots that are not ours.
fn retention_estate() -> FakeCatalog {
    let mut snapshots: Vec<_> = (0..10)
        .map(|i| {
            our_snapshot(
                &format!("orders-db-rr-{i:02}"),
                "orders-db",
                days_ago(1 + 10 * i),
            )
        })
        .collect();
    let old = days_ago(400);
    let mut automated = our_snapshot("rds:orders-db-2025-01-01-03-00", "orders-db", old);
    automated.snapshot_type = "automated".into();
    let mut backup = our_snapshot("awsbackup:job-1", "orders-db", old);
    backup.snapshot_type = "awsbackup".into();
    let mut shared = our_snapshot("orders-db-rr-shared", "orders-db", old);
    shared.snapshot_type = "shared".into();
    let mut copied = our_snapshot("orders-db-rr-copied", "orders-db", old);
    copied.copied_from = Some("arn:aws:rds:us-east-1:123456789012:snapshot:x".into());
    let mut untagged = our_snapshot("orders-db-rr-untagged", "orders-db", old);
    untagged.tags.clear();
    let other_prefix = our_snapshot("orders-db-manual-20250101", "orders-db", old);
    let mut creating = our_snapshot("orders-db-rr-creating", "orders-db", old);
    creating.status = "creating".into();
    let foreign_db = our_snapshot("billing-rr-01", "billing", old);
    snapshots.extend([
        automated,
        backup,
        shared,
        copied,
        untagged,
        other_prefix,
        creating,
        foreign_db,
    ]);
    FakeCatalog::with(
        vec![
            listing(instance("orders-db"), "available", &[OPT_IN]),
            listing(instance("billing"), "available", &[]),
        ],
        snapshots,
    )
}

#[tokio::test]
async fn retention_deletes_only_ours_past_the_floor_and_the_age_limit() {
    let s = snapshotter(retention_estate());
    let findings = run(
        &s,
        schedule(json!({"snapshots": false}), "2026-11-22T03:00:00Z"),
    )
    .await;
    let mut deleted = s.catalog.calls_of("delete_snapshot");
    deleted.sort();
    // Newest 7 (1..61 days) kept; 71, 81, 91 days are past 35 days and the floor.
    assert_eq!(
        deleted,
        [
            "delete_snapshot orders-db-rr-07",
            "delete_snapshot orders-db-rr-08",
            "delete_snapshot orders-db-rr-09"
        ]
    );
    let ids = s.catalog.ids();
    for kept in [
        "rds:orders-db-2025-01-01-03-00",
        "awsbackup:job-1",
        "orders-db-rr-shared",
        "orders-db-rr-copied",
        "orders-db-rr-untagged",
        "orders-db-manual-20250101",
        "orders-db-rr-creating",
        "billing-rr-01",
        "orders-db-rr-00",
    ] {
        assert!(ids.contains(&kept.to_string()), "{kept} was deleted");
    }
    let done = check(&findings, "deleted");
    assert_eq!(done.detail, "3 deleted, 0 not deleted");
    let mut labels: Vec<&str> = done.data["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    labels.sort();
    assert_eq!(
        labels,
        [
            "orders-db-rr-07 (db-instance orders-db)",
            "orders-db-rr-08 (db-instance orders-db)",
            "orders-db-rr-09 (db-instance orders-db)"
        ]
    );
    let plan = &check(&findings, "retention orders-db").data;
    assert_eq!(plan["delete"].as_array().unwrap().len(), 3);
    assert!(plan["kept"].to_string().contains("AWS Backup snapshot"));
    // One listing for the one database in scope (its tags included): no per-snapshot call.
    assert_eq!(
        s.catalog.calls_of("list_snapshots"),
        ["list_snapshots Instance"]
    );
}

#[tokio::test]
async fn retention_keeps_the_newest_whatever_the_clock_says() {
    // Snapshots stopped being taken two years ago: the newest N of ours all stay.
    let catalog = FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[OPT_IN])],
        (0..9)
            .map(|i| our_snapshot(&format!("orders-db-rr-{i}"), "orders-db", days_ago(700 + i)))
            .collect(),
    );
    let s = snapshotter(catalog);
    run(
        &s,
        schedule(
            json!({"snapshots": false, "keep_newest": 7}),
            "2026-11-22T03:00:00Z",
        ),
    )
    .await;
    assert_eq!(s.catalog.snapshots.borrow().len(), 7);
    assert!(s.catalog.ids().contains(&"orders-db-rr-0".to_string()));
}

#[tokio::test]
async fn a_dry_run_shows_the_exact_plan_and_deletes_nothing() {
    let s = snapshotter(retention_estate());
    let findings = run(&s, json!({"action": "retention"})).await;
    assert!(s.catalog.calls_of("delete_snapshot").is_empty());
    let c = check(&findings, "retention orders-db");
    assert_eq!(c.outcome, Outcome::Planned);
    let ids: Vec<&str> = c.data["delete"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["orders-db-rr-09", "orders-db-rr-08", "orders-db-rr-07"]
    );
    assert_eq!(findings.status, None);
}

#[tokio::test]
async fn over_the_cap_nothing_is_deleted_and_exactly_at_it_everything_planned_is() {
    let s = snapshotter(retention_estate());
    let findings = run(
        &s,
        schedule(
            json!({"snapshots": false, "max_deletes": 2}),
            "2026-11-22T03:00:00Z",
        ),
    )
    .await;
    assert!(s.catalog.calls_of("delete_snapshot").is_empty());
    let c = check(&findings, "retention");
    assert_eq!(c.outcome, Outcome::Fail);
    assert!(
        c.detail
            .contains("3 deletions planned, more than the cap of 2"),
        "{}",
        c.detail
    );
    let s = snapshotter(retention_estate());
    run(
        &s,
        schedule(
            json!({"snapshots": false, "max_deletes": 3}),
            "2026-11-22T03:00:00Z",
        ),
    )
    .await;
    assert_eq!(s.catalog.calls_of("delete_snapshot").len(), 3);
}

#[tokio::test]
async fn a_failed_snapshot_listing_deletes_nothing() {
    let catalog = retention_estate();
    catalog.fail("list_snapshots");
    let s = snapshotter(catalog);
    let findings = run(
        &s,
        schedule(json!({"snapshots": false}), "2026-11-22T03:00:00Z"),
    )
    .await;
    assert!(s.catalog.calls_of("delete_snapshot").is_empty());
    let c = check(&findings, "retention");
    assert_eq!(c.outcome, Outcome::Fail);
    assert!(
        c.detail.contains("could not be read completely"),
        "{}",
        c.detail
    );
    assert!(c.detail.contains("InternalFailure"), "{}", c.detail);
}

#[tokio::test]
async fn a_failed_backup_listing_deletes_no_snapshot_either() {
    let s = snapshotter(retention_estate());
    s.tables.fail("list_backups");
    run(
        &s,
        schedule(json!({"snapshots": false}), "2026-11-22T03:00:00Z"),
    )
    .await;
    assert!(s.catalog.calls_of("delete_snapshot").is_empty());
}

#[tokio::test]
async fn a_throttled_delete_stops_the_deletes_and_is_reported() {
    let catalog = retention_estate();
    catalog
        .throttled_deletes
        .borrow_mut()
        .insert("orders-db-rr-09".into());
    let mut s = snapshotter(catalog);
    s.config.concurrency = 1;
    let findings = run(
        &s,
        schedule(json!({"snapshots": false}), "2026-11-22T03:00:00Z"),
    )
    .await;
    assert_eq!(
        s.catalog.calls_of("delete_snapshot"),
        ["delete_snapshot orders-db-rr-09"]
    );
    assert_eq!(s.catalog.snapshots.borrow().len(), 18, "nothing deleted");
    let c = check(&findings, "deleted");
    assert_eq!(c.outcome, Outcome::Fail);
    assert_eq!(c.detail, "0 deleted, 3 not deleted");
    assert!(c.data.to_string().contains("Throttling"));
    assert!(c.data.to_string().contains("an earlier delete failed"));
}

#[tokio::test]
async fn after_a_failed_scheduled_snapshot_the_newest_available_one_stays() {
    let catalog = FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[OPT_IN])],
        vec![
            our_snapshot("orders-db-rr-old", "orders-db", days_ago(100)),
            our_snapshot("orders-db-rr-older", "orders-db", days_ago(200)),
        ],
    );
    catalog.fail("create_snapshot");
    let mut s = snapshotter(catalog);
    s.config.retention.keep_newest = 1;
    let findings = run(&s, schedule(json!({}), "2026-11-22T03:00:00Z")).await;
    assert_eq!(
        check(&findings, "snapshot orders-db").outcome,
        Outcome::Fail
    );
    assert_eq!(s.catalog.ids(), ["orders-db-rr-old"]);
    assert!(check(&findings, "retention orders-db")
        .detail
        .contains("the newest available one is kept"));
    assert_eq!(
        findings.retry, None,
        "a delete was sent: this run acted, no retry"
    );
}

#[tokio::test]
async fn a_sweep_that_missed_tonights_snapshot_and_deleted_nothing_asks_for_a_retry() {
    let catalog = FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[OPT_IN])],
        vec![our_snapshot("orders-db-rr-old", "orders-db", days_ago(100))],
    );
    catalog.fail("create_snapshot");
    let s = snapshotter(catalog);
    let (ledger, inv) = (MemoryLedger::default(), invocation(FUNCTION));
    let g = guard(&ledger, &inv);
    let event = schedule(json!({}), "2026-11-22T03:00:00Z");
    let findings = s.respond(&trigger(event), &inv, &g).await;
    let retry = findings.retry.clone().expect("asks for a retry");
    assert!(
        retry.starts_with("not taken: the snapshot of db-instance orders-db"),
        "{retry}"
    );
    assert!(g.acted() && g.without_effect(), "the claim may go back");
    assert_eq!(s.catalog.ids(), ["orders-db-rr-old"], "nothing deleted");
}

#[tokio::test]
async fn a_failed_snapshot_under_tonights_name_is_a_failure_not_already_there() {
    let mut failed = our_snapshot("orders-db-rr-20261122-030000", "orders-db", days_ago(0));
    failed.status = "failed".into();
    let catalog = FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[OPT_IN])],
        vec![failed],
    );
    let s = snapshotter(catalog);
    let findings = run(
        &s,
        schedule(json!({"retention": false}), "2026-11-22T03:00:00Z"),
    )
    .await;
    let c = check(&findings, "snapshot orders-db");
    assert_eq!(c.outcome, Outcome::Fail, "{}", c.detail);
    assert!(c.detail.contains("RDS failed it (failed)"), "{}", c.detail);
    assert_eq!(findings.retry, None, "a retry would find the same copy");
}

#[tokio::test]
async fn an_instance_optimizing_its_storage_is_snapshotted() {
    let catalog = FakeCatalog::with(
        vec![listing(
            instance("orders-db"),
            "storage-optimization",
            &[OPT_IN],
        )],
        vec![],
    );
    let s = snapshotter(catalog);
    let findings = run(
        &s,
        schedule(json!({"retention": false}), "2026-11-22T03:00:00Z"),
    )
    .await;
    assert_eq!(
        check(&findings, "snapshot orders-db").outcome,
        Outcome::Pass
    );
    assert_eq!(s.catalog.calls_of("create_snapshot").len(), 1);
}

#[tokio::test]
async fn a_change_id_sent_again_in_another_case_is_the_same_change() {
    let s = snapshotter(FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[])],
        vec![],
    ));
    let first = run(
        &s,
        json!({"db_instance": "orders-db", "reason": "upgrade", "change_id": "CHG-1"}),
    )
    .await;
    assert_eq!(check(&first, "snapshot").outcome, Outcome::Pass);
    let again = run(
        &s,
        json!({"db_instance": "orders-db", "reason": "upgrade", "change_id": "chg-1"}),
    )
    .await;
    let c = check(&again, "snapshot");
    assert_eq!(c.outcome, Outcome::Pass, "{}", c.detail);
    assert_eq!(
        again.result.unwrap()["created_by_this_request"],
        json!(false)
    );
    assert_eq!(s.catalog.snapshots.borrow().len(), 1);
}

#[tokio::test]
async fn a_pre_change_without_change_id_retried_by_lambda_makes_no_second_snapshot() {
    let s = snapshotter(FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[])],
        vec![],
    ));
    let request = json!({"db_instance": "orders-db", "reason": "hotfix"});
    let first_try = invocation_at(FUNCTION, now(), "req-lambda-1");
    let first = run_at(&s, request.clone(), &first_try, &MemoryLedger::default()).await;
    assert_eq!(
        first.result.clone().unwrap()["created_by_this_request"],
        json!(true)
    );
    // Lambda's retry: the same request id, a later clock.
    let retry = invocation_at(
        FUNCTION,
        now() + chrono::Duration::seconds(70),
        "req-lambda-1",
    );
    let second = run_at(&s, request.clone(), &retry, &MemoryLedger::default()).await;
    assert_eq!(
        second.result.unwrap()["created_by_this_request"],
        json!(false)
    );
    assert_eq!(s.catalog.snapshots.borrow().len(), 1, "one snapshot");
    // A new invocation is a new request: its own snapshot.
    let other = invocation_at(FUNCTION, now(), "req-lambda-2");
    let third = run_at(&s, request, &other, &MemoryLedger::default()).await;
    assert_eq!(
        third.result.unwrap()["created_by_this_request"],
        json!(true)
    );
    assert_eq!(s.catalog.snapshots.borrow().len(), 2);
}

#[tokio::test]
async fn a_pre_change_waits_while_another_snapshot_of_the_database_runs_then_takes_its_own() {
    let catalog = FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[])],
        vec![],
    );
    catalog.fail_times("create_snapshot", "InvalidDBInstanceState", 2);
    let s = snapshotter(catalog);
    let findings = run(
        &s,
        json!({"db_instance": "orders-db", "reason": "upgrade", "change_id": "chg-9", "wait": true}),
    )
    .await;
    assert_eq!(
        s.catalog.calls_of("create_snapshot").len(),
        3,
        "two refusals, then it"
    );
    assert_eq!(check(&findings, "snapshot").outcome, Outcome::Pass);
    assert!(check(&findings, "busy").detail.contains("was busy"));
    assert_eq!(
        findings.result.unwrap()["created_by_this_request"],
        json!(true)
    );
}

#[tokio::test]
async fn a_pre_change_that_does_not_wait_is_told_at_once_that_the_database_is_busy() {
    let catalog = FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[])],
        vec![],
    );
    catalog.fail_with("create_snapshot", "InvalidDBInstanceState");
    let s = snapshotter(catalog);
    let findings = run(&s, json!({"db_instance": "orders-db", "reason": "upgrade"})).await;
    assert_eq!(
        s.catalog.calls_of("create_snapshot").len(),
        1,
        "not waited for"
    );
    let c = check(&findings, "snapshot");
    assert!(c.detail.contains("\"wait\": true"), "{}", c.detail);
    assert!(findings.retry.is_some());
}

#[tokio::test]
async fn a_pre_change_busy_past_its_stop_point_says_why_and_may_be_sent_again() {
    let catalog = FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[])],
        vec![],
    );
    catalog.fail_with("create_snapshot", "InvalidDBInstanceState");
    let mut s = snapshotter(catalog);
    s.config.wait_poll = Duration::from_millis(200);
    let mut inv = invocation(FUNCTION);
    inv.deadline = Utc::now() + chrono::Duration::seconds(1);
    inv.reserve = Duration::from_millis(100);
    let findings = run_at(
        &s,
        json!({"db_instance": "orders-db", "reason": "upgrade", "wait": true}),
        &inv,
        &MemoryLedger::default(),
    )
    .await;
    let c = check(&findings, "snapshot");
    assert_eq!(c.outcome, Outcome::Fail);
    assert!(c.detail.contains("while it was busy"), "{}", c.detail);
    assert_eq!(findings.result.unwrap()["status"], "not-created");
    assert!(
        findings.retry.is_some(),
        "busy passes: the request may be sent again"
    );
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_found_not_reported_as_nothing_done() {
    let catalog = FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[])],
        vec![],
    );
    catalog.lose_answer.set(true);
    let s = snapshotter(catalog);
    let (ledger, inv) = (MemoryLedger::default(), invocation(FUNCTION));
    let g = guard(&ledger, &inv);
    let request = json!({"db_instance": "orders-db", "reason": "upgrade"});
    let findings = s.respond(&trigger(request), &inv, &g).await;
    assert_eq!(check(&findings, "snapshot").outcome, Outcome::Pass);
    assert_eq!(
        findings.result.unwrap()["created_by_this_request"],
        json!(true)
    );
    assert_eq!(findings.retry, None);
    assert!(!g.without_effect(), "it took effect");
    assert_eq!(s.catalog.snapshots.borrow().len(), 1);
}

#[tokio::test]
async fn a_create_without_answer_that_cannot_be_looked_up_is_unknown_and_kept_as_acted() {
    let catalog = FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[])],
        vec![],
    );
    catalog.fail_with("create_snapshot", "");
    catalog.fail_with("find_snapshot", "");
    let s = snapshotter(catalog);
    let (ledger, inv) = (MemoryLedger::default(), invocation(FUNCTION));
    let g = guard(&ledger, &inv);
    let request = json!({"db_instance": "orders-db", "reason": "upgrade"});
    let findings = s.respond(&trigger(request), &inv, &g).await;
    let c = check(&findings, "snapshot");
    assert_eq!(c.outcome, Outcome::Fail);
    assert!(c.detail.contains("may exist"), "{}", c.detail);
    assert!(c.detail.contains("look for snapshot"), "{}", c.detail);
    assert_eq!(findings.result.unwrap()["status"], "unknown");
    assert_eq!(findings.retry, None, "no retry may make a second");
    assert!(g.acted() && !g.without_effect(), "recorded as acted");
}

#[tokio::test]
async fn a_sweep_refused_for_good_reports_and_asks_for_no_retry() {
    let catalog = FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[OPT_IN])],
        vec![],
    );
    catalog.fail_with("create_snapshot", "SnapshotQuotaExceeded");
    let s = snapshotter(catalog);
    let (ledger, inv) = (MemoryLedger::default(), invocation(FUNCTION));
    let g = guard(&ledger, &inv);
    let event = schedule(json!({}), "2026-11-22T03:00:00Z");
    let findings = s.respond(&trigger(event), &inv, &g).await;
    let c = check(&findings, "snapshot orders-db");
    assert_eq!(c.outcome, Outcome::Fail);
    assert!(c.detail.contains("SnapshotQuotaExceeded"), "{}", c.detail);
    assert_eq!(findings.retry, None, "a retry would meet the same quota");
}

#[tokio::test]
async fn a_pre_change_create_refused_for_good_is_not_retried_and_a_throttled_one_is() {
    for (code, retried) in [
        ("SnapshotQuotaExceeded", false),
        ("AccessDenied", false),
        ("Throttling", true),
        ("InvalidDBInstanceState", true),
    ] {
        let catalog = FakeCatalog::with(
            vec![listing(instance("orders-db"), "available", &[])],
            vec![],
        );
        catalog.fail_with("create_snapshot", code);
        let s = snapshotter(catalog);
        let findings = run(&s, json!({"db_instance": "orders-db", "reason": "x"})).await;
        assert_eq!(
            findings.result.clone().unwrap()["status"],
            "not-created",
            "{code}"
        );
        assert_eq!(findings.retry.is_some(), retried, "{code}");
        assert!(check(&findings, "snapshot").detail.contains(code), "{code}");
    }
}

#[tokio::test]
async fn a_backup_refused_for_good_is_not_retried() {
    let s = snapshotter(FakeCatalog::with(vec![], vec![]));
    s.tables
        .fail_with("create_backup", "TableNotFoundException");
    let (ledger, inv) = (MemoryLedger::default(), invocation(FUNCTION));
    let g = guard(&ledger, &inv);
    let event = schedule(json!({"tables": ["orders"]}), "2026-11-22T03:00:00Z");
    let findings = s.respond(&trigger(event), &inv, &g).await;
    assert_eq!(check(&findings, "backup orders").outcome, Outcome::Fail);
    assert_eq!(findings.retry, None);
    s.tables
        .fail_with("create_backup", "LimitExceededException");
    let findings = s
        .respond(
            &trigger(schedule(
                json!({"tables": ["orders"]}),
                "2026-11-22T03:00:00Z",
            )),
            &inv,
            &g,
        )
        .await;
    assert!(findings.retry.is_some(), "too many backups at once passes");
}

#[tokio::test]
async fn a_duplicate_retention_run_deletes_nothing_twice() {
    let s = snapshotter(retention_estate());
    let event = schedule(json!({"snapshots": false}), "2026-11-22T03:00:00Z");
    run(&s, event.clone()).await;
    let again = run(&s, event).await;
    assert_eq!(s.catalog.calls_of("delete_snapshot").len(), 3);
    assert!(!again.checks.iter().any(|c| c.name == "deleted"));
}

#[tokio::test]
async fn the_quota_warns_above_eighty_percent() {
    let s = snapshotter(retention_estate());
    *s.catalog.quotas.borrow_mut() = vec![Quota {
        name: "ManualSnapshots".into(),
        used: 81,
        max: 100,
    }];
    let findings = run(&s, json!({"action": "retention"})).await;
    assert_eq!(check(&findings, "quota").outcome, Outcome::Warn);
    *s.catalog.quotas.borrow_mut() = vec![Quota {
        name: "ManualSnapshots".into(),
        used: 80,
        max: 100,
    }];
    let findings = run(&s, json!({"action": "retention"})).await;
    assert_eq!(check(&findings, "quota").outcome, Outcome::Pass);
    assert!(check(&findings, "quota")
        .detail
        .contains("80 of 100 (20 left)"));
    s.catalog.fail("snapshot_quotas");
    let findings = run(&s, json!({"action": "retention"})).await;
    assert_eq!(check(&findings, "quota").outcome, Outcome::Skipped);
}

// --- DynamoDB -----------------------------------------------------------------------------------

fn backup(name: &str, table: &str, created: DateTime<Utc>) -> BackupInfo {
    BackupInfo {
        arn: format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}/backup/{name}"),
        name: name.into(),
        table: table.into(),
        status: "AVAILABLE".into(),
        backup_type: "USER".into(),
        created: Some(created),
        size_bytes: Some(1),
    }
}

#[tokio::test]
async fn tables_are_backed_up_once_and_pitr_is_reported_not_fixed() {
    let s = snapshotter(FakeCatalog::with(vec![], vec![]));
    let event = schedule(json!({"retention": false}), "2026-11-22T03:00:00Z");
    let findings = run(&s, event.clone()).await;
    assert_eq!(
        s.tables.calls_of("create_backup"),
        ["create_backup orders-table orders-table-rr-20261122-030000"]
    );
    assert_eq!(
        check(&findings, "backup orders-table").outcome,
        Outcome::Pass
    );
    let pitr = check(&findings, "pitr orders-table");
    assert_eq!(pitr.outcome, Outcome::Warn);
    assert!(pitr.detail.contains("ENABLE_PITR"));
    assert!(s.tables.calls_of("enable_pitr").is_empty());
    // A retry finds the backup by name.
    let again = run(&s, event).await;
    assert_eq!(s.tables.calls_of("create_backup").len(), 1);
    assert!(check(&again, "backup orders-table")
        .detail
        .contains("already exists"));
}

#[tokio::test]
async fn enable_pitr_turns_it_on_and_a_lagging_restore_point_warns() {
    let mut s = snapshotter(FakeCatalog::with(vec![], vec![]));
    s.config.enable_pitr = true;
    let findings = run(
        &s,
        schedule(json!({"retention": false}), "2026-11-22T03:00:00Z"),
    )
    .await;
    assert_eq!(check(&findings, "pitr orders-table").outcome, Outcome::Pass);
    assert_eq!(s.tables.calls_of("enable_pitr").len(), 1);
    s.tables.pitr.borrow_mut().insert(
        "orders-table".into(),
        PitrStatus {
            enabled: true,
            latest_restorable: Some(Utc::now() - chrono::Duration::hours(2)),
        },
    );
    let findings = run(
        &s,
        schedule(json!({"retention": false}), "2026-11-22T04:00:00Z"),
    )
    .await;
    assert_eq!(check(&findings, "pitr orders-table").outcome, Outcome::Warn);
}

#[tokio::test]
async fn backup_retention_follows_the_same_rules() {
    let s = snapshotter(FakeCatalog::with(vec![], vec![]));
    {
        let mut backups = s.tables.backups.borrow_mut();
        for i in 0..9 {
            backups.push(backup(
                &format!("orders-table-rr-2026010{i}-030000"),
                "orders-table",
                days_ago(40 + i),
            ));
        }
        backups.push(backup("orders-table-manual", "orders-table", days_ago(400)));
        let mut system = backup("orders-table-rr-system", "orders-table", days_ago(400));
        system.backup_type = "SYSTEM".into();
        backups.push(system);
    }
    let findings = run(
        &s,
        schedule(
            json!({"snapshots": false, "keep_newest": 7}),
            "2026-11-22T03:00:00Z",
        ),
    )
    .await;
    assert!(check(&findings, "deleted").data["deleted"]
        .to_string()
        .contains("orders-table-rr-20260108-030000 (dynamodb-table orders-table)"));
    let deleted = s.tables.calls_of("delete_backup");
    assert_eq!(deleted.len(), 2, "{deleted:?}");
    assert!(deleted.iter().all(|d| d.contains("-rr-2026010")));
    assert!(deleted
        .iter()
        .any(|d| d.contains("orders-table-rr-20260108-030000")));
}

#[tokio::test]
async fn a_backup_already_gone_counts_as_deleted_and_stops_no_other_delete() {
    let s = snapshotter(FakeCatalog::with(vec![], vec![]));
    for i in 0..9 {
        s.tables.backups.borrow_mut().push(backup(
            &format!("orders-table-rr-2026010{i}-030000"),
            "orders-table",
            days_ago(40 + i),
        ));
    }
    s.tables
        .fail_with("delete_backup", "BackupNotFoundException");
    let findings = run(
        &s,
        schedule(
            json!({"snapshots": false, "keep_newest": 7}),
            "2026-11-22T03:00:00Z",
        ),
    )
    .await;
    assert_eq!(s.tables.calls_of("delete_backup").len(), 2, "both tried");
    let c = check(&findings, "deleted");
    assert_eq!(c.detail, "2 deleted, 0 not deleted");
    assert_eq!(c.outcome, Outcome::Pass);
}

#[tokio::test]
async fn a_backup_delete_refused_is_not_counted_as_deleted() {
    let s = snapshotter(FakeCatalog::with(vec![], vec![]));
    for i in 0..9 {
        s.tables.backups.borrow_mut().push(backup(
            &format!("orders-table-rr-2026010{i}-030000"),
            "orders-table",
            days_ago(40 + i),
        ));
    }
    s.tables.fail_with("delete_backup", "ThrottlingException");
    let findings = run(
        &s,
        schedule(
            json!({"snapshots": false, "keep_newest": 7}),
            "2026-11-22T03:00:00Z",
        ),
    )
    .await;
    let c = check(&findings, "deleted");
    assert_eq!(c.detail, "0 deleted, 2 not deleted");
    assert_eq!(c.outcome, Outcome::Fail);
    assert!(c.data.to_string().contains("ThrottlingException"));
}

#[tokio::test]
async fn retention_reports_follow_the_order_of_the_databases_in_scope() {
    for order in [["orders-db", "billing"], ["billing", "orders-db"]] {
        let s = snapshotter(FakeCatalog::with(
            order
                .iter()
                .map(|db| listing(instance(db), "available", &[OPT_IN]))
                .collect(),
            vec![],
        ));
        let findings = run(
            &s,
            schedule(json!({"snapshots": false}), "2026-11-22T03:00:00Z"),
        )
        .await;
        let reported: Vec<&str> = findings
            .checks
            .iter()
            .filter_map(|c| c.name.strip_prefix("retention "))
            .collect();
        // Databases in the order of the scope, then the configured tables.
        assert_eq!(reported, [order[0], order[1], "orders-table"]);
    }
}

// --- completion events --------------------------------------------------------------------------

fn snapshot_event(detail_type: &str, source_type: &str, id: &str, event_id: &str) -> Value {
    json!({
        "version": "0", "id": "e-1", "detail-type": detail_type, "source": "aws.rds",
        "account": "123456789012", "time": "2026-11-22T03:10:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:rds:us-east-1:123456789012:snapshot:{id}")],
        "detail": {"EventCategories": ["creation"], "SourceType": source_type, "SourceArn": format!("arn:aws:rds:us-east-1:123456789012:snapshot:{id}"),
            "Date": "2026-11-22T03:10:00.000Z", "Message": "Manual snapshot created", "SourceIdentifier": id, "EventID": event_id}
    })
}

#[tokio::test]
async fn a_created_event_for_our_snapshot_reports_size_duration_and_who_asked() {
    let mut ours = our_snapshot(
        "orders-db-rr-chg-1",
        "orders-db",
        "2026-11-22T03:00:00Z".parse().unwrap(),
    );
    ours.tags
        .insert("rds-responder:trigger".into(), "manual:deploy-77".into());
    let s = snapshotter(FakeCatalog::with(vec![], vec![ours]));
    let findings = run(
        &s,
        snapshot_event(
            "RDS DB Snapshot Event",
            "SNAPSHOT",
            "orders-db-rr-chg-1",
            "RDS-EVENT-0042",
        ),
    )
    .await;
    let c = check(&findings, "snapshot");
    assert_eq!(c.outcome, Outcome::Pass);
    assert!(c.detail.contains("20 GiB, 600 s"), "{}", c.detail);
    assert!(c.detail.contains("manual:deploy-77"), "{}", c.detail);
    assert_eq!(c.data["duration_seconds"], json!(600));
}

#[tokio::test]
async fn snapshot_events_that_are_not_ours_are_ignored_and_automated_ones_acknowledged() {
    let mut theirs = our_snapshot("hand-made", "orders-db", now());
    theirs.tags.clear();
    let s = snapshotter(FakeCatalog::with(vec![], vec![theirs]));
    let findings = run(
        &s,
        snapshot_event(
            "RDS DB Snapshot Event",
            "SNAPSHOT",
            "hand-made",
            "RDS-EVENT-0042",
        ),
    )
    .await;
    assert_eq!(findings.status, Some(Status::Skipped));
    assert!(findings.summary.contains("not made by rds-responder"));
    let findings = run(
        &s,
        snapshot_event(
            "RDS DB Snapshot Event",
            "SNAPSHOT",
            "rds:orders-db-2026-11-22-03-00",
            "RDS-EVENT-0091",
        ),
    )
    .await;
    assert!(
        findings
            .summary
            .contains("automated snapshot rds:orders-db-2026-11-22-03-00"),
        "{}",
        findings.summary
    );
    let findings = run(
        &s,
        snapshot_event(
            "RDS DB Cluster Snapshot Event",
            "CLUSTER_SNAPSHOT",
            "ledger-x",
            "RDS-EVENT-0169",
        ),
    )
    .await;
    assert!(
        findings.summary.contains("acknowledged"),
        "{}",
        findings.summary
    );
    assert!(
        s.catalog.calls_of("find_snapshot").len() == 1,
        "automated events describe nothing"
    );
}

#[tokio::test]
async fn a_failed_snapshot_of_ours_fails_the_report() {
    let mut failed = our_snapshot("orders-db-rr-x", "orders-db", now());
    failed.status = "failed".into();
    let s = snapshotter(FakeCatalog::with(vec![], vec![failed]));
    let findings = run(
        &s,
        snapshot_event(
            "RDS DB Snapshot Event",
            "SNAPSHOT",
            "orders-db-rr-x",
            "RDS-EVENT-0061",
        ),
    )
    .await;
    assert_eq!(check(&findings, "snapshot").outcome, Outcome::Fail);
}

#[test]
fn the_sample_events_decide_as_the_readme_says() {
    let decision = |name: &str| decide(&trigger(sample(name)), now(), "req-1", &config());
    match decision("rds-snapshot-created.eventbridge.json") {
        Decision::Completion(c) => {
            assert_eq!(
                (c.of, c.stage),
                (SnapshotOf::Instance, crate::policy::SnapshotStage::Created)
            );
            assert_eq!(c.snapshot.as_str(), "orders-db-rr-chg-4711");
        }
        other => panic!("{other:?}"),
    }
    match decision("rds-cluster-snapshot-created.sns.json") {
        Decision::Completion(c) => {
            assert_eq!(
                (c.of, c.stage),
                (SnapshotOf::Cluster, crate::policy::SnapshotStage::Created)
            );
            assert_eq!(c.snapshot.as_str(), "orders-aurora-rr-20261122-030000");
        }
        other => panic!("{other:?}"),
    }
    match decision("rds-automated-snapshot-created.eventbridge.json") {
        Decision::Skip { reason, .. } => assert!(reason.contains("acknowledged"), "{reason}"),
        other => panic!("{other:?}"),
    }
    match decision("manual.snapshotter.json") {
        Decision::PreChange(p) => {
            assert_eq!(p.snapshot_id.as_str(), "orders-db-rr-chg-4711");
            assert!(p.wait && !p.dry_run);
        }
        other => panic!("{other:?}"),
    }
    match decision("manual.snapshotter.retention.json") {
        Decision::Sweep(s) => assert!(s.dry_run && !s.snapshots),
        other => panic!("{other:?}"),
    }
    match decision("schedule.snapshotter.scheduler.json") {
        Decision::Sweep(s) => {
            assert_eq!(
                s.at,
                "2026-11-22T03:00:00Z".parse::<DateTime<Utc>>().unwrap()
            );
            assert_eq!(s.tables.len(), 1);
            assert!(s.snapshots && s.retention.is_some());
            assert!(!s.dry_run);
            assert!(
                s.deletes_plan_only,
                "rds-responder-snapshots is not in this test's ALLOWED_SCHEDULES"
            );
        }
        other => panic!("{other:?}"),
    }
}

// --- rails found by trying to break them ---------------------------------------------------------

#[test]
fn a_schedule_input_cannot_lift_automatic_dry_run_or_lower_the_floors() {
    let mut planning = config();
    planning.automatic_dry_run = true;
    let event = schedule(
        json!({"dry_run": false, "keep_newest": 1, "max_age_days": 1, "max_deletes": 5000}),
        "2026-11-22T03:00:00Z",
    );
    match decide(&trigger(event), now(), "r", &planning) {
        Decision::Sweep(sweep) => {
            assert!(sweep.dry_run && sweep.deletes_plan_only);
            let rules = sweep.retention.unwrap();
            assert_eq!(
                (rules.keep_newest, rules.max_age_days, rules.max_deletes),
                (7, 35, 50)
            );
        }
        other => panic!("{other:?}"),
    }
    // Keeping more and deleting fewer is always allowed.
    let request =
        json!({"action": "retention", "keep_newest": 9, "max_age_days": 40, "max_deletes": 3});
    match decide(&trigger(request), now(), "r", &config()) {
        Decision::Sweep(sweep) => {
            let rules = sweep.retention.unwrap();
            assert_eq!(
                (rules.keep_newest, rules.max_age_days, rules.max_deletes),
                (9, 40, 3)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn repeated_or_too_many_entries_are_refused_by_index() {
    let err = refusal(schedule(
        json!({"tables": ["orders-table", "orders-table"]}),
        "2026-11-22T03:00:00Z",
    ));
    assert!(
        err.contains("tables[1]") && err.contains("already listed"),
        "{err}"
    );
    let err = refusal(json!({"action": "retention", "targets": [
        {"db_instance": "a1"}, {"db_cluster": "a1"}, {"db_instance": "a1"}]}));
    assert!(err.contains("targets[2]"), "{err}");
    let many: Vec<Value> = (0..1001).map(|i| json!(format!("t{i:04}"))).collect();
    let err = refusal(json!({"action": "retention", "tables": many}));
    assert!(err.contains("at most 1000"), "{err}");
    let many: Vec<Value> = (0..1000).map(|i| json!(format!("t{i:04}"))).collect();
    trigger(json!({"action": "retention", "tables": many}));
}

#[test]
fn request_ids_are_not_blank_and_carry_no_control_characters() {
    for id in [" ", "a\nb", "\u{7}"] {
        let err = refusal(json!({"db_instance": "orders-db", "reason": "x", "request_id": id}));
        assert!(err.contains("request_id"), "{id:?}: {err}");
    }
}

#[tokio::test]
async fn a_sweep_the_lock_turns_away_warns_and_says_nothing_was_deleted() {
    let s = snapshotter(retention_estate());
    let ledger = MemoryLedger::default();
    let inv = invocation(FUNCTION);
    hold_lock(
        &ledger,
        "snapshotter",
        "other#k",
        "other",
        &snapshot_lock(None),
        &inv,
    )
    .await;
    let findings = run_at(
        &s,
        schedule(json!({}), "2026-11-22T03:00:00Z"),
        &inv,
        &ledger,
    )
    .await;
    assert!(s.catalog.calls_of("create_snapshot").is_empty());
    assert!(s.catalog.calls_of("delete_snapshot").is_empty());
    assert_eq!(check(&findings, "guard").outcome, Outcome::Warn);
    let plan = check(&findings, "retention orders-db");
    assert_eq!(plan.outcome, Outcome::Skipped);
    assert!(plan.detail.starts_with("would delete 3"), "{}", plan.detail);
    assert_eq!(check(&findings, "retention").outcome, Outcome::Warn);
}

#[tokio::test]
async fn a_change_id_that_names_another_changes_snapshot_is_refused_and_a_new_reason_warns() {
    let mut other = our_snapshot("orders-db-rr-chg-1", "orders-db", now());
    other
        .tags
        .insert("rds-responder:change-id".into(), "CHG 1".into());
    let s = snapshotter(FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[])],
        vec![other],
    ));
    let findings = run(
        &s,
        json!({"db_instance": "orders-db", "reason": "x", "change_id": "chg-1"}),
    )
    .await;
    let c = check(&findings, "snapshot");
    assert_eq!(c.outcome, Outcome::Fail);
    assert!(
        c.detail.contains("exists for another change"),
        "{}",
        c.detail
    );

    let mut same = our_snapshot(
        "orders-db-rr-rel-1",
        "orders-db",
        now() - chrono::Duration::days(20),
    );
    same.tags
        .insert("rds-responder:change-id".into(), "rel-1".into());
    same.tags
        .insert("rds-responder:reason".into(), "release 1".into());
    let s = snapshotter(FakeCatalog::with(
        vec![listing(instance("orders-db"), "available", &[])],
        vec![same],
    ));
    let findings = run(
        &s,
        json!({"db_instance": "orders-db", "reason": "release 1 again", "change_id": "rel-1"}),
    )
    .await;
    assert_eq!(check(&findings, "reuse").outcome, Outcome::Warn);
    let result = findings.result.unwrap();
    assert_eq!(result["created_by_this_request"], false);
    assert!(result["created_at"].is_string());
}

#[tokio::test]
async fn a_snapshot_gone_before_its_delete_does_not_stop_the_others() {
    let catalog = retention_estate();
    // The oldest of ours is gone by the time its delete arrives (someone else deleted it).
    catalog
        .vanishing_deletes
        .borrow_mut()
        .insert("orders-db-rr-09".into());
    let mut s = snapshotter(catalog);
    s.config.concurrency = 1;
    let findings = run(
        &s,
        schedule(json!({"snapshots": false}), "2026-11-22T03:00:00Z"),
    )
    .await;
    assert_eq!(
        check(&findings, "deleted").detail,
        "3 deleted, 0 not deleted"
    );
    assert_eq!(s.catalog.calls_of("delete_snapshot").len(), 3);
}

#[test]
fn another_services_snapshot_event_is_ignored_not_refused() {
    let mut event = sample("rds-cluster-snapshot-created.sns.json");
    let message = event["Records"][0]["Sns"]["Message"]
        .as_str()
        .unwrap()
        .replace(
            "orders-aurora-rr-20261122-030000",
            "awsbackup:job-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
        );
    event["Records"][0]["Sns"]["Message"] = json!(message);
    match decide(&trigger(event), now(), "r", &config()) {
        Decision::Skip { reason, .. } => {
            assert!(reason.contains("not one rds-responder makes"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn duplicate_keys_in_a_payload_are_refused_not_guessed() {
    use rds_responder::runner::Incoming;
    // As the runtime reads a payload: one value from the front of the body.
    let read = |text: &str| {
        use serde::Deserialize;
        Incoming::deserialize(&mut serde_json::Deserializer::from_str(text)).unwrap()
    };
    match read(r#"{"action": "retention", "dry_run": true, "dry_run": false}"#) {
        Incoming::Unreadable(why) => assert!(why.contains("appears twice"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        read(r#"{"targets": [{"db_instance": "a", "db_instance": "b"}]}"#),
        Incoming::Unreadable(_)
    ));
    assert_eq!(
        read(r#"{"a": {"x": 1}, "b": {"x": [1.5, null, true, "s", -2]}}"#),
        Incoming::Event(json!({"a": {"x": 1}, "b": {"x": [1.5, null, true, "s", -2]}}))
    );
}

#[tokio::test]
async fn one_databases_failed_listing_deletes_nothing_anywhere() {
    let catalog = retention_estate();
    catalog
        .databases
        .borrow_mut()
        .push(listing(instance("billing-2"), "available", &[OPT_IN]));
    catalog
        .failing_listings
        .borrow_mut()
        .insert("billing-2".into());
    let s = snapshotter(catalog);
    let findings = run(
        &s,
        schedule(json!({"snapshots": false}), "2026-11-22T03:00:00Z"),
    )
    .await;
    assert!(s.catalog.calls_of("delete_snapshot").is_empty());
    assert_eq!(s.catalog.calls_of("list_snapshots").len(), 2);
    let c = check(&findings, "retention");
    assert_eq!(c.outcome, Outcome::Fail);
    assert!(
        c.detail.contains("snapshots of db-instance billing-2"),
        "{}",
        c.detail
    );
    assert!(!findings
        .checks
        .iter()
        .any(|c| c.name == "retention orders-db"));
}

#[tokio::test]
async fn a_listed_cluster_member_is_not_covered_by_a_cluster_the_run_does_not_snapshot() {
    let s = snapshotter(estate());
    let findings = run(
        &s,
        schedule(
            json!({"retention": false, "targets": [{"db_instance": "ledger-1"}]}),
            "2026-11-22T03:00:00Z",
        ),
    )
    .await;
    assert!(s.catalog.calls_of("create_snapshot").is_empty());
    let c = check(&findings, "snapshot ledger-1");
    assert_eq!(c.outcome, Outcome::Warn);
    assert!(
        c.detail.contains("which this run does not snapshot"),
        "{}",
        c.detail
    );
    assert!(
        !findings
            .checks
            .iter()
            .any(|c| c.name == "snapshot ledger-2"),
        "the other member is not in this run"
    );
}

#[test]
fn a_value_of_the_wrong_type_names_its_field() {
    for (payload, path) in [
        (json!({"db_instance": 123, "reason": "x"}), "db_instance"),
        (
            json!({"action": "retention", "keep_newest": -1}),
            "keep_newest",
        ),
        (
            json!({"db_instance": "orders-db", "reason": "x", "wait": "true"}),
            "wait",
        ),
        (
            json!({"action": "retention", "targets": [{"db_instance": 5}]}),
            "targets[0].db_instance",
        ),
    ] {
        let err = refusal(payload.clone());
        assert!(err.contains(&format!("at {path}:")), "{payload}: {err}");
    }
    let err = refusal(schedule(
        json!({"tables": "orders-table"}),
        "2026-11-22T03:00:00Z",
    ));
    assert!(err.contains("at tables:"), "{err}");
}
