//! The path every invocation takes: event -> `Trigger` -> ledger claim -> the function's
//! decision and actions -> `Report` -> SNS + S3 + metrics -> ledger completion -> response.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::config::CommonConfig;
use crate::ledger::{Claim, Ledger, LedgerError};
use crate::publish::{PublishError, ReportSink};
use crate::report::{Findings, Report};
use crate::trigger::{parse_trigger, ManualPayload, Origin, Trigger, TriggerError};

/// Facts about this invocation, passed in so decisions are deterministic under test.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub deadline: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub origin: Origin,
}

impl Invocation {
    /// From the Lambda context: the account comes from the invoked function ARN.
    pub fn from_context(
        ctx: &lambda_runtime::Context,
        region: &str,
        now: DateTime<Utc>,
    ) -> Result<Self, TriggerError> {
        let deadline = i64::try_from(ctx.deadline)
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or(now + Duration::seconds(30));
        Ok(Self {
            request_id: ctx.request_id.clone(),
            deadline,
            now,
            origin: Origin::from_function_arn(&ctx.invoked_function_arn, region)?,
        })
    }

    /// Time left before Lambda stops us.
    pub fn remaining(&self, now: DateTime<Utc>) -> std::time::Duration {
        (self.deadline - now).to_std().unwrap_or_default()
    }
}

/// One function's behaviour: what it accepts by hand and what it does with a trigger.
#[allow(async_fn_in_trait)]
pub trait Responder {
    type Manual: ManualPayload + Serialize;
    const FUNCTION: &'static str;
    /// Decides and acts. Failures of individual checks or actions are findings, not errors.
    async fn respond(&self, trigger: &Trigger<Self::Manual>, invocation: &Invocation) -> Findings;
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("event refused: {0}")]
    Refused(#[from] TriggerError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("another invocation ({key}) is handling this trigger until {until}; retry later")]
    InProgress { key: String, until: DateTime<Utc> },
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Publish(Vec<PublishError>),
    #[error("report {report_id} delivered; failing so Lambda retries: {reason}")]
    Retry { report_id: String, reason: String },
}

impl HandlerError {
    pub fn kind(&self) -> &'static str {
        match self {
            HandlerError::Refused(e) => e.kind(),
            HandlerError::Ledger(_) => "LedgerUnavailable",
            HandlerError::InProgress { .. } => "DuplicateInProgress",
            HandlerError::Publish(_) => "PublishFailed",
            HandlerError::Retry { .. } => "RetryRequested",
        }
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(err: HandlerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: err.kind().to_string(),
            error_message: err.to_string(),
        }
    }
}

/// Wires a responder to the ledger and the report sink.
pub struct Runner<R, L, S> {
    pub responder: R,
    pub ledger: L,
    pub sink: S,
    pub common: CommonConfig,
}

impl<R: Responder, L: Ledger, S: ReportSink> Runner<R, L, S> {
    pub async fn handle(
        &self,
        event: Value,
        invocation: &Invocation,
    ) -> Result<Report, HandlerError> {
        let trigger: Trigger<R::Manual> =
            parse_trigger(event, &invocation.origin).inspect_err(|e| {
                tracing::warn!(error = %e, kind = e.kind(), "event refused");
            })?;
        let key = format!(
            "{}#{}",
            R::FUNCTION,
            trigger.idempotency_key(&invocation.request_id)
        );
        let summary = trigger.summary();
        let report = |findings: Findings, finished: DateTime<Utc>| {
            Report::assemble(
                &invocation.request_id,
                R::FUNCTION,
                &summary,
                &key,
                findings,
                invocation.now,
                finished,
            )
        };

        if let Trigger::SubscriptionNotice(text) = &trigger {
            tracing::info!(notice = %text, "SNS subscription notice acknowledged");
            return Ok(report(
                Findings::skipped(None, "SNS subscription notice acknowledged; nothing to do"),
                Utc::now(),
            ));
        }

        match self
            .ledger
            .claim(
                &key,
                &invocation.request_id,
                invocation.now,
                invocation.deadline,
            )
            .await?
        {
            Claim::Acquired => {}
            Claim::Completed(mut earlier) => {
                tracing::info!(%key, earlier = %earlier.id, "duplicate delivery: returning the earlier report");
                earlier.duplicate_of = Some(earlier.id.clone());
                return Ok(*earlier);
            }
            Claim::InProgress { until } => return Err(HandlerError::InProgress { key, until }),
        }

        let findings = match self.stale(&trigger, invocation.now) {
            Some(reason) => Findings::skipped(None, reason),
            None => self.responder.respond(&trigger, invocation).await,
        };
        let retry = findings.retry.clone();
        let report = report(findings, Utc::now().max(invocation.now));
        tracing::info!(%key, status = report.status.as_str(), summary = %report.summary, "run finished");

        if let Err(errors) = self.sink.deliver(&report).await {
            // Undelivered means not done: give the claim back so Lambda's retry reports again.
            if let Err(e) = self.ledger.release(&key, &invocation.request_id).await {
                tracing::error!(error = %e, "could not release the ledger claim");
            }
            return Err(HandlerError::Publish(errors));
        }
        if let Some(reason) = retry {
            // Not done: the claim goes back so the retry can act.
            self.ledger.release(&key, &invocation.request_id).await?;
            return Err(HandlerError::Retry {
                report_id: report.id,
                reason,
            });
        }
        self.ledger.complete(&key, &report).await?;
        Ok(report)
    }

