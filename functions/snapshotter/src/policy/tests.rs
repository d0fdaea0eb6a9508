use chrono::Duration;

use rds_responder::backups::{BackupError, BackupInfo};
use rds_responder::rds::RdsError;

use super::*;
use crate::request::RetentionOverride;

#[test]
fn only_a_backup_that_may_pass_later_is_retried() {
    let failed = |code: Option<&str>| BackupError {
        operation: "CreateBackup",
        table: "orders".into(),
        source: Box::new(rds_responder::aws::SdkFailure {
            service: "DynamoDB",
            code: code.map(String::from),
            message: "injected".into(),
            request_id: None,
        }),
    };
    for code in [
        None,
        Some("ThrottlingException"),
        Some("InternalServerError"),
        Some("LimitExceededException"),
        Some("BackupInUseException"),
        Some("ContinuousBackupsUnavailableException"),
        Some("TableInUseException"),
    ] {
        assert!(backup_retryable(&failed(code)), "{code:?}");
    }
    for code in [
        "TableNotFoundException",
        "AccessDeniedException",
        "ValidationException",
    ] {
        assert!(!backup_retryable(&failed(Some(code))), "{code}");
    }
}

#[test]
fn a_database_in_a_passing_state_is_busy_and_nothing_else_is() {
    let api = |code: &str| RdsError::Api {
        operation: "CreateDBSnapshot",
        source: rds_responder::testing::sdk_failure(code),
    };
    for code in [
        "InvalidDBInstanceState",
        "InvalidDBInstanceStateFault",
        "InvalidDBClusterStateFault",
    ] {
        assert!(database_busy(&api(code)), "{code}");
    }
    for code in [
        "Throttling",
        "SnapshotQuotaExceeded",
        "DBInstanceNotFound",
        "InvalidDBSnapshotState",
    ] {
        assert!(!database_busy(&api(code)), "{code}");
    }
    assert!(!database_busy(&RdsError::Unexpected {
        operation: "CreateDBSnapshot",
        detail: "x".into()
    }));
}

#[test]
fn the_template_lets_the_function_write_exactly_the_tags_it_writes() {
    let template = include_str!("../../../../template.yaml");
    let line = template
        .lines()
        .find(|l| l.contains("\"aws:TagKeys\""))
        .expect("a TagKeys condition on the tagging grant");
    let list = line
        .split('[')
        .nth(1)
        .and_then(|l| l.split(']').next())
        .expect("a list of keys");
    let granted: std::collections::BTreeSet<String> = list
        .split(',')
        .map(|k| k.trim().trim_matches('"').to_string())
        .collect();
    let written: std::collections::BTreeSet<String> =
        creation_tags("orders-db-rr-1", "manual req-1", "upgrade", Some("chg-1"))
            .into_iter()
            .map(|(key, _)| key)
            .collect();
    assert_eq!(granted, written);
}

#[test]
fn a_create_without_an_answer_is_looked_for_and_an_answer_is_believed() {
    assert!(no_answer(&RdsError::Api {
        operation: "CreateDBSnapshot",
        source: rds_responder::testing::no_answer(),
    }));
    assert!(no_answer(&RdsError::Unexpected {
        operation: "CreateDBSnapshot",
        detail: "no snapshot in the answer".into(),
    }));
    for answered in [
        RdsError::Api {
            operation: "CreateDBSnapshot",
            source: rds_responder::testing::sdk_failure("Throttling"),
        },
        RdsError::NotFound {
            kind: "DB instance",
            id: "orders-db".into(),
        },
        RdsError::AlreadyExists {
            kind: "DB snapshot",
            id: "orders-db-rr-x".into(),
        },
    ] {
        assert!(!no_answer(&answered), "{answered}");
    }
}

