//! The run: the request (`request.rs`), the decision, then the copies (created through the
//! guard), the sweep over many databases (`sweep.rs`), retention (`retention.rs`: decided over
//! complete listings, capped, guarded) and one report.

mod request;
mod retention;
mod sweep;

pub use request::*;
pub use retention::Deletion;

use std::time::Instant;

use chrono::{DateTime, Utc};

use rds_responder::backups::{SnapshotCatalog, SnapshotInfo, SnapshotOf, TableBackups};
use rds_responder::guard::{db_resource, ActionGuard, GuardRefusal};
use rds_responder::ledger::Ledger;
use rds_responder::rds::RdsError;
use rds_responder::report::{Check, Findings, Outcome, Status};
use rds_responder::runner::{Invocation, Responder};
use rds_responder::trigger::{DbTarget, Target};

use crate::checks;
use crate::config::SnapshotterConfig;
use crate::policy::{
    create_retryable, decide, Completion, Decision, PreChange, CHANGE_ID_TAG, CREATED_BY_TAG,
    CREATED_BY_VALUE, REASON_TAG,
};

pub struct Snapshotter<C, T> {
    pub catalog: C,
    pub tables: T,
    pub config: SnapshotterConfig,
}

/// The lock a snapshotter run takes: per database for a pre-change snapshot, one for the
/// account for a sweep. Separate from other functions' database locks: a snapshot never waits
/// for an idle-session reap.
pub fn snapshot_lock(db: Option<&DbTarget>) -> String {
    match db {
        Some(db) => format!("snapshots#{}", db_resource(db)),
        None => "snapshots#account".into(),
    }
}

/// How one run acts: through which guard, until when, with what care.
struct Run<'a, 'g, L> {
    guard: &'a ActionGuard<'g, L>,
    stop_at: Instant,
    now: DateTime<Utc>,
}

impl<L: Ledger> Run<'_, '_, L> {
    /// The guard for `lock`, worded for the report: `Err` holds the check that says why not.
    async fn may_act(&self, lock: &str, what: &str) -> Result<(), Check> {
        match self.guard.before_acting(lock).await {
            Ok(()) => Ok(()),
            Err(refusal @ GuardRefusal::Locked { .. }) => Err(Check::new(
                "guard",
                Outcome::Skipped,
                format!("{refusal}; {what} not done"),
            )),
            Err(refusal) => Err(Check::new(
                "guard",
                Outcome::Fail,
                format!("{refusal}; {what} not done"),
            )),
        }
    }

    fn time_left(&self) -> bool {
        Instant::now() < self.stop_at
    }
}

impl<C: SnapshotCatalog, T: TableBackups> Responder for Snapshotter<C, T> {
    type Manual = ManualSnapshot;
    type Schedule = SnapshotSchedule;
    const FUNCTION: &'static str = "snapshotter";

    async fn respond<L: Ledger>(
        &self,
        trigger: &rds_responder::trigger::Trigger<ManualSnapshot, SnapshotSchedule>,
        invocation: &Invocation,
        guard: &ActionGuard<'_, L>,
    ) -> Findings {
        let run = Run {
            guard,
            stop_at: Instant::now() + invocation.work_left(Utc::now()),
            now: invocation.now,
        };
        match decide(
            trigger,
            invocation.now,
            &invocation.request_id,
            &self.config,
        ) {
            Decision::Skip { target, reason } => Findings::skipped(target, reason),
            Decision::PreChange(request) => self.pre_change(&request, &run).await,
            Decision::Sweep(sweep) => self.sweep(&sweep, &run).await,
            Decision::Completion(event) => self.completion(&event).await,
        }
    }
}

/// Is this snapshot one this tool made of `db`?
fn made_by_us(snapshot: &SnapshotInfo, db: &DbTarget) -> bool {
    snapshot.tags.get(CREATED_BY_TAG).map(String::as_str) == Some(CREATED_BY_VALUE)
        && snapshot.db.eq_ignore_ascii_case(db.id().as_str())
        && snapshot.of == SnapshotOf::of(db)
}

