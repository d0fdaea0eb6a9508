//! restore-drill validating AWS Backup restore tests, end to end: the real binary under the
//! Runtime API, moto for RDS and the ledger, real PostgreSQL for the source and its restore, and
//! a local Backup endpoint speaking Backup's REST-JSON for the restore jobs moto lacks.

use chrono::Utc;
use e2e::backup_endpoint::{BackupEndpoint, SeededJob};
use e2e::drill::{instance_ids, orders_checks, DrillSource, FUNCTION};
use e2e::{check, Fixture, FunctionProcess};
use serde_json::{json, Value};

const PLAN: &str = "arn:aws:backup:us-east-1:123456789012:restore-testing-plan:weekly_rds-1a2b";
const OTHER_PLAN: &str = "arn:aws:backup:us-east-1:123456789012:restore-testing-plan:other-9z";

struct Scene {
    fixture: Fixture,
    source: DrillSource,
    backup: BackupEndpoint,
    /// The instance Backup restored (in moto; its endpoint is the restore's server).
    restored: String,
    env: Vec<(String, String)>,
}

async fn scene() -> Scene {
    let fixture = Fixture::new().await;
    let db = fixture.db.clone();
    let source = DrillSource::prepare(&fixture, &db, 40).await;
    let restored = format!("awsbackup-restore-test-{}", fixture.suffix);
    fixture.create_instance(&restored, "postgres").await;
    let backup = BackupEndpoint::start().await;
    let mut env = source.env(&fixture, std::slice::from_ref(&restored), &orders_checks());
    env.push(("RESTORE_TESTING_PLANS".into(), PLAN.into()));
    env.push(("AWS_ENDPOINT_URL_BACKUP".into(), backup.endpoint()));
    Scene {
        fixture,
        source,
        backup,
        restored,
        env,
    }
}

fn job(scene: &Scene, id: &str, plan: &str) -> SeededJob {
    let now = Utc::now().timestamp();
    SeededJob {
        job_id: id.into(),
        status: "COMPLETED".into(),
        created_resource_arn: format!("arn:aws:rds:us-east-1:123456789012:db:{}", scene.restored),
        source_resource_arn: format!("arn:aws:rds:us-east-1:123456789012:db:{}", scene.fixture.db),
        plan_arn: Some(plan.into()),
        created: now - 1800,
        completed: now - 300,
        recovery_point_created: now - 3600,
        validation: None,
    }
}

/// "Restore Job State Change", COMPLETED, as EventBridge delivers it.
fn completed_event(scene: &Scene, id: &str, plan: &str) -> Value {
    json!({
        "version": "0", "id": format!("ev-{id}"), "detail-type": "Restore Job State Change",
        "source": "aws.backup", "account": "123456789012",
        "time": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": "us-east-1",
        "resources": [format!("arn:aws:backup:us-east-1:123456789012:recovery-point:rp-{id}")],
        "detail": {
            "restoreJobId": id, "status": "COMPLETED", "resourceType": "RDS", "percentDone": 100,
            "backupSizeInBytes": "21474836480", "restoreTestingPlanArn": plan,
            "createdResourceArn": format!("arn:aws:rds:us-east-1:123456789012:db:{}", scene.restored),
            "creationDate": "2026-12-01T11:00:00Z", "completionDate": "2026-12-01T11:30:00Z",
        }
    })
}

