//! The run: for each instance the decision names, read (describe, valid sizes, events, metric
//! history, what grew), decide (pure), then act through the guard: snapshot first, our record
//! on the instance, the change; and one report.

use std::collections::BTreeMap;

use chrono::Duration;

use rds_responder::backups::SnapshotCatalog;
use rds_responder::cloudwatch::{MetricHistory, Series};
use rds_responder::config::EndpointMap;
use rds_responder::guard::{db_resource, ActionGuard};
use rds_responder::ledger::Ledger;
use rds_responder::rds::{DbInventory, RdsError};
use rds_responder::report::{Check, Findings, Outcome, Status};
use rds_responder::run::RunContext;
use rds_responder::runner::{Invocation, Responder};
use rds_responder::safety::GateVerdict;
use rds_responder::sql::space::SpaceInspector;
use rds_responder::sql::Engine;
use rds_responder::storage::{StorageControl, StorageInfo};
use rds_responder::trigger::{DbTarget, RdsIdentifier, ResourceKind, TargetList, Trigger};
use snapshotter::handler::PreChangeSnapshots;
use snapshotter::policy::{creation_tags, pre_change_snapshot_id, PreChange};

use crate::checks::{self, CHANGE_TAG};
use crate::config::GuardConfig;
use crate::policy::changes::{
    next_change, past_changes, read_record, NextChange, RECORD_FAILED, RECORD_SENT,
};
use crate::policy::forecast::{forecast, with_added_space, Forecast};
use crate::policy::plan::{decide_storage, Action, Ask, Situation, Verdict};
use crate::policy::sizing::rules_for;
use crate::policy::{decide, Decision};
use crate::request::ManualGrow;

/// The metric history a forecast reads, and its resolution.
pub const HISTORY_HOURS: i64 = 24;
pub const PERIOD_SECONDS: i32 = 300;
/// The longest the metric history may take: a silent CloudWatch leaves the rest of the run
/// its time.
pub const HISTORY_LIMIT: std::time::Duration = std::time::Duration::from_secs(8);
/// DescribeEvents keeps 14 days.
pub const EVENT_MINUTES: i32 = 14 * 24 * 60;

pub struct StorageGuard<S, C, M, I, D> {
    pub storage: S,
    pub snapshots: C,
    pub metrics: M,
    pub inventory: I,
    pub space: D,
    pub endpoints: EndpointMap,
    pub config: GuardConfig,
}

/// What one instance's run is about.
struct Job<'a> {
    /// When the run began: the decision check says how long it took to get there.
    started: std::time::Instant,
    /// One instance, the run's only work: a run that did nothing may give its claim back for a
    /// retry. A sweep never does once it may have acted on another instance.
    single: bool,
    ask: Ask,
    dry_run: bool,
    because: &'a str,
}

impl<S, C, M, I, D> Responder for StorageGuard<S, C, M, I, D>
where
    S: StorageControl,
    C: SnapshotCatalog,
    M: MetricHistory,
    I: DbInventory,
    D: SpaceInspector,
{
    type Manual = ManualGrow;
    type Schedule = TargetList;
    const FUNCTION: &'static str = "storage-guard";

    async fn respond<L: Ledger>(
        &self,
        trigger: &Trigger<ManualGrow>,
        invocation: &Invocation,
        guard: &ActionGuard<'_, L>,
    ) -> Findings {
        let started = std::time::Instant::now();
        let run = RunContext::new(guard, invocation);
        match decide(trigger, &self.config) {
            Decision::Skip { target, reason } => Findings::skipped(target, reason),
            Decision::Cluster { id, because } => Findings::new(
                Some(DbTarget::Cluster(id.clone())),
                vec![Check::new(
                    "aurora",
                    Outcome::Warn,
                    format!(
                        "{because}: Aurora cluster {id} grows its storage by itself (up to 128 TiB); nothing to change. Look at what grows (the largest tables, long-running transactions holding old row versions)"
                    ),
                )],
                format!("db-cluster {id}: Aurora storage low, reported (Aurora grows by itself)"),
            ),
            Decision::Instance {
                id,
                ask,
                dry_run,
                because,
            } => {
                let job = Job {
                    started,
                    single: true,
                    ask,
                    dry_run,
                        because: &because,
                };
                let listed = match self.storage.describe_storage(&id).await {
                    Ok(st) => st,
                    Err(e) => return describe_failed(&id, &e),
                };
                let history = self.history(std::slice::from_ref(&id), &run).await;
                self.guard_instance(&listed, &job, history.as_ref().map(|h| h.get(id.as_str())), &run, invocation)
                    .await
            }
            Decision::Sweep {
                only,
                dry_run,
                because,
            } => {
                self.sweep(&only, dry_run, &because, &run, invocation, started)
                    .await
            }
        }
    }
}

