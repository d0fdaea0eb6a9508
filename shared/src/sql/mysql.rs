//! MySQL / MariaDB: list sleeping sessions and kill them (`mysql.rds_kill` on RDS, else `KILL`),
//! re-checking each session right before its kill.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, SslOpts};

use super::sessions::{Session, SessionSnapshot, SessionState, Termination};
use super::{ConnectTarget, DbConnector, DbError, ProbeResult};
use crate::config::{DbAuth, DbTls};

pub struct MySqlSessions {
    conn: Conn,
    /// `mysql.rds_kill` exists (seen by the last snapshot): RDS MySQL.
    rds_kill: bool,
    /// The longest any one call may take.
    statement_timeout: Duration,
    /// A call timed out: the connection is not used again (its answer may still come).
    broken: bool,
}

/// How one kill went.
enum Kill {
    Done,
    Spared,
    RecheckFailed(DbError),
    Failed(DbError),
}

/// A call bounded by `limit` and the time left; its error as a [`DbError`].
async fn within<T>(
    what: &str,
    limit: Duration,
    call: impl std::future::Future<Output = Result<T, mysql_async::Error>>,
) -> Result<T, DbError> {
    match crate::budget::limited(what, Some(limit), call).await {
        Ok(result) => result.map_err(query_error),
        Err(cut) => Err(super::postgres::timed_out(cut)),
    }
}

fn query_error(e: mysql_async::Error) -> DbError {
    DbError::Query(e.into())
}

const LIST_SESSIONS: &str = "SELECT ID, USER, HOST, DB, COMMAND, TIME \
     FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()";

