//! rds-responder: what every function shares. README.md (Layout, Adding a function) has the
//! picture.

pub mod aws;
pub mod backups;
pub mod budget;
#[cfg(feature = "alarms")]
pub mod cloudwatch;
pub mod config;
pub mod dns;
pub mod guard;
pub mod job;
pub mod ledger;
pub mod logging;
pub mod metrics;
pub mod publish;
pub mod rds;
pub mod recovery;
pub mod report;
#[cfg(feature = "restore-testing")]
pub mod restore_testing;
pub mod run;
pub mod runner;
#[cfg(feature = "db")]
pub mod sql;
pub mod storage;
pub mod table_recovery;
#[cfg(feature = "tables")]
pub mod tables;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
// The pure rules (what a trigger means, the safety rails) live in their own crate, with no SDK.
pub use rds_responder_rules::{alarm_scope, safety, trigger};
