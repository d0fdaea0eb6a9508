//! Every inbound shape (EventBridge, SNS, alarm action, schedule, manual) -> one typed [`Trigger`].
//!
//! Parsing is tolerant of the variations AWS really sends and strict about what matters: the
//! account and region must be the function's own, the source must be known, identifiers must obey
//! the RDS rules, and manual payloads must match the function's schema exactly.

mod alarm;
mod ident;
mod rds_event;
mod time;

use std::collections::BTreeMap;
use std::fmt;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::SnsEvent;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use alarm::{AlarmChange, AlarmKind, AlarmMetric, AlarmState, Breach, MetricRef};
pub use ident::{IdentifierRule, RdsIdentifier, ResourceKind};
pub use rds_event::{EventResource, RdsEvent, RdsEventId};
pub use time::parse_aws_time;

/// Who the function is: events must come from this account and region.
#[derive(Debug, Clone)]
pub struct Origin {
    pub account_id: String,
    pub region: String,
}

impl Origin {
    /// Takes the account from the invoked function ARN (`arn:aws:lambda:<region>:<account>:function:<name>`).
    pub fn from_function_arn(arn: &str, region: &str) -> Result<Self, TriggerError> {
        let parsed = Arn::parse(arn).ok_or_else(|| TriggerError::InvalidField {
            field: "invoked_function_arn".into(),
            rule: "must be an ARN of the form arn:<partition>:lambda:<region>:<account>:function:<name>".into(),
        })?;
        Ok(Self {
            account_id: parsed.account.to_string(),
            region: region.to_string(),
        })
    }

    /// Refuses an ARN from another account or region.
    fn check_arn(&self, field: &str, arn: &str) -> Result<(), TriggerError> {
        let parsed = Arn::parse(arn).ok_or_else(|| TriggerError::InvalidField {
            field: field.into(),
            rule: format!("must be an ARN, got {arn:?}"),
        })?;
        self.check_account(field, parsed.account)?;
        // Some ARNs (S3, IAM) carry no region; every ARN we read here does.
        self.check_region(field, parsed.region)
    }

    fn check_account(&self, field: &str, account: &str) -> Result<(), TriggerError> {
        if account == self.account_id {
            Ok(())
        } else {
            Err(TriggerError::ForeignAccount {
                field: field.into(),
                expected: self.account_id.clone(),
                got: account.into(),
            })
        }
    }

    fn check_region(&self, field: &str, region: &str) -> Result<(), TriggerError> {
        if region == self.region {
            Ok(())
        } else {
            Err(TriggerError::ForeignRegion {
                field: field.into(),
                expected: self.region.clone(),
                got: region.into(),
            })
        }
    }
}

/// The parts of an ARN we check.
pub(crate) struct Arn<'a> {
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
}

impl<'a> Arn<'a> {
    pub(crate) fn parse(raw: &'a str) -> Option<Self> {
        let mut parts = raw.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let _partition = parts.next().filter(|p| !p.is_empty())?;
        let service = parts.next().filter(|s| !s.is_empty())?;
        let region = parts.next()?;
        let account = parts.next()?;
        let _resource = parts.next().filter(|r| !r.is_empty())?;
        Some(Self {
            service,
            region,
            account,
        })
    }
}

/// How the trigger reached the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    EventBridge,
    Sns,
    AlarmAction,
    Manual,
}

/// A DB instance or cluster the function works on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "kebab-case")]
pub enum DbTarget {
    Instance(RdsIdentifier),
    Cluster(RdsIdentifier),
}

impl DbTarget {
    pub fn id(&self) -> &RdsIdentifier {
        match self {
            DbTarget::Instance(id) | DbTarget::Cluster(id) => id,
        }
    }
}

impl fmt::Display for DbTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbTarget::Instance(id) => write!(f, "db-instance {id}"),
            DbTarget::Cluster(id) => write!(f, "db-cluster {id}"),
        }
    }
}

