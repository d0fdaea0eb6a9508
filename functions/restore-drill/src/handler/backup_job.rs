//! What a Backup restore job is as a report's result and as a drill: shared by a validation of
//! an instance or table (`validate`) and of an Aurora cluster (`member`).

use chrono::Utc;
use serde_json::json;

use rds_responder::restore_testing::{RestoreJob, Validation};

use super::DrillState;
use crate::policy::validation::ValidationTarget;

/// What a validation says in a report's result.
pub(super) fn validation_result(
    job: &RestoreJob,
    target: &ValidationTarget,
    posted: Option<Validation>,
) -> serde_json::Value {
    json!({"validation": {
        "restore_job": job.job_id,
        "plan": job.plan,
        "restored": target.restored.tag_value(),
        "source": target.source.tag_value(),
        "posted": posted.map(Validation::as_str),
    }})
}

/// A Backup restore read as a drill: its recovery point, Backup's restore as its timeline.
pub(super) fn drill_state_of(
    job: &RestoreJob,
    target: &ValidationTarget,
    now: chrono::DateTime<Utc>,
) -> DrillState {
    DrillState {
        source: target.source.name().to_string(),
        kind: target.source.kind().to_string(),
        scratch: target.restored.name().to_string(),
        restore_from: job
            .recovery_point
            .clone()
            .unwrap_or_else(|| "an AWS Backup recovery point".into()),
        point_in_time: false,
        recovery_point: job.recovery_point_created.or(job.created).unwrap_or(now),
        started_at: job.created.unwrap_or(now),
        instance_class: String::new(),
        cluster_available_at: None,
        available_at: job.completed,
        outcome: None,
        checks: Vec::new(),
        rto_seconds: None,
        rpo_seconds: None,
    }
}
