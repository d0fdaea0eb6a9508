//! Words the report: one check per thing verified, and the summary.

use serde_json::json;

use std::net::IpAddr;

use rds_responder::rds::{ClusterInfo, Endpoint, EventRecord, InstanceInfo, RdsError};
use rds_responder::report::{Check, Outcome};
use rds_responder::sql::{ConnectTarget, DbError, Engine, ProbeResult};
use rds_responder::tables::TableHealth;
use rds_responder::trigger::DbTarget;

use crate::policy::troubling_events;

/// One line for the whole verification.
pub fn summary(target: &DbTarget, checks: &[Check]) -> String {
    let named = |outcome: Outcome| -> Vec<&str> {
        checks
            .iter()
            .filter(|c| c.outcome == outcome)
            .map(|c| c.name.as_str())
            .collect()
    };
    let (failed, warned) = (named(Outcome::Fail), named(Outcome::Warn));
    if !failed.is_empty() {
        format!(
            "{target}: {} of {} checks failed: {}",
            failed.len(),
            checks.len(),
            failed.join(", ")
        )
    } else if !warned.is_empty() {
        format!("{target}: serving, with warnings: {}", warned.join(", "))
    } else {
        format!(
            "{target}: verified after failover, all {} checks passed",
            checks.len()
        )
    }
}

pub fn cluster_writer_check(cluster: &ClusterInfo, expected_writer: Option<&str>) -> Check {
    let writers: Vec<&str> = cluster
        .members
        .iter()
        .filter(|m| m.is_writer)
        .map(|m| m.instance_id.as_str())
        .collect();
    let data = json!({ "writers": writers, "expected": expected_writer });
    let check = match (writers.as_slice(), expected_writer) {
        ([writer], Some(expected)) if *writer == expected => Check::new(
            "cluster-writer",
            Outcome::Pass,
            format!("{writer} is the cluster writer, as the failover event said"),
        ),
        ([writer], Some(expected)) => Check::new(
            "cluster-writer",
            Outcome::Fail,
            format!("the failover event promoted {expected}, but the cluster writer is {writer}"),
        ),
        ([writer], None) => Check::new(
            "cluster-writer",
            Outcome::Pass,
            format!("{writer} is the cluster writer"),
        ),
        ([], _) => Check::new(
            "cluster-writer",
            Outcome::Fail,
            "the cluster has no writer member",
        ),
        (many, _) => Check::new(
            "cluster-writer",
            Outcome::Fail,
            format!(
                "the cluster reports {} writers: {}",
                many.len(),
                many.join(", ")
            ),
        ),
    };
    check.with_data(data)
}

pub fn connection_check(target: &ConnectTarget, probed: &Result<ProbeResult, DbError>) -> Check {
    let address = format!("{}:{}", target.address.host, target.address.port);
    match probed {
        Ok(p) => Check::new(
            "connection",
            Outcome::Pass,
            format!(
                "connected to {address} in {:.1} ms; SELECT 1 in {:.1} ms (server {})",
                p.connect_ms, p.select_one_ms, p.server_version
            ),
        )
        .with_data(json!({
            "address": address,
            "connect_ms": p.connect_ms,
            "select_one_ms": p.select_one_ms,
            "server_version": p.server_version,
        })),
        Err(e) => Check::new("connection", Outcome::Fail, e.to_string()),
    }
}

pub fn writer_role_check(engine: Engine, probed: &Result<ProbeResult, DbError>) -> Check {
    let probe = match engine {
        Engine::Postgres => "pg_is_in_recovery() is",
        Engine::MySql => "@@read_only / @@innodb_read_only say",
    };
    match probed {
        Ok(p) if !p.in_recovery => Check::new(
            "writer-role",
            Outcome::Pass,
            format!("{probe} writable: the endpoint reaches the writer"),
        ),
        Ok(_) => Check::new(
            "writer-role",
            Outcome::Fail,
            format!("{probe} read-only: the endpoint reaches a replica (stale DNS or a failed promotion)"),
        ),
        Err(_) => Check::new("writer-role", Outcome::Skipped, "no connection, so the role could not be read"),
    }
}

/// The endpoint resolves (says so when `DB_ENDPOINT_OVERRIDES` replaced it).
pub fn dns_check<E: std::fmt::Display>(
    target: &ConnectTarget,
    resolved: Result<Vec<IpAddr>, E>,
) -> Check {
    let host = &target.address.host;
    let note = if target.overridden {
        format!(
            " (DB_ENDPOINT_OVERRIDES in effect, local runs only: RDS endpoint {} not used)",
            target.rds_endpoint.host
        )
    } else {
        String::new()
    };
    match resolved {
        Ok(ips) => {
            let list: Vec<String> = ips.iter().map(ToString::to_string).collect();
            Check::new(
                "endpoint-dns",
                Outcome::Pass,
                format!("{host} resolves to {}{note}", list.join(", ")),
            )
            .with_data(json!({ "host": host, "addresses": list, "overridden": target.overridden }))
        }
        Err(e) => Check::new(
            "endpoint-dns",
            Outcome::Fail,
            format!("{host} does not resolve: {e}{note}"),
        ),
    }
}

/// Recent RDS events, warning on the ones that mean trouble.
pub fn events_check<E: std::fmt::Display>(
    events: Result<Vec<EventRecord>, E>,
    minutes: i32,
) -> Check {
    let events = match events {
        Ok(events) => events,
        Err(e) => return Check::new("recent-events", Outcome::Fail, e.to_string()),
    };
    let messages: Vec<String> = events.iter().map(|e| e.message.clone()).collect();
    let trouble = troubling_events(&messages);
    let latest: Vec<&String> = messages.iter().rev().take(3).collect();
    let (outcome, detail) = if trouble.is_empty() {
        (
            Outcome::Pass,
            format!(
                "{} events in the last {minutes} min, none troubling",
                messages.len()
            ),
        )
    } else {
        (
            Outcome::Warn,
            format!(
                "troubling events in the last {minutes} min: {}",
                trouble.join(" | ")
            ),
        )
    };
    Check::new("recent-events", outcome, detail)
        .with_data(json!({ "count": messages.len(), "latest": latest }))
}

