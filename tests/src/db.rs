//! Real database sessions for the tests: an admin connection, and application sessions in every
//! state the idle-reaper must tell apart.

use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use mysql_async::prelude::Queryable;

use crate::{Fixture, Stack};

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

/// Waits (up to 10 s) until the backend runs a query, so a loaded machine cannot make the test
/// look at an "active" session before its query started.
pub async fn pg_wait_active(admin: &Client, pid: i32) {
    for _ in 0..200 {
        let row = admin
            .query_opt(
                "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'",
                &[&pid],
            )
            .await
            .expect("pg_stat_activity");
        if row.is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("backend {pid} never became active");
}

/// The same for a MariaDB connection.
pub async fn mysql_wait_active(admin: &mut mysql_async::Conn, id: u64) {
    for _ in 0..200 {
        let command: Option<String> = admin
            .exec_first(
                "SELECT COMMAND FROM information_schema.PROCESSLIST WHERE ID = ?",
                (id,),
            )
            .await
            .expect("processlist");
        if command.as_deref() == Some("Query") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("connection {id} never became active");
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
    tokio::time::sleep(Duration::from_millis(200)).await;
    let all: Vec<u64> = admin
        .query("SELECT ID FROM information_schema.PROCESSLIST ORDER BY ID")
        .await
        .expect("processlist");
    all.into_iter().filter(|id| ids.contains(id)).collect()
}

pub struct PgScene {
    pub admin: tokio_postgres::Client,
    pub eligible: Vec<i32>,
    pub survivors: Vec<i32>,
    /// Held open: dropping a client closes its session.
    pub clients: Vec<tokio_postgres::Client>,
}

/// Idle sessions from two users and applications (eligible), plus an active query, an idle
/// transaction, a superuser session and a protected user's session (survivors).
pub async fn pg_scene(fixture: &Fixture) -> PgScene {
    let stack = &fixture.stack;
    let admin = pg_admin(stack).await;
    let (app_a, app_b, guarded, dba) = (
        format!("app_a_{}", fixture.suffix),
        format!("app_b_{}", fixture.suffix),
        format!("guarded_{}", fixture.suffix),
        format!("dba_{}", fixture.suffix),
    );
    for role in [&app_a, &app_b, &guarded] {
        pg_role(&admin, role, false).await;
    }
    pg_role(&admin, &dba, true).await;

    let mut clients = Vec::new();
    let mut eligible = Vec::new();
    for (user, app) in [(&app_a, "web"), (&app_a, "web"), (&app_b, "worker")] {
        let (client, pid) = pg_session(stack, user, app).await;
        clients.push(client);
        eligible.push(pid);
    }
    let mut survivors = Vec::new();
    let (active, active_pid) = pg_session(stack, &app_a, "report").await;
    tokio::spawn(async move {
        let _ = active.batch_execute("SELECT pg_sleep(8)").await;
    });
    survivors.push(active_pid);
    let (in_tx, pid) = pg_session(stack, &app_b, "worker").await;
    in_tx
        .batch_execute("BEGIN; SELECT 1")
        .await
        .expect("open transaction");
    clients.push(in_tx);
    survivors.push(pid);
    for user in [&dba, &guarded] {
        let (client, pid) = pg_session(stack, user, "psql").await;
        clients.push(client);
        survivors.push(pid);
    }
    pg_wait_active(&admin, active_pid).await;
    PgScene {
        admin,
        eligible,
        survivors,
        clients,
    }
}

pub struct MySqlScene {
    pub admin: mysql_async::Conn,
    pub eligible: Vec<u64>,
    pub survivors: Vec<u64>,
    /// Held open: dropping a connection closes its session.
    pub conns: Vec<mysql_async::Conn>,
}

pub async fn mysql_scene(fixture: &Fixture) -> MySqlScene {
    let stack = &fixture.stack;
    let mut admin = mysql_admin(stack).await;
    let (app_a, app_b, guarded) = (
        format!("app_a_{}", fixture.suffix),
        format!("app_b_{}", fixture.suffix),
        format!("guarded_{}", fixture.suffix),
    );
    for user in [&app_a, &app_b, &guarded] {
        admin
            .query_drop(format!(
                "CREATE USER '{user}'@'%' IDENTIFIED BY '{APP_PASSWORD}'"
            ))
            .await
            .expect("create user");
    }
    let mut conns = Vec::new();
    let mut eligible = Vec::new();
    for user in [&app_a, &app_a, &app_b] {
        let (conn, id) = mysql_session(stack, user).await;
        conns.push(conn);
        eligible.push(id);
    }
    let mut survivors = Vec::new();
    let (mut active, active_id) = mysql_session(stack, &app_a).await;
    tokio::spawn(async move {
        let _ = active.query_drop("SELECT SLEEP(8)").await;
    });
    survivors.push(active_id);
    let (mut in_tx, id) = mysql_session(stack, &app_b).await;
    in_tx
        .query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        .await
        .expect("open transaction");
    conns.push(in_tx);
    survivors.push(id);
    let (conn, id) = mysql_session(stack, &guarded).await;
    conns.push(conn);
    survivors.push(id);
    survivors.push(admin.id() as u64);
    mysql_wait_active(&mut admin, active_id).await;
    // MySQL counts idle time in whole seconds: let the idle ones pass "more than 0 s".
    tokio::time::sleep(Duration::from_millis(1500)).await;
    MySqlScene {
        admin,
        eligible,
        survivors,
        conns,
    }
}

/// A second PostgreSQL server made from the primary's data by `pg_basebackup` and started on
/// its own: what a restore of the primary is, for the drill's data checks. Stopped and removed
/// on drop.
pub struct RestoredPg {
    pub port: u16,
    dir: std::path::PathBuf,
    bin: String,
}

fn as_postgres(program: &str) -> std::process::Command {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if root {
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", "postgres", "--", program]);
        c
    } else {
        std::process::Command::new(program)
    }
}

impl RestoredPg {
    pub fn from_primary(stack: &Stack) -> Self {
        let bin = std::env::var("PG_BIN").expect("PG_BIN (the local stack)");
        let base = std::env::var("STACK_DIR").expect("STACK_DIR (the local stack)");
        let port = Stack::closed_port();
        let dir = std::path::PathBuf::from(base).join(format!("pg-restored-{port}"));
        let status = as_postgres(&format!("{bin}/pg_basebackup"))
            .args([
                "-h",
                &stack.pg_socket_dir,
                "-p",
                &stack.pg_port.to_string(),
                "-U",
                "postgres",
                "-X",
                "stream",
                // An immediate checkpoint: the default spreads it over minutes.
                "-c",
                "fast",
                "-D",
            ])
            .arg(&dir)
            .status()
            .expect("pg_basebackup");
        assert!(status.success(), "pg_basebackup failed");
        let status = as_postgres(&format!("{bin}/pg_ctl"))
            .arg("-D")
            .arg(&dir)
            .args(["-l"])
            .arg(dir.with_extension("log"))
            .args(["-o", &format!("-p {port}"), "-w", "start"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("pg_ctl start");
        assert!(status.success(), "the restored server did not start");
        Self { port, dir, bin }
    }

    /// The superuser on the restored server, in `database`.
    pub async fn admin(&self, stack: &Stack, database: &str) -> Client {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&stack.pg_socket_dir)
            .port(self.port)
            .user("postgres")
            .dbname(database);
        let (client, connection) = config.connect(NoTls).await.expect("restored admin");
        tokio::spawn(connection);
        client
    }
}

impl Drop for RestoredPg {
    fn drop(&mut self) {
        let _ = as_postgres(&format!("{}/pg_ctl", self.bin))
            .arg("-D")
            .arg(&self.dir)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A second MariaDB server holding a dump of one database of the stack's: what a restore of a
/// MySQL source is, for the drill's data checks (same TLS certificate, same responder user).
/// Stopped and removed on drop.
pub struct RestoredMy {
    pub port: u16,
    dir: std::path::PathBuf,
    server: std::process::Child,
}

impl RestoredMy {
    pub fn from_primary(stack: &Stack, database: &str) -> Self {
        use std::process::{Command, Stdio};
        let base = std::path::PathBuf::from(std::env::var("STACK_DIR").expect("STACK_DIR"));
        let port = Stack::closed_port();
        let dir = base.join(format!("my-restored-{port}"));
        std::fs::create_dir_all(dir.join("data")).expect("data dir");
        std::fs::copy(base.join("mysql/server.key"), dir.join("server.key")).expect("key");
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        let as_mysql: Vec<&str> = if root { vec!["--user=mysql"] } else { vec![] };
        if root {
            let status = Command::new("chown")
                .args(["-R", "mysql:mysql"])
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(status.success());
        }
        let status = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--auth-root-authentication-method=normal"])
            .arg(format!("--datadir={}", dir.join("data").display()))
            .arg("--skip-test-db")
            .args(&as_mysql)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("mariadb-install-db");
        assert!(status.success(), "mariadb-install-db failed");
        let socket = dir.join("mysqld.sock");
        let server = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.join("data").display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--log-error={}", dir.join("mariadb.log").display()))
            .arg(format!(
                "--ssl-cert={}",
                base.join("tls/server.pem").display()
            ))
            .arg(format!("--ssl-key={}", dir.join("server.key").display()))
            .arg(format!("--ssl-ca={}", base.join("tls/ca.pem").display()))
            .args(["--skip-log-bin", "--innodb-buffer-pool-size=16M"])
            .args(&as_mysql)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd");
        let client = |args: &[&str]| {
            let mut c = Command::new("mariadb");
            c.arg("--no-defaults")
                .arg("-S")
                .arg(&socket)
                .args(["-u", "root"])
                .args(args);
            c
        };
        let started = std::time::Instant::now();
        while !client(&["-e", "SELECT 1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the restored MariaDB did not start"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        // The restore: the database dumped from the stack's server, and the responder's user.
        let dump = Command::new("mariadb-dump")
            .arg("--no-defaults")
            .arg("-S")
            .arg(&stack.mysql_socket)
            .args(["-u", "root", "--databases", database])
            .output()
            .expect("mariadb-dump");
        assert!(dump.status.success(), "mariadb-dump failed");
        let mut load = client(&[]).stdin(Stdio::piped()).spawn().expect("mariadb");
        std::io::Write::write_all(load.stdin.as_mut().expect("stdin"), &dump.stdout)
            .expect("load the dump");
        assert!(
            load.wait().is_ok_and(|s| s.success()),
            "loading the dump failed"
        );
        let grants = format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'; GRANT PROCESS ON *.* TO '{user}'@'%'; GRANT SELECT ON `{database}`.* TO '{user}'@'%';",
            user = stack.pg_user,
            password = stack.pg_password,
        );
        assert!(
            client(&["-e", &grants]).status().is_ok_and(|s| s.success()),
            "the responder's user"
        );
        Self { port, dir, server }
    }

    /// Root on the restored server.
    pub async fn admin(&self) -> mysql_async::Conn {
        let opts = mysql_async::OptsBuilder::default()
            .socket(Some(self.dir.join("mysqld.sock").display().to_string()))
            .user(Some("root"));
        mysql_async::Conn::new(opts).await.expect("restored admin")
    }
}

impl Drop for RestoredMy {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
