//! `make bench`, restore-drill: the RPO audit over 1,000 enrolled DB instances (and their 1,000
//! automated snapshots) in the release binary against moto, as a ratio to a floor measured in
//! the same run, since these machines are noisy: the same four listings the audit reads
//! (DescribeDBClusters, DescribeDBInstances, DescribeDBSnapshots, DescribeDBClusterSnapshots,
//! every page of 100), made one after another by this process's own SDK client through the same
//! local endpoint. Also counts the requests one audit makes: bulk work in few requests.
//!
//!   bench-audit [binary] [instances]

use std::time::{Duration, Instant};

use e2e::{FaultProxy, Fixture, FunctionProcess};
use serde_json::json;

const ROUNDS: usize = 6;
/// The audit is its listings, the grading, one metric per resource and the report's delivery.
const AUDIT_TARGET: f64 = 1.5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn listings_by_hand(aws: &rds_responder::aws::AwsClients) -> Duration {
    let started = Instant::now();
    let mut pages = aws
        .rds
        .describe_db_clusters()
        .max_records(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        page.expect("clusters");
    }
    let mut pages = aws
        .rds
        .describe_db_instances()
        .max_records(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        page.expect("instances");
    }
    let mut pages = aws
        .rds
        .describe_db_snapshots()
        .include_shared(false)
        .max_records(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        page.expect("snapshots");
    }
    let mut pages = aws
        .rds
        .describe_db_cluster_snapshots()
        .max_records(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        page.expect("cluster snapshots");
    }
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let binary = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "target/release/restore-drill".into());
    let count: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1000);
    let fixture = Fixture::new().await;
    let created = Instant::now();
    // Sixteen creates at a time.
    let mut creating = tokio::task::JoinSet::new();
    for n in 0..count {
        if creating.len() >= 16 {
            creating.join_next().await;
        }
        let rds = fixture.aws.rds.clone();
        let id = format!("audit-{n:04}-{}", fixture.suffix);
        creating.spawn(async move {
            rds.create_db_instance()
                .db_instance_identifier(&id)
                .engine("postgres")
                .db_instance_class("db.t3.micro")
                .allocated_storage(20)
                .master_username("admin_user")
                .master_user_password("not-used-locally")
                .backup_retention_period(7)
                .tags(
                    aws_sdk_rds::types::Tag::builder()
                        .key("rds-responder:restore-drill")
                        .value("audit")
                        .build(),
                )
                .send()
                .await
                .expect("create DB instance");
        });
    }
    while creating.join_next().await.is_some() {}
    eprintln!("{count} instances in moto in {:?}", created.elapsed());
    let proxy = FaultProxy::start(&fixture.stack.moto_endpoint).await;
    let endpoint = proxy.endpoint();
    let by_hand = e2e::fixture::clients_at(&endpoint).await;
    let env = fixture.function_env(&[("RUST_LOG", "warn"), ("AWS_ENDPOINT_URL", &endpoint)]);
    let mut function =
        FunctionProcess::start_binary("restore-drill", std::path::Path::new(&binary), &env).await;
    let (mut audits, mut floor) = (Vec::new(), Vec::new());
    let mut requests = 0;
    for round in 0..ROUNDS {
        proxy.reset_seen();
        let started = Instant::now();
        let report = function
            .invoke(&json!({"task": "audit", "request_id": format!("bench-audit-{round}")}))
            .await
            .1
            .response();
        let took = started.elapsed();
        let audited = report["result"]["audit"].as_array().map_or(0, Vec::len);
        assert!(
            audited >= count,
            "{audited} audited of {count}: {}",
            report["summary"]
        );
        requests = proxy.seen().len();
        // The first round pays for the connections: not counted.
        if round > 0 {
            audits.push(took);
            floor.push(listings_by_hand(&by_hand).await);
        }
    }
    let (audit, floor) = (median(audits), median(floor));
    let ratio = audit.as_secs_f64() / floor.as_secs_f64().max(1e-6);
    println!(
        "restore-drill RPO audit of {count} instances (release binary, warm, {} rounds): {} ms, {requests} requests; per resource {:.3} ms and {:.3} requests (floor, the four listings by hand: {} ms): {ratio:.2}x (target <= {AUDIT_TARGET}x: {})",
        ROUNDS - 1,
        audit.as_millis(),
        audit.as_secs_f64() * 1e3 / count as f64,
        requests as f64 / count as f64,
        floor.as_millis(),
        if ratio <= AUDIT_TARGET { "met" } else { "MISSED" }
    );
}