/// What a run is about: a DB instance or Aurora cluster, a DynamoDB table, or the whole
/// account (a sweep). Reports, metric dimensions and SNS attributes follow it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "kebab-case")]
pub enum Target {
    Instance(RdsIdentifier),
    Cluster(RdsIdentifier),
    Table(TableName),
    Account,
}

impl Target {
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Instance(_) => "instance",
            Target::Cluster(_) => "cluster",
            Target::Table(_) => "table",
            Target::Account => "account",
        }
    }

    /// The identifier, for an instance, cluster or table.
    pub fn id(&self) -> Option<&str> {
        match self {
            Target::Instance(id) | Target::Cluster(id) => Some(id.as_str()),
            Target::Table(name) => Some(name.as_str()),
            Target::Account => None,
        }
    }
}

impl From<DbTarget> for Target {
    fn from(target: DbTarget) -> Self {
        match target {
            DbTarget::Instance(id) => Target::Instance(id),
            DbTarget::Cluster(id) => Target::Cluster(id),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Instance(id) => write!(f, "db-instance {id}"),
            Target::Cluster(id) => write!(f, "db-cluster {id}"),
            Target::Table(name) => write!(f, "dynamodb-table {name}"),
            Target::Account => f.write_str("the account"),
        }
    }
}

/// A DynamoDB table name: 3-255 of letters, digits, `_`, `-`, `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TableName(String);

impl TableName {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if !(3..=255).contains(&raw.len()) {
            return Err("must be 3-255 characters");
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err("may hold only letters, digits, '_', '-' and '.'");
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TableName {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<TableName> for String {
    fn from(name: TableName) -> Self {
        name.0
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A function's schedule input: the rule's `detail` (EventBridge rule envelope) or the plain
/// input of an EventBridge Scheduler schedule, read strictly.
pub trait ScheduleInput: Sized {
    fn from_value(input: Value, field: &str) -> Result<Self, TriggerError>;
}

/// The schedule input of functions that take only a target list:
/// `{"targets": [{"db_instance": "orders-db"}]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TargetList {
    pub targets: Vec<DbTarget>,
}

impl ScheduleInput for TargetList {
    fn from_value(input: Value, field: &str) -> Result<Self, TriggerError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default)]
            targets: Vec<RawDbTarget>,
        }
        if input.is_null() {
            return Ok(Self::default());
        }
        let raw: Raw = read_value(input, "schedule input")?;
        let targets = raw
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| t.validate(&format!("{field}targets[{i}].")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { targets })
    }
}

impl TargetList {
    /// The one target a per-database run needs, or why there is not exactly one.
    pub fn single(&self) -> Result<&DbTarget, String> {
        match self.targets.as_slice() {
            [one] => Ok(one),
            [] => Err("scheduled run without a target: give one in the schedule input's targets".into()),
            many => Err(format!(
                "scheduled run names {} targets; this function works on one database per run, so schedule one per database",
                many.len()
            )),
        }
    }
}

/// A scheduled run: an EventBridge rule (`Scheduled Event`) or an EventBridge Scheduler
/// schedule, with the function's own input `S`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule<S> {
    /// The rule or schedule ARN.
    pub rule: Option<String>,
    pub time: DateTime<Utc>,
    pub input: S,
    pub source: ScheduleSource,
}

/// Which scheduler sent a scheduled run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleSource {
    /// An EventBridge rule (`Scheduled Event` envelope).
    Rule,
    /// An EventBridge Scheduler schedule (plain input naming the schedule).
    Scheduler,
}

impl<S> Schedule<S> {
    /// The rule or schedule's name (the ARN's last path segment), for allow-lists.
    pub fn name(&self) -> Option<&str> {
        self.rule.as_deref()?.rsplit('/').next()
    }
}

/// `{}` (what EventBridge sends without input, and an empty Scheduler input) is no input.
fn empty_as_null(input: Value) -> Value {
    match input {
        Value::Object(map) if map.is_empty() => Value::Null,
        other => other,
    }
}

