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
async fn a_restore_test_past_its_plans_validation_window_is_told_timed_out_and_not_checked() {
    let scene = scene().await;
    // The plan keeps RDS restores 2 or 4 hours (a job does not say which selection made it:
    // the longer holds) and its tables 1 hour (not this restore's type).
    scene.backup.seed_plan(
        PLAN,
        "weekly_rds",
        &[("DynamoDB", 1), ("RDS", 2), ("RDS", 4)],
    );
    let now = Utc::now().timestamp();
    let late = format!("late-{}", scene.fixture.suffix);
    scene.backup.seed(SeededJob {
        created: now - 6 * 3600,
        completed: now - 5 * 3600,
        ..job(&scene, &late, PLAN)
    });
    let fresh = format!("fresh-{}", scene.fixture.suffix);
    scene.backup.seed(job(&scene, &fresh, PLAN));
    let mut f = FunctionProcess::start(FUNCTION, &scene.env).await;
    let (_, invoked) = f.invoke(&completed_event(&scene, &late, PLAN)).await;
    let report = invoked.response();
    let told = check(&report, &format!("validation {late}"));
    // An unvalidated restore test is a failed check, as a validation that ran out of time is.
    assert_eq!(told["outcome"], "fail", "{report:#}");
    let closed_at = chrono::DateTime::from_timestamp(now - 3600, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert!(
        told["detail"]
            .as_str()
            .unwrap()
            .contains(&format!(
                "posted TIMED_OUT to AWS Backup: restore-drill: the validation window closed at {closed_at}"
            )),
        "{report:#}"
    );
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "select 1"),
        "nothing is checked: {report:#}"
    );
    let posted = scene.backup.posted(&late);
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(posted[0].0, "TIMED_OUT");
    assert!(
        posted[0].1.contains("validation window closed"),
        "{posted:?}"
    );
    assert_eq!(report["result"]["validation"]["posted"], "TIMED_OUT");
    // Five minutes into its four hours: validated as ever.
    let (_, invoked) = f.invoke(&completed_event(&scene, &fresh, PLAN)).await;
    let report = invoked.response();
    assert_eq!(report["status"], "ok", "{report:#}");
    let posted = scene.backup.posted(&fresh);
    assert_eq!(
        posted.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
        ["VALIDATING", "SUCCESSFUL"]
    );
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
    // By hand: a dry run says what it would do and posts nothing; then it validates.
    let hand = format!("hand-{}", scene.fixture.suffix);
    scene.backup.seed(job(&scene, &hand, PLAN));
    let (_, invoked) = f
        .invoke(&json!({"task": "validate", "restore_job": hand}))
        .await;
    let planned = invoked.response();
    assert_eq!(
        check(&planned, &format!("validation {hand}"))["outcome"],
        "planned",
        "{planned:#}"
    );
    assert!(scene.backup.posted(&hand).is_empty());
    let (_, invoked) = f
        .invoke(&json!({"task": "validate", "restore_job": hand, "dry_run": false}))
        .await;
    let by_hand = invoked.response();
    assert_eq!(by_hand["trigger"]["type"], "manual", "{by_hand:#}");
    let posted = scene.backup.posted(&hand);
    assert_eq!(posted.len(), 2, "{posted:?} {by_hand:#}");
    assert_eq!(posted[1].0, "FAILED");
    // Validated now: the next sweep leaves it.
    let (_, invoked) = f
        .invoke(&json!({"task": "sweep", "dry_run": false, "request_id": format!("again-{lost}")}))
        .await;
    let again = invoked.response();
    assert_eq!(scene.backup.posted(&lost).len(), 2, "{again:#}");
}

// ---- Aurora: Backup restores the cluster alone; restore-drill adds, checks, deletes its instance ----

/// RDS-EVENT-0005 for instance `id`, as EventBridge delivers it.
fn instance_created(id: &str) -> Value {
    let arn = format!("arn:aws:rds:us-east-1:123456789012:db:{id}");
    json!({
        "version": "0", "id": format!("ev-0005-{id}"), "detail-type": "RDS DB Instance Event",
        "source": "aws.rds", "account": "123456789012", "time": Utc::now().to_rfc3339(),
        "region": "us-east-1", "resources": [arn],
        "detail": {"EventCategories": ["creation"], "SourceType": "DB_INSTANCE", "SourceArn": arn,
            "Date": Utc::now().to_rfc3339(), "Message": "DB instance created",
            "SourceIdentifier": id, "EventID": "RDS-EVENT-0005"}
    })
}

