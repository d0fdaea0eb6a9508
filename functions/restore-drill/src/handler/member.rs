//! An Aurora restore test's validation: AWS Backup restores the cluster without an instance, so
//! restore-drill adds one (tagged as a drill's scratch instance and with the job it validates),
//! checks it once it is available (its RDS-EVENT-0005, or a sweep), posts the verdict and
//! deletes the instance; Backup deletes its cluster. The job record, written before the instance
//! is created, carries the validation across runs and keeps the verdict until Backup took it.

use serde_json::json;

use rds_responder::backups::TableBackups;
use rds_responder::job::{JobRecord, JobStore, Lease, Swap};
use rds_responder::ledger::Ledger;
use rds_responder::rds::RdsError;
use rds_responder::recovery::{RecoveryInfo, RestoreControl, RestoreFrom, RestoreRequest};
use rds_responder::report::{Check, Outcome};
use rds_responder::restore_testing::{RestoreJob, RestoreJobs, Validation};
use rds_responder::run::RunContext;
use rds_responder::runner::Invocation;
use rds_responder::sql::verify::DataInspector;
use rds_responder::table_recovery::TableRestores;
use rds_responder::trigger::RdsIdentifier;

use super::backup_job::{drill_state_of, member_key, validation_result};
use super::validate::Validated;
use super::{facts_of, RestoreDrill, FUNCTION, KEEP_DAYS};
use crate::policy::drill::{scratch_tags, Step};
use crate::policy::validation::{
    cluster_is_the_restore, member_is_ours, member_step, parse_validation, validation_instance,
    verdict, MemberFacts, MemberStep, ValidationTarget, VALIDATES_TAG,
};

/// One validation of an Aurora restore, as far as this run takes it.
struct Member<'a> {
    job: &'a RestoreJob,
    target: &'a ValidationTarget,
    cluster: &'a RdsIdentifier,
    instance: RdsIdentifier,
    record: Option<JobRecord>,
}

