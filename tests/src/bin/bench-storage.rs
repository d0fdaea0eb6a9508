//! `make bench`, storage-guard: the time from an alarm to the decision in the release binary
//! against the local stack (the forecast over 10,000 points is storage-guard's own example,
//! `forecast-bench`), as a ratio to a floor measured in the same run, since these machines are
//! noisy: the same AWS reads the decision needs (DescribeDBInstances,
//!   DescribeValidDBInstanceModifications, DescribeEvents, GetMetricData), made one after
//!   another by this process's own SDK client against the same endpoint.

use std::time::{Duration, Instant};

use chrono::Utc;
use e2e::{check, FaultProxy, Fixture, FunctionProcess};
use serde_json::json;

const DECISION_ROUNDS: usize = 15;
/// The decision is its reads and little else: within 1.5x of making them by hand.
const DECISION_TARGET: f64 = 1.5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn verdict(ratio: f64, target: f64) -> &'static str {
    if ratio <= target {
        "met"
    } else {
        "MISSED"
    }
}

/// What RDS answers for a gp2 instance: moto lacks the operation, and the SDK's retries of its
/// error would be most of the figure.
const GP2_SIZES: &str = "<ValidDBInstanceModificationsMessage><Storage><ValidStorageOptions>\
     <StorageType>gp2</StorageType><StorageSize><Range><From>20</From><To>65536</To></Range></StorageSize>\
     <SupportsStorageAutoscaling>true</SupportsStorageAutoscaling></ValidStorageOptions></Storage>\
     </ValidDBInstanceModificationsMessage>";

async fn reads_by_hand(fixture: &Fixture, aws: &rds_responder::aws::AwsClients) -> Duration {
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
    let started = Instant::now();
    let _ = aws
        .rds
        .describe_db_instances()
        .db_instance_identifier(&fixture.db)
        .send()
        .await;
    let _ = aws
        .rds
        .describe_valid_db_instance_modifications()
        .db_instance_identifier(&fixture.db)
        .send()
        .await;
    let _ = aws
        .rds
        .describe_events()
        .source_type(aws_sdk_rds::types::SourceType::DbInstance)
        .source_identifier(&fixture.db)
        .duration(20_160)
        .send()
        .await;
    let now = Utc::now();
    let to = |t: chrono::DateTime<Utc>| {
        aws_sdk_cloudwatch::primitives::DateTime::from_millis(t.timestamp_millis())
    };
    let _ = aws
        .cloudwatch
        .get_metric_data()
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("q0")
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace("AWS/RDS")
                                .metric_name("FreeStorageSpace")
                                .dimensions(
                                    Dimension::builder()
                                        .name("DBInstanceIdentifier")
                                        .value(&fixture.db)
                                        .build(),
                                )
                                .build(),
                        )
                        .period(300)
                        .stat("Minimum")
                        .build(),
                )
                .build(),
        )
        .start_time(to(now - chrono::Duration::hours(24)))
        .end_time(to(now))
        .send()
        .await;
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let binary = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/release/storage-guard".into());
    let fixture = Fixture::new().await;
    fixture
        .shape_storage(
            &fixture.db,
            100,
            None,
            "gp2",
            &[("rds-responder:storage-guard", "on")],
        )
        .await;
    fixture
        .put_free_storage(&fixture.db, |h| 8.0 + 0.5 * h)
        .await;
    // The function and the floor go through the same local endpoint in front of moto.
    let proxy = FaultProxy::start(&fixture.stack.moto_endpoint).await;
    proxy.answer("RDS.DescribeValidDBInstanceModifications", GP2_SIZES);
    let endpoint = proxy.endpoint();
    let by_hand = e2e::fixture::clients_at(&endpoint).await;
    // Plans only: every round decides the same way on the same instance.
    let env = fixture.function_env(&[
        ("AUTOMATIC_DRY_RUN", "true"),
        ("RUST_LOG", "warn"),
        ("AWS_ENDPOINT_URL", &endpoint),
    ]);
    let mut function =
        FunctionProcess::start_binary("storage-guard", std::path::Path::new(&binary), &env).await;
    let mut decided = Vec::new();
    let mut floor = Vec::new();
    for round in 0..DECISION_ROUNDS {
        let mut alarm = fixture.event("alarm.free-storage.eventbridge.json");
        alarm["detail"]["state"]["timestamp"] =
            json!(format!("2026-11-22T03:{:02}:00.000+0000", round % 60));
        let report = function.invoke(&alarm).await.1.response();
        let ms = check(&report, "decision")["duration_ms"]
            .as_u64()
            .unwrap_or_else(|| panic!("no decision timing: {report:#}"));
        assert_eq!(check(&report, "change")["outcome"], "planned", "{report:#}");
        // The first round pays for the connections: not counted.
        if round > 0 {
            decided.push(Duration::from_millis(ms));
            floor.push(reads_by_hand(&fixture, &by_hand).await);
        }
    }
    let (decided, floor) = (median(decided), median(floor));
    let ratio = decided.as_secs_f64() / floor.as_secs_f64().max(1e-6);
    println!(
        "storage-guard event to decision (release binary, warm, {} rounds): {} ms (floor, the same four reads by hand: {:.1} ms): {ratio:.2}x (target <= {DECISION_TARGET}x: {})",
        DECISION_ROUNDS - 1,
        decided.as_millis(),
        floor.as_secs_f64() * 1e3,
        verdict(ratio, DECISION_TARGET)
    );
}
