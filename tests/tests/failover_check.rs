//! failover-check end to end: the real binary under the Runtime API, against moto server and
//! PostgreSQL (a TLS primary and a streaming replica) started by scripts/stack.sh.

use std::time::Duration;

use e2e::{check, Fixture, FunctionProcess, Stack};
use serde_json::{json, Value};

const FUNCTION: &str = "failover-check";

async fn start(fixture: &Fixture, overrides: &[(&str, &str)]) -> FunctionProcess {
    FunctionProcess::start(FUNCTION, &fixture.function_env(overrides)).await
}

fn outcome(report: &Value, name: &str) -> String {
    check(report, name)["outcome"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn attribute(message: &Value, name: &str) -> String {
    message["MessageAttributes"][name]["Value"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn healthy_failover_is_verified_published_archived_ledgered_and_counted() {
    let fixture = Fixture::new().await;
    fixture.put_connections(&fixture.db, 37.0).await;
    let mut function = start(&fixture, &[]).await;

    let (request_id, answer) = function
        .invoke(&fixture.event("rds-instance-failover-completed.eventbridge.json"))
        .await;
    let report = answer.response();

    assert_eq!(report["status"], "ok", "{report:#}");
    assert_eq!(report["id"], request_id.as_str());
    assert_eq!(
        report["target"],
        json!({"kind": "instance", "id": fixture.db})
    );
    for name in [
        "status",
        "endpoint-dns",
        "connection",
        "writer-role",
        "recent-events",
        "connections",
        "alarms",
    ] {
        assert_eq!(outcome(&report, name), "pass", "{name}: {report:#}");
    }
    assert!(check(&report, "connection")["detail"]
        .as_str()
        .unwrap()
        .contains("SELECT 1"));
    assert!(check(&report, "connections")["detail"]
        .as_str()
        .unwrap()
        .contains("37"));
    assert!(check(&report, "endpoint-dns")["detail"]
        .as_str()
        .unwrap()
        .contains("DB_ENDPOINT_OVERRIDES"));

    let published = fixture.published(1, Duration::from_secs(5)).await;
    assert_eq!(published.len(), 1, "{published:#?}");
    let message = &published[0];
    assert_eq!(
        message["Subject"],
        format!("[OK] failover-check {}", fixture.db)
    );
    assert_eq!(attribute(message, "function"), FUNCTION);
    assert_eq!(
        attribute(message, "schema_version"),
        "rds-responder.report/v1"
    );
    assert_eq!(attribute(message, "outcome"), "ok");
    assert_eq!(attribute(message, "severity"), "info");
    assert_eq!(attribute(message, "db_identifier"), fixture.db);
    let body: Value = serde_json::from_str(message["Message"].as_str().unwrap()).unwrap();
    assert_eq!(body, report);

    let day = report["started_at"].as_str().unwrap()[..10].to_string();
    let key = format!("reports/{FUNCTION}/{day}/{request_id}.json");
    assert_eq!(fixture.archived(&key).await, Some(report.clone()));

    let ledger = fixture.ledger().await;
    assert_eq!(ledger.len(), 1);
    assert!(
        ledger[0]
            .0
            .starts_with(&format!("{FUNCTION}#rds#{}#RDS-EVENT-0049#", fixture.db)),
        "{ledger:?}"
    );
    assert_eq!(ledger[0].1, "COMPLETED");

    assert_eq!(
        function.runs_metric(&fixture.namespace, FUNCTION, "ok"),
        1.0
    );
    assert_eq!(
        function.runs_metric(&fixture.namespace, FUNCTION, "failed"),
        0.0
    );
}

#[tokio::test]
async fn every_trigger_shape_is_accepted() {
    let fixture = Fixture::new().await;
    fixture.put_connections(&fixture.db, 12.0).await;
    let mut function = start(&fixture, &[]).await;

    for sample in [
        "rds-instance-failover-completed.eventbridge.json",
        "rds-instance-failover-completed.sns.json",
        "rds-instance-event-without-id.eventbridge.json",
        "alarm.eventbridge.json",
        "schedule.eventbridge.json",
        "manual.failover-check.json",
    ] {
        let report = function.invoke(&fixture.event(sample)).await.1.response();
        assert_eq!(report["status"], "ok", "{sample}: {report:#}");
        assert!(report.get("duplicate_of").is_none(), "{sample}: {report:#}");
    }
    // The same alarm state change arriving by alarm action and SNS is the same trigger.
    for sample in ["alarm.action.json", "alarm.sns.json"] {
        let report = function.invoke(&fixture.event(sample)).await.1.response();
        assert!(report["duplicate_of"].is_string(), "{sample}: {report:#}");
    }
    let started = function
        .invoke(&fixture.event("rds-instance-failover-started.eventbridge.json"))
        .await
        .1
        .response();
    assert_eq!(started["status"], "skipped");
    assert!(started["summary"]
        .as_str()
        .unwrap()
        .contains("failover started"));

    let ok_alarm = function
        .invoke(&fixture.event("alarm-ok.eventbridge.json"))
        .await
        .1
        .response();
    assert_eq!(ok_alarm["status"], "skipped");

    let notice = function
        .invoke(&fixture.event("sns-subscription-notice.json"))
        .await
        .1
        .response();
    assert_eq!(notice["status"], "skipped");

    // 6 verified + started + OK alarm; no message for duplicates or the subscription notice.
    let published = fixture.published(8, Duration::from_secs(5)).await;
    assert_eq!(published.len(), 8);
}

#[tokio::test]
async fn unreachable_database_fails_the_connection_check() {
    let fixture = Fixture::new().await;
    let closed = Stack::closed_port();
    let overrides = format!("{}=localhost:{closed}", fixture.db);
    let mut function = start(&fixture, &[("DB_ENDPOINT_OVERRIDES", &overrides)]).await;

    let report = function
        .invoke(&fixture.event("manual.failover-check.json"))
        .await
        .1
        .response();
    assert_eq!(report["status"], "failed");
    assert_eq!(outcome(&report, "connection"), "fail");
    assert!(check(&report, "connection")["detail"]
        .as_str()
        .unwrap()
        .contains(&closed.to_string()));
    assert_eq!(outcome(&report, "writer-role"), "skipped");
    assert_eq!(outcome(&report, "status"), "pass");

    let published = fixture.published(1, Duration::from_secs(5)).await;
    assert_eq!(attribute(&published[0], "severity"), "critical");
    assert!(published[0]["Subject"]
        .as_str()
        .unwrap()
        .starts_with("[FAILED]"));
    assert_eq!(
        function.runs_metric(&fixture.namespace, FUNCTION, "failed"),
        1.0
    );
}

#[tokio::test]
async fn replica_behind_the_endpoint_fails_writer_role() {
    let fixture = Fixture::new().await;
    let overrides = format!("{}=localhost:{}", fixture.db, fixture.stack.pg_replica_port);
    let mut function = start(&fixture, &[("DB_ENDPOINT_OVERRIDES", &overrides)]).await;

    let report = function
        .invoke(&fixture.event("rds-instance-failover-completed.eventbridge.json"))
        .await
        .1
        .response();
    assert_eq!(outcome(&report, "connection"), "pass", "{report:#}");
    assert_eq!(outcome(&report, "writer-role"), "fail");
    assert!(check(&report, "writer-role")["detail"]
        .as_str()
        .unwrap()
        .contains("replica"));
    assert_eq!(report["status"], "failed");
}

#[tokio::test]
async fn instance_not_available_fails_status_after_a_bounded_wait() {
    let fixture = Fixture::new().await;
    fixture
        .aws
        .rds
        .stop_db_instance()
        .db_instance_identifier(&fixture.db)
        .send()
        .await
        .expect("stop instance");
    let mut function = start(&fixture, &[("AVAILABLE_WAIT_SECONDS", "2")]).await;

    let report = function
        .invoke(&fixture.event("manual.failover-check.json"))
        .await
        .1
        .response();
    assert_eq!(outcome(&report, "status"), "fail", "{report:#}");
    assert!(check(&report, "status")["detail"]
        .as_str()
        .unwrap()
        .contains("stopped"));
    assert_eq!(report["status"], "failed");
}

#[tokio::test]
async fn alarms_still_firing_degrade_the_report() {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StateValue, Statistic};
    let fixture = Fixture::new().await;
    fixture.put_connections(&fixture.db, 20.0).await;
    let alarm = format!("{}-cpu-high", fixture.db);
    fixture
        .aws
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(&alarm)
        .namespace("AWS/RDS")
        .metric_name("CPUUtilization")
        .dimensions(
            Dimension::builder()
                .name("DBInstanceIdentifier")
                .value(&fixture.db)
                .build(),
        )
        .statistic(Statistic::Average)
        .period(60)
        .evaluation_periods(1)
        .threshold(90.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .expect("put alarm");
    fixture
        .aws
        .cloudwatch
        .set_alarm_state()
        .alarm_name(&alarm)
        .state_value(StateValue::Alarm)
        .state_reason("test")
        .send()
        .await
        .expect("set alarm state");
    let mut function = start(&fixture, &[]).await;

    let report = function
        .invoke(&fixture.event("manual.failover-check.json"))
        .await
        .1
        .response();
    assert_eq!(outcome(&report, "alarms"), "warn", "{report:#}");
    assert!(check(&report, "alarms")["detail"]
        .as_str()
        .unwrap()
        .contains(&alarm));
    assert_eq!(report["status"], "degraded");
    let published = fixture.published(1, Duration::from_secs(5)).await;
    assert_eq!(attribute(&published[0], "severity"), "warning");
}

#[tokio::test]
async fn duplicate_delivery_returns_the_earlier_report_and_publishes_once() {
    let fixture = Fixture::new().await;
    fixture.put_connections(&fixture.db, 5.0).await;
    let mut function = start(&fixture, &[]).await;
    let event = fixture.event("rds-instance-failover-completed.sns.json");

    let (first_id, first) = function.invoke(&event).await;
    let first = first.response();
    let (_, second) = function.invoke(&event).await;
    let second = second.response();

    assert_eq!(second["id"], first_id.as_str());
    assert_eq!(second["duplicate_of"], first_id.as_str());
    assert_eq!(second["checks"], first["checks"]);
    assert_eq!(fixture.published(1, Duration::from_secs(3)).await.len(), 1);
    assert_eq!(fixture.archive_keys().await.len(), 1);
    assert_eq!(fixture.ledger().await.len(), 1);
}

#[tokio::test]
async fn foreign_account_event_is_refused_before_any_aws_call() {
    let fixture = Fixture::new().await;
    let mut function = start(&fixture, &[]).await;

    let (error_type, message) = function
        .invoke(&fixture.event("foreign-account.eventbridge.json"))
        .await
        .1
        .error();
    assert_eq!(error_type, "ForeignAccount");
    assert!(
        message.contains("999999999999") && message.contains("`account`"),
        "{message}"
    );

    let (error_type, _) = function
        .invoke(&fixture.event("unknown-source.eventbridge.json"))
        .await
        .1
        .error();
    assert_eq!(error_type, "UnknownSource");

    assert!(fixture
        .published(0, Duration::from_millis(500))
        .await
        .is_empty());
    assert!(fixture.ledger().await.is_empty());
    assert!(fixture.archive_keys().await.is_empty());
}

#[tokio::test]
async fn malformed_input_gets_an_error_naming_field_and_rule() {
    let fixture = Fixture::new().await;
    let mut function = start(&fixture, &[]).await;

    let (error_type, message) = function
        .invoke(&fixture.event("manual.unknown-field.json"))
        .await
        .1
        .error();
    assert_eq!(error_type, "MalformedEvent");
    assert!(message.contains("unknown field `force`"), "{message}");

    let (error_type, message) = function
        .invoke(&fixture.event("manual.invalid-identifier.json"))
        .await
        .1
        .error();
    assert_eq!(error_type, "InvalidField");
    assert!(
        message.contains("`db_instance`") && message.contains("two consecutive hyphens"),
        "{message}"
    );

    let (error_type, _) = function.invoke(&json!("just a string")).await.1.error();
    assert_eq!(error_type, "InvalidField");

    assert!(fixture.ledger().await.is_empty());
    assert!(fixture
        .published(0, Duration::from_millis(500))
        .await
        .is_empty());
}

#[tokio::test]
async fn aurora_failover_checks_the_promoted_writer() {
    let fixture = Fixture::new().await;
    fixture.create_cluster().await;
    fixture.fail_over_cluster_to(2).await;
    let mut function = start(&fixture, &[]).await;

    let report = function
        .invoke(&fixture.event("rds-cluster-failover-completed.eventbridge.json"))
        .await
        .1
        .response();
    assert_eq!(outcome(&report, "cluster-writer"), "pass", "{report:#}");
    assert_eq!(outcome(&report, "writer-role"), "pass");
    assert_eq!(outcome(&report, "connection"), "pass");
    assert_eq!(
        report["target"],
        json!({"kind": "cluster", "id": fixture.cluster})
    );

    // The event names member 2; had the failover not moved the writer, the check must fail.
    let mut event = fixture.event("rds-cluster-failover-completed.eventbridge.json");
    event["detail"]["Message"] = json!(format!(
        "Completed failover to DB instance: {}-1",
        fixture.cluster
    ));
    event["detail"]["Date"] = json!("2026-11-22T03:25:00.000Z");
    let report = function.invoke(&event).await.1.response();
    assert_eq!(outcome(&report, "cluster-writer"), "fail", "{report:#}");
}

#[tokio::test]
async fn dynamodb_tables_with_active_indexes_pass_and_missing_ones_fail() {
    let fixture = Fixture::new().await;
    let table = format!("orders-{}", fixture.suffix);
    fixture.create_table(&table, Some("by-customer")).await;
    let tables = format!("{table},absent-{}", fixture.suffix);
    let mut function = start(&fixture, &[("CHECK_DYNAMODB_TABLES", &tables)]).await;

    let report = function
        .invoke(&fixture.event("manual.failover-check.json"))
        .await
        .1
        .response();
    assert_eq!(
        outcome(&report, &format!("dynamodb-table:{table}")),
        "pass",
        "{report:#}"
    );
    assert!(check(&report, &format!("dynamodb-table:{table}"))["detail"]
        .as_str()
        .unwrap()
        .contains("1 global"));
    assert_eq!(
        outcome(
            &report,
            &format!("dynamodb-table:absent-{}", fixture.suffix)
        ),
        "fail"
    );
}

#[tokio::test]
async fn stale_events_are_reported_and_skipped() {
    let fixture = Fixture::new().await;
    let mut function = start(&fixture, &[("MAX_EVENT_AGE_SECONDS", "600")]).await;
    let report = function
        .invoke(&fixture.event("rds-instance-failover-completed.eventbridge.json"))
        .await
        .1
        .response();
    assert_eq!(report["status"], "skipped");
    assert!(
        report["summary"].as_str().unwrap().contains("stale"),
        "{report:#}"
    );
    assert_eq!(fixture.published(1, Duration::from_secs(3)).await.len(), 1);
}

#[tokio::test]
async fn wrong_password_and_untrusted_tls_are_connection_failures_without_secrets() {
    let fixture = Fixture::new().await;
    let mut function = start(&fixture, &[("DB_PASSWORD", "definitely-wrong-password")]).await;
    let report = function
        .invoke(&fixture.event("manual.failover-check.json"))
        .await
        .1
        .response();
    assert_eq!(outcome(&report, "connection"), "fail");
    let detail = check(&report, "connection")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains("password authentication failed"),
        "{detail}"
    );

    // A CA bundle that did not sign the server's certificate: verify-full must refuse.
    let other_ca = std::env::temp_dir().join(format!("other-ca-{}.pem", fixture.suffix));
    let generated = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=other",
        ])
        .args(["-keyout", "/dev/null", "-out"])
        .arg(&other_ca)
        .output()
        .expect("openssl");
    assert!(generated.status.success());
    let mut untrusting = start(&fixture, &[("DB_CA_BUNDLE", other_ca.to_str().unwrap())]).await;
    let mut event = fixture.event("manual.failover-check.json");
    event["request_id"] = json!("tls-check");
    let report = untrusting.invoke(&event).await.1.response();
    assert_eq!(outcome(&report, "connection"), "fail", "{report:#}");
    let _ = std::fs::remove_file(other_ca);

    let published = fixture.published(2, Duration::from_secs(5)).await;
    let everything = format!("{} {} {:?}", function.logs(), untrusting.logs(), published);
    assert!(!everything.contains("definitely-wrong-password"));
    assert!(!everything.contains(&fixture.stack.pg_password));
}

#[tokio::test]
async fn mysql_failover_checks_connection_and_read_only_role() {
    use mysql_async::prelude::Queryable;
    // read_only is server-wide: no other test may run against MariaDB meanwhile.
    let _serial = e2e::db::SERVER_WIDE.lock().await;
    let fixture = Fixture::new_mysql().await;
    let overrides = fixture.mysql_override();
    let mut function = start(&fixture, &[("DB_ENDPOINT_OVERRIDES", &overrides)]).await;

    let report = function
        .invoke(&json!({"db_instance": fixture.db}))
        .await
        .1
        .response();
    assert_eq!(outcome(&report, "connection"), "pass", "{report:#}");
    assert!(check(&report, "connection")["detail"]
        .as_str()
        .unwrap()
        .contains("MariaDB"));
    assert_eq!(outcome(&report, "writer-role"), "pass");

    let mut admin = e2e::db::mysql_admin(&fixture.stack).await;
    admin
        .query_drop("SET GLOBAL read_only = ON")
        .await
        .expect("read_only on");
    let report = function
        .invoke(&json!({"db_instance": fixture.db, "request_id": "read-only"}))
        .await
        .1
        .response();
    admin
        .query_drop("SET GLOBAL read_only = OFF")
        .await
        .expect("read_only off");
    assert_eq!(outcome(&report, "writer-role"), "fail", "{report:#}");
    assert!(check(&report, "writer-role")["detail"]
        .as_str()
        .unwrap()
        .contains("read-only"));
}

#[tokio::test]
async fn missing_configuration_stops_init_naming_the_variable() {
    let fixture = Fixture::new().await;
    // Unset, or (the CA bundle of verify-full) pointing at nothing.
    for (var, value, expected) in [
        (
            "LEDGER_TABLE",
            None,
            "environment variable LEDGER_TABLE is required",
        ),
        (
            "DB_CA_BUNDLE",
            Some("/nonexistent/rds-ca-bundle.pem"),
            "cannot read CA bundle",
        ),
        // The fixture sets DB_ENDPOINT_OVERRIDES: an IAM token must not go there.
        (
            "DB_AUTH",
            Some("iam"),
            "DB_ENDPOINT_OVERRIDES is only allowed with DB_AUTH=password",
        ),
        (
            "MAX_EVENT_AGE_SECONDS",
            Some("18446744073709551616"),
            "MAX_EVENT_AGE_SECONDS must be a number of seconds from 0 to 604800",
        ),
        // An organization's central topic of another region: Publish would fail every report.
        (
            "REPORT_TOPIC_ARN",
            Some("arn:aws:sns:eu-west-1:111122223333:org-reports"),
            "REPORT_TOPIC_ARN must be a topic in this function's region us-east-1, not eu-west-1",
        ),
    ] {
        let mut env = fixture.function_env(&[]);
        env.retain(|(k, _)| k != var);
        if let Some(value) = value {
            env.push((var.into(), value.into()));
        }
        let mut function = FunctionProcess::start(FUNCTION, &env).await;
        let status = function.wait_exit(Duration::from_secs(20)).await;
        assert!(!status.success(), "{var}: started anyway");
        assert!(
            function.logs().contains(expected),
            "{var}: {}",
            function.logs()
        );
    }
}
