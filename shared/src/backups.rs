//! Copies of data: RDS DB and cluster snapshots, DynamoDB on-demand backups and point-in-time
//! recovery. Listings read every page and carry tags from the describe call itself (`TagList`),
//! so deciding over thousands of snapshots costs pages, not one request per snapshot.

use crate::budget::BoundedCall;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use aws_sdk_dynamodb::types::{BackupTypeFilter, PointInTimeRecoverySpecification};
use aws_sdk_rds::operation::create_db_cluster_snapshot::CreateDBClusterSnapshotError;
use aws_sdk_rds::operation::create_db_snapshot::CreateDBSnapshotError;
use aws_sdk_rds::operation::delete_db_cluster_snapshot::DeleteDBClusterSnapshotError;
use aws_sdk_rds::operation::delete_db_snapshot::DeleteDBSnapshotError;
use aws_sdk_rds::operation::describe_db_cluster_snapshots::DescribeDBClusterSnapshotsError;
use aws_sdk_rds::operation::describe_db_snapshots::DescribeDBSnapshotsError;
use aws_sdk_rds::types::Tag;

use crate::aws::Markers;
use crate::aws::{SdkError, SdkFailure};
use crate::rds::{tag_map, RdsError};
use crate::trigger::{DbTarget, RdsIdentifier, ResourceKind, TableName};

/// Instance snapshots or cluster snapshots: two APIs with the same shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SnapshotOf {
    Instance,
    Cluster,
}

impl SnapshotOf {
    pub fn of(db: &DbTarget) -> Self {
        match db {
            DbTarget::Instance(_) => SnapshotOf::Instance,
            DbTarget::Cluster(_) => SnapshotOf::Cluster,
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            SnapshotOf::Instance => "DB snapshot",
            SnapshotOf::Cluster => "DB cluster snapshot",
        }
    }
}

/// A snapshot as listed, tags included.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotInfo {
    /// As RDS lists it: `rds:` for automated, `awsbackup:` for AWS Backup snapshots.
    pub id: String,
    pub of: SnapshotOf,
    /// The DB instance or cluster it is of.
    pub db: String,
    /// `manual`, `automated`, `shared`, `public` or `awsbackup`.
    pub snapshot_type: String,
    pub status: String,
    pub created: Option<DateTime<Utc>>,
    pub tags: BTreeMap<String, String>,
    /// Set when it was copied in from another snapshot (another region or account).
    pub copied_from: Option<String>,
    pub progress_percent: Option<i32>,
    pub allocated_gib: Option<i32>,
}

/// A DB instance or cluster as listed, with what snapshot scheduling needs to know.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DbListing {
    pub db: DbTarget,
    pub status: String,
    pub engine: String,
    /// For an instance: the cluster it belongs to (Aurora, Multi-AZ DB cluster).
    pub cluster: Option<String>,
    /// Set for a read replica: what it replicates.
    pub replica_of: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// A manual-snapshot quota of the account (`DescribeAccountAttributes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quota {
    pub name: String,
    pub used: i64,
    pub max: i64,
}

pub(crate) fn to_chrono(t: &aws_sdk_rds::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(t.to_millis().ok()?)
}

pub(crate) fn rds_failure<E>(operation: &'static str) -> impl FnOnce(SdkError<E>) -> RdsError
where
    E: aws_sdk_rds::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| RdsError::Api {
        operation,
        source: SdkFailure::from_sdk("RDS", &e),
    }
}

pub(crate) fn listed_id(
    operation: &'static str,
    raw: &str,
    kind: ResourceKind,
) -> Result<RdsIdentifier, RdsError> {
    RdsIdentifier::parse(raw, kind).map_err(|rule| RdsError::Unexpected {
        operation,
        detail: format!("identifier {raw:?} {rule}"),
    })
}

#[allow(async_fn_in_trait)]
pub trait SnapshotCatalog {
    /// Every DB cluster and every DB instance, all pages, tags included.
    async fn list_databases(&self) -> Result<Vec<DbListing>, RdsError>;
    /// Every manual snapshot of one kind, of one database or (`None`) of all, all pages.
    async fn list_snapshots(
        &self,
        of: SnapshotOf,
        db: Option<&RdsIdentifier>,
    ) -> Result<Vec<SnapshotInfo>, RdsError>;
    /// One snapshot by id; `Ok(None)` when there is none.
    async fn find_snapshot(
        &self,
        of: SnapshotOf,
        id: &str,
    ) -> Result<Option<SnapshotInfo>, RdsError>;
    /// `RdsError::AlreadyExists` when the id is taken.
    async fn create_snapshot(
        &self,
        db: &DbTarget,
        id: &RdsIdentifier,
        tags: &[(String, String)],
    ) -> Result<SnapshotInfo, RdsError>;
    async fn delete_snapshot(&self, of: SnapshotOf, id: &str) -> Result<(), RdsError>;
    /// The account's manual snapshot quotas.
    async fn snapshot_quotas(&self) -> Result<Vec<Quota>, RdsError>;
}

