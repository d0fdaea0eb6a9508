//! The snapshot adapter over the RDS wire protocol where moto cannot show it: moto answers every
//! listing in one page and never throttles. A small local endpoint speaking the RDS Query
//! protocol serves listings in pages (following `Marker`), fails a later page, and throttles
//! deletes, so the real SDK client and `RdsSnapshots` are tried against them.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::Region;
use aws_sdk_sqs::config::Credentials;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rds_responder::backups::{RdsSnapshots, SnapshotCatalog, SnapshotOf};
use rds_responder::rds::RdsError;
use tokio::net::TcpListener;

/// How the endpoint behaves, and every request it saw (form bodies).
#[derive(Default)]
struct Script {
    pages: usize,
    fail_page: Option<usize>,
    seen: Vec<String>,
}

fn snapshot_xml(page: usize, n: usize) -> String {
    let id = format!("orders-db-rr-p{page}-{n}");
    format!(
        "<DBSnapshot><DBSnapshotIdentifier>{id}</DBSnapshotIdentifier>\
         <DBInstanceIdentifier>orders-db</DBInstanceIdentifier><SnapshotType>manual</SnapshotType>\
         <Status>available</Status><SnapshotCreateTime>2026-01-01T00:00:00Z</SnapshotCreateTime>\
         <AllocatedStorage>20</AllocatedStorage><TagList><Tag><Key>CreatedBy</Key>\
         <Value>rds-responder</Value></Tag><Tag><Key>rds-responder:snapshot-id</Key>\
         <Value>{id}</Value></Tag></TagList></DBSnapshot>"
    )
}

fn answer(script: &Mutex<Script>, body: &str) -> (u16, String) {
    let mut script = script.lock().unwrap();
    script.seen.push(body.to_string());
    if body.contains("Action=DeleteDBSnapshot") {
        return (
            400,
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
             <Message>Rate exceeded</Message></Error><RequestId>req-throttled</RequestId></ErrorResponse>"
                .into(),
        );
    }
    let page = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("Marker=page-"))
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1);
    if script.fail_page == Some(page) {
        return (
            500,
            "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code>\
             <Message>page failed</Message></Error><RequestId>req-page</RequestId></ErrorResponse>"
                .into(),
        );
    }
    let marker = if page < script.pages {
        format!("<Marker>page-{}</Marker>", page + 1)
    } else {
        String::new()
    };
    let snapshots: String = (0..3).map(|n| snapshot_xml(page, n)).collect();
    (
        200,
        format!(
            "<DescribeDBSnapshotsResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">\
             <DescribeDBSnapshotsResult>{marker}<DBSnapshots>{snapshots}</DBSnapshots>\
             </DescribeDBSnapshotsResult><ResponseMetadata><RequestId>req-{page}</RequestId>\
             </ResponseMetadata></DescribeDBSnapshotsResponse>"
        ),
    )
}

async fn endpoint(script: Arc<Mutex<Script>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let script = script.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let script = script.clone();
                    async move {
                        let body = req.into_body().collect().await.map(|b| b.to_bytes());
                        let body = String::from_utf8_lossy(&body.unwrap_or_default()).to_string();
                        let (status, xml) = answer(&script, &body);
                        Ok::<_, Infallible>(
                            Response::builder()
                                .status(status)
                                .header("content-type", "text/xml")
                                .body(Full::new(Bytes::from(xml)))
                                .expect("response"),
                        )
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{address}")
}

async fn catalog(script: Arc<Mutex<Script>>) -> RdsSnapshots {
    let url = endpoint(script).await;
    let sdk = rds_responder::aws::loader()
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "e2e"))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(5)),
        )
        .load()
        .await;
    RdsSnapshots {
        client: aws_sdk_rds::Client::new(&sdk),
    }
}

#[tokio::test]
async fn a_listing_follows_every_page_with_tags_from_the_describe_call() {
    let script = Arc::new(Mutex::new(Script {
        pages: 4,
        ..Script::default()
    }));
    let snapshots = catalog(script.clone())
        .await
        .list_snapshots(SnapshotOf::Instance, None)
        .await
        .expect("all pages");
    assert_eq!(snapshots.len(), 12);
    assert_eq!(snapshots[11].id, "orders-db-rr-p4-2");
    assert_eq!(snapshots[0].tags["CreatedBy"], "rds-responder");
    let seen = &script.lock().unwrap().seen;
    assert_eq!(
        seen.len(),
        4,
        "one request per page, no per-snapshot call: {seen:?}"
    );
    assert!(seen
        .iter()
        .all(|b| b.contains("Action=DescribeDBSnapshots")));
    assert!(seen.iter().all(|b| b.contains("MaxRecords=100")));
    assert!(seen.iter().all(|b| b.contains("SnapshotType=manual")));
    assert!(seen[3].contains("Marker=page-4"));
}

#[tokio::test]
async fn a_failed_later_page_fails_the_whole_listing() {
    let script = Arc::new(Mutex::new(Script {
        pages: 3,
        fail_page: Some(2),
        ..Script::default()
    }));
    let error = catalog(script.clone())
        .await
        .list_snapshots(SnapshotOf::Instance, None)
        .await
        .expect_err("page two failed");
    match &error {
        RdsError::Api { operation, source } => {
            assert_eq!(*operation, "DescribeDBSnapshots");
            assert_eq!(source.code.as_deref(), Some("InternalFailure"));
        }
        other => panic!("{other:?}"),
    }
    // Page one, then page two tried as often as the retry policy allows; no page three.
    let seen = &script.lock().unwrap().seen;
    assert!(
        !seen.iter().any(|b| b.contains("Marker=page-3")),
        "{seen:?}"
    );
    assert_eq!(
        seen.iter().filter(|b| b.contains("Marker=page-2")).count(),
        3
    );
}

#[tokio::test]
async fn a_throttled_delete_is_retried_then_reported_with_its_code() {
    let script = Arc::new(Mutex::new(Script::default()));
    let error = catalog(script.clone())
        .await
        .delete_snapshot(SnapshotOf::Instance, "orders-db-rr-x")
        .await
        .expect_err("throttled");
    assert!(error.to_string().contains("Throttling"), "{error}");
    assert_eq!(script.lock().unwrap().seen.len(), 3, "retried by the SDK");
}