/// What became of one snapshot this run asked for.
#[derive(Debug)]
pub enum Created {
    New(SnapshotInfo),
    /// Already there and ours: a retry, or a second request for the same change.
    Existing(SnapshotInfo),
    /// Not created, for a reason a retry may not meet (no answer, throttling, a state that
    /// passes): the retry finds a snapshot this try made after all, and makes one otherwise.
    Failed(String),
    /// Not created, and a retry would only meet the same answer: the name taken by a snapshot
    /// that is not this request's, a quota, a permission.
    Refused(String),
    NotStarted(String),
}

impl Created {
    /// The snapshot and whether this try made it; or why not, and whether a retry may.
    fn outcome(self) -> Result<(SnapshotInfo, bool), (String, bool)> {
        match self {
            Created::New(s) => Ok((s, true)),
            Created::Existing(s) => Ok((s, false)),
            Created::Failed(reason) | Created::NotStarted(reason) => Err((reason, true)),
            Created::Refused(reason) => Err((reason, false)),
        }
    }
}

impl<C: SnapshotCatalog, T: TableBackups> Snapshotter<C, T> {
    /// Creates `id`, or finds it made by an earlier try. Call only after the guard said yes.
    async fn create(
        &self,
        db: &DbTarget,
        id: &rds_responder::trigger::RdsIdentifier,
        tags: &[(String, String)],
    ) -> Created {
        match self.catalog.create_snapshot(db, id, tags).await {
            Ok(info) => Created::New(info),
            Err(RdsError::AlreadyExists { .. }) => {
                match self.catalog.find_snapshot(SnapshotOf::of(db), id.as_str()).await {
                    Ok(Some(s)) if made_by_us(&s, db) => Created::Existing(s),
                    Ok(Some(s)) => Created::Refused(format!(
                        "snapshot {id} already exists and was not made by rds-responder for {db} (it is of {}, tags {:?}): left untouched; choose another change_id",
                        s.db,
                        s.tags.keys().collect::<Vec<_>>()
                    )),
                    Ok(None) => Created::Failed(format!(
                        "RDS says snapshot {id} exists but does not list it: nothing created"
                    )),
                    Err(e) => Created::Failed(format!(
                        "snapshot {id} exists and could not be described ({e}): nothing created"
                    )),
                }
            }
            Err(e) if create_retryable(&e) => Created::Failed(e.to_string()),
            Err(e) => Created::Refused(e.to_string()),
        }
    }

