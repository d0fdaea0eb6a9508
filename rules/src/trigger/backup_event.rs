//! AWS Backup's "Restore Job State Change" events (EventBridge, source `aws.backup`): a restore
//! job of a restore testing plan changed state. The event is a hint, delivered best effort;
//! the function reads the job itself (`DescribeRestoreJob`) before it acts.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::{read_value, Origin, TriggerError};

pub const RESTORE_JOB_STATE_CHANGE: &str = "Restore Job State Change";

/// A restore job id: Backup's are UUIDs; anything else printable within 128 characters of
/// letters, digits, `-` and `_` is read, the rest refused.
const MAX_JOB_ID: usize = 128;

#[derive(Debug, Clone, PartialEq)]
pub struct RestoreJobEvent {
    pub job_id: String,
    /// `COMPLETED`, `FAILED`, `ABORTED`, `RUNNING`, `PENDING` (upper-cased as read).
    pub status: String,
    pub created_resource_arn: Option<String>,
    pub plan_arn: Option<String>,
    pub resource_type: Option<String>,
    pub time: DateTime<Utc>,
}

impl RestoreJobEvent {
    /// Why a function that does not validate restore tests does nothing with it.
    pub fn not_meant_for(&self) -> String {
        format!(
            "AWS Backup restore job {} ({}) is not this function's trigger (only restore-drill validates restore tests): nothing to do",
            self.job_id, self.status
        )
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDetail {
    restore_job_id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    created_resource_arn: Option<String>,
    #[serde(default)]
    restore_testing_plan_arn: Option<String>,
    #[serde(default)]
    resource_type: Option<String>,
}

/// A restore job id as Backup writes them: 1-128 ASCII letters, digits, `-` and `_`.
pub fn valid_job_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_JOB_ID
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(crate) fn from_eventbridge(
    detail_type: &str,
    detail: Value,
    time: DateTime<Utc>,
    origin: &Origin,
) -> Result<RestoreJobEvent, TriggerError> {
    if detail_type != RESTORE_JOB_STATE_CHANGE {
        return Err(TriggerError::invalid(
            "detail-type",
            format!(
                "must be {RESTORE_JOB_STATE_CHANGE:?} for source aws.backup, got {detail_type:?}"
            ),
        ));
    }
    let raw: RawDetail = read_value(detail, "AWS Backup restore job")?;
    let job_id = raw.restore_job_id.trim().to_string();
    if !valid_job_id(&job_id) {
        return Err(TriggerError::invalid(
            "detail.restoreJobId",
            format!("must be 1-{MAX_JOB_ID} letters, digits, '-' or '_'"),
        ));
    }
    // Some Backup events say `status`, others `state` (Backup's own note).
    let Some(status) = raw
        .status
        .or(raw.state)
        .map(|s| s.trim().to_ascii_uppercase())
    else {
        return Err(TriggerError::invalid(
            "detail.status",
            "is required on a restore job event",
        ));
    };
    let arn = |field: &str, raw: Option<String>| -> Result<Option<String>, TriggerError> {
        match raw.map(|a| a.trim().to_string()).filter(|a| !a.is_empty()) {
            Some(a) => origin.check_arn(field, &a).map(|()| Some(a)),
            None => Ok(None),
        }
    };
    Ok(RestoreJobEvent {
        job_id,
        status,
        created_resource_arn: arn("detail.createdResourceArn", raw.created_resource_arn)?,
        plan_arn: arn("detail.restoreTestingPlanArn", raw.restore_testing_plan_arn)?,
        resource_type: raw.resource_type,
        time,
    })
}