fn cluster_event_for(id: &str, cluster: &str) -> Value {
    json!({
        "version": "0", "id": format!("ev-{id}"), "detail-type": "Restore Job State Change",
        "source": "aws.backup", "account": "123456789012",
        "time": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": "us-east-1",
        "resources": [format!("arn:aws:backup:us-east-1:123456789012:recovery-point:rp-{id}")],
        "detail": {
            "restoreJobId": id, "status": "COMPLETED", "resourceType": "Aurora",
            "restoreTestingPlanArn": PLAN,
            "createdResourceArn": format!("arn:aws:rds:us-east-1:123456789012:cluster:{cluster}"),
        }
    })
}

struct AuroraScene {
    fixture: Fixture,
    backup: BackupEndpoint,
    env: Vec<(String, String)>,
    _restored: e2e::db::RestoredPg,
    id: String,
    cluster: String,
    /// The instance restore-drill adds to it.
    instance: String,
}

/// The source cluster's data on the primary, Backup's restore of it on a second server: restore
/// job `<name>-job-<suffix>` of [`PLAN`] whose cluster `<name>-<suffix>` (in moto, without
/// instances) Backup restored just now, its added instance served by the second server.
async fn aurora_scene(name: &str) -> AuroraScene {
    let fixture = Fixture::new().await;
    let id = format!("{name}-job-{}", fixture.suffix);
    let cluster = format!("{name}-{}", fixture.suffix);
    fixture.create_cluster().await;
    let database = e2e::drill::source_data(&fixture, 25).await;
    let restored = e2e::db::RestoredPg::from_primary(&fixture.stack);
    let backup = BackupEndpoint::start().await;
    let now = Utc::now().timestamp();
    let instance;
    let mut overrides = vec![format!(
        "{}=localhost:{}",
        fixture.cluster, fixture.stack.pg_port
    )];
    {
        fixture
            .aws
            .rds
            .create_db_cluster()
            .db_cluster_identifier(&cluster)
            .engine("aurora-postgresql")
            .master_username("admin_user")
            .master_user_password("not-used-locally")
            .send()
            .await
            .expect("Backup's restored cluster");
        backup.seed(SeededJob {
            job_id: id.to_string(),
            status: "COMPLETED".into(),
            created_resource_arn: format!("arn:aws:rds:us-east-1:123456789012:cluster:{cluster}"),
            source_resource_arn: format!(
                "arn:aws:rds:us-east-1:123456789012:cluster:{}",
                fixture.cluster
            ),
            plan_arn: Some(PLAN.into()),
            // moto makes the cluster now: the job ran around it.
            created: now - 60,
            completed: now,
            recovery_point_created: now - 7200,
            validation: None,
        });
        instance = added_instance(&cluster, &id, now);
        overrides.push(format!("{instance}=localhost:{}", restored.port));
    }
    let env = fixture.function_env(&[
        ("DB_ENDPOINT_OVERRIDES", &overrides.join(",")),
        ("DB_NAME", &database),
        ("DRILL_CHECKS", &orders_checks().to_string()),
        ("RESTORE_TESTING_PLANS", PLAN),
        ("AWS_ENDPOINT_URL_BACKUP", &backup.endpoint()),
        e2e::drill::SHARED_ACCOUNT_CAP,
    ]);
    AuroraScene {
        fixture,
        backup,
        env,
        _restored: restored,
        id,
        cluster,
        instance,
    }
}

/// The instance restore-drill adds to `cluster` for `job`: the cluster, 6 hex digits of
/// FNV-1a over the job id, the restore's completion.
fn added_instance(cluster: &str, job: &str, completed: i64) -> String {
    let at = chrono::DateTime::from_timestamp(completed, 0).expect("a time");
    let hash = job.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!(
        "{cluster}-{}-rr-drill-{}",
        &format!("{hash:08x}")[..6],
        at.format("%Y%m%d%H%M")
    )
}

