//! `make demo`: plays scenes of every function through its real binary against the local stack
//! (failover-check, idle-reaper on PostgreSQL and MariaDB, snapshotter, storage-guard,
//! restore-drill against a real restored copy of a PostgreSQL database), printing each report and
//! what reached the SNS topic.

use std::time::Duration;

use e2e::backup_endpoint::{BackupEndpoint, SeededJob};
use e2e::drill::{self, DrillSource};
use e2e::{Fixture, FunctionProcess, Invoked, Stack};
use serde_json::{json, Value};

fn print_report(report: &Value) {
    println!(
        "  report: {} · {}",
        report["status"].as_str().unwrap_or("?").to_uppercase(),
        report["summary"].as_str().unwrap_or_default()
    );
    if let Some(earlier) = report["duplicate_of"].as_str() {
        println!("  (duplicate delivery: this is the report of {earlier}; nothing was done again)");
    }
    for check in report["checks"].as_array().into_iter().flatten() {
        println!(
            "    {:<8} {:<16} {}",
            check["outcome"].as_str().unwrap_or("?"),
            check["name"].as_str().unwrap_or("?"),
            check["detail"].as_str().unwrap_or_default()
        );
    }
}

/// Plays one event, prints the report and what SNS received; returns the report, if any.
async fn play(
    fixture: &Fixture,
    function: &mut FunctionProcess,
    title: &str,
    event: Value,
) -> Option<Value> {
    play_showing(fixture, function, title, event, |_| {}).await
}