/// One inbound event, whatever shape it arrived in. `M` is the function's manual payload, `S`
/// its schedule input.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger<M, S = TargetList> {
    RdsEvent(RdsEvent),
    Alarm(AlarmChange),
    Schedule(Schedule<S>),
    Manual(M),
    /// The plain-text message SNS sends first after a subscription: acknowledged, nothing to do.
    SubscriptionNotice(String),
}

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

/// Validates an identifier from a named field.
pub fn parse_identifier(
    field: &str,
    raw: &str,
    kind: ResourceKind,
) -> Result<RdsIdentifier, TriggerError> {
    RdsIdentifier::parse(raw, kind).map_err(|rule| {
        TriggerError::invalid(
            field,
            format!("{rule} (RDS {kind} identifier rules), got {raw:?}"),
        )
    })
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

/// A target named in a manual payload or a schedule input: exactly one of the two keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDbTarget {
    #[serde(default)]
    pub db_instance: Option<String>,
    #[serde(default)]
    pub db_cluster: Option<String>,
}

impl RawDbTarget {
    pub fn validate(&self, field: &str) -> Result<DbTarget, TriggerError> {
        match (&self.db_instance, &self.db_cluster) {
            (Some(id), None) => Ok(DbTarget::Instance(parse_identifier(
                &format!("{field}db_instance"),
                id,
                ResourceKind::DbInstance,
            )?)),
            (None, Some(id)) => Ok(DbTarget::Cluster(parse_identifier(
                &format!("{field}db_cluster"),
                id,
                ResourceKind::DbCluster,
            )?)),
            _ => Err(TriggerError::invalid(
                format!("{field}db_instance|{field}db_cluster"),
                "exactly one of the two is required",
            )),
        }
    }
}

const ACCEPTED_SOURCES: &str = "aws.rds, aws.cloudwatch, aws.events";

/// Parses any inbound event into a [`Trigger`], refusing foreign or unknown ones before any AWS call.
pub fn parse_trigger<M: ManualPayload, S: ScheduleInput>(
    event: Value,
    origin: &Origin,
) -> Result<Trigger<M, S>, TriggerError> {
    let Some(object) = event.as_object() else {
        return Err(TriggerError::invalid("(payload)", "must be a JSON object"));
    };
    if object.contains_key("Records") {
        parse_sns(event, origin)
    } else if object.contains_key("alarmArn") {
        alarm::parse_alarm_action(event, origin).map(Trigger::Alarm)
    } else if object.contains_key("detail-type") {
        parse_eventbridge(event, origin)
    } else if object.contains_key(SCHEDULER_KEY) {
        parse_scheduler(event, origin)
    } else {
        M::from_value(event).map(Trigger::Manual)
    }
}

/// The key under which an EventBridge Scheduler schedule's input names the schedule, filled by
/// Scheduler's context attributes:
/// `"scheduler": {"schedule_arn": "<aws.scheduler.schedule-arn>", "scheduled_time": "<aws.scheduler.scheduled-time>"}`.
pub const SCHEDULER_KEY: &str = "scheduler";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SchedulerContext {
    schedule_arn: String,
    scheduled_time: String,
    #[serde(default)]
    #[allow(dead_code)]
    execution_id: Option<String>,
}

fn parse_scheduler<M, S: ScheduleInput>(
    mut event: Value,
    origin: &Origin,
) -> Result<Trigger<M, S>, TriggerError> {
    let context = event
        .as_object_mut()
        .and_then(|o| o.remove(SCHEDULER_KEY))
        .unwrap_or(Value::Null);
    let context: SchedulerContext =
        read_value(context, "EventBridge Scheduler context (scheduler)")?;
    origin.check_arn("scheduler.schedule_arn", &context.schedule_arn)?;
    if Arn::parse(&context.schedule_arn).map(|a| a.service) != Some("scheduler") {
        return Err(TriggerError::invalid(
            "scheduler.schedule_arn",
            format!(
                "must be an EventBridge Scheduler schedule ARN (arn:<partition>:scheduler:...), got {:?}",
                context.schedule_arn
            ),
        ));
    }
    let time = parse_aws_time(&context.scheduled_time).ok_or_else(|| {
        TriggerError::invalid(
            "scheduler.scheduled_time",
            format!("must be a timestamp, got {:?}", context.scheduled_time),
        )
    })?;
    Ok(Trigger::Schedule(Schedule {
        rule: Some(context.schedule_arn),
        time,
        input: S::from_value(empty_as_null(event), "")?,
        source: ScheduleSource::Scheduler,
    }))
}

