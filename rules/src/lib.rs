//! The rules every function decides by: what an inbound event means ([`trigger`]) and the safety
//! rails ([`safety`]). Pure and free of the AWS SDK; `rds-responder` re-exports both modules.

pub mod alarm_scope;
pub mod safety;
pub mod text;
pub mod trigger;
