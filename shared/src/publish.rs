//! Delivers a report: SNS (with filterable message attributes), S3 archive, and metrics as a
//! CloudWatch Embedded Metric Format log line (CloudWatch Logs turns it into metrics: no API
//! call, no VPC endpoint, nothing that can fail after an action).

use crate::budget::BoundedCall;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sns::types::MessageAttributeValue;
use serde_json::{json, Map, Value};

use crate::aws::{SdkError, SdkFailure};
use crate::metrics::{DURATION, FAILED_CHECKS, RUNS, RUNS_BY_TARGET};
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

/// What S3 says of a bucket in another region than the client's, said as the fix: the report
/// bucket (an organization's central one too) must be in the function's region.
pub fn elsewhere_words(bucket: &str, code: Option<&str>) -> Option<String> {
    matches!(
        code,
        Some("PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException")
    )
    .then(|| {
        format!(
            "bucket {bucket} is in another region than this function's: the report bucket must be in the function's region (central reporting has one bucket per region)"
        )
    })
}

/// One destination of a report.
pub const SNS: &str = "sns";
pub const S3: &str = "s3";
/// The metrics log line (named for where the metrics end up; the ledger records sinks by name).
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
    pub topic_arn: String,
    pub bucket: String,
    /// REPORT_PREFIX: where in the bucket the archive goes.
    pub prefix: String,
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

