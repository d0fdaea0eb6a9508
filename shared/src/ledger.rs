//! DynamoDB idempotency ledger and per-database locks, in one table keyed by `pk`.
//!
//! A trigger's record (`pk` = `<function>#<semantic key>`) moves through
//! `IN_PROGRESS` (claimed; taken over once its holder's deadline passed) -> `ACTING` (the holder
//! is about to act: never taken over again) -> `ACTED` (what was done, with the report, written
//! before delivery) -> `COMPLETED` (delivered). From `ACTING` on, the record is kept for the
//! retention period, never only until the holder's deadline. A retry that finds `ACTED` only delivers the
//! stored report again; one that finds `ACTING` past its deadline reports an unknown outcome and
//! acts on nothing. `payload_digest` (manual requests) catches a request id reused for another
//! request. A lock (`pk` = `lock#<resource>`) lets one destructive run act on a database at a
//! time; it expires at its holder's deadline. `expires_at` is the table's TTL attribute.

use crate::budget::BoundedCall;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::aws::{SdkError, SdkFailure};
use crate::report::Report;

/// The DynamoDB item limit is 400 KB; the report gets this much of it.
pub const MAX_STORED_REPORT_BYTES: usize = 300_000;

/// The answer to "may I handle this trigger?"
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Ours: go ahead.
    Acquired,
    /// Handled and delivered before: here is what was reported.
    Completed(Box<Report>),
    /// Acted before; delivery may not have happened: deliver this report again to the
    /// destinations not yet `delivered` to, and act on nothing.
    Acted {
        report: Box<Report>,
        delivered: Vec<String>,
        /// The run that acted, and its deadline: while it lasts, that run may still be
        /// delivering.
        holder: String,
        until: Option<DateTime<Utc>>,
    },
    /// Another invocation holds it until then and has not acted yet.
    InProgress {
        holder: String,
        until: DateTime<Utc>,
    },
    /// Another invocation began acting and has not recorded the outcome.
    Acting {
        request_id: String,
        since: Option<DateTime<Utc>>,
        until: DateTime<Utc>,
    },
    /// The key was used for a different request (payload digests differ).
    Conflict,
}

/// Who holds a lock on a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockHolder {
    pub function: String,
    pub request_id: String,
    /// The idempotency key of the holder's trigger.
    pub trigger_key: String,
    pub until: DateTime<Utc>,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} run {} (trigger {}) until {}",
            self.function,
            self.request_id,
            self.trigger_key,
            self.until
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum LockOutcome {
    Acquired,
    HeldBy(LockHolder),
}

#[derive(Debug, thiserror::Error)]
#[error("idempotency ledger {operation} failed: {detail}")]
pub struct LedgerError {
    pub operation: &'static str,
    pub detail: String,
    /// The DynamoDB failure behind it, when there was one.
    #[source]
    pub source: Option<Box<SdkFailure>>,
}