pub struct RdsSnapshots {
    pub client: aws_sdk_rds::Client,
}

pub(crate) fn from_db_snapshot(s: &aws_sdk_rds::types::DbSnapshot) -> SnapshotInfo {
    SnapshotInfo {
        id: s.db_snapshot_identifier().unwrap_or_default().to_string(),
        of: SnapshotOf::Instance,
        db: s.db_instance_identifier().unwrap_or_default().to_string(),
        snapshot_type: s.snapshot_type().unwrap_or("unknown").to_string(),
        status: s.status().unwrap_or("unknown").to_string(),
        created: s.snapshot_create_time().and_then(to_chrono),
        tags: tag_map(s.tag_list()),
        copied_from: s.source_db_snapshot_identifier().map(str::to_string),
        progress_percent: s.percent_progress(),
        allocated_gib: s.allocated_storage(),
    }
}

pub(crate) fn from_cluster_snapshot(s: &aws_sdk_rds::types::DbClusterSnapshot) -> SnapshotInfo {
    SnapshotInfo {
        id: s
            .db_cluster_snapshot_identifier()
            .unwrap_or_default()
            .to_string(),
        of: SnapshotOf::Cluster,
        db: s.db_cluster_identifier().unwrap_or_default().to_string(),
        snapshot_type: s.snapshot_type().unwrap_or("unknown").to_string(),
        status: s.status().unwrap_or("unknown").to_string(),
        created: s.snapshot_create_time().and_then(to_chrono),
        tags: tag_map(s.tag_list()),
        copied_from: s.source_db_cluster_snapshot_arn().map(str::to_string),
        progress_percent: s.percent_progress(),
        allocated_gib: s.allocated_storage(),
    }
}

/// Listing pages hold at most this many records (the RDS maximum): fewest requests.
const PAGE_SIZE: i32 = 100;

impl SnapshotCatalog for RdsSnapshots {
    async fn list_databases(&self) -> Result<Vec<DbListing>, RdsError> {
        let mut out = Vec::new();
        let (mut markers, mut marker) = (Markers::default(), None);
        loop {
            let page = self
                .client
                .describe_db_clusters()
                .max_records(PAGE_SIZE)
                .set_marker(marker)
                .send()
                .bounded("RDS DescribeDBClusters")
                .await
                .map_err(rds_failure("DescribeDBClusters"))?;
            for c in page.db_clusters() {
                let Some(raw) = c.db_cluster_identifier() else {
                    continue;
                };
                out.push(DbListing {
                    db: DbTarget::Cluster(listed_id(
                        "DescribeDBClusters",
                        raw,
                        ResourceKind::DbCluster,
                    )?),
                    status: c.status().unwrap_or("unknown").to_string(),
                    engine: c.engine().unwrap_or("unknown").to_string(),
                    cluster: None,
                    replica_of: c.replication_source_identifier().map(str::to_string),
                    tags: tag_map(c.tag_list()),
                });
            }
            marker = markers.follow("DescribeDBClusters", page.marker())?;
            if marker.is_none() {
                break;
            }
        }
        let (mut markers, mut marker) = (Markers::default(), None);
        loop {
            let page = self
                .client
                .describe_db_instances()
                .max_records(PAGE_SIZE)
                .set_marker(marker)
                .send()
                .bounded("RDS DescribeDBInstances")
                .await
                .map_err(rds_failure("DescribeDBInstances"))?;
            for db in page.db_instances() {
                let Some(raw) = db.db_instance_identifier() else {
                    continue;
                };
                out.push(DbListing {
                    db: DbTarget::Instance(listed_id(
                        "DescribeDBInstances",
                        raw,
                        ResourceKind::DbInstance,
                    )?),
                    status: db.db_instance_status().unwrap_or("unknown").to_string(),
                    engine: db.engine().unwrap_or("unknown").to_string(),
                    cluster: db.db_cluster_identifier().map(str::to_string),
                    replica_of: db
                        .read_replica_source_db_instance_identifier()
                        .or(db.read_replica_source_db_cluster_identifier())
                        .map(str::to_string),
                    tags: tag_map(db.tag_list()),
                });
            }
            marker = markers.follow("DescribeDBInstances", page.marker())?;
            if marker.is_none() {
                return Ok(out);
            }
        }
    }