#[test]
fn only_a_create_that_may_pass_later_is_retried() {
    let api = |code: &str| RdsError::Api {
        operation: "CreateDBSnapshot",
        source: rds_responder::testing::sdk_failure(code),
    };
    for code in [
        "Throttling",
        "InternalFailure",
        "InvalidDBInstanceState",
        "InvalidDBInstanceStateFault",
        "InvalidDBClusterStateFault",
    ] {
        assert!(create_retryable(&api(code)), "{code}");
    }
    for code in [
        "SnapshotQuotaExceeded",
        "AccessDenied",
        "InvalidParameterValue",
        "DBInstanceNotFound",
    ] {
        assert!(!create_retryable(&api(code)), "{code}");
    }
    let no_answer = RdsError::Api {
        operation: "CreateDBSnapshot",
        source: rds_responder::aws::SdkFailure {
            service: "RDS",
            code: None,
            message: "timed out".into(),
            request_id: None,
        },
    };
    assert!(create_retryable(&no_answer));
    assert!(create_retryable(&RdsError::Unexpected {
        operation: "CreateDBSnapshot",
        detail: "no snapshot in the answer".into(),
    }));
    for answered in [
        RdsError::NotFound {
            kind: "DB instance",
            id: "orders-db".into(),
        },
        RdsError::AlreadyExists {
            kind: "DB snapshot",
            id: "orders-db-rr-x".into(),
        },
    ] {
        assert!(!create_retryable(&answered), "{answered}");
    }
}

fn db(raw: &str) -> RdsIdentifier {
    RdsIdentifier::parse(raw, ResourceKind::DbInstance).unwrap()
}

fn at(raw: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw)
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn names_are_deterministic_and_always_valid() {
    let when = at("2026-11-22T03:04:05Z");
    let orders = db("orders-db");
    assert_eq!(
        pre_change_snapshot_id(&orders, None, "req-1").as_str(),
        format!(
            "orders-db-rr-pre-{}",
            &rds_responder::ledger::payload_digest(&serde_json::json!("req-1"))[..16]
        )
    );
    assert_eq!(
        pre_change_snapshot_id(&orders, None, "req-1"),
        pre_change_snapshot_id(&orders, None, "req-1"),
        "Lambda's retry of the request finds its name"
    );
    assert_ne!(
        pre_change_snapshot_id(&orders, None, "req-1"),
        pre_change_snapshot_id(&orders, None, "req-2"),
        "another request makes its own"
    );
    assert_eq!(
        pre_change_snapshot_id(&orders, Some("CHG-4711"), "req-1").as_str(),
        "orders-db-rr-chg-4711"
    );
    assert_eq!(
        scheduled_snapshot_id(&orders, when).as_str(),
        "orders-db-rr-20261122-030405"
    );
    for change in [
        "chg 4711 / hotfix",
        "ÄÖÜ-变更-🙂",
        "--",
        "",
        "a--b",
        "trailing-",
        &"x".repeat(1000),
        &"é".repeat(500),
    ] {
        let id = pre_change_snapshot_id(&db(&"d".repeat(63)), Some(change), "req-1");
        assert!(id.as_str().len() <= 255, "{change}: {}", id.as_str().len());
        assert!(
            RdsIdentifier::parse(id.as_str(), ResourceKind::DbSnapshot).is_ok(),
            "{change}: {id}"
        );
        assert_eq!(
            id,
            pre_change_snapshot_id(&db(&"d".repeat(63)), Some(change), "req-1"),
            "same request, same name"
        );
    }
}

#[test]
fn long_change_ids_are_cut_to_fit_and_keep_the_database_prefix() {
    let longest_db = db(&"d".repeat(63));
    for change in [
        "x".repeat(1000),
        "x".repeat(188),
        "x".repeat(189),
        "é".repeat(300),
    ] {
        let id = pre_change_snapshot_id(&longest_db, Some(&change), "req-1");
        assert!(
            id.as_str().starts_with(&format!("{}-rr-", "d".repeat(63))),
            "{id}"
        );
        assert!(id.as_str().len() <= 255, "{}", id.as_str().len());
    }
    // Exactly as long as RDS allows, digest included.
    let cut = pre_change_snapshot_id(&longest_db, Some(&"x".repeat(1000)), "req-1");
    assert_eq!(cut.as_str().len(), 255);
    // 188 characters fit as they are; 189 are cut and tagged.
    let fits = pre_change_snapshot_id(&longest_db, Some(&"x".repeat(188)), "req-1");
    assert_eq!(
        fits.as_str(),
        format!("{}-rr-{}", "d".repeat(63), "x".repeat(188))
    );
}

#[test]
fn change_ids_that_clean_alike_get_different_names() {
    let orders = db("orders-db");
    let names: Vec<String> = ["chg-1", "CHG 1", "chg_1", "chg--1"]
        .iter()
        .map(|c| pre_change_snapshot_id(&orders, Some(c), "req-1").to_string())
        .collect();
    assert_eq!(names[0], "orders-db-rr-chg-1");
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            assert_ne!(a, b);
        }
    }
    // Case alone is not a change: RDS identifiers are case-insensitive.
    assert_eq!(
        pre_change_snapshot_id(&orders, Some("CHG-1"), "req-1").as_str(),
        "orders-db-rr-chg-1"
    );
}

