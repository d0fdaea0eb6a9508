//! A DynamoDB drill's check and cleanup: DynamoDB sends no event when a restore finishes, so the
//! sweep runs this once the scratch table is ACTIVE: count items on both sides, name the
//! settings a restore drops, time it, delete the scratch table.

use chrono::{DateTime, Utc};

use rds_responder::backups::TableBackups;
use rds_responder::job::{JobStore, Lease, Swap};
use rds_responder::ledger::Ledger;
use rds_responder::recovery::RestoreControl;
use rds_responder::report::{Check, Outcome};
use rds_responder::restore_testing::RestoreJobs;
use rds_responder::run::RunContext;
use rds_responder::runner::Invocation;
use rds_responder::sql::verify::DataInspector;
use rds_responder::table_recovery::{TableRestores, TableSettings};
use rds_responder::trigger::TableName;

use super::check::Told;
use super::cleanup::cost_check;
use super::{drill_key, drill_lock, facts_of, state_of, RestoreDrill, FUNCTION};
use crate::checks;
use crate::policy::drill::{
    check_refusal, named_as_scratch, scratch_tags, tagged_source, Step, OWNER_TAG, SCRATCH_MARK,
    SCRATCH_TAG, SOURCE_TAG,
};
use crate::policy::verdict::{
    dropped_settings, items, observed_rpo, rto, source_scan_pace, ReadSpeed, Timeline,
};
use crate::request::Subject;

fn told(name: &str, outcome: Outcome, detail: String) -> Told {
    let summary = detail.clone();
    (vec![Check::new(name, outcome, detail)], summary, None)
}