/// The lock a storage change takes: one per instance, apart from other functions' database
/// locks (a grow never waits for an idle-session reap, nor blocks one).
pub fn storage_lock(target: &DbTarget) -> String {
    format!("storage#{}", db_resource(target))
}

fn describe_failed(id: &RdsIdentifier, e: &RdsError) -> Findings {
    let target = DbTarget::Instance(id.clone());
    let mut findings = Findings::new(
        Some(target.clone()),
        vec![Check::new(
            "describe",
            Outcome::Fail,
            format!("{e}; nothing was changed"),
        )],
        format!("{target}: could not be described, nothing changed"),
    );
    if !matches!(e, RdsError::NotFound { .. }) {
        findings.retry = Some(e.to_string());
    }
    findings
}

impl<S, C, M, I, D> StorageGuard<S, C, M, I, D>
where
    S: StorageControl,
    C: SnapshotCatalog,
    M: MetricHistory,
    I: DbInventory,
    D: SpaceInspector,
{
    async fn history(
        &self,
        ids: &[RdsIdentifier],
        run: &RunContext<'_, '_, impl Ledger>,
    ) -> Result<BTreeMap<String, Series>, String> {
        let end = run.now;
        let start = end - Duration::hours(HISTORY_HOURS);
        let names: Vec<String> = ids.iter().map(ToString::to_string).collect();
        // The forecast refines the decision: it never takes the time a change needs.
        let read = self
            .metrics
            .rds_history("FreeStorageSpace", &names, start, end, PERIOD_SECONDS);
        match rds_responder::budget::limited("CloudWatch GetMetricData", Some(HISTORY_LIMIT), read)
            .await
        {
            Ok(history) => history.map_err(|e| e.to_string()),
            Err(cut) => Err(cut.to_string()),
        }
    }

    /// One instance: the gate, the reads that refine the decision, the decision, the action.
    async fn guard_instance<L: Ledger>(
        &self,
        st: &StorageInfo,
        job: &Job<'_>,
        history: Result<Option<&Series>, &String>,
        run: &RunContext<'_, '_, L>,
        invocation: &Invocation,
    ) -> Findings {
        let id = match RdsIdentifier::parse(&st.id, ResourceKind::DbInstance) {
            Ok(id) => id,
            Err(rule) => {
                return Findings::skipped(
                    None::<DbTarget>,
                    format!("RDS lists an instance {:?} that {rule}", st.id),
                )
            }
        };
        let target = DbTarget::Instance(id.clone());
        let gate = self.config.gate.check::<String>(Ok(&st.tags));
        // Opted out: not even read. Not opted in: forecast and reported, never changed.
        let may_change = match &gate {
            GateVerdict::Allowed => true,
            GateVerdict::OptedOut { .. } => {
                return Findings::skipped(Some(target), format!("{}: {gate}", st.id))
            }
            GateVerdict::NotOptedIn { .. } | GateVerdict::Unreadable { .. } => false,
        };
        let mut checks = vec![checks::describe(st)];

        let (mut forecast, history_failure): (Option<Forecast>, Option<String>) = match history {
            Ok(series) => (series.and_then(|s| forecast(s)), None),
            Err(e) => (None, Some(e.clone())),
        };
        // Our own change, newer than the metric: its space counts as free already.
        let record = st.tags.get(CHANGE_TAG).and_then(|t| read_record(t));
        if let (Some(f), Some(r)) = (&forecast, &record) {
            if let (true, Some((from, to))) = (r.sent, r.grew) {
                forecast = Some(with_added_space(f, f64::from(to - from), r.at));
            }
        }
        checks.push(checks::forecast_check(
            forecast.as_ref(),
            history_failure.as_deref(),
            st.allocated_gib,
        ));

        // A sweep looks closer only at what fills within its horizon: the rest costs no more
        // reads (nor a database session).
        let horizon = chrono::Duration::hours(i64::from(self.config.limits.act_within_hours));
        let light = job.ask == Ask::Sweep
            && forecast
                .as_ref()
                .and_then(|f| f.full_at)
                .is_none_or(|t| t > run.now + horizon);
        let (rules, next, events_read) = if light {
            let changes = past_changes(&[], st.tags.get(CHANGE_TAG).map(String::as_str));
            let next = next_change(&st.status, &changes, run.now);
            (None, next, true)
        } else {
            // Reads that refine the decision: a failure is reported and never stops a change that
            // saves the database.
            let (reported, valid_failure) = match self.storage.valid_storage(&id).await {
                Ok(list) => (list, None),
                Err(e) => (Vec::new(), Some(e.to_string())),
            };
            let rules = rules_for(
                &st.storage_type,
                match &valid_failure {
                    Some(e) => Err(e.as_str()),
                    None => Ok(reported.as_slice()),
                },
            );
            checks.push(checks::rules_check(rules.as_ref()));

            let (events, events_failure) = match self
                .inventory
                .recent_events("db-instance", &id, EVENT_MINUTES)
                .await
            {
                Ok(e) => (e, None),
                Err(e) => (Vec::new(), Some(e.to_string())),
            };
            let changes = past_changes(&events, st.tags.get(CHANGE_TAG).map(String::as_str));
            let next = next_change(&st.status, &changes, run.now);
            checks.push(checks::changes_check(
                &next,
                &changes,
                events_failure.as_deref(),
                run.now,
            ));
            let events_read = events_failure.is_none();
            (rules, next, events_read)
        };
        let verdict = decide_storage(
            &Situation {
                storage: st,
                rules: rules.as_ref(),
                next: &next,
                forecast: forecast.as_ref(),
                events_read,
                now: run.now,
                ask: job.ask,
            },
            &self.config.limits,
        );
        // How long from the trigger to the decision (the run's reads): a figure `make bench`
        // reads.
        checks.push(checks::decision_check(&verdict).timed(job.started));
        if !light {
            if let Some(space) = self.what_grew(st).await {
                checks.push(space);
            }
        }

        let mut findings = self
            .act(
                st, &id, &verdict, &next, job, may_change, &gate, run, invocation, checks,
            )
            .await;
        findings.target = Some(target.into());
        findings
    }

    /// Asks the database what fills it, when it can be reached; never fails the run.
    async fn what_grew(&self, st: &StorageInfo) -> Option<Check> {
        let engine = Engine::from_rds(&st.engine)?;
        let endpoint = st.endpoint.as_ref()?;
        if st.status.eq_ignore_ascii_case("storage-full") {
            return Some(checks::space_check(Err(
                "it is storage-full and does not accept connections".into(),
            )));
        }
        let connect_to = self.endpoints.target_for(&st.id, endpoint);
        Some(match self.space.space(engine, &connect_to).await {
            Ok(report) => checks::space_check(Ok(&report)),
            Err(e) => checks::space_check(Err(e.to_string())),
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn act<L: Ledger>(
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
        let finish = |checks: Vec<Check>, summary: String, result: serde_json::Value| {
            let mut f = Findings::new(Some(target.clone()), checks, summary);
            f.result = Some(result);
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
                format!("would {}; not done ({why})", words(&verdict.action)),
            ));
            let mut findings = finish(
                checks,
                summary_of(&format!("would {} ({why})", words(&verdict.action))),
                checks::result(st, verdict, "planned", None, None, next),
            );
            // A critical forecast is still critical when nothing may be changed.
            if !checks_fail(&findings.checks) {
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
                tag_words(&verdict.action),
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
                        words(&verdict.action),
                        after.status
                    ),
                ));
                let summary = summary_of(&format!(
                    "{}{}",
                    words(&verdict.action),
                    if checks_fail(&checks) {
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
                            summary_of(&words(&verdict.action)),
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
                            summary_of(&format!("could not {}: {e}", words(&verdict.action))),
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

    /// A sweep: every listed (or opted-in) instance forecast, each acted on only where the
    /// forecast reaches full within the horizon or before the next allowed change.
    async fn sweep<L: Ledger>(
        &self,
        only: &[RdsIdentifier],
        dry_run: bool,
        because: &str,
        run: &RunContext<'_, '_, L>,
        invocation: &Invocation,
        started: std::time::Instant,
    ) -> Findings {
        let all = match self.storage.list_storage().await {
            Ok(all) => all,
            Err(e) => {
                let mut findings = Findings::new(
                    None::<DbTarget>,
                    vec![Check::new(
                        "list",
                        Outcome::Fail,
                        format!("{e}; nothing was changed"),
                    )],
                    "sweep: instances could not be listed, nothing changed",
                );
                findings.retry = Some(e.to_string());
                return findings;
            }
        };
        let chosen: Vec<&StorageInfo> = all
            .iter()
            .filter(|st| {
                if only.is_empty() {
                    self.config.gate.check::<String>(Ok(&st.tags)).allowed()
                } else {
                    only.iter()
                        .any(|id| id.as_str().eq_ignore_ascii_case(&st.id))
                }
            })
            .collect();
        let missing: Vec<String> = only
            .iter()
            .filter(|id| {
                !all.iter()
                    .any(|st| id.as_str().eq_ignore_ascii_case(&st.id))
            })
            .map(ToString::to_string)
            .collect();
        let ids: Vec<RdsIdentifier> = chosen
            .iter()
            .filter_map(|st| RdsIdentifier::parse(&st.id, ResourceKind::DbInstance).ok())
            .collect();
        let history = if ids.is_empty() {
            Ok(BTreeMap::new())
        } else {
            self.history(&ids, run).await
        };
        let job = Job {
            started,
            single: false,
            ask: Ask::Sweep,
            dry_run,
            because,
        };
        let mut checks = Vec::new();
        let mut summaries = Vec::new();
        let mut retry = None;
        let mut results = Vec::new();
        for (i, st) in chosen.iter().enumerate() {
            if !run.time_left() {
                let left: Vec<&str> = chosen[i..].iter().map(|s| s.id.as_str()).collect();
                checks.push(Check::new(
                    "not-reached",
                    Outcome::Fail,
                    format!(
                        "stopped before the invocation deadline; not looked at: {}",
                        left.join(", ")
                    ),
                ));
                break;
            }
            let one = self
                .guard_instance(
                    st,
                    &job,
                    history.as_ref().map(|h| h.get(st.id.as_str())),
                    run,
                    invocation,
                )
                .await;
            checks.extend(one.checks.into_iter().map(|mut c| {
                c.name = format!("{}: {}", st.id, c.name);
                c
            }));
            summaries.push(one.summary);
            retry = retry.or(one.retry);
            results.extend(one.result);
        }
        if !missing.is_empty() {
            checks.push(Check::new(
                "not-found",
                Outcome::Fail,
                format!(
                    "the schedule names instances RDS does not list: {}",
                    missing.join(", ")
                ),
            ));
        }
        if chosen.is_empty() && missing.is_empty() {
            return Findings::skipped(
                None::<DbTarget>,
                format!(
                    "sweep: no instance is opted in (tag {}=on); nothing to forecast",
                    self.config.gate.opt_in_tag.as_deref().unwrap_or("(none)")
                ),
            );
        }
        let mut findings = Findings::new(
            None::<DbTarget>,
            checks,
            format!(
                "sweep of {} instances: {}",
                chosen.len(),
                summaries.join("; ")
            ),
        );
        // A sweep that may have acted on one instance never asks for a retry: the next
        // scheduled run looks again.
        findings.retry = retry.filter(|_| !run.guard.acted());
        findings.result = Some(serde_json::json!({ "instances": results }));
        if dry_run
            && !checks_fail(&findings.checks)
            && findings
                .checks
                .iter()
                .any(|c| c.outcome == Outcome::Planned)
        {
            findings.status = Some(Status::DryRun);
        }
        findings
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

/// The action in words a tag value takes (RDS allows no `>`).
fn tag_words(action: &Action) -> String {
    match action {
        Action::None => "no change".into(),
        Action::RaiseMaximum { from_gib, to_gib } => {
            format!("raising the autoscaling maximum from {from_gib} to {to_gib} GiB")
        }
        Action::Grow {
            from_gib, to_gib, ..
        } => {
            format!("growing from {from_gib} to {to_gib} GiB")
        }
    }
}

fn checks_fail(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.outcome == Outcome::Fail)
}

fn words(action: &Action) -> String {
    match action {
        Action::None => "change nothing".into(),
        Action::RaiseMaximum { from_gib, to_gib } => {
            format!("raise the autoscaling maximum {from_gib} -> {to_gib} GiB")
        }
        Action::Grow {
            from_gib,
            to_gib,
            max_to_gib,
            iops,
            throughput_mibps,
        } => {
            let mut s = format!("grow {from_gib} -> {to_gib} GiB");
            if let Some(m) = max_to_gib {
                s.push_str(&format!(", autoscaling maximum {m} GiB"));
            }
            if let Some(i) = iops {
                s.push_str(&format!(", {i} IOPS"));
            }
            if let Some(t) = throughput_mibps {
                s.push_str(&format!(", {t} MiB/s"));
            }
            s
        }
    }
}