#[tokio::test]
async fn a_restore_tests_restore_is_checked_with_real_data_and_backup_is_told_once() {
    let scene = scene().await;
    let id = format!("job-{}", scene.fixture.suffix);
    scene.backup.seed(job(&scene, &id, PLAN));
    let mut f = FunctionProcess::start(FUNCTION, &scene.env).await;
    let (_, invoked) = f.invoke(&completed_event(&scene, &id, PLAN)).await;
    let report = invoked.response();
    assert_eq!(report["status"], "ok", "{report:#}");
    assert_eq!(report["trigger"]["type"], "restore-job");
    assert_eq!(check(&report, "rows public.orders")["outcome"], "pass");
    assert_eq!(check(&report, "schema")["outcome"], "pass");
    assert_eq!(check(&report, "sql orders exist")["outcome"], "pass");
    assert_eq!(
        check(&report, &format!("validation {id}"))["outcome"],
        "pass"
    );
    // The RTO is Backup's own restore, measured from the job.
    assert!(
        check(&report, "rto")["data"]["stages"].is_array(),
        "{report:#}"
    );
    let posted = scene.backup.posted(&id);
    assert_eq!(posted.len(), 2, "{posted:?}");
    assert_eq!(posted[0].0, "VALIDATING");
    assert_eq!(posted[1].0, "SUCCESSFUL");
    assert!(posted[1].1.starts_with("restore-drill: all "), "{posted:?}");
    assert_eq!(report["result"]["validation"]["posted"], "SUCCESSFUL");
    // Backup deletes its restore itself: nothing is deleted here, the source untouched.
    let ids = instance_ids(&scene.fixture).await;
    assert!(ids.contains(&scene.restored) && ids.contains(&scene.fixture.db));

    // The same event again (EventBridge redelivers): Backup is told nothing more.
    let (_, invoked) = f.invoke(&completed_event(&scene, &id, PLAN)).await;
    let again = invoked.response();
    assert_eq!(scene.backup.posted(&id).len(), 2, "{again:#}");

    // A plan not listed: not validated, nothing posted.
    let other = format!("other-{}", scene.fixture.suffix);
    scene.backup.seed(job(&scene, &other, OTHER_PLAN));
    let (_, invoked) = f.invoke(&completed_event(&scene, &other, OTHER_PLAN)).await;
    let skipped = invoked.response();
    assert_eq!(skipped["status"], "skipped", "{skipped:#}");
    assert!(skipped["summary"]
        .as_str()
        .unwrap()
        .contains("not one of RESTORE_TESTING_PLANS"));
    assert!(scene.backup.posted(&other).is_empty());

    // Backup refuses the post: the run fails, says so, and the verdict is nowhere else.
    let refused = format!("refused-{}", scene.fixture.suffix);
    scene.backup.seed(job(&scene, &refused, PLAN));
    scene
        .backup
        .refuse_posts(Some((400, "AccessDeniedException")));
    let (_, invoked) = f.invoke(&completed_event(&scene, &refused, PLAN)).await;
    let failed = invoked.response();
    assert_eq!(failed["status"], "failed", "{failed:#}");
    let validation = check(&failed, &format!("validation {refused}"));
    assert_eq!(validation["outcome"], "fail");
    assert!(validation["detail"]
        .as_str()
        .unwrap()
        .contains("AccessDeniedException"));
    assert!(scene.backup.posted(&refused).is_empty());
}

#[tokio::test]
async fn a_restore_missing_a_table_fails_and_the_sweep_validates_a_restore_whose_event_was_lost() {
    let scene = scene().await;
    let restored_admin = scene
        .source
        .restored
        .admin(&scene.fixture.stack, &scene.source.database)
        .await;
    restored_admin
        .batch_execute("DROP TABLE orders")
        .await
        .expect("drop in the restore");
    // Its event never came; another plan's restore and an already validated one are left.
    let lost = format!("lost-{}", scene.fixture.suffix);
    scene.backup.seed(job(&scene, &lost, PLAN));
    let theirs = format!("theirs-{}", scene.fixture.suffix);
    scene.backup.seed(job(&scene, &theirs, OTHER_PLAN));
    let done = format!("done-{}", scene.fixture.suffix);
    scene.backup.seed(SeededJob {
        validation: Some("SUCCESSFUL".into()),
        ..job(&scene, &done, PLAN)
    });
    let mut f = FunctionProcess::start(FUNCTION, &scene.env).await;
    let (_, invoked) = f
        .invoke(&json!({"task": "sweep", "dry_run": false, "request_id": format!("sweep-{lost}")}))
        .await;
    let report = invoked.response();
    assert_eq!(report["status"], "failed", "{report:#}");
    let posted = scene.backup.posted(&lost);
    assert_eq!(posted.len(), 2, "{posted:?} {report:#}");
    assert_eq!(posted[0].0, "VALIDATING");
    assert_eq!(posted[1].0, "FAILED");
    assert!(posted[1].1.contains("rows public.orders"), "{posted:?}");
    assert!(posted[1].1.contains("schema"), "{posted:?}");
    assert_eq!(
        check(&report, &format!("validation {lost}"))["outcome"],
        "fail"
    );
    assert!(scene.backup.posted(&theirs).is_empty());
    assert!(scene.backup.posted(&done).is_empty());
    let validations = report["result"]["validations"]
        .as_array()
        .expect("validations");
    assert_eq!(validations.len(), 1, "{report:#}");
    assert_eq!(validations[0]["validation"]["posted"], "FAILED");
    // Validated now: the next sweep leaves it.
    let (_, invoked) = f
        .invoke(&json!({"task": "sweep", "dry_run": false, "request_id": format!("again-{lost}")}))
        .await;
    let again = invoked.response();
    assert_eq!(scene.backup.posted(&lost).len(), 2, "{again:#}");
}
