//! Scratch restores of DynamoDB tables: restore a table from an on-demand backup or to its
//! latest restorable time, tag the copy, count items on both sides, read the settings a
//! restore drops (TTL, stream, point-in-time recovery, tags), list scratch tables, delete them.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{ReturnConsumedCapacity, Select, Tag};
use serde::Serialize;

use crate::aws::{SdkError, SdkFailure};
use crate::backups::BackupError;
use crate::budget::BoundedCall;
use crate::recovery::RestoreFrom;
use crate::trigger::TableName;

/// What a table has set that a restore may drop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TableSettings {
    /// `ACTIVE`, `CREATING`, `DELETING`...
    pub status: String,
    pub arn: String,
    /// `PROVISIONED` or `PAY_PER_REQUEST`.
    pub billing_mode: Option<String>,
    /// The attribute TTL is enabled on.
    pub ttl_attribute: Option<String>,
    /// The stream's view type, when a stream is on.
    pub stream_view: Option<String>,
    pub pitr: bool,
    pub tags: BTreeMap<String, String>,
    pub deletion_protection: bool,
    /// Provisioned read capacity units (`None` on demand): what a count's scan must share.
    pub read_capacity: Option<i64>,
}

/// Items counted by a scan; `complete` is false when it stopped at its bound or its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ItemCount {
    pub items: u64,
    pub complete: bool,
    /// A paced count stopped by the run's time (not by its bound).
    pub cut_short: bool,
}

/// A table named like a scratch table, with its tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListedTable {
    pub name: String,
    pub status: String,
    pub tags: BTreeMap<String, String>,
}

impl BackupError {
    /// A table by that name exists already (a retried restore).
    pub fn already_exists(&self) -> bool {
        matches!(
            self.source.code.as_deref(),
            Some("TableAlreadyExistsException") | Some("TableInUseException")
        )
    }

    pub fn not_found(&self) -> bool {
        self.source.code.as_deref() == Some("ResourceNotFoundException")
    }
}

#[allow(async_fn_in_trait)]
pub trait TableRestores {
    /// Restores `source` (a backup ARN, or its latest restorable time) as `scratch`.
    async fn restore_table(
        &self,
        source: &TableName,
        scratch: &TableName,
        from: &RestoreFrom,
    ) -> Result<(), BackupError>;
    async fn tag_table(&self, arn: &str, tags: &[(String, String)]) -> Result<(), BackupError>;
    /// `Ok(None)` when there is no such table.
    async fn table_settings(&self, table: &TableName)
        -> Result<Option<TableSettings>, BackupError>;
    /// Counts items with `Select=COUNT` scans, all pages, stopping at `max`; with a `pace`, at
    /// most that many read capacity units a second on average (a source's live reads share its
    /// capacity), stopping short (incomplete) when the next pause outlasts the time left.
    async fn count_items(
        &self,
        table: &TableName,
        max: u64,
        pace: Option<f64>,
    ) -> Result<ItemCount, BackupError>;
    /// Every table whose name holds `mark`, with its status and tags.
    async fn list_tables_named(&self, mark: &str) -> Result<Vec<ListedTable>, BackupError>;
    /// `not_found()` when it is gone.
    async fn delete_table(&self, table: &TableName) -> Result<(), BackupError>;
}

/// Scan pages a count reads at most.
const MAX_SCAN_PAGES: usize = 100_000;

/// Kept back from the time left by a paced count: the rest of the check and its report.
const PACED_RESERVE: std::time::Duration = std::time::Duration::from_secs(30);

/// What an eventually consistent 1 MB scan page costs, when the answer does not say.
const FULL_PAGE_READ_UNITS: f64 = 128.0;

/// The pause after a scan page that consumed `consumed` read units (unsaid: a full page's), so
/// the scan averages at most `pace` units a second.
pub fn scan_pause(consumed: Option<f64>, pace: f64) -> std::time::Duration {
    let units = consumed
        .filter(|c| c.is_finite() && *c >= 0.0)
        .unwrap_or(FULL_PAGE_READ_UNITS);
    match pace.is_finite() && pace > 0.0 {
        true => std::time::Duration::from_secs_f64((units / pace).min(3600.0)),
        false => std::time::Duration::ZERO,
    }
}

pub struct DynamoRestores {
    pub client: aws_sdk_dynamodb::Client,
}

/// A failed call on `table` (a name or an ARN).
fn failed<E>(operation: &'static str, table: &str) -> impl FnOnce(SdkError<E>) -> BackupError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let table = table.to_string();
    move |e| BackupError {
        operation,
        table,
        source: Box::new(SdkFailure::from_sdk("DynamoDB", &e)),
    }
}

