//! Which sessions may be terminated: pure, so every rule is unit-tested.

use std::collections::BTreeMap;
use std::time::Duration;

pub use rds_responder::alarm_scope::Scope;
use rds_responder::alarm_scope::{alarm_scope, WatchedMetric};
use rds_responder::report::{Outcome, Status};
pub use rds_responder::safety::glob_match;
use rds_responder::safety::{dry_run, Cap};
use rds_responder::sql::sessions::{Session, SessionSnapshot, SessionState};
use rds_responder::trigger::{Breach, DbTarget, Route, Trigger};

use crate::config::{Policy, ReaperConfig};
use crate::request::ManualReap;

/// RDS's own users: never touched, whatever else is configured.
pub const SYSTEM_USERS: [&str; 6] = [
    "rdsadmin",
    "rdsrepladmin",
    "rdstopmgr",
    "rdsproxyadmin",
    "event_scheduler",
    "system user",
];

/// The application name our own sessions carry (a concurrent failover-check must not be reaped).
pub const RESPONDER_APPLICATION: &str = "rds-responder";

/// The decision for one snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Oldest first.
    pub eligible: Vec<Session>,
    /// Reason -> how many sessions were left alone for it.
    pub skipped: BTreeMap<String, u64>,
    pub cap: u64,
    pub cap_exceeded: bool,
    pub total_connections: u64,
}

impl Plan {
    /// What to terminate: nothing on a dry run or when the cap is exceeded.
    pub fn to_terminate(&self, dry_run: bool) -> Vec<Session> {
        if dry_run || self.cap_exceeded {
            vec![]
        } else {
            self.eligible.clone()
        }
    }
}

fn minutes(d: Duration) -> String {
    let m = d.as_secs_f64() / 60.0;
    if m.fract() == 0.0 {
        format!("{m:.0} min")
    } else {
        format!("{m:.1} min")
    }
}

/// The report's status and retry where the checks alone do not say it, given what the guard
/// answered (`refused`: its outcome and reason). A dry run with something to terminate under
/// the cap is `dry-run`; another run holding the database (a skipped refusal) makes the run
/// `skipped`; any other refusal (the ledger could not record the intent) did nothing, so a
/// retry may act.
pub fn run_status(
    dry_run: bool,
    plan: &Plan,
    refused: Option<&(Outcome, String)>,
) -> (Option<Status>, Option<String>) {
    match refused {
        Some((Outcome::Skipped, _)) => (Some(Status::Skipped), None),
        Some((_, reason)) => (None, Some(reason.clone())),
        None if dry_run && !plan.eligible.is_empty() && !plan.cap_exceeded => {
            (Some(Status::DryRun), None)
        }
        None => (None, None),
    }
}

/// Why a session must be left alone, or `None` if it may be terminated.
pub fn skip_reason(session: &Session, policy: &Policy) -> Option<String> {
    let user = session.user.as_deref().unwrap_or_default();
    if session.replication && session.command.as_deref() != Some("client backend") {
        return Some("replication connection".into());
    }
    if session
        .application
        .as_deref()
        .is_some_and(|a| a.starts_with(RESPONDER_APPLICATION))
    {
        return Some("another rds-responder session".into());
    }
    if SYSTEM_USERS.iter().any(|s| s.eq_ignore_ascii_case(user)) {
        return Some("RDS or system user".into());
    }
    if session.superuser {
        return Some("superuser".into());
    }
    if session.replication {
        return Some("replication role".into());
    }
    if policy.protected_users.iter().any(|p| p == user) {
        return Some("protected user".into());
    }
    if let Some(db) = &session.database {
        if policy.protected_databases.iter().any(|p| p == db) {
            return Some("protected database".into());
        }
    }
    if let Some(app) = &session.application {
        if policy
            .protected_applications
            .iter()
            .any(|p| glob_match(p, app))
        {
            return Some("protected application".into());
        }
    }
    if let Some(addr) = session.client_addr {
        if policy.protected_networks.iter().any(|n| n.contains(addr)) {
            return Some("protected client network".into());
        }
    }
    let idle_for = Duration::from_secs_f64(session.idle_seconds.unwrap_or(0.0).max(0.0));
    match &session.state {
        SessionState::Idle if idle_for > policy.idle => None,
        SessionState::Idle => Some(format!("idle for less than {}", minutes(policy.idle))),
        SessionState::IdleInTransaction | SessionState::IdleInTransactionAborted => {
            match policy.idle_in_transaction {
                None => Some("idle in transaction (not requested)".into()),
                Some(limit) if idle_for > limit => None,
                Some(limit) => Some(format!(
                    "idle in transaction for less than {}",
                    minutes(limit)
                )),
            }
        }
        SessionState::Active => Some("active".into()),
        SessionState::Unknown => {
            Some("state not visible (the role lacks pg_read_all_stats)".into())
        }
        SessionState::Other(state) => Some(format!("state {state}")),
    }
}