/// The source a scratch table was restored from: its tag, else its name (`<table>-rr-drill-...`;
/// a tag not on yet), which only a drill record naming the table confirms.
pub fn table_source(
    name: &str,
    tags: &std::collections::BTreeMap<String, String>,
) -> Option<Subject> {
    match tagged_source(tags) {
        Some(s @ Subject::Table(_)) => Some(s),
        Some(_) => None,
        None if tags.contains_key(SOURCE_TAG) => None,
        None => {
            let head = &name[..name.rfind(SCRATCH_MARK)?];
            TableName::parse(head).ok().map(Subject::Table)
        }
    }
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
    pub(super) async fn check_table_drill(
        &self,
        scratch: &TableName,
        because: &str,
        run: &RunContext<'_, '_, impl Ledger>,
        invocation: &Invocation,
    ) -> Told {
        let name = format!("drill {scratch}");
        let restored = match self.table_restores.table_settings(scratch).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                return told(
                    &name,
                    Outcome::Skipped,
                    format!("{scratch} is gone: nothing to check ({because})"),
                )
            }
            Err(e) => return told(&name, Outcome::Fail, format!("{e}; not checked")),
        };
        let tag_ok = restored
            .tags
            .get(SCRATCH_TAG)
            .is_none_or(|t| t == scratch.as_str());
        let source = table_source(scratch.as_str(), &restored.tags)
            .filter(|_| named_as_scratch(scratch.as_str()) && tag_ok);
        let Some((source, source_table)) = source.and_then(|s| match &s {
            Subject::Table(t) => Some((s.clone(), t.clone())),
            _ => None,
        }) else {
            return told(
                &name,
                Outcome::Skipped,
                format!(
                    "{scratch} is not named and tagged as a drill's scratch table: not touched"
                ),
            );
        };
        let job = match self.jobs.load(FUNCTION, &drill_key(&source)).await {
            Ok(Some(job)) if job.run == scratch.as_str() => job,
            Ok(_) => {
                return told(
                    &name,
                    Outcome::Skipped,
                    format!(
                    "no drill record names {scratch}: the sweep deletes it at its expiry if tagged"
                ),
                )
            }
            Err(e) => return told(&name, Outcome::Fail, format!("{e}; not checked")),
        };
        if let Some(reason) = check_refusal(&facts_of(&job), &invocation.request_id, run.now) {
            return told(&name, Outcome::Skipped, format!("{reason}; {because}"));
        }
        if restored.status != "ACTIVE" {
            return told(
                &name,
                Outcome::Skipped,
                format!(
                    "{scratch} is {} (not ACTIVE yet): the next sweep checks it",
                    restored.status
                ),
            );
        }
        let Some(mut state) = state_of(&job) else {
            return told(
                &name,
                Outcome::Fail,
                format!("the drill record of {scratch} is unreadable; not checked"),
            );
        };
        state.available_at = state.available_at.or(Some(run.now));
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
                    format!("another run took the check of {scratch}"),
                )
            }
            Err(e) => return told(&name, Outcome::Fail, format!("{e}; not checked")),
        };
        let mut checks = vec![Check::new(
            "restore",
            Outcome::Pass,
            format!(
                "{scratch} restored from {} (recovery point {})",
                state.restore_from,
                state
                    .recovery_point
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        )];
        // Its tags, if the start could not put them on: the delete is allowed only on tagged
        // scratch tables.
        if !restored.tags.contains_key(OWNER_TAG) {
            let tags = scratch_tags(scratch.as_str(), &source, job.deadline, &self.owner);
            if let Err(e) = self.table_restores.tag_table(&restored.arn, &tags).await {
                checks.push(Check::new(
                    "tags",
                    Outcome::Warn,
                    format!("tagging {scratch} failed: {e}"),
                ));
            }
        }
        checks.extend(
            self.judge_table(&source_table, scratch, &restored, &mut state, run.now)
                .await,
        );
        let failed = checks.iter().any(|c| c.outcome == Outcome::Fail);
        state.outcome = Some(if failed { "failed" } else { "passed" }.into());
        state.checks = checks.clone();
        taken.step = Step::Cleaning.as_str().into();
        taken.state = serde_json::to_value(&state).unwrap_or_default();
        let version = match self.jobs.swap(FUNCTION, &taken, Some(version)).await {
            Ok(Swap::Written(v)) => Some(v),
            _ => None,
        };
        let cleanup = self.clean_up_table(scratch, &source, run).await;
        let cleaned = cleanup.outcome == Outcome::Pass;
        checks.push(cleanup);
        if let (true, Some(v)) = (cleaned, version) {
            taken.step = Step::Done.as_str().into();
            taken.lease = None;
            let _ = self.jobs.swap(FUNCTION, &taken, Some(v)).await;
        }
        checks.push(cost_check(&state, run.now));
        let summary = format!(
            "drill {scratch} of {source} {}: RTO {}, recovery point {} s old{}",
            if failed { "FAILED" } else { "passed" },
            state
                .rto_seconds
                .map_or("unmeasured".into(), |s| format!("{s} s")),
            state.rpo_seconds.unwrap_or_default(),
            if cleaned {
                ""
            } else {
                "; its scratch table is still there"
            }
        );
        let result = checks::drill_result(
            scratch.as_str(),
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

    pub(super) async fn judge_table(
        &self,
        source: &TableName,
        scratch: &TableName,
        restored: &TableSettings,
        state: &mut super::DrillState,
        now: DateTime<Utc>,
    ) -> Vec<Check> {
        let mut checks = Vec::new();
        let max = self.config.max_scan_items;
        let restored_count = self
            .table_restores
            .count_items(scratch, max, None)
            .await
            .map_err(|e| e.to_string());
        let first_query = Utc::now().max(now);
        let source_settings = self.table_restores.table_settings(source).await;
        // The source serves live reads: its count takes a share of its capacity, no more.
        let pace = source_scan_pace(source_settings.as_ref().ok().and_then(Option::as_ref));
        let source_count = self
            .table_restores
            .count_items(source, max, pace)
            .await
            .map_err(|e| e.to_string());
        let tolerance = self
            .config
            .checks_for(source.as_str())
            .row_tolerance_percent;
        checks.push(checks::verdict_check(&items(
            &source_count,
            &restored_count,
            tolerance,
        )));
        match source_settings {
            Ok(Some(settings)) => checks.push(checks::verdict_check(&dropped_settings(
                &settings, restored,
            ))),
            Ok(None) => checks.push(Check::new(
                "settings",
                Outcome::Warn,
                format!("{source} is gone: nothing to compare with"),
            )),
            Err(e) => checks.push(Check::new(
                "settings",
                Outcome::Warn,
                format!("the source's settings could not be read: {e}"),
            )),
        }
        let at = |t: DateTime<Utc>| t.timestamp_millis() as f64 / 1000.0;
        let (rpo, lost) = observed_rpo(
            state.started_at,
            Some(at(state.started_at)),
            Some(at(state.recovery_point)),
            state.point_in_time,
            self.config.rpo_target,
        );
        state.rpo_seconds = lost;
        checks.push(checks::verdict_check(&rpo));
        if restored_count.is_ok() {
            let timeline = Timeline {
                started: state.started_at,
                cluster_available: None,
                available: state.available_at.unwrap_or(now),
                first_query,
            };
            let untimed =
                ReadSpeed::Untimed("a table's reads are not timed against its source's".into());
            let (verdict, stages) = rto(&timeline, &untimed, self.config.rto_target);
            state.rto_seconds = stages.last().map(|s| s.seconds);
            checks.push(
                checks::verdict_check(&verdict).with_data(checks::stages_data(
                    &stages,
                    self.config.rto_target.num_seconds(),
                )),
            );
        }
        checks
    }

    /// Deletes a scratch table. A failure fails the report: it costs money until deleted.
    pub(super) async fn clean_up_table(
        &self,
        scratch: &TableName,
        source: &Subject,
        run: &RunContext<'_, '_, impl Ledger>,
    ) -> Check {
        if let Err(refused) = run
            .may_act(&drill_lock(source), &format!("deleting table {scratch}"))
            .await
        {
            return refused;
        }
        // IAM lets only a tagged scratch table be deleted: a copy whose tags never got on (its
        // drill's record names it, or the caller would not be here) is tagged first.
        match self.table_restores.table_settings(scratch).await {
            Ok(Some(t)) if !t.tags.contains_key(OWNER_TAG) && !t.arn.is_empty() => {
                let tags = scratch_tags(scratch.as_str(), source, run.now, &self.owner);
                if let Err(e) = self.table_restores.tag_table(&t.arn, &tags).await {
                    return Check::new(
                        "cleanup",
                        Outcome::Fail,
                        format!("tagging {scratch} before deleting it failed: {e}; it costs money until deleted: the sweep tries again, look at it"),
                    );
                }
            }
            Ok(None) => {
                return Check::new(
                    "cleanup",
                    Outcome::Pass,
                    format!("table {scratch} was already gone"),
                )
            }
            _ => {}
        }
        match self.table_restores.delete_table(scratch).await {
            Ok(()) => Check::new("cleanup", Outcome::Pass, format!("table {scratch} deleted")),
            Err(e) if e.not_found() => {
                Check::new("cleanup", Outcome::Pass, format!("table {scratch} was already gone"))
            }
            Err(e) => Check::new(
                "cleanup",
                Outcome::Fail,
                format!("deleting table {scratch} failed: {e}; it costs money until deleted: the sweep tries again, look at it"),
            ),
        }
    }
}
