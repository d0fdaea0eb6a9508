//! Scheduled runs: the schedule input a function reads, the EventBridge rule and Scheduler
//! envelopes, and who a schedule is (for allow-lists).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    parse_aws_time, read_value, Arn, DbTarget, Origin, RawDbTarget, Trigger, TriggerError,
};

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
    /// The rule or schedule's name (the ARN's last path segment), for labels.
    pub fn name(&self) -> Option<&str> {
        self.rule.as_deref()?.rsplit('/').next()
    }

    /// Who the schedule is, as allow-lists name it: the resource part of its ARN,
    /// `schedule/<group>/<name>` for an EventBridge Scheduler schedule, `rule/<name>` (or
    /// `rule/<bus>/<name>`) for an EventBridge rule.
    pub fn identity(&self) -> Option<&str> {
        self.rule.as_deref()?.splitn(6, ':').nth(5)
    }

    /// Whether an allow-list (`*` wildcards) names this schedule. An entry is matched against
    /// [`Schedule::identity`]: `rule/<name>` names a rule; `schedule/<group>/<name>` or
    /// `<group>/<name>` a Scheduler schedule of that group; a bare `<name>` a Scheduler schedule
    /// of the `default` group, never a rule or a schedule of another group of the same name.
    pub fn listed_in(&self, allow_list: &[String]) -> bool {
        let Some(identity) = self.identity() else {
            return false;
        };
        // A Scheduler envelope names a schedule, a rule's envelope a rule: anything else is
        // not who it says it is.
        let kind = match self.source {
            ScheduleSource::Scheduler => "schedule/",
            ScheduleSource::Rule => "rule/",
        };
        if !identity.starts_with(kind) {
            return false;
        }
        allow_list.iter().any(|entry| {
            let entry = entry.trim();
            let pattern = if entry.starts_with("rule/") || entry.starts_with("schedule/") {
                entry.to_string()
            } else if entry.contains('/') {
                format!("schedule/{entry}")
            } else {
                format!("schedule/default/{entry}")
            };
            crate::safety::glob_match(&pattern, identity)
        })
    }
}

/// `{}` (what EventBridge sends without input, and an empty Scheduler input) is no input.
pub(super) fn empty_as_null(input: Value) -> Value {
    match input {
        Value::Object(map) if map.is_empty() => Value::Null,
        other => other,
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

pub(super) fn parse_scheduler<M, S: ScheduleInput>(
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

pub(super) fn parse_schedule<M, S: ScheduleInput>(
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
