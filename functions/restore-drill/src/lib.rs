//! restore-drill: prove the backups restore, measure the real RTO and RPO, and catch a recovery
//! point that falls behind before anyone needs it.
//!
//! One way down: request.rs (the manual payload and schedule input) -> config.rs (settings)
//! -> policy/ (the RPO audit, the drill's steps, the data verdicts, pure) -> checks.rs (the
//! report's wording) -> handler.rs (the runs) -> main.rs (wiring). No module imports one above
//! it.

pub mod checks;
pub mod config;
pub mod handler;
pub mod policy;
pub mod request;
