//! What a database holds, read the same way on a source and on its restored copy so the two can
//! be compared: `SELECT 1`, the schema (every column and its type), row counts of named tables,
//! operator-written SQL checks (each must return true), the newest value of a timestamp column,
//! and how long the reads took (a restored volume loads lazily: slow reads mean not usable yet).
//! The SQL checks run in a read-only transaction.

use serde::Serialize;

use super::{ConnectTarget, DbError, Engine};

/// A table as `schema.table` (PostgreSQL) or `database.table` (MySQL).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct TableRef {
    pub schema: String,
    pub table: String,
}

impl std::fmt::Display for TableRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqlCheck {
    pub name: String,
    pub sql: String,
}

/// What to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DataSpec {
    pub tables: Vec<TableRef>,
    pub sql_checks: Vec<SqlCheck>,
    /// A timestamp column whose newest value says how recent the data is.
    pub newest: Option<(TableRef, String)>,
}

/// One read's answer, or why there is none (the database's error, one line).
pub type Read<T> = Result<T, String>;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataReport {
    pub select_one_ms: f64,
    /// `schema.table.column type`, sorted: user schemas only.
    pub columns: Vec<String>,
    pub row_counts: Vec<(TableRef, Read<i64>)>,
    /// The time all row counts took: a full read of each table.
    pub read_ms: f64,
    pub sql_checks: Vec<(String, Read<bool>)>,
    /// Seconds since the epoch of the newest value (`None`: the table is empty).
    pub newest: Option<Read<Option<f64>>>,
}

#[allow(async_fn_in_trait)]
pub trait DataInspector {
    async fn inspect(
        &self,
        engine: Engine,
        target: &ConnectTarget,
        spec: &DataSpec,
    ) -> Result<DataReport, DbError>;
}

/// `"name"` for PostgreSQL, `` `name` `` for MySQL, the quote character doubled inside.
pub fn quote(engine: Engine, name: &str) -> String {
    let q = match engine {
        Engine::Postgres => '"',
        Engine::MySql => '`',
    };
    let doubled = name.replace(q, &format!("{q}{q}"));
    format!("{q}{doubled}{q}")
}

pub fn qualified(engine: Engine, table: &TableRef) -> String {
    format!(
        "{}.{}",
        quote(engine, &table.schema),
        quote(engine, &table.table)
    )
}

/// The database's error as one short line.
pub fn read_error(e: &DbError) -> String {
    crate::aws::one_line(&e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_with_their_quote_doubled() {
        assert_eq!(quote(Engine::Postgres, "orders"), "\"orders\"");
        assert_eq!(quote(Engine::Postgres, "a\"b"), "\"a\"\"b\"");
        assert_eq!(quote(Engine::MySql, "a`b"), "`a``b`");
        let t = TableRef {
            schema: "public".into(),
            table: "Orders".into(),
        };
        assert_eq!(qualified(Engine::Postgres, &t), "\"public\".\"Orders\"");
    }
}
