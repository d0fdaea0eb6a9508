//! The scheduled sweep: every listed or opted-in instance forecast from one batched history
//! read, each decided on its own; one report.

use super::*;

impl<S, C, M, I, D> StorageGuard<S, C, M, I, D>
where
    S: StorageControl,
    C: SnapshotCatalog,
    M: MetricHistory,
    I: DbInventory,
    D: SpaceInspector,
{
    /// A sweep: every listed (or opted-in) instance forecast, each acted on only where the
    /// forecast reaches full within the horizon or before the next allowed change.
    pub(super) async fn sweep<L: Ledger>(
        &self,
        only: &[RdsIdentifier],
        dry_run: bool,
        because: &str,
        run: &RunContext<'_, '_, L>,
        invocation: &Invocation,
        started: std::time::Instant,
    ) -> Findings {
        let all = match self.storage.list_storage().await {
            Ok(all) => all,
            Err(e) => {
                let mut findings = Findings::new(
                    None::<DbTarget>,
                    vec![Check::new(
                        "list",
                        Outcome::Fail,
                        format!("{e}; nothing was changed"),
                    )],
                    "sweep: instances could not be listed, nothing changed",
                );
                findings.retry = Some(e.to_string());
                return findings;
            }
        };
        let chosen: Vec<&StorageInfo> = all
            .iter()
            .filter(|st| {
                if only.is_empty() {
                    self.config.gate.check::<String>(Ok(&st.tags)).allowed()
                } else {
                    only.iter()
                        .any(|id| id.as_str().eq_ignore_ascii_case(&st.id))
                }
            })
            .collect();
        let missing: Vec<String> = only
            .iter()
            .filter(|id| {
                !all.iter()
                    .any(|st| id.as_str().eq_ignore_ascii_case(&st.id))
            })
            .map(ToString::to_string)
            .collect();
        let ids: Vec<RdsIdentifier> = chosen
            .iter()
            .filter_map(|st| RdsIdentifier::parse(&st.id, ResourceKind::DbInstance).ok())
            .collect();
        let history = if ids.is_empty() {
            Ok(BTreeMap::new())
        } else {
            self.history(&ids, run).await
        };
        let job = Job {
            started,
            single: false,
            ask: Ask::Sweep,
            dry_run,
            because,
        };
        let mut checks = Vec::new();
        let mut summaries = Vec::new();
        let mut retry = None;
        let mut results = Vec::new();
        let mut metrics = Vec::new();
        for (i, st) in chosen.iter().enumerate() {
            if !run.time_left() {
                let left: Vec<&str> = chosen[i..].iter().map(|s| s.id.as_str()).collect();
                checks.push(Check::new(
                    "not-reached",
                    Outcome::Fail,
                    format!(
                        "stopped before the invocation deadline; not looked at: {}",
                        left.join(", ")
                    ),
                ));
                break;
            }
            let one = self
                .guard_instance(
                    st,
                    &job,
                    history.as_ref().map(|h| h.get(st.id.as_str())),
                    run,
                    invocation,
                )
                .await;
            checks.extend(one.checks.into_iter().map(|mut c| {
                c.name = format!("{}: {}", st.id, c.name);
                c
            }));
            summaries.push(one.summary);
            retry = retry.or(one.retry);
            results.extend(one.result);
            metrics.extend(one.metrics);
        }
        if !missing.is_empty() {
            checks.push(Check::new(
                "not-found",
                Outcome::Fail,
                format!(
                    "the schedule names instances RDS does not list: {}",
                    missing.join(", ")
                ),
            ));
        }
        if chosen.is_empty() && missing.is_empty() {
            return Findings::skipped(
                None::<DbTarget>,
                format!(
                    "sweep: no instance is opted in (tag {}=on); nothing to forecast",
                    self.config.gate.opt_in_tag.as_deref().unwrap_or("(none)")
                ),
            );
        }
        let mut findings = Findings::new(
            None::<DbTarget>,
            checks,
            format!(
                "sweep of {} instances: {}",
                chosen.len(),
                summaries.join("; ")
            ),
        );
        // A sweep that may have acted on one instance never asks for a retry: the next
        // scheduled run looks again.
        findings.retry = retry.filter(|_| !run.guard.acted());
        findings.result = Some(serde_json::json!({ "instances": results }));
        findings.metrics = metrics;
        if dry_run
            && !checks::any_failed(&findings.checks)
            && findings
                .checks
                .iter()
                .any(|c| c.outcome == Outcome::Planned)
        {
            findings.status = Some(Status::DryRun);
        }
        findings
    }
}
