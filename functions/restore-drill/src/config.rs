//! restore-drill's own settings (the shared ones live in `rds_responder::config`): the targets
//! recovery is measured against, who is opted in, what a drill restores to and checks.

use std::collections::BTreeMap;

use serde::Deserialize;

use rds_responder::config::{ConfigError, Env};
use rds_responder::sql::verify::{DataSpec, SqlCheck, TableRef};
use rds_responder::trigger::TableName;

/// The tag that opts a database in: `audit` (its recovery point is audited) or `drill` (audited
/// and drilled); an off value (`off`, `false`...) opts it out.
pub const DRILL_TAG: &str = "rds-responder:restore-drill";

/// How a drill's data checks judge one database.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckPlan {
    pub spec: DataSpec,
    /// A restored table's rows may differ from the source's by this share (the source kept
    /// changing since the recovery point).
    pub row_tolerance_percent: f64,
    /// Reads of the restored copy slower than this many times the source's mean its volume is
    /// still loading: not usable yet.
    pub slow_read_factor: f64,
}

impl Default for CheckPlan {
    fn default() -> Self {
        Self {
            spec: DataSpec::default(),
            row_tolerance_percent: 5.0,
            slow_read_factor: 3.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DrillConfig {
    pub tag: String,
    pub rpo_target: chrono::Duration,
    pub rto_target: chrono::Duration,
    /// A newest snapshot older than this is a cause (automated snapshots are daily).
    pub snapshot_max_age: chrono::Duration,
    /// DynamoDB tables whose point-in-time recovery is audited.
    pub audit_tables: Vec<TableName>,
    /// DynamoDB tables drilled (audited too): restored to a scratch table, counted, deleted.
    pub drill_tables: Vec<TableName>,
    /// A table drill counts at most this many items on each side (a scan reads the whole
    /// table: past it the counts are reported as lower bounds).
    pub max_scan_items: u64,
    pub instance_class: String,
    pub max_concurrent: usize,
    /// A drill not finished by then fails; its scratch instance expires then.
    pub deadline: chrono::Duration,
    /// Per database identifier, `*` for the rest.
    pub checks: BTreeMap<String, CheckPlan>,
    pub automatic_dry_run: bool,
    pub allowed_schedules: Vec<String>,
    /// AWS Backup restore testing plans (ARNs) whose restores are validated.
    pub restore_testing_plans: Vec<String>,
}

/// `DRILL_CHECKS`: `{"*": {...}, "orders-db": {"tables": ["public.orders"], "sql": {"has
/// customers": "SELECT count(*) > 0 FROM customers"}, "newest": "public.orders.created_at",
/// "row_tolerance_percent": 5, "slow_read_factor": 3}}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    #[serde(default)]
    tables: Vec<String>,
    #[serde(default)]
    sql: BTreeMap<String, String>,
    #[serde(default)]
    newest: Option<String>,
    #[serde(default)]
    row_tolerance_percent: Option<f64>,
    #[serde(default)]
    slow_read_factor: Option<f64>,
}

const MAX_TABLES: usize = 50;
const MAX_SQL_CHECKS: usize = 20;
const MAX_SQL_CHARS: usize = 4000;

fn bad(rule: String) -> ConfigError {
    ConfigError {
        var: "DRILL_CHECKS".into(),
        rule,
    }
}

/// A plain SQL identifier: 1-63 letters, digits, `_` or `$`, not starting with a digit.
fn identifier(raw: &str) -> bool {
    let mut chars = raw.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && raw.len() <= 63
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

fn table_ref(at: &str, raw: &str) -> Result<TableRef, ConfigError> {
    match raw.split('.').collect::<Vec<_>>().as_slice() {
        [schema, table] if identifier(schema) && identifier(table) => Ok(TableRef {
            schema: (*schema).to_string(),
            table: (*table).to_string(),
        }),
        _ => Err(bad(format!(
            "{at} must be schema.table (plain identifiers), got {raw:?}"
        ))),
    }
}

fn plan(db: &str, raw: RawPlan) -> Result<CheckPlan, ConfigError> {
    if raw.tables.len() > MAX_TABLES || raw.sql.len() > MAX_SQL_CHECKS {
        return Err(bad(format!(
            "{db}: at most {MAX_TABLES} tables and {MAX_SQL_CHECKS} SQL checks"
        )));
    }
    let tables = raw
        .tables
        .iter()
        .map(|t| table_ref(&format!("{db}.tables"), t))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sql_checks = Vec::new();
    for (name, sql) in raw.sql {
        if name.trim().is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control)
        {
            return Err(bad(format!(
                "{db}.sql: a check's name is 1-64 characters on one line, got {name:?}"
            )));
        }
        if sql.trim().is_empty() || sql.chars().count() > MAX_SQL_CHARS {
            return Err(bad(format!(
                "{db}.sql.{name}: the SQL is 1-{MAX_SQL_CHARS} characters"
            )));
        }
        sql_checks.push(SqlCheck { name, sql });
    }
    let newest = raw
        .newest
        .as_deref()
        .map(|raw| match raw.rsplit_once('.') {
            Some((table, column)) if identifier(column) => Ok((
                table_ref(&format!("{db}.newest"), table)?,
                column.to_string(),
            )),
            _ => Err(bad(format!(
                "{db}.newest must be schema.table.column, got {raw:?}"
            ))),
        })
        .transpose()?;
    let defaults = CheckPlan::default();
    let tolerance = raw
        .row_tolerance_percent
        .unwrap_or(defaults.row_tolerance_percent);
    if !(0.0..=50.0).contains(&tolerance) {
        return Err(bad(format!(
            "{db}.row_tolerance_percent must be 0-50, got {tolerance}"
        )));
    }
    let factor = raw.slow_read_factor.unwrap_or(defaults.slow_read_factor);
    if !(1.0..=100.0).contains(&factor) {
        return Err(bad(format!(
            "{db}.slow_read_factor must be 1-100, got {factor}"
        )));
    }
    Ok(CheckPlan {
        spec: DataSpec {
            tables,
            sql_checks,
            newest,
        },
        row_tolerance_percent: tolerance,
        slow_read_factor: factor,
    })
}

fn parse_checks(raw: &str) -> Result<BTreeMap<String, CheckPlan>, ConfigError> {
    if raw.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let plans: BTreeMap<String, RawPlan> = serde_json::from_str(raw).map_err(|e| {
        bad(format!(
            "must be a JSON object of database identifier (or \"*\") to checks: {e}"
        ))
    })?;
    plans
        .into_iter()
        .map(|(db, raw)| Ok((db.to_ascii_lowercase(), plan(&db, raw)?)))
        .collect()
}

/// At most this many restore testing plans are validated (a sweep lists each one's jobs).
const MAX_PLANS: usize = 20;

/// `RESTORE_TESTING_PLANS`: restore testing plan ARNs
/// (`arn:aws:backup:<region>:<account>:restore-testing-plan:<id>`), comma-separated: Backup's
/// events and its job listings name a plan by its ARN.
fn restore_testing_plans(env: &Env) -> Result<Vec<String>, ConfigError> {
    let var = "RESTORE_TESTING_PLANS";
    let plans = env.list(var);
    if plans.len() > MAX_PLANS {
        return Err(ConfigError {
            var: var.into(),
            rule: format!("names {} plans: at most {MAX_PLANS}", plans.len()),
        });
    }
    for plan in &plans {
        let parts: Vec<&str> = plan.splitn(7, ':').collect();
        let ok = matches!(parts.as_slice(),
            ["arn", _, "backup", region, account, "restore-testing-plan", id]
                if !region.is_empty()
                    && account.len() == 12
                    && account.chars().all(|c| c.is_ascii_digit())
                    && (1..=256).contains(&id.len())
                    && !id.contains(char::is_whitespace));
        if !ok {
            return Err(ConfigError {
                var: var.into(),
                rule: format!(
                    "{plan:?} is not a restore testing plan ARN (arn:aws:backup:<region>:<account>:restore-testing-plan:<id>)"
                ),
            });
        }
    }
    Ok(plans)
}

impl DrillConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let minutes = |m: u32| chrono::Duration::minutes(i64::from(m));
        let tables = |var: &str| {
            env.list(var)
                .iter()
                .map(|t| {
                    TableName::parse(t).map_err(|rule| ConfigError {
                        var: var.into(),
                        rule: format!("{t:?} {rule}"),
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let drill_tables = tables("DRILL_TABLES")?;
        let mut audit_tables = tables("AUDIT_TABLES")?;
        for t in &drill_tables {
            if !audit_tables.contains(t) {
                audit_tables.push(t.clone());
            }
        }
        let instance_class = env
            .optional("DRILL_INSTANCE_CLASS")
            .unwrap_or("db.t4g.medium");
        if !instance_class.starts_with("db.")
            || instance_class.len() > 40
            || !instance_class
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.')
        {
            return Err(ConfigError {
                var: "DRILL_INSTANCE_CLASS".into(),
                rule: format!(
                    "must be a DB instance class like db.t4g.medium, got {instance_class:?}"
                ),
            });
        }
        Ok(Self {
            tag: env.optional("DRILL_TAG").unwrap_or(DRILL_TAG).to_string(),
            rpo_target: minutes(env.ranged("RPO_TARGET_MINUTES", 15, 1..=1440, "minutes")?),
            rto_target: minutes(env.ranged("RTO_TARGET_MINUTES", 60, 5..=1440, "minutes")?),
            snapshot_max_age: chrono::Duration::hours(i64::from(env.ranged(
                "SNAPSHOT_MAX_AGE_HOURS",
                26u32,
                1..=720,
                "hours",
            )?)),
            audit_tables,
            drill_tables,
            max_scan_items: env.ranged(
                "DRILL_MAX_SCAN_ITEMS",
                1_000_000u64,
                1_000..=100_000_000,
                "items",
            )?,
            instance_class: instance_class.to_string(),
            max_concurrent: env.ranged("MAX_CONCURRENT_DRILLS", 2, 1..=20, "drills")?,
            deadline: minutes(env.ranged("DRILL_DEADLINE_MINUTES", 180, 30..=1440, "minutes")?),
            checks: parse_checks(env.optional("DRILL_CHECKS").unwrap_or(""))?,
            automatic_dry_run: env.flag("AUTOMATIC_DRY_RUN", false)?,
            allowed_schedules: env.list("ALLOWED_SCHEDULES"),
            restore_testing_plans: restore_testing_plans(env)?,
        })
    }

    /// The checks of one database: its own, else `*`'s, else only what every drill checks.
    pub fn checks_for(&self, db: &str) -> CheckPlan {
        self.checks
            .get(&db.to_ascii_lowercase())
            .or_else(|| self.checks.get("*"))
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_edges() {
        let c = DrillConfig::from_env(&Env::default()).unwrap();
        assert_eq!(c.rpo_target, chrono::Duration::minutes(15));
        assert_eq!(c.rto_target, chrono::Duration::minutes(60));
        assert_eq!(c.max_concurrent, 2);
        assert_eq!(c.deadline, chrono::Duration::minutes(180));
        assert_eq!(c.instance_class, "db.t4g.medium");
        assert_eq!(c.tag, DRILL_TAG);
        assert_eq!(c.checks_for("any"), CheckPlan::default());
        assert_eq!(c.max_scan_items, 1_000_000);
        let c = DrillConfig::from_env(&Env::from_pairs([
            ("RPO_TARGET_MINUTES", "1440"),
            ("AUDIT_TABLES", "orders, sessions"),
            ("DRILL_TABLES", "carts, orders"),
            (
                "DRILL_CHECKS",
                r#"{"*": {"tables": ["public.a"]}, "Orders-DB": {"tables": ["public.orders"],
                   "sql": {"has customers": "SELECT count(*) > 0 FROM customers"},
                   "newest": "public.orders.created_at", "row_tolerance_percent": 0}}"#,
            ),
        ]))
        .unwrap();
        assert_eq!(c.rpo_target, chrono::Duration::minutes(1440));
        // A drilled table is audited too, once.
        assert_eq!(c.audit_tables.len(), 3);
        assert_eq!(c.drill_tables.len(), 2);
        let orders = c.checks_for("orders-db");
        assert_eq!(orders.spec.tables[0].to_string(), "public.orders");
        assert_eq!(orders.spec.sql_checks[0].name, "has customers");
        assert_eq!(orders.spec.newest.as_ref().unwrap().1, "created_at");
        assert_eq!(orders.row_tolerance_percent, 0.0);
        assert_eq!(c.checks_for("other").spec.tables[0].table, "a");
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("RPO_TARGET_MINUTES", "0"),
            ("RPO_TARGET_MINUTES", "1441"),
            ("RTO_TARGET_MINUTES", "4"),
            ("SNAPSHOT_MAX_AGE_HOURS", "721"),
            ("MAX_CONCURRENT_DRILLS", "0"),
            ("MAX_CONCURRENT_DRILLS", "21"),
            ("DRILL_DEADLINE_MINUTES", "29"),
            ("DRILL_INSTANCE_CLASS", "t4g.medium"),
            ("DRILL_INSTANCE_CLASS", "db.t4g.medium; drop"),
            ("AUDIT_TABLES", "bad table!"),
            ("DRILL_TABLES", "x"),
            ("DRILL_MAX_SCAN_ITEMS", "999"),
            ("DRILL_MAX_SCAN_ITEMS", "100000001"),
            ("AUTOMATIC_DRY_RUN", "maybe"),
            ("DRILL_CHECKS", "[1]"),
            ("DRILL_CHECKS", r#"{"*": {"tables": ["orders"]}}"#),
            ("DRILL_CHECKS", r#"{"*": {"tables": ["public.or\"ders"]}}"#),
            ("DRILL_CHECKS", r#"{"*": {"newest": "public.orders"}}"#),
            ("DRILL_CHECKS", r#"{"*": {"sql": {"x": " "}}}"#),
            ("DRILL_CHECKS", r#"{"*": {"row_tolerance_percent": 51}}"#),
            ("DRILL_CHECKS", r#"{"*": {"slow_read_factor": 0.5}}"#),
            ("DRILL_CHECKS", r#"{"*": {"unknown": 1}}"#),
        ] {
            let err = DrillConfig::from_env(&Env::from_pairs([(var, value)])).unwrap_err();
            assert_eq!(err.var, var, "{value}");
        }
    }
}
