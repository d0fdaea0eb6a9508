//! Real database sessions for the tests: an admin connection, and application sessions in every
//! state the idle-reaper must tell apart.

use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use crate::Stack;

/// Serializes tests that terminate sessions server-wide, so they cannot reap each other's.
pub static SERVER_WIDE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The `postgres` superuser over the stack's Unix socket (trust).
pub async fn pg_admin(stack: &Stack) -> Client {
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(&stack.pg_socket_dir)
        .port(stack.pg_port)
        .user("postgres")
        .dbname("postgres")
        .application_name("e2e-admin");
    let (client, connection) = config.connect(NoTls).await.expect("admin connection");
    tokio::spawn(connection);
    client
}

pub const APP_PASSWORD: &str = "app-password";

/// Creates a login role (superuser when asked) with [`APP_PASSWORD`].
pub async fn pg_role(admin: &Client, name: &str, superuser: bool) {
    let attrs = if superuser { "SUPERUSER" } else { "" };
    admin
        .batch_execute(&format!(
            "CREATE ROLE {name} LOGIN {attrs} PASSWORD '{APP_PASSWORD}'"
        ))
        .await
        .expect("create role");
}

/// A PostgreSQL application session over TCP; returns the client and its backend pid.
pub async fn pg_session(stack: &Stack, user: &str, application: &str) -> (Client, i32) {
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(stack.pg_port)
        .user(user)
        .password(APP_PASSWORD)
        .dbname("postgres")
        .application_name(application);
    let (client, connection) = config.connect(NoTls).await.expect("application session");
    tokio::spawn(connection);
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    (client, pid)
}

/// Pids still connected, among `pids`.
pub async fn pg_alive(admin: &Client, pids: &[i32]) -> Vec<i32> {
    // Terminated backends can take a moment to leave pg_stat_activity.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rows = admin
        .query(
            "SELECT pid FROM pg_stat_activity WHERE pid = ANY($1) ORDER BY pid",
            &[&pids],
        )
        .await
        .expect("pg_stat_activity");
    rows.iter().map(|r| r.get(0)).collect()
}

/// MariaDB root over the stack's socket.
pub async fn mysql_admin(stack: &Stack) -> mysql_async::Conn {
    let opts = mysql_async::OptsBuilder::default()
        .socket(Some(stack.mysql_socket.clone()))
        .user(Some("root"));
    mysql_async::Conn::new(opts).await.expect("mysql admin")
}

/// A MariaDB application session over TCP; returns it and its connection id.
pub async fn mysql_session(stack: &Stack, user: &str) -> (mysql_async::Conn, u64) {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(stack.mysql_port)
        .prefer_socket(false)
        .user(Some(user))
        .pass(Some(APP_PASSWORD));
    let conn = mysql_async::Conn::new(opts).await.expect("mysql session");
    let id = conn.id() as u64;
    (conn, id)
}

/// Connection ids still present, among `ids`.
pub async fn mysql_alive(admin: &mut mysql_async::Conn, ids: &[u64]) -> Vec<u64> {
    use mysql_async::prelude::Queryable;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let all: Vec<u64> = admin
        .query("SELECT ID FROM information_schema.PROCESSLIST ORDER BY ID")
        .await
        .expect("processlist");
    all.into_iter().filter(|id| ids.contains(id)).collect()
}
