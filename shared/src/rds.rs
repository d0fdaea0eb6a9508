//! RDS reads the functions base decisions on: instance, cluster, recent events.

use crate::aws::Markers;
use crate::budget::BoundedCall;
use chrono::{DateTime, Utc};
use serde::Serialize;

use aws_sdk_rds::operation::describe_db_clusters::DescribeDBClustersError;
use aws_sdk_rds::operation::describe_db_instances::DescribeDBInstancesError;
use aws_sdk_rds::operation::describe_events::DescribeEventsError;

use crate::aws::{SdkError, SdkFailure};
use crate::trigger::RdsIdentifier;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceInfo {
    pub id: String,
    pub status: String,
    pub engine: String,
    pub endpoint: Option<Endpoint>,
    pub cluster_id: Option<String>,
    pub multi_az: bool,
    pub availability_zone: Option<String>,
    pub secondary_availability_zone: Option<String>,
    pub iam_auth: bool,
    pub tags: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterMember {
    pub instance_id: String,
    pub is_writer: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterInfo {
    pub id: String,
    pub status: String,
    pub engine: String,
    /// The cluster (writer) endpoint.
    pub endpoint: Option<Endpoint>,
    pub members: Vec<ClusterMember>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    pub time: Option<DateTime<Utc>>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RdsError {
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    #[error("{kind} {id} already exists")]
    AlreadyExists { kind: &'static str, id: String },
    #[error("RDS {operation} answered unexpectedly: {detail}")]
    Unexpected {
        operation: &'static str,
        detail: String,
    },
    #[error("RDS {operation} failed: {source}")]
    Api {
        operation: &'static str,
        #[source]
        source: SdkFailure,
    },
}

impl Markers {
    /// [`Markers::next`], a repeat as the RDS error of `operation`.
    pub fn follow(
        &mut self,
        operation: &'static str,
        next: Option<&str>,
    ) -> Result<Option<String>, RdsError> {
        self.next(next)
            .map_err(|detail| RdsError::Unexpected { operation, detail })
    }
}

impl RdsError {
    /// A failure the next try may not meet: no answer, throttling, a service fault. Gone,
    /// already there, or refused (a permission, a bad parameter) is an answer.
    pub fn transient(&self) -> bool {
        matches!(self, RdsError::Api { source, .. } if source.transient())
    }

    /// The error code RDS answered with, if it answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            RdsError::Api { source, .. } => source.code.as_deref(),
            _ => None,
        }
    }

    /// The one mapping of an RDS SDK error: `not_found` (the operation's not-found fault) means
    /// the resource is gone; anything else is an API failure with its cause.
    fn from_sdk<E>(
        operation: &'static str,
        kind: &'static str,
        id: &str,
        not_found: impl Fn(&E) -> bool,
    ) -> impl FnOnce(SdkError<E>) -> Self
    where
        E: aws_sdk_rds::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        let id = id.to_string();
        move |e| match e.as_service_error() {
            Some(se) if not_found(se) => RdsError::NotFound { kind, id },
            _ => RdsError::Api {
                operation,
                source: SdkFailure::from_sdk("RDS", &e),
            },
        }
    }
}

/// Tags as RDS lists them in a describe call's `TagList`.
pub(crate) fn tag_map(
    tags: &[aws_sdk_rds::types::Tag],
) -> std::collections::BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// An instance's endpoint, when RDS lists a whole one.
pub(crate) fn endpoint_of(db: &aws_sdk_rds::types::DbInstance) -> Option<Endpoint> {
    let e = db.endpoint()?;
    Some(Endpoint {
        host: e.address()?.to_string(),
        port: u16::try_from(e.port()?).ok()?,
    })
}

#[allow(async_fn_in_trait)]
pub trait DbInventory {
    async fn describe_instance(&self, id: &RdsIdentifier) -> Result<InstanceInfo, RdsError>;
    async fn describe_cluster(&self, id: &RdsIdentifier) -> Result<ClusterInfo, RdsError>;
    /// Events for one source over the last `minutes`, oldest first, all pages.
    async fn recent_events(
        &self,
        source_type: &str,
        id: &RdsIdentifier,
        minutes: i32,
    ) -> Result<Vec<EventRecord>, RdsError>;
}

pub struct RdsInventory {
    pub client: aws_sdk_rds::Client,
}

fn to_chrono(t: &aws_sdk_rds::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(t.to_millis().ok()?)
}

impl DbInventory for RdsInventory {
    async fn describe_instance(&self, id: &RdsIdentifier) -> Result<InstanceInfo, RdsError> {
        let out = self
            .client
            .describe_db_instances()
            .db_instance_identifier(id.as_str())
            .send()
            .bounded("RDS DescribeDBInstances")
            .await
            .map_err(RdsError::from_sdk(
                "DescribeDBInstances",
                "DB instance",
                id.as_str(),
                |se: &DescribeDBInstancesError| se.is_db_instance_not_found_fault(),
            ))?;
        let db = out
            .db_instances()
            .first()
            .ok_or_else(|| RdsError::NotFound {
                kind: "DB instance",
                id: id.to_string(),
            })?;
        Ok(InstanceInfo {
            id: db
                .db_instance_identifier()
                .unwrap_or(id.as_str())
                .to_string(),
            status: db.db_instance_status().unwrap_or("unknown").to_string(),
            engine: db.engine().unwrap_or("unknown").to_string(),
            endpoint: endpoint_of(db),
            cluster_id: db.db_cluster_identifier().map(str::to_string),
            multi_az: db.multi_az().unwrap_or(false),
            availability_zone: db.availability_zone().map(str::to_string),
            secondary_availability_zone: db.secondary_availability_zone().map(str::to_string),
            iam_auth: db.iam_database_authentication_enabled().unwrap_or(false),
            tags: tag_map(db.tag_list()),
        })
    }

    async fn describe_cluster(&self, id: &RdsIdentifier) -> Result<ClusterInfo, RdsError> {
        let out = self
            .client
            .describe_db_clusters()
            .db_cluster_identifier(id.as_str())
            .send()
            .bounded("RDS DescribeDBClusters")
            .await
            .map_err(RdsError::from_sdk(
                "DescribeDBClusters",
                "DB cluster",
                id.as_str(),
                |se: &DescribeDBClustersError| se.is_db_cluster_not_found_fault(),
            ))?;
        let cluster = out
            .db_clusters()
            .first()
            .ok_or_else(|| RdsError::NotFound {
                kind: "DB cluster",
                id: id.to_string(),
            })?;
        let port = cluster.port().and_then(|p| u16::try_from(p).ok());
        Ok(ClusterInfo {
            id: cluster
                .db_cluster_identifier()
                .unwrap_or(id.as_str())
                .to_string(),
            status: cluster.status().unwrap_or("unknown").to_string(),
            engine: cluster.engine().unwrap_or("unknown").to_string(),
            endpoint: cluster.endpoint().zip(port).map(|(host, port)| Endpoint {
                host: host.to_string(),
                port,
            }),
            members: cluster
                .db_cluster_members()
                .iter()
                .filter_map(|m| {
                    Some(ClusterMember {
                        instance_id: m.db_instance_identifier()?.to_string(),
                        is_writer: m.is_cluster_writer().unwrap_or(false),
                    })
                })
                .collect(),
        })
    }

    async fn recent_events(
        &self,
        source_type: &str,
        id: &RdsIdentifier,
        minutes: i32,
    ) -> Result<Vec<EventRecord>, RdsError> {
        let source_type = aws_sdk_rds::types::SourceType::from(source_type);
        let mut events = Vec::new();
        let (mut markers, mut marker) = (Markers::default(), None);
        loop {
            let page = self
                .client
                .describe_events()
                .source_type(source_type.clone())
                .source_identifier(id.as_str())
                .duration(minutes)
                .set_marker(marker)
                .send()
                .bounded("RDS DescribeEvents")
                .await
                .map_err(RdsError::from_sdk(
                    "DescribeEvents",
                    "events of",
                    id.as_str(),
                    |_: &DescribeEventsError| false,
                ))?;
            events.extend(page.events().iter().map(|e| EventRecord {
                time: e.date().and_then(to_chrono),
                message: e.message().unwrap_or_default().to_string(),
            }));
            marker = markers.follow("DescribeEvents", page.marker())?;
            if marker.is_none() {
                return Ok(events);
            }
        }
    }
}
