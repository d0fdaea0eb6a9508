//! The time a run has, carried with the run's task so that every AWS call and database statement
//! is bounded by what is left of it, wherever in the code the call is made.
//!
//! Three instants, from the invocation deadline back:
//! - the **stop point** (`DEADLINE_RESERVE_SECONDS` before the deadline): no new work starts
//!   after it, and reads are cut short at it;
//! - the **finish point** ([`DELIVERY_SECONDS`] before the deadline): an action that began before
//!   the stop point, and its follow-up reads, are bounded by it;
//! - the **delivery limit** (just before the deadline): the ledger writes and delivery.
//!
//! Outside any scope (unit tests of adapters, tools) calls are bounded only by the SDK's own
//! operation and attempt timeouts and the database timeouts.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::aws::SdkError;

/// Kept back from the deadline for the ledger's `ACTED` write and delivery (SNS, S3, metrics in
/// parallel, each bounded) after the last action and its follow-ups.
pub const DELIVERY_SECONDS: u64 = 4;

/// Kept back from the deadline by delivery itself, so the runtime gets the answer in time.
pub const ANSWER_MARGIN: Duration = Duration::from_millis(500);

/// The limit in force for the calls of one phase of a run.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub until: Instant,
    /// What the limit is, for the report: "the run's stop point", "the invocation deadline".
    pub what: &'static str,
}

tokio::task_local! {
    static LIMIT: Limit;
}

/// Runs `work` with every bounded call in it cut short at `until`.
pub async fn scope<F: Future>(until: Instant, what: &'static str, work: F) -> F::Output {
    LIMIT.scope(Limit { until, what }, work).await
}

/// The limit in force, if any.
pub fn current() -> Option<Limit> {
    LIMIT.try_with(|l| *l).ok()
}

/// Time left before the limit in force; `None` outside any scope.
pub fn time_left() -> Option<Duration> {
    current().map(|l| l.until.saturating_duration_since(Instant::now()))
}

/// `configured` (a statement or connect timeout), or less when less time is left.
pub fn at_most(configured: Duration) -> Duration {
    time_left().map_or(configured, |left| left.min(configured))
}

/// Why a call was cut short: it names the call and the time it had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{call} cut short after {:.1} s, the time it had before {what}", .had.as_secs_f64())]
pub struct CutShort {
    pub call: String,
    pub had: Duration,
    pub what: &'static str,
}

/// Bounds `work` by the limit in force (and `own`, when given); `Err` names the call.
pub async fn limited<T>(
    call: &str,
    own: Option<Duration>,
    work: impl Future<Output = T>,
) -> Result<T, CutShort> {
    let limit = current();
    let left = limit.map(|l| l.until.saturating_duration_since(Instant::now()));
    let (had, what) = match (left, own) {
        (Some(left), Some(own)) if own < left => (own, "its own timeout"),
        (Some(left), _) => (left, limit.map_or("the deadline", |l| l.what)),
        (None, Some(own)) => (own, "its own timeout"),
        (None, None) => return Ok(work.await),
    };
    tokio::time::timeout(had, work).await.map_err(|_| CutShort {
        call: call.to_string(),
        had,
        what,
    })
}

/// An AWS SDK call bounded by the limit in force: cut short, it fails as the SDK's own timeout
/// does, with [`CutShort`] as the cause.
pub async fn bounded<T, E>(
    call: &'static str,
    work: impl Future<Output = Result<T, SdkError<E>>>,
) -> Result<T, SdkError<E>> {
    match limited(call, None, work).await {
        Ok(result) => result,
        Err(cut) => Err(SdkError::timeout_error(cut)),
    }
}

/// `.send().bounded("RDS DescribeDBInstances")`: [`bounded`] at the call site.
pub trait BoundedCall<T, E>: Future<Output = Result<T, SdkError<E>>> + Sized {
    fn bounded(self, call: &'static str) -> impl Future<Output = Result<T, SdkError<E>>> {
        bounded(call, self)
    }

    /// An action's call (create, delete, modify): bounded by the finish point, since one sent
    /// just before the stop point must not be cut short with its outcome unknown.
    fn bounded_action(self, call: &'static str) -> impl Future<Output = Result<T, SdkError<E>>> {
        acting(run_budget(), bounded(call, self))
    }
}

impl<T, E, F: Future<Output = Result<T, SdkError<E>>>> BoundedCall<T, E> for F {}

/// The instants of one invocation, from its deadline and reserve.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub stop: Instant,
    pub finish: Instant,
    pub deadline: Instant,
}

impl Budget {
    pub fn new(now: Instant, time_to_deadline: Duration, reserve: Duration) -> Self {
        let deadline = now + time_to_deadline;
        let back = |by: Duration| deadline.checked_sub(by).unwrap_or(now).max(now);
        Self {
            stop: back(reserve),
            finish: back(Duration::from_secs(DELIVERY_SECONDS).min(reserve)),
            deadline: back(ANSWER_MARGIN),
        }
    }
}

/// Runs an action (and what follows it, such as waiting for its effect) past the stop point,
/// bounded by the finish point instead: an action that began is never cut short by the stop
/// point meant for new work.
pub async fn acting<F: Future>(budget: Option<Budget>, work: F) -> F::Output {
    match budget {
        Some(b) => scope(b.finish, "the run's finish point", work).await,
        None => work.await,
    }
}

