//! Work that outlives one invocation (a restore takes up to an hour): a job record in the ledger
//! table (`pk` = `job#<function>#<key>`), changed only by compare-and-swap on its `version`.
//!
//! Each step of a job runs in its own invocation, started by its own trigger (an RDS event, a
//! sweep), under that trigger's own idempotency key. A step takes the job by writing it with a
//! lease (holder and deadline) at the version it read: of two runs that read the same version one
//! wins, the other is told it lost. A run that dies mid-step leaves its lease to expire; the next
//! trigger takes the step over. While a job is not `done` and its deadline has not passed, its
//! record is also the lock on what it works on: a second job of the same key is refused. The
//! function decides what the steps are and when a lease may be taken over (its policy); this
//! module only stores and swaps.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::budget::BoundedCall;
use crate::ledger::{DynamoLedger, LedgerError};

/// Who is running a step of a job, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub holder: String,
    pub until: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The job's key within its function (`db-instance#orders-db`).
    pub key: String,
    /// This run of the job (a drill id): a record of an earlier run is another job.
    pub run: String,
    /// The function's step name; `done` ends the job.
    pub step: String,
    /// Bumped by every write: the compare-and-swap value.
    pub version: u64,
    pub lease: Option<Lease>,
    /// The job fails when it is not done by then.
    pub deadline: DateTime<Utc>,
    /// The record is kept (table TTL) until then.
    pub keep_until: DateTime<Utc>,
    /// The function's own state of the job.
    pub state: Value,
}

pub const DONE: &str = "done";

impl JobRecord {
    pub fn is_done(&self) -> bool {
        self.step == DONE
    }
}

/// What a swap did.
#[derive(Debug, Clone, PartialEq)]
pub enum Swap {
    /// Written: the record now has this version.
    Written(u64),
    /// Another run wrote first: the record as it is now (`None`: gone).
    Lost(Option<Box<JobRecord>>),
}

#[allow(async_fn_in_trait)]
pub trait JobStore {
    async fn load(&self, function: &str, key: &str) -> Result<Option<JobRecord>, LedgerError>;
    /// Writes `job` with its version bumped, if the stored record is still at `expected`
    /// (`None`: there is no record).
    async fn swap(
        &self,
        function: &str,
        job: &JobRecord,
        expected: Option<u64>,
    ) -> Result<Swap, LedgerError>;
}

/// The ledger key of a job.
pub fn job_key(function: &str, key: &str) -> String {
    format!("job#{function}#{key}")
}

fn unreadable(key: &str, detail: impl std::fmt::Display) -> LedgerError {
    LedgerError {
        operation: "read job",
        detail: format!("job record {key}: {detail}"),
        source: None,
    }
}

fn from_item(key: &str, item: &HashMap<String, AttributeValue>) -> Result<JobRecord, LedgerError> {
    let body = item
        .get("job")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| unreadable(key, "has no job body"))?;
    serde_json::from_str(body).map_err(|e| unreadable(key, e))
}

impl JobStore for DynamoLedger {
    async fn load(&self, function: &str, key: &str) -> Result<Option<JobRecord>, LedgerError> {
        let pk = job_key(function, key);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.clone()))
            .consistent_read(true)
            .send()
            .bounded("DynamoDB GetItem")
            .await
            .map_err(|e| crate::ledger::sdk_error("read job", &e))?;
        out.item
            .as_ref()
            .map(|item| from_item(&pk, item))
            .transpose()
    }

    async fn swap(
        &self,
        function: &str,
        job: &JobRecord,
        expected: Option<u64>,
    ) -> Result<Swap, LedgerError> {
        let pk = job_key(function, &job.key);
        let mut next = job.clone();
        next.version = expected.map_or(1, |v| v + 1);
        let body = serde_json::to_string(&next).map_err(|e| unreadable(&pk, e))?;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(pk.clone()))
            .item("state", AttributeValue::S("JOB".into()))
            .item("step", AttributeValue::S(next.step.clone()))
            .item("version", AttributeValue::N(next.version.to_string()))
            .item("job", AttributeValue::S(body))
            .item(
                "expires_at",
                AttributeValue::N(next.keep_until.timestamp().to_string()),
            );
        put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(v) => put
                .condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
        };
        match put.send().bounded("DynamoDB PutItem").await {
            Ok(_) => Ok(Swap::Written(next.version)),
            Err(e) if crate::ledger::is_conditional_failure(&e) => {
                let now = self.load(function, &job.key).await?;
                Ok(Swap::Lost(now.map(Box::new)))
            }
            Err(e) => Err(crate::ledger::sdk_error("write job", &e)),
        }
    }
}