async fn instance_in(fixture: &Fixture, id: &str) -> Option<aws_sdk_rds::types::DbInstance> {
    fixture
        .aws
        .rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .ok()
        .and_then(|out| out.db_instances().first().cloned())
}

#[tokio::test]
async fn an_aurora_restore_test_gets_an_instance_a_real_check_and_a_verdict_that_survives_a_refused_post(
) {
    let scene = aurora_scene("bk").await;
    let (id, cluster) = (scene.id.clone(), scene.cluster.clone());
    let instance = scene.instance.clone();
    let mut f = FunctionProcess::start(FUNCTION, &scene.env).await;

    // COMPLETED: VALIDATING at once, and the instance Backup left out is added to its cluster.
    let (_, invoked) = f.invoke(&cluster_event_for(&id, &cluster)).await;
    let report = invoked.response();
    assert_eq!(report["status"], "ok", "{report:#}");
    let added = check(&report, &format!("validation {id}"));
    assert!(
        added["detail"].as_str().unwrap().contains("is being added"),
        "{report:#}"
    );
    assert_eq!(report["result"]["validation"]["posted"], "VALIDATING");
    let made = instance_in(&scene.fixture, &instance)
        .await
        .expect("the added instance");
    assert_eq!(made.db_cluster_identifier(), Some(cluster.as_str()));
    assert_eq!(made.publicly_accessible(), Some(false));
    let tags: Vec<(String, String)> = made
        .tag_list()
        .iter()
        .map(|t| (t.key().unwrap_or("").into(), t.value().unwrap_or("").into()))
        .collect();
    for (k, v) in [
        ("rds-responder:drill", instance.as_str()),
        ("rds-responder:validates", id.as_str()),
        ("rds-responder:drill-owner", scene.fixture.table.as_str()),
    ] {
        assert!(
            tags.contains(&(k.to_string(), v.to_string())),
            "{k}: {tags:?}"
        );
    }
    let posted = scene.backup.posted(&id);
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(posted[0].0, "VALIDATING");

    // The same event again: nothing more is posted or created.
    let (_, invoked) = f.invoke(&cluster_event_for(&id, &cluster)).await;
    let again = invoked.response();
    assert_eq!(scene.backup.posted(&id).len(), 1, "{again:#}");

    // Its RDS-EVENT-0005: checked against the source; Backup refuses the verdict. The instance
    // is deleted all the same, and the verdict waits in the record.
    scene
        .backup
        .refuse_posts(Some((503, "ServiceUnavailableException")));
    let (_, invoked) = f.invoke(&instance_created(&instance)).await;
    let checked = invoked.response();
    assert_eq!(checked["status"], "failed", "{checked:#}");
    for name in [
        "rows public.orders",
        "schema",
        "sql orders exist",
        "cleanup",
    ] {
        assert_eq!(
            check(&checked, name)["outcome"],
            "pass",
            "{name}: {checked:#}"
        );
    }
    let refused = check(&checked, &format!("validation {id}"));
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("the verdict SUCCESSFUL is in this report only"),
        "{checked:#}"
    );
    assert!(instance_in(&scene.fixture, &instance).await.is_none());
    assert!(
        cluster_ids_include(&scene.fixture, &cluster).await,
        "Backup's cluster is Backup's"
    );
    assert_eq!(scene.backup.posted(&id).len(), 1);

    // An hour on, the sweep finds it still VALIDATING and posts the recorded verdict; nothing is
    // made again.
    scene.backup.refuse_posts(None);
    let mut later =
        FunctionProcess::start_shifted(FUNCTION, &scene.env, chrono::Duration::hours(1)).await;
    let (_, invoked) = later
        .invoke(&json!({"task": "sweep", "dry_run": false, "request_id": format!("sweep-{id}")}))
        .await;
    let swept = invoked.response();
    let posted = scene.backup.posted(&id);
    assert_eq!(posted.len(), 2, "{posted:?} {swept:#}");
    assert_eq!(posted[1].0, "SUCCESSFUL");
    assert!(posted[1].1.starts_with("restore-drill: all "), "{posted:?}");
    assert!(instance_in(&scene.fixture, &instance).await.is_none());
    assert_eq!(
        swept["result"]["validations"][0]["validation"]["posted"], "SUCCESSFUL",
        "{swept:#}"
    );
}

