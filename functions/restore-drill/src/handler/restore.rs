//! A drill's restore calls: an instance or cluster restore placed like its source (a retry finds
//! its own copy by its tags), a table restore and its tags, and the plan's wording.

use chrono::{DateTime, SecondsFormat, Utc};

use rds_responder::backups::{SnapshotInfo, TableBackups};
use rds_responder::job::JobStore;
use rds_responder::rds::RdsError;
use rds_responder::recovery::{RecoveryInfo, RestoreControl, RestoreRequest};
use rds_responder::report::Outcome;
use rds_responder::restore_testing::RestoreJobs;
use rds_responder::sql::verify::DataInspector;
use rds_responder::table_recovery::TableRestores;
use rds_responder::trigger::{DbTarget, RdsIdentifier, ResourceKind};

use super::RestoreDrill;
use crate::checks;
use crate::policy::drill::{
    choose_source, choose_table_source, Source, OWNER_TAG, SCRATCH_TAG, SOURCE_TAG,
};
use crate::request::{DrillFrom, Subject};

impl<R, B, T, D, J, V> RestoreDrill<R, B, T, D, J, V>
where
    R: RestoreControl,
    B: TableBackups,
    T: TableRestores,
    D: DataInspector,
    J: JobStore,
    V: RestoreJobs,
{
    /// Where a drill of `subject` restores from, or why it cannot.
    pub(super) async fn source_of(
        &self,
        subject: &Subject,
        info: Option<&RecoveryInfo>,
        snapshots: &[SnapshotInfo],
        from: DrillFrom,
    ) -> Result<Source, String> {
        match (subject, info) {
            (Subject::Table(table), _) => {
                let backups = match from {
                    DrillFrom::NewestSnapshot => self
                        .tables
                        .list_backups(table)
                        .await
                        .map_err(|e| format!("{e}; not started"))?,
                    DrillFrom::LatestRestorable => Vec::new(),
                };
                let pitr = match from {
                    DrillFrom::LatestRestorable => Some(
                        self.tables
                            .pitr(table)
                            .await
                            .map_err(|e| format!("{e}; not started"))?,
                    ),
                    DrillFrom::NewestSnapshot => None,
                };
                choose_table_source(table, &backups, pitr.as_ref(), from)
            }
            (_, Some(info)) => choose_source(info, snapshots, from),
            (_, None) => Err(format!("RDS lists no {subject}")),
        }
    }

    /// Whether a drill's copy named `run` is there, of `subject`'s kind; unread, it may be
    /// (fail closed: its drill is not taken over).
    pub(super) async fn copy_named(&self, subject: &Subject, run: &str) -> bool {
        match subject {
            Subject::Table(_) => match rds_responder::trigger::TableName::parse(run) {
                Ok(table) => !matches!(self.table_restores.table_settings(&table).await, Ok(None)),
                Err(_) => true,
            },
            Subject::Instance(_) => match RdsIdentifier::parse(run, ResourceKind::DbInstance) {
                Ok(id) => !matches!(self.rds.describe_recovery(&id).await, Ok(None)),
                Err(_) => true,
            },
            Subject::Cluster(_) => match RdsIdentifier::parse(run, ResourceKind::DbCluster) {
                Ok(id) => !matches!(self.rds.describe_cluster(&id).await, Ok(None)),
                Err(_) => true,
            },
        }
    }

    /// An instance or cluster restore; a retry finds its own scratch by its drill tag.
    pub(super) async fn restore_rds(
        &self,
        subject: &Subject,
        request: &RestoreRequest,
        plan: &str,
    ) -> (Outcome, String) {
        let cluster = matches!(subject, Subject::Cluster(_));
        let restored = match cluster {
            true => self.rds.restore_cluster(request).await,
            false => self.rds.restore_instance(request).await,
        };
        let scratch = &request.scratch;
        match &restored {
            Ok(()) => (Outcome::Pass, format!("restoring {plan}")),
            Err(RdsError::AlreadyExists { .. }) => {
                let found = match cluster {
                    true => self.rds.describe_cluster(scratch).await,
                    false => self.rds.describe_recovery(scratch).await,
                };
                match found {
                    Ok(Some(s))
                        if s.tags.get(SCRATCH_TAG).map(String::as_str)
                            == Some(scratch.as_str())
                            && s.tags.get(SOURCE_TAG) == Some(&subject.tag_value())
                            && s.tags.get(OWNER_TAG) == Some(&self.owner) =>
                    {
                        (
                            Outcome::Pass,
                            format!("already restoring (an earlier try of this start): {plan}"),
                        )
                    }
                    _ => (
                        Outcome::Fail,
                        format!(
                            "{scratch} exists and is not this drill's scratch copy: not touched"
                        ),
                    ),
                }
            }
            Err(e) => (Outcome::Fail, format!("the restore failed: {e}")),
        }
    }

    /// A table restore, then its tags (DynamoDB restores take none).
    pub(super) async fn restore_table(
        &self,
        source: &rds_responder::trigger::TableName,
        scratch: &rds_responder::trigger::TableName,
        from: &Source,
        tags: &[(String, String)],
        plan: &str,
    ) -> (Outcome, String) {
        match self
            .table_restores
            .restore_table(source, scratch, &from.from)
            .await
        {
            Ok(()) => {}
            Err(e) if e.already_exists() => {
                return (
                    Outcome::Fail,
                    format!("{scratch} exists already: not touched"),
                )
            }
            Err(e) => return (Outcome::Fail, format!("the restore failed: {e}")),
        }
        let tagged = match self.table_restores.table_settings(scratch).await {
            Ok(Some(s)) if !s.arn.is_empty() => self
                .table_restores
                .tag_table(&s.arn, tags)
                .await
                .map_err(|e| e.to_string()),
            Ok(_) => Err("DescribeTable names no ARN yet".into()),
            Err(e) => Err(e.to_string()),
        };
        match tagged {
            Ok(()) => (Outcome::Pass, format!("restoring {plan}")),
            // The record names it: the check step tags it before deleting.
            Err(e) => (
                Outcome::Pass,
                format!(
                    "restoring {plan}; its tags are not on yet ({e}): the check step adds them"
                ),
            ),
        }
    }
}