    async fn list_snapshots(
        &self,
        of: SnapshotOf,
        db: Option<&RdsIdentifier>,
    ) -> Result<Vec<SnapshotInfo>, RdsError> {
        let mut out = Vec::new();
        let (mut markers, mut marker) = (Markers::default(), None);
        loop {
            let next = match of {
                SnapshotOf::Instance => {
                    let page = self
                        .client
                        .describe_db_snapshots()
                        .snapshot_type("manual")
                        .set_db_instance_identifier(db.map(|d| d.to_string()))
                        .max_records(PAGE_SIZE)
                        .set_marker(marker)
                        .send()
                        .bounded("RDS DescribeDBSnapshots")
                        .await
                        .map_err(rds_failure("DescribeDBSnapshots"))?;
                    out.extend(page.db_snapshots().iter().map(from_db_snapshot));
                    markers.follow("DescribeDBSnapshots", page.marker())?
                }
                SnapshotOf::Cluster => {
                    let page = self
                        .client
                        .describe_db_cluster_snapshots()
                        .snapshot_type("manual")
                        .set_db_cluster_identifier(db.map(|d| d.to_string()))
                        .max_records(PAGE_SIZE)
                        .set_marker(marker)
                        .send()
                        .bounded("RDS DescribeDBClusterSnapshots")
                        .await
                        .map_err(rds_failure("DescribeDBClusterSnapshots"))?;
                    out.extend(
                        page.db_cluster_snapshots()
                            .iter()
                            .map(from_cluster_snapshot),
                    );
                    markers.follow("DescribeDBClusterSnapshots", page.marker())?
                }
            };
            marker = next;
            if marker.is_none() {
                return Ok(out);
            }
        }
    }

    async fn find_snapshot(
        &self,
        of: SnapshotOf,
        id: &str,
    ) -> Result<Option<SnapshotInfo>, RdsError> {
        match of {
            SnapshotOf::Instance => {
                match self
                    .client
                    .describe_db_snapshots()
                    .db_snapshot_identifier(id)
                    .send()
                    .bounded("RDS DescribeDBSnapshots")
                    .await
                {
                    Ok(out) => Ok(out.db_snapshots().first().map(from_db_snapshot)),
                    Err(e) => match e.as_service_error() {
                        Some(DescribeDBSnapshotsError::DbSnapshotNotFoundFault(_)) => Ok(None),
                        _ => Err(rds_failure("DescribeDBSnapshots")(e)),
                    },
                }
            }
            SnapshotOf::Cluster => {
                match self
                    .client
                    .describe_db_cluster_snapshots()
                    .db_cluster_snapshot_identifier(id)
                    .send()
                    .bounded("RDS DescribeDBClusterSnapshots")
                    .await
                {
                    Ok(out) => Ok(out
                        .db_cluster_snapshots()
                        .first()
                        .map(from_cluster_snapshot)),
                    Err(e) => match e.as_service_error() {
                        Some(DescribeDBClusterSnapshotsError::DbClusterSnapshotNotFoundFault(
                            _,
                        )) => Ok(None),
                        _ => Err(rds_failure("DescribeDBClusterSnapshots")(e)),
                    },
                }
            }
        }
    }