    fn stale(&self, trigger: &Trigger<R::Manual>, now: DateTime<Utc>) -> Option<String> {
        let limit = self.common.max_event_age?;
        let happened = trigger.event_time()?;
        let age = (now - happened).to_std().ok()?;
        (age > limit).then(|| {
            format!(
                "stale event skipped: it happened at {happened}, {} s ago, over the {} s limit (MAX_EVENT_AGE_SECONDS)",
                age.as_secs(),
                limit.as_secs()
            )
        })
    }
}

impl<R: Responder> Runner<R, crate::ledger::DynamoLedger, crate::publish::AwsReportSink> {
    /// The production wiring: DynamoDB ledger, SNS + S3 + CloudWatch delivery.
    pub fn on_aws(responder: R, aws: &crate::aws::AwsClients, common: CommonConfig) -> Self {
        Self {
            responder,
            ledger: crate::ledger::DynamoLedger {
                client: aws.dynamodb.clone(),
                table: common.ledger_table.clone(),
                retention: Duration::days(14),
            },
            sink: crate::publish::AwsReportSink {
                sns: aws.sns.clone(),
                s3: aws.s3.clone(),
                cloudwatch: aws.cloudwatch.clone(),
                topic_arn: common.report_topic_arn.clone(),
                bucket: common.report_bucket.clone(),
                namespace: common.metrics_namespace.clone(),
            },
            common,
        }
    }
}

impl<R: Responder, L: Ledger, S: ReportSink> Runner<R, L, S> {
    /// Serves invocations from the Lambda Runtime API until the process ends.
    pub async fn serve(&self) -> Result<(), lambda_runtime::Error> {
        lambda_runtime::run(lambda_runtime::service_fn(
            move |event: lambda_runtime::LambdaEvent<Value>| async move {
                let invocation =
                    Invocation::from_context(&event.context, &self.common.region, Utc::now())?;
                self.handle(event.payload, &invocation).await
            },
        ))
        .await
    }
}

/// What every function's `main` reads once at start: logging, the environment, the shared and
/// database configuration, and the AWS clients. Fails fast naming the variable at fault.
pub struct Startup {
    pub env: crate::config::Env,
    pub common: CommonConfig,
    pub db: crate::config::DbConfig,
    pub aws: crate::aws::AwsClients,
}

impl Startup {
    pub async fn load() -> Self {
        crate::logging::init();
        let env = crate::config::Env::from_process();
        let common = init_or_exit(CommonConfig::from_env(&env));
        let db = init_or_exit(crate::config::DbConfig::from_env(&env));
        let aws = crate::aws::AwsClients::from_env().await;
        Self {
            env,
            common,
            db,
            aws,
        }
    }
}

/// Ends the process during init with the error's own words (Lambda records an init failure and
/// keeps the message in the function's log): a misconfigured function never takes an event.
pub fn init_or_exit<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => {
            eprintln!("init failed: {e}");
            std::process::exit(1)
        }
    }
}
