//! failover-check, one way down: request.rs (the manual payload) -> config.rs (settings) ->
//! policy.rs (which triggers mean "verify now", pure) -> checks.rs (the report's wording) ->
//! handler.rs (the verification over capability traits) -> main.rs (wiring). No module imports
//! one above it.

pub mod checks;
pub mod config;
pub mod handler;
pub mod policy;
pub mod request;
