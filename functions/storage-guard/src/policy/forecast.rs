//! How fast the disk fills and when it is full: least-squares slopes of `FreeStorageSpace`
//! over the whole history and over its last hour (a bulk load shows in the hour before it shows
//! in the day), the faster of the two.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

pub const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    pub points: usize,
    /// The newest value, and when.
    pub free_gib: f64,
    pub measured_at: DateTime<Utc>,
    /// GiB used per hour over the whole history (negative: freeing).
    pub used_gib_per_hour_all: f64,
    /// Over the newest hour, when it holds at least two points.
    pub used_gib_per_hour_last_hour: Option<f64>,
    /// The faster of the two, never below zero.
    pub used_gib_per_hour: f64,
    /// When free space reaches zero at that rate; `None` when it is not falling.
    pub full_at: Option<DateTime<Utc>>,
}

/// The newest hour's rate holds for this long; past it, the whole history's: a dip of a few
/// minutes (a big sort's temporary files) must not size a volume for two weeks.
pub const FAST_RATE_HOURS: f64 = 6.0;

impl Forecast {
    /// GiB the database will use over `hours`: the faster rate for the first
    /// [`FAST_RATE_HOURS`], the whole history's after.
    pub fn growth_gib(&self, hours: f64) -> f64 {
        let hours = hours.max(0.0);
        let fast = hours.min(FAST_RATE_HOURS);
        let slow = self.used_gib_per_hour_all.max(0.0);
        self.used_gib_per_hour * fast + slow * (hours - fast)
    }
}

/// Free GiB lost per hour: the negated least-squares slope of `points` (time in hours from the
/// first point), in one pass over them.
fn used_per_hour(points: &[(DateTime<Utc>, f64)]) -> Option<f64> {
    let (first, _) = points.first()?;
    if points.len() < 2 {
        return None;
    }
    let origin = first.timestamp_millis();
    let n = points.len() as f64;
    let (mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0);
    for (t, v) in points {
        let x = (t.timestamp_millis() - origin) as f64 / 3_600_000.0;
        let y = v / GIB;
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    let var = sxx - sx * sx / n;
    // All points at one instant: no slope.
    if var <= 0.0 {
        return None;
    }
    Some(-((sxy - sx * sy / n) / var))
}

/// The forecast from a history sorted oldest first (free bytes); `None` with fewer than two
/// points.
pub fn forecast(points: &[(DateTime<Utc>, f64)]) -> Option<Forecast> {
    let all = used_per_hour(points)?;
    let &(measured_at, free_bytes) = points.last()?;
    let hour_ago = measured_at - Duration::hours(1);
    let recent = points.partition_point(|(t, _)| *t < hour_ago);
    let last_hour = used_per_hour(&points[recent..]);
    let rate = last_hour.map_or(all, |h| h.max(all)).max(0.0);
    let free_gib = (free_bytes / GIB).max(0.0);
    let full_at = (rate > 0.0).then(|| {
        let seconds = (free_gib / rate * 3600.0).min(1e11);
        measured_at + Duration::seconds(seconds as i64)
    });
    Some(Forecast {
        points: points.len(),
        free_gib,
        measured_at,
        used_gib_per_hour_all: all,
        used_gib_per_hour_last_hour: last_hour,
        used_gib_per_hour: rate,
        full_at,
    })
}

/// The forecast after `gib` were added at `at` (our own change, newer than the newest metric
/// point): the same rate over more free space.
pub fn with_added_space(forecast: &Forecast, gib: f64, at: DateTime<Utc>) -> Forecast {
    if at <= forecast.measured_at || gib <= 0.0 {
        return forecast.clone();
    }
    let free_gib = forecast.free_gib + gib;
    let full_at = (forecast.used_gib_per_hour > 0.0).then(|| {
        let seconds = (free_gib / forecast.used_gib_per_hour * 3600.0).min(1e11);
        forecast.measured_at + Duration::seconds(seconds as i64)
    });
    Forecast {
        free_gib,
        full_at,
        ..forecast.clone()
    }
}
