//! A drill's start: pick the source, claim the drill (its job record, one per database), then
//! restore the scratch instance with the source's placement, tagged as drill scratch with its
//! expiry.

use chrono::{Duration, SecondsFormat};

use rds_responder::backups::TableBackups;
use rds_responder::job::{JobRecord, JobStore, Lease, Swap};
use rds_responder::ledger::Ledger;
use rds_responder::rds::RdsError;
use rds_responder::recovery::{RecoveryInfo, RestoreControl, RestoreFrom, RestoreRequest};
use rds_responder::report::{Check, Findings, Outcome};
use rds_responder::run::RunContext;
use rds_responder::runner::Invocation;
use rds_responder::sql::verify::DataInspector;
use rds_responder::trigger::Target;
use rds_responder::trigger::{DbTarget, RdsIdentifier};

use super::{drill_key, facts_of, list_failed, DrillState, RestoreDrill, FUNCTION, KEEP_DAYS};
use crate::checks;
use crate::policy::drill::{
    choose_source, enrolment, named_as_scratch, scratch_id, start_refusal, Enrolment, Step,
    EXPIRES_TAG, SCRATCH_TAG, SOURCE_TAG,
};
use crate::request::DrillFrom;

/// The lock a drill's actions take within one run (the job record is the lock across runs).
pub fn drill_lock(source: &RdsIdentifier) -> String {
    format!("drill#db-instance#{source}")
}

/// Scratch instances alive: named and tagged as drill scratch, not being deleted.
pub fn drills_alive(listed: &[RecoveryInfo]) -> usize {
    listed
        .iter()
        .filter(|i| {
            matches!(i.db, DbTarget::Instance(_))
                && named_as_scratch(i.db.id().as_str())
                && i.tags.contains_key(SCRATCH_TAG)
                && i.status != "deleting"
        })
        .count()
}

