//! The one result every function returns, publishes, archives and counts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::trigger::{Target, TriggerSummary};

/// How one check or action went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    /// Worth a look, not a failure (e.g. connections outside the normal range).
    Warn,
    Fail,
    /// Not run, with the reason in the detail.
    Skipped,
    /// Would have acted: dry run.
    Planned,
}

/// Overall result of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Ok,
    Degraded,
    Failed,
    Skipped,
    DryRun,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Degraded => "degraded",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::DryRun => "dry-run",
        }
    }

    /// For SNS subscription filter policies.
    pub fn severity(self) -> &'static str {
        match self {
            Status::Failed => "critical",
            Status::Degraded => "warning",
            Status::Ok | Status::Skipped | Status::DryRun => "info",
        }
    }

    /// Failed beats degraded beats planned beats ok; nothing but skips is skipped.
    pub fn from_checks(checks: &[Check]) -> Self {
        let has = |o: Outcome| checks.iter().any(|c| c.outcome == o);
        if has(Outcome::Fail) {
            Status::Failed
        } else if has(Outcome::Warn) {
            Status::Degraded
        } else if has(Outcome::Planned) {
            Status::DryRun
        } else if has(Outcome::Pass) {
            Status::Ok
        } else {
            Status::Skipped
        }
    }
}

/// One check or action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub outcome: Outcome,
    pub detail: String,
    #[serde(default)]
    pub duration_ms: u64,
    /// Structured facts (latency, addresses, counts) for machines reading the report.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub data: Value,
}

impl Check {
    pub fn new(name: impl Into<String>, outcome: Outcome, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            outcome,
            detail: detail.into(),
            duration_ms: 0,
            data: Value::Null,
        }
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }

    pub fn timed(mut self, started: std::time::Instant) -> Self {
        self.duration_ms = started.elapsed().as_millis() as u64;
        self
    }
}

/// What a function decided and did; the runner adds trigger, ids and timings.
#[derive(Debug, Clone, PartialEq)]
pub struct Findings {
    pub target: Option<Target>,
    pub checks: Vec<Check>,
    /// One line a human reads first.
    pub summary: String,
    /// Set when the status does not follow from the checks (a skip, a dry run).
    pub status: Option<Status>,
    /// Set when the run could not do its job for a reason a retry may fix (the database refused
    /// a connection): the report is still delivered, then the invocation fails so Lambda retries.
    pub retry: Option<String>,
    /// What a caller acts on, at a stable place in the response (`result`): e.g. the snapshot
    /// a deploy pipeline waits for.
    pub result: Option<Value>,
    /// Metrics of single resources, one per resource (a recovery point's lag), emitted beside
    /// the run's own.
    pub metrics: Vec<ResourceMetric>,
}

/// One metric of one resource, dimensioned by function and resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceMetric {
    pub name: String,
    pub value: f64,
    /// A CloudWatch unit (`Seconds`, `Count`).
    pub unit: String,
    /// `db-instance:<id>`, `db-cluster:<id>`, `table:<name>`.
    pub resource: String,
}

impl Findings {
    pub fn new(
        target: Option<impl Into<Target>>,
        checks: Vec<Check>,
        summary: impl Into<String>,
    ) -> Self {
        Self {
            target: target.map(Into::into),
            checks,
            summary: summary.into(),
            status: None,
            retry: None,
            result: None,
            metrics: Vec::new(),
        }
    }

    pub fn skipped(target: Option<impl Into<Target>>, reason: impl Into<String>) -> Self {
        Self {
            status: Some(Status::Skipped),
            ..Self::new(target, vec![], reason)
        }
    }
}

/// The version of the report's JSON Schema (`schema/report.v1.json`): a subscriber reads the
/// shape it names. A change that could break a reader gets a new version and a new schema file.
pub const SCHEMA_VERSION: &str = "rds-responder.report/v1";

