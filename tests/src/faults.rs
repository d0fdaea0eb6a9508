//! A fault-injecting HTTP proxy between the function binaries and moto server: how a function
//! behaves when an AWS call fails, is throttled, stalls, or commits but loses its answer can only
//! be tried end to end by breaking the wire, since moto itself always answers promptly.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A service error makes hyper drop the connection without writing any response.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What happens to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Accept the request, never answer (hold the connection open until the proxy is dropped or
    /// the client gives up): an endpoint that hangs, so the function's timeouts are exercised.
    Stall,
    /// Answer HTTP 500 in the service's error shape without forwarding.
    ServerError,
    /// Answer a throttling error (400 Throttling / ThrottlingException, S3 503 SlowDown) without
    /// forwarding.
    Throttle,
    /// Answer a client error the SDK does not retry (400 `InvalidParameterCombination` /
    /// `ValidationException`) without forwarding: RDS refusing the request.
    Refuse,
    /// Forward to moto (the request takes effect), then drop the connection without sending
    /// moto's answer: "the write committed but the answer was lost".
    LoseAnswer,
}

struct Rule {
    operation: String,
    fault: Fault,
    /// Uses left; `None` = unlimited.
    left: Option<usize>,
}

/// One request as a function sent it, with the instant it arrived.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub at: Instant,
    pub operation: String,
    method: hyper::Method,
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
}

struct Shared {
    upstream: String,
    client: Client<HttpConnector, Full<Bytes>>,
    rules: Mutex<Vec<Rule>>,
    seen: Mutex<Vec<String>>,
    /// Every request as it arrived, for a benchmark's floor (the same requests sent again).
    recorded: Mutex<Vec<RecordedRequest>>,
    /// Operations moto lacks or cannot show, answered here in the service's own protocol.
    answers: Mutex<Vec<(String, String)>>,
    /// Text replaced in moto's answers to an operation (a state moto never reaches).
    rewrites: Mutex<Vec<(String, String, String)>>,
}

impl Shared {
    /// The first matching rule that still has uses, spending one of them.
    fn take_fault(&self, operation: &str) -> Option<Fault> {
        let mut rules = self.rules.lock().unwrap();
        let rule = rules
            .iter_mut()
            .find(|r| r.operation == operation && r.left != Some(0))?;
        if let Some(left) = rule.left.as_mut() {
            *left -= 1;
        }
        Some(rule.fault)
    }
}

/// The proxy; dropping it stops accepting and closes every connection (stalled ones included).
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Shared>,
    /// Dropped with the proxy: every task waiting on a receiver then ends.
    _stop: watch::Sender<()>,
}

