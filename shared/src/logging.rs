//! Structured logs: JSON when Lambda's `AWS_LAMBDA_LOG_FORMAT=JSON`, text otherwise. A JSON
//! line carries `timestamp`, `level`, `message` and `requestId` at the top level, as Lambda's
//! own JSON lines do, so one query (and one log-group subscription filter) reads them all.
//!
//! The level comes from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` for our own crates only: every
//! dependency is capped at INFO whatever those say, because below that the AWS SigV4 signer logs
//! canonical requests with the session token, and the HTTP and TLS stacks log raw traffic.

use std::sync::Mutex;

use serde_json::{Map, Value};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The invocation being served (one at a time per process), for the `requestId` of its lines.
static REQUEST_ID: Mutex<Option<String>> = Mutex::new(None);

/// Names the invocation the following lines belong to (`None` between invocations).
pub fn set_request_id(request_id: Option<&str>) {
    if let Ok(mut current) = REQUEST_ID.lock() {
        *current = request_id.map(str::to_string);
    }
}

/// Names the invocation for as long as it lives; clears it when dropped (the run ended, or its
/// future was dropped).
pub struct RequestScope(());

impl RequestScope {
    pub fn enter(request_id: &str) -> Self {
        set_request_id(Some(request_id));
        Self(())
    }
}

impl Drop for RequestScope {
    fn drop(&mut self) {
        set_request_id(None);
    }
}

fn request_id() -> Option<String> {
    REQUEST_ID.lock().ok().and_then(|current| current.clone())
}

/// One JSON log line: timestamp (RFC 3339, milliseconds, UTC), level, message, requestId
/// (when serving an invocation), then the event's other fields.
pub fn json_line(
    level: &str,
    message: &str,
    fields: Map<String, Value>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let mut line = Map::new();
    line.insert(
        "timestamp".into(),
        now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            .into(),
    );
    line.insert("level".into(), level.into());
    line.insert("message".into(), message.into());
    if let Some(id) = request_id() {
        line.insert("requestId".into(), id.into());
    }
    for (name, value) in fields {
        line.entry(name).or_insert(value);
    }
    Value::Object(line).to_string()
}

/// An init failure, in the shape of every other line (JSON or text as configured), on stderr.
pub fn init_failure(error: &str) {
    if json_format() {
        eprintln!(
            "{}",
            json_line(
                "FATAL",
                &format!("init failed: {error}"),
                Map::from_iter([("errorType".to_string(), "Runtime.InitError".into())]),
                chrono::Utc::now()
            )
        );
    } else {
        eprintln!("init failed: {error}");
    }
}

fn json_format() -> bool {
    std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"))
}

/// The event's fields as JSON; `message` apart.
#[derive(Default)]
struct Fields {
    message: String,
    rest: Map<String, Value>,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.record(field, format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.record(field, value.into());
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.record(field, value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.record(field, value.into());
    }
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.record(field, value.into());
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.record(field, value.into());
    }
}

impl Fields {
    fn record(&mut self, field: &tracing::field::Field, value: Value) {
        match (field.name(), value) {
            ("message", Value::String(text)) => self.message = text,
            (name, value) => {
                self.rest.insert(name.to_string(), value);
            }
        }
    }
}

struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let level = event.metadata().level().as_str();
        writeln!(
            writer,
            "{}",
            json_line(level, &fields.message, fields.rest, chrono::Utc::now())
        )
    }
}

/// Our crates (module path prefixes): the only ones allowed below INFO.
const OWN_CRATES: [&str; 4] = ["rds_responder", "idle_reaper", "failover_check", "e2e"];

/// The most any dependency may log.
pub const DEPENDENCY_CAP: LevelFilter = LevelFilter::INFO;

/// The cap applied on top of whatever the environment asks for.
pub fn dependency_cap() -> Targets {
    OWN_CRATES
        .iter()
        .fold(Targets::new().with_default(DEPENDENCY_CAP), |t, c| {
            t.with_target(*c, LevelFilter::TRACE)
        })
}

