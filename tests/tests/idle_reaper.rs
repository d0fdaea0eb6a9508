//! idle-reaper end to end: the real binary under the Runtime API against moto, PostgreSQL and
//! MariaDB with real sessions in every state. Tests that reap server-wide run one at a time.

use std::time::Duration;

use e2e::db::{self, SERVER_WIDE};
use e2e::{check, Fixture, FunctionProcess};
use mysql_async::prelude::Queryable;
use serde_json::json;

const FUNCTION: &str = "idle-reaper";

fn reaper_env(fixture: &Fixture, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let guarded = format!("guarded_{}", fixture.suffix);
    let mut overrides: Vec<(&str, &str)> = vec![
        ("PROTECTED_USERS", &guarded),
        ("MAX_FRACTION_OF_CONNECTIONS", "1"),
    ];
    overrides.extend_from_slice(extra);
    fixture.function_env(&overrides)
}

#[tokio::test]
async fn postgres_terminates_exactly_the_eligible_sessions() {
    let _serial = SERVER_WIDE.lock().await;
    let fixture = Fixture::new().await;
    let scene = db::pg_scene(&fixture).await;
    let mut function = FunctionProcess::start(FUNCTION, &reaper_env(&fixture, &[])).await;

    let report = function
        .invoke(&json!({"db": fixture.db, "idle_minutes": 0, "dry_run": false}))
        .await
        .1
        .response();
    assert_eq!(report["status"], "ok", "{report:#}");

    let mut all: Vec<i32> = scene
        .eligible
        .iter()
        .chain(&scene.survivors)
        .copied()
        .collect();
    all.sort();
    let mut survivors = scene.survivors.clone();
    survivors.sort();
    assert_eq!(db::pg_alive(&scene.admin, &all).await, survivors);

    let terminate = check(&report, "terminate");
    assert_eq!(terminate["data"]["terminated"], 3, "{report:#}");
    assert_eq!(terminate["data"]["method"], "pg_terminate_backend");
    // The dashboard's count, by the instance.
    assert_eq!(
        e2e::resource_metrics(&report, "SessionsTerminated"),
        [(format!("db-instance:{}", fixture.db), 3.0)].into()
    );
    let groups = &terminate["data"]["groups"];
    assert_eq!(groups["by_user"][format!("app_a_{}", fixture.suffix)], 2);
    assert_eq!(groups["by_user"][format!("app_b_{}", fixture.suffix)], 1);
    assert_eq!(groups["by_application"]["web"], 2);
    assert_eq!(groups["by_client_address"]["127.0.0.1"], 3);
    let skipped = &check(&report, "candidates")["data"]["skipped"];
    for reason in [
        "superuser",
        "protected user",
        "active",
        "idle in transaction (not requested)",
        "replication connection",
    ] {
        assert!(
            skipped[reason].as_u64().unwrap_or(0) >= 1,
            "{reason} not skipped: {skipped:#}"
        );
    }
    let after = &check(&report, "connections-after")["data"];
    assert!(after["after"].as_u64().unwrap() < after["before"].as_u64().unwrap());
    assert!(
        !serde_json::to_string(&report).unwrap().contains("pg_sleep"),
        "no query text in reports"
    );

    let published = fixture.published(1, Duration::from_secs(5)).await;
    assert_eq!(published.len(), 1);
    assert_eq!(
        published[0]["MessageAttributes"]["function"]["Value"],
        FUNCTION
    );
}

#[tokio::test]
async fn idle_transactions_are_reaped_only_when_asked() {
    let _serial = SERVER_WIDE.lock().await;
    let fixture = Fixture::new().await;
    let scene = db::pg_scene(&fixture).await;
    let mut function = FunctionProcess::start(FUNCTION, &reaper_env(&fixture, &[])).await;
    let report = function
        .invoke(&json!({"db": fixture.db, "idle_minutes": 0, "idle_in_transaction_minutes": 0, "dry_run": false}))
        .await
        .1
        .response();
    assert_eq!(
        check(&report, "terminate")["data"]["terminated"],
        4,
        "{report:#}"
    );
    let in_transaction = scene.survivors[1];
    assert!(db::pg_alive(&scene.admin, &[in_transaction])
        .await
        .is_empty());
}

