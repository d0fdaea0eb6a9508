//! failover-check: the decision (pure) and the verification (over capability traits).

pub mod config;
pub mod handler;