fn ours(id: &str, days_old: i64) -> SnapshotInfo {
    SnapshotInfo {
        id: id.into(),
        db: "orders-db".into(),
        snapshot_type: "manual".into(),
        status: "available".into(),
        created: Some(at("2026-11-22T00:00:00Z") - Duration::days(days_old)),
        tags: [
            (CREATED_BY_TAG.to_string(), CREATED_BY_VALUE.to_string()),
            (SNAPSHOT_ID_TAG.to_string(), id.to_string()),
        ]
        .into(),
        copied_from: None,
        of: rds_responder::backups::SnapshotOf::Instance,
        progress_percent: Some(100),
        allocated_gib: Some(20),
    }
}

#[test]
fn a_request_keeps_at_least_what_is_configured() {
    let base = rules(7, 35, 50);
    assert_eq!(retention_with(&RetentionOverride::default(), base), base);
    let more = RetentionOverride {
        keep_newest: Some(10),
        max_age_days: Some(90),
        max_deletes: Some(5),
    };
    assert_eq!(retention_with(&more, base), rules(10, 90, 5));
    let less = RetentionOverride {
        keep_newest: Some(1),
        max_age_days: Some(1),
        max_deletes: Some(500),
    };
    assert_eq!(
        retention_with(&less, base),
        base,
        "a request never keeps less or deletes more"
    );
    let equal = RetentionOverride {
        keep_newest: Some(7),
        max_age_days: Some(35),
        max_deletes: Some(50),
    };
    assert_eq!(retention_with(&equal, base), base);
}

#[test]
fn waits_end_on_done_failed_or_gone_and_snapshots_start_on_available_or_optimizing() {
    for status in ["available", "failed", "error", "missing"] {
        assert!(settled(status), "{status}");
    }
    for status in ["creating", "copying", "pending", ""] {
        assert!(!settled(status), "{status}");
    }
    for status in ["failed", "error"] {
        assert!(failed_copy(status), "{status}");
    }
    for status in ["available", "creating", "missing"] {
        assert!(!failed_copy(status), "{status}");
    }
    for status in ["available", "storage-optimization"] {
        assert!(snapshottable(status), "{status}");
    }
    for status in [
        "stopped",
        "backing-up",
        "modifying",
        "storage-full",
        "creating",
    ] {
        assert!(!snapshottable(status), "{status}");
    }
}

#[test]
fn a_change_id_shaped_like_the_tools_own_names_never_takes_one() {
    let orders = db("orders-db");
    let when = at("2026-12-02T02:00:00Z");
    let stamp = pre_change_snapshot_id(&orders, Some("20261202-020000"), "req-1");
    assert_ne!(
        stamp,
        scheduled_snapshot_id(&orders, when),
        "not the sweep's name"
    );
    assert!(
        stamp.as_str().starts_with("orders-db-rr-20261202-020000-"),
        "{stamp}"
    );
    let request_like = format!(
        "pre-{}",
        &rds_responder::ledger::payload_digest(&serde_json::json!("req-9"))[..16]
    );
    assert_ne!(
        pre_change_snapshot_id(&orders, Some(&request_like), "req-1"),
        pre_change_snapshot_id(&orders, None, "req-9"),
        "not another request's name"
    );
    // The same change id still names the same snapshot, and ordinary ones are unchanged.
    assert_eq!(
        stamp,
        pre_change_snapshot_id(&orders, Some("20261202-020000"), "req-2")
    );
    assert_eq!(
        pre_change_snapshot_id(&orders, Some("chg-20261202-020000"), "req-1").as_str(),
        "orders-db-rr-chg-20261202-020000"
    );
    let longest = db(&"d".repeat(63));
    let long_pre = format!("pre-{}", "x".repeat(300));
    let id = pre_change_snapshot_id(&longest, Some(&long_pre), "req-1");
    // Cut to fit exactly, keeping the database prefix and the change id's head; also when
    // cleaning left the id as it was (no digest of its own to cut at).
    let fitting_pre = format!("pre-{}", "x".repeat(180));
    let fitting = pre_change_snapshot_id(&longest, Some(&fitting_pre), "req-1");
    assert_eq!(fitting.as_str().len(), 255, "{fitting}");
    assert!(
        fitting
            .as_str()
            .starts_with(&format!("{}-rr-pre-xxxx", "d".repeat(63))),
        "{fitting}"
    );
    assert_eq!(id.as_str().len(), 255, "{id}");
    assert!(
        id.as_str()
            .starts_with(&format!("{}-rr-pre-xxxx", "d".repeat(63))),
        "{id}"
    );
}