    async fn create_snapshot(
        &self,
        db: &DbTarget,
        id: &RdsIdentifier,
        tags: &[(String, String)],
    ) -> Result<SnapshotInfo, RdsError> {
        let tags: Vec<Tag> = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let exists = |of: SnapshotOf| RdsError::AlreadyExists {
            kind: of.noun(),
            id: id.to_string(),
        };
        let missing = |operation| RdsError::Unexpected {
            operation,
            detail: "the response carried no snapshot".into(),
        };
        match db {
            DbTarget::Instance(instance) => {
                let out = self
                    .client
                    .create_db_snapshot()
                    .db_instance_identifier(instance.as_str())
                    .db_snapshot_identifier(id.as_str())
                    .set_tags(Some(tags))
                    .send()
                    .bounded_action("RDS CreateDBSnapshot")
                    .await
                    .map_err(|e| match e.as_service_error() {
                        Some(CreateDBSnapshotError::DbSnapshotAlreadyExistsFault(_)) => {
                            exists(SnapshotOf::Instance)
                        }
                        Some(CreateDBSnapshotError::DbInstanceNotFoundFault(_)) => {
                            RdsError::NotFound {
                                kind: "DB instance",
                                id: instance.to_string(),
                            }
                        }
                        _ => rds_failure("CreateDBSnapshot")(e),
                    })?;
                out.db_snapshot()
                    .map(from_db_snapshot)
                    .ok_or_else(|| missing("CreateDBSnapshot"))
            }
            DbTarget::Cluster(cluster) => {
                let out = self
                    .client
                    .create_db_cluster_snapshot()
                    .db_cluster_identifier(cluster.as_str())
                    .db_cluster_snapshot_identifier(id.as_str())
                    .set_tags(Some(tags))
                    .send()
                    .bounded_action("RDS CreateDBClusterSnapshot")
                    .await
                    .map_err(|e| match e.as_service_error() {
                        Some(
                            CreateDBClusterSnapshotError::DbClusterSnapshotAlreadyExistsFault(_),
                        ) => exists(SnapshotOf::Cluster),
                        Some(CreateDBClusterSnapshotError::DbClusterNotFoundFault(_)) => {
                            RdsError::NotFound {
                                kind: "DB cluster",
                                id: cluster.to_string(),
                            }
                        }
                        _ => rds_failure("CreateDBClusterSnapshot")(e),
                    })?;
                out.db_cluster_snapshot()
                    .map(from_cluster_snapshot)
                    .ok_or_else(|| missing("CreateDBClusterSnapshot"))
            }
        }
    }

    async fn delete_snapshot(&self, of: SnapshotOf, id: &str) -> Result<(), RdsError> {
        let gone = || RdsError::NotFound {
            kind: of.noun(),
            id: id.to_string(),
        };
        match of {
            SnapshotOf::Instance => self
                .client
                .delete_db_snapshot()
                .db_snapshot_identifier(id)
                .send()
                .bounded_action("RDS DeleteDBSnapshot")
                .await
                .map(|_| ())
                .map_err(|e| match e.as_service_error() {
                    Some(DeleteDBSnapshotError::DbSnapshotNotFoundFault(_)) => gone(),
                    _ => rds_failure("DeleteDBSnapshot")(e),
                }),
            SnapshotOf::Cluster => self
                .client
                .delete_db_cluster_snapshot()
                .db_cluster_snapshot_identifier(id)
                .send()
                .bounded_action("RDS DeleteDBClusterSnapshot")
                .await
                .map(|_| ())
                .map_err(|e| match e.as_service_error() {
                    Some(DeleteDBClusterSnapshotError::DbClusterSnapshotNotFoundFault(_)) => gone(),
                    _ => rds_failure("DeleteDBClusterSnapshot")(e),
                }),
        }
    }

    async fn snapshot_quotas(&self) -> Result<Vec<Quota>, RdsError> {
        let out = self
            .client
            .describe_account_attributes()
            .send()
            .bounded("RDS DescribeAccountAttributes")
            .await
            .map_err(rds_failure("DescribeAccountAttributes"))?;
        Ok(out
            .account_quotas()
            .iter()
            .filter_map(|q| {
                let name = q.account_quota_name()?;
                name.contains("Snapshots").then(|| Quota {
                    name: name.to_string(),
                    used: q.used().unwrap_or_default(),
                    max: q.max().unwrap_or_default(),
                })
            })
            .collect())
    }
}

/// A DynamoDB on-demand backup as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupInfo {
    pub arn: String,
    pub name: String,
    pub table: String,
    /// `CREATING`, `AVAILABLE` or `DELETED`.
    pub status: String,
    /// `USER`, `SYSTEM` or `AWS_BACKUP`.
    pub backup_type: String,
    pub created: Option<DateTime<Utc>>,
    pub size_bytes: Option<i64>,
}

/// A table's point-in-time recovery.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PitrStatus {
    pub enabled: bool,
    pub latest_restorable: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("DynamoDB {operation} on {table} failed: {source}")]
pub struct BackupError {
    pub operation: &'static str,
    pub table: String,
    #[source]
    pub source: Box<SdkFailure>,
}

impl BackupError {
    /// The backup is not there (`BackupNotFoundException`): deleted since it was listed.
    pub fn gone(&self) -> bool {
        self.source.code.as_deref() == Some("BackupNotFoundException")
    }
}

