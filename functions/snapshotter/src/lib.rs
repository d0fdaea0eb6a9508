//! snapshotter: pre-change and scheduled snapshots of RDS instances and Aurora clusters,
//! DynamoDB backups, and retention that never deletes the last good copy.

//!
//! One way down: request.rs (payloads) -> config.rs (settings) -> policy.rs (pure decisions)
//! -> checks.rs (the report's wording and the outcome types it words) -> handler.rs (the run)
//! -> main.rs (wiring). No module imports one above it.

pub mod checks;
pub mod config;
pub mod handler;
pub mod policy;
pub mod request;
