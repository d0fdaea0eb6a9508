//! Per-test AWS resources in moto (topic + queue, bucket, ledger table, metrics namespace, RDS
//! instance and cluster with unique names) and the environment a function binary runs with.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_config::Region;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_sqs::config::Credentials;
use rds_responder::aws::AwsClients;
use serde_json::Value;

/// The running local stack, from the variables `scripts/stack.sh up` writes.
#[derive(Debug, Clone)]
pub struct Stack {
    pub moto_endpoint: String,
    pub pg_port: u16,
    pub pg_replica_port: u16,
    pub pg_socket_dir: String,
    pub pg_user: String,
    pub pg_password: String,
    pub pg_ca_bundle: String,
    pub mysql_port: u16,
    pub mysql_socket: String,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: end-to-end tests need the local stack (run `make test`, or scripts/with-stack.sh cargo test -p e2e)")
    })
}

impl Stack {
    pub fn from_env() -> Self {
        Self {
            moto_endpoint: var("MOTO_ENDPOINT"),
            pg_port: var("PG_PORT").parse().expect("PG_PORT"),
            pg_replica_port: var("PG_REPLICA_PORT").parse().expect("PG_REPLICA_PORT"),
            pg_socket_dir: var("PG_SOCKET_DIR"),
            pg_user: var("PG_RESPONDER_USER"),
            pg_password: var("PG_RESPONDER_PASSWORD"),
            pg_ca_bundle: var("PG_CA_BUNDLE"),
            mysql_port: var("MYSQL_PORT").parse().expect("MYSQL_PORT"),
            mysql_socket: var("MYSQL_SOCKET"),
        }
    }

    /// A port nothing listens on (bound, read, released).
    pub fn closed_port() -> u16 {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        socket.local_addr().expect("addr").port()
    }
}

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

fn unique_suffix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{:x}{:x}{n}", std::process::id() % 0xfff, nanos % 0xfffff)
}

/// One test's world: its own topic, queue, bucket, table, namespace, instance and cluster.
pub struct Fixture {
    pub stack: Stack,
    pub aws: AwsClients,
    pub sqs: aws_sdk_sqs::Client,
    pub suffix: String,
    pub db: String,
    pub cluster: String,
    pub topic_arn: String,
    pub queue_url: String,
    pub bucket: String,
    pub table: String,
    pub namespace: String,
}

