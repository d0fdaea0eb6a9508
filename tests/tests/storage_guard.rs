//! storage-guard end to end: the real binary under the Runtime API against moto (RDS,
//! CloudWatch history put as RDS would, snapshots, tags), PostgreSQL, and a local endpoint in
//! front of moto for what moto cannot show: `DescribeValidDBInstanceModifications`, storage
//! events, the storage-optimization and storage-full states, failures and lost answers.

use std::time::Duration;

use aws_sdk_rds::types::Tag;
use chrono::Utc;
use e2e::{check, Fault, FaultProxy, Fixture, FunctionProcess};
use serde_json::{json, Value};

const FUNCTION: &str = "storage-guard";
const OPT_IN: &str = "rds-responder:storage-guard";
const CHANGE_TAG: &str = "rds-responder:storage-change";
/// What RDS answers for a gp2 instance (moto lacks the operation).
const GP2_SIZES: &str = "<ValidDBInstanceModificationsMessage><Storage><ValidStorageOptions>\
     <StorageType>gp2</StorageType><StorageSize><Range><From>20</From><To>65536</To></Range></StorageSize>\
     <SupportsStorageAutoscaling>true</SupportsStorageAutoscaling></ValidStorageOptions></Storage>\
     </ValidDBInstanceModificationsMessage>";

struct Scene {
    fixture: Fixture,
    proxy: FaultProxy,
}

/// The fixture's PostgreSQL instance at `allocated` GiB of `storage_type`, autoscaling up to
/// `max` when set, opted in or not, with 24 hours of `FreeStorageSpace` from `free_gib(hours
/// ago)`.
async fn scene(
    allocated: i32,
    max: Option<i32>,
    storage_type: &str,
    opted_in: bool,
    free_gib: impl Fn(f64) -> f64,
) -> Scene {
    let fixture = Fixture::new().await;
    shape(
        &fixture,
        &fixture.db,
        allocated,
        max,
        storage_type,
        opted_in,
    )
    .await;
    put_history(&fixture, &fixture.db, free_gib).await;
    let proxy = FaultProxy::start(&fixture.stack.moto_endpoint).await;
    Scene { fixture, proxy }
}

async fn shape(
    fixture: &Fixture,
    db: &str,
    allocated: i32,
    max: Option<i32>,
    storage_type: &str,
    opted_in: bool,
) {
    let tags: &[(&str, &str)] = if opted_in { &[(OPT_IN, "on")] } else { &[] };
    fixture
        .shape_storage(db, allocated, max, storage_type, tags)
        .await;
}

async fn put_history(fixture: &Fixture, db: &str, free_gib: impl Fn(f64) -> f64) {
    fixture.put_free_storage(db, free_gib).await;
}

async fn instance(fixture: &Fixture, db: &str) -> aws_sdk_rds::types::DbInstance {
    fixture
        .aws
        .rds
        .describe_db_instances()
        .db_instance_identifier(db)
        .send()
        .await
        .expect("describe")
        .db_instances
        .unwrap_or_default()
        .remove(0)
}

fn tag_of(db: &aws_sdk_rds::types::DbInstance, key: &str) -> Option<String> {
    db.tag_list()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value().map(str::to_string))
}

impl Scene {
    fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let endpoint = self.proxy.endpoint();
        let mut overrides = vec![("AWS_ENDPOINT_URL", endpoint.as_str())];
        overrides.extend_from_slice(extra);
        self.fixture.function_env(&overrides)
    }

    async fn start(&self, extra: &[(&str, &str)]) -> FunctionProcess {
        FunctionProcess::start(FUNCTION, &self.env(extra)).await
    }

    /// The low-storage alarm of this scene's instance, entering ALARM at `at`.
    fn alarm(&self, at: &str) -> Value {
        let mut event = self.fixture.event("alarm.free-storage.eventbridge.json");
        event["detail"]["state"]["timestamp"] = json!(at);
        event
    }

    fn calls(&self, operation: &str) -> usize {
        self.proxy.seen().iter().filter(|o| *o == operation).count()
    }

    async fn allocated(&self) -> i32 {
        instance(&self.fixture, &self.fixture.db)
            .await
            .allocated_storage
            .unwrap_or_default()
    }
}

fn detail<'a>(report: &'a Value, name: &str) -> &'a str {
    check(report, name)["detail"].as_str().unwrap_or_default()
}

/// 20 GiB free a day ago, 8 now: 0.5 GiB an hour.
fn filling(hours_ago: f64) -> f64 {
    8.0 + 0.5 * hours_ago
}

