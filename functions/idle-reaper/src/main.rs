//! idle-reaper: on a too-many-connections alarm, terminate idle sessions, safely.

use idle_reaper::config::ReaperConfig;
use idle_reaper::handler::IdleReaper;
use rds_responder::aws::AwsClients;
use rds_responder::config::{CommonConfig, DbConfig, Env};
use rds_responder::rds::RdsInventory;
use rds_responder::runner::Runner;
use rds_responder::sql::DbConnector;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    rds_responder::logging::init();
    let env = Env::from_process();
    let common = CommonConfig::from_env(&env)?;
    let db = DbConfig::from_env(&env)?;
    let config = ReaperConfig::from_env(&env)?;
    let aws = AwsClients::from_env().await;

    let responder = IdleReaper {
        inventory: RdsInventory {
            client: aws.rds.clone(),
        },
        reaper: DbConnector::new(db, aws.sdk.clone())?,
        config,
    };
    Runner::on_aws(responder, &aws, common).serve().await
}