#[allow(async_fn_in_trait)]
pub trait Ledger {
    async fn claim(
        &self,
        key: &str,
        request_id: &str,
        digest: Option<&str>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Claim, LedgerError>;
    /// Our claim becomes `ACTING`, right before the first destructive call: from here on no
    /// retry or duplicate may act for this trigger. `until` is our deadline; the record itself
    /// is kept for the retention period (not until the deadline), so that no expiry ever lets
    /// the trigger be claimed afresh.
    async fn begin_acting(
        &self,
        key: &str,
        request_id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<(), LedgerError>;
    /// What was done, before delivery is tried.
    async fn record_acted(
        &self,
        key: &str,
        request_id: &str,
        report: &Report,
    ) -> Result<(), LedgerError>;
    /// Remembers destinations an acted report reached, so a retry delivers only the others.
    async fn note_delivered(&self, key: &str, sinks: &[&str]) -> Result<(), LedgerError>;
    async fn complete(&self, key: &str, report: &Report) -> Result<(), LedgerError>;
    /// Gives a claim back after a run that did not act, so a retry can do the work.
    async fn release(&self, key: &str, request_id: &str) -> Result<(), LedgerError>;
    /// Gives back an `ACTING` claim of a run that passed the guard and then did nothing (its
    /// every action refused, nothing sent that could have taken effect), so a retry can act.
    async fn stand_down(&self, key: &str, request_id: &str) -> Result<(), LedgerError>;
    async fn lock(
        &self,
        resource: &str,
        holder: &LockHolder,
        now: DateTime<Utc>,
    ) -> Result<LockOutcome, LedgerError>;
    async fn unlock(&self, resource: &str, request_id: &str) -> Result<(), LedgerError>;
}

/// SHA-256 of a payload, hex: what the ledger remembers of a manual request.
pub fn payload_digest(payload: &serde_json::Value) -> String {
    let canonical = serde_json::to_string(payload).unwrap_or_default();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The ledger key of a lock on `resource`.
pub fn lock_key(resource: &str) -> String {
    format!("lock#{resource}")
}

pub struct DynamoLedger {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
    /// How long completed records are kept (TTL) to catch late duplicates.
    pub retention: Duration,
    /// REPORT_PREFIX: a stored report shortened to fit names its archive key under it.
    pub report_prefix: String,
}

const IN_PROGRESS: &str = "IN_PROGRESS";
const ACTING: &str = "ACTING";
const ACTED: &str = "ACTED";
const COMPLETED: &str = "COMPLETED";

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn err<E>(operation: &'static str) -> impl Fn(SdkError<E>) -> LedgerError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| sdk_error(operation, &e)
}

/// The one mapping of a DynamoDB SDK error to a ledger error.
pub(crate) fn sdk_error<E>(operation: &'static str, e: &SdkError<E>) -> LedgerError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let failure = SdkFailure::from_sdk("DynamoDB", e);
    LedgerError {
        operation,
        detail: failure.to_string(),
        source: Some(Box::new(failure)),
    }
}

pub(crate) fn is_conditional_failure<E>(e: &SdkError<E>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    conditional_failed(e)
}

fn conditional_failed<E>(e: &SdkError<E>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    use aws_sdk_dynamodb::error::ProvideErrorMetadata;
    e.code() == Some("ConditionalCheckFailedException")
}

type Item = HashMap<String, AttributeValue>;

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn time(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
}

fn stored_report(item: &Item, key: &str) -> Result<Box<Report>, LedgerError> {
    let raw = text(item, "report").ok_or_else(|| LedgerError {
        operation: "read",
        detail: format!("record {key} has no report"),
        source: None,
    })?;
    serde_json::from_str(raw).map_err(|e| LedgerError {
        operation: "read",
        detail: format!("record {key} holds an unreadable report: {e}"),
        source: None,
    })
}

/// The report as stored: bounded so the item stays under DynamoDB's limit.
fn report_body(report: &Report, prefix: &str) -> String {
    report.fitted_json_in(MAX_STORED_REPORT_BYTES, false, prefix)
}

impl DynamoLedger {
    async fn read(&self, key: &str) -> Result<Option<Item>, LedgerError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .bounded("DynamoDB GetItem")
            .await
            .map_err(err("read"))?;
        Ok(out.item)
    }

    fn claim_from(item: &Item, key: &str, digest: Option<&str>) -> Result<Claim, LedgerError> {
        if let (Some(mine), Some(theirs)) = (digest, text(item, "payload_digest")) {
            if mine != theirs {
                return Ok(Claim::Conflict);
            }
        }
        let until = time(item, "expires_at").unwrap_or_default();
        let acting_until = time(item, "acting_until").unwrap_or(until);
        Ok(match text(item, "state") {
            Some(COMPLETED) => Claim::Completed(stored_report(item, key)?),
            Some(ACTED) => Claim::Acted {
                report: stored_report(item, key)?,
                delivered: item
                    .get("delivered")
                    .and_then(|v| v.as_ss().ok())
                    .cloned()
                    .unwrap_or_default(),
                holder: text(item, "request_id").unwrap_or("unknown").to_string(),
                until: time(item, "acting_until"),
            },
            Some(ACTING) => Claim::Acting {
                request_id: text(item, "request_id").unwrap_or("unknown").to_string(),
                since: time(item, "acting_since"),
                until: acting_until,
            },
            _ => Claim::InProgress {
                holder: text(item, "request_id").unwrap_or("unknown").to_string(),
                until,
            },
        })
    }
}

impl DynamoLedger {
    /// Deletes `key` under `request`'s condition (which names `:me`); a record that is no longer
    /// ours, or never was, is nothing to give back.
    async fn delete_if_ours(
        &self,
        request: aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder,
        key: &str,
        request_id: &str,
        operation: &'static str,
    ) -> Result<(), LedgerError> {
        let result = request
            .table_name(&self.table)
            .key("pk", s(key))
            .expression_attribute_values(":me", s(request_id))
            .send()
            .bounded("DynamoDB DeleteItem")
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => Ok(()),
            Err(e) => Err(err(operation)(e)),
        }
    }

    /// The record of `key` under `state` with `report` (bounded), kept for the retention period.
    fn write_report(
        &self,
        key: &str,
        state: &str,
        report: &Report,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        let keep_until = report.finished_at + self.retention;
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .update_expression(
                "SET #state = :state, report = :report, #status = :status, expires_at = :until, request_id = if_not_exists(request_id, :id)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":state", s(state))
            .expression_attribute_values(":report", s(&report_body(report, &self.report_prefix)))
            .expression_attribute_values(":status", s(report.status.as_str()))
            .expression_attribute_values(":until", n(keep_until.timestamp()))
            .expression_attribute_values(":id", s(&report.id))
    }
}

impl Ledger for DynamoLedger {
    async fn claim(
        &self,
        key: &str,
        request_id: &str,
        digest: Option<&str>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Claim, LedgerError> {
        // A claim whose holder ran past its deadline before acting (crash, timeout) may be taken
        // over; one that began acting may not. Our own claim is ours again: the SDK's retry of a
        // write whose answer was lost, or Lambda's retry of an attempt that failed before acting
        // (the same request id).
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
            .item("state", s(IN_PROGRESS))
            .item("request_id", s(request_id))
            .item("expires_at", n(until.timestamp()))
            .condition_expression(
                "attribute_not_exists(pk) OR (#state = :in_progress AND (expires_at < :now OR request_id = :me))",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":me", s(request_id))
            .expression_attribute_values(":now", n(now.timestamp()));
        if let Some(digest) = digest {
            request = request.item("payload_digest", s(digest));
        }
        match request.send().bounded("DynamoDB PutItem").await {
            Ok(_) => Ok(Claim::Acquired),
            Err(e) if conditional_failed(&e) => match self.read(key).await? {
                Some(item) => Self::claim_from(&item, key, digest),
                // Released or expired between the write and the read: the caller may retry.
                None => Ok(Claim::InProgress {
                    holder: "unknown".into(),
                    until: now,
                }),
            },
            Err(e) => Err(err("claim")(e)),
        }
    }

    async fn begin_acting(
        &self,
        key: &str,
        request_id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .update_expression(
                "SET #state = :acting, acting_since = :now, acting_until = :until, expires_at = :keep",
            )
            .expression_attribute_values(":until", n(until.timestamp()))
            .expression_attribute_values(":keep", n((now + self.retention).timestamp()))
            .condition_expression("request_id = :me AND #state IN (:in_progress, :acting)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":acting", s(ACTING))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":me", s(request_id))
            .expression_attribute_values(":now", n(now.timestamp()))
            .send()
            .bounded("DynamoDB UpdateItem")
            .await
            .map(|_| ())
            .map_err(|e| {
                if conditional_failed(&e) {
                    LedgerError {
                        operation: "begin-acting",
                        detail: format!("the claim on {key} is no longer ours"),
                        source: None,
                    }
                } else {
                    err("begin-acting")(e)
                }
            })
    }

    async fn record_acted(
        &self,
        key: &str,
        request_id: &str,
        report: &Report,
    ) -> Result<(), LedgerError> {
        self.write_report(key, ACTED, report)
            .condition_expression("request_id = :me")
            .expression_attribute_values(":me", s(request_id))
            .send()
            .bounded("DynamoDB UpdateItem")
            .await
            .map(|_| ())
            .map_err(err("record-acted"))
    }

    async fn note_delivered(&self, key: &str, sinks: &[&str]) -> Result<(), LedgerError> {
        if sinks.is_empty() {
            return Ok(());
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .update_expression("ADD delivered :sinks")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(
                ":sinks",
                AttributeValue::Ss(sinks.iter().map(|s| s.to_string()).collect()),
            )
            .send()
            .bounded("DynamoDB UpdateItem")
            .await
            .map(|_| ())
            .map_err(err("note-delivered"))
    }

    async fn complete(&self, key: &str, report: &Report) -> Result<(), LedgerError> {
        self.write_report(key, COMPLETED, report)
            .send()
            .bounded("DynamoDB UpdateItem")
            .await
            .map(|_| ())
            .map_err(err("complete"))
    }

    async fn release(&self, key: &str, request_id: &str) -> Result<(), LedgerError> {
        // Only an IN_PROGRESS claim is given back: never one that began acting.
        let request = self
            .client
            .delete_item()
            .condition_expression("request_id = :me AND #state = :in_progress")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS));
        self.delete_if_ours(request, key, request_id, "release")
            .await
    }

    async fn stand_down(&self, key: &str, request_id: &str) -> Result<(), LedgerError> {
        let request = self
            .client
            .delete_item()
            .condition_expression("request_id = :me AND #state = :acting")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":acting", s(ACTING));
        self.delete_if_ours(request, key, request_id, "stand-down")
            .await
    }

    async fn lock(
        &self,
        resource: &str,
        holder: &LockHolder,
        now: DateTime<Utc>,
    ) -> Result<LockOutcome, LedgerError> {
        let key = lock_key(resource);
        // Twice at most: a lock released between our write and our read is simply free.
        for _ in 0..2 {
            let written = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(&key))
                .item("state", s("LOCKED"))
                .item("function", s(&holder.function))
                .item("request_id", s(&holder.request_id))
                .item("trigger_key", s(&holder.trigger_key))
                .item("expires_at", n(holder.until.timestamp()))
                .condition_expression(
                    "attribute_not_exists(pk) OR expires_at < :now OR request_id = :me",
                )
                .expression_attribute_values(":now", n(now.timestamp()))
                .expression_attribute_values(":me", s(&holder.request_id))
                .send()
                .bounded("DynamoDB PutItem")
                .await;
            match written {
                Ok(_) => return Ok(LockOutcome::Acquired),
                Err(e) if conditional_failed(&e) => {
                    if let Some(item) = self.read(&key).await? {
                        let field = |name: &str| text(&item, name).unwrap_or("unknown").to_string();
                        return Ok(LockOutcome::HeldBy(LockHolder {
                            function: field("function"),
                            request_id: field("request_id"),
                            trigger_key: field("trigger_key"),
                            until: time(&item, "expires_at").unwrap_or(now),
                        }));
                    }
                }
                Err(e) => return Err(err("lock")(e)),
            }
        }
        Err(LedgerError {
            operation: "lock",
            detail: format!("{key} kept changing hands; not acting"),
            source: None,
        })
    }

    async fn unlock(&self, resource: &str, request_id: &str) -> Result<(), LedgerError> {
        let request = self
            .client
            .delete_item()
            .condition_expression("request_id = :me");
        self.delete_if_ours(request, &lock_key(resource), request_id, "unlock")
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_stable_and_tell_payloads_apart() {
        let a = payload_digest(&serde_json::json!({"db": "orders-db", "dry_run": true}));
        assert_eq!(a.len(), 64);
        assert_eq!(
            a,
            payload_digest(&serde_json::json!({"dry_run": true, "db": "orders-db"}))
        );
        assert_ne!(
            a,
            payload_digest(&serde_json::json!({"db": "orders-db", "dry_run": false}))
        );
    }
}
