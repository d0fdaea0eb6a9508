//! Configuration from environment variables: read once at start, failing fast with the name.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::rds::Endpoint;

/// A variable that is missing or breaks its rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {var} {rule}")]
pub struct ConfigError {
    pub var: String,
    pub rule: String,
}

/// The environment, captured once so configuration is testable without touching the process.
#[derive(Debug, Clone, Default)]
pub struct Env(HashMap<String, String>);

impl Env {
    pub fn from_process() -> Self {
        Self(std::env::vars().collect())
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The value, treating an empty string as absent.
    pub fn optional(&self, var: &str) -> Option<&str> {
        self.0
            .get(var)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    pub fn required(&self, var: &str) -> Result<&str, ConfigError> {
        self.optional(var).ok_or_else(|| ConfigError {
            var: var.into(),
            rule: "is required".into(),
        })
    }

    pub fn parse_or<T: FromStr>(
        &self,
        var: &str,
        default: T,
        rule: &str,
    ) -> Result<T, ConfigError> {
        match self.optional(var) {
            None => Ok(default),
            Some(raw) => raw.trim().parse().map_err(|_| ConfigError {
                var: var.into(),
                rule: format!("{rule}, got {raw:?}"),
            }),
        }
    }

    /// A number within `range` (inclusive): out-of-range values are refused, never wrapped.
    pub fn ranged<T>(
        &self,
        var: &str,
        default: T,
        range: std::ops::RangeInclusive<T>,
        unit: &str,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
    {
        let rule = || {
            format!(
                "must be a number of {unit} from {} to {}",
                range.start(),
                range.end()
            )
        };
        let value = self.parse_or(var, default, &rule())?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(ConfigError {
                var: var.into(),
                rule: format!("{}, got {value}", rule()),
            })
        }
    }

    /// `true` or `false` (any case); anything else is refused.
    pub fn flag(&self, var: &str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(var).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if v == "true" => Ok(true),
            Some(v) if v == "false" => Ok(false),
            Some(_) => Err(ConfigError {
                var: var.into(),
                rule: format!(
                    "must be true or false, got {:?}",
                    self.optional(var).unwrap_or_default()
                ),
            }),
        }
    }

    pub fn list(&self, var: &str) -> Vec<String> {
        self.optional(var)
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// What every function needs: where reports go and where the ledger lives.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    pub region: String,
    pub report_topic_arn: String,
    pub report_bucket: String,
    /// Where in the bucket reports are archived (`reports`, or `reports/<account>` in an
    /// organization's central bucket).
    pub report_prefix: String,
    pub ledger_table: String,
    pub metrics_namespace: String,
    /// Events older than this are reported and skipped; `None` disables the check.
    pub max_event_age: Option<Duration>,
    /// Time kept back from the invocation deadline for the report, the ledger and delivery:
    /// no new work starts later than this before the deadline.
    pub deadline_reserve: Duration,
}

impl CommonConfig {
    /// `REPORT_PREFIX`: S3 key segments of letters, digits, `.`, `_` and `-` joined by `/`, at
    /// most 200 characters; no empty, `.` or `..` segment, so a key never climbs out of it.
    fn report_prefix(env: &Env) -> Result<String, ConfigError> {
        let var = "REPORT_PREFIX";
        let raw = env.optional(var).unwrap_or("reports");
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        };
        if raw.len() <= 200 && raw.split('/').all(segment_ok) {
            Ok(raw.to_string())
        } else {
            Err(ConfigError {
                var: var.into(),
                rule: "must be at most 200 characters of key segments (letters, digits, . _ -) \
                       joined by /, none empty, . or .."
                    .into(),
            })
        }
    }

    /// `REPORT_TOPIC_ARN`: an SNS topic ARN in the function's own region. Publish goes to the
    /// region the client is built for, so a topic elsewhere (an organization's central topic of
    /// another region) would fail every report: refused at start, naming both regions.
    fn report_topic(env: &Env, region: &str) -> Result<String, ConfigError> {
        let var = "REPORT_TOPIC_ARN";
        let raw = env.required(var)?;
        let parts: Vec<&str> = raw.splitn(6, ':').collect();
        let refused = |rule: String| ConfigError {
            var: var.into(),
            rule,
        };
        match parts.as_slice() {
            ["arn", partition, "sns", topic_region, account, name]
                if partition.starts_with("aws")
                    && account.len() == 12
                    && account.chars().all(|c| c.is_ascii_digit())
                    && !name.is_empty()
                    && !name.contains(':') =>
            {
                if *topic_region == region {
                    Ok(raw.to_string())
                } else {
                    Err(refused(format!(
                        "must be a topic in this function's region {region}, not {topic_region}: \
                         central reporting has one topic per region (org/central-reporting.yaml \
                         in each)"
                    )))
                }
            }
            _ => Err(refused(
                "must be an SNS topic ARN (arn:<partition>:sns:<region>:<account>:<name>)".into(),
            )),
        }
    }

    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        // 0 disables; at most a week.
        let max_age_secs: u64 =
            env.ranged("MAX_EVENT_AGE_SECONDS", 3600, 0..=604_800, "seconds")?;
        let region = env.required("AWS_REGION")?.to_string();
        Ok(Self {
            report_topic_arn: Self::report_topic(env, &region)?,
            region,
            report_bucket: env.required("REPORT_BUCKET")?.to_string(),
            report_prefix: Self::report_prefix(env)?,
            ledger_table: env.required("LEDGER_TABLE")?.to_string(),
            metrics_namespace: env
                .optional("METRICS_NAMESPACE")
                .unwrap_or("RdsResponder")
                .to_string(),
            max_event_age: (max_age_secs > 0).then(|| Duration::from_secs(max_age_secs)),
            deadline_reserve: Duration::from_secs(env.ranged(
                "DEADLINE_RESERVE_SECONDS",
                10,
                1..=300,
                "seconds",
            )?),
        })
    }
}