#[tokio::test]
async fn an_alarm_grows_an_opted_in_instance_once_snapshot_first_and_says_what_changed() {
    let s = scene(100, None, "gp2", true, filling).await;
    let mut function = s.start(&[]).await;
    let event = s.alarm("2026-11-22T03:12:30.412+0000");
    let (request_id, answer) = function.invoke(&event).await;
    let report = answer.response();
    e2e::collect_report("response", &report);
    // 92 used + 0.5 GiB/h over 14 days and 6 h, 10% kept free: (92 + 171) / 0.9 = 292.2, held
    // to +100% (MAX_GROW_PERCENT) by default.
    assert_eq!(s.allocated().await, 200, "{report:#}");
    assert!(
        detail(&report, "decision").contains(
            "MAX_GROW_PERCENT (100%) holds this automatic change to 200 GiB of the 293 GiB"
        ),
        "{report:#}"
    );
    assert_eq!(report["result"]["outcome"], "changed");
    assert_eq!(report["result"]["before"]["allocated_storage_gib"], 100);
    assert_eq!(report["result"]["after"]["allocated_storage_gib"], 200);
    // The snapshot before it counts with the snapshots taken; the forecast beside it.
    let resource = format!("db-instance:{}", s.fixture.db);
    assert_eq!(
        e2e::resource_metrics(&report, "SnapshotsCreated"),
        [(resource.clone(), 1.0)].into()
    );
    assert!(e2e::resource_metrics(&report, "StorageFullInHours").contains_key(&resource));
    assert_eq!(report["result"]["action"]["kind"], "grow");
    assert_eq!(
        report["status"], "degraded",
        "a change is worth a look: {report:#}"
    );
    assert!(
        detail(&report, "forecast").contains("using 0.500 GiB/h"),
        "{report:#}"
    );
    assert!(detail(&report, "valid-sizes").contains("using the documented gp2 rules"));
    // The snapshot first, then our record, then the change.
    let order: Vec<String> = s
        .proxy
        .seen()
        .into_iter()
        .filter(|o| {
            [
                "RDS.CreateDBSnapshot",
                "RDS.AddTagsToResource",
                "RDS.ModifyDBInstance",
            ]
            .contains(&o.as_str())
        })
        .collect();
    assert_eq!(
        order,
        [
            "RDS.CreateDBSnapshot",
            "RDS.AddTagsToResource",
            "RDS.ModifyDBInstance"
        ]
    );
    let snapshots = s.fixture.manual_snapshots(&s.fixture.db).await;
    assert_eq!(snapshots.len(), 1);
    let tags: Vec<(String, String)> = snapshots[0]
        .tag_list()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().into(),
                t.value().unwrap_or_default().into(),
            )
        })
        .collect();
    assert!(
        tags.contains(&("CreatedBy".into(), "rds-responder".into())),
        "{tags:?}"
    );
    assert!(
        tags.iter().any(|(k, v)| k == "rds-responder:reason"
            && v.contains("storage-guard before growing from 100 to 200 GiB: alarm")),
        "{tags:?}"
    );
    assert_eq!(
        report["result"]["snapshot_id"],
        snapshots[0].db_snapshot_identifier().unwrap()
    );
    let record = tag_of(&instance(&s.fixture, &s.fixture.db).await, CHANGE_TAG).unwrap();
    assert!(
        record.contains(" sent 100 to 200 GiB by storage-guard "),
        "{record}"
    );
    assert!(record.contains(&request_id), "{record}");
    let published = s.fixture.published(1, Duration::from_secs(5)).await;
    assert_eq!(published.len(), 1);

    // The same alarm delivered again: the earlier report, nothing sent.
    let (_, again) = function.invoke(&event).await;
    let again = again.response();
    assert_eq!(again["duplicate_of"], report["id"], "{again:#}");
    assert_eq!(s.calls("RDS.ModifyDBInstance"), 1);
    assert_eq!(s.calls("RDS.CreateDBSnapshot"), 1);

    // The alarm firing again an hour later: our change holds the next one back six hours, and
    // the space it added counts: not critical, nothing sent.
    let (_, later) = function
        .invoke(&s.alarm("2026-11-22T04:12:30.412+0000"))
        .await;
    let later = later.response();
    assert_eq!(s.calls("RDS.ModifyDBInstance"), 1, "{later:#}");
    assert_eq!(later["result"]["outcome"], "no-change");
    assert!(
        detail(&later, "decision").starts_with(
            "a storage change is not allowed yet (6 hours after the last storage change"
        ),
        "{later:#}"
    );
    assert_eq!(later["status"], "degraded", "{later:#}");
    assert_eq!(s.allocated().await, 200);
}

