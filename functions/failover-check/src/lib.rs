//! failover-check: main.rs wires, handler.rs orchestrates the verification over capability
//! traits, policy.rs decides (pure), checks.rs words the report.

pub mod checks;
pub mod config;
pub mod handler;
pub mod policy;