impl TableRestores for DynamoRestores {
    async fn restore_table(
        &self,
        source: &TableName,
        scratch: &TableName,
        from: &RestoreFrom,
    ) -> Result<(), BackupError> {
        match from {
            RestoreFrom::Snapshot(backup_arn) => self
                .client
                .restore_table_from_backup()
                .target_table_name(scratch.as_str())
                .backup_arn(backup_arn)
                .send()
                .bounded_action("DynamoDB RestoreTableFromBackup")
                .await
                .map(|_| ())
                .map_err(failed("RestoreTableFromBackup", scratch.as_str())),
            RestoreFrom::LatestRestorable => self
                .client
                .restore_table_to_point_in_time()
                .source_table_name(source.as_str())
                .target_table_name(scratch.as_str())
                .use_latest_restorable_time(true)
                .send()
                .bounded_action("DynamoDB RestoreTableToPointInTime")
                .await
                .map(|_| ())
                .map_err(failed("RestoreTableToPointInTime", scratch.as_str())),
        }
    }

    async fn tag_table(&self, arn: &str, tags: &[(String, String)]) -> Result<(), BackupError> {
        let tags = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| BackupError {
                operation: "TagResource",
                table: arn.to_string(),
                source: Box::new(SdkFailure {
                    service: "DynamoDB",
                    code: None,
                    message: e.to_string(),
                    request_id: None,
                }),
            })?;
        self.client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags))
            .send()
            .bounded_action("DynamoDB TagResource")
            .await
            .map(|_| ())
            .map_err(failed("TagResource", arn))
    }

    async fn table_settings(
        &self,
        table: &TableName,
    ) -> Result<Option<TableSettings>, BackupError> {
        let described = self
            .client
            .describe_table()
            .table_name(table.as_str())
            .send()
            .bounded("DynamoDB DescribeTable")
            .await;
        let described = match described {
            Ok(d) => d,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(failed("DescribeTable", table.as_str())(e)),
        };
        let Some(t) = described.table() else {
            return Ok(None);
        };
        let arn = t.table_arn().unwrap_or_default().to_string();
        let mut settings = TableSettings {
            status: t
                .table_status()
                .map_or("UNKNOWN".into(), |s| s.as_str().to_string()),
            arn: arn.clone(),
            billing_mode: t
                .billing_mode_summary()
                .and_then(|b| b.billing_mode())
                .map(|m| m.as_str().to_string())
                .or_else(|| {
                    t.provisioned_throughput()
                        .map(|_| "PROVISIONED".to_string())
                }),
            stream_view: t
                .stream_specification()
                .filter(|s| s.stream_enabled())
                .map(|s| {
                    s.stream_view_type()
                        .map_or("enabled".into(), |v| v.as_str().to_string())
                }),
            deletion_protection: t.deletion_protection_enabled().unwrap_or(false),
            read_capacity: t
                .provisioned_throughput()
                .and_then(|p| p.read_capacity_units())
                .filter(|units| *units > 0),
            ..TableSettings::default()
        };
        if settings.status != "ACTIVE" {
            // TTL, backups and tags answer only for an active table.
            return Ok(Some(settings));
        }
        let ttl = self
            .client
            .describe_time_to_live()
            .table_name(table.as_str())
            .send()
            .bounded("DynamoDB DescribeTimeToLive")
            .await
            .map_err(failed("DescribeTimeToLive", table.as_str()))?;
        settings.ttl_attribute = ttl
            .time_to_live_description()
            .filter(|d| {
                d.time_to_live_status()
                    .is_some_and(|s| s.as_str() == "ENABLED")
            })
            .and_then(|d| d.attribute_name())
            .map(str::to_string);
        let backups = self
            .client
            .describe_continuous_backups()
            .table_name(table.as_str())
            .send()
            .bounded("DynamoDB DescribeContinuousBackups")
            .await
            .map_err(failed("DescribeContinuousBackups", table.as_str()))?;
        settings.pitr = backups
            .continuous_backups_description()
            .and_then(|d| d.point_in_time_recovery_description())
            .and_then(|p| p.point_in_time_recovery_status())
            .is_some_and(|s| s.as_str() == "ENABLED");
        settings.tags = self.tags_of(&arn).await?;
        Ok(Some(settings))
    }

    async fn count_items(
        &self,
        table: &TableName,
        max: u64,
        pace: Option<f64>,
    ) -> Result<ItemCount, BackupError> {
        let mut count = 0u64;
        let mut start: Option<
            std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
        > = None;
        // A scan page reads at most 1 MB: this many pages is far past any bound, an endpoint
        // looping.
        for _ in 0..MAX_SCAN_PAGES {
            let page = self
                .client
                .scan()
                .table_name(table.as_str())
                .select(Select::Count)
                .set_exclusive_start_key(start.clone())
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .bounded("DynamoDB Scan")
                .await
                .map_err(failed("Scan", table.as_str()))?;
            count += u64::try_from(page.count()).unwrap_or(0);
            let next = page.last_evaluated_key().cloned().filter(|k| !k.is_empty());
            if next.is_some() && next == start {
                // The same key again: counting further would loop.
                return Ok(ItemCount {
                    items: count,
                    complete: false,
                    cut_short: false,
                });
            }
            start = next;
            match start {
                None => {
                    return Ok(ItemCount {
                        items: count,
                        complete: true,
                        cut_short: false,
                    })
                }
                Some(_) if count >= max => {
                    return Ok(ItemCount {
                        items: count,
                        complete: false,
                        cut_short: false,
                    })
                }
                Some(_) => {}
            }
            if let Some(pace) = pace {
                let consumed = page.consumed_capacity().and_then(|c| c.capacity_units());
                let pause = scan_pause(consumed, pace);
                if crate::budget::time_left().is_some_and(|left| left <= pause + PACED_RESERVE) {
                    // Counting on would outlast the run: what was counted, cut short.
                    return Ok(ItemCount {
                        items: count,
                        complete: false,
                        cut_short: true,
                    });
                }
                tokio::time::sleep(pause).await;
            }
        }
        Ok(ItemCount {
            items: count,
            complete: false,
            cut_short: false,
        })
    }

    async fn list_tables_named(&self, mark: &str) -> Result<Vec<ListedTable>, BackupError> {
        let mut names = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let page = self
                .client
                .list_tables()
                .set_exclusive_start_table_name(start.clone())
                .send()
                .bounded("DynamoDB ListTables")
                .await
                .map_err(failed("ListTables", mark))?;
            names.extend(
                page.table_names()
                    .iter()
                    .filter(|n| n.contains(mark))
                    .cloned(),
            );
            let next = page.last_evaluated_table_name().map(str::to_string);
            if next.is_none() || next == start {
                break;
            }
            start = next;
        }
        let mut out = Vec::new();
        for name in names {
            let Ok(table) = TableName::parse(&name) else {
                continue;
            };
            // Gone since it was listed: nothing to sweep.
            let Some(settings) = self.table_settings(&table).await? else {
                continue;
            };
            out.push(ListedTable {
                name,
                status: settings.status,
                tags: settings.tags,
            });
        }
        Ok(out)
    }

    async fn delete_table(&self, table: &TableName) -> Result<(), BackupError> {
        self.client
            .delete_table()
            .table_name(table.as_str())
            .send()
            .bounded_action("DynamoDB DeleteTable")
            .await
            .map(|_| ())
            .map_err(failed("DeleteTable", table.as_str()))
    }
}