/// How the responder proves who it is to the database.
#[derive(Clone, PartialEq, Eq)]
pub enum DbAuth {
    /// RDS IAM authentication: a signed token, valid 15 minutes, per connection.
    Iam,
    /// A password from configuration: for local runs against the local stack.
    Password(String),
}

impl fmt::Debug for DbAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbAuth::Iam => f.write_str("Iam"),
            DbAuth::Password(_) => f.write_str("Password(<redacted>)"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbTls {
    /// Verify the server certificate chain and host name against the CA bundle.
    VerifyFull { ca_bundle: CaBundle },
    /// Plain TCP: local stack only.
    Disable,
}

/// The certificate authorities a database's certificate must chain to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaBundle {
    /// The RDS and RDS Proxy bundle built into the binary (shared/certs/SOURCE): nothing to
    /// download at build or run time.
    Embedded,
    /// A PEM file (`DB_CA_BUNDLE`): a private CA, or the local stack's.
    File(PathBuf),
}

/// `host:port` standing in for an instance's RDS endpoint (local runs and tests only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointOverride {
    pub host: String,
    pub port: u16,
}

/// Database connection settings.
#[derive(Debug, Clone)]
pub struct DbConfig {
    pub user: String,
    pub database: String,
    pub auth: DbAuth,
    pub tls: DbTls,
    pub connect_timeout: Duration,
    /// The longest one statement of the responder may run (PostgreSQL `statement_timeout`;
    /// a client-side bound on MySQL).
    pub statement_timeout: Duration,
    /// DB identifier -> local endpoint. RDS endpoints in moto do not resolve.
    pub endpoint_overrides: EndpointMap,
}

