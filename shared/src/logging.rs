//! Structured logs: JSON when Lambda's `AWS_LAMBDA_LOG_FORMAT=JSON`, text otherwise.
//!
//! The level comes from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` for our own crates only: every
//! dependency is capped at INFO whatever those say, because below that the AWS SigV4 signer logs
//! canonical requests with the session token, and the HTTP and TLS stacks log raw traffic.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

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
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let format = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time();
    let format = if json {
        format.json().with_current_span(false).boxed()
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
    fn our_crates_follow_the_requested_level() {
        assert!(allows("rds_responder::runner", Level::TRACE));
        assert!(allows("idle_reaper::handler", Level::DEBUG));
    }
}