/// `DatabaseConnections` against the normal range, when one is configured.
pub fn connections_check<E: std::fmt::Display>(
    latest: Result<Option<f64>, E>,
    normal: Option<(f64, f64)>,
) -> Check {
    match (latest, normal) {
        (Err(e), _) => Check::new("connections", Outcome::Fail, e.to_string()),
        (Ok(None), _) => Check::new(
            "connections",
            Outcome::Warn,
            "no DatabaseConnections datapoint in the last 10 minutes",
        ),
        (Ok(Some(value)), Some((min, max))) if value < min || value > max => Check::new(
            "connections",
            Outcome::Warn,
            format!("DatabaseConnections is {value}, outside the normal range {min}-{max}"),
        ),
        (Ok(Some(value)), Some((min, max))) => Check::new(
            "connections",
            Outcome::Pass,
            format!("DatabaseConnections is {value}, within the normal range {min}-{max}"),
        ),
        (Ok(Some(value)), None) => Check::new(
            "connections",
            Outcome::Pass,
            format!("DatabaseConnections is {value} (no normal range configured)"),
        ),
    }
}

/// Other alarms on the database (and its cluster members) still in ALARM.
pub fn alarms_check<E: std::fmt::Display>(
    ids: &[String],
    firing: Result<Vec<String>, E>,
    triggering_alarm: Option<&str>,
) -> Check {
    let firing = match firing {
        Ok(firing) => firing,
        Err(e) => return Check::new("alarms", Outcome::Fail, e.to_string()),
    };
    let others: Vec<&str> = firing
        .iter()
        .map(String::as_str)
        .filter(|a| Some(*a) != triggering_alarm)
        .collect();
    let note = match triggering_alarm {
        Some(name) if firing.iter().any(|a| a == name) => {
            format!(" (the triggering alarm {name} is still in ALARM, as expected)")
        }
        _ => String::new(),
    };
    let (outcome, detail) = if others.is_empty() {
        (
            Outcome::Pass,
            format!("no other alarm on {} is in ALARM{note}", ids.join(", ")),
        )
    } else {
        (
            Outcome::Warn,
            format!("still in ALARM: {}{note}", others.join(", ")),
        )
    };
    Check::new("alarms", outcome, detail).with_data(json!({ "in_alarm": firing }))
}

/// A DynamoDB table and its global secondary indexes are ACTIVE.
pub fn table_check<E: std::fmt::Display>(name: &str, health: Result<TableHealth, E>) -> Check {
    match health {
        Err(e) => Check::new(name, Outcome::Fail, format!("DescribeTable failed: {e}")),
        Ok(health) => {
            let problems = health.not_active();
            if problems.is_empty() {
                Check::new(
                    name,
                    Outcome::Pass,
                    format!(
                        "table and {} global secondary indexes ACTIVE",
                        health.indexes.len()
                    ),
                )
            } else {
                Check::new(name, Outcome::Fail, problems.join(", "))
            }
        }
    }
}

/// What the status check learned, for the checks after it.
pub enum Described {
    Instance(InstanceInfo),
    Cluster(ClusterInfo),
}

impl Described {
    pub fn status(&self) -> &str {
        match self {
            Described::Instance(i) => &i.status,
            Described::Cluster(c) => &c.status,
        }
    }
    pub fn engine(&self) -> &str {
        match self {
            Described::Instance(i) => &i.engine,
            Described::Cluster(c) => &c.engine,
        }
    }
    pub fn endpoint(&self) -> Option<&Endpoint> {
        match self {
            Described::Instance(i) => i.endpoint.as_ref(),
            Described::Cluster(c) => c.endpoint.as_ref(),
        }
    }
}

/// The status could not be read: the database is gone, or RDS did not answer.
pub fn status_unreadable(e: &RdsError) -> Check {
    let detail = match e {
        RdsError::NotFound { .. } => e.to_string(),
        _ => format!("could not read the status: {e}"),
    };
    Check::new("status", Outcome::Fail, detail)
}

pub fn status_available(described: &Described, attempts: u32) -> Check {
    let detail = match described {
        Described::Instance(i) => format!(
            "{} is available (engine {}, AZ {}{})",
            i.id,
            i.engine,
            i.availability_zone.as_deref().unwrap_or("?"),
            i.secondary_availability_zone
                .as_deref()
                .map(|s| format!(", standby in {s}"))
                .unwrap_or_default()
        ),
        Described::Cluster(c) => format!(
            "cluster {} is available (engine {}, {} members)",
            c.id,
            c.engine,
            c.members.len()
        ),
    };
    Check::new("status", Outcome::Pass, detail).with_data(json!({ "attempts": attempts }))
}

pub fn status_not_available(
    described: &Described,
    waited: std::time::Duration,
    attempts: u32,
    budget: std::time::Duration,
) -> Check {
    Check::new(
        "status",
        Outcome::Fail,
        format!(
            "status is {:?}, not available, after waiting {:.1} s ({} checks; wait budget {} s)",
            described.status(),
            waited.as_secs_f64(),
            attempts,
            budget.as_secs()
        ),
    )
}

/// Checks that could not run, with the reason.
pub fn skipped(names: &[&str], reason: &str) -> Vec<Check> {
    names
        .iter()
        .map(|name| Check::new(*name, Outcome::Skipped, reason))
        .collect()
}