impl DbConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let auth = match env.optional("DB_AUTH").unwrap_or("iam") {
            "iam" => DbAuth::Iam,
            "password" => DbAuth::Password(env.required("DB_PASSWORD")?.to_string()),
            other => {
                return Err(ConfigError {
                    var: "DB_AUTH".into(),
                    rule: format!("must be \"iam\" or \"password\", got {other:?}"),
                })
            }
        };
        let tls = match env.optional("DB_TLS").unwrap_or("verify-full") {
            "verify-full" => DbTls::VerifyFull {
                ca_bundle: match env.optional("DB_CA_BUNDLE").map(str::trim) {
                    None | Some("") => CaBundle::Embedded,
                    Some(path) => CaBundle::File(PathBuf::from(path)),
                },
            },
            "disable" => DbTls::Disable,
            other => {
                return Err(ConfigError {
                    var: "DB_TLS".into(),
                    rule: format!("must be \"verify-full\" or \"disable\", got {other:?}"),
                })
            }
        };
        let timeout_ms: u64 =
            env.ranged("DB_CONNECT_TIMEOUT_MS", 5000, 100..=60_000, "milliseconds")?;
        let statement_timeout_ms: u64 = env.ranged(
            "DB_STATEMENT_TIMEOUT_MS",
            15_000,
            1_000..=600_000,
            "milliseconds",
        )?;
        let endpoint_overrides = EndpointMap::from_env(env)?;
        // An IAM token is signed for the RDS endpoint: sending it to another host hands that host
        // a credential. Overrides exist for local runs, which use a password.
        if !endpoint_overrides.is_empty() && auth == DbAuth::Iam {
            return Err(ConfigError {
                var: "DB_ENDPOINT_OVERRIDES".into(),
                rule: "is only allowed with DB_AUTH=password (an IAM token must never go to another host than the RDS endpoint it is signed for)".into(),
            });
        }
        // MySQL sends IAM tokens with the cleartext plugin: never over an unencrypted connection.
        if auth == DbAuth::Iam && tls == DbTls::Disable {
            return Err(ConfigError {
                var: "DB_TLS".into(),
                rule: "must be verify-full with DB_AUTH=iam (the IAM token would travel in clear)"
                    .into(),
            });
        }
        Ok(Self {
            user: env.required("DB_USER")?.to_string(),
            database: env.optional("DB_NAME").unwrap_or("postgres").to_string(),
            auth,
            tls,
            connect_timeout: Duration::from_millis(timeout_ms),
            statement_timeout: Duration::from_millis(statement_timeout_ms),
            endpoint_overrides,
        })
    }
}

/// Where to connect for each database: its RDS endpoint, unless `DB_ENDPOINT_OVERRIDES` names a
/// local stand-in for it (local runs and tests only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointMap(BTreeMap<String, EndpointOverride>);

impl EndpointMap {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        parse_overrides(env.optional("DB_ENDPOINT_OVERRIDES").unwrap_or("")).map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn get(&self, db_id: &str) -> Option<&EndpointOverride> {
        self.0.get(&db_id.to_ascii_lowercase())
    }

    /// One local stand-in (tests).
    pub fn with(mut self, db_id: &str, host: &str, port: u16) -> Self {
        self.0.insert(
            db_id.to_ascii_lowercase(),
            EndpointOverride {
                host: host.into(),
                port,
            },
        );
        self
    }

    /// Where a connection to `db_id` goes; the credentials stay those of `rds_endpoint`.
    pub fn target_for(&self, db_id: &str, rds_endpoint: &Endpoint) -> ConnectTarget {
        match self.get(db_id) {
            Some(local) => ConnectTarget {
                rds_endpoint: rds_endpoint.clone(),
                address: Endpoint {
                    host: local.host.clone(),
                    port: local.port,
                },
                overridden: true,
            },
            None => ConnectTarget {
                rds_endpoint: rds_endpoint.clone(),
                address: rds_endpoint.clone(),
                overridden: false,
            },
        }
    }
}

/// Where to connect, and the RDS endpoint the credentials are for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConnectTarget {
    /// The endpoint RDS reports: IAM tokens are signed for it.
    pub rds_endpoint: Endpoint,
    /// Where the socket goes: the RDS endpoint, or a local stand-in from DB_ENDPOINT_OVERRIDES.
    pub address: Endpoint,
    pub overridden: bool,
}

