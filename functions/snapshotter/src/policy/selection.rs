//! Which databases a sweep snapshots, and the states a snapshot and a database are in.

use serde::Serialize;

use rds_responder::backups::DbListing;
use rds_responder::safety::{GateVerdict, TagGate};
use rds_responder::trigger::DbTarget;

/// A snapshot status a waiting caller stops at: done, failed, or gone.
pub fn settled(status: &str) -> bool {
    matches!(status, "available" | "failed" | "error" | "missing")
}

/// A snapshot status RDS ends a copy it could not make with.
pub fn failed_copy(status: &str) -> bool {
    matches!(status, "failed" | "error")
}

/// Whether a database in `status` can be snapshotted now: available, or optimizing storage
/// after a change (RDS takes snapshots then, and it can last a day: exactly when a storage
/// change wants one).
pub fn snapshottable(status: &str) -> bool {
    matches!(status, "available" | "storage-optimization")
}

/// What a scheduled run does with one database it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Selection {
    Snapshot,
    /// An instance of a cluster: the cluster's snapshot covers it.
    Covered {
        cluster: String,
        cluster_selected: bool,
    },
    /// The opt-out tag (or, without a target list, no opt-in tag): not acted on at all.
    OptedOut {
        reason: String,
    },
    /// Not snapshotted; `warn` when an operator should look. Retention still applies.
    Skip {
        reason: String,
        warn: bool,
    },
}

/// Which databases a scheduled run snapshots. Listed targets need no opt-in tag; without a
/// list, only databases carrying the opt-in tag. The opt-out tag wins either way. Instances of a
/// cluster are reported as covered by the cluster snapshot (never snapshotted one by one); read
/// replicas and databases that are not available are reported with the reason. Databases not
/// opted in and not listed are left out (counted by the caller).
pub fn select(
    databases: &[DbListing],
    listed: Option<&[DbTarget]>,
    gate: &TagGate,
) -> Vec<(DbTarget, Selection)> {
    let is_listed = |db: &DbTarget| listed.is_some_and(|l| l.contains(db));
    let listing_gate = TagGate {
        opt_out_tag: gate.opt_out_tag.clone(),
        opt_in_tag: None,
    };
    let verdict = |d: &DbListing| {
        if listed.is_some() {
            listing_gate.check::<String>(Ok(&d.tags))
        } else {
            gate.check::<String>(Ok(&d.tags))
        }
    };
    let in_scope = |d: &DbListing| listed.is_none() || is_listed(&d.db);
    let selected_clusters: Vec<&str> = databases
        .iter()
        .filter(|d| matches!(d.db, DbTarget::Cluster(_)) && in_scope(d))
        .filter(|d| verdict(d).allowed() && d.replica_of.is_none() && snapshottable(&d.status))
        .map(|d| d.db.id().as_str())
        .collect();
    let mut out = Vec::new();
    for d in databases {
        let member_of = d
            .cluster
            .as_deref()
            .filter(|_| matches!(d.db, DbTarget::Instance(_)));
        let cluster_selected =
            member_of.is_some_and(|c| selected_clusters.iter().any(|s| s.eq_ignore_ascii_case(c)));
        let gate_verdict = verdict(d);
        if !in_scope(d) && !cluster_selected {
            continue;
        }
        if let GateVerdict::NotOptedIn { .. } = gate_verdict {
            if !cluster_selected {
                continue;
            }
        }
        let selection = if let Some(cluster) = member_of {
            Selection::Covered {
                cluster: cluster.to_string(),
                cluster_selected,
            }
        } else if !gate_verdict.allowed() {
            Selection::OptedOut {
                reason: gate_verdict.to_string(),
            }
        } else if let Some(source) = &d.replica_of {
            Selection::Skip {
                reason: format!("read replica of {source}: its source's snapshots cover it"),
                warn: false,
            }
        } else if !snapshottable(&d.status) {
            let stopped = matches!(d.status.as_str(), "stopped" | "stopping");
            Selection::Skip {
                reason: format!(
                    "{} is {}, not available: no snapshot this run",
                    d.db.id(),
                    d.status
                ),
                warn: !stopped,
            }
        } else {
            Selection::Snapshot
        };
        out.push((d.db.clone(), selection));
    }
    if let Some(listed) = listed {
        for target in listed {
            if !databases.iter().any(|d| &d.db == target) {
                out.push((
                    target.clone(),
                    Selection::Skip {
                        reason: format!("{target} not found"),
                        warn: true,
                    },
                ));
            }
        }
    }
    out
}

/// The databases whose snapshots retention looks at: the ones this run may act on (listed, or
/// opted in and not opted out), never an instance of a cluster. Listed databases that no
/// longer exist are included: their snapshots still follow the rules.
pub fn retention_scope(selections: &[(DbTarget, Selection)]) -> Vec<DbTarget> {
    selections
        .iter()
        .filter(|(_, s)| matches!(s, Selection::Snapshot | Selection::Skip { .. }))
        .map(|(db, _)| db.clone())
        .collect()
}

/// Share of the manual snapshot quota past which the report warns.
pub const QUOTA_WARN_PERCENT: i64 = 80;

/// Whether `used` of `max` is past the warning share (exactly at 80% is not).
pub fn quota_warns(used: i64, max: i64) -> bool {
    max > 0 && used * 100 > max * QUOTA_WARN_PERCENT
}
