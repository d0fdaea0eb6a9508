//! The RPO audit: how far behind a resource's recovery point is, against the target, and why.
//!
//! The recovery point is the newest of the latest restorable time (point-in-time recovery) and
//! the newest available snapshot: with automated backups off, only snapshots are left, and the
//! lag is their age.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use rds_responder::backups::{SnapshotInfo, SnapshotOf};

/// A database's newest available snapshots: RDS's automated one, and the newest of the others
/// (manual: ours, an operator's, AWS Backup's), each with its age at the run's time.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Newest {
    pub automated: Option<DateTime<Utc>>,
    pub automated_age_seconds: Option<i64>,
    pub manual: Option<DateTime<Utc>>,
    pub manual_age_seconds: Option<i64>,
}

impl Newest {
    /// The newest of any type.
    pub fn any(&self) -> Option<DateTime<Utc>> {
        self.automated.max(self.manual)
    }
}

/// The newest available snapshots of each database, by `<kind>:<id>`.
pub fn newest_snapshots(
    snapshots: &[SnapshotInfo],
    now: DateTime<Utc>,
) -> BTreeMap<String, Newest> {
    let mut newest: BTreeMap<String, Newest> = BTreeMap::new();
    for s in snapshots.iter().filter(|s| s.status == "available") {
        let Some(created) = s.created else { continue };
        let kind = match s.of {
            SnapshotOf::Instance => "db-instance",
            SnapshotOf::Cluster => "db-cluster",
        };
        let entry = newest.entry(format!("{kind}:{}", s.db)).or_default();
        let (at, age) = match s.snapshot_type.as_str() {
            "automated" => (&mut entry.automated, &mut entry.automated_age_seconds),
            _ => (&mut entry.manual, &mut entry.manual_age_seconds),
        };
        let newest_at = at.map_or(created, |t| t.max(created));
        *at = Some(newest_at);
        *age = Some((now - newest_at).num_seconds().max(0));
    }
    newest
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RpoStatus {
    Ok,
    AtRisk,
    Breached,
}

impl RpoStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RpoStatus::Ok => "ok",
            RpoStatus::AtRisk => "at-risk",
            RpoStatus::Breached => "breached",
        }
    }
}

/// Why a recovery point is behind, where it is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "cause")]
pub enum Cause {
    /// Automated backups off (retention 0); for a table: point-in-time recovery off.
    BackupsDisabled,
    /// RDS said so (RDS-EVENT-0028).
    BackupsDisabledEvent {
        at: DateTime<Utc>,
    },
    /// Not `available`: a stopped instance takes no backups.
    NotAvailable {
        status: String,
    },
    /// RDS names no latest restorable time.
    NoRestorableTime,
    NoSnapshot,
    /// The newest snapshot is older than the configured age.
    StaleSnapshot {
        hours: i64,
    },
}

/// What is known about one resource's recovery.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub status: String,
    pub backups_on: bool,
    pub latest_restorable: Option<DateTime<Utc>>,
    /// The newest available snapshot (any type); `None`: there is none. Tables: not looked at.
    pub newest_snapshot: Option<DateTime<Utc>>,
    /// Whether snapshots count (RDS) or not (DynamoDB tables, audited by PITR).
    pub snapshots_audited: bool,
    pub disabled_event: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub status: RpoStatus,
    /// now - recovery point; `None` when there is no recovery point at all.
    pub lag_seconds: Option<i64>,
    pub recovery_point: Option<DateTime<Utc>>,
    pub causes: Vec<Cause>,
}

/// A resource is `breached` past the target, `at-risk` past half of it (or with a stale or
/// missing snapshot), `ok` otherwise; without any recovery point it is breached.
pub fn assess(
    facts: &Facts,
    now: DateTime<Utc>,
    target: Duration,
    snapshot_max_age: Duration,
) -> Assessment {
    let mut causes = Vec::new();
    // Backups off is a risk whatever the snapshots say: nothing new is taken.
    let mut at_risk = !facts.backups_on;
    if !facts.backups_on {
        causes.push(Cause::BackupsDisabled);
    }
    // RDS said backups were turned off, or the database takes none now (stopped, failed):
    // its recovery point falls behind from here, whatever the lag says yet.
    if let Some(at) = facts.disabled_event {
        causes.push(Cause::BackupsDisabledEvent { at });
        at_risk = true;
    }
    if facts.status != "available" && facts.status != "ACTIVE" {
        causes.push(Cause::NotAvailable {
            status: facts.status.clone(),
        });
        at_risk = true;
    }
    // With backups off, a restorable time RDS still names is not a recovery point to count on.
    let restorable = facts.latest_restorable.filter(|_| facts.backups_on);
    if facts.backups_on && restorable.is_none() {
        causes.push(Cause::NoRestorableTime);
    }
    let snapshot = facts.newest_snapshot.filter(|_| facts.snapshots_audited);
    if facts.snapshots_audited {
        match facts.newest_snapshot {
            None => {
                causes.push(Cause::NoSnapshot);
                at_risk = true;
            }
            Some(taken) if now - taken > snapshot_max_age => {
                causes.push(Cause::StaleSnapshot {
                    hours: (now - taken).num_hours(),
                });
                at_risk = true;
            }
            Some(_) => {}
        }
    }
    let recovery_point = match (restorable, snapshot) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let lag = recovery_point.map(|p| (now - p).max(Duration::zero()));
    let status = match lag {
        None => RpoStatus::Breached,
        Some(lag) if lag > target => RpoStatus::Breached,
        Some(lag) if lag * 2 > target || at_risk => RpoStatus::AtRisk,
        Some(_) => RpoStatus::Ok,
    };
    Assessment {
        status,
        lag_seconds: lag.map(|l| l.num_seconds()),
        recovery_point,
        causes,
    }
}
