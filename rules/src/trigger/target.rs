//! What a function works on: a DB instance or cluster, a DynamoDB table, the account; and
//! the raw target of a payload, read with the RDS identifier rules.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{RdsIdentifier, ResourceKind, TriggerError};

/// A DB instance or cluster the function works on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "kebab-case")]
pub enum DbTarget {
    Instance(RdsIdentifier),
    Cluster(RdsIdentifier),
}

impl DbTarget {
    pub fn id(&self) -> &RdsIdentifier {
        match self {
            DbTarget::Instance(id) | DbTarget::Cluster(id) => id,
        }
    }
}

impl fmt::Display for DbTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbTarget::Instance(id) => write!(f, "db-instance {id}"),
            DbTarget::Cluster(id) => write!(f, "db-cluster {id}"),
        }
    }
}

/// What a run is about: a DB instance or Aurora cluster, a DynamoDB table, or the whole
/// account (a sweep). Reports, metric dimensions and SNS attributes follow it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "kebab-case")]
pub enum Target {
    Instance(RdsIdentifier),
    Cluster(RdsIdentifier),
    Table(TableName),
    Account,
}

impl Target {
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Instance(_) => "instance",
            Target::Cluster(_) => "cluster",
            Target::Table(_) => "table",
            Target::Account => "account",
        }
    }

    /// The identifier, for an instance, cluster or table.
    pub fn id(&self) -> Option<&str> {
        match self {
            Target::Instance(id) | Target::Cluster(id) => Some(id.as_str()),
            Target::Table(name) => Some(name.as_str()),
            Target::Account => None,
        }
    }
}

impl From<DbTarget> for Target {
    fn from(target: DbTarget) -> Self {
        match target {
            DbTarget::Instance(id) => Target::Instance(id),
            DbTarget::Cluster(id) => Target::Cluster(id),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Instance(id) => write!(f, "db-instance {id}"),
            Target::Cluster(id) => write!(f, "db-cluster {id}"),
            Target::Table(name) => write!(f, "dynamodb-table {name}"),
            Target::Account => f.write_str("the account"),
        }
    }
}

/// A DynamoDB table name: 3-255 of letters, digits, `_`, `-`, `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TableName(String);

impl TableName {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if !(3..=255).contains(&raw.len()) {
            return Err("must be 3-255 characters");
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err("may hold only letters, digits, '_', '-' and '.'");
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TableName {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<TableName> for String {
    fn from(name: TableName) -> Self {
        name.0
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Validates an identifier from a named field.
pub fn parse_identifier(
    field: &str,
    raw: &str,
    kind: ResourceKind,
) -> Result<RdsIdentifier, TriggerError> {
    RdsIdentifier::parse(raw, kind).map_err(|rule| {
        TriggerError::invalid(
            field,
            format!("{rule} (RDS {kind} identifier rules), got {raw:?}"),
        )
    })
}

/// A target named in a manual payload or a schedule input: exactly one of the two keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDbTarget {
    #[serde(default)]
    pub db_instance: Option<String>,
    #[serde(default)]
    pub db_cluster: Option<String>,
}

impl RawDbTarget {
    pub fn validate(&self, field: &str) -> Result<DbTarget, TriggerError> {
        match (&self.db_instance, &self.db_cluster) {
            (Some(id), None) => Ok(DbTarget::Instance(parse_identifier(
                &format!("{field}db_instance"),
                id,
                ResourceKind::DbInstance,
            )?)),
            (None, Some(id)) => Ok(DbTarget::Cluster(parse_identifier(
                &format!("{field}db_cluster"),
                id,
                ResourceKind::DbCluster,
            )?)),
            _ => Err(TriggerError::invalid(
                format!("{field}db_instance|{field}db_cluster"),
                "exactly one of the two is required",
            )),
        }
    }
}