#[test]
fn change_ids_compare_as_the_name_treats_them() {
    assert!(same_change(Some("CHG-1"), Some("chg-1")));
    assert!(same_change(Some("chg-1"), Some("chg-1")));
    assert!(same_change(None, None));
    assert!(!same_change(Some("chg-1"), Some("chg-2")));
    assert!(!same_change(Some("chg-1"), None));
    assert!(!same_change(None, Some("chg-1")));
    // Names agree too: the case-only difference is the one cleaning leaves alone.
    let orders = db("orders-db");
    assert_eq!(
        pre_change_snapshot_id(&orders, Some("CHG-1"), "a"),
        pre_change_snapshot_id(&orders, Some("chg-1"), "b")
    );
}

#[test]
fn a_found_snapshot_made_for_another_reason_is_named() {
    let mut found = ours("orders-db-rr-chg-1", 1);
    found.tags.insert(REASON_TAG.into(), "upgrade".into());
    assert_eq!(
        earlier_reason(&found, false, Some("hotfix")),
        Some("upgrade".to_string())
    );
    assert_eq!(earlier_reason(&found, false, Some("upgrade")), None);
    assert_eq!(
        earlier_reason(&found, true, Some("hotfix")),
        None,
        "made now"
    );
    assert_eq!(
        earlier_reason(&found, false, None),
        Some("upgrade".to_string())
    );
    found.tags.remove(REASON_TAG);
    assert_eq!(earlier_reason(&found, false, Some("hotfix")), None);
}

#[test]
fn a_create_counts_only_its_own_snapshot_of_that_database() {
    let orders = DbTarget::Instance(db("orders-db"));
    assert!(ours_of(&ours("orders-db-rr-chg-1", 0), &orders));
    let mut other_db = ours("orders-db-rr-chg-1", 0);
    other_db.db = "billing".into();
    assert!(!ours_of(&other_db, &orders));
    let mut cluster = ours("orders-db-rr-chg-1", 0);
    cluster.of = rds_responder::backups::SnapshotOf::Cluster;
    assert!(!ours_of(&cluster, &orders));
    let mut foreign = ours("orders-db-rr-chg-1", 0);
    foreign.tags.clear();
    assert!(!ours_of(&foreign, &orders));
    let mut upper = ours("orders-db-rr-chg-1", 0);
    upper.db = "ORDERS-DB".into();
    assert!(ours_of(&upper, &orders), "identifiers compare without case");
}

fn rules(keep_newest: usize, max_age_days: i64, max_deletes: usize) -> Retention {
    Retention {
        keep_newest,
        max_age_days,
        max_deletes,
    }
}

fn plan(snapshots: &[SnapshotInfo], rules: &Retention) -> RetentionPlan {
    plan_retention(
        &db("orders-db"),
        snapshots,
        rules,
        at("2026-11-22T00:00:00Z"),
    )
}

fn ids(snapshots: &[Doomed]) -> Vec<&str> {
    snapshots.iter().map(|s| s.id.as_str()).collect()
}

fn reason<'a>(plan: &'a RetentionPlan, id: &str) -> &'a str {
    &plan
        .kept
        .iter()
        .find(|k| k.id == id)
        .unwrap_or_else(|| panic!("{id} not kept: {plan:#?}"))
        .reason
}

#[test]
fn keeps_the_newest_n_whatever_their_age() {
    let all: Vec<SnapshotInfo> = (0..5)
        .map(|i| ours(&format!("orders-db-rr-{i}"), 100 + i))
        .collect();
    let p = plan(&all, &rules(3, 35, 10));
    assert_eq!(
        ids(&p.delete),
        ["orders-db-rr-4", "orders-db-rr-3"],
        "oldest first"
    );
    for i in 0..3 {
        assert_eq!(
            reason(&p, &format!("orders-db-rr-{i}")),
            "one of the newest 3 of ours"
        );
    }
    // A floor of 0 is read as 1: the last good copy always stays.
    let p = plan(&all, &rules(0, 35, 10));
    assert_eq!(p.delete.len(), 4);
    assert_eq!(reason(&p, "orders-db-rr-0"), "one of the newest 1 of ours");
}