fn parse_eventbridge<M, S: ScheduleInput>(
    event: Value,
    origin: &Origin,
) -> Result<Trigger<M, S>, TriggerError> {
    let envelope: EventBridgeEvent<Value> = read_value(event, "EventBridge")?;
    // Check the source first: an unknown source is refused whatever else it carries.
    if !matches!(
        envelope.source.as_str(),
        "aws.rds" | "aws.cloudwatch" | "aws.events"
    ) {
        return Err(TriggerError::UnknownSource {
            field: "source",
            got: envelope.source,
            accepted: ACCEPTED_SOURCES,
        });
    }
    let account = envelope
        .account
        .as_deref()
        .ok_or_else(|| TriggerError::invalid("account", "is required on EventBridge events"))?;
    origin.check_account("account", account)?;
    let region = envelope
        .region
        .as_deref()
        .ok_or_else(|| TriggerError::invalid("region", "is required on EventBridge events"))?;
    origin.check_region("region", region)?;
    for (i, resource) in envelope.resources.iter().flatten().enumerate() {
        origin.check_arn(&format!("resources[{i}]"), resource)?;
    }
    let time = envelope.time;
    match envelope.source.as_str() {
        "aws.rds" => {
            rds_event::from_eventbridge(&envelope.detail_type, envelope.detail, time, origin)
                .map(Trigger::RdsEvent)
        }
        "aws.cloudwatch" => {
            if envelope.detail_type != "CloudWatch Alarm State Change" {
                return Err(TriggerError::invalid(
                    "detail-type",
                    format!(
                        "must be \"CloudWatch Alarm State Change\" for source aws.cloudwatch, got {:?}",
                        envelope.detail_type
                    ),
                ));
            }
            let alarm_arn = envelope.resources.iter().flatten().next().cloned();
            alarm::from_eventbridge(envelope.detail, alarm_arn, time, origin).map(Trigger::Alarm)
        }
        _ => parse_schedule(
            &envelope.detail_type,
            envelope.detail,
            envelope.resources,
            time,
        ),
    }
}

fn parse_schedule<M, S: ScheduleInput>(
    detail_type: &str,
    detail: Value,
    resources: Option<Vec<String>>,
    time: Option<DateTime<Utc>>,
) -> Result<Trigger<M, S>, TriggerError> {
    if detail_type != "Scheduled Event" {
        return Err(TriggerError::invalid(
            "detail-type",
            format!("must be \"Scheduled Event\" for source aws.events, got {detail_type:?}"),
        ));
    }
    let time =
        time.ok_or_else(|| TriggerError::invalid("time", "is required on scheduled events"))?;
    // The rule's ARN names the run (its idempotency key): required, and a rule's.
    let rule = resources
        .and_then(|r| r.into_iter().next())
        .ok_or_else(|| {
            TriggerError::invalid("resources", "must name the rule on scheduled events")
        })?;
    if Arn::parse(&rule).map(|a| a.service) != Some("events") {
        return Err(TriggerError::invalid(
            "resources[0]",
            format!("must be an EventBridge rule ARN (arn:<partition>:events:...), got {rule:?}"),
        ));
    }
    Ok(Trigger::Schedule(Schedule {
        rule: Some(rule),
        time,
        input: S::from_value(empty_as_null(detail), "detail.")?,
        source: ScheduleSource::Rule,
    }))
}

