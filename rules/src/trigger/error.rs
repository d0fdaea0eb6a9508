//! Why an event was refused, and the reader that names where in the payload it failed.

use serde_json::Value;

/// Why an event was refused. Every variant names the field and the rule.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("{shape} payload is malformed at {path}: {source}")]
    Malformed {
        shape: &'static str,
        /// Where in the payload (`targets[0].db_instance`; `.` for the whole payload).
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("payload is not a readable JSON document (at most 128 levels deep): {detail}")]
    Unreadable { detail: String },
    #[error("field `{field}` {rule}")]
    InvalidField { field: String, rule: String },
    #[error("field `{field}` names account {got}, but this function only accepts events from its own account {expected}")]
    ForeignAccount {
        field: String,
        expected: String,
        got: String,
    },
    #[error("field `{field}` names region {got}, but this function only accepts events from its own region {expected}")]
    ForeignRegion {
        field: String,
        expected: String,
        got: String,
    },
    #[error("field `{field}` is {got:?}: unknown event source, accepted: {accepted}")]
    UnknownSource {
        field: &'static str,
        got: String,
        accepted: &'static str,
    },
}

impl TriggerError {
    pub fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        TriggerError::InvalidField {
            field: field.into(),
            rule: rule.into(),
        }
    }

    /// A short machine-readable kind, used as the Lambda error type.
    pub fn kind(&self) -> &'static str {
        match self {
            TriggerError::Malformed { .. } | TriggerError::Unreadable { .. } => "MalformedEvent",
            TriggerError::InvalidField { .. } => "InvalidField",
            TriggerError::ForeignAccount { .. } => "ForeignAccount",
            TriggerError::ForeignRegion { .. } => "ForeignRegion",
            TriggerError::UnknownSource { .. } => "UnknownSource",
        }
    }
}

/// Reads a manual payload into its raw schema type (which should deny unknown fields).
/// Reads `value` as `T`; a failure names where in the payload it is (`targets[0].db_instance`).
pub fn read_value<T: serde::de::DeserializeOwned>(
    value: Value,
    shape: &'static str,
) -> Result<T, TriggerError> {
    serde_path_to_error::deserialize(value).map_err(|e| TriggerError::Malformed {
        shape,
        path: e.path().to_string(),
        source: e.into_inner(),
    })
}
