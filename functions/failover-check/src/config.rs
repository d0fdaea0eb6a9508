//! failover-check's own settings (the shared ones live in `rds_responder::config`).

use std::time::Duration;

use rds_responder::config::{ConfigError, Env};
use rds_responder::trigger::TableName;

#[derive(Debug, Clone, PartialEq)]
pub struct FailoverConfig {
    /// `DatabaseConnections` outside this range after a failover is worth a warning.
    pub connections_normal: Option<(f64, f64)>,
    /// DynamoDB tables whose table and GSIs must be ACTIVE (the seed runbook's GSI check).
    pub dynamodb_tables: Vec<TableName>,
    pub recent_events_minutes: i32,
    /// Longest wait for status `available`; the invocation deadline bounds it too.
    pub available_wait: Duration,
    /// Kept after the wait for DNS, the connection probe and the reads that follow it
    /// ([`Self::with_database`] derives it from the connect timeout).
    pub after_wait: Duration,
}

impl FailoverConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            connections_normal: env
                .optional("CONNECTIONS_NORMAL_RANGE")
                .map(|raw| parse_range("CONNECTIONS_NORMAL_RANGE", raw))
                .transpose()?,
            dynamodb_tables: env
                .list("CHECK_DYNAMODB_TABLES")
                .iter()
                .map(|raw| {
                    TableName::parse(raw).map_err(|rule| ConfigError {
                        var: "CHECK_DYNAMODB_TABLES".into(),
                        rule: format!("holds {raw:?}, which {rule} (DynamoDB table names)"),
                    })
                })
                .collect::<Result<_, _>>()?,
            // DescribeEvents looks back at most 14 days.
            recent_events_minutes: env.ranged(
                "RECENT_EVENTS_MINUTES",
                60,
                1..=20_160,
                "minutes",
            )?,
            // Lambda runs for at most 15 minutes.
            available_wait: Duration::from_secs(env.ranged(
                "AVAILABLE_WAIT_SECONDS",
                600,
                0..=900,
                "seconds",
            )?),
            after_wait: after_wait(Duration::from_millis(5000)),
        })
    }

    /// The room kept after the wait, for this connect timeout.
    pub fn with_database(mut self, connect_timeout: Duration) -> Self {
        self.after_wait = after_wait(connect_timeout);
        self
    }
}

/// The probe (connect and two statements, bounded by twice the connect timeout), the DNS
/// lookup and two seconds for the alarm and event reads.
fn after_wait(connect_timeout: Duration) -> Duration {
    connect_timeout * 2 + rds_responder::dns::LOOKUP_TIMEOUT + Duration::from_secs(2)
}

/// `min-max`, both numbers, min <= max.
fn parse_range(var: &str, raw: &str) -> Result<(f64, f64), ConfigError> {
    let bad = || ConfigError {
        var: var.into(),
        rule: format!("must be <min>-<max> with 0 <= min <= max, got {raw:?}"),
    };
    let (min, max) = raw.split_once('-').ok_or_else(bad)?;
    let min: f64 = min.trim().parse().map_err(|_| bad())?;
    let max: f64 = max.trim().parse().map_err(|_| bad())?;
    if !(0.0..=max).contains(&min) {
        return Err(bad());
    }
    Ok((min, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_range_tables_and_defaults() {
        let env = Env::from_pairs([
            ("CONNECTIONS_NORMAL_RANGE", "1-400"),
            ("CHECK_DYNAMODB_TABLES", "orders, sessions"),
        ]);
        let config = FailoverConfig::from_env(&env).unwrap();
        assert_eq!(config.connections_normal, Some((1.0, 400.0)));
        let names: Vec<&str> = config.dynamodb_tables.iter().map(|t| t.as_str()).collect();
        assert_eq!(names, vec!["orders", "sessions"]);
        assert_eq!(config.recent_events_minutes, 60);
        assert_eq!(config.available_wait, Duration::from_secs(600));
    }

    #[test]
    fn refuses_table_names_dynamodb_would_refuse() {
        for raw in ["ab", "orders,sessions table", "orders,s:1"] {
            let err = FailoverConfig::from_env(&Env::from_pairs([("CHECK_DYNAMODB_TABLES", raw)]))
                .unwrap_err();
            assert_eq!(err.var, "CHECK_DYNAMODB_TABLES", "{raw}");
        }
    }

    #[test]
    fn refuses_numbers_outside_their_range() {
        for (var, value) in [
            ("RECENT_EVENTS_MINUTES", "0"),
            ("RECENT_EVENTS_MINUTES", "20161"),
            ("AVAILABLE_WAIT_SECONDS", "901"),
        ] {
            let err = FailoverConfig::from_env(&Env::from_pairs([(var, value)])).unwrap_err();
            assert_eq!(err.var, var, "{value}");
        }
    }

    #[test]
    fn refuses_a_backwards_or_malformed_range() {
        for raw in ["400-1", "a-b", "12", "-5-3"] {
            let err =
                FailoverConfig::from_env(&Env::from_pairs([("CONNECTIONS_NORMAL_RANGE", raw)]))
                    .unwrap_err();
            assert_eq!(err.var, "CONNECTIONS_NORMAL_RANGE", "{raw}");
        }
    }
}
