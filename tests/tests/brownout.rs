//! Every run reports before its deadline, whatever AWS or the database does: the real binaries
//! against an RDS endpoint that accepts and never answers, a database that accepts and never
//! answers, and (snapshotter's sweep) every AWS call of a run failing in turn, then the trigger
//! delivered again.

use std::time::{Duration, Instant};

use aws_sdk_rds::types::Tag;
use e2e::{silent_server, Fault, FaultProxy, Fixture, FunctionProcess, Invoked};
use serde_json::{json, Value};

/// The invocation deadline every test here gives its function.
const DEADLINE: Duration = Duration::from_secs(20);

fn silent_rds(fixture: &Fixture, port: u16, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let rds = format!("http://127.0.0.1:{port}");
    let mut overrides = vec![
        ("AWS_ENDPOINT_URL_RDS", rds.as_str()),
        ("DB_STATEMENT_TIMEOUT_MS", "2000"),
        ("DB_CONNECT_TIMEOUT_MS", "2000"),
    ];
    overrides.extend_from_slice(extra);
    fixture.function_env(&overrides)
}

async fn start(name: &str, env: &[(String, String)]) -> FunctionProcess {
    let mut function = FunctionProcess::start(name, env).await;
    function.timeout = DEADLINE;
    function
}

/// Invokes and returns the response with how long it took.
async fn answered(function: &mut FunctionProcess, event: &Value) -> (Invoked, Duration) {
    let started = Instant::now();
    let (_, answer) = function.invoke(event).await;
    (answer, started.elapsed())
}

fn checks_text(report: &Value) -> String {
    report["checks"].to_string()
}

/// No record is left held: nothing `ACTING` or `IN_PROGRESS` for a retry to find, and no lock
/// (unless the fault was the unlock itself: a lock that could not be given back expires at its
/// holder's deadline).
async fn nothing_held(fixture: &Fixture, fault: &str) {
    for (pk, state) in fixture.ledger().await {
        let lock_kept = state == "LOCKED" && fault == "DynamoDB.DeleteItem";
        assert!(
            lock_kept || (state != "ACTING" && state != "IN_PROGRESS" && state != "LOCKED"),
            "{fault}: {pk} left {state}"
        );
    }
}

