//! CloudWatch alarm state changes: EventBridge, Lambda alarm action, and SNS shapes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    parse_aws_time, parse_identifier, DbTarget, Delivery, Origin, ResourceKind, TriggerError,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }

    fn parse(field: &str, raw: &str) -> Result<Self, TriggerError> {
        match raw {
            "OK" => Ok(Self::Ok),
            "ALARM" => Ok(Self::Alarm),
            "INSUFFICIENT_DATA" => Ok(Self::InsufficientData),
            other => Err(TriggerError::invalid(
                field,
                format!("must be OK, ALARM or INSUFFICIENT_DATA, got {other:?}"),
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricRef {
    pub namespace: String,
    pub name: String,
}

/// One metric an alarm reads (a `metricStat` entry), with its dimensions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlarmMetric {
    pub namespace: String,
    pub name: String,
    pub dimensions: BTreeMap<String, String>,
}

/// Which side of its threshold an alarm fires on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Breach {
    /// Above the threshold (or the upper band): too much.
    Above,
    /// Below the threshold (or the lower band): too little.
    Below,
    /// Not said, or either side.
    Unknown,
}

impl Breach {
    /// From an SNS alarm's `Trigger.ComparisonOperator`.
    pub fn from_operator(operator: &str) -> Self {
        match operator {
            "GreaterThanOrEqualToThreshold"
            | "GreaterThanThreshold"
            | "GreaterThanUpperThreshold" => Breach::Above,
            "LessThanThreshold" | "LessThanOrEqualToThreshold" | "LessThanLowerThreshold" => {
                Breach::Below
            }
            _ => Breach::Unknown,
        }
    }

    /// From the state reason CloudWatch writes ("... was greater than or equal to the threshold
    /// (400.0)", "... was less than the lower thresholds ..."): the only place EventBridge and
    /// alarm-action events say it.
    pub fn from_reason(reason: &str) -> Self {
        let lower = reason.to_ascii_lowercase();
        match (lower.contains("greater than"), lower.contains("less than")) {
            (true, false) => Breach::Above,
            (false, true) => Breach::Below,
            _ => Breach::Unknown,
        }
    }
}

/// What an alarm watches, which decides whether a function may act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlarmKind<'a> {
    /// One metric, compared to a threshold (an anomaly-detection band over it counts too).
    SingleMetric(&'a AlarmMetric),
    /// Metric math or a Metrics Insights query: what it resolves to is not one metric.
    MetricMath,
    /// A rule over other alarms: no metric at all.
    Composite,
    /// The event carried no metric configuration.
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlarmChange {
    pub name: String,
    pub arn: Option<String>,
    pub new_state: AlarmState,
    pub previous_state: Option<AlarmState>,
    pub reason: Option<String>,
    pub description: Option<String>,
    /// The first metric read, for reports; `metrics` has them all.
    pub metric: Option<MetricRef>,
    pub dimensions: BTreeMap<String, String>,
    /// Every metric the alarm reads.
    pub metrics: Vec<AlarmMetric>,
    /// Metric-math or Metrics Insights expressions.
    pub expressions: Vec<String>,
    /// A composite alarm (an `alarmRule` over other alarms).
    pub composite: bool,
    /// Which side of its threshold it fired on.
    pub breach: Breach,
    /// Set when the alarm's actions are suppressed (a composite alarm's suppressor): the state
    /// changed, but nothing is meant to act on it.
    pub actions_suppressed_by: Option<String>,
    /// When the alarm entered its new state: part of the idempotency key.
    pub time: DateTime<Utc>,
    pub delivery: Delivery,
}

impl AlarmChange {
    /// The DB instance or cluster named by the alarm's dimensions (validated at parse time).
    pub fn db_target(&self) -> Option<DbTarget> {
        if let Some(id) = self.dimensions.get("DBInstanceIdentifier") {
            return parse_identifier("", id, ResourceKind::DbInstance)
                .ok()
                .map(DbTarget::Instance);
        }
        self.dimensions
            .get("DBClusterIdentifier")
            .and_then(|id| parse_identifier("", id, ResourceKind::DbCluster).ok())
            .map(DbTarget::Cluster)
    }

    pub fn is_into_alarm(&self) -> bool {
        self.new_state == AlarmState::Alarm
    }

    pub fn kind(&self) -> AlarmKind<'_> {
        let anomaly_band_only = self
            .expressions
            .iter()
            .all(|e| e.trim_start().starts_with("ANOMALY_DETECTION_BAND("));
        match (self.composite, self.metrics.as_slice()) {
            (true, _) => AlarmKind::Composite,
            (false, [metric]) if anomaly_band_only => AlarmKind::SingleMetric(metric),
            (false, []) if self.expressions.is_empty() => AlarmKind::Unknown,
            _ => AlarmKind::MetricMath,
        }
    }
}

// The detail shape shared by EventBridge (`detail`) and the Lambda alarm action (`alarmData`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlarmData {
    alarm_name: String,
    state: StateData,
    #[serde(default)]
    previous_state: Option<StateData>,
    #[serde(default)]
    configuration: Option<Configuration>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateData {
    value: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    actions_suppressed_by: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Configuration {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    metrics: Vec<MetricQuery>,
    #[serde(default)]
    alarm_rule: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetricQuery {
    #[serde(default)]
    metric_stat: Option<MetricStat>,
    #[serde(default)]
    expression: Option<String>,
    /// Set on cross-account (monitoring account) alarms.
    #[serde(default)]
    account_id: Option<String>,
}

#[derive(Deserialize)]
struct MetricStat {
    metric: MetricData,
}

#[derive(Deserialize)]
struct MetricData {
    namespace: String,
    name: String,
    #[serde(default)]
    dimensions: BTreeMap<String, String>,
}

fn from_alarm_data(
    data: AlarmData,
    arn: Option<String>,
    envelope_time: Option<DateTime<Utc>>,
    field_prefix: &str,
    delivery: Delivery,
    origin: &Origin,
) -> Result<AlarmChange, TriggerError> {
    let new_state = AlarmState::parse(&format!("{field_prefix}.state.value"), &data.state.value)?;
    let previous_state = data
        .previous_state
        .as_ref()
        .map(|p| AlarmState::parse(&format!("{field_prefix}.previousState.value"), &p.value))
        .transpose()?;
    let time = match data.state.timestamp.as_deref() {
        Some(raw) => parse_aws_time(raw).ok_or_else(|| {
            TriggerError::invalid(
                format!("{field_prefix}.state.timestamp"),
                format!("must be a timestamp, got {raw:?}"),
            )
        })?,
        None => envelope_time.ok_or_else(|| {
            TriggerError::invalid(format!("{field_prefix}.state.timestamp"), "is required")
        })?,
    };
    let mut description = None;
    let mut metrics = Vec::new();
    let mut expressions = Vec::new();
    let mut composite = false;
    if let Some(config) = data.configuration {
        description = config.description;
        composite = config.alarm_rule.is_some();
        for (i, query) in config.metrics.into_iter().enumerate() {
            if let Some(account) = query.account_id.as_deref() {
                origin.check_account(
                    &format!("{field_prefix}.configuration.metrics[{i}].accountId"),
                    account,
                )?;
            }
            if let Some(stat) = query.metric_stat {
                metrics.push(AlarmMetric {
                    namespace: stat.metric.namespace,
                    name: stat.metric.name,
                    dimensions: stat.metric.dimensions,
                });
            }
            expressions.extend(query.expression);
        }
    }
    let breach = data
        .state
        .reason
        .as_deref()
        .map(Breach::from_reason)
        .unwrap_or(Breach::Unknown);
    finish(AlarmChange {
        name: data.alarm_name,
        arn,
        new_state,
        previous_state,
        breach,
        actions_suppressed_by: data.state.actions_suppressed_by,
        reason: data.state.reason,
        description,
        metric: None,
        dimensions: BTreeMap::new(),
        metrics,
        expressions,
        composite,
        time,
        delivery,
    })
}

/// Refuses a DB dimension that breaks the identifier rules rather than ignoring it, in every
/// metric the alarm reads; the first metric becomes `metric` / `dimensions`.
fn finish(mut change: AlarmChange) -> Result<AlarmChange, TriggerError> {
    for (i, metric) in change.metrics.iter().enumerate() {
        let field = |name: &str| format!("metrics[{i}].dimensions.{name}");
        if let Some(id) = metric.dimensions.get("DBInstanceIdentifier") {
            parse_identifier(&field("DBInstanceIdentifier"), id, ResourceKind::DbInstance)?;
        }
        if let Some(id) = metric.dimensions.get("DBClusterIdentifier") {
            parse_identifier(&field("DBClusterIdentifier"), id, ResourceKind::DbCluster)?;
        }
    }
    if let Some(first) = change.metrics.first() {
        change.metric = Some(MetricRef {
            namespace: first.namespace.clone(),
            name: first.name.clone(),
        });
        change.dimensions = first.dimensions.clone();
    }
    Ok(change)
}

pub(super) fn from_eventbridge(
    detail: Value,
    alarm_arn: Option<String>,
    time: Option<DateTime<Utc>>,
    origin: &Origin,
) -> Result<AlarmChange, TriggerError> {
    let data: AlarmData = super::read_value(detail, "CloudWatch alarm detail")?;
    from_alarm_data(
        data,
        alarm_arn,
        time,
        "detail",
        Delivery::EventBridge,
        origin,
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlarmAction {
    alarm_arn: String,
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    time: Option<String>,
    alarm_data: AlarmData,
}

pub(super) fn parse_alarm_action(
    event: Value,
    origin: &Origin,
) -> Result<AlarmChange, TriggerError> {
    let action: AlarmAction = super::read_value(event, "CloudWatch alarm action")?;
    origin.check_arn("alarmArn", &action.alarm_arn)?;
    if let Some(account) = action.account_id.as_deref() {
        origin.check_account("accountId", account)?;
    }
    if let Some(region) = action.region.as_deref() {
        origin.check_region("region", region)?;
    }
    let time = action.time.as_deref().and_then(parse_aws_time);
    from_alarm_data(
        action.alarm_data,
        Some(action.alarm_arn),
        time,
        "alarmData",
        Delivery::AlarmAction,
        origin,
    )
}

pub(super) fn from_sns(
    message: Map<String, Value>,
    origin: &Origin,
) -> Result<AlarmChange, TriggerError> {
    let text = |key: &str| message.get(key).and_then(Value::as_str);
    let required = |key: &'static str| {
        text(key).ok_or_else(|| {
            TriggerError::invalid(format!("Message.{key}"), "is required and must be a string")
        })
    };
    let arn = required("AlarmArn")?;
    origin.check_arn("Message.AlarmArn", arn)?;
    if let Some(account) = text("AWSAccountId") {
        origin.check_account("Message.AWSAccountId", account)?;
    }
    // `Region` here is a display name ("US East (N. Virginia)"): the ARN above carried the code.
    let raw_time = required("StateChangeTime")?;
    let time = parse_aws_time(raw_time).ok_or_else(|| {
        TriggerError::invalid(
            "Message.StateChangeTime",
            format!("must be a timestamp, got {raw_time:?}"),
        )
    })?;
    let trigger = message.get("Trigger").and_then(Value::as_object);
    let mut metrics = Vec::new();
    let mut expressions = Vec::new();
    if let Some(trigger) = trigger {
        // A single-metric alarm names its metric here; metric math lists queries in `Metrics`.
        if let Some(metric) = sns_metric(trigger, "Namespace", "MetricName") {
            metrics.push(metric);
        }
        for (i, query) in trigger
            .get("Metrics")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(account) = query.get("AccountId").and_then(Value::as_str) {
                origin
                    .check_account(&format!("Message.Trigger.Metrics[{i}].AccountId"), account)?;
            }
            if let Some(expression) = query.get("Expression").and_then(Value::as_str) {
                expressions.push(expression.to_string());
            }
            if let Some(metric) = query
                .get("MetricStat")
                .and_then(|s| s.get("Metric"))
                .and_then(Value::as_object)
                .and_then(|m| sns_metric(m, "Namespace", "MetricName"))
            {
                metrics.push(metric);
            }
        }
    }
    finish(AlarmChange {
        name: required("AlarmName")?.to_string(),
        arn: Some(arn.to_string()),
        new_state: AlarmState::parse("Message.NewStateValue", required("NewStateValue")?)?,
        previous_state: text("OldStateValue")
            .map(|s| AlarmState::parse("Message.OldStateValue", s))
            .transpose()?,
        breach: trigger
            .and_then(|t| t.get("ComparisonOperator"))
            .and_then(Value::as_str)
            .map(Breach::from_operator)
            .or_else(|| text("NewStateReason").map(Breach::from_reason))
            .unwrap_or(Breach::Unknown),
        actions_suppressed_by: text("ActionsSuppressedBy").map(str::to_string),
        reason: text("NewStateReason").map(str::to_string),
        description: text("AlarmDescription").map(str::to_string),
        metric: None,
        dimensions: BTreeMap::new(),
        metrics,
        expressions,
        composite: message.contains_key("AlarmRule"),
        time,
        delivery: Delivery::Sns,
    })
}

/// A metric in an SNS alarm message: namespace, name and `Dimensions` as a list of name/value
/// pairs (lower case keys as CloudWatch writes them; upper case accepted).
fn sns_metric(object: &Map<String, Value>, namespace: &str, name: &str) -> Option<AlarmMetric> {
    let mut dimensions = BTreeMap::new();
    for dim in object
        .get("Dimensions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let get = |lower: &str, upper: &str| {
            dim.get(lower)
                .or_else(|| dim.get(upper))
                .and_then(Value::as_str)
        };
        if let (Some(name), Some(value)) = (get("name", "Name"), get("value", "Value")) {
            dimensions.insert(name.to_string(), value.to_string());
        }
    }
    Some(AlarmMetric {
        namespace: object.get(namespace)?.as_str()?.to_string(),
        name: object.get(name)?.as_str()?.to_string(),
        dimensions,
    })
}
