//! A local AWS Backup endpoint for what moto lacks: restore jobs and their validation. It speaks
//! Backup's real REST-JSON protocol (`GET /restore-jobs/{id}`, `PUT /restore-jobs/{id}/validations`,
//! `GET /restore-jobs/?restoreTestingPlanArn=..&status=..&createdAfter=..`, `GET
//! /restore-testing/plans`, `GET /restore-testing/plans/{name}/selections`), so the function's
//! real SDK client talks to it as to AWS. Jobs are seeded by the test; every validation posted is
//! kept, in order, for the test to read.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// One seeded restore job: Backup's `DescribeRestoreJob` fields.
#[derive(Debug, Clone)]
pub struct SeededJob {
    pub job_id: String,
    pub status: String,
    pub created_resource_arn: String,
    pub source_resource_arn: String,
    pub plan_arn: Option<String>,
    /// Epoch seconds.
    pub created: i64,
    pub completed: i64,
    pub recovery_point_created: i64,
    pub validation: Option<String>,
}

/// A restore testing plan: its ARN, its name, its selections as (resource type, window hours).
type SeededPlan = (String, String, Vec<(String, i32)>);

#[derive(Default)]
struct State {
    jobs: BTreeMap<String, SeededJob>,
    /// (job id, status, message), in the order posted.
    posted: Vec<(String, String, String)>,
    /// Answer PutRestoreValidationResult with this HTTP status and error code.
    refuse_posts: Option<(u16, String)>,
    plans: Vec<SeededPlan>,
}

pub struct BackupEndpoint {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _stop: watch::Sender<()>,
}

impl BackupEndpoint {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind backup endpoint");
        let addr = listener.local_addr().expect("backup endpoint address");
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
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(req, state.clone()));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            state,
            _stop: stop_tx,
        }
    }

    /// What the function gets as `AWS_ENDPOINT_URL_BACKUP`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seed(&self, job: SeededJob) {
        let mut state = self.state.lock().expect("backup endpoint state");
        state.jobs.insert(job.job_id.clone(), job);
    }

    /// A restore testing plan and its selections, each (protected resource type, validation
    /// window hours).
    pub fn seed_plan(&self, arn: &str, name: &str, selections: &[(&str, i32)]) {
        let mut state = self.state.lock().expect("backup endpoint state");
        let selections = selections
            .iter()
            .map(|(kind, hours)| (kind.to_string(), *hours))
            .collect();
        state
            .plans
            .push((arn.to_string(), name.to_string(), selections));
    }

    /// Every (status, message) posted for `job_id`, in order.
    pub fn posted(&self, job_id: &str) -> Vec<(String, String)> {
        let state = self.state.lock().expect("backup endpoint state");
        state
            .posted
            .iter()
            .filter(|(id, _, _)| id == job_id)
            .map(|(_, s, m)| (s.clone(), m.clone()))
            .collect()
    }

    /// Refuses every validation post with `status` and error `code` until cleared (`None`).
    pub fn refuse_posts(&self, refusal: Option<(u16, &str)>) {
        let mut state = self.state.lock().expect("backup endpoint state");
        state.refuse_posts = refusal.map(|(s, c)| (s, c.to_string()));
    }
}

fn job_json(job: &SeededJob) -> Value {
    let mut out = json!({
        "AccountId": "123456789012",
        "RestoreJobId": job.job_id,
        "Status": job.status,
        "CreatedResourceArn": job.created_resource_arn,
        "SourceResourceArn": job.source_resource_arn,
        "RecoveryPointArn": format!("arn:aws:rds:us-east-1:123456789012:snapshot:awsbackup:job-{}", job.job_id),
        "RecoveryPointCreationDate": job.recovery_point_created,
        // Backup's resource types: what the restore is, by its ARN.
        "ResourceType": match job.created_resource_arn.as_str() {
            arn if arn.contains(":cluster:") => "Aurora",
            arn if arn.contains(":dynamodb:") => "DynamoDB",
            _ => "RDS",
        },
        "CreationDate": job.created,
        "CompletionDate": job.completed,
        "PercentDone": "100.00%",
    });
    if let Some(plan) = &job.plan_arn {
        out["CreatedBy"] = json!({"RestoreTestingPlanArn": plan});
    }
    if let Some(v) = &job.validation {
        out["ValidationStatus"] = json!(v);
    }
    out
}