impl FaultProxy {
    /// Starts on 127.0.0.1:<free port>, forwarding every request to `upstream` (e.g. the moto
    /// endpoint URL "http://127.0.0.1:5000").
    pub async fn start(upstream: &str) -> Self {
        let state = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            // No idle pool: a pooled connection moto has since closed would show up as a
            // spurious failure, which is the last thing a fault harness should invent.
            client: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(0)
                .build_http(),
            rules: Mutex::default(),
            seen: Mutex::default(),
            recorded: Mutex::default(),
            answers: Mutex::default(),
            rewrites: Mutex::default(),
        });
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fault proxy");
        let addr = listener.local_addr().expect("fault proxy address");
        let (stop_tx, mut stop_rx) = watch::channel(());
        let served = state.clone();
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => return,
                    },
                    _ = stop_rx.changed() => return,
                };
                let state = served.clone();
                let mut stop = stop_rx.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(req, state.clone()));
                    let connection =
                        http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                    // Dropping the connection future closes the socket.
                    tokio::select! {
                        _ = connection => {}
                        _ = stop.changed() => {}
                    }
                });
            }
        });
        Self {
            addr,
            state,
            _stop: stop_tx,
        }
    }

    /// "http://127.0.0.1:<port>": what a function gets as AWS_ENDPOINT_URL (or
    /// AWS_ENDPOINT_URL_RDS etc).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests whose operation equals `operation` get `fault`, `times` times (None = all of
    /// them from now on). Rules are checked in the order added; the first matching rule that
    /// still has uses applies.
    pub fn inject(&self, operation: &str, fault: Fault, times: Option<usize>) {
        self.state.rules.lock().unwrap().push(Rule {
            operation: operation.to_string(),
            fault,
            left: times,
        });
    }

    /// Removes every rule, answer and rewrite.
    pub fn clear(&self) {
        self.state.rules.lock().unwrap().clear();
        self.state.answers.lock().unwrap().clear();
        self.state.rewrites.lock().unwrap().clear();
    }

    /// Answers `operation` (a query-protocol one, e.g. "RDS.DescribeEvents") with `result`, the
    /// XML inside `<{Action}Result>`, wrapped in the response envelope the SDK reads; moto is
    /// not asked. For operations moto lacks, or states it cannot produce.
    pub fn answer(&self, operation: &str, result: &str) {
        let action = operation.split('.').nth(1).unwrap_or(operation);
        let body = format!(
            "<{action}Response xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><{action}Result>{result}</{action}Result>\
             <ResponseMetadata><RequestId>local-answer-1</RequestId></ResponseMetadata></{action}Response>"
        );
        let mut answers = self.state.answers.lock().unwrap();
        answers.retain(|(op, _)| op != operation);
        answers.push((operation.to_string(), body));
    }

    /// Replaces `from` with `to` in moto's answers to `operation` (e.g. an instance status).
    pub fn rewrite(&self, operation: &str, from: &str, to: &str) {
        self.state.rewrites.lock().unwrap().push((
            operation.to_string(),
            from.to_string(),
            to.to_string(),
        ));
    }

    /// Every operation seen so far, in arrival order (faulted ones included), e.g.
    /// ["DynamoDB.PutItem", "RDS.DescribeDBInstances", "SNS.Publish", "S3.PutObject"].
    pub fn seen(&self) -> Vec<String> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Forgets what was seen.
    pub fn reset_seen(&self) {
        self.state.seen.lock().unwrap().clear();
        self.state.recorded.lock().unwrap().clear();
    }

    /// The requests that arrived in `[from, to)`, in arrival order.
    pub fn requests_between(&self, from: Instant, to: Instant) -> Vec<RecordedRequest> {
        self.state
            .recorded
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.at >= from && r.at < to)
            .cloned()
            .collect()
    }

    /// Sends `requests` again through this proxy, one after another, each with `from` replaced
    /// by `to` in its body (a write kept off the function's own table), and returns the time
    /// they took: the floor of a benchmark, the same round trips without the function's work.
    /// Every answer is read in full; an error answer still counts as the round trip it was.
    pub async fn replay(&self, requests: &[RecordedRequest], from: &str, to: &str) -> Duration {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let started = Instant::now();
        for request in requests {
            let text = String::from_utf8_lossy(&request.body);
            let body = if !from.is_empty() && text.contains(from) {
                Bytes::from(text.replace(from, to))
            } else {
                request.body.clone()
            };
            let uri: Uri = format!("{}{}", self.endpoint(), request.path_and_query)
                .parse()
                .expect("recorded path");
            let mut again = Request::new(Full::new(body.clone()));
            *again.method_mut() = request.method.clone();
            *again.uri_mut() = uri;
            *again.headers_mut() = request.headers.clone();
            again.headers_mut().remove("transfer-encoding");
            again.headers_mut().insert(
                "content-length",
                HeaderValue::from_str(&body.len().to_string()).expect("length"),
            );
            if let Ok(answer) = client.request(again).await {
                let _ = answer.into_body().collect().await;
            }
        }
        started.elapsed()
    }
}

