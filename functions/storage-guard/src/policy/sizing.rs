//! What sizes are valid and what goes with a size: RDS's own answer for the instance
//! (`DescribeValidDBInstanceModifications`) when it gave one, else the documented rules of the
//! storage type, and the report says which.

use serde::Serialize;

use rds_responder::storage::{IntRange, RatioRange, ValidStorage};

/// Where the valid sizes came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "source")]
pub enum Rules {
    /// RDS's answer for this instance and its storage type.
    Reported { valid: ValidStorage },
    /// The documented rules of the storage type; `why` RDS's answer was not used.
    Documented { valid: ValidStorage, why: String },
}

impl Rules {
    pub fn valid(&self) -> &ValidStorage {
        match self {
            Rules::Reported { valid } | Rules::Documented { valid, .. } => valid,
        }
    }
}

fn range(from: i32, to: i32) -> Vec<IntRange> {
    vec![IntRange { from, to, step: 1 }]
}

fn ratio(from: f64, to: f64) -> Vec<RatioRange> {
    vec![RatioRange { from, to }]
}

/// The documented limits of RDS storage types (MySQL, MariaDB, PostgreSQL; RDS User Guide,
/// "Amazon RDS DB instance storage").
pub fn documented(storage_type: &str) -> Option<ValidStorage> {
    let valid = |sizes, iops, iops_per_gib, throughput, throughput_per_iops| ValidStorage {
        storage_type: storage_type.to_string(),
        sizes_gib: sizes,
        iops,
        iops_per_gib,
        throughput_mibps: throughput,
        throughput_per_iops,
        supports_autoscaling: true,
    };
    Some(match storage_type {
        "gp2" => valid(range(20, 65_536), vec![], vec![], vec![], vec![]),
        "gp3" => valid(
            range(20, 65_536),
            range(3_000, 64_000),
            ratio(0.5, 500.0),
            range(125, 4_000),
            ratio(0.0, 0.25),
        ),
        "io1" => valid(
            range(100, 65_536),
            range(1_000, 256_000),
            ratio(1.0, 50.0),
            vec![],
            vec![],
        ),
        "io2" => valid(
            range(100, 65_536),
            range(1_000, 256_000),
            ratio(0.5, 1_000.0),
            vec![],
            vec![],
        ),
        "standard" => valid(range(5, 3_072), vec![], vec![], vec![], vec![]),
        _ => return None,
    })
}

/// RDS's answer for the instance's own storage type when it has one, else the documented
/// rules (`None`: neither knows the type).
pub fn rules_for(storage_type: &str, reported: Result<&[ValidStorage], &str>) -> Option<Rules> {
    let why = match reported {
        Ok(list) => match list.iter().find(|v| v.storage_type == storage_type) {
            Some(v) if !v.sizes_gib.is_empty() => {
                return Some(Rules::Reported { valid: v.clone() })
            }
            Some(_) => format!("RDS listed no storage sizes for {storage_type}"),
            None => format!("RDS offered no modification of {storage_type} storage"),
        },
        Err(e) => format!("DescribeValidDBInstanceModifications failed: {e}"),
    };
    documented(storage_type).map(|valid| Rules::Documented { valid, why })
}

/// The smallest valid size at or above `gib` (rounded up to a range's step), or the largest
/// valid size when `gib` is above them all; `None` with no ranges.
pub fn round_up(gib: i32, sizes: &[IntRange]) -> Option<i32> {
    sizes
        .iter()
        .filter_map(|r| {
            let candidate = if gib <= r.from {
                r.from
            } else {
                let steps = (gib - r.from + r.step - 1) / r.step;
                r.from + steps * r.step
            };
            // A step past the range's end is no size of it.
            (candidate <= r.to).then_some(candidate)
        })
        .min()
        .or_else(|| sizes.iter().map(|r| r.to).max())
}

/// The largest valid size at or below `gib` (a ceiling rounds down), `None` when none is.
pub fn round_down(gib: i32, sizes: &[IntRange]) -> Option<i32> {
    sizes
        .iter()
        .filter(|r| r.from <= gib)
        .map(|r| {
            let top = gib.min(r.to);
            r.from + (top - r.from) / r.step * r.step
        })
        .max()
}

