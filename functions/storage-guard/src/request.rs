//! What storage-guard is asked: the manual payload (the schedule input is the shared
//! `TargetList`: the instances to sweep, or none for every opted-in one). Imports only the
//! trigger types.

use serde::{Deserialize, Serialize};

use rds_responder::trigger::{
    parse_identifier, ManualPayload, RdsIdentifier, ResourceKind, TriggerError,
};

/// The largest RDS volume (GiB): larger is a typo.
pub const MAX_GIB: u32 = 65_536;
/// At least the +10% RDS requires of any increase; at most 10x in one request.
pub const GROW_PERCENT: std::ops::RangeInclusive<u32> = 10..=1000;
/// A reason is a tag value: at most 200 characters, one line.
pub const MAX_REASON_CHARS: usize = 200;

/// How a manual request sizes the change; none: the guard sizes it from the forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sizing {
    /// Grow to exactly this many GiB (rounded up to a valid size).
    TargetGib(u32),
    /// Grow by this share of the allocated storage.
    GrowPercent(u32),
    /// A planned bulk load of this many GiB: room for it plus the configured days of growth.
    ExpectedGrowthGib(u32),
    Forecast,
}

/// `{"db": "orders-db", "target_gib": 500 | "grow_percent": 25 | "expected_growth_gib": 300,
/// "dry_run": false, "reason": "...", "request_id": "..."}`; only `db` is required; dry run
/// unless `"dry_run": false`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManualGrow {
    pub db: RdsIdentifier,
    pub sizing: Sizing,
    pub dry_run: bool,
    pub reason: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManualGrow {
    db: String,
    #[serde(default)]
    target_gib: Option<u32>,
    #[serde(default)]
    grow_percent: Option<u32>,
    #[serde(default)]
    expected_growth_gib: Option<u32>,
    #[serde(default)]
    dry_run: Option<bool>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    request_id: Option<String>,
}

fn invalid(field: &str, rule: impl Into<String>) -> TriggerError {
    TriggerError::InvalidField {
        field: field.into(),
        rule: rule.into(),
    }
}

impl ManualPayload for ManualGrow {
    type Raw = RawManualGrow;
    const SHAPE: &'static str = "storage-guard manual request";

    fn validate(raw: RawManualGrow) -> Result<Self, TriggerError> {
        let db = parse_identifier("db", &raw.db, ResourceKind::DbInstance)?;
        let sizing = match (raw.target_gib, raw.grow_percent, raw.expected_growth_gib) {
            (None, None, None) => Sizing::Forecast,
            (Some(gib), None, None) => {
                if !(1..=MAX_GIB).contains(&gib) {
                    return Err(invalid("target_gib", format!("must be 1-{MAX_GIB} GiB")));
                }
                Sizing::TargetGib(gib)
            }
            (None, Some(percent), None) => {
                if !GROW_PERCENT.contains(&percent) {
                    return Err(invalid(
                        "grow_percent",
                        "must be 10-1000 (RDS grows storage by at least 10%)",
                    ));
                }
                Sizing::GrowPercent(percent)
            }
            (None, None, Some(gib)) => {
                if !(1..=MAX_GIB).contains(&gib) {
                    return Err(invalid(
                        "expected_growth_gib",
                        format!("must be 1-{MAX_GIB} GiB"),
                    ));
                }
                Sizing::ExpectedGrowthGib(gib)
            }
            _ => {
                return Err(invalid(
                    "target_gib",
                    "give at most one of target_gib, grow_percent and expected_growth_gib",
                ))
            }
        };
        if let Some(reason) = raw.reason.as_deref() {
            if reason.trim().is_empty()
                || reason.chars().count() > MAX_REASON_CHARS
                || reason.chars().any(char::is_control)
            {
                return Err(invalid(
                    "reason",
                    format!("must be 1-{MAX_REASON_CHARS} characters on one line"),
                ));
            }
        }
        Ok(Self {
            db,
            sizing,
            dry_run: rds_responder::safety::dry_run(true, raw.dry_run, false),
            reason: raw.reason.map(|r| r.trim().to_string()),
            request_id: raw.request_id,
        })
    }

    fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: serde_json::Value) -> Result<ManualGrow, TriggerError> {
        ManualGrow::from_value(value)
    }

    fn field_of(err: TriggerError) -> String {
        match err {
            TriggerError::InvalidField { field, .. } => field,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn a_request_names_one_sizing_and_is_a_dry_run_unless_told() {
        let r = parse(serde_json::json!({"db": "orders-db"})).unwrap();
        assert_eq!(r.sizing, Sizing::Forecast);
        assert!(r.dry_run);
        let r = parse(serde_json::json!({"db": "orders-db", "target_gib": 500, "dry_run": false}))
            .unwrap();
        assert_eq!(r.sizing, Sizing::TargetGib(500));
        assert!(!r.dry_run);
        let r = parse(serde_json::json!({"db": "orders-db", "grow_percent": 10})).unwrap();
        assert_eq!(r.sizing, Sizing::GrowPercent(10));
        let r = parse(serde_json::json!({"db": "orders-db", "expected_growth_gib": 1, "reason": "  bulk load  "})).unwrap();
        assert_eq!(r.sizing, Sizing::ExpectedGrowthGib(1));
        assert_eq!(r.reason.as_deref(), Some("bulk load"));
    }

    #[test]
    fn bad_values_name_their_field() {
        for (payload, field) in [
            (
                serde_json::json!({"db": "orders-db", "target_gib": 0}),
                "target_gib",
            ),
            (
                serde_json::json!({"db": "orders-db", "target_gib": 65537}),
                "target_gib",
            ),
            (
                serde_json::json!({"db": "orders-db", "grow_percent": 9}),
                "grow_percent",
            ),
            (
                serde_json::json!({"db": "orders-db", "grow_percent": 1001}),
                "grow_percent",
            ),
            (
                serde_json::json!({"db": "orders-db", "expected_growth_gib": 0}),
                "expected_growth_gib",
            ),
            (
                serde_json::json!({"db": "orders-db", "expected_growth_gib": 65537}),
                "expected_growth_gib",
            ),
            (
                serde_json::json!({"db": "orders-db", "target_gib": 100, "grow_percent": 20}),
                "target_gib",
            ),
            (
                serde_json::json!({"db": "orders-db", "reason": ""}),
                "reason",
            ),
            (
                serde_json::json!({"db": "orders-db", "reason": "a\nb"}),
                "reason",
            ),
            (
                serde_json::json!({"db": "orders-db", "reason": "x".repeat(201)}),
                "reason",
            ),
            (serde_json::json!({"db": "-orders"}), "db"),
        ] {
            let err = parse(payload.clone()).expect_err(&payload.to_string());
            assert_eq!(field_of(err), field, "{payload}");
        }
        // The edges that pass.
        assert!(parse(serde_json::json!({"db": "orders-db", "target_gib": 65536})).is_ok());
        assert!(parse(serde_json::json!({"db": "orders-db", "grow_percent": 1000})).is_ok());
        assert!(parse(serde_json::json!({"db": "orders-db", "reason": "é".repeat(200)})).is_ok());
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(parse(serde_json::json!({"db": "orders-db", "grow_gib": 5})).is_err());
    }
}
