//! Fakes of database probes and reaping sessions.

use std::cell::RefCell;

use crate::sql::sessions::{Session, SessionSnapshot, SessionState, Termination};
use crate::sql::{
    ConnectTarget, DbError, DbProbe, Engine, ProbeResult, ReapSession, SessionReaper,
};

/// A client session of user `user` on database `app` (application `web`, from 10.1.2.3), in
/// `state`, idle for `idle_minutes`.
pub fn session(id: i64, user: &str, state: SessionState, idle_minutes: f64) -> Session {
    Session {
        id,
        user: Some(user.into()),
        database: Some("app".into()),
        application: Some("web".into()),
        client_addr: "10.1.2.3".parse().ok(),
        state,
        idle_seconds: Some(idle_minutes * 60.0),
        superuser: false,
        replication: false,
        command: Some("client backend".into()),
        backend_start: None,
        state_change: None,
    }
}

pub struct FakeProbe {
    pub result: Result<ProbeResult, String>,
    pub probed: RefCell<Vec<ConnectTarget>>,
}

impl FakeProbe {
    pub fn healthy() -> Self {
        Self::answering(false)
    }

    pub fn answering(in_recovery: bool) -> Self {
        Self {
            result: Ok(ProbeResult {
                connect_ms: 3.0,
                select_one_ms: 0.4,
                in_recovery,
                server_version: "16.4".into(),
            }),
            probed: RefCell::default(),
        }
    }

    pub fn refusing(detail: &str) -> Self {
        Self {
            result: Err(detail.into()),
            ..Self::healthy()
        }
    }
}

impl DbProbe for FakeProbe {
    async fn probe(&self, _: Engine, target: &ConnectTarget) -> Result<ProbeResult, DbError> {
        self.probed.borrow_mut().push(target.clone());
        self.result.clone().map_err(|detail| {
            DbError::connect_refused(&target.address.host, target.address.port, detail)
        })
    }
}

/// Serves a canned snapshot and "terminates" what it is asked to, sparing `spare` ids; with
/// `fail_after` = (n, text) it terminates n sessions, then the next kill fails with `text`
/// (its outcome unknown, the rest not reached).
pub struct FakeReaper {
    pub snapshot: Result<SessionSnapshot, String>,
    /// RDS endpoint hosts whose database refuses connections.
    pub unreachable: Vec<String>,
    pub spare: Vec<i64>,
    pub fail_after: Option<(usize, String)>,
    pub terminate_calls: RefCell<Vec<Vec<i64>>>,
    pub opened: RefCell<Vec<ConnectTarget>>,
}

impl FakeReaper {
    pub fn with(snapshot: SessionSnapshot) -> Self {
        Self {
            snapshot: Ok(snapshot),
            unreachable: vec![],
            spare: vec![],
            fail_after: None,
            terminate_calls: RefCell::default(),
            opened: RefCell::default(),
        }
    }
}

pub struct FakeSession<'a> {
    reaper: &'a FakeReaper,
    snapshot: SessionSnapshot,
}

impl SessionReaper for FakeReaper {
    type Session<'a> = FakeSession<'a>;

    async fn open(&self, _: Engine, target: &ConnectTarget) -> Result<FakeSession<'_>, DbError> {
        self.opened.borrow_mut().push(target.clone());
        if self.unreachable.contains(&target.rds_endpoint.host) {
            return Err(DbError::connect_refused(
                &target.address.host,
                target.address.port,
                "FATAL: sorry, too many clients already",
            ));
        }
        let snapshot = self.snapshot.clone().map_err(|detail| {
            DbError::connect_refused(&target.address.host, target.address.port, detail)
        })?;
        Ok(FakeSession {
            reaper: self,
            snapshot,
        })
    }
}

impl ReapSession for FakeSession<'_> {
    async fn snapshot(&mut self) -> Result<SessionSnapshot, DbError> {
        Ok(self.snapshot.clone())
    }

    async fn terminate(&mut self, planned: &[Session], stop_at: std::time::Instant) -> Termination {
        self.reaper
            .terminate_calls
            .borrow_mut()
            .push(planned.iter().map(|s| s.id).collect());
        let mut done = Termination {
            terminated: Vec::new(),
            spared: Vec::new(),
            unknown: Vec::new(),
            not_reached: Vec::new(),
            connections_after: None,
            method: "fake".into(),
            statement_ms: 0,
            exit_wait_ms: 0,
            failure: None,
        };
        for (i, session) in planned.iter().enumerate() {
            if std::time::Instant::now() >= stop_at {
                done.failure = Some("stopped before the invocation deadline".into());
                done.not_reached.extend_from_slice(&planned[i..]);
                break;
            }
            if let Some((limit, text)) = &self.reaper.fail_after {
                if done.terminated.len() == *limit {
                    done.failure = Some(text.clone());
                    done.unknown.push(session.clone());
                    done.not_reached.extend_from_slice(&planned[i + 1..]);
                    break;
                }
            }
            if self.reaper.spare.contains(&session.id) {
                done.spared.push(session.clone());
            } else {
                done.terminated.push(session.clone());
            }
        }
        done.connections_after = Some(
            self.snapshot
                .total_connections
                .saturating_sub(done.terminated.len() as u64),
        );
        done
    }

    async fn close(self) {}
}
