//! restore-drill's sweep and a drill's copy it may not delete, in a test binary of its own: the
//! copy is in the account every sweep lists, so no other sweep may run while it is there.

use e2e::drill::{instance_ids, FUNCTION, SHARED_ACCOUNT_CAP};
use e2e::{check, Fixture, FunctionProcess};
use serde_json::json;

#[tokio::test]
async fn an_expired_drill_copy_without_our_owner_tag_is_escalated_and_never_deleted() {
    let fixture = Fixture::new().await;
    // Named and tagged as a drill's copy, past its expiry, without any owner tag, and no record
    // of ours names it: this stack's IAM would refuse its delete, so a person must do it.
    let orphan = format!("orphan-{}-rr-drill-202601010000", fixture.suffix);
    fixture.create_instance(&orphan, "postgres").await;
    fixture
        .tag_instance(
            &orphan,
            &[
                ("rds-responder:drill", orphan.as_str()),
                ("rds-responder:drill-source", "db-instance:gone"),
                ("rds-responder:drill-expires", "2026-01-01T03:00:00Z"),
            ],
        )
        .await;
    // Not yet expired: a warning, left alone.
    let young = format!("young-{}-rr-drill-202601010000", fixture.suffix);
    fixture.create_instance(&young, "postgres").await;
    fixture
        .tag_instance(
            &young,
            &[
                ("rds-responder:drill", young.as_str()),
                ("rds-responder:drill-source", "db-instance:gone"),
                ("rds-responder:drill-expires", "2099-01-01T00:00:00Z"),
            ],
        )
        .await;
    let env = fixture.function_env(&[SHARED_ACCOUNT_CAP]);
    let mut f = FunctionProcess::start(FUNCTION, &env).await;
    let (_, invoked) = f
        .invoke(&json!({"task": "sweep", "dry_run": false, "request_id": "orphan-sweep"}))
        .await;
    let report = invoked.response();
    assert_eq!(report["status"], "failed", "{report:#}");
    let escalated = check(&report, &format!("scratch {orphan}"));
    assert_eq!(escalated["outcome"], "fail", "{report:#}");
    let detail = escalated["detail"].as_str().unwrap();
    assert!(detail.contains("delete it by hand"), "{detail}");
    assert!(detail.contains("rds-responder:drill-owner"), "{detail}");
    let left = check(&report, &format!("scratch {young}"));
    assert_eq!(left["outcome"], "warn", "{report:#}");
    assert!(left["detail"].as_str().unwrap().contains("never deleted"));
    let ids = instance_ids(&fixture).await;
    assert!(
        ids.contains(&orphan) && ids.contains(&young),
        "neither is deleted"
    );
    for id in [&orphan, &young] {
        fixture
            .aws
            .rds
            .delete_db_instance()
            .db_instance_identifier(id)
            .skip_final_snapshot(true)
            .send()
            .await
            .expect("the test removes its copies");
    }
}
