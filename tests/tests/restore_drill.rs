//! restore-drill end to end: the real binary under the Runtime API against moto (instances,
//! snapshots, restores, deletes, the ledger table) and real PostgreSQL: the source is a
//! database on the stack's primary, its restore a second server made from the primary's data by
//! pg_basebackup, so the data checks read real restored data.

use std::time::Duration;

use chrono::Utc;
use e2e::db::RestoredPg;
use e2e::drill::{
    instance_ids, orders_checks, restored_event, snapshot, tag, DrillSource, FUNCTION,
    SHARED_ACCOUNT_CAP,
};
use e2e::{check, Fixture, FunctionProcess};
use serde_json::{json, Value};

fn audit_entry<'a>(report: &'a Value, resource: &str) -> &'a Value {
    report["result"]["audit"]
        .as_array()
        .expect("audit result")
        .iter()
        .find(|e| e["resource"] == resource)
        .unwrap_or_else(|| panic!("{resource} not audited: {report:#}"))
}

#[tokio::test]
async fn the_audit_grades_recovery_points_and_names_the_causes() {
    let fixture = Fixture::new().await;
    let db = fixture.db.clone();
    tag(&fixture, &db, "audit").await;
    snapshot(&fixture, &db, &format!("{db}-fresh")).await;
    // Enrolled for drills: audited too.
    let bare = format!("bare-{}", fixture.suffix);
    fixture.create_instance(&bare, "postgres").await;
    tag(&fixture, &bare, "drill").await;
    // Not tagged: not audited.
    let untagged = format!("untagged-{}", fixture.suffix);
    fixture.create_instance(&untagged, "postgres").await;

    let env = fixture.function_env(&[]);
    let mut f = FunctionProcess::start(FUNCTION, &env).await;
    let (_, invoked) = f.invoke(&json!({"task": "audit"})).await;
    let report = invoked.response();
    let ok = audit_entry(&report, &format!("db-instance:{db}"));
    assert_eq!(ok["status"], "ok", "{report:#}");
    // moto takes an automated snapshot at creation, as RDS does: audited, and current.
    assert_eq!(
        audit_entry(&report, &format!("db-instance:{bare}"))["status"],
        "ok"
    );
    assert!(!report["result"]["audit"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["resource"] == format!("db-instance:{untagged}")));
    // The lag is a metric per resource, dimensioned by function and resource.
    let docs = f.metric_documents(&fixture.namespace);
    let of_db = |docs: &[Value], name: &str| -> Value {
        docs.iter()
            .find(|d| d["Resource"] == format!("db-instance:{db}") && d.get(name).is_some())
            .cloned()
            .unwrap_or_else(|| panic!("no {name} metric in {docs:#?}"))
    };
    let lag = of_db(&docs, "RecoveryPointLagSeconds");
    // What the RPO alarm reads: 0 while the recovery point is within its target.
    assert_eq!(of_db(&docs, "RpoBreached")["RpoBreached"], json!(0.0));
    assert!(
        lag["RecoveryPointLagSeconds"].as_f64().unwrap() < 60.0,
        "{lag}"
    );
    assert_eq!(
        lag["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0],
        json!(["Function", "Resource"])
    );

    // Two days on (moto's restorable time stays now): the lag breaches, the snapshot is stale.
    let mut later = FunctionProcess::start_later(FUNCTION, &env, 2).await;
    let (_, invoked) = later
        .invoke(&json!({"task": "audit", "request_id": "two-days-on"}))
        .await;
    let report = invoked.response();
    let late = audit_entry(&report, &format!("db-instance:{db}"));
    assert_eq!(late["status"], "breached", "{report:#}");
    assert!(late["lag_seconds"].as_i64().unwrap() >= 2 * 86_400 - 60);
    assert!(late["causes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["cause"] == "stale-snapshot"));
    assert_eq!(report["status"], "failed");
    let docs = later.metric_documents(&fixture.namespace);
    assert_eq!(of_db(&docs, "RpoBreached")["RpoBreached"], json!(1.0));
    let published = fixture.published(2, Duration::from_secs(10)).await;
    assert_eq!(published.len(), 2);
}

fn causes(entry: &Value) -> Vec<String> {
    entry["causes"]
        .as_array()
        .expect("causes")
        .iter()
        .filter_map(|c| c["cause"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn the_audit_names_backups_disabled_a_stopped_instance_and_a_lag_past_half_the_target() {
    let fixture = Fixture::new().await;
    let db = fixture.db.clone();
    tag(&fixture, &db, "audit").await;
    snapshot(&fixture, &db, &format!("{db}-fresh")).await;
    // Backups turned off (retention 0), with a fresh snapshot: nothing new will be taken.
    let off = format!("off-{}", fixture.suffix);
    fixture.create_instance(&off, "postgres").await;
    tag(&fixture, &off, "audit").await;
    snapshot(&fixture, &off, &format!("{off}-fresh")).await;
    fixture
        .aws
        .rds
        .modify_db_instance()
        .db_instance_identifier(&off)
        .backup_retention_period(0)
        .apply_immediately(true)
        .send()
        .await
        .expect("turn backups off");
    // Stopped: a stopped instance takes no backups.
    let stopped = format!("stopped-{}", fixture.suffix);
    fixture.create_instance(&stopped, "postgres").await;
    tag(&fixture, &stopped, "audit").await;
    fixture
        .aws
        .rds
        .stop_db_instance()
        .db_instance_identifier(&stopped)
        .send()
        .await
        .expect("stop it");

    let env = fixture.function_env(&[]);
    let mut f = FunctionProcess::start(FUNCTION, &env).await;
    let (_, invoked) = f.invoke(&json!({"task": "audit"})).await;
    let report = invoked.response();
    assert_eq!(
        audit_entry(&report, &format!("db-instance:{db}"))["status"],
        "ok"
    );
    let current = audit_entry(&report, &format!("db-instance:{db}"));
    // RDS's default retention when none is asked for: one day.
    assert_eq!(current["retention_days"], 1, "{report:#}");
    assert!(
        current["newest_snapshots"]["manual_age_seconds"]
            .as_i64()
            .unwrap()
            < 300
    );
    let disabled = audit_entry(&report, &format!("db-instance:{off}"));
    assert_eq!(disabled["retention_days"], 0, "{report:#}");
    assert_eq!(disabled["status"], "at-risk", "{report:#}");
    assert_eq!(causes(disabled), ["backups-disabled"], "{report:#}");
    let halted = audit_entry(&report, &format!("db-instance:{stopped}"));
    assert_ne!(halted["status"], "ok", "{report:#}");
    assert!(
        causes(halted).contains(&"not-available".to_string()),
        "{report:#}"
    );
    assert!(
        check(&report, &format!("rpo db-instance:{stopped}"))["detail"]
            .as_str()
            .unwrap()
            .contains("stopped"),
        "{report:#}"
    );

    // RDS-EVENT-0028 for the instance: an audit of it alone, the event named as a cause.
    let (_, invoked) = f
        .invoke(&fixture.event("rds-instance-backups-disabled.eventbridge.json"))
        .await;
    let one = invoked.response();
    let audited = one["result"]["audit"].as_array().expect("audit result");
    assert_eq!(audited.len(), 1, "{one:#}");
    assert_eq!(audited[0]["resource"], format!("db-instance:{db}"));
    assert!(
        causes(&audited[0]).contains(&"backups-disabled-event".to_string()),
        "{one:#}"
    );

    // Ten minutes on (moto's restorable time stays now): past half the 15-minute target.
    let mut later =
        FunctionProcess::start_shifted(FUNCTION, &env, chrono::Duration::minutes(10)).await;
    let (_, invoked) = later
        .invoke(&json!({"task": "audit", "request_id": "ten-minutes-on"}))
        .await;
    let report = invoked.response();
    let behind = audit_entry(&report, &format!("db-instance:{db}"));
    assert_eq!(behind["status"], "at-risk", "{report:#}");
    assert!(
        behind["lag_seconds"].as_i64().unwrap() >= 600 - 60,
        "{behind}"
    );
    assert!(causes(behind).is_empty(), "{report:#}");
}

struct Drill {
    fixture: Fixture,
    restored: RestoredPg,
    database: String,
    env: Vec<(String, String)>,
}

/// The fixture's instance tagged for drills with a snapshot, its data on the primary, a
/// restore of that data on a second server, and the environment that maps the source to the
/// primary and the drill's scratch instance (named for this minute or the next) to the restore.
async fn drill_scene(checks: Value) -> Drill {
    let fixture = Fixture::new().await;
    let db = fixture.db.clone();
    let source = DrillSource::prepare(&fixture, &db, 40).await;
    let now = Utc::now();
    let scratch = |t: chrono::DateTime<Utc>| format!("{db}-rr-drill-{}", t.format("%Y%m%d%H%M"));
    let env = source.env(
        &fixture,
        &[scratch(now), scratch(now + chrono::Duration::minutes(1))],
        &checks,
    );
    Drill {
        fixture,
        restored: source.restored,
        database: source.database,
        env,
    }
}

async fn start(f: &mut FunctionProcess, db: &str) -> (Value, String) {
    let (_, invoked) = f
        .invoke(&json!({"task": "drill", "db_instance": db, "dry_run": false}))
        .await;
    let report = invoked.response();
    let started = check(&report, &format!("drill {db}"));
    assert_eq!(started["outcome"], "pass", "{report:#}");
    let scratch = started["data"]["drill"]
        .as_str()
        .expect("drill id")
        .to_string();
    (report, scratch)
}

#[tokio::test]
async fn a_drill_restores_checks_real_data_and_deletes_its_scratch() {
    let scene = drill_scene(orders_checks()).await;
    let fixture = &scene.fixture;
    let db = fixture.db.clone();
    let mut f = FunctionProcess::start(FUNCTION, &scene.env).await;
    let (_, scratch) = start(&mut f, &db).await;
    assert!(instance_ids(fixture).await.contains(&scratch));
    // A second drill of the same database while this one is under way is refused.
    let (_, invoked) = f
        .invoke(
            &json!({"task": "drill", "db_instance": db, "dry_run": false, "request_id": "second"}),
        )
        .await;
    let second = invoked.response();
    let refused = check(&second, &format!("drill {db}"));
    assert_eq!(refused["outcome"], "skipped");
    assert!(
        refused["detail"].as_str().unwrap().contains("under way"),
        "{second:#}"
    );

    let (_, invoked) = f.invoke(&restored_event(&scratch)).await;
    let report = invoked.response();
    assert_eq!(report["status"], "ok", "{report:#}");
    for name in [
        "restore",
        "placement",
        "select 1",
        "schema",
        "rows public.orders",
        "rows public.audit_log",
        "sql orders exist",
        "observed rpo",
        "rto",
        "cleanup",
        "cost",
    ] {
        assert_eq!(
            check(&report, name)["outcome"],
            "pass",
            "{name}: {report:#}"
        );
    }
    // The empty table restored empty: not a failure.
    assert!(check(&report, "rows public.audit_log")["detail"]
        .as_str()
        .unwrap()
        .contains("empty"));
    assert_eq!(report["result"]["drill"]["outcome"], "passed");
    assert_eq!(report["result"]["drill"]["step"], "done");
    assert!(report["result"]["drill"]["rto_seconds"].as_i64().is_some());
    assert!(
        !instance_ids(fixture).await.contains(&scratch),
        "the scratch instance was deleted"
    );
    // The same event again: the ledger answers; nothing is checked or deleted twice.
    let (_, invoked) = f.invoke(&restored_event(&scratch)).await;
    let again = invoked.response();
    assert!(
        again["duplicate_of"].is_string() || again["status"] == "skipped",
        "{again:#}"
    );
    drop(scene.restored);
    let _ = scene.database;
}

#[tokio::test]
async fn a_mysql_drill_restores_checks_real_data_and_deletes_its_scratch() {
    let fixture = Fixture::new_mysql().await;
    let db = fixture.db.clone();
    tag(&fixture, &db, "drill").await;
    snapshot(&fixture, &db, &format!("{db}-nightly")).await;
    let database = e2e::drill::mysql_source_data(&fixture, 30).await;
    let restored = e2e::db::RestoredMy::from_primary(&fixture.stack, &database);
    let now = Utc::now();
    let scratch = |t: chrono::DateTime<Utc>| format!("{db}-rr-drill-{}", t.format("%Y%m%d%H%M"));
    let overrides = format!(
        "{}={a}=localhost:{r},{b}=localhost:{r}",
        fixture.mysql_override() + ",",
        a = scratch(now),
        b = scratch(now + chrono::Duration::minutes(1)),
        r = restored.port
    )
    .replacen(",=", ",", 1);
    let checks = e2e::drill::mysql_orders_checks(&database);
    let env = fixture.function_env(&[
        ("DB_ENDPOINT_OVERRIDES", &overrides),
        ("DB_NAME", &database),
        ("DRILL_CHECKS", &checks.to_string()),
        SHARED_ACCOUNT_CAP,
    ]);
    let mut f = FunctionProcess::start(FUNCTION, &env).await;
    let (_, scratch) = start(&mut f, &db).await;
    let (_, invoked) = f.invoke(&restored_event(&scratch)).await;
    let report = invoked.response();
    assert_eq!(report["status"], "ok", "{report:#}");
    let orders = format!("rows {database}.orders");
    let audit = format!("rows {database}.audit_log");
    for name in [
        "select 1",
        "schema",
        orders.as_str(),
        audit.as_str(),
        "sql orders exist",
        "observed rpo",
        "cleanup",
    ] {
        assert_eq!(
            check(&report, name)["outcome"],
            "pass",
            "{name}: {report:#}"
        );
    }
    assert!(check(&report, &orders)["detail"]
        .as_str()
        .unwrap()
        .contains("30"));
    assert!(!instance_ids(&fixture).await.contains(&scratch));

    // A second drill whose restore lost rows beyond the tolerance fails, naming the table.
    {
        use mysql_async::prelude::Queryable;
        let mut admin = restored.admin().await;
        admin
            .query_drop(format!("DELETE FROM `{database}`.orders WHERE id > 10"))
            .await
            .expect("lose rows in the restore");
    }
    let (_, invoked) = f
        .invoke(
            &json!({"task": "drill", "db_instance": db, "dry_run": false, "request_id": "again"}),
        )
        .await;
    let started = invoked.response();
    let second = check(&started, &format!("drill {db}"))["data"]["drill"]
        .as_str()
        .unwrap_or_else(|| panic!("{started:#}"))
        .to_string();
    let (_, invoked) = f.invoke(&restored_event(&second)).await;
    let failed = invoked.response();
    assert_eq!(failed["status"], "failed", "{failed:#}");
    assert_eq!(check(&failed, &orders)["outcome"], "fail", "{failed:#}");
    assert_eq!(check(&failed, "cleanup")["outcome"], "pass", "{failed:#}");
    drop(restored);
}

/// The stages of a report's RTO check, by name.
fn rto_stages(report: &Value) -> Vec<(String, i64)> {
    check(report, "rto")["data"]["stages"]
        .as_array()
        .expect("rto stages")
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().unwrap_or_default().to_string(),
                s["seconds"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_restore_reading_slowly_at_first_is_timed_again_until_its_reads_are_normal() {
    let scene = drill_scene(orders_checks()).await;
    let fixture = &scene.fixture;
    let mut f = FunctionProcess::start(FUNCTION, &scene.env).await;
    // Room for a re-read after the pause (the stop point is the deadline less its reserve).
    f.timeout = std::time::Duration::from_secs(60);
    let (_, scratch) = start(&mut f, &fixture.db).await;
    // A volume still loading, as a table read blocks: the first count waits 4 s.
    let restored_admin = scene.restored.admin(&fixture.stack, &scene.database).await;
    restored_admin
        .batch_execute("BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock in the restore");
    let release = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(4)).await;
        restored_admin
            .batch_execute("COMMIT")
            .await
            .expect("unlock");
    });
    let (_, invoked) = f.invoke(&restored_event(&scratch)).await;
    release.await.expect("released");
    let report = invoked.response();
    assert_eq!(report["status"], "ok", "{report:#}");
    let reads = check(&report, "reads");
    assert_eq!(reads["outcome"], "pass", "{report:#}");
    assert!(
        reads["detail"]
            .as_str()
            .unwrap()
            .contains("timed again 1 time,"),
        "{report:#}"
    );
    assert_eq!(check(&report, "rows public.orders")["outcome"], "pass");
    let stages = rto_stages(&report);
    let second = |name: &str| {
        stages
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| *s)
            .unwrap_or_else(|| panic!("no {name} stage: {report:#}"))
    };
    // Reads came to speed one pause (5 s) after the first query, and that is the RTO.
    assert!(
        second("reads normal") >= second("first query") + 5,
        "{stages:?}"
    );
    assert_eq!(stages.last().map(|(n, _)| n.as_str()), Some("reads normal"));
    assert_eq!(
        report["result"]["drill"]["rto_seconds"].as_i64(),
        Some(second("reads normal"))
    );
    let rto = check(&report, "rto")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(rto.contains("to reads at the source's speed"), "{rto}");
    assert!(!instance_ids(fixture).await.contains(&scratch));
}

#[tokio::test]
async fn a_restore_missing_a_table_fails_its_drill_and_still_cleans_up() {
    let scene = drill_scene(orders_checks()).await;
    let fixture = &scene.fixture;
    let restored_admin = scene.restored.admin(&fixture.stack, &scene.database).await;
    restored_admin
        .batch_execute("DROP TABLE orders")
        .await
        .expect("drop in the restore");
    let mut f = FunctionProcess::start(FUNCTION, &scene.env).await;
    let (_, scratch) = start(&mut f, &fixture.db).await;
    let (_, invoked) = f.invoke(&restored_event(&scratch)).await;
    let report = invoked.response();
    assert_eq!(report["status"], "failed", "{report:#}");
    assert_eq!(check(&report, "schema")["outcome"], "fail");
    assert!(check(&report, "schema")["detail"]
        .as_str()
        .unwrap()
        .contains("orders"));
    assert_eq!(check(&report, "rows public.orders")["outcome"], "fail");
    assert_eq!(check(&report, "sql orders exist")["outcome"], "fail");
    assert_eq!(check(&report, "cleanup")["outcome"], "pass");
    assert_eq!(report["result"]["drill"]["outcome"], "failed");
    assert!(!instance_ids(fixture).await.contains(&scratch));
}

#[tokio::test]
async fn the_sweep_checks_a_drill_whose_event_was_lost_and_never_deletes_an_untagged_instance() {
    let scene = drill_scene(json!({"*": {"tables": ["public.orders"]}})).await;
    let fixture = &scene.fixture;
    // Named like a scratch instance, without the drill tag: never touched.
    let lookalike = format!("look-{}-rr-drill-202601010000", fixture.suffix);
    fixture.create_instance(&lookalike, "postgres").await;
    let mut f = FunctionProcess::start(FUNCTION, &scene.env).await;
    let (_, scratch) = start(&mut f, &fixture.db).await;
    // A sweep by hand is a dry run unless told.
    let (_, invoked) = f.invoke(&json!({"task": "sweep"})).await;
    let plan = invoked.response();
    assert_eq!(
        plan["status"], "degraded",
        "the lookalike is a warning, the check planned: {plan:#}"
    );
    assert!(instance_ids(fixture).await.contains(&scratch));
    let (_, invoked) = f
        .invoke(&json!({"task": "sweep", "dry_run": false, "request_id": "sweep-1"}))
        .await;
    let report = invoked.response();
    assert_eq!(
        check(&report, "rows public.orders")["outcome"],
        "pass",
        "{report:#}"
    );
    assert_eq!(check(&report, "cleanup")["outcome"], "pass");
    assert_eq!(report["result"]["drills"][0]["drill"]["outcome"], "passed");
    let left = check(&report, &format!("scratch {lookalike}"));
    assert_eq!(left["outcome"], "warn");
    assert!(left["detail"].as_str().unwrap().contains("never deleted"));
    let ids = instance_ids(fixture).await;
    assert!(!ids.contains(&scratch));
    assert!(ids.contains(&lookalike));
    assert!(ids.contains(&fixture.db), "the source is never touched");
}

// ---- Aurora: the cluster, then its one instance ----

fn cluster_event(event_id: &str, kind: &str, id: &str) -> Value {
    let (detail_type, source_type, arn) = match kind {
        "cluster" => (
            "RDS DB Cluster Event",
            "CLUSTER",
            format!("arn:aws:rds:us-east-1:123456789012:cluster:{id}"),
        ),
        _ => (
            "RDS DB Instance Event",
            "DB_INSTANCE",
            format!("arn:aws:rds:us-east-1:123456789012:db:{id}"),
        ),
    };
    json!({
        "version": "0", "id": format!("ev-{event_id}-{id}"), "detail-type": detail_type,
        "source": "aws.rds", "account": "123456789012", "time": Utc::now().to_rfc3339(),
        "region": "us-east-1", "resources": [arn],
        "detail": {"EventCategories": ["creation"], "SourceType": source_type, "SourceArn": arn,
            "Date": Utc::now().to_rfc3339(), "Message": "created", "SourceIdentifier": id,
            "EventID": event_id}
    })
}

async fn cluster_ids(fixture: &Fixture) -> Vec<String> {
    fixture
        .aws
        .rds
        .describe_db_clusters()
        .send()
        .await
        .expect("describe clusters")
        .db_clusters()
        .iter()
        .filter_map(|c| c.db_cluster_identifier().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn an_aurora_drill_restores_the_cluster_adds_one_instance_checks_it_and_deletes_both() {
    let fixture = Fixture::new().await;
    fixture.create_cluster().await;
    let cluster = fixture.cluster.clone();
    fixture
        .aws
        .rds
        .add_tags_to_resource()
        .resource_name(format!(
            "arn:aws:rds:us-east-1:123456789012:cluster:{cluster}"
        ))
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key(e2e::drill::TAG)
                .value("drill")
                .build(),
        )
        .send()
        .await
        .expect("tag the cluster");
    fixture
        .aws
        .rds
        .create_db_cluster_snapshot()
        .db_cluster_identifier(&cluster)
        .db_cluster_snapshot_identifier(format!("{cluster}-nightly"))
        .send()
        .await
        .expect("cluster snapshot");
    // The writer runs a tuned parameter group: the drill's instance must get it, not the default.
    let tuned = format!("{cluster}-tuned");
    fixture
        .aws
        .rds
        .create_db_parameter_group()
        .db_parameter_group_name(&tuned)
        .db_parameter_group_family("aurora-postgresql15")
        .description("the writer's")
        .send()
        .await
        .expect("parameter group");
    fixture
        .aws
        .rds
        .modify_db_instance()
        .db_instance_identifier(format!("{cluster}-1"))
        .db_parameter_group_name(&tuned)
        .apply_immediately(true)
        .send()
        .await
        .expect("tune the writer");
    let database = e2e::drill::source_data(&fixture, 25).await;
    let restored = RestoredPg::from_primary(&fixture.stack);
    let now = Utc::now();
    let scratch =
        |t: chrono::DateTime<Utc>| format!("{cluster}-rr-drill-{}", t.format("%Y%m%d%H%M"));
    let overrides = format!(
        "{cluster}=localhost:{pg},{a}=localhost:{r},{b}=localhost:{r}",
        pg = fixture.stack.pg_port,
        a = scratch(now),
        b = scratch(now + chrono::Duration::minutes(1)),
        r = restored.port
    );
    let env = fixture.function_env(&[
        ("DB_ENDPOINT_OVERRIDES", &overrides),
        ("DB_NAME", &database),
        ("DRILL_CHECKS", &orders_checks().to_string()),
        SHARED_ACCOUNT_CAP,
    ]);
    let mut f = FunctionProcess::start(FUNCTION, &env).await;
    // A member of the cluster is not drilled on its own.
    let (_, invoked) = f
        .invoke(&json!({"task": "drill", "db_instance": format!("{cluster}-1"), "dry_run": false}))
        .await;
    let member = invoked.response();
    assert!(
        check(&member, &format!("drill {cluster}-1"))["detail"]
            .as_str()
            .unwrap()
            .contains("drill the cluster"),
        "{member:#}"
    );
    let (_, invoked) = f
        .invoke(&json!({"task": "drill", "db_cluster": cluster, "dry_run": false, "request_id": "start"}))
        .await;
    let report = invoked.response();
    let started = check(&report, &format!("drill {cluster}"));
    assert_eq!(started["outcome"], "pass", "{report:#}");
    assert!(
        started["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("snapshot {cluster}-nightly")),
        "{report:#}"
    );
    let scratch = started["data"]["drill"].as_str().unwrap().to_string();
    assert!(cluster_ids(&fixture).await.contains(&scratch));
    assert!(
        !instance_ids(&fixture).await.contains(&scratch),
        "RDS restores a cluster without instances"
    );

    // RDS-EVENT-0170: the cluster is there; its instance is created.
    let (_, invoked) = f
        .invoke(&cluster_event("RDS-EVENT-0170", "cluster", &scratch))
        .await;
    let added = invoked.response();
    assert_eq!(added["status"], "ok", "{added:#}");
    assert!(instance_ids(&fixture).await.contains(&scratch));
    assert!(
        check(&added, &format!("drill {scratch}"))["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("parameter group {tuned} (the source writer's)")),
        "{added:#}"
    );
    let groups: Vec<String> = fixture
        .aws
        .rds
        .describe_db_instances()
        .db_instance_identifier(&scratch)
        .send()
        .await
        .expect("describe the drill's instance")
        .db_instances()
        .iter()
        .flat_map(|i| i.db_parameter_groups())
        .filter_map(|g| g.db_parameter_group_name().map(str::to_string))
        .collect();
    assert_eq!(
        groups,
        std::slice::from_ref(&tuned),
        "the writer's parameter group"
    );
    // The same event again (a duplicate delivery): the instance is not created twice.
    let (_, invoked) = f
        .invoke(&cluster_event("RDS-EVENT-0170", "cluster", &scratch))
        .await;
    let again = invoked.response();
    assert!(
        again["duplicate_of"].is_string() || again["status"] == "skipped",
        "{again:#}"
    );

    // RDS-EVENT-0005: the instance is there: check, then delete the instance and the cluster.
    let (_, invoked) = f
        .invoke(&cluster_event("RDS-EVENT-0005", "instance", &scratch))
        .await;
    let report = invoked.response();
    assert_eq!(report["status"], "ok", "{report:#}");
    for name in [
        "restore",
        "placement",
        "select 1",
        "rows public.orders",
        "rto",
        "cleanup",
    ] {
        assert_eq!(
            check(&report, name)["outcome"],
            "pass",
            "{name}: {report:#}"
        );
    }
    let stages: Vec<&str> = check(&report, "rto")["data"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["stage"].as_str())
        .collect();
    assert_eq!(
        &stages[..3],
        ["cluster available", "instance available", "first query"]
    );
    assert_eq!(
        report["result"]["drill"]["source"],
        format!("db-cluster:{cluster}")
    );
    assert_eq!(report["result"]["drill"]["step"], "done");
    assert!(!instance_ids(&fixture).await.contains(&scratch));
    let clusters = cluster_ids(&fixture).await;
    assert!(
        !clusters.contains(&scratch),
        "the scratch cluster is deleted"
    );
    assert!(clusters.contains(&cluster), "the source is never touched");
    drop(restored);
}

// ---- DynamoDB: a scratch table, item counts, what a restore drops ----

#[tokio::test]
async fn a_table_drill_restores_a_backup_counts_items_names_dropped_settings_and_deletes_it() {
    use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveSpecification};
    let fixture = Fixture::new().await;
    let table = format!("orders-{}", fixture.suffix);
    fixture.create_table(&table, None).await;
    let dynamodb = &fixture.aws.dynamodb;
    for n in 0..30 {
        dynamodb
            .put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S(format!("order-{n}")))
            .send()
            .await
            .expect("put item");
    }
    dynamodb
        .update_time_to_live()
        .table_name(&table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("ttl");
    dynamodb
        .create_backup()
        .table_name(&table)
        .backup_name("nightly")
        .send()
        .await
        .expect("backup");
    let env = fixture.function_env(&[("DRILL_TABLES", &table), SHARED_ACCOUNT_CAP]);
    let mut f = FunctionProcess::start(FUNCTION, &env).await;
    let (_, invoked) = f
        .invoke(&json!({"task": "drill", "table": table, "dry_run": false}))
        .await;
    let report = invoked.response();
    let started = check(&report, &format!("drill {table}"));
    assert_eq!(started["outcome"], "pass", "{report:#}");
    assert!(started["detail"]
        .as_str()
        .unwrap()
        .contains("backup nightly"));
    let scratch = started["data"]["drill"].as_str().unwrap().to_string();
    let arn = dynamodb
        .describe_table()
        .table_name(&scratch)
        .send()
        .await
        .expect("the scratch table")
        .table()
        .and_then(|t| t.table_arn().map(str::to_string))
        .unwrap();
    let tags = dynamodb
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = tags.tags().iter().map(|t| t.key()).collect();
    assert!(
        keys.contains(&"rds-responder:drill") && keys.contains(&"rds-responder:drill-expires"),
        "{keys:?}"
    );
    // Its deployment: this stack's ledger table.
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == "rds-responder:drill-owner" && t.value() == fixture.table),
        "{keys:?}"
    );
    // A table that is not in DRILL_TABLES is never drilled.
    let (_, invoked) = f
        .invoke(&json!({"task": "drill", "table": format!("other-{}", fixture.suffix), "dry_run": false}))
        .await;
    let other = invoked.response();
    assert!(
        check(&other, &format!("drill other-{}", fixture.suffix))["detail"]
            .as_str()
            .unwrap()
            .contains("DRILL_TABLES"),
        "{other:#}"
    );

    // DynamoDB sends no event: the sweep checks it once ACTIVE.
    let (_, invoked) = f
        .invoke(&json!({"task": "sweep", "dry_run": false, "request_id": "sweep-tables"}))
        .await;
    let report = invoked.response();
    let items = check(&report, "items");
    assert_eq!(items["outcome"], "pass", "{report:#}");
    assert!(items["detail"]
        .as_str()
        .unwrap()
        .contains("30 items restored, 30 in the source"));
    let settings = check(&report, "settings");
    assert_eq!(settings["outcome"], "warn");
    assert!(
        settings["detail"]
            .as_str()
            .unwrap()
            .contains("TTL on expires_at"),
        "{report:#}"
    );
    assert_eq!(check(&report, "cleanup")["outcome"], "pass");
    assert_eq!(
        report["result"]["drills"][0]["drill"]["source"],
        format!("table:{table}")
    );
    let tables = dynamodb.list_tables().send().await.unwrap();
    assert!(
        !tables.table_names().contains(&scratch),
        "the scratch table is deleted"
    );
    assert!(
        tables.table_names().contains(&table),
        "the source is never touched"
    );
}

// ---- faults: a step that fails midway, a drill past its deadline, duplicate events ----

#[tokio::test]
async fn a_cleanup_that_fails_midway_is_finished_by_the_sweep() {
    let scene = drill_scene(json!({"*": {"tables": ["public.orders"]}})).await;
    let fixture = &scene.fixture;
    let proxy = e2e::faults::FaultProxy::start(&fixture.stack.moto_endpoint).await;
    let mut env = scene.env.clone();
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL".into(), proxy.endpoint()));
    let mut f = FunctionProcess::start(FUNCTION, &env).await;
    let (_, scratch) = start(&mut f, &fixture.db).await;
    proxy.inject("RDS.DeleteDBInstance", e2e::faults::Fault::Refuse, None);
    let (_, invoked) = f.invoke(&restored_event(&scratch)).await;
    let report = invoked.response();
    assert_eq!(report["status"], "failed", "{report:#}");
    let cleanup = check(&report, "cleanup");
    assert_eq!(cleanup["outcome"], "fail");
    assert!(cleanup["detail"].as_str().unwrap().contains("costs money"));
    // The checks ran and passed: the failure is the cleanup's alone, and it is still there.
    assert_eq!(check(&report, "rows public.orders")["outcome"], "pass");
    assert_eq!(report["result"]["drill"]["step"], "cleaning");
    assert!(instance_ids(fixture).await.contains(&scratch));
    // A second start is refused while its scratch is there.
    let (_, invoked) = f
        .invoke(&json!({"task": "drill", "db_instance": fixture.db, "dry_run": false, "request_id": "again"}))
        .await;
    let refused = invoked.response();
    assert_eq!(
        check(&refused, &format!("drill {}", fixture.db))["outcome"],
        "skipped",
        "{refused:#}"
    );
    // RDS deletes again: the sweep finishes the drill, once.
    proxy.clear();
    let (_, invoked) = f
        .invoke(&json!({"task": "sweep", "dry_run": false, "request_id": "sweep-after"}))
        .await;
    let swept = invoked.response();
    assert_eq!(check(&swept, "cleanup")["outcome"], "pass", "{swept:#}");
    assert!(!instance_ids(fixture).await.contains(&scratch));
    let (_, invoked) = f
        .invoke(&json!({"task": "sweep", "dry_run": false, "request_id": "sweep-empty"}))
        .await;
    let empty = invoked.response();
    assert!(
        empty["summary"]
            .as_str()
            .unwrap()
            .contains("no drill scratch copy"),
        "{empty:#}"
    );
    // The drill is over: a new one may start.
    let (_, invoked) = f
        .invoke(&json!({"task": "drill", "db_instance": fixture.db, "request_id": "plan"}))
        .await;
    let plan = invoked.response();
    assert_eq!(
        check(&plan, &format!("drill {}", fixture.db))["outcome"],
        "planned",
        "{plan:#}"
    );
}

#[tokio::test]
async fn a_drill_past_its_deadline_fails_and_its_scratch_is_deleted() {
    let scene = drill_scene(json!({})).await;
    let fixture = &scene.fixture;
    let mut f = FunctionProcess::start(FUNCTION, &scene.env).await;
    let (_, scratch) = start(&mut f, &fixture.db).await;
    // Another deployment's scratch copy in the same account, long expired: its sweep's, not ours.
    let theirs = format!("theirs-{}-rr-drill-202601010000", fixture.suffix);
    fixture.create_instance(&theirs, "postgres").await;
    for (key, value) in [
        ("rds-responder:drill", theirs.as_str()),
        ("rds-responder:drill-source", "db-instance:theirs"),
        ("rds-responder:drill-expires", "2026-01-01T03:00:00Z"),
        ("rds-responder:drill-owner", "ledger-of-another-stack"),
    ] {
        fixture
            .aws
            .rds
            .add_tags_to_resource()
            .resource_name(format!("arn:aws:rds:us-east-1:123456789012:db:{theirs}"))
            .tags(
                aws_sdk_rds::types::Tag::builder()
                    .key(key)
                    .value(value)
                    .build(),
            )
            .send()
            .await
            .expect("tag another deployment's copy");
    }
    // A day on (the deadline is 180 minutes), its event never came.
    let mut later = FunctionProcess::start_later(FUNCTION, &scene.env, 1).await;
    let (_, invoked) = later
        .invoke(&json!({"task": "sweep", "dry_run": false, "request_id": "late"}))
        .await;
    let report = invoked.response();
    assert_eq!(report["status"], "failed", "{report:#}");
    assert!(
        instance_ids(fixture).await.contains(&theirs),
        "another deployment's copy is never deleted"
    );
    assert!(
        !report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"].as_str().unwrap_or("").contains(&theirs)),
        "{report:#}"
    );
    assert!(
        report["summary"]
            .as_str()
            .unwrap()
            .contains("of other deployments left to them"),
        "{report:#}"
    );
    let late = check(&report, &format!("drill {scratch}"));
    assert_eq!(late["outcome"], "fail");
    assert!(late["detail"].as_str().unwrap().contains("deadline"));
    assert_eq!(check(&report, "cleanup")["outcome"], "pass");
    assert!(!instance_ids(fixture).await.contains(&scratch));
    assert!(instance_ids(fixture).await.contains(&fixture.db));
}

#[tokio::test]
async fn two_deliveries_of_the_restored_event_at_once_check_and_delete_once() {
    let scene = drill_scene(json!({"*": {"tables": ["public.orders"]}})).await;
    let fixture = &scene.fixture;
    let mut f = FunctionProcess::start(FUNCTION, &scene.env).await;
    let (_, scratch) = start(&mut f, &fixture.db).await;
    let mut g = FunctionProcess::start(FUNCTION, &scene.env).await;
    // Two events (EventBridge and the SNS subscription) with their own ids, at the same time.
    let mut first = restored_event(&scratch);
    first["id"] = json!("delivery-1");
    let mut second = restored_event(&scratch);
    second["id"] = json!("delivery-2");
    let (a, b) = tokio::join!(f.invoke(&first), g.invoke(&second));
    let reports = [a.1.response(), b.1.response()];
    // One run checks and deletes; the other answers with its report (the ledger knows the event
    // by its RDS identity, not the envelope's id) or finds the drill taken.
    let own: Vec<&Value> = reports
        .iter()
        .filter(|r| r["duplicate_of"].is_null())
        .collect();
    let checked = own
        .iter()
        .filter(|r| r["result"]["drill"]["outcome"] == "passed")
        .count();
    assert_eq!(checked, 1, "{reports:#?}");
    for other in own.iter().filter(|r| r["result"].is_null()) {
        assert_eq!(other["status"], "skipped", "{other:#}");
    }
    let deleted = own
        .iter()
        .filter(|r| {
            r["checks"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["name"] == "cleanup"))
        })
        .count();
    assert_eq!(deleted, 1, "{reports:#?}");
    assert!(!instance_ids(fixture).await.contains(&scratch));
}

#[tokio::test]
async fn a_drill_whose_copy_someone_deleted_is_reported_failed_by_the_next_start() {
    let scene = drill_scene(orders_checks()).await;
    let fixture = &scene.fixture;
    let mut f = FunctionProcess::start(FUNCTION, &scene.env).await;
    let (_, scratch) = start(&mut f, &fixture.db).await;
    // Someone deletes the scratch copy before its check: no event, no sweep ever sees it.
    fixture
        .aws
        .rds
        .delete_db_instance()
        .db_instance_identifier(&scratch)
        .skip_final_snapshot(true)
        .send()
        .await
        .expect("delete the copy by hand");
    // A day on, the next drill of that database reports the lost one and takes its place.
    let mut later = FunctionProcess::start_later(FUNCTION, &scene.env, 1).await;
    let (_, invoked) = later
        .invoke(&json!({"task": "drill", "db_instance": fixture.db, "dry_run": false, "request_id": "next-week"}))
        .await;
    let report = invoked.response();
    let lost = check(&report, &format!("drill {scratch}"));
    assert_eq!(lost["outcome"], "fail", "{report:#}");
    assert!(
        lost["detail"]
            .as_str()
            .unwrap()
            .contains("its copy is gone while it was restoring"),
        "{report:#}"
    );
    assert_eq!(report["status"], "failed", "{report:#}");
    let next = check(&report, &format!("drill {}", fixture.db));
    assert_eq!(next["outcome"], "pass", "{report:#}");
    let new_copy = next["data"]["drill"].as_str().unwrap().to_string();
    assert_ne!(new_copy, scratch);
    assert!(instance_ids(fixture).await.contains(&new_copy));
}
