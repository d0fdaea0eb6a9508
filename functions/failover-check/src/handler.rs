//! Which triggers mean "verify now", and the verification itself: every check runs and reports
//! on its own; one failing check does not stop the others.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use rds_responder::cloudwatch::AlarmWatch;
use rds_responder::dns::Resolver;
use rds_responder::guard::ActionGuard;
use rds_responder::ledger::Ledger;
use rds_responder::rds::{ClusterInfo, DbInventory, Endpoint, InstanceInfo, RdsError};
use rds_responder::report::{Check, Findings, Outcome};
use rds_responder::runner::{Invocation, Responder};
use rds_responder::sql::{ConnectTarget, DbError, DbProbe, Engine, ProbeResult};
use rds_responder::tables::TableInspector;
use rds_responder::trigger::{
    check_request_id, manual_schema, DbTarget, ManualPayload, RawDbTarget, RdsEvent, ResourceKind,
    Trigger, TriggerError,
};

use crate::config::FailoverConfig;

/// `{"db_instance": "..."}` or `{"db_cluster": "..."}`, optionally `request_id`; nothing else.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManualCheck {
    pub target: DbTarget,
    pub request_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManualCheck {
    #[serde(default)]
    db_instance: Option<String>,
    #[serde(default)]
    db_cluster: Option<String>,
    #[serde(default)]
    request_id: Option<String>,
}

impl ManualPayload for ManualCheck {
    fn from_value(value: Value) -> Result<Self, TriggerError> {
        let raw: RawManualCheck = manual_schema(value, "failover-check manual request")?;
        check_request_id(raw.request_id.as_deref())?;
        let target = RawDbTarget {
            db_instance: raw.db_instance,
            db_cluster: raw.db_cluster,
        }
        .validate("")?;
        Ok(Self {
            target,
            request_id: raw.request_id,
        })
    }

    fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

/// What to do with a trigger.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Verify {
        target: DbTarget,
        /// The instance an Aurora failover event says it promoted.
        expected_writer: Option<String>,
        /// The alarm that triggered us is expected to be in ALARM still.
        triggering_alarm: Option<String>,
    },
    Skip {
        target: Option<DbTarget>,
        reason: String,
    },
}

/// Multi-AZ instance failover completed.
const INSTANCE_FAILOVER_COMPLETED: [u16; 4] = [15, 49, 51, 65];
/// Multi-AZ instance failover started.
const INSTANCE_FAILOVER_STARTED: [u16; 1] = [13];
/// Aurora cluster failover completed (0071) or failed (0069): both need a look at the cluster.
const CLUSTER_FAILOVER_FINISHED: [u16; 2] = [71, 69];
/// Aurora cluster failover started (same AZ / cross AZ).
const CLUSTER_FAILOVER_STARTED: [u16; 2] = [72, 73];

pub fn decide(trigger: &Trigger<ManualCheck>) -> Decision {
    match trigger {
        Trigger::RdsEvent(event) => decide_rds_event(event),
        Trigger::Alarm(alarm) => {
            let target = alarm.db_target();
            if !alarm.is_into_alarm() {
                return Decision::Skip {
                    target,
                    reason: format!(
                        "alarm {} moved to {}, not into ALARM: nothing to verify",
                        alarm.name,
                        alarm.new_state.as_str()
                    ),
                };
            }
            match target {
                Some(target) => Decision::Verify {
                    target,
                    expected_writer: None,
                    triggering_alarm: Some(alarm.name.clone()),
                },
                None => Decision::Skip {
                    target: None,
                    reason: format!(
                        "alarm {} has no DBInstanceIdentifier or DBClusterIdentifier dimension",
                        alarm.name
                    ),
                },
            }
        }
        Trigger::Schedule(schedule) => match schedule.targets.as_slice() {
            [target] => Decision::Verify {
                target: target.clone(),
                expected_writer: None,
                triggering_alarm: None,
            },
            [] => Decision::Skip {
                target: None,
                reason: "scheduled run without a target: set detail.targets in the rule's input"
                    .into(),
            },
            _ => Decision::Skip {
                target: None,
                reason: format!(
                    "scheduled run names {} targets; failover-check verifies one database per run, \
                     so schedule one rule per database",
                    schedule.targets.len()
                ),
            },
        },
        Trigger::Manual(request) => Decision::Verify {
            target: request.target.clone(),
            expected_writer: None,
            triggering_alarm: None,
        },
        Trigger::SubscriptionNotice(_) => Decision::Skip {
            target: None,
            reason: "SNS subscription notice".into(),
        },
    }
}

/// The event ids that mean "finished" and "started" for one kind of source, and the message
/// words that stand in for them on older events without an id.
struct FailoverEvents {
    finished: &'static [u16],
    started: &'static [u16],
    finished_words: &'static [&'static str],
}