fn schema_version() -> String {
    SCHEMA_VERSION.to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The contract this report follows ([`SCHEMA_VERSION`]); first, so a reader sees it first.
    #[serde(default = "schema_version")]
    pub schema_version: String,
    pub id: String,
    pub function: String,
    pub status: Status,
    pub summary: String,
    pub trigger: Value,
    #[serde(default)]
    pub target: Option<Value>,
    pub checks: Vec<Check>,
    pub idempotency_key: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// Set on the copy returned for a duplicate delivery: the request that did the work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    /// Set on a copy shortened to fit a channel's size limit (SNS, the ledger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<String>,
    /// What a caller acts on (see [`Findings::result`]); small, never shortened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Metrics of single resources (see [`Findings::metrics`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<ResourceMetric>,
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    pub fn assemble(
        id: &str,
        function: &str,
        trigger: &TriggerSummary,
        idempotency_key: &str,
        findings: Findings,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
    ) -> Self {
        let status = findings
            .status
            .unwrap_or_else(|| Status::from_checks(&findings.checks));
        Self {
            schema_version: SCHEMA_VERSION.to_string(),
            id: id.to_string(),
            function: function.to_string(),
            status,
            summary: findings.summary,
            trigger: serde_json::to_value(trigger).unwrap_or(Value::Null),
            target: findings
                .target
                .as_ref()
                .and_then(|t| serde_json::to_value(t).ok()),
            checks: findings.checks,
            idempotency_key: idempotency_key.to_string(),
            started_at,
            finished_at,
            duration_ms: (finished_at - started_at).num_milliseconds().max(0) as u64,
            duplicate_of: None,
            truncated: None,
            result: findings.result,
            metrics: findings.metrics,
        }
    }

    /// A copy that serializes to at most `limit` bytes (see [`Self::fitted_json_in`]).
    pub fn fitted_in(&self, limit: usize, prefix: &str) -> Report {
        serde_json::from_str(&self.fitted_json_in(limit, false, prefix))
            .unwrap_or_else(|_| self.clone())
    }

    /// [`Self::fitted_json_in`] under the default archive prefix, `reports`.
    pub fn fitted_json(&self, limit: usize, pretty: bool) -> String {
        self.fitted_json_in(limit, pretty, "reports")
    }

    /// The report as JSON of at most `limit` bytes: long texts are cut (each with a note), then
    /// check data dropped, then trailing checks, until it fits. The S3 archive keeps it whole,
    /// under `prefix` (REPORT_PREFIX), and the note names its key there.
    pub fn fitted_json_in(&self, limit: usize, pretty: bool, prefix: &str) -> String {
        let render = |value: &Value| {
            if pretty {
                serde_json::to_string_pretty(value)
            } else {
                serde_json::to_string(value)
            }
            .unwrap_or_default()
        };
        let text = if pretty {
            serde_json::to_string_pretty(self)
        } else {
            serde_json::to_string(self)
        }
        .unwrap_or_default();
        if text.len() <= limit {
            return text;
        }
        let Ok(full) = serde_json::to_value(self) else {
            return String::new();
        };
        let note = format!(
            "shortened from {} bytes to fit a {limit}-byte channel; the S3 archive {} holds the whole report",
            text.len(),
            self.archive_key_in(prefix)
        );
        let shortened = |max_text: usize, drop_data: bool, keep_checks: Option<usize>| {
            let mut value = full.clone();
            for field in ["summary", "trigger", "target", "checks"] {
                if let Some(part) = value.get_mut(field) {
                    cut_strings(part, max_text);
                }
            }
            // A result or metrics of one entry per resource (an audit of a thousand) are cut to
            // as many entries as the checks kept: still their shape, the rest in the archive.
            if let Some(keep) = keep_checks {
                if let Some(result) = value.get_mut("result").and_then(Value::as_object_mut) {
                    for list in result.values_mut().filter_map(Value::as_array_mut) {
                        list.truncate(keep);
                    }
                }
                // Metrics by resource: every metric of the first `keep` resources (a resource
                // may have several: a lag and whether it is breached).
                if let Some(metrics) = value.get_mut("metrics").and_then(Value::as_array_mut) {
                    let mut resources: Vec<Value> = Vec::new();
                    metrics.retain(|m| {
                        let resource = &m["resource"];
                        if resources.contains(resource) {
                            return true;
                        }
                        if resources.len() < keep {
                            resources.push(resource.clone());
                            return true;
                        }
                        false
                    });
                }
            }
            if let Some(checks) = value.get_mut("checks").and_then(Value::as_array_mut) {
                if let Some(keep) = keep_checks {
                    let dropped = checks.len().saturating_sub(keep);
                    checks.truncate(keep);
                    if dropped > 0 {
                        checks.push(serde_json::json!({
                            "name": "truncated", "outcome": "skipped",
                            "detail": format!("{dropped} more checks are in the S3 archive"),
                        }));
                    }
                }
                if drop_data {
                    for check in checks.iter_mut() {
                        if let Some(data) = check.get_mut("data") {
                            *data = serde_json::json!({"truncated": true});
                        }
                    }
                }
            }
            if drop_data {
                if let Some(trigger) = value.get_mut("trigger").and_then(Value::as_object_mut) {
                    trigger.retain(|k, _| k == "type" || k == "time" || k == "name");
                    trigger.insert("truncated".into(), Value::Bool(true));
                }
            }
            value["truncated"] = Value::String(note.clone());
            render(&value)
        };
        for max_text in [8192, 2048, 512, 128] {
            let text = shortened(max_text, false, None);
            if text.len() <= limit {
                return text;
            }
        }
        let mut keep = self.checks.len();
        loop {
            let text = shortened(128, true, Some(keep));
            if text.len() <= limit || keep == 0 {
                return text;
            }
            keep /= 2;
        }
    }

    /// The DB identifier the report is about, if it is about a DB instance or cluster.
    pub fn db_identifier(&self) -> Option<&str> {
        match self.target_kind()? {
            "instance" | "cluster" => self.target_id(),
            _ => None,
        }
    }

    /// `instance`, `cluster`, `table` or `account`, if the report is about one.
    pub fn target_kind(&self) -> Option<&str> {
        self.target.as_ref()?.get("kind")?.as_str()
    }

    /// The identifier of what the report is about (instance, cluster, table), if any.
    pub fn target_id(&self) -> Option<&str> {
        self.target.as_ref()?.get("id")?.as_str()
    }

    /// A human subject for SNS: under 100 characters, always.
    pub fn subject(&self) -> String {
        let db = match self.target_kind() {
            Some("account") => "account",
            _ => self.target_id().unwrap_or("-"),
        };
        let failed = self
            .checks
            .iter()
            .filter(|c| c.outcome == Outcome::Fail)
            .count();
        let tail = if failed > 0 {
            format!(" ({failed} failed)")
        } else {
            String::new()
        };
        let subject = format!(
            "[{}] {} {}{}",
            self.status.as_str().to_uppercase(),
            self.function,
            db,
            tail
        );
        sns_subject(&subject, 99)
    }

    /// `reports/<function>/<YYYY-MM-DD>/<id>.json`
    pub fn archive_key(&self) -> String {
        self.archive_key_in("reports")
    }

    /// The key under a prefix (`REPORT_PREFIX`: an organization's bucket keeps each account's
    /// reports under `reports/<account>`).
    pub fn archive_key_in(&self, prefix: &str) -> String {
        format!(
            "{prefix}/{}/{}/{}.json",
            self.function,
            self.started_at.format("%Y-%m-%d"),
            self.id
        )
    }
}