fn answer(status: StatusCode, body: Value, error: Option<&str>) -> Response<Full<Bytes>> {
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-amzn-requestid", "local-backup-1");
    if let Some(code) = error {
        builder = builder.header("x-amzn-errortype", code);
    }
    builder
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}

fn not_found(id: &str) -> Response<Full<Bytes>> {
    answer(
        StatusCode::NOT_FOUND,
        json!({"__type": "ResourceNotFoundException", "Message": format!("Restore job {id} not found")}),
        Some("ResourceNotFoundException"),
    )
}

fn query(uri: &hyper::Uri) -> BTreeMap<String, String> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect()
}

fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 3 <= bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => out.push(b),
                    Err(_) => out.extend_from_slice(&bytes[i..i + 3]),
                }
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let method = req.method().clone();
    let uri = req.uri().clone();
    let path = uri.path().trim_end_matches('/').to_string();
    let body = req.into_body().collect().await?.to_bytes();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut state = state.lock().expect("backup endpoint state");
    let response = match (method, segments.as_slice()) {
        (Method::GET, ["restore-jobs"]) => {
            let q = query(&uri);
            let after = q
                .get("createdAfter")
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp());
            let jobs: Vec<Value> = state
                .jobs
                .values()
                .filter(|j| {
                    q.get("restoreTestingPlanArn")
                        .is_none_or(|p| j.plan_arn.as_deref() == Some(p.as_str()))
                })
                .filter(|j| q.get("status").is_none_or(|s| *s == j.status))
                .filter(|j| after.is_none_or(|a| j.created >= a))
                .map(job_json)
                .collect();
            answer(StatusCode::OK, json!({"RestoreJobs": jobs}), None)
        }
        (Method::GET, ["restore-testing", "plans"]) => {
            let plans: Vec<Value> = state
                .plans
                .iter()
                .map(|(arn, name, _)| {
                    json!({"RestoreTestingPlanArn": arn, "RestoreTestingPlanName": name,
                        "CreationTime": 1_764_547_200, "ScheduleExpression": "cron(0 5 ? * * *)"})
                })
                .collect();
            answer(StatusCode::OK, json!({"RestoreTestingPlans": plans}), None)
        }
        (Method::GET, ["restore-testing", "plans", name, "selections"]) => {
            match state.plans.iter().find(|(_, n, _)| n == name) {
                Some((_, plan, selections)) => {
                    let listed: Vec<Value> = selections
                        .iter()
                        .enumerate()
                        .map(|(i, (kind, hours))| {
                            json!({"RestoreTestingPlanName": plan,
                                "RestoreTestingSelectionName": format!("selection_{i}"),
                                "ProtectedResourceType": kind, "ValidationWindowHours": hours,
                                "CreationTime": 1_764_547_200,
                                "IamRoleArn": "arn:aws:iam::123456789012:role/restore-testing"})
                        })
                        .collect();
                    answer(
                        StatusCode::OK,
                        json!({"RestoreTestingSelections": listed}),
                        None,
                    )
                }
                None => not_found(name),
            }
        }
        (Method::GET, ["restore-jobs", id]) => match state.jobs.get(*id) {
            Some(job) => answer(StatusCode::OK, job_json(job), None),
            None => not_found(id),
        },
        (Method::PUT, ["restore-jobs", id, "validations"]) => {
            if let Some((status, code)) = state.refuse_posts.clone() {
                answer(
                    StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                    json!({"__type": code, "Message": "refused by the test"}),
                    Some(&code),
                )
            } else if !state.jobs.contains_key(*id) {
                not_found(id)
            } else {
                let sent: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let status = sent["ValidationStatus"].as_str().unwrap_or("").to_string();
                let message = sent["ValidationStatusMessage"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                if let Some(job) = state.jobs.get_mut(*id) {
                    job.validation = Some(status.clone());
                }
                state.posted.push((id.to_string(), status, message));
                answer(StatusCode::OK, json!({}), None)
            }
        }
        _ => answer(
            StatusCode::NOT_FOUND,
            json!({"__type": "UnknownOperationException", "Message": format!("no route for {path}")}),
            Some("UnknownOperationException"),
        ),
    };
    Ok(response)
}
