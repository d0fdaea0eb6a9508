//! AWS Backup restore testing: the restore jobs a restore testing plan ran, and the validation
//! result Backup's console shows for each (`PutRestoreValidationResult`). Backup restores and
//! later deletes the resource; what is posted here is the only verdict it keeps.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::aws::{SdkError, SdkFailure};
use crate::budget::BoundedCall;

/// One restore job, as `DescribeRestoreJob` and `ListRestoreJobs` tell it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreJob {
    pub job_id: String,
    /// `PENDING`, `RUNNING`, `COMPLETED`, `ABORTED`, `FAILED`.
    pub status: String,
    /// The restored resource (an RDS instance or cluster, a DynamoDB table ARN).
    pub created_resource: Option<String>,
    /// What was backed up: the database the restore is compared with.
    pub source_resource: Option<String>,
    pub recovery_point: Option<String>,
    pub recovery_point_created: Option<DateTime<Utc>>,
    /// `CreatedBy.RestoreTestingPlanArn`: only a restore testing plan's jobs are validated.
    pub plan: Option<String>,
    pub resource_type: Option<String>,
    pub created: Option<DateTime<Utc>>,
    pub completed: Option<DateTime<Utc>>,
    /// `VALIDATING`, `SUCCESSFUL`, `FAILED`, `TIMED_OUT`; `None` before anyone validated.
    pub validation: Option<String>,
}

/// What a validation says; Backup's own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Validation {
    Validating,
    Successful,
    Failed,
    TimedOut,
}

impl Validation {
    pub fn as_str(self) -> &'static str {
        match self {
            Validation::Validating => "VALIDATING",
            Validation::Successful => "SUCCESSFUL",
            Validation::Failed => "FAILED",
            Validation::TimedOut => "TIMED_OUT",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("AWS Backup {operation} of restore job {job} failed: {source}")]
pub struct RestoreTestingError {
    pub operation: &'static str,
    pub job: String,
    #[source]
    pub source: SdkFailure,
}

impl RestoreTestingError {
    pub fn not_found(&self) -> bool {
        self.source.code.as_deref() == Some("ResourceNotFoundException")
    }
}

#[allow(async_fn_in_trait)]
pub trait RestoreJobs {
    /// `Ok(None)` when Backup knows no such job.
    async fn describe_job(&self, job_id: &str) -> Result<Option<RestoreJob>, RestoreTestingError>;
    async fn post_validation(
        &self,
        job_id: &str,
        validation: Validation,
        message: &str,
    ) -> Result<(), RestoreTestingError>;
    /// The `COMPLETED` jobs of `plan` created after `since`, every page.
    async fn completed_jobs(
        &self,
        plan: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<RestoreJob>, RestoreTestingError>;
    /// The validation window of `plan`'s selections of `resource_type` (Backup's words: `RDS`,
    /// `Aurora`, `DynamoDB`), the longest when several select it (a job does not say which
    /// selection made it: a window is never taken as closed while Backup may still wait);
    /// `Ok(None)` when Backup lists no such plan or none of its selections is of that type.
    async fn validation_window(
        &self,
        plan: &str,
        resource_type: &str,
    ) -> Result<Option<chrono::Duration>, RestoreTestingError>;
}

pub struct BackupRestoreJobs {
    pub client: aws_sdk_backup::Client,
}

/// Backup's message field takes at most this many characters here (the console shows one line).
pub const MAX_VALIDATION_MESSAGE: usize = 1000;

/// Pages a listing reads at most (1,000 jobs each).
const MAX_PAGES: usize = 100;

fn failed<E>(operation: &'static str, job: &str) -> impl FnOnce(SdkError<E>) -> RestoreTestingError
where
    E: aws_sdk_backup::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let job = job.to_string();
    move |e| RestoreTestingError {
        operation,
        job,
        source: SdkFailure::from_sdk("Backup", &e),
    }
}

fn utc(t: Option<&aws_sdk_backup::primitives::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

/// A message cut to [`MAX_VALIDATION_MESSAGE`] characters, on a character boundary.
pub fn validation_message(text: &str) -> String {
    // One line (no control characters), cut by characters here, not at the error text's bytes.
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match line.char_indices().nth(MAX_VALIDATION_MESSAGE - 1) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    }
}

/// A [`RestoreJob`] from either of the SDK's two shapes of a job (`DescribeRestoreJob`'s output,
/// `ListRestoreJobs`' members), which share their accessors; `$id` stands in for a missing id.
macro_rules! restore_job {
    ($j:expr, $id:expr) => {
        RestoreJob {
            job_id: $j.restore_job_id().unwrap_or($id).to_string(),
            status: $j
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            created_resource: $j.created_resource_arn().map(str::to_string),
            source_resource: $j.source_resource_arn().map(str::to_string),
            recovery_point: $j.recovery_point_arn().map(str::to_string),
            recovery_point_created: utc($j.recovery_point_creation_date()),
            plan: $j
                .created_by()
                .and_then(|c| c.restore_testing_plan_arn())
                .map(str::to_string),
            resource_type: $j.resource_type().map(str::to_string),
            created: utc($j.creation_date()),
            completed: utc($j.completion_date()),
            validation: $j.validation_status().map(|s| s.as_str().to_string()),
        }
    };
}

impl RestoreJobs for BackupRestoreJobs {
    async fn describe_job(&self, job_id: &str) -> Result<Option<RestoreJob>, RestoreTestingError> {
        let out = match self
            .client
            .describe_restore_job()
            .restore_job_id(job_id)
            .send()
            .bounded("Backup DescribeRestoreJob")
            .await
            .map_err(failed("DescribeRestoreJob", job_id))
        {
            Ok(out) => out,
            Err(e) if e.not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(restore_job!(out, job_id)))
    }

