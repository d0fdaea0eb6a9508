//! Manual payloads: the strict schema, the function's own field rules, the request id rule.

use serde_json::Value;

use super::{read_value, TriggerError};

/// A function's manual payload: the raw schema as sent (a serde type that denies unknown
/// fields) and the function's own field rules. The shared part (strict parsing, the request id
/// rule) is done once, in [`ManualPayload::from_value`].
pub trait ManualPayload: Sized {
    type Raw: serde::de::DeserializeOwned;
    /// What the payload is called in errors, e.g. "idle-reaper manual request".
    const SHAPE: &'static str;
    /// The function's field rules, naming the field and the rule on refusal.
    fn validate(raw: Self::Raw) -> Result<Self, TriggerError>;
    /// The caller's request id, used as the idempotency key when present.
    fn request_id(&self) -> Option<&str>;

    fn from_value(value: Value) -> Result<Self, TriggerError> {
        let payload = Self::validate(manual_schema(value, Self::SHAPE)?)?;
        check_request_id(payload.request_id())?;
        Ok(payload)
    }
}

pub fn manual_schema<T: serde::de::DeserializeOwned>(
    value: Value,
    shape: &'static str,
) -> Result<T, TriggerError> {
    read_value(value, shape)
}

/// A caller's `request_id`: 1-128 characters, not blank, no control characters, when given.
pub fn check_request_id(id: Option<&str>) -> Result<(), TriggerError> {
    match id {
        Some(id) if id.trim().is_empty() || id.chars().count() > 128 => Err(TriggerError::invalid(
            "request_id",
            "must be 1-128 characters, not blank",
        )),
        Some(id) if id.chars().any(char::is_control) => Err(TriggerError::invalid(
            "request_id",
            "must not contain control characters",
        )),
        _ => Ok(()),
    }
}
