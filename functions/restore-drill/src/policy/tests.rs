use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use rds_responder::backups::{BackupInfo, PitrStatus, SnapshotInfo, SnapshotOf};
use rds_responder::config::Env;
use rds_responder::recovery::{RecoveryInfo, RestoreFrom};
use rds_responder::report::Outcome;
use rds_responder::sql::verify::{DataReport, TableRef};
use rds_responder::table_recovery::{ItemCount, TableSettings};
use rds_responder::trigger::{
    parse_trigger, DbTarget, Origin, RdsIdentifier, ResourceKind, TableName, Trigger,
};

use super::drill::*;
use super::rpo::*;
use super::verdict::*;
use super::*;
use crate::config::DrillConfig;
use crate::request::{DrillFrom, DrillSchedule, ManualTask, Subject};

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, m, s).unwrap()
}

fn id(raw: &str) -> RdsIdentifier {
    RdsIdentifier::parse(raw, ResourceKind::DbInstance).unwrap()
}

// ---- rpo ----

fn facts() -> Facts {
    Facts {
        status: "available".into(),
        backups_on: true,
        latest_restorable: Some(at(12, 0, 0)),
        newest_snapshot: Some(at(3, 0, 0)),
        snapshots_audited: true,
        disabled_event: None,
    }
}

fn judge(f: &Facts, now: DateTime<Utc>) -> Assessment {
    assess(f, now, Duration::minutes(10), Duration::hours(26))
}

#[test]
fn lag_is_ok_to_half_the_target_at_risk_to_the_target_breached_past_it() {
    let f = facts();
    let a = judge(&f, at(12, 5, 0));
    assert_eq!((a.status, a.lag_seconds), (RpoStatus::Ok, Some(300)));
    assert!(a.causes.is_empty());
    assert_eq!(a.recovery_point, Some(at(12, 0, 0)));
    assert_eq!(judge(&f, at(12, 5, 1)).status, RpoStatus::AtRisk);
    assert_eq!(judge(&f, at(12, 10, 0)).status, RpoStatus::AtRisk);
    let a = judge(&f, at(12, 10, 1));
    assert_eq!((a.status, a.lag_seconds), (RpoStatus::Breached, Some(601)));
    // A restorable time in the future (clock skew) is no lag, not a negative one.
    assert_eq!(judge(&f, at(11, 59, 0)).lag_seconds, Some(0));
}

#[test]
fn the_recovery_point_is_the_newer_of_restorable_time_and_snapshot() {
    let mut f = facts();
    f.newest_snapshot = Some(at(12, 3, 0));
    assert_eq!(judge(&f, at(12, 4, 0)).recovery_point, Some(at(12, 3, 0)));
    f.latest_restorable = None;
    let a = judge(&f, at(12, 4, 0));
    assert_eq!(a.recovery_point, Some(at(12, 3, 0)));
    assert_eq!(a.causes, vec![Cause::NoRestorableTime]);
    assert_eq!(a.status, RpoStatus::Ok);
}

#[test]
fn backups_off_is_at_risk_even_with_a_fresh_snapshot_and_breached_with_a_stale_one() {
    let mut f = facts();
    f.backups_on = false;
    f.newest_snapshot = Some(at(12, 0, 0));
    // RDS may still name a restorable time: with backups off it is not counted.
    f.latest_restorable = Some(at(12, 4, 0));
    let a = judge(&f, at(12, 4, 0));
    assert_eq!(a.status, RpoStatus::AtRisk);
    assert_eq!(a.recovery_point, Some(at(12, 0, 0)));
    assert_eq!(a.causes, vec![Cause::BackupsDisabled]);
    f.newest_snapshot = Some(at(12, 0, 0) - Duration::hours(30));
    let a = judge(&f, at(12, 0, 0));
    assert_eq!(a.status, RpoStatus::Breached);
    assert_eq!(
        a.causes,
        vec![Cause::BackupsDisabled, Cause::StaleSnapshot { hours: 30 }]
    );
}

#[test]
fn no_recovery_point_at_all_is_breached_with_its_causes() {
    let mut f = facts();
    f.backups_on = false;
    f.latest_restorable = None;
    f.newest_snapshot = None;
    let a = judge(&f, at(12, 0, 0));
    assert_eq!(a.status, RpoStatus::Breached);
    assert_eq!(a.lag_seconds, None);
    assert_eq!(a.recovery_point, None);
    assert_eq!(a.causes, vec![Cause::BackupsDisabled, Cause::NoSnapshot]);
}

#[test]
fn a_snapshot_past_its_age_is_a_risk_at_the_boundary_not_before() {
    let mut f = facts();
    f.newest_snapshot = Some(at(12, 0, 0) - Duration::hours(26));
    let a = judge(&f, at(12, 0, 0));
    assert_eq!(a.status, RpoStatus::Ok, "{a:?}");
    assert!(a.causes.is_empty());
    f.newest_snapshot = Some(at(12, 0, 0) - Duration::hours(26) - Duration::seconds(1));
    let a = judge(&f, at(12, 0, 0));
    assert_eq!(a.status, RpoStatus::AtRisk);
    assert_eq!(a.causes, vec![Cause::StaleSnapshot { hours: 26 }]);
    f.newest_snapshot = None;
    let a = judge(&f, at(12, 0, 0));
    assert_eq!(
        (a.status, a.causes.clone()),
        (RpoStatus::AtRisk, vec![Cause::NoSnapshot])
    );
}

#[test]
fn tables_are_judged_by_pitr_alone() {
    let f = Facts {
        status: "ACTIVE".into(),
        backups_on: true,
        latest_restorable: Some(at(12, 0, 0)),
        newest_snapshot: None,
        snapshots_audited: false,
        disabled_event: None,
    };
    let a = judge(&f, at(12, 1, 0));
    assert_eq!((a.status, a.causes.clone()), (RpoStatus::Ok, vec![]));
    let mut f = f;
    f.backups_on = false;
    f.latest_restorable = None;
    let a = judge(&f, at(12, 1, 0));
    assert_eq!(
        (a.status, a.causes),
        (RpoStatus::Breached, vec![Cause::BackupsDisabled])
    );
}

#[test]
fn a_stopped_instance_and_the_disabled_event_are_named_as_causes() {
    let mut f = facts();
    f.status = "stopped".into();
    f.disabled_event = Some(at(11, 0, 0));
    let a = judge(&f, at(12, 1, 0));
    // Its lag is within the target, but it takes no backups now: at risk.
    assert_eq!(a.status, RpoStatus::AtRisk);
    assert_eq!(
        a.causes,
        vec![
            Cause::BackupsDisabledEvent { at: at(11, 0, 0) },
            Cause::NotAvailable {
                status: "stopped".into()
            }
        ]
    );
    // Each alone is a risk; a table is ACTIVE, an instance available: neither is one.
    let mut stopped = facts();
    stopped.status = "stopped".into();
    assert_eq!(judge(&stopped, at(12, 1, 0)).status, RpoStatus::AtRisk);
    let mut event = facts();
    event.disabled_event = Some(at(11, 0, 0));
    assert_eq!(judge(&event, at(12, 1, 0)).status, RpoStatus::AtRisk);
    let mut table = facts();
    table.status = "ACTIVE".into();
    assert_eq!(judge(&table, at(12, 1, 0)).status, RpoStatus::Ok);
    assert_eq!(judge(&facts(), at(12, 1, 0)).status, RpoStatus::Ok);
    // Past the target, the lag decides: breached.
    assert_eq!(judge(&stopped, at(13, 0, 0)).status, RpoStatus::Breached);
    assert_eq!(RpoStatus::AtRisk.as_str(), "at-risk");
    assert_eq!(RpoStatus::Ok.as_str(), "ok");
    assert_eq!(RpoStatus::Breached.as_str(), "breached");
}

// ---- drill: names, enrolment, source ----

#[test]
fn scratch_ids_fit_63_characters_and_never_end_in_a_hyphen_before_the_mark() {
    let s = scratch_id(&id("orders-db"), at(9, 7, 0));
    assert_eq!(s.as_str(), "orders-db-rr-drill-202612010907");
    assert!(named_as_scratch(s.as_str()));
    let long = "a".repeat(39) + "-bcd";
    let s = scratch_id(&id(&long), at(9, 7, 0));
    assert_eq!(
        s.as_str(),
        format!("{}-b-rr-drill-202612010907", "a".repeat(39))
    );
    assert_eq!(s.as_str().len(), 63);
    // A cut that ends on a hyphen drops it (RDS refuses `--`).
    let s = scratch_id(&id(&("b".repeat(40) + "-c")), at(9, 7, 0));
    assert_eq!(
        s.as_str(),
        format!("{}-rr-drill-202612010907", "b".repeat(40))
    );
    let s = scratch_id(&id(&"c".repeat(41)), at(9, 7, 0));
    assert_eq!(s.as_str().len(), 63);
}

#[test]
fn only_the_mark_then_twelve_digits_names_a_scratch_instance() {
    assert!(named_as_scratch("x-rr-drill-202612010907"));
    assert!(!named_as_scratch("-rr-drill-202612010907"));
    assert!(!named_as_scratch("x-rr-drill-20261201090"));
    assert!(!named_as_scratch("x-rr-drill-2026120109071"));
    assert!(!named_as_scratch("x-rr-drill-20261201090a"));
    assert!(!named_as_scratch("orders-db"));
    assert!(!named_as_scratch("x-rr-drill-"));
}

