//! RDS event notifications, from EventBridge (`detail`) or an SNS subscription (`Message`).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    parse_aws_time, parse_identifier, Delivery, Origin, RdsIdentifier, ResourceKind, TriggerError,
};

/// `RDS-EVENT-0049` as the number 49.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RdsEventId(pub u16);

impl RdsEventId {
    /// Reads `RDS-EVENT-0049`, or a documentation URL ending in `#RDS-EVENT-0049`.
    pub fn parse(raw: &str) -> Option<Self> {
        let tail = raw.rsplit('#').next()?;
        let digits = tail.trim().strip_prefix("RDS-EVENT-")?;
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().map(Self)
    }
}

impl fmt::Display for RdsEventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RDS-EVENT-{:04}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RdsEvent {
    /// Older events carry no id; functions then fall back to the message text.
    pub event_id: Option<RdsEventId>,
    /// `db-instance`, `db-cluster`, `db-snapshot`, `db-cluster-snapshot`, or what RDS sent.
    pub source_type: String,
    /// The resource kind when the source is an instance, cluster or snapshot.
    pub source_kind: Option<ResourceKind>,
    /// Validated by the RDS rules when `source_kind` is known; without the `rds:` prefix, except
    /// for automated snapshots, whose real names carry it (see [`RdsEvent::resource`]).
    pub source_id: String,
    pub source_arn: Option<String>,
    pub time: DateTime<Utc>,
    pub message: String,
    pub delivery: Delivery,
}

/// The instance, cluster or snapshot an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventResource {
    pub kind: ResourceKind,
    /// Validated by the RDS rules, without the `rds:` prefix.
    pub id: RdsIdentifier,
    /// An automated snapshot: RDS really names it `rds:<id>`.
    pub automated: bool,
}

impl EventResource {
    /// The name RDS knows it by (automated snapshots keep their `rds:` prefix).
    pub fn name(&self) -> String {
        if self.automated {
            format!("rds:{}", self.id)
        } else {
            self.id.to_string()
        }
    }
}

impl RdsEvent {
    /// The validated instance/cluster/snapshot the event is about.
    pub fn resource(&self) -> Option<EventResource> {
        let kind = self.source_kind?;
        let prefixed = self.source_id.strip_prefix("rds:");
        let bare = prefixed.unwrap_or(&self.source_id);
        let automated = prefixed.is_some()
            && matches!(
                kind,
                ResourceKind::DbSnapshot | ResourceKind::DbClusterSnapshot
            );
        RdsIdentifier::parse(bare, kind)
            .ok()
            .map(|id| EventResource {
                kind,
                id,
                automated,
            })
    }
}

/// Maps both spellings (EventBridge `DB_INSTANCE`, SNS `db-instance`) to one.
fn source_kind(raw: &str) -> Option<ResourceKind> {
    match raw.to_ascii_lowercase().replace('_', "-").as_str() {
        "db-instance" => Some(ResourceKind::DbInstance),
        "cluster" | "db-cluster" => Some(ResourceKind::DbCluster),
        "snapshot" | "db-snapshot" => Some(ResourceKind::DbSnapshot),
        "cluster-snapshot" | "db-cluster-snapshot" => Some(ResourceKind::DbClusterSnapshot),
        _ => None,
    }
}

