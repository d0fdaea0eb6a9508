//! The sweep: every scratch instance (named or tagged as one), what its drill's record says,
//! and the one thing to do about it (check it, wait, fail a late drill, delete, or leave it
//! alone). It deletes only what carries both the drill tag and the drill name, and never
//! anything else.

use chrono::DateTime;

use rds_responder::backups::TableBackups;
use rds_responder::job::{JobStore, Swap};
use rds_responder::ledger::Ledger;
use rds_responder::recovery::RestoreControl;
use rds_responder::report::{Check, Findings, Outcome};
use rds_responder::run::RunContext;
use rds_responder::runner::Invocation;
use rds_responder::sql::verify::DataInspector;
use rds_responder::trigger::DbTarget;
use rds_responder::trigger::Target;

use super::check::tagged_source;
use super::{drill_key, facts_of, list_failed, state_of, RestoreDrill, FUNCTION};
use crate::policy::drill::{
    named_as_scratch, sweep_action, ScratchFacts, Step, SweepAction, EXPIRES_TAG, SCRATCH_TAG,
};

impl<R, B, D, J> RestoreDrill<R, B, D, J>
where
    R: RestoreControl,
    B: TableBackups,
    D: DataInspector,
    J: JobStore,
{
    pub(super) async fn sweep(
        &self,
        dry_run: bool,
        because: &str,
        run: &RunContext<'_, '_, impl Ledger>,
        invocation: &Invocation,
    ) -> Findings {
        let listed = match self.rds.list_recovery().await {
            Ok(l) => l,
            Err(e) => return list_failed("listing DB instances", &e),
        };
        let scratches: Vec<_> = listed
            .iter()
            .filter(|i| matches!(i.db, DbTarget::Instance(_)))
            .filter(|i| named_as_scratch(i.db.id().as_str()) || i.tags.contains_key(SCRATCH_TAG))
            .collect();
        let mut checks = Vec::new();
        let mut result = None;
        for scratch in scratches {
            let id = scratch.db.id();
            let name = format!("scratch {id}");
            if !run.time_left() {
                checks.push(Check::new(
                    name,
                    Outcome::Skipped,
                    "not looked at: the run's time is up",
                ));
                continue;
            }
            let source = tagged_source(scratch);
            // Fail closed: without its drill's record, nothing but an expired instance is touched.
            let job = match &source {
                Some(source) => match self.jobs.load(FUNCTION, &drill_key(source)).await {
                    Ok(job) => job,
                    Err(e) => {
                        checks.push(Check::new(name, Outcome::Fail, format!("{e}; left alone")));
                        continue;
                    }
                },
                None => None,
            };
            let facts = ScratchFacts {
                id: id.to_string(),
                status: scratch.status.clone(),
                drill_tag: scratch.tags.get(SCRATCH_TAG).cloned(),
                expires: scratch
                    .tags
                    .get(EXPIRES_TAG)
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.to_utc()),
            };
            let drill = job.as_ref().map(facts_of);
            match sweep_action(&facts, drill.as_ref(), &invocation.request_id, run.now) {
                SweepAction::Check if dry_run => {
                    checks.push(Check::new(
                        name,
                        Outcome::Planned,
                        "would check it (its event never came)",
                    ));
                }
                SweepAction::Check => {
                    let (found, _, told) = self
                        .check_drill(
                            id,
                            None,
                            "the sweep (its event never came)",
                            run,
                            invocation,
                        )
                        .await;
                    checks.extend(found);
                    result = told.or(result);
                }
                SweepAction::Wait(why) => checks.push(Check::new(
                    name,
                    Outcome::Pass,
                    format!("left to its drill: {why}"),
                )),
                SweepAction::Leave(why) => checks.push(Check::new(name, Outcome::Warn, why)),
                SweepAction::FailLate | SweepAction::Delete(_) if dry_run => {
                    checks.push(Check::new(name, Outcome::Planned, "would delete it"));
                }
                SweepAction::FailLate => {
                    let source = source.as_ref().map_or_else(|| id.clone(), Clone::clone);
                    if let Some(mut job) = job {
                        let mut state = state_of(&job);
                        if let Some(s) = state.as_mut() {
                            s.outcome = Some("failed".into());
                        }
                        let version = job.version;
                        job.step = Step::Cleaning.as_str().into();
                        job.lease = None;
                        job.state = serde_json::to_value(&state).unwrap_or_default();
                        if let Ok(Swap::Lost(_)) | Err(_) =
                            self.jobs.swap(FUNCTION, &job, Some(version)).await
                        {
                            checks.push(Check::new(
                                name,
                                Outcome::Skipped,
                                "its drill changed meanwhile: left to the next sweep",
                            ));
                            continue;
                        }
                    }
                    checks.push(Check::new(
                        format!("drill {id}"),
                        Outcome::Fail,
                        format!(
                            "did not finish by its deadline ({})",
                            drill
                                .map(|d| d
                                    .deadline
                                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                                .unwrap_or_default()
                        ),
                    ));
                    let cleanup = self.clean_up(id, &source, run).await;
                    self.mark_done_if_clean(&cleanup, &source).await;
                    checks.push(cleanup);
                }
                SweepAction::Delete(why) => {
                    let source = source.as_ref().map_or_else(|| id.clone(), Clone::clone);
                    let mut cleanup = self.clean_up(id, &source, run).await;
                    cleanup.detail = format!("{why}: {}", cleanup.detail);
                    self.mark_done_if_clean(&cleanup, &source).await;
                    checks.push(cleanup);
                }
            }
        }
        let count = |o: Outcome| checks.iter().filter(|c| c.outcome == o).count();
        let summary = format!(
            "sweep: {} scratch instance(s) looked at, {} failed{}; {because}",
            checks
                .iter()
                .filter(|c| c.name.starts_with("scratch ") || c.name == "cleanup")
                .count(),
            count(Outcome::Fail),
            if dry_run { " (dry run)" } else { "" }
        );
        let mut findings = Findings::new(Some(Target::Account), checks, summary);
        if findings.checks.is_empty() {
            findings.summary =
                format!("sweep: no drill scratch instance in the account; {because}");
            findings.status = Some(rds_responder::report::Status::Ok);
        }
        findings.result = result;
        findings
    }

    /// A deleted scratch ends its drill, when its record is still at cleaning.
    async fn mark_done_if_clean(
        &self,
        cleanup: &Check,
        source: &rds_responder::trigger::RdsIdentifier,
    ) {
        if cleanup.outcome != Outcome::Pass {
            return;
        }
        if let Ok(Some(mut job)) = self.jobs.load(FUNCTION, &drill_key(source)).await {
            if job.step == Step::Cleaning.as_str() {
                let version = job.version;
                job.step = Step::Done.as_str().into();
                let _ = self.jobs.swap(FUNCTION, &job, Some(version)).await;
            }
        }
    }
}
