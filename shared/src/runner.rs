//! The path every invocation takes: event -> `Trigger` -> ledger claim -> the function's
//! decision and actions (through the [`ActionGuard`]) -> `Report` -> ledger `ACTED` when the run
//! acted -> SNS + S3 + metrics -> ledger `COMPLETED` -> response.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::CommonConfig;
use crate::guard::ActionGuard;
use crate::ledger::{payload_digest, Claim, Ledger, LedgerError};
use crate::publish::{PublishError, ReportSink, ALL_SINKS};
use crate::report::{Check, Findings, Outcome, Report};
use crate::trigger::{
    parse_trigger, ManualPayload, Origin, ScheduleInput, Target, Trigger, TriggerError,
};

/// Lambda returns at most 6 MB; the response report stays under this.
pub const MAX_RESPONSE_BYTES: usize = 5_000_000;

/// How far in the future an event's time may be (clock skew) before it is refused.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

/// Facts about this invocation, passed in so decisions are deterministic under test.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub deadline: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub origin: Origin,
    /// Kept back from the deadline for the report, the ledger and delivery
    /// (`DEADLINE_RESERVE_SECONDS`).
    pub reserve: std::time::Duration,
}

impl Invocation {
    /// From the Lambda context: the account comes from the invoked function ARN.
    pub fn from_context(
        ctx: &lambda_runtime::Context,
        common: &CommonConfig,
        now: DateTime<Utc>,
    ) -> Result<Self, TriggerError> {
        let deadline = i64::try_from(ctx.deadline)
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or(now + Duration::seconds(30));
        #[cfg(feature = "local-emulator")]
        let deadline = local_deadline(ctx.deadline, deadline, now);
        Ok(Self {
            request_id: ctx.request_id.clone(),
            deadline,
            now,
            origin: origin_of(&ctx.invoked_function_arn, &common.region)?,
            reserve: common.deadline_reserve,
        })
    }

    /// Time left before Lambda stops us.
    pub fn remaining(&self, now: DateTime<Utc>) -> std::time::Duration {
        (self.deadline - now).to_std().unwrap_or_default()
    }

    /// Time left for the function's own work: what remains less the reserve.
    pub fn work_left(&self, now: DateTime<Utc>) -> std::time::Duration {
        self.remaining(now).saturating_sub(self.reserve)
    }

    /// The run's stop, finish and delivery instants, from now.
    pub fn budget(&self) -> crate::budget::Budget {
        crate::budget::Budget::new(
            std::time::Instant::now(),
            self.remaining(Utc::now()),
            self.reserve,
        )
    }
}

/// The account and region the function runs in: from the invoked function ARN Lambda sends.
fn origin_of(function_arn: &str, region: &str) -> Result<Origin, TriggerError> {
    #[cfg(feature = "local-emulator")]
    if !function_arn.starts_with("arn:") {
        return Ok(local_origin(region));
    }
    Origin::from_function_arn(function_arn, region)
}

/// `cargo lambda watch` sends the time allowed (600000) where Lambda sends the deadline in
/// epoch milliseconds: a "deadline" before 2001 is taken as that many milliseconds from now.
#[cfg(feature = "local-emulator")]
fn local_deadline(raw: u64, deadline: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    match raw < 1_000_000_000_000 {
        true => now + Duration::milliseconds(raw.min(900_000) as i64),
        false => deadline,
    }
}

/// `cargo lambda watch` sends the function's name where Lambda sends its ARN. Only a binary
/// built with the `local-emulator` feature (never the packaged ones) takes the account from
/// `LOCAL_ACCOUNT_ID` then (default: the sample events' 123456789012).
#[cfg(feature = "local-emulator")]
fn local_origin(region: &str) -> Origin {
    let account = std::env::var("LOCAL_ACCOUNT_ID")
        .ok()
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| "123456789012".to_string());
    Origin {
        account_id: account,
        region: region.to_string(),
    }
}

/// One function's behaviour: what it accepts by hand and what it does with a trigger.
#[allow(async_fn_in_trait)]
pub trait Responder {
    type Manual: ManualPayload + Serialize;
    /// The schedule input; functions without their own take [`TargetList`].
    type Schedule: ScheduleInput + Serialize;
    const FUNCTION: &'static str;
    /// Decides and acts. Failures of individual checks or actions are findings, not errors.
    /// Every destructive call is preceded by `guard.before_acting(..)`; a refusal means: report
    /// why and do not act.
    async fn respond<L: Ledger>(
        &self,
        trigger: &Trigger<Self::Manual, Self::Schedule>,
        invocation: &Invocation,
        guard: &ActionGuard<'_, L>,
    ) -> Findings;
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("event refused: {0}")]
    Refused(#[from] TriggerError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("another invocation ({holder}) is handling this trigger ({key}) until {until}; it reports what it does, and a retry after then reports its outcome")]
    InProgress {
        key: String,
        holder: String,
        until: DateTime<Utc>,
    },
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Publish(Vec<PublishError>),
    #[error("acted, then could not deliver report {report_id} ({}); {next}. What was done: {summary}", .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    ActedUndelivered {
        report_id: String,
        summary: String,
        errors: Vec<PublishError>,
        /// What happens next, for who reads it: a retry, or the caller.
        next: &'static str,
    },
    #[error("report {report_id} delivered; failing so Lambda retries: {reason}")]
    Retry { report_id: String, reason: String },
}

impl HandlerError {
    pub fn kind(&self) -> &'static str {
        match self {
            HandlerError::Refused(e) => e.kind(),
            HandlerError::Ledger(_) => "LedgerUnavailable",
            HandlerError::InProgress { .. } => "DuplicateInProgress",
            HandlerError::Publish(_) | HandlerError::ActedUndelivered { .. } => "PublishFailed",
            HandlerError::Retry { .. } => "RetryRequested",
        }
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(err: HandlerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: err.kind().to_string(),
            error_message: err.to_string(),
        }
    }
}

/// The invocation payload as the runtime hands it over: a JSON value, or why it is not one
/// (not JSON, or nested past serde_json's 128 levels), so that too is refused as
/// `MalformedEvent` by the runner and not by the runtime's own deserializer.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Event(Value),
    Unreadable(String),
}