/// Splits `10.0.0.5:51234` (or `[::1]:5123`, or `localhost`) into an address.
fn client_addr(host: Option<&str>) -> Option<std::net::IpAddr> {
    let host = host?;
    let bare = match host.rsplit_once(':') {
        Some((addr, port)) if port.chars().all(|c| c.is_ascii_digit()) => addr,
        _ => host,
    };
    bare.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

impl MySqlSessions {
    pub async fn open(connector: &DbConnector, target: &ConnectTarget) -> Result<Self, DbError> {
        let config = &connector.config;
        let password = connector.password_for(&target.rds_endpoint).await?;
        let mut opts = OptsBuilder::default()
            .ip_or_hostname(target.address.host.clone())
            .tcp_port(target.address.port)
            .user(Some(config.user.clone()))
            .pass(Some(password))
            .prefer_socket(false)
            // RDS IAM tokens travel as cleartext passwords, which is why TLS is required with them.
            .enable_cleartext_plugin(config.auth == DbAuth::Iam);
        if let DbTls::VerifyFull { ca_bundle } = &config.tls {
            let (pem, _) = super::ca_bundle_pem(ca_bundle)?;
            opts = opts.ssl_opts(Some(
                // Only the bundle: mysql_async would add ~150 public web roots otherwise.
                SslOpts::default()
                    .with_root_certs(vec![pem.into_owned().into()])
                    .with_disable_built_in_roots(true),
            ));
        }
        let connect = Conn::new(opts);
        let conn = crate::budget::limited("MySQL connect", Some(config.connect_timeout), connect)
            .await
            .map_err(super::postgres::timed_out)?
            .map_err(|e| DbError::Connect {
                host: target.address.host.clone(),
                port: target.address.port,
                source: e.into(),
            })?;
        Ok(Self {
            conn,
            rds_kill: false,
            statement_timeout: config.statement_timeout,
            broken: false,
        })
    }

    /// One call on this connection, bounded; after a timeout the connection is not reused.
    async fn bounded<T>(
        &mut self,
        what: &str,
        call: impl for<'c> FnOnce(
            &'c mut Conn,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, mysql_async::Error>> + 'c>,
        >,
    ) -> Result<T, DbError> {
        if self.broken {
            return Err(DbError::Unexpected(format!(
                "{what} not sent: an earlier call on this connection timed out"
            )));
        }
        let limit = self.statement_timeout;
        let result = within(what, limit, call(&mut self.conn)).await;
        if matches!(result, Err(DbError::Timeout(_))) {
            self.broken = true;
        }
        result
    }

    pub async fn count_connections(&mut self) -> Result<u64, DbError> {
        let row: Option<(String, String)> = self
            .bounded("counting connections", |c| {
                Box::pin(c.query_first("SHOW GLOBAL STATUS LIKE 'Threads_connected'"))
            })
            .await?;
        row.and_then(|(_, v)| v.parse().ok())
            .ok_or_else(|| DbError::Unexpected("Threads_connected not reported".into()))
    }

    pub async fn snapshot(&mut self) -> Result<SessionSnapshot, DbError> {
        type Row = (
            u64,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<i64>,
        );
        let rows: Vec<Row> = self
            .bounded("listing sessions", |c| Box::pin(c.query(LIST_SESSIONS)))
            .await?;
        let rds_kill: Option<i64> = self
            .bounded("looking for mysql.rds_kill", |c| {
                Box::pin(c.query_first(
                    "SELECT COUNT(*) FROM information_schema.ROUTINES \
                     WHERE ROUTINE_SCHEMA = 'mysql' AND ROUTINE_NAME = 'rds_kill'",
                ))
            })
            .await?;
        // A sleeping session may hold an open transaction: killing it rolls that back.
        let in_transaction: std::collections::HashSet<u64> = self
            .bounded("listing open transactions", |c| {
                Box::pin(c.query("SELECT trx_mysql_thread_id FROM information_schema.INNODB_TRX"))
            })
            .await?
            .into_iter()
            .collect();
        let sessions = rows
            .into_iter()
            .map(|(id, user, host, db, command, time)| {
                let state = match command.as_deref() {
                    Some("Sleep") if in_transaction.contains(&id) => {
                        SessionState::IdleInTransaction
                    }
                    Some("Sleep") => SessionState::Idle,
                    Some("Query") | Some("Execute") => SessionState::Active,
                    Some(other) => SessionState::Other(other.to_string()),
                    None => SessionState::Unknown,
                };
                Session {
                    id: id as i64,
                    replication: matches!(
                        command.as_deref(),
                        Some("Binlog Dump") | Some("Binlog Dump GTID")
                    ),
                    client_addr: client_addr(host.as_deref()),
                    user,
                    database: db,
                    application: None,
                    state,
                    idle_seconds: time.map(|t| t as f64),
                    superuser: false,
                    command,
                    backend_start: None,
                    state_change: None,
                }
            })
            .collect();
        self.rds_kill = rds_kill.unwrap_or(0) > 0;
        Ok(SessionSnapshot {
            total_connections: self.count_connections().await?,
            sessions,
            rds_kill_available: self.rds_kill,
        })
    }

    /// Kills each planned session that is, right now, still the same user sleeping at least as
    /// long as when it was listed (a session that ran a statement since has a smaller TIME),
    /// starting no kill after `stop_at`. Every call is bounded by the statement timeout. A
    /// failure stops the run: a failed re-check leaves its session untouched, a failed kill
    /// leaves its outcome unknown.
    pub async fn terminate(&mut self, planned: &[Session], stop_at: Instant) -> Termination {
        let mut termination = Termination {
            terminated: Vec::new(),
            spared: Vec::new(),
            unknown: Vec::new(),
            not_reached: Vec::new(),
            connections_after: None,
            method: if self.rds_kill {
                "mysql.rds_kill"
            } else {
                "KILL"
            }
            .into(),
            statement_ms: 0,
            exit_wait_ms: 0,
            failure: None,
        };
        let started = Instant::now();
        for (i, session) in planned.iter().enumerate() {
            if Instant::now() >= stop_at {
                termination.failure = Some("stopped before the invocation deadline".into());
                termination.not_reached.extend_from_slice(&planned[i..]);
                break;
            }
            match self.kill_if_still_idle(session).await {
                Kill::Done => termination.terminated.push(session.clone()),
                Kill::Spared => termination.spared.push(session.clone()),
                Kill::RecheckFailed(e) => {
                    termination.failure =
                        Some(format!("re-reading session {} failed: {e}", session.id));
                    termination.not_reached.extend_from_slice(&planned[i..]);
                    break;
                }
                Kill::Failed(e) => {
                    termination.failure =
                        Some(format!("killing session {} failed: {e}", session.id));
                    termination.unknown.push(session.clone());
                    termination.not_reached.extend_from_slice(&planned[i + 1..]);
                    break;
                }
            }
        }
        termination.statement_ms = started.elapsed().as_millis() as u64;
        // KILL returns before the connection is gone from the processlist.
        let exit_wait = Duration::from_millis(if termination.terminated.is_empty() {
            0
        } else {
            100
        })
        .min(crate::budget::at_most(Duration::from_millis(100)));
        tokio::time::sleep(exit_wait).await;
        termination.exit_wait_ms = exit_wait.as_millis() as u64;
        match self.count_connections().await {
            Ok(n) => termination.connections_after = Some(n),
            Err(e) => {
                termination
                    .failure
                    .get_or_insert(format!("counting connections afterwards failed: {e}"));
            }
        }
        termination
    }

    /// Re-reads one session and kills it if it is still the listed idle session.
    async fn kill_if_still_idle(&mut self, session: &Session) -> Kill {
        let id = session.id;
        let recheck = self
            .bounded("re-reading the session", move |c| {
                Box::pin(
                    c.exec_first::<(Option<String>, Option<String>, Option<i64>), _, _>(
                        "SELECT USER, COMMAND, TIME FROM information_schema.PROCESSLIST WHERE ID = ?",
                        (id,),
                    ),
                )
            })
            .await;
        let now = match recheck {
            Ok(now) => now,
            Err(e) => return Kill::RecheckFailed(e),
        };
        let still_idle = matches!(&now, Some((user, Some(command), Some(time)))
            if command == "Sleep"
                && *user == session.user
                && (*time as f64) >= session.idle_seconds.unwrap_or(f64::MAX));
        if !still_idle {
            return Kill::Spared;
        }
        let (rds_kill, limit) = (self.rds_kill, self.statement_timeout);
        if self.broken {
            return Kill::RecheckFailed(DbError::Unexpected(
                "not sent: an earlier call on this connection timed out".into(),
            ));
        }
        let conn = &mut self.conn;
        let kill = async move {
            if rds_kill {
                conn.exec_drop("CALL mysql.rds_kill(?)", (id,)).await
            } else {
                conn.query_drop(format!("KILL CONNECTION {id}")).await
            }
        };
        match crate::budget::limited("the kill", Some(limit), kill).await {
            Ok(Ok(())) => Kill::Done,
            // Gone between the re-check and the kill ("Unknown thread id"): nothing to do.
            Ok(Err(mysql_async::Error::Server(e))) if e.code == 1094 => Kill::Spared,
            Ok(Err(e)) => Kill::Failed(query_error(e)),
            Err(cut) => {
                self.broken = true;
                Kill::Failed(super::postgres::timed_out(cut))
            }
        }
    }

    /// Says goodbye to the server, briefly; a broken connection is only dropped.
    pub async fn close(self) {
        if !self.broken {
            let bye = std::time::Duration::from_secs(1);
            let _ =
                crate::budget::limited("MySQL disconnect", Some(bye), self.conn.disconnect()).await;
        }
    }
}

/// Connect, `SELECT 1`, and the writer role: a read-only server (a replica, an Aurora reader)
/// is not the writer.
pub async fn probe(
    connector: &DbConnector,
    target: &ConnectTarget,
) -> Result<ProbeResult, DbError> {
    let limit = connector.config.connect_timeout * 2;
    let work = async {
        let started = std::time::Instant::now();
        let mut sessions = MySqlSessions::open(connector, target).await?;
        let connect_ms = started.elapsed().as_secs_f64() * 1000.0;
        let started = std::time::Instant::now();
        let one: Option<i64> = sessions
            .bounded("SELECT 1", |c| Box::pin(c.query_first("SELECT 1")))
            .await?;
        let select_one_ms = started.elapsed().as_secs_f64() * 1000.0;
        if one != Some(1) {
            return Err(DbError::Unexpected(format!("SELECT 1 returned {one:?}")));
        }
        let role: Option<(i64, i64, String)> =
            sessions
                .bounded("reading the writer role", |c| {
                    Box::pin(c.query_first(
                        "SELECT @@global.read_only, @@global.innodb_read_only, VERSION()",
                    ))
                })
                .await?;
        sessions.close().await;
        let (read_only, innodb_read_only, version) =
            role.ok_or_else(|| DbError::Unexpected("no answer for the read-only settings".into()))?;
        Ok(ProbeResult {
            connect_ms,
            select_one_ms,
            in_recovery: read_only != 0 || innodb_read_only != 0,
            server_version: version,
        })
    };
    crate::budget::limited("MySQL probe", Some(limit), work)
        .await
        .map_err(super::postgres::timed_out)?
}

// The hint stops it on the server too (MySQL 5.7+; MariaDB reads it as a comment and the
// client-side bound holds): information_schema.TABLES is slow with many tables.
const LARGEST_TABLES: &str =
    "SELECT /*+ MAX_EXECUTION_TIME(10000) */ CONCAT(TABLE_SCHEMA, '.', TABLE_NAME), \
     CAST(COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0) AS SIGNED), \
     CAST(COALESCE(INDEX_LENGTH, 0) AS SIGNED) \
     FROM information_schema.TABLES \
     WHERE TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') \
     AND TABLE_TYPE = 'BASE TABLE' \
     ORDER BY 2 DESC, 1 LIMIT ";

impl MySqlSessions {
    /// The largest tables of every user schema, with their index share.
    pub async fn space(&mut self, database: &str) -> Result<super::space::SpaceReport, DbError> {
        let query = format!("{LARGEST_TABLES}{}", super::space::LARGEST);
        let rows: Vec<(String, i64, i64)> = self
            .bounded("listing the largest tables", |c| Box::pin(c.query(query)))
            .await?;
        Ok(super::space::SpaceReport {
            database: database.to_string(),
            largest: rows
                .into_iter()
                .map(|(name, bytes, index)| super::space::Relation {
                    name,
                    kind: "table".into(),
                    bytes,
                    index_bytes: Some(index),
                })
                .collect(),
            slots: Vec::new(),
        })
    }
}

const COLUMNS: &str =
    "SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME, '.', COLUMN_NAME, ' ', COLUMN_TYPE) \
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1";

impl MySqlSessions {
    /// What the connected database holds (see [`super::verify`]).
    pub async fn inspect(
        &mut self,
        spec: &super::verify::DataSpec,
    ) -> Result<super::verify::DataReport, DbError> {
        use super::verify::{qualified, quote, read_error};
        let engine = super::Engine::MySql;
        let started = Instant::now();
        let one: Option<i64> = self
            .bounded("SELECT 1", |c| Box::pin(c.query_first("SELECT 1")))
            .await?;
        let select_one_ms = started.elapsed().as_secs_f64() * 1000.0;
        if one != Some(1) {
            return Err(DbError::Unexpected(format!("SELECT 1 returned {one:?}")));
        }
        // A MySQL table's schema is its database, and the session selects none (DB_NAME names
        // PostgreSQL's): the checks read in their first table's database, whose schema is compared.
        if let Some(first) = spec.tables.first() {
            let sql = format!("USE {}", quote(engine, &first.schema));
            self.bounded("selecting the tables' database", |c| {
                Box::pin(c.query_drop(sql))
            })
            .await?;
        }
        let columns: Vec<String> = self
            .bounded("reading the schema", |c| Box::pin(c.query(COLUMNS)))
            .await?;
        let started = Instant::now();
        let mut row_counts = Vec::new();
        for table in &spec.tables {
            let sql = format!("SELECT COUNT(*) FROM {}", qualified(engine, table));
            let count: Result<Option<i64>, DbError> = self
                .bounded("counting rows", |c| Box::pin(c.query_first(sql)))
                .await;
            let count = count
                .and_then(|c| c.ok_or_else(|| DbError::Unexpected("no count".into())))
                .map_err(|e| read_error(&e));
            row_counts.push((table.clone(), count));
        }
        let read_ms = started.elapsed().as_secs_f64() * 1000.0;
        let mut sql_checks = Vec::new();
        for check in &spec.sql_checks {
            let sql = check.sql.clone();
            let result: Result<bool, DbError> = async {
                self.bounded("START TRANSACTION READ ONLY", |c| {
                    Box::pin(c.query_drop("START TRANSACTION READ ONLY"))
                })
                .await?;
                let answer: Result<Option<Option<i64>>, DbError> = self
                    .bounded("SQL check", |c| Box::pin(c.query_first(sql)))
                    .await;
                let _ = self
                    .bounded("ROLLBACK", |c| Box::pin(c.query_drop("ROLLBACK")))
                    .await;
                Ok(answer?.flatten().is_some_and(|v| v != 0))
            }
            .await;
            sql_checks.push((check.name.clone(), result.map_err(|e| read_error(&e))));
        }
        let newest = match &spec.newest {
            None => None,
            Some((table, column)) => {
                let sql = format!(
                    "SELECT CAST(UNIX_TIMESTAMP(MAX({})) AS DOUBLE) FROM {}",
                    quote(engine, column),
                    qualified(engine, table)
                );
                let value: Result<Option<Option<f64>>, DbError> = self
                    .bounded("reading the newest timestamp", |c| {
                        Box::pin(c.query_first(sql))
                    })
                    .await;
                Some(value.map(Option::flatten).map_err(|e| read_error(&e)))
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

#[cfg(test)]
mod tests {
    use super::client_addr;

    #[test]
    fn reads_client_addresses_from_processlist_host() {
        assert_eq!(
            client_addr(Some("10.0.0.5:51234")),
            Some("10.0.0.5".parse().unwrap())
        );
        assert_eq!(
            client_addr(Some("[::1]:5123")),
            Some("::1".parse().unwrap())
        );
        assert_eq!(client_addr(Some("localhost")), None);
        assert_eq!(client_addr(None), None);
    }
}
