//! PostgreSQL: connect (IAM token or password, TLS verify-full or plain) and probe.

use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, NoTls};

use super::sessions::{Session, SessionSnapshot, SessionState, Termination};
use super::{ConnectTarget, DbConnector, DbError, ProbeResult};

/// Opens a session as the responder's role; the connection task runs on the current runtime.
/// The whole of it (TCP, TLS, startup, authentication) is bounded by the connect timeout and the
/// time left: a server that accepts and never answers is a timeout, not a hang.
pub async fn connect(connector: &DbConnector, target: &ConnectTarget) -> Result<Client, DbError> {
    let own = connector.config.connect_timeout;
    crate::budget::limited(
        "PostgreSQL connect",
        Some(own),
        connect_unbounded(connector, target),
    )
    .await
    .map_err(timed_out)?
}

/// A cut-short call as a [`DbError`] naming it.
pub(super) fn timed_out(cut: crate::budget::CutShort) -> DbError {
    DbError::Timeout(cut.to_string())
}

async fn connect_unbounded(
    connector: &DbConnector,
    target: &ConnectTarget,
) -> Result<Client, DbError> {
    let password = connector.password_for(&target.rds_endpoint).await?;
    let config = &connector.config;
    let mut pg = tokio_postgres::Config::new();
    pg.host(&target.address.host)
        .port(target.address.port)
        .user(&config.user)
        .dbname(&config.database)
        .password(password)
        .application_name("rds-responder")
        .connect_timeout(config.connect_timeout);
    let connect_error = |e: tokio_postgres::Error| DbError::Connect {
        host: target.address.host.clone(),
        port: target.address.port,
        source: e.into(),
    };
    let client = match connector.tls() {
        None => {
            pg.ssl_mode(SslMode::Disable);
            let (client, connection) = pg.connect(NoTls).await.map_err(connect_error)?;
            tokio::spawn(drive(connection));
            client
        }
        Some(tls) => {
            pg.ssl_mode(SslMode::Require);
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new((*tls).clone());
            let (client, connection) = pg.connect(tls).await.map_err(connect_error)?;
            tokio::spawn(drive(connection));
            client
        }
    };
    Ok(client)
}

async fn drive<S, T>(connection: tokio_postgres::Connection<S, T>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if let Err(e) = connection.await {
        tracing::debug!(error = %e, "database connection closed with an error");
    }
}

