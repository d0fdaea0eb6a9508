//! `make bench`, footprint: each function's start (process start to first Runtime API poll),
//! peak resident memory after one real invocation, and binary and arm64 zip size, each as a
//! ratio to a bare `lambda_runtime` binary built with the same profile in the same run. Runs are
//! interleaved (bare, then each function, round after round) so machine noise falls on all.
//!
//!   footprint <release dir> <lambda package dir> [rounds]
//!
//! Targets (issue 16): zip <= 2.5 MB, start <= 2x bare, peak RSS <= 12 MB. Also the first
//! invocation after start and the warm ones after it, against the local stack, beside the bare
//! binary's (which does no work: the ratio is the function's own work and its clients' set-up).

use std::path::{Path, PathBuf};
use std::time::Duration;

use e2e::{FaultProxy, Fixture, FunctionProcess};
use serde_json::{json, Value};

const FUNCTIONS: [&str; 5] = [
    "failover-check",
    "idle-reaper",
    "snapshotter",
    "storage-guard",
    "restore-drill",
];
const BARE: &str = "bare-lambda";
const MAX_ZIP_BYTES: u64 = 2_500_000;
const MAX_START_RATIO: f64 = 2.0;
const MAX_RSS_KIB: u64 = 12 * 1024;
/// What RDS answers for the instance (gp2 storage): the sizes it may grow to.
const GP2_SIZES: &str = "<ValidDBInstanceModificationsMessage><Storage><ValidStorageOptions>\
     <StorageType>gp2</StorageType><StorageSize><Range><From>20</From><To>65536</To></Range></StorageSize>\
     <SupportsStorageAutoscaling>true</SupportsStorageAutoscaling></ValidStorageOptions></Storage>\
     </ValidDBInstanceModificationsMessage>";
/// Warm invocations timed after each first one.
const WARM: usize = 5;

