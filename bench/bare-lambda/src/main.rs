//! A bare `lambda_runtime` function: the same runtime, profile and packaging as the real
//! functions, and no work, so `make bench` can give their figures as ratios to it.

use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move { Ok::<_, Error>(event.payload) },
    ))
    .await
}
