//! Delivers a report: SNS (with filterable message attributes), S3 archive, CloudWatch metrics.

use crate::budget::BoundedCall;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sns::types::MessageAttributeValue;

use crate::aws::{SdkError, SdkFailure};
use crate::report::{Outcome, Report};

/// Which delivery failed, and why.
#[derive(Debug, thiserror::Error)]
#[error("delivering the report to {sink} failed: {detail}")]
pub struct PublishError {
    pub sink: &'static str,
    pub detail: String,
    /// The SDK failure behind it, when there was one.
    #[source]
    pub source: Option<Box<SdkFailure>>,
}

impl PublishError {
    fn sdk<E>(sink: &'static str, service: &'static str, e: &SdkError<E>) -> Self
    where
        E: aws_sdk_sns::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        let failure = SdkFailure::from_sdk(service, e);
        Self {
            sink,
            detail: failure.to_string(),
            source: Some(Box::new(failure)),
        }
    }
}

/// One destination of a report.
pub const SNS: &str = "sns";
pub const S3: &str = "s3";
pub const METRICS: &str = "cloudwatch";
/// Every destination, in the order they are named in errors.
pub const ALL_SINKS: [&str; 3] = [SNS, S3, METRICS];

/// Where reports go. The AWS implementation is [`AwsReportSink`].
#[allow(async_fn_in_trait)]
pub trait ReportSink {
    /// Delivers to the named destinations (of [`ALL_SINKS`]); fails if any of them failed,
    /// naming them all.
    async fn deliver_to(&self, report: &Report, sinks: &[&str]) -> Result<(), Vec<PublishError>>;

    async fn deliver(&self, report: &Report) -> Result<(), Vec<PublishError>> {
        self.deliver_to(report, &ALL_SINKS).await
    }

    /// Whether the report's archive is already there: a redelivery of the ledger's bounded copy
    /// never overwrites the whole report an earlier attempt archived.
    async fn archived(&self, report: &Report) -> bool {
        let _ = report;
        false
    }
}

pub struct AwsReportSink {
    pub sns: aws_sdk_sns::Client,
    pub s3: aws_sdk_s3::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub topic_arn: String,
    pub bucket: String,
    pub namespace: String,
}

/// SNS takes 256 KiB per message, attributes and subject included: the body gets this much.
pub const MAX_SNS_MESSAGE_BYTES: usize = 240_000;

fn attribute(value: &str) -> Result<MessageAttributeValue, PublishError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| PublishError {
            sink: SNS,
            detail: e.to_string(),
            source: None,
        })
}

/// The message attributes subscribers filter on: function, outcome, severity, and what the
/// report is about (`target_kind`, `target_id`; `db_identifier` for instances and clusters).
pub fn message_attributes(report: &Report) -> Vec<(&'static str, String)> {
    let mut attributes = vec![
        ("function", report.function.clone()),
        ("outcome", report.status.as_str().to_string()),
        ("severity", report.status.severity().to_string()),
    ];
    if let Some(kind) = report.target_kind() {
        attributes.push(("target_kind", kind.to_string()));
    }
    if let Some(id) = report.target_id() {
        attributes.push(("target_id", id.to_string()));
    }
    if let Some(db) = report.db_identifier() {
        attributes.push(("db_identifier", db.to_string()));
    }
    attributes
}

/// The metrics every run emits.
pub fn metric_data(report: &Report) -> Vec<MetricDatum> {
    let dim = |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
    let function = dim("Function", &report.function);
    let failed = report
        .checks
        .iter()
        .filter(|c| c.outcome == Outcome::Fail)
        .count();
    let datum = |name: &str, value: f64, unit: StandardUnit, dims: Vec<Dimension>| {
        MetricDatum::builder()
            .metric_name(name)
            .value(value)
            .unit(unit)
            .set_dimensions(Some(dims))
            .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_millis(
                report.finished_at.timestamp_millis(),
            ))
            .build()
    };
    let mut data = vec![
        datum(
            "Runs",
            1.0,
            StandardUnit::Count,
            vec![function.clone(), dim("Outcome", report.status.as_str())],
        ),
        datum(
            "FailedChecks",
            failed as f64,
            StandardUnit::Count,
            vec![function.clone()],
        ),
        datum(
            "Duration",
            report.duration_ms as f64,
            StandardUnit::Milliseconds,
            vec![function.clone()],
        ),
    ];
    // Runs by what they were about: the kind only, so the metric count stays small.
    if let Some(kind) = report.target_kind() {
        data.push(datum(
            "RunsByTarget",
            1.0,
            StandardUnit::Count,
            vec![function, dim("TargetKind", kind)],
        ));
    }
    data
}

