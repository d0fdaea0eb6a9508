//! End-to-end harness: the local stack (moto server, PostgreSQL), per-test AWS resources, and a
//! Lambda Runtime API server that drives the real function binaries.

pub mod backup_endpoint;
pub mod db;
pub mod drill;
pub mod faults;
pub mod fixture;
pub mod runtime_api;

pub use faults::{silent_server, Fault, FaultProxy};
pub use fixture::{Fixture, Stack};
pub use runtime_api::{FunctionProcess, Invoked};

/// Keeps a copy of a report (or an SNS notification carrying one) the tests saw, when
/// `REPORTS_DIR` is set: `make test` validates them all against schema/report.v1.json.
pub fn collect_report(kind: &str, value: &serde_json::Value) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COLLECTED: AtomicU64 = AtomicU64::new(0);
    let Some(dir) = std::env::var_os("REPORTS_DIR") else {
        return;
    };
    let n = COLLECTED.fetch_add(1, Ordering::SeqCst);
    let dir = std::path::PathBuf::from(dir);
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{kind}-{}-{n}.json", std::process::id()));
    std::fs::write(&path, value.to_string())
        .unwrap_or_else(|e| panic!("keeping {}: {e}", path.display()));
}

/// A named check of a report (the Lambda response or an archived copy).
pub fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .expect("report has checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report:#}"))
}

/// The values of a report's resource metric `name` (its `metrics`, emitted beside the run's
/// own), by resource.
pub fn resource_metrics(
    report: &serde_json::Value,
    name: &str,
) -> std::collections::BTreeMap<String, f64> {
    report["metrics"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|m| m["name"] == name)
                .filter_map(|m| Some((m["resource"].as_str()?.to_string(), m["value"].as_f64()?)))
                .collect()
        })
        .unwrap_or_default()
}