#[test]
fn the_age_limit_applies_only_past_the_floor_and_exactly_at_it_keeps() {
    let all = vec![
        ours("orders-db-rr-a", 1),
        ours("orders-db-rr-b", 35),
        ours("orders-db-rr-c", 36),
    ];
    let p = plan(&all, &rules(1, 35, 10));
    assert_eq!(ids(&p.delete), ["orders-db-rr-c"]);
    assert_eq!(
        reason(&p, "orders-db-rr-b"),
        "younger than the 35 day limit"
    );
}

#[test]
fn touches_nothing_that_is_not_ours() {
    let mut automated = ours("rds:orders-db-2026-01-01-03-00", 300);
    automated.snapshot_type = "automated".into();
    let mut backup = ours("awsbackup:job-1", 300);
    backup.snapshot_type = "awsbackup".into();
    let mut shared = ours("orders-db-rr-shared", 300);
    shared.snapshot_type = "shared".into();
    let mut copied = ours("orders-db-rr-copied", 300);
    copied.copied_from = Some("arn:aws:rds:eu-west-1:123456789012:snapshot:x".into());
    let mut untagged = ours("orders-db-rr-untagged", 300);
    untagged.tags.clear();
    let mut wrong_tag = ours("orders-db-rr-wrongtag", 300);
    wrong_tag
        .tags
        .insert(CREATED_BY_TAG.into(), "someone-else".into());
    let foreign_name = ours("orders-db-manual-20260101", 300);
    let mut in_progress = ours("orders-db-rr-creating", 300);
    in_progress.status = "creating".into();
    let mut other_db = ours("orders-db-2-rr-x", 300);
    other_db.db = "orders-db-2".into();
    let all = vec![
        ours("orders-db-rr-newest", 0),
        automated,
        backup,
        shared,
        copied,
        untagged,
        wrong_tag,
        foreign_name,
        in_progress,
        other_db,
    ];
    let p = plan(&all, &rules(1, 35, 10));
    assert!(p.delete.is_empty(), "{:#?}", p.delete);
    for (id, why) in [
        ("rds:orders-db-2026-01-01-03-00", "automated snapshot"),
        ("awsbackup:job-1", "AWS Backup snapshot"),
        (
            "orders-db-rr-shared",
            "not a manual snapshot of this account (shared or public)",
        ),
        ("orders-db-rr-copied", "copied in from another snapshot"),
        (
            "orders-db-rr-untagged",
            "not tagged CreatedBy=rds-responder",
        ),
        (
            "orders-db-rr-wrongtag",
            "not tagged CreatedBy=rds-responder",
        ),
        ("orders-db-manual-20260101", "not named <db>-rr-..."),
        ("orders-db-rr-creating", "status creating, not available"),
    ] {
        assert_eq!(reason(&p, id), why, "{id}");
    }
    assert!(
        !p.kept.iter().any(|k| k.id == "orders-db-2-rr-x"),
        "another database's snapshots are not this plan's"
    );
}

#[test]
fn either_mark_of_an_automated_or_backup_snapshot_is_enough() {
    let mut typed_automated = ours("orders-db-rr-typed-auto", 300);
    typed_automated.snapshot_type = "automated".into();
    let named_automated = ours("rds:orders-db-rr-named", 300);
    let mut typed_backup = ours("orders-db-rr-typed-backup", 300);
    typed_backup.snapshot_type = "awsbackup".into();
    let named_backup = ours("awsbackup:orders-db-rr-named", 300);
    let all = vec![
        ours("orders-db-rr-newest", 0),
        typed_automated,
        named_automated,
        typed_backup,
        named_backup,
    ];
    let p = plan(&all, &rules(1, 35, 10));
    assert!(p.delete.is_empty(), "{:#?}", p.delete);
    assert_eq!(reason(&p, "orders-db-rr-typed-auto"), "automated snapshot");
    assert_eq!(reason(&p, "rds:orders-db-rr-named"), "automated snapshot");
    assert_eq!(
        reason(&p, "orders-db-rr-typed-backup"),
        "AWS Backup snapshot"
    );
    assert_eq!(
        reason(&p, "awsbackup:orders-db-rr-named"),
        "AWS Backup snapshot"
    );
}

