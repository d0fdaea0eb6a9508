//! An Aurora drill's second step: its cluster is restored (RDS-EVENT-0170, or the sweep saw it
//! available), so its one instance is created (RDS restores a cluster without instances, and
//! creates instances only in an available cluster). The check runs when the instance is.

use chrono::{DateTime, Utc};

use rds_responder::backups::TableBackups;
use rds_responder::job::{JobStore, Lease, Swap};
use rds_responder::ledger::Ledger;
use rds_responder::rds::RdsError;
use rds_responder::recovery::{RestoreControl, RestoreFrom, RestoreRequest};
use rds_responder::report::{Check, Outcome};
use rds_responder::restore_testing::RestoreJobs;
use rds_responder::run::RunContext;
use rds_responder::runner::Invocation;
use rds_responder::sql::verify::DataInspector;
use rds_responder::table_recovery::TableRestores;
use rds_responder::trigger::{RdsIdentifier, ResourceKind};

use super::{drill_key, drill_lock, facts_of, state_of, RestoreDrill, FUNCTION};
use crate::checks;
use crate::policy::drill::{
    add_instance_refusal, named_as_scratch, tagged_source, Step, EXPIRES_TAG, OWNER_TAG,
    SCRATCH_TAG, SOURCE_TAG,
};
use crate::request::Subject;

