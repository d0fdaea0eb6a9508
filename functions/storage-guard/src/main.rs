//! storage-guard: answer low storage before the database stops.
// The runner's future nests the whole run (trigger, guard, checks): deeper than rustc's default.
#![recursion_limit = "256"]

use rds_responder::backups::RdsSnapshots;
use rds_responder::cloudwatch::CloudWatchReader;
use rds_responder::rds::RdsInventory;
use rds_responder::runner::{init_or_exit, serve};
use rds_responder::sql::DbConnector;
use rds_responder::storage::RdsStorage;
use storage_guard::config::GuardConfig;
use storage_guard::handler::StorageGuard;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(|startup| {
        let db = startup.database();
        let rds = startup.aws.rds.clone();
        StorageGuard {
            storage: RdsStorage {
                client: rds.clone(),
            },
            snapshots: RdsSnapshots {
                client: rds.clone(),
            },
            metrics: CloudWatchReader {
                client: startup.aws.cloudwatch.clone(),
            },
            inventory: RdsInventory { client: rds },
            endpoints: db.endpoint_overrides.clone(),
            space: init_or_exit(DbConnector::new(db, startup.aws.sdk.clone())),
            config: init_or_exit(GuardConfig::from_env(&startup.env)),
        }
    })
    .await
}
