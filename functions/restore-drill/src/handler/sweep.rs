//! The sweep: every scratch copy (instances, Aurora clusters and their instance, tables; named
//! or tagged as one), what its drill's record says, and the one thing to do about it (check it,
//! add an Aurora drill's instance, wait, fail a late drill, delete, or leave it alone). It deletes
//! only what carries both the drill tag and the drill name, and never anything else.

use std::collections::BTreeMap;

use chrono::DateTime;

use rds_responder::backups::TableBackups;
use rds_responder::job::{JobRecord, JobStore, Swap};
use rds_responder::ledger::Ledger;
use rds_responder::recovery::RestoreControl;
use rds_responder::report::{Check, Findings, Outcome};
use rds_responder::restore_testing::RestoreJobs;
use rds_responder::run::RunContext;
use rds_responder::runner::Invocation;
use rds_responder::sql::verify::DataInspector;
use rds_responder::table_recovery::TableRestores;
use rds_responder::trigger::{DbTarget, RdsIdentifier, ResourceKind, TableName, Target};

use super::backup_job::member_key;
use super::table::table_source;
use super::{drill_key, facts_of, list_failed, state_of, RestoreDrill, FUNCTION};
use crate::policy::drill::{
    named_as_scratch, overdue, ownership, sweep_action, tagged_source, Ownership, ScratchFacts,
    ScratchKind, Step, SweepAction, EXPIRES_TAG, OWNER_TAG, SCRATCH_MARK, SCRATCH_TAG,
};
use crate::policy::validation::tagged_validation;
use crate::request::Subject;

/// One scratch copy the sweep looks at.
struct Scratch {
    id: String,
    kind: ScratchKind,
    status: String,
    tags: BTreeMap<String, String>,
    source: Option<Subject>,
}

