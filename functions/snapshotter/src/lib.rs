//! snapshotter (in progress, issue "snapshotter"): the pure rules first, naming and retention;
//! the handler, adapters and template follow.

pub mod policy;