const INSTANCE_EVENTS: FailoverEvents = FailoverEvents {
    finished: &INSTANCE_FAILOVER_COMPLETED,
    started: &INSTANCE_FAILOVER_STARTED,
    finished_words: &["complete"],
};

const CLUSTER_EVENTS: FailoverEvents = FailoverEvents {
    finished: &CLUSTER_FAILOVER_FINISHED,
    started: &CLUSTER_FAILOVER_STARTED,
    finished_words: &["complete", "fail"],
};

enum Phase {
    Finished,
    Started,
    Other,
}

impl FailoverEvents {
    fn phase(&self, event: &RdsEvent) -> Phase {
        let message = event.message.to_ascii_lowercase();
        let failover = message.contains("failover");
        let (finished, started) = match event.event_id {
            Some(id) => (self.finished.contains(&id.0), self.started.contains(&id.0)),
            // Older events carry no id: read the message.
            None => (
                failover && self.finished_words.iter().any(|w| message.contains(w)),
                failover && message.contains("start"),
            ),
        };
        match (finished, started) {
            (true, _) => Phase::Finished,
            (false, true) => Phase::Started,
            _ => Phase::Other,
        }
    }
}

fn decide_rds_event(event: &RdsEvent) -> Decision {
    let label = event
        .event_id
        .map(|e| e.to_string())
        .unwrap_or_else(|| "event without an id".into());
    let (target, events, expected_writer) = match event.resource() {
        Some((ResourceKind::DbInstance, id)) => (DbTarget::Instance(id), INSTANCE_EVENTS, None),
        Some((ResourceKind::DbCluster, id)) => (
            DbTarget::Cluster(id),
            CLUSTER_EVENTS,
            promoted_instance(&event.message),
        ),
        _ => {
            return Decision::Skip {
                target: None,
                reason: format!(
                    "{label} from a {} is not about a failover",
                    event.source_type
                ),
            }
        }
    };
    match events.phase(event) {
        Phase::Finished => Decision::Verify {
            target,
            expected_writer,
            triggering_alarm: None,
        },
        Phase::Started => Decision::Skip {
            reason: format!(
                "{label}: {target} failover started; acknowledged, verification runs when it completes"
            ),
            target: Some(target),
        },
        Phase::Other => Decision::Skip {
            reason: format!("{label} is not a failover-completed event"),
            target: Some(target),
        },
    }
}

/// `Completed failover to DB instance: orders-aurora-2` -> `orders-aurora-2`.
pub fn promoted_instance(message: &str) -> Option<String> {
    let (_, tail) = message.rsplit_once("DB instance")?;
    let name = tail
        .trim_start_matches([':', ' '])
        .trim_end_matches(['.', ' '])
        .split_whitespace()
        .next()?;
    rds_responder::trigger::RdsIdentifier::parse(name, ResourceKind::DbInstance)
        .ok()
        .map(|id| id.to_string())
}

/// Recent event messages that mean the failover did not go cleanly.
const TROUBLE_WORDS: [&str; 4] = ["failed", "not attempting", "storage-full", "incompatible"];

pub fn troubling_events(messages: &[String]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| {
            let lower = m.to_ascii_lowercase();
            TROUBLE_WORDS.iter().any(|w| lower.contains(w))
        })
        .cloned()
        .collect()
}

/// The capabilities failover-check uses; production wires AWS, tests wire fakes.
pub struct FailoverCheck<I, P, W, T, D> {
    pub inventory: I,
    pub probe: P,
    pub watch: W,
    pub tables: T,
    pub resolver: D,
    pub config: FailoverConfig,
}

/// What the status check learned, for the checks after it.
enum Described {
    Instance(InstanceInfo),
    Cluster(ClusterInfo),
}

impl Described {
    fn status(&self) -> &str {
        match self {
            Described::Instance(i) => &i.status,
            Described::Cluster(c) => &c.status,
        }
    }
    fn engine(&self) -> &str {
        match self {
            Described::Instance(i) => &i.engine,
            Described::Cluster(c) => &c.engine,
        }
    }
    fn endpoint(&self) -> Option<&Endpoint> {
        match self {
            Described::Instance(i) => i.endpoint.as_ref(),
            Described::Cluster(c) => c.endpoint.as_ref(),
        }
    }
}

impl<I, P, W, T, D> Responder for FailoverCheck<I, P, W, T, D>
where
    I: DbInventory,
    P: DbProbe,
    W: AlarmWatch,
    T: TableInspector,
    D: Resolver,
{
    type Manual = ManualCheck;
    const FUNCTION: &'static str = "failover-check";

    /// failover-check only reads: it never goes through the guard.
    async fn respond<L: Ledger>(
        &self,
        trigger: &Trigger<ManualCheck>,
        invocation: &Invocation,
        _: &ActionGuard<'_, L>,
    ) -> Findings {
        self.check(trigger, invocation).await
    }
}

