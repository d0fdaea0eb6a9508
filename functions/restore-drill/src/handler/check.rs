//! A drill's check and cleanup: take the step (compare-and-swap on its job), read the restore
//! and its source, judge, keep the findings in the job, delete the scratch copy (an instance, or
//! an Aurora drill's instance and cluster), and report every check with the RTO in stages and
//! the RPO. A table's check is in `table`.

use chrono::{SecondsFormat, Utc};
use serde_json::Value;

use rds_responder::backups::TableBackups;
use rds_responder::job::{JobStore, Lease, Swap};
use rds_responder::ledger::Ledger;
use rds_responder::recovery::{RecoveryInfo, RestoreControl};
use rds_responder::report::{Check, Outcome};
use rds_responder::restore_testing::RestoreJobs;
use rds_responder::run::RunContext;
use rds_responder::runner::Invocation;
use rds_responder::sql::verify::DataInspector;
use rds_responder::sql::Engine;
use rds_responder::table_recovery::TableRestores;
use rds_responder::trigger::{RdsIdentifier, ResourceKind};

use super::cleanup::cost_check;
use super::reads::FirstReads;
use super::{drill_key, facts_of, state_of, DrillState, RestoreDrill, FUNCTION};
use crate::checks;
use crate::policy::drill::{
    check_refusal, named_as_scratch, tagged_source, Step, SCRATCH_TAG, SOURCE_TAG,
};
use crate::policy::verdict::{compare, observed_rpo, rto, ReadSpeed, Timeline};
use crate::request::Subject;

/// What a check step says: its checks, the summary line, the result.
pub type Told = (Vec<Check>, String, Option<Value>);

fn told(name: &str, outcome: Outcome, detail: String) -> Told {
    let summary = detail.clone();
    (vec![Check::new(name, outcome, detail)], summary, None)
}