#[tokio::test]
async fn dry_run_kills_nothing_and_reports_the_plan() {
    let _serial = SERVER_WIDE.lock().await;
    let fixture = Fixture::new().await;
    let scene = db::pg_scene(&fixture).await;
    let mut function = FunctionProcess::start(FUNCTION, &reaper_env(&fixture, &[])).await;
    let report = function
        .invoke(&json!({"db": fixture.db, "idle_minutes": 0}))
        .await
        .1
        .response();
    assert_eq!(report["status"], "dry-run", "{report:#}");
    assert_eq!(check(&report, "terminate")["outcome"], "planned");
    assert!(e2e::resource_metrics(&report, "SessionsTerminated").is_empty());
    assert!(check(&report, "terminate")["detail"]
        .as_str()
        .unwrap()
        .contains("would terminate 3"));
    assert_eq!(db::pg_alive(&scene.admin, &scene.eligible).await.len(), 3);
}

#[tokio::test]
async fn cap_exceeded_aborts_before_terminating() {
    let _serial = SERVER_WIDE.lock().await;
    let fixture = Fixture::new().await;
    let scene = db::pg_scene(&fixture).await;
    let mut function = FunctionProcess::start(
        FUNCTION,
        &reaper_env(&fixture, &[("MAX_SESSIONS_PER_RUN", "2")]),
    )
    .await;
    let report = function
        .invoke(&json!({"db": fixture.db, "idle_minutes": 0, "dry_run": false}))
        .await
        .1
        .response();
    assert_eq!(report["status"], "failed", "{report:#}");
    assert_eq!(check(&report, "cap")["outcome"], "fail");
    assert_eq!(db::pg_alive(&scene.admin, &scene.eligible).await.len(), 3);
    let published = fixture.published(1, Duration::from_secs(5)).await;
    assert_eq!(
        published[0]["MessageAttributes"]["severity"]["Value"],
        "critical"
    );
}

#[tokio::test]
async fn duplicate_alarm_delivery_terminates_once() {
    let _serial = SERVER_WIDE.lock().await;
    let fixture = Fixture::new().await;
    let scene = db::pg_scene(&fixture).await;
    let mut function =
        FunctionProcess::start(FUNCTION, &reaper_env(&fixture, &[("IDLE_MINUTES", "0")])).await;
    let alarm = fixture.event("alarm.connections.eventbridge.json");

    let (first_id, first) = function.invoke(&alarm).await;
    assert_eq!(
        check(&first.response(), "terminate")["data"]["terminated"],
        3
    );

    // New idle sessions after the first run: a duplicate delivery must not touch them.
    let (_late, late_pid) =
        db::pg_session(&fixture.stack, &format!("app_a_{}", fixture.suffix), "web").await;
    let second = function
        .invoke(&fixture.event("alarm.connections.sns.json"))
        .await
        .1
        .response();
    assert_eq!(second["duplicate_of"], first_id.as_str());
    assert_eq!(
        db::pg_alive(&scene.admin, &[late_pid]).await,
        vec![late_pid]
    );

    let ok = function
        .invoke(&fixture.event("alarm-ok.eventbridge.json"))
        .await
        .1
        .response();
    assert_eq!(ok["status"], "skipped");
    assert!(ok["summary"].as_str().unwrap().contains("not into ALARM"));
    assert_eq!(
        db::pg_alive(&scene.admin, &[late_pid]).await,
        vec![late_pid]
    );
}