async fn cluster_ids_include(fixture: &Fixture, id: &str) -> bool {
    fixture
        .aws
        .rds
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
        .is_ok_and(|out| !out.db_clusters().is_empty())
}

#[tokio::test]
async fn an_aurora_restore_test_whose_instance_is_never_checked_times_out_and_its_instance_goes() {
    let scene = aurora_scene("bl").await;
    let (id, cluster) = (scene.id.clone(), scene.cluster.clone());
    let instance = scene.instance.clone();
    let mut f = FunctionProcess::start(FUNCTION, &scene.env).await;
    let (_, invoked) = f.invoke(&cluster_event_for(&id, &cluster)).await;
    assert_eq!(invoked.response()["status"], "ok");
    assert!(instance_in(&scene.fixture, &instance).await.is_some());
    // Its event never came, and no sweep ran until well past the validation's deadline (3 h).
    let mut later =
        FunctionProcess::start_shifted(FUNCTION, &scene.env, chrono::Duration::hours(4)).await;
    let (_, invoked) = later
        .invoke(&json!({"task": "sweep", "dry_run": false, "request_id": format!("late-{id}")}))
        .await;
    let swept = invoked.response();
    let posted = scene.backup.posted(&id);
    assert_eq!(posted.len(), 2, "{posted:?} {swept:#}");
    assert_eq!(posted[1].0, "TIMED_OUT");
    assert!(posted[1].1.contains("was not checked by"), "{posted:?}");
    assert!(
        instance_in(&scene.fixture, &instance).await.is_none(),
        "{swept:#}"
    );
}

// ---- DynamoDB: Backup's restored table against its source ----

async fn put_items(fixture: &Fixture, table: &str, n: usize) {
    use aws_sdk_dynamodb::types::AttributeValue;
    for i in 0..n {
        fixture
            .aws
            .dynamodb
            .put_item()
            .table_name(table)
            .item("pk", AttributeValue::S(format!("order-{i}")))
            .send()
            .await
            .expect("put item");
    }
}

fn table_job(id: &str, restored: &str, source: &str) -> SeededJob {
    let now = Utc::now().timestamp();
    SeededJob {
        job_id: id.into(),
        status: "COMPLETED".into(),
        created_resource_arn: format!("arn:aws:dynamodb:us-east-1:123456789012:table/{restored}"),
        source_resource_arn: format!("arn:aws:dynamodb:us-east-1:123456789012:table/{source}"),
        plan_arn: Some(PLAN.into()),
        created: now - 1800,
        completed: now - 300,
        recovery_point_created: now - 3600,
        validation: None,
    }
}

#[tokio::test]
async fn a_restore_tests_table_is_counted_against_its_source_and_a_short_one_fails() {
    let fixture = Fixture::new().await;
    let source = format!("orders-{}", fixture.suffix);
    let whole = format!("awsbackup-whole-{}", fixture.suffix);
    let short = format!("awsbackup-short-{}", fixture.suffix);
    for (table, items) in [(&source, 40), (&whole, 40), (&short, 12)] {
        fixture.create_table(table, None).await;
        put_items(&fixture, table, items).await;
    }
    let backup = BackupEndpoint::start().await;
    let (ok_id, short_id) = (
        format!("tbl-{}", fixture.suffix),
        format!("tbl-short-{}", fixture.suffix),
    );
    backup.seed(table_job(&ok_id, &whole, &source));
    backup.seed(table_job(&short_id, &short, &source));
    let env = fixture.function_env(&[
        ("RESTORE_TESTING_PLANS", PLAN),
        ("AWS_ENDPOINT_URL_BACKUP", &backup.endpoint()),
    ]);
    let mut f = FunctionProcess::start(FUNCTION, &env).await;
    let event = |id: &str, restored: &str| {
        json!({
            "version": "0", "id": format!("ev-{id}"), "detail-type": "Restore Job State Change",
            "source": "aws.backup", "account": "123456789012",
            "time": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "region": "us-east-1", "resources": [],
            "detail": {"restoreJobId": id, "status": "COMPLETED", "resourceType": "DynamoDB",
                "restoreTestingPlanArn": PLAN,
                "createdResourceArn": format!("arn:aws:dynamodb:us-east-1:123456789012:table/{restored}")}
        })
    };
    let (_, invoked) = f.invoke(&event(&ok_id, &whole)).await;
    let report = invoked.response();
    let items = check(&report, "items");
    assert_eq!(items["outcome"], "pass", "{report:#}");
    assert!(
        items["detail"]
            .as_str()
            .unwrap()
            .contains("40 items restored, 40 in the source"),
        "{report:#}"
    );
    let posted = backup.posted(&ok_id);
    assert_eq!(
        posted.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
        ["VALIDATING", "SUCCESSFUL"],
        "{report:#}"
    );

    let (_, invoked) = f.invoke(&event(&short_id, &short)).await;
    let report = invoked.response();
    assert_eq!(report["status"], "failed", "{report:#}");
    assert_eq!(check(&report, "items")["outcome"], "fail", "{report:#}");
    let posted = backup.posted(&short_id);
    assert_eq!(posted.len(), 2, "{posted:?}");
    assert_eq!(posted[1].0, "FAILED");
    assert!(posted[1].1.contains("items"), "{posted:?}");
    // Backup deletes its own restores: both tables and the source are still there.
    for t in [&source, &whole, &short] {
        let described = fixture
            .aws
            .dynamodb
            .describe_table()
            .table_name(t)
            .send()
            .await;
        assert!(described.is_ok(), "{t}: {described:?}");
    }
}

