//! snapshotter end to end: the real binary under the Runtime API against moto's RDS and
//! DynamoDB. Every test opts its own databases in with its own tag, so the shared moto server's
//! other databases are never in scope.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_rds::types::Tag;
use e2e::{check, Fixture, FunctionProcess};
use serde_json::{json, Value};

const FUNCTION: &str = "snapshotter";
const SCHEDULE: &str = "rds-responder-snapshots";

fn opt_in(fixture: &Fixture) -> String {
    format!("rr-snapshot-{}", fixture.suffix)
}

fn env(fixture: &Fixture, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let tag = opt_in(fixture);
    let mut overrides: Vec<(&str, &str)> = vec![
        ("OPT_IN_TAG", &tag),
        ("ALLOWED_SCHEDULES", SCHEDULE),
        ("WAIT_POLL_SECONDS", "1"),
    ];
    overrides.extend_from_slice(extra);
    fixture.function_env(&overrides)
}

fn arn(kind: &str, id: &str) -> String {
    format!("arn:aws:rds:us-east-1:123456789012:{kind}:{id}")
}

async fn tag(fixture: &Fixture, kind: &str, id: &str, tags: &[(&str, &str)]) {
    fixture
        .aws
        .rds
        .add_tags_to_resource()
        .resource_name(arn(kind, id))
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                .collect(),
        ))
        .send()
        .await
        .expect("tag");
}