/// A TCP server on 127.0.0.1:<free port> that accepts every connection and never sends a byte (a
/// black-holed database or endpoint). Returns the port; the listener task runs as long as the
/// tokio runtime (for a test, the test). Accepted sockets are kept so they stay open.
pub async fn silent_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind silent server");
    let port = listener.local_addr().expect("silent server address").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    port
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, BoxError> {
    let (parts, body) = req.into_parts();
    // Read fully: the query protocols carry the operation in the body.
    let body = body.collect().await?.to_bytes();
    let operation = operation_name(
        parts.method.as_str(),
        parts.uri.path(),
        &parts.headers,
        &body,
    );
    state.seen.lock().unwrap().push(operation.clone());
    state.recorded.lock().unwrap().push(RecordedRequest {
        at: Instant::now(),
        operation: operation.clone(),
        method: parts.method.clone(),
        path_and_query: parts
            .uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string()),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    let json = parts.headers.contains_key("x-amz-target");
    let fault = state.take_fault(&operation);
    match fault {
        Some(Fault::Stall) => return std::future::pending().await,
        Some(Fault::ServerError) => return Ok(error_response(&operation, json, false)),
        Some(Fault::Throttle) => return Ok(error_response(&operation, json, true)),
        Some(Fault::Refuse) => return Ok(refusal_response(json)),
        Some(Fault::LoseAnswer) | None => {}
    }
    let canned = state
        .answers
        .lock()
        .unwrap()
        .iter()
        .find(|(op, _)| *op == operation)
        .map(|(_, body)| body.clone());
    if let Some(body) = canned {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        response
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("text/xml"));
        return Ok(response);
    }

    // Forwarded byte for byte, headers (Host included) as sent: SigV4 signs them.
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri: Uri = format!("{}{path}", state.upstream).parse()?;
    let mut forward = Request::new(Full::new(body));
    *forward.method_mut() = parts.method;
    *forward.uri_mut() = uri;
    *forward.headers_mut() = parts.headers;
    let answer = match state.client.request(forward).await {
        Ok(answer) => answer,
        Err(e) => {
            let mut response = Response::new(Full::new(Bytes::from(format!("fault proxy: {e}"))));
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            return Ok(response);
        }
    };
    let (answer_parts, answer_body) = answer.into_parts();
    // Wait for all of moto's answer, so the write has surely committed before it is lost.
    let answer_body = answer_body.collect().await?.to_bytes();
    if fault == Some(Fault::LoseAnswer) {
        return Err("fault proxy: answer lost on purpose".into());
    }
    let rewrites: Vec<(String, String)> = state
        .rewrites
        .lock()
        .unwrap()
        .iter()
        .filter(|(op, _, _)| *op == operation)
        .map(|(_, from, to)| (from.clone(), to.clone()))
        .collect();
    if rewrites.is_empty() {
        return Ok(Response::from_parts(answer_parts, Full::new(answer_body)));
    }
    let mut text = String::from_utf8_lossy(&answer_body).into_owned();
    for (from, to) in rewrites {
        text = text.replace(&from, &to);
    }
    let mut answer_parts = answer_parts;
    answer_parts.headers.remove("content-length");
    Ok(Response::from_parts(
        answer_parts,
        Full::new(Bytes::from(text)),
    ))
}