    async fn post_validation(
        &self,
        job_id: &str,
        validation: Validation,
        message: &str,
    ) -> Result<(), RestoreTestingError> {
        use aws_sdk_backup::types::RestoreValidationStatus as Status;
        let status = match validation {
            Validation::Validating => Status::Validating,
            Validation::Successful => Status::Successful,
            Validation::Failed => Status::Failed,
            Validation::TimedOut => Status::TimedOut,
        };
        self.client
            .put_restore_validation_result()
            .restore_job_id(job_id)
            .validation_status(status)
            .validation_status_message(validation_message(message))
            .send()
            .bounded_action("Backup PutRestoreValidationResult")
            .await
            .map(|_| ())
            .map_err(failed("PutRestoreValidationResult", job_id))
    }

    async fn validation_window(
        &self,
        plan: &str,
        resource_type: &str,
    ) -> Result<Option<chrono::Duration>, RestoreTestingError> {
        // A plan's selections are listed by its name; its ARN is what the job and the settings say.
        let mut name = None;
        let mut token: Option<String> = None;
        let mut seen: Vec<String> = Vec::new();
        for _ in 0..MAX_PAGES {
            let out = self
                .client
                .list_restore_testing_plans()
                .set_next_token(token.take())
                .send()
                .bounded("Backup ListRestoreTestingPlans")
                .await
                .map_err(failed("ListRestoreTestingPlans", plan))?;
            name = out
                .restore_testing_plans()
                .iter()
                .find(|p| p.restore_testing_plan_arn() == plan)
                .map(|p| p.restore_testing_plan_name().to_string());
            match out.next_token() {
                Some(t) if name.is_none() && !t.is_empty() && !seen.iter().any(|s| s == t) => {
                    seen.push(t.to_string());
                    token = Some(t.to_string());
                }
                _ => break,
            }
        }
        let Some(name) = name else {
            return Ok(None);
        };
        let mut hours: Option<i32> = None;
        let mut token: Option<String> = None;
        let mut seen: Vec<String> = Vec::new();
        for _ in 0..MAX_PAGES {
            let out = self
                .client
                .list_restore_testing_selections()
                .restore_testing_plan_name(&name)
                .set_next_token(token.take())
                .send()
                .bounded("Backup ListRestoreTestingSelections")
                .await
                .map_err(failed("ListRestoreTestingSelections", plan))?;
            for selection in out.restore_testing_selections() {
                if selection.protected_resource_type() == resource_type {
                    let h = selection.validation_window_hours().clamp(0, 168);
                    hours = Some(hours.map_or(h, |longest| longest.max(h)));
                }
            }
            match out.next_token() {
                Some(t) if !t.is_empty() && !seen.iter().any(|s| s == t) => {
                    seen.push(t.to_string());
                    token = Some(t.to_string());
                }
                _ => break,
            }
        }
        Ok(hours.map(|h| chrono::Duration::hours(i64::from(h))))
    }

    async fn completed_jobs(
        &self,
        plan: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<RestoreJob>, RestoreTestingError> {
        let mut jobs = Vec::new();
        let mut token: Option<String> = None;
        let mut seen: Vec<String> = Vec::new();
        for _ in 0..MAX_PAGES {
            let out = self
                .client
                .list_restore_jobs()
                .by_restore_testing_plan_arn(plan)
                .by_status(aws_sdk_backup::types::RestoreJobStatus::Completed)
                .by_created_after(aws_sdk_backup::primitives::DateTime::from_secs(
                    since.timestamp(),
                ))
                .set_next_token(token.take())
                .send()
                .bounded("Backup ListRestoreJobs")
                .await
                .map_err(failed("ListRestoreJobs", plan))?;
            jobs.extend(out.restore_jobs().iter().map(|j| restore_job!(j, "")));
            match out.next_token() {
                // A token seen before would loop: the listing stops, as at the page cap.
                Some(t) if !t.is_empty() && !seen.iter().any(|s| s == t) => {
                    seen.push(t.to_string());
                    token = Some(t.to_string());
                }
                Some(t) if !t.is_empty() => break,
                _ => return Ok(jobs),
            }
        }
        Err(RestoreTestingError {
            operation: "ListRestoreJobs",
            job: plan.to_string(),
            source: SdkFailure {
                service: "Backup",
                code: None,
                message: format!(
                    "more than {MAX_PAGES} pages, or a page token repeated: listing stopped"
                ),
                request_id: None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_message_is_cut_on_a_character() {
        let long = "é".repeat(2 * MAX_VALIDATION_MESSAGE);
        let cut = validation_message(&long);
        assert_eq!(cut.chars().count(), MAX_VALIDATION_MESSAGE);
        assert!(cut.ends_with('…'));
        assert_eq!(validation_message("two\nlines"), "two lines");
        assert_eq!(Validation::TimedOut.as_str(), "TIMED_OUT");
    }
}
