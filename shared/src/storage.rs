//! RDS instance storage: what it is, what RDS says it may become, the change itself and the tag
//! that names it. Listings read every page and carry tags from the describe call.

use std::collections::BTreeMap;

use serde::Serialize;

use aws_sdk_rds::operation::describe_db_instances::DescribeDBInstancesError;
use aws_sdk_rds::operation::describe_valid_db_instance_modifications::DescribeValidDBInstanceModificationsError;
use aws_sdk_rds::operation::modify_db_instance::ModifyDBInstanceError;
use aws_sdk_rds::types::{DbInstance, Tag};

use crate::aws::{Markers, SdkError, SdkFailure};
use crate::budget::BoundedCall;
use crate::rds::RdsError;
use crate::trigger::RdsIdentifier;

/// A storage change RDS has accepted and not applied yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PendingStorage {
    pub allocated_gib: Option<i32>,
    pub iops: Option<i32>,
    pub throughput_mibps: Option<i32>,
    pub storage_type: Option<String>,
}

impl PendingStorage {
    pub fn is_empty(&self) -> bool {
        *self == PendingStorage::default()
    }
}

/// One DB instance's storage as `DescribeDBInstances` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StorageInfo {
    pub id: String,
    pub arn: Option<String>,
    pub status: String,
    pub engine: String,
    /// Set for Aurora (and Multi-AZ DB cluster) members.
    pub cluster_id: Option<String>,
    pub storage_type: String,
    pub allocated_gib: i32,
    /// Autoscaling's ceiling; `None` when autoscaling is off.
    pub max_allocated_gib: Option<i32>,
    pub iops: Option<i32>,
    pub throughput_mibps: Option<i32>,
    pub pending: PendingStorage,
    /// Other modifications waiting for the maintenance window (`DBInstanceClass`, `MultiAZ`,
    /// ...): a change applied immediately would apply them too.
    pub pending_other: Vec<String>,
    pub endpoint: Option<crate::rds::Endpoint>,
    pub tags: BTreeMap<String, String>,
}

/// A closed range RDS allows, with its step (1 when not said).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IntRange {
    pub from: i32,
    pub to: i32,
    pub step: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RatioRange {
    pub from: f64,
    pub to: f64,
}

/// What RDS says the storage may become (`DescribeValidDBInstanceModifications`), per type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidStorage {
    pub storage_type: String,
    pub sizes_gib: Vec<IntRange>,
    pub iops: Vec<IntRange>,
    pub iops_per_gib: Vec<RatioRange>,
    pub throughput_mibps: Vec<IntRange>,
    pub throughput_per_iops: Vec<RatioRange>,
    pub supports_autoscaling: bool,
}

/// The storage fields of one `ModifyDBInstance` (applied immediately); unset fields are not
/// sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StorageModification {
    pub allocated_gib: Option<i32>,
    pub max_allocated_gib: Option<i32>,
    pub iops: Option<i32>,
    pub throughput_mibps: Option<i32>,
    /// Sent with IOPS or throughput, as RDS requires for provisioned storage types.
    pub storage_type: Option<String>,
}

#[allow(async_fn_in_trait)]
pub trait StorageControl {
    async fn describe_storage(&self, id: &RdsIdentifier) -> Result<StorageInfo, RdsError>;
    /// Every DB instance, all pages, tags included.
    async fn list_storage(&self) -> Result<Vec<StorageInfo>, RdsError>;
    /// `Ok(vec![])` when RDS offers nothing for the instance.
    async fn valid_storage(&self, id: &RdsIdentifier) -> Result<Vec<ValidStorage>, RdsError>;
    async fn modify_storage(
        &self,
        id: &RdsIdentifier,
        change: &StorageModification,
    ) -> Result<StorageInfo, RdsError>;
    async fn tag_instance(&self, arn: &str, tags: &[(String, String)]) -> Result<(), RdsError>;
}

pub struct RdsStorage {
    pub client: aws_sdk_rds::Client,
}

