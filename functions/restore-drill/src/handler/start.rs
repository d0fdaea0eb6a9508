//! A drill's start: pick the source, claim the drill (its job record, one per database), then
//! restore the scratch copy (an instance, an Aurora cluster, a table) with the source's
//! placement, tagged as drill scratch with its expiry.

use chrono::Duration;

use rds_responder::backups::{SnapshotInfo, TableBackups};
use rds_responder::job::{JobRecord, JobStore, Lease, Swap};
use rds_responder::ledger::Ledger;
use rds_responder::recovery::{RecoveryInfo, RestoreControl, RestoreFrom};
use rds_responder::report::{Check, Findings, Outcome};
use rds_responder::restore_testing::RestoreJobs;
use rds_responder::run::RunContext;
use rds_responder::runner::Invocation;
use rds_responder::sql::verify::DataInspector;
use rds_responder::table_recovery::{ListedTable, TableRestores};
use rds_responder::trigger::Target;

use super::restore::{plan_words, restore_request};
use super::{
    drill_key, drill_lock, facts_of, list_failed, target_of, DrillState, RestoreDrill, FUNCTION,
    KEEP_DAYS,
};
use crate::policy::drill::{
    abandoned, enrolment, named_as_scratch, scratch_of, scratch_tags, start_refusal, Enrolment,
    StartFacts, Step, SCRATCH_MARK, SCRATCH_TAG, SOURCE_TAG,
};
use crate::request::{DrillFrom, Subject};

/// Scratch copies alive: RDS instances and clusters named and tagged as drill scratch (an Aurora
/// drill counts once, by its cluster), and scratch tables, not being deleted.
pub fn drills_alive(listed: &[RecoveryInfo], tables: &[ListedTable]) -> usize {
    let rds = listed
        .iter()
        .filter(|i| {
            i.cluster.is_none()
                && named_as_scratch(i.db.id().as_str())
                && i.tags.contains_key(SCRATCH_TAG)
                && i.status != "deleting"
        })
        .count();
    let tables = tables
        .iter()
        .filter(|t| named_as_scratch(&t.name) && t.status != "DELETING")
        .count();
    rds + tables
}

