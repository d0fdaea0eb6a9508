//! Words the report: what was seen, decided and done on one instance.

use serde_json::{json, Value};

use rds_responder::report::{Check, Findings, Outcome};
use rds_responder::sql::sessions::{Session, SessionSnapshot, Termination};
use rds_responder::sql::{ConnectTarget, DbError};
use rds_responder::trigger::{DbTarget, RdsIdentifier};

use crate::config::Policy;
use crate::policy::{group_by, Plan};

pub fn groups(sessions: &[Session]) -> Value {
    json!({
        "by_user": group_by(sessions, |s| s.user.clone()),
        "by_database": group_by(sessions, |s| s.database.clone()),
        "by_application": group_by(sessions, |s| s.application.clone()),
        "by_client_address": group_by(sessions, |s| s.client_addr.map(|a| a.to_string())),
    })
}

fn describe_groups(sessions: &[Session]) -> String {
    group_by(sessions, |s| s.user.clone())
        .iter()
        .map(|(u, n)| format!("{u}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where the session went; says so when `DB_ENDPOINT_OVERRIDES` sent it elsewhere.
pub fn connect_check(target: &ConnectTarget) -> Check {
    let address = format!("{}:{}", target.address.host, target.address.port);
    let detail = if target.overridden {
        format!(
            "connected to {address} (DB_ENDPOINT_OVERRIDES in effect, local runs only: RDS endpoint {}:{} not used)",
            target.rds_endpoint.host, target.rds_endpoint.port
        )
    } else {
        format!("connected to {address}")
    };
    Check::new("connect", Outcome::Pass, detail)
        .with_data(json!({ "address": address, "endpoint_override": target.overridden }))
}

/// What happened on one instance, from the listing to the count afterwards.
pub struct InstanceRun<'a> {
    pub instance: &'a str,
    pub snapshot: &'a SessionSnapshot,
    pub plan: &'a Plan,
    pub policy: &'a Policy,
    pub dry_run: bool,
    /// Why the run did not act although it meant to (lock held, ledger unavailable).
    pub refused: Option<(Outcome, String)>,
    /// What the terminating call did, every planned session accounted for.
    pub termination: Option<Termination>,
    pub started: std::time::Instant,
}

impl InstanceRun<'_> {
    pub fn checks(&self) -> Vec<Check> {
        let (snapshot, plan, policy) = (self.snapshot, self.plan, self.policy);
        let mut checks = vec![Check::new(
            "connections-before",
            Outcome::Pass,
            format!(
                "{} client connections on {}",
                snapshot.total_connections, self.instance
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
                    if skipped.is_empty() {
                        "none".into()
                    } else {
                        skipped.join(", ")
                    }
                ),
            )
            .with_data(json!({
                "eligible": plan.eligible.len(),
                "eligible_groups": groups(&plan.eligible),
                "skipped": plan.skipped,
            })),
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
        checks.push(self.terminate_check());
        if let Some(done) = &self.termination {
            checks.push(after_check(snapshot, done));
        }
        checks
    }

    fn terminate_check(&self) -> Check {
        let plan = self.plan;
        if plan.eligible.is_empty() {
            return Check::new(
                "terminate",
                Outcome::Skipped,
                "no idle session past the thresholds",
            );
        }
        if self.dry_run {
            return Check::new(
                "terminate",
                Outcome::Planned,
                format!(
                    "dry run: would terminate {} sessions ({})",
                    plan.eligible.len(),
                    describe_groups(&plan.eligible)
                ),
            )
            .with_data(groups(&plan.eligible));
        }
        if let Some((outcome, reason)) = &self.refused {
            return Check::new("terminate", *outcome, format!("not attempted: {reason}"));
        }
        let Some(done) = &self.termination else {
            return Check::new(
                "terminate",
                Outcome::Fail,
                "planned sessions were not sent for termination",
            );
        };
        let outcome = if done.failure.is_some() {
            Outcome::Fail
        } else {
            Outcome::Pass
        };
        Check::new("terminate", outcome, termination_text(done))
            .with_data(json!({
                "terminated": done.terminated.len(),
                "terminated_ids": ids(&done.terminated),
                "spared": done.spared.len(),
                "unknown": done.unknown.len(),
                "unknown_ids": ids(&done.unknown),
                "not_reached": done.not_reached.len(),
                "method": done.method,
                "statement_ms": done.statement_ms,
                "exit_wait_ms": done.exit_wait_ms,
                "failure": done.failure,
                "groups": groups(&done.terminated),
            }))
            .timed(self.started)
    }

    pub fn summary(&self) -> String {
        let (instance, plan) = (self.instance, self.plan);
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
        if self.dry_run {
            return format!(
                "{instance}: dry run, would terminate {} idle sessions",
                plan.eligible.len()
            );
        }
        if let Some((_, reason)) = &self.refused {
            return format!("{instance}: nothing terminated: {reason}");
        }
        match &self.termination {
            Some(done) => {
                let after = done
                    .connections_after
                    .map(|n| format!(", connections {} -> {n}", plan.total_connections))
                    .unwrap_or_default();
                format!("{instance}: {}{after}", termination_text(done))
            }
            None => format!("{instance}: nothing terminated"),
        }
    }
}

fn ids(sessions: &[Session]) -> Vec<i64> {
    sessions.iter().map(|s| s.id).collect()
}

/// Every planned session accounted for: terminated, spared, unknown, not reached, and why.
fn termination_text(done: &Termination) -> String {
    let mut parts = vec![if done.terminated.is_empty() {
        "nothing terminated".to_string()
    } else {
        format!(
            "terminated {} sessions with {} ({})",
            done.terminated.len(),
            done.method,
            describe_groups(&done.terminated)
        )
    }];
    if !done.spared.is_empty() {
        parts.push(format!(
            "{} spared (active again, reused pid or gone)",
            done.spared.len()
        ));
    }
    if !done.unknown.is_empty() {
        parts.push(format!(
            "outcome unknown for {} (sent for termination by the statement that failed)",
            done.unknown.len()
        ));
    }
    if !done.not_reached.is_empty() {
        parts.push(format!("{} not reached", done.not_reached.len()));
    }
    if let Some(failure) = &done.failure {
        parts.push(format!("then failed: {failure}"));
    }
    parts.join("; ")
}

fn after_check(snapshot: &SessionSnapshot, done: &Termination) -> Check {
    // Warn, not fail: the terminations stand whatever the count says.
    match done.connections_after {
        Some(after) => Check::new(
            "connections-after",
            Outcome::Pass,
            format!(
                "{} -> {after} client connections",
                snapshot.total_connections
            ),
        )
        .with_data(json!({ "before": snapshot.total_connections, "after": after })),
        None => Check::new(
            "connections-after",
            Outcome::Warn,
            "could not be counted after terminating",
        ),
    }
}

/// A failed check that ends the run before anything was done.
pub fn stopped(target: DbTarget, name: &str, detail: String, summary: String) -> Findings {
    Findings::new(
        Some(target),
        vec![Check::new(name, Outcome::Fail, detail)],
        summary,
    )
}

/// The database did not let us in (or list): nothing was done, so a retry may act.
pub fn unreachable_db(target: DbTarget, describe: Check, e: &DbError) -> Findings {
    let check = Check::new(
        "connect",
        Outcome::Fail,
        format!(
            "{e}. If the database is out of connections, the responder cannot get in either: \
             the alarm stays in ALARM and Lambda retries this invocation"
        ),
    );
    let mut findings = Findings::new(
        Some(target.clone()),
        vec![describe, check],
        format!("{target}: could not reach the database, nothing terminated"),
    );
    findings.retry = Some(e.to_string());
    findings
}

/// One report for several instances (a cluster's readers): each instance's checks under its
/// name, and the ones not reached before the deadline.
pub fn merge_instances(
    target: DbTarget,
    done: Vec<(RdsIdentifier, Findings)>,
    not_reached: &[RdsIdentifier],
) -> Findings {
    let mut checks = Vec::new();
    let mut summaries = Vec::new();
    let mut retry = None;
    let mut statuses = Vec::new();
    let mut metrics = Vec::new();
    let reached = done.len();
    for (instance, findings) in done {
        metrics.extend(findings.metrics);
        checks.extend(findings.checks.into_iter().map(|mut c| {
            c.name = format!("{instance}: {}", c.name);
            c
        }));
        summaries.push(findings.summary);
        statuses.extend(findings.status);
        retry = retry.or(findings.retry);
    }
    if !not_reached.is_empty() {
        let left: Vec<String> = not_reached.iter().map(ToString::to_string).collect();
        checks.push(Check::new(
            "not-reached",
            Outcome::Fail,
            format!(
                "stopped before the invocation deadline; not reaped: {}",
                left.join(", ")
            ),
        ));
        summaries.push(format!(
            "{} readers not reached before the deadline",
            left.len()
        ));
    }
    let mut findings = Findings::new(Some(target), checks, summaries.join("; "));
    findings.retry = retry;
    findings.metrics = metrics;
    // One status for all only when every instance was reached and they agree.
    if not_reached.is_empty()
        && statuses.len() == reached
        && statuses.windows(2).all(|w| w[0] == w[1])
    {
        findings.status = statuses.first().copied();
    }
    findings
}