/// Manual snapshots of instance `db` in moto: id -> tags.
async fn snapshots_of(fixture: &Fixture, db: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    fixture
        .manual_snapshots(db)
        .await
        .iter()
        .map(|s| {
            (
                s.db_snapshot_identifier().unwrap_or_default().to_string(),
                s.tag_list()
                    .iter()
                    .map(|t| {
                        (
                            t.key().unwrap_or_default().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

async fn cluster_snapshot_ids(fixture: &Fixture) -> Vec<String> {
    let out = fixture
        .aws
        .rds
        .describe_db_cluster_snapshots()
        .db_cluster_identifier(&fixture.cluster)
        .snapshot_type("manual")
        .send()
        .await
        .expect("describe cluster snapshots");
    out.db_cluster_snapshots()
        .iter()
        .filter_map(|s| s.db_cluster_snapshot_identifier().map(str::to_string))
        .collect()
}

async fn manual_snapshot(fixture: &Fixture, db: &str, id: &str, tags: &[(&str, &str)]) {
    fixture
        .aws
        .rds
        .create_db_snapshot()
        .db_instance_identifier(db)
        .db_snapshot_identifier(id)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                .collect(),
        ))
        .send()
        .await
        .expect("create snapshot");
}

/// The sample scheduled run, now, naming `tables`, with `extra` input fields.
fn scheduled_run(fixture: &Fixture, tables: &[&str], extra: Value) -> Value {
    let mut event = fixture.event("schedule.snapshotter.scheduler.json");
    event["scheduler"]["scheduled_time"] = json!("2026-11-22T03:00:00Z");
    event["tables"] = json!(tables);
    if let Some(map) = extra.as_object() {
        for (k, v) in map {
            event[k] = v.clone();
        }
    }
    event
}

#[tokio::test]
async fn a_pre_change_snapshot_is_named_tagged_waited_for_and_found_again_on_retry() {
    let fixture = Fixture::new().await;
    let mut function = FunctionProcess::start(FUNCTION, &env(&fixture, &[])).await;
    let request = json!({
        "db_instance": fixture.db,
        "reason": "migración 42 — índice ✓ (orders)",
        "change_id": "CHG 4711 / hotfix ünïcode",
        "wait": true,
    });
    let report = function.invoke(&request).await.1.response();
    assert_eq!(report["status"], "ok", "{report:#}");
    let id = report["result"]["snapshot_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        id.starts_with(&format!("{}-rr-chg-4711-hotfix-n-code-", fixture.db)),
        "{id}"
    );
    assert_eq!(report["result"]["status"], "available");
    assert_eq!(report["result"]["created_by_this_request"], true);
    let created = [(format!("db-instance:{}", fixture.db), 1.0)].into();
    assert_eq!(e2e::resource_metrics(&report, "SnapshotsCreated"), created);

    let snapshots = snapshots_of(&fixture, &fixture.db).await;
    let tags = &snapshots[&id];
    assert_eq!(tags["CreatedBy"], "rds-responder");
    assert_eq!(
        tags["rds-responder:reason"],
        "migración 42 _ índice _ _orders_"
    );
    assert_eq!(tags["rds-responder:change-id"], "CHG 4711 / hotfix ünïcode");
    assert!(tags["rds-responder:trigger"].starts_with("manual:snapshotter-"));

    // The pipeline retries (a new request): the snapshot is found, not made again.
    let again = function.invoke(&request).await.1.response();
    assert_eq!(again["status"], "ok", "{again:#}");
    assert_eq!(again["result"]["snapshot_id"], id.as_str());
    assert_eq!(again["result"]["created_by_this_request"], false);
    assert!(e2e::resource_metrics(&again, "SnapshotsCreated").is_empty());
    assert_eq!(snapshots_of(&fixture, &fixture.db).await.len(), 1);
}

#[tokio::test]
async fn an_existing_snapshot_we_did_not_make_is_an_error_that_names_it() {
    let fixture = Fixture::new().await;
    let foreign = format!("{}-rr-chg-9", fixture.db);
    manual_snapshot(&fixture, &fixture.db, &foreign, &[("Owner", "dba")]).await;
    let mut function = FunctionProcess::start(FUNCTION, &env(&fixture, &[])).await;
    let report = function
        .invoke(&json!({"db_instance": fixture.db, "reason": "deploy", "change_id": "chg-9"}))
        .await
        .1
        .response();
    assert_eq!(report["status"], "failed", "{report:#}");
    let detail = check(&report, "snapshot")["detail"].as_str().unwrap();
    assert!(detail.contains(&foreign), "{detail}");
    assert!(detail.contains("not made by rds-responder"), "{detail}");
    // Nothing was created: `not-created`, not `failed` (the state of a snapshot RDS failed).
    assert_eq!(report["result"]["status"], "not-created");
    let snapshots = snapshots_of(&fixture, &fixture.db).await;
    assert_eq!(snapshots.len(), 1);
    assert_eq!(snapshots[&foreign]["Owner"], "dba", "left untouched");
}

#[tokio::test]
async fn a_cluster_gets_a_cluster_snapshot() {
    let fixture = Fixture::new().await;
    fixture.create_cluster().await;
    let mut function = FunctionProcess::start(FUNCTION, &env(&fixture, &[])).await;
    let report = function
        .invoke(&json!({"db_cluster": fixture.cluster, "reason": "engine upgrade", "wait": true}))
        .await
        .1
        .response();
    assert_eq!(report["status"], "ok", "{report:#}");
    let id = report["result"]["snapshot_id"].as_str().unwrap();
    assert!(
        id.starts_with(&format!("{}-rr-pre-", fixture.cluster)),
        "{id}"
    );
    assert_eq!(report["result"]["db_kind"], "cluster");
    assert_eq!(cluster_snapshot_ids(&fixture).await, [id]);
}

#[tokio::test]
async fn a_scheduled_run_snapshots_opted_in_databases_once_and_reports_the_rest() {
    let fixture = Fixture::new().await;
    let opt = opt_in(&fixture);
    let untagged = format!("plain-{}", fixture.suffix);
    let opted_out = format!("out-{}", fixture.suffix);
    let replica = format!("replica-{}", fixture.suffix);
    let table = format!("orders-{}", fixture.suffix);
    fixture.create_instance(&untagged, "postgres").await;
    fixture.create_instance(&opted_out, "postgres").await;
    fixture.create_cluster().await;
    fixture
        .aws
        .rds
        .create_db_instance_read_replica()
        .db_instance_identifier(&replica)
        .source_db_instance_identifier(&fixture.db)
        .send()
        .await
        .expect("create read replica");
    fixture.create_table(&table, None).await;
    tag(&fixture, "db", &fixture.db, &[(&opt, "true")]).await;
    tag(&fixture, "db", &replica, &[(&opt, "yes")]).await;
    tag(
        &fixture,
        "db",
        &opted_out,
        &[(&opt, "true"), ("rds-responder:snapshotter", "off")],
    )
    .await;
    tag(&fixture, "cluster", &fixture.cluster, &[(&opt, "true")]).await;

    let mut function = FunctionProcess::start(FUNCTION, &env(&fixture, &[])).await;
    let event = scheduled_run(&fixture, &[&table], json!({"retention": false}));
    let report = function.invoke(&event).await.1.response();
    assert_eq!(report["status"], "degraded", "PITR is off: {report:#}");

    let ours = format!("{}-rr-20261122-030000", fixture.db);
    assert_eq!(
        snapshots_of(&fixture, &fixture.db)
            .await
            .keys()
            .collect::<Vec<_>>(),
        [&ours]
    );
    assert_eq!(
        cluster_snapshot_ids(&fixture).await,
        [format!("{}-rr-20261122-030000", fixture.cluster)]
    );
    for other in [&untagged, &opted_out, &replica] {
        assert!(snapshots_of(&fixture, other).await.is_empty(), "{other}");
    }
    for member in 1..=2 {
        let c = check(&report, &format!("snapshot {}-{member}", fixture.cluster));
        assert!(
            c["detail"]
                .as_str()
                .unwrap()
                .contains("covered by the cluster's snapshot"),
            "{c:#}"
        );
    }
    assert!(check(&report, &format!("snapshot {replica}"))["detail"]
        .as_str()
        .unwrap()
        .contains("read replica of"));
    assert!(check(&report, &format!("snapshot {opted_out}"))["detail"]
        .as_str()
        .unwrap()
        .contains("opted out"));
    assert!(!report["checks"]
        .to_string()
        .contains(&format!("snapshot {untagged}")));
    assert_eq!(
        fixture.backup_names(&table).await,
        [format!("{table}-rr-20261122-030000")]
    );
    assert_eq!(check(&report, &format!("pitr {table}"))["outcome"], "warn");
    // One taken of each database and table, the dashboard's count.
    assert_eq!(
        e2e::resource_metrics(&report, "SnapshotsCreated"),
        [
            (format!("db-cluster:{}", fixture.cluster), 1.0),
            (format!("db-instance:{}", fixture.db), 1.0),
            (format!("table:{table}"), 1.0),
        ]
        .into()
    );

    // The same schedule delivered twice: the earlier report, nothing new.
    let duplicate = function.invoke(&event).await.1.response();
    assert_eq!(duplicate["id"], report["id"], "{duplicate:#}");
    assert!(duplicate["duplicate_of"].is_string());
    assert_eq!(snapshots_of(&fixture, &fixture.db).await.len(), 1);
    assert_eq!(cluster_snapshot_ids(&fixture).await.len(), 1);
    assert_eq!(fixture.backup_names(&table).await.len(), 1);
}

#[tokio::test]
async fn enable_pitr_turns_point_in_time_recovery_on() {
    let fixture = Fixture::new().await;
    let table = format!("sessions-{}", fixture.suffix);
    fixture.create_table(&table, None).await;
    let mut function =
        FunctionProcess::start(FUNCTION, &env(&fixture, &[("ENABLE_PITR", "true")])).await;
    let report = function
        .invoke(&scheduled_run(
            &fixture,
            &[&table],
            json!({"retention": false}),
        ))
        .await
        .1
        .response();
    assert_eq!(
        check(&report, &format!("pitr {table}"))["outcome"],
        "pass",
        "{report:#}"
    );
    let pitr = fixture
        .aws
        .dynamodb
        .describe_continuous_backups()
        .table_name(&table)
        .send()
        .await
        .expect("describe continuous backups");
    let status = pitr
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .map(|s| s.as_str().to_string());
    assert_eq!(status.as_deref(), Some("ENABLED"));
}

/// Ten snapshots of ours (made through the function, so named and tagged as it makes them) and
/// snapshots that are not ours, all created now in moto.
async fn retention_fixture(fixture: &Fixture) -> Vec<String> {
    let opt = opt_in(fixture);
    tag(fixture, "db", &fixture.db, &[(&opt, "true")]).await;
    let mut function = FunctionProcess::start(FUNCTION, &env(fixture, &[])).await;
    let mut ours = Vec::new();
    for i in 0..10 {
        let report = function
            .invoke(&json!({"db_instance": fixture.db, "reason": "fixture", "change_id": format!("c{i:02}")}))
            .await
            .1
            .response();
        ours.push(
            report["result"]["snapshot_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        // Distinct creation times, oldest first.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let db = &fixture.db;
    manual_snapshot(fixture, db, &format!("{db}-rr-untagged"), &[]).await;
    manual_snapshot(
        fixture,
        db,
        &format!("{db}-rr-wrong-tag"),
        &[("CreatedBy", "terraform")],
    )
    .await;
    manual_snapshot(
        fixture,
        db,
        &format!("{db}-manual-20260101"),
        &[("CreatedBy", "rds-responder")],
    )
    .await;
    ours
}

#[tokio::test]
async fn retention_keeps_the_newest_of_ours_under_any_clock_and_touches_nothing_else() {
    let fixture = Fixture::new().await;
    let ours = retention_fixture(&fixture).await;
    let theirs = [
        format!("{}-rr-untagged", fixture.db),
        format!("{}-rr-wrong-tag", fixture.db),
        format!("{}-manual-20260101", fixture.db),
    ];
    let retention =
        json!({"action": "retention", "dry_run": false, "targets": [{"db_instance": fixture.db}]});

    // Today: all of ours are younger than 35 days.
    let mut today = FunctionProcess::start(FUNCTION, &env(&fixture, &[])).await;
    let report = today.invoke(&retention).await.1.response();
    assert_eq!(report["status"], "ok", "{report:#}");
    assert_eq!(snapshots_of(&fixture, &fixture.db).await.len(), 13);
    assert!(e2e::resource_metrics(&report, "SnapshotsDeleted").is_empty());

    // 40 days on: the three oldest of ours go, the newest seven stay.
    let mut later = FunctionProcess::start_later(FUNCTION, &env(&fixture, &[]), 40).await;
    let report = later.invoke(&retention).await.1.response();
    assert_eq!(report["status"], "ok", "{report:#}");
    let left = snapshots_of(&fixture, &fixture.db).await;
    for (i, id) in ours.iter().enumerate() {
        assert_eq!(left.contains_key(id), i >= 3, "{id}: {left:#?}");
    }
    for id in &theirs {
        assert!(left.contains_key(id), "{id} was deleted");
    }
    assert_eq!(
        check(&report, "deleted")["detail"],
        "3 deleted, 0 not deleted"
    );
    assert_eq!(
        e2e::resource_metrics(&report, "SnapshotsDeleted"),
        [(format!("db-instance:{}", fixture.db), 3.0)].into()
    );

    // Two years on, when snapshots stopped being taken long ago: still the newest seven.
    let mut much_later = FunctionProcess::start_later(FUNCTION, &env(&fixture, &[]), 730).await;
    let report = much_later.invoke(&retention).await.1.response();
    assert_eq!(report["status"], "ok", "{report:#}");
    assert_eq!(snapshots_of(&fixture, &fixture.db).await.len(), 10);
    let kept = check(&report, &format!("retention {}", fixture.db));
    assert!(kept["data"]["kept"]
        .to_string()
        .contains("one of the newest 7 of ours"));
}

#[tokio::test]
async fn a_retention_dry_run_and_an_exceeded_cap_delete_nothing() {
    let fixture = Fixture::new().await;
    retention_fixture(&fixture).await;
    let mut later = FunctionProcess::start_later(FUNCTION, &env(&fixture, &[]), 40).await;
    let plan = later
        .invoke(&json!({"action": "retention", "targets": [{"db_instance": fixture.db}]}))
        .await
        .1
        .response();
    assert_eq!(plan["status"], "dry-run", "{plan:#}");
    let planned = &check(&plan, &format!("retention {}", fixture.db))["data"]["delete"];
    assert_eq!(planned.as_array().unwrap().len(), 3, "{plan:#}");
    let capped = later
        .invoke(&json!({"action": "retention", "dry_run": false, "max_deletes": 2, "targets": [{"db_instance": fixture.db}]}))
        .await
        .1
        .response();
    assert_eq!(capped["status"], "failed", "{capped:#}");
    assert!(check(&capped, "retention")["detail"]
        .as_str()
        .unwrap()
        .contains("more than the cap of 2"));
    assert_eq!(snapshots_of(&fixture, &fixture.db).await.len(), 13);
}

#[tokio::test]
async fn completion_events_in_both_shapes_report_our_snapshots_and_ignore_others() {
    let fixture = Fixture::new().await;
    fixture.create_cluster().await;
    let mut function = FunctionProcess::start(FUNCTION, &env(&fixture, &[])).await;
    let made = function
        .invoke(&json!({"db_instance": fixture.db, "reason": "deploy 77", "change_id": "chg-4711"}))
        .await
        .1
        .response();
    assert_eq!(
        made["result"]["snapshot_id"],
        format!("{}-rr-chg-4711", fixture.db)
    );

    // EventBridge, RDS-EVENT-0042 for the snapshot just made.
    let mut event = fixture.event("rds-snapshot-created.eventbridge.json");
    event["time"] = json!(chrono::Utc::now().to_rfc3339());
    event["detail"]["Date"] = json!(chrono::Utc::now().to_rfc3339());
    let report = function.invoke(&event).await.1.response();
    assert_eq!(report["status"], "ok", "{report:#}");
    let c = check(&report, "snapshot");
    assert!(
        c["detail"].as_str().unwrap().contains("available: 20 GiB"),
        "{c:#}"
    );
    assert_eq!(c["data"]["reason"], "deploy 77");
    assert_eq!(c["data"]["change_id"], "chg-4711");

    // SNS, RDS-EVENT-0075 for a scheduled cluster snapshot.
    tag(
        &fixture,
        "cluster",
        &fixture.cluster,
        &[(&opt_in(&fixture), "true")],
    )
    .await;
    function
        .invoke(&scheduled_run(&fixture, &[], json!({"retention": false})))
        .await;
    let report = function
        .invoke(&fixture.event("rds-cluster-snapshot-created.sns.json"))
        .await
        .1
        .response();
    assert_eq!(report["status"], "ok", "{report:#}");
    assert!(check(&report, "snapshot")["detail"]
        .as_str()
        .unwrap()
        .contains("schedule:rds-responder-snapshots"));

    // Automated snapshots are acknowledged; snapshots we did not make are ignored.
    let automated = function
        .invoke(&fixture.event("rds-automated-snapshot-created.eventbridge.json"))
        .await
        .1
        .response();
    assert_eq!(automated["status"], "skipped");
    assert!(automated["summary"]
        .as_str()
        .unwrap()
        .contains("acknowledged"));
    let foreign = format!("{}-hand-made", fixture.db);
    manual_snapshot(&fixture, &fixture.db, &foreign, &[]).await;
    let mut event = fixture.event("rds-snapshot-created.eventbridge.json");
    let text = event
        .to_string()
        .replace(&format!("{}-rr-chg-4711", fixture.db), &foreign);
    event = serde_json::from_str(&text).unwrap();
    let ignored = function.invoke(&event).await.1.response();
    assert_eq!(ignored["status"], "skipped", "{ignored:#}");
    assert!(ignored["summary"]
        .as_str()
        .unwrap()
        .contains("not made by rds-responder"));
}

#[tokio::test]
async fn a_payload_naming_a_key_twice_is_refused_before_anything_happens() {
    let fixture = Fixture::new().await;
    retention_fixture(&fixture).await;
    let mut later = FunctionProcess::start_later(FUNCTION, &env(&fixture, &[]), 40).await;
    let payload = format!(
        r#"{{"action": "retention", "dry_run": true, "targets": [{{"db_instance": "{}"}}], "dry_run": false}}"#,
        fixture.db
    );
    let (error_type, message) = later.invoke_raw(payload.into_bytes()).await.1.error();
    assert_eq!(error_type, "MalformedEvent", "{message}");
    assert!(message.contains("appears twice"), "{message}");
    assert_eq!(snapshots_of(&fixture, &fixture.db).await.len(), 13);
}
