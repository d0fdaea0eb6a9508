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
use rds_responder::metrics::{db_resource_name, STORAGE_FULL_IN_HOURS};
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
use crate::policy::plan::{decide_storage, Ask, Situation, Verdict};
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
        // Hours to full for the dashboard; none when the forecast sees it never filling.
        let full_in = forecast.as_ref().and_then(|f| f.full_at).map(|at| {
            let hours = (at - run.now).num_seconds().max(0) as f64 / 3600.0;
            STORAGE_FULL_IN_HOURS.of(db_resource_name(&target), hours)
        });

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
        findings.metrics.extend(full_in);
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
}

mod act;
mod sweep;