    async fn pre_change<L: Ledger>(&self, request: &PreChange, run: &Run<'_, '_, L>) -> Findings {
        let db = &request.db;
        let id = &request.snapshot_id;
        let target = Some(Target::from(db.clone()));
        if request.dry_run {
            let mut findings = Findings::new(
                target,
                vec![checks::planned_snapshot(db, id, &request.tags)],
                format!("{db}: would create snapshot {id} (dry run)"),
            );
            findings.result = Some(checks::snapshot_result(
                id.as_str(),
                db,
                "planned",
                None,
                None,
                false,
            ));
            return findings;
        }
        if let Err(check) = run.may_act(&snapshot_lock(Some(db)), "snapshot").await {
            let retry = (check.outcome == Outcome::Fail).then(|| check.detail.clone());
            let mut findings = Findings::new(
                target,
                vec![check],
                format!("{db}: snapshot {id} not created"),
            );
            findings.retry = retry;
            if findings.retry.is_none() {
                findings.status = Some(Status::Skipped);
            }
            findings.result = Some(checks::snapshot_result(
                id.as_str(),
                db,
                "not-created",
                None,
                None,
                false,
            ));
            return findings;
        }
        let started = Instant::now();
        let created = self.create(db, id, &request.tags).await;
        let tag_of = |tags: &[(String, String)], key: &str| {
            tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        };
        let asked_change = tag_of(&request.tags, CHANGE_ID_TAG);
        let asked_reason = tag_of(&request.tags, REASON_TAG);
        let created = match created {
            // Same name, another change (a change id that cleans alike): not this request's.
            Created::Existing(s) if s.tags.get(CHANGE_ID_TAG) != asked_change.as_ref() => {
                Created::Refused(format!(
                    "snapshot {id} exists for another change (change id {:?}): left untouched; choose another change_id",
                    s.tags.get(CHANGE_ID_TAG).map(String::as_str).unwrap_or("none")
                ))
            }
            other => other,
        };
        let (mut snapshot, is_new) = match created.outcome() {
            Ok(made) => made,
            Err((reason, retryable)) => {
                let mut findings = Findings::new(
                    target,
                    vec![Check::new(
                        "snapshot",
                        Outcome::Fail,
                        format!("{reason}; nothing was created"),
                    )],
                    format!("{db}: snapshot {id} not created"),
                );
                findings.result = Some(checks::snapshot_result(
                    id.as_str(),
                    db,
                    "not-created",
                    None,
                    Some(started.elapsed()),
                    false,
                ));
                // The name is this request's: a retry (or the same request again) finds a
                // snapshot this try made after all, and makes one otherwise. A refusal a retry
                // would meet again is only reported.
                run.guard.nothing_took_effect();
                if retryable {
                    findings.retry = Some(reason);
                }
                return findings;
            }
        };
        let mut wait_note = None;
        let mut last_failure: Option<String> = None;
        if request.wait {
            while !checks::settled(&snapshot.status) {
                if Instant::now() + self.config.wait_poll >= run.stop_at {
                    let why = last_failure
                        .take()
                        .map(|e| format!(" (the last look at it failed: {e})"))
                        .unwrap_or_default();
                    wait_note = Some(format!(
                        "the invocation's deadline came before the snapshot was available{why}"
                    ));
                    break;
                }
                tokio::time::sleep(self.config.wait_poll).await;
                match self
                    .catalog
                    .find_snapshot(SnapshotOf::of(db), id.as_str())
                    .await
                {
                    Ok(Some(s)) => {
                        snapshot = s;
                        last_failure = None;
                    }
                    Ok(None) => {
                        wait_note = Some("the snapshot is no longer listed".into());
                        snapshot.status = "missing".into();
                        break;
                    }
                    // One failed look does not end the wait: the next may answer.
                    Err(e) => {
                        last_failure = Some(e.to_string());
                    }
                }
            }
        }
        let elapsed = started.elapsed();
        let earlier_reason = snapshot
            .tags
            .get(REASON_TAG)
            .filter(|r| !is_new && Some(*r) != asked_reason.as_ref())
            .cloned();
        let check = checks::pre_change_check(
            &snapshot,
            is_new,
            request.wait,
            wait_note.as_deref(),
            elapsed,
        );
        let mut checks = vec![check];
        if let Some(earlier) = earlier_reason {
            checks.push(Check::new(
                "reuse",
                Outcome::Warn,
                format!("snapshot {id} was made earlier for another reason ({earlier:?}): it is not a snapshot of this moment; give this change its own change_id"),
            ));
        }
        let mut findings = Findings::new(
            target,
            checks,
            format!("{db}: snapshot {id} {}", snapshot.status),
        );
        let mut result = checks::snapshot_result(
            id.as_str(),
            db,
            &snapshot.status,
            snapshot.progress_percent,
            Some(elapsed),
            is_new,
        );
        result["created_at"] = serde_json::to_value(snapshot.created).unwrap_or_default();
        findings.result = Some(result);
        findings
    }

    async fn completion(&self, event: &Completion) -> Findings {
        let snapshot = match self
            .catalog
            .find_snapshot(event.of, event.snapshot.as_str())
            .await
        {
            Ok(Some(s)) => s,
            Ok(None) => {
                return Findings::skipped(
                    None::<Target>,
                    format!(
                        "snapshot {} is not listed (deleted since?): nothing to report",
                        event.snapshot
                    ),
                )
            }
            Err(e) => {
                return Findings::new(
                    None::<Target>,
                    vec![Check::new(
                        "describe",
                        Outcome::Fail,
                        format!("could not describe snapshot {}: {e}", event.snapshot),
                    )],
                    format!("snapshot {}: could not be described", event.snapshot),
                )
            }
        };
        if snapshot.tags.get(CREATED_BY_TAG).map(String::as_str) != Some(CREATED_BY_VALUE) {
            return Findings::skipped(
                None::<Target>,
                format!("snapshot {} was not made by rds-responder (no CreatedBy=rds-responder tag): ignored", snapshot.id),
            );
        }
        let target = checks::snapshot_target(&snapshot);
        let check = checks::completion_check(&snapshot, event);
        let summary = format!(
            "snapshot {} of {}: {}",
            snapshot.id, snapshot.db, snapshot.status
        );
        Findings::new(target, vec![check], summary)
    }
}

#[cfg(test)]
mod tests;
