//! failover-check: after a Multi-AZ or Aurora failover, verify the database end to end.
// The runner's future nests the whole run (trigger, guard, checks): deeper than rustc's default.
#![recursion_limit = "256"]

use failover_check::config::FailoverConfig;
use failover_check::handler::FailoverCheck;
use rds_responder::cloudwatch::CloudWatchReader;
use rds_responder::dns::SystemResolver;
use rds_responder::rds::RdsInventory;
use rds_responder::runner::{init_or_exit, serve};
use rds_responder::sql::DbConnector;
use rds_responder::tables::DynamoTables;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(|startup| {
        let db = startup.database();
        let aws = &startup.aws;
        let connect_timeout = db.connect_timeout;
        FailoverCheck {
            inventory: RdsInventory {
                client: aws.rds.clone(),
            },
            endpoints: db.endpoint_overrides.clone(),
            probe: init_or_exit(DbConnector::new(db, aws.sdk.clone())),
            watch: CloudWatchReader {
                client: aws.cloudwatch.clone(),
            },
            tables: DynamoTables {
                client: aws.dynamodb.clone(),
            },
            resolver: SystemResolver,
            config: init_or_exit(FailoverConfig::from_env(&startup.env))
                .with_database(connect_timeout),
        }
    })
    .await
}