/// The budget of the run in force, kept beside its limit.
pub fn run_budget() -> Option<Budget> {
    RUN.try_with(|b| *b).ok()
}

tokio::task_local! {
    static RUN: Budget;
}

/// The respond phase of a run: reads bounded by the stop point, [`acting`] by the finish point.
pub async fn run_phase<F: Future>(budget: Budget, work: F) -> F::Output {
    RUN.scope(budget, scope(budget.stop, "the run's stop point", work))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test]
    async fn a_call_is_cut_at_the_limit_and_names_itself_and_its_time() {
        let until = Instant::now() + 300 * MS;
        let cut = scope(until, "the run's stop point", async {
            limited(
                "RDS DescribeDBInstances",
                None,
                std::future::pending::<()>(),
            )
            .await
        })
        .await
        .unwrap_err();
        assert_eq!(cut.call, "RDS DescribeDBInstances");
        assert!(cut.had <= 300 * MS && cut.had > 200 * MS, "{:?}", cut.had);
        assert_eq!(
            cut.to_string(),
            format!(
                "RDS DescribeDBInstances cut short after {:.1} s, the time it had before the run's stop point",
                cut.had.as_secs_f64()
            )
        );
        assert!(Instant::now() >= until, "cut at the limit, not before");
    }

    #[tokio::test]
    async fn the_smaller_of_own_timeout_and_time_left_wins() {
        let until = Instant::now() + Duration::from_secs(30);
        let cut = scope(until, "the run's stop point", async {
            limited("statement", Some(50 * MS), std::future::pending::<()>()).await
        })
        .await
        .unwrap_err();
        assert_eq!((cut.had, cut.what), (50 * MS, "its own timeout"));
        let short = Instant::now() + 40 * MS;
        let cut = scope(short, "the run's stop point", async {
            limited(
                "statement",
                Some(Duration::from_secs(5)),
                std::future::pending::<()>(),
            )
            .await
        })
        .await
        .unwrap_err();
        assert_eq!(cut.what, "the run's stop point");
        let cut = limited("statement", Some(20 * MS), std::future::pending::<()>())
            .await
            .unwrap_err();
        assert_eq!((cut.had, cut.what), (20 * MS, "its own timeout"));
        assert_eq!(limited("free", None, async { 7 }).await, Ok(7));
        assert_eq!(at_most(Duration::from_secs(9)), Duration::from_secs(9));
        let left = scope(short + Duration::from_secs(1), "x", async {
            at_most(Duration::from_secs(9))
        })
        .await;
        assert!(left <= Duration::from_secs(1), "{left:?}");
    }

    #[tokio::test]
    async fn an_action_runs_to_the_finish_point_not_the_stop_point() {
        let now = Instant::now();
        let budget = Budget::new(now, Duration::from_secs(40), Duration::from_secs(10));
        assert_eq!(budget.stop, now + Duration::from_secs(30));
        assert_eq!(budget.finish, now + Duration::from_secs(36));
        assert_eq!(budget.deadline, now + Duration::from_millis(39_500));
        let (read, act, after) = run_phase(budget, async {
            let read = time_left();
            let act = acting(run_budget(), async { time_left() }).await;
            (read, act, time_left())
        })
        .await;
        let near = |got: Option<Duration>, want: u64| {
            got.is_some_and(|d| {
                d <= Duration::from_secs(want) && d > Duration::from_secs(want) - 500 * MS
            })
        };
        assert!(near(read, 30), "{read:?}");
        assert!(near(act, 36), "{act:?}");
        assert!(
            near(after, 30),
            "the stop point again after the action: {after:?}"
        );
        assert_eq!(time_left(), None);
    }

    #[test]
    fn a_deadline_already_past_leaves_no_time_rather_than_underflowing() {
        let now = Instant::now();
        let budget = Budget::new(now, Duration::from_secs(2), Duration::from_secs(10));
        assert_eq!(budget.stop, now);
        assert_eq!(budget.finish, now);
        assert_eq!(budget.deadline, now + Duration::from_millis(1500));
        let small = Budget::new(now, Duration::from_secs(60), Duration::from_secs(2));
        assert_eq!(
            small.finish, small.stop,
            "a reserve under DELIVERY_SECONDS: finish at stop"
        );
    }

    #[tokio::test]
    async fn an_sdk_call_cut_short_is_an_sdk_timeout_with_the_reason() {
        use aws_sdk_rds::operation::describe_db_instances::DescribeDBInstancesError;
        let until = Instant::now() + 100 * MS;
        let err = scope(until, "the run's stop point", async {
            std::future::pending::<Result<(), SdkError<DescribeDBInstancesError>>>()
                .bounded("RDS DescribeDBInstances")
                .await
        })
        .await
        .unwrap_err();
        let failure = crate::aws::SdkFailure::from_sdk("RDS", &err);
        assert!(
            failure
                .to_string()
                .contains("RDS DescribeDBInstances cut short after 0.1 s"),
            "{failure}"
        );
        assert!(failure.transient());
    }
}