#[tokio::test]
async fn an_aurora_restore_tests_instance_that_rds_refused_or_lost_the_answer_of_is_added_once_and_never_blamed_on_the_backup(
) {
    let scene = aurora_scene("bf").await;
    let (id, cluster, instance) = (
        scene.id.clone(),
        scene.cluster.clone(),
        scene.instance.clone(),
    );
    let proxy = e2e::faults::FaultProxy::start(&scene.fixture.stack.moto_endpoint).await;
    let mut env = scene.env.clone();
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL".into(), proxy.endpoint()));
    // RDS refuses the create (a quota, a class, a permission): our fault, not the restore's.
    proxy.inject("RDS.CreateDBInstance", e2e::faults::Fault::Refuse, Some(1));
    let mut f = FunctionProcess::start(FUNCTION, &env).await;
    let (_, invoked) = f.invoke(&cluster_event_for(&id, &cluster)).await;
    let refused = invoked.response();
    assert_eq!(refused["status"], "failed", "{refused:#}");
    assert!(
        check(&refused, &format!("validation {id}"))["detail"]
            .as_str()
            .unwrap()
            .contains("the next sweep tries again"),
        "{refused:#}"
    );
    assert!(instance_in(&scene.fixture, &instance).await.is_none());
    let posted = scene.backup.posted(&id);
    assert_eq!(posted.len(), 1, "only VALIDATING: {posted:?}");

    // An hour on, the sweep adds it again; this time RDS makes it and the answer is lost.
    proxy.inject(
        "RDS.CreateDBInstance",
        e2e::faults::Fault::LoseAnswer,
        Some(1),
    );
    let mut later =
        FunctionProcess::start_shifted(FUNCTION, &env, chrono::Duration::hours(1)).await;
    let (_, invoked) = later
        .invoke(&json!({"task": "sweep", "dry_run": false, "request_id": format!("sweep-{id}")}))
        .await;
    let swept = invoked.response();
    assert!(
        instance_in(&scene.fixture, &instance).await.is_some(),
        "{swept:#}"
    );
    assert_eq!(
        scene.backup.posted(&id).len(),
        1,
        "VALIDATING once: {swept:#}"
    );

    // The next sweep finds the instance the lost answer made and checks it: one instance, one
    // verdict, and the instance deleted.
    let (_, invoked) = later
        .invoke(&json!({"task": "sweep", "dry_run": false, "request_id": format!("again-{id}")}))
        .await;
    let checked = invoked.response();
    let posted = scene.backup.posted(&id);
    assert_eq!(posted.len(), 2, "{posted:?} {checked:#}");
    assert_eq!(posted[1].0, "SUCCESSFUL", "{checked:#}");
    assert!(
        instance_in(&scene.fixture, &instance).await.is_none(),
        "{checked:#}"
    );
}
