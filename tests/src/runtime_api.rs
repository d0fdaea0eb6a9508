//! A Lambda Runtime API endpoint (the protocol AWS speaks to a custom runtime), serving events to
//! a function binary started as a child process, and collecting its responses and errors.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, Notify};

/// What the function answered.
#[derive(Debug, Clone)]
pub enum Invoked {
    Response(Value),
    Error {
        error_type: String,
        error_message: String,
    },
}

impl Invoked {
    pub fn response(self) -> Value {
        match self {
            Invoked::Response(v) => {
                crate::collect_report("response", &v);
                v
            }
            Invoked::Error {
                error_type,
                error_message,
            } => {
                panic!("expected a response, got error {error_type}: {error_message}")
            }
        }
    }

    pub fn error(self) -> (String, String) {
        match self {
            Invoked::Error {
                error_type,
                error_message,
            } => (error_type, error_message),
            Invoked::Response(v) => panic!("expected an error, got response {v}"),
        }
    }
}

struct Pending {
    request_id: String,
    deadline_ms: i64,
    body: Vec<u8>,
}

struct State {
    function_arn: String,
    queue: Mutex<VecDeque<Pending>>,
    arrived: Notify,
    waiting: Mutex<HashMap<String, oneshot::Sender<Invoked>>>,
    init_error: Mutex<Option<String>>,
    /// When the function first asked for work: the end of its init phase.
    first_poll: Mutex<Option<std::time::Instant>>,
}

const FUNCTION_ARN_PREFIX: &str = "arn:aws:lambda:us-east-1:123456789012:function:";

/// A function binary running under the Runtime API.
pub struct FunctionProcess {
    name: String,
    state: Arc<State>,
    child: Child,
    logs: Arc<Mutex<String>>,
    spawned_at: std::time::Instant,
    /// How long each invocation may run (sent as `Lambda-Runtime-Deadline-Ms`).
    pub timeout: Duration,
    /// How far the process's clock is ahead of this one (see [`FunctionProcess::start_later`]).
    clock_ahead: chrono::Duration,
}

/// libfaketime, which `scripts/bootstrap.sh` installs: shifts a process's wall clock.
pub fn faketime_library() -> PathBuf {
    let found = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|dir| dir.path().join("faketime/libfaketime.so.1"))
        .find(|p| p.exists());
    found.expect("libfaketime is missing: scripts/bootstrap.sh installs it (Debian libfaketime)")
}

/// Where cargo put the binaries (`make test` builds them before the tests run).
pub fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("debug").join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first (`cargo build -p {name}`; `make test` does)",
        path.display()
    );
    path
}

impl FunctionProcess {
    /// Starts the Runtime API and the debug binary with exactly these variables (plus PATH).
    pub async fn start(name: &str, env: &[(String, String)]) -> Self {
        Self::start_binary(name, &binary(name), env).await
    }