/// Cuts every string in `value` longer than `max` bytes, saying how long it was.
fn cut_strings(value: &mut Value, max: usize) {
    match value {
        Value::String(text) if text.len() > max => {
            let mut cut = max;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            *text = format!(
                "{}... [truncated, {} bytes in all]",
                &text[..cut],
                text.len()
            );
        }
        Value::Array(items) => items.iter_mut().for_each(|v| cut_strings(v, max)),
        Value::Object(map) => map.values_mut().for_each(|v| cut_strings(v, max)),
        _ => {}
    }
}

/// SNS subjects must be ASCII without control characters and under 100 characters.
fn sns_subject(text: &str, max: usize) -> String {
    let ascii: String = text
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect();
    if ascii.len() <= max {
        return ascii;
    }
    format!("{}...", &ascii[..max - 3])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trigger::{DbTarget, RdsIdentifier, ResourceKind};

    fn check(outcome: Outcome) -> Check {
        Check::new("x", outcome, "")
    }

    #[test]
    fn status_follows_the_worst_check() {
        use Outcome::*;
        assert_eq!(
            Status::from_checks(&[check(Pass), check(Fail), check(Warn)]),
            Status::Failed
        );
        assert_eq!(
            Status::from_checks(&[check(Pass), check(Warn)]),
            Status::Degraded
        );
        assert_eq!(
            Status::from_checks(&[check(Pass), check(Skipped)]),
            Status::Ok
        );
        assert_eq!(
            Status::from_checks(&[check(Planned), check(Pass)]),
            Status::DryRun
        );
        assert_eq!(Status::from_checks(&[check(Skipped)]), Status::Skipped);
        assert_eq!(Status::from_checks(&[]), Status::Skipped);
    }

    fn report(db: &str) -> Report {
        let target =
            DbTarget::Instance(RdsIdentifier::parse(db, ResourceKind::DbInstance).unwrap());
        let t = DateTime::parse_from_rfc3339("2026-11-22T03:12:09.5Z")
            .unwrap()
            .with_timezone(&Utc);
        Report::assemble(
            "req-1",
            "failover-check",
            &TriggerSummary::SubscriptionNotice,
            "k",
            Findings::new(
                Some(target),
                vec![check(Outcome::Fail), check(Outcome::Pass)],
                "s",
            ),
            t,
            t + chrono::Duration::milliseconds(250),
        )
    }

    #[test]
    fn subject_is_human_and_under_100_characters() {
        let r = report("orders-db");
        assert_eq!(r.subject(), "[FAILED] failover-check orders-db (1 failed)");
        let long = report(&format!("a{}", "b".repeat(62)));
        assert!(long.subject().chars().count() < 100);
        let mut longer = long.clone();
        longer.function = "f".repeat(120);
        assert_eq!(longer.subject().len(), 99);
        assert!(longer.subject().ends_with("..."));
        longer.function = "r\u{e9}aper\nline".into();
        let subject = longer.subject();
        assert!(subject.is_ascii() && !subject.contains('\n'), "{subject}");
    }

    #[test]
    fn archive_key_is_dated_by_start() {
        let r = report("orders-db");
        assert_eq!(
            r.archive_key(),
            "reports/failover-check/2026-11-22/req-1.json"
        );
        assert_eq!(
            r.archive_key_in("reports/123456789012"),
            "reports/123456789012/failover-check/2026-11-22/req-1.json"
        );
        assert_eq!(r.duration_ms, 250);
        assert_eq!(r.db_identifier(), Some("orders-db"));
    }

    #[test]
    fn oversized_reports_fit_their_channel_and_say_so() {
        let mut r = report("orders-db");
        r.trigger = serde_json::json!({"type": "rds-event", "message": "x".repeat(5_000_000)});
        r.checks[0].detail = "\u{e9}".repeat(100_000);
        let whole = serde_json::to_string(&r).unwrap();
        assert!(whole.len() > 5_000_000);
        for limit in [240_000, 4_000] {
            let text = r.fitted_json(limit, true);
            assert!(text.len() <= limit, "{} > {limit}", text.len());
            let back: Report = serde_json::from_str(&text).unwrap();
            assert_eq!(back.id, r.id);
            assert_eq!(back.status, r.status);
            assert!(back
                .truncated
                .as_deref()
                .unwrap()
                .contains("reports/failover-check/2026-11-22/req-1.json"));
        }
        let small = report("orders-db");
        let text = small.fitted_json(240_000, false);
        assert_eq!(text, serde_json::to_string(&small).unwrap());
    }

    #[test]
    fn a_shortened_report_names_its_archive_under_the_configured_prefix() {
        let mut r = report("orders-db");
        r.checks[0].detail = "x".repeat(50_000);
        let back = r.fitted_in(4_000, "reports/123456789012");
        let note = back.truncated.expect("shortened");
        assert!(
            note.contains("reports/123456789012/failover-check/2026-11-22/req-1.json"),
            "{note}"
        );
        let text = r.fitted_json_in(4_000, true, "reports/123456789012");
        assert!(text.len() <= 4_000);
        assert!(
            text.contains("reports/123456789012/failover-check/"),
            "{text}"
        );
    }

    #[test]
    fn many_checks_with_big_data_still_fit() {
        let mut r = report("orders-db");
        let data: serde_json::Map<String, Value> = (0..20_000)
            .map(|i| (format!("user{i}"), Value::from(i)))
            .collect();
        r.checks = (0..50)
            .map(|i| {
                Check::new(format!("c{i}"), Outcome::Pass, "d")
                    .with_data(Value::Object(data.clone()))
            })
            .collect();
        let text = r.fitted_json(100_000, false);
        assert!(text.len() <= 100_000, "{}", text.len());
        let back: Report = serde_json::from_str(&text).unwrap();
        assert!(back.truncated.is_some());
        assert_eq!(back.checks[0].name, "c0");
    }

    #[test]
    fn an_audit_of_a_thousand_resources_fits_sns_with_its_result_and_metrics_cut() {
        let mut r = report("orders-db");
        let entry = |i: usize| {
            serde_json::json!({"resource": format!("db-instance:db-{i:04}"),
            "status": "ok", "lag_seconds": 12, "causes": [], "detail": "x".repeat(200)})
        };
        r.checks = (0..1000)
            .map(|i| {
                Check::new(
                    format!("rpo db-instance:db-{i:04}"),
                    Outcome::Pass,
                    "ok: 12 s",
                )
                .with_data(entry(i))
            })
            .collect();
        r.result = Some(serde_json::json!({"audit": (0..1000).map(entry).collect::<Vec<_>>()}));
        r.metrics = (0..1000)
            .flat_map(|i| {
                ["RecoveryPointLagSeconds", "RpoBreached"].map(|name| ResourceMetric {
                    name: name.into(),
                    value: 12.0,
                    unit: "Seconds".into(),
                    resource: format!("db-instance:db-{i:04}"),
                })
            })
            .collect();
        const MAX: usize = 240_000;
        assert!(serde_json::to_string_pretty(&r).unwrap().len() > MAX);
        let text = r.fitted_json(MAX, true);
        assert!(text.len() <= MAX, "{}", text.len());
        let back: Report = serde_json::from_str(&text).unwrap();
        let kept = back.checks.len() - 1;
        assert!(kept > 0 && kept < 1000, "{kept}");
        assert_eq!(back.checks[kept].name, "truncated");
        let audit = back.result.as_ref().unwrap()["audit"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(audit, kept);
        // Both metrics of each resource kept, none of the others.
        assert_eq!(back.metrics.len(), 2 * kept);
        assert!(back
            .metrics
            .chunks(2)
            .zip(&back.checks)
            .all(|(pair, check)| pair
                .iter()
                .all(|m| check.name == format!("rpo {}", m.resource))));
        assert!(back.truncated.is_some());
    }

    #[test]
    fn report_round_trips_through_json() {
        let r = report("orders-db");
        let back: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}