#[tokio::test]
async fn valid_sizes_from_rds_round_the_target_and_gp3_keeps_its_performance_valid() {
    let s = scene(300, None, "gp3", true, filling).await;
    s.proxy.answer(
        "RDS.DescribeValidDBInstanceModifications",
        "<ValidDBInstanceModificationsMessage><Storage><ValidStorageOptions>\
         <StorageType>gp3</StorageType><StorageSize><Range><From>20</From><To>16000</To><Step>100</Step></Range></StorageSize>\
         <ProvisionedIops><Range><From>3000</From><To>16000</To></Range></ProvisionedIops>\
         <IopsToStorageRatio><DoubleRange><From>0.5</From><To>500</To></DoubleRange></IopsToStorageRatio>\
         <ProvisionedStorageThroughput><Range><From>125</From><To>1000</To></Range></ProvisionedStorageThroughput>\
         <StorageThroughputToIopsRatio><DoubleRange><From>0</From><To>0.25</To></DoubleRange></StorageThroughputToIopsRatio>\
         <SupportsStorageAutoscaling>true</SupportsStorageAutoscaling></ValidStorageOptions></Storage>\
         </ValidDBInstanceModificationsMessage>",
    );
    let mut function = s.start(&[]).await;
    let report = function
        .invoke(&json!({"db": s.fixture.db, "target_gib": 450, "dry_run": false, "reason": "bulk load"}))
        .await
        .1
        .response();
    e2e::collect_report("response", &report);
    assert!(
        detail(&report, "valid-sizes")
            .starts_with("RDS lists valid gp3 sizes for this instance (20-16000 GiB step 100)"),
        "{report:#}"
    );
    // 450 rounded up to the step: 520 (20 + 5 x 100); past 400 GiB, gp3's 12,000 / 500.
    let db = instance(&s.fixture, &s.fixture.db).await;
    assert_eq!(db.allocated_storage, Some(520), "{report:#}");
    assert_eq!(db.iops, Some(12_000));
    assert_eq!(db.storage_throughput, Some(500));
    assert_eq!(report["result"]["after"]["iops"], 12_000);
    assert_eq!(report["result"]["after"]["storage_throughput_mibps"], 500);
    assert!(detail(&report, "decision").contains("IOPS 3000 -> 12000 to stay valid at 520 GiB"));
}

#[tokio::test]
async fn storage_full_grows_without_a_snapshot_and_optimization_refuses() {
    let s = scene(100, None, "gp2", true, |h| 0.5 * h).await;
    s.proxy.rewrite(
        "RDS.DescribeDBInstances",
        "<DBInstanceStatus>available</DBInstanceStatus>",
        "<DBInstanceStatus>storage-full</DBInstanceStatus>",
    );
    let mut function = s.start(&[]).await;
    let full = function
        .invoke(&s.fixture.event("rds-instance-storage-full.sns.json"))
        .await
        .1
        .response();
    e2e::collect_report("response", &full);
    assert_eq!(
        full["status"], "failed",
        "storage-full is critical: {full:#}"
    );
    assert_eq!(s.calls("RDS.CreateDBSnapshot"), 0);
    assert_eq!(check(&full, "snapshot")["outcome"], "warn");
    assert!(s.allocated().await > 100, "{full:#}");
    assert_eq!(full["result"]["outcome"], "changed");

    let o = scene(100, None, "gp2", true, filling).await;
    o.proxy.rewrite(
        "RDS.DescribeDBInstances",
        "<DBInstanceStatus>available</DBInstanceStatus>",
        "<DBInstanceStatus>storage-optimization</DBInstanceStatus>",
    );
    let mut function = o.start(&[("ACT_WITHIN_HOURS", "720")]).await;
    let optimizing = function
        .invoke(&o.fixture.event("rds-instance-low-storage.eventbridge.json"))
        .await
        .1
        .response();
    e2e::collect_report("response", &optimizing);
    assert_eq!(o.calls("RDS.ModifyDBInstance"), 0, "{optimizing:#}");
    assert_eq!(optimizing["status"], "failed", "{optimizing:#}");
    assert!(detail(&optimizing, "decision")
        .contains("the next is possible when storage optimization ends"));
    assert_eq!(o.allocated().await, 100);
}

