//! idle-reaper's own settings (the shared ones live in `rds_responder::config`).

use std::time::Duration;

use rds_responder::config::{ConfigError, Env};
use rds_responder::safety::TagGate;
use rds_responder::trigger::{RdsIdentifier, ResourceKind};

use rds_responder::safety::Cidr;

use crate::request::MAX_MINUTES;

/// The rules a run terminates by: how idle, how many, whom never.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub idle: Duration,
    /// `idle in transaction` sessions are considered only when set.
    pub idle_in_transaction: Option<Duration>,
    pub max_sessions: u64,
    /// Of current connections, the largest share one run may terminate.
    pub max_fraction: f64,
    pub protected_users: Vec<String>,
    pub protected_databases: Vec<String>,
    pub protected_applications: Vec<String>,
    pub protected_networks: Vec<Cidr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReaperConfig {
    pub policy: Policy,
    /// Alarm- and schedule-triggered runs only plan when set.
    pub automatic_dry_run: bool,
    /// Opt-out tag (values off/disabled/false/no) and optional opt-in tag on the instance.
    pub gate: TagGate,
    /// The instance an allow-listed alarm without a DB dimension is about (a log-metric "too
    /// many connections" alarm carries none).
    pub default_instance: Option<RdsIdentifier>,
    /// Alarm names (`*` wildcards) acted on besides `AWS/RDS` `DatabaseConnections` alarms.
    pub allowed_alarms: Vec<String>,
    /// Rule or schedule names (`*` wildcards) whose runs act; other scheduled runs only plan.
    pub allowed_schedules: Vec<String>,
}

fn minutes(env: &Env, var: &str, default: u64) -> Result<Duration, ConfigError> {
    let m: u64 = env.ranged(var, default, 0..=MAX_MINUTES, "minutes")?;
    Ok(Duration::from_secs(m * 60))
}

impl ReaperConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let idle_in_transaction = match env.optional("IDLE_IN_TRANSACTION_MINUTES") {
            None => None,
            Some(_) => Some(minutes(env, "IDLE_IN_TRANSACTION_MINUTES", 0)?),
        };
        let fraction: f64 = env.ranged("MAX_FRACTION_OF_CONNECTIONS", 0.5, 0.0..=1.0, "a share")?;
        let networks = env
            .list("PROTECTED_NETWORKS")
            .iter()
            .map(|raw| {
                Cidr::parse(raw).ok_or_else(|| ConfigError {
                    var: "PROTECTED_NETWORKS".into(),
                    rule: format!("must be comma-separated CIDRs like 10.0.0.0/8, got {raw:?}"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let automatic_dry_run = env.flag("AUTOMATIC_DRY_RUN", false)?;
        Ok(Self {
            policy: Policy {
                idle: minutes(env, "IDLE_MINUTES", 10)?,
                idle_in_transaction,
                max_sessions: env.ranged("MAX_SESSIONS_PER_RUN", 100, 1..=10_000, "sessions")?,
                max_fraction: fraction,
                protected_users: env.list("PROTECTED_USERS"),
                protected_databases: env.list("PROTECTED_DATABASES"),
                protected_applications: env.list("PROTECTED_APPLICATIONS"),
                protected_networks: networks,
            },
            automatic_dry_run,
            gate: TagGate::new(
                env.optional("OPT_OUT_TAG"),
                "rds-responder:idle-reaper",
                env.optional("OPT_IN_TAG"),
            ),
            allowed_alarms: env.list("ALLOWED_ALARMS"),
            allowed_schedules: env.list("ALLOWED_SCHEDULES"),
            default_instance: env
                .optional("DEFAULT_DB_INSTANCE")
                .map(|raw| {
                    RdsIdentifier::parse(raw, ResourceKind::DbInstance).map_err(|rule| {
                        ConfigError {
                            var: "DEFAULT_DB_INSTANCE".into(),
                            rule: format!("{rule} (RDS DB instance identifier rules), got {raw:?}"),
                        }
                    })
                })
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_conservative() {
        let config = ReaperConfig::from_env(&Env::default()).unwrap();
        assert_eq!(config.policy.idle, Duration::from_secs(600));
        assert_eq!(config.policy.idle_in_transaction, None);
        assert_eq!(config.policy.max_sessions, 100);
        assert!(!config.automatic_dry_run);
        let edge = ReaperConfig::from_env(&Env::from_pairs([
            ("IDLE_MINUTES", "10080"),
            ("MAX_SESSIONS_PER_RUN", "1"),
        ]))
        .unwrap();
        assert_eq!(edge.policy.idle, Duration::from_secs(10080 * 60));
        assert_eq!(edge.policy.max_sessions, 1);
    }

    #[test]
    fn refuses_bad_values_naming_the_variable() {
        for (var, value) in [
            ("MAX_FRACTION_OF_CONNECTIONS", "1.5"),
            ("PROTECTED_NETWORKS", "10.0.0.0/40"),
            ("IDLE_MINUTES", "ten"),
            ("IDLE_MINUTES", "10081"),
            ("IDLE_MINUTES", "307445734561825861"),
            ("IDLE_IN_TRANSACTION_MINUTES", "-5"),
            ("MAX_SESSIONS_PER_RUN", "0"),
            ("MAX_SESSIONS_PER_RUN", "10001"),
            ("AUTOMATIC_DRY_RUN", "yes"),
            ("DEFAULT_DB_INSTANCE", "1-bad"),
        ] {
            let err = ReaperConfig::from_env(&Env::from_pairs([(var, value)])).unwrap_err();
            assert_eq!(err.var, var);
        }
    }
}