fn kind_from_detail_type(detail_type: &str) -> Result<ResourceKind, TriggerError> {
    match detail_type {
        "RDS DB Instance Event" => Ok(ResourceKind::DbInstance),
        "RDS DB Cluster Event" => Ok(ResourceKind::DbCluster),
        "RDS DB Snapshot Event" => Ok(ResourceKind::DbSnapshot),
        "RDS DB Cluster Snapshot Event" => Ok(ResourceKind::DbClusterSnapshot),
        other => Err(TriggerError::invalid(
            "detail-type",
            format!(
                "must be an RDS DB Instance/Cluster/Snapshot/Cluster Snapshot Event, got {other:?}"
            ),
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EventBridgeDetail {
    #[serde(rename = "EventID", default)]
    event_id: Option<String>,
    #[serde(default)]
    source_type: Option<String>,
    source_identifier: String,
    #[serde(default)]
    source_arn: Option<String>,
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    message: String,
}

pub(super) fn from_eventbridge(
    detail_type: &str,
    detail: Value,
    envelope_time: Option<DateTime<Utc>>,
    origin: &Origin,
) -> Result<RdsEvent, TriggerError> {
    let kind = kind_from_detail_type(detail_type)?;
    let detail: EventBridgeDetail = super::read_value(detail, "RDS event detail")?;
    let time = match detail.date.as_deref() {
        Some(raw) => parse_aws_time(raw).ok_or_else(|| {
            TriggerError::invalid("detail.Date", format!("must be a timestamp, got {raw:?}"))
        })?,
        None => envelope_time.ok_or_else(|| {
            TriggerError::invalid("time", "is required when detail.Date is absent")
        })?,
    };
    let source_type = detail
        .source_type
        .unwrap_or_else(|| kind.as_str().to_string());
    build(
        Fields {
            event_id: detail.event_id.as_deref(),
            event_id_field: "detail.EventID",
            source_type,
            fallback_kind: Some(kind),
            source_id: &detail.source_identifier,
            source_id_field: "detail.SourceIdentifier",
            source_arn: detail.source_arn,
            source_arn_field: "detail.SourceArn",
            time,
            message: detail.message,
        },
        Delivery::EventBridge,
        origin,
    )
}

pub(super) fn from_sns(
    message: Map<String, Value>,
    origin: &Origin,
) -> Result<RdsEvent, TriggerError> {
    let text = |key: &str| message.get(key).and_then(Value::as_str);
    let required = |key: &'static str| {
        text(key).ok_or_else(|| {
            TriggerError::invalid(format!("Message.{key}"), "is required and must be a string")
        })
    };
    let raw_time = required("Event Time")?;
    let time = parse_aws_time(raw_time).ok_or_else(|| {
        TriggerError::invalid(
            "Message.Event Time",
            format!("must be a timestamp, got {raw_time:?}"),
        )
    })?;
    build(
        Fields {
            event_id: text("Event ID"),
            event_id_field: "Message.Event ID",
            source_type: required("Event Source")?.to_string(),
            fallback_kind: None,
            source_id: required("Source ID")?,
            source_id_field: "Message.Source ID",
            source_arn: text("Source ARN").map(str::to_string),
            source_arn_field: "Message.Source ARN",
            time,
            message: text("Event Message").unwrap_or_default().to_string(),
        },
        Delivery::Sns,
        origin,
    )
}

struct Fields<'a> {
    event_id: Option<&'a str>,
    event_id_field: &'static str,
    source_type: String,
    fallback_kind: Option<ResourceKind>,
    source_id: &'a str,
    source_id_field: &'static str,
    source_arn: Option<String>,
    source_arn_field: &'static str,
    time: DateTime<Utc>,
    message: String,
}

fn build(
    fields: Fields<'_>,
    delivery: Delivery,
    origin: &Origin,
) -> Result<RdsEvent, TriggerError> {
    let event_id = match fields.event_id.filter(|raw| !raw.trim().is_empty()) {
        None => None,
        Some(raw) => Some(RdsEventId::parse(raw).ok_or_else(|| {
            TriggerError::invalid(
                fields.event_id_field,
                format!("must look like RDS-EVENT-nnnn, got {raw:?}"),
            )
        })?),
    };
    if let Some(arn) = fields.source_arn.as_deref() {
        origin.check_arn(fields.source_arn_field, arn)?;
    }
    let prefixed = fields.source_id.strip_prefix("rds:");
    let bare = prefixed.unwrap_or(fields.source_id);
    let source_kind = source_kind(&fields.source_type).or(fields.fallback_kind);
    let source_id = match source_kind {
        // Automated snapshots really are named `rds:<name>`; elsewhere the prefix is decoration.
        Some(kind @ (ResourceKind::DbSnapshot | ResourceKind::DbClusterSnapshot))
            if prefixed.is_some() =>
        {
            format!(
                "rds:{}",
                parse_identifier(fields.source_id_field, bare, kind)?
            )
        }
        // Another service's snapshot (AWS Backup's `awsbackup:job-...`): not an RDS identifier,
        // kept as it came (bounded) so the function can say it is not its own; never acted on.
        Some(ResourceKind::DbSnapshot | ResourceKind::DbClusterSnapshot)
            if bare.contains(':') && bare.len() <= 255 && !bare.chars().any(char::is_control) =>
        {
            bare.to_string()
        }
        Some(kind) => parse_identifier(fields.source_id_field, bare, kind)?.to_string(),
        None => bare.to_string(),
    };
    Ok(RdsEvent {
        event_id,
        source_type: source_kind
            .map(|k| k.as_str().to_string())
            .unwrap_or(fields.source_type),
        source_kind,
        source_id,
        source_arn: fields.source_arn,
        time: fields.time,
        message: fields.message,
        delivery,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_of_every_source_type_map_to_one_kind() {
        for (raw, kind) in [
            ("DB_INSTANCE", ResourceKind::DbInstance),
            ("db-instance", ResourceKind::DbInstance),
            ("CLUSTER", ResourceKind::DbCluster),
            ("db-cluster", ResourceKind::DbCluster),
            ("SNAPSHOT", ResourceKind::DbSnapshot),
            ("db-snapshot", ResourceKind::DbSnapshot),
            ("CLUSTER_SNAPSHOT", ResourceKind::DbClusterSnapshot),
            ("db-cluster-snapshot", ResourceKind::DbClusterSnapshot),
        ] {
            assert_eq!(source_kind(raw), Some(kind), "{raw}");
        }
        assert_eq!(source_kind("DB_PARAMETER_GROUP"), None);
    }

    #[test]
    fn event_ids_are_digits_only() {
        assert_eq!(RdsEventId::parse("RDS-EVENT-0049"), Some(RdsEventId(49)));
        for bad in [
            "RDS-EVENT-",
            "RDS-EVENT-+049",
            "RDS-EVENT-00a9",
            "EVENT-0049",
        ] {
            assert_eq!(RdsEventId::parse(bad), None, "{bad}");
        }
    }
}
