//! The action for one instance, through the guard: the lock, a second look under it, the
//! snapshot first, our record on the instance, the change, and what became of it.

use super::*;

impl<S, C, M, I, D> StorageGuard<S, C, M, I, D>
where
    S: StorageControl,
    C: SnapshotCatalog,
    M: MetricHistory,
    I: DbInventory,
    D: SpaceInspector,
{
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn act<L: Ledger>(
        &self,
        st: &StorageInfo,
        id: &RdsIdentifier,
        verdict: &Verdict,
        next: &NextChange,
        job: &Job<'_>,
        may_change: bool,
        gate: &GateVerdict,
        run: &RunContext<'_, '_, L>,
        invocation: &Invocation,
        mut checks: Vec<Check>,
    ) -> Findings {
        let target = DbTarget::Instance(id.clone());
        let summary_of = |what: &str| format!("{target}: {what}");
        // The snapshot before a change, counted where the dashboard reads snapshots taken.
        let snapshot_metrics = std::cell::RefCell::new(Vec::new());
        let finish = |checks: Vec<Check>, summary: String, result: serde_json::Value| {
            let mut f = Findings::new(Some(target.clone()), checks, summary);
            f.result = Some(result);
            f.metrics.append(&mut snapshot_metrics.borrow_mut());
            f
        };
        let Some(modification) = verdict.action.modification(&st.storage_type) else {
            let summary = summary_of(verdict.reasons.first().map_or("no change", String::as_str));
            return finish(
                checks,
                summary,
                checks::result(st, verdict, "no-change", None, None, next),
            );
        };
        if job.dry_run || !may_change {
            let why = if job.dry_run {
                "dry run".to_string()
            } else {
                format!("{gate}: storage-guard changes only opted-in instances")
            };
            checks.push(Check::new(
                "change",
                Outcome::Planned,
                format!(
                    "would {}; not done ({why})",
                    checks::action_words(&verdict.action)
                ),
            ));
            let mut findings = finish(
                checks,
                summary_of(&format!(
                    "would {} ({why})",
                    checks::action_words(&verdict.action)
                )),
                checks::result(st, verdict, "planned", None, None, next),
            );
            // A critical forecast is still critical when nothing may be changed.
            if !checks::any_failed(&findings.checks) {
                findings.status = Some(Status::DryRun);
            }
            return findings;
        }
        if let Err(check) = run.may_act(&storage_lock(&target), "storage change").await {
            let retry = (check.outcome == Outcome::Fail).then(|| check.detail.clone());
            checks.push(check);
            let mut findings = finish(
                checks,
                summary_of("not changed (another run holds it)"),
                checks::result(st, verdict, "not-changed", None, None, next),
            );
            findings.retry = retry;
            return findings;
        }

        // The decision was made on what the instance was before the lock: another run may
        // have changed it since. Look again, and act only on the same instance.
        match self.storage.describe_storage(id).await {
            Ok(now) if same_storage(st, &now) => {}
            Ok(now) => {
                checks.push(Check::new(
                    "guard",
                    Outcome::Warn,
                    format!(
                        "{} changed while this run decided ({} GiB, maximum {:?}, pending {:?}, record {:?}): not acting on a stale decision; the next trigger decides again",
                        st.id,
                        now.allocated_gib,
                        now.max_allocated_gib,
                        now.pending,
                        now.tags.get(CHANGE_TAG)
                    ),
                ));
                if job.single {
                    run.guard.nothing_took_effect();
                }
                return finish(
                    checks,
                    summary_of("not changed: another run changed it meanwhile"),
                    checks::result(st, verdict, "not-changed", None, None, next),
                );
            }
            Err(e) => {
                checks.push(Check::new(
                    "guard",
                    Outcome::Fail,
                    format!("could not look at the instance again before changing it ({e}): nothing changed"),
                ));
                if job.single {
                    run.guard.nothing_took_effect();
                }
                let mut findings = finish(
                    checks,
                    summary_of("not changed: the instance could not be described again"),
                    checks::result(st, verdict, "not-changed", None, None, next),
                );
                if job.single {
                    findings.retry = Some(e.to_string());
                }
                return findings;
            }
        }

        let mut snapshot_id = None;
        if verdict.snapshot_first {
            let snapshot_tags_reason = format!(
                "storage-guard before {}: {}",
                checks::tag_words(&verdict.action),
                job.because
            );
            let id_for = pre_change_snapshot_id(id, None, &invocation.request_id);
            let request = PreChange {
                db: target.clone(),
                tags: creation_tags(
                    id_for.as_str(),
                    &format!("storage-guard:{}", invocation.request_id),
                    &snapshot_tags_reason,
                    None,
                ),
                snapshot_id: id_for.clone(),
                wait: false,
                dry_run: false,
            };
            let snapshots = PreChangeSnapshots {
                catalog: &self.snapshots,
                wait_poll: self.config.snapshot_poll,
            };
            let taken = snapshots.take(&request, run).await;
            snapshot_metrics
                .borrow_mut()
                .extend(taken.metrics.iter().cloned());
            let status = taken
                .result
                .as_ref()
                .and_then(|r| r.get("status"))
                .and_then(serde_json::Value::as_str)
                .unwrap_or("unknown")
                .to_string();
            let started = !matches!(status.as_str(), "not-created" | "unknown" | "planned");
            let detail = taken
                .checks
                .iter()
                .map(|c| c.detail.clone())
                .collect::<Vec<_>>()
                .join("; ");
            if !started {
                checks.push(Check::new(
                    "snapshot",
                    Outcome::Fail,
                    format!("the snapshot before the change could not be started ({detail}): the storage was not changed"),
                ));
                let summary = summary_of(&format!(
                    "not changed: the snapshot before it could not be started; {}",
                    verdict.reasons.first().map_or("", String::as_str)
                ));
                let mut findings = finish(
                    checks,
                    summary,
                    checks::result(st, verdict, "not-changed", None, None, next),
                );
                // A snapshot RDS would not start now (busy, throttled) may start on a retry:
                // nothing was changed, so the claim goes back (snapshotter said whether
                // anything took effect).
                if job.single {
                    findings.retry = taken.retry.clone();
                }
                return findings;
            }
            checks.push(Check::new(
                "snapshot",
                Outcome::Pass,
                format!("snapshot {id_for} {status} before the change ({detail})"),
            ));
            snapshot_id = Some(id_for.to_string());
        } else if st.status.eq_ignore_ascii_case("storage-full") {
            checks.push(Check::new(
                "snapshot",
                Outcome::Warn,
                "no snapshot first: RDS cannot snapshot a storage-full instance, and waiting would keep it down",
            ));
        }

        // Our record, before the change: the next run counts it even if this one ends here.
        let record = checks::change_tag_value(
            run.now,
            RECORD_SENT,
            &verdict.action,
            &invocation.request_id,
        );
        match &st.arn {
            Some(arn) => match self
                .storage
                .tag_instance(arn, &[(CHANGE_TAG.to_string(), record.clone())])
                .await
            {
                Ok(()) => checks.push(Check::new(
                    "record",
                    Outcome::Pass,
                    format!("tagged {CHANGE_TAG}={record}"),
                )),
                Err(e) => checks.push(Check::new(
                    "record",
                    Outcome::Warn,
                    format!("could not tag {CHANGE_TAG} ({e}); the change goes ahead (RDS's events record it too)"),
                )),
            },
            None => checks.push(Check::new(
                "record",
                Outcome::Warn,
                "RDS listed no ARN for the instance: not tagged; the change goes ahead",
            )),
        }

        match self.storage.modify_storage(id, &modification).await {
            Ok(after) => {
                checks.push(Check::new(
                    "change",
                    Outcome::Pass,
                    format!(
                        "ModifyDBInstance accepted: {} (applied immediately; now {})",
                        checks::action_words(&verdict.action),
                        after.status
                    ),
                ));
                let summary = summary_of(&format!(
                    "{}{}",
                    checks::action_words(&verdict.action),
                    if checks::any_failed(&checks) {
                        " (critical: see the decision)"
                    } else {
                        ""
                    }
                ));
                finish(
                    checks,
                    summary,
                    checks::result(
                        st,
                        verdict,
                        "changed",
                        Some(&after),
                        snapshot_id.as_deref(),
                        next,
                    ),
                )
            }
            Err(e) => {
                // No answer: the change may have been made. Look before saying it was not.
                let seen = match self.storage.describe_storage(id).await {
                    Ok(now)
                        if !now.pending.is_empty()
                            || now.allocated_gib != st.allocated_gib
                            || now.max_allocated_gib != st.max_allocated_gib =>
                    {
                        Some(now)
                    }
                    _ => None,
                };
                match seen {
                    Some(after) => {
                        checks.push(Check::new(
                            "change",
                            Outcome::Warn,
                            format!("ModifyDBInstance answered {e}, but the instance shows the change ({} GiB, pending {:?}): counted as made", after.allocated_gib, after.pending),
                        ));
                        finish(
                            checks,
                            summary_of(&checks::action_words(&verdict.action)),
                            checks::result(
                                st,
                                verdict,
                                "changed",
                                Some(&after),
                                snapshot_id.as_deref(),
                                next,
                            ),
                        )
                    }
                    None => {
                        // RDS answered with an error: nothing changed, and the record says so
                        // (else it would hold the next change back six hours). Without an
                        // answer the record stays: it may have been made.
                        if e.code().is_some() {
                            if let Some(arn) = &st.arn {
                                let failed = checks::change_tag_value(
                                    run.now,
                                    RECORD_FAILED,
                                    &verdict.action,
                                    &invocation.request_id,
                                );
                                if let Err(tag_error) = self
                                    .storage
                                    .tag_instance(arn, &[(CHANGE_TAG.to_string(), failed)])
                                    .await
                                {
                                    checks.push(Check::new(
                                        "record",
                                        Outcome::Warn,
                                        format!("the record could not be marked failed ({tag_error}): the next run waits six hours before trying again"),
                                    ));
                                }
                            }
                        }
                        checks.push(Check::new(
                            "change",
                            Outcome::Fail,
                            format!(
                                "ModifyDBInstance failed: {e}; the storage was not changed{}",
                                snapshot_id
                                    .as_deref()
                                    .map(|s| format!(" (snapshot {s} was started)"))
                                    .unwrap_or_default()
                            ),
                        ));
                        finish(
                            checks,
                            summary_of(&format!(
                                "could not {}: {e}",
                                checks::action_words(&verdict.action)
                            )),
                            checks::result(
                                st,
                                verdict,
                                "failed",
                                None,
                                snapshot_id.as_deref(),
                                next,
                            ),
                        )
                    }
                }
            }
        }
    }
}

/// Nothing about the instance's storage moved since `before` was read (ours or anyone's).
fn same_storage(before: &StorageInfo, now: &StorageInfo) -> bool {
    before.allocated_gib == now.allocated_gib
        && before.max_allocated_gib == now.max_allocated_gib
        && before.pending == now.pending
        && before.tags.get(CHANGE_TAG) == now.tags.get(CHANGE_TAG)
        && before.status.eq_ignore_ascii_case(&now.status)
}