/// The message attributes subscribers filter on: the report's schema version, function,
/// outcome, severity, and what the report is about (`target_kind`, `target_id`;
/// `db_identifier` for instances and clusters).
pub fn message_attributes(report: &Report) -> Vec<(&'static str, String)> {
    let mut attributes = vec![
        ("schema_version", report.schema_version.clone()),
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

/// The version of the report contract (`schema/report.v1.json`), also sent as the
/// `schema_version` message attribute so subscribers can filter on the shape they read.
pub use crate::report::SCHEMA_VERSION;

/// One metric of a run: name, value, unit, and the dimensions it is counted by.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub value: f64,
    pub unit: &'static str,
    pub dimensions: Vec<(&'static str, String)>,
}

/// The metrics every run emits (in `metrics::CATALOG`).
pub fn metric_data(report: &Report) -> Vec<Metric> {
    let function = ("Function", report.function.clone());
    let failed = report
        .checks
        .iter()
        .filter(|c| c.outcome == Outcome::Fail)
        .count();
    let mut data = vec![
        Metric {
            name: RUNS.name,
            value: 1.0,
            unit: RUNS.unit,
            dimensions: vec![
                function.clone(),
                ("Outcome", report.status.as_str().to_string()),
            ],
        },
        Metric {
            name: FAILED_CHECKS.name,
            value: failed as f64,
            unit: FAILED_CHECKS.unit,
            dimensions: vec![function.clone()],
        },
        Metric {
            name: DURATION.name,
            value: report.duration_ms as f64,
            unit: DURATION.unit,
            dimensions: vec![function.clone()],
        },
    ];
    // Runs by what they were about: the kind only, so the metric count stays small.
    if let Some(kind) = report.target_kind() {
        data.push(Metric {
            name: RUNS_BY_TARGET.name,
            value: 1.0,
            unit: RUNS_BY_TARGET.unit,
            dimensions: vec![function, ("TargetKind", kind.to_string())],
        });
    }
    data
}

/// The run's metrics as one Embedded Metric Format document: one directive per set of
/// dimensions, the dimension values and metric values as top-level members. A dimension
/// name taken by two metrics carries the same value in both (Function), so one document holds
/// them all.
pub fn metrics_document(report: &Report, namespace: &str) -> Value {
    let mut members = Map::new();
    let mut directives: Vec<(Vec<&str>, Vec<Value>)> = Vec::new();
    for metric in metric_data(report) {
        let names: Vec<&str> = metric.dimensions.iter().map(|(name, _)| *name).collect();
        for (name, value) in &metric.dimensions {
            members.insert((*name).to_string(), Value::String(value.clone()));
        }
        members.insert(metric.name.to_string(), json!(metric.value));
        let definition = json!({"Name": metric.name, "Unit": metric.unit});
        match directives.iter_mut().find(|(dims, _)| *dims == names) {
            Some((_, metrics)) => metrics.push(definition),
            None => directives.push((names, vec![definition])),
        }
    }
    let directives: Vec<Value> = directives
        .into_iter()
        .map(|(dimensions, metrics)| {
            json!({"Namespace": namespace, "Dimensions": [dimensions], "Metrics": metrics})
        })
        .collect();
    members.insert(
        "_aws".into(),
        json!({
            "Timestamp": report.finished_at.timestamp_millis(),
            "CloudWatchMetrics": directives,
        }),
    );
    members.insert("request_id".into(), Value::String(report.id.clone()));
    Value::Object(members)
}

/// One Embedded Metric Format document per resource metric: a document holds one value per
/// dimension, so each resource has its own, dimensioned by function and resource.
pub fn resource_metric_documents(report: &Report, namespace: &str) -> Vec<Value> {
    report
        .metrics
        .iter()
        .map(|m| {
            json!({
                "_aws": {
                    "Timestamp": report.finished_at.timestamp_millis(),
                    "CloudWatchMetrics": [{
                        "Namespace": namespace,
                        "Dimensions": [["Function", "Resource"]],
                        "Metrics": [{"Name": m.name, "Unit": m.unit}],
                    }],
                },
                "Function": report.function,
                "Resource": m.resource,
                m.name.clone(): m.value,
                "request_id": report.id,
            })
        })
        .collect()
}

impl AwsReportSink {
    async fn to_sns(&self, report: &Report) -> Result<(), PublishError> {
        let mut request = self
            .sns
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(report.subject())
            .message(report.fitted_json_in(MAX_SNS_MESSAGE_BYTES, true, &self.prefix));
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
            .key(report.archive_key_in(&self.prefix))
            .content_type("application/json")
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .send()
            .bounded("S3 PutObject")
            .await
            .map(|_| ())
            .map_err(|e| {
                let mut error = PublishError::sdk(S3, "S3 PutObject", &e);
                let code = SdkFailure::from_sdk(S3, &e).code;
                if let Some(words) = elsewhere_words(&self.bucket, code.as_deref()) {
                    error.detail = format!("{}: {words}", error.detail);
                }
                error
            })
    }

    /// One line on stdout, where Lambda's log capture (and so CloudWatch Logs) reads it.
    fn to_metrics_log(&self, report: &Report) -> Result<(), PublishError> {
        use std::io::Write;
        let mut lines = metrics_document(report, &self.namespace).to_string();
        for document in resource_metric_documents(report, &self.namespace) {
            lines.push('\n');
            lines.push_str(&document.to_string());
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "{lines}")
            .and_then(|()| out.flush())
            .map_err(|e| PublishError {
                sink: METRICS,
                detail: format!("writing the metrics log line failed: {e}"),
                source: None,
            })
    }
}

impl ReportSink for AwsReportSink {
    async fn archived(&self, report: &Report) -> bool {
        self.s3
            .head_object()
            .bucket(&self.bucket)
            .key(report.archive_key_in(&self.prefix))
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
                    true => self.to_metrics_log(report),
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

    #[test]
    fn every_metric_a_run_emits_is_in_the_catalog_the_dashboard_is_checked_against() {
        let db = RdsIdentifier::parse("orders-db", ResourceKind::DbInstance).unwrap();
        let emitted = metric_data(&report_about(Some(Target::Instance(db))));
        assert_eq!(emitted.len(), 4);
        for metric in &emitted {
            let spec = crate::metrics::CATALOG
                .iter()
                .find(|s| s.name == metric.name)
                .unwrap_or_else(|| panic!("{} is not in metrics::CATALOG", metric.name));
            let dimensions: Vec<&str> = metric.dimensions.iter().map(|(n, _)| *n).collect();
            assert_eq!(dimensions, spec.dimensions, "{}", metric.name);
            assert_eq!(metric.unit, spec.unit, "{}", metric.name);
        }
    }

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
            .find(|d| d.name == "RunsByTarget")
            .expect("RunsByTarget");
        assert_eq!(
            by_target.dimensions,
            [
                ("Function", "snapshotter".to_string()),
                ("TargetKind", "table".to_string())
            ]
        );

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
            .all(|d| d.name != "RunsByTarget"));
    }

    #[test]
    fn the_metrics_document_is_embedded_metric_format() {
        let mut report = report_about(Some(Target::Table(TableName::parse("orders").unwrap())));
        report.duration_ms = 1234;
        let doc = metrics_document(&report, "RdsResponder/staging");
        let aws = &doc["_aws"];
        assert_eq!(aws["Timestamp"], report.finished_at.timestamp_millis());
        let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
        // One directive per dimension set: [Function, Outcome], [Function], [Function, TargetKind].
        let sets: Vec<(Value, Vec<&str>)> = directives
            .iter()
            .map(|d| {
                assert_eq!(d["Namespace"], "RdsResponder/staging");
                let names = d["Metrics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["Name"].as_str().unwrap())
                    .collect();
                (d["Dimensions"].clone(), names)
            })
            .collect();
        assert_eq!(
            sets,
            [
                (json!([["Function", "Outcome"]]), vec!["Runs"]),
                (json!([["Function"]]), vec!["FailedChecks", "Duration"]),
                (json!([["Function", "TargetKind"]]), vec!["RunsByTarget"]),
            ]
        );
        assert_eq!(directives[1]["Metrics"][1]["Unit"], "Milliseconds");
        // Every dimension and metric named in a directive is a top-level member.
        assert_eq!(doc["Function"], "snapshotter");
        assert_eq!(doc["Outcome"], "skipped");
        assert_eq!(doc["TargetKind"], "table");
        assert_eq!(doc["Runs"], 1.0);
        assert_eq!(doc["FailedChecks"], 0.0);
        assert_eq!(doc["Duration"], 1234.0);
        assert_eq!(doc["RunsByTarget"], 1.0);
        assert_eq!(doc["request_id"], "req-1");
        // Without a target there is no TargetKind, as member or as dimension.
        let doc = metrics_document(&report_about(None), "RdsResponder");
        assert!(doc.get("TargetKind").is_none());
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"].as_array().unwrap().len(),
            2
        );
    }

    #[test]
    fn a_bucket_in_another_region_is_said_as_such() {
        for code in [
            "PermanentRedirect",
            "AuthorizationHeaderMalformed",
            "IllegalLocationConstraintException",
        ] {
            let words = elsewhere_words("org-reports", Some(code)).unwrap();
            assert!(
                words.contains("bucket org-reports is in another region"),
                "{words}"
            );
        }
        assert_eq!(elsewhere_words("org-reports", Some("AccessDenied")), None);
        assert_eq!(elsewhere_words("org-reports", None), None);
    }
}
