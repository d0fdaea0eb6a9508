//! What failover-check is asked: the manual payload (the schedule input is the shared
//! `TargetList`). Imports only the trigger types.

use serde::{Deserialize, Serialize};

use rds_responder::trigger::{DbTarget, ManualPayload, RawDbTarget, TriggerError};

/// `{"db_instance": "..."}` or `{"db_cluster": "..."}`, optionally `request_id`; nothing else.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManualCheck {
    pub target: DbTarget,
    pub request_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManualCheck {
    #[serde(flatten)]
    target: RawDbTarget,
    #[serde(default)]
    request_id: Option<String>,
}

impl ManualPayload for ManualCheck {
    type Raw = RawManualCheck;
    const SHAPE: &'static str = "failover-check manual request";

    fn validate(raw: RawManualCheck) -> Result<Self, TriggerError> {
        Ok(Self {
            target: raw.target.validate("")?,
            request_id: raw.request_id,
        })
    }

    fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}