fn api<E>(operation: &'static str) -> impl FnOnce(SdkError<E>) -> RdsError
where
    E: aws_sdk_rds::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| RdsError::Api {
        operation,
        source: SdkFailure::from_sdk("RDS", &e),
    }
}

fn not_found(id: &RdsIdentifier) -> RdsError {
    RdsError::NotFound {
        kind: "DB instance",
        id: id.to_string(),
    }
}

fn from_instance(db: &DbInstance) -> Option<StorageInfo> {
    let pending = db
        .pending_modified_values()
        .map(|p| PendingStorage {
            allocated_gib: p.allocated_storage(),
            iops: p.iops(),
            throughput_mibps: p.storage_throughput(),
            storage_type: p.storage_type().map(str::to_string),
        })
        .unwrap_or_default();
    Some(StorageInfo {
        id: db.db_instance_identifier()?.to_string(),
        arn: db.db_instance_arn().map(str::to_string),
        status: db.db_instance_status().unwrap_or("unknown").to_string(),
        engine: db.engine().unwrap_or("unknown").to_string(),
        cluster_id: db.db_cluster_identifier().map(str::to_string),
        storage_type: db.storage_type().unwrap_or("unknown").to_string(),
        allocated_gib: db.allocated_storage().unwrap_or(0),
        // RDS lists no maximum (or one not above allocated) when autoscaling is off.
        // At its maximum (allocated == maximum) autoscaling is still on, and stuck.
        max_allocated_gib: db
            .max_allocated_storage()
            .filter(|m| *m >= db.allocated_storage().unwrap_or(0) && *m > 0),
        iops: db.iops(),
        throughput_mibps: db.storage_throughput(),
        pending,
        pending_other: db
            .pending_modified_values()
            .map(other_pending)
            .unwrap_or_default(),
        endpoint: crate::rds::endpoint_of(db),
        tags: crate::rds::tag_map(db.tag_list()),
    })
}

/// The pending modifications that are not storage, by their API names.
fn other_pending(p: &aws_sdk_rds::types::PendingModifiedValues) -> Vec<String> {
    let mut names = Vec::new();
    let mut note = |set: bool, name: &str| {
        if set {
            names.push(name.to_string());
        }
    };
    note(p.db_instance_class().is_some(), "DBInstanceClass");
    note(p.multi_az().is_some(), "MultiAZ");
    note(p.engine_version().is_some(), "EngineVersion");
    note(p.engine().is_some(), "Engine");
    note(p.license_model().is_some(), "LicenseModel");
    note(p.port().is_some(), "Port");
    note(
        p.backup_retention_period().is_some(),
        "BackupRetentionPeriod",
    );
    note(
        p.ca_certificate_identifier().is_some(),
        "CACertificateIdentifier",
    );
    note(p.db_subnet_group_name().is_some(), "DBSubnetGroupName");
    note(p.db_instance_identifier().is_some(), "DBInstanceIdentifier");
    note(p.master_user_password().is_some(), "MasterUserPassword");
    note(!p.processor_features().is_empty(), "ProcessorFeatures");
    note(
        p.iam_database_authentication_enabled().is_some(),
        "IAMDatabaseAuthenticationEnabled",
    );
    note(p.automation_mode().is_some(), "AutomationMode");
    note(p.multi_tenant().is_some(), "MultiTenant");
    note(p.dedicated_log_volume().is_some(), "DedicatedLogVolume");
    names
}

fn ranges(list: &[aws_sdk_rds::types::Range]) -> Vec<IntRange> {
    list.iter()
        .filter_map(|r| {
            Some(IntRange {
                from: r.from()?,
                to: r.to()?,
                step: r.step().filter(|s| *s > 0).unwrap_or(1),
            })
        })
        .collect()
}

fn ratios(list: &[aws_sdk_rds::types::DoubleRange]) -> Vec<RatioRange> {
    list.iter()
        .filter_map(|r| {
            Some(RatioRange {
                from: r.from()?,
                to: r.to()?,
            })
        })
        .collect()
}

