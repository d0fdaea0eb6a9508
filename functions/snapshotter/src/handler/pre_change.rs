//! The pre-change snapshot: one named, tagged snapshot through the guard, made or found again,
//! waited for when asked. Also the capability other functions take their snapshot through.

use super::*;
use rds_responder::metrics::{db_resource_name, SNAPSHOTS_CREATED};

/// The pre-change snapshot, as a capability: snapshotter's own pre-change requests and other
/// functions (storage-guard, before it grows a volume) take their snapshot through it, with the
/// same names, tags, ownership rule, create-or-find and guard.
pub struct PreChangeSnapshots<'a, C> {
    pub catalog: &'a C,
    /// How often a busy database, or a snapshot being waited for, is looked at again.
    pub wait_poll: std::time::Duration,
}

impl<C: SnapshotCatalog> PreChangeSnapshots<'_, C> {
    /// Creates `id`, or finds it made by an earlier try. Call only after the guard said yes.
    pub async fn create(
        &self,
        db: &DbTarget,
        id: &rds_responder::trigger::RdsIdentifier,
        tags: &[(String, String)],
    ) -> Created {
        match self.catalog.create_snapshot(db, id, tags).await {
            Ok(info) => Created::New(info),
            Err(RdsError::AlreadyExists { .. }) => {
                match self.catalog.find_snapshot(SnapshotOf::of(db), id.as_str()).await {
                    Ok(Some(s)) if ours_of(&s, db) => Created::Existing(s),
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
            Err(e) if database_busy(&e) => Created::Busy(e.to_string()),
            // No answer: the create may have taken effect. Look before saying it did not.
            Err(e) if no_answer(&e) => {
                match self.catalog.find_snapshot(SnapshotOf::of(db), id.as_str()).await {
                    Ok(Some(s)) if ours_of(&s, db) => Created::New(s),
                    Ok(Some(s)) => Created::Refused(format!(
                        "snapshot {id} exists and was not made by rds-responder for {db} (it is of {}): left untouched",
                        s.db
                    )),
                    Ok(None) => Created::Failed(format!("{e}; it is not listed: nothing created")),
                    Err(look) => Created::Unknown(format!(
                        "{e}; looking for it failed too ({look}): snapshot {id} may exist"
                    )),
                }
            }
            Err(e) if create_retryable(&e) => Created::Failed(e.to_string()),
            Err(e) => Created::Refused(e.to_string()),
        }
    }

    /// One pre-change snapshot: dry run, guard, create (waiting out a busy database when asked),
    /// wait for it when asked, and the findings with a machine-readable `result`.
    pub async fn take<L: Ledger>(
        &self,
        request: &PreChange,
        run: &RunContext<'_, '_, L>,
    ) -> Findings {
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
        let mut created = self.create(db, id, &request.tags).await;
        // Busy (another snapshot of it in progress, e.g. the scheduled sweep's): a caller who
        // waits has it waited for within the deadline, then this request's own taken; one who
        // does not is told at once.
        let mut busy_since = None;
        while let Created::Busy(reason) = &created {
            if !request.wait {
                created = Created::Failed(format!(
                    "RDS would not snapshot {db} now: it is busy (another snapshot of it in progress, or a modification): {reason}; send it again, or with \"wait\": true to have it waited for"
                ));
                break;
            }
            if Instant::now() + self.wait_poll >= run.stop_at {
                created = Created::Failed(format!(
                    "RDS would not snapshot {db} while it was busy (another snapshot of it in progress, or a modification) until this run's stop point: {reason}"
                ));
                break;
            }
            busy_since.get_or_insert_with(Instant::now);
            tokio::time::sleep(self.wait_poll).await;
            created = self.create(db, id, &request.tags).await;
        }
        let waited_busy = busy_since.map(|since| since.elapsed());
        let tag_of = |tags: &[(String, String)], key: &str| {
            tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        };
        let asked_change = tag_of(&request.tags, CHANGE_ID_TAG);
        let asked_reason = tag_of(&request.tags, REASON_TAG);
        let created = match created {
            // Same name, another change (a change id that cleans alike): not this request's.
            Created::Existing(s)
                if !same_change(
                    s.tags.get(CHANGE_ID_TAG).map(String::as_str),
                    asked_change.as_deref(),
                ) =>
            {
                Created::Refused(format!(
                    "snapshot {id} exists for another change (change id {:?}): left untouched; choose another change_id",
                    s.tags.get(CHANGE_ID_TAG).map(String::as_str).unwrap_or("none")
                ))
            }
            other => other,
        };
        let (mut snapshot, is_new) = match created.outcome() {
            Ok(made) => made,
            Err(not_made) => {
                let (detail, status, summary) = if not_made.certain {
                    (
                        format!("{}; nothing was created", not_made.reason),
                        "not-created",
                        format!("{db}: snapshot {id} not created"),
                    )
                } else {
                    (
                        format!(
                            "{}: look for snapshot {id} before sending the request again",
                            not_made.reason
                        ),
                        "unknown",
                        format!("{db}: snapshot {id} may or may not exist"),
                    )
                };
                let mut findings = Findings::new(
                    target,
                    vec![Check::new("snapshot", Outcome::Fail, detail)],
                    summary,
                );
                findings.result = Some(checks::snapshot_result(
                    id.as_str(),
                    db,
                    status,
                    None,
                    Some(started.elapsed()),
                    false,
                ));
                // The name is this request's: a retry (or the same request again) finds a
                // snapshot this try made after all, and makes one otherwise. A refusal a retry
                // would meet again is only reported; an unknown outcome is recorded as acted,
                // so that no retry makes a second.
                if not_made.certain {
                    run.guard.nothing_took_effect();
                }
                if not_made.retryable {
                    findings.retry = Some(not_made.reason);
                }
                return findings;
            }
        };
        let mut wait_note = None;
        let mut last_failure: Option<String> = None;
        if request.wait {
            while !settled(&snapshot.status) {
                if Instant::now() + self.wait_poll >= run.stop_at {
                    let why = last_failure
                        .take()
                        .map(|e| format!(" (the last look at it failed: {e})"))
                        .unwrap_or_default();
                    wait_note = Some(format!(
                        "the invocation's deadline came before the snapshot was available{why}"
                    ));
                    break;
                }
                tokio::time::sleep(self.wait_poll).await;
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
        let earlier_reason = earlier_reason(&snapshot, is_new, asked_reason.as_deref());
        let check = checks::pre_change_check(
            &snapshot,
            is_new,
            request.wait,
            wait_note.as_deref(),
            elapsed,
        );
        let mut checks = vec![check];
        if let Some(waited) = waited_busy {
            checks.push(Check::new(
                "busy",
                Outcome::Pass,
                format!(
                    "{db} was busy (another snapshot of it in progress, or a modification): waited {} s before RDS took this one",
                    waited.as_secs()
                ),
            ));
        }
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
        // Made by this run: a snapshot found by name was counted when it was made.
        if is_new {
            findings
                .metrics
                .push(SNAPSHOTS_CREATED.of(db_resource_name(db), 1.0));
        }
        findings
    }
}