#[allow(async_fn_in_trait)]
pub trait TableBackups {
    async fn create_backup(&self, table: &TableName, name: &str)
        -> Result<BackupInfo, BackupError>;
    /// The table's `USER` backups, all pages.
    async fn list_backups(&self, table: &TableName) -> Result<Vec<BackupInfo>, BackupError>;
    async fn delete_backup(&self, table: &TableName, arn: &str) -> Result<(), BackupError>;
    async fn pitr(&self, table: &TableName) -> Result<PitrStatus, BackupError>;
    async fn enable_pitr(&self, table: &TableName) -> Result<(), BackupError>;
}

pub struct DynamoBackups {
    pub client: aws_sdk_dynamodb::Client,
}

pub(crate) fn dynamo_failure<E>(
    operation: &'static str,
    table: &TableName,
) -> impl FnOnce(SdkError<E>) -> BackupError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let table = table.as_str().to_string();
    move |e| BackupError {
        operation,
        table,
        source: Box::new(SdkFailure::from_sdk("DynamoDB", &e)),
    }
}

fn local_failure(operation: &'static str, table: &TableName, message: String) -> BackupError {
    BackupError {
        operation,
        table: table.as_str().to_string(),
        source: Box::new(SdkFailure {
            service: "DynamoDB",
            code: None,
            message,
            request_id: None,
        }),
    }
}