/// An error in the shape the service's SDK parses (query XML, JSON `__type`, S3 XML).
fn error_response(operation: &str, json: bool, throttle: bool) -> Response<Full<Bytes>> {
    let service = operation.split('.').next().unwrap_or("");
    let (status, content_type, body) = if service == "S3" {
        let (status, code) = match throttle {
            true => (StatusCode::SERVICE_UNAVAILABLE, "SlowDown"),
            false => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
        };
        let body = format!(
            "<Error><Code>{code}</Code><Message>injected fault</Message>\
             <RequestId>fault-1</RequestId></Error>"
        );
        (status, "application/xml", body)
    } else if json {
        let (status, code) = match throttle {
            true => (StatusCode::BAD_REQUEST, "ThrottlingException"),
            false => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
        };
        let namespace = match service {
            "DynamoDB" => "com.amazonaws.dynamodb.v20120810".to_string(),
            other => format!("com.amazonaws.{}", other.to_lowercase()),
        };
        let body = format!(r#"{{"__type":"{namespace}#{code}","message":"injected fault"}}"#);
        (status, "application/x-amz-json-1.0", body)
    } else {
        let (status, kind, code) = match throttle {
            true => (StatusCode::BAD_REQUEST, "Sender", "Throttling"),
            false => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Receiver",
                "InternalFailure",
            ),
        };
        let body = format!(
            "<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code>\
             <Message>injected fault</Message></Error><RequestId>fault-1</RequestId></ErrorResponse>"
        );
        (status, "text/xml", body)
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    headers.insert("x-amzn-requestid", HeaderValue::from_static("fault-1"));
    response
}

/// A refusal in the service's error shape (query XML or JSON).
fn refusal_response(json: bool) -> Response<Full<Bytes>> {
    let (content_type, body) = if json {
        (
            "application/x-amz-json-1.0",
            r#"{"__type":"ValidationException","message":"injected refusal"}"#.to_string(),
        )
    } else {
        (
            "text/xml",
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameterCombination</Code>\
             <Message>injected refusal</Message></Error><RequestId>fault-2</RequestId></ErrorResponse>"
                .to_string(),
        )
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static(content_type));
    response
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The service of a SigV4 credential scope: `Credential=AKID/20261201/us-east-1/rds/aws4_request`.
fn scope_service(authorization: &str) -> Option<&str> {
    let credential = authorization.split("Credential=").nth(1)?;
    let credential = credential
        .split(|c: char| c == ',' || c.is_whitespace())
        .next()?;
    credential.split('/').nth(3)
}

/// "<Service>.<Operation>" of a request, e.g. "DynamoDB.PutItem", "RDS.CreateDBSnapshot",
/// "S3.PutObject": what rules match and `seen` records.
pub fn operation_name(method: &str, path: &str, headers: &HeaderMap, body: &[u8]) -> String {
    // JSON protocols name the operation in X-Amz-Target.
    let target = header(headers, "x-amz-target");
    if let Some((_, operation)) = target.rsplit_once('.') {
        let service = if target.starts_with("DynamoDB") {
            "DynamoDB"
        } else {
            match target.split(['_', '.']).next().unwrap_or("") {
                "AmazonSQS" => "SQS",
                other => other,
            }
        };
        return format!("{service}.{operation}");
    }
    let scope = scope_service(header(headers, "authorization")).unwrap_or("Unknown");
    if scope == "s3" {
        // Path-style addressing (the functions force it against a custom endpoint): /bucket/key.
        let segments = path.split('/').filter(|s| !s.is_empty()).count();
        let operation = match (method, segments) {
            ("PUT", n) if n >= 2 => "PutObject",
            ("GET", n) if n >= 2 => "GetObject",
            ("HEAD", n) if n >= 2 => "HeadObject",
            ("DELETE", n) if n >= 2 => "DeleteObject",
            ("GET", 1) => "ListObjectsV2",
            ("PUT", 1) => "CreateBucket",
            _ => return format!("S3.{method}"),
        };
        return format!("S3.{operation}");
    }
    let service = match scope {
        "rds" => "RDS",
        "sns" => "SNS",
        "monitoring" => "CloudWatch",
        "sqs" => "SQS",
        "dynamodb" => "DynamoDB",
        other => other,
    };
    // Query protocols: a form body with Action=<Operation>.
    let form = std::str::from_utf8(body).unwrap_or("");
    let action = form
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action=").filter(|a| !a.is_empty()));
    match action {
        Some(action) => format!("{service}.{action}"),
        None => format!("{service}.{method}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn signed(service: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKID/20261201/us-east-1/{service}/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=abc"
        )
    }

    fn query(service: &str, body: &str) -> String {
        let auth = signed(service);
        operation_name(
            "POST",
            "/",
            &headers(&[("authorization", auth.as_str())]),
            body.as_bytes(),
        )
    }

    #[test]
    fn json_target() {
        let auth = signed("dynamodb");
        let h = headers(&[
            ("x-amz-target", "DynamoDB_20120810.PutItem"),
            ("authorization", auth.as_str()),
        ]);
        assert_eq!(operation_name("POST", "/", &h, b"{}"), "DynamoDB.PutItem");
        let h = headers(&[("x-amz-target", "AmazonSQS.SendMessage")]);
        assert_eq!(operation_name("POST", "/", &h, b"{}"), "SQS.SendMessage");
    }

    #[test]
    fn query_action() {
        let rds = "Action=CreateDBSnapshot&Version=2014-10-31&DBSnapshotIdentifier=s1";
        assert_eq!(query("rds", rds), "RDS.CreateDBSnapshot");
        assert_eq!(
            query("sns", "Version=2010-03-31&Action=Publish"),
            "SNS.Publish"
        );
        let cw = "Action=PutMetricData&Version=2010-08-01&Namespace=X";
        assert_eq!(query("monitoring", cw), "CloudWatch.PutMetricData");
        assert_eq!(query("rds", ""), "RDS.POST");
    }

    #[test]
    fn s3_rest() {
        let auth = signed("s3");
        let h = headers(&[("authorization", auth.as_str())]);
        assert_eq!(
            operation_name("PUT", "/bucket/a/b.json", &h, b"x"),
            "S3.PutObject"
        );
        assert_eq!(
            operation_name("HEAD", "/bucket/key", &h, b""),
            "S3.HeadObject"
        );
        assert_eq!(
            operation_name("GET", "/bucket/key", &h, b""),
            "S3.GetObject"
        );
        assert_eq!(
            operation_name("GET", "/bucket", &h, b""),
            "S3.ListObjectsV2"
        );
        assert_eq!(
            operation_name("PUT", "/bucket/", &h, b""),
            "S3.CreateBucket"
        );
        assert_eq!(operation_name("POST", "/bucket", &h, b""), "S3.POST");
    }
}