/// [`play`], with `more` printing more of the report before what SNS received.
async fn play_showing(
    fixture: &Fixture,
    function: &mut FunctionProcess,
    title: &str,
    event: Value,
    more: impl FnOnce(&Value),
) -> Option<Value> {
    println!("\n== {title}");
    let report = match function.invoke(&event).await.1 {
        Invoked::Response(report) => {
            print_report(&report);
            more(&report);
            Some(report)
        }
        Invoked::Error {
            error_type,
            error_message,
        } => {
            println!("  refused: {error_type}: {error_message}");
            None
        }
    };
    let published = fixture.published(0, Duration::from_millis(300)).await;
    if published.is_empty() {
        println!("  SNS: nothing published");
    }
    for message in published {
        let attrs: Vec<String> = message["MessageAttributes"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k}={}", v["Value"].as_str().unwrap_or_default()))
            .collect();
        println!(
            "  SNS: {:?} [{}]",
            message["Subject"].as_str().unwrap_or_default(),
            attrs.join(", ")
        );
    }
    report
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let fixture = Fixture::new().await;
    fixture.create_cluster().await;
    fixture.put_connections(&fixture.db, 41.0).await;
    fixture.fail_over_cluster_to(2).await;
    println!(
        "local stack: moto at {}, PostgreSQL primary on {} (TLS), replica on {}",
        fixture.stack.moto_endpoint, fixture.stack.pg_port, fixture.stack.pg_replica_port
    );
    println!(
        "DB instance {} and Aurora cluster {} exist in moto",
        fixture.db, fixture.cluster
    );

    let mut function = FunctionProcess::start("failover-check", &fixture.function_env(&[])).await;
    play(
        &fixture,
        &mut function,
        "Multi-AZ failover started (RDS-EVENT-0013, EventBridge)",
        fixture.event("rds-instance-failover-started.eventbridge.json"),
    )
    .await;
    play(
        &fixture,
        &mut function,
        "Multi-AZ failover completed (RDS-EVENT-0049, EventBridge)",
        fixture.event("rds-instance-failover-completed.eventbridge.json"),
    )
    .await;
    play(
        &fixture,
        &mut function,
        "The same event delivered again",
        fixture.event("rds-instance-failover-completed.eventbridge.json"),
    )
    .await;
    play(
        &fixture,
        &mut function,
        "Aurora failover completed (RDS-EVENT-0071)",
        fixture.event("rds-cluster-failover-completed.eventbridge.json"),
    )
    .await;
    play(
        &fixture,
        &mut function,
        "Failover alarm via SNS",
        fixture.event("alarm.connections.sns.json"),
    )
    .await;
    play(
        &fixture,
        &mut function,
        "Event from another account",
        fixture.event("foreign-account.eventbridge.json"),
    )
    .await;
    play(
        &fixture,
        &mut function,
        "Manual request with a typo",
        fixture.event("manual.unknown-field.json"),
    )
    .await;

    let replica = format!("{}=localhost:{}", fixture.db, fixture.stack.pg_replica_port);
    let mut stale_dns = FunctionProcess::start(
        "failover-check",
        &fixture.function_env(&[("DB_ENDPOINT_OVERRIDES", &replica)]),
    )
    .await;
    play(
        &fixture,
        &mut stale_dns,
        "Endpoint still reaches the old primary, now a replica (manual check)",
        json!({"db_instance": fixture.db, "request_id": "demo-replica"}),
    )
    .await;

    let closed = format!("{}=localhost:{}", fixture.db, Stack::closed_port());
    let mut unreachable = FunctionProcess::start(
        "failover-check",
        &fixture.function_env(&[("DB_ENDPOINT_OVERRIDES", &closed)]),
    )
    .await;
    play(
        &fixture,
        &mut unreachable,
        "Database unreachable (manual check)",
        json!({"db_instance": fixture.db, "request_id": "demo-unreachable"}),
    )
    .await;

    // idle-reaper: real sessions on PostgreSQL and MariaDB.
    let scene = e2e::db::pg_scene(&fixture).await;
    println!(
        "\nidle-reaper: opened {} idle PostgreSQL sessions (web, worker) plus an active query, an idle \
         transaction, a superuser and a protected user's session",
        scene.eligible.len()
    );
    let guarded = format!("guarded_{}", fixture.suffix);
    let reaper_env = fixture.function_env(&[
        ("PROTECTED_USERS", &guarded),
        ("IDLE_MINUTES", "0"),
        ("MAX_FRACTION_OF_CONNECTIONS", "1"),
    ]);
    let mut reaper = FunctionProcess::start("idle-reaper", &reaper_env).await;
    play(
        &fixture,
        &mut reaper,
        "idle-reaper: a CPU alarm on the same instance (not a connections alarm)",
        fixture.event("alarm.cpu.eventbridge.json"),
    )
    .await;
    play(
        &fixture,
        &mut reaper,
        "idle-reaper: manual request (dry run by default)",
        json!({"db": fixture.db, "idle_minutes": 0}),
    )
    .await;
    play(
        &fixture,
        &mut reaper,
        "idle-reaper: too-many-connections alarm (EventBridge)",
        fixture.event("alarm.connections.eventbridge.json"),
    )
    .await;
    play(
        &fixture,
        &mut reaper,
        "idle-reaper: the same alarm state change via SNS",
        fixture.event("alarm.connections.sns.json"),
    )
    .await;
    play(
        &fixture,
        &mut reaper,
        "idle-reaper: alarm back to OK",
        fixture.event("alarm-ok.eventbridge.json"),
    )
    .await;
    let alive = e2e::db::pg_alive(&scene.admin, &scene.survivors).await;
    println!(
        "  PostgreSQL sessions that had to survive and did: {} of {}",
        alive.len(),
        scene.survivors.len()
    );
    drop(scene);

    let mysql = Fixture::new_mysql().await;
    let my_scene = e2e::db::mysql_scene(&mysql).await;
    let guarded = format!("guarded_{},root", mysql.suffix);
    let mysql_env = mysql.function_env(&[
        ("DB_ENDPOINT_OVERRIDES", &mysql.mysql_override()),
        ("PROTECTED_USERS", &guarded),
        ("MAX_FRACTION_OF_CONNECTIONS", "1"),
    ]);
    let mut my_reaper = FunctionProcess::start("idle-reaper", &mysql_env).await;
    play(
        &mysql,
        &mut my_reaper,
        "idle-reaper on MariaDB: manual run",
        json!({"db": mysql.db, "idle_minutes": 0, "dry_run": false}),
    )
    .await;
    drop(my_scene);

    snapshotter_scenes(&fixture).await;
    storage_guard_scenes(&fixture).await;
    restore_drill_scenes(&fixture).await;

    println!("\nreports archived in s3://{}:", fixture.bucket);
    for key in fixture.archive_keys().await {
        println!("  {key}");
    }
}