impl TableBackups for DynamoBackups {
    async fn create_backup(
        &self,
        table: &TableName,
        name: &str,
    ) -> Result<BackupInfo, BackupError> {
        let out = self
            .client
            .create_backup()
            .table_name(table.as_str())
            .backup_name(name)
            // Not idempotent (names may repeat): an attempt that timed out may have made a
            // backup, and the SDK's resend would make a second. A failed call is retried by the
            // run's own retry, which finds a backup it made by name before creating.
            .customize()
            .config_override(
                aws_sdk_dynamodb::config::Builder::default()
                    .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled()),
            )
            .send()
            .bounded_action("DynamoDB CreateBackup")
            .await
            .map_err(dynamo_failure("CreateBackup", table))?;
        let d = out.backup_details().ok_or_else(|| {
            local_failure("CreateBackup", table, "no backup details returned".into())
        })?;
        Ok(BackupInfo {
            arn: d.backup_arn().to_string(),
            name: d.backup_name().to_string(),
            table: table.as_str().to_string(),
            status: d.backup_status().as_str().to_string(),
            backup_type: d.backup_type().as_str().to_string(),
            created: to_chrono(d.backup_creation_date_time()),
            size_bytes: d.backup_size_bytes(),
        })
    }

    async fn list_backups(&self, table: &TableName) -> Result<Vec<BackupInfo>, BackupError> {
        let mut out = Vec::new();
        let (mut markers, mut start) = (Markers::default(), None::<String>);
        loop {
            let page = self
                .client
                .list_backups()
                .table_name(table.as_str())
                .backup_type(BackupTypeFilter::User)
                .set_exclusive_start_backup_arn(start.clone())
                .send()
                .bounded("DynamoDB ListBackups")
                .await
                .map_err(dynamo_failure("ListBackups", table))?;
            out.extend(page.backup_summaries().iter().map(|b| {
                BackupInfo {
                    arn: b.backup_arn().unwrap_or_default().to_string(),
                    name: b.backup_name().unwrap_or_default().to_string(),
                    table: b.table_name().unwrap_or(table.as_str()).to_string(),
                    status: b
                        .backup_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "UNKNOWN".into()),
                    backup_type: b
                        .backup_type()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "UNKNOWN".into()),
                    created: b.backup_creation_date_time().and_then(to_chrono),
                    size_bytes: b.backup_size_bytes(),
                }
            }));
            start = markers
                .next(page.last_evaluated_backup_arn())
                .map_err(|why| local_failure("ListBackups", table, why))?;
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    async fn delete_backup(&self, table: &TableName, arn: &str) -> Result<(), BackupError> {
        self.client
            .delete_backup()
            .backup_arn(arn)
            .send()
            .bounded_action("DynamoDB DeleteBackup")
            .await
            .map(|_| ())
            .map_err(dynamo_failure("DeleteBackup", table))
    }

    async fn pitr(&self, table: &TableName) -> Result<PitrStatus, BackupError> {
        let out = self
            .client
            .describe_continuous_backups()
            .table_name(table.as_str())
            .send()
            .bounded("DynamoDB DescribeContinuousBackups")
            .await
            .map_err(dynamo_failure("DescribeContinuousBackups", table))?;
        let pitr = out
            .continuous_backups_description()
            .and_then(|d| d.point_in_time_recovery_description());
        Ok(PitrStatus {
            enabled: pitr
                .and_then(|p| p.point_in_time_recovery_status())
                .is_some_and(|s| s.as_str() == "ENABLED"),
            latest_restorable: pitr
                .and_then(|p| p.latest_restorable_date_time())
                .and_then(to_chrono),
        })
    }

    async fn enable_pitr(&self, table: &TableName) -> Result<(), BackupError> {
        let spec = PointInTimeRecoverySpecification::builder()
            .point_in_time_recovery_enabled(true)
            .build()
            .map_err(|e| local_failure("UpdateContinuousBackups", table, e.to_string()))?;
        self.client
            .update_continuous_backups()
            .table_name(table.as_str())
            .point_in_time_recovery_specification(spec)
            .send()
            .bounded_action("DynamoDB UpdateContinuousBackups")
            .await
            .map(|_| ())
            .map_err(dynamo_failure("UpdateContinuousBackups", table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The snapshot catalog over an RDS endpoint at `url`, with test credentials.
    fn catalog_at(url: &str) -> RdsSnapshots {
        let config = aws_sdk_rds::Config::builder()
            .behavior_version(aws_sdk_rds::config::BehaviorVersion::latest())
            .region(aws_sdk_rds::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_rds::config::Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            ))
            .endpoint_url(url)
            .http_client(crate::aws::http_client(
                crate::aws::AMAZON_TRUST_ROOTS.to_vec(),
            ))
            .build();
        RdsSnapshots {
            client: aws_sdk_rds::Client::from_conf(config),
        }
    }

    fn snapshots_page(ids: &[&str], marker: Option<&str>) -> String {
        let snapshots: String = ids
            .iter()
            .map(|id| {
                format!(
                    "<DBSnapshot><DBSnapshotIdentifier>{id}</DBSnapshotIdentifier><DBInstanceIdentifier>orders-db</DBInstanceIdentifier><SnapshotType>manual</SnapshotType><Status>available</Status></DBSnapshot>"
                )
            })
            .collect();
        let marker = marker
            .map(|m| format!("<Marker>{m}</Marker>"))
            .unwrap_or_default();
        format!(
            "<DescribeDBSnapshotsResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><DescribeDBSnapshotsResult><DBSnapshots>{snapshots}</DBSnapshots>{marker}</DescribeDBSnapshotsResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></DescribeDBSnapshotsResponse>"
        )
    }

    #[tokio::test]
    async fn a_listing_follows_every_marker_to_the_end() {
        let (url, seen) = crate::testing::canned_http(|body| {
            if body.contains("Marker=m2") {
                snapshots_page(&["orders-db-rr-3"], None)
            } else if body.contains("Marker=m1") {
                snapshots_page(&["orders-db-rr-2"], Some("m2"))
            } else {
                snapshots_page(&["orders-db-rr-1"], Some("m1"))
            }
        })
        .await
        .unwrap();
        let listed = catalog_at(&url)
            .list_snapshots(SnapshotOf::Instance, None)
            .await
            .unwrap();
        let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["orders-db-rr-1", "orders-db-rr-2", "orders-db-rr-3"]);
        assert_eq!(seen.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_repeated_marker_fails_the_listing_instead_of_ending_it() {
        // Page 2 points back at itself: the SDK's paginator ends there without a word.
        let (url, _) = crate::testing::canned_http(|body| {
            if body.contains("Marker=") {
                snapshots_page(&["orders-db-rr-2"], Some("m1"))
            } else {
                snapshots_page(&["orders-db-rr-1"], Some("m1"))
            }
        })
        .await
        .unwrap();
        let err = catalog_at(&url)
            .list_snapshots(SnapshotOf::Instance, None)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("DescribeDBSnapshots"), "{text}");
        assert!(
            text.contains("a page marker it had returned before (m1)"),
            "{text}"
        );
    }

    #[test]
    fn markers_end_on_none_or_empty_and_refuse_a_repeat() {
        let mut markers = Markers::default();
        assert_eq!(
            markers.follow("X", Some("a")).unwrap().as_deref(),
            Some("a")
        );
        assert_eq!(
            markers.follow("X", Some("b")).unwrap().as_deref(),
            Some("b")
        );
        assert_eq!(markers.follow("X", Some("")).unwrap(), None);
        assert_eq!(markers.follow("X", None).unwrap(), None);
        assert!(markers.follow("X", Some("a")).is_err());
    }
}