/// A live scratch copy of `source`, whoever restored it (its source tag names it).
fn scratch_alive<'a>(
    source: &Subject,
    listed: &'a [RecoveryInfo],
    tables: &'a [ListedTable],
) -> Option<&'a str> {
    let tag = source.tag_value();
    let names =
        |tags: &std::collections::BTreeMap<String, String>| tags.get(SOURCE_TAG) == Some(&tag);
    listed
        .iter()
        .filter(|i| i.status != "deleting" && names(&i.tags))
        .map(|i| i.db.id().as_str())
        .chain(
            tables
                .iter()
                .filter(|t| t.status != "DELETING" && names(&t.tags))
                .map(|t| t.name.as_str()),
        )
        .next()
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
    pub(super) async fn start(
        &self,
        only: &[Subject],
        from: DrillFrom,
        dry_run: bool,
        because: &str,
        run: &RunContext<'_, '_, impl Ledger>,
        invocation: &Invocation,
    ) -> Findings {
        let listed = match self.rds.list_recovery().await {
            Ok(l) => l,
            Err(e) => return list_failed("listing DB instances and clusters", &e),
        };
        let snapshots = match self.rds.list_backups().await {
            Ok(s) => s,
            Err(e) => return list_failed("listing snapshots", &e),
        };
        let sources: Vec<Subject> = if only.is_empty() {
            listed
                .iter()
                .filter(|i| i.cluster.is_none())
                .filter(|i| enrolment(&i.tags, &self.config.tag) == Enrolment::Drill)
                .filter(|i| !named_as_scratch(i.db.id().as_str()))
                .map(|i| Subject::of_db(&i.db))
                .chain(self.config.drill_tables.iter().cloned().map(Subject::Table))
                .collect()
        } else {
            only.to_vec()
        };
        // Fail closed: scratch tables count against the cap and name their source.
        let tables = if sources.iter().any(|s| matches!(s, Subject::Table(_))) {
            match self.table_restores.list_tables_named(SCRATCH_MARK).await {
                Ok(t) => t,
                Err(e) => {
                    let mut findings = Findings::new(
                        Some(Target::Account),
                        vec![Check::new(
                            "list",
                            Outcome::Fail,
                            format!("listing scratch tables: {e}; nothing was done"),
                        )],
                        "listing scratch tables failed: nothing was done".to_string(),
                    );
                    findings.retry = Some(e.to_string());
                    return findings;
                }
            }
        } else {
            Vec::new()
        };
        let mut alive = drills_alive(&listed, &tables);
        let mut checks = Vec::new();
        let mut started = Vec::new();
        for subject in &sources {
            let name = format!("drill {}", subject.name());
            if !run.time_left() {
                checks.push(Check::new(
                    name,
                    Outcome::Skipped,
                    "not started: the run's time is up (the next schedule starts it)",
                ));
                continue;
            }
            let info = match subject.db() {
                Some(db) => match listed.iter().find(|i| i.db == db) {
                    Some(info) => Some(info),
                    None => {
                        checks.push(Check::new(
                            name,
                            Outcome::Fail,
                            format!("RDS lists no {} {}", subject.kind(), subject.name()),
                        ));
                        continue;
                    }
                },
                None => None,
            };
            let live = scratch_alive(subject, &listed, &tables);
            let mut earlier = None;
            let check = self
                .start_one(
                    subject,
                    info,
                    &snapshots,
                    (live, &mut earlier),
                    from,
                    dry_run,
                    alive,
                    run,
                    invocation,
                )
                .await;
            checks.extend(earlier);
            if check.outcome == Outcome::Pass {
                alive += 1;
                started.push(subject.to_string());
            }
            checks.push(check);
        }
        let target = match sources.as_slice() {
            [one] => target_of(one),
            _ => Target::Account,
        };
        let summary = match (sources.len(), dry_run) {
            (0, _) => format!(
                "no database is tagged {}=drill and DRILL_TABLES names no table: no drill started; {because}",
                self.config.tag
            ),
            (_, true) => format!(
                "drill plan for {} database(s) (dry run); {because}",
                sources.len()
            ),
            (n, false) => format!(
                "{} of {n} drill(s) started{}; {because}",
                started.len(),
                if started.is_empty() {
                    String::new()
                } else {
                    format!(": {}", started.join(", "))
                }
            ),
        };
        let mut findings = Findings::new(Some(target), checks, summary);
        if sources.is_empty() {
            findings.status = Some(rds_responder::report::Status::Skipped);
        }
        findings
    }

    #[allow(clippy::too_many_arguments)]
    async fn start_one(
        &self,
        subject: &Subject,
        info: Option<&RecoveryInfo>,
        snapshots: &[SnapshotInfo],
        (live, earlier): (Option<&str>, &mut Option<Check>),
        from: DrillFrom,
        dry_run: bool,
        alive: usize,
        run: &RunContext<'_, '_, impl Ledger>,
        invocation: &Invocation,
    ) -> Check {
        let name = format!("drill {}", subject.name());
        let key = drill_key(subject);
        // Fail closed: a drill record that cannot be read may be a drill under way.
        let existing = match self.jobs.load(FUNCTION, &key).await {
            Ok(job) => job,
            Err(e) => {
                return Check::new(name, Outcome::Fail, format!("{e}; not started"));
            }
        };
        let enrolled = match (subject, info) {
            (Subject::Table(t), _) if self.config.drill_tables.contains(t) => Enrolment::Drill,
            (Subject::Table(_), _) => Enrolment::Out {
                reason: "not named in DRILL_TABLES".into(),
            },
            (_, Some(info)) => enrolment(&info.tags, &self.config.tag),
            (_, None) => Enrolment::Out {
                reason: "not listed".into(),
            },
        };
        let facts = existing.as_ref().map(facts_of);
        // A copy listed without its source tag (a table restoring, untagged yet) is its
        // drill's, alive: asked for by name before its drill is taken as abandoned.
        let named = match facts
            .as_ref()
            .filter(|d| abandoned(d, live, run.now).is_some())
        {
            Some(d) if self.copy_named(subject, &d.run).await => Some(d.run.clone()),
            _ => None,
        };
        let live = live.or(named.as_deref());
        let start = StartFacts {
            subject,
            info,
            enrolled,
            existing: facts.as_ref(),
            scratch_alive: live,
            drills_alive: alive,
            max_concurrent: self.config.max_concurrent,
        };
        if let Some(reason) = start_refusal(&start, run.now) {
            return Check::new(name, Outcome::Skipped, reason);
        }
        let source = match self.source_of(subject, info, snapshots, from).await {
            Ok(s) => s,
            Err(reason) => return Check::new(name, Outcome::Fail, reason),
        };
        let scratch = scratch_of(subject, run.now);
        let deadline = run.now + self.config.deadline;
        let tags = scratch_tags(scratch.name(), subject, deadline, &self.owner);
        let request = match info.map(|i| {
            restore_request(
                i,
                &scratch,
                &source,
                &self.config.instance_class,
                tags.clone(),
            )
        }) {
            Some(Ok(r)) => Some(r),
            Some(Err(reason)) => return Check::new(name, Outcome::Fail, reason),
            None => None,
        };
        let plan = plan_words(&scratch, &source, request.as_ref(), deadline);
        if dry_run {
            return Check::new(name, Outcome::Planned, format!("would restore {plan}"));
        }
        // An earlier drill that never finished and never reported: a real start reports it
        // (a dry run takes nothing's place).
        *earlier = facts.as_ref().and_then(|d| {
            abandoned(d, live, run.now).map(|(outcome, why)| {
                Check::new(
                    format!("drill {}", d.run),
                    outcome,
                    crate::checks::abandoned_words(&why),
                )
            })
        });
        let state = DrillState {
            source: subject.name().to_string(),
            kind: subject.kind().to_string(),
            scratch: scratch.name().to_string(),
            restore_from: source.label.clone(),
            point_in_time: source.from == RestoreFrom::LatestRestorable,
            recovery_point: source.recovery_point,
            started_at: run.now,
            instance_class: match subject {
                Subject::Table(_) => "DynamoDB table".into(),
                _ => self.config.instance_class.clone(),
            },
            cluster_available_at: None,
            available_at: None,
            outcome: None,
            checks: Vec::new(),
            rto_seconds: None,
            rpo_seconds: None,
        };
        let mut job = JobRecord {
            key: key.clone(),
            run: scratch.name().to_string(),
            step: Step::Restoring.as_str().into(),
            version: 0,
            lease: Some(Lease {
                holder: invocation.request_id.clone(),
                until: invocation.deadline,
            }),
            deadline,
            keep_until: deadline + Duration::days(KEEP_DAYS),
            state: serde_json::to_value(&state).unwrap_or_default(),
        };
        // The claim: of two starts that read the same record, one writes it.
        let version = match self.jobs.swap(FUNCTION, &job, existing.map(|j| j.version)).await {
            Ok(Swap::Written(v)) => v,
            Ok(Swap::Lost(now)) => {
                return Check::new(
                    name,
                    Outcome::Skipped,
                    format!(
                        "another run started a drill of {subject} at the same time ({}): one drill per database",
                        now.map(|j| j.run).unwrap_or_else(|| "record gone".into())
                    ),
                )
            }
            Err(e) => return Check::new(name, Outcome::Fail, format!("{e}; not started")),
        };
        if let Err(refused) = run
            .may_act(
                &drill_lock(subject),
                &format!("restoring {}", scratch.name()),
            )
            .await
        {
            job.step = Step::Done.as_str().into();
            job.lease = None;
            let _ = self.jobs.swap(FUNCTION, &job, Some(version)).await;
            return refused;
        }
        let (outcome, detail) = match (subject, &scratch, request.as_ref()) {
            (Subject::Table(from_table), Subject::Table(table), _) => {
                self.restore_table(from_table, table, &source, &tags, &plan)
                    .await
            }
            (_, _, Some(request)) => self.restore_rds(subject, request, &plan).await,
            _ => (Outcome::Fail, format!("RDS lists no {subject}")),
        };
        job.lease = None;
        if outcome == Outcome::Fail {
            // Nothing to wait for: the next drill of this database may start.
            job.step = Step::Done.as_str().into();
            let mut failed = state.clone();
            failed.outcome = Some("failed".into());
            job.state = serde_json::to_value(&failed).unwrap_or_default();
        }
        let saved = self.jobs.swap(FUNCTION, &job, Some(version)).await;
        let mut check = Check::new(name, outcome, detail);
        if let Err(e) = saved {
            // The restore stands; the record still says restoring with our lease, which expires.
            check
                .detail
                .push_str(&format!(" (the drill record was not updated: {e})"));
        }
        check.with_data(serde_json::json!({
            "drill": scratch.name(),
            "source": subject.tag_value(),
            "restore_from": source.label,
            "recovery_point": source.recovery_point,
            "deadline": deadline,
        }))
    }
}
