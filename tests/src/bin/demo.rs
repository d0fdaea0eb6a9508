//! `make demo`: plays failover scenarios through the real failover-check binary against the local
//! stack, printing each report and what reached the SNS topic.

use std::time::Duration;

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

async fn play(fixture: &Fixture, function: &mut FunctionProcess, title: &str, event: Value) {
    println!("\n== {title}");
    match function.invoke(&event).await.1 {
        Invoked::Response(report) => print_report(&report),
        Invoked::Error {
            error_type,
            error_message,
        } => {
            println!("  refused: {error_type}: {error_message}")
        }
    }
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

    println!("\nreports archived in s3://{}:", fixture.bucket);
    for key in fixture.archive_keys().await {
        println!("  {key}");
    }
}