impl Fixture {
    pub async fn new() -> Self {
        let stack = Stack::from_env();
        let sdk = rds_responder::aws::loader()
            .region(Region::new(REGION))
            .endpoint_url(&stack.moto_endpoint)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "e2e"))
            .load()
            .await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let aws = AwsClients::new(sdk);
        let suffix = unique_suffix();
        let fixture = Self {
            db: format!("db-{suffix}"),
            cluster: format!("au-{suffix}"),
            topic_arn: String::new(),
            queue_url: String::new(),
            bucket: format!("reports-{suffix}"),
            table: format!("ledger-{suffix}"),
            namespace: format!("RdsResponder/{suffix}"),
            stack,
            aws,
            sqs,
            suffix,
        };
        fixture.seed().await
    }

    async fn seed(mut self) -> Self {
        let topic = self
            .aws
            .sns
            .create_topic()
            .name(format!("reports-{}", self.suffix))
            .send()
            .await
            .expect("create topic");
        self.topic_arn = topic.topic_arn().expect("topic arn").to_string();
        let queue_name = format!("reports-{}", self.suffix);
        let queue = self
            .sqs
            .create_queue()
            .queue_name(&queue_name)
            .send()
            .await
            .expect("create queue");
        self.queue_url = queue.queue_url().expect("queue url").to_string();
        self.aws
            .sns
            .subscribe()
            .topic_arn(&self.topic_arn)
            .protocol("sqs")
            .endpoint(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}"))
            .send()
            .await
            .expect("subscribe queue");
        self.aws
            .s3
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .expect("create bucket");
        self.create_table(&self.table.clone(), None).await;
        self.create_instance(&self.db.clone(), "postgres").await;
        self
    }

    /// Creates topic `name` delivering to this fixture's queue; returns its ARN.
    pub async fn topic_into_queue(&self, name: &str) -> String {
        let topic = self
            .aws
            .sns
            .create_topic()
            .name(name)
            .send()
            .await
            .expect("create topic");
        let arn = topic.topic_arn().expect("topic arn").to_string();
        let queue_name = self.queue_url.rsplit('/').next().unwrap_or_default();
        self.aws
            .sns
            .subscribe()
            .topic_arn(&arn)
            .protocol("sqs")
            .endpoint(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}"))
            .send()
            .await
            .expect("subscribe queue");
        arn
    }

    /// A fixture whose DB instance is a MySQL one, served locally by the stack's MariaDB.
    pub async fn new_mysql() -> Self {
        let mut fixture = Self::new().await;
        fixture.db = format!("my-{}", fixture.suffix);
        fixture.create_instance(&fixture.db.clone(), "mysql").await;
        fixture
    }

    /// `DB_ENDPOINT_OVERRIDES` sending this fixture's instance to the local MariaDB.
    pub fn mysql_override(&self) -> String {
        format!("{}=localhost:{}", self.db, self.stack.mysql_port)
    }

    /// A table keyed by `pk`, optionally with one GSI.
    pub async fn create_table(&self, name: &str, gsi: Option<&str>) {
        let key = |name: &str| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(KeyType::Hash)
                .build()
                .expect("key")
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute")
        };
        let mut request = self
            .aws
            .dynamodb
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk"))
            .attribute_definitions(attr("pk"));
        if let Some(index) = gsi {
            request = request
                .attribute_definitions(attr("gsi_pk"))
                .global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name(index)
                        .key_schema(key("gsi_pk"))
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::All)
                                .build(),
                        )
                        .build()
                        .expect("gsi"),
                );
        }
        request.send().await.expect("create table");
    }

    /// A DB instance of `engine` (`postgres`, `mysql`, `mariadb`).
    pub async fn create_instance(&self, id: &str, engine: &str) {
        let version = match engine {
            "postgres" => "16.4",
            "mariadb" => "10.11.9",
            _ => "8.0.39",
        };
        self.aws
            .rds
            .create_db_instance()
            .db_instance_identifier(id)
            .engine(engine)
            .engine_version(version)
            .db_instance_class("db.t3.micro")
            .allocated_storage(20)
            .master_username("admin_user")
            .master_user_password("not-used-locally")
            .multi_az(true)
            .enable_iam_database_authentication(true)
            .send()
            .await
            .expect("create DB instance");
    }

    /// An Aurora PostgreSQL cluster with members `<cluster>-1` (writer) and `<cluster>-2`.
    pub async fn create_cluster(&self) {
        self.aws
            .rds
            .create_db_cluster()
            .db_cluster_identifier(&self.cluster)
            .engine("aurora-postgresql")
            .master_username("admin_user")
            .master_user_password("not-used-locally")
            .send()
            .await
            .expect("create DB cluster");
        for n in 1..=2 {
            self.aws
                .rds
                .create_db_instance()
                .db_instance_identifier(format!("{}-{n}", self.cluster))
                .db_cluster_identifier(&self.cluster)
                .engine("aurora-postgresql")
                .db_instance_class("db.r6g.large")
                .send()
                .await
                .expect("create cluster member");
        }
    }

    /// Fails the cluster over to member `<cluster>-<member>`, as RDS-EVENT-0071 would report.
    pub async fn fail_over_cluster_to(&self, member: u32) {
        self.aws
            .rds
            .failover_db_cluster()
            .db_cluster_identifier(&self.cluster)
            .target_db_instance_identifier(format!("{}-{member}", self.cluster))
            .send()
            .await
            .expect("fail over the cluster");
    }

    /// A sample from `events/`, with the sample names swapped for this test's resources.
    pub fn event(&self, name: &str) -> Value {
        let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let text = text
            .replace("orders-aurora", &self.cluster)
            .replace("orders-db", &self.db);
        serde_json::from_str(&text).expect("sample JSON")
    }

    /// The environment a function runs with against this fixture; `overrides` replace entries.
    pub fn function_env(&self, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env: HashMap<String, String> = [
            ("AWS_REGION", REGION.to_string()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_ENDPOINT_URL", self.stack.moto_endpoint.clone()),
            ("REPORT_TOPIC_ARN", self.topic_arn.clone()),
            ("REPORT_BUCKET", self.bucket.clone()),
            ("LEDGER_TABLE", self.table.clone()),
            ("METRICS_NAMESPACE", self.namespace.clone()),
            // Sample events carry fixed times; staleness has its own tests.
            ("MAX_EVENT_AGE_SECONDS", "0".into()),
            ("DB_AUTH", "password".into()),
            ("DB_USER", self.stack.pg_user.clone()),
            ("DB_PASSWORD", self.stack.pg_password.clone()),
            ("DB_TLS", "verify-full".into()),
            ("DB_CA_BUNDLE", self.stack.pg_ca_bundle.clone()),
            (
                "DB_ENDPOINT_OVERRIDES",
                format!(
                    "{db}=localhost:{port},{cluster}=localhost:{port}",
                    db = self.db,
                    cluster = self.cluster,
                    port = self.stack.pg_port
                ),
            ),
            ("CONNECTIONS_NORMAL_RANGE", "1-500".into()),
            ("AVAILABLE_WAIT_SECONDS", "5".into()),
            ("DEADLINE_RESERVE_SECONDS", "5".into()),
            ("RUST_LOG", "info".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in overrides {
            env.insert(k.to_string(), v.to_string());
        }
        env.into_iter().collect()
    }

    /// Puts a `DatabaseConnections` datapoint for a DB instance, as RDS would.
    pub async fn put_connections(&self, db: &str, value: f64) {
        use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
        self.aws
            .cloudwatch
            .put_metric_data()
            .namespace("AWS/RDS")
            .metric_data(
                MetricDatum::builder()
                    .metric_name("DatabaseConnections")
                    .dimensions(
                        Dimension::builder()
                            .name("DBInstanceIdentifier")
                            .value(db)
                            .build(),
                    )
                    .value(value)
                    .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_millis(
                        chrono::Utc::now().timestamp_millis(),
                    ))
                    .build(),
            )
            .send()
            .await
            .expect("put metric data");
    }

    /// Gives instance `db` `allocated` GiB of `storage_type` (gp3: 3,000 IOPS, 125 MiB/s),
    /// autoscaling up to `max` when set, and the tags `tags`.
    pub async fn shape_storage(
        &self,
        db: &str,
        allocated: i32,
        max: Option<i32>,
        storage_type: &str,
        tags: &[(&str, &str)],
    ) {
        let mut modify = self
            .aws
            .rds
            .modify_db_instance()
            .db_instance_identifier(db)
            .allocated_storage(allocated)
            .storage_type(storage_type)
            .apply_immediately(true);
        if let Some(max) = max {
            modify = modify.max_allocated_storage(max);
        }
        if storage_type == "gp3" {
            modify = modify.iops(3000).storage_throughput(125);
        }
        modify.send().await.expect("shape the instance's storage");
        if !tags.is_empty() {
            self.tag_instance(db, tags).await;
        }
    }

    /// Adds `tags` to DB instance `db`.
    pub async fn tag_instance(&self, db: &str, tags: &[(&str, &str)]) {
        self.aws
            .rds
            .add_tags_to_resource()
            .resource_name(format!("arn:aws:rds:{REGION}:{ACCOUNT}:db:{db}"))
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(*k).value(*v).build())
                    .collect(),
            ))
            .send()
            .await
            .expect("tag the instance");
    }

    /// 24 hours of `FreeStorageSpace` of instance `db` in five-minute points, as RDS publishes
    /// them: `free_gib(hours ago)` GiB.
    pub async fn put_free_storage(&self, db: &str, free_gib: impl Fn(f64) -> f64) {
        use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
        let now = chrono::Utc::now();
        let points: Vec<MetricDatum> = (0..288)
            .map(|i| {
                let hours_ago = f64::from(i) * 5.0 / 60.0;
                MetricDatum::builder()
                    .metric_name("FreeStorageSpace")
                    .dimensions(
                        Dimension::builder()
                            .name("DBInstanceIdentifier")
                            .value(db)
                            .build(),
                    )
                    .value(free_gib(hours_ago) * 1024.0 * 1024.0 * 1024.0)
                    .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_millis(
                        (now - chrono::Duration::minutes(5 * i64::from(i))).timestamp_millis(),
                    ))
                    .build()
            })
            .collect();
        for batch in points.chunks(100) {
            self.aws
                .cloudwatch
                .put_metric_data()
                .namespace("AWS/RDS")
                .set_metric_data(Some(batch.to_vec()))
                .send()
                .await
                .expect("put FreeStorageSpace");
        }
    }

    /// SNS notifications that reached the queue: reads until `expected` arrived or `wait` ran
    /// out, then once more, so a test asserting "exactly N" also sees any extra one.
    pub async fn published(&self, expected: usize, wait: Duration) -> Vec<Value> {
        let until = tokio::time::Instant::now() + wait;
        let mut messages = Vec::new();
        loop {
            let done = messages.len() >= expected || tokio::time::Instant::now() >= until;
            messages.extend(self.receive_batch().await);
            if done {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn receive_batch(&self) -> Vec<Value> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive message");
        let mut batch = Vec::new();
        for m in out.messages() {
            let envelope: Value =
                serde_json::from_str(m.body().unwrap_or("null")).expect("SNS envelope JSON");
            crate::collect_report("sns", &envelope);
            batch.push(envelope);
            if let Some(handle) = m.receipt_handle() {
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .expect("delete message");
            }
        }
        batch
    }

    /// The archived report, if any.
    pub async fn archived(&self, key: &str) -> Option<Value> {
        let out = self
            .aws
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        let bytes = out.body.collect().await.ok()?.into_bytes();
        let report = serde_json::from_slice(&bytes).ok()?;
        crate::collect_report("s3", &report);
        Some(report)
    }

    pub async fn archive_keys(&self) -> Vec<String> {
        let out = self
            .aws
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .send()
            .await
            .expect("list objects");
        out.contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect()
    }

    /// Writes a lock on this fixture's instance held by another run until `until`.
    pub async fn hold_lock(&self, holder_request_id: &str, until: chrono::DateTime<chrono::Utc>) {
        use aws_sdk_dynamodb::types::AttributeValue;
        let s = |v: &str| AttributeValue::S(v.to_string());
        self.aws
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&format!("lock#db-instance#{}", self.db)))
            .item("state", s("LOCKED"))
            .item("function", s("idle-reaper"))
            .item("request_id", s(holder_request_id))
            .item(
                "trigger_key",
                s("idle-reaper#schedule#hygiene#2026-11-22T03:00:00.000Z"),
            )
            .item(
                "expires_at",
                AttributeValue::N(until.timestamp().to_string()),
            )
            .send()
            .await
            .expect("put lock");
    }

    /// The manual snapshots of instance `db` in moto, tags included.
    pub async fn manual_snapshots(&self, db: &str) -> Vec<aws_sdk_rds::types::DbSnapshot> {
        self.aws
            .rds
            .describe_db_snapshots()
            .db_instance_identifier(db)
            .snapshot_type("manual")
            .send()
            .await
            .expect("describe snapshots")
            .db_snapshots
            .unwrap_or_default()
    }

    /// The manual snapshot ids of instance `db` in moto.
    pub async fn snapshot_names(&self, db: &str) -> Vec<String> {
        self.manual_snapshots(db)
            .await
            .iter()
            .filter_map(|s| s.db_snapshot_identifier().map(str::to_string))
            .collect()
    }

    /// The names of the DynamoDB backups of `table` in moto.
    pub async fn backup_names(&self, table: &str) -> Vec<String> {
        let out = self
            .aws
            .dynamodb
            .list_backups()
            .table_name(table)
            .send()
            .await
            .expect("list backups");
        out.backup_summaries()
            .iter()
            .filter_map(|b| b.backup_name().map(str::to_string))
            .collect()
    }

    /// Every ledger item: (pk, state).
    pub async fn ledger(&self) -> Vec<(String, String)> {
        let out = self
            .aws
            .dynamodb
            .scan()
            .table_name(&self.table)
            .send()
            .await
            .expect("scan ledger");
        out.items()
            .iter()
            .map(|item| {
                let text = |k: &str| {
                    item.get(k)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default()
                };
                (text("pk"), text("state"))
            })
            .collect()
    }
}

/// The SDK clients a benchmark makes its own calls with (its floor), through `endpoint`.
pub async fn clients_at(endpoint: &str) -> AwsClients {
    AwsClients::new(
        rds_responder::aws::loader()
            .region(Region::new(REGION))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "bench"))
            .load()
            .await,
    )
}