impl DynamoRestores {
    /// A table's tags, all pages (a table holds at most 50 tags: more pages than that is an
    /// endpoint looping).
    async fn tags_of(&self, arn: &str) -> Result<BTreeMap<String, String>, BackupError> {
        let mut tags = BTreeMap::new();
        let mut next = None;
        for _ in 0..50 {
            let page = self
                .client
                .list_tags_of_resource()
                .resource_arn(arn)
                .set_next_token(next)
                .send()
                .bounded("DynamoDB ListTagsOfResource")
                .await
                .map_err(failed("ListTagsOfResource", arn))?;
            for t in page.tags() {
                tags.insert(t.key().to_string(), t.value().to_string());
            }
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
        Ok(tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_paced_scan_pauses_for_what_its_page_consumed() {
        assert_eq!(scan_pause(Some(128.0), 64.0), Duration::from_secs(2));
        assert_eq!(scan_pause(Some(0.0), 64.0), Duration::ZERO);
        // Unsaid or nonsense: a full page's cost.
        assert_eq!(scan_pause(None, 64.0), Duration::from_secs(2));
        assert_eq!(scan_pause(Some(f64::NAN), 128.0), Duration::from_secs(1));
        assert_eq!(scan_pause(Some(-5.0), 128.0), Duration::from_secs(1));
        // No usable pace: no pause; an absurd one is capped at an hour.
        assert_eq!(scan_pause(Some(128.0), 0.0), Duration::ZERO);
        assert_eq!(scan_pause(Some(128.0), f64::INFINITY), Duration::ZERO);
        assert_eq!(scan_pause(Some(1e9), 1.0), Duration::from_secs(3600));
    }
}
