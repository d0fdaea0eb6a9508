//! Fakes of RDS snapshots and DynamoDB backups: in memory, every call recorded, any operation
//! made to fail, new snapshots `creating` for as many looks as a test asks.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::backups::{
    BackupError, BackupInfo, DbListing, PitrStatus, Quota, SnapshotCatalog, SnapshotInfo,
    SnapshotOf, TableBackups,
};
use crate::rds::RdsError;
use crate::trigger::{DbTarget, RdsIdentifier, TableName};

use super::sdk_failure;

/// A listed database; tags as pairs.
pub fn listing(db: DbTarget, status: &str, tags: &[(&str, &str)]) -> DbListing {
    DbListing {
        db,
        status: status.into(),
        engine: "postgres".into(),
        cluster: None,
        replica_of: None,
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// A manual snapshot made by rds-responder of instance `db`, created at `created`.
pub fn our_snapshot(id: &str, db: &str, created: DateTime<Utc>) -> SnapshotInfo {
    SnapshotInfo {
        id: id.into(),
        of: SnapshotOf::Instance,
        db: db.into(),
        snapshot_type: "manual".into(),
        status: "available".into(),
        created: Some(created),
        tags: [
            ("CreatedBy".to_string(), "rds-responder".to_string()),
            ("rds-responder:snapshot-id".to_string(), id.to_string()),
        ]
        .into(),
        copied_from: None,
        progress_percent: Some(100),
        allocated_gib: Some(20),
    }
}

/// A call that got no answer (a timeout): no error code.
pub fn no_answer() -> crate::aws::SdkFailure {
    crate::aws::SdkFailure {
        service: "test",
        code: None,
        message: "timed out (injected)".into(),
        request_id: None,
    }
}

/// The recorded calls (`<operation> <detail>`) of one operation.
fn calls_named(calls: &RefCell<Vec<String>>, operation: &str) -> Vec<String> {
    calls
        .borrow()
        .iter()
        .filter(|c| c.split(' ').next() == Some(operation))
        .cloned()
        .collect()
}

#[derive(Default)]
pub struct FakeCatalog {
    pub databases: RefCell<Vec<DbListing>>,
    pub snapshots: RefCell<Vec<SnapshotInfo>>,
    /// Operations that fail: `list_databases`, `list_snapshots`, `find_snapshot`,
    /// `create_snapshot`, `delete_snapshot`, `snapshot_quotas`.
    /// Operations that fail, with the error code they answer.
    pub failing: RefCell<BTreeMap<&'static str, &'static str>>,
    /// Operations that fail a number of times first: code, calls left to fail.
    pub failing_times: RefCell<BTreeMap<&'static str, (&'static str, u32)>>,
    /// The next create takes effect and its answer is lost (no answer: a timeout).
    pub lose_answer: Cell<bool>,
    /// Deletes that fail with a throttling error, by snapshot id.
    pub throttled_deletes: RefCell<BTreeSet<String>>,
    /// Databases whose snapshot listing fails (a later page of a complete listing).
    pub failing_listings: RefCell<BTreeSet<String>>,
    /// Snapshots someone else deletes between our listing and our delete.
    pub vanishing_deletes: RefCell<BTreeSet<String>>,
    /// How many looks (`find_snapshot`) a new snapshot stays `creating`; `None`: forever.
    pub looks_until_available: Cell<Option<u32>>,
    pub quotas: RefCell<Vec<Quota>>,
    pub calls: RefCell<Vec<String>>,
}

impl FakeCatalog {
    pub fn with(databases: Vec<DbListing>, snapshots: Vec<SnapshotInfo>) -> Self {
        Self {
            databases: RefCell::new(databases),
            snapshots: RefCell::new(snapshots),
            looks_until_available: Cell::new(Some(0)),
            ..Self::default()
        }
    }

    /// `operation` fails with a transient error (InternalFailure).
    pub fn fail(&self, operation: &'static str) {
        self.fail_with(operation, "InternalFailure");
    }

    /// `operation` fails with RDS error `code` ("" for no answer).
    pub fn fail_with(&self, operation: &'static str, code: &'static str) {
        self.failing.borrow_mut().insert(operation, code);
    }

    /// `operation` fails with RDS error `code` its next `times` calls, then works.
    pub fn fail_times(&self, operation: &'static str, code: &'static str, times: u32) {
        self.failing_times
            .borrow_mut()
            .insert(operation, (code, times));
    }

    /// Calls of one operation, e.g. `create_snapshot`.
    pub fn calls_of(&self, operation: &str) -> Vec<String> {
        calls_named(&self.calls, operation)
    }

    pub fn ids(&self) -> Vec<String> {
        self.snapshots
            .borrow()
            .iter()
            .map(|s| s.id.clone())
            .collect()
    }

    fn call(&self, operation: &'static str, detail: String) -> Result<(), RdsError> {
        self.calls
            .borrow_mut()
            .push(format!("{operation} {detail}"));
        let failure = |code: &str| {
            if code.is_empty() {
                no_answer()
            } else {
                sdk_failure(code)
            }
        };
        if let Some((code, left)) = self.failing_times.borrow_mut().get_mut(operation) {
            if *left > 0 {
                *left -= 1;
                return Err(RdsError::Api {
                    operation,
                    source: failure(code),
                });
            }
        }
        if let Some(code) = self.failing.borrow().get(operation) {
            return Err(RdsError::Api {
                operation,
                source: failure(code),
            });
        }
        Ok(())
    }
}

impl SnapshotCatalog for FakeCatalog {
    async fn list_databases(&self) -> Result<Vec<DbListing>, RdsError> {
        self.call("list_databases", String::new())?;
        Ok(self.databases.borrow().clone())
    }

    async fn list_snapshots(
        &self,
        of: SnapshotOf,
        db: Option<&RdsIdentifier>,
    ) -> Result<Vec<SnapshotInfo>, RdsError> {
        self.call("list_snapshots", format!("{of:?}"))?;
        if let Some(db) = db.filter(|d| self.failing_listings.borrow().contains(d.as_str())) {
            return Err(RdsError::Api {
                operation: "DescribeDBSnapshots",
                source: sdk_failure(&format!("InternalFailure on a later page of {db}")),
            });
        }
        Ok(self
            .snapshots
            .borrow()
            .iter()
            .filter(|s| s.of == of && db.is_none_or(|d| d.as_str() == s.db))
            .cloned()
            .collect())
    }

    async fn find_snapshot(
        &self,
        of: SnapshotOf,
        id: &str,
    ) -> Result<Option<SnapshotInfo>, RdsError> {
        self.call("find_snapshot", id.to_string())?;
        let mut snapshots = self.snapshots.borrow_mut();
        let Some(s) = snapshots.iter_mut().find(|s| s.of == of && s.id == id) else {
            return Ok(None);
        };
        if s.status == "creating" {
            match self.looks_until_available.get() {
                Some(0) => {
                    s.status = "available".into();
                    s.progress_percent = Some(100);
                }
                Some(n) => {
                    self.looks_until_available.set(Some(n - 1));
                    s.progress_percent = Some(50);
                }
                None => {}
            }
        }
        Ok(Some(s.clone()))
    }

    async fn create_snapshot(
        &self,
        db: &DbTarget,
        id: &RdsIdentifier,
        tags: &[(String, String)],
    ) -> Result<SnapshotInfo, RdsError> {
        self.call("create_snapshot", id.to_string())?;
        let of = SnapshotOf::of(db);
        if self.snapshots.borrow().iter().any(|s| s.id == id.as_str()) {
            return Err(RdsError::AlreadyExists {
                kind: of.noun(),
                id: id.to_string(),
            });
        }
        if !self.databases.borrow().iter().any(|d| &d.db == db) {
            return Err(RdsError::NotFound {
                kind: "DB instance",
                id: db.id().to_string(),
            });
        }
        let snapshot = SnapshotInfo {
            id: id.to_string(),
            of,
            db: db.id().to_string(),
            snapshot_type: "manual".into(),
            status: "creating".into(),
            created: Some(Utc::now()),
            tags: tags.iter().cloned().collect::<BTreeMap<_, _>>(),
            copied_from: None,
            progress_percent: Some(0),
            allocated_gib: Some(20),
        };
        self.snapshots.borrow_mut().push(snapshot.clone());
        if self.lose_answer.take() {
            return Err(RdsError::Api {
                operation: "create_snapshot",
                source: no_answer(),
            });
        }
        Ok(snapshot)
    }

    async fn delete_snapshot(&self, of: SnapshotOf, id: &str) -> Result<(), RdsError> {
        self.call("delete_snapshot", id.to_string())?;
        if self.throttled_deletes.borrow().contains(id) {
            return Err(RdsError::Api {
                operation: "DeleteDBSnapshot",
                source: sdk_failure("Throttling"),
            });
        }
        let mut snapshots = self.snapshots.borrow_mut();
        if self.vanishing_deletes.borrow().contains(id) {
            snapshots.retain(|s| s.id != id);
        }
        let before = snapshots.len();
        snapshots.retain(|s| !(s.of == of && s.id == id));
        if snapshots.len() == before {
            return Err(RdsError::NotFound {
                kind: of.noun(),
                id: id.into(),
            });
        }
        Ok(())
    }

    async fn snapshot_quotas(&self) -> Result<Vec<Quota>, RdsError> {
        self.call("snapshot_quotas", String::new())?;
        Ok(self.quotas.borrow().clone())
    }
}

#[derive(Default)]
pub struct FakeBackups {
    pub backups: RefCell<Vec<BackupInfo>>,
    pub pitr: RefCell<BTreeMap<String, PitrStatus>>,
    /// `create_backup`, `list_backups`, `delete_backup`, `pitr`, `enable_pitr`.
    /// Operations that fail, with the error code they answer.
    pub failing: RefCell<BTreeMap<&'static str, &'static str>>,
    pub calls: RefCell<Vec<String>>,
}

impl FakeBackups {
    /// `operation` fails with a transient error (InternalServerError).
    pub fn fail(&self, operation: &'static str) {
        self.fail_with(operation, "InternalServerError");
    }

    /// `operation` fails with DynamoDB error `code`.
    pub fn fail_with(&self, operation: &'static str, code: &'static str) {
        self.failing.borrow_mut().insert(operation, code);
    }

    /// Calls of one operation, e.g. `create_backup`.
    pub fn calls_of(&self, operation: &str) -> Vec<String> {
        calls_named(&self.calls, operation)
    }

    fn call(
        &self,
        operation: &'static str,
        table: &TableName,
        detail: &str,
    ) -> Result<(), BackupError> {
        self.calls
            .borrow_mut()
            .push(format!("{operation} {table} {detail}"));
        if let Some(code) = self.failing.borrow().get(operation) {
            return Err(BackupError {
                operation,
                table: table.to_string(),
                source: Box::new(sdk_failure(code)),
            });
        }
        Ok(())
    }
}

impl TableBackups for FakeBackups {
    async fn create_backup(
        &self,
        table: &TableName,
        name: &str,
    ) -> Result<BackupInfo, BackupError> {
        self.call("create_backup", table, name)?;
        let backup = BackupInfo {
            // As DynamoDB names them: by time and a random part, never by the backup's name.
            arn: format!(
                "arn:aws:dynamodb:us-east-1:123456789012:table/{table}/backup/{:013}-{:08x}",
                Utc::now().timestamp_millis(),
                self.backups.borrow().len()
            ),
            name: name.into(),
            table: table.to_string(),
            status: "CREATING".into(),
            backup_type: "USER".into(),
            created: Some(Utc::now()),
            size_bytes: Some(1024),
        };
        self.backups.borrow_mut().push(backup.clone());
        Ok(backup)
    }

    async fn list_backups(&self, table: &TableName) -> Result<Vec<BackupInfo>, BackupError> {
        self.call("list_backups", table, "")?;
        Ok(self
            .backups
            .borrow()
            .iter()
            .filter(|b| b.table == table.as_str())
            .cloned()
            .collect())
    }

    async fn delete_backup(&self, table: &TableName, arn: &str) -> Result<(), BackupError> {
        self.call("delete_backup", table, arn)?;
        self.backups.borrow_mut().retain(|b| b.arn != arn);
        Ok(())
    }

    async fn pitr(&self, table: &TableName) -> Result<PitrStatus, BackupError> {
        self.call("pitr", table, "")?;
        Ok(self
            .pitr
            .borrow()
            .get(table.as_str())
            .cloned()
            .unwrap_or(PitrStatus {
                enabled: false,
                latest_restorable: None,
            }))
    }

    async fn enable_pitr(&self, table: &TableName) -> Result<(), BackupError> {
        self.call("enable_pitr", table, "")?;
        self.pitr.borrow_mut().insert(
            table.to_string(),
            PitrStatus {
                enabled: true,
                latest_restorable: Some(Utc::now()),
            },
        );
        Ok(())
    }
}
