//! restore-drill: prove the backups restore, measure RTO and RPO, audit recovery points.
// The runner's future nests the whole run (trigger, guard, checks): deeper than rustc's default.
#![recursion_limit = "256"]

use rds_responder::backups::DynamoBackups;
use rds_responder::ledger::DynamoLedger;
use rds_responder::recovery::RdsRestores;
use rds_responder::restore_testing::BackupRestoreJobs;
use rds_responder::runner::{init_or_exit, serve};
use rds_responder::sql::DbConnector;
use rds_responder::table_recovery::DynamoRestores;
use restore_drill::config::DrillConfig;
use restore_drill::handler::RestoreDrill;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve(|startup| {
        let db = startup.database();
        RestoreDrill {
            rds: RdsRestores {
                client: startup.aws.rds.clone(),
            },
            tables: DynamoBackups {
                client: startup.aws.dynamodb.clone(),
            },
            table_restores: DynamoRestores {
                client: startup.aws.dynamodb.clone(),
            },
            jobs: DynamoLedger {
                client: startup.aws.dynamodb.clone(),
                table: startup.common.ledger_table.clone(),
                retention: chrono::Duration::days(14),
                report_prefix: startup.common.report_prefix.clone(),
            },
            endpoints: db.endpoint_overrides.clone(),
            data: init_or_exit(DbConnector::new(db, startup.aws.sdk.clone())),
            config: init_or_exit(DrillConfig::from_env(&startup.env)),
            owner: startup.common.ledger_table.clone(),
            restore_jobs: BackupRestoreJobs {
                client: startup.aws.backup.clone(),
            },
        }
    })
    .await
}