/// snapshotter: a pre-change snapshot a pipeline waits on, the nightly sweep (snapshot, DynamoDB
/// backup, retention), a schedule that may not delete, retention as a plan, a refused request.
async fn snapshotter_scenes(fixture: &Fixture) {
    let opt_in = format!("rr-snapshot-{}", fixture.suffix);
    let table = format!("orders-{}", fixture.suffix);
    fixture.create_table(&table, None).await;
    fixture
        .tag_instance(&fixture.db, &[(&opt_in, "true")])
        .await;
    println!(
        "\nsnapshotter: instance {} opted in with tag {opt_in}=true; DynamoDB table {table}",
        fixture.db
    );
    let env = fixture.function_env(&[
        ("OPT_IN_TAG", &opt_in),
        ("ALLOWED_SCHEDULES", "rds-responder-snapshots"),
        ("WAIT_POLL_SECONDS", "1"),
    ]);
    let mut snapshotter = FunctionProcess::start("snapshotter", &env).await;
    play(
        fixture,
        &mut snapshotter,
        "snapshotter: pre-change snapshot a deploy pipeline waits on",
        json!({"db_instance": fixture.db, "reason": "migration 42: index on orders(customer_id)",
               "change_id": "CHG-4711", "wait": true}),
    )
    .await;
    play(
        fixture,
        &mut snapshotter,
        "snapshotter: the pipeline asks again (change id in another case): the same snapshot",
        json!({"db_instance": fixture.db, "reason": "migration 42: index on orders(customer_id)",
               "change_id": "chg-4711"}),
    )
    .await;
    let mut nightly = fixture.event("schedule.snapshotter.scheduler.json");
    nightly["tables"] = json!([table]);
    play(
        fixture,
        &mut snapshotter,
        "snapshotter: the nightly schedule (snapshot, table backup, retention)",
        nightly.clone(),
    )
    .await;
    play(
        fixture,
        &mut snapshotter,
        "snapshotter: the same schedule run delivered again",
        nightly.clone(),
    )
    .await;
    let mut stranger = nightly;
    stranger["scheduler"]["schedule_arn"] =
        json!("arn:aws:scheduler:us-east-1:123456789012:schedule/team-b/rds-responder-snapshots");
    stranger["scheduler"]["scheduled_time"] = json!("2026-11-23T03:00:00Z");
    play(
        fixture,
        &mut snapshotter,
        "snapshotter: a schedule of the same name in another group (not allow-listed)",
        stranger,
    )
    .await;
    play(
        fixture,
        &mut snapshotter,
        "snapshotter: retention by hand (a plan unless \"dry_run\": false)",
        json!({"action": "retention", "tables": [table]}),
    )
    .await;
    play(
        fixture,
        &mut snapshotter,
        "snapshotter: a request with a field it does not know",
        json!({"db_instance": fixture.db, "reason": "x", "retention_days": 3}),
    )
    .await;
    let snapshots = fixture.snapshot_names(&fixture.db).await;
    println!(
        "  manual snapshots of {} now: {snapshots:?}; backups of {table}: {:?}",
        fixture.db,
        fixture.backup_names(&table).await
    );
}

/// storage-guard: a bulk load planned by hand, a low-storage alarm on an opted-in instance
/// filling at 0.5 GiB/h (snapshot, record, grow), the alarm again (held back by the change it
/// just made), an instance not opted in, autoscaling near its maximum, an Aurora cluster.
async fn storage_guard_scenes(fixture: &Fixture) {
    let db = format!("filling-{}", fixture.suffix);
    fixture.create_instance(&db, "postgres").await;
    fixture
        .shape_storage(
            &db,
            100,
            None,
            "gp2",
            &[("rds-responder:storage-guard", "on")],
        )
        .await;
    fixture.put_free_storage(&db, |h| 8.0 + 0.5 * h).await;
    let near = format!("autoscaled-{}", fixture.suffix);
    fixture.create_instance(&near, "postgres").await;
    fixture
        .shape_storage(
            &near,
            100,
            Some(105),
            "gp3",
            &[("rds-responder:storage-guard", "on")],
        )
        .await;
    fixture.put_free_storage(&near, |h| 12.0 + 0.2 * h).await;
    println!(
        "\nstorage-guard: {db} (100 GiB gp2, 8 GiB free, filling 0.5 GiB/h) and {near} (gp3, autoscaling up to 105 GiB), both tagged rds-responder:storage-guard=on"
    );
    let overrides = format!(
        "{db}=localhost:{port},{near}=localhost:{port},{plain}=localhost:{port}",
        port = fixture.stack.pg_port,
        plain = fixture.db
    );
    let env = fixture.function_env(&[("DB_ENDPOINT_OVERRIDES", &overrides)]);
    let mut guard = FunctionProcess::start("storage-guard", &env).await;
    let alarm = |at: &str| {
        let mut event = fixture.event("alarm.free-storage.eventbridge.json");
        let text = event.to_string().replace(&fixture.db, &db);
        event = serde_json::from_str(&text).unwrap_or(event);
        event["detail"]["state"]["timestamp"] = json!(at);
        event
    };
    play(
        fixture,
        &mut guard,
        "storage-guard: a 300 GiB bulk load planned by hand (a plan unless \"dry_run\": false)",
        json!({"db": db, "expected_growth_gib": 300, "reason": "load of the 2026 archive"}),
    )
    .await;
    play(
        fixture,
        &mut guard,
        "storage-guard: FreeStorageSpace below 2 GiB (EventBridge alarm): snapshot, record, grow",
        alarm("2026-11-22T03:12:30.000+0000"),
    )
    .await;
    play(
        fixture,
        &mut guard,
        "storage-guard: the alarm again an hour later: held back by the change it made",
        alarm("2026-11-22T04:12:30.000+0000"),
    )
    .await;
    play(
        fixture,
        &mut guard,
        "storage-guard: an instance not opted in (forecast and reported, never changed)",
        fixture.event("alarm.free-storage.sns.json"),
    )
    .await;
    let mut max = fixture.event("rds-instance-storage-autoscaling-max.eventbridge.json");
    let text = max.to_string().replace(&fixture.db, &near);
    max = serde_json::from_str(&text).unwrap_or(max);
    play(
        fixture,
        &mut guard,
        "storage-guard: autoscaling would reach its maximum (RDS-EVENT-0224): the maximum is raised",
        max,
    )
    .await;
    play(
        fixture,
        &mut guard,
        "storage-guard: Aurora cluster storage low (RDS-EVENT-0227): reported, Aurora grows by itself",
        fixture.event("rds-cluster-storage-low.eventbridge.json"),
    )
    .await;
}