/// `info`, `debug`, or `target=level,...` directives (no regular expressions: the env-filter
/// machinery would link a regex engine into every function); anything unreadable means INFO.
pub fn requested_filter(raw: Option<&str>) -> Targets {
    let level = raw.unwrap_or("info").trim().to_lowercase();
    // Lambda's FATAL has no tracing equivalent.
    let level = if level == "fatal" {
        "error".into()
    } else {
        level
    };
    let is_level = |l: &str| ["trace", "debug", "info", "warn", "error", "off"].contains(&l);
    let well_formed = level
        .split(',')
        .all(|directive| match directive.split_once('=') {
            Some((target, l)) => !target.trim().is_empty() && is_level(l.trim()),
            None => is_level(directive.trim()),
        });
    well_formed
        .then(|| level.parse::<Targets>().ok())
        .flatten()
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

pub fn init() {
    let format = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time();
    let format = if json_format() {
        format.event_format(JsonLines).boxed()
    } else {
        format.with_ansi(false).boxed()
    };
    let requested = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    let _ = tracing_subscriber::registry()
        .with(requested_filter(requested.as_deref()))
        .with(dependency_cap())
        .with(format)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn allows(target: &str, level: Level) -> bool {
        dependency_cap().would_enable(target, &level)
    }

    #[test]
    fn dependencies_never_log_below_info() {
        for target in [
            "aws_sigv4::http_request::sign",
            "aws_smithy_runtime::client::orchestrator",
            "hyper_util::client",
            "rustls::client",
            "tokio_postgres::connection",
            "mysql_async::conn",
        ] {
            assert!(!allows(target, Level::TRACE), "{target} at trace");
            assert!(!allows(target, Level::DEBUG), "{target} at debug");
            assert!(allows(target, Level::INFO), "{target} at info");
        }
    }

    #[test]
    fn the_requested_level_reads_lambda_and_rust_log_spellings() {
        let enabled = |raw: Option<&str>, target: &str, level: Level| {
            requested_filter(raw).would_enable(target, &level)
        };
        assert!(enabled(
            Some("DEBUG"),
            "rds_responder::runner",
            Level::DEBUG
        ));
        assert!(!enabled(
            Some("INFO"),
            "rds_responder::runner",
            Level::DEBUG
        ));
        assert!(enabled(
            Some("FATAL"),
            "rds_responder::runner",
            Level::ERROR
        ));
        assert!(!enabled(
            Some("FATAL"),
            "rds_responder::runner",
            Level::WARN
        ));
        assert!(enabled(
            Some("warn,idle_reaper=trace"),
            "idle_reaper::policy",
            Level::TRACE
        ));
        assert!(!enabled(
            Some("warn,idle_reaper=trace"),
            "rds_responder",
            Level::INFO
        ));
        assert!(enabled(None, "rds_responder", Level::INFO));
        assert!(enabled(
            Some("not a level ((("),
            "rds_responder",
            Level::INFO
        ));
        assert!(!enabled(
            Some("not a level ((("),
            "rds_responder",
            Level::DEBUG
        ));
    }

    #[test]
    fn json_lines_carry_timestamp_level_message_and_request_id_on_top() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T03:04:05.678Z")
            .unwrap()
            .to_utc();
        let fields = Map::from_iter([
            ("db".to_string(), Value::from("orders-db")),
            // A field may not take a top-level name.
            ("level".to_string(), Value::from("shadow")),
        ]);
        let scope = RequestScope::enter("req-42");
        let line: Value =
            serde_json::from_str(&json_line("WARN", "event refused", fields.clone(), at)).unwrap();
        drop(scope);
        assert_eq!(line["timestamp"], "2026-12-01T03:04:05.678Z");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "event refused");
        assert_eq!(line["requestId"], "req-42");
        assert_eq!(line["db"], "orders-db");
        let between: Value =
            serde_json::from_str(&json_line("INFO", "started", fields, at)).unwrap();
        assert!(between.get("requestId").is_none(), "{between}");
    }

    #[test]
    fn our_crates_follow_the_requested_level() {
        assert!(allows("rds_responder::runner", Level::TRACE));
        assert!(allows("idle_reaper::handler", Level::DEBUG));
    }
}