impl<'de> Deserialize<'de> for Incoming {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match StrictValue::deserialize(deserializer) {
            Ok(StrictValue(value)) => Incoming::Event(value),
            Err(e) => Incoming::Unreadable(crate::aws::one_line(&e.to_string())),
        })
    }
}

/// A JSON value read strictly: an object naming one key twice is refused, since which of the
/// two a reader would take is a guess (`"dry_run": true, "dry_run": false`).
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = StrictValue;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<StrictValue, E> {
        Ok(StrictValue(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<StrictValue, E> {
        Ok(StrictValue(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<StrictValue, E> {
        Ok(StrictValue(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_str<E>(self, v: &str) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }
    fn visit_none<E>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<StrictValue, D::Error> {
        StrictValue::deserialize(d)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<StrictValue, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(StrictValue(Value::Array(items)))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<StrictValue, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "key {key:?} appears twice in one object: refused, not guessed"
                )));
            }
            let StrictValue(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(StrictValue(Value::Object(object)))
    }
}

/// What the claim came to.
enum Claimed {
    /// The trigger is this run's: decide and act.
    Ours,
    /// Handled before (or being handled): answer without acting.
    Answered(Answer),
}

enum Answer {
    /// The earlier report, as it is.
    Earlier(Box<Report>),
    /// A run acted and its report may not have reached every destination.
    Redeliver {
        report: Box<Report>,
        delivered: Vec<String>,
    },
    /// A run began acting and ended without recording what it did.
    Unknown {
        request_id: String,
        since: Option<DateTime<Utc>>,
    },
}

/// Wires a responder to the ledger and the report sink.
pub struct Runner<R, L, S> {
    pub responder: R,
    pub ledger: L,
    pub sink: S,
    pub common: CommonConfig,
}

impl<R: Responder, L: Ledger, S: ReportSink> Runner<R, L, S> {
    pub async fn handle(
        &self,
        event: Value,
        invocation: &Invocation,
    ) -> Result<Report, HandlerError> {
        let trigger: Trigger<R::Manual, R::Schedule> = parse_trigger(event, &invocation.origin)
            .and_then(|t| refuse_future(t, invocation.now))
            .inspect_err(|e| {
                tracing::warn!(error = %e, kind = e.kind(), "event refused");
            })?;
        let key = bounded_key(format!(
            "{}#{}",
            R::FUNCTION,
            trigger.idempotency_key(&invocation.request_id)
        ));
        let summary = trigger.summary();
        let report = |findings: Findings, finished: DateTime<Utc>| {
            Report::assemble(
                &invocation.request_id,
                R::FUNCTION,
                &summary,
                &key,
                findings,
                invocation.now,
                finished,
            )
        };

        if let Trigger::SubscriptionNotice(text) = &trigger {
            tracing::info!(notice = %crate::aws::one_line(text), "SNS subscription notice acknowledged");
            return Ok(report(
                Findings::skipped(
                    None::<Target>,
                    "SNS subscription notice acknowledged; nothing to do",
                ),
                Utc::now(),
            ));
        }

        // A manual request id names one request: the same id with another payload is refused.
        let digest = match &trigger {
            Trigger::Manual(m) if m.request_id().is_some() => Some(payload_digest(
                &serde_json::to_value(m).unwrap_or(Value::Null),
            )),
            _ => None,
        };
        let budget = invocation.budget();
        let claimed = match crate::budget::scope(
            budget.stop,
            "the run's stop point",
            self.claim_or_wait(&key, digest.as_deref(), invocation, &budget),
        )
        .await
        {
            Ok(claimed) => claimed,
            Err(HandlerError::Ledger(e)) => {
                let findings = unclaimed(&e, &trigger);
                let report = report(findings, Utc::now().max(invocation.now));
                return crate::budget::scope(
                    budget.deadline,
                    "the invocation deadline",
                    self.deliver_unclaimed(report, &trigger),
                )
                .await;
            }
            Err(e) => return Err(e),
        };
        let report = match claimed {
            Claimed::Ours => report,
            Claimed::Answered(answer) => {
                return crate::budget::scope(budget.deadline, "the invocation deadline", async {
                    match answer {
                        Answer::Earlier(earlier) => Ok(*earlier),
                        Answer::Redeliver { report, delivered } => {
                            self.redeliver(&key, *report, &delivered, &trigger).await
                        }
                        Answer::Unknown { request_id, since } => {
                            let findings = outcome_unknown(&request_id, since);
                            let report = report(findings, Utc::now().max(invocation.now));
                            self.finish_acted(&key, report, &ALL_SINKS, &trigger).await
                        }
                    }
                })
                .await;
            }
        };

        let guard = ActionGuard::new(
            &self.ledger,
            R::FUNCTION,
            &key,
            &invocation.request_id,
            invocation.deadline,
        );
        let findings = match self.stale(&trigger, invocation.now) {
            Some(reason) => Findings::skipped(None::<Target>, reason),
            None => {
                crate::budget::run_phase(
                    budget,
                    // On the heap: a function's run is a deep future, and the main thread's stack
                    // (debug builds) is not the place for it.
                    Box::pin(self.responder.respond(&trigger, invocation, &guard)),
                )
                .await
            }
        };
        crate::budget::scope(
            budget.deadline,
            "the invocation deadline",
            self.conclude(&key, &trigger, invocation, &guard, findings, report),
        )
        .await
    }

    /// Waits while another invocation holds the trigger, polling the ledger until that run
    /// finishes, its deadline passes, or this run's stop point comes.
    async fn claim_or_wait(
        &self,
        key: &str,
        digest: Option<&str>,
        invocation: &Invocation,
        budget: &crate::budget::Budget,
    ) -> Result<Claimed, HandlerError> {
        let me = invocation.request_id.as_str();
        let mut pause = std::time::Duration::from_secs(1);
        loop {
            let now = Utc::now().max(invocation.now);
            let claim = self
                .ledger
                .claim(key, me, digest, now, invocation.deadline)
                .await?;
            let waiting_for = match claim {
                Claim::Acquired => return Ok(Claimed::Ours),
                Claim::Completed(mut earlier) => {
                    tracing::info!(%key, earlier = %earlier.id, "duplicate delivery: returning the earlier report");
                    earlier.duplicate_of = Some(earlier.id.clone());
                    return Ok(Claimed::Answered(Answer::Earlier(earlier)));
                }
                Claim::Conflict => {
                    return Err(HandlerError::Refused(TriggerError::InvalidField {
                        field: "request_id".into(),
                        rule: "was already used for a different request (the payload differs from the one first sent with it); send a new request_id".into(),
                    }))
                }
                // Acted, and its run may still be delivering: that run delivers, not this one.
                Claim::Acted {
                    report,
                    delivered,
                    holder,
                    until,
                } => match until.filter(|u| holder != me && *u > now) {
                    None => {
                        return Ok(Claimed::Answered(Answer::Redeliver { report, delivered }))
                    }
                    Some(until) => {
                        if std::time::Instant::now() + pause >= budget.stop {
                            tracing::info!(%key, %holder, "the run that acted is still delivering its report: not delivering it twice");
                            let mut earlier = report;
                            earlier.duplicate_of = Some(earlier.id.clone());
                            return Ok(Claimed::Answered(Answer::Earlier(earlier)));
                        }
                        (holder, until)
                    }
                },
                // Our own earlier attempt (Lambda's retry) or a holder past its deadline: that
                // run ended without recording what it did.
                Claim::Acting {
                    request_id,
                    since,
                    until,
                } if request_id == me || until < now => {
                    return Ok(Claimed::Answered(Answer::Unknown { request_id, since }))
                }
                Claim::Acting {
                    request_id, until, ..
                } => (request_id, until),
                Claim::InProgress { holder, until } => (holder, until),
            };
            let (holder, until) = waiting_for;
            if std::time::Instant::now() + pause >= budget.stop {
                tracing::warn!(%key, %holder, "another run still holds this trigger at this run's stop point");
                return Err(HandlerError::InProgress {
                    key: key.to_string(),
                    holder,
                    until,
                });
            }
            tracing::info!(%key, %holder, until = %until, "another run holds this trigger: waiting for it");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(10));
        }
    }

    /// After the run: the ledger and delivery, bounded by the invocation deadline.
    async fn conclude<L2: Ledger>(
        &self,
        key: &str,
        trigger: &Trigger<R::Manual, R::Schedule>,
        invocation: &Invocation,
        guard: &ActionGuard<'_, L2>,
        mut findings: Findings,
        report: impl Fn(Findings, DateTime<Utc>) -> Report,
    ) -> Result<Report, HandlerError> {
        let me = invocation.request_id.as_str();
        let mut retry = findings.retry.clone();
        let mut acted = guard.acted();
        if retry.is_some() && (!acted || guard.without_effect()) {
            // Nothing was done: the locks go back first (a duplicate that takes the claim must
            // not find them held), then an ACTING mark, which a `begin_acting` whose answer was
            // lost may have left even though the guard said no.
            guard.release_locks().await;
        }
        if acted && retry.is_some() && guard.without_effect() {
            // Passed the guard, then did nothing (every action refused): give the claim back so
            // the retry can act; if the ledger will not take it back, this run counts as acted.
            match self.ledger.stand_down(key, me).await {
                Ok(()) => acted = false,
                Err(e) => {
                    tracing::error!(error = %e, %key, "nothing was done, but the claim could not be given back: no retry");
                    retry = None;
                }
            }
        }
        if let (Some(reason), Trigger::Manual(_)) = (&retry, trigger) {
            findings.summary = format!(
                "{}; nothing was done ({}): the same request may be sent again",
                findings.summary,
                crate::aws::one_line(reason)
            );
        }
        let report = report(findings, Utc::now().max(invocation.now));
        tracing::info!(%key, status = report.status.as_str(), summary = %crate::aws::one_line(&report.summary), acted, "run finished");

        if acted {
            // Recorded before delivery: whatever fails from here, a retry only re-delivers.
            let recorded = self.record_acted(key, me, &report).await;
            guard.release_locks().await;
            if let Some(reason) = &retry {
                tracing::warn!(%reason, "retry not requested: this run already acted");
            }
            if !recorded {
                // The record stays ACTING (no retry acts on it); the report still goes out, and
                // no retry is asked for, which would only report an unknown outcome.
                if let Err(errors) = self.sink.deliver(&report).await {
                    return Err(self.undelivered(&report, errors, trigger));
                }
                if let Err(e) = self.ledger.complete(key, &report).await {
                    tracing::error!(error = %e, %key, "report delivered; the ledger took neither ACTED nor COMPLETED");
                }
                return Ok(report);
            }
            return self.finish_acted(key, report, &ALL_SINKS, trigger).await;
        }
        guard.release_locks().await;

        if let Err(errors) = self.sink.deliver(&report).await {
            // Undelivered and nothing done: give the claim back so Lambda's retry runs again.
            if let Err(e) = self.ledger.release(key, me).await {
                tracing::error!(error = %e, "could not release the ledger claim");
            }
            return Err(HandlerError::Publish(errors));
        }
        if let Some(reason) = retry {
            // Not done: the claim goes back so a retry (or the caller, sending it again) can act.
            if let Err(e) = self.ledger.stand_down(key, me).await {
                tracing::warn!(error = %e, %key, "an ACTING mark of this run could not be checked");
            }
            if let Err(e) = self.ledger.release(key, me).await {
                tracing::error!(error = %e, %key, "could not give the claim back; a retry finds it its own");
            }
            if let Trigger::Manual(_) = trigger {
                return Ok(report);
            }
            return Err(HandlerError::Retry {
                report_id: report.id,
                reason,
            });
        }
        if let Err(e) = self.ledger.complete(key, &report).await {
            // Delivered, nothing done: a duplicate runs again (reads, or plans) rather than
            // being told a retry will deliver what was already delivered.
            tracing::error!(error = %e, %key, "report delivered; completion not recorded");
            if let Err(e) = self.ledger.release(key, me).await {
                tracing::error!(error = %e, %key, "could not give the claim back either");
            }
        }
        Ok(report)
    }

    /// A run the ledger would not claim acted on nothing: its report still goes out, and an
    /// event's run then fails so Lambda retries (the manual caller is told to send it again).
    async fn deliver_unclaimed(
        &self,
        report: Report,
        trigger: &Trigger<R::Manual, R::Schedule>,
    ) -> Result<Report, HandlerError> {
        let key = report.idempotency_key.clone();
        tracing::error!(%key, "the ledger did not take the claim: nothing done");
        // A claim whose write took effect and whose answer was lost would hold the trigger
        // until this run's deadline: give it back, if it is there and ours.
        if let Err(e) = self.ledger.release(&key, &report.id).await {
            tracing::warn!(error = %e, %key, "a claim this attempt may have written could not be given back");
        }
        // An earlier attempt of this request may have acted and archived its report under the
        // same key: this attempt's report never overwrites it.
        let sinks: Vec<&str> = if self.sink.archived(&report).await {
            ALL_SINKS
                .iter()
                .copied()
                .filter(|s| *s != crate::publish::S3)
                .collect()
        } else {
            ALL_SINKS.to_vec()
        };
        if let Err(errors) = self.sink.deliver_to(&report, &sinks).await {
            return Err(HandlerError::Publish(errors));
        }
        match trigger {
            Trigger::Manual(_) => Ok(report),
            _ => Err(HandlerError::Retry {
                report_id: report.id,
                reason: "the ledger could not be reached to claim the trigger".into(),
            }),
        }
    }

    /// `ACTED` with the report, tried up to three times (a lost write is worse than a slow one).
    async fn record_acted(&self, key: &str, me: &str, report: &Report) -> bool {
        for attempt in 1..=3u32 {
            match self.ledger.record_acted(key, me, report).await {
                Ok(()) => return true,
                Err(e) => {
                    tracing::error!(error = %e, %key, attempt, "acted, but the ledger did not take the report");
                    let pause = std::time::Duration::from_millis(200 * u64::from(attempt));
                    if crate::budget::time_left().is_some_and(|left| left < pause * 4) {
                        break;
                    }
                    tokio::time::sleep(pause).await;
                }
            }
        }
        false
    }

    /// The error of a run that acted and could not deliver, worded for who will read it.
    fn undelivered(
        &self,
        report: &Report,
        errors: Vec<PublishError>,
        trigger: &Trigger<R::Manual, R::Schedule>,
    ) -> HandlerError {
        let next = match trigger {
            Trigger::Manual(m) if m.request_id().is_some() => "no retry follows a manual request: send the same request (same request_id) again to deliver the report; nothing will be done again",
            Trigger::Manual(_) => "no retry follows a manual request, and without a request_id sending it again would act again: do not; the report is kept in the ledger",
            _ => "Lambda's retry delivers the report again and acts on nothing: do not run this by hand",
        };
        HandlerError::ActedUndelivered {
            report_id: report.id.clone(),
            summary: crate::aws::one_line(&report.summary),
            errors,
            next,
        }
    }

    /// Delivers the report of a run that acted to `sinks`, then marks it completed. A failed
    /// delivery is an error (Lambda retries, and the retry delivers again to the destinations
    /// that did not get it); a failed completion is only logged, since the `ACTED` record
    /// already keeps any retry from acting.
    async fn finish_acted(
        &self,
        key: &str,
        report: Report,
        sinks: &[&str],
        trigger: &Trigger<R::Manual, R::Schedule>,
    ) -> Result<Report, HandlerError> {
        if let Err(errors) = self.sink.deliver_to(&report, sinks).await {
            let reached: Vec<&str> = sinks
                .iter()
                .copied()
                .filter(|s| !errors.iter().any(|e| e.sink == *s))
                .collect();
            if let Err(e) = self.ledger.note_delivered(key, &reached).await {
                tracing::warn!(error = %e, %key, "delivered destinations not recorded; a retry delivers to all again");
            }
            return Err(self.undelivered(&report, errors, trigger));
        }
        if let Err(e) = self.ledger.complete(key, &report).await {
            // A duplicate then re-delivers only what this did not reach: its metrics (counts of
            // snapshots, sessions) are not written twice.
            let noted = self.ledger.note_delivered(key, sinks).await;
            tracing::error!(error = %e, noted = noted.is_ok(), %key, "report delivered; completion not recorded, a duplicate re-delivers it where it is not noted as delivered");
        }
        Ok(report)
    }

    /// A retry of a run that acted: the same report to the destinations that did not get it,
    /// no new action. The ledger's copy may be bounded: an archive already there (the whole
    /// report) is kept, not overwritten by it.
    async fn redeliver(
        &self,
        key: &str,
        earlier: Report,
        delivered: &[String],
        trigger: &Trigger<R::Manual, R::Schedule>,
    ) -> Result<Report, HandlerError> {
        tracing::info!(%key, earlier = %earlier.id, ?delivered, "the earlier run acted: delivering its report again, acting on nothing");
        let mut pending: Vec<&str> = ALL_SINKS
            .iter()
            .copied()
            .filter(|s| !delivered.iter().any(|d| d == s))
            .collect();
        if pending.contains(&crate::publish::S3)
            && earlier.truncated.is_some()
            && self.sink.archived(&earlier).await
        {
            pending.retain(|s| *s != crate::publish::S3);
        }
        let mut report = self.finish_acted(key, earlier, &pending, trigger).await?;
        report.duplicate_of = Some(report.id.clone());
        Ok(report)
    }

    fn stale(
        &self,
        trigger: &Trigger<R::Manual, R::Schedule>,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let limit = self.common.max_event_age?;
        let happened = trigger.event_time()?;
        let age = (now - happened).to_std().ok()?;
        (age > limit).then(|| {
            format!(
                "stale event skipped: it happened at {happened}, {} s ago, over the {} s limit (MAX_EVENT_AGE_SECONDS)",
                age.as_secs(),
                limit.as_secs()
            )
        })
    }
}

/// Ledger keys longer than this keep their head and end in a digest of the whole key, so that
/// no event (a forged rule ARN, say) can make a key DynamoDB refuses (2,048 bytes at most).
pub const MAX_KEY_BYTES: usize = 512;

fn bounded_key(key: String) -> String {
    if key.len() <= MAX_KEY_BYTES {
        return key;
    }
    let mut head = 200;
    while !key.is_char_boundary(head) {
        head -= 1;
    }
    format!(
        "{}#sha256:{}",
        &key[..head],
        payload_digest(&Value::String(key.clone()))
    )
}

/// An event dated further ahead than clock skew explains is forged or broken: refused.
fn refuse_future<M: ManualPayload, S>(
    trigger: Trigger<M, S>,
    now: DateTime<Utc>,
) -> Result<Trigger<M, S>, TriggerError> {
    match trigger.event_time() {
        Some(t) if t > now + Duration::seconds(MAX_CLOCK_SKEW_SECONDS) => {
            Err(TriggerError::InvalidField {
                field: trigger.time_field().into(),
                rule: format!(
                    "must not be more than {MAX_CLOCK_SKEW_SECONDS} s in the future, got {} (now {})",
                    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            })
        }
        _ => Ok(trigger),
    }
}

/// What a run reports when the ledger would not take its claim: nothing was done, since
/// without the claim nothing keeps a duplicate from doing it too.
fn unclaimed<M, S>(error: &LedgerError, trigger: &Trigger<M, S>) -> Findings {
    // "This attempt": an earlier attempt of the same request (Lambda's retries keep its id)
    // may have acted, and its report stands.
    let mut summary = "the ledger could not be reached: this attempt did nothing".to_string();
    if let Trigger::Manual(_) = trigger {
        summary.push_str(": the same request may be sent again");
    }
    let check = Check::new(
        "ledger",
        Outcome::Fail,
        format!(
            "could not claim the trigger ({}); not acting without a claim, which keeps a duplicate or retry from acting twice",
            crate::aws::one_line(&error.to_string())
        ),
    );
    let mut findings = Findings::new(None::<Target>, vec![check], summary);
    findings.retry = Some("the ledger could not be reached".into());
    findings
}

/// What a retry reports when an earlier run began acting and vanished without a record.
fn outcome_unknown(request_id: &str, since: Option<DateTime<Utc>>) -> Findings {
    let since = since
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "an unknown time".into());
    Findings::new(
        None::<Target>,
        vec![Check::new(
            "earlier-run",
            Outcome::Fail,
            format!(
                "run {request_id} began acting at {since} and ended without recording what it did; \
                 not acting again: check the database and the function's logs for that run"
            ),
        )],
        format!("outcome of run {request_id} unknown; not repeated"),
    )
}

impl<R: Responder> Runner<R, crate::ledger::DynamoLedger, crate::publish::AwsReportSink> {
    /// The production wiring: DynamoDB ledger, SNS + S3 delivery, metrics as log lines.
    pub fn on_aws(responder: R, aws: &crate::aws::AwsClients, common: CommonConfig) -> Self {
        Self {
            responder,
            ledger: crate::ledger::DynamoLedger {
                client: aws.dynamodb.clone(),
                table: common.ledger_table.clone(),
                retention: Duration::days(14),
                report_prefix: common.report_prefix.clone(),
            },
            sink: crate::publish::AwsReportSink {
                sns: aws.sns.clone(),
                s3: aws.s3.clone(),
                topic_arn: common.report_topic_arn.clone(),
                bucket: common.report_bucket.clone(),
                prefix: common.report_prefix.clone(),
                namespace: common.metrics_namespace.clone(),
            },
            common,
        }
    }
}

impl<R: Responder, L: Ledger, S: ReportSink> Runner<R, L, S> {
    /// Serves invocations from the Lambda Runtime API until the process ends.
    pub async fn serve(&self) -> Result<(), lambda_runtime::Error> {
        lambda_runtime::run(lambda_runtime::service_fn(
            move |event: lambda_runtime::LambdaEvent<Incoming>| async move {
                // The invocation's lines carry its id; the runtime's lines between two do not.
                let _request = crate::logging::RequestScope::enter(&event.context.request_id);
                let invocation =
                    Invocation::from_context(&event.context, &self.common, Utc::now())?;
                match event.payload {
                    Incoming::Event(value) => self.handle(value, &invocation).await.map(|report| {
                        report.fitted_in(MAX_RESPONSE_BYTES, &self.common.report_prefix)
                    }),
                    Incoming::Unreadable(detail) => {
                        let refusal = TriggerError::Unreadable { detail };
                        tracing::warn!(error = %refusal, kind = refusal.kind(), "event refused");
                        Err(refusal.into())
                    }
                }
            },
        ))
        .await
    }
}

/// What every function's `main` reads once at start: logging, the environment, the shared
/// configuration and the AWS clients. Fails fast naming the variable at fault. Functions that
/// connect to databases also call [`Startup::database`].
pub struct Startup {
    pub env: crate::config::Env,
    pub common: CommonConfig,
    pub aws: crate::aws::AwsClients,
}

impl Startup {
    pub async fn load() -> Self {
        crate::logging::init();
        let env = crate::config::Env::from_process();
        let common = init_or_exit(CommonConfig::from_env(&env));
        let aws = init_or_exit(crate::aws::AwsClients::from_env().await);
        Self { env, common, aws }
    }

    /// The database settings (`DB_*`), for functions that connect. The reserve then covers a
    /// statement begun just before the stop point as well as the ledger and delivery after it.
    pub fn database(&mut self) -> crate::config::DbConfig {
        let db = init_or_exit(crate::config::DbConfig::from_env(&self.env));
        let needed = reserve_for(db.statement_timeout);
        if self.common.deadline_reserve < needed {
            tracing::info!(
                configured_s = self.common.deadline_reserve.as_secs(),
                used_s = needed.as_secs(),
                "DEADLINE_RESERVE_SECONDS raised to cover DB_STATEMENT_TIMEOUT_MS plus delivery"
            );
            self.common.deadline_reserve = needed;
        }
        db
    }
}

/// The reserve a function that runs statements needs: one statement begun just before the
/// stop point, then the ledger and delivery ([`crate::budget::DELIVERY_SECONDS`]), in whole
/// seconds.
pub fn reserve_for(statement_timeout: std::time::Duration) -> std::time::Duration {
    let ms = statement_timeout.as_millis() as u64 + crate::budget::DELIVERY_SECONDS * 1000;
    std::time::Duration::from_secs(ms.div_ceil(1000))
}

/// Every function's `main`: reads the configuration once, builds the responder from it with
/// `build` (clients from the one `SdkConfig`), and serves invocations until the process ends.
pub async fn serve<R: Responder>(
    build: impl FnOnce(&mut Startup) -> R,
) -> Result<(), lambda_runtime::Error> {
    let mut startup = Startup::load().await;
    let responder = build(&mut startup);
    Runner::on_aws(responder, &startup.aws, startup.common.clone())
        .serve()
        .await
}

/// Ends the process during init with the error's own words (Lambda records an init failure and
/// keeps the message in the function's log): a misconfigured function never takes an event.
pub fn init_or_exit<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => {
            crate::logging::init_failure(&e.to_string());
            std::process::exit(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_covers_a_statement_and_delivery_in_whole_seconds() {
        use std::time::Duration;
        assert_eq!(
            reserve_for(Duration::from_millis(15_000)),
            Duration::from_secs(19)
        );
        assert_eq!(
            reserve_for(Duration::from_millis(1_001)),
            Duration::from_secs(6)
        );
        assert_eq!(
            reserve_for(Duration::from_millis(1_000)),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn long_keys_are_bounded_and_stay_distinct() {
        let short = "idle-reaper#manual#inc-1".to_string();
        assert_eq!(bounded_key(short.clone()), short);
        let long = |tail: &str| format!("idle-reaper#schedule#{}{tail}", "\u{e9}".repeat(400));
        let (a, b) = (bounded_key(long("a")), bounded_key(long("b")));
        assert!(
            a.len() <= MAX_KEY_BYTES && b.len() <= MAX_KEY_BYTES,
            "{}",
            a.len()
        );
        assert_ne!(a, b);
        assert_eq!(a, bounded_key(long("a")));
        assert!(a.starts_with("idle-reaper#schedule#"));
    }

    /// A responder whose behaviour each test sets: how long it takes, whether it acts, whether
    /// it asks for a retry and says nothing took effect.
    mod stub {
        use super::*;
        use crate::testing::{invocation_at, runner, sample, MemoryLedger, RecordingSink};
        use crate::trigger::TargetList;
        use std::cell::Cell;

        #[derive(Debug, Clone, PartialEq, Serialize)]
        pub struct StubManual {
            request_id: Option<String>,
        }

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct RawStubManual {
            #[serde(default)]
            request_id: Option<String>,
        }

        impl ManualPayload for StubManual {
            type Raw = RawStubManual;
            const SHAPE: &'static str = "stub manual request";
            fn validate(raw: RawStubManual) -> Result<Self, TriggerError> {
                Ok(Self {
                    request_id: raw.request_id,
                })
            }
            fn request_id(&self) -> Option<&str> {
                self.request_id.as_deref()
            }
        }

        #[derive(Default)]
        pub struct Stub {
            pub act: bool,
            pub sleep: std::time::Duration,
            pub retry: Option<&'static str>,
            pub no_effect: bool,
            pub runs: Cell<u32>,
            pub actions: Cell<u32>,
        }

        impl Responder for Stub {
            type Manual = StubManual;
            type Schedule = TargetList;
            const FUNCTION: &'static str = "stub";

            async fn respond<L: Ledger>(
                &self,
                _: &Trigger<StubManual, TargetList>,
                _: &Invocation,
                guard: &ActionGuard<'_, L>,
            ) -> Findings {
                self.runs.set(self.runs.get() + 1);
                tokio::time::sleep(self.sleep).await;
                if self.act {
                    if let Err(refusal) = guard.before_acting("db-instance#orders-db").await {
                        let check = Check::new("act", Outcome::Fail, refusal.to_string());
                        return Findings::new(None::<Target>, vec![check], "refused");
                    }
                    if !self.no_effect {
                        self.actions.set(self.actions.get() + 1);
                    }
                }
                let check = Check::new("act", Outcome::Pass, "done");
                let mut findings = Findings::new(None::<Target>, vec![check], "stub ran");
                findings.retry = self.retry.map(String::from);
                if self.no_effect {
                    guard.nothing_took_effect();
                }
                findings
            }
        }

        const ALARM: &str = "alarm.connections.eventbridge.json";
        const KEY: &str = "stub#alarm#arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-db-too-many-connections#2026-11-22T03:12:30.412Z";

        fn at(id: &str, seconds: i64) -> Invocation {
            let mut inv = invocation_at("stub", Utc::now(), id);
            inv.deadline = Utc::now() + Duration::seconds(seconds);
            inv.reserve = std::time::Duration::from_secs(1);
            inv
        }

        type StubRunner = Runner<Stub, MemoryLedger, RecordingSink>;

        fn stub(stub: Stub) -> StubRunner {
            runner(stub, MemoryLedger::default(), RecordingSink::default())
        }

        fn acting_by(runner: &StubRunner, request_id: &str, until: DateTime<Utc>) {
            runner.ledger.records.borrow_mut().insert(
                KEY.into(),
                crate::testing::LedgerRecord::Acting {
                    request_id: request_id.into(),
                    until,
                    digest: None,
                    kept_until: until + Duration::days(14),
                },
            );
        }

        #[tokio::test]
        async fn a_duplicate_waits_for_the_holder_and_returns_its_report_without_acting() {
            let runner = stub(Stub {
                act: true,
                sleep: std::time::Duration::from_millis(1500),
                ..Stub::default()
            });
            let (a, b) = (at("req-a", 30), at("req-b", 30));
            let (first, second) = tokio::join!(runner.handle(sample(ALARM), &a), async {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                runner.handle(sample(ALARM), &b).await
            });
            let (first, second) = (first.unwrap(), second.unwrap());
            assert_eq!(first.id, "req-a");
            assert_eq!(second.duplicate_of.as_deref(), Some("req-a"));
            assert_eq!(runner.responder.runs.get(), 1, "the duplicate never ran");
            assert_eq!(runner.responder.actions.get(), 1);
            assert_eq!(runner.sink.delivered.borrow().len(), 1, "delivered once");
        }

        #[tokio::test]
        async fn a_duplicate_gives_up_at_its_stop_point_while_the_holder_acts() {
            let runner = stub(Stub::default());
            acting_by(&runner, "req-a", Utc::now() + Duration::minutes(10));
            let started = std::time::Instant::now();
            let err = runner
                .handle(sample(ALARM), &at("req-b", 4))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), "DuplicateInProgress");
            assert!(err.to_string().contains("(req-a)"), "{err}");
            assert!(
                started.elapsed() >= std::time::Duration::from_secs(1),
                "it waited"
            );
            assert!(
                started.elapsed() < std::time::Duration::from_secs(4),
                "within its deadline"
            );
            assert_eq!(runner.responder.runs.get(), 0);
            assert!(runner.sink.delivered.borrow().is_empty());
        }

        #[tokio::test]
        async fn lambdas_retry_of_an_attempt_that_died_acting_reports_unknown_at_once() {
            let runner = stub(Stub {
                act: true,
                ..Stub::default()
            });
            acting_by(&runner, "req-a", Utc::now() + Duration::minutes(10));
            let report = runner
                .handle(sample(ALARM), &at("req-a", 30))
                .await
                .unwrap();
            assert_eq!(report.status, crate::report::Status::Failed);
            let earlier = report
                .checks
                .iter()
                .find(|c| c.name == "earlier-run")
                .unwrap();
            assert!(
                earlier.detail.contains("run req-a began acting"),
                "{}",
                earlier.detail
            );
            assert!(
                earlier.detail.contains("not acting again"),
                "{}",
                earlier.detail
            );
            assert_eq!(runner.responder.runs.get(), 0);
            assert_eq!(runner.sink.delivered.borrow().len(), 1);
            assert!(matches!(
                runner.ledger.record(KEY),
                Some(crate::testing::LedgerRecord::Completed { .. })
            ));
        }

        #[tokio::test]
        async fn a_claim_left_by_a_failed_attempt_is_its_own_retrys() {
            let runner = stub(Stub {
                act: true,
                ..Stub::default()
            });
            runner.ledger.records.borrow_mut().insert(
                KEY.into(),
                crate::testing::LedgerRecord::InProgress {
                    request_id: "req-a".into(),
                    until: Utc::now() + Duration::minutes(10),
                    digest: None,
                },
            );
            let report = runner
                .handle(sample(ALARM), &at("req-a", 30))
                .await
                .unwrap();
            assert_eq!(report.id, "req-a");
            assert_eq!(runner.responder.actions.get(), 1);
        }

        #[tokio::test]
        async fn a_run_whose_every_action_was_refused_gives_the_claim_back_and_asks_for_a_retry() {
            let runner = stub(Stub {
                act: true,
                retry: Some("CreateDBSnapshot: Throttling"),
                no_effect: true,
                ..Stub::default()
            });
            let err = runner
                .handle(sample(ALARM), &at("req-a", 30))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), "RetryRequested");
            assert!(err.to_string().contains("Throttling"), "{err}");
            assert_eq!(runner.sink.delivered.borrow().len(), 1, "reported first");
            assert_eq!(runner.ledger.record(KEY), None, "claim given back");
            assert!(runner.ledger.locks.borrow().is_empty(), "lock given back");
            // The retry runs again.
            let _ = runner.handle(sample(ALARM), &at("req-a", 30)).await;
            assert_eq!(runner.responder.runs.get(), 2);
        }

        #[tokio::test]
        async fn a_retry_is_never_asked_for_once_something_may_have_taken_effect() {
            let runner = stub(Stub {
                act: true,
                retry: Some("the recount failed"),
                ..Stub::default()
            });
            let report = runner
                .handle(sample(ALARM), &at("req-a", 30))
                .await
                .unwrap();
            assert_eq!(report.id, "req-a");
            assert!(matches!(
                runner.ledger.record(KEY),
                Some(crate::testing::LedgerRecord::Completed { .. })
            ));
        }

        #[tokio::test]
        async fn a_manual_request_that_did_nothing_says_it_may_be_sent_again() {
            let runner = stub(Stub {
                retry: Some("RDS DescribeDBInstances: timed out"),
                ..Stub::default()
            });
            let request = serde_json::json!({"request_id": "chg-1"});
            let report = runner
                .handle(request.clone(), &at("req-a", 30))
                .await
                .unwrap();
            assert!(
                report.summary.ends_with(
                    "nothing was done (RDS DescribeDBInstances: timed out): the same request may be sent again"
                ),
                "{}",
                report.summary
            );
            assert_eq!(runner.ledger.record("stub#manual#chg-1"), None);
            runner.handle(request, &at("req-b", 30)).await.unwrap();
            assert_eq!(runner.responder.runs.get(), 2, "sent again, it ran again");
        }

        #[tokio::test]
        async fn a_duplicate_finding_acted_while_the_holder_delivers_does_not_deliver_again() {
            let runner = stub(Stub {
                act: true,
                ..Stub::default()
            });
            runner.ledger.fail.borrow_mut().push("complete");
            // The holder acted and delivered; its completion was lost.
            let first = runner
                .handle(sample(ALARM), &at("req-a", 600))
                .await
                .unwrap();
            runner.sink.delivered.borrow_mut().clear();
            let copy = runner.handle(sample(ALARM), &at("req-b", 3)).await.unwrap();
            assert_eq!(copy.duplicate_of.as_deref(), Some(first.id.as_str()));
            assert!(
                runner.sink.delivered.borrow().is_empty(),
                "the holder may still be delivering: not delivered twice"
            );
            // Past the holder's deadline, a redelivery goes out.
            if let Some(crate::testing::LedgerRecord::Acted { until, .. }) =
                runner.ledger.records.borrow_mut().get_mut(KEY)
            {
                *until = Some(Utc::now() - Duration::seconds(1));
            }
            runner
                .handle(sample(ALARM), &at("req-c", 30))
                .await
                .unwrap();
            assert_eq!(runner.sink.delivered.borrow().len(), 1);
            // The holder's delivery was noted when its completion failed: the redelivery sends
            // nothing again (no metric counted twice).
            assert_eq!(
                runner.sink.calls.borrow().last().cloned().unwrap(),
                Vec::<String>::new()
            );
            assert_eq!(runner.responder.actions.get(), 1);
        }

        #[tokio::test]
        async fn a_redelivered_bounded_copy_never_overwrites_the_whole_archive() {
            let runner = stub(Stub {
                act: true,
                ..Stub::default()
            });
            // SNS refuses once; S3 and metrics get the whole report.
            runner.sink.fail_first.set(1);
            runner.ledger.fail.borrow_mut().push("note-delivered");
            let err = runner
                .handle(sample(ALARM), &at("req-a", 30))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), "PublishFailed");
            // The ledger's copy is bounded (a big report): mark it so.
            if let Some(crate::testing::LedgerRecord::Acted { report, .. }) =
                runner.ledger.records.borrow_mut().get_mut(KEY)
            {
                report.truncated = Some("cut to fit the ledger".into());
            }
            runner
                .handle(sample(ALARM), &at("req-a", 30))
                .await
                .unwrap();
            let last = runner.sink.calls.borrow().last().cloned().unwrap();
            assert_eq!(
                last,
                ["sns", "cloudwatch"],
                "the archive already there is kept"
            );
            assert_eq!(runner.responder.actions.get(), 1);
        }

        #[tokio::test]
        async fn an_acted_report_the_ledger_will_not_take_is_still_delivered_once() {
            let runner = stub(Stub {
                act: true,
                ..Stub::default()
            });
            for _ in 0..3 {
                runner.ledger.fail.borrow_mut().push("record-acted");
            }
            let report = runner
                .handle(sample(ALARM), &at("req-a", 30))
                .await
                .unwrap();
            assert_eq!(report.id, "req-a");
            let tries = runner
                .ledger
                .calls
                .borrow()
                .iter()
                .filter(|c| **c == "record-acted")
                .count();
            assert_eq!(tries, 3, "retried, not only logged");
            assert_eq!(runner.sink.delivered.borrow().len(), 1);
        }

        #[tokio::test]
        async fn a_ledger_that_refuses_the_claim_still_gets_a_report_out_and_a_retry() {
            let runner = stub(Stub {
                act: true,
                ..Stub::default()
            });
            runner.ledger.fail.borrow_mut().push("claim");
            let err = runner
                .handle(sample(ALARM), &at("req-a", 30))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), "RetryRequested", "{err}");
            assert_eq!(runner.responder.runs.get(), 0, "nothing runs unclaimed");
            let report = runner.sink.delivered.borrow()[0].clone();
            assert_eq!(
                runner.sink.delivered.borrow().len(),
                1,
                "the report went out"
            );
            assert_eq!(report.status.as_str(), "failed");
            assert!(
                report.summary.contains("this attempt did nothing"),
                "{}",
                report.summary
            );
            let check = &report.checks[0];
            assert_eq!(check.name, "ledger");
            assert!(check.detail.contains("injected"), "{}", check.detail);
            // Lambda's retry, the ledger back: it runs and acts once.
            let report = runner
                .handle(sample(ALARM), &at("req-a", 30))
                .await
                .unwrap();
            assert_eq!(report.id, "req-a");
            assert_eq!(runner.responder.actions.get(), 1);
        }

        #[tokio::test]
        async fn a_retry_the_ledger_will_not_claim_keeps_the_archive_of_the_attempt_that_acted() {
            let runner = stub(Stub {
                act: true,
                ..Stub::default()
            });
            runner.sink.fail_first.set(1);
            // The first attempt acts, archives, and fails on SNS.
            let err = runner
                .handle(sample(ALARM), &at("req-a", 30))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), "PublishFailed");
            // Lambda's retry: the ledger throttles the claim.
            runner.ledger.fail.borrow_mut().push("claim");
            let err = runner
                .handle(sample(ALARM), &at("req-a", 30))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), "RetryRequested");
            let last = runner.sink.calls.borrow().last().cloned().unwrap();
            assert_eq!(
                last,
                ["sns", "cloudwatch"],
                "the acted report's archive is kept"
            );
            assert_eq!(runner.responder.actions.get(), 1);
            // The next retry redelivers the acted report.
            let report = runner
                .handle(sample(ALARM), &at("req-a", 30))
                .await
                .unwrap();
            assert_eq!(report.duplicate_of.as_deref(), Some("req-a"));
            assert_eq!(runner.responder.actions.get(), 1, "acted once");
        }

        #[tokio::test]
        async fn a_manual_request_the_ledger_would_not_claim_may_be_sent_again() {
            let runner = stub(Stub {
                act: true,
                ..Stub::default()
            });
            runner.ledger.fail.borrow_mut().push("claim");
            let report = runner
                .handle(serde_json::json!({}), &at("req-a", 30))
                .await
                .unwrap();
            assert!(
                report
                    .summary
                    .ends_with("the same request may be sent again"),
                "{}",
                report.summary
            );
            assert_eq!(runner.responder.runs.get(), 0);
        }

        #[tokio::test]
        async fn a_stale_event_is_reported_skipped_and_nothing_runs() {
            let mut runner = stub(Stub {
                act: true,
                ..Stub::default()
            });
            runner.common.max_event_age = Some(std::time::Duration::from_secs(3600));
            // The sample alarm changed state on 2026-11-22: days before now.
            let report = runner
                .handle(sample(ALARM), &at("req-a", 30))
                .await
                .unwrap();
            assert_eq!(report.status.as_str(), "skipped");
            assert!(
                report.summary.contains("stale event skipped"),
                "{}",
                report.summary
            );
            assert!(
                report.summary.contains("MAX_EVENT_AGE_SECONDS"),
                "{}",
                report.summary
            );
            assert_eq!(runner.responder.runs.get(), 0, "the responder never ran");
            assert_eq!(runner.sink.delivered.borrow().len(), 1, "still reported");
            // Within the age limit it runs.
            let mut fresh = stub(Stub::default());
            fresh.common.max_event_age = Some(std::time::Duration::from_secs(3650 * 86_400));
            let report = fresh.handle(sample(ALARM), &at("req-b", 30)).await.unwrap();
            assert_eq!(fresh.responder.runs.get(), 1, "{}", report.summary);
        }

        #[tokio::test]
        async fn a_manual_caller_is_not_told_a_retry_will_deliver() {
            let runner = stub(Stub {
                act: true,
                ..Stub::default()
            });
            runner.sink.fail_first.set(1);
            let err = runner
                .handle(serde_json::json!({}), &at("req-a", 30))
                .await
                .unwrap_err();
            let text = err.to_string();
            assert!(text.contains("no retry follows a manual request"), "{text}");
            assert!(!text.contains("Lambda's retry"), "{text}");
        }
    }
}