fn clamp_to(value: i32, ranges: &[IntRange]) -> i32 {
    let lowest = ranges.iter().map(|r| r.from).min();
    let highest = ranges.iter().map(|r| r.to).max();
    match (lowest, highest) {
        (Some(lo), Some(hi)) => value.clamp(lo, hi.max(lo)),
        _ => value,
    }
}

/// What goes with a new size: IOPS and throughput as the storage type requires, kept where they
/// are valid and moved to the nearest valid value where the new size makes them invalid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Performance {
    pub iops: Option<i32>,
    pub throughput_mibps: Option<i32>,
    /// Why a value differs from the current one.
    pub notes: Vec<String>,
}

/// gp3 includes 3,000 IOPS and 125 MiB/s below its threshold (400 GiB for MySQL, MariaDB and
/// PostgreSQL, 200 GiB for Oracle), 12,000 and 500 from it up; below it RDS refuses any IOPS or
/// throughput in the request. SQL Server has no threshold: 3,000 / 125 at every size.
pub const GP3_BASELINE_GIB: i32 = 400;
pub const GP3_BASELINE_GIB_ORACLE: i32 = 200;

/// The size from which gp3 takes IOPS and throughput for `engine`; `None`: at every size.
pub fn gp3_threshold(engine: &str) -> Option<i32> {
    let e = engine.to_ascii_lowercase();
    if e.starts_with("sqlserver") {
        None
    } else if e.starts_with("oracle") {
        Some(GP3_BASELINE_GIB_ORACLE)
    } else {
        Some(GP3_BASELINE_GIB)
    }
}

/// IOPS and throughput to send with a new size: only values that must change (the size makes
/// the current ones invalid, or gp3 crosses its threshold), never where RDS refuses them.
pub fn performance(
    engine: &str,
    storage_type: &str,
    size_gib: i32,
    iops: Option<i32>,
    throughput: Option<i32>,
    valid: &ValidStorage,
) -> Performance {
    let mut notes = Vec::new();
    let none = |notes| Performance {
        iops: None,
        throughput_mibps: None,
        notes,
    };
    let (base_iops, base_throughput) = match storage_type {
        "io1" | "io2" => (None, None),
        "gp3" => match gp3_threshold(engine) {
            Some(threshold) if size_gib < threshold => {
                return none(notes);
            }
            Some(_) => (Some(12_000), Some(500)),
            None => (Some(3_000), Some(125)),
        },
        _ => return none(notes),
    };
    let mut new_iops = iops.or(base_iops).map(|i| i.max(base_iops.unwrap_or(0)));
    if let Some(i) = new_iops {
        let size = f64::from(size_gib);
        let mut adjusted = i;
        if let Some(r) = valid.iops_per_gib.first() {
            let lo = (r.from * size).ceil() as i32;
            let hi = (r.to * size).floor() as i32;
            adjusted = adjusted.clamp(lo, hi.max(lo));
        }
        adjusted = clamp_to(adjusted, &valid.iops);
        new_iops = Some(adjusted);
    }
    let mut new_throughput = None;
    if storage_type == "gp3" {
        let mut t = throughput
            .or(base_throughput)
            .unwrap_or(125)
            .max(base_throughput.unwrap_or(0));
        if let (Some(r), Some(i)) = (valid.throughput_per_iops.first(), new_iops) {
            let hi = (r.to * f64::from(i)).floor() as i32;
            if r.to > 0.0 {
                t = t.min(hi.max(1));
            }
        }
        new_throughput = Some(clamp_to(t, &valid.throughput_mibps));
    }
    // Only what changes is sent: the current values stay as they are.
    let send_iops = new_iops.filter(|i| Some(*i) != iops);
    let send_throughput = new_throughput.filter(|t| Some(*t) != throughput);
    if let Some(i) = send_iops {
        notes.push(format!(
            "IOPS {} -> {i} to stay valid at {size_gib} GiB",
            iops.map_or("baseline".to_string(), |i| i.to_string())
        ));
    }
    if let Some(t) = send_throughput {
        notes.push(format!(
            "throughput {} -> {t} MiB/s to stay valid at {size_gib} GiB",
            throughput.map_or("baseline".to_string(), |t| t.to_string())
        ));
    }
    Performance {
        iops: send_iops,
        throughput_mibps: send_throughput,
        notes,
    }
}