#[test]
fn a_snapshot_without_a_creation_time_is_kept() {
    let mut unknown = ours("orders-db-rr-unknown", 0);
    unknown.created = None;
    let all = vec![
        ours("orders-db-rr-a", 100),
        ours("orders-db-rr-b", 200),
        unknown,
    ];
    let p = plan(&all, &rules(1, 35, 10));
    assert_eq!(reason(&p, "orders-db-rr-unknown"), "creation time unknown");
    assert_eq!(ids(&p.delete), ["orders-db-rr-b"]);
}

#[test]
fn a_snapshot_of_a_database_whose_name_extends_ours_is_not_ours() {
    // `orders-rr-` must not match `orders-db-rr-...` and the other way round.
    let mut s = ours("orders-db-rr-1", 300);
    s.db = "orders".into();
    let p = plan_retention(
        &db("orders"),
        &[s],
        &rules(0, 1, 10),
        at("2026-11-22T00:00:00Z"),
    );
    assert!(p.delete.is_empty());
    assert_eq!(reason(&p, "orders-db-rr-1"), "not named <db>-rr-...");
}

#[test]
fn the_cap_aborts_every_delete_and_exactly_at_the_cap_deletes() {
    let all: Vec<SnapshotInfo> = (0..4)
        .map(|i| ours(&format!("orders-db-rr-{i}"), 100 + i))
        .collect();
    let p = plan(&all, &rules(1, 35, 3));
    assert_eq!(p.delete.len(), 3);
    assert!(!deletions_capped(p.delete.len(), &rules(1, 35, 3)));
    assert!(deletions_capped(p.delete.len(), &rules(1, 35, 2)));
    assert!(!deletions_capped(0, &rules(1, 35, 0)));
    assert!(deletions_capped(1, &rules(1, 35, 0)));
}

#[test]
fn after_a_failed_scheduled_snapshot_the_newest_available_stays() {
    // The newest available snapshot of the database is ours and past the floor only when
    // other, newer ones of ours are not available: it must survive.
    let mut newer = ours("orders-db-rr-new", 0);
    newer.status = "failed".into();
    let all = vec![
        newer,
        ours("orders-db-rr-old", 100),
        ours("orders-db-rr-older", 200),
    ];
    let p = plan(&all, &rules(1, 35, 10));
    assert_eq!(
        reason(&p, "orders-db-rr-old"),
        "one of the newest 1 of ours"
    );
    assert_eq!(ids(&p.delete), ["orders-db-rr-older"]);
    let mut automated_newest = ours("rds:orders-db-auto", 50);
    automated_newest.snapshot_type = "automated".into();
    let all = vec![
        ours("orders-db-rr-a", 60),
        ours("orders-db-rr-b", 70),
        automated_newest,
    ];
    let p = plan(&all, &rules(1, 35, 10));
    assert_eq!(ids(&p.delete), ["orders-db-rr-b"]);
}

#[test]
fn the_plan_does_not_depend_on_listing_order() {
    let mut all: Vec<SnapshotInfo> = (0..6)
        .map(|i| ours(&format!("orders-db-rr-{i}"), 40 + (i % 3)))
        .collect();
    let first = plan(&all, &rules(2, 35, 10));
    all.reverse();
    let second = plan(&all, &rules(2, 35, 10));
    assert_eq!(ids(&first.delete), ids(&second.delete));
}

#[test]
fn a_copy_carrying_our_tags_is_not_ours() {
    let mut copy = ours("orders-db-rr-legal-hold", 300);
    copy.tags.insert(
        SNAPSHOT_ID_TAG.into(),
        "orders-db-rr-20260101-030000".into(),
    );
    let mut untagged_id = ours("orders-db-rr-by-hand", 300);
    untagged_id.tags.remove(SNAPSHOT_ID_TAG);
    let mut upper = ours("orders-db-rr-upper", 300);
    upper
        .tags
        .insert(SNAPSHOT_ID_TAG.into(), "ORDERS-DB-RR-UPPER".into());
    let all = vec![ours("orders-db-rr-new", 0), copy, untagged_id, upper];
    let p = plan(&all, &rules(1, 35, 10));
    let why = "its rds-responder:snapshot-id tag does not name it (a copy, or made by hand)";
    assert_eq!(reason(&p, "orders-db-rr-legal-hold"), why);
    assert_eq!(reason(&p, "orders-db-rr-by-hand"), why);
    assert_eq!(
        ids(&p.delete),
        ["orders-db-rr-upper"],
        "ids compare without case"
    );
}

