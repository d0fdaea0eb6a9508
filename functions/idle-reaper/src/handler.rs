//! The run: for each instance the decision says: describe, the rails, list, plan (pure), take
//! the guard, terminate with a re-check, report.

use rds_responder::guard::{db_resource, ActionGuard};
use rds_responder::ledger::Ledger;
use rds_responder::metrics::{db_resource_name, SESSIONS_TERMINATED};
use rds_responder::rds::DbInventory;
use rds_responder::report::{Check, Findings, Outcome};
use rds_responder::run::RunContext;
use rds_responder::runner::{Invocation, Responder};

use rds_responder::config::EndpointMap;
use rds_responder::sql::{Engine, ReapSession, SessionReaper};
use rds_responder::trigger::{
    parse_identifier, DbTarget, RdsIdentifier, ResourceKind, TargetList, Trigger,
};

use crate::checks::{connect_check, merge_instances, stopped, unreachable_db, InstanceRun};
use crate::config::{Policy, ReaperConfig};
use crate::policy::{decide, plan, run_status, Decision, Scope};
use crate::request::ManualReap;

pub struct IdleReaper<I, R> {
    pub inventory: I,
    /// Opens sessions on a database: list, then terminate.
    pub reaper: R,
    /// Where to connect for each instance (overrides for local runs).
    pub endpoints: EndpointMap,
    pub config: ReaperConfig,
}

impl<I: DbInventory, R: SessionReaper> Responder for IdleReaper<I, R> {
    type Manual = ManualReap;
    type Schedule = TargetList;
    const FUNCTION: &'static str = "idle-reaper";

    async fn respond<L: Ledger>(
        &self,
        trigger: &Trigger<ManualReap>,
        invocation: &Invocation,
        guard: &ActionGuard<'_, L>,
    ) -> Findings {
        match decide(trigger, &self.config) {
            Decision::Skip { target, reason } => Findings::skipped(target, reason),
            Decision::Reap {
                scope,
                dry_run,
                policy,
            } => {
                let run = Run {
                    dry_run,
                    policy: &policy,
                    context: RunContext::new(guard, invocation),
                };
                self.reap_scope(&scope, &run).await
            }
        }
    }
}

/// How one run reaps: plan only or act, by which rules, through which guard, until when.
pub struct Run<'a, 'g, L> {
    pub dry_run: bool,
    pub policy: &'a Policy,
    pub context: RunContext<'a, 'g, L>,
}

