//! Every metric the functions emit, in one list: the runner's own (`publish::metric_data`) and
//! the per-resource ones the functions put in their reports. The template's dashboard and
//! alarms are checked against this list (scripts/check-template.py reads `CATALOG`), so a
//! widget cannot name a metric nothing emits.

use crate::report::ResourceMetric;
use crate::trigger::{DbTarget, Target};

/// A resource metric's `Resource` dimension: `db-instance:<id>`, `db-cluster:<id>`,
/// `table:<name>` (the account itself: `account`).
pub fn resource_name(target: &Target) -> String {
    match target {
        Target::Instance(id) => format!("db-instance:{id}"),
        Target::Cluster(id) => format!("db-cluster:{id}"),
        Target::Table(name) => format!("table:{name}"),
        Target::Account => "account".into(),
    }
}

pub fn db_resource_name(target: &DbTarget) -> String {
    resource_name(&target.clone().into())
}

/// A metric's name, CloudWatch unit and dimension names, as emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricSpec {
    pub name: &'static str,
    pub unit: &'static str,
    pub dimensions: &'static [&'static str],
}

impl MetricSpec {
    /// This metric of one resource (`db-instance:<id>`), for a report's `metrics`.
    pub fn of(&self, resource: impl Into<String>, value: f64) -> ResourceMetric {
        ResourceMetric {
            name: self.name.into(),
            value,
            unit: self.unit.into(),
            resource: resource.into(),
        }
    }
}

/// Resource metrics are dimensioned by the function and the resource (`db-instance:<id>`).
const PER_RESOURCE: &[&str] = &["Function", "Resource"];

pub const RUNS: MetricSpec = MetricSpec {
    name: "Runs",
    unit: "Count",
    dimensions: &["Function", "Outcome"],
};
pub const FAILED_CHECKS: MetricSpec = MetricSpec {
    name: "FailedChecks",
    unit: "Count",
    dimensions: &["Function"],
};
pub const DURATION: MetricSpec = MetricSpec {
    name: "Duration",
    unit: "Milliseconds",
    dimensions: &["Function"],
};
pub const RUNS_BY_TARGET: MetricSpec = MetricSpec {
    name: "RunsByTarget",
    unit: "Count",
    dimensions: &["Function", "TargetKind"],
};
/// restore-drill: how far a resource's recovery point is behind now.
pub const RECOVERY_POINT_LAG: MetricSpec = MetricSpec {
    name: "RecoveryPointLagSeconds",
    unit: "Seconds",
    dimensions: PER_RESOURCE,
};
/// restore-drill: 1 when that lag is over the RPO target, else 0 (what the RPO alarm reads).
pub const RPO_BREACHED: MetricSpec = MetricSpec {
    name: "RpoBreached",
    unit: "Count",
    dimensions: PER_RESOURCE,
};
/// storage-guard: hours until the forecast says the instance's storage is full.
pub const STORAGE_FULL_IN_HOURS: MetricSpec = MetricSpec {
    name: "StorageFullInHours",
    unit: "None",
    dimensions: PER_RESOURCE,
};
/// idle-reaper: sessions it terminated on an instance in one run.
pub const SESSIONS_TERMINATED: MetricSpec = MetricSpec {
    name: "SessionsTerminated",
    unit: "Count",
    dimensions: PER_RESOURCE,
};
/// snapshotter: snapshots it created of a database or table in one run.
pub const SNAPSHOTS_CREATED: MetricSpec = MetricSpec {
    name: "SnapshotsCreated",
    unit: "Count",
    dimensions: PER_RESOURCE,
};
/// snapshotter: snapshots it deleted of a database or table in one run.
pub const SNAPSHOTS_DELETED: MetricSpec = MetricSpec {
    name: "SnapshotsDeleted",
    unit: "Count",
    dimensions: PER_RESOURCE,
};

pub const CATALOG: &[MetricSpec] = &[
    RUNS,
    FAILED_CHECKS,
    DURATION,
    RUNS_BY_TARGET,
    RECOVERY_POINT_LAG,
    RPO_BREACHED,
    STORAGE_FULL_IN_HOURS,
    SESSIONS_TERMINATED,
    SNAPSHOTS_CREATED,
    SNAPSHOTS_DELETED,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trigger::{RdsIdentifier, ResourceKind, TableName};

    #[test]
    fn a_resource_is_named_by_its_kind_and_id() {
        let id = |raw, kind| RdsIdentifier::parse(raw, kind).unwrap();
        assert_eq!(
            resource_name(&Target::Instance(id("orders-db", ResourceKind::DbInstance))),
            "db-instance:orders-db"
        );
        assert_eq!(
            resource_name(&Target::Cluster(id("orders", ResourceKind::DbCluster))),
            "db-cluster:orders"
        );
        assert_eq!(
            resource_name(&Target::Table(TableName::parse("orders").unwrap())),
            "table:orders"
        );
        assert_eq!(resource_name(&Target::Account), "account");
        let metric = SESSIONS_TERMINATED.of("db-instance:orders-db", 3.0);
        assert_eq!(
            (metric.name.as_str(), metric.unit.as_str(), metric.value),
            ("SessionsTerminated", "Count", 3.0)
        );
    }

    #[test]
    fn the_catalog_names_each_metric_once_and_every_one_has_dimensions() {
        for (i, spec) in CATALOG.iter().enumerate() {
            assert!(!spec.dimensions.is_empty(), "{}", spec.name);
            assert_eq!(spec.dimensions[0], "Function", "{}", spec.name);
            assert!(
                !CATALOG[..i].iter().any(|s| s.name == spec.name),
                "{}",
                spec.name
            );
        }
    }
}
