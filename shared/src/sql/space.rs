//! What fills a database's disk: its largest tables and indexes, and (PostgreSQL) the WAL that
//! replication slots hold back, the commonest cause of a full RDS disk.

use serde::Serialize;

use super::{ConnectTarget, DbError, Engine};

/// How many relations a report names.
pub const LARGEST: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Relation {
    /// `schema.name`.
    pub name: String,
    /// `table`, `index`, `materialized view`, `partitioned table`.
    pub kind: String,
    /// With its indexes and TOAST for a table (PostgreSQL `pg_total_relation_size`; MySQL data
    /// plus index length).
    pub bytes: i64,
    /// MySQL: the index part of `bytes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_bytes: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicationSlot {
    pub name: String,
    pub slot_type: String,
    pub active: bool,
    /// WAL kept for it: current WAL position less its restart position (unknown on a standby or
    /// a slot that never reserved WAL).
    pub retained_bytes: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpaceReport {
    pub database: String,
    pub largest: Vec<Relation>,
    pub slots: Vec<ReplicationSlot>,
}

#[allow(async_fn_in_trait)]
pub trait SpaceInspector {
    async fn space(&self, engine: Engine, target: &ConnectTarget) -> Result<SpaceReport, DbError>;
}