impl<I: DbInventory, R: SessionReaper> IdleReaper<I, R> {
    /// The instances a scope stands for; any describe failure stops the run (fail closed).
    async fn instances(&self, scope: &Scope) -> Result<Vec<RdsIdentifier>, String> {
        let (cluster_id, readers) = match scope {
            Scope::Instance(id) => return Ok(vec![id.clone()]),
            Scope::ClusterWriter(id) => (id, false),
            Scope::ClusterReaders(id) => (id, true),
        };
        let cluster = self
            .inventory
            .describe_cluster(cluster_id)
            .await
            .map_err(|e| e.to_string())?;
        let members: Vec<RdsIdentifier> = cluster
            .members
            .iter()
            .filter(|m| m.is_writer != readers)
            .map(|m| {
                parse_identifier("DBClusterMembers", &m.instance_id, ResourceKind::DbInstance)
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?;
        match (members.is_empty(), readers) {
            (true, false) => Err(format!("cluster {cluster_id} has no writer member")),
            (true, true) => Err(format!("cluster {cluster_id} has no reader instances")),
            _ => Ok(members),
        }
    }

    pub async fn reap_scope<L: Ledger>(&self, scope: &Scope, run: &Run<'_, '_, L>) -> Findings {
        let instances = match self.instances(scope).await {
            Ok(i) => i,
            Err(e) => {
                // Nothing done: a retry may describe it and act.
                let mut findings = stopped(
                    scope.target(),
                    "describe",
                    format!("{e}; nothing was terminated"),
                    format!("{scope}: could not be described, nothing done"),
                );
                findings.retry = Some(e);
                return findings;
            }
        };
        match (scope, instances.as_slice()) {
            (Scope::Instance(_), [instance]) => return self.reap(instance, run).await,
            (Scope::ClusterWriter(_), [instance]) => {
                let mut findings = self.reap(instance, run).await;
                findings.target = Some(scope.target().into());
                return findings;
            }
            _ => {}
        }
        // Readers (one or more): each instance on its own, within its own caps; one report
        // whose checks name their instance.
        let mut done = Vec::new();
        for (i, instance) in instances.iter().enumerate() {
            if !run.context.time_left() {
                return merge_instances(scope.target(), done, &instances[i..]);
            }
            done.push((instance.clone(), self.reap(instance, run).await));
        }
        merge_instances(scope.target(), done, &[])
    }

    /// One instance: describe, the rails, list, plan, guard, terminate, report.
    pub async fn reap<L: Ledger>(
        &self,
        instance_id: &RdsIdentifier,
        run: &Run<'_, '_, L>,
    ) -> Findings {
        let (dry_run, policy) = (run.dry_run, run.policy);
        let target = DbTarget::Instance(instance_id.clone());
        let instance = match self.inventory.describe_instance(instance_id).await {
            Ok(i) => i,
            Err(e) => {
                let mut findings = stopped(
                    target.clone(),
                    "describe",
                    format!("{e}; nothing was terminated"),
                    format!("{target}: could not be described, nothing done"),
                );
                findings.retry = Some(e.to_string());
                return findings;
            }
        };
        let gate = self.config.gate.check::<String>(Ok(&instance.tags));
        if !gate.allowed() {
            return Findings::skipped(Some(target), format!("{}: {gate}", instance.id));
        }
        if instance.status != "available" {
            return stopped(
                target.clone(),
                "describe",
                format!(
                    "{} is {}, not available: nothing done",
                    instance.id, instance.status
                ),
                format!("{target}: not available, nothing done"),
            );
        }
        let describe = Check::new(
            "describe",
            Outcome::Pass,
            format!(
                "{} is {} (engine {})",
                instance.id, instance.status, instance.engine
            ),
        );
        let Some(engine) = Engine::from_rds(&instance.engine) else {
            let check = Check::new(
                "engine",
                Outcome::Fail,
                format!("engine {} is not supported", instance.engine),
            );
            return Findings::new(
                Some(target.clone()),
                vec![describe, check],
                format!("{target}: unsupported engine"),
            );
        };
        let Some(endpoint) = instance.endpoint.as_ref() else {
            let check = Check::new("connect", Outcome::Fail, "RDS reports no endpoint");
            return Findings::new(
                Some(target.clone()),
                vec![describe, check],
                format!("{target}: no endpoint"),
            );
        };
        let connect_to = self.endpoints.target_for(&instance.id, endpoint);

        let started = std::time::Instant::now();
        let mut session = match self.reaper.open(engine, &connect_to).await {
            Ok(s) => s,
            Err(e) => return unreachable_db(target, describe, &e),
        };
        let snapshot = match session.snapshot().await {
            Ok(s) => s,
            Err(e) => {
                session.close().await;
                return unreachable_db(target, describe, &e);
            }
        };
        let plan = plan(&snapshot, policy);
        let to_terminate = plan.to_terminate(dry_run);
        let mut refused = None;
        let mut termination = None;
        if !to_terminate.is_empty() {
            match run.context.guard.before_acting(&db_resource(&target)).await {
                // Begun before the stop point, the terminating statements and the wait for the
                // sessions to exit run to the finish point.
                Ok(()) => {
                    let terminate = session.terminate(&to_terminate, run.context.stop_at);
                    let budget = rds_responder::budget::run_budget();
                    termination = Some(rds_responder::budget::acting(budget, terminate).await)
                }
                Err(refusal) => refused = Some((refusal.outcome(), refusal.to_string())),
            }
        }
        session.close().await;

        let report = InstanceRun {
            instance: &instance.id,
            snapshot: &snapshot,
            plan: &plan,
            policy,
            dry_run,
            refused,
            termination,
            started,
        };
        let mut checks = vec![describe, connect_check(&connect_to)];
        checks.extend(report.checks());
        // Only what a termination ran for: a dry run or a refusal terminated nothing.
        let terminated = report.termination.as_ref().map(|done| {
            SESSIONS_TERMINATED.of(db_resource_name(&target), done.terminated.len() as f64)
        });
        let mut findings = Findings::new(Some(target), checks, report.summary());
        findings.metrics.extend(terminated);
        let (status, retry) = run_status(dry_run, &plan, report.refused.as_ref());
        findings.status = status;
        findings.retry = retry;
        findings
    }
}

#[cfg(test)]
mod tests;
