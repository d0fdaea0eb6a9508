//! Database sessions as the idle-reaper sees them, engine-neutral.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What a session is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionState {
    Active,
    Idle,
    IdleInTransaction,
    IdleInTransactionAborted,
    /// State not visible to us (PostgreSQL without `pg_read_all_stats`).
    Unknown,
    Other(String),
}

impl SessionState {
    /// PostgreSQL `pg_stat_activity.state`.
    pub fn from_pg(state: Option<&str>) -> Self {
        match state {
            None => SessionState::Unknown,
            Some("active") => SessionState::Active,
            Some("idle") => SessionState::Idle,
            Some("idle in transaction") => SessionState::IdleInTransaction,
            Some("idle in transaction (aborted)") => SessionState::IdleInTransactionAborted,
            Some(other) => SessionState::Other(other.to_string()),
        }
    }

    pub fn as_pg(&self) -> Option<&str> {
        match self {
            SessionState::Active => Some("active"),
            SessionState::Idle => Some("idle"),
            SessionState::IdleInTransaction => Some("idle in transaction"),
            SessionState::IdleInTransactionAborted => Some("idle in transaction (aborted)"),
            SessionState::Other(s) => Some(s),
            SessionState::Unknown => None,
        }
    }
}

/// One client session. Never carries query text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    /// PostgreSQL pid or MySQL processlist id.
    pub id: i64,
    pub user: Option<String>,
    pub database: Option<String>,
    pub application: Option<String>,
    pub client_addr: Option<IpAddr>,
    pub state: SessionState,
    /// Seconds in the current state (PostgreSQL: since `state_change`; MySQL: `TIME`).
    pub idle_seconds: Option<f64>,
    pub superuser: bool,
    pub replication: bool,
    /// MySQL `COMMAND` (`Sleep`, `Query`, `Binlog Dump`...); PostgreSQL backend type.
    pub command: Option<String>,
    /// PostgreSQL: with `pid`, identifies the backend even if the pid is reused.
    pub backend_start: Option<DateTime<Utc>>,
    pub state_change: Option<DateTime<Utc>>,
}

/// Everything listed in one look, before deciding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionSnapshot {
    /// All client connections, ours included.
    pub total_connections: u64,
    /// Client sessions other than our own.
    pub sessions: Vec<Session>,
    /// `mysql.rds_kill` exists (RDS MySQL): use it instead of `KILL`.
    pub rds_kill_available: bool,
}

/// What happened when the plan was carried out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Termination {
    /// Terminated: still matched the plan when the terminating statement ran.
    pub terminated: Vec<Session>,
    /// Planned but no longer eligible at that moment (turned active, pid reused, gone).
    pub spared: Vec<Session>,
    /// Sent for termination by a statement that then failed: perhaps terminated, perhaps not.
    pub unknown: Vec<Session>,
    /// Never sent: the run stopped first (the deadline, or an earlier failure).
    pub not_reached: Vec<Session>,
    /// Client connections afterwards, when they could be counted.
    pub connections_after: Option<u64>,
    /// `pg_terminate_backend`, `mysql.rds_kill` or `KILL`.
    pub method: String,
    /// Time in the terminating statements, and waiting for the sessions to leave.
    pub statement_ms: u64,
    pub exit_wait_ms: u64,
    /// What went wrong after sessions were already terminated (a later batch, the exit wait,
    /// the count): the terminations above stand, and are reported.
    pub failure: Option<String>,
}
