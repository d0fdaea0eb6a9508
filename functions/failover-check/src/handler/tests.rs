use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use rds_responder::cloudwatch::CloudWatchError;
use rds_responder::rds::{ClusterInfo, ClusterMember, Endpoint, EventRecord, RdsError};
use rds_responder::report::{Outcome, Status};
use rds_responder::runner::{Invocation, Runner};
use rds_responder::tables::TableHealth;
use rds_responder::testing::*;
use rds_responder::trigger::parse_trigger;

use super::*;
use crate::policy::*;

const FUNCTION: &str = "failover-check";

type Fakes = FailoverCheck<FakeInventory, FakeProbe, FakeWatch, FakeTables, FakeResolver>;

fn config() -> FailoverConfig {
    FailoverConfig {
        connections_normal: Some((1.0, 400.0)),
        dynamodb_tables: vec![],
        recent_events_minutes: 60,
        available_wait: Duration::from_millis(1200),
        after_wait: Duration::ZERO,
    }
}

fn healthy() -> Fakes {
    FailoverCheck {
        inventory: FakeInventory::with_instances(vec![Ok(instance("orders-db", "available"))]),
        probe: FakeProbe::healthy(),
        endpoints: Default::default(),
        watch: FakeWatch::default(),
        tables: FakeTables::default(),
        resolver: FakeResolver(Ok(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 5)))),
        config: config(),
    }
}

fn trigger(event: Value) -> Trigger<ManualCheck> {
    parse_trigger(event, &origin(FUNCTION)).unwrap()
}

fn manual_instance() -> Trigger<ManualCheck> {
    trigger(json!({"db_instance": "orders-db"}))
}

fn outcome(findings: &Findings, name: &str) -> Outcome {
    check(findings, name).outcome
}

fn detail<'a>(findings: &'a Findings, name: &str) -> &'a str {
    &check(findings, name).detail
}

#[test]
fn verifies_on_every_instance_failover_completed_event() {
    for code in INSTANCE_FAILOVER_COMPLETED {
        let mut event = sample("rds-instance-failover-completed.eventbridge.json");
        event["detail"]["EventID"] = json!(format!("RDS-EVENT-{code:04}"));
        assert!(
            matches!(decide(&trigger(event)), Decision::Verify { .. }),
            "{code}"
        );
    }
    assert!(matches!(
        decide(&trigger(sample("rds-instance-failover-completed.sns.json"))),
        Decision::Verify { .. }
    ));
}

#[test]
fn acknowledges_failover_started_without_verifying() {
    let decision = decide(&trigger(sample(
        "rds-instance-failover-started.eventbridge.json",
    )));
    match decision {
        Decision::Skip { reason, .. } => assert!(reason.contains("failover started"), "{reason}"),
        other => panic!("{other:?}"),
    }
    for code in CLUSTER_FAILOVER_STARTED {
        let mut event = sample("rds-cluster-failover-completed.eventbridge.json");
        event["detail"]["EventID"] = json!(format!("RDS-EVENT-{code:04}"));
        assert!(
            matches!(decide(&trigger(event)), Decision::Skip { .. }),
            "{code}"
        );
    }
}

#[test]
fn reads_the_message_when_the_event_has_no_id() {
    let decision = decide(&trigger(sample(
        "rds-instance-event-without-id.eventbridge.json",
    )));
    assert!(matches!(decision, Decision::Verify { .. }), "{decision:?}");
}