impl<R, B, T, D, J, V> RestoreDrill<R, B, T, D, J, V>
where
    R: RestoreControl,
    B: TableBackups,
    T: TableRestores,
    D: DataInspector,
    J: JobStore,
    V: RestoreJobs,
{
    pub(super) async fn add_instance(
        &self,
        scratch_id: &RdsIdentifier,
        available_at: Option<DateTime<Utc>>,
        because: &str,
        run: &RunContext<'_, '_, impl Ledger>,
        invocation: &Invocation,
    ) -> Check {
        let name = format!("drill {scratch_id}");
        let scratch = match self.rds.describe_cluster(scratch_id).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                return Check::new(
                    name,
                    Outcome::Skipped,
                    format!("{scratch_id} is gone: no instance to add ({because})"),
                )
            }
            Err(e) => return Check::new(name, Outcome::Fail, format!("{e}; no instance added")),
        };
        let ours = named_as_scratch(scratch_id.as_str())
            && scratch.tags.get(SCRATCH_TAG).map(String::as_str) == Some(scratch_id.as_str());
        let Some(source) = tagged_source(&scratch.tags)
            .filter(|s| matches!(s, Subject::Cluster(_)))
            .filter(|_| ours)
        else {
            return Check::new(
                name,
                Outcome::Skipped,
                format!("{scratch_id} lacks this drill's tags ({SCRATCH_TAG}, {SOURCE_TAG}): not a drill of ours, not touched"),
            );
        };
        let job = match self.jobs.load(FUNCTION, &drill_key(&source)).await {
            Ok(Some(job)) if job.run == scratch_id.as_str() => job,
            Ok(_) => {
                return Check::new(
                    name,
                    Outcome::Skipped,
                    format!(
                        "no drill record names {scratch_id}: the sweep deletes it at its expiry"
                    ),
                )
            }
            Err(e) => return Check::new(name, Outcome::Fail, format!("{e}; no instance added")),
        };
        if let Some(reason) = add_instance_refusal(&facts_of(&job), &invocation.request_id, run.now)
        {
            return Check::new(name, Outcome::Skipped, format!("{reason}; {because}"));
        }
        if scratch.status != "available" {
            return Check::new(
                name,
                Outcome::Skipped,
                format!(
                    "{scratch_id} is {} (not available yet): the next event or sweep adds its instance",
                    scratch.status
                ),
            );
        }
        let Some(mut state) = state_of(&job) else {
            return Check::new(
                name,
                Outcome::Fail,
                format!("the drill record of {scratch_id} is unreadable; no instance added"),
            );
        };
        state.cluster_available_at = state
            .cluster_available_at
            .or(available_at)
            .or(Some(run.now));
        let mut taken = job.clone();
        taken.step = Step::AddingInstance.as_str().into();
        taken.lease = Some(Lease {
            holder: invocation.request_id.clone(),
            until: invocation.deadline,
        });
        taken.state = serde_json::to_value(&state).unwrap_or_default();
        let version = match self.jobs.swap(FUNCTION, &taken, Some(job.version)).await {
            Ok(Swap::Written(v)) => v,
            Ok(Swap::Lost(_)) => {
                return Check::new(
                    name,
                    Outcome::Skipped,
                    format!("another run is adding the instance of {scratch_id}"),
                )
            }
            Err(e) => return Check::new(name, Outcome::Fail, format!("{e}; no instance added")),
        };
        if let Err(refused) = run
            .may_act(
                &drill_lock(&source),
                &format!("adding instance {scratch_id} to cluster {scratch_id}"),
            )
            .await
        {
            return refused;
        }
        let instance = RdsIdentifier::parse(scratch_id.as_str(), ResourceKind::DbInstance)
            .unwrap_or_else(|_| scratch_id.clone());
        let tags = [SCRATCH_TAG, SOURCE_TAG, EXPIRES_TAG, OWNER_TAG]
            .iter()
            .filter_map(|k| scratch.tags.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect();
        let source_cluster = source.db().map(|db| db.id().clone());
        let writer_group = match &source_cluster {
            Some(cluster) => self.writer_parameter_group(cluster).await,
            None => Err("the drill names no source cluster".into()),
        };
        let request = RestoreRequest {
            scratch: instance.clone(),
            source: scratch_id.clone(),
            from: RestoreFrom::LatestRestorable,
            engine: scratch.engine.clone(),
            kms_key: None,
            instance_class: self.config.instance_class.clone(),
            subnet_group: None,
            security_groups: Vec::new(),
            parameter_group: writer_group.clone().ok().flatten(),
            option_group: None,
            iam_auth: false,
            tags,
        };
        let (outcome, detail) = match self.rds.add_instance(&request, scratch_id).await {
            Ok(()) => match &writer_group {
                Ok(group) => (
                    Outcome::Pass,
                    format!(
                        "{scratch_id} is restored; its {} instance {instance} is being created with {} ({because})",
                        self.config.instance_class,
                        checks::parameter_group_words(group.as_deref())
                    ),
                ),
                Err(e) => (
                    Outcome::Warn,
                    format!(
                        "{scratch_id} is restored; its {} instance {instance} is being created with the engine's default parameter group: the source writer's could not be read ({e}) ({because})",
                        self.config.instance_class
                    ),
                ),
            },
            Err(RdsError::AlreadyExists { .. }) => match self.rds.describe_recovery(&instance).await
            {
                Ok(Some(i))
                    if i.tags.get(SCRATCH_TAG).map(String::as_str) == Some(instance.as_str())
                        && i.cluster.as_deref() == Some(scratch_id.as_str()) =>
                {
                    (
                        Outcome::Pass,
                        format!("its instance {instance} was already being created (an earlier try)"),
                    )
                }
                _ => (
                    Outcome::Fail,
                    format!("{instance} exists and is not this drill's instance: not touched"),
                ),
            },
            Err(e) => (
                Outcome::Fail,
                format!("creating its instance failed: {e}"),
            ),
        };
        taken.lease = None;
        if outcome == Outcome::Fail {
            // The drill is over: its cluster is deleted now (and by the sweep if this fails).
            state.outcome = Some("failed".into());
            taken.step = Step::Cleaning.as_str().into();
        }
        taken.state = serde_json::to_value(&state).unwrap_or_default();
        let saved = self.jobs.swap(FUNCTION, &taken, Some(version)).await;
        let mut check = Check::new(name, outcome, detail);
        if let Err(e) = saved {
            check
                .detail
                .push_str(&format!(" (the drill record was not updated: {e})"));
        }
        if outcome == Outcome::Fail {
            let (cleanup, done) = self.clean_up_cluster(scratch_id, &source, run).await;
            if done {
                self.mark_done_if_clean(&cleanup, &source).await;
            }
            check.detail.push_str(&format!("; {}", cleanup.detail));
        }
        check
    }

    /// The DB parameter group of a source cluster's writer (an added instance copies it; RDS
    /// would give it the engine's default). `Ok(None)`: the writer names none.
    pub(super) async fn writer_parameter_group(
        &self,
        cluster: &RdsIdentifier,
    ) -> Result<Option<String>, String> {
        let described = self.rds.describe_cluster(cluster).await;
        let source = match described {
            Ok(Some(c)) => c,
            Ok(None) => return Err(format!("{cluster} is gone")),
            Err(e) => return Err(e.to_string()),
        };
        let Some(writer) = source.writer.as_ref() else {
            return Err(format!("{cluster} lists no writer instance to copy"));
        };
        let writer =
            RdsIdentifier::parse(writer, ResourceKind::DbInstance).map_err(|e| e.to_string())?;
        match self.rds.describe_recovery(&writer).await {
            Ok(Some(w)) => Ok(w.placement.and_then(|p| p.parameter_group)),
            Ok(None) => Err(format!("its writer {writer} is gone")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// [`Self::writer_parameter_group`] of a subject that is a cluster; `None` when unread
    /// (Backup's own restore gives the default too).
    pub(super) async fn writer_group_of(&self, source: &Subject) -> Option<String> {
        match source {
            Subject::Cluster(cluster) => self.writer_parameter_group(cluster).await.ok().flatten(),
            _ => None,
        }
    }
}
