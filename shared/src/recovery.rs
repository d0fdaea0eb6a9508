//! Recovery points and scratch restores: what a database can be restored to (RDS
//! `LatestRestorableTime`, backup retention, every snapshot of any type), and the restore and
//! delete calls a restore drill makes on its scratch instances. One listing of every instance and
//! cluster (tags and placement included) serves the RPO audit, the drill's source and the sweep.

use std::collections::BTreeMap;

use aws_sdk_rds::operation::create_db_instance::CreateDBInstanceError;
use aws_sdk_rds::operation::delete_db_cluster::DeleteDBClusterError;
use aws_sdk_rds::operation::delete_db_instance::DeleteDBInstanceError;
use aws_sdk_rds::operation::restore_db_cluster_from_snapshot::RestoreDBClusterFromSnapshotError;
use aws_sdk_rds::operation::restore_db_cluster_to_point_in_time::RestoreDBClusterToPointInTimeError;
use aws_sdk_rds::operation::restore_db_instance_from_db_snapshot::RestoreDBInstanceFromDBSnapshotError;
use aws_sdk_rds::operation::restore_db_instance_to_point_in_time::RestoreDBInstanceToPointInTimeError;
use aws_sdk_rds::types::Tag;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::aws::Markers;
use crate::backups::{
    from_cluster_snapshot, from_db_snapshot, listed_id as listed, rds_failure as failure,
    to_chrono, SnapshotInfo,
};
use crate::budget::BoundedCall;
use crate::rds::{endpoint_of, tag_map, Endpoint, RdsError};
use crate::trigger::{DbTarget, RdsIdentifier, ResourceKind};

/// What a restore copies from its source (an instance, or a cluster: its parameter group is the
/// cluster parameter group, it has no option group and no class): read from the source, never
/// guessed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Placement {
    pub instance_class: String,
    pub subnet_group: Option<String>,
    pub security_groups: Vec<String>,
    pub parameter_group: Option<String>,
    pub option_group: Option<String>,
    pub kms_key: Option<String>,
    pub storage_encrypted: bool,
    pub iam_auth: bool,
    pub publicly_accessible: bool,
    pub deletion_protection: bool,
    pub multi_az: bool,
    pub storage_type: Option<String>,
}

/// A DB instance or cluster with what its recovery point is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecoveryInfo {
    pub db: DbTarget,
    pub status: String,
    pub engine: String,
    /// For an instance: the cluster it belongs to (its recovery point is the cluster's).
    pub cluster: Option<String>,
    /// Set for a read replica: what it replicates (it has no backups of its own to audit).
    pub replica_of: Option<String>,
    /// The latest time it can be restored to; `None` when RDS names none (no backups).
    pub latest_restorable: Option<DateTime<Utc>>,
    /// Automated backups are on when this is above 0.
    pub backup_retention_days: i32,
    pub created: Option<DateTime<Utc>>,
    pub endpoint: Option<Endpoint>,
    pub tags: BTreeMap<String, String>,
    pub placement: Option<Placement>,
    /// A cluster's member instances, its writer first.
    pub members: Vec<String>,
    /// A cluster's member RDS flags as its writer (`None`: none is, e.g. mid-failover).
    pub writer: Option<String>,
}

/// Where a restore starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreFrom {
    /// A snapshot (automated `rds:...` or manual) by id.
    Snapshot(String),
    /// The source's latest restorable time.
    LatestRestorable,
}

/// One scratch-instance restore.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestoreRequest {
    pub scratch: RdsIdentifier,
    pub source: RdsIdentifier,
    pub from: RestoreFrom,
    /// A cluster restore names its engine; an instance's comes from its snapshot or source.
    pub engine: String,
    /// A cluster restore's KMS key (the source's); an instance's follows its snapshot or source.
    pub kms_key: Option<String>,
    pub instance_class: String,
    pub subnet_group: Option<String>,
    pub security_groups: Vec<String>,
    pub parameter_group: Option<String>,
    pub option_group: Option<String>,
    pub iam_auth: bool,
    pub tags: Vec<(String, String)>,
}

