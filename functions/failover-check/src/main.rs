//! failover-check: after a Multi-AZ or Aurora failover, verify the database end to end.

use chrono::Utc;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

use failover_check::config::FailoverConfig;
use failover_check::handler::FailoverCheck;
use rds_responder::aws::AwsClients;
use rds_responder::cloudwatch::CloudWatchReader;
use rds_responder::config::{CommonConfig, DbConfig, Env};
use rds_responder::dns::SystemResolver;
use rds_responder::ledger::DynamoLedger;
use rds_responder::publish::AwsReportSink;
use rds_responder::rds::RdsInventory;
use rds_responder::runner::{Invocation, Runner};
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

    let runner = Runner {
        responder: FailoverCheck {
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
        },
        ledger: DynamoLedger {
            client: aws.dynamodb.clone(),
            table: common.ledger_table.clone(),
            retention: chrono::Duration::days(14),
        },
        sink: AwsReportSink {
            sns: aws.sns.clone(),
            s3: aws.s3.clone(),
            cloudwatch: aws.cloudwatch.clone(),
            topic_arn: common.report_topic_arn.clone(),
            bucket: common.report_bucket.clone(),
            namespace: common.metrics_namespace.clone(),
        },
        common,
    };
    let runner = &runner;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let invocation =
            Invocation::from_context(&event.context, &runner.common.region, Utc::now())?;
        runner.handle(event.payload, &invocation).await
    }))
    .await
}
