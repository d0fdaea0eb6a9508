//! restore-drill end to end: the real binary under the Runtime API against moto (instances,
//! snapshots, restores, deletes, the ledger table) and real PostgreSQL: the source is a
//! database on the stack's primary, its restore a second server made from the primary's data by
//! pg_basebackup, so the data checks read real restored data.

use std::time::Duration;

use aws_sdk_rds::types::Tag;
use chrono::Utc;
use e2e::db::{pg_admin, RestoredPg};
use e2e::{check, Fixture, FunctionProcess};
use serde_json::{json, Value};

const FUNCTION: &str = "restore-drill";
const TAG: &str = "rds-responder:restore-drill";

async fn tag(fixture: &Fixture, db: &str, value: &str) {
    fixture
        .aws
        .rds
        .add_tags_to_resource()
        .resource_name(format!("arn:aws:rds:us-east-1:123456789012:db:{db}"))
        .tags(Tag::builder().key(TAG).value(value).build())
        .send()
        .await
        .expect("tag");
}

async fn snapshot(fixture: &Fixture, db: &str, id: &str) {
    fixture
        .aws
        .rds
        .create_db_snapshot()
        .db_instance_identifier(db)
        .db_snapshot_identifier(id)
        .send()
        .await
        .expect("snapshot");
}

async fn instance_ids(fixture: &Fixture) -> Vec<String> {
    fixture
        .aws
        .rds
        .describe_db_instances()
        .send()
        .await
        .expect("describe")
        .db_instances()
        .iter()
        .filter_map(|d| d.db_instance_identifier().map(str::to_string))
        .collect()
}

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
    let lag = docs
        .iter()
        .find(|d| d["Resource"] == format!("db-instance:{db}"))
        .unwrap_or_else(|| panic!("no lag metric in {docs:#?}"));
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
    let published = fixture.published(2, Duration::from_secs(10)).await;
    assert_eq!(published.len(), 2);
}

/// A source database on the primary with an `orders` table, readable by the function's role.
async fn source_data(fixture: &Fixture, rows: i64) -> String {
    let admin = pg_admin(&fixture.stack).await;
    let database = format!("drill_{}", fixture.suffix);
    admin
        .batch_execute(&format!("CREATE DATABASE {database}"))
        .await
        .expect("create database");
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(&fixture.stack.pg_socket_dir)
        .port(fixture.stack.pg_port)
        .user("postgres")
        .dbname(&database);
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "CREATE TABLE orders (id bigint PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now());
             INSERT INTO orders (id) SELECT g FROM generate_series(1, {rows}) g;
             CREATE TABLE audit_log (id bigint);
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO {user};",
            user = fixture.stack.pg_user
        ))
        .await
        .expect("source data");
    database
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
    tag(&fixture, &db, "drill").await;
    snapshot(&fixture, &db, &format!("{db}-nightly")).await;
    let database = source_data(&fixture, 40).await;
    let restored = RestoredPg::from_primary(&fixture.stack);
    let now = Utc::now();
    let scratch = |t: chrono::DateTime<Utc>| format!("{db}-rr-drill-{}", t.format("%Y%m%d%H%M"));
    let overrides = format!(
        "{db}=localhost:{pg},{a}=localhost:{r},{b}=localhost:{r}",
        pg = fixture.stack.pg_port,
        a = scratch(now),
        b = scratch(now + chrono::Duration::minutes(1)),
        r = restored.port
    );
    let env = fixture.function_env(&[
        ("DB_ENDPOINT_OVERRIDES", &overrides),
        ("DB_NAME", &database),
        ("DRILL_CHECKS", &checks.to_string()),
    ]);
    Drill {
        fixture,
        restored,
        database,
        env,
    }
}

fn restored_event(scratch: &str) -> Value {
    json!({
        "version": "0", "id": format!("ev-{scratch}"), "detail-type": "RDS DB Instance Event",
        "source": "aws.rds", "account": "123456789012", "time": Utc::now().to_rfc3339(),
        "region": "us-east-1",
        "resources": [format!("arn:aws:rds:us-east-1:123456789012:db:{scratch}")],
        "detail": {"EventCategories": ["restoration"], "SourceType": "DB_INSTANCE",
            "SourceArn": format!("arn:aws:rds:us-east-1:123456789012:db:{scratch}"),
            "Date": Utc::now().to_rfc3339(), "Message": "Restored from snapshot",
            "SourceIdentifier": scratch, "EventID": "RDS-EVENT-0043"}
    })
}

fn orders_checks() -> Value {
    json!({"*": {"tables": ["public.orders", "public.audit_log"],
        "sql": {"orders exist": "SELECT count(*) > 0 FROM orders"},
        "newest": "public.orders.created_at"}})
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
    assert_eq!(report["result"]["drill"]["outcome"], "passed");
    let left = check(&report, &format!("scratch {lookalike}"));
    assert_eq!(left["outcome"], "warn");
    assert!(left["detail"].as_str().unwrap().contains("never deleted"));
    let ids = instance_ids(fixture).await;
    assert!(!ids.contains(&scratch));
    assert!(ids.contains(&lookalike));
    assert!(ids.contains(&fixture.db), "the source is never touched");
}