/// The restore call for an instance or cluster source, placed like it.
pub(super) fn restore_request(
    info: &RecoveryInfo,
    scratch: &Subject,
    source: &Source,
    instance_class: &str,
    tags: Vec<(String, String)>,
) -> Result<RestoreRequest, String> {
    let id = info.db.id();
    let Some(placement) = info.placement.clone() else {
        return Err(format!("RDS lists no placement for {id}"));
    };
    let kind = match info.db {
        DbTarget::Instance(_) => ResourceKind::DbInstance,
        DbTarget::Cluster(_) => ResourceKind::DbCluster,
    };
    let scratch = RdsIdentifier::parse(scratch.name(), kind)
        .map_err(|rule| format!("scratch name {}: {rule}", scratch.name()))?;
    let cluster = matches!(info.db, DbTarget::Cluster(_));
    Ok(RestoreRequest {
        scratch,
        source: id.clone(),
        from: source.from.clone(),
        engine: info.engine.clone(),
        kms_key: placement.kms_key.clone().filter(|_| cluster),
        instance_class: instance_class.to_string(),
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
        tags,
    })
}

pub(super) fn plan_words(
    scratch: &Subject,
    source: &Source,
    request: Option<&RestoreRequest>,
    deadline: DateTime<Utc>,
) -> String {
    let expiry = deadline.to_rfc3339_opts(SecondsFormat::Secs, true);
    let name = scratch.name();
    match (scratch, request) {
        (Subject::Cluster(_), Some(r)) => format!(
            "{name} from {}, then one {} instance, in subnet group {}, security groups [{}], not public, deletion protection off, expiring {expiry}",
            checks::source_words(source),
            r.instance_class,
            r.subnet_group.as_deref().unwrap_or("(default)"),
            r.security_groups.join(", "),
        ),
        (_, Some(r)) => format!(
            "{name} from {} as {} in subnet group {}, security groups [{}], not public, deletion protection off, expiring {expiry}",
            checks::source_words(source),
            r.instance_class,
            r.subnet_group.as_deref().unwrap_or("(default)"),
            r.security_groups.join(", "),
        ),
        (_, None) => format!(
            "{name} from {}, expiring {expiry}",
            checks::source_words(source)
        ),
    }
}
