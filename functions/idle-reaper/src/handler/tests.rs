use std::time::Duration;

use serde_json::{json, Value};

use rds_responder::rds::RdsError;
use rds_responder::report::{Findings, Outcome, Status};
use rds_responder::runner::{Responder, Runner};
use rds_responder::sql::sessions::{Session, SessionSnapshot, SessionState};
use rds_responder::testing::*;
use rds_responder::trigger::parse_trigger;

use super::*;
use crate::policy::{Decision, Scope};

const FUNCTION: &str = "idle-reaper";

fn config() -> ReaperConfig {
    ReaperConfig::from_env(&rds_responder::config::Env::from_pairs([(
        "PROTECTED_USERS",
        "batch",
    )]))
    .unwrap()
}

fn trigger(event: Value) -> Trigger<ManualReap> {
    parse_trigger(event, &origin(FUNCTION)).unwrap()
}

fn idle(id: i64, user: &str, minutes: f64) -> Session {
    session(id, user, SessionState::Idle, minutes)
}

fn reaper(sessions: Vec<Session>, total: u64) -> IdleReaper<FakeInventory, FakeReaper> {
    IdleReaper {
        inventory: FakeInventory::with_instances(vec![Ok(instance("orders-db", "available"))]),
        endpoints: Default::default(),
        reaper: FakeReaper::with(SessionSnapshot {
            total_connections: total,
            sessions,
            rds_kill_available: false,
        }),
        config: config(),
    }
}

fn outcome(findings: &Findings, name: &str) -> Outcome {
    check(findings, name).outcome
}

/// Runs `trigger` through `r` with a fresh ledger behind the guard.
async fn run(r: &IdleReaper<FakeInventory, FakeReaper>, trigger: &Trigger<ManualReap>) -> Findings {
    let ledger = MemoryLedger::default();
    run_with(r, trigger, &ledger).await
}

async fn run_with(
    r: &IdleReaper<FakeInventory, FakeReaper>,
    trigger: &Trigger<ManualReap>,
    ledger: &MemoryLedger,
) -> Findings {
    let invocation = invocation(FUNCTION);
    r.respond(trigger, &invocation, &guard(ledger, &invocation))
        .await
}

/// A manual request that really terminates, against `r`.
async fn apply(r: &IdleReaper<FakeInventory, FakeReaper>) -> Findings {
    run(r, &manual(json!({"db": "orders-db", "dry_run": false}))).await
}

fn manual(payload: Value) -> Trigger<ManualReap> {
    trigger(payload)
}