#[test]
fn without_an_id_the_message_must_say_failover_and_how_it_went() {
    let decide_message = |message: &str| {
        let mut event = sample("rds-instance-event-without-id.eventbridge.json");
        event["detail"]["Message"] = json!(message);
        decide(&trigger(event))
    };
    assert!(matches!(
        decide_message("Multi-AZ instance failover completed."),
        Decision::Verify { .. }
    ));
    match decide_message("Multi-AZ instance failover started.") {
        Decision::Skip { reason, .. } => assert!(reason.contains("failover started"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // "completed" or "started" alone is not a failover.
    for message in [
        "DB instance restart completed.",
        "Backing up DB instance started.",
    ] {
        match decide_message(message) {
            Decision::Skip { reason, .. } => assert_eq!(
                reason, "event without an id is not a failover-completed event",
                "{message}"
            ),
            other => panic!("{message}: {other:?}"),
        }
    }
}

#[test]
fn skips_unrelated_rds_events() {
    let mut event = sample("rds-instance-failover-completed.eventbridge.json");
    event["detail"]["EventID"] = json!("RDS-EVENT-0006");
    event["detail"]["Message"] = json!("DB instance restarted");
    match decide(&trigger(event)) {
        Decision::Skip { reason, .. } => assert!(reason.contains("RDS-EVENT-0006")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn takes_the_promoted_instance_from_an_aurora_event() {
    match decide(&trigger(sample(
        "rds-cluster-failover-completed.eventbridge.json",
    ))) {
        Decision::Verify {
            target,
            expected_writer,
            ..
        } => {
            assert_eq!(target.id().as_str(), "orders-aurora");
            assert_eq!(expected_writer.as_deref(), Some("orders-aurora-2"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        promoted_instance("Completed failover to DB instance: db-b."),
        Some("db-b".into())
    );
    assert_eq!(promoted_instance("Failover completed"), None);
}

#[test]
fn alarm_into_alarm_verifies_and_other_transitions_do_nothing() {
    for shape in [
        "alarm.eventbridge.json",
        "alarm.action.json",
        "alarm.sns.json",
    ] {
        match decide(&trigger(sample(shape))) {
            Decision::Verify {
                triggering_alarm, ..
            } => {
                assert_eq!(triggering_alarm.as_deref(), Some("orders-db-failover"))
            }
            other => panic!("{shape}: {other:?}"),
        }
    }
    match decide(&trigger(sample("alarm-ok.eventbridge.json"))) {
        Decision::Skip { reason, .. } => assert!(reason.contains("not into ALARM"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn schedule_verifies_its_single_target() {
    assert!(matches!(
        decide(&trigger(sample("schedule.eventbridge.json"))),
        Decision::Verify { .. }
    ));
    let mut two = sample("schedule.eventbridge.json");
    two["detail"]["targets"] = json!([{"db_instance": "a"}, {"db_cluster": "b"}]);
    assert!(matches!(decide(&trigger(two)), Decision::Skip { .. }));
}

#[tokio::test]
async fn healthy_failover_passes_every_check() {
    let check = healthy();
    let findings = check.check(&manual_instance(), &invocation(FUNCTION)).await;
    let names: Vec<&str> = findings.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "status",
            "endpoint-dns",
            "connection",
            "writer-role",
            "recent-events",
            "connections",
            "alarms"
        ]
    );
    assert!(
        findings.checks.iter().all(|c| c.outcome == Outcome::Pass),
        "{:?}",
        findings.checks
    );
    assert_eq!(Status::from_checks(&findings.checks), Status::Ok);
    assert!(detail(&findings, "endpoint-dns").contains("10.0.1.5"));
    assert_eq!(check.probe.probed.borrow().len(), 1);
}

#[tokio::test]
async fn unreachable_database_fails_connection_but_runs_the_other_checks() {
    let check = FailoverCheck {
        probe: FakeProbe::refusing("Connection refused (os error 111)"),
        ..healthy()
    };
    let findings = check.check(&manual_instance(), &invocation(FUNCTION)).await;
    assert_eq!(outcome(&findings, "connection"), Outcome::Fail);
    assert!(detail(&findings, "connection").contains("Connection refused"));
    assert_eq!(outcome(&findings, "writer-role"), Outcome::Skipped);
    assert_eq!(outcome(&findings, "alarms"), Outcome::Pass);
    assert_eq!(outcome(&findings, "recent-events"), Outcome::Pass);
    assert!(
        findings.summary.contains("connection"),
        "{}",
        findings.summary
    );
}

#[tokio::test]
async fn replica_behind_the_endpoint_fails_writer_role() {
    let check = FailoverCheck {
        probe: FakeProbe::answering(true),
        ..healthy()
    };
    let findings = check.check(&manual_instance(), &invocation(FUNCTION)).await;
    assert_eq!(outcome(&findings, "connection"), Outcome::Pass);
    assert_eq!(outcome(&findings, "writer-role"), Outcome::Fail);
    assert!(detail(&findings, "writer-role").contains("replica"));
    assert!(detail(&findings, "writer-role").contains("pg_is_in_recovery"));
}

#[tokio::test]
async fn waits_for_available_with_backoff() {
    let check = FailoverCheck {
        inventory: FakeInventory::with_instances(vec![
            Ok(instance("orders-db", "modifying")),
            Ok(instance("orders-db", "available")),
        ]),
        ..healthy()
    };
    let findings = check.check(&manual_instance(), &invocation(FUNCTION)).await;
    assert_eq!(outcome(&findings, "status"), Outcome::Pass);
    assert_eq!(*check.inventory.describe_calls.borrow(), 2);
}

#[tokio::test]
async fn instance_not_available_within_the_budget_fails_status() {
    let check = FailoverCheck {
        inventory: FakeInventory::with_instances(vec![Ok(instance("orders-db", "stopped"))]),
        ..healthy()
    };
    let findings = check.check(&manual_instance(), &invocation(FUNCTION)).await;
    assert_eq!(outcome(&findings, "status"), Outcome::Fail);
    assert!(detail(&findings, "status").contains("\"stopped\""));
    // The wait is bounded: 0.5 s then 1 s would exceed the 1.2 s budget.
    assert_eq!(*check.inventory.describe_calls.borrow(), 2);
}

#[tokio::test]
async fn the_deadline_bounds_the_wait() {
    let check = FailoverCheck {
        inventory: FakeInventory::with_instances(vec![Ok(instance("orders-db", "rebooting"))]),
        config: FailoverConfig {
            available_wait: Duration::from_secs(600),
            ..config()
        },
        ..healthy()
    };
    let mut inv = invocation(FUNCTION);
    inv.deadline = Utc::now() + chrono::Duration::seconds(10);
    let findings = check.check(&manual_instance(), &inv).await;
    assert_eq!(outcome(&findings, "status"), Outcome::Fail);
    assert_eq!(*check.inventory.describe_calls.borrow(), 1);
}

#[tokio::test]
async fn missing_instance_fails_status_and_skips_database_checks() {
    let check = FailoverCheck {
        inventory: FakeInventory::with_instances(vec![Err(RdsError::NotFound {
            kind: "DB instance",
            id: "orders-db".into(),
        })]),
        ..healthy()
    };
    let findings = check.check(&manual_instance(), &invocation(FUNCTION)).await;
    assert_eq!(outcome(&findings, "status"), Outcome::Fail);
    assert_eq!(outcome(&findings, "connection"), Outcome::Skipped);
    assert!(check.probe.probed.borrow().is_empty());
}

#[tokio::test]
async fn dns_failure_is_its_own_failed_check() {
    let check = FailoverCheck {
        resolver: FakeResolver(Err("Name or service not known".into())),
        ..healthy()
    };
    let findings = check.check(&manual_instance(), &invocation(FUNCTION)).await;
    assert_eq!(outcome(&findings, "endpoint-dns"), Outcome::Fail);
}

#[tokio::test]
async fn override_is_reported_in_the_dns_check() {
    let check = FailoverCheck {
        endpoints: rds_responder::config::EndpointMap::default().with(
            "orders-db",
            "127.0.0.1",
            6543,
        ),
        ..healthy()
    };
    let findings = check.check(&manual_instance(), &invocation(FUNCTION)).await;
    assert!(detail(&findings, "endpoint-dns").contains("DB_ENDPOINT_OVERRIDES"));
    assert_eq!(check.probe.probed.borrow()[0].address.port, 6543);
}

#[tokio::test]
async fn other_alarms_still_firing_degrade_but_the_trigger_alarm_does_not() {
    let check = FailoverCheck {
        watch: FakeWatch {
            firing: Ok(vec!["orders-db-failover".into(), "orders-db-cpu".into()]),
            ..FakeWatch::default()
        },
        ..healthy()
    };
    let findings = check
        .check(
            &trigger(sample("alarm.eventbridge.json")),
            &invocation(FUNCTION),
        )
        .await;
    assert_eq!(outcome(&findings, "alarms"), Outcome::Warn);
    let text = detail(&findings, "alarms");
    assert!(text.contains("still in ALARM: orders-db-cpu"), "{text}");
    assert!(text.contains("as expected"), "{text}");
    assert_eq!(Status::from_checks(&findings.checks), Status::Degraded);

    let only_trigger = FailoverCheck {
        watch: FakeWatch {
            firing: Ok(vec!["orders-db-failover".into()]),
            ..FakeWatch::default()
        },
        ..healthy()
    };
    let findings = only_trigger
        .check(
            &trigger(sample("alarm.eventbridge.json")),
            &invocation(FUNCTION),
        )
        .await;
    assert_eq!(outcome(&findings, "alarms"), Outcome::Pass);
}

#[tokio::test]
async fn connections_outside_range_or_missing_warn_and_errors_fail() {
    for (value, expected) in [
        (Ok(Some(0.0)), Outcome::Warn),
        (Ok(Some(900.0)), Outcome::Warn),
        (Ok(None), Outcome::Warn),
        (Ok(Some(12.0)), Outcome::Pass),
        (
            Err(CloudWatchError {
                operation: "GetMetricStatistics",
                source: sdk_failure("Throttling"),
            }),
            Outcome::Fail,
        ),
    ] {
        let check = FailoverCheck {
            watch: FakeWatch {
                connections: value.clone(),
                ..FakeWatch::default()
            },
            ..healthy()
        };
        let findings = check.check(&manual_instance(), &invocation(FUNCTION)).await;
        assert_eq!(outcome(&findings, "connections"), expected, "{value:?}");
    }
}

#[tokio::test]
async fn troubling_recent_events_warn() {
    let mut check = healthy();
    check.inventory.events = Ok(vec![EventRecord {
        time: None,
        message:
            "Amazon RDS is not attempting a requested failover because a failover recently occurred"
                .into(),
    }]);
    let findings = check.check(&manual_instance(), &invocation(FUNCTION)).await;
    assert_eq!(outcome(&findings, "recent-events"), Outcome::Warn);
    check.inventory.events = Err(RdsError::Api {
        operation: "DescribeEvents",
        source: sdk_failure("denied"),
    });
    let findings = check.check(&manual_instance(), &invocation(FUNCTION)).await;
    assert_eq!(outcome(&findings, "recent-events"), Outcome::Fail);
}

#[tokio::test]
async fn dynamodb_tables_need_every_index_active() {
    let mut tables = BTreeMap::new();
    tables.insert(
        "orders".to_string(),
        TableHealth {
            status: "ACTIVE".into(),
            indexes: vec![("by-customer".into(), "ACTIVE".into())],
        },
    );
    tables.insert(
        "sessions".to_string(),
        TableHealth {
            status: "ACTIVE".into(),
            indexes: vec![("by-user".into(), "CREATING".into())],
        },
    );
    let check = FailoverCheck {
        tables: FakeTables { tables },
        config: FailoverConfig {
            dynamodb_tables: ["orders", "sessions", "missing"]
                .map(|t| rds_responder::trigger::TableName::parse(t).unwrap())
                .to_vec(),
            ..config()
        },
        ..healthy()
    };
    let findings = check.check(&manual_instance(), &invocation(FUNCTION)).await;
    assert_eq!(outcome(&findings, "dynamodb-table:orders"), Outcome::Pass);
    assert_eq!(outcome(&findings, "dynamodb-table:sessions"), Outcome::Fail);
    assert!(detail(&findings, "dynamodb-table:sessions").contains("by-user is CREATING"));
    assert_eq!(outcome(&findings, "dynamodb-table:missing"), Outcome::Fail);
}

fn cluster(writer: &str) -> ClusterInfo {
    ClusterInfo {
        id: "orders-aurora".into(),
        status: "available".into(),
        engine: "aurora-postgresql".into(),
        endpoint: Some(Endpoint {
            host: "orders-aurora.cluster-abc.us-east-1.rds.amazonaws.com".into(),
            port: 5432,
        }),
        members: ["orders-aurora-1", "orders-aurora-2"]
            .iter()
            .map(|id| ClusterMember {
                instance_id: id.to_string(),
                is_writer: *id == writer,
            })
            .collect(),
    }
}

#[tokio::test]
async fn aurora_failover_checks_the_named_writer() {
    let event = trigger(sample("rds-cluster-failover-completed.eventbridge.json"));
    let mut check = healthy();
    check.inventory.cluster = Some(cluster("orders-aurora-2"));
    let findings = check.check(&event, &invocation(FUNCTION)).await;
    assert_eq!(outcome(&findings, "cluster-writer"), Outcome::Pass);
    assert_eq!(outcome(&findings, "writer-role"), Outcome::Pass);

    check.inventory.cluster = Some(cluster("orders-aurora-1"));
    let findings = check.check(&event, &invocation(FUNCTION)).await;
    assert_eq!(outcome(&findings, "cluster-writer"), Outcome::Fail);
    assert!(detail(&findings, "cluster-writer").contains("promoted orders-aurora-2"));
}

#[tokio::test]
async fn started_event_is_skipped_without_any_call() {
    let check = healthy();
    let findings = check
        .check(
            &trigger(sample("rds-instance-failover-started.eventbridge.json")),
            &invocation(FUNCTION),
        )
        .await;
    assert_eq!(findings.status, Some(Status::Skipped));
    assert_eq!(*check.inventory.describe_calls.borrow(), 0);
}

// The runner around the function: ledger, stale events, delivery.

fn runner(sink: RecordingSink) -> Runner<Fakes, MemoryLedger, RecordingSink> {
    rds_responder::testing::runner(healthy(), MemoryLedger::default(), sink)
}

fn invocation_at(now: DateTime<Utc>, request_id: &str) -> Invocation {
    rds_responder::testing::invocation_at(FUNCTION, now, request_id)
}

#[tokio::test]
async fn duplicate_delivery_returns_the_earlier_report_and_acts_on_nothing() {
    let runner = runner(RecordingSink::default());
    let event = sample("rds-instance-failover-completed.eventbridge.json");
    let first = runner
        .handle(event.clone(), &invocation_at(Utc::now(), "req-a"))
        .await
        .unwrap();
    let calls_after_first = *runner.responder.inventory.describe_calls.borrow();
    let second = runner
        .handle(event, &invocation_at(Utc::now(), "req-b"))
        .await
        .unwrap();
    assert_eq!(second.id, "req-a");
    assert_eq!(second.duplicate_of.as_deref(), Some("req-a"));
    assert_eq!(second.checks, first.checks);
    assert_eq!(
        *runner.responder.inventory.describe_calls.borrow(),
        calls_after_first
    );
    assert_eq!(runner.sink.delivered.borrow().len(), 1);
}

#[tokio::test]
async fn refused_event_touches_neither_ledger_nor_sink() {
    let runner = runner(RecordingSink::default());
    let err = runner
        .handle(
            sample("foreign-account.eventbridge.json"),
            &invocation_at(Utc::now(), "req-a"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "ForeignAccount");
    assert!(runner.ledger.records.borrow().is_empty());
    assert!(runner.sink.delivered.borrow().is_empty());
    assert_eq!(*runner.responder.inventory.describe_calls.borrow(), 0);
}

#[tokio::test]
async fn failed_delivery_releases_the_claim_so_a_retry_reports() {
    let failing = runner(RecordingSink::refusing(1));
    let event = sample("manual.failover-check.json");
    let err = failing
        .handle(event, &invocation_at(Utc::now(), "req-a"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "PublishFailed");
    assert!(err.to_string().contains("sns"));
    assert!(failing.ledger.records.borrow().is_empty());
}

#[tokio::test]
async fn stale_event_is_reported_and_skipped() {
    let mut runner = runner(RecordingSink::default());
    runner.common.max_event_age = Some(Duration::from_secs(3600));
    let event = sample("rds-instance-failover-completed.eventbridge.json");
    let happened = DateTime::parse_from_rfc3339("2026-11-22T03:12:08.912Z")
        .unwrap()
        .with_timezone(&Utc);
    let report = runner
        .handle(
            event,
            &invocation_at(happened + chrono::Duration::hours(2), "req-a"),
        )
        .await
        .unwrap();
    assert_eq!(report.status, Status::Skipped);
    assert!(report.summary.contains("stale"), "{}", report.summary);
    assert_eq!(runner.sink.delivered.borrow().len(), 1);
    assert_eq!(*runner.responder.inventory.describe_calls.borrow(), 0);
}

#[tokio::test]
async fn ledger_outage_stops_before_any_check_and_still_reports() {
    let mut runner = runner(RecordingSink::default());
    runner.ledger = MemoryLedger::failing(&["claim"]);
    let report = runner
        .handle(
            sample("manual.failover-check.json"),
            &invocation_at(Utc::now(), "req-a"),
        )
        .await
        .unwrap();
    assert_eq!(report.status, Status::Failed);
    assert_eq!(report.checks[0].name, "ledger");
    assert!(
        report.summary.contains("may be sent again"),
        "{}",
        report.summary
    );
    assert_eq!(runner.sink.delivered.borrow().len(), 1);
    assert_eq!(*runner.responder.inventory.describe_calls.borrow(), 0);
}

#[tokio::test]
async fn subscription_notice_is_acknowledged_without_ledger_or_publish() {
    let runner = runner(RecordingSink::default());
    let report = runner
        .handle(
            sample("sns-subscription-notice.json"),
            &invocation_at(Utc::now(), "req-a"),
        )
        .await
        .unwrap();
    assert_eq!(report.status, Status::Skipped);
    assert!(runner.ledger.records.borrow().is_empty());
    assert!(runner.sink.delivered.borrow().is_empty());
}

#[tokio::test]
async fn rds_events_from_the_future_are_refused_before_any_call() {
    let runner = runner(RecordingSink::default());
    let happened = DateTime::parse_from_rfc3339("2026-11-22T03:12:08.912Z")
        .unwrap()
        .with_timezone(&Utc);
    for (name, field) in [
        (
            "rds-instance-failover-completed.sns.json",
            "`Message.Event Time`",
        ),
        (
            "rds-instance-failover-completed.eventbridge.json",
            "`detail.Date (or time)`",
        ),
    ] {
        let err = runner
            .handle(
                sample(name),
                &invocation_at(happened - chrono::Duration::minutes(6), "req-a"),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "InvalidField");
        assert!(err.to_string().contains(field), "{err}");
    }
    assert!(runner.ledger.calls.borrow().is_empty());
    assert_eq!(*runner.responder.inventory.describe_calls.borrow(), 0);
    // Four minutes ahead is clock skew: accepted.
    runner
        .handle(
            sample("rds-instance-failover-completed.sns.json"),
            &invocation_at(happened - chrono::Duration::minutes(4), "req-b"),
        )
        .await
        .unwrap();
}