fn expiry(tags: &BTreeMap<String, String>) -> Option<chrono::DateTime<chrono::Utc>> {
    tags.get(EXPIRES_TAG)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.to_utc())
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
    /// Every scratch copy: instances before clusters (a cluster is deleted after its instance).
    /// A failed table listing is one failed check: RDS's scratch copies are still swept.
    async fn scratches(&self) -> Result<(Vec<Scratch>, Option<Check>), Findings> {
        let listed = self
            .rds
            .list_recovery()
            .await
            .map_err(|e| list_failed("listing DB instances and clusters", &e))?;
        let mut out: Vec<Scratch> = listed
            .iter()
            .filter(|i| named_as_scratch(i.db.id().as_str()) || i.tags.contains_key(SCRATCH_TAG))
            .map(|i| Scratch {
                id: i.db.id().to_string(),
                kind: match (&i.db, &i.cluster) {
                    (DbTarget::Cluster(_), _) => ScratchKind::Cluster,
                    (DbTarget::Instance(_), Some(_)) => ScratchKind::Member,
                    (DbTarget::Instance(_), None) => ScratchKind::Instance,
                },
                status: i.status.clone(),
                source: tagged_source(&i.tags),
                tags: i.tags.clone(),
            })
            .collect();
        out.sort_by_key(|s| s.kind == ScratchKind::Cluster);
        if !self.config.drill_tables.is_empty() {
            let tables = match self.table_restores.list_tables_named(SCRATCH_MARK).await {
                Ok(t) => t,
                Err(e) => {
                    let failed = Check::new(
                        "list tables",
                        Outcome::Fail,
                        format!("listing scratch tables: {e}; no table was touched"),
                    );
                    return Ok((out, Some(failed)));
                }
            };
            out.extend(tables.into_iter().map(|t| Scratch {
                source: table_source(&t.name, &t.tags),
                kind: ScratchKind::Table,
                status: match t.status.as_str() {
                    "ACTIVE" => "available".into(),
                    other => other.to_ascii_lowercase(),
                },
                id: t.name,
                tags: t.tags,
            }));
        }
        Ok((out, None))
    }

    pub(super) async fn sweep(
        &self,
        dry_run: bool,
        because: &str,
        run: &RunContext<'_, '_, impl Ledger>,
        invocation: &Invocation,
    ) -> Findings {
        let (scratches, tables_failed) = match self.scratches().await {
            Ok(s) => s,
            Err(findings) => return findings,
        };
        // Another deployment's copies are its sweep's: not even looked at.
        let (scratches, theirs): (Vec<_>, Vec<_>) = scratches.into_iter().partition(|s| {
            !matches!(
                ownership(s.tags.get(OWNER_TAG).map(String::as_str), &self.owner),
                Ownership::Other(_)
            )
        });
        let mut checks: Vec<Check> = tables_failed.into_iter().collect();
        let mut results = Vec::new();
        for scratch in &scratches {
            let name = format!("scratch {}", scratch.id);
            if !run.time_left() {
                checks.push(Check::new(
                    name,
                    Outcome::Skipped,
                    "not looked at: the run's time is up",
                ));
                continue;
            }
            // Fail closed: without its drill's record, nothing but an expired copy is touched.
            let job = match &scratch.source {
                Some(source) => match self.jobs.load(FUNCTION, &drill_key(source)).await {
                    Ok(job) => job,
                    Err(e) => {
                        checks.push(Check::new(name, Outcome::Fail, format!("{e}; left alone")));
                        continue;
                    }
                },
                None => None,
            };
            // A scratch table whose tags are not on yet is ours if its drill's record names it.
            let drill_tag = scratch.tags.get(SCRATCH_TAG).cloned().or_else(|| {
                (scratch.kind == ScratchKind::Table
                    && job.as_ref().is_some_and(|j| j.run == scratch.id))
                .then(|| scratch.id.clone())
            });
            let facts = ScratchFacts {
                id: scratch.id.clone(),
                kind: scratch.kind,
                status: scratch.status.clone(),
                drill_tag,
                owner: ownership(scratch.tags.get(OWNER_TAG).map(String::as_str), &self.owner),
                expires: expiry(&scratch.tags).or(job.as_ref().map(|j| j.deadline)),
            };
            // An instance a restore test's validation is checking waits for it, expiry or not.
            if let Some(held) = self.validation_held(scratch, run, invocation).await {
                checks.push(Check::new(
                    name,
                    Outcome::Pass,
                    format!("left to its validation: {held}"),
                ));
                continue;
            }
            let drill = job.as_ref().map(facts_of);
            let action = sweep_action(&facts, drill.as_ref(), &invocation.request_id, run.now);
            self.sweep_one(
                scratch,
                action,
                job,
                dry_run,
                run,
                invocation,
                &mut checks,
                &mut results,
            )
            .await;
        }
        let (validations, validated) = self.sweep_validations(dry_run, run, invocation).await;
        checks.extend(validations);
        let count = |o: Outcome| checks.iter().filter(|c| c.outcome == o).count();
        let others = match theirs.len() {
            0 => String::new(),
            n => format!(" ({n} of other deployments left to them)"),
        };
        let summary = format!(
            "sweep: {} scratch copies looked at, {} failed{}{others}; {because}",
            scratches.len(),
            count(Outcome::Fail),
            if dry_run { " (dry run)" } else { "" }
        );
        let mut findings = Findings::new(Some(Target::Account), checks, summary);
        if findings.checks.is_empty() {
            findings.summary =
                format!("sweep: no drill scratch copy of this deployment's{others}; {because}");
            findings.status = Some(rds_responder::report::Status::Ok);
        }
        if !results.is_empty() || !validated.is_empty() {
            let mut result = serde_json::json!({ "drills": results });
            if !validated.is_empty() {
                result["validations"] = serde_json::Value::Array(validated);
            }
            findings.result = Some(result);
        }
        findings
    }

    /// Who holds the validation an added instance serves, if another run does now.
    async fn validation_held(
        &self,
        scratch: &Scratch,
        run: &RunContext<'_, '_, impl Ledger>,
        invocation: &Invocation,
    ) -> Option<String> {
        let job = tagged_validation(&scratch.tags)?;
        match self.jobs.load(FUNCTION, &member_key(job)).await {
            Ok(record) => facts_of(&record?).leased_by_other(&invocation.request_id, run.now),
            // Fail closed: unread, it is left alone.
            Err(e) => Some(format!("its record is unread ({e})")),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn sweep_one(
        &self,
        scratch: &Scratch,
        action: SweepAction,
        job: Option<JobRecord>,
        dry_run: bool,
        run: &RunContext<'_, '_, impl Ledger>,
        invocation: &Invocation,
        checks: &mut Vec<Check>,
        results: &mut Vec<serde_json::Value>,
    ) {
        let name = format!("scratch {}", scratch.id);
        let because = "the sweep (its event never came)";
        match action {
            SweepAction::Check | SweepAction::AddInstance if dry_run => checks.push(Check::new(
                name,
                Outcome::Planned,
                "would advance it (its event never came)",
            )),
            SweepAction::Check => {
                let (found, _, told) = match scratch.kind {
                    ScratchKind::Table => match TableName::parse(&scratch.id) {
                        Ok(t) => self.check_table_drill(&t, because, run, invocation).await,
                        Err(_) => return,
                    },
                    _ => match RdsIdentifier::parse(&scratch.id, ResourceKind::DbInstance) {
                        Ok(id) => self.check_drill(&id, None, because, run, invocation).await,
                        Err(_) => return,
                    },
                };
                checks.extend(found);
                results.extend(told);
            }
            SweepAction::AddInstance => {
                if let Ok(id) = RdsIdentifier::parse(&scratch.id, ResourceKind::DbCluster) {
                    checks.push(self.add_instance(&id, None, because, run, invocation).await);
                }
            }
            SweepAction::Wait(why) => checks.push(Check::new(
                name,
                Outcome::Pass,
                format!("left to its drill: {why}"),
            )),
            SweepAction::Leave(why) => checks.push(Check::new(name, Outcome::Warn, why)),
            SweepAction::Escalate(why) => checks.push(Check::new(name, Outcome::Fail, why)),
            SweepAction::FailLate | SweepAction::Delete(_) if dry_run => {
                checks.push(Check::new(name, Outcome::Planned, "would delete it"));
            }
            SweepAction::FailLate => {
                if let Some(mut job) = job {
                    let mut state = state_of(&job);
                    if let Some(s) = state.as_mut() {
                        s.outcome = Some("failed".into());
                    }
                    let version = job.version;
                    job.step = Step::Cleaning.as_str().into();
                    job.lease = None;
                    job.state = serde_json::to_value(&state).unwrap_or_default();
                    let deadline = job.deadline;
                    if let Ok(Swap::Lost(_)) | Err(_) =
                        self.jobs.swap(FUNCTION, &job, Some(version)).await
                    {
                        checks.push(Check::new(
                            name,
                            Outcome::Skipped,
                            "its drill changed meanwhile: left to the next sweep",
                        ));
                        return;
                    }
                    checks.push(Check::new(
                        format!("drill {}", scratch.id),
                        Outcome::Fail,
                        format!(
                            "did not finish by its deadline ({})",
                            deadline.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        ),
                    ));
                }
                checks.push(self.delete_scratch_copy(scratch, "late", run).await);
            }
            SweepAction::Delete(why) => {
                checks.push(self.delete_scratch_copy(scratch, &why, run).await);
            }
        }
    }

    /// Deletes one scratch copy; a deleted instance or cluster or table ends its drill (an Aurora
    /// drill's instance alone does not: its cluster is next).
    async fn delete_scratch_copy(
        &self,
        scratch: &Scratch,
        why: &str,
        run: &RunContext<'_, '_, impl Ledger>,
    ) -> Check {
        let own = |fallback: Subject| scratch.source.clone().unwrap_or(fallback);
        let bad = |e: &str| {
            (
                Check::new("cleanup", Outcome::Fail, format!("{}: {e}", scratch.id)),
                None,
            )
        };
        let (mut cleanup, source) = match scratch.kind {
            ScratchKind::Instance | ScratchKind::Member => {
                match RdsIdentifier::parse(&scratch.id, ResourceKind::DbInstance) {
                    Ok(id) => {
                        let source = own(Subject::Instance(id.clone()));
                        (self.clean_up(&id, &source, run).await, Some(source))
                    }
                    Err(e) => bad(&e.to_string()),
                }
            }
            ScratchKind::Cluster => {
                match RdsIdentifier::parse(&scratch.id, ResourceKind::DbCluster) {
                    Ok(id) => {
                        let source = own(Subject::Cluster(id.clone()));
                        (
                            self.clean_up_cluster(&id, &source, run).await.0,
                            Some(source),
                        )
                    }
                    Err(e) => bad(&e.to_string()),
                }
            }
            ScratchKind::Table => match TableName::parse(&scratch.id) {
                Ok(t) => {
                    let source = own(Subject::Table(t.clone()));
                    (self.clean_up_table(&t, &source, run).await, Some(source))
                }
                Err(e) => bad(e),
            },
        };
        // A copy that outlives its expiry by long fails the report: someone must look at it.
        if cleanup.outcome == Outcome::Warn && overdue(expiry(&scratch.tags), run.now) {
            cleanup.outcome = Outcome::Fail;
            cleanup
                .detail
                .push_str(" - still there over an hour past its expiry: look at it");
        }
        cleanup.detail = format!("{why}: {}", cleanup.detail);
        if let Some(source) = source.filter(|_| scratch.kind != ScratchKind::Member) {
            self.mark_done_if_clean(&cleanup, &source).await;
        }
        cleanup
    }
}
