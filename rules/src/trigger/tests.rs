use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Manual {
    target: DbTarget,
    request_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManual {
    #[serde(flatten)]
    target: RawDbTarget,
    #[serde(default)]
    request_id: Option<String>,
}

impl ManualPayload for Manual {
    type Raw = RawManual;
    const SHAPE: &'static str = "manual request";
    fn validate(raw: RawManual) -> Result<Self, TriggerError> {
        Ok(Self {
            target: raw.target.validate("")?,
            request_id: raw.request_id,
        })
    }
    fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

fn origin() -> Origin {
    Origin::from_function_arn(
        "arn:aws:lambda:us-east-1:123456789012:function:failover-check",
        "us-east-1",
    )
    .unwrap()
}

fn sample(name: &str) -> Value {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn parse(event: Value) -> Result<Trigger<Manual>, TriggerError> {
    parse_trigger(event, &origin())
}

fn rds_event(name: &str) -> RdsEvent {
    match parse(sample(name)).unwrap() {
        Trigger::RdsEvent(e) => e,
        other => panic!("expected an RDS event, got {other:?}"),
    }
}

fn alarm(name: &str) -> AlarmChange {
    match parse(sample(name)).unwrap() {
        Trigger::Alarm(a) => a,
        other => panic!("expected an alarm, got {other:?}"),
    }
}

#[test]
fn reads_rds_instance_event_from_eventbridge_and_strips_rds_prefix() {
    let e = rds_event("rds-instance-failover-completed.eventbridge.json");
    assert_eq!(e.event_id, Some(RdsEventId(49)));
    assert_eq!(e.source_id, "orders-db");
    assert_eq!(e.source_kind, Some(ResourceKind::DbInstance));
    assert_eq!(e.delivery, Delivery::EventBridge);
    assert_eq!(e.time.to_rfc3339(), "2026-11-22T03:12:08.912+00:00");
}

#[test]
fn reads_rds_event_without_event_id() {
    let e = rds_event("rds-instance-event-without-id.eventbridge.json");
    assert_eq!(e.event_id, None);
    assert_eq!(e.message, "Multi-AZ instance failover completed.");
}

#[test]
fn reads_rds_cluster_event() {
    let e = rds_event("rds-cluster-failover-completed.eventbridge.json");
    assert_eq!(e.event_id, Some(RdsEventId(71)));
    assert_eq!(e.source_kind, Some(ResourceKind::DbCluster));
    assert_eq!(e.source_id, "orders-aurora");
}

#[test]
fn reads_rds_event_from_sns_with_url_event_id_and_plain_event_time() {
    let e = rds_event("rds-instance-failover-completed.sns.json");
    assert_eq!(e.event_id, Some(RdsEventId(15)));
    assert_eq!(e.source_id, "orders-db");
    assert_eq!(e.delivery, Delivery::Sns);
    assert_eq!(e.time.to_rfc3339(), "2026-11-22T03:12:08.912+00:00");
}

#[test]
fn acknowledges_plain_text_subscription_notice() {
    match parse(sample("sns-subscription-notice.json")).unwrap() {
        Trigger::SubscriptionNotice(text) => assert!(text.contains("subscription")),
        other => panic!("expected a notice, got {other:?}"),
    }
}

#[test]
fn reads_alarm_in_all_three_shapes_alike() {
    let shapes = [
        "alarm.eventbridge.json",
        "alarm.action.json",
        "alarm.sns.json",
    ];
    let parsed: Vec<_> = shapes.iter().map(|s| alarm(s)).collect();
    for a in &parsed {
        assert_eq!(a.name, "orders-db-failover");
        assert_eq!(a.new_state, AlarmState::Alarm);
        assert_eq!(a.previous_state, Some(AlarmState::Ok));
        assert_eq!(
            a.db_target(),
            Some(DbTarget::Instance(
                RdsIdentifier::parse("orders-db", ResourceKind::DbInstance).unwrap()
            ))
        );
        assert_eq!(
            a.metric.as_ref().map(|m| m.name.as_str()),
            Some("DatabaseConnections")
        );
        assert_eq!(a.time.to_rfc3339(), "2026-11-22T03:12:30.412+00:00");
        assert_eq!(
            a.arn.as_deref(),
            Some("arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-db-failover")
        );
    }
    // The same state change gets the same idempotency key whichever way it arrived.
    let keys: Vec<_> = shapes
        .iter()
        .map(|s| parse(sample(s)).unwrap().idempotency_key("req"))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "{keys:?}");
}

#[test]
fn reads_alarm_without_description() {
    let a = alarm("alarm.sns.json");
    assert_eq!(a.description, None);
}

#[test]
fn reads_alarm_leaving_alarm_state() {
    let a = alarm("alarm-ok.eventbridge.json");
    assert_eq!(a.new_state, AlarmState::Ok);
    assert!(!a.is_into_alarm());
}

#[test]
fn reads_schedule_with_targets() {
    match parse(sample("schedule.eventbridge.json")).unwrap() {
        Trigger::Schedule(s) => {
            assert_eq!(s.input.targets.len(), 1);
            assert_eq!(s.input.targets[0].id().as_str(), "orders-db");
            assert!(s
                .rule
                .unwrap()
                .ends_with("rds-responder-failover-check-daily"));
        }
        other => panic!("expected a schedule, got {other:?}"),
    }
}

#[test]
fn reads_manual_request() {
    match parse(sample("manual.failover-check.json")).unwrap() {
        Trigger::Manual(m) => {
            assert_eq!(m.target.id().as_str(), "orders-db");
            assert_eq!(m.request_id.as_deref(), Some("chg-4711-post-maintenance"));
        }
        other => panic!("expected manual, got {other:?}"),
    }
    let key = parse(sample("manual.failover-check.json"))
        .unwrap()
        .idempotency_key("lambda-req");
    assert_eq!(key, "manual#chg-4711-post-maintenance");
    let key = parse(sample("manual.failover-check.cluster.json"))
        .unwrap()
        .idempotency_key("lambda-req");
    assert_eq!(key, "manual#lambda-req");
}

#[test]
fn refuses_event_from_foreign_account() {
    let err = parse(sample("foreign-account.eventbridge.json")).unwrap_err();
    assert!(
        matches!(err, TriggerError::ForeignAccount { ref field, .. } if field == "account"),
        "{err}"
    );
    assert!(err.to_string().contains("999999999999"));
}

#[test]
fn refuses_foreign_account_hidden_in_source_arn() {
    let mut event = sample("rds-instance-failover-completed.eventbridge.json");
    event["detail"]["SourceArn"] = json!("arn:aws:rds:us-east-1:999999999999:db:orders-db");
    let err = parse(event).unwrap_err();
    assert!(
        matches!(err, TriggerError::ForeignAccount { ref field, .. } if field == "detail.SourceArn"),
        "{err}"
    );
}

#[test]
fn refuses_event_from_foreign_region() {
    let mut event = sample("alarm.eventbridge.json");
    event["region"] = json!("eu-west-1");
    let err = parse(event).unwrap_err();
    assert!(
        matches!(err, TriggerError::ForeignRegion { ref field, .. } if field == "region"),
        "{err}"
    );

    let mut sns = sample("alarm.sns.json");
    let mut message: Value =
        serde_json::from_str(sns["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    message["AlarmArn"] =
        json!("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:orders-db-failover");
    sns["Records"][0]["Sns"]["Message"] = json!(message.to_string());
    let err = parse(sns).unwrap_err();
    assert!(
        matches!(err, TriggerError::ForeignRegion { ref field, .. } if field == "Message.AlarmArn"),
        "{err}"
    );
}

#[test]
fn refuses_foreign_alarm_action() {
    let mut event = sample("alarm.action.json");
    event["alarmArn"] = json!("arn:aws:cloudwatch:us-east-1:999999999999:alarm:x");
    let err = parse(event).unwrap_err();
    assert_eq!(err.kind(), "ForeignAccount");
}

#[test]
fn refuses_sns_from_foreign_topic() {
    let mut event = sample("rds-instance-failover-completed.sns.json");
    event["Records"][0]["Sns"]["TopicArn"] = json!("arn:aws:sns:us-east-1:999999999999:rds-events");
    let err = parse(event).unwrap_err();
    assert_eq!(err.kind(), "ForeignAccount");
}

#[test]
fn refuses_unknown_source() {
    let err = parse(sample("unknown-source.eventbridge.json")).unwrap_err();
    assert!(
        matches!(
            err,
            TriggerError::UnknownSource {
                field: "source",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("custom.rds"));
}

#[test]
fn refuses_unknown_json_message_over_sns() {
    let mut event = sample("alarm.sns.json");
    event["Records"][0]["Sns"]["Message"] = json!("{\"hello\":\"world\"}");
    assert_eq!(parse(event).unwrap_err().kind(), "UnknownSource");
}

#[test]
fn refuses_manual_payload_with_unknown_field() {
    let err = parse(sample("manual.unknown-field.json")).unwrap_err();
    assert!(err.to_string().contains("unknown field `force`"), "{err}");
}

#[test]
fn refuses_invalid_identifier_naming_field_and_rule() {
    let err = parse(sample("manual.invalid-identifier.json")).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("db_instance") && text.contains("two consecutive hyphens"),
        "{text}"
    );

    let mut event = sample("rds-instance-failover-completed.eventbridge.json");
    event["detail"]["SourceIdentifier"] = json!("rds:1-bad");
    let text = parse(event).unwrap_err().to_string();
    assert!(
        text.contains("detail.SourceIdentifier") && text.contains("start with a letter"),
        "{text}"
    );

    let mut event = sample("alarm.eventbridge.json");
    event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]
        ["DBInstanceIdentifier"] = json!("bad_name");
    let text = parse(event).unwrap_err().to_string();
    assert!(text.contains("dimensions.DBInstanceIdentifier"), "{text}");
}

#[test]
fn refuses_manual_payload_naming_both_or_neither_target() {
    for payload in [json!({}), json!({"db_instance": "a", "db_cluster": "b"})] {
        let text = parse(payload).unwrap_err().to_string();
        assert!(text.contains("exactly one"), "{text}");
    }
}

#[test]
fn refuses_bad_event_id_and_time() {
    let mut event = sample("rds-instance-failover-completed.eventbridge.json");
    event["detail"]["EventID"] = json!("EVENT-49");
    assert!(parse(event)
        .unwrap_err()
        .to_string()
        .contains("detail.EventID"));

    let mut event = sample("rds-instance-failover-completed.eventbridge.json");
    event["detail"]["Date"] = json!("last tuesday");
    assert!(parse(event)
        .unwrap_err()
        .to_string()
        .contains("detail.Date"));
}

#[test]
fn refuses_payload_that_is_not_an_object() {
    assert!(parse(json!([1, 2]))
        .unwrap_err()
        .to_string()
        .contains("JSON object"));
}

#[test]
fn keeps_rds_prefix_of_automated_snapshot_names() {
    let mut event = sample("rds-instance-failover-completed.eventbridge.json");
    event["detail-type"] = json!("RDS DB Snapshot Event");
    event["detail"]["SourceType"] = json!("SNAPSHOT");
    event["detail"]["SourceArn"] =
        json!("arn:aws:rds:us-east-1:123456789012:snapshot:rds:orders-db-2026-11-22-03-00");
    event["detail"]["SourceIdentifier"] = json!("rds:orders-db-2026-11-22-03-00");
    match parse(event).unwrap() {
        Trigger::RdsEvent(e) => {
            assert_eq!(e.source_id, "rds:orders-db-2026-11-22-03-00");
            let resource = e.resource().unwrap();
            assert!(resource.automated);
            assert_eq!(resource.name(), "rds:orders-db-2026-11-22-03-00");
            assert_eq!(resource.id.as_str(), "orders-db-2026-11-22-03-00");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rds_event_ids_parse_from_code_or_url() {
    assert_eq!(RdsEventId::parse("RDS-EVENT-0049"), Some(RdsEventId(49)));
    assert_eq!(
        RdsEventId::parse("http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/USER_Events.html#RDS-EVENT-0015"),
        Some(RdsEventId(15))
    );
    assert_eq!(RdsEventId::parse("RDS-EVENT-"), None);
    assert_eq!(RdsEventId::parse("RDS-EVENT-00x9"), None);
    assert_eq!(RdsEventId(71).to_string(), "RDS-EVENT-0071");
}

#[test]
fn function_arn_gives_the_account() {
    assert_eq!(origin().account_id, "123456789012");
    assert!(Origin::from_function_arn("not-an-arn", "us-east-1").is_err());
}

fn scheduler_input(arn: &str, time: &str) -> Value {
    json!({
        "scheduler": {"schedule_arn": arn, "scheduled_time": time, "execution_id": "e-1"},
        "targets": [{"db_cluster": "orders-aurora"}]
    })
}

const SCHEDULE_ARN: &str = "arn:aws:scheduler:us-east-1:123456789012:schedule/default/nightly";

#[test]
fn reads_eventbridge_scheduler_plain_input() {
    match parse(scheduler_input(SCHEDULE_ARN, "2026-11-22T04:00:00Z")).unwrap() {
        Trigger::Schedule(s) => {
            assert_eq!(s.rule.as_deref(), Some(SCHEDULE_ARN));
            assert_eq!(s.time.to_rfc3339(), "2026-11-22T04:00:00+00:00");
            assert_eq!(
                s.input.single().unwrap(),
                &DbTarget::Cluster(
                    RdsIdentifier::parse("orders-aurora", ResourceKind::DbCluster).unwrap()
                )
            );
        }
        other => panic!("expected a schedule, got {other:?}"),
    }
}

#[test]
fn scheduler_input_is_checked_like_every_event() {
    for (input, kind, field) in [
        (
            scheduler_input(
                "arn:aws:scheduler:us-east-1:999999999999:schedule/default/nightly",
                "2026-11-22T04:00:00Z",
            ),
            "ForeignAccount",
            "scheduler.schedule_arn",
        ),
        (
            scheduler_input(
                "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/nightly",
                "2026-11-22T04:00:00Z",
            ),
            "ForeignRegion",
            "scheduler.schedule_arn",
        ),
        (
            scheduler_input(
                "arn:aws:events:us-east-1:123456789012:rule/nightly",
                "2026-11-22T04:00:00Z",
            ),
            "InvalidField",
            "scheduler.schedule_arn",
        ),
        (
            scheduler_input(SCHEDULE_ARN, "<aws.scheduler.scheduled-time>"),
            "InvalidField",
            "scheduler.scheduled_time",
        ),
    ] {
        let err = parse(input).unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert!(err.to_string().contains(field), "{err}");
    }
    let mut unknown = scheduler_input(SCHEDULE_ARN, "2026-11-22T04:00:00Z");
    unknown["purge"] = json!(true);
    assert!(parse(unknown)
        .unwrap_err()
        .to_string()
        .contains("unknown field `purge`"));
    let mut no_arn = scheduler_input(SCHEDULE_ARN, "2026-11-22T04:00:00Z");
    no_arn["scheduler"] = json!({"scheduled_time": "2026-11-22T04:00:00Z"});
    assert_eq!(parse(no_arn).unwrap_err().kind(), "MalformedEvent");
}

#[test]
fn a_schedule_names_one_target_or_says_why_not() {
    let list = |targets: Value| {
        TargetList::from_value(json!({ "targets": targets }), "detail.")
            .map(|l| l.single().cloned())
    };
    assert!(list(json!([]))
        .unwrap()
        .unwrap_err()
        .contains("without a target"));
    assert!(list(json!([{"db_instance": "a"}, {"db_instance": "b"}]))
        .unwrap()
        .unwrap_err()
        .contains("names 2 targets"));
    let err = list(json!([{"db_instance": "a", "db_cluster": "b"}])).unwrap_err();
    assert!(
        err.to_string()
            .contains("detail.targets[0].db_instance|detail.targets[0].db_cluster"),
        "{err}"
    );
    assert_eq!(
        TargetList::from_value(Value::Null, "detail.").unwrap(),
        TargetList::default()
    );
}

#[test]
fn table_names_follow_the_dynamodb_rules() {
    for ok in ["abc", "orders_v2.events-1", &"t".repeat(255)] {
        assert!(TableName::parse(ok).is_ok(), "{ok}");
    }
    for (bad, rule) in [
        ("ab", "3-255"),
        (&"t".repeat(256) as &str, "3-255"),
        ("orders table", "letters, digits"),
        ("ördërs", "letters, digits"),
    ] {
        assert!(TableName::parse(bad).unwrap_err().contains(rule), "{bad}");
    }
}

#[test]
fn targets_serialize_with_their_kind() {
    let table = Target::Table(TableName::parse("orders").unwrap());
    assert_eq!(
        serde_json::to_value(&table).unwrap(),
        json!({"kind": "table", "id": "orders"})
    );
    assert_eq!(
        serde_json::to_value(Target::Account).unwrap(),
        json!({"kind": "account"})
    );
    let instance: Target =
        DbTarget::Instance(RdsIdentifier::parse("orders-db", ResourceKind::DbInstance).unwrap())
            .into();
    assert_eq!(instance.kind(), "instance");
    assert_eq!(instance.id(), Some("orders-db"));
    assert_eq!(Target::Account.id(), None);
    assert_eq!(table.to_string(), "dynamodb-table orders");
}

#[test]
fn route_words_the_nothing_cases_once() {
    match parse(sample("alarm-ok.eventbridge.json")).unwrap().route() {
        Route::Nothing { target, reason } => {
            assert!(reason.contains("moved to OK, not into ALARM"), "{reason}");
            assert_eq!(target.unwrap().id().as_str(), "orders-db");
        }
        other => panic!("{other:?}"),
    }
    match parse(sample("sns-subscription-notice.json"))
        .unwrap()
        .route()
    {
        Route::Nothing { target, reason } => {
            assert!(target.is_none());
            assert!(reason.contains("subscription notice"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse(sample("alarm.connections.eventbridge.json"))
            .unwrap()
            .route(),
        Route::Alarm(_)
    ));
}

#[test]
fn alarm_kind_follows_what_the_alarm_reads() {
    let with_metrics = |metrics: Value| {
        let mut event = sample("alarm.connections.eventbridge.json");
        event["detail"]["configuration"]["metrics"] = metrics;
        match parse(event).unwrap() {
            Trigger::Alarm(a) => a,
            other => panic!("{other:?}"),
        }
    };
    let m1 = json!({"id": "m1", "metricStat": {"metric": {"namespace": "AWS/RDS", "name": "DatabaseConnections", "dimensions": {"DBInstanceIdentifier": "orders-db"}}, "period": 60, "stat": "Maximum"}, "returnData": false});
    let single = with_metrics(json!([m1.clone()]));
    assert!(matches!(single.kind(), AlarmKind::SingleMetric(m) if m.name == "DatabaseConnections"));
    let band = with_metrics(
        json!([m1.clone(), {"id": "ad1", "expression": " ANOMALY_DETECTION_BAND(m1, 2)"}]),
    );
    assert!(matches!(band.kind(), AlarmKind::SingleMetric(_)));
    // One metric scaled by an expression is metric math, not the metric itself.
    let scaled = with_metrics(json!([m1.clone(), {"id": "e1", "expression": "m1 * 100 / 500"}]));
    assert_eq!(scaled.kind(), AlarmKind::MetricMath);
    let insights = with_metrics(
        json!([{"id": "q1", "expression": "SELECT MAX(DatabaseConnections) FROM \"AWS/RDS\""}]),
    );
    assert_eq!(insights.kind(), AlarmKind::MetricMath);
    assert_eq!(with_metrics(json!([])).kind(), AlarmKind::Unknown);
    assert_eq!(AlarmState::Alarm.as_str(), "ALARM");
    assert_eq!(AlarmState::InsufficientData.as_str(), "INSUFFICIENT_DATA");
}

#[test]
fn breach_side_comes_from_the_operator_or_the_reason() {
    for (operator, breach) in [
        ("GreaterThanOrEqualToThreshold", Breach::Above),
        ("GreaterThanThreshold", Breach::Above),
        ("GreaterThanUpperThreshold", Breach::Above),
        ("LessThanThreshold", Breach::Below),
        ("LessThanOrEqualToThreshold", Breach::Below),
        ("LessThanLowerThreshold", Breach::Below),
        ("LessThanLowerOrGreaterThanUpperThreshold", Breach::Unknown),
        ("", Breach::Unknown),
    ] {
        assert_eq!(Breach::from_operator(operator), breach, "{operator}");
    }
    for (reason, breach) in [
        (
            "1 datapoint [450.0] was greater than or equal to the threshold (400.0).",
            Breach::Above,
        ),
        (
            "2 datapoints were Greater Than the upper thresholds",
            Breach::Above,
        ),
        (
            "1 datapoint [0.0] was less than the threshold (1.0).",
            Breach::Below,
        ),
        (
            "was not greater than ... and less than ...",
            Breach::Unknown,
        ),
        ("Unchecked: Initial alarm creation", Breach::Unknown),
    ] {
        assert_eq!(Breach::from_reason(reason), breach, "{reason}");
    }
    // SNS: the operator wins over the reason.
    let a = alarm("alarm.connections.sns.json");
    assert_eq!(a.breach, Breach::Above);
    assert_eq!(alarm("alarm.sns.json").breach, Breach::Below);
    assert_eq!(alarm("alarm.eventbridge.json").breach, Breach::Below);
}

// ---- Each rule at its boundary, with the reason it gives ----

fn refusal(result: Result<(), TriggerError>) -> String {
    match result {
        Err(e) => e.to_string(),
        Ok(()) => panic!("expected a refusal"),
    }
}

#[test]
fn request_id_is_1_to_128_characters_counted_as_characters() {
    assert!(check_request_id(None).is_ok());
    assert!(check_request_id(Some("a")).is_ok());
    assert!(check_request_id(Some(&"x".repeat(128))).is_ok());
    // 128 two-byte characters: 256 bytes, still 128 characters.
    assert!(check_request_id(Some(&"\u{e9}".repeat(128))).is_ok());
    for bad in ["", "   ", &"x".repeat(129), &"\u{e9}".repeat(129)] {
        let why = refusal(check_request_id(Some(bad)));
        assert!(why.contains("request_id"), "{why}");
        assert!(why.contains("must be 1-128 characters, not blank"), "{why}");
    }
    for bad in ["deploy\u{7}42", "line\nbreak", "tab\there"] {
        let why = refusal(check_request_id(Some(bad)));
        assert!(why.contains("request_id"), "{why}");
        assert!(why.contains("must not contain control characters"), "{why}");
    }
}

#[test]
fn a_manual_request_id_is_checked_on_the_way_in() {
    let mut payload = json!({"db_instance": "orders-db", "request_id": "x".repeat(129)});
    let why = parse(payload.clone()).unwrap_err().to_string();
    assert!(why.contains("request_id"), "{why}");
    payload["request_id"] = json!("x".repeat(128));
    assert!(matches!(parse(payload).unwrap(), Trigger::Manual(_)));
}

#[test]
fn sns_text_that_starts_as_json_but_does_not_parse_is_refused_not_a_notice() {
    let mut event = sample("alarm.connections.sns.json");
    event["Records"][0]["Sns"]["Message"] = json!("  {\"AlarmName\": \"cut short");
    let why = parse(event.clone()).unwrap_err().to_string();
    assert!(why.contains("Records[0].Sns.Message"), "{why}");
    assert!(why.contains("must be a JSON object"), "{why}");
    event["Records"][0]["Sns"]["Message"] = json!("You have chosen to subscribe to the topic");
    assert!(matches!(
        parse(event).unwrap(),
        Trigger::SubscriptionNotice(_)
    ));
}

#[test]
fn each_shape_names_the_field_its_time_came_from() {
    let field = |name: &str| parse(sample(name)).unwrap().time_field();
    assert_eq!(
        field("rds-instance-failover-completed.sns.json"),
        "Message.Event Time"
    );
    assert_eq!(
        field("rds-instance-failover-completed.eventbridge.json"),
        "detail.Date (or time)"
    );
    assert_eq!(
        field("alarm.connections.sns.json"),
        "Message.StateChangeTime"
    );
    assert_eq!(
        field("alarm.connections.action.json"),
        "alarmData.state.timestamp"
    );
    assert_eq!(
        field("alarm.connections.eventbridge.json"),
        "detail.state.timestamp"
    );
    assert_eq!(field("schedule.eventbridge.json"), "time");
    assert_eq!(
        parse(scheduler_input(SCHEDULE_ARN, "2026-11-22T04:00:00Z"))
            .unwrap()
            .time_field(),
        "scheduler.scheduled_time"
    );
    assert_eq!(field("manual.failover-check.json"), "(none)");
}

#[test]
fn event_time_is_the_events_own_and_manual_requests_have_none() {
    let time = |name: &str| parse(sample(name)).unwrap().event_time();
    assert_eq!(
        time("rds-instance-failover-completed.eventbridge.json").map(|t| t.to_rfc3339()),
        Some("2026-11-22T03:12:08.912+00:00".into())
    );
    assert_eq!(
        time("alarm.connections.eventbridge.json"),
        Some(alarm("alarm.connections.eventbridge.json").time)
    );
    assert_eq!(time("manual.failover-check.json"), None);
}

#[test]
fn an_alarm_with_its_actions_suppressed_routes_to_nothing_and_says_why() {
    let mut event = sample("alarm.connections.eventbridge.json");
    event["detail"]["state"]["actionsSuppressedBy"] = json!("Alarm");
    let trigger = parse(event).unwrap();
    match trigger.route() {
        Route::Nothing { target, reason } => {
            assert!(
                reason.contains("with its actions suppressed (by Alarm)"),
                "{reason}"
            );
            assert!(target.is_some());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_composite_alarm_is_composite_whatever_it_carries() {
    let a = alarm("alarm.composite.eventbridge.json");
    assert_eq!(a.kind(), AlarmKind::Composite);
}

#[test]
fn an_allow_list_names_a_schedule_by_group_and_name_and_a_rule_apart() {
    let at = |arn: &str| -> Schedule<TargetList> {
        Schedule {
            rule: Some(arn.into()),
            time: Utc::now(),
            input: TargetList::default(),
            source: ScheduleSource::Scheduler,
        }
    };
    let default_group = at("arn:aws:scheduler:us-east-1:123456789012:schedule/default/nightly");
    let other_group = at("arn:aws:scheduler:us-east-1:123456789012:schedule/team-b/nightly");
    let as_rule = |arn: &str| Schedule {
        source: ScheduleSource::Rule,
        ..at(arn)
    };
    let rule = as_rule("arn:aws:events:us-east-1:123456789012:rule/nightly");
    let bus_rule = as_rule("arn:aws:events:us-east-1:123456789012:rule/ops-bus/nightly");
    // An envelope that names the other kind is listed as neither.
    let forged = at("arn:aws:scheduler:us-east-1:123456789012:rule/nightly");
    assert!(!forged.listed_in(&["rule/nightly".to_string()]));
    assert!(!forged.listed_in(&["*".to_string()]));
    let forged_rule = as_rule("arn:aws:events:us-east-1:123456789012:schedule/default/nightly");
    assert!(!forged_rule.listed_in(&["nightly".to_string()]));
    assert_eq!(default_group.identity(), Some("schedule/default/nightly"));
    assert_eq!(rule.identity(), Some("rule/nightly"));
    assert_eq!(bus_rule.identity(), Some("rule/ops-bus/nightly"));
    let list = |entries: &[&str]| entries.iter().map(|e| e.to_string()).collect::<Vec<_>>();
    // A bare name: a Scheduler schedule of the default group only.
    let bare = list(&["nightly"]);
    assert!(default_group.listed_in(&bare));
    assert!(
        !other_group.listed_in(&bare),
        "another group's schedule of that name"
    );
    assert!(!rule.listed_in(&bare), "a rule of that name");
    // Group and name, with or without `schedule/`.
    for entry in [
        "team-b/nightly",
        "schedule/team-b/nightly",
        " team-b/night* ",
    ] {
        assert!(other_group.listed_in(&list(&[entry])), "{entry}");
        assert!(!default_group.listed_in(&list(&[entry])), "{entry}");
        assert!(!rule.listed_in(&list(&[entry])), "{entry}");
    }
    // Rules by `rule/`.
    assert!(rule.listed_in(&list(&["rule/nightly"])));
    assert!(!default_group.listed_in(&list(&["rule/nightly"])));
    assert!(!bus_rule.listed_in(&list(&["rule/nightly"])));
    assert!(bus_rule.listed_in(&list(&["rule/ops-bus/nightly"])));
    assert!(!rule.listed_in(&list(&[])));
    let unnamed: Schedule<TargetList> = Schedule {
        rule: None,
        time: Utc::now(),
        input: TargetList::default(),
        source: ScheduleSource::Rule,
    };
    assert!(!unnamed.listed_in(&list(&["*"])));
    assert_eq!(unnamed.identity(), None);
}

#[test]
fn schedule_names_are_the_last_segment_of_the_arn() {
    let name = |event: Value| match parse(event).unwrap() {
        Trigger::Schedule(s) => s.name().map(str::to_string),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        name(scheduler_input(SCHEDULE_ARN, "2026-11-22T04:00:00Z")).as_deref(),
        Some("nightly")
    );
    let rule = sample("schedule.eventbridge.json");
    let arn = rule["resources"][0].as_str().unwrap().to_string();
    assert_eq!(name(rule).as_deref(), Some(arn.rsplit('/').next().unwrap()));
    let unnamed: Schedule<TargetList> = Schedule {
        rule: None,
        time: Utc::now(),
        input: TargetList::default(),
        source: ScheduleSource::Rule,
    };
    assert_eq!(unnamed.name(), None);
}

/// A schedule input that keeps what it was given.
#[derive(Debug, Clone, PartialEq)]
struct SeenInput(Value);

impl ScheduleInput for SeenInput {
    fn from_value(input: Value, _field: &str) -> Result<Self, TriggerError> {
        Ok(Self(input))
    }
}

#[test]
fn an_empty_schedule_input_is_no_input() {
    let seen = |event: Value| match parse_trigger::<Manual, SeenInput>(event, &origin()).unwrap() {
        Trigger::Schedule(s) => s.input.0,
        other => panic!("{other:?}"),
    };
    let mut rule = sample("schedule.eventbridge.json");
    rule["detail"] = json!({});
    assert_eq!(seen(rule), Value::Null);
    let only_context = json!({"scheduler": {"schedule_arn": SCHEDULE_ARN, "scheduled_time": "2026-11-22T04:00:00Z"}});
    assert_eq!(seen(only_context), Value::Null);
    let mut with_input = sample("schedule.eventbridge.json");
    with_input["detail"] = json!({"targets": []});
    assert_eq!(seen(with_input), json!({"targets": []}));
}

#[test]
fn targets_and_kinds_read_as_rds_names_them() {
    let id = |raw: &str, kind| RdsIdentifier::parse(raw, kind).unwrap();
    assert_eq!(
        DbTarget::Instance(id("orders-db", ResourceKind::DbInstance)).to_string(),
        "db-instance orders-db"
    );
    assert_eq!(
        DbTarget::Cluster(id("orders-aurora", ResourceKind::DbCluster)).to_string(),
        "db-cluster orders-aurora"
    );
    for (kind, name) in [
        (ResourceKind::DbInstance, "db-instance"),
        (ResourceKind::DbCluster, "db-cluster"),
        (ResourceKind::DbSnapshot, "db-snapshot"),
        (ResourceKind::DbClusterSnapshot, "db-cluster-snapshot"),
    ] {
        assert_eq!(kind.as_str(), name);
        assert_eq!(kind.to_string(), name);
    }
    assert_eq!(TableName::parse("orders.v2").unwrap().as_str(), "orders.v2");
}

/// An EventBridge snapshot event about `source_id`.
fn snapshot_event(source_id: &str) -> Value {
    let mut event = sample("rds-snapshot-created.eventbridge.json");
    event["detail"]["SourceIdentifier"] = json!(source_id);
    event
}

#[test]
fn only_automated_snapshots_keep_the_rds_prefix() {
    let manual = rds_event_of(snapshot_event("orders-db-rr-chg-4711"));
    assert_eq!(manual.source_id, "orders-db-rr-chg-4711");
    let resource = manual.resource().unwrap();
    assert!(!resource.automated, "a manual snapshot is not automated");
    let automated = rds_event_of(snapshot_event("rds:orders-db-2026-11-22-03-10"));
    assert_eq!(automated.source_id, "rds:orders-db-2026-11-22-03-10");
    assert!(automated.resource().unwrap().automated);
    // On an instance the prefix is decoration: stripped, and not "automated".
    let mut instance = sample("rds-instance-failover-completed.eventbridge.json");
    instance["detail"]["SourceIdentifier"] = json!("rds:orders-db");
    let instance = rds_event_of(instance);
    assert_eq!(instance.source_id, "orders-db");
    assert!(!instance.resource().unwrap().automated);
}

fn rds_event_of(event: Value) -> RdsEvent {
    match parse(event).unwrap() {
        Trigger::RdsEvent(e) => e,
        other => panic!("expected an RDS event, got {other:?}"),
    }
}

#[test]
fn another_services_snapshot_id_is_kept_within_bounds_and_never_parsed() {
    let kept = rds_event_of(snapshot_event("awsbackup:job-1a2b"));
    assert_eq!(kept.source_id, "awsbackup:job-1a2b");
    assert_eq!(
        kept.resource(),
        None,
        "not an RDS identifier: never acted on"
    );
    // Exactly 255 characters is kept; 256 is refused like any bad identifier.
    let at_limit = format!("awsbackup:{}", "j".repeat(245));
    assert_eq!(rds_event_of(snapshot_event(&at_limit)).source_id, at_limit);
    for bad in [
        format!("awsbackup:{}", "j".repeat(246)),
        "awsbackup:job\u{1}".to_string(),
        "no_colon_here".to_string(),
    ] {
        let why = parse(snapshot_event(&bad)).unwrap_err().to_string();
        assert!(why.contains("detail.SourceIdentifier"), "{bad:?}: {why}");
    }
}

// ---- AWS Backup restore job events ----

fn restore_job(detail_type: &str, detail: Value) -> Value {
    json!({
        "version": "0", "id": "e1", "detail-type": detail_type, "source": "aws.backup",
        "account": "123456789012", "time": "2026-12-01T12:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:backup:us-east-1:123456789012:recovery-point:rp-1"],
        "detail": detail,
    })
}

#[test]
fn a_restore_job_event_is_read_with_its_plan_and_resource() {
    let plan = "arn:aws:backup:us-east-1:123456789012:restore-testing-plan:weekly-1";
    let created = "arn:aws:rds:us-east-1:123456789012:db:awsbackup-restore-1";
    let event = restore_job(
        "Restore Job State Change",
        json!({"restoreJobId": " job-1_A ", "status": "completed", "resourceType": "RDS",
               "createdResourceArn": created, "restoreTestingPlanArn": plan,
               "backupSizeInBytes": "1024", "percentDone": 100.0}),
    );
    let trigger = parse(event).unwrap();
    let Trigger::RestoreJob(job) = &trigger else {
        panic!("{trigger:?}")
    };
    assert_eq!(job.job_id, "job-1_A");
    assert_eq!(job.status, "COMPLETED");
    assert_eq!(job.plan_arn.as_deref(), Some(plan));
    assert_eq!(job.created_resource_arn.as_deref(), Some(created));
    assert_eq!(job.resource_type.as_deref(), Some("RDS"));
    assert_eq!(trigger.idempotency_key("x"), "backup#job-1_A#COMPLETED");
    assert_eq!(trigger.time_field(), "time");
    assert_eq!(trigger.event_time(), Some(job.time));
    // Every function but restore-drill (which reads it before routing) does nothing with it.
    assert!(matches!(
        trigger.route(),
        Route::Nothing { target: None, reason }
            if reason.contains("job-1_A (COMPLETED) is not this function's trigger")
    ));
    let summary = serde_json::to_value(trigger.summary()).unwrap();
    assert_eq!(summary["type"], "restore-job");
    assert_eq!(summary["job_id"], "job-1_A");
    // `state` stands in for `status`; empty ARNs read as absent.
    let event = restore_job(
        "Restore Job State Change",
        json!({"restoreJobId": "j", "state": "FAILED", "createdResourceArn": " "}),
    );
    let Trigger::RestoreJob(job) = parse(event).unwrap() else {
        panic!()
    };
    assert_eq!(job.status, "FAILED");
    assert_eq!(job.created_resource_arn, None);
}

#[test]
fn a_restore_job_event_is_refused_naming_the_field() {
    let refused = |event: Value, field: &str, why: &str| {
        let err = parse(event).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(field) && text.contains(why), "{text}");
    };
    let ok = json!({"restoreJobId": "job-1", "status": "COMPLETED"});
    refused(
        restore_job("Backup Job State Change", ok.clone()),
        "detail-type",
        "Restore Job State Change",
    );
    refused(
        restore_job("Restore Job State Change", json!({"status": "COMPLETED"})),
        "restoreJobId",
        "missing field",
    );
    for bad in ["", "job/1", "job 1", &"a".repeat(129), "jöb"] {
        refused(
            restore_job(
                "Restore Job State Change",
                json!({"restoreJobId": bad, "status": "COMPLETED"}),
            ),
            "detail.restoreJobId",
            "1-128 letters",
        );
    }
    assert!(parse(restore_job(
        "Restore Job State Change",
        json!({"restoreJobId": "a".repeat(128), "status": "COMPLETED"})
    ))
    .is_ok());
    refused(
        restore_job("Restore Job State Change", json!({"restoreJobId": "j"})),
        "detail.status",
        "is required",
    );
    refused(
        restore_job(
            "Restore Job State Change",
            json!({"restoreJobId": "j", "status": "COMPLETED",
                   "createdResourceArn": "arn:aws:rds:us-east-1:999999999999:db:x"}),
        ),
        "detail.createdResourceArn",
        "999999999999",
    );
    refused(
        restore_job(
            "Restore Job State Change",
            json!({"restoreJobId": "j", "status": "COMPLETED",
                   "restoreTestingPlanArn": "arn:aws:backup:eu-west-1:123456789012:restore-testing-plan:p"}),
        ),
        "detail.restoreTestingPlanArn",
        "eu-west-1",
    );
    let mut untimed = restore_job("Restore Job State Change", ok);
    untimed.as_object_mut().unwrap().remove("time");
    refused(untimed, "time", "is required on AWS Backup events");
}
