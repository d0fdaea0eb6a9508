#!/usr/bin/env python3
"""Checks the SAM template for the deployment rules cfn-lint does not know about.

Each rule below is one that broke in AWS before: a dead-letter queue EventBridge could not
write to, a report topic CloudWatch alarms could not publish to, an alarm permission any
alarm in the account could use, a reaper without reserved concurrency, a ledger policy
without the UpdateItem the acted-before-delivered path needs, a tagging grant over every
database.
"""
import fnmatch
import sys

from cfnlint.decode import cfn_yaml


def fail(message):
    print(f"template check failed: {message}")
    sys.exit(1)


def main(path):
    resources = cfn_yaml.load(path)["Resources"]
    of_type = lambda kind: {k: v for k, v in resources.items() if v["Type"] == kind}

    # 1. Every rule with a dead-letter queue has a queue policy letting that rule send to it.
    policies = of_type("AWS::SQS::QueuePolicy").values()
    for name, rule in of_type("AWS::Events::Rule").items():
        for target in rule["Properties"].get("Targets", []):
            if "DeadLetterConfig" not in target:
                continue
            allowed = any(
                statement.get("Principal", {}).get("Service") == "events.amazonaws.com"
                and statement.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn")
                == {"Fn::GetAtt": [name, "Arn"]}
                for policy in policies
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            )
            if not allowed:
                fail(f"rule {name} has a dead-letter queue without a queue policy for it")
    for name, function in of_type("AWS::Serverless::Function").items():
        if "Events" in function["Properties"]:
            fail(f"{name}: declare rules as AWS::Events::Rule so their DLQ policy can name them")

    # 2. Topics CloudWatch alarms publish to use a key CloudWatch may use.
    for name, topic in of_type("AWS::SNS::Topic").items():
        key = topic["Properties"].get("KmsMasterKeyId")
        if key == "alias/aws/sns":
            fail(f"{name} uses the AWS managed SNS key, which CloudWatch alarm actions cannot use")

    # 3. Alarm-action permissions name the alarms that may invoke.
    for name, permission in of_type("AWS::Lambda::Permission").items():
        props = permission["Properties"]
        if props["Principal"] == "lambda.alarms.cloudwatch.amazonaws.com" and "SourceArn" not in props:
            fail(f"{name} lets any alarm in the account invoke the function (no SourceArn)")

    # 4. The reaper has reserved concurrency.
    if "ReservedConcurrentExecutions" not in resources["IdleReaperFunction"]["Properties"]:
        fail("IdleReaperFunction has no reserved concurrency")

    # 5. Every function may update its ledger records.
    for name, function in of_type("AWS::Serverless::Function").items():
        actions = [
            action
            for policy in function["Properties"].get("Policies", [])
            if isinstance(policy, dict) and "Statement" in policy
            for statement in policy["Statement"]
            if isinstance(statement, dict) and statement.get("Sid") == "Ledger"
            for action in statement["Action"]
        ]
        if "dynamodb:UpdateItem" not in actions:
            fail(f"{name} cannot UpdateItem its ledger records")
    # 6. Snapshot deletes are allowed only on snapshots tagged as made by rds-responder.
    tag_keys = {
        "rds:DeleteDBSnapshot": "rds:snapshot-tag/CreatedBy",
        "rds:DeleteDBClusterSnapshot": "rds:cluster-snapshot-tag/CreatedBy",
    }
    for name, function in of_type("AWS::Serverless::Function").items():
        for policy in function["Properties"].get("Policies", []):
            if not (isinstance(policy, dict) and "Statement" in policy):
                continue
            for statement in policy["Statement"]:
                if not isinstance(statement, dict):
                    continue
                actions = statement.get("Action", [])
                actions = [actions] if isinstance(actions, str) else actions
                for action in actions:
                    if action in ("rds:*", "rds:Delete*") or (action in tag_keys and statement.get(
                        "Condition", {}).get("StringEquals", {}).get(tag_keys[action]) != "rds-responder"):
                        fail(f"{name} may {action} snapshots not tagged CreatedBy=rds-responder")

    # 7. Tagging is granted only on snapshots, never on databases or clusters (a role that may
    #    stamp CreatedBy=rds-responder on any resource may then delete it, or lift an opt-out
    #    tag), and only for listed tag keys.
    for name, function in of_type("AWS::Serverless::Function").items():
        for policy in function["Properties"].get("Policies", []):
            if not (isinstance(policy, dict) and "Statement" in policy):
                continue
            for statement in policy["Statement"]:
                if not isinstance(statement, dict):
                    continue
                actions = statement.get("Action", [])
                actions = [actions] if isinstance(actions, str) else actions
                # Any pattern that grants tagging (rds:*, rds:Add*, rds:*Tag*, ...).
                if not any(fnmatch.fnmatchcase("rds:AddTagsToResource", a) for a in actions):
                    continue
                resources_ = statement.get("Resource", [])
                resources_ = [resources_] if not isinstance(resources_, list) else resources_
                for resource in resources_:
                    text = resource.get("Fn::Sub", "") if isinstance(resource, dict) else str(resource)
                    own_snapshot = (":snapshot:" in text or ":cluster-snapshot:" in text) and "-rr-" in text
                    if not own_snapshot:
                        fail(f"{name} may tag {text or resource}: tagging only on its own new snapshots (*-rr-*)")
                condition = statement.get("Condition", {})
                if condition.get("StringEquals", {}).get("aws:RequestTag/CreatedBy") != "rds-responder":
                    fail(f"{name} may tag without the CreatedBy=rds-responder request tag")
                keys = condition.get("ForAllValues:StringEquals", {}).get("aws:TagKeys")
                if not keys:
                    fail(f"{name} may tag with any key: limit aws:TagKeys to the keys it writes")

    # 8. Scheduler schedules name themselves in the input and keep undeliverable runs.
    for name, schedule in of_type("AWS::Scheduler::Schedule").items():
        target = schedule["Properties"]["Target"]
        if "<aws.scheduler.schedule-arn>" not in target.get("Input", ""):
            fail(f"{name}: the input must carry <aws.scheduler.schedule-arn> (the function checks it)")
        if "DeadLetterConfig" not in target:
            fail(f"{name} has no dead-letter queue")

    print(f"template check: {path} ok")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml")
