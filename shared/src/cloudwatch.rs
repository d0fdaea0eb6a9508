//! CloudWatch reads: alarms still firing for a database, and its latest metric values.

use crate::budget::BoundedCall;
use std::collections::BTreeMap;
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

/// One instance's metric history: (time, value), oldest first.
pub type Series = Vec<(DateTime<Utc>, f64)>;

/// The most queries one `GetMetricData` request takes.
pub const MAX_QUERIES_PER_REQUEST: usize = 500;

#[allow(async_fn_in_trait)]
pub trait MetricHistory {
    /// The `AWS/RDS` `metric` (statistic `Minimum`, `period_seconds`) of each instance in
    /// `instances` between `start` and `end`: few requests (500 instances each), every page.
    async fn rds_history(
        &self,
        metric: &str,
        instances: &[String],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        period_seconds: i32,
    ) -> Result<BTreeMap<String, Series>, CloudWatchError>;
}

fn cw_time(t: DateTime<Utc>) -> aws_sdk_cloudwatch::primitives::DateTime {
    aws_sdk_cloudwatch::primitives::DateTime::from_millis(t.timestamp_millis())
}

impl MetricHistory for CloudWatchReader {
    async fn rds_history(
        &self,
        metric: &str,
        instances: &[String],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        period_seconds: i32,
    ) -> Result<BTreeMap<String, Series>, CloudWatchError> {
        use aws_sdk_cloudwatch::types::{Metric, MetricDataQuery, MetricStat, ScanBy};
        let failure = |e: SdkFailure| CloudWatchError {
            operation: "GetMetricData",
            source: e,
        };
        let mut history: BTreeMap<String, Series> = BTreeMap::new();
        for (batch_no, batch) in instances.chunks(MAX_QUERIES_PER_REQUEST).enumerate() {
            let queries: Vec<MetricDataQuery> = batch
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    MetricDataQuery::builder()
                        .id(format!("q{i}"))
                        .metric_stat(
                            MetricStat::builder()
                                .metric(
                                    Metric::builder()
                                        .namespace("AWS/RDS")
                                        .metric_name(metric)
                                        .dimensions(
                                            Dimension::builder()
                                                .name("DBInstanceIdentifier")
                                                .value(id)
                                                .build(),
                                        )
                                        .build(),
                                )
                                .period(period_seconds)
                                .stat("Minimum")
                                .build(),
                        )
                        .return_data(true)
                        .build()
                })
                .collect();
            let (mut markers, mut token) = (Markers::default(), None::<String>);
            loop {
                let page = self
                    .client
                    .get_metric_data()
                    .set_metric_data_queries(Some(queries.clone()))
                    .start_time(cw_time(start))
                    .end_time(cw_time(end))
                    .scan_by(ScanBy::TimestampAscending)
                    .set_next_token(token)
                    .send()
                    .bounded("CloudWatch GetMetricData")
                    .await
                    .map_err(|e| failure(SdkFailure::from_sdk("CloudWatch", &e)))?;
                for result in page.metric_data_results() {
                    let Some(index) = result
                        .id()
                        .and_then(|id| id.strip_prefix('q'))
                        .and_then(|i| i.parse::<usize>().ok())
                    else {
                        continue;
                    };
                    let Some(instance) = batch.get(index) else {
                        continue;
                    };
                    let series = history.entry(instance.clone()).or_default();
                    for (t, v) in result.timestamps().iter().zip(result.values()) {
                        if let Some(t) = t
                            .to_millis()
                            .ok()
                            .and_then(DateTime::<Utc>::from_timestamp_millis)
                        {
                            series.push((t, *v));
                        }
                    }
                }
                token = markers.next(page.next_token()).map_err(|why| {
                    failure(SdkFailure {
                        service: "CloudWatch",
                        code: None,
                        message: format!("batch {batch_no}: {why}"),
                        request_id: None,
                    })
                })?;
                if token.is_none() {
                    break;
                }
            }
        }
        for series in history.values_mut() {
            series.sort_by_key(|(t, _)| *t);
            series.dedup_by_key(|(t, _)| *t);
        }
        Ok(history)
    }
}