impl StorageControl for RdsStorage {
    async fn describe_storage(&self, id: &RdsIdentifier) -> Result<StorageInfo, RdsError> {
        let out = self
            .client
            .describe_db_instances()
            .db_instance_identifier(id.as_str())
            .send()
            .bounded("RDS DescribeDBInstances")
            .await
            .map_err(|e| match e.as_service_error() {
                Some(DescribeDBInstancesError::DbInstanceNotFoundFault(_)) => not_found(id),
                _ => api("DescribeDBInstances")(e),
            })?;
        out.db_instances()
            .iter()
            .find(|db| {
                db.db_instance_identifier()
                    .is_some_and(|d| d.eq_ignore_ascii_case(id.as_str()))
            })
            .and_then(from_instance)
            .ok_or_else(|| not_found(id))
    }

    async fn list_storage(&self) -> Result<Vec<StorageInfo>, RdsError> {
        let mut all = Vec::new();
        let (mut markers, mut marker) = (Markers::default(), None);
        loop {
            let page = self
                .client
                .describe_db_instances()
                .max_records(100)
                .set_marker(marker)
                .send()
                .bounded("RDS DescribeDBInstances")
                .await
                .map_err(api("DescribeDBInstances"))?;
            all.extend(page.db_instances().iter().filter_map(from_instance));
            marker = markers.follow("DescribeDBInstances", page.marker())?;
            if marker.is_none() {
                return Ok(all);
            }
        }
    }

    async fn valid_storage(&self, id: &RdsIdentifier) -> Result<Vec<ValidStorage>, RdsError> {
        let out = self
            .client
            .describe_valid_db_instance_modifications()
            .db_instance_identifier(id.as_str())
            .send()
            .bounded("RDS DescribeValidDBInstanceModifications")
            .await
            .map_err(|e| match e.as_service_error() {
                Some(DescribeValidDBInstanceModificationsError::DbInstanceNotFoundFault(_)) => {
                    not_found(id)
                }
                _ => api("DescribeValidDBInstanceModifications")(e),
            })?;
        Ok(out
            .valid_db_instance_modifications_message()
            .map(|m| {
                m.storage()
                    .iter()
                    .filter_map(|s| {
                        Some(ValidStorage {
                            storage_type: s.storage_type()?.to_string(),
                            sizes_gib: ranges(s.storage_size()),
                            iops: ranges(s.provisioned_iops()),
                            iops_per_gib: ratios(s.iops_to_storage_ratio()),
                            throughput_mibps: ranges(s.provisioned_storage_throughput()),
                            throughput_per_iops: ratios(s.storage_throughput_to_iops_ratio()),
                            supports_autoscaling: s.supports_storage_autoscaling().unwrap_or(false),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn modify_storage(
        &self,
        id: &RdsIdentifier,
        change: &StorageModification,
    ) -> Result<StorageInfo, RdsError> {
        let out = self
            .client
            .modify_db_instance()
            .db_instance_identifier(id.as_str())
            .apply_immediately(true)
            .set_allocated_storage(change.allocated_gib)
            .set_max_allocated_storage(change.max_allocated_gib)
            .set_iops(change.iops)
            .set_storage_throughput(change.throughput_mibps)
            .set_storage_type(change.storage_type.clone())
            .send()
            .bounded_action("RDS ModifyDBInstance")
            .await
            .map_err(|e| match e.as_service_error() {
                Some(ModifyDBInstanceError::DbInstanceNotFoundFault(_)) => not_found(id),
                _ => api("ModifyDBInstance")(e),
            })?;
        out.db_instance()
            .and_then(from_instance)
            .ok_or_else(|| RdsError::Unexpected {
                operation: "ModifyDBInstance",
                detail: "the answer names no DB instance".into(),
            })
    }

    async fn tag_instance(&self, arn: &str, tags: &[(String, String)]) -> Result<(), RdsError> {
        self.client
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect(),
            ))
            .send()
            .bounded_action("RDS AddTagsToResource")
            .await
            .map_err(api("AddTagsToResource"))?;
        Ok(())
    }
}
