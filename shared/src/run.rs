//! What a function's orchestration acts through, built once per run from its invocation: the
//! guard, the run's start on the clock, and the stop point after which no new work starts.

use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::guard::ActionGuard;
use crate::ledger::Ledger;
use crate::report::Check;
use crate::runner::Invocation;

pub struct RunContext<'a, 'g, L> {
    pub guard: &'a ActionGuard<'g, L>,
    /// No new work (a database, a batch, a wait) starts after this: the invocation's deadline
    /// less its reserve, measured when the run began.
    pub stop_at: Instant,
    /// When the run began, as the report and the rules see it.
    pub now: DateTime<Utc>,
}

impl<'a, 'g, L: Ledger> RunContext<'a, 'g, L> {
    pub fn new(guard: &'a ActionGuard<'g, L>, invocation: &Invocation) -> Self {
        Self {
            guard,
            stop_at: Instant::now() + invocation.work_left(Utc::now()),
            now: invocation.now,
        }
    }

    /// Whether new work may still start.
    pub fn time_left(&self) -> bool {
        Instant::now() < self.stop_at
    }

    /// The guard for `lock`, worded for the report: `Err` holds the check that says why
    /// `what` was not done (see [`crate::guard::GuardRefusal::check`]).
    pub async fn may_act(&self, lock: &str, what: &str) -> Result<(), Check> {
        self.guard
            .before_acting(lock)
            .await
            .map_err(|refusal| refusal.check(what))
    }
}
