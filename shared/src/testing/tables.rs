//! A fake of DynamoDB table health.

use std::collections::BTreeMap;

use crate::tables::{TableError, TableHealth, TableInspector};

#[derive(Default)]
pub struct FakeTables {
    pub tables: BTreeMap<String, TableHealth>,
}

impl TableInspector for FakeTables {
    async fn table_health(&self, table: &str) -> Result<TableHealth, TableError> {
        self.tables.get(table).cloned().ok_or_else(|| {
            TableError::Api(crate::aws::SdkFailure {
                service: "DynamoDB DescribeTable",
                code: Some("ResourceNotFoundException".into()),
                message: format!("table {table} not found"),
                request_id: None,
            })
        })
    }
}