#[tokio::test]
async fn a_session_that_turns_active_between_listing_and_terminating_survives() {
    use rds_responder::config::{DbConfig, Env};
    use rds_responder::rds::Endpoint;
    use rds_responder::sql::postgres::PgSessions;
    use rds_responder::sql::{ConnectTarget, DbConnector};

    let _serial = SERVER_WIDE.lock().await;
    let fixture = Fixture::new().await;
    let stack = &fixture.stack;
    let scene = db::pg_scene(&fixture).await;
    let port = stack.pg_port.to_string();
    let config = DbConfig::from_env(&Env::from_pairs([
        ("DB_USER", stack.pg_user.as_str()),
        ("DB_AUTH", "password"),
        ("DB_PASSWORD", stack.pg_password.as_str()),
        ("DB_TLS", "verify-full"),
        ("DB_CA_BUNDLE", stack.pg_ca_bundle.as_str()),
    ]))
    .expect("db config");
    let connector = DbConnector::new(config, fixture.aws.sdk.clone()).expect("connector");
    let endpoint = Endpoint {
        host: "localhost".into(),
        port: port.parse().unwrap(),
    };
    let target = ConnectTarget {
        rds_endpoint: endpoint.clone(),
        address: endpoint,
        overridden: true,
    };
    let reaper = PgSessions::open(&connector, &target)
        .await
        .expect("open reaper session");

    let snapshot = reaper.snapshot().await.expect("snapshot");
    let planned: Vec<_> = snapshot
        .sessions
        .iter()
        .filter(|s| scene.eligible.contains(&(s.id as i32)))
        .cloned()
        .collect();
    assert_eq!(planned.len(), 3);

    // Between listing and terminating: one session runs a long query (active), another runs a
    // quick one and is idle again (new state_change). Only the third is still the listed session.
    let (busy_user_client, quick_client) = (&scene.clients[0], &scene.clients[1]);
    quick_client
        .batch_execute("SELECT 1")
        .await
        .expect("quick query");
    let busy = busy_user_client.batch_execute("SELECT pg_sleep(1)");
    let terminate = async {
        db::pg_wait_active(&scene.admin, scene.eligible[0]).await;
        reaper
            .terminate(
                &planned,
                std::time::Instant::now() + Duration::from_secs(60),
            )
            .await
    };
    let (busy_result, done) = tokio::join!(busy, terminate);
    assert_eq!(done.failure, None, "{done:#?}");
    assert!(
        busy_result.is_ok(),
        "the session that turned active was killed: {busy_result:?}"
    );
    assert_eq!(done.terminated.len(), 1, "{done:#?}");
    assert_eq!(done.terminated[0].id as i32, scene.eligible[2]);
    assert_eq!(done.spared.len(), 2);
    let alive = db::pg_alive(&scene.admin, &scene.eligible).await;
    assert_eq!(alive, vec![scene.eligible[0], scene.eligible[1]]);
}

#[tokio::test]
async fn database_full_gives_a_clear_error_and_a_retry() {
    let _serial = SERVER_WIDE.lock().await;
    let fixture = Fixture::new().await;
    let closed = e2e::Stack::closed_port();
    let overrides = format!("{}=localhost:{closed}", fixture.db);
    let mut function = FunctionProcess::start(
        FUNCTION,
        &reaper_env(&fixture, &[("DB_ENDPOINT_OVERRIDES", &overrides)]),
    )
    .await;
    // By hand: no Lambda retry follows, so the report says the request may be sent again.
    let report = function
        .invoke(&json!({"db": fixture.db, "dry_run": false, "request_id": "full-db"}))
        .await
        .1
        .response();
    let summary = report["summary"].as_str().unwrap();
    assert!(summary.contains("could not connect"), "{summary}");
    assert!(
        summary.ends_with("the same request may be sent again"),
        "{summary}"
    );
    // The failed attempt was reported, and the claim released so the retry can act.
    let published = fixture.published(1, Duration::from_secs(5)).await;
    assert_eq!(published.len(), 1);
    assert!(fixture.ledger().await.is_empty());
}

fn mysql_env(fixture: &Fixture) -> Vec<(String, String)> {
    let overrides = fixture.mysql_override();
    let guarded = format!("guarded_{},root", fixture.suffix);
    fixture.function_env(&[
        ("DB_ENDPOINT_OVERRIDES", &overrides),
        ("PROTECTED_USERS", &guarded),
        ("MAX_FRACTION_OF_CONNECTIONS", "1"),
    ])
}

