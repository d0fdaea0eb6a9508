//! The alarm-scope rule at its edges, for both metrics that use it (the reason is asserted, not
//! only the verdict).

use std::collections::BTreeMap;

use chrono::Utc;

use super::*;
use crate::trigger::{AlarmMetric, AlarmState, Delivery};

const CONNECTIONS: WatchedMetric = WatchedMetric {
    function: "idle-reaper",
    namespace: "AWS/RDS",
    name: "DatabaseConnections",
    fires: Breach::Above,
    answers: "there are too many connections",
};
const FREE_STORAGE: WatchedMetric = WatchedMetric {
    function: "storage-guard",
    namespace: "AWS/RDS",
    name: "FreeStorageSpace",
    fires: Breach::Below,
    answers: "free storage is low",
};

fn dims(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn metric(name: &str, pairs: &[(&str, &str)]) -> AlarmMetric {
    AlarmMetric {
        namespace: "AWS/RDS".into(),
        name: name.into(),
        dimensions: dims(pairs),
    }
}

fn alarm(metrics: Vec<AlarmMetric>, breach: Breach) -> AlarmChange {
    AlarmChange {
        name: "orders-low".into(),
        arn: None,
        new_state: AlarmState::Alarm,
        previous_state: Some(AlarmState::Ok),
        reason: None,
        description: None,
        metric: None,
        dimensions: BTreeMap::new(),
        metrics,
        expressions: Vec::new(),
        composite: false,
        breach,
        actions_suppressed_by: None,
        time: Utc::now(),
        delivery: Delivery::EventBridge,
    }
}

fn id(raw: &str) -> RdsIdentifier {
    RdsIdentifier::parse(raw, ResourceKind::DbInstance).unwrap()
}

fn instance(db: &str) -> Vec<AlarmMetric> {
    vec![metric("FreeStorageSpace", &[("DBInstanceIdentifier", db)])]
}

fn err(result: Result<Scope, String>) -> String {
    result.expect_err("expected a refusal")
}

const NONE: &[String] = &[];

#[test]
fn the_watched_metric_on_its_side_names_its_instance() {
    let a = alarm(instance("orders-db"), Breach::Below);
    assert_eq!(
        alarm_scope(&a, &FREE_STORAGE, NONE, None),
        Ok(Scope::Instance(id("orders-db")))
    );
    let c = alarm(
        vec![metric(
            "DatabaseConnections",
            &[("DBInstanceIdentifier", "orders-db")],
        )],
        Breach::Above,
    );
    assert_eq!(
        alarm_scope(&c, &CONNECTIONS, NONE, None),
        Ok(Scope::Instance(id("orders-db")))
    );
}

#[test]
fn the_other_side_is_refused_with_the_reason_even_when_listed() {
    let a = alarm(instance("orders-db"), Breach::Above);
    let listed = ["orders-*".to_string()];
    let reason = err(alarm_scope(&a, &FREE_STORAGE, &listed, None));
    assert_eq!(
        reason,
        "alarm orders-low fires above its threshold; storage-guard acts only when free storage is low"
    );
    let c = alarm(
        vec![metric(
            "DatabaseConnections",
            &[("DBInstanceIdentifier", "orders-db")],
        )],
        Breach::Below,
    );
    assert_eq!(
        err(alarm_scope(&c, &CONNECTIONS, &listed, None)),
        "alarm orders-low fires below its threshold; idle-reaper acts only when there are too many connections"
    );
}

#[test]
fn an_unknown_side_acts_only_when_listed() {
    let a = alarm(instance("orders-db"), Breach::Unknown);
    assert_eq!(
        err(alarm_scope(&a, &FREE_STORAGE, NONE, None)),
        "alarm orders-low does not say it fired below its threshold (no comparison in the event, no \"less than\" in its reason); allow-list it in ALLOWED_ALARMS to act on it"
    );
    let c = alarm(
        vec![metric(
            "DatabaseConnections",
            &[("DBInstanceIdentifier", "orders-db")],
        )],
        Breach::Unknown,
    );
    assert!(err(alarm_scope(&c, &CONNECTIONS, NONE, None))
        .contains("does not say it fired above its threshold (no comparison in the event, no \"greater than\""));
    let listed = ["orders-low".to_string()];
    assert_eq!(
        alarm_scope(&a, &FREE_STORAGE, &listed, None),
        Ok(Scope::Instance(id("orders-db")))
    );
}

#[test]
fn another_metric_is_refused_unless_listed() {
    let a = alarm(
        vec![metric(
            "CPUUtilization",
            &[("DBInstanceIdentifier", "orders-db")],
        )],
        Breach::Below,
    );
    assert_eq!(
        err(alarm_scope(&a, &FREE_STORAGE, NONE, None)),
        "alarm orders-low is about AWS/RDS/CPUUtilization, not AWS/RDS/FreeStorageSpace, and is not in ALLOWED_ALARMS: storage-guard does not act on it"
    );
    let mut other_namespace = alarm(instance("orders-db"), Breach::Below);
    other_namespace.metrics[0].namespace = "Custom/RDS".into();
    assert!(
        err(alarm_scope(&other_namespace, &FREE_STORAGE, NONE, None))
            .contains("about Custom/RDS/FreeStorageSpace")
    );
    let listed = ["orders-low".to_string()];
    assert_eq!(
        alarm_scope(&a, &FREE_STORAGE, &listed, None),
        Ok(Scope::Instance(id("orders-db")))
    );
}

#[test]
fn clusters_by_role_and_aggregates() {
    let cluster = RdsIdentifier::parse("orders-aurora", ResourceKind::DbCluster).unwrap();
    let role = |r: &str| {
        alarm(
            vec![metric(
                "FreeStorageSpace",
                &[("DBClusterIdentifier", "orders-aurora"), ("Role", r)],
            )],
            Breach::Below,
        )
    };
    assert_eq!(
        alarm_scope(&role("writer"), &FREE_STORAGE, NONE, None),
        Ok(Scope::ClusterWriter(cluster.clone()))
    );
    assert_eq!(
        alarm_scope(&role("READER"), &FREE_STORAGE, NONE, None),
        Ok(Scope::ClusterReaders(cluster.clone()))
    );
    assert_eq!(
        err(alarm_scope(&role("other"), &FREE_STORAGE, NONE, None)),
        "alarm orders-low: dimension Role=\"other\" of cluster orders-aurora is neither WRITER nor READER (an aggregate or another resource)"
    );
    let aggregate = alarm(
        vec![metric(
            "FreeStorageSpace",
            &[("DBClusterIdentifier", "orders-aurora")],
        )],
        Breach::Below,
    );
    assert_eq!(
        err(alarm_scope(&aggregate, &FREE_STORAGE, NONE, None)),
        "alarm orders-low reads FreeStorageSpace summed over every instance of cluster orders-aurora (no Role dimension) and is not in ALLOWED_ALARMS"
    );
    let listed = ["orders-low".to_string()];
    assert_eq!(
        alarm_scope(&aggregate, &FREE_STORAGE, &listed, None),
        Ok(Scope::ClusterWriter(cluster))
    );
}

#[test]
fn no_dimension_needs_the_list_and_a_default() {
    let bare = alarm(vec![metric("FreeStorageSpace", &[])], Breach::Below);
    assert_eq!(
        err(alarm_scope(&bare, &FREE_STORAGE, NONE, None)),
        "alarm orders-low watches FreeStorageSpace without any dimension (an aggregate of several databases) and is not in ALLOWED_ALARMS"
    );
    let listed = ["orders-low".to_string()];
    assert_eq!(
        err(alarm_scope(&bare, &FREE_STORAGE, &listed, None)),
        "alarm orders-low is in ALLOWED_ALARMS but names no database, and DEFAULT_DB_INSTANCE is not set"
    );
    let default = id("orders-db");
    assert_eq!(
        alarm_scope(&bare, &FREE_STORAGE, &listed, Some(&default)),
        Ok(Scope::Instance(default))
    );
}

#[test]
fn other_dimensions_and_bad_identifiers_name_no_database() {
    let engine = alarm(
        vec![metric("FreeStorageSpace", &[("EngineName", "postgres")])],
        Breach::Below,
    );
    assert_eq!(
        err(alarm_scope(&engine, &FREE_STORAGE, NONE, None)),
        "alarm orders-low: its dimensions (EngineName) do not name one RDS database (an aggregate or another resource)"
    );
    let bad = alarm(instance("-bad"), Breach::Below);
    assert!(err(alarm_scope(&bad, &FREE_STORAGE, NONE, None)).starts_with("alarm orders-low: "));
}

#[test]
fn composite_and_unconfigured_alarms_need_the_list() {
    let mut composite = alarm(Vec::new(), Breach::Unknown);
    composite.composite = true;
    assert_eq!(
        err(alarm_scope(&composite, &FREE_STORAGE, NONE, None)),
        "alarm orders-low is a composite alarm and is not in ALLOWED_ALARMS: storage-guard does not act on it"
    );
    let unknown = alarm(Vec::new(), Breach::Unknown);
    assert_eq!(
        err(alarm_scope(&unknown, &FREE_STORAGE, NONE, None)),
        "alarm orders-low is without a metric configuration and is not in ALLOWED_ALARMS: storage-guard does not act on it"
    );
    let listed = ["orders-*".to_string()];
    let default = id("orders-db");
    for a in [&composite, &unknown] {
        assert_eq!(
            alarm_scope(a, &FREE_STORAGE, &listed, Some(&default)),
            Ok(Scope::Instance(default.clone()))
        );
    }
}

#[test]
fn metric_math_must_resolve_to_exactly_one_database() {
    let mut math = alarm(
        vec![
            metric("FreeStorageSpace", &[("DBInstanceIdentifier", "orders-db")]),
            metric("FreeStorageSpace", &[("DBInstanceIdentifier", "orders-db")]),
            metric("FreeStorageSpace", &[]),
        ],
        Breach::Below,
    );
    math.expressions = vec!["m1 + m2".into()];
    assert_eq!(
        err(alarm_scope(&math, &FREE_STORAGE, NONE, None)),
        "alarm orders-low is a metric-math or Metrics Insights alarm and is not in ALLOWED_ALARMS: storage-guard does not act on it"
    );
    let listed = ["orders-low".to_string()];
    assert_eq!(
        alarm_scope(&math, &FREE_STORAGE, &listed, None),
        Ok(Scope::Instance(id("orders-db")))
    );
    math.metrics.push(metric(
        "FreeStorageSpace",
        &[("DBInstanceIdentifier", "billing-db")],
    ));
    assert_eq!(
        err(alarm_scope(&math, &FREE_STORAGE, &listed, None)),
        "alarm orders-low resolves to 2 databases (db-instance orders-db, db-instance billing-db); storage-guard acts only on an alarm about exactly one"
    );
    let mut none = math.clone();
    none.metrics = vec![metric("FreeStorageSpace", &[])];
    none.expressions = vec!["SELECT AVG(FreeStorageSpace) FROM \"AWS/RDS\"".into()];
    assert_eq!(
        err(alarm_scope(&none, &FREE_STORAGE, &listed, None)),
        "alarm orders-low is a metric-math or Metrics Insights alarm whose metrics name no database; storage-guard does not guess one"
    );
    let mut aggregate = math.clone();
    aggregate.metrics = vec![metric(
        "FreeStorageSpace",
        &[("DBClusterIdentifier", "orders-aurora")],
    )];
    assert_eq!(
        err(alarm_scope(&aggregate, &FREE_STORAGE, &listed, None)),
        "alarm orders-low reads the aggregate of cluster orders-aurora, not one database"
    );
    let mut other = math;
    other.metrics = vec![metric("FreeStorageSpace", &[("EngineName", "mysql")])];
    assert_eq!(
        err(alarm_scope(&other, &FREE_STORAGE, &listed, None)),
        "alarm orders-low: its dimensions (EngineName) do not name one RDS database"
    );
}

#[test]
fn scopes_name_their_target() {
    let cluster = RdsIdentifier::parse("orders-aurora", ResourceKind::DbCluster).unwrap();
    assert_eq!(
        Scope::Instance(id("orders-db")).target(),
        DbTarget::Instance(id("orders-db"))
    );
    assert_eq!(
        Scope::ClusterReaders(cluster.clone()).target(),
        DbTarget::Cluster(cluster.clone())
    );
    assert_eq!(
        Scope::ClusterWriter(cluster.clone()).to_string(),
        "the writer of db-cluster orders-aurora"
    );
    assert_eq!(
        Scope::ClusterReaders(cluster).to_string(),
        "the readers of db-cluster orders-aurora"
    );
}