/// `orders-db=127.0.0.1:5433,orders-aurora=127.0.0.1:5434`
fn parse_overrides(raw: &str) -> Result<BTreeMap<String, EndpointOverride>, ConfigError> {
    let bad = |entry: &str| ConfigError {
        var: "DB_ENDPOINT_OVERRIDES".into(),
        rule: format!(
            "must be a comma-separated list of <db-identifier>=<host>:<port>, got entry {entry:?}"
        ),
    };
    raw.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let (id, addr) = entry.split_once('=').ok_or_else(|| bad(entry))?;
            let (host, port) = addr.rsplit_once(':').ok_or_else(|| bad(entry))?;
            let port = port.parse().map_err(|_| bad(entry))?;
            if id.is_empty() || host.is_empty() {
                return Err(bad(entry));
            }
            Ok((
                id.to_ascii_lowercase(),
                EndpointOverride {
                    host: host.to_string(),
                    port,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("AWS_REGION", "us-east-1"),
            (
                "REPORT_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:reports",
            ),
            ("REPORT_BUCKET", "reports"),
            ("LEDGER_TABLE", "ledger"),
            ("DB_USER", "rds_responder"),
        ]
    }

    #[test]
    fn the_report_topic_must_be_an_sns_topic_in_the_function_region() {
        let with = |topic: &'static str| {
            let pairs = base()
                .into_iter()
                .map(|(k, v)| (k, if k == "REPORT_TOPIC_ARN" { topic } else { v }));
            CommonConfig::from_env(&Env::from_pairs(pairs))
        };
        let ok = with("arn:aws:sns:us-east-1:111122223333:org-reports").unwrap();
        assert_eq!(
            ok.report_topic_arn,
            "arn:aws:sns:us-east-1:111122223333:org-reports"
        );
        // Another account is fine (a central topic); another region is not.
        let err = with("arn:aws:sns:eu-west-1:111122223333:org-reports").unwrap_err();
        assert_eq!(err.var, "REPORT_TOPIC_ARN");
        assert!(
            err.rule.contains("region us-east-1, not eu-west-1"),
            "{}",
            err.rule
        );
        for bad in [
            "reports",
            "arn:aws:sqs:us-east-1:111122223333:q",
            "arn:aws:sns:us-east-1:1111:short-account",
            "arn:aws:sns:us-east-1:111122223333:",
            // A subscription's ARN, not its topic's.
            "arn:aws:sns:us-east-1:111122223333:t:0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e",
            "arn:other:sns:us-east-1:111122223333:t",
        ] {
            let err = with(bad).unwrap_err();
            assert!(
                err.rule.contains("must be an SNS topic ARN"),
                "{bad}: {}",
                err.rule
            );
        }
        assert!(with("arn:aws-cn:sns:us-east-1:111122223333:t").is_ok());
    }

    #[test]
    fn fails_fast_naming_the_missing_variable() {
        let env = Env::from_pairs(base().into_iter().filter(|(k, _)| *k != "LEDGER_TABLE"));
        let err = CommonConfig::from_env(&env).unwrap_err();
        assert_eq!(err.var, "LEDGER_TABLE");
        assert_eq!(
            err.to_string(),
            "environment variable LEDGER_TABLE is required"
        );
    }

    #[test]
    fn report_prefix_is_reports_or_an_accounts_key_segments() {
        let prefix = |value: Option<&str>| {
            let mut pairs = base();
            if let Some(v) = value {
                pairs.push(("REPORT_PREFIX", v));
            }
            CommonConfig::from_env(&Env::from_pairs(pairs)).map(|c| c.report_prefix)
        };
        assert_eq!(prefix(None).unwrap(), "reports");
        assert_eq!(
            prefix(Some("reports/123456789012")).unwrap(),
            "reports/123456789012"
        );
        let longest = "a".repeat(200);
        assert_eq!(prefix(Some(&longest)).unwrap(), longest);
        // Set but empty reads as unset, like every other setting.
        assert_eq!(prefix(Some("")).unwrap(), "reports");
        for bad in [
            "/reports",
            "reports/",
            "reports//x",
            "reports/../other",
            "reports/.",
            "reports/a b",
            "rapports/é",
            &"a".repeat(201),
        ] {
            let err = prefix(Some(bad)).unwrap_err();
            assert_eq!(err.var, "REPORT_PREFIX", "{bad:?}");
            assert!(err.rule.contains("joined by /"), "{bad:?}: {}", err.rule);
        }
    }

    #[test]
    fn defaults_to_iam_auth_and_tls_verified_against_the_embedded_bundle() {
        let db = DbConfig::from_env(&Env::from_pairs(base())).unwrap();
        assert_eq!(db.auth, DbAuth::Iam);
        assert_eq!(
            db.tls,
            DbTls::VerifyFull {
                ca_bundle: CaBundle::Embedded
            }
        );
        assert_eq!(db.database, "postgres");
        for (set, expected) in [
            ("", CaBundle::Embedded),
            (" ", CaBundle::Embedded),
            ("/etc/ca.pem", CaBundle::File(PathBuf::from("/etc/ca.pem"))),
        ] {
            let mut pairs = base();
            pairs.push(("DB_CA_BUNDLE", set));
            let db = DbConfig::from_env(&Env::from_pairs(pairs)).unwrap();
            assert_eq!(
                db.tls,
                DbTls::VerifyFull {
                    ca_bundle: expected
                }
            );
        }
    }

    #[test]
    fn password_auth_needs_a_password_and_never_prints_it() {
        let mut pairs = base();
        pairs.push(("DB_AUTH", "password"));
        let err = DbConfig::from_env(&Env::from_pairs(pairs.clone())).unwrap_err();
        assert_eq!(err.var, "DB_PASSWORD");
        pairs.push(("DB_PASSWORD", "s3cret-value"));
        let db = DbConfig::from_env(&Env::from_pairs(pairs)).unwrap();
        assert!(!format!("{db:?}").contains("s3cret-value"));
    }

    #[test]
    fn reads_endpoint_overrides_and_refuses_malformed_ones() {
        let mut pairs = base();
        pairs.push(("DB_AUTH", "password"));
        pairs.push(("DB_PASSWORD", "p"));
        pairs.push((
            "DB_ENDPOINT_OVERRIDES",
            "Orders-DB=127.0.0.1:5433, orders-aurora=localhost:6000",
        ));
        let db = DbConfig::from_env(&Env::from_pairs(pairs)).unwrap();
        assert_eq!(
            db.endpoint_overrides.get("orders-db").cloned().unwrap(),
            EndpointOverride {
                host: "127.0.0.1".into(),
                port: 5433
            }
        );
        assert_eq!(
            db.endpoint_overrides.get("orders-aurora").unwrap().port,
            6000
        );

        for bad in [
            "orders-db",
            "orders-db=127.0.0.1",
            "orders-db=host:notaport",
            "=h:1",
        ] {
            let mut pairs = base();
            pairs.push(("DB_AUTH", "password"));
            pairs.push(("DB_PASSWORD", "p"));
            pairs.push(("DB_ENDPOINT_OVERRIDES", bad));
            let err = DbConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
            assert_eq!(err.var, "DB_ENDPOINT_OVERRIDES", "{bad}");
        }
    }

    #[test]
    fn refuses_unknown_modes_and_bad_numbers() {
        for (var, value) in [
            ("DB_AUTH", "kerberos"),
            ("DB_TLS", "prefer"),
            ("DB_CONNECT_TIMEOUT_MS", "soon"),
        ] {
            let mut pairs = base();
            pairs.push((var, value));
            let err = DbConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
            assert_eq!(err.var, var);
            assert!(err.rule.contains(value));
        }
        let mut pairs = base();
        pairs.push(("MAX_EVENT_AGE_SECONDS", "-1"));
        assert_eq!(
            CommonConfig::from_env(&Env::from_pairs(pairs))
                .unwrap_err()
                .var,
            "MAX_EVENT_AGE_SECONDS"
        );
    }

    #[test]
    fn refuses_overrides_unless_password_auth() {
        let mut pairs = base();
        pairs.push(("DB_ENDPOINT_OVERRIDES", "orders-db=127.0.0.1:5433"));
        let err = DbConfig::from_env(&Env::from_pairs(pairs.clone())).unwrap_err();
        assert_eq!(err.var, "DB_ENDPOINT_OVERRIDES");
        assert!(err.rule.contains("DB_AUTH=password"), "{}", err.rule);
        pairs.push(("DB_AUTH", "password"));
        pairs.push(("DB_PASSWORD", "p"));
        assert_eq!(
            DbConfig::from_env(&Env::from_pairs(pairs))
                .unwrap()
                .endpoint_overrides
                .len(),
            1
        );
    }

    #[test]
    fn refuses_iam_tokens_over_plain_connections() {
        let mut pairs = base();
        pairs.push(("DB_TLS", "disable"));
        let err = DbConfig::from_env(&Env::from_pairs(pairs.clone())).unwrap_err();
        assert_eq!(err.var, "DB_TLS");
        assert!(err.rule.contains("DB_AUTH=iam"), "{}", err.rule);
        pairs.push(("DB_AUTH", "password"));
        pairs.push(("DB_PASSWORD", "p"));
        assert_eq!(
            DbConfig::from_env(&Env::from_pairs(pairs)).unwrap().tls,
            DbTls::Disable
        );
    }

    #[test]
    fn numbers_out_of_range_are_refused_at_the_edges() {
        let env = |v: &str| Env::from_pairs([("N", v)]);
        assert_eq!(env("10").ranged("N", 5u64, 1..=10, "things"), Ok(10));
        assert_eq!(env("1").ranged("N", 5u64, 1..=10, "things"), Ok(1));
        assert_eq!(Env::default().ranged("N", 5u64, 1..=10, "things"), Ok(5));
        for bad in ["11", "0", "-1", "18446744073709551616", "1e3", "ten"] {
            let err = env(bad).ranged("N", 5u64, 1..=10, "things").unwrap_err();
            assert_eq!(err.var, "N");
            assert!(err.rule.contains("from 1 to 10"), "{bad}: {}", err.rule);
        }
        let mut pairs = base();
        pairs.push(("MAX_EVENT_AGE_SECONDS", "604801"));
        assert_eq!(
            CommonConfig::from_env(&Env::from_pairs(pairs))
                .unwrap_err()
                .var,
            "MAX_EVENT_AGE_SECONDS"
        );
        for value in ["0", "301", "99999999999999999999"] {
            let mut pairs = base();
            pairs.push(("DEADLINE_RESERVE_SECONDS", value));
            assert_eq!(
                CommonConfig::from_env(&Env::from_pairs(pairs))
                    .unwrap_err()
                    .var,
                "DEADLINE_RESERVE_SECONDS"
            );
        }
        let mut pairs = base();
        pairs.push(("DB_CONNECT_TIMEOUT_MS", "99"));
        assert_eq!(
            DbConfig::from_env(&Env::from_pairs(pairs)).unwrap_err().var,
            "DB_CONNECT_TIMEOUT_MS"
        );
    }

    #[test]
    fn flags_are_true_or_false_only() {
        let env = |v: &str| Env::from_pairs([("F", v)]);
        assert_eq!(env("TRUE").flag("F", false), Ok(true));
        assert_eq!(env("false").flag("F", true), Ok(false));
        assert_eq!(Env::default().flag("F", true), Ok(true));
        for bad in ["yes", "1", "on"] {
            assert_eq!(env(bad).flag("F", false).unwrap_err().var, "F");
        }
    }

    #[test]
    fn zero_disables_the_event_age_limit() {
        let mut pairs = base();
        pairs.push(("MAX_EVENT_AGE_SECONDS", "0"));
        assert_eq!(
            CommonConfig::from_env(&Env::from_pairs(pairs))
                .unwrap()
                .max_event_age,
            None
        );
    }
}