impl<R, B, D, J> RestoreDrill<R, B, D, J>
where
    R: RestoreControl,
    B: TableBackups,
    D: DataInspector,
    J: JobStore,
{
    pub(super) async fn start(
        &self,
        only: &[RdsIdentifier],
        from: DrillFrom,
        dry_run: bool,
        because: &str,
        run: &RunContext<'_, '_, impl Ledger>,
        invocation: &Invocation,
    ) -> Findings {
        let listed = match self.rds.list_recovery().await {
            Ok(l) => l,
            Err(e) => return list_failed("listing DB instances", &e),
        };
        let snapshots = match self.rds.list_backups().await {
            Ok(s) => s,
            Err(e) => return list_failed("listing snapshots", &e),
        };
        let sources: Vec<RdsIdentifier> = if only.is_empty() {
            listed
                .iter()
                .filter(|i| matches!(i.db, DbTarget::Instance(_)))
                .filter(|i| enrolment(&i.tags, &self.config.tag) == Enrolment::Drill)
                .filter(|i| !named_as_scratch(i.db.id().as_str()))
                .map(|i| i.db.id().clone())
                .collect()
        } else {
            only.to_vec()
        };
        let mut alive = drills_alive(&listed);
        let mut checks = Vec::new();
        let mut started = Vec::new();
        for id in &sources {
            if !run.time_left() {
                checks.push(Check::new(
                    format!("drill {id}"),
                    Outcome::Skipped,
                    "not started: the run's time is up (the next schedule starts it)",
                ));
                continue;
            }
            let Some(info) = listed
                .iter()
                .find(|i| matches!(i.db, DbTarget::Instance(_)) && i.db.id() == id)
            else {
                checks.push(Check::new(
                    format!("drill {id}"),
                    Outcome::Fail,
                    format!("RDS lists no DB instance {id}"),
                ));
                continue;
            };
            let check = self
                .start_one(info, &snapshots, from, dry_run, alive, run, invocation)
                .await;
            if check.outcome == Outcome::Pass {
                alive += 1;
                started.push(id.to_string());
            }
            checks.push(check);
        }
        let target = match sources.as_slice() {
            [one] => Target::Instance(one.clone()),
            _ => Target::Account,
        };
        let summary = match (sources.len(), dry_run) {
            (0, _) => format!(
                "no DB instance is tagged {}=drill: no drill started; {because}",
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
        info: &RecoveryInfo,
        snapshots: &[rds_responder::backups::SnapshotInfo],
        from: DrillFrom,
        dry_run: bool,
        alive: usize,
        run: &RunContext<'_, '_, impl Ledger>,
        invocation: &Invocation,
    ) -> Check {
        let id = info.db.id();
        let name = format!("drill {id}");
        let key = drill_key(id);
        // Fail closed: a drill record that cannot be read may be a drill under way.
        let existing = match self.jobs.load(FUNCTION, &key).await {
            Ok(job) => job,
            Err(e) => {
                return Check::new(name, Outcome::Fail, format!("{e}; not started"));
            }
        };
        let enrolled = enrolment(&info.tags, &self.config.tag);
        let facts = existing.as_ref().map(facts_of);
        if let Some(reason) = start_refusal(
            info,
            &enrolled,
            facts.as_ref(),
            alive,
            self.config.max_concurrent,
            run.now,
        ) {
            return Check::new(name, Outcome::Skipped, reason);
        }
        let source = match choose_source(info, snapshots, from) {
            Ok(s) => s,
            Err(reason) => return Check::new(name, Outcome::Fail, reason),
        };
        let Some(placement) = info.placement.clone() else {
            return Check::new(
                name,
                Outcome::Fail,
                format!("RDS lists no placement for {id}"),
            );
        };
        let scratch = scratch_id(id, run.now);
        let deadline = run.now + self.config.deadline;
        let request = RestoreRequest {
            scratch: scratch.clone(),
            source: id.clone(),
            from: source.from.clone(),
            instance_class: self.config.instance_class.clone(),
            subnet_group: placement.subnet_group.clone(),
            security_groups: placement.security_groups.clone(),
            // A default group is the engine's default on the restore too: RDS picks it.
            parameter_group: placement
                .parameter_group
                .clone()
                .filter(|g| !g.starts_with("default.")),
            option_group: placement
                .option_group
                .clone()
                .filter(|g| !g.starts_with("default:")),
            iam_auth: placement.iam_auth,
            tags: vec![
                (SCRATCH_TAG.into(), scratch.to_string()),
                (SOURCE_TAG.into(), format!("db-instance:{id}")),
                (
                    EXPIRES_TAG.into(),
                    deadline.to_rfc3339_opts(SecondsFormat::Secs, true),
                ),
            ],
        };
        let plan = format!(
            "{scratch} from {} as {} in subnet group {}, security groups [{}], not public, deletion protection off, expiring {}",
            checks::source_words(&source),
            self.config.instance_class,
            placement.subnet_group.as_deref().unwrap_or("(default)"),
            placement.security_groups.join(", "),
            deadline.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
        if dry_run {
            return Check::new(name, Outcome::Planned, format!("would restore {plan}"));
        }
        let state = DrillState {
            source: id.to_string(),
            scratch: scratch.to_string(),
            restore_from: source.label.clone(),
            point_in_time: source.from == RestoreFrom::LatestRestorable,
            recovery_point: source.recovery_point,
            started_at: run.now,
            instance_class: self.config.instance_class.clone(),
            available_at: None,
            outcome: None,
            checks: Vec::new(),
            rto_seconds: None,
            rpo_seconds: None,
        };
        let mut job = JobRecord {
            key: key.clone(),
            run: scratch.to_string(),
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
                        "another run started a drill of {id} at the same time ({}): one drill per database",
                        now.map(|j| j.run).unwrap_or_else(|| "record gone".into())
                    ),
                )
            }
            Err(e) => return Check::new(name, Outcome::Fail, format!("{e}; not started")),
        };
        if let Err(refused) = run
            .may_act(&drill_lock(id), &format!("restoring {scratch}"))
            .await
        {
            job.step = Step::Done.as_str().into();
            job.lease = None;
            let _ = self.jobs.swap(FUNCTION, &job, Some(version)).await;
            return refused;
        }
        let restored = self.rds.restore_instance(&request).await;
        let (outcome, detail) = match &restored {
            Ok(()) => (Outcome::Pass, format!("restoring {plan}")),
            // A retry of this start: the instance is ours if it carries our drill tag.
            Err(RdsError::AlreadyExists { .. }) => match self.rds.describe_recovery(&scratch).await
            {
                Ok(Some(s))
                    if s.tags.get(SCRATCH_TAG).map(String::as_str) == Some(scratch.as_str()) =>
                {
                    (
                        Outcome::Pass,
                        format!("already restoring (an earlier try of this start): {plan}"),
                    )
                }
                _ => (
                    Outcome::Fail,
                    format!(
                        "{scratch} exists and is not this drill's scratch instance: not touched"
                    ),
                ),
            },
            Err(e) => (Outcome::Fail, format!("the restore failed: {e}")),
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
            "drill": scratch.to_string(),
            "source": id.to_string(),
            "restore_from": source.label,
            "recovery_point": source.recovery_point,
            "deadline": deadline,
        }))
    }
}
