//! failover-check: after a Multi-AZ or Aurora failover, verify the database end to end.

use failover_check::config::FailoverConfig;
use failover_check::handler::FailoverCheck;
use rds_responder::aws::AwsClients;
use rds_responder::cloudwatch::CloudWatchReader;
use rds_responder::config::{CommonConfig, DbConfig, Env};
use rds_responder::dns::SystemResolver;
use rds_responder::rds::RdsInventory;
use rds_responder::runner::Runner;
use rds_responder::sql::DbConnector;
use rds_responder::tables::DynamoTables;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    rds_responder::logging::init();
    let env = Env::from_process();
    let common = CommonConfig::from_env(&env)?;
    let db = DbConfig::from_env(&env)?;
    let config = FailoverConfig::from_env(&env)?;
    let aws = AwsClients::from_env().await;

    let responder = FailoverCheck {
        inventory: RdsInventory {
            client: aws.rds.clone(),
        },
        probe: DbConnector::new(db, aws.sdk.clone())?,
        watch: CloudWatchReader {
            client: aws.cloudwatch.clone(),
        },
        tables: DynamoTables {
            client: aws.dynamodb.clone(),
        },
        resolver: SystemResolver,
        config,
    };
    Runner::on_aws(responder, &aws, common).serve().await
}