#[tokio::test]
async fn a_manual_failover_check_reports_a_silent_rds_endpoint_in_time() {
    let fixture = Fixture::new().await;
    let port = silent_server().await;
    let mut function = start("failover-check", &silent_rds(&fixture, port, &[])).await;
    let (answer, took) = answered(&mut function, &json!({"db_instance": fixture.db})).await;
    let report = answer.response();
    assert!(took < DEADLINE, "{took:?}");
    assert_eq!(report["status"], "failed", "{report:#}");
    let status = e2e::check(&report, "status");
    let detail = status["detail"].as_str().unwrap();
    assert!(
        detail.contains("RDS DescribeDBInstances cut short after") || detail.contains("timed out"),
        "{detail}"
    );
    let published = fixture.published(1, Duration::from_secs(10)).await;
    let body: Value = serde_json::from_str(published[0]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(body["id"], report["id"]);
    nothing_held(&fixture, "").await;
}

#[tokio::test]
async fn a_manual_idle_reaper_dry_run_reports_a_silent_rds_endpoint_in_time() {
    let fixture = Fixture::new().await;
    let port = silent_server().await;
    let mut function = start("idle-reaper", &silent_rds(&fixture, port, &[])).await;
    let (answer, took) = answered(&mut function, &json!({"db": fixture.db})).await;
    let report = answer.response();
    assert!(took < DEADLINE, "{took:?}");
    assert_eq!(report["status"], "failed", "{report:#}");
    assert!(
        checks_text(&report).contains("RDS DescribeDBInstances"),
        "{report:#}"
    );
    assert!(
        report["summary"]
            .as_str()
            .unwrap()
            .ends_with("the same request may be sent again"),
        "{report:#}"
    );
    assert_eq!(fixture.published(1, Duration::from_secs(10)).await.len(), 1);
    nothing_held(&fixture, "").await;
}

#[tokio::test]
async fn a_pre_change_snapshot_with_wait_reports_a_silent_rds_endpoint_in_time() {
    let fixture = Fixture::new().await;
    let port = silent_server().await;
    let mut function = start("snapshotter", &silent_rds(&fixture, port, &[])).await;
    let request =
        json!({"db_instance": fixture.db, "reason": "release", "change_id": "rel-1", "wait": true});
    let (answer, took) = answered(&mut function, &request).await;
    let report = answer.response();
    assert!(took < DEADLINE, "{took:?}");
    // The create was sent and never answered: it may have taken effect, and the look for it
    // is cut short too. Not "not-created": the report says to look before sending it again,
    // and the run counts as acted, so no retry makes a second.
    assert_eq!(report["result"]["status"], "unknown", "{report:#}");
    let checks = checks_text(&report);
    assert!(checks.contains("RDS CreateDBSnapshot"), "{report:#}");
    assert!(checks.contains("may exist"), "{report:#}");
    assert_eq!(fixture.published(1, Duration::from_secs(10)).await.len(), 1);
    // Nothing left held: the record is finished, the lock is free.
    nothing_held(&fixture, "").await;
}

#[tokio::test]
async fn a_database_that_accepts_and_never_answers_is_a_failed_check_not_a_hang() {
    let fixture = Fixture::new().await;
    let port = silent_server().await;
    let overrides = format!("{}=127.0.0.1:{port}", fixture.db);
    let env = fixture.function_env(&[
        ("DB_ENDPOINT_OVERRIDES", overrides.as_str()),
        ("DB_CONNECT_TIMEOUT_MS", "2000"),
        ("DB_STATEMENT_TIMEOUT_MS", "2000"),
        ("DB_TLS", "disable"),
    ]);

    let mut reaper = start("idle-reaper", &env).await;
    let (answer, took) = answered(&mut reaper, &json!({"db": fixture.db})).await;
    let report = answer.response();
    assert!(took < Duration::from_secs(10), "{took:?}");
    let connect = e2e::check(&report, "connect");
    assert_eq!(connect["outcome"], "fail", "{report:#}");
    assert!(
        connect["detail"]
            .as_str()
            .unwrap()
            .contains("PostgreSQL connect cut short after 2.0 s"),
        "{connect:#}"
    );

    let mut failover = start("failover-check", &env).await;
    let (answer, took) = answered(&mut failover, &json!({"db_instance": fixture.db})).await;
    let report = answer.response();
    assert!(took < Duration::from_secs(10), "{took:?}");
    let connection = e2e::check(&report, "connection");
    assert_eq!(connection["outcome"], "fail", "{report:#}");
    assert!(
        connection["detail"].as_str().unwrap().contains("cut short"),
        "{connection:#}"
    );
    nothing_held(&fixture, "").await;
}

/// One scheduled sweep's world: an opted-in instance and a table, the function behind `proxy`.
async fn sweep_world(proxy: &FaultProxy) -> (Fixture, String, FunctionProcess, Value) {
    let fixture = Fixture::new().await;
    let opt = format!("rr-snapshot-{}", fixture.suffix);
    let table = format!("orders-{}", fixture.suffix);
    fixture.create_table(&table, None).await;
    fixture
        .aws
        .rds
        .add_tags_to_resource()
        .resource_name(format!(
            "arn:aws:rds:us-east-1:123456789012:db:{}",
            fixture.db
        ))
        .tags(Tag::builder().key(&opt).value("true").build())
        .send()
        .await
        .expect("tag");
    let endpoint = proxy.endpoint();
    let env = fixture.function_env(&[
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("OPT_IN_TAG", opt.as_str()),
        ("ALLOWED_SCHEDULES", "rds-responder-snapshots"),
    ]);
    let mut function = FunctionProcess::start("snapshotter", &env).await;
    function.timeout = Duration::from_secs(60);
    let mut event = fixture.event("schedule.snapshotter.scheduler.json");
    event["tables"] = json!([table]);
    event["retention"] = json!(false);
    (fixture, table, function, event)
}

/// The calls a clean scheduled sweep makes, in order of first use.
async fn sweep_operations(proxy: &FaultProxy) -> Vec<String> {
    let (fixture, _, mut function, event) = sweep_world(proxy).await;
    proxy.reset_seen();
    function.invoke(&event).await.1.response();
    let mut operations: Vec<String> = Vec::new();
    for op in proxy.seen() {
        if !operations.contains(&op) {
            operations.push(op);
        }
    }
    assert!(
        operations.iter().any(|o| o == "RDS.CreateDBSnapshot"),
        "{operations:?}"
    );
    assert!(
        operations.iter().any(|o| o == "DynamoDB.CreateBackup"),
        "{operations:?}"
    );
    assert_eq!(fixture.snapshot_names(&fixture.db).await.len(), 1);
    eprintln!("a sweep's calls: {operations:?}");
    operations
}

/// For each call of a sweep in turn: `fault` on it (`times` requests, None = every attempt),
/// then the trigger again. Each action happened at most once and is done by the end, a run
/// that did nothing asked for a retry, a report went out, nothing is left held.
async fn each_call_in_turn(fault: Fault, times: Option<usize>) {
    let moto = e2e::Stack::from_env().moto_endpoint;
    let proxy = FaultProxy::start(&moto).await;
    let operations = sweep_operations(&proxy).await;
    for op in &operations {
        let (fixture, table_name, mut function, event) = sweep_world(&proxy).await;
        proxy.inject(op, fault, times);
        let (first_id, first) = function.invoke(&event).await;
        proxy.clear();
        let snapshots_after_first = fixture.snapshot_names(&fixture.db).await;
        let backups_after_first = fixture.backup_names(&table_name).await;
        let first_was_error = matches!(first, Invoked::Error { .. });
        // A run that did nothing is retried: it ended in an error Lambda retries.
        if snapshots_after_first.is_empty() || backups_after_first.is_empty() {
            assert!(
                first_was_error,
                "{op}: a run that did not take tonight's copies ended without asking for a retry: {first:?}"
            );
        }
        // The trigger again: Lambda's retry (the same request id) after an error, a duplicate
        // delivery (a new one) after a report.
        let second = if first_was_error {
            function.retry(&first_id, &event).await
        } else {
            function.invoke(&event).await.1
        };
        assert!(
            matches!(second, Invoked::Response(_)),
            "{op}: the second delivery did not answer with a report: {second:?}"
        );
        // Each action at most once, and done by now.
        assert_eq!(
            fixture.snapshot_names(&fixture.db).await.len(),
            1,
            "{op}: one snapshot"
        );
        assert_eq!(
            fixture.backup_names(&table_name).await.len(),
            1,
            "{op}: one backup"
        );
        // A report was delivered.
        let published = fixture.published(1, Duration::from_secs(10)).await;
        assert!(!published.is_empty(), "{op}: nothing published");
        nothing_held(&fixture, op).await;
    }
}

#[tokio::test]
async fn a_sweep_with_each_aws_call_failing_in_turn_acts_once_reports_and_is_retried() {
    each_call_in_turn(Fault::ServerError, None).await;
}

/// The write took effect and its answer was lost (a dropped connection): the SDK's resend, or
/// the run's retry, must find it rather than make it twice (a DynamoDB backup name is not
/// unique, so CreateBackup is never resent by the SDK).
#[tokio::test]
async fn a_sweep_with_each_aws_call_losing_its_answer_in_turn_acts_once_and_reports() {
    each_call_in_turn(Fault::LoseAnswer, Some(1)).await;
}