fn parse_sns<M, S>(event: Value, origin: &Origin) -> Result<Trigger<M, S>, TriggerError> {
    let envelope: SnsEvent = read_value(event, "SNS")?;
    let [record] = <[_; 1]>::try_from(envelope.records).map_err(|records: Vec<_>| {
        TriggerError::invalid(
            "Records",
            format!("must hold exactly one SNS record, got {}", records.len()),
        )
    })?;
    let sns = record.sns;
    origin.check_arn("Records[0].Sns.TopicArn", &sns.topic_arn)?;
    let message = match serde_json::from_str::<Value>(&sns.message) {
        Ok(Value::Object(map)) => map,
        // A message meant as JSON that does not parse is broken, not a notice.
        Err(e) if sns.message.trim_start().starts_with('{') => {
            return Err(TriggerError::invalid(
                "Records[0].Sns.Message",
                format!(
                    "must be a JSON object (at most 128 levels deep) or plain text: {}",
                    crate::text::one_line(&e.to_string())
                ),
            ))
        }
        // Anything else that is not a JSON object is the subscription notice RDS sends first.
        _ => return Ok(Trigger::SubscriptionNotice(sns.message)),
    };
    if message.contains_key("Event Source") {
        rds_event::from_sns(message, origin).map(Trigger::RdsEvent)
    } else if message.contains_key("AlarmName") {
        alarm::from_sns(message, origin).map(Trigger::Alarm)
    } else {
        Err(TriggerError::UnknownSource {
            field: "Records[0].Sns.Message",
            got: "a JSON message that is neither an RDS event nor a CloudWatch alarm".into(),
            accepted:
                "RDS event notifications (\"Event Source\") and CloudWatch alarms (\"AlarmName\")",
        })
    }
}

impl<M: ManualPayload, S> Trigger<M, S> {
    /// The semantic key under which the ledger records this trigger; `fallback_id` (the Lambda
    /// request id) stands in for a manual request without its own id.
    pub fn idempotency_key(&self, fallback_id: &str) -> String {
        let ts = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        match self {
            Trigger::Alarm(a) => format!(
                "alarm#{}#{}",
                a.arn.as_deref().unwrap_or(&a.name),
                ts(&a.time)
            ),
            Trigger::RdsEvent(e) => format!(
                "rds#{}#{}#{}",
                e.source_id,
                e.event_id
                    .map(|id| id.to_string())
                    .unwrap_or_else(|| "no-event-id".into()),
                ts(&e.time)
            ),
            Trigger::Schedule(s) => format!(
                "schedule#{}#{}",
                s.rule.as_deref().unwrap_or("-"),
                ts(&s.time)
            ),
            Trigger::Manual(m) => format!("manual#{}", m.request_id().unwrap_or(fallback_id)),
            Trigger::SubscriptionNotice(_) => format!("notice#{fallback_id}"),
        }
    }

    /// The field that carried [`Self::event_time`], for refusals that name it.
    pub fn time_field(&self) -> &'static str {
        match self {
            Trigger::RdsEvent(e) if e.delivery == Delivery::Sns => "Message.Event Time",
            Trigger::RdsEvent(_) => "detail.Date (or time)",
            Trigger::Alarm(a) => match a.delivery {
                Delivery::Sns => "Message.StateChangeTime",
                Delivery::AlarmAction => "alarmData.state.timestamp",
                _ => "detail.state.timestamp",
            },
            Trigger::Schedule(s)
                if s.rule.as_deref().is_some_and(|r| r.contains(":scheduler:")) =>
            {
                "scheduler.scheduled_time"
            }
            Trigger::Schedule(_) => "time",
            Trigger::Manual(_) | Trigger::SubscriptionNotice(_) => "(none)",
        }
    }

    /// When the event happened, where the event says so (manual requests happen now).
    pub fn event_time(&self) -> Option<DateTime<Utc>> {
        match self {
            Trigger::RdsEvent(e) => Some(e.time),
            Trigger::Alarm(a) => Some(a.time),
            Trigger::Schedule(s) => Some(s.time),
            Trigger::Manual(_) | Trigger::SubscriptionNotice(_) => None,
        }
    }
}

