//! idle-reaper: on a too-many-connections alarm, terminate idle sessions, safely.

pub mod checks;
pub mod config;
pub mod handler;
pub mod policy;