/// The data behind a report's lines: each check's data, the resource metrics, the result.
fn print_details(report: &Value) {
    for check in report["checks"].as_array().into_iter().flatten() {
        if !check["data"].is_null() {
            println!(
                "      {} data: {}",
                check["name"].as_str().unwrap_or("?"),
                check["data"]
            );
        }
    }
    print_metrics(report, None);
    if !report["result"].is_null() {
        println!("  result: {}", report["result"]);
    }
}

/// The report's per-resource metrics (of `resource` only, when given).
fn print_metrics(report: &Value, resource: Option<&str>) -> usize {
    let mut shown = 0;
    for metric in report["metrics"].as_array().into_iter().flatten() {
        if resource.is_some_and(|r| metric["resource"] != r) {
            continue;
        }
        println!(
            "  metric: {} = {} {} ({})",
            metric["name"].as_str().unwrap_or("?"),
            metric["value"],
            metric["unit"].as_str().unwrap_or_default(),
            metric["resource"].as_str().unwrap_or("?")
        );
        shown += 1;
    }
    shown
}

/// restore-drill: the RPO audit on its schedule, a drill planned then started by hand and a
/// second one refused, the restore event whose data checks read a real restored copy (a
/// pg_basebackup of the primary on its own port), and the sweep leaving an untagged lookalike.
async fn restore_drill_scenes(fixture: &Fixture) {
    let db = format!("drilled-{}", fixture.suffix);
    fixture.create_instance(&db, "postgres").await;
    let source = DrillSource::prepare(fixture, &db, 40).await;
    println!(
        "\nrestore-drill: {db} tagged {}=drill, snapshot {db}-nightly; its data (database {}: 40 \
         orders, an empty audit_log) on the primary, and a restore of it (pg_basebackup) on port {}",
        drill::TAG,
        source.database,
        source.restored.port
    );
    let checks = drill::orders_checks();
    let mut drills =
        FunctionProcess::start(drill::FUNCTION, &source.env(fixture, &[], &checks)).await;

    let mut audit = fixture.event("schedule.restore-drill.scheduler.json");
    audit["scheduler"]["scheduled_time"] =
        json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let resource = format!("db-instance:{db}");
    let mut in_report = 0;
    play_showing(
        fixture,
        &mut drills,
        "restore-drill: the RPO audit on its schedule (recovery point lag of every enrolled database)",
        audit,
        |report| in_report = print_metrics(report, Some(&resource)),
    )
    .await;
    if in_report == 0 {
        // Not in the report: the Embedded Metric Format line the function logged.
        for doc in drills.metric_documents(&fixture.namespace) {
            if doc["Resource"] == resource.as_str() {
                println!("  metric (logged): {doc}");
            }
        }
    }

    play(
        fixture,
        &mut drills,
        "restore-drill: the weekly drill by hand (a plan unless \"dry_run\": false)",
        json!({"task": "drill", "db_instance": db, "dry_run": true}),
    )
    .await;
    play(
        fixture,
        &mut drills,
        "restore-drill: the drill for real: restore the newest snapshot to a scratch instance",
        json!({"task": "drill", "db_instance": db, "dry_run": false}),
    )
    .await;
    play(
        fixture,
        &mut drills,
        "restore-drill: a second drill of the same database while the first is under way",
        json!({"task": "drill", "db_instance": db, "dry_run": false, "request_id": "demo-second-drill"}),
    )
    .await;
    let Some(scratch) = drill::scratch_of(fixture, &db).await.pop() else {
        println!("  no scratch instance of {db} in moto: the drill did not start (see above)");
        return;
    };
    println!("  moto lists the scratch instance {scratch}");

    // The event may reach another execution environment: one whose endpoint map sends the
    // scratch instance to the restored copy.
    let mut checker = FunctionProcess::start(
        drill::FUNCTION,
        &source.env(fixture, std::slice::from_ref(&scratch), &checks),
    )
    .await;
    play_showing(
        fixture,
        &mut checker,
        "restore-drill: RDS-EVENT-0043, the scratch instance is restored: check its data, delete it",
        drill::restored_event(&scratch),
        print_details,
    )
    .await;
    println!(
        "  scratch instance {scratch} still in moto: {}",
        drill::instance_ids(fixture).await.contains(&scratch)
    );

    let lookalike = format!("look-{}{}202601010000", fixture.suffix, drill::SCRATCH_MARK);
    fixture.create_instance(&lookalike, "postgres").await;
    println!(
        "\nrestore-drill: {lookalike} exists, named like a scratch instance but not tagged as one"
    );
    play(
        fixture,
        &mut checker,
        "restore-drill: the sweep for real (\"dry_run\": false): an untagged lookalike is never deleted",
        json!({"task": "sweep", "dry_run": false, "request_id": "demo-sweep"}),
    )
    .await;
    let ids = drill::instance_ids(fixture).await;
    println!(
        "  {lookalike} still in moto: {}; {db} still in moto: {}",
        ids.contains(&lookalike),
        ids.contains(&db)
    );
    restore_test_scene(fixture, &db, &source, &checks).await;
}