impl<I, P, W, T, D> FailoverCheck<I, P, W, T, D>
where
    I: DbInventory,
    P: DbProbe,
    W: AlarmWatch,
    T: TableInspector,
    D: Resolver,
{
    /// The decision and the verification for one trigger.
    pub async fn check(&self, trigger: &Trigger<ManualCheck>, invocation: &Invocation) -> Findings {
        match decide(trigger) {
            Decision::Skip { target, reason } => Findings::skipped(target, reason),
            Decision::Verify {
                target,
                expected_writer,
                triggering_alarm,
            } => {
                let checks = self
                    .verify(
                        &target,
                        expected_writer.as_deref(),
                        triggering_alarm.as_deref(),
                        invocation,
                    )
                    .await;
                let failed: Vec<&str> = checks
                    .iter()
                    .filter(|c| c.outcome == Outcome::Fail)
                    .map(|c| c.name.as_str())
                    .collect();
                let warned: Vec<&str> = checks
                    .iter()
                    .filter(|c| c.outcome == Outcome::Warn)
                    .map(|c| c.name.as_str())
                    .collect();
                let summary = if !failed.is_empty() {
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
                };
                Findings::new(Some(target), checks, summary)
            }
        }
    }
}

impl<I, P, W, T, D> FailoverCheck<I, P, W, T, D>
where
    I: DbInventory,
    P: DbProbe,
    W: AlarmWatch,
    T: TableInspector,
    D: Resolver,
{
    pub async fn verify(
        &self,
        target: &DbTarget,
        expected_writer: Option<&str>,
        triggering_alarm: Option<&str>,
        invocation: &Invocation,
    ) -> Vec<Check> {
        let (status_check, described) = self.wait_available(target, invocation).await;
        let mut checks = vec![status_check];

        let database_checks = self.database_checks(target, described.as_ref(), expected_writer);
        let side_checks = async {
            let (events, connections, alarms, tables) = tokio::join!(
                self.events_check(target),
                self.connections_check(target),
                self.alarms_check(target, described.as_ref(), triggering_alarm),
                self.table_checks()
            );
            let mut out = vec![events, connections, alarms];
            out.extend(tables);
            out
        };
        let (database, side) = tokio::join!(database_checks, side_checks);
        checks.extend(database);
        checks.extend(side);
        checks
    }

    /// Status `available`, waiting with bounded backoff inside the invocation deadline.
    async fn wait_available(
        &self,
        target: &DbTarget,
        invocation: &Invocation,
    ) -> (Check, Option<Described>) {
        let started = Instant::now();
        let budget = self.config.available_wait.min(
            invocation
                .remaining(Utc::now())
                .saturating_sub(self.config.deadline_reserve),
        );
        let mut delay = Duration::from_millis(500);
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let described = match target {
                DbTarget::Instance(id) => self
                    .inventory
                    .describe_instance(id)
                    .await
                    .map(Described::Instance),
                DbTarget::Cluster(id) => self
                    .inventory
                    .describe_cluster(id)
                    .await
                    .map(Described::Cluster),
            };
            let described = match described {
                Ok(d) => d,
                Err(e) => {
                    let outcome = Outcome::Fail;
                    let detail = match &e {
                        RdsError::NotFound { .. } => format!("{e}"),
                        RdsError::Api { .. } => format!("could not read the status: {e}"),
                    };
                    return (Check::new("status", outcome, detail).timed(started), None);
                }
            };
            if described.status() == "available" {
                let detail = match &described {
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
                let check = Check::new("status", Outcome::Pass, detail)
                    .with_data(json!({ "attempts": attempts }))
                    .timed(started);
                return (check, Some(described));
            }
            let waited = started.elapsed();
            if waited + delay > budget {
                let detail = format!(
                    "status is {:?}, not available, after waiting {:.1} s ({} checks; wait budget {} s)",
                    described.status(),
                    waited.as_secs_f64(),
                    attempts,
                    budget.as_secs()
                );
                let check = Check::new("status", Outcome::Fail, detail).timed(started);
                return (check, Some(described));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    }

    /// DNS, connection with `SELECT 1`, writer role; each a check of its own.
    async fn database_checks(
        &self,
        target: &DbTarget,
        described: Option<&Described>,
        expected_writer: Option<&str>,
    ) -> Vec<Check> {
        let mut checks = Vec::new();
        if let (DbTarget::Cluster(_), Some(Described::Cluster(cluster))) = (target, described) {
            checks.push(cluster_writer_check(cluster, expected_writer));
        }
        let Some(described) = described else {
            for name in ["endpoint-dns", "connection", "writer-role"] {
                checks.push(Check::new(
                    name,
                    Outcome::Skipped,
                    "the database could not be described",
                ));
            }
            return checks;
        };
        let Some(endpoint) = described.endpoint() else {
            checks.push(Check::new(
                "endpoint-dns",
                Outcome::Fail,
                "RDS reports no endpoint",
            ));
            for name in ["connection", "writer-role"] {
                checks.push(Check::new(
                    name,
                    Outcome::Skipped,
                    "no endpoint to connect to",
                ));
            }
            return checks;
        };
        let connect_to = self.probe.target_for(target.id().as_str(), endpoint);
        checks.push(self.dns_check(&connect_to).await);

        let Some(engine) = Engine::from_rds(described.engine()) else {
            let detail = format!("engine {:?} has no database probe", described.engine());
            checks.push(Check::new("connection", Outcome::Fail, detail.clone()));
            checks.push(Check::new("writer-role", Outcome::Skipped, detail));
            return checks;
        };
        let started = Instant::now();
        let probed = self.probe.probe(engine, &connect_to).await;
        checks.push(connection_check(&connect_to, &probed).timed(started));
        checks.push(writer_role_check(engine, &probed));
        checks
    }

    async fn dns_check(&self, target: &ConnectTarget) -> Check {
        let started = Instant::now();
        let host = &target.address.host;
        let note = if target.overridden {
            format!(
                " (DB_ENDPOINT_OVERRIDES in effect, local runs only: RDS endpoint {} not used)",
                target.rds_endpoint.host
            )
        } else {
            String::new()
        };
        match self.resolver.resolve(host, target.address.port).await {
            Ok(ips) => {
                let list: Vec<String> = ips.iter().map(ToString::to_string).collect();
                Check::new(
                    "endpoint-dns",
                    Outcome::Pass,
                    format!("{host} resolves to {}{note}", list.join(", ")),
                )
                .with_data(
                    json!({ "host": host, "addresses": list, "overridden": target.overridden }),
                )
                .timed(started)
            }
            Err(e) => Check::new(
                "endpoint-dns",
                Outcome::Fail,
                format!("{host} does not resolve: {e}{note}"),
            )
            .timed(started),
        }
    }

    async fn events_check(&self, target: &DbTarget) -> Check {
        let started = Instant::now();
        let (source_type, id) = match target {
            DbTarget::Instance(id) => ("db-instance", id),
            DbTarget::Cluster(id) => ("db-cluster", id),
        };
        let minutes = self.config.recent_events_minutes;
        match self.inventory.recent_events(source_type, id, minutes).await {
            Err(e) => Check::new("recent-events", Outcome::Fail, e.to_string()).timed(started),
            Ok(events) => {
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
                    .timed(started)
            }
        }
    }

    async fn connections_check(&self, target: &DbTarget) -> Check {
        let started = Instant::now();
        let dimension = match target {
            DbTarget::Instance(id) => ("DBInstanceIdentifier", id.as_str()),
            DbTarget::Cluster(id) => ("DBClusterIdentifier", id.as_str()),
        };
        let window = Duration::from_secs(10 * 60);
        let latest = self
            .watch
            .latest_rds_metric("DatabaseConnections", dimension, window, Utc::now())
            .await;
        let check = match (latest, self.config.connections_normal) {
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
        };
        check.timed(started)
    }

    async fn alarms_check(
        &self,
        target: &DbTarget,
        described: Option<&Described>,
        triggering_alarm: Option<&str>,
    ) -> Check {
        let started = Instant::now();
        let mut ids = vec![target.id().to_string()];
        if let Some(Described::Cluster(cluster)) = described {
            ids.extend(cluster.members.iter().map(|m| m.instance_id.clone()));
        }
        match self.watch.alarms_firing_for(&ids).await {
            Err(e) => Check::new("alarms", Outcome::Fail, e.to_string()).timed(started),
            Ok(firing) => {
                let others: Vec<&String> = firing
                    .iter()
                    .filter(|a| Some(a.as_str()) != triggering_alarm)
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
                        format!(
                            "still in ALARM: {}{note}",
                            others
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                };
                Check::new("alarms", outcome, detail)
                    .with_data(json!({ "in_alarm": firing }))
                    .timed(started)
            }
        }
    }

    async fn table_checks(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        for table in &self.config.dynamodb_tables {
            let started = Instant::now();
            let name = format!("dynamodb-table:{table}");
            let check = match self.tables.table_health(table).await {
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
            };
            checks.push(check.timed(started));
        }
        checks
    }
}

fn cluster_writer_check(cluster: &ClusterInfo, expected_writer: Option<&str>) -> Check {
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

fn connection_check(target: &ConnectTarget, probed: &Result<ProbeResult, DbError>) -> Check {
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

fn writer_role_check(engine: Engine, probed: &Result<ProbeResult, DbError>) -> Check {
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

#[cfg(test)]
mod tests;