fn backup(name: &str, table: &str) -> BackupInfo {
    BackupInfo {
        arn: format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}/backup/{name}"),
        name: name.into(),
        table: table.into(),
        status: "AVAILABLE".into(),
        backup_type: "USER".into(),
        created: Some(at("2025-01-01T00:00:00Z")),
        size_bytes: None,
    }
}

#[test]
fn only_backups_named_exactly_as_we_name_them_are_ours() {
    let table = TableName::parse("orders").unwrap();
    assert_eq!(
        backup_not_ours(&backup("orders-rr-20260101-030000", "orders"), &table),
        None
    );
    for (name, on, why) in [
        (
            "orders-rr-keep-forever",
            "orders",
            "not named <table>-rr-<yyyymmdd-hhmmss>",
        ),
        (
            "orders-rr-20260101-0300001",
            "orders",
            "not named <table>-rr-<yyyymmdd-hhmmss>",
        ),
        (
            "orders-rr-2026010103-0000",
            "orders",
            "not named <table>-rr-<yyyymmdd-hhmmss>",
        ),
        (
            "orders-rr-20260101_030000",
            "orders",
            "not named <table>-rr-<yyyymmdd-hhmmss>",
        ),
        (
            "orders-rr-2026o101-030000",
            "orders",
            "not named <table>-rr-<yyyymmdd-hhmmss>",
        ),
        (
            "orders-rr-20260101-030000",
            "orders-rr-archive",
            "a backup of another table",
        ),
    ] {
        assert_eq!(
            backup_not_ours(&backup(name, on), &table),
            Some(why),
            "{name} of {on}"
        );
    }
    let mut system = backup("orders-rr-20260101-030000", "orders");
    system.backup_type = "SYSTEM".into();
    assert_eq!(
        backup_not_ours(&system, &table),
        Some("not an on-demand (USER) backup")
    );
    // The longest table name still leaves a name DynamoDB accepts.
    let long = TableName::parse(&"t".repeat(255)).unwrap();
    let name = backup_name(&long, at("2026-11-22T03:00:00Z"));
    assert_eq!(name.len(), 255);
    assert_eq!(backup_not_ours(&backup(&name, long.as_str()), &long), None);
}

#[test]
fn tag_values_hold_only_what_rds_accepts() {
    assert_eq!(tag_value("migración 42: índice"), "migración 42: índice");
    assert_eq!(tag_value("变更 ΔΣ Ж かな 한국"), "变更 ΔΣ Ж かな 한국");
    assert_eq!(tag_value("माइग्रेशन"), "_________");
    assert_eq!(
        tag_value("a\tb!\"#$%&'()*,;<>?[]^`{|}~"),
        "a_b_______________________"
    );
    assert_eq!(tag_value("rds: engine upgrade"), "_rds: engine upgrade");
    assert_eq!(tag_value("AWS:x"), "_AWS:x");
    assert_eq!(tag_value(&"é".repeat(300)).chars().count(), 256);
    assert_eq!(
        tag_value(&format!("aws:{}", "x".repeat(300)))
            .chars()
            .count(),
        256
    );
    assert_eq!(tag_value("×÷"), "__", "Latin-1 signs are not letters");
}

#[test]
fn case_alone_is_not_a_change() {
    let orders = db("orders-db");
    assert_eq!(
        pre_change_snapshot_id(&orders, Some("CHG 1"), "req-1"),
        pre_change_snapshot_id(&orders, Some("chg 1"), "req-1")
    );
    assert_ne!(
        pre_change_snapshot_id(&orders, Some("chg 1"), "req-1"),
        pre_change_snapshot_id(&orders, Some("chg 2"), "req-1")
    );
}

#[test]
fn the_quota_warns_above_eighty_percent_only() {
    assert!(!quota_warns(80, 100));
    assert!(quota_warns(81, 100));
    assert!(!quota_warns(0, 0), "no quota reported");
    assert!(!quota_warns(5, 0), "no quota reported, whatever is used");
    assert!(quota_warns(1, 1));
}
