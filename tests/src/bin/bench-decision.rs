//! `make bench`, event to decision: for failover-check, idle-reaper, snapshotter and
//! restore-drill, the time from an event reaching the release binary to its decision (the
//! report's own `duration_ms`: the run's start to its findings, before the report is delivered),
//! warm, as a ratio to a floor measured in the same run: the AWS requests the function made
//! before deciding, sent again one after another by this process through the same local
//! endpoint in front of moto, plus, for the functions that connect to the database, one new
//! connection and `SELECT 1` through the project's own connector (TLS verify-full, password).
//! (storage-guard's has its own benchmark, `bench-storage`, against its reads made by hand.)
//!
//!   bench-decision <release dir> [rounds]
//!
//! Automatic runs are dry runs here (AUTOMATIC_DRY_RUN=true), so every round decides the same way
//! on the same resources; each round's event is a new one (its own id and time), so the ledger
//! sees no duplicate.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2e::{db, FaultProxy, Fixture, FunctionProcess};
use rds_responder::config::{ConnectTarget, DbConfig, Env};
use rds_responder::rds::Endpoint;
use rds_responder::sql::DbConnector;
use serde_json::{json, Value};

/// The decision is its reads and little else: within 1.5x of making them by hand (the target
/// storage-guard's benchmark holds its decision to).
const TARGET: f64 = 1.5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Round `round`'s copy of a sample event: its own id and times, so each is a new delivery.
fn fresh(mut event: Value, round: usize) -> Value {
    let minute = round % 60;
    if event.get("id").is_some() {
        event["id"] = json!(format!("bench-decision-{round}"));
        event["time"] = json!(format!("2026-11-22T04:{minute:02}:00Z"));
    }
    if event["detail"]["state"].is_object() {
        event["detail"]["state"]["timestamp"] =
            json!(format!("2026-11-22T04:{minute:02}:00.000+0000"));
    }
    if event["detail"]["Date"].is_string() {
        event["detail"]["Date"] = json!(format!("2026-11-22T04:{minute:02}:00.000Z"));
    }
    if event["scheduler"].is_object() {
        event["scheduler"]["scheduled_time"] =
            json!(format!("2026-11-22T{:02}:{minute:02}:00Z", 4 + round / 60));
        event["scheduler"]["execution_id"] = json!(format!("bench-decision-{round}"));
    }
    event
}

/// One new connection and `SELECT 1`, as the function connects (the same env, TLS and user).
async fn connect_floor(fixture: &Fixture, env: &[(String, String)]) -> Duration {
    let env = Env::from_pairs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let config = DbConfig::from_env(&env).expect("database settings");
    let sdk = rds_responder::aws::loader()
        .endpoint_url(&fixture.stack.moto_endpoint)
        .load()
        .await;
    let connector = DbConnector::new(config, sdk).expect("connector");
    let target = ConnectTarget {
        rds_endpoint: Endpoint {
            host: format!("{}.rds.amazonaws.com", fixture.db),
            port: 5432,
        },
        address: Endpoint {
            host: "localhost".into(),
            port: fixture.stack.pg_port,
        },
        overridden: true,
    };
    let started = Instant::now();
    let client = rds_responder::sql::postgres::connect(&connector, &target)
        .await
        .expect("connect as the function does");
    client.simple_query("SELECT 1").await.expect("SELECT 1");
    started.elapsed()
}

struct Case {
    function: &'static str,
    event: Value,
    env: Vec<(String, String)>,
    connects: bool,
}

