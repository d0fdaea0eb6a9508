//! End-to-end harness: the local stack (moto server, PostgreSQL), per-test AWS resources, and a
//! Lambda Runtime API server that drives the real function binaries.

pub mod db;
pub mod fixture;
pub mod runtime_api;

pub use fixture::{Fixture, Stack};
pub use runtime_api::{FunctionProcess, Invoked};
