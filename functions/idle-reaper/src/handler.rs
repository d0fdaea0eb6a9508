//! Which triggers mean "reap now", and the run itself: describe, check the safety rails, list,
//! decide (pure), terminate with a re-check, report.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use rds_responder::rds::{DbInventory, InstanceInfo};
use rds_responder::report::{Check, Findings, Outcome, Status};
use rds_responder::runner::{Invocation, Responder};
use rds_responder::sql::sessions::{Session, SessionSnapshot, Termination};
use rds_responder::sql::{DbProbe, Engine, SessionReaper};
use rds_responder::trigger::{
    check_request_id, manual_schema, parse_identifier, DbTarget, ManualPayload, ResourceKind,
    Trigger, TriggerError,
};

use crate::config::ReaperConfig;
use crate::policy::{group_by, plan, Plan, Policy};

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
struct RawManualReap {
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

const MAX_MINUTES: u32 = 7 * 24 * 60;

impl ManualPayload for ManualReap {
    fn from_value(value: Value) -> Result<Self, TriggerError> {
        let raw: RawManualReap = manual_schema(value, "idle-reaper manual request")?;
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
            if value.is_some_and(|m| m > MAX_MINUTES) {
                return Err(invalid(field, "must be 0-10080 minutes (one week)"));
            }
        }
        if raw.max_sessions == Some(0) {
            return Err(invalid("max_sessions", "must be at least 1"));
        }
        check_request_id(raw.request_id.as_deref())?;
        Ok(Self {
            db: DbTarget::Instance(parse_identifier("db", &raw.db, ResourceKind::DbInstance)?),
            idle_minutes: raw.idle_minutes,
            idle_in_transaction_minutes: raw.idle_in_transaction_minutes,
            dry_run: raw.dry_run.unwrap_or(true),
            max_sessions: raw.max_sessions,
            request_id: raw.request_id,
        })
    }

    fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Reap {
        target: DbTarget,
        dry_run: bool,
        policy: Policy,
    },
    Skip {
        target: Option<DbTarget>,
        reason: String,
    },
}

pub fn decide(trigger: &Trigger<ManualReap>, config: &ReaperConfig) -> Decision {
    let automatic = |target: DbTarget| Decision::Reap {
        target,
        dry_run: config.automatic_dry_run,
        policy: config.policy.clone(),
    };
    match trigger {
        Trigger::Alarm(alarm) => {
            let target = alarm
                .db_target()
                .or_else(|| config.default_instance.clone().map(DbTarget::Instance));
            if !alarm.is_into_alarm() {
                return Decision::Skip {
                    target,
                    reason: format!("alarm {} moved to {}, not into ALARM: nothing to do", alarm.name, alarm.new_state.as_str()),
                };
            }
            match target {
                Some(target) => automatic(target),
                None => Decision::Skip {
                    target: None,
                    reason: format!(
                        "alarm {} names no DBInstanceIdentifier or DBClusterIdentifier and DEFAULT_DB_INSTANCE is not set",
                        alarm.name
                    ),
                },
            }
        }
        Trigger::Schedule(schedule) => match schedule.targets.as_slice() {
            [target] => automatic(target.clone()),
            targets => Decision::Skip {
                target: None,
                reason: format!(
                    "a scheduled run needs exactly one target in detail.targets, got {}",
                    targets.len()
                ),
            },
        },
        Trigger::Manual(request) => {
            let mut policy = config.policy.clone();
            if let Some(m) = request.idle_minutes {
                policy.idle = std::time::Duration::from_secs(u64::from(m) * 60);
            }
            if let Some(m) = request.idle_in_transaction_minutes {
                policy.idle_in_transaction = Some(std::time::Duration::from_secs(u64::from(m) * 60));
            }
            // A request may lower the cap, never raise it above the configured one.
            if let Some(max) = request.max_sessions {
                policy.max_sessions = policy.max_sessions.min(u64::from(max));
            }
            Decision::Reap {
                target: request.db.clone(),
                dry_run: request.dry_run,
                policy,
            }
        }
        Trigger::RdsEvent(event) => Decision::Skip {
            target: None,
            reason: format!(
                "idle-reaper acts on connection alarms, schedules and manual requests; {} from {} ignored",
                event.event_id.map(|e| e.to_string()).unwrap_or_else(|| "an RDS event".into()),
                event.source_id
            ),
        },
        Trigger::SubscriptionNotice(_) => Decision::Skip {
            target: None,
            reason: "SNS subscription notice".into(),
        },
    }
}

/// Tag values that switch the reaper off for an instance.
const OPT_OUT_VALUES: [&str; 4] = ["off", "disabled", "false", "no"];

pub struct IdleReaper<I, R> {
    pub inventory: I,
    /// Connects and reaps; also maps identifiers to endpoints (overrides for local runs).
    pub reaper: R,
    pub config: ReaperConfig,
}

impl<I: DbInventory, R: SessionReaper + DbProbe> Responder for IdleReaper<I, R> {
    type Manual = ManualReap;
    const FUNCTION: &'static str = "idle-reaper";