/// One real invocation each: what a first alarm would make the function do.
fn invocation(fixture: &Fixture, name: &str) -> Value {
    match name {
        "failover-check" => json!({"db_instance": fixture.db}),
        "idle-reaper" => json!({"db": fixture.db, "idle_minutes": 15, "dry_run": true}),
        "snapshotter" => json!({"db_instance": fixture.db, "reason": "footprint bench"}),
        "storage-guard" => json!({"db": fixture.db, "grow_percent": 20}),
        // The RPO audit: the instance and snapshot listings, the lag of the one instance.
        "restore-drill" => json!({"task": "audit", "db_instance": fixture.db}),
        _ => json!({"hello": "world"}),
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let release = PathBuf::from(args.get(1).map_or("target/release", String::as_str));
    let packages = PathBuf::from(args.get(2).map_or("target/lambda", String::as_str));
    let rounds: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(21);
    // Optionally only some functions (comma-separated), against the same bare binary.
    let only: Vec<String> = args
        .get(4)
        .map(|list| list.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let fixture = Fixture::new().await;
    fixture.put_connections(&fixture.db, 10.0).await;
    // storage-guard reads the sizes its instance may grow to, which moto lacks: answered by the
    // local endpoint in front of moto in RDS's own protocol, as on RDS, so its invocation times
    // its work and not the SDK's retries of moto's error (1.8 s). Every function goes through it.
    let proxy = FaultProxy::start(&fixture.stack.moto_endpoint).await;
    proxy.answer("RDS.DescribeValidDBInstanceModifications", GP2_SIZES);
    let endpoint = proxy.endpoint();
    let env = fixture.function_env(&[("RUST_LOG", "warn"), ("AWS_ENDPOINT_URL", &endpoint)]);

    let chosen = FUNCTIONS
        .into_iter()
        .filter(|f| only.is_empty() || only.iter().any(|o| o == f));
    let names: Vec<&str> = std::iter::once(BARE).chain(chosen).collect();
    let mut starts: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut rss: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut first: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut warm: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for round in 0..rounds {
        for (i, name) in names.iter().enumerate() {
            let binary = release.join(name);
            let mut function = FunctionProcess::start_binary(name, &binary, &env).await;
            let init = function
                .init_duration()
                .await
                .unwrap_or_else(|| panic!("{name} never polled for work"));
            starts[i].push(init.as_secs_f64() * 1000.0);
            // Memory after one invocation: a few rounds suffice, it hardly varies.
            if round < 3 {
                let mut event = invocation(&fixture, name);
                if name == &"snapshotter" {
                    event["request_id"] = json!(format!("footprint-{}-{round}", fixture.suffix));
                }
                let sent = std::time::Instant::now();
                let answer = function.invoke(&event).await.1;
                first[i].push(sent.elapsed().as_secs_f64() * 1000.0);
                tokio::time::sleep(Duration::from_millis(50)).await;
                let peak = function.peak_rss_kib().expect("peak RSS from /proc");
                rss[i].push(peak as f64);
                drop(answer);
                // Warm: the same work again in the same process (a snapshotter retry finds its
                // snapshot by name; a repeated request id would be answered from the ledger).
                for n in 0..WARM {
                    if name == &"snapshotter" {
                        event["request_id"] =
                            json!(format!("footprint-{}-{round}-warm-{n}", fixture.suffix));
                    }
                    let sent = std::time::Instant::now();
                    drop(function.invoke(&event).await.1);
                    warm[i].push(sent.elapsed().as_secs_f64() * 1000.0);
                }
            }
        }
    }

    let bare_start = median(&mut starts[0].clone());
    let bare_rss = median(&mut rss[0].clone());
    let bare_binary = size(&release.join(BARE)).unwrap_or_default();
    let bare_zip = size(&packages.join(BARE).join("bootstrap.zip"));
    let bare_first = median(&mut first[0].clone());
    let bare_warm = median(&mut warm[0].clone());
    println!("footprint: medians of {rounds} interleaved starts, peak RSS after one invocation (3 runs); release builds in {}", release.display());
    println!(
        "  {BARE:<15} start {bare_start:>6.2} ms   peak RSS {:>6.0} KiB   binary {:>9} B   arm64 zip {}",
        bare_rss,
        bare_binary,
        bare_zip.map_or("not built".to_string(), |z| format!("{z} B"))
    );
    println!(
        "  {BARE:<15} first invocation {bare_first:>7.2} ms   warm invocation {bare_warm:>7.2} ms (medians of 3 and {})",
        3 * WARM
    );
    for (i, name) in names.iter().enumerate().skip(1) {
        let (one, again) = (median(&mut first[i]), median(&mut warm[i]));
        println!(
            "  {name:<15} first invocation {one:>7.2} ms ({:.1}x bare)   warm invocation {again:>7.2} ms ({:.1}x bare), against the local stack",
            one / bare_first,
            again / bare_warm
        );
    }
    let mut missed = Vec::new();
    for (i, name) in names.iter().enumerate().skip(1) {
        let start = median(&mut starts[i]);
        let peak = median(&mut rss[i]);
        let binary = size(&release.join(name)).unwrap_or_default();
        let zip = size(&packages.join(name).join("bootstrap.zip"));
        let start_ratio = start / bare_start;
        println!(
            "  {name:<15} start {start:>6.2} ms ({start_ratio:.2}x bare)   peak RSS {peak:>6.0} KiB ({:.2}x bare)   binary {binary:>9} B ({:.2}x bare)   arm64 zip {}",
            peak / bare_rss,
            binary as f64 / bare_binary.max(1) as f64,
            match (zip, bare_zip) {
                (Some(z), Some(b)) => format!("{z} B ({:.2}x bare)", z as f64 / b as f64),
                (Some(z), None) => format!("{z} B"),
                _ => "not built (make package)".to_string(),
            }
        );
        if start_ratio > MAX_START_RATIO {
            missed.push(format!(
                "{name} start {start_ratio:.2}x bare (target <= {MAX_START_RATIO}x)"
            ));
        }
        if peak as u64 > MAX_RSS_KIB {
            missed.push(format!(
                "{name} peak RSS {peak:.0} KiB (target <= {MAX_RSS_KIB} KiB)"
            ));
        }
        match zip {
            Some(z) if z > MAX_ZIP_BYTES => missed.push(format!(
                "{name} arm64 zip {z} B (target <= {MAX_ZIP_BYTES} B)"
            )),
            None => missed.push(format!("{name} arm64 zip not built")),
            _ => {}
        }
    }
    if missed.is_empty() {
        println!("footprint targets: all met");
    } else {
        println!("footprint targets MISSED: {}", missed.join("; "));
    }
}