    /// The same for a binary at `path` (the benchmark runs the release build).
    pub async fn start_binary(
        name: &str,
        path: &std::path::Path,
        env: &[(String, String)],
    ) -> Self {
        let state = Arc::new(State {
            function_arn: format!("{FUNCTION_ARN_PREFIX}{name}"),
            queue: Mutex::default(),
            arrived: Notify::new(),
            waiting: Mutex::default(),
            init_error: Mutex::default(),
            first_poll: Mutex::default(),
        });
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind runtime API");
        let addr = listener.local_addr().expect("runtime API address");
        let served = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = served.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(req, state.clone()));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });

        let mut command = Command::new(path);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "e2e")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let spawned_at = std::time::Instant::now();
        let mut child = command.spawn().expect("start function binary");
        let logs = Arc::new(Mutex::new(String::new()));
        for mut stream in [
            Box::new(child.stdout.take().expect("stdout"))
                as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let logs = logs.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    logs.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        Self {
            name: name.to_string(),
            state,
            child,
            logs,
            spawned_at,
            timeout: Duration::from_secs(30),
            clock_ahead: chrono::Duration::zero(),
        }
    }

    /// The debug binary with its wall clock `days` ahead (libfaketime; monotonic time is left
    /// alone): how retention is tried "under any clock" against moto, whose snapshots are
    /// always created now. Deadlines are sent in the process's time.
    pub async fn start_later(name: &str, env: &[(String, String)], days: i64) -> Self {
        Self::start_shifted(name, env, chrono::Duration::days(days)).await
    }

    /// The debug binary with its wall clock `ahead` (whole seconds; see [`Self::start_later`]).
    pub async fn start_shifted(
        name: &str,
        env: &[(String, String)],
        ahead: chrono::Duration,
    ) -> Self {
        let mut env = env.to_vec();
        env.push((
            "LD_PRELOAD".into(),
            faketime_library().display().to_string(),
        ));
        env.push(("FAKETIME".into(), format!("+{}", ahead.num_seconds())));
        env.push(("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()));
        env.push(("FAKETIME_DONT_RESET".into(), "1".into()));
        let mut process = Self::start_binary(name, &binary(name), &env).await;
        process.clock_ahead = ahead;
        process
    }

    /// Waits for the process to end (a failed init), and for its last output to be read.
    pub async fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let status = tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} still running after {limit:?}", self.name))
            .expect("wait for the function process");
        tokio::time::sleep(Duration::from_millis(200)).await;
        status
    }

    /// Process start to first `/next` poll: what Lambda bills as init. Waits up to 10 s for it.
    pub async fn init_duration(&self) -> Option<Duration> {
        for _ in 0..1000 {
            if let Some(at) = *self.state.first_poll.lock().unwrap() {
                return Some(at - self.spawned_at);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }

    /// The Embedded Metric Format documents the function logged for `namespace`: what CloudWatch
    /// Logs would turn into metrics.
    pub fn metric_documents(&self, namespace: &str) -> Vec<Value> {
        self.logs()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|doc| {
                doc["_aws"]["CloudWatchMetrics"]
                    .as_array()
                    .is_some_and(|directives| {
                        directives.iter().any(|d| d["Namespace"] == namespace)
                    })
            })
            .collect()
    }

    /// Sum of the `Runs` metric for this function and outcome in `namespace`, from the logged
    /// metric documents.
    pub fn runs_metric(&self, namespace: &str, function: &str, outcome: &str) -> f64 {
        self.metric_documents(namespace)
            .iter()
            .filter(|doc| doc["Function"] == function && doc["Outcome"] == outcome)
            .filter_map(|doc| doc["Runs"].as_f64())
            .sum()
    }

    /// The process's peak resident memory so far (`VmHWM`), in KiB; Linux only.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Everything the function wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Invokes with a fresh request id; returns the request id and the answer.
    pub async fn invoke(&mut self, event: &Value) -> (String, Invoked) {
        self.invoke_raw(serde_json::to_vec(event).expect("event JSON"))
            .await
    }

    /// Invokes with these exact payload bytes (which need not be JSON).
    pub async fn invoke_raw(&mut self, body: Vec<u8>) -> (String, Invoked) {
        // Unique across processes and runs: reports are archived under the request id.
        static INVOCATIONS: AtomicU64 = AtomicU64::new(0);
        let n = INVOCATIONS.fetch_add(1, Ordering::SeqCst);
        let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let request_id = format!(
            "{}-{:x}-{:x}-{n}",
            self.name,
            std::process::id(),
            nanos % 0xffff_ffff
        );
        self.invoke_as(request_id, body).await
    }

    /// Lambda's retry of an asynchronous invocation: the same event under the same request id.
    pub async fn retry(&mut self, request_id: &str, event: &Value) -> Invoked {
        let body = serde_json::to_vec(event).expect("event JSON");
        self.invoke_as(request_id.to_string(), body).await.1
    }

    async fn invoke_as(&mut self, request_id: String, body: Vec<u8>) -> (String, Invoked) {
        let deadline_ms = (chrono::Utc::now() + self.clock_ahead).timestamp_millis()
            + self.timeout.as_millis() as i64;
        let (tx, rx) = oneshot::channel();
        self.state
            .waiting
            .lock()
            .unwrap()
            .insert(request_id.clone(), tx);
        self.state.queue.lock().unwrap().push_back(Pending {
            request_id: request_id.clone(),
            deadline_ms,
            body,
        });
        self.state.arrived.notify_one();

        let limit = self.timeout + Duration::from_secs(10);
        tokio::select! {
            answer = rx => (request_id, answer.expect("runtime API dropped the invocation")),
            status = self.child.wait() => panic!(
                "{} exited ({status:?}) during invocation; init error: {:?}\nlogs:\n{}",
                self.name,
                self.state.init_error.lock().unwrap(),
                self.logs()
            ),
            _ = tokio::time::sleep(limit) => panic!(
                "{} did not answer within {limit:?}\nlogs:\n{}",
                self.name,
                self.logs()
            ),
        }
    }
}

fn reply(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        (Method::GET, ["2018-06-01", "runtime", "invocation", "next"]) => loop {
            state
                .first_poll
                .lock()
                .unwrap()
                .get_or_insert_with(std::time::Instant::now);
            let notified = state.arrived.notified();
            if let Some(next) = state.queue.lock().unwrap().pop_front() {
                let mut response = reply(StatusCode::OK, next.body);
                let headers = response.headers_mut();
                let set = |v: String| v.parse().expect("header value");
                headers.insert("lambda-runtime-aws-request-id", set(next.request_id));
                headers.insert(
                    "lambda-runtime-deadline-ms",
                    set(next.deadline_ms.to_string()),
                );
                headers.insert(
                    "lambda-runtime-invoked-function-arn",
                    set(state.function_arn.clone()),
                );
                headers.insert(
                    "lambda-runtime-trace-id",
                    set("Root=1-00000000-000000000000000000000000".into()),
                );
                headers.insert("content-type", set("application/json".into()));
                return Ok(response);
            }
            notified.await;
        },
        (
            Method::POST,
            ["2018-06-01", "runtime", "invocation", id, kind @ ("response" | "error")],
        ) => {
            let answer = if *kind == "response" {
                Invoked::Response(serde_json::from_slice(&body).unwrap_or(Value::Null))
            } else {
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                Invoked::Error {
                    error_type: v["errorType"].as_str().unwrap_or_default().to_string(),
                    error_message: v["errorMessage"].as_str().unwrap_or_default().to_string(),
                }
            };
            if let Some(tx) = state.waiting.lock().unwrap().remove(*id) {
                let _ = tx.send(answer);
            }
            Ok(reply(StatusCode::ACCEPTED, b"{\"status\":\"OK\"}".to_vec()))
        }
        (Method::POST, ["2018-06-01", "runtime", "init", "error"]) => {
            *state.init_error.lock().unwrap() = Some(String::from_utf8_lossy(&body).into_owned());
            Ok(reply(StatusCode::ACCEPTED, b"{\"status\":\"OK\"}".to_vec()))
        }
        _ => Ok(reply(
            StatusCode::NOT_FOUND,
            format!("no route {path}").into_bytes(),
        )),
    }
}
