//! A restored volume loads lazily: its first reads can be far slower than its source's. The check
//! times the restore's table reads again, a few seconds apart, until they come to the source's
//! speed or the re-reads run out, so the RTO's last stage ("reads normal") is measured rather
//! than assumed.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use rds_responder::backups::TableBackups;
use rds_responder::job::JobStore;
use rds_responder::ledger::Ledger;
use rds_responder::recovery::RestoreControl;
use rds_responder::restore_testing::RestoreJobs;
use rds_responder::run::RunContext;
use rds_responder::sql::verify::{DataInspector, DataSpec};
use rds_responder::sql::{ConnectTarget, Engine};
use rds_responder::table_recovery::TableRestores;

use super::RestoreDrill;
use crate::policy::verdict::{next_reread, reads, ReadSpeed, Verdict, REREAD_RESERVE};
use rds_responder::report::Outcome;

/// The first timing of the restore's reads against its source's.
pub(super) struct FirstReads<'a> {
    pub engine: Engine,
    pub target: &'a ConnectTarget,
    pub spec: &'a DataSpec,
    pub source_ms: f64,
    pub restored_ms: f64,
    pub factor: f64,
    /// When the first timing ended.
    pub at: DateTime<Utc>,
}

impl<R, B, T, D, J, V> RestoreDrill<R, B, T, D, J, V>
where
    R: RestoreControl,
    B: TableBackups,
    T: TableRestores,
    D: DataInspector,
    J: JobStore,
    V: RestoreJobs,
{
    /// The reads verdict and when reads came to the source's speed: at once, after some
    /// re-reads, or not within the window (a re-read that fails ends the re-reads).
    pub(super) async fn reads_back_to_normal(
        &self,
        first: FirstReads<'_>,
        run: &RunContext<'_, '_, impl Ledger>,
    ) -> (Verdict, ReadSpeed, u32) {
        let verdict = reads(first.source_ms, first.restored_ms, first.factor);
        if verdict.outcome == Outcome::Pass {
            return (verdict, ReadSpeed::Normal(first.at), 0);
        }
        let tables_only = DataSpec {
            tables: first.spec.tables.clone(),
            ..DataSpec::default()
        };
        let began = Instant::now();
        let mut last_ms = first.restored_ms;
        let mut rereads = 0;
        let mut latest = verdict;
        while let Some(pause) = next_reread(
            began.elapsed(),
            run.stop_at.saturating_duration_since(Instant::now()),
            Duration::from_secs_f64(last_ms.max(0.0) / 1000.0),
        ) {
            tokio::time::sleep(pause).await;
            // However long this read takes, the reserve is left for the cleanup and the report.
            let until = run
                .stop_at
                .checked_sub(REREAD_RESERVE)
                .unwrap_or(run.stop_at);
            let read = self.data.inspect(first.engine, first.target, &tables_only);
            let Ok(again) = rds_responder::budget::scope(until, "the re-reads' end", read).await
            else {
                break;
            };
            rereads += 1;
            last_ms = again.read_ms;
            latest = reads(first.source_ms, again.read_ms, first.factor);
            if latest.outcome == Outcome::Pass {
                return (latest, ReadSpeed::Normal(Utc::now()), rereads);
            }
        }
        (latest, ReadSpeed::Slow, rereads)
    }
}
