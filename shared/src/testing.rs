//! In-memory fakes of every capability trait, for unit tests here and in the functions
//! (feature `test-util`). They record what was asked so tests can assert nothing destructive ran.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::cloudwatch::{AlarmWatch, CloudWatchError};
use crate::dns::Resolver;
use crate::ledger::{Claim, Ledger, LedgerError};
use crate::publish::{PublishError, ReportSink};
use crate::rds::{ClusterInfo, DbInventory, Endpoint, EventRecord, InstanceInfo, RdsError};
use crate::report::Report;
use crate::sql::{ConnectTarget, DbError, DbProbe, Engine, ProbeResult};
use crate::tables::{TableHealth, TableInspector};
use crate::trigger::RdsIdentifier;

/// The origin of a function in the sample account and region.
pub fn origin(function: &str) -> crate::trigger::Origin {
    crate::trigger::Origin::from_function_arn(
        &format!("arn:aws:lambda:us-east-1:123456789012:function:{function}"),
        "us-east-1",
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// An invocation starting now with a minute to run.
pub fn invocation(function: &str) -> crate::runner::Invocation {
    let now = Utc::now();
    crate::runner::Invocation {
        request_id: "req-1".into(),
        deadline: now + chrono::Duration::seconds(60),
        now,
        origin: origin(function),
    }
}

/// A sample payload from the repository's `events/`.
pub fn sample(name: &str) -> serde_json::Value {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn instance(id: &str, status: &str) -> InstanceInfo {
    InstanceInfo {
        id: id.into(),
        status: status.into(),
        engine: "postgres".into(),
        endpoint: Some(Endpoint {
            host: format!("{id}.abc123.us-east-1.rds.amazonaws.com"),
            port: 5432,
        }),
        cluster_id: None,
        multi_az: true,
        availability_zone: Some("us-east-1b".into()),
        secondary_availability_zone: Some("us-east-1a".into()),
        iam_auth: true,
        tags: BTreeMap::new(),
    }
}

/// Statuses are served in order (the last repeats), so waits can be exercised.
pub struct FakeInventory {
    pub instance_statuses: RefCell<VecDeque<Result<InstanceInfo, RdsError>>>,
    pub cluster: Option<ClusterInfo>,
    pub events: Result<Vec<EventRecord>, RdsError>,
    pub describe_calls: RefCell<u32>,
}

impl FakeInventory {
    pub fn with_instances(statuses: Vec<Result<InstanceInfo, RdsError>>) -> Self {
        Self {
            instance_statuses: RefCell::new(statuses.into()),
            cluster: None,
            events: Ok(vec![]),
            describe_calls: RefCell::new(0),
        }
    }
}

impl DbInventory for FakeInventory {
    async fn describe_instance(&self, id: &RdsIdentifier) -> Result<InstanceInfo, RdsError> {
        *self.describe_calls.borrow_mut() += 1;
        let mut queue = self.instance_statuses.borrow_mut();
        let next = if queue.len() > 1 {
            queue.pop_front()
        } else {
            queue.front().cloned()
        };
        next.unwrap_or_else(|| {
            Err(RdsError::NotFound {
                kind: "DB instance",
                id: id.to_string(),
            })
        })
    }

    async fn describe_cluster(&self, id: &RdsIdentifier) -> Result<ClusterInfo, RdsError> {
        *self.describe_calls.borrow_mut() += 1;
        self.cluster.clone().ok_or_else(|| RdsError::NotFound {
            kind: "DB cluster",
            id: id.to_string(),
        })
    }

    async fn recent_events(
        &self,
        _: &str,
        _: &RdsIdentifier,
        _: i32,
    ) -> Result<Vec<EventRecord>, RdsError> {
        self.events.clone()
    }
}

pub struct FakeProbe {
    pub result: Result<ProbeResult, String>,
    pub overrides: BTreeMap<String, Endpoint>,
    pub probed: RefCell<Vec<ConnectTarget>>,
}

impl FakeProbe {
    pub fn healthy() -> Self {
        Self::answering(false)
    }

    pub fn answering(in_recovery: bool) -> Self {
        Self {
            result: Ok(ProbeResult {
                connect_ms: 3.0,
                select_one_ms: 0.4,
                in_recovery,
                server_version: "16.4".into(),
            }),
            overrides: BTreeMap::new(),
            probed: RefCell::default(),
        }
    }

    pub fn refusing(detail: &str) -> Self {
        Self {
            result: Err(detail.into()),
            ..Self::healthy()
        }
    }
}

impl DbProbe for FakeProbe {
    fn target_for(&self, db_id: &str, rds_endpoint: &Endpoint) -> ConnectTarget {
        let address = self.overrides.get(db_id).cloned();
        ConnectTarget {
            rds_endpoint: rds_endpoint.clone(),
            overridden: address.is_some(),
            address: address.unwrap_or_else(|| rds_endpoint.clone()),
        }
    }

    async fn probe(&self, _: Engine, target: &ConnectTarget) -> Result<ProbeResult, DbError> {
        self.probed.borrow_mut().push(target.clone());
        self.result.clone().map_err(|detail| DbError::Connect {
            host: target.address.host.clone(),
            port: target.address.port,
            detail,
        })
    }
}

pub struct FakeWatch {
    pub firing: Result<Vec<String>, CloudWatchError>,
    pub connections: Result<Option<f64>, CloudWatchError>,
}

impl Default for FakeWatch {
    fn default() -> Self {
        Self {
            firing: Ok(vec![]),
            connections: Ok(Some(42.0)),
        }
    }
}

impl AlarmWatch for FakeWatch {
    async fn alarms_firing_for(&self, _: &[String]) -> Result<Vec<String>, CloudWatchError> {
        self.firing.clone()
    }

    async fn latest_rds_metric(
        &self,
        _: &str,
        _: (&str, &str),
        _: Duration,
        _: DateTime<Utc>,
    ) -> Result<Option<f64>, CloudWatchError> {
        self.connections.clone()
    }
}

#[derive(Default)]
pub struct FakeTables {
    pub tables: BTreeMap<String, TableHealth>,
}

impl TableInspector for FakeTables {
    async fn table_health(&self, table: &str) -> Result<TableHealth, String> {
        self.tables
            .get(table)
            .cloned()
            .ok_or_else(|| format!("ResourceNotFoundException: table {table} not found"))
    }
}

/// Resolves every name to one address, or fails them all.
pub struct FakeResolver(pub Result<IpAddr, String>);

impl Resolver for FakeResolver {
    async fn resolve(&self, _: &str, _: u16) -> Result<Vec<IpAddr>, String> {
        self.0.clone().map(|ip| vec![ip])
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum LedgerRecord {
    InProgress {
        request_id: String,
        until: DateTime<Utc>,
    },
    Completed(Box<Report>),
}

/// A ledger with DynamoDB's conditional-write semantics, in memory.
#[derive(Default)]
pub struct MemoryLedger {
    pub records: RefCell<BTreeMap<String, LedgerRecord>>,
    pub fail_with: Option<String>,
}

impl Ledger for MemoryLedger {
    async fn claim(
        &self,
        key: &str,
        request_id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Claim, LedgerError> {
        if let Some(detail) = &self.fail_with {
            return Err(LedgerError {
                operation: "claim",
                detail: detail.clone(),
            });
        }
        let mut records = self.records.borrow_mut();
        match records.get(key) {
            Some(LedgerRecord::Completed(report)) => Ok(Claim::Completed(report.clone())),
            Some(LedgerRecord::InProgress { until: held, .. }) if *held >= now => {
                Ok(Claim::InProgress { until: *held })
            }
            _ => {
                records.insert(
                    key.into(),
                    LedgerRecord::InProgress {
                        request_id: request_id.into(),
                        until,
                    },
                );
                Ok(Claim::Acquired)
            }
        }
    }

    async fn complete(&self, key: &str, report: &Report) -> Result<(), LedgerError> {
        self.records.borrow_mut().insert(
            key.into(),
            LedgerRecord::Completed(Box::new(report.clone())),
        );
        Ok(())
    }

    async fn release(&self, key: &str, request_id: &str) -> Result<(), LedgerError> {
        let mut records = self.records.borrow_mut();
        if matches!(records.get(key), Some(LedgerRecord::InProgress { request_id: r, .. }) if r == request_id)
        {
            records.remove(key);
        }
        Ok(())
    }
}

/// Keeps every delivered report; fails every delivery when `fail` is set.
#[derive(Default)]
pub struct RecordingSink {
    pub delivered: RefCell<Vec<Report>>,
    pub fail: bool,
}

impl ReportSink for RecordingSink {
    async fn deliver(&self, report: &Report) -> Result<(), Vec<PublishError>> {
        if self.fail {
            return Err(vec![PublishError {
                sink: "sns",
                detail: "AuthorizationError".into(),
            }]);
        }
        self.delivered.borrow_mut().push(report.clone());
        Ok(())
    }
}

/// Serves a canned snapshot; "terminates" what the decision returns, sparing `spare` ids.
pub struct FakeReaper {
    pub snapshot: Result<crate::sql::sessions::SessionSnapshot, String>,
    pub spare: Vec<i64>,
    pub terminate_calls: RefCell<Vec<Vec<i64>>>,
}

impl FakeReaper {
    pub fn with(snapshot: crate::sql::sessions::SessionSnapshot) -> Self {
        Self {
            snapshot: Ok(snapshot),
            spare: vec![],
            terminate_calls: RefCell::default(),
        }
    }
}

impl DbProbe for FakeReaper {
    fn target_for(&self, _: &str, rds_endpoint: &Endpoint) -> ConnectTarget {
        ConnectTarget {
            rds_endpoint: rds_endpoint.clone(),
            address: rds_endpoint.clone(),
            overridden: false,
        }
    }

    async fn probe(&self, _: Engine, _: &ConnectTarget) -> Result<ProbeResult, DbError> {
        Err(DbError::Unsupported("fake".into()))
    }
}

impl crate::sql::SessionReaper for FakeReaper {
    async fn reap<F>(
        &self,
        _: Engine,
        target: &ConnectTarget,
        decide: F,
    ) -> Result<
        (
            crate::sql::sessions::SessionSnapshot,
            Option<crate::sql::sessions::Termination>,
        ),
        DbError,
    >
    where
        F: FnOnce(&crate::sql::sessions::SessionSnapshot) -> Vec<crate::sql::sessions::Session>,
    {
        let snapshot = self.snapshot.clone().map_err(|detail| DbError::Connect {
            host: target.address.host.clone(),
            port: target.address.port,
            detail,
        })?;
        let planned = decide(&snapshot);
        if planned.is_empty() {
            return Ok((snapshot, None));
        }
        self.terminate_calls
            .borrow_mut()
            .push(planned.iter().map(|s| s.id).collect());
        let (spared, terminated): (Vec<_>, Vec<_>) = planned
            .into_iter()
            .partition(|s| self.spare.contains(&s.id));
        let after = snapshot.total_connections - terminated.len() as u64;
        Ok((
            snapshot,
            Some(crate::sql::sessions::Termination {
                terminated,
                spared,
                connections_after: after,
                method: "fake".into(),
                statement_ms: 0,
                exit_wait_ms: 0,
            }),
        ))
    }
}
