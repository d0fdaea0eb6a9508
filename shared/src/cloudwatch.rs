//! CloudWatch reads: alarms still firing for a database, and its latest metric values.

use crate::budget::BoundedCall;
use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, StateValue, Statistic};
use chrono::{DateTime, Utc};

use crate::aws::{Markers, SdkFailure};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CloudWatch {operation} failed: {source}")]
pub struct CloudWatchError {
    pub operation: &'static str,
    #[source]
    pub source: SdkFailure,
}

#[allow(async_fn_in_trait)]
pub trait AlarmWatch {
    /// Names of metric alarms in ALARM with a dimension equal to one of `db_ids`, all pages.
    async fn alarms_firing_for(&self, db_ids: &[String]) -> Result<Vec<String>, CloudWatchError>;
    /// The highest `AWS/RDS` value of `metric` for the dimension over the last `window`.
    async fn latest_rds_metric(
        &self,
        metric: &str,
        dimension: (&str, &str),
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<f64>, CloudWatchError>;
}

pub struct CloudWatchReader {
    pub client: aws_sdk_cloudwatch::Client,
}

const DB_DIMENSIONS: [&str; 2] = ["DBInstanceIdentifier", "DBClusterIdentifier"];

impl AlarmWatch for CloudWatchReader {
    async fn alarms_firing_for(&self, db_ids: &[String]) -> Result<Vec<String>, CloudWatchError> {
        let mut firing = Vec::new();
        let (mut markers, mut token) = (Markers::default(), None::<String>);
        loop {
            let page = self
                .client
                .describe_alarms()
                .state_value(StateValue::Alarm)
                .set_next_token(token)
                .send()
                .bounded("CloudWatch DescribeAlarms")
                .await
                .map_err(|e| CloudWatchError {
                    operation: "DescribeAlarms",
                    source: SdkFailure::from_sdk("CloudWatch", &e),
                })?;
            for alarm in page.metric_alarms() {
                // Guard against endpoints that ignore the state filter.
                if alarm.state_value() != Some(&StateValue::Alarm) {
                    continue;
                }
                let names_db = alarm.dimensions().iter().any(|d| {
                    DB_DIMENSIONS.contains(&d.name().unwrap_or_default())
                        && d.value()
                            .is_some_and(|v| db_ids.iter().any(|id| id.eq_ignore_ascii_case(v)))
                });
                if names_db {
                    firing.push(alarm.alarm_name().unwrap_or("(unnamed)").to_string());
                }
            }
            token = markers
                .next(page.next_token())
                .map_err(|why| CloudWatchError {
                    operation: "DescribeAlarms",
                    source: SdkFailure {
                        service: "CloudWatch",
                        code: None,
                        message: why,
                        request_id: None,
                    },
                })?;
            if token.is_none() {
                return Ok(firing);
            }
        }
    }

    async fn latest_rds_metric(
        &self,
        metric: &str,
        (name, value): (&str, &str),
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<f64>, CloudWatchError> {
        let start = now
            - chrono::Duration::from_std(window).unwrap_or_else(|_| chrono::Duration::minutes(10));
        let out = self
            .client
            .get_metric_statistics()
            .namespace("AWS/RDS")
            .metric_name(metric)
            .dimensions(Dimension::builder().name(name).value(value).build())
            .start_time(aws_sdk_cloudwatch::primitives::DateTime::from_millis(
                start.timestamp_millis(),
            ))
            .end_time(aws_sdk_cloudwatch::primitives::DateTime::from_millis(
                now.timestamp_millis() + 60_000,
            ))
            .period(60)
            .statistics(Statistic::Maximum)
            .send()
            .bounded("CloudWatch GetMetricStatistics")
            .await
            .map_err(|e| CloudWatchError {
                operation: "GetMetricStatistics",
                source: SdkFailure::from_sdk("CloudWatch", &e),
            })?;
        let latest = out
            .datapoints()
            .iter()
            .filter_map(|d| Some((d.timestamp()?.to_millis().ok()?, d.maximum()?)))
            .max_by_key(|(t, _)| *t)
            .map(|(_, v)| v);
        Ok(latest)
    }
}