pub fn plan(snapshot: &SessionSnapshot, policy: &Policy) -> Plan {
    let mut eligible = Vec::new();
    let mut skipped: BTreeMap<String, u64> = BTreeMap::new();
    for session in &snapshot.sessions {
        match skip_reason(session, policy) {
            None => eligible.push(session.clone()),
            Some(reason) => *skipped.entry(reason).or_default() += 1,
        }
    }
    eligible.sort_by(|a, b| {
        b.idle_seconds
            .unwrap_or(0.0)
            .total_cmp(&a.idle_seconds.unwrap_or(0.0))
            .then(a.id.cmp(&b.id))
    });
    let cap = Cap {
        max: policy.max_sessions,
        max_fraction: Some(policy.max_fraction),
    }
    .check(eligible.len() as u64, snapshot.total_connections);
    Plan {
        cap_exceeded: cap.exceeded,
        eligible,
        skipped,
        cap: cap.cap,
        total_connections: snapshot.total_connections,
    }
}

/// Counts by a session attribute (user, database, application, client address).
pub fn group_by(
    sessions: &[Session],
    key: impl Fn(&Session) -> Option<String>,
) -> BTreeMap<String, u64> {
    let mut groups = BTreeMap::new();
    for s in sessions {
        *groups
            .entry(key(s).unwrap_or_else(|| "(none)".into()))
            .or_default() += 1;
    }
    groups
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Reap {
        scope: Scope,
        dry_run: bool,
        policy: Policy,
    },
    Skip {
        target: Option<DbTarget>,
        reason: String,
    },
}

/// The metric idle-reaper answers without being told: connections of one RDS database, above
/// their threshold (the shared alarm-scope rule does the rest).
pub const CONNECTIONS: WatchedMetric = WatchedMetric {
    function: "idle-reaper",
    namespace: "AWS/RDS",
    name: "DatabaseConnections",
    fires: Breach::Above,
    answers: "there are too many connections (a failover or outage alarm fires below)",
};