#[tokio::test]
async fn a_storage_change_in_the_instance_events_holds_the_next_one_back() {
    let s = scene(100, None, "gp2", true, |h| 2.0 + 0.5 * h).await;
    let two_hours_ago = (Utc::now() - chrono::Duration::hours(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    s.proxy.answer(
        "RDS.DescribeEvents",
        &format!(
            "<Events><Event><SourceIdentifier>{db}</SourceIdentifier><SourceType>db-instance</SourceType>\
             <Message>Applying modification to allocated storage</Message><EventCategories><EventCategory>configuration change</EventCategory></EventCategories>\
             <Date>{two_hours_ago}</Date><SourceArn>arn:aws:rds:us-east-1:123456789012:db:{db}</SourceArn></Event></Events>",
            db = s.fixture.db
        ),
    );
    let mut function = s.start(&[]).await;
    let report = function
        .invoke(&s.alarm("2026-11-22T05:00:00.000+0000"))
        .await
        .1
        .response();
    e2e::collect_report("response", &report);
    assert_eq!(s.calls("RDS.ModifyDBInstance"), 0, "{report:#}");
    // Full in 4 h, the next change possible in 4 h: escalated.
    assert_eq!(report["status"], "failed", "{report:#}");
    assert!(
        detail(&report, "storage-changes")
            .starts_with("1 storage changes in 14 days, 1 in 24 hours"),
        "{report:#}"
    );
    assert!(detail(&report, "decision").contains("a storage change is not allowed yet"));
    assert!(
        report["summary"]
            .as_str()
            .unwrap()
            .contains("not allowed yet"),
        "{report:#}"
    );
}

#[tokio::test]
async fn autoscaling_with_headroom_is_left_alone_and_near_its_maximum_is_raised() {
    let s = scene(100, Some(500), "gp2", true, filling).await;
    s.proxy
        .answer("RDS.DescribeValidDBInstanceModifications", GP2_SIZES);
    let mut function = s.start(&[]).await;
    let report = function
        .invoke(&s.alarm("2026-11-22T06:00:00.000+0000"))
        .await
        .1
        .response();
    e2e::collect_report("response", &report);
    assert_eq!(report["status"], "ok", "{report:#}");
    assert_eq!(s.calls("RDS.ModifyDBInstance"), 0);
    assert!(detail(&report, "decision")
        .starts_with("autoscaling is on (maximum 500 GiB, 400 GiB of headroom)"));

    let near = scene(100, Some(105), "gp2", true, filling).await;
    let mut function = near.start(&[]).await;
    let report = function
        .invoke(
            &near
                .fixture
                .event("rds-instance-storage-autoscaling-max.eventbridge.json"),
        )
        .await
        .1
        .response();
    e2e::collect_report("response", &report);
    let db = instance(&near.fixture, &near.fixture.db).await;
    assert_eq!(db.allocated_storage, Some(100), "{report:#}");
    // 26% above allocated is 126; 14 days at 0.5 GiB/h want (92 + 168) / 0.9 = 289.
    assert_eq!(db.max_allocated_storage, Some(289), "{report:#}");
    assert_eq!(report["result"]["action"]["kind"], "raise-maximum");
    assert_eq!(report["result"]["after"]["max_allocated_storage_gib"], 289);
}

#[tokio::test]
async fn the_ceiling_refuses_and_escalates_without_touching_anything() {
    let s = scene(100, None, "gp2", true, filling).await;
    let mut function = s.start(&[("MAX_STORAGE_GIB", "105")]).await;
    let report = function
        .invoke(&s.alarm("2026-11-22T07:00:00.000+0000"))
        .await
        .1
        .response();
    e2e::collect_report("response", &report);
    assert_eq!(report["status"], "failed", "{report:#}");
    assert!(detail(&report, "decision").starts_with("MAX_STORAGE_GIB (105 GiB) is reached: 100 GiB allocated, and the smallest increase RDS allows is to 110 GiB"), "{report:#}");
    assert_eq!(
        s.calls("RDS.CreateDBSnapshot")
            + s.calls("RDS.ModifyDBInstance")
            + s.calls("RDS.AddTagsToResource"),
        0
    );
}

#[tokio::test]
async fn a_snapshot_that_cannot_be_started_stops_the_change() {
    let s = scene(100, None, "gp2", true, filling).await;
    s.proxy
        .inject("RDS.CreateDBSnapshot", Fault::ServerError, None);
    let mut function = s.start(&[]).await;
    let alarm = s.alarm("2026-11-22T08:00:00.000+0000");
    // Reported, then failed so that Lambda retries: nothing was changed.
    let (request_id, answer) = function.invoke(&alarm).await;
    let (kind, message) = answer.error();
    assert_eq!(kind, "RetryRequested", "{message}");
    assert!(message.contains("CreateDBSnapshot"), "{message}");
    let published = s.fixture.published(1, Duration::from_secs(5)).await;
    let report: Value = serde_json::from_str(published[0]["Message"].as_str().unwrap()).unwrap();
    e2e::collect_report("sns", &report);
    assert_eq!(report["status"], "failed", "{report:#}");
    assert!(
        detail(&report, "snapshot")
            .starts_with("the snapshot before the change could not be started"),
        "{report:#}"
    );
    assert_eq!(report["result"]["outcome"], "not-changed");
    assert_eq!(s.calls("RDS.ModifyDBInstance"), 0);
    assert_eq!(s.allocated().await, 100);
    // Lambda's retry, once RDS takes snapshots again: snapshot, then the change.
    s.proxy.clear();
    let retried = function.retry(&request_id, &alarm).await.response();
    assert_eq!(retried["result"]["outcome"], "changed", "{retried:#}");
    assert_eq!(s.allocated().await, 200);
    assert_eq!(s.calls("RDS.ModifyDBInstance"), 1);
}

#[tokio::test]
async fn a_lost_answer_counts_as_made_and_a_refusal_is_recorded_so_the_next_alarm_grows() {
    // The change took effect, its answer was lost: found on the instance, never sent again.
    let s = scene(100, None, "gp2", true, filling).await;
    s.proxy
        .inject("RDS.ModifyDBInstance", Fault::LoseAnswer, None);
    let mut function = s.start(&[]).await;
    let report = function
        .invoke(&s.alarm("2026-11-22T09:00:00.000+0000"))
        .await
        .1
        .response();
    e2e::collect_report("response", &report);
    assert_eq!(report["result"]["outcome"], "changed", "{report:#}");
    assert!(
        detail(&report, "change").contains("but the instance shows the change"),
        "{report:#}"
    );
    let grown = s.allocated().await;
    assert!(grown > 100);
    let sent = s.calls("RDS.ModifyDBInstance");
    s.proxy.clear();
    let (_, again) = function
        .invoke(&s.alarm("2026-11-22T09:05:00.000+0000"))
        .await;
    let again = again.response();
    assert_eq!(
        s.calls("RDS.ModifyDBInstance"),
        sent,
        "grown twice: {again:#}"
    );
    assert_eq!(s.allocated().await, grown);

    // RDS refused the change: nothing changed, the record says failed, the next alarm grows once.
    let r = scene(100, None, "gp2", true, filling).await;
    r.proxy
        .inject("RDS.ModifyDBInstance", Fault::Refuse, Some(1));
    let mut function = r.start(&[]).await;
    let refused = function
        .invoke(&r.alarm("2026-11-22T10:00:00.000+0000"))
        .await
        .1
        .response();
    e2e::collect_report("response", &refused);
    assert_eq!(refused["status"], "failed", "{refused:#}");
    assert_eq!(refused["result"]["outcome"], "failed");
    assert_eq!(r.allocated().await, 100);
    let record = tag_of(&instance(&r.fixture, &r.fixture.db).await, CHANGE_TAG).unwrap();
    assert!(record.contains(" failed 100 to 200 GiB"), "{record}");
    let next = function
        .invoke(&r.alarm("2026-11-22T10:05:00.000+0000"))
        .await
        .1
        .response();
    assert_eq!(next["result"]["outcome"], "changed", "{next:#}");
    assert_eq!(r.allocated().await, 200);
    assert_eq!(
        r.calls("RDS.CreateDBSnapshot"),
        2,
        "each run snapshots before its own try"
    );
}

#[tokio::test]
async fn concurrent_triggers_for_one_instance_change_it_once() {
    let s = scene(100, None, "gp2", true, filling).await;
    let mut first = s.start(&[]).await;
    let mut second = s.start(&[]).await;
    let alarm = s.alarm("2026-11-22T11:00:00.000+0000");
    let event = s.fixture.event("rds-instance-low-storage.eventbridge.json");
    let (a, b) = tokio::join!(first.invoke(&alarm), second.invoke(&event));
    let reports = [a.1.response(), b.1.response()];
    assert_eq!(s.calls("RDS.ModifyDBInstance"), 1, "{reports:#?}");
    assert_eq!(s.allocated().await, 200);
    let outcomes: Vec<&str> = reports
        .iter()
        .map(|r| r["result"]["outcome"].as_str().unwrap_or("none"))
        .collect();
    assert!(outcomes.contains(&"changed"), "{outcomes:?}");
}

#[tokio::test]
async fn dry_runs_and_instances_not_opted_in_change_nothing() {
    let s = scene(100, None, "gp2", false, filling).await;
    let mut function = s.start(&[]).await;
    let report = function
        .invoke(&s.alarm("2026-11-22T12:00:00.000+0000"))
        .await
        .1
        .response();
    e2e::collect_report("response", &report);
    assert_eq!(check(&report, "change")["outcome"], "planned", "{report:#}");
    assert!(
        detail(&report, "change").contains("not opted in: no tag rds-responder:storage-guard"),
        "{report:#}"
    );
    let manual = function
        .invoke(&json!({"db": s.fixture.db, "grow_percent": 50, "dry_run": false}))
        .await
        .1
        .response();
    assert_eq!(
        check(&manual, "change")["outcome"],
        "planned",
        "a request does not pass the opt-in: {manual:#}"
    );
    assert_eq!(
        s.calls("RDS.ModifyDBInstance") + s.calls("RDS.CreateDBSnapshot"),
        0
    );

    let opted = scene(100, None, "gp2", true, filling).await;
    let mut function = opted.start(&[]).await;
    let dry = function
        .invoke(&json!({"db": opted.fixture.db, "grow_percent": 50}))
        .await
        .1
        .response();
    e2e::collect_report("response", &dry);
    assert_eq!(dry["status"], "dry-run", "{dry:#}");
    assert_eq!(dry["result"]["after"]["allocated_storage_gib"], 150);
    assert_eq!(
        opted.calls("RDS.ModifyDBInstance") + opted.calls("RDS.CreateDBSnapshot"),
        0
    );
    // Opted out: not even read.
    let out = scene(100, None, "gp2", false, filling).await;
    let arn = instance(&out.fixture, &out.fixture.db)
        .await
        .db_instance_arn
        .unwrap();
    out.fixture
        .aws
        .rds
        .add_tags_to_resource()
        .resource_name(arn)
        .tags(Tag::builder().key(OPT_IN).value("OFF").build())
        .send()
        .await
        .unwrap();
    let mut function = out.start(&[]).await;
    let skipped = function
        .invoke(&out.alarm("2026-11-22T12:00:00.000+0000"))
        .await
        .1
        .response();
    assert_eq!(skipped["status"], "skipped", "{skipped:#}");
    assert!(skipped["summary"].as_str().unwrap().contains("opted out"));
}

#[tokio::test]
async fn an_inactive_replication_slot_holding_wal_is_named() {
    let s = scene(100, Some(500), "gp2", true, filling).await;
    let admin = e2e::db::pg_admin(&s.fixture.stack).await;
    let slot = format!("stuck_{}", s.fixture.suffix);
    admin
        .execute(
            "SELECT pg_create_physical_replication_slot($1, true)",
            &[&slot],
        )
        .await
        .expect("create slot");
    // Some WAL past the slot's restart point.
    admin
        .batch_execute("CREATE TEMP TABLE wal_filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) g; SELECT pg_switch_wal();")
        .await
        .expect("write WAL");
    let mut function = s.start(&[]).await;
    let report = function
        .invoke(&s.alarm("2026-11-22T13:00:00.000+0000"))
        .await
        .1
        .response();
    e2e::collect_report("response", &report);
    admin
        .execute("SELECT pg_drop_replication_slot($1)", &[&slot])
        .await
        .expect("drop slot");
    let grew = check(&report, "what-grew");
    assert_eq!(grew["outcome"], "warn", "{report:#}");
    assert!(
        grew["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("inactive physical slot {slot} holds")),
        "{grew:#}"
    );
    let slots = grew["data"]["slots"].as_array().unwrap();
    let ours = slots.iter().find(|x| x["name"] == slot.as_str()).unwrap();
    assert_eq!(ours["active"], false);
    assert!(ours["retained_bytes"].as_i64().unwrap() > 0, "{ours:#}");
    assert!(!grew["data"]["largest"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_sweep_forecasts_every_opted_in_instance_in_one_request_and_acts_where_needed() {
    // Its own opt-in tag: other tests' instances live in the same moto.
    let s = scene(100, None, "gp2", false, |h| 10.0 + 0.5 * h).await;
    let tag = format!("sweep-{}", s.fixture.suffix);
    let slow = format!("slow-{}", s.fixture.suffix);
    s.fixture.create_instance(&slow, "postgres").await;
    shape(&s.fixture, &slow, 100, None, "gp2", false).await;
    put_history(&s.fixture, &slow, |h| 80.0 + 0.01 * h).await;
    for db in [&s.fixture.db, &slow] {
        let arn = instance(&s.fixture, db).await.db_instance_arn.unwrap();
        s.fixture
            .aws
            .rds
            .add_tags_to_resource()
            .resource_name(arn)
            .tags(Tag::builder().key(&tag).value("Yes").build())
            .send()
            .await
            .unwrap();
    }
    let untagged = format!("free-{}", s.fixture.suffix);
    s.fixture.create_instance(&untagged, "postgres").await;
    let mut function = s
        .start(&[
            (
                "ALLOWED_SCHEDULES",
                "rds-responder-storage/storage-forecast",
            ),
            ("GUARD_TAG", &tag),
        ])
        .await;
    let report = function
        .invoke(&s.fixture.event("schedule.storage-guard.scheduler.json"))
        .await
        .1
        .response();
    e2e::collect_report("response", &report);
    let results = report["result"]["instances"].as_array().unwrap();
    let outcome = |db: &str| {
        results
            .iter()
            .find(|r| r["db_instance"] == db)
            .and_then(|r| r["outcome"].as_str().map(str::to_string))
    };
    // The fixture's instance fills in 20 h (within 48): grown; the slow one is reported.
    assert_eq!(
        outcome(&s.fixture.db).as_deref(),
        Some("changed"),
        "{report:#}"
    );
    assert_eq!(outcome(&slow).as_deref(), Some("no-change"), "{report:#}");
    assert_eq!(outcome(&untagged), None, "not opted in: not swept");
    assert_eq!(results.len(), 2, "{report:#}");
    // Hours to full on the dashboard: within ACT_WITHIN_HOURS (48) for the one grown only.
    let full_in = e2e::resource_metrics(&report, "StorageFullInHours");
    let hours = |db: &str| full_in[&format!("db-instance:{db}")];
    assert!((10.0..=30.0).contains(&hours(&s.fixture.db)), "{full_in:?}");
    assert!(hours(&slow) > 48.0, "{full_in:?}");
    assert_eq!(full_in.len(), 2, "{full_in:?}");
    assert_eq!(
        s.calls("CloudWatch.GetMetricData"),
        1,
        "{:?}",
        s.proxy.seen()
    );
    assert_eq!(s.calls("RDS.ModifyDBInstance"), 1);
    assert!(
        detail(&report, &format!("{slow}: decision")).contains("not within ACT_WITHIN_HOURS"),
        "{report:#}"
    );
}

#[tokio::test]
async fn aurora_storage_low_is_reported_only_and_a_silent_cloudwatch_does_not_stop_a_grow() {
    let s = scene(100, None, "gp2", true, filling).await;
    let mut function = s.start(&[]).await;
    let aurora = function
        .invoke(&s.fixture.event("rds-cluster-storage-low.eventbridge.json"))
        .await
        .1
        .response();
    e2e::collect_report("response", &aurora);
    assert_eq!(aurora["status"], "degraded", "{aurora:#}");
    assert!(detail(&aurora, "aurora").contains("grows its storage by itself"));
    assert!(
        s.proxy.seen().iter().all(|o| !o.starts_with("RDS.")),
        "{:?}",
        s.proxy.seen()
    );

    s.proxy
        .inject("CloudWatch.GetMetricData", Fault::Stall, None);
    function.timeout = Duration::from_secs(40);
    let started = std::time::Instant::now();
    let report = function
        .invoke(&s.alarm("2026-11-22T14:00:00.000+0000"))
        .await
        .1
        .response();
    e2e::collect_report("response", &report);
    assert!(started.elapsed() < Duration::from_secs(40));
    assert_eq!(check(&report, "forecast")["outcome"], "warn", "{report:#}");
    assert!(detail(&report, "forecast").contains("could not be read"));
    // Without a forecast, the least RDS allows with 10% kept free: 100 / 0.9.
    assert_eq!(s.allocated().await, 112, "{report:#}");
}

#[tokio::test]
async fn a_change_held_by_another_run_is_left_to_it_and_idle_reapers_lock_does_not_block() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let s = scene(100, None, "gp2", true, filling).await;
    let text = |v: &str| AttributeValue::S(v.to_string());
    s.fixture
        .aws
        .dynamodb
        .put_item()
        .table_name(&s.fixture.table)
        .item(
            "pk",
            text(&format!("lock#storage#db-instance#{}", s.fixture.db)),
        )
        .item("state", text("LOCKED"))
        .item("function", text("storage-guard"))
        .item("request_id", text("req-holder"))
        .item("trigger_key", text("storage-guard#manual#other"))
        .item(
            "expires_at",
            AttributeValue::N(
                (Utc::now() + chrono::Duration::minutes(5))
                    .timestamp()
                    .to_string(),
            ),
        )
        .send()
        .await
        .expect("hold the lock");
    // idle-reaper's lock on the same instance does not stand in the way.
    s.fixture
        .hold_lock("req-reaper", Utc::now() + chrono::Duration::minutes(5))
        .await;
    let mut function = s.start(&[]).await;
    let report = function
        .invoke(&s.alarm("2026-11-22T15:00:00.000+0000"))
        .await
        .1
        .response();
    e2e::collect_report("response", &report);
    // The holder is acting on it and reports what it does: this run neither acts nor retries.
    assert_eq!(check(&report, "guard")["outcome"], "skipped", "{report:#}");
    assert!(
        detail(&report, "guard").contains("storage-guard run req-holder"),
        "{report:#}"
    );
    assert_eq!(report["result"]["outcome"], "not-changed");
    assert_eq!(
        s.calls("RDS.ModifyDBInstance") + s.calls("RDS.CreateDBSnapshot"),
        0
    );
    assert_eq!(s.allocated().await, 100);
}

#[tokio::test]
async fn mariadb_reports_its_largest_tables() {
    use mysql_async::prelude::Queryable;
    let fixture = Fixture::new_mysql().await;
    shape(&fixture, &fixture.db, 100, None, "gp2", true).await;
    put_history(&fixture, &fixture.db, filling).await;
    let schema = format!("sg_{}", fixture.suffix);
    let mut admin = e2e::db::mysql_admin(&fixture.stack).await;
    admin
        .query_drop(format!(
            "CREATE DATABASE {schema}; \
             CREATE TABLE {schema}.orders (id INT PRIMARY KEY, pad VARCHAR(200), KEY by_pad (pad)); \
             INSERT INTO {schema}.orders SELECT seq, REPEAT('x', 200) FROM {schema}.seq_1_to_5000; \
             ANALYZE TABLE {schema}.orders; \
             GRANT SELECT ON {schema}.* TO 'rds_responder'@'%'"
        ))
        .await
        .expect("a table with rows");
    let proxy = FaultProxy::start(&fixture.stack.moto_endpoint).await;
    let endpoint = proxy.endpoint();
    let overrides = fixture.mysql_override();
    let env = fixture.function_env(&[
        ("AWS_ENDPOINT_URL", &endpoint),
        ("DB_ENDPOINT_OVERRIDES", &overrides),
        ("AUTOMATIC_DRY_RUN", "true"),
    ]);
    let mut function = FunctionProcess::start(FUNCTION, &env).await;
    let mut alarm = fixture.event("alarm.free-storage.eventbridge.json");
    alarm["detail"]["state"]["timestamp"] = json!("2026-11-22T16:00:00.000+0000");
    let report = function.invoke(&alarm).await.1.response();
    e2e::collect_report("response", &report);
    admin
        .query_drop(format!("DROP DATABASE {schema}"))
        .await
        .expect("drop it");
    let grew = check(&report, "what-grew");
    assert_eq!(grew["outcome"], "pass", "{report:#}");
    let largest = grew["data"]["largest"].as_array().unwrap();
    let ours = largest
        .iter()
        .find(|r| r["name"] == format!("{schema}.orders").as_str())
        .unwrap_or_else(|| panic!("{grew:#}"));
    assert_eq!(ours["kind"], "table");
    assert!(ours["bytes"].as_i64().unwrap() > 0, "{ours:#}");
    assert!(ours["index_bytes"].as_i64().unwrap() > 0, "{ours:#}");
    assert!(grew["data"]["slots"].as_array().unwrap().is_empty());
    assert_eq!(check(&report, "change")["outcome"], "planned");
}

#[tokio::test]
async fn the_alarm_as_a_lambda_alarm_action_is_answered_like_the_others() {
    let s = scene(100, None, "gp2", true, filling).await;
    let mut function = s.start(&[]).await;
    let report = function
        .invoke(&s.fixture.event("alarm.free-storage.action.json"))
        .await
        .1
        .response();
    e2e::collect_report("response", &report);
    assert_eq!(report["trigger"]["delivery"], "alarm-action", "{report:#}");
    assert_eq!(report["result"]["outcome"], "changed", "{report:#}");
    assert_eq!(s.allocated().await, 200);
    // The same state change by EventBridge is the same trigger: its report, nothing again.
    let mut same = s.fixture.event("alarm.free-storage.eventbridge.json");
    same["detail"]["state"]["timestamp"] = json!("2026-11-22T03:12:30.412+0000");
    let again = function.invoke(&same).await.1.response();
    assert_eq!(again["duplicate_of"], report["id"], "{again:#}");
    assert_eq!(s.calls("RDS.ModifyDBInstance"), 1);
}
