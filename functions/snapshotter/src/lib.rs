//! snapshotter: pre-change and scheduled snapshots of RDS instances and Aurora clusters,
//! DynamoDB backups, and retention that never deletes the last good copy.

pub mod checks;
pub mod config;
pub mod handler;
pub mod policy;