/// What a trigger means for idle-reaper.
pub fn decide(trigger: &Trigger<ManualReap>, config: &ReaperConfig) -> Decision {
    let automatic = |scope: Scope| Decision::Reap {
        scope,
        dry_run: dry_run(false, None, config.automatic_dry_run),
        policy: config.policy.clone(),
    };
    let skip = |target: Option<DbTarget>, reason: String| Decision::Skip { target, reason };
    match trigger.route() {
        Route::Nothing { target, reason } => skip(target, reason),
        Route::Alarm(alarm) => match alarm_scope(
            alarm,
            &CONNECTIONS,
            &config.allowed_alarms,
            config.default_instance.as_ref(),
        ) {
            Ok(scope) => automatic(scope),
            Err(reason) => skip(alarm.db_target(), reason),
        },
        Route::Schedule(schedule) => {
            let scope = match schedule.input.single() {
                Ok(DbTarget::Instance(id)) => Scope::Instance(id.clone()),
                Ok(DbTarget::Cluster(id)) => Scope::ClusterWriter(id.clone()),
                Err(reason) => return skip(None, reason),
            };
            // Anyone allowed to invoke can write a schedule-shaped payload: only the schedules
            // named in ALLOWED_SCHEDULES act; any other plans.
            let listed = schedule.listed_in(&config.allowed_schedules);
            Decision::Reap {
                scope,
                dry_run: !listed || dry_run(false, None, config.automatic_dry_run),
                policy: config.policy.clone(),
            }
        }
        Route::Manual(request) => {
            let mut policy = config.policy.clone();
            if let Some(m) = request.idle_minutes {
                policy.idle = Duration::from_secs(u64::from(m) * 60);
            }
            if let Some(m) = request.idle_in_transaction_minutes {
                policy.idle_in_transaction = Some(Duration::from_secs(u64::from(m) * 60));
            }
            // A request may lower the cap, never raise it above the configured one.
            if let Some(max) = request.max_sessions {
                policy.max_sessions = policy.max_sessions.min(u64::from(max));
            }
            Decision::Reap {
                scope: Scope::Instance(request.db.id().clone()),
                dry_run: request.dry_run,
                policy,
            }
        }
        Route::RdsEvent(event) => skip(
            None,
            format!(
                "idle-reaper acts on connection alarms, schedules and manual requests; {} from {} ignored",
                event
                    .event_id
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "an RDS event".into()),
                event.source_id
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rds_responder::safety::Cidr;
    use rds_responder::testing::session;

    fn policy() -> Policy {
        Policy {
            idle: Duration::from_secs(600),
            idle_in_transaction: None,
            max_sessions: 100,
            max_fraction: 0.5,
            protected_users: vec!["batch".into()],
            protected_databases: vec!["billing".into()],
            protected_applications: vec!["pg_dump*".into(), "*migrat*".into()],
            protected_networks: vec![Cidr::parse("192.168.0.0/16").unwrap()],
        }
    }

    fn snapshot(sessions: Vec<Session>, total: u64) -> SessionSnapshot {
        SessionSnapshot {
            total_connections: total,
            sessions,
            rds_kill_available: false,
        }
    }

    #[test]
    fn only_sessions_idle_past_the_threshold_are_eligible() {
        let s = snapshot(
            vec![
                session(1, "app", SessionState::Idle, 30.0),
                session(2, "app", SessionState::Idle, 5.0),
                session(3, "app", SessionState::Active, 60.0),
                session(4, "app", SessionState::IdleInTransaction, 60.0),
                session(5, "app", SessionState::Unknown, 60.0),
            ],
            100,
        );
        let plan = plan(&s, &policy());
        assert_eq!(plan.eligible.iter().map(|s| s.id).collect::<Vec<_>>(), [1]);
        assert_eq!(plan.skipped["idle for less than 10 min"], 1);
        assert_eq!(plan.skipped["active"], 1);
        assert_eq!(plan.skipped["idle in transaction (not requested)"], 1);
        assert_eq!(
            plan.skipped["state not visible (the role lacks pg_read_all_stats)"],
            1
        );
    }

    #[test]
    fn idle_in_transaction_only_when_asked_and_past_its_own_threshold() {
        let mut p = policy();
        p.idle_in_transaction = Some(Duration::from_secs(1800));
        let s = snapshot(
            vec![
                session(1, "app", SessionState::IdleInTransaction, 45.0),
                session(2, "app", SessionState::IdleInTransactionAborted, 20.0),
            ],
            100,
        );
        let plan = plan(&s, &p);
        assert_eq!(plan.eligible.iter().map(|s| s.id).collect::<Vec<_>>(), [1]);
        assert_eq!(plan.skipped["idle in transaction for less than 30 min"], 1);
    }

    #[test]
    fn never_touches_system_superuser_replication_or_protected_sessions() {
        let mut superuser = session(2, "master", SessionState::Idle, 60.0);
        superuser.superuser = true;
        let mut replication_role = session(3, "repl", SessionState::Idle, 60.0);
        replication_role.replication = true;
        let mut walsender = session(4, "repl", SessionState::Active, 60.0);
        walsender.replication = true;
        walsender.command = Some("walsender".into());
        let mut protected_db = session(6, "app", SessionState::Idle, 60.0);
        protected_db.database = Some("billing".into());
        let mut dump = session(7, "app", SessionState::Idle, 60.0);
        dump.application = Some("pg_dump 16".into());
        let mut migration = session(8, "app", SessionState::Idle, 60.0);
        migration.application = Some("flyway-migrate".into());
        let mut office = session(9, "app", SessionState::Idle, 60.0);
        office.client_addr = Some("192.168.7.7".parse().unwrap());
        let s = snapshot(
            vec![
                session(1, "rdsadmin", SessionState::Idle, 60.0),
                superuser,
                replication_role,
                walsender,
                session(5, "batch", SessionState::Idle, 60.0),
                protected_db,
                dump,
                migration,
                office,
                session(
                    10,
                    "event_scheduler",
                    SessionState::Other("Daemon".into()),
                    60.0,
                ),
            ],
            100,
        );
        let plan = plan(&s, &policy());
        assert!(plan.eligible.is_empty(), "{:?}", plan.eligible);
        let expected: BTreeMap<String, u64> = [
            ("RDS or system user", 2),
            ("superuser", 1),
            ("replication role", 1),
            ("replication connection", 1),
            ("protected user", 1),
            ("protected database", 1),
            ("protected application", 2),
            ("protected client network", 1),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(plan.skipped, expected);
    }

    #[test]
    fn oldest_first() {
        let s = snapshot(
            vec![
                session(1, "app", SessionState::Idle, 11.0),
                session(2, "app", SessionState::Idle, 90.0),
                session(3, "app", SessionState::Idle, 30.0),
            ],
            100,
        );
        assert_eq!(
            plan(&s, &policy())
                .eligible
                .iter()
                .map(|s| s.id)
                .collect::<Vec<_>>(),
            [2, 3, 1]
        );
    }

    #[test]
    fn cap_is_the_smaller_of_absolute_and_fraction_and_aborts_when_exceeded() {
        let idle: Vec<Session> = (1..=6)
            .map(|i| session(i, "app", SessionState::Idle, 60.0))
            .collect();
        let mut p = policy();
        p.max_sessions = 5;
        let plan_a = plan(&snapshot(idle.clone(), 100), &p);
        assert_eq!(plan_a.cap, 5);
        assert!(plan_a.cap_exceeded);
        assert!(plan_a.to_terminate(false).is_empty());

        p.max_sessions = 100;
        let plan_b = plan(&snapshot(idle.clone(), 10), &p);
        assert_eq!(plan_b.cap, 5, "half of 10 connections");
        assert!(plan_b.cap_exceeded);

        let plan_c = plan(&snapshot(idle, 20), &p);
        assert!(!plan_c.cap_exceeded);
        assert_eq!(plan_c.to_terminate(false).len(), 6);
        assert!(
            plan_c.to_terminate(true).is_empty(),
            "dry run terminates nothing"
        );
    }

    #[test]
    fn the_status_follows_the_plan_and_the_guard() {
        let eligible_one = plan(
            &snapshot(vec![session(7, "app", SessionState::Idle, 60.0)], 100),
            &policy(),
        )
        .eligible
        .remove(0);
        let with = |eligible: Vec<Session>, cap_exceeded: bool| Plan {
            eligible,
            skipped: BTreeMap::new(),
            cap: 10,
            cap_exceeded,
            total_connections: 100,
        };
        let some = with(vec![eligible_one], false);
        assert_eq!(run_status(true, &some, None), (Some(Status::DryRun), None));
        assert_eq!(run_status(false, &some, None), (None, None));
        assert_eq!(run_status(true, &with(vec![], false), None), (None, None));
        let capped = with(some.eligible.clone(), true);
        assert_eq!(run_status(true, &capped, None), (None, None));
        let locked = (Outcome::Skipped, "held by another run".to_string());
        assert_eq!(
            run_status(false, &some, Some(&locked)),
            (Some(Status::Skipped), None)
        );
        let ledger = (Outcome::Fail, "ledger down".to_string());
        assert_eq!(
            run_status(false, &some, Some(&ledger)),
            (None, Some("ledger down".to_string())),
            "nothing done: a retry may act"
        );
    }

    #[test]
    fn a_suffix_pattern_protects_only_names_ending_with_it() {
        let p = Policy {
            protected_applications: vec!["*dump".into()],
            ..policy()
        };
        let with_app = |app: &str| {
            let mut s = session(1, "app", SessionState::Idle, 60.0);
            s.application = Some(app.into());
            skip_reason(&s, &p)
        };
        assert_eq!(
            with_app("pg_dump").as_deref(),
            Some("protected application")
        );
        assert_eq!(with_app("pg_dump_helper"), None, "not at the end: reaped");
        assert_eq!(with_app("web"), None);
    }

    #[test]
    fn idle_thresholds_are_exclusive_and_the_reason_says_so() {
        let p = Policy {
            idle_in_transaction: Some(Duration::from_secs(3600)),
            ..policy()
        };
        let at =
            |state: SessionState, minutes: f64| skip_reason(&session(1, "app", state, minutes), &p);
        assert_eq!(
            at(SessionState::Idle, 10.0).as_deref(),
            Some("idle for less than 10 min")
        );
        assert_eq!(at(SessionState::Idle, 10.001), None);
        assert_eq!(
            at(SessionState::IdleInTransaction, 60.0).as_deref(),
            Some("idle in transaction for less than 60 min")
        );
        assert_eq!(at(SessionState::IdleInTransaction, 60.001), None);
        assert_eq!(at(SessionState::IdleInTransactionAborted, 60.001), None);
    }

    #[test]
    fn replication_connections_and_roles_are_spared_for_their_own_reason() {
        let mut walsender = session(1, "repl", SessionState::Idle, 60.0);
        walsender.replication = true;
        walsender.command = Some("walsender".into());
        assert_eq!(
            skip_reason(&walsender, &policy()).as_deref(),
            Some("replication connection")
        );
        let mut binlog = walsender.clone();
        binlog.command = Some("Binlog Dump".into());
        assert_eq!(
            skip_reason(&binlog, &policy()).as_deref(),
            Some("replication connection")
        );
        let mut role = session(2, "repl", SessionState::Idle, 60.0);
        role.replication = true;
        assert_eq!(
            skip_reason(&role, &policy()).as_deref(),
            Some("replication role")
        );
    }

    #[test]
    fn groups_terminated_sessions() {
        let mut other = session(2, "reporting", SessionState::Idle, 60.0);
        other.application = None;
        let groups = group_by(&[session(1, "app", SessionState::Idle, 60.0), other], |s| {
            s.application.clone()
        });
        assert_eq!(groups["web"], 1);
        assert_eq!(groups["(none)"], 1);
    }
}