#[test]
fn the_tag_enrols_for_the_audit_or_the_drill_and_anything_else_is_out() {
    let tags = |v: &str| BTreeMap::from([("t".to_string(), v.to_string())]);
    assert_eq!(enrolment(&tags("audit"), "t"), Enrolment::Audit);
    assert_eq!(enrolment(&tags(" Drill "), "t"), Enrolment::Drill);
    for v in ["off", "false", "on", "yes-please", ""] {
        assert!(
            matches!(enrolment(&tags(v), "t"), Enrolment::Out { .. }),
            "{v}"
        );
    }
    match enrolment(&tags("off"), "t") {
        Enrolment::Out { reason } => assert!(reason.contains("opted out"), "{reason}"),
        other => panic!("{other:?}"),
    }
    match enrolment(&tags("on"), "t") {
        Enrolment::Out { reason } => {
            assert!(reason.contains("neither audit nor drill"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    match enrolment(&BTreeMap::new(), "t") {
        Enrolment::Out { reason } => assert_eq!(reason, "not tagged t"),
        other => panic!("{other:?}"),
    }
}

fn instance(raw: &str) -> RecoveryInfo {
    RecoveryInfo {
        db: DbTarget::Instance(id(raw)),
        status: "available".into(),
        engine: "postgres".into(),
        cluster: None,
        replica_of: None,
        latest_restorable: Some(at(12, 0, 0)),
        backup_retention_days: 7,
        created: None,
        endpoint: None,
        tags: BTreeMap::new(),
        placement: None,
        members: Vec::new(),
        writer: None,
    }
}

fn snapshot(db: &str, sid: &str, status: &str, created: Option<DateTime<Utc>>) -> SnapshotInfo {
    SnapshotInfo {
        id: sid.into(),
        of: SnapshotOf::Instance,
        db: db.into(),
        snapshot_type: "automated".into(),
        status: status.into(),
        created,
        tags: BTreeMap::new(),
        copied_from: None,
        progress_percent: None,
        allocated_gib: None,
    }
}

#[test]
fn the_newest_available_snapshot_of_the_database_is_the_source() {
    let db = instance("orders-db");
    let snapshots = vec![
        snapshot("orders-db", "rds:old", "available", Some(at(1, 0, 0))),
        snapshot("orders-db", "rds:new", "available", Some(at(2, 0, 0))),
        snapshot("orders-db", "rds:creating", "creating", Some(at(3, 0, 0))),
        snapshot("other-db", "rds:other", "available", Some(at(4, 0, 0))),
        snapshot("orders-db", "rds:undated", "available", None),
    ];
    let s = choose_source(&db, &snapshots, DrillFrom::NewestSnapshot).unwrap();
    assert_eq!(s.from, RestoreFrom::Snapshot("rds:new".into()));
    assert_eq!(s.recovery_point, at(2, 0, 0));
    assert_eq!(s.label, "automated snapshot rds:new");
    let err = choose_source(&db, &snapshots[2..4], DrillFrom::NewestSnapshot).unwrap_err();
    assert!(err.contains("no available snapshot"), "{err}");
}

#[test]
fn a_point_in_time_drill_needs_backups_and_a_restorable_time() {
    let mut db = instance("orders-db");
    let s = choose_source(&db, &[], DrillFrom::LatestRestorable).unwrap();
    assert_eq!(
        (s.from, s.recovery_point),
        (RestoreFrom::LatestRestorable, at(12, 0, 0))
    );
    assert!(s.label.contains("2026-12-01T12:00:00Z"), "{}", s.label);
    db.backup_retention_days = 0;
    assert!(choose_source(&db, &[], DrillFrom::LatestRestorable).is_err());
    db.backup_retention_days = 1;
    db.latest_restorable = None;
    assert!(choose_source(&db, &[], DrillFrom::LatestRestorable).is_err());
}

// ---- drill: start, check, sweep ----

fn drill(step: Step, deadline: DateTime<Utc>, lease: Option<(&str, DateTime<Utc>)>) -> DrillFacts {
    DrillFacts {
        run: "orders-db-rr-drill-202612010900".into(),
        step: Some(step),
        deadline,
        lease: lease.map(|(h, u)| (h.to_string(), u)),
        started: None,
    }
}

fn refusal_as(
    db: &RecoveryInfo,
    enrolled: Enrolment,
    existing: Option<&DrillFacts>,
    alive: usize,
) -> Option<String> {
    let subject = Subject::of_db(&db.db);
    start_refusal(
        &StartFacts {
            subject: &subject,
            info: Some(db),
            enrolled,
            existing,
            scratch_alive: None,
            drills_alive: alive,
            max_concurrent: 2,
        },
        at(12, 0, 0),
    )
}

fn refusal(db: &RecoveryInfo, existing: Option<&DrillFacts>, alive: usize) -> Option<String> {
    refusal_as(db, Enrolment::Drill, existing, alive)
}

#[test]
fn a_drill_starts_only_on_an_enrolled_plain_instance_with_room() {
    let db = instance("orders-db");
    assert_eq!(refusal(&db, None, 1), None);
    let r = refusal(&db, None, 2).unwrap();
    assert!(r.contains("at most 2 at once"), "{r}");
    let r = refusal_as(&db, Enrolment::Audit, None, 0).unwrap();
    assert!(r.contains("audit only"), "{r}");
    let out = Enrolment::Out {
        reason: "not tagged t".into(),
    };
    let r = refusal_as(&db, out, None, 0).unwrap();
    assert!(r.contains("not tagged t"), "{r}");
    let mut member = instance("orders-1");
    member.cluster = Some("orders-aurora".into());
    assert!(refusal(&member, None, 0)
        .unwrap()
        .contains("cluster orders-aurora"));
    let mut replica = instance("orders-ro");
    replica.replica_of = Some("orders-db".into());
    assert!(refusal(&replica, None, 0).unwrap().contains("read replica"));
    let mut oracle = instance("ledger");
    oracle.engine = "oracle-ee".into();
    assert!(refusal(&oracle, None, 0).unwrap().contains("oracle-ee"));
    let scratch = instance("orders-db-rr-drill-202612010900");
    assert!(refusal(&scratch, None, 0)
        .unwrap()
        .contains("never drilled"));
}

#[test]
fn one_drill_per_database_until_it_is_done_or_past_its_deadline() {
    let db = instance("orders-db");
    let under_way = drill(Step::Checking, at(12, 0, 0), None);
    let r = refusal(&db, Some(&under_way), 0).unwrap();
    assert!(r.contains("under way (checking"), "{r}");
    let late = drill(Step::Restoring, at(11, 59, 59), None);
    assert_eq!(refusal(&db, Some(&late), 0), None);
    let done = drill(Step::Done, at(13, 0, 0), None);
    assert_eq!(refusal(&db, Some(&done), 0), None);
    // A start that died before its restore call (12:00 is the run's time): its lease ran out
    // and no copy is anywhere: it holds the database no longer.
    let now = at(12, 0, 0);
    let died = drill(
        Step::Restoring,
        at(13, 0, 0),
        Some(("dead", now - Duration::seconds(1))),
    );
    assert_eq!(refusal(&db, Some(&died), 0), None);
    // Its lease still running (at its last second), or released (the restore call was made):
    // under way.
    let starting = drill(Step::Restoring, at(13, 0, 0), Some(("other", now)));
    assert!(refusal(&db, Some(&starting), 0)
        .unwrap()
        .contains("under way (restoring"));
    let restoring = drill(Step::Restoring, at(13, 0, 0), None);
    assert!(refusal(&db, Some(&restoring), 0)
        .unwrap()
        .contains("under way"));
    // Past any step but restoring, a run-out lease is a check or an add to take over, not a
    // dead start.
    let checking = drill(
        Step::Checking,
        at(13, 0, 0),
        Some(("dead", now - Duration::seconds(1))),
    );
    assert!(refusal(&db, Some(&checking), 0)
        .unwrap()
        .contains("under way (checking"));
    // Its copy is there after all (the restore took effect): one drill per database.
    let subject = Subject::of_db(&db.db);
    let with_copy = StartFacts {
        subject: &subject,
        info: Some(&db),
        enrolled: Enrolment::Drill,
        existing: Some(&died),
        scratch_alive: Some("orders-db-rr-drill-202612011100"),
        drills_alive: 0,
        max_concurrent: 2,
    };
    let r = start_refusal(&with_copy, now).unwrap();
    assert!(r.contains("under way (restoring"), "{r}");
}

#[test]
fn a_check_is_taken_unless_another_live_run_holds_it_or_it_is_over() {
    let now = at(12, 0, 0);
    let free = drill(Step::Restoring, at(13, 0, 0), None);
    assert_eq!(check_refusal(&free, "me", now), None);
    let held = drill(Step::Checking, at(13, 0, 0), Some(("other", now)));
    assert!(check_refusal(&held, "me", now)
        .unwrap()
        .contains("run other holds it"));
    let lapsed = drill(
        Step::Checking,
        at(13, 0, 0),
        Some(("other", now - Duration::seconds(1))),
    );
    assert_eq!(check_refusal(&lapsed, "me", now), None);
    let mine = drill(Step::Checking, at(13, 0, 0), Some(("me", now)));
    assert_eq!(check_refusal(&mine, "me", now), None);
    for step in [Step::Cleaning, Step::Done] {
        let over = drill(step, at(13, 0, 0), None);
        assert!(check_refusal(&over, "me", now)
            .unwrap()
            .contains("already checked"));
    }
    let mut unknown = free.clone();
    unknown.step = None;
    assert!(check_refusal(&unknown, "me", now)
        .unwrap()
        .contains("does not know"));
}

#[test]
fn steps_read_back_as_they_are_written() {
    for step in [Step::Restoring, Step::Checking, Step::Cleaning, Step::Done] {
        assert_eq!(Step::parse(step.as_str()), Some(step));
    }
    assert_eq!(Step::Done.as_str(), "done");
    assert_eq!(Step::parse("restored"), None);
}

fn scratch(status: &str, tag: Option<&str>, expires: Option<DateTime<Utc>>) -> ScratchFacts {
    ScratchFacts {
        id: "orders-db-rr-drill-202612010900".into(),
        kind: ScratchKind::Instance,
        status: status.into(),
        drill_tag: tag.map(str::to_string),
        owner: Ownership::Ours,
        expires,
    }
}

#[test]
fn the_sweep_touches_only_its_own_deployments_copies() {
    let now = at(12, 0, 0);
    assert_eq!(ownership(Some("ledger-a"), "ledger-a"), Ownership::Ours);
    assert_eq!(
        ownership(Some("ledger-b"), "ledger-a"),
        Ownership::Other("ledger-b".into())
    );
    assert_eq!(ownership(None, "ledger-a"), Ownership::Untagged);
    let expired = scratch("available", Some(RUN), Some(now - Duration::hours(1)));
    let theirs = ScratchFacts {
        owner: Ownership::Other("ledger-b".into()),
        ..expired.clone()
    };
    // Expired, or even named by a record of ours: another deployment's copy is never touched.
    let ours = drill(Step::Done, now + Duration::hours(1), None);
    for record in [None, Some(&ours)] {
        assert!(
            matches!(sweep_action(&theirs, record, "me", now), SweepAction::Leave(w) if w.contains("ledger-b, another deployment's")),
        );
    }
    // No owner tag: left alone unless a record of ours names it.
    let untagged = ScratchFacts {
        owner: Ownership::Untagged,
        ..expired.clone()
    };
    // ...and past its expiry (or with none), escalated: someone must delete it by hand.
    assert!(
        matches!(sweep_action(&untagged, None, "me", now), SweepAction::Escalate(w) if w.contains(OWNER_TAG) && w.contains("by hand"))
    );
    let no_expiry = ScratchFacts {
        expires: None,
        ..untagged.clone()
    };
    assert!(matches!(
        sweep_action(&no_expiry, None, "me", now),
        SweepAction::Escalate(_)
    ));
    let being_deleted = ScratchFacts {
        status: "deleting".into(),
        ..untagged.clone()
    };
    assert!(matches!(
        sweep_action(&being_deleted, None, "me", now),
        SweepAction::Leave(_)
    ));
    let expiring_now = ScratchFacts {
        expires: Some(now),
        ..untagged.clone()
    };
    assert!(matches!(
        sweep_action(&expiring_now, None, "me", now),
        SweepAction::Escalate(_)
    ));
    let unexpired = ScratchFacts {
        expires: Some(now + Duration::seconds(1)),
        ..untagged.clone()
    };
    assert!(
        matches!(sweep_action(&unexpired, None, "me", now), SweepAction::Leave(w) if w.contains(OWNER_TAG))
    );
    assert_eq!(
        sweep_action(&untagged, Some(&ours), "me", now),
        SweepAction::Delete("its drill is over".into())
    );
    let mut elsewhere = ours.clone();
    elsewhere.run = "orders-db-rr-drill-202612010800".into();
    // A record of another run of that source does not make it ours.
    assert!(matches!(
        sweep_action(&untagged, Some(&elsewhere), "me", now),
        SweepAction::Escalate(_)
    ));
    assert_eq!(
        sweep_action(&expired, None, "me", now),
        SweepAction::Delete("expired, and no drill record names it".into())
    );
}

const RUN: &str = "orders-db-rr-drill-202612010900";

#[test]
fn the_sweep_never_touches_what_lacks_the_tag_or_the_name() {
    let now = at(12, 0, 0);
    let untagged = scratch("available", None, Some(now - Duration::hours(1)));
    assert!(
        matches!(sweep_action(&untagged, None, "me", now), SweepAction::Leave(w) if w.contains("lacks"))
    );
    let mut misnamed = scratch("available", Some("orders-db"), None);
    misnamed.id = "orders-db".into();
    assert!(
        matches!(sweep_action(&misnamed, None, "me", now), SweepAction::Leave(w) if w.contains("not named"))
    );
    // The tag must name the instance itself.
    let other_tag = scratch("available", Some("x-rr-drill-202612010900"), None);
    assert!(matches!(
        sweep_action(&other_tag, None, "me", now),
        SweepAction::Leave(_)
    ));
}

#[test]
fn the_sweep_deletes_an_orphan_only_once_it_expires() {
    let now = at(12, 0, 0);
    let live = scratch("available", Some(RUN), Some(now + Duration::seconds(1)));
    assert!(matches!(
        sweep_action(&live, None, "me", now),
        SweepAction::Wait(_)
    ));
    let expired = scratch("available", Some(RUN), Some(now));
    assert!(
        matches!(sweep_action(&expired, None, "me", now), SweepAction::Delete(w) if w.contains("expired"))
    );
    let unreadable = scratch("available", Some(RUN), None);
    assert!(matches!(
        sweep_action(&unreadable, None, "me", now),
        SweepAction::Delete(_)
    ));
    // A record of another run is no record of this one.
    let mut other = drill(Step::Restoring, at(13, 0, 0), None);
    other.run = "orders-db-rr-drill-202611240900".into();
    assert!(matches!(
        sweep_action(&live, Some(&other), "me", now),
        SweepAction::Wait(_)
    ));
    assert!(matches!(
        sweep_action(&expired, Some(&other), "me", now),
        SweepAction::Delete(_)
    ));
    let deleting = scratch("deleting", Some(RUN), Some(now));
    assert!(
        matches!(sweep_action(&deleting, None, "me", now), SweepAction::Wait(w) if w == "being deleted")
    );
}

#[test]
fn the_sweep_advances_restored_drills_fails_late_ones_and_cleans_finished_ones() {
    let now = at(12, 0, 0);
    let avail = scratch("available", Some(RUN), Some(now + Duration::hours(1)));
    let creating = scratch("creating", Some(RUN), Some(now + Duration::hours(1)));
    let restoring = drill(Step::Restoring, now, None);
    assert_eq!(
        sweep_action(&avail, Some(&restoring), "me", now),
        SweepAction::Check
    );
    assert!(
        matches!(sweep_action(&creating, Some(&restoring), "me", now), SweepAction::Wait(w) if w.contains("creating"))
    );
    let late = drill(Step::Restoring, now - Duration::seconds(1), None);
    assert_eq!(
        sweep_action(&creating, Some(&late), "me", now),
        SweepAction::FailLate
    );
    let late_check = drill(
        Step::Checking,
        now - Duration::seconds(1),
        Some(("other", now + Duration::hours(1))),
    );
    assert_eq!(
        sweep_action(&avail, Some(&late_check), "me", now),
        SweepAction::FailLate
    );
    for step in [Step::Cleaning, Step::Done] {
        assert!(matches!(
            sweep_action(&avail, Some(&drill(step, now, None)), "me", now),
            SweepAction::Delete(_)
        ));
    }
    let held = drill(Step::Checking, at(13, 0, 0), Some(("other", now)));
    assert!(
        matches!(sweep_action(&avail, Some(&held), "me", now), SweepAction::Wait(w) if w.contains("other"))
    );
    let lapsed = drill(
        Step::Checking,
        at(13, 0, 0),
        Some(("other", now - Duration::seconds(1))),
    );
    assert_eq!(
        sweep_action(&avail, Some(&lapsed), "me", now),
        SweepAction::Check
    );
    assert!(
        matches!(sweep_action(&creating, Some(&lapsed), "me", now), SweepAction::Wait(w) if w.contains("resume"))
    );
    let mut unknown = drill(Step::Restoring, at(13, 0, 0), None);
    unknown.step = None;
    assert!(matches!(
        sweep_action(&avail, Some(&unknown), "me", now),
        SweepAction::Wait(_)
    ));
    let expired = scratch("available", Some(RUN), Some(now));
    assert!(matches!(
        sweep_action(&expired, Some(&unknown), "me", now),
        SweepAction::Delete(_)
    ));
}

// ---- verdicts ----

fn cols(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_schema_must_hold_every_source_column() {
    let v = schema(&cols(&["a", "b"]), &cols(&["b", "a"]));
    assert_eq!(v.outcome, Outcome::Pass);
    assert!(v.detail.starts_with("2 columns"), "{}", v.detail);
    let v = schema(&cols(&["a", "b"]), &cols(&["a"]));
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(
        v.detail.contains("1 of the source's 2") && v.detail.ends_with(": b"),
        "{}",
        v.detail
    );
    let v = schema(&cols(&["a"]), &cols(&["a", "z"]));
    assert_eq!(v.outcome, Outcome::Warn);
    assert!(v.detail.ends_with(": z"), "{}", v.detail);
    // Nothing on either side compares nothing: never a pass (a validation needs a passed one).
    let v = schema(&[], &[]);
    assert_eq!(v.outcome, Outcome::Warn);
    assert!(v.detail.contains("nothing compared"), "{}", v.detail);
    let v = schema(&cols(&["a"]), &cols(&["a"]));
    assert_eq!(v.outcome, Outcome::Pass);
    assert!(v.detail.starts_with("1 columns"), "{}", v.detail);
    // Columns only the restore has, the source empty: they are named.
    let v = schema(&[], &cols(&["z"]));
    assert_eq!(v.outcome, Outcome::Warn);
    assert!(v.detail.ends_with(": z"), "{}", v.detail);
    let many: Vec<String> = (0..12).map(|i| format!("c{i:02}")).collect();
    let v = schema(&many, &[]);
    assert!(v.detail.ends_with("c09, and 2 more"), "{}", v.detail);
    let ten: Vec<String> = (0..10).map(|i| format!("c{i:02}")).collect();
    assert!(schema(&ten, &[]).detail.ends_with("c09"));
}

fn table() -> TableRef {
    TableRef {
        schema: "public".into(),
        table: "orders".into(),
    }
}

#[test]
fn row_counts_hold_within_the_tolerance_and_an_empty_source_allows_an_empty_restore() {
    let t = table();
    let v = rows(&t, &Ok(100), &Ok(95), 5.0);
    assert_eq!(
        (v.outcome, v.name.as_str()),
        (Outcome::Pass, "rows public.orders")
    );
    assert!(v.detail.contains("5.0% apart"), "{}", v.detail);
    assert_eq!(rows(&t, &Ok(100), &Ok(105), 5.0).outcome, Outcome::Pass);
    assert_eq!(rows(&t, &Ok(100), &Ok(94), 5.0).outcome, Outcome::Fail);
    assert_eq!(rows(&t, &Ok(100), &Ok(106), 5.0).outcome, Outcome::Fail);
    assert_eq!(rows(&t, &Ok(1), &Ok(0), 50.0).outcome, Outcome::Fail);
    assert_eq!(rows(&t, &Ok(0), &Ok(0), 0.0).outcome, Outcome::Pass);
    assert_eq!(rows(&t, &Ok(0), &Ok(3), 0.0).outcome, Outcome::Pass);
    let v = rows(&t, &Ok(5), &Err("relation does not exist".into()), 5.0);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(v.detail.contains("does not exist"));
    assert_eq!(
        rows(&t, &Err("x".into()), &Ok(5), 5.0).outcome,
        Outcome::Warn
    );
}

#[test]
fn sql_checks_must_return_true() {
    assert_eq!(sql_check("c", &Ok(true)).outcome, Outcome::Pass);
    assert_eq!(sql_check("c", &Ok(false)).outcome, Outcome::Fail);
    let v = sql_check("c", &Err("syntax error".into()));
    assert_eq!((v.outcome, v.name.as_str()), (Outcome::Fail, "sql c"));
    assert!(v.detail.contains("syntax error"));
}

#[test]
fn observed_rpo_counts_from_the_source_newest_at_the_start() {
    let start = at(12, 0, 0);
    let ts = |t: DateTime<Utc>| Some(t.timestamp() as f64);
    let target = Duration::minutes(15);
    let (v, lost) = observed_rpo(start, ts(at(11, 58, 0)), ts(at(11, 50, 0)), true, target);
    assert_eq!((v.outcome, lost), (Outcome::Pass, Some(480)));
    let (v, lost) = observed_rpo(start, ts(at(11, 58, 0)), ts(at(11, 43, 0)), true, target);
    assert_eq!((v.outcome, lost), (Outcome::Pass, Some(900)));
    let (v, lost) = observed_rpo(start, ts(at(11, 58, 0)), ts(at(11, 42, 59)), true, target);
    assert_eq!((v.outcome, lost), (Outcome::Fail, Some(901)));
    // Rows written after the start are not lost by the restore.
    let (_, lost) = observed_rpo(start, ts(at(12, 30, 0)), ts(at(11, 59, 0)), true, target);
    assert_eq!(lost, Some(60));
    // No source reading: the start is the reference.
    let (_, lost) = observed_rpo(start, None, ts(at(11, 59, 0)), true, target);
    assert_eq!(lost, Some(60));
    // Nothing newer in the source than in the restore: nothing lost.
    let (_, lost) = observed_rpo(start, ts(at(11, 0, 0)), ts(at(11, 0, 0)), true, target);
    assert_eq!(lost, Some(0));
    let (v, lost) = observed_rpo(start, ts(at(11, 58, 0)), ts(at(1, 0, 0)), false, target);
    assert_eq!((v.outcome, lost), (Outcome::Pass, Some(39480)));
    assert!(v.detail.contains("snapshot restore"), "{}", v.detail);
    let (v, lost) = observed_rpo(start, None, None, true, target);
    assert_eq!((v.outcome, lost), (Outcome::Pass, None));
    let (v, _) = observed_rpo(start, ts(at(11, 0, 0)), None, true, target);
    assert_eq!(v.outcome, Outcome::Fail);
}

#[test]
fn slow_reads_mean_the_volume_is_still_loading() {
    assert_eq!(reads(100.0, 350.0, 3.0).outcome, Outcome::Pass);
    assert_eq!(reads(100.0, 350.1, 3.0).outcome, Outcome::Warn);
    assert_eq!(reads(0.0, 50.0, 3.0).outcome, Outcome::Pass);
    let v = reads(100.0, 120.0, 3.0);
    assert!(!v.detail.contains("still loading"), "{}", v.detail);
    assert!(v.detail.contains("the source in 100 ms"), "{}", v.detail);
    let v = reads(10.0, 90.0, 3.0);
    assert_eq!(v.outcome, Outcome::Warn);
    assert!(v.detail.contains("still loading"), "{}", v.detail);
}

fn report(
    columns: &[&str],
    counts: Vec<(TableRef, Result<i64, String>)>,
    read_ms: f64,
) -> DataReport {
    DataReport {
        select_one_ms: 1.0,
        columns: cols(columns),
        row_counts: counts,
        read_ms,
        sql_checks: vec![("positive".into(), Ok(true))],
        newest: None,
    }
}

#[test]
fn compare_judges_every_reading_of_the_restore() {
    let source = report(&["a"], vec![(table(), Ok(10))], 10.0);
    let restored = report(&["a"], vec![(table(), Ok(10))], 10.0);
    let names: Vec<String> = compare(&source, &restored, 5.0, 3.0)
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(
        names,
        ["schema", "rows public.orders", "sql positive", "reads"]
    );
    let other = TableRef {
        schema: "public".into(),
        table: "other".into(),
    };
    let restored = report(&["a"], vec![(other, Ok(1))], 10.0);
    let verdicts = compare(&source, &restored, 5.0, 3.0);
    assert_eq!(verdicts[1].outcome, Outcome::Warn, "{:?}", verdicts[1]);
    let restored = report(&["a"], vec![], 10.0);
    assert_eq!(compare(&source, &restored, 5.0, 3.0).len(), 2);
}

fn rt(
    started: DateTime<Utc>,
    available: DateTime<Utc>,
    first_query: DateTime<Utc>,
    reads: ReadSpeed,
    target: Duration,
) -> (Verdict, Vec<Stage>) {
    let timeline = Timeline {
        started,
        cluster_available: None,
        available,
        first_query,
    };
    rto(&timeline, &reads, target)
}

fn stage_seconds(stages: &[Stage]) -> Vec<(&str, i64)> {
    stages.iter().map(|s| (s.name, s.seconds)).collect()
}

#[test]
fn rto_is_measured_to_reads_at_the_source_speed_against_the_target() {
    let start = at(12, 0, 0);
    let target = Duration::minutes(60);
    let normal = |t| ReadSpeed::Normal(t);
    let (v, stages) = rt(
        start,
        at(12, 40, 0),
        at(12, 41, 0),
        normal(at(12, 41, 0)),
        target,
    );
    assert_eq!(v.outcome, Outcome::Pass);
    assert_eq!(
        stage_seconds(&stages),
        [
            ("available", 2400),
            ("first query", 2460),
            ("reads normal", 2460)
        ]
    );
    assert!(
        v.detail
            .contains("to reads at the source's speed 2460 s (target 3600 s)"),
        "{}",
        v.detail
    );
    // Reads that came to speed later: the last stage, and the total, is when.
    let (v, stages) = rt(
        start,
        at(12, 40, 0),
        at(12, 41, 0),
        normal(at(12, 50, 0)),
        target,
    );
    assert_eq!(
        stages.last().map(|s| (s.name, s.seconds)),
        Some(("reads normal", 3000))
    );
    assert_eq!(v.outcome, Outcome::Pass);
    // The total is to reads normal: on the target passes, a second past fails.
    let on_target = rt(
        start,
        at(12, 40, 0),
        at(12, 41, 0),
        normal(at(13, 0, 0)),
        target,
    );
    assert_eq!(on_target.0.outcome, Outcome::Pass);
    let past = rt(
        start,
        at(12, 40, 0),
        at(12, 41, 0),
        normal(at(13, 0, 1)),
        target,
    );
    assert_eq!(past.0.outcome, Outcome::Fail, "{}", past.0.detail);
    // A re-read can never come before the first query.
    let (_, stages) = rt(
        start,
        at(12, 40, 0),
        at(12, 41, 0),
        normal(at(12, 30, 0)),
        target,
    );
    assert_eq!(stages.last().map(|s| s.seconds), Some(2460));
    assert_eq!(
        rt(
            start,
            at(12, 40, 0),
            at(13, 0, 0),
            normal(at(13, 0, 0)),
            target
        )
        .0
        .outcome,
        Outcome::Pass
    );
    assert_eq!(
        rt(
            start,
            at(12, 40, 0),
            at(13, 0, 1),
            normal(at(13, 0, 1)),
            target
        )
        .0
        .outcome,
        Outcome::Fail
    );
    // A clock that runs backwards never makes a negative stage.
    assert_eq!(
        rt(
            start,
            at(11, 0, 0),
            at(11, 0, 0),
            normal(at(11, 0, 0)),
            target
        )
        .1[0]
            .seconds,
        0
    );
}

#[test]
fn a_restore_still_reading_slowly_warns_and_is_never_called_usable() {
    let start = at(12, 0, 0);
    let target = Duration::minutes(60);
    let (v, stages) = rt(start, at(12, 40, 0), at(12, 41, 0), ReadSpeed::Slow, target);
    assert_eq!(v.outcome, Outcome::Warn);
    assert_eq!(
        stage_seconds(&stages),
        [("available", 2400), ("first query", 2460)]
    );
    assert!(v.detail.contains("still slower"), "{}", v.detail);
    assert!(!v.detail.contains("at the source's speed"), "{}", v.detail);
    let (v, _) = rt(start, at(12, 40, 0), at(13, 1, 0), ReadSpeed::Slow, target);
    assert_eq!(v.outcome, Outcome::Fail);
    let (v, _) = rt(start, at(12, 40, 0), at(13, 0, 0), ReadSpeed::Slow, target);
    assert_eq!(v.outcome, Outcome::Warn);
}

#[test]
fn untimed_reads_are_said_as_untimed_and_never_as_the_source_speed() {
    let start = at(12, 0, 0);
    let target = Duration::minutes(60);
    let untimed = || ReadSpeed::Untimed("no tables are counted".into());
    let (v, stages) = rt(start, at(12, 40, 0), at(12, 41, 0), untimed(), target);
    assert_eq!(v.outcome, Outcome::Pass);
    assert_eq!(stages.len(), 2);
    assert!(
        v.detail
            .contains("read speed not timed (no tables are counted)"),
        "{}",
        v.detail
    );
    assert!(!v.detail.contains("source's speed"), "{}", v.detail);
    assert_eq!(
        rt(start, at(12, 40, 0), at(13, 0, 1), untimed(), target)
            .0
            .outcome,
        Outcome::Fail
    );
}

#[test]
fn slow_reads_are_timed_again_within_the_window_and_the_time_left() {
    use std::time::Duration as Std;
    let secs = Std::from_secs;
    // Plenty of time: a pause, as long as the window lasts.
    assert_eq!(next_reread(secs(0), secs(300), secs(1)), Some(REREAD_PAUSE));
    assert_eq!(
        next_reread(REREAD_WINDOW - REREAD_PAUSE, secs(300), secs(1)),
        Some(REREAD_PAUSE)
    );
    assert_eq!(
        next_reread(
            REREAD_WINDOW - REREAD_PAUSE + Std::from_millis(1),
            secs(300),
            secs(1)
        ),
        None
    );
    // The pause, a read as long as the last and the reserve must fit in the time left.
    let needs = REREAD_PAUSE + secs(2) + REREAD_RESERVE;
    assert_eq!(next_reread(secs(0), needs, secs(2)), Some(REREAD_PAUSE));
    assert_eq!(
        next_reread(secs(0), needs - Std::from_millis(1), secs(2)),
        None
    );
    assert_eq!(next_reread(secs(0), secs(0), secs(0)), None);
}

// ---- decide ----

fn origin() -> Origin {
    Origin {
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
    }
}

fn trigger(event: serde_json::Value) -> Trigger<ManualTask, DrillSchedule> {
    parse_trigger(event, &origin()).unwrap()
}

fn config() -> DrillConfig {
    DrillConfig::from_env(&Env::from_pairs([(
        "ALLOWED_SCHEDULES",
        "restore-drill/weekly-drill",
    )]))
    .unwrap()
}

fn rds_event(event_id: &str, source: &str, message: &str) -> serde_json::Value {
    json!({
        "version": "0", "id": "e", "detail-type": "RDS DB Instance Event", "source": "aws.rds",
        "account": "123456789012", "time": "2026-12-01T12:00:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:rds:us-east-1:123456789012:db:{source}")],
        "detail": {"EventCategories": ["restoration"], "SourceType": "DB_INSTANCE",
            "SourceArn": format!("arn:aws:rds:us-east-1:123456789012:db:{source}"),
            "Date": "2026-12-01T12:00:00.000Z", "Message": message, "SourceIdentifier": source,
            "EventID": event_id}
    })
}

#[test]
fn restored_events_of_scratch_instances_start_their_check() {
    for event_id in ["RDS-EVENT-0043", "RDS-EVENT-0019"] {
        let d = decide(
            &trigger(rds_event(event_id, RUN, "Restored from snapshot x")),
            &config(),
        );
        assert!(
            matches!(&d, Decision::Restored { scratch, .. } if scratch.as_str() == RUN),
            "{d:?}"
        );
    }
    let d = decide(
        &trigger(rds_event(
            "RDS-EVENT-0043",
            "orders-db",
            "Restored from snapshot x",
        )),
        &config(),
    );
    assert!(
        matches!(&d, Decision::Skip { reason, .. } if reason.contains("not a drill of ours")),
        "{d:?}"
    );
    let d = decide(
        &trigger(rds_event("RDS-EVENT-0049", RUN, "failover")),
        &config(),
    );
    assert!(
        matches!(&d, Decision::Skip { reason, .. } if reason.contains("ignored")),
        "{d:?}"
    );
}

#[test]
fn older_events_are_read_by_their_message() {
    let mut e = rds_event(
        "RDS-EVENT-0043",
        RUN,
        "Restored from DB instance orders-db to x",
    );
    e["detail"].as_object_mut().unwrap().remove("EventID");
    assert!(matches!(
        decide(&trigger(e), &config()),
        Decision::Restored { .. }
    ));
    let mut e = rds_event(
        "RDS-EVENT-0028",
        "orders-db",
        "Automatic backups for this DB instance have been disabled",
    );
    e["detail"].as_object_mut().unwrap().remove("EventID");
    assert!(matches!(
        decide(&trigger(e), &config()),
        Decision::Audit {
            only: Some(_),
            disabled: Some(_),
            ..
        }
    ));
    let mut e = rds_event("RDS-EVENT-0028", "orders-db", "Automatic backups enabled");
    e["detail"].as_object_mut().unwrap().remove("EventID");
    assert!(matches!(
        decide(&trigger(e), &config()),
        Decision::Skip { .. }
    ));
    let mut e = rds_event("RDS-EVENT-0028", "orders-db", "Something else");
    e["detail"].as_object_mut().unwrap().remove("EventID");
    assert!(matches!(
        decide(&trigger(e), &config()),
        Decision::Skip { .. }
    ));
}

#[test]
fn backups_disabled_audits_that_instance_with_the_event_time() {
    let d = decide(
        &trigger(rds_event(
            "RDS-EVENT-0028",
            "orders-db",
            "Automatic backups for this DB instance have been disabled",
        )),
        &config(),
    );
    match d {
        Decision::Audit {
            only,
            disabled,
            because,
        } => {
            assert_eq!(only.unwrap().tag_value(), "db-instance:orders-db");
            assert_eq!(disabled, Some(at(12, 0, 0)));
            assert!(because.contains("RDS-EVENT-0028"), "{because}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn cluster_events_are_not_drills() {
    let e = json!({
        "version": "0", "id": "e", "detail-type": "RDS DB Cluster Event", "source": "aws.rds",
        "account": "123456789012", "time": "2026-12-01T12:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {"SourceType": "CLUSTER", "Date": "2026-12-01T12:00:00.000Z",
            "Message": "Restored from snapshot", "SourceIdentifier": "orders-aurora", "EventID": "RDS-EVENT-0043"}
    });
    let d = decide(&trigger(e), &config());
    assert!(
        matches!(&d, Decision::Skip { reason, .. } if reason.contains("0043/0019/0005/0028 are about DB instances")),
        "{d:?}"
    );
}

fn cluster_event(event_id: &str, source: &str) -> serde_json::Value {
    json!({
        "version": "0", "id": "e", "detail-type": "RDS DB Cluster Event", "source": "aws.rds",
        "account": "123456789012", "time": "2026-12-01T12:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {"SourceType": "CLUSTER", "Date": "2026-12-01T12:00:00.000Z",
            "Message": "DB cluster created", "SourceIdentifier": source, "EventID": event_id}
    })
}

#[test]
fn a_scratch_cluster_created_adds_its_instance_and_its_instance_created_checks_it() {
    let d = decide(&trigger(cluster_event("RDS-EVENT-0170", RUN)), &config());
    assert!(
        matches!(&d, Decision::ClusterRestored { scratch, at: t, .. } if scratch.as_str() == RUN && *t == at(12, 0, 0)),
        "{d:?}"
    );
    let d = decide(
        &trigger(cluster_event("RDS-EVENT-0170", "orders-aurora")),
        &config(),
    );
    assert!(
        matches!(&d, Decision::Skip { reason, .. } if reason.contains("not a drill of ours")),
        "{d:?}"
    );
    // 0170 about an instance, 0005 about a cluster: neither means anything here.
    let d = decide(
        &trigger(rds_event("RDS-EVENT-0170", RUN, "created")),
        &config(),
    );
    assert!(matches!(&d, Decision::Skip { .. }), "{d:?}");
    let d = decide(&trigger(cluster_event("RDS-EVENT-0005", RUN)), &config());
    assert!(matches!(&d, Decision::Skip { .. }), "{d:?}");
    // 0028 is about an instance's backups: about a cluster it audits nothing.
    let d = decide(
        &trigger(cluster_event("RDS-EVENT-0028", "orders-aurora")),
        &config(),
    );
    assert!(
        matches!(&d, Decision::Skip { target: None, reason } if reason.contains("0028 are about DB instances")),
        "{d:?}"
    );
    let d = decide(
        &trigger(rds_event("RDS-EVENT-0005", RUN, "DB instance created")),
        &config(),
    );
    assert!(
        matches!(&d, Decision::Restored { scratch, .. } if scratch.as_str() == RUN),
        "{d:?}"
    );
    let d = decide(
        &trigger(rds_event(
            "RDS-EVENT-0005",
            "orders-db",
            "DB instance created",
        )),
        &config(),
    );
    assert!(matches!(&d, Decision::Skip { .. }), "{d:?}");
}

#[test]
fn scratch_copies_keep_their_kind_and_fit_their_kind_s_limits() {
    let now = at(9, 0, 0);
    let cluster =
        Subject::Cluster(RdsIdentifier::parse("orders-aurora", ResourceKind::DbCluster).unwrap());
    match scratch_of(&cluster, now) {
        Subject::Cluster(id) => assert_eq!(id.as_str(), "orders-aurora-rr-drill-202612010900"),
        other => panic!("{other:?}"),
    }
    let long = "t".repeat(255);
    let table = Subject::Table(TableName::parse(&long).unwrap());
    match scratch_of(&table, now) {
        Subject::Table(t) => {
            assert_eq!(t.as_str().len(), 255);
            assert!(named_as_scratch(t.as_str()), "{t}");
        }
        other => panic!("{other:?}"),
    }
    let short = Subject::Table(TableName::parse("ord").unwrap());
    assert_eq!(scratch_of(&short, now).name(), "ord-rr-drill-202612010900");
}

#[test]
fn a_cluster_drill_restores_only_cluster_snapshots_of_that_cluster() {
    let mut cluster = instance("orders");
    cluster.db =
        DbTarget::Cluster(RdsIdentifier::parse("orders", ResourceKind::DbCluster).unwrap());
    let mut own = snapshot("orders", "rds:cluster", "available", Some(at(1, 0, 0)));
    own.of = SnapshotOf::Cluster;
    // An instance of the same name has a newer snapshot: not this cluster's.
    let other = snapshot("orders", "rds:instance", "available", Some(at(2, 0, 0)));
    let s = choose_source(
        &cluster,
        &[own.clone(), other.clone()],
        DrillFrom::NewestSnapshot,
    )
    .unwrap();
    assert_eq!(s.from, RestoreFrom::Snapshot("rds:cluster".into()));
    let db = instance("orders");
    let s = choose_source(&db, &[own, other], DrillFrom::NewestSnapshot).unwrap();
    assert_eq!(s.from, RestoreFrom::Snapshot("rds:instance".into()));
}

fn backup(table: &str, name: &str, status: &str, created: Option<DateTime<Utc>>) -> BackupInfo {
    BackupInfo {
        arn: format!("arn:aws:dynamodb:us-east-1:1:table/{table}/backup/{name}"),
        name: name.into(),
        table: table.into(),
        status: status.into(),
        backup_type: "USER".into(),
        created,
        size_bytes: None,
    }
}

#[test]
fn a_table_drill_restores_its_newest_available_backup_or_its_latest_restorable_time() {
    let orders = TableName::parse("orders").unwrap();
    let backups = [
        backup("orders", "old", "AVAILABLE", Some(at(1, 0, 0))),
        backup("orders", "new", "AVAILABLE", Some(at(2, 0, 0))),
        backup("orders", "making", "CREATING", Some(at(3, 0, 0))),
        backup("carts", "other", "AVAILABLE", Some(at(4, 0, 0))),
        backup("orders", "undated", "AVAILABLE", None),
    ];
    let s = choose_table_source(&orders, &backups, None, DrillFrom::NewestSnapshot).unwrap();
    assert_eq!(
        (s.from, s.recovery_point, s.label.as_str()),
        (
            RestoreFrom::Snapshot(backups[1].arn.clone()),
            at(2, 0, 0),
            "backup new"
        )
    );
    let err =
        choose_table_source(&orders, &backups[2..], None, DrillFrom::NewestSnapshot).unwrap_err();
    assert!(err.contains("no available on-demand backup"), "{err}");
    let on = PitrStatus {
        enabled: true,
        latest_restorable: Some(at(11, 59, 0)),
    };
    let s = choose_table_source(&orders, &[], Some(&on), DrillFrom::LatestRestorable).unwrap();
    assert_eq!(
        (s.from, s.recovery_point),
        (RestoreFrom::LatestRestorable, at(11, 59, 0))
    );
    for pitr in [
        None,
        Some(PitrStatus {
            enabled: false,
            latest_restorable: Some(at(11, 59, 0)),
        }),
        Some(PitrStatus {
            enabled: true,
            latest_restorable: None,
        }),
    ] {
        let err = choose_table_source(&orders, &[], pitr.as_ref(), DrillFrom::LatestRestorable)
            .unwrap_err();
        assert!(err.contains("point-in-time recovery off"), "{err}");
    }
}

#[test]
fn a_live_scratch_copy_of_the_source_refuses_a_second_drill_whoever_made_it() {
    let db = instance("orders-db");
    let subject = Subject::of_db(&db.db);
    let facts = |live| StartFacts {
        subject: &subject,
        info: Some(&db),
        enrolled: Enrolment::Drill,
        existing: None,
        scratch_alive: live,
        drills_alive: 0,
        max_concurrent: 2,
    };
    assert_eq!(start_refusal(&facts(None), at(12, 0, 0)), None);
    let r = start_refusal(
        &facts(Some("orders-db-rr-drill-202611010000")),
        at(12, 0, 0),
    )
    .unwrap();
    assert!(
        r.contains("orders-db-rr-drill-202611010000") && r.contains("another run or stack"),
        "{r}"
    );
    // A table has no RDS listing: its enrolment and the cap decide.
    let t = Subject::Table(TableName::parse("orders").unwrap());
    let table = StartFacts {
        subject: &t,
        info: None,
        enrolled: Enrolment::Drill,
        existing: None,
        scratch_alive: None,
        drills_alive: 1,
        max_concurrent: 2,
    };
    assert_eq!(start_refusal(&table, at(12, 0, 0)), None);
    let full = StartFacts {
        drills_alive: 2,
        ..table.clone()
    };
    assert!(start_refusal(&full, at(12, 0, 0))
        .unwrap()
        .contains("at most 2"));
    let scratch = Subject::Table(TableName::parse("orders-rr-drill-202612010900").unwrap());
    let own = StartFacts {
        subject: &scratch,
        ..table
    };
    assert!(start_refusal(&own, at(12, 0, 0))
        .unwrap()
        .contains("never drilled"));
}

#[test]
fn an_aurora_drill_s_instance_is_added_once_while_it_waits_for_it() {
    let now = at(12, 0, 0);
    let later = now + Duration::hours(2);
    assert_eq!(
        add_instance_refusal(&drill(Step::Restoring, later, None), "me", now),
        None
    );
    assert_eq!(
        add_instance_refusal(
            &drill(Step::AddingInstance, later, Some(("me", later))),
            "me",
            now
        ),
        None
    );
    // Another run's live lease holds it; an expired one does not.
    let r = add_instance_refusal(
        &drill(Step::AddingInstance, later, Some(("other", now))),
        "me",
        now,
    )
    .unwrap();
    assert!(r.contains("run other holds it"), "{r}");
    assert_eq!(
        add_instance_refusal(
            &drill(
                Step::AddingInstance,
                later,
                Some(("other", now - Duration::seconds(1)))
            ),
            "me",
            now
        ),
        None
    );
    let r = add_instance_refusal(&drill(Step::AddingInstance, later, None), "me", now).unwrap();
    assert!(r.contains("added its instance already"), "{r}");
    for step in [Step::Checking, Step::Cleaning, Step::Done] {
        let r = add_instance_refusal(&drill(step, later, None), "me", now).unwrap();
        assert!(r.contains("past adding its instance"), "{r}");
    }
    let mut unknown = drill(Step::Restoring, later, None);
    unknown.step = None;
    assert!(add_instance_refusal(&unknown, "me", now)
        .unwrap()
        .contains("does not know"));
    assert_eq!(Step::parse("adding-instance"), Some(Step::AddingInstance));
}

fn scratch_kind(kind: ScratchKind, status: &str) -> ScratchFacts {
    ScratchFacts {
        kind,
        ..scratch(status, Some(RUN), Some(at(23, 0, 0)))
    }
}

#[test]
fn the_sweep_advances_each_kind_of_scratch_by_its_own_step() {
    let now = at(12, 0, 0);
    let later = now + Duration::hours(2);
    let d = |step| drill(step, later, None);
    use ScratchKind::*;
    let act =
        |kind, status, step| sweep_action(&scratch_kind(kind, status), Some(&d(step)), "me", now);
    assert_eq!(
        act(Cluster, "available", Step::Restoring),
        SweepAction::AddInstance
    );
    assert!(matches!(
        act(Cluster, "creating", Step::Restoring),
        SweepAction::Wait(_)
    ));
    assert!(matches!(
        act(Member, "available", Step::Restoring),
        SweepAction::Wait(_)
    ));
    assert_eq!(
        act(Member, "available", Step::AddingInstance),
        SweepAction::Check
    );
    assert!(
        matches!(act(Member, "creating", Step::AddingInstance), SweepAction::Wait(w) if w.contains("creating"))
    );
    assert!(matches!(
        act(Cluster, "available", Step::AddingInstance),
        SweepAction::Wait(_)
    ));
    // An add that died midway (its lease expired) is taken again, once the cluster is available.
    let dead = drill(
        Step::AddingInstance,
        later,
        Some(("gone", now - Duration::seconds(1))),
    );
    assert_eq!(
        sweep_action(&scratch_kind(Cluster, "available"), Some(&dead), "me", now),
        SweepAction::AddInstance
    );
    assert!(matches!(
        sweep_action(&scratch_kind(Cluster, "backing-up"), Some(&dead), "me", now),
        SweepAction::Wait(_)
    ));
    assert_eq!(act(Member, "available", Step::Checking), SweepAction::Check);
    assert!(
        matches!(act(Cluster, "available", Step::Checking), SweepAction::Wait(w) if w.contains("being checked"))
    );
    assert_eq!(act(Table, "available", Step::Restoring), SweepAction::Check);
    assert!(matches!(
        act(Table, "creating", Step::Restoring),
        SweepAction::Wait(_)
    ));
    for kind in [Instance, Member, Cluster, Table] {
        assert!(matches!(
            act(kind, "available", Step::Cleaning),
            SweepAction::Delete(_)
        ));
        let late = sweep_action(
            &scratch_kind(kind, "available"),
            Some(&drill(
                Step::AddingInstance,
                now - Duration::seconds(1),
                None,
            )),
            "me",
            now,
        );
        assert_eq!(late, SweepAction::FailLate, "{kind:?}");
    }
    // Another live run adding the instance holds the cluster.
    let held = drill(Step::Restoring, later, Some(("other", later)));
    assert!(matches!(
        sweep_action(&scratch_kind(Cluster, "available"), Some(&held), "me", now),
        SweepAction::Wait(w) if w.contains("other")
    ));
    let held = drill(Step::AddingInstance, later, Some(("other", later)));
    assert!(matches!(
        sweep_action(&scratch_kind(Member, "available"), Some(&held), "me", now),
        SweepAction::Wait(w) if w.contains("other")
    ));
}

#[test]
fn item_counts_compare_like_rows_and_a_cut_short_scan_only_warns() {
    let n = |items, complete| {
        Ok(ItemCount {
            items,
            complete,
            cut_short: false,
        })
    };
    assert_eq!(
        items(&n(100, true), &n(95, true), 5.0).outcome,
        Outcome::Pass
    );
    assert_eq!(
        items(&n(100, true), &n(94, true), 5.0).outcome,
        Outcome::Fail
    );
    assert_eq!(items(&n(0, true), &n(0, true), 5.0).outcome, Outcome::Pass);
    let v = items(&n(100, true), &Err("throttled".into()), 5.0);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(
        v.detail.contains("throttled") && v.detail.contains("restore"),
        "{}",
        v.detail
    );
    // A whole restore short of the source's lower bound lost items; at the bound it only warns.
    let v = items(&n(1000, false), &n(10, true), 5.0);
    assert_eq!(v.outcome, Outcome::Fail, "{}", v.detail);
    assert!(v.detail.contains("at least 1000"), "{}", v.detail);
    assert_eq!(
        items(&n(1000, false), &n(949, true), 5.0).outcome,
        Outcome::Fail
    );
    let v = items(&n(1000, false), &n(950, true), 5.0);
    assert_eq!(v.outcome, Outcome::Warn, "{}", v.detail);
    assert!(
        v.detail.contains("1000+ in the source") && v.detail.contains("counted 950 items"),
        "{}",
        v.detail
    );
    assert_eq!(
        items(&n(1000, false), &n(1000, false), 5.0).outcome,
        Outcome::Warn
    );
    let v = items(&n(10, true), &n(1000, false), 5.0);
    assert!(
        v.detail.contains("1000+ items in the restore"),
        "{}",
        v.detail
    );
    assert_eq!(v.name, "items");
    let v = items(&n(100, true), &n(100, true), 5.0);
    assert!(
        v.detail.contains("100 items restored, 100 in the source"),
        "{}",
        v.detail
    );
}

#[test]
fn a_table_restore_names_every_setting_it_dropped() {
    let restored = TableSettings::default();
    let same = dropped_settings(&restored, &restored);
    assert_eq!(same.outcome, Outcome::Pass);
    let source = TableSettings {
        billing_mode: Some("PROVISIONED".into()),
        ttl_attribute: Some("expires_at".into()),
        stream_view: Some("NEW_IMAGE".into()),
        pitr: true,
        tags: BTreeMap::from([("team".to_string(), "orders".to_string())]),
        deletion_protection: true,
        ..TableSettings::default()
    };
    let v = dropped_settings(&source, &restored);
    assert_eq!(v.outcome, Outcome::Warn);
    for word in [
        "TTL on expires_at",
        "stream (NEW_IMAGE)",
        "point-in-time recovery",
        "tags team",
        "auto scaling",
        "deletion protection",
    ] {
        assert!(v.detail.contains(word), "{word}: {}", v.detail);
    }
    // What the restore kept is not named.
    let kept = TableSettings {
        billing_mode: Some("PAY_PER_REQUEST".into()),
        ..source.clone()
    };
    assert_eq!(dropped_settings(&kept, &source).outcome, Outcome::Pass);
    let on_demand = TableSettings {
        billing_mode: Some("PAY_PER_REQUEST".into()),
        ..TableSettings::default()
    };
    assert_eq!(
        dropped_settings(&on_demand, &restored).outcome,
        Outcome::Pass
    );
}

#[test]
fn an_aurora_rto_counts_the_cluster_then_its_instance() {
    let timeline = Timeline {
        started: at(12, 0, 0),
        cluster_available: Some(at(12, 20, 0)),
        available: at(12, 30, 0),
        first_query: at(12, 31, 0),
    };
    let (v, stages) = rto(
        &timeline,
        &ReadSpeed::Normal(at(12, 31, 0)),
        Duration::minutes(60),
    );
    let secs: Vec<(&str, i64)> = stages.iter().map(|s| (s.name, s.seconds)).collect();
    assert_eq!(
        secs,
        [
            ("cluster available", 1200),
            ("instance available", 1800),
            ("first query", 1860),
            ("reads normal", 1860)
        ]
    );
    assert!(
        v.detail
            .contains("cluster available 1200 s, to its instance available 1800 s"),
        "{}",
        v.detail
    );
}

#[test]
fn manual_tasks_keep_their_dry_run_and_database() {
    let d = decide(
        &trigger(json!({"task": "drill", "db_instance": "orders-db", "dry_run": false})),
        &config(),
    );
    assert!(
        matches!(&d, Decision::Start { only, dry_run: false, from: DrillFrom::NewestSnapshot, .. } if only.len() == 1),
        "{d:?}"
    );
    let d = decide(&trigger(json!({"task": "sweep"})), &config());
    assert!(matches!(d, Decision::Sweep { dry_run: true, .. }));
    let d = decide(
        &trigger(json!({"task": "validate", "restore_job": "job-1"})),
        &config(),
    );
    assert!(
        matches!(&d, Decision::Validate { job_id, dry_run: true, because } if job_id == "job-1" && because == "manual request"),
        "{d:?}"
    );
    let d = decide(
        &trigger(json!({"task": "validate", "restore_job": "job-1", "dry_run": false})),
        &config(),
    );
    assert!(
        matches!(d, Decision::Validate { dry_run: false, .. }),
        "{d:?}"
    );
    let d = decide(
        &trigger(json!({"task": "sweep", "dry_run": false})),
        &config(),
    );
    assert!(matches!(d, Decision::Sweep { dry_run: false, .. }));
    let d = decide(
        &trigger(json!({"task": "audit", "db_instance": "orders-db"})),
        &config(),
    );
    assert!(matches!(
        d,
        Decision::Audit {
            only: Some(_),
            disabled: None,
            ..
        }
    ));
}

fn scheduled(name: &str, input: serde_json::Value) -> serde_json::Value {
    let mut input = input;
    input["scheduler"] = json!({
        "schedule_arn": format!("arn:aws:scheduler:us-east-1:123456789012:schedule/restore-drill/{name}"),
        "scheduled_time": "2026-12-01T12:00:00Z"
    });
    input
}

#[test]
fn only_allowed_schedules_act_the_rest_plan() {
    let d = decide(
        &trigger(scheduled("weekly-drill", json!({"task": "drill"}))),
        &config(),
    );
    assert!(
        matches!(&d, Decision::Start { dry_run: false, only, .. } if only.is_empty()),
        "{d:?}"
    );
    let d = decide(
        &trigger(scheduled("other", json!({"task": "drill"}))),
        &config(),
    );
    assert!(matches!(d, Decision::Start { dry_run: true, .. }));
    let d = decide(
        &trigger(scheduled("other", json!({"task": "sweep"}))),
        &config(),
    );
    assert!(matches!(d, Decision::Sweep { dry_run: true, .. }));
    let d = decide(
        &trigger(scheduled("weekly-drill", json!({"task": "sweep"}))),
        &config(),
    );
    assert!(matches!(d, Decision::Sweep { dry_run: false, .. }));
    let d = decide(
        &trigger(scheduled("other", json!({"task": "audit"}))),
        &config(),
    );
    assert!(matches!(d, Decision::Audit { only: None, .. }));
    let dry = DrillConfig::from_env(&Env::from_pairs([
        ("ALLOWED_SCHEDULES", "restore-drill/weekly-drill"),
        ("AUTOMATIC_DRY_RUN", "true"),
    ]))
    .unwrap();
    let d = decide(
        &trigger(scheduled("weekly-drill", json!({"task": "drill"}))),
        &dry,
    );
    assert!(matches!(d, Decision::Start { dry_run: true, .. }));
    let d = decide(
        &trigger(scheduled("weekly-drill", json!({"task": "sweep"}))),
        &dry,
    );
    assert!(matches!(d, Decision::Sweep { dry_run: true, .. }));
}

#[test]
fn alarms_are_not_for_restore_drill() {
    let alarm = json!({
        "version": "0", "id": "a", "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
        "account": "123456789012", "time": "2026-12-01T12:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:x"],
        "detail": {"alarmName": "x", "state": {"value": "ALARM", "reason": "r", "timestamp": "2026-12-01T12:00:00.000+0000"},
            "previousState": {"value": "OK", "reason": "r", "timestamp": "2026-12-01T11:00:00.000+0000"},
            "configuration": {"metrics": []}}
    });
    let d = decide(&trigger(alarm), &config());
    assert!(
        matches!(&d, Decision::Skip { reason, .. } if reason.contains("does not act on alarms")),
        "{d:?}"
    );
}

// ---- AWS Backup restore testing ----

const PLAN: &str = "arn:aws:backup:us-east-1:123456789012:restore-testing-plan:weekly_rds-1a2b";

fn validating_config(plans: &str) -> DrillConfig {
    DrillConfig::from_env(&Env::from_pairs([("RESTORE_TESTING_PLANS", plans)])).unwrap()
}

fn restore_job_event(status: &str, plan: Option<&str>) -> serde_json::Value {
    let mut detail = json!({
        "restoreJobId": "8a3f2c1e-5b6d-4e7f-9a0b-1c2d3e4f5a6b", "status": status,
        "resourceType": "RDS", "percentDone": 100,
        "createdResourceArn": "arn:aws:rds:us-east-1:123456789012:db:awsbackup-restore-test-1",
    });
    if let Some(plan) = plan {
        detail["restoreTestingPlanArn"] = json!(plan);
    }
    json!({
        "version": "0", "id": "b", "detail-type": "Restore Job State Change",
        "source": "aws.backup", "account": "123456789012", "time": "2026-12-01T12:00:00Z",
        "region": "us-east-1", "resources": [], "detail": detail,
    })
}

#[test]
fn a_completed_restore_of_a_listed_plan_is_validated() {
    let listed = validating_config(PLAN);
    let job_id = "8a3f2c1e-5b6d-4e7f-9a0b-1c2d3e4f5a6b";
    assert_eq!(
        decide(
            &trigger(restore_job_event("COMPLETED", Some(PLAN))),
            &listed
        ),
        Decision::Validate {
            job_id: job_id.into(),
            dry_run: false,
            because: format!("AWS Backup restore job {job_id} COMPLETED"),
        }
    );
    // The event may leave the plan out: the job is read before anything is done.
    assert!(matches!(
        decide(&trigger(restore_job_event("completed", None)), &listed),
        Decision::Validate { .. }
    ));
    let skipped = |d: Decision, why: &str| match d {
        Decision::Skip { reason, .. } => assert!(reason.contains(why), "{reason}"),
        other => panic!("{other:?}"),
    };
    skipped(
        decide(&trigger(restore_job_event("FAILED", Some(PLAN))), &listed),
        "is FAILED: only a COMPLETED restore",
    );
    let other = "arn:aws:backup:us-east-1:123456789012:restore-testing-plan:other";
    skipped(
        decide(
            &trigger(restore_job_event("COMPLETED", Some(other))),
            &listed,
        ),
        "not one of RESTORE_TESTING_PLANS",
    );
    skipped(
        decide(
            &trigger(restore_job_event("COMPLETED", Some(PLAN))),
            &config(),
        ),
        "RESTORE_TESTING_PLANS is empty",
    );
    let dry = DrillConfig::from_env(&Env::from_pairs([
        ("RESTORE_TESTING_PLANS", PLAN),
        ("AUTOMATIC_DRY_RUN", "true"),
    ]))
    .unwrap();
    assert!(matches!(
        decide(&trigger(restore_job_event("COMPLETED", Some(PLAN))), &dry),
        Decision::Validate { dry_run: true, .. }
    ));
}

#[test]
fn restore_testing_plans_are_arns() {
    let two = format!("{PLAN}, arn:aws-cn:backup:cn-north-1:123456789012:restore-testing-plan:x");
    assert_eq!(validating_config(&two).restore_testing_plans.len(), 2);
    for bad in [
        "weekly_rds",
        "arn:aws:backup:us-east-1:123456789012:backup-plan:x",
        "arn:aws:backup:us-east-1:12345678901:restore-testing-plan:x",
        "arn:aws:backup:us-east-1:12345678901a:restore-testing-plan:x",
        "arn:aws:backup::123456789012:restore-testing-plan:x",
        "arn:aws:backup:us-east-1:123456789012:restore-testing-plan:",
        "arn:aws:rds:us-east-1:123456789012:restore-testing-plan:x",
        "arn:aws:backup:us-east-1:123456789012:restore-testing-plan:a b",
    ] {
        let err =
            DrillConfig::from_env(&Env::from_pairs([("RESTORE_TESTING_PLANS", bad)])).unwrap_err();
        assert_eq!(err.var, "RESTORE_TESTING_PLANS", "{bad}");
        assert!(err.rule.contains("not a restore testing plan ARN"), "{bad}");
    }
    let long = format!("{PLAN}:{}", "x".repeat(250));
    assert!(
        DrillConfig::from_env(&Env::from_pairs([("RESTORE_TESTING_PLANS", long.as_str())]))
            .is_err()
    );
    let edge = format!("{PLAN}{}", "x".repeat(256 - "weekly_rds-1a2b".len()));
    assert!(
        DrillConfig::from_env(&Env::from_pairs([("RESTORE_TESTING_PLANS", edge.as_str())])).is_ok()
    );
    let twenty = vec![PLAN; 20].join(",");
    assert!(DrillConfig::from_env(&Env::from_pairs([(
        "RESTORE_TESTING_PLANS",
        twenty.as_str()
    )]))
    .is_ok());
    let many = vec![PLAN; 21].join(",");
    let err = DrillConfig::from_env(&Env::from_pairs([("RESTORE_TESTING_PLANS", many.as_str())]))
        .unwrap_err();
    assert!(err.rule.contains("at most 20"), "{}", err.rule);
}

fn restore_job(validation: Option<&str>) -> rds_responder::restore_testing::RestoreJob {
    rds_responder::restore_testing::RestoreJob {
        job_id: "job-1".into(),
        status: "COMPLETED".into(),
        created_resource: Some("arn:aws:rds:us-east-1:123456789012:db:awsbackup-restore-1".into()),
        source_resource: Some("arn:aws:rds:us-east-1:123456789012:db:orders-db".into()),
        recovery_point: Some("arn:aws:rds:us-east-1:123456789012:snapshot:awsbackup:job-x".into()),
        recovery_point_created: Some(at(6, 0, 0)),
        plan: Some(PLAN.into()),
        resource_type: Some("RDS".into()),
        created: Some(at(11, 0, 0)),
        completed: Some(at(11, 30, 0)),
        validation: validation.map(str::to_string),
    }
}

#[test]
fn a_restore_job_is_validated_against_its_source_only_when_it_is_a_listed_plans() {
    use super::validation::*;
    let plans = vec![PLAN.to_string()];
    let target = validation_target(&restore_job(None), &plans, &origin()).unwrap();
    assert_eq!(
        target.restored,
        Subject::Instance(
            RdsIdentifier::parse("awsbackup-restore-1", ResourceKind::DbInstance).unwrap()
        )
    );
    assert_eq!(target.source.tag_value(), "db-instance:orders-db");
    assert!(sweep_validates(
        &restore_job(None),
        &plans,
        &origin(),
        at(12, 0, 0)
    ));
    // Left VALIDATING: its event's run may post; a sweep takes it once no run can still be on
    // it (30 minutes after the restore finished at 11:30).
    let left = restore_job(Some("VALIDATING"));
    assert!(validation_target(&left, &plans, &origin()).is_ok());
    assert!(!sweep_validates(&left, &plans, &origin(), at(12, 0, 0)));
    assert!(sweep_validates(&left, &plans, &origin(), at(12, 0, 1)));
    let mut undated = restore_job(Some("VALIDATING"));
    undated.completed = None;
    assert!(!sweep_validates(&undated, &plans, &origin(), at(23, 0, 0)));
    let refused = |job: rds_responder::restore_testing::RestoreJob, plans: &[String], why: &str| {
        let reason = validation_target(&job, plans, &origin()).unwrap_err();
        assert!(reason.contains(why), "{reason}");
        assert!(!sweep_validates(&job, plans, &origin(), at(12, 0, 0)));
    };
    for done in ["SUCCESSFUL", "FAILED", "TIMED_OUT"] {
        refused(
            restore_job(Some(done)),
            &plans,
            &format!("already validated ({done})"),
        );
    }
    refused(restore_job(None), &[], "RESTORE_TESTING_PLANS is empty");
    let mut job = restore_job(None);
    job.plan = None;
    refused(job, &plans, "not started by a restore testing plan");
    let mut job = restore_job(None);
    job.plan = Some(format!("{PLAN}x"));
    refused(job, &plans, "not one of RESTORE_TESTING_PLANS");
    let mut job = restore_job(None);
    job.status = "RUNNING".into();
    refused(job, &plans, "is RUNNING: only a COMPLETED");
    let mut job = restore_job(None);
    job.created_resource = None;
    refused(job, &plans, "names no restored resource");
    let mut job = restore_job(None);
    job.source_resource = None;
    refused(job, &plans, "names no source resource");
    let mut job = restore_job(None);
    job.source_resource = Some("arn:aws:rds:us-east-1:123456789012:cluster:orders".into());
    refused(job, &plans, "not the same kind");
    let mut job = restore_job(None);
    job.created_resource = Some("arn:aws:rds:us-east-1:123456789012:cluster:restored".into());
    job.source_resource = Some("arn:aws:rds:us-east-1:123456789012:cluster:orders".into());
    // An Aurora restore is validated: restore-drill adds the instance Backup leaves out.
    let target = validation_target(&job, &plans, &origin()).unwrap();
    assert_eq!(target.restored.tag_value(), "db-cluster:restored");
    assert_eq!(target.source.tag_value(), "db-cluster:orders");
    let mut job = restore_job(None);
    job.created_resource = Some("arn:aws:ec2:us-east-1:123456789012:volume/vol-1".into());
    refused(job, &plans, "names no RDS DB instance");
    // Never what is not this account's and region's, the source itself, or a drill's copy.
    for (created, source, why) in [
        (
            "arn:aws:rds:us-east-1:999999999999:db:restored",
            "arn:aws:rds:us-east-1:123456789012:db:orders-db",
            "account 999999999999 in us-east-1",
        ),
        (
            "arn:aws:rds:us-east-1:123456789012:db:restored",
            "arn:aws:rds:eu-west-1:123456789012:db:orders-db",
            "in eu-west-1, not this function's",
        ),
        (
            "arn::rds:us-east-1:123456789012:db:restored",
            "arn:aws:rds:us-east-1:123456789012:db:orders-db",
            "is not an ARN",
        ),
        (
            "arn:aws:rds:us-east-1:123456789012:db:Orders-DB",
            "arn:aws:rds:us-east-1:123456789012:db:orders-db",
            "as both its restore and its source",
        ),
        (
            "arn:aws:rds:us-east-1:123456789012:db:orders-db-rr-drill-202612010900",
            "arn:aws:rds:us-east-1:123456789012:db:orders-db",
            "a drill's scratch copy",
        ),
    ] {
        let mut job = restore_job(None);
        job.created_resource = Some(created.into());
        job.source_resource = Some(source.into());
        refused(job, &plans, why);
    }
    // Tables.
    let mut job = restore_job(None);
    job.created_resource =
        Some("arn:aws:dynamodb:us-east-1:123456789012:table/orders-restored".into());
    job.source_resource = Some("arn:aws:dynamodb:us-east-1:123456789012:table/orders".into());
    let target = validation_target(&job, &plans, &origin()).unwrap();
    assert_eq!(target.source.tag_value(), "table:orders");
    assert_eq!(target.restored.tag_value(), "table:orders-restored");
}

#[test]
fn arns_name_their_database_or_table() {
    use super::validation::subject_of_arn;
    assert_eq!(
        subject_of_arn("arn:aws:rds:us-east-1:123456789012:db:orders-db", &origin())
            .unwrap()
            .tag_value(),
        "db-instance:orders-db"
    );
    assert_eq!(
        subject_of_arn(
            "arn:aws:rds:us-east-1:123456789012:cluster:orders",
            &origin()
        )
        .unwrap()
        .tag_value(),
        "db-cluster:orders"
    );
    assert_eq!(
        subject_of_arn(
            "arn:aws:dynamodb:us-east-1:123456789012:table/orders",
            &origin()
        )
        .unwrap()
        .tag_value(),
        "table:orders"
    );
    for (bad, why) in [
        ("orders-db", "is not an ARN"),
        (
            "arn:aws:rds:us-east-1:123456789012:db:Bad--Name",
            "Bad--Name",
        ),
        (
            "arn:aws:rds:us-east-1:123456789012:snapshot:s1",
            "names no RDS DB instance",
        ),
        ("arn:aws:dynamodb:us-east-1:123456789012:table/a b", "a b"),
        ("arn:aws:s3:::bucket", "is of account  in , not"),
        ("arn:aws:s3:us-east-1:123456789012:bucket", "names no RDS"),
    ] {
        let err = subject_of_arn(bad, &origin()).unwrap_err();
        assert!(err.contains(why), "{bad}: {err}");
    }
}

#[test]
fn the_verdict_judges_the_data_and_times_out_when_the_time_ran_out() {
    use super::validation::verdict;
    use rds_responder::report::Check;
    use rds_responder::restore_testing::Validation;
    let pass = |n: &str| Check::new(n, Outcome::Pass, "ok");
    let fail = |n: &str, d: &str| Check::new(n, Outcome::Fail, d);
    let warn = Check::new("source", Outcome::Warn, "gone");
    assert_eq!(
        verdict(&[pass("select 1"), pass("schema"), warn.clone()], false),
        (
            Validation::Successful,
            "restore-drill: all 2 checks passed".into()
        )
    );
    for data in ["rows public.orders", "sql orders exist", "items", "schema"] {
        assert_eq!(
            verdict(&[pass(data)], false).0,
            Validation::Successful,
            "{data}"
        );
    }
    // Nothing of the data compared: not a validation.
    let (v, message) = verdict(&[pass("select 1"), pass("restore"), warn.clone()], false);
    assert_eq!(v, Validation::Failed);
    assert!(
        message.contains("nothing of the data was compared"),
        "{message}"
    );
    // RTO, RPO and read speed are reported, not judged.
    assert_eq!(
        verdict(
            &[
                pass("schema"),
                fail("rto", "late"),
                fail("observed rpo", "old"),
                fail("reads", "slow")
            ],
            false
        ),
        (
            Validation::Successful,
            "restore-drill: all 1 checks passed".into()
        )
    );
    let (v, message) = verdict(
        &[
            pass("schema"),
            fail("rows public.orders", "0 of 40"),
            fail("sql x", "false"),
            fail("rto", "late"),
        ],
        false,
    );
    assert_eq!(v, Validation::Failed);
    assert_eq!(
        message,
        "restore-drill: 2 of 3 checks failed - rows public.orders: 0 of 40; sql x: false"
    );
    // Time up: timed out, whatever failed (a read cut short reads as failed).
    assert_eq!(
        verdict(&[pass("schema"), fail("select 1", "cut short")], true),
        (
            Validation::TimedOut,
            "restore-drill: the run's time ran out during the checks (1 passed, 1 failed, perhaps cut short - select 1: cut short)".into()
        )
    );
    assert_eq!(
        verdict(&[pass("schema")], true),
        (
            Validation::TimedOut,
            "restore-drill: the run's time ran out during the checks (1 passed, 0 failed)".into()
        )
    );
    assert_eq!(verdict(&[], false).0, Validation::Failed);
}

#[test]
fn every_scratch_copy_is_tagged_with_its_drill_source_expiry_and_deployment() {
    let source =
        Subject::Instance(RdsIdentifier::parse("orders-db", ResourceKind::DbInstance).unwrap());
    let tags = scratch_tags(RUN, &source, at(15, 0, 0), "ledger-a");
    assert_eq!(
        tags,
        vec![
            (SCRATCH_TAG.to_string(), RUN.to_string()),
            (SOURCE_TAG.to_string(), "db-instance:orders-db".to_string()),
            (EXPIRES_TAG.to_string(), "2026-12-01T15:00:00Z".to_string()),
            (OWNER_TAG.to_string(), "ledger-a".to_string()),
        ]
    );
    // What the sweep reads back from them: ours, expiring then.
    let owner = tags
        .iter()
        .find(|(k, _)| k == OWNER_TAG)
        .map(|(_, v)| v.as_str());
    assert_eq!(ownership(owner, "ledger-a"), Ownership::Ours);
}

// ---- An Aurora restore test's added instance ----

fn member(status: &str) -> super::validation::MemberFacts {
    use super::validation::VALIDATES_TAG;
    let name = "restored-2fc269-rr-drill-202612011130";
    super::validation::MemberFacts {
        name: name.into(),
        status: status.into(),
        cluster: Some("restored".into()),
        tags: [
            (SCRATCH_TAG, name),
            (VALIDATES_TAG, "job-1"),
            (OWNER_TAG, "ledger"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    }
}

fn member_record(step: Step, lease: Option<(&str, chrono::DateTime<Utc>)>) -> DrillFacts {
    DrillFacts {
        run: "restored-2fc269-rr-drill-202612011130".into(),
        step: Some(step),
        deadline: at(14, 30, 0),
        lease: lease.map(|(h, u)| (h.to_string(), u)),
        started: None,
    }
}

#[test]
fn the_instance_added_to_a_backup_aurora_restore_is_named_from_the_restore_and_known_by_its_tags() {
    use super::validation::*;
    let cluster = RdsIdentifier::parse("restored", ResourceKind::DbCluster).unwrap();
    let job = restore_job(None);
    // Every run of one validation finds the same instance: named from the restore's end.
    assert_eq!(
        validation_instance(&cluster, &job, at(13, 0, 0)).as_str(),
        "restored-2fc269-rr-drill-202612011130"
    );
    let mut undated = restore_job(None);
    undated.completed = None;
    assert_eq!(
        validation_instance(&cluster, &undated, at(13, 0, 0)).as_str(),
        "restored-2fc269-rr-drill-202612011100"
    );
    undated.created = None;
    assert_eq!(
        validation_instance(&cluster, &undated, at(13, 0, 0)).as_str(),
        "restored-2fc269-rr-drill-202612011300"
    );
    assert!(named_as_scratch(
        validation_instance(&cluster, &job, at(13, 0, 0)).as_str()
    ));
    // Another job of the same cluster name and minute: another instance.
    let mut other = restore_job(None);
    other.job_id = "job-2".into();
    assert_eq!(
        validation_instance(&cluster, &other, at(13, 0, 0)).as_str(),
        "restored-2ec267-rr-drill-202612011130"
    );
    // A long name is cut so the whole stays within 63 characters, never ending in a hyphen
    // before the digest.
    let long =
        RdsIdentifier::parse(&format!("{}-x", "a".repeat(33)), ResourceKind::DbCluster).unwrap();
    let name = validation_instance(&long, &job, at(13, 0, 0));
    assert_eq!(
        name.as_str(),
        format!("{}-2fc269-rr-drill-202612011130", "a".repeat(33))
    );
    let longest = RdsIdentifier::parse(&"b".repeat(63), ResourceKind::DbCluster).unwrap();
    let name = validation_instance(&longest, &job, at(13, 0, 0));
    assert_eq!(name.as_str().len(), 63);
    assert_eq!(
        name.as_str(),
        format!("{}-2fc269-rr-drill-202612011130", "b".repeat(34))
    );
    assert!(named_as_scratch(name.as_str()));
    // The cluster is the restore's only if RDS made it while the job ran (11:00-11:30).
    assert!(cluster_is_the_restore(Some(at(11, 10, 0)), &job));
    assert!(cluster_is_the_restore(Some(at(10, 55, 0)), &job));
    assert!(!cluster_is_the_restore(Some(at(10, 54, 59)), &job));
    assert!(cluster_is_the_restore(Some(at(11, 35, 0)), &job));
    assert!(!cluster_is_the_restore(Some(at(11, 35, 1)), &job));
    assert!(!cluster_is_the_restore(None, &job));
    let mut open = restore_job(None);
    open.completed = None;
    assert!(!cluster_is_the_restore(Some(at(11, 10, 0)), &open));
    let mut unstarted = restore_job(None);
    unstarted.created = None;
    assert!(!cluster_is_the_restore(Some(at(11, 10, 0)), &unstarted));
    assert!(member_is_ours(
        &member("available"),
        "restored",
        "job-1",
        "ledger"
    ));
    assert!(!member_is_ours(
        &member("available"),
        "other",
        "job-1",
        "ledger"
    ));
    assert!(!member_is_ours(
        &member("available"),
        "restored",
        "job-2",
        "ledger"
    ));
    assert!(!member_is_ours(
        &member("available"),
        "restored",
        "job-1",
        "theirs"
    ));
    let mut renamed = member("available");
    renamed.name = "restored-2fc269-rr-drill-202612011131".into();
    assert!(!member_is_ours(&renamed, "restored", "job-1", "ledger"));
    let mut alone = member("available");
    alone.cluster = None;
    assert!(!member_is_ours(&alone, "restored", "job-1", "ledger"));
    // The job tag is read only when it reads as a job id.
    let tags = |v: &str| {
        [(VALIDATES_TAG.to_string(), v.to_string())]
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_eq!(tagged_validation(&tags("job-1_A")), Some("job-1_A"));
    assert_eq!(tagged_validation(&tags("job 1")), None);
    assert_eq!(tagged_validation(&tags("")), None);
    assert_eq!(tagged_validation(&Default::default()), None);
    // Only an instance in another cluster than its own name's is a validation's: a drill's
    // instance (in none) or an Aurora drill's (in its own cluster) carrying the tag is a drill's.
    let tagged = tags("job-1");
    let me = "restored-2fc269-rr-drill-202612011130";
    assert_eq!(
        added_for_validation(&tagged, Some("restored"), me),
        Some("job-1")
    );
    assert_eq!(added_for_validation(&tagged, None, me), None);
    assert_eq!(added_for_validation(&tagged, Some(me), me), None);
    assert_eq!(
        added_for_validation(&tags("job 1"), Some("restored"), me),
        None
    );
    for v in [
        rds_responder::restore_testing::Validation::Validating,
        rds_responder::restore_testing::Validation::Successful,
        rds_responder::restore_testing::Validation::Failed,
        rds_responder::restore_testing::Validation::TimedOut,
    ] {
        assert_eq!(parse_validation(v.as_str()), Some(v));
    }
    assert_eq!(parse_validation("successful"), None);
}

#[test]
fn an_aurora_validation_adds_its_instance_once_checks_it_when_available_and_concludes_when_late() {
    use super::validation::*;
    use rds_responder::restore_testing::Validation;
    let now = at(13, 0, 0);
    let ours = member("available");
    let creating = member("creating");
    // Not begun: add the instance; one already there (a record lost) is taken as it is.
    assert_eq!(member_step(None, None, "me", now), MemberStep::Create);
    assert_eq!(
        member_step(None, Some((&ours, true)), "me", now),
        MemberStep::Check
    );
    assert!(matches!(
        member_step(None, Some((&creating, true)), "me", now),
        MemberStep::Wait(w) if w.contains("is creating")
    ));
    // Someone else's instance under the name: never ours, whatever the record says, and not
    // the restore's fault: nothing posted.
    for record in [None, Some(member_record(Step::Checking, None))] {
        match member_step(record.as_ref(), Some((&ours, false)), "me", now) {
            MemberStep::Refuse(why) => {
                assert!(
                    why.contains("is not the instance restore-drill adds"),
                    "{why}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
    // Done: the verdict is posted again (Backup did not take it), whatever is left.
    let done = member_record(Step::Done, None);
    assert_eq!(
        member_step(Some(&done), None, "me", now),
        MemberStep::Repost
    );
    assert_eq!(
        member_step(Some(&done), Some((&ours, true)), "me", now),
        MemberStep::Repost
    );
    // Another run's lease, until it ends (inclusive); one's own lease does not stop it.
    let held = member_record(Step::Checking, Some(("other", now)));
    assert!(matches!(
        member_step(Some(&held), Some((&ours, true)), "me", now),
        MemberStep::Wait(w) if w.contains("another run holds it")
    ));
    assert_eq!(
        member_step(Some(&held), Some((&ours, true)), "other", now),
        MemberStep::Check
    );
    let expired = member_record(
        Step::Checking,
        Some(("other", now - chrono::Duration::seconds(1))),
    );
    assert_eq!(
        member_step(Some(&expired), Some((&ours, true)), "me", now),
        MemberStep::Check
    );
    // Its instance is being created / available.
    let adding = member_record(Step::AddingInstance, None);
    assert!(matches!(
        member_step(Some(&adding), Some((&creating, true)), "me", now),
        MemberStep::Wait(w) if w.contains("restored-2fc269-rr-drill-202612011130 is creating")
    ));
    assert_eq!(
        member_step(Some(&adding), Some((&ours, true)), "me", now),
        MemberStep::Check
    );
    // A create that died before RDS had it: again; an instance gone after it was made: failed.
    assert_eq!(
        member_step(Some(&adding), None, "me", now),
        MemberStep::Create
    );
    match member_step(Some(&member_record(Step::Checking, None)), None, "me", now) {
        MemberStep::Conclude(Validation::Failed, why) => {
            assert!(
                why.contains("was deleted before its check finished"),
                "{why}"
            )
        }
        other => panic!("{other:?}"),
    }
    // Past its deadline (14:30), never at it: timed out, instance or not.
    let deadline = at(14, 30, 0);
    assert_eq!(
        member_step(Some(&adding), Some((&ours, true)), "me", deadline),
        MemberStep::Check
    );
    let late = deadline + chrono::Duration::seconds(1);
    for m in [None, Some((&ours, true)), Some((&creating, true))] {
        match member_step(Some(&adding), m, "me", late) {
            MemberStep::Conclude(Validation::TimedOut, why) => {
                assert!(why.contains("not checked by 2026-12-01T14:30:00Z"), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn the_audit_names_each_databases_newest_automated_and_manual_snapshot_with_its_age() {
    let manual = |db: &str, sid: &str, status: &str, created| SnapshotInfo {
        snapshot_type: "manual".into(),
        ..snapshot(db, sid, status, created)
    };
    let mut cluster = snapshot("orders-aurora", "rds:c", "available", Some(at(3, 0, 0)));
    cluster.of = SnapshotOf::Cluster;
    let backup = SnapshotInfo {
        snapshot_type: "awsbackup".into(),
        ..snapshot(
            "orders-db",
            "awsbackup:job-1",
            "available",
            Some(at(5, 0, 0)),
        )
    };
    let snapshots = vec![
        snapshot("orders-db", "rds:old", "available", Some(at(1, 0, 0))),
        snapshot("orders-db", "rds:new", "available", Some(at(2, 0, 0))),
        snapshot("orders-db", "rds:creating", "creating", Some(at(9, 0, 0))),
        snapshot("orders-db", "rds:undated", "available", None),
        manual(
            "orders-db",
            "orders-db-rr-1",
            "available",
            Some(at(4, 0, 0)),
        ),
        manual(
            "orders-db",
            "orders-db-rr-2",
            "available",
            Some(at(3, 0, 0)),
        ),
        backup,
        cluster,
    ];
    let newest = newest_snapshots(&snapshots, at(6, 0, 0));
    let db = &newest["db-instance:orders-db"];
    assert_eq!(db.automated, Some(at(2, 0, 0)));
    assert_eq!(db.automated_age_seconds, Some(4 * 3600));
    // AWS Backup's counts with the manual ones (it is not RDS's automated backup).
    assert_eq!(db.manual, Some(at(5, 0, 0)));
    assert_eq!(db.manual_age_seconds, Some(3600));
    assert_eq!(db.any(), Some(at(5, 0, 0)));
    let aurora = &newest["db-cluster:orders-aurora"];
    assert_eq!(aurora.automated, Some(at(3, 0, 0)));
    assert_eq!((aurora.manual, aurora.manual_age_seconds), (None, None));
    assert_eq!(aurora.any(), Some(at(3, 0, 0)));
    assert!(!newest.contains_key("db-instance:orders-aurora"));
    // A snapshot dated after the run (clock skew) is zero seconds old, never negative.
    let ahead = newest_snapshots(&snapshots, at(4, 30, 0));
    assert_eq!(ahead["db-instance:orders-db"].manual_age_seconds, Some(0));
    assert_eq!(Newest::default().any(), None);
}

#[test]
fn a_scratch_copy_names_its_source_in_its_source_tag_only() {
    let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let instance = tagged_source(&tags(&[(SOURCE_TAG, "db-instance:orders-db")]));
    assert_eq!(
        instance.map(|s| s.tag_value()).as_deref(),
        Some("db-instance:orders-db")
    );
    let table = tagged_source(&tags(&[(SOURCE_TAG, "table:orders")]));
    assert_eq!(
        table.map(|s| s.tag_value()).as_deref(),
        Some("table:orders")
    );
    // No source tag, or one naming no kind we restore: no source.
    assert!(tagged_source(&tags(&[("Name", "db-instance:orders-db")])).is_none());
    assert!(tagged_source(&tags(&[(SOURCE_TAG, "bucket:orders")])).is_none());
}

#[test]
fn a_scratch_copy_an_hour_past_its_expiry_is_overdue() {
    let expires = at(10, 0, 0);
    assert!(!overdue(Some(expires), at(10, 30, 0)));
    assert!(!overdue(Some(expires), at(11, 0, 0)));
    assert!(overdue(Some(expires), at(11, 0, 1)));
    assert!(!overdue(None, at(23, 0, 0)));
}

#[test]
fn a_source_count_takes_a_quarter_of_provisioned_reads_and_paces_slowly_when_unknown() {
    let provisioned = |units| TableSettings {
        billing_mode: Some("PROVISIONED".into()),
        read_capacity: Some(units),
        ..TableSettings::default()
    };
    assert_eq!(source_scan_pace(Some(&provisioned(400))), Some(100.0));
    assert_eq!(source_scan_pace(Some(&provisioned(4))), Some(1.0));
    // A quarter of under four units is still one unit a second.
    assert_eq!(source_scan_pace(Some(&provisioned(2))), Some(1.0));
    assert_eq!(source_scan_pace(Some(&provisioned(5))), Some(1.25));
    assert_eq!(source_scan_pace(Some(&TableSettings::default())), None);
    assert_eq!(source_scan_pace(None), Some(UNKNOWN_CAPACITY_PACE));
}

#[test]
fn a_drill_whose_copy_is_gone_long_after_its_start_is_abandoned_and_failed() {
    let now = at(12, 0, 0);
    let started = |ago: i64| Some(now - Duration::minutes(ago));
    let with = |step, lease: Option<(&str, DateTime<Utc>)>, ago| DrillFacts {
        started: started(ago),
        ..drill(step, at(13, 0, 0), lease)
    };
    // Checking, nobody holds it, no copy, started long ago: it failed and never said so.
    let gone = with(Step::Checking, None, LONGEST_RUN_MINUTES + 1);
    let (outcome, why) = abandoned(&gone, None, now).unwrap();
    assert_eq!(outcome, Outcome::Fail);
    assert!(why.contains("copy is gone while it was checking"), "{why}");
    for step in [Step::Restoring, Step::AddingInstance] {
        let (outcome, _) = abandoned(&with(step, None, 16), None, now).unwrap();
        assert_eq!(outcome, Outcome::Fail, "{step:?}");
    }
    // Its copy alive, a live lease (at its last second), or a start within a run's length (its
    // restore call may postdate the listing): not abandoned.
    assert_eq!(abandoned(&gone, Some("orders-db-rr-drill-1"), now), None);
    assert_eq!(
        abandoned(&with(Step::Checking, Some(("other", now)), 60), None, now),
        None
    );
    assert_eq!(
        abandoned(&with(Step::Checking, None, LONGEST_RUN_MINUTES), None, now),
        None
    );
    assert_eq!(
        abandoned(&drill(Step::Checking, at(13, 0, 0), None), None, now),
        None
    );
    // Over, or cleaning (its copy deleted, the record not updated): not abandoned.
    for step in [Step::Done, Step::Cleaning] {
        assert_eq!(
            abandoned(&with(step, None, 60), None, now),
            None,
            "{step:?}"
        );
    }
    // A start that died before its restore call (its lease ran out): a warning, at once.
    let died = drill(
        Step::Restoring,
        at(13, 0, 0),
        Some(("dead", now - Duration::seconds(1))),
    );
    let (outcome, why) = abandoned(&died, None, now).unwrap();
    assert_eq!(outcome, Outcome::Warn);
    assert!(why.contains("never restored anything"), "{why}");
    // An expired lease on a later step is a check to take over, not a dead start.
    let held_out = DrillFacts {
        lease: Some(("dead".into(), now - Duration::seconds(1))),
        ..with(Step::Checking, None, 5)
    };
    assert_eq!(abandoned(&held_out, None, now), None);
    // An abandoned drill holds its database no longer, even before its deadline.
    let db = instance("orders-db");
    assert_eq!(refusal(&db, Some(&gone), 0), None);
    let young = with(Step::Checking, None, 5);
    assert!(refusal(&db, Some(&young), 0).unwrap().contains("under way"));
}

#[test]
fn a_validation_window_closes_at_completion_plus_its_hours_and_bounds_the_deadline() {
    use super::validation::{validation_deadline, window_closed, window_closes};
    let done = at(10, 0, 0);
    assert_eq!(
        window_closes(Some(done), Some(Duration::hours(4))),
        Some(at(14, 0, 0))
    );
    assert_eq!(window_closes(None, Some(Duration::hours(4))), None);
    assert_eq!(window_closes(Some(done), None), None);
    // Closed at its close, open a second before.
    let closes = Some(at(14, 0, 0));
    let said = window_closed(closes, at(14, 0, 0)).unwrap();
    assert!(
        said.contains("validation window closed at 2026-12-01T14:00:00Z"),
        "{said}"
    );
    assert_eq!(window_closed(closes, at(13, 59, 59)), None);
    assert_eq!(window_closed(None, at(23, 0, 0)), None);
    // The deadline: the configured one, or the window's close when sooner.
    let now = at(12, 0, 0);
    let configured = Duration::minutes(180);
    assert_eq!(validation_deadline(now, configured, None), at(15, 0, 0));
    assert_eq!(validation_deadline(now, configured, closes), at(14, 0, 0));
    assert_eq!(
        validation_deadline(now, configured, Some(at(16, 0, 0))),
        at(15, 0, 0)
    );
}

#[test]
fn an_item_count_the_runs_time_cut_short_compares_nothing_and_a_validation_times_out() {
    use super::validation::verdict as validation_verdict;
    use rds_responder::report::Check;
    use rds_responder::restore_testing::Validation;
    let count = |items, complete, cut_short| {
        Ok(ItemCount {
            items,
            complete,
            cut_short,
        })
    };
    // Cut short on either side: a warning, never a loss of items, however far apart.
    for (source, restored) in [
        (count(10, false, true), count(1_000, true, false)),
        (count(1_000, true, false), count(10, false, true)),
    ] {
        let v = items(&source, &restored, 5.0);
        assert_eq!(v.outcome, Outcome::Warn, "{}", v.detail);
        assert!(v.detail.ends_with(CUT_SHORT), "{}", v.detail);
        assert!(v.detail.contains("paced"), "{}", v.detail);
    }
    // Stopped at the scan bound, not the time: still judged as before.
    let bound = items(&count(1_000, false, false), &count(10, true, false), 5.0);
    assert_eq!(bound.outcome, Outcome::Fail);
    // A validation whose count was cut short is TIMED_OUT, not FAILED for comparing nothing.
    let cut = items(&count(10, false, true), &count(1_000, true, false), 5.0);
    let checks = vec![
        Check::new("restore", Outcome::Pass, "restored"),
        Check::new(cut.name.clone(), cut.outcome, cut.detail.clone()),
    ];
    assert_eq!(validation_verdict(&checks, false).0, Validation::TimedOut);
    // The same words in another check's name do not.
    let other = vec![
        Check::new("restore", Outcome::Pass, "restored"),
        Check::new("settings", Outcome::Warn, cut.detail.clone()),
    ];
    assert_ne!(validation_verdict(&other, false).0, Validation::TimedOut);
}