#[tokio::test]
async fn mariadb_kills_exactly_the_sleeping_eligible_sessions() {
    let _serial = SERVER_WIDE.lock().await;
    let fixture = Fixture::new_mysql().await;
    let mut scene = db::mysql_scene(&fixture).await;
    let mut function = FunctionProcess::start(FUNCTION, &mysql_env(&fixture)).await;

    let report = function
        .invoke(&json!({"db": fixture.db, "idle_minutes": 0, "dry_run": false}))
        .await
        .1
        .response();
    assert_eq!(report["status"], "ok", "{report:#}");
    let terminate = check(&report, "terminate");
    assert_eq!(terminate["data"]["method"], "KILL");
    assert_eq!(terminate["data"]["terminated"], 3, "{report:#}");
    let skipped = &check(&report, "candidates")["data"]["skipped"];
    for reason in [
        "protected user",
        "active",
        "idle in transaction (not requested)",
    ] {
        assert!(
            skipped[reason].as_u64().unwrap_or(0) >= 1,
            "{reason} not skipped: {skipped:#}"
        );
    }

    let all: Vec<u64> = scene
        .eligible
        .iter()
        .chain(&scene.survivors)
        .copied()
        .collect();
    let mut survivors = scene.survivors.clone();
    survivors.sort();
    let mut alive = db::mysql_alive(&mut scene.admin, &all).await;
    alive.sort();
    assert_eq!(alive, survivors);
}

#[tokio::test]
async fn mariadb_uses_rds_kill_where_it_exists() {
    let _serial = SERVER_WIDE.lock().await;
    let fixture = Fixture::new_mysql().await;
    let mut scene = db::mysql_scene(&fixture).await;
    // What RDS ships: a definer-rights procedure the master user may call.
    scene
        .admin
        .query_drop(
            "CREATE OR REPLACE DEFINER='root'@'localhost' PROCEDURE mysql.rds_kill(IN thread BIGINT) \
             SQL SECURITY DEFINER BEGIN KILL thread; END",
        )
        .await
        .expect("create rds_kill");
    scene
        .admin
        .query_drop("GRANT EXECUTE ON PROCEDURE mysql.rds_kill TO 'rds_responder'@'%'")
        .await
        .expect("grant rds_kill");
    let mut function = FunctionProcess::start(FUNCTION, &mysql_env(&fixture)).await;
    let report = function
        .invoke(&json!({"db": fixture.db, "idle_minutes": 0, "dry_run": false}))
        .await
        .1
        .response();
    scene
        .admin
        .query_drop("DROP PROCEDURE mysql.rds_kill")
        .await
        .expect("drop rds_kill");
    let terminate = check(&report, "terminate");
    assert_eq!(terminate["data"]["method"], "mysql.rds_kill", "{report:#}");
    assert_eq!(terminate["data"]["terminated"], 3);
    assert!(db::mysql_alive(&mut scene.admin, &scene.eligible)
        .await
        .is_empty());
}

