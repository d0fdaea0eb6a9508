//! snapshotter's own settings (the shared ones live in `rds_responder::config`).

use std::time::Duration;

use rds_responder::config::{ConfigError, Env};
use rds_responder::safety::TagGate;
use rds_responder::trigger::TableName;

use crate::request::{Retention, KEEP_NEWEST, MAX_AGE_DAYS, MAX_DELETES};

#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotterConfig {
    /// Opt-in tag (`rds-responder:snapshot=true`) for scheduled runs without a target list;
    /// opt-out tag (`rds-responder:snapshotter=off`) always wins.
    pub gate: TagGate,
    /// DynamoDB tables backed up by scheduled runs without their own `tables`.
    pub tables: Vec<TableName>,
    pub retention: Retention,
    /// How many databases or tables a run works on at once.
    pub concurrency: usize,
    /// Turn point-in-time recovery on where it is off (otherwise only reported).
    pub enable_pitr: bool,
    /// Scheduled runs only plan (snapshots and deletes) when set.
    pub automatic_dry_run: bool,
    /// Schedule names (`*` wildcards) whose runs may delete; other schedules' deletes only plan.
    pub allowed_schedules: Vec<String>,
    /// Between two looks at a snapshot a caller waits for.
    pub wait_poll: Duration,
    /// PITR restorable time further behind than this is a warning.
    pub pitr_max_lag: Duration,
}

impl SnapshotterConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let tables = env
            .list("TABLES")
            .iter()
            .map(|raw| {
                TableName::parse(raw).map_err(|rule| ConfigError {
                    var: "TABLES".into(),
                    rule: format!("{rule} (DynamoDB table names), got {raw:?}"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let keep_newest: u32 = env.ranged("RETENTION_KEEP_NEWEST", 7, KEEP_NEWEST, "snapshots")?;
        let max_age_days: u32 = env.ranged("RETENTION_MAX_AGE_DAYS", 35, MAX_AGE_DAYS, "days")?;
        let max_deletes: u32 = env.ranged("MAX_DELETES_PER_RUN", 50, MAX_DELETES, "deletions")?;
        let concurrency: u32 = env.ranged("CONCURRENCY", 4, 1..=16, "parallel requests")?;
        let wait_poll: u64 = env.ranged("WAIT_POLL_SECONDS", 15, 1..=300, "seconds")?;
        let pitr_lag: u64 = env.ranged("PITR_MAX_LAG_MINUTES", 15, 1..=1440, "minutes")?;
        Ok(Self {
            gate: TagGate {
                opt_in_tag: Some(
                    env.optional("OPT_IN_TAG")
                        .unwrap_or("rds-responder:snapshot")
                        .trim()
                        .to_string(),
                ),
                opt_out_tag: env
                    .optional("OPT_OUT_TAG")
                    .unwrap_or("rds-responder:snapshotter")
                    .trim()
                    .to_string(),
            },
            tables,
            retention: Retention {
                keep_newest: keep_newest as usize,
                max_age_days: i64::from(max_age_days),
                max_deletes: max_deletes as usize,
            },
            concurrency: concurrency as usize,
            enable_pitr: env.flag("ENABLE_PITR", false)?,
            automatic_dry_run: env.flag("AUTOMATIC_DRY_RUN", false)?,
            allowed_schedules: env.list("ALLOWED_SCHEDULES"),
            wait_poll: Duration::from_secs(wait_poll),
            pitr_max_lag: Duration::from_secs(pitr_lag * 60),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_keep_seven_for_thirty_five_days_four_at_a_time() {
        let config = SnapshotterConfig::from_env(&Env::default()).unwrap();
        assert_eq!(
            config.retention,
            Retention {
                keep_newest: 7,
                max_age_days: 35,
                max_deletes: 50
            }
        );
        assert_eq!(config.concurrency, 4);
        assert!(!config.enable_pitr);
        assert_eq!(
            config.gate.opt_in_tag.as_deref(),
            Some("rds-responder:snapshot")
        );
        assert!(config.allowed_schedules.is_empty());
        let edges = SnapshotterConfig::from_env(&Env::from_pairs([
            ("RETENTION_KEEP_NEWEST", "1"),
            ("RETENTION_MAX_AGE_DAYS", "3650"),
            ("MAX_DELETES_PER_RUN", "0"),
            ("CONCURRENCY", "16"),
            ("TABLES", "orders, sessions.v2"),
        ]))
        .unwrap();
        assert_eq!(edges.retention.keep_newest, 1);
        assert_eq!(edges.retention.max_age_days, 3650);
        assert_eq!(edges.retention.max_deletes, 0);
        assert_eq!(edges.concurrency, 16);
        assert_eq!(edges.tables.len(), 2);
    }

    #[test]
    fn refuses_bad_values_naming_the_variable() {
        for (var, value) in [
            ("RETENTION_KEEP_NEWEST", "0"),
            ("RETENTION_KEEP_NEWEST", "1001"),
            ("RETENTION_MAX_AGE_DAYS", "0"),
            ("RETENTION_MAX_AGE_DAYS", "3651"),
            ("MAX_DELETES_PER_RUN", "10001"),
            ("MAX_DELETES_PER_RUN", "-1"),
            ("CONCURRENCY", "0"),
            ("CONCURRENCY", "17"),
            ("WAIT_POLL_SECONDS", "0"),
            ("PITR_MAX_LAG_MINUTES", "1441"),
            ("ENABLE_PITR", "maybe"),
            ("TABLES", "ok-table,x"),
            ("TABLES", "bad table"),
        ] {
            let err = SnapshotterConfig::from_env(&Env::from_pairs([(var, value)])).unwrap_err();
            assert_eq!(err.var, var, "{var}={value}");
        }
    }
}
