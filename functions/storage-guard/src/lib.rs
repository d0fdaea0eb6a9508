//! storage-guard: answer low storage before the database stops.
//!
//! One way down: request.rs (the manual payload) -> config.rs (settings, the rules' numbers)
//! -> policy.rs (forecast and decision, pure) -> checks.rs (the report's wording) ->
//! handler.rs (the run) -> main.rs (wiring). No module imports one above it.

pub mod checks;
pub mod config;
pub mod handler;
pub mod policy;
pub mod request;