#[tokio::test]
async fn a_refused_publish_is_retried_without_a_second_kill() {
    let _serial = SERVER_WIDE.lock().await;
    let fixture = Fixture::new().await;
    let scene = db::pg_scene(&fixture).await;
    // The report topic does not exist yet: SNS refuses the first publish.
    let topic_name = format!("late-{}", fixture.suffix);
    let topic_arn = format!(
        "arn:aws:sns:{}:{}:{topic_name}",
        e2e::fixture::REGION,
        e2e::fixture::ACCOUNT
    );
    let mut function = FunctionProcess::start(
        FUNCTION,
        &reaper_env(
            &fixture,
            &[("IDLE_MINUTES", "0"), ("REPORT_TOPIC_ARN", &topic_arn)],
        ),
    )
    .await;
    let alarm = fixture.event("alarm.connections.eventbridge.json");
    let (first_id, first) = function.invoke(&alarm).await;
    let (error_type, message) = first.error();
    assert_eq!(error_type, "PublishFailed", "{message}");
    assert!(message.contains("SNS Publish"), "{message}");
    assert!(db::pg_alive(&scene.admin, &scene.eligible).await.is_empty());
    assert_eq!(
        fixture.ledger().await,
        vec![(
            format!("idle-reaper#alarm#arn:aws:cloudwatch:us-east-1:123456789012:alarm:{}-too-many-connections#2026-11-22T03:12:30.412Z", fixture.db),
            "ACTED".to_string()
        )]
    );

    // A new idle session, then Lambda's retry once the topic works: the report again, no kill.
    let (_late, late_pid) =
        db::pg_session(&fixture.stack, &format!("app_a_{}", fixture.suffix), "web").await;
    fixture.topic_into_queue(&topic_name).await;
    let retried = function.retry(&first_id, &alarm).await.response();
    assert_eq!(retried["id"], first_id.as_str());
    assert_eq!(retried["duplicate_of"], first_id.as_str());
    assert_eq!(check(&retried, "terminate")["data"]["terminated"], 3);
    assert_eq!(
        db::pg_alive(&scene.admin, &[late_pid]).await,
        vec![late_pid]
    );

    let published = fixture.published(1, Duration::from_secs(5)).await;
    assert_eq!(published.len(), 1, "{published:#?}");
    let delivered: serde_json::Value =
        serde_json::from_str(published[0]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(delivered["id"], first_id.as_str());
    let archived = fixture
        .archived(&format!(
            "reports/idle-reaper/{}/{first_id}.json",
            chrono::Utc::now().format("%Y-%m-%d")
        ))
        .await
        .expect("archived report");
    assert_eq!(check(&archived, "terminate")["data"]["terminated"], 3);
    assert_eq!(fixture.ledger().await[0].1, "COMPLETED");
}

#[tokio::test]
async fn a_database_another_run_holds_is_left_alone_and_the_holder_named() {
    let _serial = SERVER_WIDE.lock().await;
    let fixture = Fixture::new().await;
    let scene = db::pg_scene(&fixture).await;
    fixture
        .hold_lock(
            "req-holder",
            chrono::Utc::now() + chrono::Duration::seconds(60),
        )
        .await;
    let mut function = FunctionProcess::start(FUNCTION, &reaper_env(&fixture, &[])).await;
    let report = function
        .invoke(&json!({"db": fixture.db, "idle_minutes": 0, "dry_run": false}))
        .await
        .1
        .response();
    assert_eq!(report["status"], "skipped", "{report:#}");
    let detail = check(&report, "terminate")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains("being acted on by idle-reaper run req-holder")
            && detail.contains("idle-reaper#schedule#hygiene"),
        "{detail}"
    );
    assert_eq!(db::pg_alive(&scene.admin, &scene.eligible).await.len(), 3);

    // Expired: the next run takes the lock, acts, and gives it back.
    fixture
        .hold_lock(
            "req-holder",
            chrono::Utc::now() - chrono::Duration::seconds(5),
        )
        .await;
    let report = function
        .invoke(&json!({"db": fixture.db, "idle_minutes": 0, "dry_run": false}))
        .await
        .1
        .response();
    assert_eq!(
        check(&report, "terminate")["data"]["terminated"],
        3,
        "{report:#}"
    );
    assert!(
        !fixture
            .ledger()
            .await
            .iter()
            .any(|(pk, _)| pk.starts_with("lock#")),
        "lock released"
    );
}

#[tokio::test]
async fn a_cpu_alarm_reaps_nothing() {
    let _serial = SERVER_WIDE.lock().await;
    let fixture = Fixture::new().await;
    let scene = db::pg_scene(&fixture).await;
    let mut function =
        FunctionProcess::start(FUNCTION, &reaper_env(&fixture, &[("IDLE_MINUTES", "0")])).await;
    let mut alarm = fixture.event("alarm.connections.action.json");
    alarm["alarmData"]["configuration"]["metrics"][0]["metricStat"]["metric"]["name"] =
        json!("CPUUtilization");
    let report = function.invoke(&alarm).await.1.response();
    assert_eq!(report["status"], "skipped", "{report:#}");
    assert!(report["summary"]
        .as_str()
        .unwrap()
        .contains("not AWS/RDS/DatabaseConnections"));
    assert_eq!(db::pg_alive(&scene.admin, &scene.eligible).await.len(), 3);
}

