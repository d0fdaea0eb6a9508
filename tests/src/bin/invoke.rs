//! `make invoke FUNCTION=... EVENT=...`: one event through one function binary against the local
//! stack (fresh per-run resources, sample names swapped for them); prints the answer and what
//! reached SNS.

use std::time::Duration;

use e2e::{Fixture, FunctionProcess, Invoked};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(function), Some(event_path)) = (args.next(), args.next()) else {
        eprintln!("usage: invoke <function> <events/file.json>");
        std::process::exit(2);
    };
    let fixture = Fixture::new().await;
    fixture.create_cluster().await;
    let name = event_path.trim_start_matches("events/");
    let event = fixture.event(name);
    let mut process = FunctionProcess::start(&function, &fixture.function_env(&[])).await;
    match process.invoke(&event).await.1 {
        Invoked::Response(report) => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        Invoked::Error {
            error_type,
            error_message,
        } => println!("error {error_type}: {error_message}"),
    }
    for message in fixture.published(0, Duration::from_millis(300)).await {
        println!(
            "SNS subject: {}",
            message["Subject"].as_str().unwrap_or_default()
        );
    }
}
