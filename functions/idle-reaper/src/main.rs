//! idle-reaper: on a too-many-connections alarm, terminate idle sessions, safely.
// The runner's future nests the whole run (trigger, guard, checks): deeper than rustc's default.
#![recursion_limit = "256"]

use idle_reaper::config::ReaperConfig;
use idle_reaper::handler::IdleReaper;
use rds_responder::rds::RdsInventory;
use rds_responder::runner::{init_or_exit, serve};
use rds_responder::sql::DbConnector;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(|startup| {
        let db = startup.database();
        IdleReaper {
            inventory: RdsInventory {
                client: startup.aws.rds.clone(),
            },
            endpoints: db.endpoint_overrides.clone(),
            reaper: init_or_exit(DbConnector::new(db, startup.aws.sdk.clone())),
            config: init_or_exit(ReaperConfig::from_env(&startup.env)),
        }
    })
    .await
}