/// A job store in memory with the same compare-and-swap (tests).
#[cfg(any(test, feature = "test-util"))]
#[derive(Default)]
pub struct MemoryJobs {
    pub jobs: std::sync::Mutex<std::collections::BTreeMap<String, JobRecord>>,
    /// Fails every call with this detail when set (a DynamoDB outage).
    pub failing: std::sync::Mutex<Option<String>>,
}

#[cfg(any(test, feature = "test-util"))]
impl MemoryJobs {
    fn check(&self, operation: &'static str) -> Result<(), LedgerError> {
        match self.failing.lock().map(|f| f.clone()) {
            Ok(Some(detail)) => Err(LedgerError {
                operation,
                detail,
                source: None,
            }),
            _ => Ok(()),
        }
    }

    pub fn get(&self, function: &str, key: &str) -> Option<JobRecord> {
        self.jobs
            .lock()
            .ok()
            .and_then(|jobs| jobs.get(&job_key(function, key)).cloned())
    }
}

#[cfg(any(test, feature = "test-util"))]
impl JobStore for MemoryJobs {
    async fn load(&self, function: &str, key: &str) -> Result<Option<JobRecord>, LedgerError> {
        self.check("read job")?;
        Ok(self.get(function, key))
    }

    async fn swap(
        &self,
        function: &str,
        job: &JobRecord,
        expected: Option<u64>,
    ) -> Result<Swap, LedgerError> {
        self.check("write job")?;
        let pk = job_key(function, &job.key);
        let mut jobs = self
            .jobs
            .lock()
            .map_err(|_| unreadable(&pk, "lock poisoned"))?;
        let current = jobs.get(&pk).map(|j| j.version);
        if current != expected {
            return Ok(Swap::Lost(jobs.get(&pk).cloned().map(Box::new)));
        }
        let mut next = job.clone();
        next.version = expected.map_or(1, |v| v + 1);
        jobs.insert(pk, next.clone());
        Ok(Swap::Written(next.version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(step: &str) -> JobRecord {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        JobRecord {
            key: "db-instance#orders-db".into(),
            run: "orders-db-rr-drill-202701010000".into(),
            step: step.into(),
            version: 0,
            lease: None,
            deadline: at,
            keep_until: at,
            state: Value::Null,
        }
    }

    #[tokio::test]
    async fn of_two_writers_at_one_version_only_the_first_wins() {
        let store = MemoryJobs::default();
        assert_eq!(
            store.swap("f", &job("restoring"), None).await.unwrap(),
            Swap::Written(1)
        );
        // A second start finds the record there.
        match store.swap("f", &job("restoring"), None).await.unwrap() {
            Swap::Lost(Some(now)) => assert_eq!(now.version, 1),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            store.swap("f", &job("checking"), Some(1)).await.unwrap(),
            Swap::Written(2)
        );
        // The run that read version 1 too lost the step.
        match store.swap("f", &job("checking"), Some(1)).await.unwrap() {
            Swap::Lost(Some(now)) => {
                assert_eq!(now.version, 2);
                assert_eq!(now.step, "checking");
            }
            other => panic!("{other:?}"),
        }
        assert!(store.get("f", "db-instance#orders-db").is_some());
        assert!(store.get("other", "db-instance#orders-db").is_none());
    }
}