#[test]
fn manual_requests_are_dry_runs_unless_told_otherwise() {
    match decide(&manual(json!({"db": "orders-db"})), &config()) {
        Decision::Reap { dry_run, .. } => assert!(dry_run),
        other => panic!("{other:?}"),
    }
    match decide(
        &manual(
            json!({"db": "orders-db", "dry_run": false, "idle_minutes": 3, "max_sessions": 1000}),
        ),
        &config(),
    ) {
        Decision::Reap {
            dry_run, policy, ..
        } => {
            assert!(!dry_run);
            assert_eq!(policy.idle, Duration::from_secs(180));
            assert_eq!(
                policy.max_sessions, 100,
                "a request cannot raise the configured cap"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn manual_schema_is_strict() {
    let origin = origin(FUNCTION);
    for (payload, needle) in [
        (
            json!({"db": "orders-db", "kill_all": true}),
            "unknown field `kill_all`",
        ),
        (json!({"idle_minutes": 5}), "missing field `db`"),
        (json!({"db": "orders_db"}), "`db`"),
        (
            json!({"db": "orders-db", "idle_minutes": 20000}),
            "`idle_minutes`",
        ),
        (
            json!({"db": "orders-db", "max_sessions": 0}),
            "`max_sessions`",
        ),
        (json!({"db": "orders-db", "dry_run": "no"}), "invalid type"),
    ] {
        let err = parse_trigger::<ManualReap, TargetList>(payload, &origin)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{err} lacks {needle}");
    }
}

#[test]
fn alarms_act_only_on_entering_alarm() {
    for shape in [
        "alarm.connections.eventbridge.json",
        "alarm.connections.action.json",
        "alarm.connections.sns.json",
    ] {
        match decide(&trigger(sample(shape)), &config()) {
            Decision::Reap { dry_run, .. } => assert!(!dry_run, "{shape}"),
            other => panic!("{shape}: {other:?}"),
        }
    }
    assert!(matches!(
        decide(&trigger(sample("alarm-ok.eventbridge.json")), &config()),
        Decision::Skip { .. }
    ));
    assert!(matches!(
        decide(
            &trigger(sample("rds-instance-failover-completed.eventbridge.json")),
            &config()
        ),
        Decision::Skip { .. }
    ));
}

#[tokio::test]
async fn terminates_eligible_sessions_and_reports_groups() {
    let r = reaper(
        vec![
            idle(1, "app", 30.0),
            idle(2, "app", 40.0),
            idle(3, "batch", 90.0),
            idle(4, "app", 1.0),
        ],
        40,
    );
    let findings = apply(&r).await;
    assert_eq!(Status::from_checks(&findings.checks), Status::Ok);
    assert_eq!(
        *r.reaper.terminate_calls.borrow(),
        vec![vec![2, 1]],
        "oldest first, protected and young spared"
    );
    let terminate = check(&findings, "terminate");
    assert!(
        terminate.detail.contains("terminated 2 sessions"),
        "{}",
        terminate.detail
    );
    assert_eq!(terminate.data["groups"]["by_user"]["app"], 2);
    assert_eq!(outcome(&findings, "connections-after"), Outcome::Pass);
    assert!(
        findings.summary.contains("40 -> 38"),
        "{}",
        findings.summary
    );
}

#[tokio::test]
async fn dry_run_terminates_nothing_and_reports_the_plan() {
    let r = reaper(vec![idle(1, "app", 30.0)], 40);
    let findings = run(&r, &manual(json!({"db": "orders-db"}))).await;
    assert!(r.reaper.terminate_calls.borrow().is_empty());
    assert_eq!(outcome(&findings, "terminate"), Outcome::Planned);
    assert_eq!(findings.status, Some(Status::DryRun));
}

#[tokio::test]
async fn cap_exceeded_aborts_before_acting() {
    let sessions: Vec<Session> = (1..=30).map(|i| idle(i, "app", 30.0)).collect();
    let r = reaper(sessions, 40);
    let findings = apply(&r).await;
    assert!(r.reaper.terminate_calls.borrow().is_empty());
    assert_eq!(outcome(&findings, "cap"), Outcome::Fail);
    assert_eq!(Status::from_checks(&findings.checks), Status::Failed);
    assert!(findings.summary.contains("aborted"), "{}", findings.summary);
}

#[tokio::test]
async fn sessions_that_changed_before_termination_are_reported_as_spared() {
    let mut r = reaper(vec![idle(1, "app", 30.0), idle(2, "app", 30.0)], 40);
    r.reaper.spare = vec![2];
    let findings = apply(&r).await;
    let terminate = check(&findings, "terminate");
    assert!(
        terminate.detail.contains("1 spared"),
        "{}",
        terminate.detail
    );
}

#[tokio::test]
async fn describe_failure_stops_before_connecting() {
    let mut r = reaper(vec![idle(1, "app", 30.0)], 40);
    r.inventory = FakeInventory::with_instances(vec![Err(RdsError::Api {
        operation: "DescribeDBInstances",
        source: sdk_failure("AccessDenied"),
    })]);
    let findings = apply(&r).await;
    assert_eq!(outcome(&findings, "describe"), Outcome::Fail);
    assert!(r.reaper.terminate_calls.borrow().is_empty());
}

#[tokio::test]
async fn opt_out_tag_means_do_nothing() {
    let mut tagged = instance("orders-db", "available");
    tagged
        .tags
        .insert("rds-responder:idle-reaper".into(), "disabled".into());
    let mut r = reaper(vec![idle(1, "app", 30.0)], 40);
    r.inventory = FakeInventory::with_instances(vec![Ok(tagged)]);
    let findings = apply(&r).await;
    assert_eq!(findings.status, Some(Status::Skipped));
    assert!(findings.summary.contains("opted out"));
    assert!(r.reaper.terminate_calls.borrow().is_empty());
}

#[tokio::test]
async fn unreachable_database_asks_for_a_retry() {
    let mut r = reaper(vec![], 0);
    r.reaper.snapshot = Err("FATAL: sorry, too many clients already".into());
    let findings = apply(&r).await;
    assert_eq!(outcome(&findings, "connect"), Outcome::Fail);
    assert!(findings
        .retry
        .as_deref()
        .unwrap()
        .contains("too many clients"));
}

#[tokio::test]
async fn unavailable_instance_is_left_alone() {
    let mut r = reaper(vec![idle(1, "app", 30.0)], 40);
    r.inventory = FakeInventory::with_instances(vec![Ok(instance("orders-db", "rebooting"))]);
    let findings = apply(&r).await;
    assert_eq!(Status::from_checks(&findings.checks), Status::Failed);
    assert!(r.reaper.terminate_calls.borrow().is_empty());
}

#[test]
fn log_metric_alarm_uses_the_default_instance_only_when_allow_listed() {
    let mut event = sample("alarm.connections.eventbridge.json");
    event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"] = json!({
        "namespace": "LogMetrics", "name": "TooManyConnections", "dimensions": {}
    });
    let mut with_default = config();
    with_default.default_instance = Some(
        rds_responder::trigger::RdsIdentifier::parse("orders-db", ResourceKind::DbInstance)
            .unwrap(),
    );
    let unlisted = decide(&trigger(event.clone()), &with_default);
    assert!(
        matches!(unlisted, Decision::Skip { ref reason, .. } if reason.contains("LogMetrics/TooManyConnections") && reason.contains("not in ALLOWED_ALARMS")),
        "{unlisted:?}"
    );
    let mut listed = config();
    listed.allowed_alarms = vec!["orders-db-too-many-connections".into()];
    let without_default = decide(&trigger(event.clone()), &listed);
    assert!(
        matches!(without_default, Decision::Skip { ref reason, .. } if reason.contains("DEFAULT_DB_INSTANCE is not set")),
        "{without_default:?}"
    );
    with_default.allowed_alarms = vec!["orders-db-too-many-connections".into()];
    match decide(&trigger(event), &with_default) {
        Decision::Reap { scope, .. } => assert_eq!(scope, Scope::Instance(id("orders-db"))),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sample_manual_payloads_parse() {
    match decide(&trigger(sample("manual.idle-reaper.json")), &config()) {
        Decision::Reap {
            dry_run, policy, ..
        } => {
            assert!(dry_run);
            assert_eq!(policy.idle, Duration::from_secs(15 * 60));
        }
        other => panic!("{other:?}"),
    }
    match decide(&trigger(sample("manual.idle-reaper.apply.json")), &config()) {
        Decision::Reap {
            dry_run, policy, ..
        } => {
            assert!(!dry_run);
            assert_eq!(policy.idle_in_transaction, Some(Duration::from_secs(3600)));
            assert_eq!(policy.max_sessions, 50);
        }
        other => panic!("{other:?}"),
    }
}

fn id(raw: &str) -> RdsIdentifier {
    RdsIdentifier::parse(raw, ResourceKind::DbInstance).unwrap()
}

fn cluster_id(raw: &str) -> RdsIdentifier {
    RdsIdentifier::parse(raw, ResourceKind::DbCluster).unwrap()
}

/// The EventBridge sample alarm reading `metrics` (the `configuration.metrics` array).
fn alarm_with_metrics(metrics: Value) -> Trigger<ManualReap> {
    let mut event = sample("alarm.connections.eventbridge.json");
    event["detail"]["configuration"]["metrics"] = metrics;
    trigger(event)
}

fn metric(namespace: &str, name: &str, dimensions: Value) -> Value {
    json!({"id": "m1", "metricStat": {"metric": {
        "namespace": namespace, "name": name, "dimensions": dimensions
    }, "period": 60, "stat": "Maximum"}, "returnData": true})
}

fn skip_reason(decision: Decision) -> String {
    match decision {
        Decision::Skip { reason, .. } => reason,
        other => panic!("expected a skip, got {other:?}"),
    }
}

fn scope(decision: Decision) -> Scope {
    match decision {
        Decision::Reap { scope, .. } => scope,
        other => panic!("expected a reap, got {other:?}"),
    }
}

#[test]
fn a_cpu_alarm_on_the_instance_reaps_nothing_in_any_shape() {
    let mut bridge = sample("alarm.connections.eventbridge.json");
    bridge["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["name"] =
        json!("CPUUtilization");
    let mut action = sample("alarm.connections.action.json");
    action["alarmData"]["configuration"]["metrics"][0]["metricStat"]["metric"]["name"] =
        json!("CPUUtilization");
    let mut sns = sample("alarm.connections.sns.json");
    let message = sns["Records"][0]["Sns"]["Message"]
        .as_str()
        .unwrap()
        .replace(
            "\"MetricName\": \"DatabaseConnections\"",
            "\"MetricName\": \"CPUUtilization\"",
        );
    sns["Records"][0]["Sns"]["Message"] = json!(message);
    for event in [bridge, action, sns] {
        let reason = skip_reason(decide(&trigger(event), &config()));
        assert!(
            reason.contains("AWS/RDS/CPUUtilization, not AWS/RDS/DatabaseConnections")
                && reason.contains("not in ALLOWED_ALARMS"),
            "{reason}"
        );
    }
}

#[tokio::test]
async fn a_skipped_alarm_contacts_no_database() {
    let r = reaper(vec![idle(1, "app", 30.0)], 40);
    let cpu = alarm_with_metrics(json!([metric(
        "AWS/RDS",
        "CPUUtilization",
        json!({"DBInstanceIdentifier": "orders-db"})
    )]));
    let findings = run(&r, &cpu).await;
    assert_eq!(findings.status, Some(Status::Skipped));
    assert_eq!(*r.inventory.describe_calls.borrow(), 0);
    assert!(r.reaper.opened.borrow().is_empty());
}

#[test]
fn any_statistic_of_database_connections_acts_and_other_namespaces_do_not() {
    for stat in ["Minimum", "Maximum", "Average", "p99"] {
        let mut m = metric(
            "AWS/RDS",
            "DatabaseConnections",
            json!({"DBInstanceIdentifier": "orders-db"}),
        );
        m["metricStat"]["stat"] = json!(stat);
        assert_eq!(
            scope(decide(&alarm_with_metrics(json!([m])), &config())),
            Scope::Instance(id("orders-db"))
        );
    }
    // Same metric name, another namespace (a custom metric): not ours unless allow-listed.
    let custom = alarm_with_metrics(json!([metric(
        "Custom/RDS",
        "DatabaseConnections",
        json!({"DBInstanceIdentifier": "orders-db"})
    )]));
    assert!(skip_reason(decide(&custom, &config())).contains("Custom/RDS/DatabaseConnections"));
    let mut listed = config();
    listed.allowed_alarms = vec!["orders-db-*".into()];
    assert_eq!(
        scope(decide(&custom, &listed)),
        Scope::Instance(id("orders-db"))
    );
}

#[test]
fn aurora_roles_pick_readers_or_writer() {
    let with_role = |role: Option<&str>| {
        let mut dims = json!({"DBClusterIdentifier": "orders-aurora"});
        if let Some(role) = role {
            dims["Role"] = json!(role);
        }
        alarm_with_metrics(json!([metric("AWS/RDS", "DatabaseConnections", dims)]))
    };
    assert_eq!(
        scope(decide(&with_role(Some("READER")), &config())),
        Scope::ClusterReaders(cluster_id("orders-aurora"))
    );
    assert_eq!(
        scope(decide(&with_role(Some("WRITER")), &config())),
        Scope::ClusterWriter(cluster_id("orders-aurora"))
    );
    // Without Role the metric is the sum over every instance: not one database.
    let reason = skip_reason(decide(&with_role(None), &config()));
    assert!(
        reason.contains("summed over every instance of cluster orders-aurora"),
        "{reason}"
    );
    let mut listed = config();
    listed.allowed_alarms = vec!["orders-db-*".into()];
    assert_eq!(
        scope(decide(&with_role(None), &listed)),
        Scope::ClusterWriter(cluster_id("orders-aurora"))
    );
    let reason = skip_reason(decide(&with_role(Some("SERVERLESS")), &config()));
    assert!(reason.contains("Role=\"SERVERLESS\""), "{reason}");
}

#[test]
fn composite_and_metrics_insights_alarms_need_the_allow_list() {
    let mut composite = sample("alarm.connections.eventbridge.json");
    composite["detail"]["configuration"] = json!({
        "alarmRule": "ALARM(orders-db-connections) AND ALARM(orders-db-cpu)",
        "description": "composite"
    });
    let mut insights = sample("alarm.connections.eventbridge.json");
    insights["detail"]["configuration"]["metrics"] = json!([{
        "id": "q1", "expression": "SELECT MAX(DatabaseConnections) FROM SCHEMA(\"AWS/RDS\", DBInstanceIdentifier) WHERE DBInstanceIdentifier = 'billing-db'",
        "period": 60, "returnData": true
    }]);
    let mut with_default = config();
    with_default.default_instance = Some(id("orders-db"));
    for (event, what) in [
        (&composite, "a composite alarm"),
        (&insights, "a metric-math or Metrics Insights alarm"),
    ] {
        let reason = skip_reason(decide(&trigger(event.clone()), &with_default));
        assert!(
            reason.contains(what) && reason.contains("ALLOWED_ALARMS"),
            "{reason}"
        );
    }
    let mut listed = with_default.clone();
    listed.allowed_alarms = vec!["orders-db-too-many-connections".into()];
    // A composite names nothing: the default instance.
    assert_eq!(
        scope(decide(&trigger(composite), &listed)),
        Scope::Instance(id("orders-db"))
    );
    // A query names a database we cannot read: never the default instead of it.
    let reason = skip_reason(decide(&trigger(insights), &listed));
    assert!(
        reason.contains("name no database; idle-reaper does not guess"),
        "{reason}"
    );
}

#[test]
fn alarms_on_too_few_connections_never_reap() {
    // The failover samples: DatabaseConnections below 1, in all three shapes.
    let mut listed = config();
    listed.allowed_alarms = vec!["*".into()];
    for shape in [
        "alarm.eventbridge.json",
        "alarm.action.json",
        "alarm.sns.json",
    ] {
        for config in [config(), listed.clone()] {
            let reason = skip_reason(decide(&trigger(sample(shape)), &config));
            assert!(
                reason.contains("fires below its threshold"),
                "{shape}: {reason}"
            );
        }
    }
    let band = |reason: &str| {
        let mut event = sample("alarm.connections.eventbridge.json");
        event["detail"]["state"]["reason"] = json!(reason);
        event["detail"]["configuration"]["metrics"] = json!([
            metric("AWS/RDS", "DatabaseConnections", json!({"DBInstanceIdentifier": "orders-db"})),
            {"id": "ad1", "expression": "ANOMALY_DETECTION_BAND(m1, 2)", "returnData": true}
        ]);
        trigger(event)
    };
    assert!(skip_reason(decide(
        &band("Thresholds Crossed: 1 datapoint [3.0 (22/11/26 03:11:00)] was less than the lower thresholds [12.5]"),
        &config()
    ))
    .contains("fires below its threshold"));
    assert_eq!(
        scope(decide(
            &band("Thresholds Crossed: 1 datapoint [512.0 (22/11/26 03:11:00)] was greater than the upper thresholds [380.2]"),
            &config()
        )),
        Scope::Instance(id("orders-db"))
    );
}

#[test]
fn a_connections_alarm_that_does_not_say_which_side_needs_the_allow_list() {
    let mut event = sample("alarm.connections.eventbridge.json");
    event["detail"]["state"]["reason"] = json!("Unchecked: Initial alarm creation");
    let reason = skip_reason(decide(&trigger(event.clone()), &config()));
    assert!(
        reason.contains("does not say it fired above its threshold"),
        "{reason}"
    );
    let mut listed = config();
    listed.allowed_alarms = vec!["orders-db-too-many-connections".into()];
    assert_eq!(
        scope(decide(&trigger(event), &listed)),
        Scope::Instance(id("orders-db"))
    );
}

#[test]
fn suppressed_alarm_actions_mean_nothing_to_do() {
    let mut event = sample("alarm.connections.eventbridge.json");
    event["detail"]["state"]["actionsSuppressedBy"] = json!("Alarm");
    event["detail"]["state"]["actionsSuppressedReason"] = json!("maintenance window");
    let reason = skip_reason(decide(&trigger(event), &config()));
    assert!(reason.contains("actions suppressed (by Alarm)"), "{reason}");
}

#[test]
fn metrics_from_another_account_are_refused() {
    let mut event = sample("alarm.connections.eventbridge.json");
    event["detail"]["configuration"]["metrics"][0]["accountId"] = json!("222222222222");
    let err = parse_trigger::<ManualReap, TargetList>(event, &origin(FUNCTION)).unwrap_err();
    assert_eq!(err.kind(), "ForeignAccount");
    assert!(
        err.to_string()
            .contains("detail.configuration.metrics[0].accountId"),
        "{err}"
    );
    let mut own = sample("alarm.connections.eventbridge.json");
    own["detail"]["configuration"]["metrics"][0]["accountId"] = json!("123456789012");
    assert_eq!(
        scope(decide(&trigger(own), &config())),
        Scope::Instance(id("orders-db"))
    );
}

#[test]
fn metric_math_acts_only_when_it_resolves_to_exactly_one_database() {
    let two = json!([
        metric("AWS/RDS", "DatabaseConnections", json!({"DBInstanceIdentifier": "orders-db"})),
        metric("AWS/RDS", "DatabaseConnections", json!({"DBInstanceIdentifier": "billing-db"})),
        {"id": "e1", "expression": "m1 + m2", "returnData": true}
    ]);
    let one = json!([
        metric("AWS/RDS", "DatabaseConnections", json!({"DBInstanceIdentifier": "orders-db"})),
        metric("AWS/RDS", "MaxConnections", json!({"DBInstanceIdentifier": "orders-db"})),
        {"id": "e1", "expression": "100 * m1 / m2", "returnData": true}
    ]);
    let mut listed = config();
    listed.allowed_alarms = vec!["orders-db-too-many-connections".into()];
    listed.default_instance = Some(id("other-db"));
    let reason = skip_reason(decide(&alarm_with_metrics(two.clone()), &listed));
    assert!(
        reason.contains("resolves to 2 databases (db-instance orders-db, db-instance billing-db)"),
        "{reason}"
    );
    assert_eq!(
        scope(decide(&alarm_with_metrics(one.clone()), &listed)),
        Scope::Instance(id("orders-db"))
    );
    // Not allow-listed: nothing, whatever it resolves to.
    let reason = skip_reason(decide(&alarm_with_metrics(one), &config()));
    assert!(reason.contains("metric-math"), "{reason}");
}

#[test]
fn an_anomaly_band_over_database_connections_is_a_connections_alarm() {
    let band = json!([
        metric("AWS/RDS", "DatabaseConnections", json!({"DBInstanceIdentifier": "orders-db"})),
        {"id": "ad1", "expression": "ANOMALY_DETECTION_BAND(m1, 2)", "returnData": true}
    ]);
    assert_eq!(
        scope(decide(&alarm_with_metrics(band), &config())),
        Scope::Instance(id("orders-db"))
    );
}

#[test]
fn an_aggregate_connections_alarm_without_a_database_is_skipped() {
    let by_class = alarm_with_metrics(json!([metric(
        "AWS/RDS",
        "DatabaseConnections",
        json!({"DatabaseClass": "db.r6g.large"})
    )]));
    let mut with_default = config();
    with_default.default_instance = Some(id("orders-db"));
    let reason = skip_reason(decide(&by_class, &with_default));
    assert!(
        reason.contains("its dimensions (DatabaseClass) do not name one RDS database"),
        "{reason}"
    );
    // An instance dimension next to another one is not the RDS metric either.
    let extra = alarm_with_metrics(json!([metric(
        "AWS/RDS",
        "DatabaseConnections",
        json!({"DBInstanceIdentifier": "orders-db", "Shard": "7"})
    )]));
    let reason = skip_reason(decide(&extra, &with_default));
    assert!(reason.contains("(DBInstanceIdentifier, Shard)"), "{reason}");
    // No dimension at all: only an allow-listed alarm, on the default instance.
    let bare = alarm_with_metrics(json!([metric("AWS/RDS", "DatabaseConnections", json!({}))]));
    assert!(skip_reason(decide(&bare, &with_default)).contains("without any dimension"));
    with_default.allowed_alarms = vec!["orders-db-too-many-connections".into()];
    assert_eq!(
        scope(decide(&bare, &with_default)),
        Scope::Instance(id("orders-db"))
    );
}

#[test]
fn allow_list_patterns_match_whole_names() {
    let cpu = |name: &str| {
        let mut event = sample("alarm.connections.eventbridge.json");
        event["detail"]["alarmName"] = json!(name);
        event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["name"] =
            json!("CPUUtilization");
        trigger(event)
    };
    let mut listed = config();
    listed.allowed_alarms = vec!["*-too-many-connections".into(), "exact-name".into()];
    for (name, acts) in [
        ("orders-db-too-many-connections", true),
        ("-too-many-connections", true),
        ("orders-db-too-many-connections-old", false),
        ("exact-name", true),
        ("exact-name-2", false),
        ("pre-exact-name", false),
        ("ördërs-too-many-connections", true),
    ] {
        let decision = decide(&cpu(name), &listed);
        assert_eq!(
            matches!(decision, Decision::Reap { .. }),
            acts,
            "{name}: {decision:?}"
        );
    }
}

#[test]
fn sns_metric_math_alarms_are_read_too() {
    let mut sns = sample("alarm.connections.sns.json");
    let mut message: Value =
        serde_json::from_str(sns["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    message["Trigger"] = json!({"Metrics": [
        {"Id": "m1", "ReturnData": false, "MetricStat": {"Metric": {
            "Namespace": "AWS/RDS", "MetricName": "DatabaseConnections",
            "Dimensions": [{"value": "orders-db", "name": "DBInstanceIdentifier"}]}, "Period": 60, "Stat": "Maximum"}},
        {"Id": "m2", "ReturnData": false, "MetricStat": {"Metric": {
            "Namespace": "AWS/RDS", "MetricName": "DatabaseConnections",
            "Dimensions": [{"value": "billing-db", "name": "DBInstanceIdentifier"}]}, "Period": 60, "Stat": "Maximum"}},
        {"Id": "e1", "Expression": "m1 + m2", "ReturnData": true}
    ]});
    sns["Records"][0]["Sns"]["Message"] = json!(message.to_string());
    let mut listed = config();
    listed.allowed_alarms = vec!["orders-db-too-many-connections".into()];
    let reason = skip_reason(decide(&trigger(sns), &listed));
    assert!(reason.contains("resolves to 2 databases"), "{reason}");
}

/// A cluster `orders-aurora` with writer `-1` and readers `-2`, `-3`, each its own host.
fn aurora_reaper(sessions: Vec<Session>) -> IdleReaper<FakeInventory, FakeReaper> {
    let mut r = reaper(sessions, 40);
    r.inventory.cluster = Some(rds_responder::rds::ClusterInfo {
        id: "orders-aurora".into(),
        status: "available".into(),
        engine: "aurora-postgresql".into(),
        endpoint: None,
        members: (1..=3)
            .map(|n| rds_responder::rds::ClusterMember {
                instance_id: format!("orders-aurora-{n}"),
                is_writer: n == 1,
            })
            .collect(),
    });
    for n in 1..=3 {
        let name = format!("orders-aurora-{n}");
        r.inventory
            .instances_by_id
            .insert(name.clone(), instance(&name, "available"));
    }
    r
}

fn reader_alarm() -> Trigger<ManualReap> {
    alarm_with_metrics(json!([metric(
        "AWS/RDS",
        "DatabaseConnections",
        json!({"DBClusterIdentifier": "orders-aurora", "Role": "READER"})
    )]))
}

fn opened_hosts(r: &IdleReaper<FakeInventory, FakeReaper>) -> Vec<String> {
    r.reaper
        .opened
        .borrow()
        .iter()
        .map(|t| {
            t.rds_endpoint
                .host
                .split('.')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_reader_alarm_reaps_each_reader_within_its_own_cap_and_never_the_writer() {
    let r = aurora_reaper(vec![idle(1, "app", 30.0), idle(2, "app", 40.0)]);
    let findings = run(&r, &reader_alarm()).await;
    assert_eq!(opened_hosts(&r), ["orders-aurora-2", "orders-aurora-3"]);
    assert_eq!(
        *r.reaper.terminate_calls.borrow(),
        vec![vec![2, 1], vec![2, 1]]
    );
    for reader in ["orders-aurora-2", "orders-aurora-3"] {
        let cap = check(&findings, &format!("{reader}: cap"));
        assert_eq!(cap.outcome, Outcome::Pass, "{}", cap.detail);
        assert!(cap.detail.contains("cap 20 per run"), "{}", cap.detail);
    }
    assert_eq!(
        findings.target,
        Some(rds_responder::trigger::Target::Cluster(cluster_id(
            "orders-aurora"
        )))
    );
}

#[tokio::test]
async fn a_writer_alarm_reaps_only_the_writer() {
    let r = aurora_reaper(vec![idle(1, "app", 30.0)]);
    let writer = alarm_with_metrics(json!([metric(
        "AWS/RDS",
        "DatabaseConnections",
        json!({"DBClusterIdentifier": "orders-aurora", "Role": "WRITER"})
    )]));
    run(&r, &writer).await;
    assert_eq!(opened_hosts(&r), ["orders-aurora-1"]);
}

#[tokio::test]
async fn a_cluster_without_readers_reaps_nothing_and_says_why() {
    let mut r = aurora_reaper(vec![idle(1, "app", 30.0)]);
    if let Some(cluster) = r.inventory.cluster.as_mut() {
        cluster.members.retain(|m| m.is_writer);
    }
    let findings = run(&r, &reader_alarm()).await;
    assert!(r.reaper.opened.borrow().is_empty());
    assert!(check(&findings, "describe")
        .detail
        .contains("no reader instances"));
}

#[tokio::test]
async fn a_kill_failing_midway_reports_who_was_terminated_and_asks_no_retry() {
    let mut r = reaper(
        vec![
            idle(1, "app", 30.0),
            idle(2, "app", 40.0),
            idle(3, "app", 50.0),
        ],
        40,
    );
    r.reaper.fail_after = Some((1, "Lost connection to server during query".into()));
    let findings = apply(&r).await;
    let terminate = check(&findings, "terminate");
    assert_eq!(terminate.outcome, Outcome::Fail);
    for part in [
        "terminated 1 sessions",
        "outcome unknown for 1",
        "1 not reached",
        "then failed: Lost connection",
    ] {
        assert!(
            terminate.detail.contains(part),
            "{part}: {}",
            terminate.detail
        );
    }
    assert_eq!(terminate.data["terminated_ids"], json!([3]));
    assert_eq!(terminate.data["unknown_ids"], json!([2]));
    assert_eq!(terminate.data["not_reached"], 1);
    assert_eq!(terminate.data["spared"], 0);
    assert!(
        findings.summary.contains("terminated 1 sessions")
            && findings.summary.contains("then failed"),
        "{}",
        findings.summary
    );
    assert_eq!(findings.retry, None);
}

#[tokio::test]
async fn a_terminate_failing_before_any_kill_is_never_reported_as_harmless() {
    let mut r = reaper(vec![idle(1, "app", 30.0)], 40);
    r.reaper.fail_after = Some((0, "canceling statement due to statement timeout".into()));
    let findings = apply(&r).await;
    let terminate = check(&findings, "terminate");
    assert_eq!(terminate.outcome, Outcome::Fail);
    assert!(
        terminate
            .detail
            .starts_with("nothing terminated; outcome unknown for 1")
            && terminate.detail.contains("statement timeout"),
        "{}",
        terminate.detail
    );
    assert_eq!(findings.retry, None, "it may have acted: never run again");
}

#[tokio::test]
async fn work_stops_before_the_deadline_and_says_what_was_not_reached() {
    let r = reaper(vec![idle(1, "app", 30.0), idle(2, "app", 40.0)], 40);
    let ledger = MemoryLedger::default();
    let mut invocation = invocation(FUNCTION);
    // Less time left than the 10 s reserve.
    invocation.deadline = invocation.now + chrono::Duration::seconds(5);
    let findings = r
        .respond(
            &manual(json!({"db": "orders-db", "dry_run": false})),
            &invocation,
            &guard(&ledger, &invocation),
        )
        .await;
    let terminate = check(&findings, "terminate");
    assert!(
        terminate
            .detail
            .contains("nothing terminated; 2 not reached")
            && terminate.detail.contains("before the invocation deadline"),
        "{}",
        terminate.detail
    );
}

#[tokio::test]
async fn a_database_locked_by_another_run_is_left_to_it() {
    let r = reaper(vec![idle(1, "app", 30.0)], 40);
    let ledger = MemoryLedger::default();
    ledger.locks.borrow_mut().insert(
        "db-instance#orders-db".into(),
        rds_responder::ledger::LockHolder {
            function: "idle-reaper".into(),
            request_id: "req-other".into(),
            trigger_key: "idle-reaper#schedule#rule#2026".into(),
            until: chrono::Utc::now() + chrono::Duration::seconds(30),
        },
    );
    let findings = run_with(
        &r,
        &manual(json!({"db": "orders-db", "dry_run": false})),
        &ledger,
    )
    .await;
    assert!(r.reaper.terminate_calls.borrow().is_empty());
    assert_eq!(findings.status, Some(Status::Skipped));
    let terminate = check(&findings, "terminate");
    assert!(
        terminate
            .detail
            .contains("being acted on by idle-reaper run req-other")
            && terminate.detail.contains("idle-reaper#schedule#rule#2026"),
        "{}",
        terminate.detail
    );
    // An expired lock is no obstacle.
    ledger
        .locks
        .borrow_mut()
        .values_mut()
        .for_each(|h| h.until = chrono::Utc::now() - chrono::Duration::seconds(1));
    run_with(
        &r,
        &manual(json!({"db": "orders-db", "dry_run": false})),
        &ledger,
    )
    .await;
    assert_eq!(r.reaper.terminate_calls.borrow().len(), 1);
}

#[tokio::test]
async fn a_ledger_that_cannot_record_the_intent_stops_the_kill() {
    let r = reaper(vec![idle(1, "app", 30.0)], 40);
    let ledger = MemoryLedger::failing(&["begin-acting"]);
    let findings = run_with(
        &r,
        &manual(json!({"db": "orders-db", "dry_run": false})),
        &ledger,
    )
    .await;
    assert!(r.reaper.terminate_calls.borrow().is_empty());
    assert_eq!(Status::from_checks(&findings.checks), Status::Failed);
    assert!(check(&findings, "terminate").detail.contains("retry"));
    assert!(ledger.locks.borrow().is_empty(), "the lock is given back");
    assert!(
        findings
            .retry
            .as_deref()
            .is_some_and(|r| r.contains("begin-acting")),
        "nothing was done, so Lambda's retry may act: {:?}",
        findings.retry
    );
}

#[tokio::test]
async fn endpoint_overrides_are_stated_in_the_report() {
    let mut r = reaper(vec![idle(1, "app", 30.0)], 40);
    r.endpoints =
        rds_responder::config::EndpointMap::default().with("orders-db", "127.0.0.1", 6543);
    let findings = apply(&r).await;
    let connect = check(&findings, "connect");
    assert!(
        connect.detail.contains("DB_ENDPOINT_OVERRIDES in effect")
            && connect.detail.contains("127.0.0.1:6543"),
        "{}",
        connect.detail
    );
    assert_eq!(connect.data["endpoint_override"], true);
}

// The runner around idle-reaper: the acted-before-delivered path.

type ReaperRunner = Runner<IdleReaper<FakeInventory, FakeReaper>, MemoryLedger, RecordingSink>;

fn runner(
    r: IdleReaper<FakeInventory, FakeReaper>,
    ledger: MemoryLedger,
    sink: RecordingSink,
) -> ReaperRunner {
    rds_responder::testing::runner(r, ledger, sink)
}

fn at(now: chrono::DateTime<chrono::Utc>, request_id: &str) -> Invocation {
    invocation_at(FUNCTION, now, request_id)
}

fn three_idle() -> IdleReaper<FakeInventory, FakeReaper> {
    reaper(
        vec![
            idle(1, "app", 30.0),
            idle(2, "app", 40.0),
            idle(3, "app", 50.0),
        ],
        40,
    )
}

const ALARM_KEY: &str = "idle-reaper#alarm#arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-db-too-many-connections#2026-11-22T03:12:30.412Z";

#[tokio::test]
async fn a_refused_publish_then_a_retry_terminates_once_and_delivers_the_same_report() {
    let runner = runner(
        three_idle(),
        MemoryLedger::default(),
        RecordingSink::refusing(1),
    );
    let now = chrono::Utc::now();
    let err = runner
        .handle(
            sample("alarm.connections.eventbridge.json"),
            &at(now, "req-a"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "PublishFailed");
    let text = err.to_string();
    assert!(
        text.contains(
            "Lambda's retry delivers the report again and acts on nothing: do not run this by hand"
        ) && text.contains("terminated 3"),
        "{text}"
    );
    assert!(matches!(
        runner.ledger.record(ALARM_KEY),
        Some(rds_responder::testing::LedgerRecord::Acted { ref delivered, .. })
            if *delivered == ["s3", "cloudwatch"]
    ));
    // Lambda's retry, a minute later, after the first claim's deadline; another shape too.
    for (shape, request) in [
        ("alarm.connections.eventbridge.json", "req-b"),
        ("alarm.connections.sns.json", "req-c"),
    ] {
        let again = runner
            .handle(
                sample(shape),
                &at(now + chrono::Duration::minutes(2), request),
            )
            .await
            .unwrap();
        assert_eq!(again.id, "req-a");
        assert_eq!(again.duplicate_of.as_deref(), Some("req-a"));
    }
    assert_eq!(
        *runner.responder.reaper.terminate_calls.borrow(),
        vec![vec![3, 2, 1]]
    );
    let delivered = runner.sink.delivered.borrow();
    // Refused once on SNS; the retry delivers to SNS only (S3 and the metrics had it), then
    // the later duplicate finds it completed.
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        *runner.sink.calls.borrow(),
        vec![vec!["sns", "s3", "cloudwatch"], vec!["sns"]]
    );
    assert_eq!(
        runner.sink.fail_first.get(),
        0,
        "the first delivery was tried"
    );
    assert!(delivered.iter().all(|r| r.id == "req-a"));
    assert_eq!(
        report_check(&delivered[0], "terminate").data["terminated"],
        3
    );
    assert!(runner.ledger.locks.borrow().is_empty());
}

#[tokio::test]
async fn a_failed_final_ledger_write_never_lets_a_late_retry_act() {
    let runner = runner(
        three_idle(),
        MemoryLedger::failing(&["complete"]),
        RecordingSink::default(),
    );
    let now = chrono::Utc::now();
    let first = runner
        .handle(
            sample("alarm.connections.eventbridge.json"),
            &at(now, "req-a"),
        )
        .await
        .unwrap();
    assert_eq!(first.status, Status::Ok);
    let late = runner
        .handle(
            sample("alarm.connections.action.json"),
            &at(now + chrono::Duration::hours(1), "req-b"),
        )
        .await
        .unwrap();
    assert_eq!(late.id, "req-a");
    assert_eq!(runner.responder.reaper.terminate_calls.borrow().len(), 1);
}

#[tokio::test]
async fn an_action_the_ledger_did_not_record_is_never_repeated() {
    // The run acts, then neither its record nor its completion reaches the ledger (throttled,
    // or the function timed out): the record stays ACTING.
    let runner = runner(
        three_idle(),
        MemoryLedger::failing(&["record-acted", "record-acted", "record-acted", "complete"]),
        RecordingSink::default(),
    );
    let now = chrono::Utc::now();
    runner
        .handle(
            sample("alarm.connections.eventbridge.json"),
            &at(now, "req-a"),
        )
        .await
        .unwrap();
    assert!(matches!(
        runner.ledger.record(ALARM_KEY),
        Some(rds_responder::testing::LedgerRecord::Acting { .. })
    ));
    // DynamoDB's TTL sweep long after the deadline keeps it (kept for the retention period).
    runner.ledger.sweep_expired(now + chrono::Duration::days(2));
    assert!(
        runner.ledger.record(ALARM_KEY).is_some(),
        "swept at the deadline"
    );
    // While the first run could still be alive, a duplicate waits for it; at its own stop
    // point (2 s here) it gives up, acting on nothing, and Lambda retries it later.
    let mut short = at(now + chrono::Duration::seconds(5), "req-b");
    short.deadline = chrono::Utc::now() + chrono::Duration::seconds(12);
    let err = runner
        .handle(sample("alarm.connections.eventbridge.json"), &short)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "DuplicateInProgress");
    assert!(err.to_string().contains("(req-a)"), "{err}");
    // Lambda's own retry of the run that acted (the same request id) knows that run ended:
    // reported at once as unknown, below, as after the holder's deadline.
    // After its deadline: the outcome is unknown, reported, and not repeated.
    let report = runner
        .handle(
            sample("alarm.connections.eventbridge.json"),
            &at(now + chrono::Duration::minutes(5), "req-c"),
        )
        .await
        .unwrap();
    assert_eq!(report.status, Status::Failed);
    assert!(report_check(&report, "earlier-run")
        .detail
        .contains("run req-a began acting"));
    assert_eq!(runner.responder.reaper.terminate_calls.borrow().len(), 1);
}

#[tokio::test]
async fn no_retry_is_requested_once_anything_was_terminated() {
    let mut r = aurora_reaper(vec![idle(1, "app", 30.0)]);
    r.reaper.unreachable = vec!["orders-aurora-3.abc123.us-east-1.rds.amazonaws.com".into()];
    let runner = runner(r, MemoryLedger::default(), RecordingSink::default());
    let mut event = sample("alarm.connections.eventbridge.json");
    event["detail"]["configuration"]["metrics"] = json!([metric(
        "AWS/RDS",
        "DatabaseConnections",
        json!({"DBClusterIdentifier": "orders-aurora", "Role": "READER"})
    )]);
    let report = runner
        .handle(event, &at(chrono::Utc::now(), "req-a"))
        .await
        .unwrap();
    assert_eq!(runner.responder.reaper.terminate_calls.borrow().len(), 1);
    assert_eq!(
        report_check(&report, "orders-aurora-3: connect").outcome,
        Outcome::Fail
    );
    assert_eq!(report.status, Status::Failed);
}

#[tokio::test]
async fn nothing_terminated_and_unreachable_asks_lambda_to_retry() {
    let mut r = three_idle();
    r.reaper.snapshot = Err("FATAL: sorry, too many clients already".into());
    let runner = runner(r, MemoryLedger::default(), RecordingSink::default());
    let err = runner
        .handle(
            sample("alarm.connections.eventbridge.json"),
            &at(chrono::Utc::now(), "req-a"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "RetryRequested");
    assert!(
        runner.ledger.records.borrow().is_empty(),
        "claim given back"
    );
    assert_eq!(runner.sink.delivered.borrow().len(), 1);
}

#[tokio::test]
async fn events_dated_more_than_five_minutes_ahead_are_refused() {
    let happened = chrono::DateTime::parse_from_rfc3339("2026-11-22T03:12:30.412Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let runner = runner(
        three_idle(),
        MemoryLedger::default(),
        RecordingSink::default(),
    );
    // Exactly at the skew limit: accepted.
    let at_limit = happened - chrono::Duration::seconds(300);
    runner
        .handle(
            sample("alarm.connections.eventbridge.json"),
            &at(at_limit, "req-a"),
        )
        .await
        .unwrap();
    let runner = super::tests::runner(
        three_idle(),
        MemoryLedger::default(),
        RecordingSink::default(),
    );
    for (shape, field) in [
        (
            "alarm.connections.eventbridge.json",
            "detail.state.timestamp",
        ),
        ("alarm.connections.action.json", "alarmData.state.timestamp"),
        ("alarm.connections.sns.json", "Message.StateChangeTime"),
    ] {
        let err = runner
            .handle(
                sample(shape),
                &at(at_limit - chrono::Duration::milliseconds(1), "req-b"),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "InvalidField", "{shape}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("`{field}`")) && text.contains("300 s in the future"),
            "{text}"
        );
    }
    assert!(runner.ledger.calls.borrow().is_empty());
    assert!(runner.responder.reaper.terminate_calls.borrow().is_empty());
}

#[tokio::test]
async fn a_reused_request_id_with_another_payload_is_refused() {
    let runner = runner(
        three_idle(),
        MemoryLedger::default(),
        RecordingSink::default(),
    );
    let now = chrono::Utc::now();
    let dry = json!({"db": "orders-db", "request_id": "inc-2231"});
    let first = runner.handle(dry.clone(), &at(now, "req-a")).await.unwrap();
    assert_eq!(first.status, Status::DryRun);
    // The same request, spelled with its default: the same request.
    let same = runner
        .handle(
            json!({"request_id": "inc-2231", "dry_run": true, "db": "orders-db"}),
            &at(now, "req-b"),
        )
        .await
        .unwrap();
    assert_eq!(same.duplicate_of.as_deref(), Some("req-a"));
    let err = runner
        .handle(
            json!({"db": "orders-db", "request_id": "inc-2231", "dry_run": false}),
            &at(now, "req-c"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "InvalidField");
    assert!(
        err.to_string()
            .contains("`request_id` was already used for a different request"),
        "{err}"
    );
    assert!(runner.responder.reaper.terminate_calls.borrow().is_empty());
}

#[test]
fn sample_alarms_are_decided_by_their_kind() {
    assert_eq!(
        scope(decide(
            &trigger(sample("alarm.aurora-readers.eventbridge.json")),
            &config()
        )),
        Scope::ClusterReaders(cluster_id("orders-aurora"))
    );
    let mut with_default = config();
    with_default.default_instance = Some(id("orders-db"));
    for (name, needle) in [
        ("alarm.cpu.eventbridge.json", "AWS/RDS/CPUUtilization"),
        ("alarm.composite.eventbridge.json", "a composite alarm"),
    ] {
        let reason = skip_reason(decide(&trigger(sample(name)), &with_default));
        assert!(reason.contains(needle), "{name}: {reason}");
    }
}

#[test]
fn an_alarm_without_metric_configuration_needs_the_allow_list_and_a_default() {
    let mut bare = sample("alarm.connections.eventbridge.json");
    bare["detail"]
        .as_object_mut()
        .unwrap()
        .remove("configuration");
    let reason = skip_reason(decide(&trigger(bare.clone()), &config()));
    assert!(
        reason.contains("without a metric configuration") && reason.contains("ALLOWED_ALARMS"),
        "{reason}"
    );
    let mut listed = config();
    listed.allowed_alarms = vec!["orders-db-too-many-connections".into()];
    assert!(skip_reason(decide(&trigger(bare.clone()), &listed)).contains("DEFAULT_DB_INSTANCE"));
    listed.default_instance = Some(id("orders-db"));
    assert_eq!(
        scope(decide(&trigger(bare), &listed)),
        Scope::Instance(id("orders-db"))
    );
}

#[test]
fn only_allow_listed_schedules_act_and_others_plan() {
    let mut rule = sample("schedule.eventbridge.json");
    rule["resources"] = json!(["arn:aws:events:us-east-1:123456789012:rule/orders-db-hygiene"]);
    let scheduler = json!({
        "scheduler": {
            "schedule_arn": "arn:aws:scheduler:us-east-1:123456789012:schedule/default/orders-db-hygiene",
            "scheduled_time": "2026-11-22T04:00:00Z"
        },
        "targets": [{"db_instance": "orders-db"}]
    });
    let mut listed = config();
    listed.allowed_schedules = vec!["*-hygiene".into(), "rule/*-hygiene".into()];
    // A bare name lists a Scheduler schedule of the default group, not a rule of that name.
    let mut schedules_only = config();
    schedules_only.allowed_schedules = vec!["*-hygiene".into()];
    match decide(&trigger(rule.clone()), &schedules_only) {
        Decision::Reap { dry_run, .. } => assert!(dry_run, "a rule is not a Scheduler schedule"),
        other => panic!("{other:?}"),
    }
    for event in [rule, scheduler] {
        let dry = |config: &ReaperConfig| match decide(&trigger(event.clone()), config) {
            Decision::Reap { dry_run, scope, .. } => {
                assert_eq!(scope, Scope::Instance(id("orders-db")));
                dry_run
            }
            other => panic!("{other:?}"),
        };
        assert!(dry(&config()), "an unlisted schedule only plans");
        assert!(!dry(&listed), "a listed schedule acts");
        let mut planning = listed.clone();
        planning.automatic_dry_run = true;
        assert!(dry(&planning), "AUTOMATIC_DRY_RUN still wins");
    }
}
