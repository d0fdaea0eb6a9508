//! `make bench`: time for idle-reaper to reap 1,000 idle PostgreSQL sessions end to end, with the
//! release binary under the Runtime API against the local stack (target: under 1 s of handler
//! time); and the cold start of both release binaries (init, then a first real invocation).

use std::time::Instant;

use e2e::db;
use e2e::{Fixture, FunctionProcess};
use serde_json::{json, Value};
use tokio_postgres::NoTls;

const SESSIONS: usize = 1000;
const ROUNDS: usize = 3;

async fn open_idle_sessions(fixture: &Fixture, role: &str) -> Vec<tokio_postgres::Client> {
    let mut clients = Vec::with_capacity(SESSIONS);
    let mut pending = Vec::new();
    for _ in 0..SESSIONS {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&fixture.stack.pg_socket_dir)
            .port(fixture.stack.pg_port)
            .user(role)
            .dbname("postgres")
            .application_name("bench-app");
        pending.push(tokio::spawn(async move {
            let (client, connection) = config.connect(NoTls).await.expect("bench session");
            tokio::spawn(connection);
            client
        }));
        if pending.len() == 50 {
            for handle in pending.drain(..) {
                clients.push(handle.await.expect("join"));
            }
        }
    }
    for handle in pending {
        clients.push(handle.await.expect("join"));
    }
    clients
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == name)
        .unwrap_or(&Value::Null)
}

#[tokio::main]
async fn main() {
    let binary = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/release/idle-reaper".into());
    let failover_binary = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "target/release/failover-check".into());
    let fixture = Fixture::new().await;
    let admin = db::pg_admin(&fixture.stack).await;
    let role = format!("bench_{}", fixture.suffix);
    admin
        .batch_execute(&format!("CREATE ROLE {role} LOGIN"))
        .await
        .expect("bench role");

    let env = fixture.function_env(&[
        ("MAX_SESSIONS_PER_RUN", "5000"),
        ("MAX_FRACTION_OF_CONNECTIONS", "1"),
        ("RUST_LOG", "warn"),
    ]);
    let mut function =
        FunctionProcess::start_binary("idle-reaper", std::path::Path::new(&binary), &env).await;
    let init = function
        .init_duration()
        .await
        .expect("idle-reaper never polled for work");
    println!(
        "idle-reaper cold start: init {} ms (process start to first /next poll)",
        init.as_millis()
    );

    println!(
        "idle-reaper bench: {SESSIONS} idle PostgreSQL sessions per round, release binary {binary}"
    );
    let mut handler_ms = Vec::new();
    for round in 1..=ROUNDS {
        let clients = open_idle_sessions(&fixture, &role).await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let started = Instant::now();
        let (_, answer) = function
            .invoke(&json!({"db": fixture.db, "idle_minutes": 0, "dry_run": false, "request_id": format!("bench-{}-{round}", fixture.suffix)}))
            .await;
        let wall = started.elapsed();
        let report = answer.response();
        let terminate = check(&report, "terminate");
        let terminated = terminate["data"]["terminated"].as_u64().unwrap_or_default();
        assert_eq!(
            terminated as usize, SESSIONS,
            "round {round} did not reap them all: {report:#}"
        );
        let handler = report["duration_ms"].as_u64().unwrap_or_default();
        handler_ms.push(handler);
        println!(
            "round {round}: terminated {terminated} in {handler} ms handler time (terminating statement {} ms, waiting for exits {} ms), {} ms invoke round trip incl. publishing",
            terminate["data"]["statement_ms"],
            terminate["data"]["exit_wait_ms"],
            wall.as_millis()
        );
        drop(clients);
    }
    cold_failover_check(&fixture, &failover_binary).await;

    handler_ms.sort();
    let median = handler_ms[handler_ms.len() / 2];
    println!(
        "median handler time: {median} ms for {SESSIONS} sessions (target < 1000 ms: {})",
        if median < 1000 { "met" } else { "MISSED" }
    );
}

/// failover-check release binary: init, then one full verification on fresh connections.
async fn cold_failover_check(fixture: &Fixture, binary: &str) {
    fixture.put_connections(&fixture.db, 10.0).await;
    let env = fixture.function_env(&[("RUST_LOG", "warn")]);
    let mut function =
        FunctionProcess::start_binary("failover-check", std::path::Path::new(binary), &env).await;
    let init = function
        .init_duration()
        .await
        .expect("failover-check never polled for work");
    let started = Instant::now();
    let report = function
        .invoke(&json!({"db_instance": fixture.db}))
        .await
        .1
        .response();
    assert_eq!(report["status"], "ok", "{report:#}");
    println!(
        "failover-check cold start: init {} ms; first verification {} ms handler time (connection check {} ms incl. TLS + auth), {} ms round trip",
        init.as_millis(),
        report["duration_ms"],
        check(&report, "connection")["duration_ms"],
        started.elapsed().as_millis()
    );
}
