//! snapshotter: pre-change and scheduled backups, completion reports, retention.
// The runner's future nests the whole run (trigger, guard, sweep): deeper than rustc's default.
#![recursion_limit = "256"]

use rds_responder::backups::{DynamoBackups, RdsSnapshots};
use rds_responder::runner::{init_or_exit, serve};
use snapshotter::config::SnapshotterConfig;
use snapshotter::handler::Snapshotter;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(|startup| Snapshotter {
        catalog: RdsSnapshots {
            client: startup.aws.rds.clone(),
        },
        tables: DynamoBackups {
            client: startup.aws.dynamodb.clone(),
        },
        config: init_or_exit(SnapshotterConfig::from_env(&startup.env)),
    })
    .await
}
