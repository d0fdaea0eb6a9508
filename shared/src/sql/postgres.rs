//! PostgreSQL: connect (IAM token or password, TLS verify-full or plain) and probe.

use std::time::Instant;

use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, NoTls};

use super::{error_chain, ConnectTarget, DbConnector, DbError, ProbeResult};

/// Opens a session as the responder's role; the connection task runs on the current runtime.
pub async fn connect(connector: &DbConnector, target: &ConnectTarget) -> Result<Client, DbError> {
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
        detail: error_chain(&e),
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
            .map_err(|e| DbError::Query(error_chain(&e)))?;
        let select_one_ms = started.elapsed().as_secs_f64() * 1000.0;
        if one != 1 {
            return Err(DbError::Query(format!("SELECT 1 returned {one}")));
        }
        let row = client
            .query_one(
                "SELECT pg_is_in_recovery(), current_setting('server_version')",
                &[],
            )
            .await
            .map_err(|e| DbError::Query(error_chain(&e)))?;
        Ok(ProbeResult {
            connect_ms,
            select_one_ms,
            in_recovery: row
                .try_get(0)
                .map_err(|e| DbError::Query(error_chain(&e)))?,
            server_version: row
                .try_get(1)
                .map_err(|e| DbError::Query(error_chain(&e)))?,
        })
    };
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or(Err(DbError::Timeout(limit.as_millis())))
}
