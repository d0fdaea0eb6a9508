//! restore-drill's setup, for the demo (and any test that wants it): a DB instance enrolled for
//! drills with a snapshot, its data in a database of its own on the stack's primary, a restore of
//! that data on a second server (`pg_basebackup`, see [`RestoredPg`]), and the environment that
//! points the source at the primary and the drill's scratch instances at the restore.

use chrono::Utc;
use serde_json::{json, Value};

use crate::db::{pg_admin, RestoredPg};
use crate::Fixture;

pub const FUNCTION: &str = "restore-drill";
/// The opt-in tag: `audit` or `drill`.
pub const TAG: &str = "rds-responder:restore-drill";
/// The account-wide cap on live scratch copies counts every deployment's: the tests run side by
/// side in moto's one account, so each allows the most (a test of the cap sets its own).
pub const SHARED_ACCOUNT_CAP: (&str, &str) = ("MAX_CONCURRENT_DRILLS", "20");
/// What a scratch identifier carries between its source's identifier and its minute.
pub const SCRATCH_MARK: &str = "-rr-drill-";

/// Tags instance `db` with [`TAG`]`=value`.
pub async fn tag(fixture: &Fixture, db: &str, value: &str) {
    fixture.tag_instance(db, &[(TAG, value)]).await;
}

/// A manual snapshot `id` of instance `db`.
pub async fn snapshot(fixture: &Fixture, db: &str, id: &str) {
    fixture
        .aws
        .rds
        .create_db_snapshot()
        .db_instance_identifier(db)
        .db_snapshot_identifier(id)
        .send()
        .await
        .expect("snapshot");
}

/// Every DB instance moto lists, every page (the whole suite's instances outnumber one).
pub async fn instance_ids(fixture: &Fixture) -> Vec<String> {
    let mut ids = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = fixture
            .aws
            .rds
            .describe_db_instances()
            .set_marker(marker.take())
            .send()
            .await
            .expect("describe DB instances");
        ids.extend(
            page.db_instances()
                .iter()
                .filter_map(|d| d.db_instance_identifier().map(str::to_string)),
        );
        match page.marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_string()),
            _ => return ids,
        }
    }
}

/// The DB instances moto lists named as scratch instances of a drill of `db`.
pub async fn scratch_of(fixture: &Fixture, db: &str) -> Vec<String> {
    let head = format!("{db}{SCRATCH_MARK}");
    instance_ids(fixture)
        .await
        .into_iter()
        .filter(|id| id.starts_with(&head))
        .collect()
}

/// A new database on the primary with `rows` orders and an empty `audit_log`, readable by the
/// function's role; returns its name.
pub async fn source_data(fixture: &Fixture, rows: i64) -> String {
    let admin = pg_admin(&fixture.stack).await;
    let database = format!("drill_{}", fixture.suffix);
    admin
        .batch_execute(&format!("CREATE DATABASE {database}"))
        .await
        .expect("create database");
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(&fixture.stack.pg_socket_dir)
        .port(fixture.stack.pg_port)
        .user("postgres")
        .dbname(&database);
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "CREATE TABLE orders (id bigint PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now());
             INSERT INTO orders (id) SELECT g FROM generate_series(1, {rows}) g;
             CREATE TABLE audit_log (id bigint);
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO {user};",
            user = fixture.stack.pg_user
        ))
        .await
        .expect("source data");
    database
}

/// `DRILL_CHECKS` for [`source_data`]'s tables: both tables, a SQL check, the newest order.
pub fn orders_checks() -> Value {
    json!({"*": {"tables": ["public.orders", "public.audit_log"],
        "sql": {"orders exist": "SELECT count(*) > 0 FROM orders"},
        "newest": "public.orders.created_at"}})
}

/// RDS-EVENT-0043 (restored from a snapshot) for instance `scratch`, as EventBridge sends it.
pub fn restored_event(scratch: &str) -> Value {
    let arn = format!("arn:aws:rds:us-east-1:123456789012:db:{scratch}");
    json!({
        "version": "0", "id": format!("ev-{scratch}"), "detail-type": "RDS DB Instance Event",
        "source": "aws.rds", "account": "123456789012", "time": Utc::now().to_rfc3339(),
        "region": "us-east-1", "resources": [arn],
        "detail": {"EventCategories": ["restoration"], "SourceType": "DB_INSTANCE",
            "SourceArn": arn, "Date": Utc::now().to_rfc3339(),
            "Message": "Restored from snapshot", "SourceIdentifier": scratch,
            "EventID": "RDS-EVENT-0043"}
    })
}

/// A database enrolled for drills, with real data and a real restore of it.
pub struct DrillSource {
    /// The DB instance in moto.
    pub db: String,
    /// Its database on the primary (and in the restore).
    pub database: String,
    /// The restored copy; stopped and removed on drop.
    pub restored: RestoredPg,
}

impl DrillSource {
    /// Tags instance `db` (already in moto) `drill`, snapshots it as `<db>-nightly`, puts
    /// [`source_data`] on the primary and restores it to a second server.
    pub async fn prepare(fixture: &Fixture, db: &str, rows: i64) -> Self {
        tag(fixture, db, "drill").await;
        snapshot(fixture, db, &format!("{db}-nightly")).await;
        let database = source_data(fixture, rows).await;
        let restored = RestoredPg::from_primary(&fixture.stack);
        Self {
            db: db.to_string(),
            database,
            restored,
        }
    }

    /// The function's environment: the source on the primary, each of `scratch` on the
    /// restore, the source's database, and `checks` as `DRILL_CHECKS`.
    pub fn env(
        &self,
        fixture: &Fixture,
        scratch: &[String],
        checks: &Value,
    ) -> Vec<(String, String)> {
        let mut overrides = vec![format!("{}=localhost:{}", self.db, fixture.stack.pg_port)];
        overrides.extend(
            scratch
                .iter()
                .map(|s| format!("{s}=localhost:{}", self.restored.port)),
        );
        fixture.function_env(&[
            ("DB_ENDPOINT_OVERRIDES", &overrides.join(",")),
            ("DB_NAME", &self.database),
            ("DRILL_CHECKS", &checks.to_string()),
            SHARED_ACCOUNT_CAP,
        ])
    }
}

/// [`source_data`] on the stack's MariaDB: database `drill_<suffix>` with `rows` orders and an
/// empty `audit_log`, readable by the function's user; returns its name.
pub async fn mysql_source_data(fixture: &Fixture, rows: i64) -> String {
    use mysql_async::prelude::Queryable;
    let mut admin = crate::db::mysql_admin(&fixture.stack).await;
    let database = format!("drill_{}", fixture.suffix);
    let values: Vec<String> = (1..=rows).map(|n| format!("({n})")).collect();
    admin
        .query_drop(format!(
            "CREATE DATABASE `{database}`;
             CREATE TABLE `{database}`.orders (id BIGINT PRIMARY KEY, created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6));
             INSERT INTO `{database}`.orders (id) VALUES {};
             CREATE TABLE `{database}`.audit_log (id BIGINT);
             GRANT SELECT ON `{database}`.* TO '{user}'@'%';",
            values.join(","),
            user = fixture.stack.pg_user
        ))
        .await
        .expect("MySQL source data");
    database
}

/// [`orders_checks`] for a MySQL source: a table's schema is its database.
pub fn mysql_orders_checks(database: &str) -> Value {
    json!({"*": {"tables": [format!("{database}.orders"), format!("{database}.audit_log")],
        "sql": {"orders exist": "SELECT count(*) > 0 FROM orders"},
        "newest": format!("{database}.orders.created_at")}})
}
