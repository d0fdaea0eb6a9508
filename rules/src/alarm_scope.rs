//! Which database an alarm moving into ALARM means for a function, or why it means none: one
//! rule for every function that answers an alarm, with the metric it answers as a parameter
//! (idle-reaper: `AWS/RDS DatabaseConnections` above its threshold; storage-guard:
//! `AWS/RDS FreeStorageSpace` below it).

use std::collections::BTreeMap;

use crate::safety::glob_match;
use crate::trigger::{AlarmChange, AlarmKind, Breach, DbTarget, RdsIdentifier, ResourceKind};

/// The metric a function answers without being told, and on which side of its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchedMetric {
    pub function: &'static str,
    pub namespace: &'static str,
    pub name: &'static str,
    /// `Above` (too much) or `Below` (too little).
    pub fires: Breach,
    /// What the function answers, for reasons: "there are too many connections".
    pub answers: &'static str,
}

impl WatchedMetric {
    fn side(breach: Breach) -> &'static str {
        match breach {
            Breach::Above => "above",
            Breach::Below => "below",
            Breach::Unknown => "on either side of",
        }
    }
}

/// The databases one alarm stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Instance(RdsIdentifier),
    /// The cluster's writer instance (`Role=WRITER`, or no `Role`).
    ClusterWriter(RdsIdentifier),
    /// Every reader instance of the cluster (`Role=READER`).
    ClusterReaders(RdsIdentifier),
}

impl Scope {
    pub fn target(&self) -> DbTarget {
        match self {
            Scope::Instance(id) => DbTarget::Instance(id.clone()),
            Scope::ClusterWriter(id) | Scope::ClusterReaders(id) => DbTarget::Cluster(id.clone()),
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Instance(id) => write!(f, "db-instance {id}"),
            Scope::ClusterWriter(id) => write!(f, "the writer of db-cluster {id}"),
            Scope::ClusterReaders(id) => write!(f, "the readers of db-cluster {id}"),
        }
    }
}

/// What a metric's dimensions name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Named {
    One(Scope),
    /// `DBClusterIdentifier` alone: the sum over every instance of the cluster.
    ClusterAggregate(RdsIdentifier),
    /// No dimension at all.
    Nothing,
    /// Dimensions that are not those of one RDS database (why).
    NotOneDatabase(String),
}

/// Exactly `{DBInstanceIdentifier}`, or `{DBClusterIdentifier, Role}` (`READER`: the readers;
/// `WRITER`: the writer); anything else names no single database.
fn named_by(dimensions: &BTreeMap<String, String>) -> Named {
    let keys: Vec<&str> = dimensions.keys().map(String::as_str).collect();
    let parse = |raw: &str, kind| RdsIdentifier::parse(raw, kind).map_err(|r| r.to_string());
    let result = match keys.as_slice() {
        [] => return Named::Nothing,
        ["DBInstanceIdentifier"] => parse(
            &dimensions["DBInstanceIdentifier"],
            ResourceKind::DbInstance,
        )
        .map(|id| Named::One(Scope::Instance(id))),
        ["DBClusterIdentifier"] => {
            parse(&dimensions["DBClusterIdentifier"], ResourceKind::DbCluster)
                .map(Named::ClusterAggregate)
        }
        ["DBClusterIdentifier", "Role"] => {
            let role = &dimensions["Role"];
            parse(&dimensions["DBClusterIdentifier"], ResourceKind::DbCluster).map(|cluster| {
                match role.to_ascii_uppercase().as_str() {
                    "WRITER" => Named::One(Scope::ClusterWriter(cluster)),
                    "READER" => Named::One(Scope::ClusterReaders(cluster)),
                    _ => Named::NotOneDatabase(format!(
                        "dimension Role={role:?} of cluster {cluster} is neither WRITER nor READER"
                    )),
                }
            })
        }
        other => Ok(Named::NotOneDatabase(format!(
            "its dimensions ({}) do not name one RDS database",
            other.join(", ")
        ))),
    };
    result.unwrap_or_else(Named::NotOneDatabase)
}