pub async fn probe(
    connector: &DbConnector,
    target: &ConnectTarget,
) -> Result<ProbeResult, DbError> {
    let limit = connector.config.connect_timeout * 2;
    let work = async {
        let started = Instant::now();
        let client = connect(connector, target).await?;
        let connect_ms = started.elapsed().as_secs_f64() * 1000.0;

        let started = Instant::now();
        let one: i32 = client
            .query_one("SELECT 1", &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(query_error)?;
        let select_one_ms = started.elapsed().as_secs_f64() * 1000.0;
        if one != 1 {
            return Err(DbError::Unexpected(format!("SELECT 1 returned {one}")));
        }
        let row = client
            .query_one(
                "SELECT pg_is_in_recovery(), current_setting('server_version')",
                &[],
            )
            .await
            .map_err(query_error)?;
        Ok(ProbeResult {
            connect_ms,
            select_one_ms,
            in_recovery: row.try_get(0).map_err(query_error)?,
            server_version: row.try_get(1).map_err(query_error)?,
        })
    };
    crate::budget::limited("PostgreSQL probe", Some(limit), work)
        .await
        .map_err(timed_out)?
}

/// A session of the responder used to list and terminate other sessions.
pub struct PgSessions {
    client: Client,
    /// The client-side bound of each statement (the server's `statement_timeout` is the same,
    /// but a silent server never applies it).
    statement_timeout: std::time::Duration,
    /// A statement timed out: the connection is not used again.
    broken: std::cell::Cell<bool>,
}

const LIST_SESSIONS: &str = "
SELECT a.pid, a.usename::text, a.datname::text, a.application_name, host(a.client_addr), a.state,
       EXTRACT(EPOCH FROM (clock_timestamp() - a.state_change))::float8,
       COALESCE(r.rolsuper, false), COALESCE(r.rolreplication, false),
       a.backend_start, a.state_change, a.backend_type
FROM pg_stat_activity a
LEFT JOIN pg_roles r ON r.oid = a.usesysid
WHERE a.backend_type IN ('client backend', 'walsender')
  AND a.pid <> pg_backend_pid()";

// One statement per batch: a planned session is terminated only if it is still the same backend
// (pid AND backend_start), in the same state since the same moment (state_change). A session that
// ran anything in between has a new state_change and is spared; a reused pid has a new
// backend_start. MATERIALIZED keeps pg_terminate_backend from running before the re-check.
const TERMINATE_BATCH: &str = "
WITH planned AS (
  SELECT * FROM unnest($1::int4[], $2::timestamptz[], $3::timestamptz[], $4::text[])
           AS p(pid, backend_start, state_change, state)
), still_eligible AS MATERIALIZED (
  SELECT a.pid
  FROM pg_stat_activity a
  JOIN planned p ON a.pid = p.pid AND a.backend_start = p.backend_start
                AND a.state_change = p.state_change AND a.state = p.state
  WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
)
SELECT pid FROM still_eligible WHERE pg_terminate_backend(pid)";

const COUNT_CLIENTS: &str =
    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'";

/// Sessions per terminating statement: big enough for one round trip at 1,000 sessions.
const BATCH: usize = 1000;

fn query_error(e: tokio_postgres::Error) -> DbError {
    DbError::Query(e.into())
}

impl PgSessions {
    /// Connects and bounds every statement of this session by the configured statement timeout.
    pub async fn open(connector: &DbConnector, target: &ConnectTarget) -> Result<Self, DbError> {
        let client = connect(connector, target).await?;
        let timeout = connector.config.statement_timeout;
        let sessions = Self::from_client(client, timeout);
        let ms = timeout.as_millis();
        sessions
            .bounded("SET statement_timeout", async {
                sessions
                    .client
                    .batch_execute(&format!("SET statement_timeout = {ms}"))
                    .await
            })
            .await?;
        Ok(sessions)
    }

    pub fn from_client(client: Client, statement_timeout: std::time::Duration) -> Self {
        Self {
            client,
            statement_timeout,
            broken: std::cell::Cell::new(false),
        }
    }

    /// One statement, bounded by the statement timeout and the time left; after a timeout the
    /// connection is dropped from use (its answer may still come, out of turn).
    async fn bounded<T>(
        &self,
        what: &str,
        statement: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, DbError> {
        if self.broken.get() {
            return Err(DbError::Unexpected(format!(
                "{what} not sent: an earlier statement on this connection timed out"
            )));
        }
        match crate::budget::limited(what, Some(self.statement_timeout), statement).await {
            Ok(result) => result.map_err(query_error),
            Err(cut) => {
                self.broken.set(true);
                Err(timed_out(cut))
            }
        }
    }

    pub async fn count_connections(&self) -> Result<u64, DbError> {
        let row = self
            .bounded(
                "counting connections",
                self.client.query_one(COUNT_CLIENTS, &[]),
            )
            .await?;
        Ok(row.try_get::<_, i64>(0).map_err(query_error)?.max(0) as u64)
    }

    pub async fn snapshot(&self) -> Result<SessionSnapshot, DbError> {
        let rows = self
            .bounded("listing sessions", self.client.query(LIST_SESSIONS, &[]))
            .await?;
        let mut sessions = Vec::with_capacity(rows.len());
        for row in rows {
            let get_text = |i: usize| row.try_get::<_, Option<String>>(i).map_err(query_error);
            let backend_type = get_text(11)?;
            sessions.push(Session {
                id: i64::from(row.try_get::<_, i32>(0).map_err(query_error)?),
                user: get_text(1)?,
                database: get_text(2)?,
                application: get_text(3)?.filter(|a| !a.is_empty()),
                client_addr: get_text(4)?.and_then(|a| a.parse().ok()),
                state: SessionState::from_pg(get_text(5)?.as_deref()),
                idle_seconds: row.try_get(6).map_err(query_error)?,
                superuser: row.try_get(7).map_err(query_error)?,
                replication: backend_type.as_deref() == Some("walsender")
                    || row.try_get(8).map_err(query_error)?,
                command: backend_type,
                backend_start: row.try_get(9).map_err(query_error)?,
                state_change: row.try_get(10).map_err(query_error)?,
            });
        }
        let clients = sessions
            .iter()
            .filter(|s| s.command.as_deref() == Some("client backend"))
            .count();
        Ok(SessionSnapshot {
            total_connections: clients as u64 + 1,
            sessions,
            rds_kill_available: false,
        })
    }

    /// Terminates what still matches the plan, batch by batch, starting no batch after
    /// `stop_at`; waits briefly for the backends to exit. A failing statement leaves its batch's
    /// outcome unknown (pg_terminate_backend is not undone) and stops the run.
    pub async fn terminate(&self, planned: &[Session], stop_at: Instant) -> Termination {
        let mut terminated_ids = std::collections::HashSet::new();
        let mut unknown = Vec::new();
        let mut not_reached = Vec::new();
        let mut failure = None;
        let started = Instant::now();
        let mut batches = planned.chunks(BATCH);
        for batch in batches.by_ref() {
            if Instant::now() >= stop_at {
                failure = Some("stopped before the invocation deadline".to_string());
                not_reached.extend_from_slice(batch);
                break;
            }
            match self.terminate_batch(batch).await {
                Ok(ids) => terminated_ids.extend(ids),
                Err(e) => {
                    failure = Some(format!("the terminating statement failed: {e}"));
                    unknown.extend_from_slice(batch);
                    break;
                }
            }
        }
        for rest in batches {
            not_reached.extend_from_slice(rest);
        }
        let statement_ms = started.elapsed().as_millis() as u64;
        let started = Instant::now();
        let ids: Vec<i64> = terminated_ids.iter().copied().collect();
        if let Err(e) = self.wait_gone(&ids).await {
            failure.get_or_insert(format!("waiting for the sessions to exit failed: {e}"));
        }
        let exit_wait_ms = started.elapsed().as_millis() as u64;
        let connections_after = match self.count_connections().await {
            Ok(n) => Some(n),
            Err(e) => {
                failure.get_or_insert(format!("counting connections afterwards failed: {e}"));
                None
            }
        };
        let settled = |s: &&Session| !unknown.contains(*s) && !not_reached.contains(*s);
        let (terminated, spared) = planned
            .iter()
            .filter(settled)
            .cloned()
            .partition(|s| terminated_ids.contains(&s.id));
        Termination {
            terminated,
            spared,
            unknown,
            not_reached,
            connections_after,
            method: "pg_terminate_backend".into(),
            statement_ms,
            exit_wait_ms,
            failure,
        }
    }

    /// One terminating statement; returns the pids it terminated.
    async fn terminate_batch(&self, batch: &[Session]) -> Result<Vec<i64>, DbError> {
        // A session without backend_start/state_change/state cannot be re-checked: never sent.
        let checkable: Vec<&Session> = batch
            .iter()
            .filter(|s| {
                s.backend_start.is_some() && s.state_change.is_some() && s.state.as_pg().is_some()
            })
            .collect();
        let pids: Vec<i32> = checkable
            .iter()
            .filter_map(|s| i32::try_from(s.id).ok())
            .collect();
        let starts: Vec<DateTime<Utc>> = checkable.iter().filter_map(|s| s.backend_start).collect();
        let changes: Vec<DateTime<Utc>> = checkable.iter().filter_map(|s| s.state_change).collect();
        let states: Vec<String> = checkable
            .iter()
            .filter_map(|s| s.state.as_pg().map(str::to_string))
            .collect();
        let rows = self
            .bounded(
                "the terminating statement",
                self.client
                    .query(TERMINATE_BATCH, &[&pids, &starts, &changes, &states]),
            )
            .await?;
        rows.iter()
            .map(|row| Ok(i64::from(row.try_get::<_, i32>(0).map_err(query_error)?)))
            .collect()
    }

    /// pg_terminate_backend only signals; give the backends up to 2 s to leave.
    async fn wait_gone(&self, ids: &[i64]) -> Result<(), DbError> {
        if ids.is_empty() {
            return Ok(());
        }
        let pids: Vec<i32> = ids
            .iter()
            .filter_map(|id| i32::try_from(*id).ok())
            .collect();
        let pause = std::time::Duration::from_millis(50);
        for _ in 0..40 {
            // Within the time left: the recount and delivery still follow.
            if crate::budget::time_left().is_some_and(|left| left < pause * 4) {
                return Ok(());
            }
            let row = self
                .bounded(
                    "waiting for the sessions to exit",
                    self.client.query_one(
                        "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)",
                        &[&pids],
                    ),
                )
                .await?;
            if row.try_get::<_, i64>(0).map_err(query_error)? == 0 {
                return Ok(());
            }
            tokio::time::sleep(pause).await;
        }
        Ok(())
    }
}

const LARGEST_RELATIONS: &str = "SELECT n.nspname || '.' || c.relname, \
     CASE c.relkind WHEN 'r' THEN 'table' WHEN 'i' THEN 'index' WHEN 'm' THEN 'materialized view' \
     WHEN 'p' THEN 'partitioned table' ELSE c.relkind::text END, \
     CASE WHEN c.relkind = 'i' THEN pg_relation_size(c.oid) ELSE pg_total_relation_size(c.oid) END::bigint AS bytes \
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'i', 'm', 'p') \
     AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' \
     ORDER BY bytes DESC, 1 LIMIT $1";

const REPLICATION_SLOTS: &str = "SELECT slot_name::text, slot_type::text, active, \
     CASE WHEN pg_is_in_recovery() OR restart_lsn IS NULL THEN NULL \
     ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint END \
     FROM pg_replication_slots ORDER BY 4 DESC NULLS LAST, 1";

impl PgSessions {
    /// The largest relations of the connected database and every replication slot.
    pub async fn space(&self) -> Result<super::space::SpaceReport, DbError> {
        let limit = super::space::LARGEST as i64;
        // Sizes wait behind an ACCESS EXCLUSIVE lock (a migration, a VACUUM FULL): give up on
        // them rather than queue behind it, and hold up nobody.
        self.bounded(
            "SET lock_timeout",
            self.client.batch_execute("SET lock_timeout = '2s'"),
        )
        .await?;
        let database: String = self
            .bounded(
                "naming the database",
                self.client
                    .query_one("SELECT current_database()::text", &[]),
            )
            .await?
            .try_get(0)
            .map_err(query_error)?;
        let rows = self
            .bounded(
                "listing the largest relations",
                self.client.query(LARGEST_RELATIONS, &[&limit]),
            )
            .await?;
        let largest = rows
            .iter()
            .map(|r| {
                Ok(super::space::Relation {
                    name: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    bytes: r.try_get(2)?,
                    index_bytes: None,
                })
            })
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(query_error)?;
        let rows = self
            .bounded(
                "listing replication slots",
                self.client.query(REPLICATION_SLOTS, &[]),
            )
            .await?;
        let slots = rows
            .iter()
            .map(|r| {
                Ok(super::space::ReplicationSlot {
                    name: r.try_get(0)?,
                    slot_type: r.try_get(1)?,
                    active: r.try_get(2)?,
                    retained_bytes: r.try_get(3)?,
                })
            })
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(query_error)?;
        Ok(super::space::SpaceReport {
            database,
            largest,
            slots,
        })
    }
}

const COLUMNS: &str = "SELECT table_schema::text || '.' || table_name::text || '.' || column_name::text || ' ' || data_type::text \
     FROM information_schema.columns \
     WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg_toast%' \
     ORDER BY 1";

impl PgSessions {
    /// What the connected database holds (see [`super::verify`]).
    pub async fn inspect(
        &self,
        spec: &super::verify::DataSpec,
    ) -> Result<super::verify::DataReport, DbError> {
        use super::verify::{qualified, quote, read_error};
        let engine = super::Engine::Postgres;
        let started = std::time::Instant::now();
        let one: i32 = self
            .bounded("SELECT 1", self.client.query_one("SELECT 1", &[]))
            .await?
            .try_get(0)
            .map_err(query_error)?;
        let select_one_ms = started.elapsed().as_secs_f64() * 1000.0;
        if one != 1 {
            return Err(DbError::Unexpected(format!("SELECT 1 returned {one}")));
        }
        let columns = self
            .bounded("reading the schema", self.client.query(COLUMNS, &[]))
            .await?
            .iter()
            .map(|r| r.try_get::<_, String>(0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(query_error)?;
        let started = std::time::Instant::now();
        let mut row_counts = Vec::new();
        for table in &spec.tables {
            let sql = format!("SELECT count(*) FROM {}", qualified(engine, table));
            let count = self
                .bounded("counting rows", self.client.query_one(&sql, &[]))
                .await
                .and_then(|r| r.try_get::<_, i64>(0).map_err(query_error))
                .map_err(|e| read_error(&e));
            row_counts.push((table.clone(), count));
        }
        let read_ms = started.elapsed().as_secs_f64() * 1000.0;
        let mut sql_checks = Vec::new();
        for check in &spec.sql_checks {
            // Read only: an operator's check never changes the database it reads.
            let result = async {
                self.bounded(
                    "BEGIN READ ONLY",
                    self.client.batch_execute("BEGIN READ ONLY"),
                )
                .await?;
                let answer = self
                    .bounded(
                        &format!("SQL check {}", check.name),
                        self.client.query_opt(&check.sql, &[]),
                    )
                    .await;
                let _ = self
                    .bounded("ROLLBACK", self.client.batch_execute("ROLLBACK"))
                    .await;
                match answer? {
                    Some(row) => row
                        .try_get::<_, Option<bool>>(0)
                        .map(|v| v.unwrap_or(false))
                        .map_err(query_error),
                    None => Ok(false),
                }
            }
            .await
            .map_err(|e| read_error(&e));
            sql_checks.push((check.name.clone(), result));
        }
        let newest = match &spec.newest {
            None => None,
            Some((table, column)) => {
                let sql = format!(
                    "SELECT extract(epoch FROM max({}))::float8 FROM {}",
                    quote(engine, column),
                    qualified(engine, table)
                );
                Some(
                    self.bounded(
                        "reading the newest timestamp",
                        self.client.query_one(&sql, &[]),
                    )
                    .await
                    .and_then(|r| r.try_get::<_, Option<f64>>(0).map_err(query_error))
                    .map_err(|e| read_error(&e)),
                )
            }
        };
        Ok(super::verify::DataReport {
            select_one_ms,
            columns,
            row_counts,
            read_ms,
            sql_checks,
            newest,
        })
    }
}