/// AWS Backup restore testing: a plan's restore of `db` (an instance in moto whose endpoint is
/// the restored copy) validated, and what Backup's endpoint (a local one: moto has no restore
/// jobs) received.
async fn restore_test_scene(fixture: &Fixture, db: &str, source: &DrillSource, checks: &Value) {
    let plan = "arn:aws:backup:us-east-1:123456789012:restore-testing-plan:weekly_rds-demo";
    let restored = format!("awsbackup-restore-test-{}", fixture.suffix);
    fixture.create_instance(&restored, "postgres").await;
    let backup = BackupEndpoint::start().await;
    let now = chrono::Utc::now().timestamp();
    let job = format!("demo-job-{}", fixture.suffix);
    backup.seed(SeededJob {
        job_id: job.clone(),
        status: "COMPLETED".into(),
        created_resource_arn: format!("arn:aws:rds:us-east-1:123456789012:db:{restored}"),
        source_resource_arn: format!("arn:aws:rds:us-east-1:123456789012:db:{db}"),
        plan_arn: Some(plan.into()),
        created: now - 1500,
        completed: now - 120,
        recovery_point_created: now - 3600,
        validation: None,
    });
    println!(
        "\nrestore-drill: AWS Backup's restore testing plan restored {db} as {restored} (restore job {job})"
    );
    let mut env = source.env(fixture, std::slice::from_ref(&restored), checks);
    env.push(("RESTORE_TESTING_PLANS".into(), plan.into()));
    env.push(("AWS_ENDPOINT_URL_BACKUP".into(), backup.endpoint()));
    let mut validator = FunctionProcess::start(drill::FUNCTION, &env).await;
    let event = json!({
        "version": "0", "id": "demo-restore-job", "detail-type": "Restore Job State Change",
        "source": "aws.backup", "account": "123456789012",
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": "us-east-1", "resources": [],
        "detail": {"restoreJobId": job, "status": "COMPLETED", "resourceType": "RDS",
            "restoreTestingPlanArn": plan,
            "createdResourceArn": format!("arn:aws:rds:us-east-1:123456789012:db:{restored}")}
    });
    play_showing(
        fixture,
        &mut validator,
        "restore-drill: Backup's restore job COMPLETED: mark it VALIDATING, check the restore, post the verdict",
        event,
        print_details,
    )
    .await;
    for (status, message) in backup.posted(&job) {
        println!("  AWS Backup received PutRestoreValidationResult {status}: {message}");
    }
}
