//! In-memory fakes of every capability trait, for unit tests here and in the functions
//! (feature `test-util`). They record what was asked so tests can assert nothing destructive ran.
//! Fakes of database sessions and table health come with the `db` and `tables` features.

mod backups;
#[cfg(feature = "db")]
mod db;
mod http;
#[cfg(feature = "tables")]
mod tables;

pub use backups::*;
#[cfg(feature = "db")]
pub use db::*;
pub use http::*;
#[cfg(feature = "tables")]
pub use tables::*;

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};

#[cfg(feature = "alarms")]
use crate::cloudwatch::{AlarmWatch, CloudWatchError};
use crate::dns::{ResolveError, Resolver};
use crate::ledger::{Claim, Ledger, LedgerError, LockHolder, LockOutcome};
use crate::publish::{PublishError, ReportSink};
use crate::rds::{ClusterInfo, DbInventory, Endpoint, EventRecord, InstanceInfo, RdsError};
use crate::report::Report;
use crate::trigger::RdsIdentifier;

/// A service error as an adapter keeps it.
pub fn sdk_failure(code: &str) -> crate::aws::SdkFailure {
    crate::aws::SdkFailure {
        service: "test",
        code: Some(code.into()),
        message: format!("{code} (injected)"),
        request_id: Some("req-injected".into()),
    }
}

/// The origin of a function in the sample account and region.
pub fn origin(function: &str) -> crate::trigger::Origin {
    crate::trigger::Origin::from_function_arn(
        &format!("arn:aws:lambda:us-east-1:123456789012:function:{function}"),
        "us-east-1",
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The shared settings of a function under test (no event age limit).
pub fn common_config() -> crate::config::CommonConfig {
    crate::config::CommonConfig {
        region: "us-east-1".into(),
        report_topic_arn: "arn:aws:sns:us-east-1:123456789012:reports".into(),
        report_bucket: "reports".into(),
        report_prefix: "reports".into(),
        ledger_table: "ledger".into(),
        metrics_namespace: "RdsResponder".into(),
        max_event_age: None,
        deadline_reserve: Duration::from_secs(10),
    }
}

/// `responder` behind an in-memory ledger and `sink`.
pub fn runner<R: crate::runner::Responder>(
    responder: R,
    ledger: MemoryLedger,
    sink: RecordingSink,
) -> crate::runner::Runner<R, MemoryLedger, RecordingSink> {
    crate::runner::Runner {
        responder,
        ledger,
        sink,
        common: common_config(),
    }
}

/// An invocation of `function` at `now` with a minute to run.
pub fn invocation_at(
    function: &str,
    now: DateTime<Utc>,
    request_id: &str,
) -> crate::runner::Invocation {
    crate::runner::Invocation {
        request_id: request_id.into(),
        deadline: now + chrono::Duration::seconds(60),
        now,
        origin: origin(function),
        reserve: Duration::from_secs(10),
    }
}

/// An invocation starting now with a minute to run.
pub fn invocation(function: &str) -> crate::runner::Invocation {
    let now = Utc::now();
    crate::runner::Invocation {
        request_id: "req-1".into(),
        deadline: now + chrono::Duration::seconds(60),
        now,
        origin: origin(function),
        reserve: Duration::from_secs(10),
    }
}

/// The check called `name` in `findings`; panics naming the checks there when none is.
pub fn check<'a>(findings: &'a crate::report::Findings, name: &str) -> &'a crate::report::Check {
    named(&findings.checks, name)
}

/// The check called `name` in a delivered `report`.
pub fn report_check<'a>(report: &'a Report, name: &str) -> &'a crate::report::Check {
    named(&report.checks, name)
}

fn named<'a>(checks: &'a [crate::report::Check], name: &str) -> &'a crate::report::Check {
    checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name} in {checks:#?}"))
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
    /// When an instance is listed here, it is served by its id (before the queue).
    pub instances_by_id: BTreeMap<String, InstanceInfo>,
    pub cluster: Option<ClusterInfo>,
    pub events: Result<Vec<EventRecord>, RdsError>,
    pub describe_calls: RefCell<u32>,
}

impl FakeInventory {
    pub fn with_instances(statuses: Vec<Result<InstanceInfo, RdsError>>) -> Self {
        Self {
            instance_statuses: RefCell::new(statuses.into()),
            instances_by_id: BTreeMap::new(),
            cluster: None,
            events: Ok(vec![]),
            describe_calls: RefCell::new(0),
        }
    }
}

