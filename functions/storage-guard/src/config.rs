//! storage-guard's own settings (the shared ones live in `rds_responder::config`): the
//! ceiling, how far ahead to size, how often to change, who is opted in.

use rds_responder::config::{ConfigError, Env};
use rds_responder::safety::TagGate;
use rds_responder::trigger::{RdsIdentifier, ResourceKind};

use crate::request::MAX_GIB;

/// The tag that opts an instance in (`on`) or out (`off`).
pub const GUARD_TAG: &str = "rds-responder:storage-guard";

/// The numbers the decision is made by.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// No instance is grown (nor its autoscaling maximum raised) past this many GiB.
    pub ceiling_gib: i32,
    /// A change leaves room for this many days of forecast growth.
    pub growth_days: u32,
    /// At most this many storage changes of one instance in any 14 days (ours, autoscaling's
    /// and by hand); the next one is refused and escalated.
    pub max_changes_14_days: usize,
    /// A scheduled sweep acts on an instance forecast to be full within this many hours.
    pub act_within_hours: u32,
    /// An automatic change grows a volume by at most this share (storage never shrinks);
    /// larger ones are requests by hand.
    pub max_grow_percent: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GuardConfig {
    pub limits: Limits,
    /// Alarm-, event- and schedule-triggered runs only plan when set.
    pub automatic_dry_run: bool,
    /// Only instances tagged `rds-responder:storage-guard=on` are changed, by any trigger (the
    /// role's IAM condition is the same rule); the others are forecast and reported.
    pub gate: TagGate,
    pub allowed_alarms: Vec<String>,
    pub default_instance: Option<RdsIdentifier>,
    pub allowed_schedules: Vec<String>,
    /// How often a database busy with another snapshot is looked at again.
    pub snapshot_poll: std::time::Duration,
}

impl GuardConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let ceiling: u32 = env.ranged("MAX_STORAGE_GIB", 1000, 20..=MAX_GIB, "GiB")?;
        let tag = env.optional("GUARD_TAG").unwrap_or(GUARD_TAG);
        Ok(Self {
            limits: Limits {
                ceiling_gib: i32::try_from(ceiling).unwrap_or(i32::MAX),
                growth_days: env.ranged("GROWTH_DAYS", 14, 1..=90, "days")?,
                max_changes_14_days: env.ranged("MAX_CHANGES_14_DAYS", 4, 1..=50, "changes")?,
                act_within_hours: env.ranged("ACT_WITHIN_HOURS", 48, 1..=720, "hours")?,
                max_grow_percent: env.ranged("MAX_GROW_PERCENT", 100, 10..=1000, "percent")?,
            },
            automatic_dry_run: env.flag("AUTOMATIC_DRY_RUN", false)?,
            gate: TagGate::new(Some(tag), GUARD_TAG, Some(tag)),
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
            snapshot_poll: std::time::Duration::from_secs(env.ranged(
                "WAIT_POLL_SECONDS",
                15,
                1..=300,
                "seconds",
            )?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_edges() {
        let config = GuardConfig::from_env(&Env::default()).unwrap();
        assert_eq!(config.limits.ceiling_gib, 1000);
        assert_eq!(config.limits.growth_days, 14);
        assert_eq!(config.limits.max_changes_14_days, 4);
        assert_eq!(config.limits.act_within_hours, 48);
        assert_eq!(config.limits.max_grow_percent, 100);
        assert_eq!(config.gate.opt_in_tag.as_deref(), Some(GUARD_TAG));
        assert!(!config.automatic_dry_run);
        let edge = GuardConfig::from_env(&Env::from_pairs([
            ("MAX_STORAGE_GIB", "65536"),
            ("GROWTH_DAYS", "1"),
            ("GUARD_TAG", "team:storage"),
        ]))
        .unwrap();
        assert_eq!(edge.limits.ceiling_gib, 65536);
        assert_eq!(edge.limits.growth_days, 1);
        assert_eq!(edge.gate.opt_in_tag.as_deref(), Some("team:storage"));
        assert_eq!(edge.gate.opt_out_tag, "team:storage");
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("MAX_STORAGE_GIB", "19"),
            ("MAX_STORAGE_GIB", "65537"),
            ("MAX_STORAGE_GIB", "lots"),
            ("GROWTH_DAYS", "0"),
            ("GROWTH_DAYS", "91"),
            ("MAX_CHANGES_14_DAYS", "0"),
            ("ACT_WITHIN_HOURS", "721"),
            ("MAX_GROW_PERCENT", "9"),
            ("MAX_GROW_PERCENT", "1001"),
            ("AUTOMATIC_DRY_RUN", "maybe"),
            ("DEFAULT_DB_INSTANCE", "1-bad"),
            ("WAIT_POLL_SECONDS", "0"),
        ] {
            let err = GuardConfig::from_env(&Env::from_pairs([(var, value)])).unwrap_err();
            assert_eq!(err.var, var);
        }
    }
}
