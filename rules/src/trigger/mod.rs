//! Every inbound shape (EventBridge, SNS, alarm action, schedule, manual) -> one typed [`Trigger`].
//!
//! Parsing is tolerant of the variations AWS really sends and strict about what matters: the
//! account and region must be the function's own, the source must be known, identifiers must obey
//! the RDS rules, and manual payloads must match the function's schema exactly.

mod alarm;
mod backup_event;
mod error;
mod ident;
mod manual;
mod origin;
mod rds_event;
mod schedule;
mod target;
mod time;

use std::collections::BTreeMap;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::SnsEvent;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

pub use alarm::{AlarmChange, AlarmKind, AlarmMetric, AlarmState, Breach, MetricRef};
pub use backup_event::{valid_job_id, RestoreJobEvent, RESTORE_JOB_STATE_CHANGE};
pub use error::{read_value, TriggerError};
pub use ident::{IdentifierRule, RdsIdentifier, ResourceKind};
pub use manual::{check_request_id, manual_schema, ManualPayload};
pub(crate) use origin::Arn;
pub use origin::{Delivery, Origin};
pub use rds_event::{EventResource, RdsEvent, RdsEventId};
pub use schedule::{Schedule, ScheduleInput, ScheduleSource, TargetList, SCHEDULER_KEY};
pub use target::{parse_identifier, DbTarget, RawDbTarget, TableName, Target};
pub use time::parse_aws_time;

use schedule::{parse_schedule, parse_scheduler};

/// One inbound event, whatever shape it arrived in. `M` is the function's manual payload, `S`
/// its schedule input.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger<M, S = TargetList> {
    RdsEvent(RdsEvent),
    Alarm(AlarmChange),
    Schedule(Schedule<S>),
    Manual(M),
    /// An AWS Backup restore job changed state (restore testing).
    RestoreJob(RestoreJobEvent),
    /// The plain-text message SNS sends first after a subscription: acknowledged, nothing to do.
    SubscriptionNotice(String),
}

const ACCEPTED_SOURCES: &str = "aws.rds, aws.cloudwatch, aws.events, aws.backup";

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

fn parse_eventbridge<M, S: ScheduleInput>(
    event: Value,
    origin: &Origin,
) -> Result<Trigger<M, S>, TriggerError> {
    let envelope: EventBridgeEvent<Value> = read_value(event, "EventBridge")?;
    // Check the source first: an unknown source is refused whatever else it carries.
    if !matches!(
        envelope.source.as_str(),
        "aws.rds" | "aws.cloudwatch" | "aws.events" | "aws.backup"
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
        "aws.backup" => {
            let time = time
                .ok_or_else(|| TriggerError::invalid("time", "is required on AWS Backup events"))?;
            backup_event::from_eventbridge(&envelope.detail_type, envelope.detail, time, origin)
                .map(Trigger::RestoreJob)
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
            // One job reaches a state once: redeliveries of it are one trigger.
            Trigger::RestoreJob(j) => format!("backup#{}#{}", j.job_id, j.status),
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
            Trigger::Schedule(_) | Trigger::RestoreJob(_) => "time",
            Trigger::Manual(_) | Trigger::SubscriptionNotice(_) => "(none)",
        }
    }

    /// When the event happened, where the event says so (manual requests happen now).
    pub fn event_time(&self) -> Option<DateTime<Utc>> {
        match self {
            Trigger::RdsEvent(e) => Some(e.time),
            Trigger::Alarm(a) => Some(a.time),
            Trigger::Schedule(s) => Some(s.time),
            Trigger::RestoreJob(j) => Some(j.time),
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
            // Only restore-drill validates restore tests, and it reads them before routing.
            Trigger::RestoreJob(job) => Route::Nothing {
                target: None,
                reason: job.not_meant_for(),
            },
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
    RestoreJob {
        job_id: String,
        status: String,
        plan: Option<String>,
        resource: Option<String>,
        time: DateTime<Utc>,
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
            Trigger::RestoreJob(j) => TriggerSummary::RestoreJob {
                job_id: j.job_id.clone(),
                status: j.status.clone(),
                plan: j.plan_arn.clone(),
                resource: j.created_resource_arn.clone(),
                time: j.time,
            },
            Trigger::SubscriptionNotice(_) => TriggerSummary::SubscriptionNotice,
        }
    }
}

#[cfg(test)]
mod tests;