impl DbInventory for FakeInventory {
    async fn describe_instance(&self, id: &RdsIdentifier) -> Result<InstanceInfo, RdsError> {
        *self.describe_calls.borrow_mut() += 1;
        if let Some(info) = self.instances_by_id.get(id.as_str()) {
            return Ok(info.clone());
        }
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

#[cfg(feature = "alarms")]
pub struct FakeWatch {
    pub firing: Result<Vec<String>, CloudWatchError>,
    pub connections: Result<Option<f64>, CloudWatchError>,
}

#[cfg(feature = "alarms")]
impl Default for FakeWatch {
    fn default() -> Self {
        Self {
            firing: Ok(vec![]),
            connections: Ok(Some(42.0)),
        }
    }
}

#[cfg(feature = "alarms")]
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

/// Resolves every name to one address, or fails them all.
pub struct FakeResolver(pub Result<IpAddr, String>);

impl Resolver for FakeResolver {
    async fn resolve(&self, _: &str, _: u16) -> Result<Vec<IpAddr>, ResolveError> {
        self.0
            .clone()
            .map(|ip| vec![ip])
            .map_err(|e| ResolveError::Lookup(std::io::Error::other(e)))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum LedgerRecord {
    InProgress {
        request_id: String,
        until: DateTime<Utc>,
        digest: Option<String>,
    },
    Acting {
        request_id: String,
        until: DateTime<Utc>,
        digest: Option<String>,
        /// When DynamoDB's TTL would delete it.
        kept_until: DateTime<Utc>,
    },
    Acted {
        report: Box<Report>,
        digest: Option<String>,
        delivered: Vec<String>,
        /// The acting run's deadline.
        until: Option<DateTime<Utc>>,
    },
    Completed {
        report: Box<Report>,
        digest: Option<String>,
    },
}

impl LedgerRecord {
    fn digest(&self) -> Option<&str> {
        match self {
            LedgerRecord::InProgress { digest, .. }
            | LedgerRecord::Acting { digest, .. }
            | LedgerRecord::Acted { digest, .. }
            | LedgerRecord::Completed { digest, .. } => digest.as_deref(),
        }
    }

    fn request_id(&self) -> Option<&str> {
        match self {
            LedgerRecord::InProgress { request_id, .. }
            | LedgerRecord::Acting { request_id, .. } => Some(request_id),
            LedgerRecord::Acted { report, .. } | LedgerRecord::Completed { report, .. } => {
                Some(&report.id)
            }
        }
    }
}

/// How long the ledger keeps what was done (the production retention).
pub const RETENTION: chrono::Duration = chrono::Duration::days(14);

/// A ledger with DynamoDB's conditional-write semantics, in memory. `fail` makes the named
/// operations (`claim`, `begin-acting`, `record-acted`, `complete`, `release`, `lock`,
/// `unlock`) fail, each as many times as it is listed.
#[derive(Default)]
pub struct MemoryLedger {
    pub records: RefCell<BTreeMap<String, LedgerRecord>>,
    pub locks: RefCell<BTreeMap<String, LockHolder>>,
    pub fail: RefCell<Vec<&'static str>>,
    /// Every operation asked, in order.
    pub calls: RefCell<Vec<&'static str>>,
}

impl MemoryLedger {
    pub fn failing(operations: &[&'static str]) -> Self {
        Self {
            fail: RefCell::new(operations.to_vec()),
            ..Self::default()
        }
    }

    fn check(&self, operation: &'static str) -> Result<(), LedgerError> {
        self.calls.borrow_mut().push(operation);
        let mut fail = self.fail.borrow_mut();
        match fail.iter().position(|o| *o == operation) {
            Some(at) => {
                fail.remove(at);
                Err(LedgerError {
                    operation,
                    detail: "ProvisionedThroughputExceededException (injected)".into(),
                    source: None,
                })
            }
            None => Ok(()),
        }
    }

    pub fn record(&self, key: &str) -> Option<LedgerRecord> {
        self.records.borrow().get(key).cloned()
    }

    /// What DynamoDB's TTL sweep would delete by `now`: claims past their deadline, other
    /// records past the retention period, locks past their expiry.
    pub fn sweep_expired(&self, now: DateTime<Utc>) {
        self.records.borrow_mut().retain(|_, record| match record {
            LedgerRecord::InProgress { until, .. } => *until >= now,
            LedgerRecord::Acting { kept_until, .. } => *kept_until >= now,
            LedgerRecord::Acted { report, .. } | LedgerRecord::Completed { report, .. } => {
                report.finished_at + RETENTION >= now
            }
        });
        self.locks
            .borrow_mut()
            .retain(|_, holder| holder.until >= now);
    }
}

impl Ledger for MemoryLedger {
    async fn claim(
        &self,
        key: &str,
        request_id: &str,
        digest: Option<&str>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Claim, LedgerError> {
        self.check("claim")?;
        let mut records = self.records.borrow_mut();
        if let Some(record) = records.get(key) {
            if let (Some(mine), Some(theirs)) = (digest, record.digest()) {
                if mine != theirs {
                    return Ok(Claim::Conflict);
                }
            }
        }
        match records.get(key) {
            Some(LedgerRecord::Completed { report, .. }) => {
                return Ok(Claim::Completed(report.clone()))
            }
            Some(LedgerRecord::Acted {
                report,
                delivered,
                until,
                ..
            }) => {
                return Ok(Claim::Acted {
                    report: report.clone(),
                    delivered: delivered.clone(),
                    holder: report.id.clone(),
                    until: *until,
                })
            }
            Some(LedgerRecord::Acting {
                request_id, until, ..
            }) => {
                return Ok(Claim::Acting {
                    request_id: request_id.clone(),
                    since: None,
                    until: *until,
                })
            }
            // Our own claim (an earlier attempt of this request) is ours again.
            Some(LedgerRecord::InProgress {
                until: held,
                request_id: holder,
                ..
            }) if *held >= now && holder != request_id => {
                return Ok(Claim::InProgress {
                    holder: holder.clone(),
                    until: *held,
                })
            }
            _ => {}
        }
        records.insert(
            key.into(),
            LedgerRecord::InProgress {
                request_id: request_id.into(),
                until,
                digest: digest.map(str::to_string),
            },
        );
        Ok(Claim::Acquired)
    }

    async fn begin_acting(
        &self,
        key: &str,
        request_id: &str,
        now: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.check("begin-acting")?;
        let mut records = self.records.borrow_mut();
        match records.get(key).cloned() {
            Some(LedgerRecord::InProgress {
                request_id: r,
                until,
                digest,
            })
            | Some(LedgerRecord::Acting {
                request_id: r,
                until,
                digest,
                ..
            }) if r == request_id => {
                records.insert(
                    key.into(),
                    LedgerRecord::Acting {
                        request_id: r,
                        until,
                        digest,
                        kept_until: now + RETENTION,
                    },
                );
                Ok(())
            }
            _ => Err(LedgerError {
                operation: "begin-acting",
                detail: format!("the claim on {key} is no longer ours"),
                source: None,
            }),
        }
    }

    async fn record_acted(
        &self,
        key: &str,
        request_id: &str,
        report: &Report,
    ) -> Result<(), LedgerError> {
        self.check("record-acted")?;
        let mut records = self.records.borrow_mut();
        let record = records.get(key).cloned();
        if record.as_ref().and_then(LedgerRecord::request_id) != Some(request_id) {
            return Err(LedgerError {
                operation: "record-acted",
                detail: "ConditionalCheckFailedException".into(),
                source: None,
            });
        }
        let until = match &record {
            Some(LedgerRecord::Acting { until, .. }) => Some(*until),
            Some(LedgerRecord::Acted { until, .. }) => *until,
            _ => None,
        };
        let digest = record.and_then(|r| r.digest().map(str::to_string));
        records.insert(
            key.into(),
            LedgerRecord::Acted {
                report: Box::new(report.clone()),
                digest,
                delivered: vec![],
                until,
            },
        );
        Ok(())
    }

    async fn note_delivered(&self, key: &str, sinks: &[&str]) -> Result<(), LedgerError> {
        self.check("note-delivered")?;
        if let Some(LedgerRecord::Acted { delivered, .. }) = self.records.borrow_mut().get_mut(key)
        {
            for sink in sinks {
                if !delivered.iter().any(|d| d == sink) {
                    delivered.push(sink.to_string());
                }
            }
        }
        Ok(())
    }

    async fn complete(&self, key: &str, report: &Report) -> Result<(), LedgerError> {
        self.check("complete")?;
        let mut records = self.records.borrow_mut();
        let digest = records
            .get(key)
            .and_then(|r| r.digest().map(str::to_string));
        records.insert(
            key.into(),
            LedgerRecord::Completed {
                report: Box::new(report.clone()),
                digest,
            },
        );
        Ok(())
    }

    async fn release(&self, key: &str, request_id: &str) -> Result<(), LedgerError> {
        self.check("release")?;
        let mut records = self.records.borrow_mut();
        if matches!(records.get(key), Some(LedgerRecord::InProgress { request_id: r, .. }) if r == request_id)
        {
            records.remove(key);
        }
        Ok(())
    }

    async fn stand_down(&self, key: &str, request_id: &str) -> Result<(), LedgerError> {
        self.check("stand-down")?;
        let mut records = self.records.borrow_mut();
        if matches!(records.get(key), Some(LedgerRecord::Acting { request_id: r, .. }) if r == request_id)
        {
            records.remove(key);
        }
        Ok(())
    }

    async fn lock(
        &self,
        resource: &str,
        holder: &LockHolder,
        now: DateTime<Utc>,
    ) -> Result<LockOutcome, LedgerError> {
        self.check("lock")?;
        let mut locks = self.locks.borrow_mut();
        match locks.get(resource) {
            Some(held) if held.until >= now && held.request_id != holder.request_id => {
                Ok(LockOutcome::HeldBy(held.clone()))
            }
            _ => {
                locks.insert(resource.into(), holder.clone());
                Ok(LockOutcome::Acquired)
            }
        }
    }

    async fn unlock(&self, resource: &str, request_id: &str) -> Result<(), LedgerError> {
        self.check("unlock")?;
        let mut locks = self.locks.borrow_mut();
        if locks
            .get(resource)
            .is_some_and(|h| h.request_id == request_id)
        {
            locks.remove(resource);
        }
        Ok(())
    }
}

/// A guard over `ledger` for one test invocation, whose trigger `test#key` it has claimed.
pub fn guard<'a>(
    ledger: &'a MemoryLedger,
    invocation: &crate::runner::Invocation,
) -> crate::guard::ActionGuard<'a, MemoryLedger> {
    ledger
        .records
        .borrow_mut()
        .entry("test#key".into())
        .or_insert_with(|| LedgerRecord::InProgress {
            request_id: invocation.request_id.clone(),
            until: invocation.deadline,
            digest: None,
        });
    crate::guard::ActionGuard::new(
        ledger,
        "test",
        "test#key",
        &invocation.request_id,
        invocation.deadline,
    )
}

/// Keeps every delivered report; refuses the first `fail_first` deliveries.
#[derive(Default)]
pub struct RecordingSink {
    pub delivered: RefCell<Vec<Report>>,
    pub fail_first: std::cell::Cell<u32>,
    /// The destinations of every delivery asked for.
    pub calls: RefCell<Vec<Vec<String>>>,
    /// The archive keys S3 holds (every report delivered to `s3`).
    pub archives: RefCell<Vec<String>>,
}

impl RecordingSink {
    pub fn refusing(times: u32) -> Self {
        Self {
            fail_first: std::cell::Cell::new(times),
            ..Self::default()
        }
    }
}

impl ReportSink for RecordingSink {
    /// A refused delivery fails on SNS only: S3 and metrics got the report.
    async fn deliver_to(&self, report: &Report, sinks: &[&str]) -> Result<(), Vec<PublishError>> {
        self.calls
            .borrow_mut()
            .push(sinks.iter().map(|s| s.to_string()).collect());
        if self.fail_first.get() > 0 && sinks.contains(&crate::publish::SNS) {
            self.fail_first.set(self.fail_first.get() - 1);
            if sinks.contains(&crate::publish::S3) {
                self.archives.borrow_mut().push(report.archive_key());
            }
            return Err(vec![PublishError {
                sink: crate::publish::SNS,
                detail: "AuthorizationError".into(),
                source: None,
            }]);
        }
        if sinks.contains(&crate::publish::S3) {
            self.archives.borrow_mut().push(report.archive_key());
        }
        self.delivered.borrow_mut().push(report.clone());
        Ok(())
    }

    async fn archived(&self, report: &Report) -> bool {
        self.archives.borrow().contains(&report.archive_key())
    }
}
