//! DynamoDB idempotency ledger: one record per trigger, claimed with a conditional write.
//!
//! Item: `pk` (`<function>#<semantic key>`), `state` (IN_PROGRESS | COMPLETED), `request_id`,
//! `expires_at` (epoch seconds; also the table's TTL attribute), `report` (JSON, when completed).

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};

use crate::aws::describe_sdk_error;
use crate::report::Report;

/// The answer to "may I handle this trigger?"
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Ours: go ahead.
    Acquired,
    /// Handled before: here is what was reported.
    Completed(Box<Report>),
    /// Another invocation holds it until then.
    InProgress { until: DateTime<Utc> },
}

#[derive(Debug, thiserror::Error)]
#[error("idempotency ledger {operation} failed: {detail}")]
pub struct LedgerError {
    pub operation: &'static str,
    pub detail: String,
}

#[allow(async_fn_in_trait)]
pub trait Ledger {
    async fn claim(
        &self,
        key: &str,
        request_id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Claim, LedgerError>;
    async fn complete(&self, key: &str, report: &Report) -> Result<(), LedgerError>;
    /// Gives a claim back after a failed run, so a retry can do the work.
    async fn release(&self, key: &str, request_id: &str) -> Result<(), LedgerError>;
}

pub struct DynamoLedger {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
    /// How long completed records are kept (TTL) to catch late duplicates.
    pub retention: Duration,
}

const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn err(operation: &'static str) -> impl Fn(&(dyn std::error::Error + 'static)) -> LedgerError {
    move |e| LedgerError {
        operation,
        detail: describe_sdk_error(e),
    }
}

impl DynamoLedger {
    async fn read(&self, key: &str) -> Result<Option<Claim>, LedgerError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| err("read")(&e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let text = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
        };
        match text("state") {
            Some(COMPLETED) => {
                let raw = text("report").ok_or_else(|| LedgerError {
                    operation: "read",
                    detail: format!("completed record {key} has no report"),
                })?;
                let report = serde_json::from_str(raw).map_err(|e| LedgerError {
                    operation: "read",
                    detail: format!("completed record {key} holds an unreadable report: {e}"),
                })?;
                Ok(Some(Claim::Completed(Box::new(report))))
            }
            _ => {
                let until = item
                    .get("expires_at")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse::<i64>().ok())
                    .and_then(|secs| DateTime::from_timestamp(secs, 0))
                    .unwrap_or_default();
                Ok(Some(Claim::InProgress { until }))
            }
        }
    }
}

impl Ledger for DynamoLedger {
    async fn claim(
        &self,
        key: &str,
        request_id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Claim, LedgerError> {
        // A claim whose holder ran past its deadline (crash, timeout) may be taken over.
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
            .item("state", s(IN_PROGRESS))
            .item("request_id", s(request_id))
            .item("expires_at", n(until.timestamp()))
            .condition_expression(
                "attribute_not_exists(pk) OR (#state = :in_progress AND expires_at < :now)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":now", n(now.timestamp()))
            .send()
            .await;
        match written {
            Ok(_) => Ok(Claim::Acquired),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                // The record may have expired or been released between the write and this read:
                // then nobody holds it, and the caller may simply be retried.
                Ok(self
                    .read(key)
                    .await?
                    .unwrap_or(Claim::InProgress { until: now }))
            }
            Err(e) => Err(err("claim")(&e)),
        }
    }

    async fn complete(&self, key: &str, report: &Report) -> Result<(), LedgerError> {
        let body = serde_json::to_string(report).map_err(|e| LedgerError {
            operation: "complete",
            detail: e.to_string(),
        })?;
        let keep_until = report.finished_at + self.retention;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
            .item("state", s(COMPLETED))
            .item("request_id", s(&report.id))
            .item("expires_at", n(keep_until.timestamp()))
            .item("status", s(report.status.as_str()))
            .item("report", s(&body))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| err("complete")(&e))
    }

    async fn release(&self, key: &str, request_id: &str) -> Result<(), LedgerError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .condition_expression("request_id = :me AND #state = :in_progress")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":me", s(request_id))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Not ours any more: nothing to give back.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(err("release")(&e)),
        }
    }
}
