//! `make bench`: time for idle-reaper to reap 1,000 idle PostgreSQL sessions end to end, with the
//! release binary under the Runtime API against the local stack, as a ratio to PostgreSQL's own
//! floor measured right before and right after the function's rounds: a superuser terminating
//! 1,000 idle sessions in one plain statement (target <= 1.1x); and the cold start of both
//! release binaries (init, then a first real invocation).

use std::time::Instant;

use e2e::db;
use e2e::{Fixture, FunctionProcess};
use serde_json::{json, Value};
use tokio_postgres::NoTls;

const SESSIONS: usize = 1000;
const ROUNDS: usize = 3;
/// Rounds of the floor, before the function's and again after them.
const FLOOR_ROUNDS: usize = 3;
const TARGET: f64 = 1.1;

/// PostgreSQL's own floor: 1,000 idle sessions of `role` terminated by a superuser in one plain
/// statement over an open connection. Returns the statement's time and the time until the last
/// of them has left pg_stat_activity (the function waits for that too).
async fn floor_round(fixture: &Fixture, admin: &tokio_postgres::Client, role: &str) -> (f64, f64) {
    let clients = open_idle_sessions(fixture, role).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let statement = format!(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '{role}' AND state = 'idle'"
    );
    let started = Instant::now();
    let rows = admin
        .simple_query(&statement)
        .await
        .expect("floor statement");
    let took = started.elapsed().as_secs_f64() * 1e3;
    let terminated: usize = rows
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).and_then(|v| v.parse().ok()),
            _ => None,
        })
        .unwrap_or_default();
    assert_eq!(terminated, SESSIONS, "the floor terminated {terminated}");
    let count = format!("SELECT count(*) FROM pg_stat_activity WHERE usename = '{role}'");
    loop {
        let left: i64 = admin.query_one(&count, &[]).await.expect("count").get(0);
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let gone = started.elapsed().as_secs_f64() * 1e3;
    drop(clients);
    (took, gone)
}

fn median_f(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

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
    let mut floor_before = Vec::new();
    for _ in 0..FLOOR_ROUNDS {
        floor_before.push(floor_round(&fixture, &admin, &role).await);
    }
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
    let mut floor_after = Vec::new();
    for _ in 0..FLOOR_ROUNDS {
        floor_after.push(floor_round(&fixture, &admin, &role).await);
    }
    cold_failover_check(&fixture, &failover_binary).await;

    handler_ms.sort();
    let median = handler_ms[handler_ms.len() / 2] as f64;
    let statement =
        |runs: &[(f64, f64)]| median_f(&mut runs.iter().map(|r| r.0).collect::<Vec<_>>());
    let gone = |runs: &[(f64, f64)]| median_f(&mut runs.iter().map(|r| r.1).collect::<Vec<_>>());
    let (before, after) = (statement(&floor_before), statement(&floor_after));
    let floor = before.max(after);
    println!(
        "PostgreSQL's floor, a superuser terminating {SESSIONS} idle sessions in one statement (medians of {FLOOR_ROUNDS}): before {before:.1} ms (all gone {:.1} ms), after {after:.1} ms (all gone {:.1} ms)",
        gone(&floor_before),
        gone(&floor_after)
    );
    let ratio = median / floor.max(1e-3);
    println!(
        "idle-reaper median handler time {median:.0} ms for {SESSIONS} sessions: {ratio:.2}x the floor (the slower of before and after, {floor:.1} ms) (target <= {TARGET}x: {})",
        if ratio <= TARGET { "met" } else { "MISSED" }
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