    async fn respond(&self, trigger: &Trigger<ManualReap>, _: &Invocation) -> Findings {
        match decide(trigger, &self.config) {
            Decision::Skip { target, reason } => Findings::skipped(target, reason),
            Decision::Reap {
                target,
                dry_run,
                policy,
            } => self.reap(target, dry_run, &policy).await,
        }
    }
}

impl<I: DbInventory, R: SessionReaper + DbProbe> IdleReaper<I, R> {
    /// Describes the instance (a cluster means its writer); any failure here stops the run.
    async fn resolve(&self, target: &DbTarget) -> Result<InstanceInfo, String> {
        let instance_id = match target {
            DbTarget::Instance(id) => id.clone(),
            DbTarget::Cluster(id) => {
                let cluster = self
                    .inventory
                    .describe_cluster(id)
                    .await
                    .map_err(|e| e.to_string())?;
                let writer = cluster
                    .members
                    .iter()
                    .find(|m| m.is_writer)
                    .ok_or_else(|| format!("cluster {id} has no writer member"))?;
                parse_identifier("writer", &writer.instance_id, ResourceKind::DbInstance)
                    .map_err(|e| e.to_string())?
            }
        };
        self.inventory
            .describe_instance(&instance_id)
            .await
            .map_err(|e| e.to_string())
    }

    pub async fn reap(&self, target: DbTarget, dry_run: bool, policy: &Policy) -> Findings {
        let fail = |checks: Vec<Check>, summary: String| {
            Findings::new(Some(target.clone()), checks, summary)
        };
        let instance = match self.resolve(&target).await {
            Ok(i) => i,
            Err(e) => {
                let check = Check::new(
                    "describe",
                    Outcome::Fail,
                    format!("{e}; nothing was terminated"),
                );
                return fail(
                    vec![check],
                    format!("{target}: could not be described, nothing done"),
                );
            }
        };
        if let Some(value) = instance.tags.get(&self.config.opt_out_tag) {
            if OPT_OUT_VALUES.iter().any(|v| v.eq_ignore_ascii_case(value)) {
                return Findings::skipped(
                    Some(target),
                    format!(
                        "{} opted out: tag {}={value}",
                        instance.id, self.config.opt_out_tag
                    ),
                );
            }
        }
        let describe = Check::new(
            "describe",
            Outcome::Pass,
            format!(
                "{} is {} (engine {})",
                instance.id, instance.status, instance.engine
            ),
        );
        if instance.status != "available" {
            let check = Check::new(
                "describe",
                Outcome::Fail,
                format!(
                    "{} is {}, not available: nothing done",
                    instance.id, instance.status
                ),
            );
            return fail(
                vec![check],
                format!("{target}: not available, nothing done"),
            );
        }
        let Some(engine) = Engine::from_rds(&instance.engine) else {
            let check = Check::new(
                "engine",
                Outcome::Fail,
                format!("engine {} is not supported", instance.engine),
            );
            return fail(
                vec![describe, check],
                format!("{target}: unsupported engine"),
            );
        };
        let Some(endpoint) = instance.endpoint.as_ref() else {
            let check = Check::new("connect", Outcome::Fail, "RDS reports no endpoint");
            return fail(vec![describe, check], format!("{target}: no endpoint"));
        };
        let connect_to = self.reaper.target_for(&instance.id, endpoint);

        let started = std::time::Instant::now();
        let mut decided: Option<Plan> = None;
        let reaped = self
            .reaper
            .reap(engine, &connect_to, |snapshot: &SessionSnapshot| {
                let p = plan(snapshot, policy);
                let chosen = p.to_terminate(dry_run);
                decided = Some(p);
                chosen
            })
            .await;
        let (snapshot, termination) = match reaped {
            Ok(done) => done,
            Err(e) => {
                let check = Check::new(
                    "connect",
                    Outcome::Fail,
                    format!(
                        "{e}. If the database is out of connections, the responder cannot get in either: \
                         the alarm stays in ALARM and Lambda retries this invocation"
                    ),
                );
                let mut findings = fail(
                    vec![describe, check],
                    format!("{target}: could not reach the database, nothing terminated"),
                );
                findings.retry = Some(e.to_string());
                return findings;
            }
        };
        let Some(plan) = decided else {
            // The adapter returned without asking us: treat as nothing decided.
            let check = Check::new(
                "candidates",
                Outcome::Fail,
                "no decision was made; nothing terminated",
            );
            return fail(vec![describe, check], format!("{target}: nothing decided"));
        };
        let mut checks = vec![describe];
        checks.extend(report_checks(
            &instance.id,
            &snapshot,
            &plan,
            termination.as_ref(),
            dry_run,
            policy,
            started,
        ));
        let summary = summarize(&instance.id, &plan, termination.as_ref(), dry_run);
        let mut findings = Findings::new(Some(target), checks, summary);
        if dry_run && !plan.eligible.is_empty() && !plan.cap_exceeded {
            findings.status = Some(Status::DryRun);
        }
        findings
    }
}

fn groups(sessions: &[Session]) -> Value {
    json!({
        "by_user": group_by(sessions, |s| s.user.clone()),
        "by_database": group_by(sessions, |s| s.database.clone()),
        "by_application": group_by(sessions, |s| s.application.clone()),
        "by_client_address": group_by(sessions, |s| s.client_addr.map(|a| a.to_string())),
    })
}

