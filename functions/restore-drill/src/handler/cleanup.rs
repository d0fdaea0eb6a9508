//! A drill's cleanup: its scratch instance, or an Aurora drill's instance and cluster, and the
//! record marked done once its copy is gone.

use chrono::Utc;

use rds_responder::backups::TableBackups;
use rds_responder::job::JobStore;
use rds_responder::ledger::Ledger;
use rds_responder::rds::RdsError;
use rds_responder::recovery::RestoreControl;
use rds_responder::report::{Check, Outcome};
use rds_responder::restore_testing::RestoreJobs;
use rds_responder::run::RunContext;
use rds_responder::sql::verify::DataInspector;
use rds_responder::table_recovery::TableRestores;
use rds_responder::trigger::{RdsIdentifier, ResourceKind};

use super::{drill_key, drill_lock, DrillState, RestoreDrill, FUNCTION};
use crate::policy::drill::{Step, SCRATCH_TAG};
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
    /// The drill is over: its record says done, no lease.
    pub(super) async fn finish(&self, job: &mut rds_responder::job::JobRecord, version: u64) {
        job.step = Step::Done.as_str().into();
        job.lease = None;
        // Unrecorded, the sweep finds the record in `cleaning` and the instance gone.
        let _ = self.jobs.swap(FUNCTION, job, Some(version)).await;
    }

    /// Deletes the scratch instance (no final snapshot, no automated backups kept). A failure
    /// fails the report: the instance costs money until the sweep deletes it.
    pub(super) async fn clean_up(
        &self,
        scratch: &RdsIdentifier,
        source: &Subject,
        run: &RunContext<'_, '_, impl Ledger>,
    ) -> Check {
        if let Err(refused) = run
            .may_act(&drill_lock(source), &format!("deleting {scratch}"))
            .await
        {
            return refused;
        }
        match self.rds.delete_scratch(scratch).await {
            Ok(()) => Check::new("cleanup", Outcome::Pass, format!("{scratch} deleted (no final snapshot, automated backups deleted)")),
            Err(RdsError::NotFound { .. }) => Check::new("cleanup", Outcome::Pass, format!("{scratch} was already gone")),
            Err(e) => Check::new(
                "cleanup",
                Outcome::Fail,
                format!("deleting {scratch} failed: {e}; it costs money until deleted: the sweep tries again, look at it"),
            ),
        }
    }

    /// An Aurora drill's cleanup: its instance, then its cluster. RDS deletes a cluster only once
    /// its instances are gone: until then the cluster waits for the sweep (`false`: not done).
    pub(super) async fn clean_up_cluster(
        &self,
        scratch: &RdsIdentifier,
        source: &Subject,
        run: &RunContext<'_, '_, impl Ledger>,
    ) -> (Check, bool) {
        let instance = RdsIdentifier::parse(scratch.as_str(), ResourceKind::DbInstance)
            .unwrap_or_else(|_| scratch.clone());
        // Its instance only if it is this drill's: tagged with its own name, in this cluster.
        let member = match self.rds.describe_recovery(&instance).await {
            Ok(None) => Check::new(
                "cleanup",
                Outcome::Pass,
                format!("{instance} was already gone"),
            ),
            Ok(Some(i)) if i.status == "deleting" => Check::new(
                "cleanup",
                Outcome::Pass,
                format!("{instance} is being deleted"),
            ),
            Ok(Some(i))
                if i.tags.get(SCRATCH_TAG).map(String::as_str) == Some(instance.as_str())
                    && i.cluster.as_deref() == Some(scratch.as_str()) =>
            {
                self.clean_up(&instance, source, run).await
            }
            Ok(Some(_)) => Check::new(
                "cleanup",
                Outcome::Pass,
                format!("{instance} is not this drill's instance: not touched"),
            ),
            Err(e) => Check::new(
                "cleanup",
                Outcome::Fail,
                format!("{e}: {instance} not deleted; the sweep tries again"),
            ),
        };
        if member.outcome != Outcome::Pass {
            return (member, false);
        }
        let cluster = RdsIdentifier::parse(scratch.as_str(), ResourceKind::DbCluster)
            .unwrap_or_else(|_| scratch.clone());
        if let Err(refused) = run
            .may_act(&drill_lock(source), &format!("deleting cluster {cluster}"))
            .await
        {
            return (refused, false);
        }
        match self.rds.delete_scratch_cluster(&cluster).await {
            Ok(()) => (
                Check::new(
                    "cleanup",
                    Outcome::Pass,
                    format!("{}; cluster {cluster} deleted (no final snapshot, automated backups deleted)", member.detail),
                ),
                true,
            ),
            Err(RdsError::NotFound { .. }) => (
                Check::new(
                    "cleanup",
                    Outcome::Pass,
                    format!("{}; cluster {cluster} was already gone", member.detail),
                ),
                true,
            ),
            Err(e) => (
                Check::new(
                    "cleanup",
                    Outcome::Warn,
                    format!("{}; deleting cluster {cluster} failed for now ({e}): RDS deletes a cluster once its instance is gone, the next sweep deletes it", member.detail),
                ),
                false,
            ),
        }
    }

    /// A deleted scratch copy ends its drill, when its record is still at cleaning.
    pub(super) async fn mark_done_if_clean(&self, cleanup: &Check, source: &Subject) {
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

/// What a drill cost: its class and the minutes its copy lived.
pub(super) fn cost_check(state: &DrillState, now: chrono::DateTime<Utc>) -> Check {
    let minutes = (now - state.started_at).num_minutes().max(0);
    Check::new(
        "cost",
        Outcome::Pass,
        format!("{} alive {minutes} min", state.instance_class),
    )
    .with_data(
        serde_json::json!({"instance_class": state.instance_class, "minutes_alive": minutes}),
    )
}