#[allow(async_fn_in_trait)]
pub trait RestoreControl {
    /// Every DB instance and every DB cluster, all pages, tags and placement included.
    async fn list_recovery(&self) -> Result<Vec<RecoveryInfo>, RdsError>;
    /// Every snapshot of every type (automated, manual, AWS Backup), instance and cluster, all
    /// pages.
    async fn list_backups(&self) -> Result<Vec<SnapshotInfo>, RdsError>;
    /// `RdsError::AlreadyExists` when the scratch identifier is taken.
    async fn restore_instance(&self, request: &RestoreRequest) -> Result<(), RdsError>;
    /// One instance, `Ok(None)` when there is none.
    async fn describe_recovery(&self, id: &RdsIdentifier)
        -> Result<Option<RecoveryInfo>, RdsError>;
    /// Deletes a scratch instance with no final snapshot and its automated backups;
    /// `RdsError::NotFound` when it is gone.
    async fn delete_scratch(&self, id: &RdsIdentifier) -> Result<(), RdsError>;
    /// Restores a scratch Aurora cluster (no instance: RDS adds none); `AlreadyExists` when the
    /// identifier is taken.
    async fn restore_cluster(&self, request: &RestoreRequest) -> Result<(), RdsError>;
    /// Creates a scratch cluster's one instance (`request.scratch` in cluster `cluster`).
    async fn add_instance(
        &self,
        request: &RestoreRequest,
        cluster: &RdsIdentifier,
    ) -> Result<(), RdsError>;
    /// One cluster, `Ok(None)` when there is none.
    async fn describe_cluster(&self, id: &RdsIdentifier) -> Result<Option<RecoveryInfo>, RdsError>;
    /// Deletes a scratch cluster with no final snapshot and its automated backups (its instance
    /// first: RDS refuses while one is there); `RdsError::NotFound` when it is gone.
    async fn delete_scratch_cluster(&self, id: &RdsIdentifier) -> Result<(), RdsError>;
}

pub struct RdsRestores {
    pub client: aws_sdk_rds::Client,
}

/// Listing pages hold at most this many records (the RDS maximum): fewest requests.
const PAGE_SIZE: i32 = 100;

fn from_cluster(c: &aws_sdk_rds::types::DbCluster) -> Result<RecoveryInfo, RdsError> {
    let raw = c.db_cluster_identifier().unwrap_or_default();
    let port = c.port().and_then(|p| u16::try_from(p).ok());
    Ok(RecoveryInfo {
        db: DbTarget::Cluster(listed("DescribeDBClusters", raw, ResourceKind::DbCluster)?),
        status: c.status().unwrap_or("unknown").to_string(),
        engine: c.engine().unwrap_or("unknown").to_string(),
        cluster: None,
        replica_of: c.replication_source_identifier().map(str::to_string),
        latest_restorable: c.latest_restorable_time().and_then(to_chrono),
        backup_retention_days: c.backup_retention_period().unwrap_or(0),
        created: c.cluster_create_time().and_then(to_chrono),
        endpoint: c.endpoint().zip(port).map(|(host, port)| Endpoint {
            host: host.to_string(),
            port,
        }),
        tags: tag_map(c.tag_list()),
        placement: Some(Placement {
            instance_class: String::new(),
            subnet_group: c.db_subnet_group().map(str::to_string),
            security_groups: c
                .vpc_security_groups()
                .iter()
                .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
                .collect(),
            parameter_group: c.db_cluster_parameter_group().map(str::to_string),
            option_group: None,
            kms_key: c.kms_key_id().map(str::to_string),
            storage_encrypted: c.storage_encrypted().unwrap_or(false),
            iam_auth: c.iam_database_authentication_enabled().unwrap_or(false),
            publicly_accessible: c.publicly_accessible().unwrap_or(false),
            deletion_protection: c.deletion_protection().unwrap_or(false),
            multi_az: c.multi_az().unwrap_or(false),
            storage_type: c.storage_type().map(str::to_string),
        }),
        members: writer_first(c.db_cluster_members()),
        writer: c
            .db_cluster_members()
            .iter()
            .find(|m| m.is_cluster_writer().unwrap_or(false))
            .and_then(|m| m.db_instance_identifier())
            .map(str::to_string),
    })
}

/// A cluster's member instances, its writer first (what an added instance copies).
fn writer_first(members: &[aws_sdk_rds::types::DbClusterMember]) -> Vec<String> {
    let mut listed: Vec<(bool, String)> = members
        .iter()
        .filter_map(|m| {
            m.db_instance_identifier()
                .map(|id| (!m.is_cluster_writer().unwrap_or(false), id.to_string()))
        })
        .collect();
    listed.sort_by_key(|(reader, _)| *reader);
    listed.into_iter().map(|(_, id)| id).collect()
}

