//! idle-reaper: on a too-many-connections alarm, terminate idle sessions, safely.
// The runner's future nests the whole run (trigger, guard, checks): deeper than rustc's default.
#![recursion_limit = "256"]

use idle_reaper::config::ReaperConfig;
use idle_reaper::handler::IdleReaper;
use rds_responder::rds::RdsInventory;
use rds_responder::runner::{init_or_exit, Runner, Startup};
use rds_responder::sql::DbConnector;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let startup = Startup::load().await;
    let db = startup.database();
    let Startup { env, common, aws } = startup;
    let responder = IdleReaper {
        inventory: RdsInventory {
            client: aws.rds.clone(),
        },
        endpoints: db.endpoint_overrides.clone(),
        reaper: init_or_exit(DbConnector::new(db, aws.sdk.clone())),
        config: init_or_exit(ReaperConfig::from_env(&env)),
    };
    Runner::on_aws(responder, &aws, common).serve().await
}
