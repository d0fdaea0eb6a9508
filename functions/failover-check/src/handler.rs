//! The verification: every check runs and reports on its own; one failing check does not stop
//! the others. Which triggers mean "verify now" is `policy.rs`; the wording, `checks.rs`.

use std::time::{Duration, Instant};

use chrono::Utc;

use rds_responder::cloudwatch::AlarmWatch;
use rds_responder::config::EndpointMap;
use rds_responder::dns::Resolver;
use rds_responder::guard::ActionGuard;
use rds_responder::ledger::Ledger;
use rds_responder::rds::DbInventory;
use rds_responder::report::{Check, Findings, Outcome};
use rds_responder::runner::{Invocation, Responder};
use rds_responder::sql::{ConnectTarget, DbProbe, Engine};
use rds_responder::tables::TableInspector;
use rds_responder::trigger::{DbTarget, TargetList, Trigger};

use crate::checks as wording;
use crate::checks::{
    cluster_writer_check, connection_check, summary, writer_role_check, Described,
};
use crate::config::FailoverConfig;
use crate::policy::{decide, Decision};
use crate::request::ManualCheck;

/// The capabilities failover-check uses; production wires AWS, tests wire fakes.
pub struct FailoverCheck<I, P, W, T, D> {
    pub inventory: I,
    pub probe: P,
    /// Where to connect for each database (overrides for local runs).
    pub endpoints: EndpointMap,
    pub watch: W,
    pub tables: T,
    pub resolver: D,
    pub config: FailoverConfig,
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
    type Schedule = TargetList;
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
                let summary = summary(&target, &checks);
                Findings::new(Some(target), checks, summary)
            }
        }
    }

    pub async fn verify(
        &self,
        target: &DbTarget,
        expected_writer: Option<&str>,
        triggering_alarm: Option<&str>,
        invocation: &Invocation,
    ) -> Vec<Check> {
        // The reads that do not need the description run while the wait goes on.
        let independent = async {
            tokio::join!(
                self.events_check(target),
                self.connections_check(target),
                self.table_checks()
            )
        };
        let ((status_check, described), (events, connections, tables)) =
            tokio::join!(self.wait_available(target, invocation), independent);
        let mut checks = vec![status_check];

        let database_checks = self.database_checks(target, described.as_ref(), expected_writer);
        let alarms = self.alarms_check(target, described.as_ref(), triggering_alarm);
        let (database, alarms) = tokio::join!(database_checks, alarms);
        checks.extend(database);
        checks.extend([events, connections, alarms]);
        checks.extend(tables);
        checks
    }

    /// Status `available`, waiting with bounded backoff inside the invocation deadline.
    async fn wait_available(
        &self,
        target: &DbTarget,
        invocation: &Invocation,
    ) -> (Check, Option<Described>) {
        let started = Instant::now();
        // Room is kept after the wait for DNS, the probe and the reads that follow.
        let budget = self.config.available_wait.min(
            invocation
                .work_left(Utc::now())
                .saturating_sub(self.config.after_wait),
        );
        let mut delay = Duration::from_millis(500);
        let mut attempts = 0u32;
        let mut last: Option<Described> = None;
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
            let waited = started.elapsed();
            let out_of_time = waited + delay > budget;
            match described {
                Ok(d) if d.status() == "available" => {
                    let check = wording::status_available(&d, attempts).timed(started);
                    return (check, Some(d));
                }
                Ok(d) if out_of_time => {
                    let check =
                        wording::status_not_available(&d, waited, attempts, budget).timed(started);
                    return (check, Some(d));
                }
                Ok(d) => last = Some(d),
                // Gone is an answer; any other failure is one look that failed, and the next
                // may answer.
                Err(e) if !e.transient() || out_of_time => {
                    let check = wording::status_unreadable(&e).timed(started);
                    return match last {
                        Some(d) => (check, Some(d)),
                        None => (check, None),
                    };
                }
                Err(_) => {}
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
            checks.extend(wording::skipped(
                &["endpoint-dns", "connection", "writer-role"],
                "the database could not be described",
            ));
            return checks;
        };
        let Some(endpoint) = described.endpoint() else {
            checks.push(Check::new(
                "endpoint-dns",
                Outcome::Fail,
                "RDS reports no endpoint",
            ));
            checks.extend(wording::skipped(
                &["connection", "writer-role"],
                "no endpoint to connect to",
            ));
            return checks;
        };
        let connect_to = self.endpoints.target_for(target.id().as_str(), endpoint);
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
        let resolved = self
            .resolver
            .resolve(&target.address.host, target.address.port)
            .await;
        wording::dns_check(target, resolved).timed(started)
    }

    async fn events_check(&self, target: &DbTarget) -> Check {
        let started = Instant::now();
        let (source_type, id) = match target {
            DbTarget::Instance(id) => ("db-instance", id),
            DbTarget::Cluster(id) => ("db-cluster", id),
        };
        let minutes = self.config.recent_events_minutes;
        let events = self.inventory.recent_events(source_type, id, minutes).await;
        wording::events_check(events, minutes).timed(started)
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
        wording::connections_check(latest, self.config.connections_normal).timed(started)
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
        let firing = self.watch.alarms_firing_for(&ids).await;
        wording::alarms_check(&ids, firing, triggering_alarm).timed(started)
    }

    async fn table_checks(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        for table in &self.config.dynamodb_tables {
            let started = Instant::now();
            let name = format!("dynamodb-table:{table}");
            let health = self.tables.table_health(table.as_str()).await;
            let check = wording::table_check(&name, health);
            checks.push(check.timed(started));
        }
        checks
    }
}

#[cfg(test)]
mod tests;