fn describe_groups(sessions: &[Session]) -> String {
    let users = group_by(sessions, |s| s.user.clone());
    users
        .iter()
        .map(|(u, n)| format!("{u}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn report_checks(
    instance: &str,
    snapshot: &SessionSnapshot,
    plan: &Plan,
    termination: Option<&Termination>,
    dry_run: bool,
    policy: &Policy,
    started: std::time::Instant,
) -> Vec<Check> {
    let mut checks = vec![Check::new(
        "connections-before",
        Outcome::Pass,
        format!(
            "{} client connections on {instance}",
            snapshot.total_connections
        ),
    )
    .with_data(json!({ "connections": snapshot.total_connections }))];

    let skipped: Vec<String> = plan
        .skipped
        .iter()
        .map(|(reason, n)| format!("{n} {reason}"))
        .collect();
    let thresholds = match policy.idle_in_transaction {
        Some(t) => format!(
            "idle > {} s, idle in transaction > {} s",
            policy.idle.as_secs(),
            t.as_secs()
        ),
        None => format!("idle > {} s", policy.idle.as_secs()),
    };
    checks.push(
        Check::new(
            "candidates",
            Outcome::Pass,
            format!(
                "{} eligible ({thresholds}); left alone: {}",
                plan.eligible.len(),
                if skipped.is_empty() { "none".into() } else { skipped.join(", ") }
            ),
        )
        .with_data(json!({ "eligible": plan.eligible.len(), "eligible_groups": groups(&plan.eligible), "skipped": plan.skipped })),
    );

    let cap_detail = format!(
        "cap {} per run (smaller of {} sessions and {:.0}% of {} connections)",
        plan.cap,
        policy.max_sessions,
        policy.max_fraction * 100.0,
        plan.total_connections
    );
    if plan.cap_exceeded {
        checks.push(Check::new(
            "cap",
            Outcome::Fail,
            format!(
                "{} eligible sessions exceed the {cap_detail}: aborted before terminating anything",
                plan.eligible.len()
            ),
        ));
        checks.push(Check::new(
            "terminate",
            Outcome::Skipped,
            "not attempted: cap exceeded",
        ));
        return checks;
    }
    checks.push(Check::new(
        "cap",
        Outcome::Pass,
        format!("{} eligible within the {cap_detail}", plan.eligible.len()),
    ));

    match termination {
        _ if plan.eligible.is_empty() => {
            checks.push(Check::new(
                "terminate",
                Outcome::Skipped,
                "no idle session past the thresholds",
            ));
        }
        _ if dry_run => {
            checks.push(
                Check::new(
                    "terminate",
                    Outcome::Planned,
                    format!(
                        "dry run: would terminate {} sessions ({})",
                        plan.eligible.len(),
                        describe_groups(&plan.eligible)
                    ),
                )
                .with_data(groups(&plan.eligible)),
            );
        }
        None => checks.push(Check::new(
            "terminate",
            Outcome::Fail,
            "planned sessions were not sent for termination",
        )),
        Some(done) => {
            let spared = if done.spared.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} spared (active again, reused pid or gone by then)",
                    done.spared.len()
                )
            };
            checks.push(
                Check::new(
                    "terminate",
                    Outcome::Pass,
                    format!(
                        "terminated {} sessions with {} ({}){spared}",
                        done.terminated.len(),
                        done.method,
                        describe_groups(&done.terminated)
                    ),
                )
                .with_data(json!({
                    "terminated": done.terminated.len(),
                    "spared": done.spared.len(),
                    "method": done.method,
                    "statement_ms": done.statement_ms,
                    "exit_wait_ms": done.exit_wait_ms,
                    "groups": groups(&done.terminated),
                }))
                .timed(started),
            );
            checks.push(
                Check::new(
                    "connections-after",
                    Outcome::Pass,
                    format!("{} -> {} client connections", snapshot.total_connections, done.connections_after),
                )
                .with_data(json!({ "before": snapshot.total_connections, "after": done.connections_after })),
            );
        }
    }
    checks
}

fn summarize(
    instance: &str,
    plan: &Plan,
    termination: Option<&Termination>,
    dry_run: bool,
) -> String {
    if plan.cap_exceeded {
        return format!(
            "{instance}: {} idle sessions eligible, over the cap of {}: aborted, nothing terminated",
            plan.eligible.len(),
            plan.cap
        );
    }
    if plan.eligible.is_empty() {
        return format!(
            "{instance}: no idle session past the thresholds ({} connections)",
            plan.total_connections
        );
    }
    if dry_run {
        return format!(
            "{instance}: dry run, would terminate {} idle sessions",
            plan.eligible.len()
        );
    }
    match termination {
        Some(done) => format!(
            "{instance}: terminated {} idle sessions, connections {} -> {}",
            done.terminated.len(),
            plan.total_connections,
            done.connections_after
        ),
        None => format!("{instance}: nothing terminated"),
    }
}

#[cfg(test)]
mod tests;
