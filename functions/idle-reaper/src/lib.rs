//! idle-reaper: on a too-many-connections alarm, terminate idle sessions, safely.

//!
//! One way down: request.rs (the manual payload) -> config.rs (settings, the rules' numbers)
//! -> policy.rs (which sessions, pure) -> checks.rs (the report's wording) -> handler.rs (the
//! run) -> main.rs (wiring). No module imports one above it.

pub mod checks;
pub mod config;
pub mod handler;
pub mod policy;
pub mod request;