impl<R, B, T, D, J, V> RestoreDrill<R, B, T, D, J, V>
where
    R: RestoreControl,
    B: TableBackups,
    T: TableRestores,
    D: DataInspector,
    J: JobStore,
    V: RestoreJobs,
{
    pub(super) async fn check_drill(
        &self,
        scratch_id: &RdsIdentifier,
        available_at: Option<chrono::DateTime<Utc>>,
        because: &str,
        run: &RunContext<'_, '_, impl Ledger>,
        invocation: &Invocation,
    ) -> Told {
        let name = format!("drill {scratch_id}");
        let scratch = match self.rds.describe_recovery(scratch_id).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                return told(
                    &name,
                    Outcome::Skipped,
                    format!("{scratch_id} is gone: nothing to check ({because})"),
                )
            }
            Err(e) => return told(&name, Outcome::Fail, format!("{e}; not checked")),
        };
        if let Some(told) = self.validation_of(&scratch, because, run, invocation).await {
            return told;
        }
        let ours = named_as_scratch(scratch_id.as_str())
            && scratch.tags.get(SCRATCH_TAG).map(String::as_str) == Some(scratch_id.as_str());
        // An instance drill's scratch names an instance; an Aurora drill's names its cluster.
        let Some(source) = tagged_source(&scratch.tags)
            .filter(|s| match s {
                Subject::Instance(_) => scratch.cluster.is_none(),
                Subject::Cluster(_) => scratch.cluster.as_deref() == Some(scratch_id.as_str()),
                Subject::Table(_) => false,
            })
            .filter(|_| ours)
        else {
            return told(
                &name,
                Outcome::Skipped,
                format!("{scratch_id} lacks this drill's tags ({SCRATCH_TAG}, {SOURCE_TAG}): not a drill of ours, not touched"),
            );
        };
        let key = drill_key(&source);
        let job = match self.jobs.load(FUNCTION, &key).await {
            Ok(Some(job)) if job.run == scratch_id.as_str() => job,
            Ok(_) => {
                return told(
                    &name,
                    Outcome::Skipped,
                    format!(
                        "no drill record names {scratch_id}: the sweep deletes it at its expiry"
                    ),
                )
            }
            Err(e) => return told(&name, Outcome::Fail, format!("{e}; not checked")),
        };
        let facts = facts_of(&job);
        if let Some(reason) = check_refusal(&facts, &invocation.request_id, run.now) {
            return told(&name, Outcome::Skipped, format!("{reason}; {because}"));
        }
        if scratch.status != "available" {
            return told(
                &name,
                Outcome::Skipped,
                format!(
                    "{scratch_id} is {} (not available yet): the next event or sweep checks it",
                    scratch.status
                ),
            );
        }
        let Some(mut state) = state_of(&job) else {
            return told(
                &name,
                Outcome::Fail,
                format!("the drill record of {scratch_id} is unreadable; not checked"),
            );
        };
        state.available_at = state.available_at.or(available_at).or(Some(run.now));
        let mut taken = job.clone();
        taken.step = Step::Checking.as_str().into();
        taken.lease = Some(Lease {
            holder: invocation.request_id.clone(),
            until: invocation.deadline,
        });
        taken.state = serde_json::to_value(&state).unwrap_or_default();
        let version = match self.jobs.swap(FUNCTION, &taken, Some(job.version)).await {
            Ok(Swap::Written(v)) => v,
            Ok(Swap::Lost(_)) => {
                return told(
                    &name,
                    Outcome::Skipped,
                    format!("another run took the check of {scratch_id}"),
                )
            }
            Err(e) => return told(&name, Outcome::Fail, format!("{e}; not checked")),
        };
        let mut checks = self
            .read_and_judge(&scratch, &source, &mut state, run)
            .await;
        let failed = checks.iter().any(|c| c.outcome == Outcome::Fail);
        state.outcome = Some(if failed { "failed" } else { "passed" }.into());
        state.checks = checks.clone();
        taken.step = Step::Cleaning.as_str().into();
        taken.state = serde_json::to_value(&state).unwrap_or_default();
        let version = match self.jobs.swap(FUNCTION, &taken, Some(version)).await {
            Ok(Swap::Written(v)) => Some(v),
            _ => None,
        };
        let (cleanup, cleaned) = match &source {
            Subject::Cluster(_) => self.clean_up_cluster(scratch_id, &source, run).await,
            _ => {
                let check = self.clean_up(scratch_id, &source, run).await;
                let done = check.outcome == Outcome::Pass;
                (check, done)
            }
        };
        checks.push(cleanup);
        if let (true, Some(v)) = (cleaned, version) {
            self.finish(&mut taken, v).await;
        }
        checks.push(cost_check(&state, run.now));
        let summary = checks::drill_summary(
            scratch_id.as_str(),
            &source.to_string(),
            failed,
            state.rto_seconds,
            state.rpo_seconds,
            cleaned,
        );
        let result = checks::drill_result(
            scratch_id.as_str(),
            &source.tag_value(),
            if cleaned {
                Step::Done.as_str()
            } else {
                Step::Cleaning.as_str()
            },
            state.outcome.as_deref().unwrap_or("failed"),
            state.rto_seconds,
            state.rpo_seconds,
        );
        (checks, summary, Some(result))
    }

    /// Reads the restore and its source and judges them.
    pub(super) async fn read_and_judge(
        &self,
        scratch: &RecoveryInfo,
        source_subject: &Subject,
        state: &mut DrillState,
        run: &RunContext<'_, '_, impl Ledger>,
    ) -> Vec<Check> {
        let source_id = &match source_subject.db() {
            Some(db) => db.id().clone(),
            None => scratch.db.id().clone(),
        };
        let mut checks = vec![Check::new(
            "restore",
            Outcome::Pass,
            format!(
                "{} restored from {} (recovery point {})",
                scratch.db.id(),
                state.restore_from,
                state
                    .recovery_point
                    .to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
        )];
        let described = match source_subject {
            Subject::Cluster(_) => self.rds.describe_cluster(source_id).await,
            _ => self.rds.describe_recovery(source_id).await,
        };
        let source = match described {
            Ok(Some(s)) => Some(s),
            Ok(None) => {
                checks.push(Check::new(
                    "source",
                    Outcome::Warn,
                    format!("{source_id} is gone: nothing to compare with"),
                ));
                None
            }
            Err(e) => {
                checks.push(Check::new(
                    "source",
                    Outcome::Warn,
                    format!("{e}: nothing to compare with"),
                ));
                None
            }
        };
        // An Aurora drill's placement is its cluster's.
        let placed = match (source_subject, &scratch.cluster) {
            (Subject::Cluster(_), Some(cluster)) => {
                let id = RdsIdentifier::parse(cluster, ResourceKind::DbCluster).ok();
                match id {
                    Some(id) => self.rds.describe_cluster(&id).await.ok().flatten(),
                    None => None,
                }
            }
            _ => Some(scratch.clone()),
        };
        if let Some(placement) = source.as_ref().and_then(|s| s.placement.as_ref()) {
            let findings = match &placed {
                Some(placed) => checks::placement_findings(placement, placed),
                None => vec!["the scratch cluster could not be described".into()],
            };
            checks.push(checks::placement_check(&findings));
        }
        let Some(engine) = Engine::from_rds(&scratch.engine) else {
            checks.push(Check::new(
                "connect",
                Outcome::Fail,
                format!("engine {} is not one the checks speak", scratch.engine),
            ));
            return checks;
        };
        let Some(endpoint) = scratch.endpoint.clone() else {
            checks.push(Check::new(
                "connect",
                Outcome::Fail,
                "the restore lists no endpoint",
            ));
            return checks;
        };
        let plan = self.config.checks_for(source_id.as_str());
        let target = self
            .endpoints
            .target_for(scratch.db.id().as_str(), &endpoint);
        let restored = match self.data.inspect(engine, &target, &plan.spec).await {
            Ok(r) => r,
            Err(e) => {
                checks.push(Check::new(
                    "select 1",
                    Outcome::Fail,
                    format!("the restore did not answer: {e}"),
                ));
                return checks;
            }
        };
        let first_query = Utc::now().max(run.now);
        checks.push(Check::new(
            "select 1",
            Outcome::Pass,
            format!("answered in {:.1} ms", restored.select_one_ms),
        ));
        let source_read = match source.as_ref().and_then(|s| s.endpoint.clone()) {
            Some(e) => {
                let target = self.endpoints.target_for(source_id.as_str(), &e);
                self.data
                    .inspect(engine, &target, &plan.spec)
                    .await
                    .map_err(|e| e.to_string())
            }
            None => Err("the source lists no endpoint".into()),
        };
        let mut read_speed = ReadSpeed::Untimed("no tables are counted".into());
        match &source_read {
            Ok(source_read) => {
                for v in compare(
                    source_read,
                    &restored,
                    plan.row_tolerance_percent,
                    plan.slow_read_factor,
                ) {
                    if v.name != "reads" {
                        checks.push(checks::verdict_check(&v));
                        continue;
                    }
                    let first = FirstReads {
                        engine,
                        target: &target,
                        spec: &plan.spec,
                        source_ms: source_read.read_ms,
                        restored_ms: restored.read_ms,
                        factor: plan.slow_read_factor,
                        at: first_query,
                    };
                    let (v, speed, rereads) = self.reads_back_to_normal(first, run).await;
                    read_speed = speed;
                    checks.push(checks::reads_check(&v, rereads));
                }
            }
            Err(e) => {
                read_speed = ReadSpeed::Untimed("the source could not be read".into());
                checks.push(Check::new(
                    "compare",
                    Outcome::Warn,
                    format!("the source could not be read ({e}): nothing compared"),
                ));
                for (name, result) in &restored.sql_checks {
                    checks.push(checks::verdict_check(&crate::policy::verdict::sql_check(
                        name, result,
                    )));
                }
            }
        }
        if let Some(restored_newest) = &restored.newest {
            let source_newest = source_read.as_ref().ok().and_then(|s| s.newest.clone());
            match (restored_newest, source_newest) {
                (Ok(r), Some(Ok(s))) => {
                    let (v, lost) = observed_rpo(
                        state.started_at,
                        s,
                        *r,
                        state.point_in_time,
                        self.config.rpo_target,
                    );
                    state.rpo_seconds = lost;
                    checks.push(checks::verdict_check(&v));
                }
                (Ok(r), _) => {
                    let (v, lost) = observed_rpo(
                        state.started_at,
                        None,
                        *r,
                        state.point_in_time,
                        self.config.rpo_target,
                    );
                    state.rpo_seconds = lost;
                    checks.push(checks::verdict_check(&v));
                }
                (Err(e), _) => checks.push(Check::new(
                    "observed rpo",
                    Outcome::Fail,
                    format!("the newest value could not be read in the restore: {e}"),
                )),
            }
        }
        let timeline = Timeline {
            started: state.started_at,
            cluster_available: state.cluster_available_at,
            available: state.available_at.unwrap_or(run.now),
            first_query,
        };
        let (verdict, stages) = rto(&timeline, &read_speed, self.config.rto_target);
        // A restore still reading slowly has no RTO yet: its usable time is unmeasured.
        let usable = stages.last().filter(|_| read_speed != ReadSpeed::Slow);
        state.rto_seconds = usable.map(|s| s.seconds);
        checks.push(
            checks::verdict_check(&verdict).with_data(checks::stages_data(
                &stages,
                self.config.rto_target.num_seconds(),
            )),
        );
        checks
    }
}