impl AwsReportSink {
    async fn to_sns(&self, report: &Report) -> Result<(), PublishError> {
        let mut request = self
            .sns
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(report.subject())
            .message(report.fitted_json(MAX_SNS_MESSAGE_BYTES, true));
        for (name, value) in message_attributes(report) {
            request = request.message_attributes(name, attribute(&value)?);
        }
        request
            .send()
            .bounded("SNS Publish")
            .await
            .map(|_| ())
            .map_err(|e| PublishError::sdk(SNS, "SNS Publish", &e))
    }

    async fn to_s3(&self, report: &Report, body: &str) -> Result<(), PublishError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(report.archive_key())
            .content_type("application/json")
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .send()
            .bounded("S3 PutObject")
            .await
            .map(|_| ())
            .map_err(|e| PublishError::sdk(S3, "S3 PutObject", &e))
    }

    async fn to_cloudwatch(&self, report: &Report) -> Result<(), PublishError> {
        self.cloudwatch
            .put_metric_data()
            .namespace(&self.namespace)
            .set_metric_data(Some(metric_data(report)))
            .send()
            .bounded("CloudWatch PutMetricData")
            .await
            .map(|_| ())
            .map_err(|e| PublishError::sdk(METRICS, "CloudWatch PutMetricData", &e))
    }
}

impl ReportSink for AwsReportSink {
    async fn archived(&self, report: &Report) -> bool {
        self.s3
            .head_object()
            .bucket(&self.bucket)
            .key(report.archive_key())
            .send()
            .bounded("S3 HeadObject")
            .await
            .is_ok()
    }

    async fn deliver_to(&self, report: &Report, sinks: &[&str]) -> Result<(), Vec<PublishError>> {
        let body = serde_json::to_string_pretty(report).map_err(|e| {
            vec![PublishError {
                sink: "json",
                detail: e.to_string(),
                source: None,
            }]
        })?;
        let wanted = |sink: &str| sinks.contains(&sink);
        let (sns, s3, metrics) = tokio::join!(
            async {
                match wanted(SNS) {
                    true => self.to_sns(report).await,
                    false => Ok(()),
                }
            },
            async {
                match wanted(S3) {
                    true => self.to_s3(report, &body).await,
                    false => Ok(()),
                }
            },
            async {
                match wanted(METRICS) {
                    true => self.to_cloudwatch(report).await,
                    false => Ok(()),
                }
            }
        );
        let errors: Vec<_> = [sns, s3, metrics]
            .into_iter()
            .filter_map(Result::err)
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Findings;
    use crate::trigger::{
        DbTarget, RdsIdentifier, ResourceKind, TableName, Target, TriggerSummary,
    };

    fn report_about(target: Option<Target>) -> Report {
        let t = chrono::Utc::now();
        Report::assemble(
            "req-1",
            "snapshotter",
            &TriggerSummary::SubscriptionNotice,
            "k",
            Findings::new(target, vec![], "s"),
            t,
            t,
        )
    }

    fn attribute<'a>(attributes: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        attributes
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn attributes_and_metrics_follow_the_target() {
        let table = report_about(Some(Target::Table(TableName::parse("orders").unwrap())));
        let attributes = message_attributes(&table);
        assert_eq!(attribute(&attributes, "target_kind"), Some("table"));
        assert_eq!(attribute(&attributes, "target_id"), Some("orders"));
        assert_eq!(attribute(&attributes, "db_identifier"), None);
        let by_target = metric_data(&table)
            .into_iter()
            .find(|d| d.metric_name() == Some("RunsByTarget"))
            .expect("RunsByTarget");
        let dims: Vec<(&str, &str)> = by_target
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap_or_default(), d.value().unwrap_or_default()))
            .collect();
        assert_eq!(dims, [("Function", "snapshotter"), ("TargetKind", "table")]);

        let db: Target = DbTarget::Cluster(
            RdsIdentifier::parse("orders-aurora", ResourceKind::DbCluster).unwrap(),
        )
        .into();
        let attributes = message_attributes(&report_about(Some(db)));
        assert_eq!(
            attribute(&attributes, "db_identifier"),
            Some("orders-aurora")
        );
        assert_eq!(attribute(&attributes, "target_kind"), Some("cluster"));

        let account = report_about(Some(Target::Account));
        let attributes = message_attributes(&account);
        assert_eq!(attribute(&attributes, "target_kind"), Some("account"));
        assert_eq!(attribute(&attributes, "target_id"), None);
        assert_eq!(account.subject(), "[SKIPPED] snapshotter account");

        let nothing = report_about(None);
        assert_eq!(
            attribute(&message_attributes(&nothing), "target_kind"),
            None
        );
        assert!(metric_data(&nothing)
            .iter()
            .all(|d| d.metric_name() != Some("RunsByTarget")));
    }
}