impl Member<'_> {
    fn told(&self, outcome: Outcome, detail: String, posted: Option<Validation>) -> Validated {
        Validated {
            line: format!("restore job {}: {detail}", self.job.job_id),
            checks: vec![Check::new(
                format!("validation {}", self.job.job_id),
                outcome,
                detail,
            )],
            result: validation_result(self.job, self.target, posted),
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
    /// The next step of an Aurora restore's validation (under the job's lock, the job read
    /// again): add its instance, wait for it, check it, or post a verdict.
    pub(super) async fn validate_member(
        &self,
        job: &RestoreJob,
        target: &ValidationTarget,
        cluster: &RdsIdentifier,
        run: &RunContext<'_, '_, impl Ledger>,
        invocation: &Invocation,
    ) -> Validated {
        let mut member = Member {
            job,
            target,
            cluster,
            instance: validation_instance(cluster, job, run.now),
            record: None,
        };
        member.record = match self.jobs.load(FUNCTION, &member_key(&job.job_id)).await {
            Ok(r) => r,
            Err(e) => return member.told(Outcome::Fail, format!("{e}; nothing done"), None),
        };
        // Once recorded, the instance is the record's (its name never drifts with the job's).
        if let Some(named) = member.record.as_ref().and_then(|r| {
            RdsIdentifier::parse(&r.run, rds_responder::trigger::ResourceKind::DbInstance).ok()
        }) {
            member.instance = named;
        }
        let described = match self.rds.describe_recovery(&member.instance).await {
            Ok(d) => d,
            Err(e) => return member.told(Outcome::Fail, format!("{e}; nothing done"), None),
        };
        let facts = described.as_ref().map(MemberFacts::of);
        let ours = facts
            .as_ref()
            .map(|m| member_is_ours(m, cluster.as_str(), &job.job_id, &self.owner));
        let record_facts = member.record.as_ref().map(facts_of);
        let step = member_step(
            record_facts.as_ref(),
            facts.as_ref().zip(ours),
            &invocation.request_id,
            run.now,
        );
        // Ours and not already going: the one we may delete.
        let present = ours == Some(true) && facts.as_ref().is_some_and(|m| m.status != "deleting");
        match step {
            MemberStep::Refuse(why) => member.told(Outcome::Fail, why, None),
            MemberStep::Wait(why) => member.told(
                Outcome::Skipped,
                format!(
                    "{why}: checked once its instance is available (its RDS-EVENT-0005 or a sweep)"
                ),
                None,
            ),
            MemberStep::Create => self.create_member(&mut member, run, invocation).await,
            MemberStep::Check => match described {
                Some(info) => self.check_member(&member, &info, run, invocation).await,
                None => member.told(Outcome::Fail, "its instance vanished".into(), None),
            },
            MemberStep::Conclude(validation, message) => {
                self.conclude(&member, present, validation, message, Vec::new(), run)
                    .await
            }
            MemberStep::Repost => {
                let state = &member.record.as_ref().map(|r| r.state.clone());
                let said = state.as_ref().and_then(|s| s["verdict"].as_str());
                let message = state
                    .as_ref()
                    .and_then(|s| s["message"].as_str())
                    .unwrap_or_default()
                    .to_string();
                match said.and_then(parse_validation) {
                    Some(validation) => {
                        self.conclude(&member, present, validation, message, Vec::new(), run)
                            .await
                    }
                    None => member.told(
                        Outcome::Fail,
                        "its record is done but holds no verdict: nothing posted".into(),
                        None,
                    ),
                }
            }
        }
    }

    /// Posts `VALIDATING`, records the validation (before anything is created), adds the
    /// instance to Backup's cluster.
    async fn create_member(
        &self,
        member: &mut Member<'_>,
        run: &RunContext<'_, '_, impl Ledger>,
        invocation: &Invocation,
    ) -> Validated {
        let (id, cluster, instance) = (&member.job.job_id, member.cluster, &member.instance);
        let restored = match self.rds.describe_cluster(cluster).await {
            Ok(Some(c)) if !cluster_is_the_restore(c.created, member.job) => {
                return member.told(
                    Outcome::Fail,
                    format!("cluster {cluster} was not created while restore job {id} ran: not its restore, nothing added, nothing posted"),
                    None,
                )
            }
            Ok(Some(c)) if c.status == "available" => c,
            Ok(Some(c)) => {
                return member.told(
                    Outcome::Skipped,
                    format!("cluster {cluster} is {}: its instance is added once it is available", c.status),
                    None,
                )
            }
            Ok(None) => {
                return member.told(
                    Outcome::Skipped,
                    format!("cluster {cluster} is gone (AWS Backup deleted it?): nothing to validate, nothing posted"),
                    None,
                )
            }
            Err(e) => return member.told(Outcome::Fail, format!("{e}; nothing done"), None),
        };
        let started = format!(
            "restore-drill is adding instance {instance} to {cluster} to check it against {}",
            member.target.source.tag_value()
        );
        // Once per validation: a retried add finds Backup at VALIDATING already.
        let shown = member.job.validation.as_deref() == Some(Validation::Validating.as_str());
        let posted = match shown {
            true => Ok(()),
            false => {
                self.restore_jobs
                    .post_validation(id, Validation::Validating, &started)
                    .await
            }
        };
        if let Err(e) = posted {
            return member.told(Outcome::Fail, format!("{e}; nothing created"), None);
        }
        let deadline = self.validation_deadline_of(member.target, run.now);
        let record = JobRecord {
            key: member_key(&member.job.job_id),
            run: instance.to_string(),
            step: Step::AddingInstance.as_str().into(),
            version: member.record.as_ref().map_or(0, |r| r.version),
            lease: Some(Lease {
                holder: invocation.request_id.clone(),
                until: invocation.deadline,
            }),
            deadline: member.record.as_ref().map_or(deadline, |r| r.deadline),
            keep_until: run.now + chrono::Duration::days(KEEP_DAYS),
            state: json!({}),
        };
        let expected = member.record.as_ref().map(|r| r.version);
        let version = match self.jobs.swap(FUNCTION, &record, expected).await {
            Ok(Swap::Written(v)) => v,
            Ok(Swap::Lost(_)) => {
                return member.told(
                    Outcome::Skipped,
                    "another run is adding its instance".into(),
                    None,
                )
            }
            Err(e) => {
                return member.told(
                    Outcome::Fail,
                    format!(
                        "{e}; no instance added (Backup shows VALIDATING: a sweep takes it again)"
                    ),
                    None,
                )
            }
        };
        let mut tags = scratch_tags(
            instance.as_str(),
            &member.target.source,
            record.deadline,
            &self.owner,
        );
        tags.push((VALIDATES_TAG.to_string(), id.clone()));
        let request = RestoreRequest {
            scratch: instance.clone(),
            source: cluster.clone(),
            from: RestoreFrom::LatestRestorable,
            engine: restored.engine.clone(),
            kms_key: None,
            instance_class: self.config.instance_class.clone(),
            subnet_group: None,
            security_groups: Vec::new(),
            parameter_group: self.writer_group_of(&member.target.source).await,
            option_group: None,
            iam_auth: false,
            tags,
        };
        let added = self.rds.add_instance(&request, cluster).await;
        // The lease given back; the record stays at adding-instance: the next run sees the
        // instance if the create took effect after all, or adds it again.
        let released = JobRecord {
            version,
            lease: None,
            ..record.clone()
        };
        let _ = self.jobs.swap(FUNCTION, &released, Some(version)).await;
        match added {
            Ok(()) | Err(RdsError::AlreadyExists { .. }) => member.told(
                Outcome::Pass,
                format!(
                    "AWS Backup restored {cluster} without an instance: {} instance {instance} is being added; it is checked once available (its RDS-EVENT-0005 or a sweep)",
                    self.config.instance_class
                ),
                Some(Validation::Validating),
            ),
            // Not the restore's fault: nothing more posted (Backup shows VALIDATING), and the
            // next sweep tries again until the deadline, then posts TIMED_OUT.
            Err(e) => member.told(
                Outcome::Fail,
                format!("adding instance {instance} to {cluster} failed: {e}; Backup shows VALIDATING, the next sweep tries again"),
                Some(Validation::Validating),
            ),
        }
    }

    /// Takes the check (its lease in the record), reads the instance against the source with a
    /// drill's checks, and posts the verdict.
    async fn check_member(
        &self,
        member: &Member<'_>,
        info: &RecoveryInfo,
        run: &RunContext<'_, '_, impl Ledger>,
        invocation: &Invocation,
    ) -> Validated {
        let record = JobRecord {
            key: member_key(&member.job.job_id),
            run: member.instance.to_string(),
            step: Step::Checking.as_str().into(),
            version: member.record.as_ref().map_or(0, |r| r.version),
            lease: Some(Lease {
                holder: invocation.request_id.clone(),
                until: invocation.deadline,
            }),
            deadline: (member.record.as_ref())
                .map_or(self.validation_deadline_of(member.target, run.now), |r| {
                    r.deadline
                }),
            keep_until: run.now + chrono::Duration::days(KEEP_DAYS),
            state: json!({}),
        };
        let expected = member.record.as_ref().map(|r| r.version);
        let version = match self.jobs.swap(FUNCTION, &record, expected).await {
            Ok(Swap::Written(v)) => v,
            Ok(Swap::Lost(_)) => {
                return member.told(Outcome::Skipped, "another run took its check".into(), None)
            }
            Err(e) => return member.told(Outcome::Fail, format!("{e}; not checked"), None),
        };
        let mut state = drill_state_of(member.job, member.target, run.now);
        state.scratch = member.instance.to_string();
        state.instance_class = self.config.instance_class.clone();
        state.cluster_available_at = member.job.completed;
        state.available_at = Some(run.now);
        let checks = self
            .read_and_judge(info, &member.target.source, &mut state, run)
            .await;
        let (validation, message) = verdict(&checks, !run.time_left());
        let taken = Member {
            record: Some(JobRecord { version, ..record }),
            instance: member.instance.clone(),
            ..*member
        };
        self.conclude(&taken, true, validation, message, checks, run)
            .await
    }

    /// Records the verdict (the record is done), posts it, deletes the instance if it is ours.
    /// A post Backup refuses stays in the record: the next run posts it again.
    async fn conclude(
        &self,
        member: &Member<'_>,
        delete: bool,
        validation: Validation,
        message: String,
        mut checks: Vec<Check>,
        run: &RunContext<'_, '_, impl Ledger>,
    ) -> Validated {
        let id = &member.job.job_id;
        let mut note = String::new();
        let mut recorded = true;
        if let Some(record) = member
            .record
            .as_ref()
            .filter(|r| r.step != Step::Done.as_str())
        {
            let done = JobRecord {
                step: Step::Done.as_str().into(),
                lease: None,
                state: json!({"verdict": validation.as_str(), "message": message}),
                ..record.clone()
            };
            match self.jobs.swap(FUNCTION, &done, Some(record.version)).await {
                Ok(Swap::Written(_)) => {}
                Ok(Swap::Lost(_)) => {
                    return member.told(Outcome::Skipped, "another run concluded it".into(), None)
                }
                Err(e) => {
                    recorded = false;
                    note = format!(" (the verdict is not in its record: {e}; its instance is left to the sweep at its expiry)");
                }
            }
        }
        // Deleted before the verdict (Backup deletes its cluster after it, and cannot while an
        // instance is in it), and only once the verdict is recorded (else a later run would
        // read the deleted instance as lost).
        if delete && recorded {
            checks.push(
                self.clean_up(&member.instance, &member.target.source, run)
                    .await,
            );
        }
        let posted = self
            .post_verdict(id, validation, &message, &mut checks)
            .await;
        if let Some(last) = checks
            .iter_mut()
            .rev()
            .find(|c| c.name.starts_with("validation "))
        {
            last.detail.push_str(&note);
        }
        Validated {
            line: format!(
                "restore job {id} ({}, instance {}): {}",
                member.cluster,
                member.instance,
                validation.as_str()
            ),
            checks,
            result: validation_result(member.job, member.target, posted),
        }
    }
}
