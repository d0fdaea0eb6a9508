//! `make bench`: storage-guard's forecast over a 10,000-point `FreeStorageSpace` history (five
//! minutes apart: about 35 days), as a ratio to a floor measured in the same run: one plain pass
//! reading every point once (summing its value and its time in milliseconds).
//!
//!     cargo run --release -p storage-guard --example forecast-bench

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::Utc;
use storage_guard::policy::forecast::forecast;

const POINTS: usize = 10_000;
const FORECAST_ROUNDS: usize = 501;
/// A forecast is one least-squares pass, a search and a pass over the last hour: within 2x one
/// plain pass over the points.
const FORECAST_TARGET: f64 = 2.0;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn verdict(ratio: f64, target: f64) -> &'static str {
    if ratio <= target {
        "met"
    } else {
        "MISSED"
    }
}

fn main() {
    forecast_bench();
}

fn forecast_bench() {
    let now = Utc::now();
    // Five-minute points over ~35 days, filling with noise and a load near the end.
    let points: Vec<(chrono::DateTime<Utc>, f64)> = (0..POINTS)
        .map(|i| {
            let t = now - chrono::Duration::minutes(5 * (POINTS - i) as i64);
            let noise = ((i * 7919) % 97) as f64 * 1e6;
            let load = if i > POINTS - 12 {
                (i - (POINTS - 12)) as f64 * 2e9
            } else {
                0.0
            };
            (t, 500e9 - i as f64 * 2e7 + noise - load)
        })
        .collect();
    let mut floor = Vec::new();
    let mut timed = Vec::new();
    for _ in 0..FORECAST_ROUNDS {
        let started = Instant::now();
        let (mut millis, mut values) = (0i64, 0.0f64);
        for (t, v) in black_box(&points) {
            millis = millis.wrapping_add(t.timestamp_millis());
            values += v;
        }
        black_box((millis, values));
        floor.push(started.elapsed());
        let started = Instant::now();
        black_box(forecast(black_box(&points)));
        timed.push(started.elapsed());
    }
    let f = forecast(&points).expect("a forecast");
    let (floor, timed) = (median(floor), median(timed));
    let ratio = timed.as_secs_f64() / floor.as_secs_f64().max(1e-9);
    println!(
        "storage-guard forecast over {POINTS} points: {:.1} us (floor, one pass reading every point: {:.1} us): {ratio:.2}x (target <= {FORECAST_TARGET}x: {}); {:.3} GiB/h, full at {:?}",
        timed.as_secs_f64() * 1e6,
        floor.as_secs_f64() * 1e6,
        verdict(ratio, FORECAST_TARGET),
        f.used_gib_per_hour,
        f.full_at
    );
}
