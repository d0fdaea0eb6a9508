//! What idle-reaper is asked: the manual payload (the schedule input is the shared
//! `TargetList`). Imports only the trigger types.

use serde::{Deserialize, Serialize};

use rds_responder::trigger::{
    parse_identifier, DbTarget, ManualPayload, ResourceKind, TriggerError,
};

/// Minutes, 0 to one week: longer is a typo, and `minutes * 60` can then never overflow.
pub const MAX_MINUTES: u64 = 7 * 24 * 60;

/// `{"db": "...", "idle_minutes": 15, "idle_in_transaction_minutes": 60, "dry_run": false,
/// "max_sessions": 50, "request_id": "..."}`; only `db` is required; dry run unless `false`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManualReap {
    pub db: DbTarget,
    pub idle_minutes: Option<u32>,
    pub idle_in_transaction_minutes: Option<u32>,
    pub dry_run: bool,
    pub max_sessions: Option<u32>,
    pub request_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManualReap {
    db: String,
    #[serde(default)]
    idle_minutes: Option<u32>,
    #[serde(default)]
    idle_in_transaction_minutes: Option<u32>,
    #[serde(default)]
    dry_run: Option<bool>,
    #[serde(default)]
    max_sessions: Option<u32>,
    #[serde(default)]
    request_id: Option<String>,
}

impl ManualPayload for ManualReap {
    type Raw = RawManualReap;
    const SHAPE: &'static str = "idle-reaper manual request";

    fn validate(raw: RawManualReap) -> Result<Self, TriggerError> {
        let invalid = |field: &str, rule: &str| TriggerError::InvalidField {
            field: field.into(),
            rule: rule.into(),
        };
        for (field, value) in [
            ("idle_minutes", raw.idle_minutes),
            (
                "idle_in_transaction_minutes",
                raw.idle_in_transaction_minutes,
            ),
        ] {
            if value.is_some_and(|m| u64::from(m) > MAX_MINUTES) {
                return Err(invalid(field, "must be 0-10080 minutes (one week)"));
            }
        }
        if raw.max_sessions == Some(0) {
            return Err(invalid("max_sessions", "must be at least 1"));
        }
        Ok(Self {
            db: DbTarget::Instance(parse_identifier("db", &raw.db, ResourceKind::DbInstance)?),
            idle_minutes: raw.idle_minutes,
            idle_in_transaction_minutes: raw.idle_in_transaction_minutes,
            dry_run: rds_responder::safety::dry_run(true, raw.dry_run, false),
            max_sessions: raw.max_sessions,
            request_id: raw.request_id,
        })
    }

    fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}
