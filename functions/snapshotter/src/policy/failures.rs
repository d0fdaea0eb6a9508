//! Which failures a retry may fix, and which it would only meet again.

use rds_responder::backups::BackupError;
use rds_responder::rds::RdsError;

/// Whether a create RDS did not do may succeed on a retry: no answer, throttling or a service
/// fault; an answer the adapter could not read (the snapshot may exist, and the retry finds it
/// by name); a database in a state that passes (backing up, modifying). A quota, a permission
/// or a bad parameter will not pass: a retry would only fail again.
pub fn create_retryable(error: &RdsError) -> bool {
    match error {
        RdsError::Unexpected { .. } => true,
        RdsError::NotFound { .. } | RdsError::AlreadyExists { .. } => false,
        RdsError::Api { .. } => error.transient() || database_busy(error),
    }
}

/// Whether RDS refused because the database is in a state that passes: backing up (another
/// snapshot of it in progress, e.g. the scheduled sweep's), modifying.
pub fn database_busy(error: &RdsError) -> bool {
    error.code().is_some_and(|code| {
        code.starts_with("InvalidDBInstanceState") || code.starts_with("InvalidDBClusterState")
    })
}

/// The same for a DynamoDB backup: no answer, throttling, a service fault, a limit on
/// operations running at once (`LimitExceededException`, `BackupInUseException`) or a table
/// being created or updated (`TableInUseException`) passes; a missing table, a permission or a
/// bad name does not.
pub fn backup_retryable(error: &BackupError) -> bool {
    error.source.transient()
        || matches!(
            error.source.code.as_deref(),
            Some(
                "LimitExceededException"
                    | "BackupInUseException"
                    | "TableInUseException"
                    | "ContinuousBackupsUnavailableException"
            )
        )
}

/// Whether a create got no answer (a timeout, a lost connection, an answer the adapter could
/// not read): it may have taken effect, so the caller looks before saying it did not.
pub fn no_answer(error: &RdsError) -> bool {
    match error {
        RdsError::Api { source, .. } => source.code.is_none(),
        RdsError::Unexpected { .. } => true,
        RdsError::NotFound { .. } | RdsError::AlreadyExists { .. } => false,
    }
}