fn from_instance(db: &aws_sdk_rds::types::DbInstance) -> Result<RecoveryInfo, RdsError> {
    let raw = db.db_instance_identifier().unwrap_or_default();
    Ok(RecoveryInfo {
        db: DbTarget::Instance(listed(
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
        latest_restorable: db.latest_restorable_time().and_then(to_chrono),
        backup_retention_days: db.backup_retention_period().unwrap_or(0),
        created: db.instance_create_time().and_then(to_chrono),
        endpoint: endpoint_of(db),
        tags: tag_map(db.tag_list()),
        placement: Some(Placement {
            instance_class: db.db_instance_class().unwrap_or_default().to_string(),
            subnet_group: db
                .db_subnet_group()
                .and_then(|g| g.db_subnet_group_name())
                .map(str::to_string),
            security_groups: db
                .vpc_security_groups()
                .iter()
                .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
                .collect(),
            parameter_group: db
                .db_parameter_groups()
                .first()
                .and_then(|g| g.db_parameter_group_name())
                .map(str::to_string),
            option_group: db
                .option_group_memberships()
                .first()
                .and_then(|g| g.option_group_name())
                .map(str::to_string),
            kms_key: db.kms_key_id().map(str::to_string),
            storage_encrypted: db.storage_encrypted().unwrap_or(false),
            iam_auth: db.iam_database_authentication_enabled().unwrap_or(false),
            publicly_accessible: db.publicly_accessible().unwrap_or(false),
            deletion_protection: db.deletion_protection().unwrap_or(false),
            multi_az: db.multi_az().unwrap_or(false),
            storage_type: db.storage_type().map(str::to_string),
        }),
        members: Vec::new(),
        writer: None,
    })
}

impl RestoreControl for RdsRestores {
    async fn list_recovery(&self) -> Result<Vec<RecoveryInfo>, RdsError> {
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
                .map_err(failure("DescribeDBClusters"))?;
            for c in page.db_clusters() {
                out.push(from_cluster(c)?);
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
                .map_err(failure("DescribeDBInstances"))?;
            for db in page.db_instances() {
                out.push(from_instance(db)?);
            }
            marker = markers.follow("DescribeDBInstances", page.marker())?;
            if marker.is_none() {
                return Ok(out);
            }
        }
    }

    async fn list_backups(&self) -> Result<Vec<SnapshotInfo>, RdsError> {
        let mut out = Vec::new();
        let (mut markers, mut marker) = (Markers::default(), None);
        loop {
            let page = self
                .client
                .describe_db_snapshots()
                .include_shared(false)
                .max_records(PAGE_SIZE)
                .set_marker(marker)
                .send()
                .bounded("RDS DescribeDBSnapshots")
                .await
                .map_err(failure("DescribeDBSnapshots"))?;
            out.extend(page.db_snapshots().iter().map(from_db_snapshot));
            marker = markers.follow("DescribeDBSnapshots", page.marker())?;
            if marker.is_none() {
                break;
            }
        }
        let (mut markers, mut marker) = (Markers::default(), None);
        loop {
            let page = self
                .client
                .describe_db_cluster_snapshots()
                .max_records(PAGE_SIZE)
                .set_marker(marker)
                .send()
                .bounded("RDS DescribeDBClusterSnapshots")
                .await
                .map_err(failure("DescribeDBClusterSnapshots"))?;
            out.extend(
                page.db_cluster_snapshots()
                    .iter()
                    .map(from_cluster_snapshot),
            );
            marker = markers.follow("DescribeDBClusterSnapshots", page.marker())?;
            if marker.is_none() {
                return Ok(out);
            }
        }
    }

    async fn restore_instance(&self, request: &RestoreRequest) -> Result<(), RdsError> {
        let tags = sdk_tags(&request.tags);
        let exists = || RdsError::AlreadyExists {
            kind: "DB instance",
            id: request.scratch.to_string(),
        };
        let source_gone = |kind: &'static str, id: &str| RdsError::NotFound {
            kind,
            id: id.to_string(),
        };
        match &request.from {
            RestoreFrom::Snapshot(snapshot) => self
                .client
                .restore_db_instance_from_db_snapshot()
                .db_instance_identifier(request.scratch.as_str())
                .db_snapshot_identifier(snapshot)
                .db_instance_class(&request.instance_class)
                .set_db_subnet_group_name(request.subnet_group.clone())
                .set_vpc_security_group_ids(Some(request.security_groups.clone()))
                .set_db_parameter_group_name(request.parameter_group.clone())
                .set_option_group_name(request.option_group.clone())
                .enable_iam_database_authentication(request.iam_auth)
                .publicly_accessible(false)
                .deletion_protection(false)
                .multi_az(false)
                .copy_tags_to_snapshot(false)
                .set_tags(Some(tags))
                .send()
                .bounded_action("RDS RestoreDBInstanceFromDBSnapshot")
                .await
                .map(|_| ())
                .map_err(|e| match e.as_service_error() {
                    Some(RestoreDBInstanceFromDBSnapshotError::DbInstanceAlreadyExistsFault(_)) => {
                        exists()
                    }
                    Some(RestoreDBInstanceFromDBSnapshotError::DbSnapshotNotFoundFault(_)) => {
                        source_gone("DB snapshot", snapshot)
                    }
                    _ => failure("RestoreDBInstanceFromDBSnapshot")(e),
                }),
            RestoreFrom::LatestRestorable => self
                .client
                .restore_db_instance_to_point_in_time()
                .source_db_instance_identifier(request.source.as_str())
                .target_db_instance_identifier(request.scratch.as_str())
                .use_latest_restorable_time(true)
                .db_instance_class(&request.instance_class)
                .set_db_subnet_group_name(request.subnet_group.clone())
                .set_vpc_security_group_ids(Some(request.security_groups.clone()))
                .set_db_parameter_group_name(request.parameter_group.clone())
                .set_option_group_name(request.option_group.clone())
                .enable_iam_database_authentication(request.iam_auth)
                .publicly_accessible(false)
                .deletion_protection(false)
                .multi_az(false)
                .copy_tags_to_snapshot(false)
                .set_tags(Some(tags))
                .send()
                .bounded_action("RDS RestoreDBInstanceToPointInTime")
                .await
                .map(|_| ())
                .map_err(|e| match e.as_service_error() {
                    Some(RestoreDBInstanceToPointInTimeError::DbInstanceAlreadyExistsFault(_)) => {
                        exists()
                    }
                    Some(RestoreDBInstanceToPointInTimeError::DbInstanceNotFoundFault(_)) => {
                        source_gone("DB instance", request.source.as_str())
                    }
                    _ => failure("RestoreDBInstanceToPointInTime")(e),
                }),
        }
    }

    async fn describe_recovery(
        &self,
        id: &RdsIdentifier,
    ) -> Result<Option<RecoveryInfo>, RdsError> {
        let found = self
            .client
            .describe_db_instances()
            .db_instance_identifier(id.as_str())
            .send()
            .bounded("RDS DescribeDBInstances")
            .await;
        match found {
            Ok(out) => out.db_instances().first().map(from_instance).transpose(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_db_instance_not_found_fault()) =>
            {
                Ok(None)
            }
            Err(e) => Err(failure("DescribeDBInstances")(e)),
        }
    }

    async fn delete_scratch(&self, id: &RdsIdentifier) -> Result<(), RdsError> {
        self.client
            .delete_db_instance()
            .db_instance_identifier(id.as_str())
            .skip_final_snapshot(true)
            .delete_automated_backups(true)
            .send()
            .bounded_action("RDS DeleteDBInstance")
            .await
            .map(|_| ())
            .map_err(|e| match e.as_service_error() {
                Some(DeleteDBInstanceError::DbInstanceNotFoundFault(_)) => RdsError::NotFound {
                    kind: "DB instance",
                    id: id.to_string(),
                },
                _ => failure("DeleteDBInstance")(e),
            })
    }

    async fn restore_cluster(&self, request: &RestoreRequest) -> Result<(), RdsError> {
        let tags = sdk_tags(&request.tags);
        let exists = || RdsError::AlreadyExists {
            kind: "DB cluster",
            id: request.scratch.to_string(),
        };
        let source_gone = |kind: &'static str, id: &str| RdsError::NotFound {
            kind,
            id: id.to_string(),
        };
        match &request.from {
            RestoreFrom::Snapshot(snapshot) => self
                .client
                .restore_db_cluster_from_snapshot()
                .db_cluster_identifier(request.scratch.as_str())
                .snapshot_identifier(snapshot)
                .engine(&request.engine)
                .set_db_subnet_group_name(request.subnet_group.clone())
                .set_vpc_security_group_ids(Some(request.security_groups.clone()))
                .set_db_cluster_parameter_group_name(request.parameter_group.clone())
                .set_kms_key_id(request.kms_key.clone())
                .enable_iam_database_authentication(request.iam_auth)
                .deletion_protection(false)
                .copy_tags_to_snapshot(false)
                .set_tags(Some(tags))
                .send()
                .bounded_action("RDS RestoreDBClusterFromSnapshot")
                .await
                .map(|_| ())
                .map_err(|e| match e.as_service_error() {
                    Some(RestoreDBClusterFromSnapshotError::DbClusterAlreadyExistsFault(_)) => {
                        exists()
                    }
                    Some(RestoreDBClusterFromSnapshotError::DbClusterSnapshotNotFoundFault(_))
                    | Some(RestoreDBClusterFromSnapshotError::DbSnapshotNotFoundFault(_)) => {
                        source_gone("DB cluster snapshot", snapshot)
                    }
                    _ => failure("RestoreDBClusterFromSnapshot")(e),
                }),
            RestoreFrom::LatestRestorable => self
                .client
                .restore_db_cluster_to_point_in_time()
                .source_db_cluster_identifier(request.source.as_str())
                .db_cluster_identifier(request.scratch.as_str())
                .use_latest_restorable_time(true)
                .restore_type("full-copy")
                .set_db_subnet_group_name(request.subnet_group.clone())
                .set_vpc_security_group_ids(Some(request.security_groups.clone()))
                .set_db_cluster_parameter_group_name(request.parameter_group.clone())
                .set_kms_key_id(request.kms_key.clone())
                .enable_iam_database_authentication(request.iam_auth)
                .deletion_protection(false)
                .copy_tags_to_snapshot(false)
                .set_tags(Some(tags))
                .send()
                .bounded_action("RDS RestoreDBClusterToPointInTime")
                .await
                .map(|_| ())
                .map_err(|e| match e.as_service_error() {
                    Some(RestoreDBClusterToPointInTimeError::DbClusterAlreadyExistsFault(_)) => {
                        exists()
                    }
                    Some(RestoreDBClusterToPointInTimeError::DbClusterNotFoundFault(_)) => {
                        source_gone("DB cluster", request.source.as_str())
                    }
                    _ => failure("RestoreDBClusterToPointInTime")(e),
                }),
        }
    }

    async fn add_instance(
        &self,
        request: &RestoreRequest,
        cluster: &RdsIdentifier,
    ) -> Result<(), RdsError> {
        self.client
            .create_db_instance()
            .db_instance_identifier(request.scratch.as_str())
            .db_cluster_identifier(cluster.as_str())
            .engine(&request.engine)
            .db_instance_class(&request.instance_class)
            .set_db_parameter_group_name(request.parameter_group.clone())
            .publicly_accessible(false)
            // Last in line for a failover: an instance added to a cluster is never its writer.
            .promotion_tier(15)
            .set_tags(Some(sdk_tags(&request.tags)))
            .send()
            .bounded_action("RDS CreateDBInstance")
            .await
            .map(|_| ())
            .map_err(|e| match e.as_service_error() {
                Some(CreateDBInstanceError::DbInstanceAlreadyExistsFault(_)) => {
                    RdsError::AlreadyExists {
                        kind: "DB instance",
                        id: request.scratch.to_string(),
                    }
                }
                Some(CreateDBInstanceError::DbClusterNotFoundFault(_)) => RdsError::NotFound {
                    kind: "DB cluster",
                    id: cluster.to_string(),
                },
                _ => failure("CreateDBInstance")(e),
            })
    }

    async fn describe_cluster(&self, id: &RdsIdentifier) -> Result<Option<RecoveryInfo>, RdsError> {
        let found = self
            .client
            .describe_db_clusters()
            .db_cluster_identifier(id.as_str())
            .send()
            .bounded("RDS DescribeDBClusters")
            .await;
        match found {
            Ok(out) => out.db_clusters().first().map(from_cluster).transpose(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_db_cluster_not_found_fault()) =>
            {
                Ok(None)
            }
            Err(e) => Err(failure("DescribeDBClusters")(e)),
        }
    }

    async fn delete_scratch_cluster(&self, id: &RdsIdentifier) -> Result<(), RdsError> {
        self.client
            .delete_db_cluster()
            .db_cluster_identifier(id.as_str())
            .skip_final_snapshot(true)
            .delete_automated_backups(true)
            .send()
            .bounded_action("RDS DeleteDBCluster")
            .await
            .map(|_| ())
            .map_err(|e| match e.as_service_error() {
                Some(DeleteDBClusterError::DbClusterNotFoundFault(_)) => RdsError::NotFound {
                    kind: "DB cluster",
                    id: id.to_string(),
                },
                _ => failure("DeleteDBCluster")(e),
            })
    }
}

fn sdk_tags(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}