async fn measure(
    fixture: &Fixture,
    proxy: &FaultProxy,
    release: &Path,
    case: &Case,
    rounds: usize,
) -> String {
    let ledger_floor = format!("{}-floor", fixture.table);
    let mut function =
        FunctionProcess::start_binary(case.function, &release.join(case.function), &case.env).await;
    let (mut decided, mut floor, mut requests) = (Vec::new(), Vec::new(), Vec::new());
    let mut status = String::new();
    for round in 0..rounds {
        let event = fresh(case.event.clone(), round);
        let sent = Instant::now();
        let report = function.invoke(&event).await.1.response();
        let ms = report["duration_ms"]
            .as_u64()
            .unwrap_or_else(|| panic!("{}: no duration: {report:#}", case.function));
        assert!(
            report["duplicate_of"].is_null(),
            "{}: round {round} was taken for a duplicate: {report:#}",
            case.function
        );
        status = report["status"].as_str().unwrap_or("?").to_string();
        // The requests that arrived before the decision; the delivery's come after it.
        let made = proxy.requests_between(sent, sent + Duration::from_millis(ms));
        if std::env::var_os("BENCH_VERBOSE").is_some() {
            let operations: Vec<&str> = made.iter().map(|r| r.operation.as_str()).collect();
            eprintln!("{} round {round}: {operations:?}", case.function);
            for check in report["checks"].as_array().into_iter().flatten() {
                eprintln!(
                    "  {} {} {} ms: {}",
                    check["name"], check["outcome"], check["duration_ms"], check["detail"]
                );
            }
        }
        // The first round pays for the connections and the clients' set-up: not counted.
        if round == 0 {
            continue;
        }
        decided.push(Duration::from_millis(ms));
        let mut by_hand = proxy.replay(&made, &fixture.table, &ledger_floor).await;
        if case.connects {
            by_hand += connect_floor(fixture, &case.env).await;
        }
        floor.push(by_hand);
        requests.push(made.len());
    }
    drop(function);
    let (decided, floor) = (median(decided), median(floor));
    requests.sort_unstable();
    let ratio = decided.as_secs_f64() / floor.as_secs_f64().max(1e-6);
    format!(
        "  {:<15} event to decision {:>4} ms   floor {:>6.1} ms ({} AWS requests{})   {ratio:.2}x (target <= {TARGET}x: {})   report status {status}",
        case.function,
        decided.as_millis(),
        floor.as_secs_f64() * 1e3,
        requests[requests.len() / 2],
        if case.connects { " + connect and SELECT 1" } else { "" },
        if ratio <= TARGET { "met" } else { "MISSED" },
    )
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let release = PathBuf::from(args.get(1).map_or("target/release", String::as_str));
    let rounds: usize = args
        .get(2)
        .and_then(|r| r.parse().ok())
        .unwrap_or(15)
        .max(2);
    let fixture = Fixture::new().await;
    fixture.put_connections(&fixture.db, 37.0).await;
    // The floor's ledger writes go to a table of the same shape, so a replayed claim never
    // touches the function's own records.
    fixture
        .create_table(&format!("{}-floor", fixture.table), None)
        .await;
    let opt_in = format!("rr-snapshot-{}", fixture.suffix);
    fixture
        .tag_instance(&fixture.db, &[(&opt_in, "true")])
        .await;
    // Enrolled in restore-drill's RPO audit.
    e2e::drill::tag(&fixture, &fixture.db, "audit").await;
    // Idle sessions for idle-reaper to decide on (a dry run terminates none of them).
    let _scene = db::pg_scene(&fixture).await;
    let proxy = FaultProxy::start(&fixture.stack.moto_endpoint).await;
    let endpoint = proxy.endpoint();
    let guarded = format!("guarded_{}", fixture.suffix);
    let common: Vec<(&str, &str)> = vec![
        ("AUTOMATIC_DRY_RUN", "true"),
        ("RUST_LOG", "warn"),
        ("AWS_ENDPOINT_URL", &endpoint),
    ];
    let env = |extra: &[(&str, &str)]| {
        let mut all = common.clone();
        all.extend_from_slice(extra);
        fixture.function_env(&all)
    };
    let mut snapshots = fixture.event("schedule.snapshotter.scheduler.json");
    snapshots["tables"] = json!([]);
    let cases = [
        Case {
            function: "failover-check",
            event: fixture.event("rds-instance-failover-completed.eventbridge.json"),
            env: env(&[]),
            connects: true,
        },
        Case {
            function: "idle-reaper",
            event: fixture.event("alarm.connections.eventbridge.json"),
            env: env(&[
                ("IDLE_MINUTES", "0"),
                ("PROTECTED_USERS", &guarded),
                ("MAX_FRACTION_OF_CONNECTIONS", "1"),
            ]),
            connects: true,
        },
        Case {
            function: "snapshotter",
            event: snapshots,
            env: env(&[
                ("OPT_IN_TAG", &opt_in),
                ("ALLOWED_SCHEDULES", "rds-responder-snapshots"),
            ]),
            connects: false,
        },
        Case {
            function: "restore-drill",
            event: fixture.event("schedule.restore-drill.scheduler.json"),
            env: env(&[]),
            connects: false,
        },
    ];
    println!(
        "event to decision: release binaries in {}, warm, medians of {} rounds (the first is not counted); floor: the same AWS requests sent again one after another through the same endpoint, plus a new database connection and SELECT 1 where the function connects",
        release.display(),
        rounds - 1
    );
    for case in &cases {
        println!(
            "{}",
            measure(&fixture, &proxy, &release, case, rounds).await
        );
    }
}