/// The first step of every function: what a trigger is about. Alarms leaving ALARM and the SNS
/// subscription notice come out as `Nothing`, with the reason worded once for all functions.
#[derive(Debug)]
pub enum Route<'a, M, S> {
    /// An alarm moved into ALARM.
    Alarm(&'a AlarmChange),
    RdsEvent(&'a RdsEvent),
    Schedule(&'a Schedule<S>),
    Manual(&'a M),
    Nothing {
        target: Option<DbTarget>,
        reason: String,
    },
}

impl<M, S> Trigger<M, S> {
    pub fn route(&self) -> Route<'_, M, S> {
        match self {
            Trigger::Alarm(alarm) if !alarm.is_into_alarm() => Route::Nothing {
                target: alarm.db_target(),
                reason: format!(
                    "alarm {} moved to {}, not into ALARM: nothing to do",
                    alarm.name,
                    alarm.new_state.as_str()
                ),
            },
            Trigger::Alarm(alarm) if alarm.actions_suppressed_by.is_some() => Route::Nothing {
                target: alarm.db_target(),
                reason: format!(
                    "alarm {} is in ALARM with its actions suppressed (by {}): nothing to do",
                    alarm.name,
                    alarm.actions_suppressed_by.as_deref().unwrap_or_default()
                ),
            },
            Trigger::Alarm(alarm) => Route::Alarm(alarm),
            Trigger::RdsEvent(event) => Route::RdsEvent(event),
            Trigger::Schedule(schedule) => Route::Schedule(schedule),
            Trigger::Manual(request) => Route::Manual(request),
            Trigger::SubscriptionNotice(_) => Route::Nothing {
                target: None,
                reason: "SNS subscription notice acknowledged; nothing to do".into(),
            },
        }
    }
}

/// What a report says about the trigger: serializable, without the manual payload's type.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum TriggerSummary {
    RdsEvent {
        event_id: Option<String>,
        source_type: String,
        source_id: String,
        time: DateTime<Utc>,
        message: String,
        delivery: Delivery,
    },
    Alarm {
        name: String,
        new_state: AlarmState,
        metric: Option<String>,
        dimensions: BTreeMap<String, String>,
        time: DateTime<Utc>,
        delivery: Delivery,
    },
    Schedule {
        rule: Option<String>,
        time: DateTime<Utc>,
        input: Value,
    },
    Manual {
        request: Value,
    },
    SubscriptionNotice,
}

impl<M: ManualPayload + Serialize, S: Serialize> Trigger<M, S> {
    pub fn summary(&self) -> TriggerSummary {
        match self {
            Trigger::RdsEvent(e) => TriggerSummary::RdsEvent {
                event_id: e.event_id.map(|id| id.to_string()),
                source_type: e.source_type.clone(),
                source_id: e.source_id.clone(),
                time: e.time,
                message: e.message.clone(),
                delivery: e.delivery,
            },
            Trigger::Alarm(a) => TriggerSummary::Alarm {
                name: a.name.clone(),
                new_state: a.new_state,
                metric: a
                    .metric
                    .as_ref()
                    .map(|m| format!("{}/{}", m.namespace, m.name)),
                dimensions: a.dimensions.clone(),
                time: a.time,
                delivery: a.delivery,
            },
            Trigger::Schedule(s) => TriggerSummary::Schedule {
                rule: s.rule.clone(),
                time: s.time,
                input: serde_json::to_value(&s.input).unwrap_or(Value::Null),
            },
            Trigger::Manual(m) => TriggerSummary::Manual {
                request: serde_json::to_value(m).unwrap_or(Value::Null),
            },
            Trigger::SubscriptionNotice(_) => TriggerSummary::SubscriptionNotice,
        }
    }
}

#[cfg(test)]
mod tests;