/// Which databases an alarm moving into ALARM means for `watched.function`, or why it means
/// none.
///
/// - Never an alarm that fires on the other side of its threshold than `watched.fires`.
/// - A `watched` alarm that says it fired on that side, on exactly one database
///   (`DBInstanceIdentifier`, or `DBClusterIdentifier` with `Role`).
/// - Any other alarm only when its name is allow-listed (`ALLOWED_ALARMS`); then a cluster
///   aggregate means the writer, and an alarm that names nothing at all (a log-metric alarm, a
///   composite) means `DEFAULT_DB_INSTANCE`. Metric math and Metrics Insights must name exactly
///   one database in their metrics.
pub fn alarm_scope(
    alarm: &AlarmChange,
    watched: &WatchedMetric,
    allowed_alarms: &[String],
    default_instance: Option<&RdsIdentifier>,
) -> Result<Scope, String> {
    let name = &alarm.name;
    let function = watched.function;
    let metric_name = watched.name;
    let listed = allowed_alarms.iter().any(|p| glob_match(p, name));
    let not_listed = |what: &str| {
        format!(
            "alarm {name} is {what} and is not in ALLOWED_ALARMS: {function} does not act on it"
        )
    };
    let fallback = || {
        match default_instance {
        Some(id) => Ok(Scope::Instance(id.clone())),
        None => Err(format!(
            "alarm {name} is in ALLOWED_ALARMS but names no database, and DEFAULT_DB_INSTANCE is not set"
        )),
    }
    };
    if alarm.breach != Breach::Unknown && alarm.breach != watched.fires {
        return Err(format!(
            "alarm {name} fires {} its threshold; {function} acts only when {}",
            WatchedMetric::side(alarm.breach),
            watched.answers
        ));
    }
    match alarm.kind() {
        AlarmKind::Composite if !listed => Err(not_listed("a composite alarm")),
        AlarmKind::Unknown if !listed => Err(not_listed("without a metric configuration")),
        AlarmKind::Composite | AlarmKind::Unknown => fallback(),
        AlarmKind::MetricMath if !listed => {
            Err(not_listed("a metric-math or Metrics Insights alarm"))
        }
        AlarmKind::MetricMath => {
            let mut scopes: Vec<Scope> = Vec::new();
            for metric in &alarm.metrics {
                match named_by(&metric.dimensions) {
                    Named::One(scope) if !scopes.contains(&scope) => scopes.push(scope),
                    Named::One(_) | Named::Nothing => {}
                    Named::ClusterAggregate(cluster) => {
                        return Err(format!(
                        "alarm {name} reads the aggregate of cluster {cluster}, not one database"
                    ))
                    }
                    Named::NotOneDatabase(why) => return Err(format!("alarm {name}: {why}")),
                }
            }
            match scopes.as_slice() {
                [one] => Ok(one.clone()),
                [] => Err(format!(
                    "alarm {name} is a metric-math or Metrics Insights alarm whose metrics name no database; {function} does not guess one"
                )),
                many => Err(format!(
                    "alarm {name} resolves to {} databases ({}); {function} acts only on an alarm about exactly one",
                    many.len(),
                    many.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                )),
            }
        }
        AlarmKind::SingleMetric(metric) => {
            let watched_metric =
                metric.namespace == watched.namespace && metric.name == watched.name;
            if !watched_metric && !listed {
                return Err(not_listed(&format!(
                    "about {}/{}, not {}/{metric_name},",
                    metric.namespace, metric.name, watched.namespace
                )));
            }
            if !listed && alarm.breach != watched.fires {
                return Err(format!(
                    "alarm {name} does not say it fired {} its threshold (no comparison in the event, no \"{} than\" in its reason); allow-list it in ALLOWED_ALARMS to act on it",
                    WatchedMetric::side(watched.fires),
                    if watched.fires == Breach::Below { "less" } else { "greater" }
                ));
            }
            match named_by(&metric.dimensions) {
                Named::One(scope) => Ok(scope),
                Named::ClusterAggregate(cluster) if listed => Ok(Scope::ClusterWriter(cluster)),
                Named::ClusterAggregate(cluster) => Err(format!(
                    "alarm {name} reads {metric_name} summed over every instance of cluster {cluster} (no Role dimension) and is not in ALLOWED_ALARMS"
                )),
                Named::Nothing if listed => fallback(),
                Named::Nothing => Err(format!(
                    "alarm {name} watches {metric_name} without any dimension (an aggregate of several databases) and is not in ALLOWED_ALARMS"
                )),
                Named::NotOneDatabase(why) => {
                    Err(format!("alarm {name}: {why} (an aggregate or another resource)"))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
