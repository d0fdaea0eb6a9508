use std::time::Duration;

use serde_json::json;

use rds_responder::rds::RdsError;
use rds_responder::report::{Findings, Outcome, Status};
use rds_responder::runner::Responder;
use rds_responder::sql::sessions::{Session, SessionSnapshot, SessionState};
use rds_responder::testing::*;
use rds_responder::trigger::parse_trigger;

use super::*;

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
    Session {
        id,
        user: Some(user.into()),
        database: Some("app".into()),
        application: Some("web".into()),
        client_addr: Some("10.0.0.9".parse().unwrap()),
        state: SessionState::Idle,
        idle_seconds: Some(minutes * 60.0),
        superuser: false,
        replication: false,
        command: Some("client backend".into()),
        backend_start: None,
        state_change: None,
    }
}

fn reaper(sessions: Vec<Session>, total: u64) -> IdleReaper<FakeInventory, FakeReaper> {
    IdleReaper {
        inventory: FakeInventory::with_instances(vec![Ok(instance("orders-db", "available"))]),
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

/// A check of the findings by name.
fn check<'a>(findings: &'a Findings, name: &str) -> &'a rds_responder::report::Check {
    findings
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name}: {:?}", findings.checks))
}

/// A manual request that really terminates, against `r`.
async fn apply(r: &IdleReaper<FakeInventory, FakeReaper>) -> Findings {
    r.respond(
        &manual(json!({"db": "orders-db", "dry_run": false})),
        &invocation(FUNCTION),
    )
    .await
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
        let err = parse_trigger::<ManualReap>(payload, &origin)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{err} lacks {needle}");
    }
}

#[test]
fn alarms_act_only_on_entering_alarm() {
    for shape in [
        "alarm.eventbridge.json",
        "alarm.action.json",
        "alarm.sns.json",
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
    let findings = r
        .respond(&manual(json!({"db": "orders-db"})), &invocation(FUNCTION))
        .await;
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
        detail: "AccessDenied".into(),
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
fn log_metric_alarm_without_dimension_uses_the_default_instance() {
    let mut event = sample("alarm.eventbridge.json");
    event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"] = json!({
        "namespace": "LogMetrics", "name": "TooManyConnections", "dimensions": {}
    });
    let without = decide(&trigger(event.clone()), &config());
    assert!(
        matches!(without, Decision::Skip { ref reason, .. } if reason.contains("DEFAULT_DB_INSTANCE")),
        "{without:?}"
    );
    let mut with_default = config();
    with_default.default_instance = Some(
        rds_responder::trigger::RdsIdentifier::parse("orders-db", ResourceKind::DbInstance)
            .unwrap(),
    );
    match decide(&trigger(event), &with_default) {
        Decision::Reap { target, .. } => assert_eq!(target.id().as_str(), "orders-db"),
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
