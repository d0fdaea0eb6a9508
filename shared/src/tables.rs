//! DynamoDB table health: the table and every global secondary index ACTIVE.

use crate::aws::SdkFailure;
use crate::budget::BoundedCall;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableHealth {
    pub status: String,
    /// (index name, index status)
    pub indexes: Vec<(String, String)>,
}

impl TableHealth {
    /// The table and indexes that are not ACTIVE.
    pub fn not_active(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.status != "ACTIVE" {
            out.push(format!("table is {}", self.status));
        }
        out.extend(
            self.indexes
                .iter()
                .filter(|(_, status)| status != "ACTIVE")
                .map(|(name, status)| format!("index {name} is {status}")),
        );
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("{0}")]
    Api(#[source] SdkFailure),
    #[error("DescribeTable returned no table")]
    Missing,
}

#[allow(async_fn_in_trait)]
pub trait TableInspector {
    async fn table_health(&self, table: &str) -> Result<TableHealth, TableError>;
}

pub struct DynamoTables {
    pub client: aws_sdk_dynamodb::Client,
}

impl TableInspector for DynamoTables {
    async fn table_health(&self, table: &str) -> Result<TableHealth, TableError> {
        let out = self
            .client
            .describe_table()
            .table_name(table)
            .send()
            .bounded("DynamoDB DescribeTable")
            .await
            .map_err(|e| TableError::Api(SdkFailure::from_sdk("DynamoDB DescribeTable", &e)))?;
        let description = out.table().ok_or(TableError::Missing)?;
        Ok(TableHealth {
            status: description
                .table_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "UNKNOWN".into()),
            indexes: description
                .global_secondary_indexes()
                .iter()
                .map(|g| {
                    (
                        g.index_name().unwrap_or("(unnamed)").to_string(),
                        g.index_status()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_else(|| "UNKNOWN".into()),
                    )
                })
                .collect(),
        })
    }
}