#[tokio::test]
async fn a_huge_event_gives_a_report_that_fits_sns_and_the_ledger() {
    let fixture = Fixture::new().await;
    let mut function = FunctionProcess::start(FUNCTION, &reaper_env(&fixture, &[])).await;
    let mut event = fixture.event("rds-instance-failover-completed.eventbridge.json");
    let huge = format!(
        "Multi-AZ failover completed. {}",
        "\u{00e9}x".repeat(700_000)
    );
    event["detail"]["Message"] = json!(huge);
    let (request_id, invoked) = function.invoke(&event).await;
    let report = invoked.response();
    assert_eq!(report["status"], "skipped", "{report:#}");

    let published = fixture.published(1, Duration::from_secs(5)).await;
    assert_eq!(published.len(), 1);
    let message = published[0]["Message"].as_str().unwrap();
    assert!(message.len() <= 240_000, "{}", message.len());
    let delivered: serde_json::Value = serde_json::from_str(message).unwrap();
    assert!(delivered["truncated"]
        .as_str()
        .unwrap()
        .contains("S3 archive"));
    let archived = fixture
        .archived(&format!(
            "reports/idle-reaper/{}/{request_id}.json",
            chrono::Utc::now().format("%Y-%m-%d")
        ))
        .await
        .expect("archived");
    assert_eq!(archived["trigger"]["message"].as_str().unwrap(), huge);
    assert_eq!(fixture.ledger().await[0].1, "COMPLETED");
    // A duplicate reads the bounded report back from the ledger.
    let again = function.invoke(&event).await.1.response();
    assert_eq!(again["duplicate_of"], request_id.as_str());
}

#[tokio::test]
async fn unreadable_payloads_are_malformed_events() {
    let fixture = Fixture::new().await;
    let mut function = FunctionProcess::start(FUNCTION, &reaper_env(&fixture, &[])).await;
    let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
    for body in [
        b"not json at all".to_vec(),
        deep.into_bytes(),
        b"{\"db\": ".to_vec(),
    ] {
        let (error_type, message) = function.invoke_raw(body).await.1.error();
        assert_eq!(error_type, "MalformedEvent", "{message}");
    }
    assert!(fixture
        .published(0, Duration::from_millis(500))
        .await
        .is_empty());
    assert!(fixture.ledger().await.is_empty());
}

#[tokio::test]
async fn trace_logging_never_shows_credentials() {
    let fixture = Fixture::new().await;
    let token = "session-token-must-not-be-logged-0123456789";
    let mut function = FunctionProcess::start(
        FUNCTION,
        &reaper_env(
            &fixture,
            &[
                ("RUST_LOG", "trace"),
                ("AWS_LAMBDA_LOG_LEVEL", "trace"),
                ("AWS_SESSION_TOKEN", token),
            ],
        ),
    )
    .await;
    let report = function
        .invoke(&json!({"db": fixture.db}))
        .await
        .1
        .response();
    assert!(report["status"].is_string(), "{report:#}");
    let logs = function.logs();
    assert!(!logs.contains(token), "session token in the logs");
    assert!(
        !logs.contains(&fixture.stack.pg_password),
        "database password in the logs"
    );
    assert!(
        !logs.contains("canonical_request"),
        "signer internals in the logs"
    );
}

#[tokio::test]
async fn a_reader_alarm_reaps_the_readers_and_never_the_writer() {
    let _serial = SERVER_WIDE.lock().await;
    let fixture = Fixture::new().await;
    fixture.create_cluster().await;
    let scene = db::pg_scene(&fixture).await;
    // Only the reader reaches the local PostgreSQL: a run on the writer could not connect.
    let overrides = format!("{}-2=localhost:{}", fixture.cluster, fixture.stack.pg_port);
    let mut function = FunctionProcess::start(
        FUNCTION,
        &reaper_env(
            &fixture,
            &[("IDLE_MINUTES", "0"), ("DB_ENDPOINT_OVERRIDES", &overrides)],
        ),
    )
    .await;
    let report = function
        .invoke(&fixture.event("alarm.aurora-readers.eventbridge.json"))
        .await
        .1
        .response();
    let reader = format!("{}-2", fixture.cluster);
    assert_eq!(
        check(&report, &format!("{reader}: terminate"))["data"]["terminated"],
        3,
        "{report:#}"
    );
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.starts_with(&format!("{}-1:", fixture.cluster))),
        "the writer was touched: {names:?}"
    );
    assert_eq!(report["target"]["kind"], "cluster");
    assert!(db::pg_alive(&scene.admin, &scene.eligible).await.is_empty());
}
