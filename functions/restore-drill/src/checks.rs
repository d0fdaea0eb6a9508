//! The report's wording: one check per audited resource, per drill step and per reading, and
//! the `result` the infrastructure code reads.

use serde_json::{json, Value};

use rds_responder::metrics::{RECOVERY_POINT_LAG, RPO_BREACHED};
use rds_responder::recovery::{Placement, RecoveryInfo, RestoreFrom};
use rds_responder::report::{Check, Outcome, ResourceMetric};

use crate::policy::drill::Source;
use crate::policy::rpo::{Assessment, Cause, Newest, RpoStatus};
use crate::policy::verdict::{Stage, Verdict};

fn cause_words(cause: &Cause) -> String {
    match cause {
        Cause::BackupsDisabled => "automated backups are off".into(),
        Cause::BackupsDisabledEvent { at } => format!(
            "RDS reported backups disabled at {}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        Cause::NotAvailable { status } => format!("it is {status} (no backups are taken)"),
        Cause::NoRestorableTime => "RDS names no latest restorable time".into(),
        Cause::NoSnapshot => "it has no available snapshot".into(),
        Cause::StaleSnapshot { hours } => format!("its newest snapshot is {hours} h old"),
    }
}

fn duration_words(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

/// One audited resource: the check and its metrics, the lag (when known) and whether it is
/// breached (always: the RPO alarm reads it).
pub fn audit_check(
    resource: &str,
    assessment: &Assessment,
    target_minutes: i64,
) -> (Check, Vec<ResourceMetric>) {
    let outcome = match assessment.status {
        RpoStatus::Ok => Outcome::Pass,
        RpoStatus::AtRisk => Outcome::Warn,
        RpoStatus::Breached => Outcome::Fail,
    };
    let lag = assessment
        .lag_seconds
        .map(|s| format!("recovery point {} behind", duration_words(s)))
        .unwrap_or_else(|| "no recovery point at all".into());
    let causes: Vec<String> = assessment.causes.iter().map(cause_words).collect();
    let detail = format!(
        "{}: {lag} (target {target_minutes} min){}",
        assessment.status.as_str(),
        if causes.is_empty() {
            String::new()
        } else {
            format!("; {}", causes.join("; "))
        }
    );
    let check = Check::new(format!("rpo {resource}"), outcome, detail).with_data(json!({
        "resource": resource,
        "status": assessment.status,
        "lag_seconds": assessment.lag_seconds,
        "recovery_point": assessment.recovery_point,
        "causes": assessment.causes,
    }));
    let breached = f64::from(u8::from(assessment.status == RpoStatus::Breached));
    let metrics = assessment
        .lag_seconds
        .map(|s| RECOVERY_POINT_LAG.of(resource, s as f64))
        .into_iter()
        .chain([RPO_BREACHED.of(resource, breached)])
        .collect();
    (check, metrics)
}

pub fn audit_summary(checks: &[Check], target_minutes: i64) -> String {
    let count = |o: Outcome| checks.iter().filter(|c| c.outcome == o).count();
    format!(
        "RPO audit of {} resources: {} ok, {} at risk, {} breached (target {target_minutes} min)",
        checks.len(),
        count(Outcome::Pass),
        count(Outcome::Warn),
        count(Outcome::Fail)
    )
}

/// The backup facts an audit entry carries besides its grade: the retention (`None` for a
/// table) and the newest snapshots, automated and manual, with their ages.
pub fn with_backup_facts(mut check: Check, retention_days: Option<i32>, newest: &Newest) -> Check {
    if let Some(data) = check.data.as_object_mut() {
        data.insert("retention_days".into(), json!(retention_days));
        data.insert("newest_snapshots".into(), json!(newest));
    }
    check
}

pub fn audit_result(checks: &[Check]) -> Value {
    json!({"audit": checks.iter().map(|c| c.data.clone()).filter(|d| !d.is_null()).collect::<Vec<_>>()})
}

pub fn verdict_check(v: &Verdict) -> Check {
    Check::new(v.name.clone(), v.outcome, v.detail.clone())
}

/// The reads verdict, saying how many times the restore's reads were timed again.
pub fn reads_check(v: &Verdict, rereads: u32) -> Check {
    match rereads {
        0 => verdict_check(v),
        n => Check::new(
            v.name.clone(),
            v.outcome,
            format!(
                "{} (timed again {n} time{}, {} s apart, while its volume loaded)",
                v.detail,
                if n == 1 { "" } else { "s" },
                crate::policy::verdict::REREAD_PAUSE.as_secs()
            ),
        ),
    }
}

pub fn source_words(source: &Source) -> String {
    match &source.from {
        RestoreFrom::Snapshot(_) => source.label.clone(),
        RestoreFrom::LatestRestorable => source.label.clone(),
    }
}

/// Every way the scratch instance differs from its source where a restore should copy it, and
/// what must hold of any scratch instance (private, deletable).
pub fn placement_findings(source: &Placement, scratch: &RecoveryInfo) -> Vec<String> {
    let Some(got) = &scratch.placement else {
        return vec!["the scratch instance lists no placement".into()];
    };
    let mut out = Vec::new();
    let mut differs = |what: &str, want: String, have: String| {
        if want != have {
            out.push(format!("{what}: source {want}, restore {have}"));
        }
    };
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    differs(
        "subnet group",
        opt(&source.subnet_group),
        opt(&got.subnet_group),
    );
    let mut want = source.security_groups.clone();
    let mut have = got.security_groups.clone();
    want.sort();
    have.sort();
    differs("security groups", want.join(","), have.join(","));
    differs(
        "parameter group",
        opt(&source.parameter_group),
        opt(&got.parameter_group),
    );
    differs(
        "option group",
        opt(&source.option_group),
        opt(&got.option_group),
    );
    differs("KMS key", opt(&source.kms_key), opt(&got.kms_key));
    differs(
        "storage encrypted",
        source.storage_encrypted.to_string(),
        got.storage_encrypted.to_string(),
    );
    differs(
        "IAM authentication",
        source.iam_auth.to_string(),
        got.iam_auth.to_string(),
    );
    if got.publicly_accessible {
        out.push("the restore is publicly accessible".into());
    }
    if got.deletion_protection {
        out.push("the restore has deletion protection on (the drill could not delete it)".into());
    }
    out
}

pub fn placement_check(findings: &[String]) -> Check {
    match findings {
        [] => Check::new(
            "placement",
            Outcome::Pass,
            "subnet group, security groups, parameter and option groups, KMS key and IAM authentication as the source's; private; deletable",
        ),
        many => Check::new("placement", Outcome::Warn, many.join("; ")),
    }
}

/// The `rto` check's data: each stage's seconds from the restore call, and the target.
pub fn stages_data(stages: &[Stage], target_seconds: i64) -> Value {
    json!({
        "stages": stages
            .iter()
            .map(|s| json!({"stage": s.name, "seconds": s.seconds}))
            .collect::<Vec<_>>(),
        "target_seconds": target_seconds,
    })
}

/// An earlier drill a start found abandoned, and what becomes of it.
pub fn abandoned_words(why: &str) -> String {
    format!("{why}; a new drill of its source takes its place")
}

/// An added instance's parameter group, as a report says it.
pub fn parameter_group_words(group: Option<&str>) -> String {
    match group {
        Some(g) => format!("parameter group {g} (the source writer's)"),
        None => "the engine's default parameter group (as the source writer has)".into(),
    }
}

/// A drill's one line: passed or FAILED, its RTO and RPO, and whether its copy is still there.
pub fn drill_summary(
    scratch: &str,
    source: &str,
    failed: bool,
    rto_seconds: Option<i64>,
    rpo_seconds: Option<i64>,
    cleaned: bool,
) -> String {
    let seconds = |s: Option<i64>| s.map_or("unmeasured".to_string(), |s| format!("{s} s"));
    format!(
        "drill {scratch} of {source} {}: RTO {}, RPO {}{}",
        if failed { "FAILED" } else { "passed" },
        seconds(rto_seconds),
        seconds(rpo_seconds),
        if cleaned {
            ""
        } else {
            "; its scratch copy is still there"
        }
    )
}

/// What a caller reads of a drill step.
#[allow(clippy::too_many_arguments)]
pub fn drill_result(
    drill: &str,
    source: &str,
    step: &str,
    outcome: &str,
    rto_seconds: Option<i64>,
    rpo_seconds: Option<i64>,
) -> Value {
    json!({"drill": {
        "id": drill,
        "source": source,
        "step": step,
        "outcome": outcome,
        "rto_seconds": rto_seconds,
        "rpo_seconds": rpo_seconds,
    }})
}

#[cfg(test)]
mod tests {
    use super::*;
    use rds_responder::trigger::{DbTarget, RdsIdentifier, ResourceKind};

    fn placed(p: Option<Placement>) -> RecoveryInfo {
        RecoveryInfo {
            db: DbTarget::Instance(
                RdsIdentifier::parse("orders-db-rr-drill-202612011100", ResourceKind::DbInstance)
                    .unwrap(),
            ),
            status: "available".into(),
            engine: "postgres".into(),
            cluster: None,
            replica_of: None,
            latest_restorable: None,
            backup_retention_days: 0,
            created: None,
            endpoint: None,
            tags: Default::default(),
            placement: p,
            members: Vec::new(),
            writer: None,
        }
    }

    fn source() -> Placement {
        Placement {
            instance_class: "db.r6g.large".into(),
            subnet_group: Some("private".into()),
            security_groups: vec!["sg-b".into(), "sg-a".into()],
            parameter_group: Some("pg15-tuned".into()),
            option_group: None,
            kms_key: Some("arn:aws:kms:us-east-1:123456789012:key/k".into()),
            storage_encrypted: true,
            iam_auth: true,
            publicly_accessible: false,
            deletion_protection: true,
            multi_az: true,
            storage_type: Some("gp3".into()),
        }
    }

    #[test]
    fn a_restore_placed_as_its_source_passes_and_every_difference_is_named() {
        // Class, Multi-AZ, storage type and the source's deletion protection may differ: a drill
        // restores onto the smallest class, single-AZ, deletable.
        let same = Placement {
            security_groups: vec!["sg-a".into(), "sg-b".into()],
            instance_class: "db.t4g.micro".into(),
            multi_az: false,
            deletion_protection: false,
            storage_type: None,
            ..source()
        };
        assert!(placement_findings(&source(), &placed(Some(same.clone()))).is_empty());
        assert_eq!(placement_check(&[]).outcome, Outcome::Pass);
        let moved = Placement {
            subnet_group: Some("default".into()),
            security_groups: vec!["sg-default".into()],
            parameter_group: None,
            option_group: Some("og".into()),
            kms_key: Some("arn:aws:kms:us-east-1:123456789012:key/aws-rds".into()),
            storage_encrypted: false,
            iam_auth: false,
            publicly_accessible: true,
            deletion_protection: true,
            ..same
        };
        let found = placement_findings(&source(), &placed(Some(moved)));
        for (n, want) in [
            "subnet group: source private, restore default",
            "security groups: source sg-a,sg-b, restore sg-default",
            "parameter group: source pg15-tuned, restore none",
            "option group: source none, restore og",
            "KMS key: source arn:aws:kms:us-east-1:123456789012:key/k, restore arn:aws:kms:us-east-1:123456789012:key/aws-rds",
            "storage encrypted: source true, restore false",
            "IAM authentication: source true, restore false",
            "the restore is publicly accessible",
            "the restore has deletion protection on (the drill could not delete it)",
        ]
        .iter()
        .enumerate()
        {
            assert_eq!(found.get(n).map(String::as_str), Some(*want), "{found:?}");
        }
        assert_eq!(found.len(), 9, "{found:?}");
        assert_ne!(placement_check(&found).outcome, Outcome::Pass);
        assert_eq!(
            placement_findings(&source(), &placed(None)),
            ["the scratch instance lists no placement"]
        );
    }
}
