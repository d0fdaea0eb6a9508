//! End-to-end harness: the local stack (moto server, PostgreSQL), per-test AWS resources, and a
//! Lambda Runtime API server that drives the real function binaries.

pub mod db;
pub mod faults;
pub mod fixture;
pub mod runtime_api;

pub use faults::{silent_server, Fault, FaultProxy};
pub use fixture::{Fixture, Stack};
pub use runtime_api::{FunctionProcess, Invoked};

/// A named check of a report (the Lambda response or an archived copy).
pub fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .expect("report has checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report:#}"))
}
