#!/usr/bin/env python3
"""The template checks can fail: each broken variant of template.yaml must be refused, naming why.

Run by scripts/lint-template.sh after the check passes on the real template. The checks run in
this process (one import of cfn-lint for every variant).
"""
import importlib.util
import pathlib
import shutil
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
TEMPLATE = (HERE.parent / "template.yaml").read_text()

_spec = importlib.util.spec_from_file_location("check_template", HERE / "check-template.py")
check_template = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_template)

# Indentation of a function's environment variables and of a SAM policy statement's keys.
ENV = "          "
KEY = "              "
# storage-guard's opt-in condition, and the resources of its grants.
DB_ARN = "!Sub arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*"
SNAPSHOT_ARN = "!Sub arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:snapshot:*-rr-*"
OPTED_IN = ("                StringEqualsIgnoreCase:\n"
            "                  aws:ResourceTag/rds-responder:storage-guard: [\"on\", enabled, \"true\", \"yes\"]\n")
MODIFY = f"Action: rds:ModifyDBInstance\n{KEY}Resource: {DB_ARN}\n{KEY}Condition:\n"
# restore-drill's grants: its scratch instances, the request's conditions, the enrolment.
SCRATCH_ARN = "!Sub arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*-rr-drill-*"
RESTORES = "Action: [rds:RestoreDBInstanceFromDBSnapshot, rds:RestoreDBInstanceToPointInTime]"
SCRATCH_TAGGED = ("                StringLike:\n"
                  "                  aws:RequestTag/rds-responder:drill: \"*-rr-drill-*\"\n")
SCRATCH_KEYS = ("                ForAllValues:StringEquals:\n"
                "                  aws:TagKeys: [\"rds-responder:drill\", \"rds-responder:drill-source\", "
                "\"rds-responder:drill-expires\", \"rds-responder:drill-owner\"]\n")
ENROLLED = ("                StringEqualsIgnoreCase:\n"
            "                  aws:ResourceTag/rds-responder:restore-drill: drill\n")
PITR_SOURCE = f"Action: rds:RestoreDBInstanceToPointInTime\n{KEY}Resource: {DB_ARN}\n{KEY}Condition:\n"
DELETE_SCRATCH = f"Action: rds:DeleteDBInstance\n{KEY}Resource: {SCRATCH_ARN}\n"
SCRATCH_DELETE_TAGGED = ("                StringLike:\n"
                         "                  aws:ResourceTag/rds-responder:drill: \"*-rr-drill-*\"\n")
# A delete's owner condition: only this deployment's scratch resources (OWNER_TAG, its ledger).
SCRATCH_OWNED = ("                StringEquals:\n"
                 "                  aws:ResourceTag/rds-responder:drill-owner: !Ref LedgerTable\n")
# The refusal's reason, whichever delete.
NOT_OWNED = ("(LEDGER_TABLE, its deployment's ledger table): its sweep deletes only the scratch {} its own "
             "ledger's drills made (OWNER_TAG, ownership() in functions/restore-drill/src/policy/drill.rs)")
# restore-drill's Aurora grants: its scratch clusters, any cluster, the enrolled sources.
CLUSTER_ARN = "!Sub arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*"
SCRATCH_CLUSTER_ARN = "!Sub arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*-rr-drill-*"
CLUSTER_RESTORES = "Action: [rds:RestoreDBClusterFromSnapshot, rds:RestoreDBClusterToPointInTime]"
CLUSTER_PITR_SOURCE = (f"Action: rds:RestoreDBClusterToPointInTime\n{KEY}Resource: {CLUSTER_ARN}\n"
                       f"{KEY}Condition:\n")
CREATE_MEMBER = (f"Action: rds:CreateDBInstance\n{KEY}Resource:\n                - {SCRATCH_ARN}\n"
                 f"                - {SCRATCH_CLUSTER_ARN}\n{KEY}Condition:\n")
PRIVATE = "                Bool:\n                  rds:PubliclyAccessible: \"false\"\n"
DELETE_CLUSTERS = f"Action: rds:DeleteDBCluster\n{KEY}Resource: {SCRATCH_CLUSTER_ARN}\n{KEY}Condition:\n"
TAG_SCRATCH = (f"Action: rds:AddTagsToResource\n{KEY}Resource:\n                - {SCRATCH_ARN}\n"
               f"                - {SCRATCH_CLUSTER_ARN}\n{KEY}Condition:\n")
# restore-drill's DynamoDB grants (under !If DrillsTables: two spaces deeper).
TKEY = "                "
SCRATCH_TABLE_ARN = "!Sub arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*-rr-drill-*"
ANY_TABLE_ARN = "!Sub arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*"
DRILLED_TABLES = ('                  - !Join ["", ["arn:*:dynamodb:*:*:table/", !Join [",arn:*:dynamodb:*:*:table/", '
                  '!Ref RestoreDrillDrillTables]]]\n')
DRILLED_BACKUPS = ('                  - !Join ["", ["arn:*:dynamodb:*:*:table/", !Join ["/backup/*,arn:*:dynamodb:*:*:table/", '
                   '!Ref RestoreDrillDrillTables], "/backup/*"]]\n')
TABLE_PITR = ("- dynamodb:RestoreTableToPointInTime\n                  - dynamodb:DescribeTable\n"
              "                  - dynamodb:DescribeTimeToLive\n                  - dynamodb:DescribeContinuousBackups\n"
              "                  - dynamodb:ListTagsOfResource\n")
TAG_TABLES = f"Action: dynamodb:TagResource\n{TKEY}Resource: {SCRATCH_TABLE_ARN}\n{TKEY}Condition:\n"
DELETE_TABLES = f"Action: dynamodb:DeleteTable\n{TKEY}Resource: {SCRATCH_TABLE_ARN}\n{TKEY}Condition:\n"
TABLE_TAGGED = ("                  StringLike:\n"
                "                    aws:RequestTag/rds-responder:drill: \"*-rr-drill-*\"\n")
TABLE_KEYS = ("                  ForAllValues:StringEquals:\n"
              "                    aws:TagKeys: [\"rds-responder:drill\", \"rds-responder:drill-source\", "
              "\"rds-responder:drill-expires\", \"rds-responder:drill-owner\"]\n")
TABLE_DELETE_TAGGED = ("                  StringLike:\n"
                       "                    aws:ResourceTag/rds-responder:drill: \"*-rr-drill-*\"\n")
TABLE_OWNED = ("                  StringEquals:\n"
               "                    aws:ResourceTag/rds-responder:drill-owner: !Ref LedgerTable\n")
# restore-drill's restore-testing grant (under !If ValidatesRestoreTests).
VALIDATE = ("Action: [backup:DescribeRestoreJob, backup:ListRestoreJobs, backup:ListRestoreTestingPlans, backup:PutRestoreValidationResult]\n"
            f"{TKEY}Resource: \"*\"\n{TKEY}Condition:\n"
            "                  StringEquals: { \"aws:RequestedRegion\": !Ref AWS::Region }\n")
# restore-drill's restore test instance grants (RestoreDrillRestoreTestPolicy, a managed policy:
# its statements' keys at MKEY): the create into Backup's cluster, its tags on create.
MKEY = "            "
PG_ARN = "!Sub arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:pg:*"
TEST_CREATE = (f"Action: rds:CreateDBInstance\n{MKEY}Resource:\n              - {SCRATCH_ARN}\n"
               f"              - {CLUSTER_ARN}\n              - {PG_ARN}\n{MKEY}Condition:\n")
TEST_TAG = f"Action: rds:AddTagsToResource\n{MKEY}Resource: {SCRATCH_ARN}\n{MKEY}Condition:\n"
TEST_TAGGED = ("              StringLike:\n"
               "                aws:RequestTag/rds-responder:drill: \"*-rr-drill-*\"\n"
               "                aws:RequestTag/rds-responder:validates: \"?*\"\n")
TEST_OWNER = ("              StringEquals:\n"
              "                aws:RequestTag/rds-responder:drill-owner: !Ref LedgerTable\n")
TEST_NOT_RETAGGED = ("              StringEqualsIfExists:\n"
                     "                aws:ResourceTag/rds-responder:drill-owner: !Ref LedgerTable\n")
TEST_KEYS = ("              ForAllValues:StringEquals:\n"
             "                aws:TagKeys: [\"rds-responder:drill\", \"rds-responder:drill-source\", "
             "\"rds-responder:drill-expires\", \"rds-responder:drill-owner\", \"rds-responder:validates\"]\n")
TEST_PRIVATE = "              Bool:\n                rds:PubliclyAccessible: \"false\"\n"
TEST_POLICY = "RestoreDrillRestoreTestPolicy:\n    Type: AWS::IAM::ManagedPolicy\n    Condition: ValidatesRestoreTests\n"
# The five keys as the refusals list them, and what a restore test's create refusal begins with.
TEST_KEY_LIST = ("rds-responder:drill, rds-responder:drill-expires, rds-responder:drill-owner, "
                 "rds-responder:drill-source, rds-responder:validates")
TEST_CREATE_REFUSED = ("[scratch-instances] RestoreDrillRestoreTestPolicy: AddRestoreTestInstances lets "
                       "RestoreDrillFunction rds:CreateDBInstance (by rds:CreateDBInstance) for a restore test's "
                       "instance (its request naming rds-responder:validates) ")
TEST_TAG_REFUSED = ("[snapshot-tagging] RestoreDrillRestoreTestPolicy: RestoreDrillRestoreTestPolicy may tag a "
                    "restore test's instance (its request naming rds-responder:validates) ")
# The Scheduler context of every schedule input.
CONTEXT = ('          {"scheduler": {"schedule_arn": "<aws.scheduler.schedule-arn>",\n'
           '          "scheduled_time": "<aws.scheduler.scheduled-time>",\n'
           '          "execution_id": "<aws.scheduler.execution-id>"},\n')

# (what is broken, text replaced (exactly once in the template), replacement,
#  words the refusal must contain)
VARIANTS = [
    ("tagging a database",
     f"Action: rds:AddTagsToResource\n{KEY}Resource:\n                - {SNAPSHOT_ARN}\n",
     f"Action: rds:AddTagsToResource\n{KEY}Resource:\n"
     f"                - !Sub arn:${{AWS::Partition}}:rds:${{AWS::Region}}:${{AWS::AccountId}}:db:*\n"
     f"                - {SNAPSHOT_ARN}\n",
     "tagging only on its own new snapshots"),
    ("tagging by a wildcard action on any snapshot",
     f"Action: rds:AddTagsToResource\n{KEY}Resource:\n                - {SNAPSHOT_ARN}\n",
     f"Action: \"rds:Add*\"\n{KEY}Resource:\n"
     f"                - !Sub arn:${{AWS::Partition}}:rds:${{AWS::Region}}:${{AWS::AccountId}}:snapshot:*\n"
     f"                - {SNAPSHOT_ARN}\n",
     "tagging only on its own new snapshots"),
    ("tagging with any key",
     "ForAllValues:StringEquals: { \"aws:TagKeys\"",
     "ForAnyValue:StringEquals: { \"aws:TagKeys\"",
     "limit aws:TagKeys"),
    ("deleting untagged snapshots",
     "StringEquals: { \"rds:snapshot-tag/CreatedBy\": rds-responder }",
     "StringEquals: { \"rds:snapshot-tag/Owner\": rds-responder }",
     "not tagged CreatedBy=rds-responder"),

    # write-on-any-resource
    ("a write action on every resource",
     f"Action: dynamodb:ListBackups\n{KEY}Resource: \"*\"",
     f"Action: [dynamodb:ListBackups, dynamodb:DeleteBackup]\n{KEY}Resource: \"*\"",
     "[write-on-any-resource] SnapshotterFunction: ListTableBackups grants dynamodb:DeleteBackup "
     "on Resource '*', any resource"),
    ("a wildcard action on every resource, behind a condition",
     f"Action: [cloudwatch:DescribeAlarms, cloudwatch:GetMetricStatistics]\n{KEY}Resource: \"*\"",
     f"Action: [cloudwatch:DescribeAlarms, \"cloudwatch:*\"]\n{KEY}Resource: \"*\"",
     "[write-on-any-resource] FailoverCheckFunction: ReadAlarmsAndMetrics grants cloudwatch:* "
     "on Resource '*', any resource"),

    # ... resolving !Sub and both branches of !If
    ("a write on !Sub \"*\"",
     f"Action: dynamodb:ListBackups\n{KEY}Resource: \"*\"",
     f"Action: dynamodb:DeleteBackup\n{KEY}Resource: !Sub \"*\"",
     "[write-on-any-resource] SnapshotterFunction: ListTableBackups grants dynamodb:DeleteBackup "
     "on Resource '*', any resource"),
    ("a write on !If [c, \"*\", \"*\"]",
     f"Action: dynamodb:ListBackups\n{KEY}Resource: \"*\"",
     f"Action: dynamodb:DeleteBackup\n{KEY}Resource: !If [BacksUpTables, \"*\", \"*\"]",
     "ListTableBackups grants dynamodb:DeleteBackup on Resource '*', any resource"),
    # ... ARN patterns open on the service or after the account
    ("a write on arn:*:*:*:*:*",
     f"Action: rds:DeleteDBSnapshot\n{KEY}Resource: !Sub arn:${{AWS::Partition}}:rds:${{AWS::Region}}:${{AWS::AccountId}}:snapshot:*-rr-*",
     f"Action: rds:DeleteDBSnapshot\n{KEY}Resource: \"arn:*:*:*:*:*\"",
     "[write-on-any-resource] SnapshotterFunction: DeleteOurSnapshots grants rds:DeleteDBSnapshot "
     "on Resource 'arn:*:*:*:*:*', any resource"),
    ("a write on every rds resource of any region and account",
     f"Action: rds:DeleteDBSnapshot\n{KEY}Resource: !Sub arn:${{AWS::Partition}}:rds:${{AWS::Region}}:${{AWS::AccountId}}:snapshot:*-rr-*",
     f"Action: rds:DeleteDBSnapshot\n{KEY}Resource: !Sub arn:${{AWS::Partition}}:rds:*:*:*",
     "DeleteOurSnapshots grants rds:DeleteDBSnapshot on Resource 'arn:${AWS::Partition}:rds:*:*:*', any resource"),
    ("a write on every rds resource of one account",
     f"Action: rds:DeleteDBSnapshot\n{KEY}Resource: !Sub arn:${{AWS::Partition}}:rds:${{AWS::Region}}:${{AWS::AccountId}}:snapshot:*-rr-*",
     f"Action: rds:DeleteDBSnapshot\n{KEY}Resource: arn:aws:rds:us-east-1:123456789012:*",
     "DeleteOurSnapshots grants rds:DeleteDBSnapshot on Resource 'arn:aws:rds:us-east-1:123456789012:*', any resource"),
    ("a write on every database without a condition",
     "              Condition:\n                StringEquals: { \"aws:RequestTag/CreatedBy\": rds-responder }\n"
     "            # Tagging on create",
     "            # Tagging on create",
     "[write-on-any-resource] SnapshotterFunction: CreateOurSnapshots grants rds:CreateDBSnapshot on "
     "Resource 'arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*', every resource of its "
     "type, without a Condition"),
    # ... reads on any resource only from the allow-list
    ("secrets on every resource",
     f"Action: [cloudwatch:DescribeAlarms, cloudwatch:GetMetricStatistics]\n{KEY}Resource: \"*\"",
     f"Action: [cloudwatch:DescribeAlarms, secretsmanager:GetSecretValue]\n{KEY}Resource: \"*\"",
     "ReadAlarmsAndMetrics grants secretsmanager:GetSecretValue on Resource '*', any resource"),
    ("parameters on every resource",
     f"Action: [cloudwatch:DescribeAlarms, cloudwatch:GetMetricStatistics]\n{KEY}Resource: \"*\"",
     f"Action: [cloudwatch:DescribeAlarms, ssm:GetParameters]\n{KEY}Resource: \"*\"",
     "ReadAlarmsAndMetrics grants ssm:GetParameters on Resource '*', any resource"),
    ("federation tokens on every resource",
     f"Action: [cloudwatch:DescribeAlarms, cloudwatch:GetMetricStatistics]\n{KEY}Resource: \"*\"",
     f"Action: [cloudwatch:DescribeAlarms, sts:GetFederationToken]\n{KEY}Resource: \"*\"",
     "ReadAlarmsAndMetrics grants sts:GetFederationToken on Resource '*', any resource"),
    ("every key on every resource",
     f"Action: [cloudwatch:DescribeAlarms, cloudwatch:GetMetricStatistics]\n{KEY}Resource: \"*\"",
     f"Action: [cloudwatch:DescribeAlarms, \"kms:*\"]\n{KEY}Resource: \"*\"",
     "ReadAlarmsAndMetrics grants kms:* on Resource '*', any resource"),

    # snapshot-deletes, by any action pattern, in any identity policy
    ("deleting cluster snapshots by rds:DeleteDB*Snapshot",
     "Action: rds:DeleteDBSnapshot\n",
     "Action: \"rds:DeleteDB*Snapshot\"\n",
     "[snapshot-deletes] SnapshotterFunction: SnapshotterFunction may rds:DeleteDBClusterSnapshot "
     "(by rds:DeleteDB*Snapshot) snapshots not tagged CreatedBy=rds-responder"),
    ("deleting snapshots by rds:Delete*",
     "Action: rds:DeleteDBClusterSnapshot\n",
     "Action: \"rds:Delete*\"\n",
     "may rds:DeleteDBSnapshot (by rds:Delete*) snapshots not tagged CreatedBy=rds-responder"),
    ("deleting snapshots by rds:*",
     "Action: rds:DeleteDBClusterSnapshot\n",
     "Action: \"rds:*\"\n",
     "may rds:DeleteDBSnapshot (by rds:*) snapshots not tagged CreatedBy=rds-responder"),
    ("deleting snapshots by *",
     "Action: rds:DeleteDBClusterSnapshot\n",
     "Action: \"*\"\n",
     "may rds:DeleteDBSnapshot (by *) snapshots not tagged CreatedBy=rds-responder"),
    ("deleting snapshots in a role's inline policy",
     "              - Effect: Allow\n                Action: sqs:SendMessage\n",
     "              - Effect: Allow\n                Action: rds:DeleteDBSnapshot\n"
     "                Resource: !Sub arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:snapshot:*-rr-*\n"
     "              - Effect: Allow\n                Action: sqs:SendMessage\n",
     "[snapshot-deletes] SnapshotterScheduleRole: SnapshotterScheduleRole may rds:DeleteDBSnapshot"),
    ("deleting snapshots in a managed policy attached to nothing",
     "  SnapshotterScheduleRole:\n",
     "  LooseSnapshotPolicy:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument:\n"
     "        Version: \"2012-10-17\"\n        Statement:\n          - Effect: Allow\n"
     "            Action: rds:DeleteDBClusterSnapshot\n"
     "            Resource: !Sub arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster-snapshot:*-rr-*\n\n"
     "  SnapshotterScheduleRole:\n",
     "[snapshot-deletes] LooseSnapshotPolicy: LooseSnapshotPolicy may rds:DeleteDBClusterSnapshot"),
    ("tagging databases in a policy attached to a function's role",
     "  SnapshotterScheduleRole:\n",
     "  SnapshotterTagPolicy:\n    Type: AWS::IAM::Policy\n    Properties:\n      PolicyName: tag\n"
     "      Roles: [!Ref SnapshotterFunctionRole]\n      PolicyDocument:\n"
     "        Version: \"2012-10-17\"\n        Statement:\n          - Effect: Allow\n"
     "            Action: rds:AddTagsToResource\n"
     "            Resource: !Sub arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*\n\n"
     "  SnapshotterScheduleRole:\n",
     "[snapshot-tagging] SnapshotterTagPolicy: SnapshotterTagPolicy may tag "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*"),

    # managed-policy
    ("a managed policy in a function's Policies",
     "      Policies:\n        - Version: \"2012-10-17\"\n          Statement:\n            - Sid: ReadDatabasesAndSnapshots\n",
     "      Policies:\n        - AmazonRDSFullAccess\n        - Version: \"2012-10-17\"\n          Statement:\n"
     "            - Sid: ReadDatabasesAndSnapshots\n",
     "[managed-policy] SnapshotterFunction: SnapshotterFunction is granted AmazonRDSFullAccess, a managed policy"),
    ("a SAM policy template in a function's Policies",
     "      Policies:\n        - Version: \"2012-10-17\"\n          Statement:\n            - Sid: ReadDatabasesAndSnapshots\n",
     "      Policies:\n        - DynamoDBCrudPolicy: { TableName: \"*\" }\n        - Version: \"2012-10-17\"\n"
     "          Statement:\n            - Sid: ReadDatabasesAndSnapshots\n",
     "[managed-policy] SnapshotterFunction: SnapshotterFunction is granted DynamoDBCrudPolicy, a managed policy "
     "or SAM policy template"),
    ("managed policies on a role",
     "      Policies:\n        - PolicyName: invoke-snapshotter\n",
     "      ManagedPolicyArns: [arn:aws:iam::aws:policy/AdministratorAccess]\n"
     "      Policies:\n        - PolicyName: invoke-snapshotter\n",
     "[managed-policy] SnapshotterScheduleRole: SnapshotterScheduleRole has ManagedPolicyArns"),
    ("a function with a role from outside",
     "      CodeUri: functions/snapshotter\n",
     "      CodeUri: functions/snapshotter\n      Role: arn:aws:iam::123456789012:role/anything\n",
     "[managed-policy] SnapshotterFunction: SnapshotterFunction runs with a Role from outside the template"),

    # archive-read
    ("archiving without the HeadObject's s3:GetObject",
     "Action: [s3:PutObject, s3:GetObject]\n              Resource: !If\n                - ArchivesCentrally\n"
     "                - !Sub arn:${AWS::Partition}:s3:::${CentralReportBucket}/reports/${AWS::AccountId}/idle-reaper/*\n"
     "                - !Sub ${ReportBucket.Arn}/reports/idle-reaper/*",
     "Action: s3:PutObject\n              Resource: !If\n                - ArchivesCentrally\n"
     "                - !Sub arn:${AWS::Partition}:s3:::${CentralReportBucket}/reports/${AWS::AccountId}/idle-reaper/*\n"
     "                - !Sub ${ReportBucket.Arn}/reports/idle-reaper/*",
     "[archive-read] IdleReaperFunction: IdleReaperFunction may s3:PutObject on "
     "${ReportBucket.Arn}/reports/idle-reaper/* but not s3:GetObject there"),
    ("s3:GetObject on another function's prefix",
     "Action: [s3:PutObject, s3:GetObject]\n              Resource: !If\n                - ArchivesCentrally\n"
     "                - !Sub arn:${AWS::Partition}:s3:::${CentralReportBucket}/reports/${AWS::AccountId}/snapshotter/*\n"
     "                - !Sub ${ReportBucket.Arn}/reports/snapshotter/*",
     "Action: s3:PutObject\n              Resource: !If\n                - ArchivesCentrally\n"
     "                - !Sub arn:${AWS::Partition}:s3:::${CentralReportBucket}/reports/${AWS::AccountId}/snapshotter/*\n"
     "                - !Sub ${ReportBucket.Arn}/reports/snapshotter/*\n"
     "            - Effect: Allow\n              Action: s3:GetObject\n"
     "              Resource: !Sub ${ReportBucket.Arn}/reports/idle-reaper/*",
     "[archive-read] SnapshotterFunction: SnapshotterFunction may s3:PutObject on "
     "${ReportBucket.Arn}/reports/snapshotter/* but not s3:GetObject there"),

    # log-level
    ("an application log level that drops the metric lines",
     "    AllowedValues: [TRACE, DEBUG, INFO]\n",
     "    AllowedValues: [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]\n",
     "[log-level] FailoverCheckFunction: LoggingConfig.ApplicationLogLevel may be WARN, which drops "
     "the functions' metric (EMF) lines"),
    ("an application log level parameter allowing anything",
     "    AllowedValues: [TRACE, DEBUG, INFO]\n",
     "",
     "[log-level] IdleReaperFunction: LoggingConfig.ApplicationLogLevel may be any value of ApplicationLogLevel"),
    ("a literal application log level above INFO on one function",
     "        LogGroup: !Ref SnapshotterLogGroup\n",
     "        LogGroup: !Ref SnapshotterLogGroup\n        ApplicationLogLevel: ERROR\n",
     "[log-level] SnapshotterFunction: LoggingConfig.ApplicationLogLevel may be ERROR"),
    ("a system log level that drops the REPORT lines",
     "      SystemLogLevel: INFO\n",
     "      SystemLogLevel: WARN\n",
     "[log-level] FailoverCheckFunction: LoggingConfig.SystemLogLevel may be WARN, which drops the "
     "platform REPORT lines"),

    # env-matches-config
    ("a variable no config reads",
     f"{ENV}MAX_EVENT_AGE_SECONDS: \"900\"\n",
     f"{ENV}MAX_EVENT_AGE_SECONDS: \"900\"\n{ENV}IDLE_SECONDS: \"60\"\n",
     "[env-matches-config] IdleReaperFunction: sets IDLE_SECONDS, which"),
    ("a database variable on the function without the db feature",
     f"{ENV}CONCURRENCY: \"4\"\n",
     f"{ENV}CONCURRENCY: \"4\"\n{ENV}DB_USER: !Ref DbUser\n",
     "[env-matches-config] SnapshotterFunction: sets DB_USER, which"),
    ("a required variable missing",
     f"{ENV}DB_USER: !Ref DbUser\n{ENV}DB_NAME: !Ref DbName\n{ENV}CONNECTIONS_NORMAL_RANGE",
     f"{ENV}DB_NAME: !Ref DbName\n{ENV}CONNECTIONS_NORMAL_RANGE",
     "[env-matches-config] FailoverCheckFunction: does not set DB_USER, which"),
    ("a variable Lambda sets itself",
     "        LEDGER_TABLE: !Ref LedgerTable\n",
     "        LEDGER_TABLE: !Ref LedgerTable\n        AWS_REGION: eu-west-1\n",
     "sets AWS_REGION, which Lambda sets itself"),

    # arm64-al2023
    ("an x86_64 build",
     "    Architectures: [arm64]\n",
     "    Architectures: [x86_64]\n",
     "[arm64-al2023] FailoverCheckFunction: is not arm64"),
    ("another runtime on one function",
     "      Timeout: 60\n",
     "      Timeout: 60\n      Runtime: provided.al2\n",
     "[arm64-al2023] IdleReaperFunction: does not run on provided.al2023"),
    ("the makefile build",
     "      BuildMethod: rust-cargolambda\n      BuildProperties:\n        Binary: snapshotter\n",
     "      BuildMethod: makefile\n",
     "[arm64-al2023] SnapshotterFunction: is not built with BuildMethod: rust-cargolambda"),

    # log-group
    ("a function logging to the default group",
     "        LogGroup: !Ref IdleReaperLogGroup\n",
     "",
     "[log-group] IdleReaperFunction: has no log group of its own"),
    ("a log group kept forever",
     "      LogGroupName: !Sub /aws/lambda/${AWS::StackName}-snapshotter\n"
     "      RetentionInDays: !Ref LogRetentionInDays\n",
     "      LogGroupName: !Sub /aws/lambda/${AWS::StackName}-snapshotter\n",
     "[log-group] SnapshotterLogGroup: keeps SnapshotterFunction's logs forever"),
    ("a log group under another name",
     "LogGroupName: !Sub /aws/lambda/${AWS::StackName}-failover-check",
     "LogGroupName: !Sub /rds-responder/${AWS::StackName}-failover-check",
     "[log-group] FailoverCheckLogGroup: is not named /aws/lambda/"),
    ("no system log level",
     "      SystemLogLevel: INFO\n",
     "",
     "LoggingConfig has no SystemLogLevel"),

    # failure-handling
    ("no dead-letter queue",
     "          OnFailure:\n            Type: SQS\n"
     "            Destination: !GetAtt SnapshotterDeadLetterQueue.Arn\n",
     "",
     "[failure-handling] SnapshotterFunction: has no dead-letter queue"),
    ("unbounded retries",
     "        MaximumRetryAttempts: 2\n        MaximumEventAgeInSeconds: 900\n",
     "        MaximumEventAgeInSeconds: 900\n",
     "[failure-handling] IdleReaperFunction: EventInvokeConfig has no MaximumRetryAttempts"),
    ("unbounded event age",
     "        MaximumRetryAttempts: 2\n        MaximumEventAgeInSeconds: 900\n",
     "        MaximumRetryAttempts: 2\n",
     "[failure-handling] IdleReaperFunction: EventInvokeConfig has no MaximumEventAgeInSeconds"),
    ("a dead-letter queue nobody watches",
     "Value: !GetAtt IdleReaperDeadLetterQueue.QueueName",
     "Value: !GetAtt SnapshotterDeadLetterQueue.QueueName",
     "[failure-handling] IdleReaperDeadLetterQueue: IdleReaperFunction's dead-letter queue has no alarm"),

    # dead-letter-policy
    ("a queue policy for another rule",
     "aws:SourceArn: !GetAtt ConnectionsAlarmsRule.Arn",
     "aws:SourceArn: !GetAtt RdsSnapshotEventsRule.Arn",
     "[dead-letter-policy] ConnectionsAlarmsRule: rule ConnectionsAlarmsRule has a dead-letter queue without"),
    ("an SNS dead-letter queue without its policy",
     "              Resource: !GetAtt FailoverCheckDeadLetterQueue.Arn\n"
     "              Condition:\n                ArnEquals:\n                  aws:SourceArn: !Ref RdsEventTopic\n",
     "              Resource: !GetAtt FailoverCheckDeadLetterQueue.Arn\n",
     "subscription FailoverCheckRdsEventSubscription has a dead-letter queue without"),

    # event-ids
    ("an event id no function handles",
     "                - RDS-EVENT-0073\n",
     "                - RDS-EVENT-0073\n                - RDS-EVENT-0099\n",
     "[event-ids] RdsFailoverEventsRule: routes RDS-EVENT-0099 to FailoverCheckFunction, which does not handle it"),
    ("an event id the code handles, routed by no rule",
     "                - RDS-EVENT-0049\n",
     "",
     "[event-ids] FailoverCheckFunction: handles RDS-EVENT-0049 (functions/failover-check/src/policy.rs), "
     "which no EventBridge pattern routes"),
    ("an event id the code handles, left out of the SNS filter",
     "              - { suffix: \"#RDS-EVENT-0071\" }\n",
     "",
     "handles RDS-EVENT-0071 (functions/failover-check/src/policy.rs), which no SNS pattern routes"),
    ("an instance event id routed from clusters",
     "                - RDS-EVENT-0069\n",
     "                - RDS-EVENT-0069\n                - RDS-EVENT-0049\n",
     "routes RDS-EVENT-0049 from db-cluster to FailoverCheckFunction, which handles it from other sources only"),
    ("an automated-snapshot event routed",
     "            - RDS-EVENT-0075\n",
     "            - RDS-EVENT-0075\n            - RDS-EVENT-0091\n",
     "[event-ids] RdsSnapshotEventsRule: routes RDS-EVENT-0091 to SnapshotterFunction, which only acknowledges it"),
    ("every snapshot's events",
     "          SourceIdentifier: [{ wildcard: \"*-rr-*\" }]\n",
     "",
     "[event-ids] RdsSnapshotEventsRule: routes every snapshot's events"),
    ("RDS events without event ids",
     "        detail-type: [RDS DB Snapshot Event, RDS DB Cluster Snapshot Event]\n        detail:\n"
     "          EventID:\n            - RDS-EVENT-0040\n            - RDS-EVENT-0042\n"
     "            - RDS-EVENT-0074\n            - RDS-EVENT-0075\n",
     "        detail-type: [RDS DB Snapshot Event, RDS DB Cluster Snapshot Event]\n        detail:\n",
     "[event-ids] RdsSnapshotEventsRule: routes RDS events without naming their exact EventIDs"),

    # schedule
    ("a schedule its function may not let delete",
     "ALLOWED_SCHEDULES: !Sub ${SnapshotterScheduleGroup}/nightly-snapshots",
     "ALLOWED_SCHEDULES: nightly-snapshots",
     "[schedule] SnapshotterSchedule: SnapshotterFunction's ALLOWED_SCHEDULES does not name it"),
    ("a schedule role any schedule may assume",
     "              ArnLike:\n                aws:SourceArn:\n                  - !GetAtt SnapshotterScheduleGroup.Arn\n",
     "              ArnLike:\n                aws:SourceArnX:\n                  - !GetAtt SnapshotterScheduleGroup.Arn\n",
     "[schedule] SnapshotterScheduleRole: the trust policy of SnapshotterSchedule's role has no aws:SourceArn"),

    # opt-in: storage-guard changes, records and snapshots only instances opted in to it
    ("a storage change on any instance",
     MODIFY + OPTED_IN,
     f"Action: rds:ModifyDBInstance\n{KEY}Resource: {DB_ARN}\n",
     "[opt-in] StorageGuardFunction: ChangeOptedInStorage lets StorageGuardFunction rds:ModifyDBInstance "
     "(by rds:ModifyDBInstance) on arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:* "
     "without StringEqualsIgnoreCase aws:ResourceTag/rds-responder:storage-guard: [on, enabled, true, yes]"),
    ("a storage change by a wildcard action on every resource",
     MODIFY + OPTED_IN,
     f"Action: \"rds:Modify*\"\n{KEY}Resource: \"*\"\n",
     "ChangeOptedInStorage lets StorageGuardFunction rds:ModifyDBInstance (by rds:Modify*) on * without"),
    ("an opt-in condition that minds the case",
     MODIFY + "                StringEqualsIgnoreCase:\n",
     MODIFY + "                StringEquals:\n",
     "ChangeOptedInStorage lets StorageGuardFunction rds:ModifyDBInstance (by rds:ModifyDBInstance) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:* without StringEqualsIgnoreCase"),
    ("an opt-in condition with fewer on values than the code",
     MODIFY + OPTED_IN,
     MODIFY + OPTED_IN.replace('["on", enabled, "true", "yes"]', '["on", "true"]'),
     "ChangeOptedInStorage lets StorageGuardFunction rds:ModifyDBInstance"),
    ("on values YAML reads as booleans",
     MODIFY + OPTED_IN,
     MODIFY + OPTED_IN.replace('["on", enabled, "true", "yes"]', "[on, enabled, true, yes]"),
     "ChangeOptedInStorage lets StorageGuardFunction rds:ModifyDBInstance"),
    ("the opt-in tag of the environment not the one of the conditions",
     f"{ENV}GUARD_TAG: rds-responder:storage-guard\n",
     f"{ENV}GUARD_TAG: team:storage\n",
     "lets StorageGuardFunction rds:ModifyDBInstance (by rds:ModifyDBInstance) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:* without StringEqualsIgnoreCase "
     "aws:ResourceTag/team:storage"),
    ("the opt-in tag from a parameter",
     f"{ENV}GUARD_TAG: rds-responder:storage-guard\n",
     f"{ENV}GUARD_TAG: !Ref DbName\n",
     "[opt-in] StorageGuardFunction: sets GUARD_TAG from {'Ref': 'DbName'}: write the tag out"),
    ("the snapshot before the change of any instance",
     f"Action: rds:CreateDBSnapshot\n{KEY}Resource: {DB_ARN}\n{KEY}Condition:\n"
     "                StringEquals:\n                  aws:RequestTag/CreatedBy: rds-responder\n" + OPTED_IN,
     f"Action: rds:CreateDBSnapshot\n{KEY}Resource: {DB_ARN}\n{KEY}Condition:\n"
     "                StringEquals:\n                  aws:RequestTag/CreatedBy: rds-responder\n",
     "[opt-in] StorageGuardFunction: SnapshotOptedInBeforeChange lets StorageGuardFunction rds:CreateDBSnapshot"),
    ("the new snapshot under the instance's opt-in condition",
     f"Action: rds:CreateDBSnapshot\n{KEY}Resource: {DB_ARN}\n",
     f"Action: rds:CreateDBSnapshot\n{KEY}Resource:\n                - {DB_ARN}\n                - {SNAPSHOT_ARN}\n",
     "[opt-in] StorageGuardFunction: SnapshotOptedInBeforeChange also names "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:snapshot:*-rr-*, which carries no "
     "rds-responder:storage-guard tag"),
    ("a storage change granted to another function",
     "Action: [rds:DescribeDBInstances, rds:DescribeDBClusters]\n",
     "Action: [rds:DescribeDBInstances, rds:DescribeDBClusters, \"rds:*DBInstance\"]\n",
     "[opt-in] IdleReaperFunction: ReadDatabases lets IdleReaperFunction rds:ModifyDBInstance "
     "(by rds:*DBInstance) on *: only a function of OPT_IN_CHANGES"),
    ("the record written on any instance",
     f"Action: rds:AddTagsToResource\n{KEY}Resource: {DB_ARN}\n{KEY}Condition:\n" + OPTED_IN,
     f"Action: rds:AddTagsToResource\n{KEY}Resource: {DB_ARN}\n{KEY}Condition:\n",
     "[snapshot-tagging] StorageGuardFunction: StorageGuardFunction may tag "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*: tagging only on its own new "
     "snapshots (*-rr-*), or on the instances opted in to it"),
    ("the opt-in tag writable on instances",
     'aws:TagKeys: ["rds-responder:storage-change"]',
     'aws:TagKeys: ["rds-responder:storage-change", "rds-responder:storage-guard"]',
     "[snapshot-tagging] StorageGuardFunction: StorageGuardFunction may tag its instances with "
     "rds-responder:storage-change, rds-responder:storage-guard: only with rds-responder:storage-change"),
    ("the record on instances with any key",
     '                ForAllValues:StringEquals:\n                  aws:TagKeys: ["rds-responder:storage-change"]\n',
     "",
     "[snapshot-tagging] StorageGuardFunction: StorageGuardFunction may tag with any key"),

    # storage-guard's reads on any resource: GetMetricData, not the metric writes
    ("metric writes beside the storage history",
     "Action: cloudwatch:GetMetricData\n",
     "Action: [cloudwatch:GetMetricData, cloudwatch:PutMetricData]\n",
     "[write-on-any-resource] StorageGuardFunction: ReadStorageHistory grants cloudwatch:PutMetricData "
     "on Resource '*', any resource"),

    # event-ids, storage-guard's
    ("a storage event id the code does not handle",
     "                - RDS-EVENT-0254\n",
     "                - RDS-EVENT-0254\n                - RDS-EVENT-0226\n",
     "[event-ids] RdsStorageEventsRule: routes RDS-EVENT-0226 to StorageGuardFunction, which does not handle it "
     "(functions/storage-guard/src/policy/mod.rs)"),
    ("a low-storage event id routed by no rule",
     "                - RDS-EVENT-0089\n",
     "",
     "[event-ids] StorageGuardFunction: handles RDS-EVENT-0089 (functions/storage-guard/src/policy/mod.rs), "
     "which no EventBridge pattern routes"),
    ("a near-maximum event id left out of the SNS filter",
     "              - { suffix: \"#RDS-EVENT-0224\" }\n",
     "",
     "[event-ids] StorageGuardFunction: handles RDS-EVENT-0224 (functions/storage-guard/src/policy/mod.rs), "
     "which no SNS pattern routes"),
    ("the Aurora storage event routed from instances",
     "                - RDS-EVENT-0254\n",
     "                - RDS-EVENT-0254\n                - RDS-EVENT-0227\n",
     "routes RDS-EVENT-0227 from db-instance to StorageGuardFunction, which handles it from other sources only"),
    ("the Aurora storage event routed by no rule",
     "              EventID: [RDS-EVENT-0227]\n",
     "              EventID: [RDS-EVENT-0225]\n",
     "[event-ids] StorageGuardFunction: handles RDS-EVENT-0227 (functions/storage-guard/src/policy/mod.rs), "
     "which no EventBridge pattern routes"),

    # alarm-routes
    ("no FreeStorageSpace rule",
     "                  name: [FreeStorageSpace]\n",
     "                  name: [FreeableMemory]\n",
     "[alarm-routes] StorageGuardFunction: answers AWS/RDS FreeStorageSpace alarms (FREE_STORAGE in "
     "functions/storage-guard/src/policy/mod.rs), which no EventBridge rule routes to it"),
    ("every alarm of every metric to storage-guard",
     "                  namespace: [AWS/RDS]\n                  name: [FreeStorageSpace]\n",
     "                  namespace: [AWS/RDS]\n",
     "[alarm-routes] FreeStorageAlarmsRule: routes CloudWatch alarms to StorageGuardFunction other than "
     "AWS/RDS FreeStorageSpace moving into ALARM"),
    ("free storage alarms to the reaper",
     "                  name: [DatabaseConnections]\n",
     "                  name: [FreeStorageSpace]\n",
     "[alarm-routes] IdleReaperFunction: answers AWS/RDS DatabaseConnections alarms"),
    ("alarms to a function that answers none",
     "        - Id: storage-guard\n          Arn: !GetAtt StorageGuardFunction.Arn\n"
     "          RetryPolicy:\n            MaximumRetryAttempts: 4\n            MaximumEventAgeInSeconds: 3600\n"
     "          DeadLetterConfig:\n            Arn: !GetAtt StorageGuardDeadLetterQueue.Arn\n\n"
     "  FreeStorageAlarmsPermission:",
     "        - Id: snapshotter\n          Arn: !GetAtt SnapshotterFunction.Arn\n\n"
     "  FreeStorageAlarmsPermission:",
     "[alarm-routes] FreeStorageAlarmsRule: routes CloudWatch alarms to SnapshotterFunction, which answers no metric"),

    # vpc
    ("storage-guard outside the VPC",
     "      # It reports what fills the disk (largest tables, replication slots): in the VPC.\n"
     "      VpcConfig:\n        SubnetIds: !Ref SubnetIds\n        SecurityGroupIds: !Ref SecurityGroupIds\n",
     "",
     "[vpc] StorageGuardFunction: connects to databases (rds-responder feature db in "
     "functions/storage-guard/Cargo.toml) but has no VpcConfig"),
    ("a database function without security groups",
     "      Timeout: 60\n      ReservedConcurrentExecutions: !Ref ReaperReservedConcurrency\n"
     "      VpcConfig:\n        SubnetIds: !Ref SubnetIds\n        SecurityGroupIds: !Ref SecurityGroupIds\n",
     "      Timeout: 60\n      ReservedConcurrentExecutions: !Ref ReaperReservedConcurrency\n"
     "      VpcConfig:\n        SubnetIds: !Ref SubnetIds\n",
     "[vpc] IdleReaperFunction: connects to databases"),

    # schedule, storage-guard's
    ("storage-guard's schedule not the one it lets act",
     "ALLOWED_SCHEDULES: !Sub ${StorageGuardScheduleGroup}/storage-forecast",
     "ALLOWED_SCHEDULES: !Sub ${SnapshotterScheduleGroup}/storage-forecast",
     "[schedule] StorageGuardSchedule: StorageGuardFunction's ALLOWED_SCHEDULES does not name it"),
    ("storage-guard's schedule role trusting any account",
     "              StringEquals: { \"aws:SourceAccount\": !Ref AWS::AccountId }\n"
     "              # Scheduler names the schedule group as the source; either form stays in ours.\n"
     "              ArnLike:\n                aws:SourceArn:\n                  - !GetAtt StorageGuardScheduleGroup.Arn\n",
     "              ArnLike:\n                aws:SourceArn:\n                  - !GetAtt StorageGuardScheduleGroup.Arn\n",
     "[schedule] StorageGuardScheduleRole: the trust policy of StorageGuardSchedule's role has no aws:SourceAccount"),

    # scratch-instances: restore-drill restores onto and deletes only its scratch instances
    ("a restore onto any instance",
     f"{RESTORES}\n{KEY}Resource: {SCRATCH_ARN}\n",
     f"{RESTORES}\n{KEY}Resource: {DB_ARN}\n",
     "[scratch-instances] RestoreDrillFunction: RestoreOntoScratchInstances lets RestoreDrillFunction "
     "rds:RestoreDBInstanceFromDBSnapshot (by rds:RestoreDBInstanceFromDBSnapshot) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*: only onto its scratch instances "
     "(<db>-rr-drill-<time>"),
    ("a restore onto any instance, by a wildcard action on every resource",
     f"{RESTORES}\n{KEY}Resource: {SCRATCH_ARN}\n",
     f"Action: \"rds:Restore*\"\n{KEY}Resource: \"*\"\n",
     "RestoreOntoScratchInstances lets RestoreDrillFunction rds:RestoreDBInstanceToPointInTime (by "
     "rds:Restore*) on *: only onto its scratch instances"),
    ("a restore without the scratch request tag",
     f"{RESTORES}\n{KEY}Resource: {SCRATCH_ARN}\n{KEY}Condition:\n{SCRATCH_TAGGED}",
     f"{RESTORES}\n{KEY}Resource: {SCRATCH_ARN}\n{KEY}Condition:\n",
     "[scratch-instances] RestoreDrillFunction: RestoreOntoScratchInstances lets RestoreDrillFunction "
     "rds:RestoreDBInstanceToPointInTime (by rds:RestoreDBInstanceToPointInTime) without StringLike "
     "aws:RequestTag/rds-responder:drill: \"*-rr-drill-*\""),
    ("a restore of the groups under any request tag",
     f":cluster-pg:*\n                - !Sub arn:${{AWS::Partition}}:rds:${{AWS::Region}}:${{AWS::AccountId}}:subgrp:*\n"
     f"{KEY}Condition:\n{SCRATCH_TAGGED}",
     f":cluster-pg:*\n                - !Sub arn:${{AWS::Partition}}:rds:${{AWS::Region}}:${{AWS::AccountId}}:subgrp:*\n"
     f"{KEY}Condition:\n{SCRATCH_TAGGED.replace('*-rr-drill-*', '*')}",
     "RestoreIntoGroups lets RestoreDrillFunction rds:RestoreDBInstanceFromDBSnapshot (by "
     "rds:RestoreDBInstanceFromDBSnapshot) without StringLike aws:RequestTag/rds-responder:drill"),
    ("a restore that may write the opt-in tag",
     f":snapshot:*\n{KEY}Condition:\n{SCRATCH_TAGGED}{SCRATCH_KEYS}",
     f":snapshot:*\n{KEY}Condition:\n{SCRATCH_TAGGED}"
     + SCRATCH_KEYS.replace("]\n", ", \"rds-responder:restore-drill\"]\n"),
     "[scratch-instances] RestoreDrillFunction: RestoreFromSnapshots lets RestoreDrillFunction "
     "rds:RestoreDBInstanceFromDBSnapshot (by rds:RestoreDBInstanceFromDBSnapshot) with tag keys "
     "rds-responder:drill, rds-responder:drill-expires, rds-responder:drill-owner, rds-responder:drill-source, "
     "rds-responder:restore-drill"),
    ("a restore with any tag keys",
     f":snapshot:*\n{KEY}Condition:\n{SCRATCH_TAGGED}{SCRATCH_KEYS}",
     f":snapshot:*\n{KEY}Condition:\n{SCRATCH_TAGGED}",
     "RestoreFromSnapshots lets RestoreDrillFunction rds:RestoreDBInstanceFromDBSnapshot (by "
     "rds:RestoreDBInstanceFromDBSnapshot) with tag keys of any kind"),
    ("a point-in-time restore from any instance",
     PITR_SOURCE + ENROLLED,
     PITR_SOURCE,
     "[scratch-instances] RestoreDrillFunction: RestoreFromDrilledInstances lets RestoreDrillFunction "
     "rds:RestoreDBInstanceToPointInTime (by rds:RestoreDBInstanceToPointInTime) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*: only onto its scratch instances "
     "(<db>-rr-drill-<time>, SCRATCH_MARK in functions/restore-drill/src/policy/drill.rs), or from "
     "instances enrolled for drills (StringEqualsIgnoreCase aws:ResourceTag/rds-responder:restore-drill: drill"),
    ("a point-in-time restore from instances enrolled for the audit only",
     PITR_SOURCE + ENROLLED,
     PITR_SOURCE + ENROLLED.replace(": drill\n", ": audit\n"),
     "RestoreFromDrilledInstances lets RestoreDrillFunction rds:RestoreDBInstanceToPointInTime (by "
     "rds:RestoreDBInstanceToPointInTime) on arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*"),
    ("an enrolment condition that minds the case",
     PITR_SOURCE + ENROLLED,
     PITR_SOURCE + ENROLLED.replace("StringEqualsIgnoreCase", "StringEquals"),
     "RestoreFromDrilledInstances lets RestoreDrillFunction rds:RestoreDBInstanceToPointInTime"),
    ("a snapshot restore onto the instances enrolled for drills",
     PITR_SOURCE,
     PITR_SOURCE.replace("Action: rds:RestoreDBInstanceToPointInTime", RESTORES),
     "RestoreFromDrilledInstances lets RestoreDrillFunction rds:RestoreDBInstanceFromDBSnapshot (by "
     "rds:RestoreDBInstanceFromDBSnapshot) on arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*: "
     "only onto its scratch instances"),
    ("restore-drill's opt-in tag of the environment not the one of the conditions",
     f"{ENV}DRILL_TAG: rds-responder:restore-drill\n",
     f"{ENV}DRILL_TAG: team:drills\n",
     "RestoreFromDrilledInstances lets RestoreDrillFunction rds:RestoreDBInstanceToPointInTime (by "
     "rds:RestoreDBInstanceToPointInTime) on arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*: "
     "only onto its scratch instances (<db>-rr-drill-<time>, SCRATCH_MARK in "
     "functions/restore-drill/src/policy/drill.rs), or from instances enrolled for drills "
     "(StringEqualsIgnoreCase aws:ResourceTag/team:drills: drill"),
    ("restore-drill's opt-in tag from a parameter",
     f"{ENV}DRILL_TAG: rds-responder:restore-drill\n",
     f"{ENV}DRILL_TAG: !Ref DbName\n",
     "[scratch-instances] RestoreDrillFunction: sets DRILL_TAG from {'Ref': 'DbName'}: write the tag out"),
    ("the ledger table the code tags its scratch resources with not the deletes' owner",
     "        LEDGER_TABLE: !Ref LedgerTable\n",
     "        LEDGER_TABLE: !Sub \"${AWS::StackName}-ledger\"\n",
     "[scratch-instances] RestoreDrillFunction: DeleteScratchInstances lets RestoreDrillFunction "
     "rds:DeleteDBInstance (by rds:DeleteDBInstance) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*-rr-drill-* with StringEquals "
     "aws:ResourceTag/rds-responder:drill-owner: !Ref LedgerTable, not StringEquals "
     "aws:ResourceTag/rds-responder:drill-owner: !Sub \"${AWS::StackName}-ledger\" (LEDGER_TABLE"),
    ("no ledger table for restore-drill to tag its scratch resources with",
     "        LEDGER_TABLE: !Ref LedgerTable\n",
     "",
     "[scratch-instances] RestoreDrillFunction: sets no LEDGER_TABLE: its code tags its scratch resources "
     "with it (OWNER_TAG in functions/restore-drill/src/policy/drill.rs)"),
    ("deleting any instance",
     DELETE_SCRATCH,
     f"Action: rds:DeleteDBInstance\n{KEY}Resource: {DB_ARN}\n",
     "[scratch-instances] RestoreDrillFunction: DeleteScratchInstances lets RestoreDrillFunction "
     "rds:DeleteDBInstance (by rds:DeleteDBInstance) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*: only of its scratch instances"),
    ("deleting instances named like scratch ones but not tagged so",
     DELETE_SCRATCH + f"{KEY}Condition:\n                StringLike:\n"
     "                  aws:ResourceTag/rds-responder:drill: \"*-rr-drill-*\"\n",
     DELETE_SCRATCH + f"{KEY}Condition:\n",
     "[scratch-instances] RestoreDrillFunction: DeleteScratchInstances lets RestoreDrillFunction "
     "rds:DeleteDBInstance (by rds:DeleteDBInstance) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*-rr-drill-* without StringLike "
     "aws:ResourceTag/rds-responder:drill: \"*-rr-drill-*\""),
    ("deleting instances whose drill tag may name anything",
     DELETE_SCRATCH + f"{KEY}Condition:\n" + SCRATCH_DELETE_TAGGED,
     DELETE_SCRATCH + f"{KEY}Condition:\n" + SCRATCH_DELETE_TAGGED.replace('"*-rr-drill-*"', '"*"'),
     "DeleteScratchInstances lets RestoreDrillFunction rds:DeleteDBInstance (by rds:DeleteDBInstance) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*-rr-drill-* without StringLike"),
    ("deleting another deployment's scratch instances",
     DELETE_SCRATCH + f"{KEY}Condition:\n" + SCRATCH_DELETE_TAGGED + SCRATCH_OWNED,
     DELETE_SCRATCH + f"{KEY}Condition:\n" + SCRATCH_DELETE_TAGGED,
     "[scratch-instances] RestoreDrillFunction: DeleteScratchInstances lets RestoreDrillFunction "
     "rds:DeleteDBInstance (by rds:DeleteDBInstance) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*-rr-drill-* without StringEquals "
     "aws:ResourceTag/rds-responder:drill-owner: !Ref LedgerTable " + NOT_OWNED.format("instances")),
    ("deleting the scratch instances of a deployment named in the template",
     DELETE_SCRATCH + f"{KEY}Condition:\n" + SCRATCH_DELETE_TAGGED + SCRATCH_OWNED,
     DELETE_SCRATCH + f"{KEY}Condition:\n" + SCRATCH_DELETE_TAGGED
     + SCRATCH_OWNED.replace("!Ref LedgerTable", "rds-responder-ledger"),
     "[scratch-instances] RestoreDrillFunction: DeleteScratchInstances lets RestoreDrillFunction "
     "rds:DeleteDBInstance (by rds:DeleteDBInstance) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*-rr-drill-* with StringEquals "
     "aws:ResourceTag/rds-responder:drill-owner: \"rds-responder-ledger\", not StringEquals "
     "aws:ResourceTag/rds-responder:drill-owner: !Ref LedgerTable " + NOT_OWNED.format("instances")),
    ("deleting scratch instances by rds:Delete*",
     DELETE_SCRATCH,
     f"Action: \"rds:Delete*\"\n{KEY}Resource: {SCRATCH_ARN}\n",
     "[snapshot-deletes] RestoreDrillFunction: RestoreDrillFunction may rds:DeleteDBSnapshot (by rds:Delete*)"),
    ("deleting scratch instances and any cluster by rds:Delete*, on every resource",
     DELETE_SCRATCH,
     f"Action: \"rds:Delete*\"\n{KEY}Resource: \"*\"\n",
     "[scratch-instances] RestoreDrillFunction: DeleteScratchInstances lets RestoreDrillFunction "
     "rds:DeleteDBCluster (by rds:Delete*) on *: only of its scratch clusters (<cluster>-rr-drill-<time>"),
    ("creating instances named like scratch ones, without the restore's tags",
     "            - Sid: DeleteScratchInstances\n",
     "            - Sid: CreateScratch\n              Effect: Allow\n              Action: rds:CreateDBInstance\n"
     f"{KEY}Resource: {SCRATCH_ARN}\n"
     "            - Sid: DeleteScratchInstances\n",
     "[scratch-instances] RestoreDrillFunction: CreateScratch lets RestoreDrillFunction rds:CreateDBInstance "
     "(by rds:CreateDBInstance) without StringLike aws:RequestTag/rds-responder:drill: \"*-rr-drill-*\""),
    ("creating a cluster",
     CREATE_MEMBER,
     CREATE_MEMBER.replace("Action: rds:CreateDBInstance", "Action: [rds:CreateDBInstance, rds:CreateDBCluster]"),
     "[database-lifecycle] RestoreDrillFunction: CreateScratchClusterInstances lets RestoreDrillFunction "
     "rds:CreateDBCluster (by rds:CreateDBCluster): no principal creates a database or table"),
    ("changing a cluster",
     DELETE_CLUSTERS,
     DELETE_CLUSTERS.replace("Action: rds:DeleteDBCluster", "Action: [rds:DeleteDBCluster, rds:ModifyDBCluster]"),
     "[database-lifecycle] RestoreDrillFunction: DeleteScratchClusters lets RestoreDrillFunction "
     "rds:ModifyDBCluster (by rds:ModifyDBCluster)"),
    ("changing the scratch instances",
     DELETE_SCRATCH,
     f"Action: rds:ModifyDBInstance\n{KEY}Resource: {SCRATCH_ARN}\n",
     "[opt-in] RestoreDrillFunction: DeleteScratchInstances lets RestoreDrillFunction rds:ModifyDBInstance "
     "(by rds:ModifyDBInstance) on arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*-rr-drill-*: "
     "only a function of OPT_IN_CHANGES"),
    ("an instance delete granted to another function",
     "Action: rds:ModifyDBInstance\n",
     "Action: [rds:ModifyDBInstance, rds:DeleteDBInstance]\n",
     "[scratch-instances] StorageGuardFunction: ChangeOptedInStorage lets StorageGuardFunction "
     "rds:DeleteDBInstance (by rds:DeleteDBInstance): only a function of SCRATCH_INSTANCES"),
    ("a restore granted to a schedule role",
     "              - Sid: InvokeRestoreDrill\n",
     "              - Sid: RestoreAnything\n                Effect: Allow\n"
     "                Action: rds:RestoreDBInstanceFromDBSnapshot\n"
     f"                Resource: {SCRATCH_ARN}\n"
     "              - Sid: InvokeRestoreDrill\n",
     "[scratch-instances] RestoreDrillScheduleRole: RestoreAnything lets RestoreDrillScheduleRole "
     "rds:RestoreDBInstanceFromDBSnapshot (by rds:RestoreDBInstanceFromDBSnapshot): only a function of "
     "SCRATCH_INSTANCES"),
    ("tagging any instance on restore",
     TAG_SCRATCH,
     f"Action: rds:AddTagsToResource\n{KEY}Resource: {DB_ARN}\n{KEY}Condition:\n",
     "[snapshot-tagging] RestoreDrillFunction: RestoreDrillFunction may tag "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*: tagging only on its own new "
     "snapshots (*-rr-*), or on its new scratch instances and clusters (<db>-rr-drill-<time>"),
    ("tagging scratch instances under any request tag",
     TAG_SCRATCH + SCRATCH_TAGGED,
     TAG_SCRATCH,
     "[snapshot-tagging] RestoreDrillFunction: RestoreDrillFunction may tag "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*-rr-drill-*: tagging only"),
    ("tagging scratch instances with the opt-in tag",
     TAG_SCRATCH + SCRATCH_TAGGED + SCRATCH_KEYS,
     TAG_SCRATCH + SCRATCH_TAGGED + SCRATCH_KEYS.replace("]\n", ", \"rds-responder:restore-drill\"]\n"),
     "[snapshot-tagging] RestoreDrillFunction: RestoreDrillFunction may tag its scratch instances or clusters with "
     "rds-responder:drill, rds-responder:drill-expires, rds-responder:drill-owner, rds-responder:drill-source, "
     "rds-responder:restore-drill: only with rds-responder:drill, rds-responder:drill-expires, "
     "rds-responder:drill-owner, rds-responder:drill-source"),
    # scratch-instances, Aurora: restores onto, instances into and deletes of scratch clusters only
    ("a cluster restore onto any cluster",
     f"{CLUSTER_RESTORES}\n{KEY}Resource: {SCRATCH_CLUSTER_ARN}\n",
     f"{CLUSTER_RESTORES}\n{KEY}Resource: {CLUSTER_ARN}\n",
     "[scratch-instances] RestoreDrillFunction: RestoreOntoScratchClusters lets RestoreDrillFunction "
     "rds:RestoreDBClusterFromSnapshot (by rds:RestoreDBClusterFromSnapshot) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*: only onto its scratch clusters "
     "(<cluster>-rr-drill-<time>"),
    ("a cluster restore onto any cluster, by a wildcard action",
     f"{CLUSTER_RESTORES}\n{KEY}Resource: {SCRATCH_CLUSTER_ARN}\n",
     f"Action: \"rds:RestoreDBCluster*\"\n{KEY}Resource: {CLUSTER_ARN}\n",
     "RestoreOntoScratchClusters lets RestoreDrillFunction rds:RestoreDBClusterToPointInTime (by "
     "rds:RestoreDBCluster*) on arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*: only onto"),
    ("a cluster restore without the scratch request tag",
     f"{CLUSTER_RESTORES}\n{KEY}Resource: {SCRATCH_CLUSTER_ARN}\n{KEY}Condition:\n{SCRATCH_TAGGED}",
     f"{CLUSTER_RESTORES}\n{KEY}Resource: {SCRATCH_CLUSTER_ARN}\n{KEY}Condition:\n",
     "[scratch-instances] RestoreDrillFunction: RestoreOntoScratchClusters lets RestoreDrillFunction "
     "rds:RestoreDBClusterToPointInTime (by rds:RestoreDBClusterToPointInTime) without StringLike "
     "aws:RequestTag/rds-responder:drill: \"*-rr-drill-*\""),
    ("a cluster restore into groups with any tag keys",
     f":cluster-pg:*\n                - !Sub arn:${{AWS::Partition}}:rds:${{AWS::Region}}:${{AWS::AccountId}}:subgrp:*\n"
     f"{KEY}Condition:\n{SCRATCH_TAGGED}{SCRATCH_KEYS}",
     f":cluster-pg:*\n                - !Sub arn:${{AWS::Partition}}:rds:${{AWS::Region}}:${{AWS::AccountId}}:subgrp:*\n"
     f"{KEY}Condition:\n{SCRATCH_TAGGED}",
     "RestoreIntoGroups lets RestoreDrillFunction rds:RestoreDBClusterFromSnapshot (by "
     "rds:RestoreDBClusterFromSnapshot) with tag keys of any kind"),
    ("a cluster snapshot restore that may write the opt-in tag",
     f"cluster-snapshot:*\n{KEY}Condition:\n{SCRATCH_TAGGED}{SCRATCH_KEYS}",
     f"cluster-snapshot:*\n{KEY}Condition:\n{SCRATCH_TAGGED}"
     + SCRATCH_KEYS.replace("]\n", ", \"rds-responder:restore-drill\"]\n"),
     "[scratch-instances] RestoreDrillFunction: RestoreFromClusterSnapshots lets RestoreDrillFunction "
     "rds:RestoreDBClusterFromSnapshot (by rds:RestoreDBClusterFromSnapshot) with tag keys "
     "rds-responder:drill, rds-responder:drill-expires, rds-responder:drill-owner, rds-responder:drill-source, "
     "rds-responder:restore-drill"),
    ("a cluster point-in-time restore from any cluster",
     CLUSTER_PITR_SOURCE + ENROLLED,
     CLUSTER_PITR_SOURCE,
     "[scratch-instances] RestoreDrillFunction: RestoreFromDrilledClusters lets RestoreDrillFunction "
     "rds:RestoreDBClusterToPointInTime (by rds:RestoreDBClusterToPointInTime) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*: only onto its scratch clusters "
     "(<cluster>-rr-drill-<time>, SCRATCH_MARK in functions/restore-drill/src/policy/drill.rs), or from "
     "clusters enrolled for drills (StringEqualsIgnoreCase aws:ResourceTag/rds-responder:restore-drill: drill"),
    ("a cluster snapshot restore onto the clusters enrolled for drills",
     CLUSTER_PITR_SOURCE,
     CLUSTER_PITR_SOURCE.replace("Action: rds:RestoreDBClusterToPointInTime", CLUSTER_RESTORES),
     "RestoreFromDrilledClusters lets RestoreDrillFunction rds:RestoreDBClusterFromSnapshot (by "
     "rds:RestoreDBClusterFromSnapshot) on arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*: "
     "only onto its scratch clusters"),
    ("an instance created into any cluster",
     CREATE_MEMBER,
     CREATE_MEMBER.replace(f"                - {SCRATCH_CLUSTER_ARN}\n", f"                - {CLUSTER_ARN}\n"),
     "[scratch-instances] RestoreDrillFunction: CreateScratchClusterInstances lets RestoreDrillFunction "
     "rds:CreateDBInstance (by rds:CreateDBInstance) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*: only into its scratch clusters"),
    ("any instance created",
     CREATE_MEMBER,
     CREATE_MEMBER.replace(f"                - {SCRATCH_ARN}\n", f"                - {DB_ARN}\n"),
     "[scratch-instances] RestoreDrillFunction: CreateScratchClusterInstances lets RestoreDrillFunction "
     "rds:CreateDBInstance (by rds:CreateDBInstance) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*: only of its scratch instances"),
    ("a scratch instance created publicly accessible",
     CREATE_MEMBER + SCRATCH_TAGGED + SCRATCH_KEYS + PRIVATE,
     CREATE_MEMBER + SCRATCH_TAGGED + SCRATCH_KEYS,
     "[scratch-instances] RestoreDrillFunction: CreateScratchClusterInstances lets RestoreDrillFunction "
     "rds:CreateDBInstance (by rds:CreateDBInstance) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*-rr-drill-* without Bool "
     "rds:PubliclyAccessible: \"false\""),
    ("a scratch instance created with any tag keys",
     CREATE_MEMBER + SCRATCH_TAGGED + SCRATCH_KEYS,
     CREATE_MEMBER + SCRATCH_TAGGED,
     "CreateScratchClusterInstances lets RestoreDrillFunction rds:CreateDBInstance (by rds:CreateDBInstance) "
     "with tag keys of any kind"),
    ("deleting any cluster",
     DELETE_CLUSTERS,
     f"Action: rds:DeleteDBCluster\n{KEY}Resource: {CLUSTER_ARN}\n{KEY}Condition:\n",
     "[scratch-instances] RestoreDrillFunction: DeleteScratchClusters lets RestoreDrillFunction "
     "rds:DeleteDBCluster (by rds:DeleteDBCluster) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*: only of its scratch clusters"),
    ("deleting clusters named like scratch ones but not tagged so",
     DELETE_CLUSTERS + SCRATCH_DELETE_TAGGED + SCRATCH_OWNED,
     DELETE_CLUSTERS + SCRATCH_OWNED + "                  aws:ResourceTag/rds-responder:drill: \"*-rr-drill-*\"\n",
     "[scratch-instances] RestoreDrillFunction: DeleteScratchClusters lets RestoreDrillFunction "
     "rds:DeleteDBCluster (by rds:DeleteDBCluster) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*-rr-drill-* without StringLike "
     "aws:ResourceTag/rds-responder:drill: \"*-rr-drill-*\""),
    ("deleting another deployment's scratch clusters",
     DELETE_CLUSTERS + SCRATCH_DELETE_TAGGED + SCRATCH_OWNED,
     DELETE_CLUSTERS + SCRATCH_DELETE_TAGGED,
     "[scratch-instances] RestoreDrillFunction: DeleteScratchClusters lets RestoreDrillFunction "
     "rds:DeleteDBCluster (by rds:DeleteDBCluster) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*-rr-drill-* without StringEquals "
     "aws:ResourceTag/rds-responder:drill-owner: !Ref LedgerTable " + NOT_OWNED.format("clusters")),
    ("deleting the scratch clusters owned by another resource of the stack",
     DELETE_CLUSTERS + SCRATCH_DELETE_TAGGED + SCRATCH_OWNED,
     DELETE_CLUSTERS + SCRATCH_DELETE_TAGGED + SCRATCH_OWNED.replace("!Ref LedgerTable", "!Ref ReportBucket"),
     "DeleteScratchClusters lets RestoreDrillFunction rds:DeleteDBCluster (by rds:DeleteDBCluster) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*-rr-drill-* with StringEquals "
     "aws:ResourceTag/rds-responder:drill-owner: !Ref ReportBucket, not StringEquals "
     "aws:ResourceTag/rds-responder:drill-owner: !Ref LedgerTable " + NOT_OWNED.format("clusters")),
    ("a cluster delete granted to another function",
     "Action: rds:ModifyDBInstance\n",
     "Action: [rds:ModifyDBInstance, rds:DeleteDBCluster]\n",
     "[scratch-instances] StorageGuardFunction: ChangeOptedInStorage lets StorageGuardFunction "
     "rds:DeleteDBCluster (by rds:DeleteDBCluster): only a function of SCRATCH_INSTANCES"),
    ("tagging any cluster on restore",
     TAG_SCRATCH,
     TAG_SCRATCH.replace(SCRATCH_CLUSTER_ARN, CLUSTER_ARN),
     "[snapshot-tagging] RestoreDrillFunction: RestoreDrillFunction may tag "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*: tagging only on its own new "
     "snapshots (*-rr-*), or on its new scratch instances and clusters"),
    ("tagging scratch clusters and snapshots in one statement",
     TAG_SCRATCH,
     TAG_SCRATCH.replace(f"{KEY}Condition:\n", f"                - {SNAPSHOT_ARN}\n{KEY}Condition:\n"),
     "[snapshot-tagging] RestoreDrillFunction: RestoreDrillFunction tags its scratch instances or clusters and "
     "other resources in one statement"),

    # scratch-instances, DynamoDB: restores onto, tags on and deletes of scratch tables only
    ("a table restore onto any table",
     f"- dynamodb:ListTagsOfResource\n{TKEY}Resource: {SCRATCH_TABLE_ARN}\n",
     f"- dynamodb:ListTagsOfResource\n{TKEY}Resource: {ANY_TABLE_ARN}\n",
     "[scratch-instances] RestoreDrillFunction: RestoreOntoScratchTables lets RestoreDrillFunction "
     "dynamodb:RestoreTableFromBackup (by dynamodb:RestoreTableFromBackup) on "
     "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*: only onto its scratch tables "
     "(<table>-rr-drill-<time>"),
    ("a table restore onto every resource, by a wildcard action",
     f"- dynamodb:ListTagsOfResource\n{TKEY}Resource: {SCRATCH_TABLE_ARN}\n",
     f"- \"dynamodb:Restore*\"\n{TKEY}Resource: \"*\"\n",
     "RestoreOntoScratchTables lets RestoreDrillFunction dynamodb:RestoreTableToPointInTime (by "
     "dynamodb:Restore*) on *: only onto its scratch tables"),
    ("a point-in-time restore from any table",
     f"{TABLE_PITR}{TKEY}Resource: !Split\n{TKEY}  - \",\"\n{DRILLED_TABLES}",
     f"{TABLE_PITR}{TKEY}Resource: \"arn:*:dynamodb:*:*:table/*\"\n",
     "[scratch-instances] RestoreDrillFunction: RestoreFromDrilledTables lets RestoreDrillFunction "
     "dynamodb:RestoreTableToPointInTime (by dynamodb:RestoreTableToPointInTime) on "
     "arn:*:dynamodb:*:*:table/*: only onto its scratch tables (<table>-rr-drill-<time>, SCRATCH_MARK in "
     "functions/restore-drill/src/policy/drill.rs), or from the tables it drills "
     "(table/${RestoreDrillDrillTables}, the parameter of DRILL_TABLES)"),
    ("a point-in-time restore from the audited tables",
     f"{TABLE_PITR}{TKEY}Resource: !Split\n{TKEY}  - \",\"\n{DRILLED_TABLES}",
     f"{TABLE_PITR}{TKEY}Resource: !Split\n{TKEY}  - \",\"\n"
     + DRILLED_TABLES.replace("RestoreDrillDrillTables", "RestoreDrillAuditTables"),
     "RestoreFromDrilledTables lets RestoreDrillFunction dynamodb:RestoreTableToPointInTime (by "
     "dynamodb:RestoreTableToPointInTime) on arn:*:dynamodb:*:*:table/${RestoreDrillAuditTables}: only onto"),
    ("a restore from any table's backups",
     DRILLED_BACKUPS,
     "                  - \"arn:*:dynamodb:*:*:table/*/backup/*\"\n",
     "[scratch-instances] RestoreDrillFunction: RestoreFromDrilledTableBackups lets RestoreDrillFunction "
     "dynamodb:RestoreTableFromBackup (by dynamodb:RestoreTableFromBackup) on "
     "arn:*:dynamodb:*:*:table/*/backup/*: only onto its scratch tables (<table>-rr-drill-<time>, SCRATCH_MARK "
     "in functions/restore-drill/src/policy/drill.rs), or from the tables it drills "
     "(table/${RestoreDrillDrillTables}/backup/*"),
    ("a backup restore onto the drilled tables",
     DRILLED_BACKUPS,
     DRILLED_TABLES,
     "RestoreFromDrilledTableBackups lets RestoreDrillFunction dynamodb:RestoreTableFromBackup (by "
     "dynamodb:RestoreTableFromBackup) on arn:*:dynamodb:*:*:table/${RestoreDrillDrillTables}: only onto its "
     "scratch tables"),
    ("the drilled tables named by something else than their parameter",
     f"{ENV}DRILL_TABLES: !Join [\",\", !Ref RestoreDrillDrillTables]\n",
     f"{ENV}DRILL_TABLES: orders\n",
     "[scratch-instances] RestoreDrillFunction: sets DRILL_TABLES from 'orders': join a CommaDelimitedList parameter"),
    ("TagResource on all tables",
     TAG_TABLES,
     f"Action: dynamodb:TagResource\n{TKEY}Resource: {ANY_TABLE_ARN}\n{TKEY}Condition:\n",
     "[scratch-instances] RestoreDrillFunction: TagScratchTables lets RestoreDrillFunction dynamodb:TagResource "
     "(by dynamodb:TagResource) on arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*: "
     "only on its scratch tables (<table>-rr-drill-<time>"),
    ("TagResource by a wildcard action on the ledger",
     "              - !Ref AWS::NoValue\n            - Sid: Ledger\n              Effect: Allow\n"
     "              Action: [dynamodb:PutItem, dynamodb:GetItem, dynamodb:UpdateItem, dynamodb:DeleteItem]\n",
     "              - !Ref AWS::NoValue\n            - Sid: Ledger\n              Effect: Allow\n"
     "              Action: [dynamodb:PutItem, dynamodb:GetItem, dynamodb:UpdateItem, dynamodb:DeleteItem, "
     "\"dynamodb:Tag*\"]\n",
     "[scratch-instances] RestoreDrillFunction: Ledger lets RestoreDrillFunction dynamodb:TagResource (by "
     "dynamodb:Tag*) on ${LedgerTable.Arn}: only on its scratch tables"),
    ("TagResource without the scratch request tag",
     TAG_TABLES + TABLE_TAGGED,
     TAG_TABLES,
     "[scratch-instances] RestoreDrillFunction: TagScratchTables lets RestoreDrillFunction dynamodb:TagResource "
     "(by dynamodb:TagResource) without StringLike aws:RequestTag/rds-responder:drill: \"*-rr-drill-*\" "
     "(SCRATCH_TAG, SCRATCH_MARK in functions/restore-drill/src/policy/drill.rs): its code tags a scratch "
     "table only with its scratch name"),
    ("TagResource with the opt-in tag key",
     TAG_TABLES + TABLE_TAGGED + TABLE_KEYS,
     TAG_TABLES + TABLE_TAGGED + TABLE_KEYS.replace("]\n", ", \"rds-responder:restore-drill\"]\n"),
     "TagScratchTables lets RestoreDrillFunction dynamodb:TagResource (by dynamodb:TagResource) with tag keys "
     "rds-responder:drill, rds-responder:drill-expires, rds-responder:drill-owner, rds-responder:drill-source, "
     "rds-responder:restore-drill"),
    ("DeleteTable without the tag condition",
     DELETE_TABLES + TABLE_DELETE_TAGGED,
     DELETE_TABLES,
     "[scratch-instances] RestoreDrillFunction: DeleteScratchTables lets RestoreDrillFunction "
     "dynamodb:DeleteTable (by dynamodb:DeleteTable) on "
     "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*-rr-drill-* without StringLike "
     "aws:ResourceTag/rds-responder:drill: \"*-rr-drill-*\": its code deletes only scratch tables tagged"),
    ("deleting another deployment's scratch tables",
     DELETE_TABLES + TABLE_DELETE_TAGGED + TABLE_OWNED,
     DELETE_TABLES + TABLE_DELETE_TAGGED,
     "[scratch-instances] RestoreDrillFunction: DeleteScratchTables lets RestoreDrillFunction "
     "dynamodb:DeleteTable (by dynamodb:DeleteTable) on "
     "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*-rr-drill-* without StringEquals "
     "aws:ResourceTag/rds-responder:drill-owner: !Ref LedgerTable " + NOT_OWNED.format("tables")),
    ("deleting the scratch tables of this deployment or another",
     DELETE_TABLES + TABLE_DELETE_TAGGED + TABLE_OWNED,
     DELETE_TABLES + TABLE_DELETE_TAGGED + TABLE_OWNED.replace("!Ref LedgerTable", "[!Ref LedgerTable, other-ledger]"),
     "DeleteScratchTables lets RestoreDrillFunction dynamodb:DeleteTable (by dynamodb:DeleteTable) on "
     "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*-rr-drill-* with StringEquals "
     "aws:ResourceTag/rds-responder:drill-owner: !Ref LedgerTable, \"other-ledger\", not StringEquals "
     "aws:ResourceTag/rds-responder:drill-owner: !Ref LedgerTable " + NOT_OWNED.format("tables")),
    ("DeleteTable on every table",
     DELETE_TABLES,
     f"Action: dynamodb:DeleteTable\n{TKEY}Resource: {ANY_TABLE_ARN}\n{TKEY}Condition:\n",
     "[scratch-instances] RestoreDrillFunction: DeleteScratchTables lets RestoreDrillFunction "
     "dynamodb:DeleteTable (by dynamodb:DeleteTable) on "
     "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*: only of its scratch tables"),
    ("DeleteTable on the drilled tables",
     DELETE_TABLES,
     f"Action: dynamodb:DeleteTable\n{TKEY}Resource: \"arn:*:dynamodb:*:*:table/${{RestoreDrillDrillTables}}\"\n"
     f"{TKEY}Condition:\n",
     "DeleteScratchTables lets RestoreDrillFunction dynamodb:DeleteTable (by dynamodb:DeleteTable) on "
     "arn:*:dynamodb:*:*:table/${RestoreDrillDrillTables}: only of its scratch tables"),
    ("a table delete granted to another function",
     f"Action: dynamodb:ListBackups\n{KEY}Resource: \"*\"",
     f"Action: [dynamodb:ListBackups, dynamodb:DeleteTable]\n{KEY}Resource: \"*\"",
     "[scratch-instances] SnapshotterFunction: ListTableBackups lets SnapshotterFunction dynamodb:DeleteTable "
     "(by dynamodb:DeleteTable): only a function of SCRATCH_INSTANCES"),
    ("every DynamoDB listing on every resource",
     "Action: [dynamodb:ListBackups, dynamodb:ListTables]\n",
     "Action: [dynamodb:ListBackups, \"dynamodb:List*\"]\n",
     "[write-on-any-resource] RestoreDrillFunction: ListBackupsAndTables grants dynamodb:List* on Resource '*', "
     "any resource"),
    ("creating a table",
     TAG_TABLES,
     TAG_TABLES.replace("Action: dynamodb:TagResource", "Action: [dynamodb:TagResource, dynamodb:CreateTable]"),
     "[database-lifecycle] RestoreDrillFunction: TagScratchTables lets RestoreDrillFunction dynamodb:CreateTable "
     "(by dynamodb:CreateTable): no principal creates a database or table"),

    ("the audit of every table",
     "                Resource: !Split\n                  - \",\"\n"
     "                  - !Join [\"\", [\"arn:*:dynamodb:*:*:table/\", !Join [\",arn:*:dynamodb:*:*:table/\", "
     "!Ref RestoreDrillAuditTables]]]\n",
     "                Resource: \"*\"\n",
     "[write-on-any-resource] RestoreDrillFunction: AuditConfiguredTables grants "
     "dynamodb:DescribeContinuousBackups on Resource '*', any resource"),

    # event-ids, restore-drill's
    ("every instance's restore events to restore-drill",
     "EventID: [RDS-EVENT-0043, RDS-EVENT-0019, RDS-EVENT-0005]\n"
     "              SourceIdentifier: [{ wildcard: \"*-rr-drill-*\" }]\n",
     "EventID: [RDS-EVENT-0043, RDS-EVENT-0019, RDS-EVENT-0005]\n",
     "[event-ids] RdsRestoreEventsRule: routes every instance's RDS-EVENT-0005, RDS-EVENT-0019, RDS-EVENT-0043 "
     "to RestoreDrillFunction: limit SourceIdentifier to its scratch resources', [{wildcard: \"*-rr-drill-*\"}]"),
    ("every cluster's creation event to restore-drill",
     "EventID: [RDS-EVENT-0170]\n              SourceIdentifier: [{ wildcard: \"*-rr-drill-*\" }]\n",
     "EventID: [RDS-EVENT-0170]\n              SourceIdentifier: [{ wildcard: \"*-rr-*\" }]\n",
     "[event-ids] RdsRestoreEventsRule: routes every cluster's RDS-EVENT-0170 to RestoreDrillFunction: limit "
     "SourceIdentifier to its scratch resources'"),
    ("the cluster-restored event routed from instances",
     "EventID: [RDS-EVENT-0043, RDS-EVENT-0019, RDS-EVENT-0005]\n",
     "EventID: [RDS-EVENT-0043, RDS-EVENT-0019, RDS-EVENT-0005, RDS-EVENT-0170]\n",
     "[event-ids] RdsRestoreEventsRule: routes RDS-EVENT-0170 from db-instance to RestoreDrillFunction, which "
     "handles it from other sources only"),
    ("the cluster-restored event routed by no rule",
     "          - detail-type: [RDS DB Cluster Event]\n            detail:\n              EventID: [RDS-EVENT-0170]\n"
     "              SourceIdentifier: [{ wildcard: \"*-rr-drill-*\" }]\n",
     "",
     "[event-ids] RestoreDrillFunction: handles RDS-EVENT-0170 (functions/restore-drill/src/policy/mod.rs), "
     "which no EventBridge pattern routes"),
    ("the instance-created event routed by no rule",
     "EventID: [RDS-EVENT-0043, RDS-EVENT-0019, RDS-EVENT-0005]\n",
     "EventID: [RDS-EVENT-0043, RDS-EVENT-0019]\n",
     "[event-ids] RestoreDrillFunction: handles RDS-EVENT-0005 (functions/restore-drill/src/policy/mod.rs), "
     "which no EventBridge pattern routes"),
    ("the backups-disabled event only from scratch instances",
     "EventID: [RDS-EVENT-0043, RDS-EVENT-0019, RDS-EVENT-0005]\n",
     "EventID: [RDS-EVENT-0043, RDS-EVENT-0019, RDS-EVENT-0005, RDS-EVENT-0028]\n",
     "[event-ids] RdsRestoreEventsRule: limits RDS-EVENT-0028 to RestoreDrillFunction by SourceIdentifier"),
    ("an event id restore-drill does not handle",
     "EventID: [RDS-EVENT-0028]\n",
     "EventID: [RDS-EVENT-0028, RDS-EVENT-0008]\n",
     "[event-ids] RdsRestoreEventsRule: routes RDS-EVENT-0008 to RestoreDrillFunction, which does not handle "
     "it (functions/restore-drill/src/policy/mod.rs)"),
    ("the backups-disabled event routed by no rule",
     "          - detail-type: [RDS DB Instance Event]\n            detail:\n              EventID: [RDS-EVENT-0028]\n",
     "",
     "[event-ids] RestoreDrillFunction: handles RDS-EVENT-0028 (functions/restore-drill/src/policy/mod.rs), "
     "which no EventBridge pattern routes"),
    ("a restore event left out of the SNS filter",
     "              - { suffix: \"#RDS-EVENT-0019\" }\n",
     "",
     "[event-ids] RestoreDrillFunction: handles RDS-EVENT-0019 (functions/restore-drill/src/policy/mod.rs), "
     "which no SNS pattern routes"),
    ("the cluster-restored event left out of the SNS filter",
     "          - Event Source: [db-cluster]\n            Event ID:\n              - { suffix: \"#RDS-EVENT-0170\" }\n"
     "      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt RestoreDrillDeadLetterQueue.Arn\n",
     "      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt RestoreDrillDeadLetterQueue.Arn\n",
     "[event-ids] RestoreDrillFunction: handles RDS-EVENT-0170 (functions/restore-drill/src/policy/mod.rs), "
     "which no SNS pattern routes"),
    ("the instance-created event delivered by SNS from clusters",
     "              - { suffix: \"#RDS-EVENT-0170\" }\n",
     "              - { suffix: \"#RDS-EVENT-0170\" }\n              - { suffix: \"#RDS-EVENT-0005\" }\n",
     "[event-ids] RestoreDrillRdsEventSubscription: routes RDS-EVENT-0005 from db-cluster to RestoreDrillFunction, "
     "which handles it from other sources only"),
    ("restore events to another function too",
     "        - Id: restore-drill\n",
     "        - Id: storage-guard\n          Arn: !GetAtt StorageGuardFunction.Arn\n"
     "        - Id: restore-drill\n",
     "[event-ids] RdsRestoreEventsRule: routes RDS-EVENT-0043 to StorageGuardFunction, which does not handle it"),
    ("alarms to restore-drill",
     "        - Id: idle-reaper\n",
     "        - Id: restore-drill\n          Arn: !GetAtt RestoreDrillFunction.Arn\n"
     "        - Id: idle-reaper\n",
     "[alarm-routes] ConnectionsAlarmsRule: routes CloudWatch alarms to RestoreDrillFunction, which answers "
     "no metric of its own"),

    # restore-drill's VPC, environment, logs, queues
    ("restore-drill outside the VPC",
     "      # Its data checks connect to the source and to the restored copy: in the VPC.\n"
     "      VpcConfig:\n        SubnetIds: !Ref SubnetIds\n        SecurityGroupIds: !Ref SecurityGroupIds\n",
     "",
     "[vpc] RestoreDrillFunction: connects to databases (rds-responder feature db in "
     "functions/restore-drill/Cargo.toml) but has no VpcConfig"),
    ("a variable restore-drill's config does not read",
     f"{ENV}MAX_CONCURRENT_DRILLS: !Ref RestoreDrillMaxConcurrentDrills\n",
     f"{ENV}MAX_CONCURRENT_DRILLS: !Ref RestoreDrillMaxConcurrentDrills\n{ENV}DRILL_WINDOW: \"3\"\n",
     "[env-matches-config] RestoreDrillFunction: sets DRILL_WINDOW, which"),
    ("restore-drill logging to the default group",
     "        LogGroup: !Ref RestoreDrillLogGroup\n",
     "",
     "[log-group] RestoreDrillFunction: has no log group of its own"),
    ("restore-drill's dead-letter queue unwatched",
     "Value: !GetAtt RestoreDrillDeadLetterQueue.QueueName",
     "Value: !GetAtt SnapshotterDeadLetterQueue.QueueName",
     "[failure-handling] RestoreDrillDeadLetterQueue: RestoreDrillFunction's dead-letter queue has no alarm"),
    ("restore-drill's queue policy for another rule",
     "aws:SourceArn: !GetAtt RdsRestoreEventsRule.Arn",
     "aws:SourceArn: !GetAtt RdsStorageEventsRule.Arn",
     "[dead-letter-policy] RdsRestoreEventsRule: rule RdsRestoreEventsRule has a dead-letter queue without"),

    # schedule, restore-drill's
    ("a drill schedule its function does not let act",
     ",${RestoreDrillScheduleGroup}/weekly-drill\n",
     "\n",
     "[schedule] RestoreDrillWeeklySchedule: RestoreDrillFunction's ALLOWED_SCHEDULES does not name it"),
    ("a schedule task restore-drill does not take",
     '          "task": "sweep"}\n',
     '          "task": "cleanup"}\n',
     "[schedule] RestoreDrillSweepSchedule: RestoreDrillFunction refuses the input's task 'cleanup': one of "
     "audit, drill, sweep, validate (Task in functions/restore-drill/src/request.rs)"),
    ("a restore-drill schedule input without a task",
     '"execution_id": "<aws.scheduler.execution-id>"},\n          "task": "audit"}\n',
     '"execution_id": "<aws.scheduler.execution-id>"}}\n',
     "[schedule] RestoreDrillAuditSchedule: RestoreDrillFunction refuses the input's task None"),
    ("a schedule input without the scheduled time",
     CONTEXT + '          "task": "audit"}\n',
     CONTEXT.replace('          "scheduled_time": "<aws.scheduler.scheduled-time>",\n', "")
     + '          "task": "audit"}\n',
     "[schedule] RestoreDrillAuditSchedule: the input's \"scheduler\" must carry \"scheduled_time\""),
    ("a schedule input that is no JSON",
     '          "task": "drill"}\n',
     '          "task": drill}\n',
     "[schedule] RestoreDrillWeeklySchedule: the input is not JSON"),
    ("restore-drill's schedule role trusting any account",
     "              StringEquals: { \"aws:SourceAccount\": !Ref AWS::AccountId }\n"
     "              # Scheduler names the schedule group as the source; either form stays in ours.\n"
     "              ArnLike:\n                aws:SourceArn:\n                  - !GetAtt RestoreDrillScheduleGroup.Arn\n",
     "              ArnLike:\n                aws:SourceArn:\n                  - !GetAtt RestoreDrillScheduleGroup.Arn\n",
     "[schedule] RestoreDrillScheduleRole: the trust policy of RestoreDrillAuditSchedule's role has no "
     "aws:SourceAccount"),

    # alarm-permission, reserved-concurrency, ledger, topic-key
    ("an alarm permission for any alarm",
     "      SourceArn: !Sub arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${ReaperAlarmNamePrefix}*\n",
     "",
     "[alarm-permission] IdleReaperAllowedAlarmsPermission: IdleReaperAllowedAlarmsPermission lets any alarm"),
    ("a reaper without reserved concurrency",
     "      ReservedConcurrentExecutions: !Ref ReaperReservedConcurrency\n",
     "",
     "[reserved-concurrency] IdleReaperFunction"),

    # restore-testing: restore-drill's AWS Backup restore test validations
    ("a restore-testing verdict posted by another function",
     f"Action: dynamodb:ListBackups\n{KEY}Resource: \"*\"",
     f"Action: [dynamodb:ListBackups, backup:PutRestoreValidationResult]\n{KEY}Resource: \"*\"",
     "[restore-testing] SnapshotterFunction: ListTableBackups lets SnapshotterFunction "
     "backup:PutRestoreValidationResult (by backup:PutRestoreValidationResult): only a function of "
     "RESTORE_VALIDATORS"),
    ("a restore-testing verdict on every resource, whether plans are listed or not",
     f"- Sid: ReadDatabasesAndBackups\n{KEY}Effect: Allow\n{KEY}Action:\n",
     f"- Sid: ReadDatabasesAndBackups\n{KEY}Effect: Allow\n{KEY}Action:\n"
     "                - backup:PutRestoreValidationResult\n",
     "[restore-testing] RestoreDrillFunction: ReadDatabasesAndBackups lets RestoreDrillFunction "
     "backup:PutRestoreValidationResult (by backup:PutRestoreValidationResult) outside !If ValidatesRestoreTests"),
    ("a restore-testing verdict in every region",
     VALIDATE,
     f"Action: [backup:DescribeRestoreJob, backup:ListRestoreJobs, backup:ListRestoreTestingPlans, backup:PutRestoreValidationResult]\n"
     f"{TKEY}Resource: \"*\"\n",
     "ValidateRestoreTests lets RestoreDrillFunction backup:PutRestoreValidationResult (by "
     "backup:PutRestoreValidationResult) without StringEquals aws:RequestedRegion: !Ref AWS::Region"),
    ("restore-testing grants under another condition",
     "              - ValidatesRestoreTests\n              - Sid: ValidateRestoreTests\n",
     "              - DrillsTables\n              - Sid: ValidateRestoreTests\n",
     "ValidateRestoreTests lets RestoreDrillFunction backup:PutRestoreValidationResult (by "
     "backup:PutRestoreValidationResult) outside !If ValidatesRestoreTests: with "
     "RestoreDrillRestoreTestingPlans empty its code posts nothing"),
    ("a restore-testing verdict by a wildcard action",
     VALIDATE,
     VALIDATE.replace("backup:PutRestoreValidationResult]", "\"backup:Put*\"]"),
     "[write-on-any-resource] RestoreDrillFunction: ValidateRestoreTests grants backup:Put* on Resource '*', "
     "any resource"),
    ("restore-testing without the job read",
     VALIDATE,
     VALIDATE.replace("backup:DescribeRestoreJob, ", ""),
     "[restore-testing] RestoreDrillFunction: calls Backup DescribeRestoreJob (shared/src/restore_testing.rs), "
     "which no grant under !If ValidatesRestoreTests allows"),
    ("restore-testing without the read of its plans' validation windows",
     "                Action: backup:ListRestoreTestingSelections\n",
     "                Action: backup:ListRestoreTestingPlans\n",
     "[restore-testing] RestoreDrillFunction: calls Backup ListRestoreTestingSelections (shared/src/restore_testing.rs), "
     "which no grant under !If ValidatesRestoreTests allows"),
    ("restore-drill's plans not from a list parameter",
     f"{ENV}RESTORE_TESTING_PLANS: !Join [\",\", !Ref RestoreDrillRestoreTestingPlans]\n",
     f"{ENV}RESTORE_TESTING_PLANS: !Select [0, !Ref RestoreDrillRestoreTestingPlans]\n",
     "[restore-testing] RestoreDrillFunction: sets RESTORE_TESTING_PLANS from"),
    ("restore-testing under a condition that is not about the plans",
     "  ValidatesRestoreTests: !Not [!Equals [!Join [\"\", !Ref RestoreDrillRestoreTestingPlans], \"\"]]\n",
     "  ValidatesRestoreTests: !Equals [!Ref RestoreDrillDryRun, \"false\"]\n",
     "[restore-testing] RestoreDrillFunction: no template condition holds when RestoreDrillRestoreTestingPlans "
     "lists a plan"),
    ("the restore-job rule without its condition",
     "    Condition: ValidatesRestoreTests\n    Properties:\n      Description: !Sub AWS Backup restore tests",
     "    Properties:\n      Description: !Sub AWS Backup restore tests",
     "[restore-testing] RestoreTestEventsRule: routes restore jobs to RestoreDrillFunction without Condition: "
     "ValidatesRestoreTests"),
    ("the restore-job rule for every status",
     "          status: [COMPLETED]\n",
     "",
     "[restore-testing] RestoreTestEventsRule: routes restore jobs to RestoreDrillFunction in status any: "
     "only [COMPLETED]"),
    ("the restore-job rule for failed restores too",
     "          status: [COMPLETED]\n",
     "          status: [COMPLETED, FAILED]\n",
     "routes restore jobs to RestoreDrillFunction in status ['COMPLETED', 'FAILED']: only [COMPLETED]"),
    ("the restore-job rule for every plan",
     "          restoreTestingPlanArn: !Ref RestoreDrillRestoreTestingPlans\n",
     "",
     "[restore-testing] RestoreTestEventsRule: routes restore jobs to RestoreDrillFunction of every plan: "
     "limit detail.restoreTestingPlanArn to !Ref RestoreDrillRestoreTestingPlans"),
    ("the restore-job rule for backup jobs",
     "        detail-type: [Restore Job State Change]\n",
     "        detail-type: [Backup Job State Change]\n",
     "routes restore jobs to RestoreDrillFunction of detail-type ['Backup Job State Change']: only "
     "[Restore Job State Change]"),
    ("restore jobs routed to another function",
     "          restoreTestingPlanArn: !Ref RestoreDrillRestoreTestingPlans\n      Targets:\n"
     "        - Id: restore-tests\n          Arn: !GetAtt RestoreDrillFunction.Arn\n",
     "          restoreTestingPlanArn: !Ref RestoreDrillRestoreTestingPlans\n      Targets:\n"
     "        - Id: snapshotter\n          Arn: !GetAtt SnapshotterFunction.Arn\n",
     "[restore-testing] RestoreTestEventsRule: routes AWS Backup events to SnapshotterFunction, which "
     "validates no restore test"),
    ("no rule routes restore jobs to restore-drill",
     "        source: [aws.backup]\n",
     "        source: [aws.health]\n",
     "[restore-testing] RestoreDrillFunction: validates the restore tests of RestoreDrillRestoreTestingPlans "
     "(RESTORE_TESTING_PLANS), which no EventBridge rule routes to it"),
    ("the restore-job rule's dead letters without a queue policy",
     "                  aws:SourceArn: !GetAtt RestoreTestEventsRule.Arn\n",
     "                  aws:SourceArn: !GetAtt RdsRestoreEventsRule.Arn\n",
     "[dead-letter-policy] RestoreTestEventsRule: rule RestoreTestEventsRule has a dead-letter queue without"),

    # scratch-instances, restore tests: the instance restore-drill adds to Backup's Aurora cluster
    ("a restore test's instance created whether plans are listed or not",
     TEST_POLICY,
     "RestoreDrillRestoreTestPolicy:\n    Type: AWS::IAM::ManagedPolicy\n",
     TEST_CREATE_REFUSED + "outside !If ValidatesRestoreTests (with RestoreDrillRestoreTestingPlans empty its "
     "code adds no instance): its code adds one instance to the cluster AWS Backup restored"),
    ("a restore test's instance tagged under another condition",
     TEST_POLICY,
     TEST_POLICY.replace("ValidatesRestoreTests", "DrillsTables"),
     TEST_TAG_REFUSED + "outside !If ValidatesRestoreTests"),
    ("a restore test's instance created without the restore job's tag",
     TEST_CREATE + TEST_TAGGED,
     TEST_CREATE + TEST_TAGGED.replace("                aws:RequestTag/rds-responder:validates: \"?*\"\n", ""),
     TEST_CREATE_REFUSED + "without StringLike aws:RequestTag/rds-responder:validates: \"?*\" (VALIDATES_TAG in "
     "functions/restore-drill/src/policy/validation.rs: the restore job it validates)"),
    ("a restore test's instance created with an empty restore job tag",
     TEST_CREATE + TEST_TAGGED,
     TEST_CREATE + TEST_TAGGED.replace('validates: "?*"', 'validates: "*"'),
     TEST_CREATE_REFUSED + "without StringLike aws:RequestTag/rds-responder:validates: \"?*\""),
    ("a restore test's instance created as another deployment's",
     TEST_CREATE + TEST_TAGGED + TEST_OWNER,
     TEST_CREATE + TEST_TAGGED,
     TEST_CREATE_REFUSED + "without StringEquals aws:RequestTag/rds-responder:drill-owner: !Ref LedgerTable "
     "(LEDGER_TABLE: its sweep deletes only its own deployment's)"),
    ("a restore test's instance created with a sixth tag key",
     TEST_CREATE + TEST_TAGGED + TEST_OWNER + TEST_KEYS,
     TEST_CREATE + TEST_TAGGED + TEST_OWNER + TEST_KEYS.replace("]\n", ", \"rds-responder:restore-drill\"]\n"),
     TEST_CREATE_REFUSED + "with tag keys " + TEST_KEY_LIST.replace(", rds-responder:validates", "")
     + ", rds-responder:restore-drill, rds-responder:validates, not " + TEST_KEY_LIST
     + " (a drill's and VALIDATES_TAG)"),
    ("a restore test's instance created with any tag keys",
     TEST_CREATE + TEST_TAGGED + TEST_OWNER + TEST_KEYS,
     TEST_CREATE + TEST_TAGGED + TEST_OWNER,
     TEST_CREATE_REFUSED + "with tag keys of any kind, not " + TEST_KEY_LIST),
    ("a restore test's instance of any name",
     TEST_CREATE,
     TEST_CREATE.replace(f"              - {SCRATCH_ARN}\n", f"              - {DB_ARN}\n"),
     "[scratch-instances] RestoreDrillRestoreTestPolicy: AddRestoreTestInstances lets RestoreDrillFunction "
     "rds:CreateDBInstance (by rds:CreateDBInstance) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*: only of its scratch instances"),
    ("a restore test's instance created publicly accessible",
     TEST_CREATE + TEST_TAGGED + TEST_OWNER + TEST_KEYS + TEST_PRIVATE,
     TEST_CREATE + TEST_TAGGED + TEST_OWNER + TEST_KEYS,
     "[scratch-instances] RestoreDrillRestoreTestPolicy: AddRestoreTestInstances lets RestoreDrillFunction "
     "rds:CreateDBInstance (by rds:CreateDBInstance) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*-rr-drill-* without Bool "
     "rds:PubliclyAccessible: \"false\""),
    ("a restore test's grant that also restores with its keys",
     TEST_CREATE,
     TEST_CREATE.replace("Action: rds:CreateDBInstance", "Action: [rds:CreateDBInstance, rds:RestoreDBInstanceFromDBSnapshot]"),
     "[scratch-instances] RestoreDrillRestoreTestPolicy: AddRestoreTestInstances lets RestoreDrillFunction "
     "rds:RestoreDBInstanceFromDBSnapshot (by rds:RestoreDBInstanceFromDBSnapshot) with tag keys "
     + TEST_KEY_LIST + ": limit them"),
    ("a drill's instance into any cluster, with the restore job's tag but outside the condition",
     CREATE_MEMBER + SCRATCH_TAGGED,
     CREATE_MEMBER.replace(f"                - {SCRATCH_CLUSTER_ARN}\n", f"                - {CLUSTER_ARN}\n")
     + SCRATCH_TAGGED + "                  aws:RequestTag/rds-responder:validates: \"?*\"\n",
     "[scratch-instances] RestoreDrillFunction: CreateScratchClusterInstances lets RestoreDrillFunction "
     "rds:CreateDBInstance (by rds:CreateDBInstance) for a restore test's instance (its request naming "
     "rds-responder:validates) outside !If ValidatesRestoreTests"),
    ("a restore test's instance when restore-drill's plans are no list parameter",
     f"{ENV}RESTORE_TESTING_PLANS: !Join [\",\", !Ref RestoreDrillRestoreTestingPlans]\n",
     f"{ENV}RESTORE_TESTING_PLANS: !Select [0, !Ref RestoreDrillRestoreTestingPlans]\n",
     "[scratch-instances] RestoreDrillRestoreTestPolicy: AddRestoreTestInstances lets RestoreDrillFunction "
     "rds:CreateDBInstance (by rds:CreateDBInstance) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*: only into its scratch clusters"),
    ("a restore test's instance granted to another function",
     "      Roles: [!Ref RestoreDrillFunctionRole]\n",
     "      Roles: [!Ref SnapshotterFunctionRole]\n",
     "[scratch-instances] RestoreDrillRestoreTestPolicy: AddRestoreTestInstances lets SnapshotterFunction "
     "rds:CreateDBInstance (by rds:CreateDBInstance): only a function of SCRATCH_INSTANCES"),
    ("a restore test's instance tagged without the restore job's tag",
     TEST_TAG + TEST_TAGGED,
     TEST_TAG + TEST_TAGGED.replace("                aws:RequestTag/rds-responder:validates: \"?*\"\n", ""),
     TEST_TAG_REFUSED + "without StringLike aws:RequestTag/rds-responder:validates: \"?*\""),
    ("a restore test's instance tagged as another deployment's",
     TEST_TAG + TEST_TAGGED + TEST_OWNER,
     TEST_TAG + TEST_TAGGED,
     TEST_TAG_REFUSED + "without StringEquals aws:RequestTag/rds-responder:drill-owner: !Ref LedgerTable"),
    ("a restore test's instance tagged with a sixth tag key",
     TEST_TAG + TEST_TAGGED + TEST_OWNER + TEST_NOT_RETAGGED + TEST_KEYS,
     TEST_TAG + TEST_TAGGED + TEST_OWNER + TEST_NOT_RETAGGED
     + TEST_KEYS.replace("]\n", ", \"rds-responder:restore-drill\"]\n"),
     TEST_TAG_REFUSED + "with tag keys " + TEST_KEY_LIST.replace(", rds-responder:validates", "")
     + ", rds-responder:restore-drill, rds-responder:validates, not " + TEST_KEY_LIST),
    ("a restore test's tags on scratch clusters too",
     TEST_TAG,
     f"Action: rds:AddTagsToResource\n{MKEY}Resource:\n              - {SCRATCH_ARN}\n"
     f"              - {SCRATCH_CLUSTER_ARN}\n{MKEY}Condition:\n",
     TEST_TAG_REFUSED + "on arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*-rr-drill-*: "
     "only on the new scratch instance (db:<cluster>-rr-drill-<time>)"),
    ("a restore test's tags on any cluster",
     TEST_TAG,
     f"Action: rds:AddTagsToResource\n{MKEY}Resource:\n              - {SCRATCH_ARN}\n"
     f"              - {CLUSTER_ARN}\n{MKEY}Condition:\n",
     "[snapshot-tagging] RestoreDrillRestoreTestPolicy: RestoreDrillRestoreTestPolicy may tag "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*: tagging only on its own new snapshots"),
    ("a drill's tagging statement taking the restore job's key",
     TAG_SCRATCH + SCRATCH_TAGGED + SCRATCH_KEYS,
     TAG_SCRATCH + SCRATCH_TAGGED + SCRATCH_KEYS.replace("]\n", ", \"rds-responder:validates\"]\n"),
     "[snapshot-tagging] RestoreDrillFunction: RestoreDrillFunction may tag a restore test's instance (its request "
     "naming rds-responder:validates) outside !If ValidatesRestoreTests"),

    # count-only-scans
    ("a Scan of any table that reads items",
     "                  StringEquals: { \"dynamodb:Select\": COUNT }\n",
     "                  StringEquals: { \"aws:RequestedRegion\": !Ref AWS::Region }\n",
     "[count-only-scans] RestoreDrillFunction: CountRestoreTestTables lets RestoreDrillFunction dynamodb:Scan "
     "(by dynamodb:Scan) on arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/* without "
     "StringEquals dynamodb:Select: COUNT"),
    ("a Scan of the drilled tables that reads items",
     "                    StringEquals: { \"aws:RequestedRegion\": !Ref AWS::Region, \"dynamodb:Select\": COUNT }\n",
     "                    StringEquals: { \"aws:RequestedRegion\": !Ref AWS::Region }\n",
     "[count-only-scans] RestoreDrillFunction: CountDrilledTables lets RestoreDrillFunction dynamodb:Scan"),

    # policy-size
    ("restore-drill's inline policies past IAM's limit",
     "                - !Sub ${ReportBucket.Arn}/reports/restore-drill/*\n",
     "                - !Sub ${ReportBucket.Arn}/reports/restore-drill/*\n"
     "            - Effect: Allow\n              Action: s3:GetObject\n              Resource:\n"
     + "".join(f"                - !Sub ${{ReportBucket.Arn}}/reports/restore-drill/{i:02d}/*\n" for i in range(8)),
     "[policy-size] RestoreDrillFunction: its role's inline policies come to about"),
    ("an IAM::Policy on restore-drill's role past the inline limit with its Policies",
     "  RestoreDrillLogGroup:\n",
     "  RestoreDrillMorePolicy:\n    Type: AWS::IAM::Policy\n    Properties:\n      PolicyName: more\n"
     "      Roles: [!Ref RestoreDrillFunctionRole]\n      PolicyDocument:\n"
     "        Version: \"2012-10-17\"\n        Statement:\n          - Effect: Allow\n"
     "            Action: s3:GetObject\n            Resource:\n"
     + "".join(f"              - !Sub ${{ReportBucket.Arn}}/reports/restore-drill/{i:02d}/*\n" for i in range(8))
     + "\n  RestoreDrillLogGroup:\n",
     "[policy-size] RestoreDrillFunction: its role's inline policies come to about"),
    ("restore-drill's managed policy past IAM's limit",
     f"              - {PG_ARN}\n{MKEY}Condition:\n",
     f"              - {PG_ARN}\n"
     + "".join(f"              - !Sub arn:${{AWS::Partition}}:rds:${{AWS::Region}}:${{AWS::AccountId}}:cluster:"
               f"awsbackup-restore-test-{i:03d}-*\n" for i in range(60))
     + f"{MKEY}Condition:\n",
     "[policy-size] RestoreDrillRestoreTestPolicy: its document comes to about"),
    # The dashboard and alarms read only what the code emits (shared/src/metrics.rs).
    ("a dashboard widget reads a metric nothing emits",
     'MetricName=\\"SessionsTerminated\\"',
     'MetricName=\\"SessionsReaped\\"',
     "[dashboard] Dashboard: widget 'Sessions terminated' reads SessionsReaped, which no function emits"),
    ("a dashboard widget reads a metric by dimensions it is not emitted with",
     "{\\\"RdsResponder/${AWS::StackName}\\\",Function} MetricName=\\\"FailedChecks\\\"",
     "{\\\"RdsResponder/${AWS::StackName}\\\",Function,Resource} MetricName=\\\"FailedChecks\\\"",
     "[dashboard] Dashboard: widget 'Failed checks' reads FailedChecks by Function, Resource: it is emitted by Function"),
    ("a dashboard widget reads another namespace",
     "{\\\"RdsResponder/${AWS::StackName}\\\",Function,Outcome} MetricName=\\\"Runs\\\"",
     "{RdsResponder,Function,Outcome} MetricName=\\\"Runs\\\"",
     "[dashboard] Dashboard: widget 'Runs by function and outcome' reads RdsResponder/Runs: the functions' "
     "metrics are in RdsResponder/STACK"),
    ("a dashboard SEARCH without a metric name",
     "{\\\"RdsResponder/${AWS::StackName}\\\",Function} MetricName=\\\"Duration\\\"",
     "{\\\"RdsResponder/${AWS::StackName}\\\",Function} Duration",
     "[dashboard] Dashboard: widget 'Run duration (ms)': a SEARCH without a schema and MetricName"),
    ("a dashboard reads an AWS metric that is no queue's depth",
     '["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${IdleReaperDeadLetterQueue.QueueName}"',
     '["AWS/Lambda", "Errors", "FunctionName", "${IdleReaperFunction}"',
     "[dashboard] Dashboard: widget 'Dead-letter queue depth' reads AWS/Lambda/Errors by FunctionName: the only "
     "AWS metric it shows"),
    ("a dashboard reads the depth of a queue of another stack",
     '"QueueName", "${IdleReaperDeadLetterQueue.QueueName}"',
     '"QueueName", "someone-elses-queue"',
     "[dashboard] Dashboard: widget 'Dead-letter queue depth' reads the depth of someone-elses-queue, no queue"),
    ("a dashboard body that is not JSON",
     '          "widgets": [\n',
     '          "widgets": [,\n',
     "[dashboard] Dashboard: its DashboardBody is not a dashboard's JSON"),
    ("the RPO alarm reads a metric nothing emits",
     "SELECT MAX(RpoBreached) FROM SCHEMA(",
     "SELECT MAX(RpoMissed) FROM SCHEMA(",
     "[dashboard] RpoBreachedAlarm: the alarm reads RpoMissed, which no function emits"),
    ("the RPO alarm reads it by fewer dimensions",
     "SCHEMA(\"RdsResponder/${AWS::StackName}\", \"Function\", \"Resource\")",
     "SCHEMA(\"RdsResponder/${AWS::StackName}\", \"Function\")",
     "[dashboard] RpoBreachedAlarm: the alarm reads RpoBreached by Function: it is emitted by Function, Resource"),
    ("the RPO alarm's query leaves a reserved word unquoted",
     "SCHEMA(\"RdsResponder/${AWS::StackName}\", \"Function\", \"Resource\")",
     "SCHEMA(\"RdsResponder/${AWS::StackName}\", Function, \"Resource\")",
     "[dashboard] RpoBreachedAlarm: the alarm: Function is a reserved word of Metrics Insights: quote it"),
    ("the RPO alarm's filter leaves a reserved word unquoted",
     "WHERE \"Function\" = 'restore-drill'",
     "WHERE Function = 'restore-drill'",
     "[dashboard] RpoBreachedAlarm: the alarm: Function is a reserved word of Metrics Insights: quote it"),
    ("a SEARCH schema with the namespace unquoted",
     "SEARCH('{\\\"RdsResponder/${AWS::StackName}\\\",Function} MetricName=\\\"FailedChecks",
     "SEARCH('{RdsResponder/${AWS::StackName},Function} MetricName=\\\"FailedChecks",
     "[dashboard] Dashboard: widget 'Failed checks': quote a schema name with characters other than letters"),
    # Central reporting: the central bucket's archive grant is held to the same rule.
    ("a central archive without the read its HeadObject needs",
     "              Action: [s3:PutObject, s3:GetObject]\n              Resource: !If\n                - ArchivesCentrally\n"
     "                - !Sub arn:${AWS::Partition}:s3:::${CentralReportBucket}/reports/${AWS::AccountId}/snapshotter/*\n"
     "                - !Sub ${ReportBucket.Arn}/reports/snapshotter/*\n",
     "              Action: [s3:PutObject, s3:GetObject]\n              Resource: !Sub ${ReportBucket.Arn}/reports/snapshotter/*\n"
     "            - Sid: ArchiveCentrally\n              Effect: Allow\n              Action: s3:PutObject\n"
     "              Resource: !Sub arn:${AWS::Partition}:s3:::${CentralReportBucket}/reports/${AWS::AccountId}/snapshotter/*\n",
     "[archive-read] SnapshotterFunction: SnapshotterFunction may s3:PutObject on "
     "arn:${AWS::Partition}:s3:::${CentralReportBucket}/reports/${AWS::AccountId}/snapshotter/* but not s3:GetObject"),
]

# The same for the code the real template must keep up with: (what changed, file, text replaced
# (exactly once), replacement, words the refusal must contain).
CODE_VARIANTS = [
    ("the config requires a new variable",
     "functions/snapshotter/src/config.rs",
     "        let tables = env\n",
     "        let _vault = env.required(\"BACKUP_VAULT\")?;\n        let tables = env\n",
     "[env-matches-config] SnapshotterFunction: does not set BACKUP_VAULT, which"),
    ("the shared config reads a variable nobody is known to call",
     "shared/src/config.rs",
     "impl EndpointMap {\n",
     "impl Unused {\n    fn x(env: &Env) -> Option<&str> { env.optional(\"DB_POOL\") }\n}\n\nimpl EndpointMap {\n",
     "reads DB_POOL in impl Unused, which neither CommonConfig nor DbConfig reaches"),
    ("the code handles a new event id",
     "functions/failover-check/src/policy.rs",
     "CLUSTER_FAILOVER_STARTED: [u16; 2] = [72, 73];",
     "CLUSTER_FAILOVER_STARTED: [u16; 3] = [72, 73, 70];",
     "handles RDS-EVENT-0070 (functions/failover-check/src/policy.rs), which no EventBridge pattern routes"),
    ("a constant renamed",
     "functions/failover-check/src/policy.rs",
     "pub const INSTANCE_FAILOVER_STARTED:",
     "pub const INSTANCE_FAILOVER_BEGAN:",
     "no event ids in INSTANCE_FAILOVER_STARTED of functions/failover-check/src/policy.rs"),
    ("storage-guard handles a new near-maximum event id",
     "functions/storage-guard/src/policy/mod.rs",
     "NEAR_MAXIMUM_EVENTS: [u16; 2] = [224, 225];",
     "NEAR_MAXIMUM_EVENTS: [u16; 3] = [224, 225, 226];",
     "[event-ids] StorageGuardFunction: handles RDS-EVENT-0226 (functions/storage-guard/src/policy/mod.rs), "
     "which no EventBridge pattern routes"),
    ("storage-guard no longer handles an event id",
     "functions/storage-guard/src/policy/mod.rs",
     "LOW_STORAGE_EVENTS: [u16; 9] = [7, 89, 219, 220, 221, 222, 223, 237, 254];",
     "LOW_STORAGE_EVENTS: [u16; 8] = [7, 89, 219, 220, 221, 222, 223, 237];",
     "[event-ids] RdsStorageEventsRule: routes RDS-EVENT-0254 to StorageGuardFunction, which does not handle it"),
    ("storage-guard answers another metric",
     "functions/storage-guard/src/policy/mod.rs",
     "    name: \"FreeStorageSpace\",\n",
     "    name: \"FreeLocalStorage\",\n",
     "[alarm-routes] StorageGuardFunction: answers AWS/RDS FreeLocalStorage alarms (FREE_STORAGE in "
     "functions/storage-guard/src/policy/mod.rs), which no EventBridge rule routes to it"),
    ("the code opts instances in by more values",
     "rules/src/safety.rs",
     "pub const ON_VALUES: [&str; 4] = [\"on\", \"enabled\", \"true\", \"yes\"];",
     "pub const ON_VALUES: [&str; 5] = [\"on\", \"enabled\", \"true\", \"yes\", \"1\"];",
     "[opt-in] StorageGuardFunction: ChangeOptedInStorage lets StorageGuardFunction rds:ModifyDBInstance"),
    ("storage-guard writes another record tag",
     "functions/storage-guard/src/checks.rs",
     "pub const CHANGE_TAG: &str = \"rds-responder:storage-change\";",
     "pub const CHANGE_TAG: &str = \"rds-responder:storage-changes\";",
     "may tag its instances with rds-responder:storage-change: only with rds-responder:storage-changes"),
    ("storage-guard's database feature (the VPC rule reads the manifest)",
     "functions/storage-guard/Cargo.toml",
     "features = [\"db\", \"alarms\"]",
     "features = [\"alarms\"]",
     "[env-matches-config] StorageGuardFunction: sets DB_USER, which"),
    ("restore-drill handles a new restore event id",
     "functions/restore-drill/src/policy/mod.rs",
     "RESTORED_EVENTS: [u16; 2] = [43, 19];",
     "RESTORED_EVENTS: [u16; 3] = [43, 19, 8];",
     "[event-ids] RestoreDrillFunction: handles RDS-EVENT-0008 (functions/restore-drill/src/policy/mod.rs), "
     "which no EventBridge pattern routes"),
    ("restore-drill names its scratch instances otherwise",
     "functions/restore-drill/src/policy/drill.rs",
     "pub const SCRATCH_MARK: &str = \"-rr-drill-\";",
     "pub const SCRATCH_MARK: &str = \"-rr-restore-\";",
     "[scratch-instances] RestoreDrillFunction: RestoreOntoScratchInstances lets RestoreDrillFunction "
     "rds:RestoreDBInstanceFromDBSnapshot (by rds:RestoreDBInstanceFromDBSnapshot) without StringLike "
     "aws:RequestTag/rds-responder:drill: \"*-rr-restore-*\""),
    ("restore-drill writes another tag key on its scratch instances",
     "functions/restore-drill/src/policy/drill.rs",
     "pub const EXPIRES_TAG: &str = \"rds-responder:drill-expires\";",
     "pub const EXPIRES_TAG: &str = \"rds-responder:drill-until\";",
     "may tag its scratch instances or clusters with rds-responder:drill, rds-responder:drill-expires, "
     "rds-responder:drill-owner, rds-responder:drill-source: only with rds-responder:drill, "
     "rds-responder:drill-owner, rds-responder:drill-source, rds-responder:drill-until"),
    ("restore-drill tags its scratch resources' owner under another key",
     "functions/restore-drill/src/policy/drill.rs",
     "pub const OWNER_TAG: &str = \"rds-responder:drill-owner\";",
     "pub const OWNER_TAG: &str = \"rds-responder:drill-deployment\";",
     "[scratch-instances] RestoreDrillFunction: DeleteScratchInstances lets RestoreDrillFunction "
     "rds:DeleteDBInstance (by rds:DeleteDBInstance) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*-rr-drill-* without StringEquals "
     "aws:ResourceTag/rds-responder:drill-deployment: !Ref LedgerTable (LEDGER_TABLE, its deployment's "
     "ledger table): its sweep deletes only the scratch instances its own ledger's drills made"),
    ("restore-drill's owner tag constant renamed",
     "functions/restore-drill/src/policy/drill.rs",
     "pub const OWNER_TAG: &str",
     "pub const DEPLOYMENT_TAG: &str",
     "[scratch-instances] RestoreDrillFunction: no OWNER_TAG in functions/restore-drill/src/policy/drill.rs: "
     "update SCRATCH_INSTANCES in check-template.py"),
    ("restore-drill enrols databases for drills by another value",
     "functions/restore-drill/src/policy/drill.rs",
     "Some(v) if v == \"drill\" => Enrolment::Drill,",
     "Some(v) if v == \"restore\" => Enrolment::Drill,",
     "RestoreFromDrilledInstances lets RestoreDrillFunction rds:RestoreDBInstanceToPointInTime (by "
     "rds:RestoreDBInstanceToPointInTime) on arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*: "
     "only onto its scratch instances (<db>-rr-drill-<time>, SCRATCH_MARK in "
     "functions/restore-drill/src/policy/drill.rs), or from instances enrolled for drills "
     "(StringEqualsIgnoreCase aws:ResourceTag/rds-responder:restore-drill: restore"),
    ("restore-drill's scratch tag constant renamed",
     "functions/restore-drill/src/policy/drill.rs",
     "pub const SCRATCH_TAG: &str",
     "pub const DRILL_ID_TAG: &str",
     "[scratch-instances] RestoreDrillFunction: no SCRATCH_TAG in functions/restore-drill/src/policy/drill.rs: "
     "update SCRATCH_INSTANCES in check-template.py"),
    ("restore-drill renames a scheduled task",
     "functions/restore-drill/src/request.rs",
     "    Sweep,\n",
     "    Clean,\n",
     "[schedule] RestoreDrillSweepSchedule: RestoreDrillFunction refuses the input's task 'sweep': one of "
     "audit, drill, clean"),
    ("restore-drill handles another cluster event id",
     "functions/restore-drill/src/policy/mod.rs",
     "CLUSTER_RESTORED_EVENTS: [u16; 1] = [170];",
     "CLUSTER_RESTORED_EVENTS: [u16; 1] = [171];",
     "[event-ids] RdsRestoreEventsRule: routes RDS-EVENT-0170 to RestoreDrillFunction, which does not handle it"),
    ("restore-drill's instance-created constant renamed",
     "functions/restore-drill/src/policy/mod.rs",
     "pub const INSTANCE_CREATED_EVENTS:",
     "pub const INSTANCE_ADDED_EVENTS:",
     "[event-ids] RestoreDrillFunction: no event ids in INSTANCE_CREATED_EVENTS of "
     "functions/restore-drill/src/policy/mod.rs"),
    ("restore-drill no longer reads the drilled tables",
     "functions/restore-drill/src/config.rs",
     "tables(\"DRILL_TABLES\")",
     "tables(\"DRILL_TABLE_NAMES\")",
     "[env-matches-config] RestoreDrillFunction: sets DRILL_TABLES, which"),
    ("restore-drill validates restore jobs in another status",
     "functions/restore-drill/src/policy/mod.rs",
     "if job.status != \"COMPLETED\" {",
     "if job.status != \"SUCCEEDED\" {",
     "[restore-testing] RestoreTestEventsRule: routes restore jobs to RestoreDrillFunction in status "
     "['COMPLETED']: only [SUCCEEDED], the one restore_job_decision"),
    ("restore testing calls another Backup operation",
     "shared/src/restore_testing.rs",
     ".bounded(\"Backup DescribeRestoreJob\")",
     ".bounded(\"Backup GetRestoreJobMetadata\")",
     "[restore-testing] RestoreDrillFunction: calls Backup GetRestoreJobMetadata (shared/src/restore_testing.rs), "
     "which no grant under !If ValidatesRestoreTests allows (backup:GetRestoreJobMetadata)"),
    ("AWS Backup's restore job events named otherwise",
     "rules/src/trigger/backup_event.rs",
     "pub const RESTORE_JOB_STATE_CHANGE: &str = \"Restore Job State Change\";",
     "pub const RESTORE_JOB_STATE_CHANGE: &str = \"Restore Job Status Change\";",
     "routes restore jobs to RestoreDrillFunction of detail-type ['Restore Job State Change']: only "
     "[Restore Job Status Change]"),
    ("the restore job event constant renamed",
     "rules/src/trigger/backup_event.rs",
     "pub const RESTORE_JOB_STATE_CHANGE: &str",
     "pub const RESTORE_JOB_CHANGE: &str",
     "[restore-testing] RestoreDrillFunction: no RESTORE_JOB_STATE_CHANGE in rules/src/trigger/backup_event.rs"),
    ("restore-drill's restore test instance tag constant renamed",
     "functions/restore-drill/src/policy/validation.rs",
     "pub const VALIDATES_TAG: &str",
     "pub const JOB_TAG: &str",
     "[restore-testing] RestoreDrillFunction: no VALIDATES_TAG in functions/restore-drill/src/policy/validation.rs: "
     "update RESTORE_VALIDATORS in check-template.py"),
    ("restore-drill tags a restore test's instance with another key",
     "functions/restore-drill/src/policy/validation.rs",
     "pub const VALIDATES_TAG: &str = \"rds-responder:validates\";",
     "pub const VALIDATES_TAG: &str = \"rds-responder:restore-job\";",
     "[scratch-instances] RestoreDrillRestoreTestPolicy: AddRestoreTestInstances lets RestoreDrillFunction "
     "rds:CreateDBInstance (by rds:CreateDBInstance) on "
     "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*: only into its scratch clusters"),
    ("restore-drill no longer reads the restore testing plans",
     "functions/restore-drill/src/config.rs",
     "let var = \"RESTORE_TESTING_PLANS\";",
     "let var = \"RESTORE_PLANS\";",
     "[env-matches-config] RestoreDrillFunction: sets RESTORE_TESTING_PLANS, which"),
    ("the dashboard's metric is no longer emitted",
     "shared/src/metrics.rs",
     'name: "SessionsTerminated"',
     'name: "SessionsKilled"',
     "[dashboard] Dashboard: widget 'Sessions terminated' reads SessionsTerminated, which no function emits"),
    ("the metric catalog unreadable",
     "shared/src/metrics.rs",
     "pub const CATALOG: &[MetricSpec] = &[",
     "pub static CATALOG: Vec<MetricSpec> = vec![",
     "[dashboard] shared/src/metrics.rs: its CATALOG of MetricSpecs cannot be read"),
    ("restore-drill's database feature (the VPC rule reads the manifest)",
     "functions/restore-drill/Cargo.toml",
     "features = [\"db\", \"restore-testing\"]",
     "features = [\"restore-testing\"]",
     "[env-matches-config] RestoreDrillFunction: sets DB_USER, which"),
]


# The readers of the Rust sources, on fixtures: (what, Rust text, expected reads).
ENV_FIXTURES = [
    ("a closure over the reader, called with the names",
     'let tables = |var: &str| {\n    env.list(var)\n        .iter()\n        .collect::<Vec<_>>()\n};\n'
     'let drill = tables("DRILL_TABLES");\nlet audit = tables("AUDIT_TABLES");\n',
     {"DRILL_TABLES": False, "AUDIT_TABLES": False}),
    ("a closure requiring its variable, in one expression",
     'let need = |name| env.required(name);\nlet vault = need("BACKUP_VAULT")?;\n',
     {"BACKUP_VAULT": True}),
    ("a name bound, then read",
     'let var = "RESTORE_TESTING_PLANS";\nlet plans = env.list(var);\n'
     'let need = "BACKUP_VAULT";\nlet vault = env.required(need)?;\n',
     {"RESTORE_TESTING_PLANS": False, "BACKUP_VAULT": True}),
    ("a name bound in one function, a variable of the same name read in the next",
     'fn a() {\n    let var = "NOT_READ_HERE";\n}\nfn b(env: &Env, var: &str) {\n    env.list(var);\n}\n',
     {}),
    ("a closure that reads no variable",
     'let minutes = |m: u32| chrono::Duration::minutes(i64::from(m));\nlet x = minutes("NOT_A_VARIABLE");\n',
     {}),
]
# (what, mod.rs text, constant, expected ids: None when absent)
CONSTANT_FIXTURES = [
    ("an Aurora instance-created constant",
     "/// RDS-EVENT-0005\npub const INSTANCE_CREATED_EVENTS: [u16; 1] = [5];\n",
     "INSTANCE_CREATED_EVENTS", {"RDS-EVENT-0005"}),
    ("an Aurora cluster-restored constant among others",
     "pub const RESTORED_EVENTS: [u16; 2] = [43, 19];\npub const CLUSTER_RESTORED_EVENTS: [u16; 1] = [170];\n",
     "CLUSTER_RESTORED_EVENTS", {"RDS-EVENT-0170"}),
    ("a constant not there yet",
     "pub const RESTORED_EVENTS: [u16; 2] = [43, 19];\n",
     "CLUSTER_RESTORED_EVENTS", None),
]
# restore-drill's policy/mod.rs as the template's event rule wants it, and without the Aurora
# constants: (what, text, words a refusal must contain, or None: no event-ids refusal at all).
MOD_RS_FIXTURES = [
    ("the event constants the template routes",
     "pub const RESTORED_EVENTS: [u16; 2] = [43, 19];\n"
     "pub const INSTANCE_CREATED_EVENTS: [u16; 1] = [5];\n"
     "pub const CLUSTER_RESTORED_EVENTS: [u16; 1] = [170];\n"
     "pub const BACKUPS_DISABLED_EVENTS: [u16; 1] = [28];\n",
     None),
    ("the event constants without the Aurora ones",
     "pub const RESTORED_EVENTS: [u16; 2] = [43, 19];\n"
     "pub const BACKUPS_DISABLED_EVENTS: [u16; 1] = [28];\n",
     "[event-ids] RestoreDrillFunction: no event ids in CLUSTER_RESTORED_EVENTS of "
     "functions/restore-drill/src/policy/mod.rs"),
]


def copy_sources(root, copy):
    for tree in ("rules", "shared", "functions"):
        shutil.copytree(root / tree, pathlib.Path(copy) / tree,
                        ignore=shutil.ignore_patterns("target", "tests", "testing"))


def reader_failures(root):
    failures = 0
    for what, text, expected in ENV_FIXTURES:
        found = check_template.env_reads(text)
        if found != expected:
            print(f"test-check-template: env reads, {what}: {found}, not {expected}")
            failures += 1
    for what, text, constant, expected in CONSTANT_FIXTURES:
        with tempfile.TemporaryDirectory() as copy:
            (pathlib.Path(copy) / "fixture.rs").write_text(text)
            check_template.ROOT = pathlib.Path(copy)
            try:
                found = check_template.rust_constant_ids("fixture.rs", constant)
            finally:
                check_template.ROOT = root
        if found != expected:
            print(f"test-check-template: event ids, {what}: {found}, not {expected}")
            failures += 1
    for what, text, words in MOD_RS_FIXTURES:
        with tempfile.TemporaryDirectory() as copy:
            copy_sources(root, copy)
            (pathlib.Path(copy) / "functions/restore-drill/src/policy/mod.rs").write_text(text)
            check_template.ROOT = pathlib.Path(copy)
            try:
                problems = check_template.check(str(root / "template.yaml"))
            finally:
                check_template.ROOT = root
        routes = [p for p in problems if p.startswith("[event-ids]")]
        if words is None and routes:
            print(f"test-check-template: {what}: refused: {routes}")
            failures += 1
        elif words is not None:
            failures += not refused(what, routes, words)
    return failures


def refused(what, problems, words):
    if any(words in problem for problem in problems):
        return True
    print(f"test-check-template: {what}: not refused as expected ({words!r}); got: {problems}")
    return False


def main():
    failures = 0
    real = check_template.check(str(HERE.parent / "template.yaml"))
    if real:
        print(f"test-check-template: the real template is refused: {real}")
        failures += 1
    for what, old, new, words in VARIANTS:
        if TEMPLATE.count(old) != 1:
            print(f"test-check-template: {what}: the template has {TEMPLATE.count(old)} of {old!r}, not one")
            failures += 1
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as broken:
            broken.write(TEMPLATE.replace(old, new))
            broken.flush()
            failures += not refused(what, check_template.check(broken.name), words)

    root = check_template.ROOT
    for what, relative, old, new, words in CODE_VARIANTS:
        with tempfile.TemporaryDirectory() as copy:
            copy_sources(root, copy)
            source = pathlib.Path(copy) / relative
            text = source.read_text()
            if text.count(old) != 1:
                print(f"test-check-template: {what}: {relative} has {text.count(old)} of {old!r}, not one")
                failures += 1
                continue
            source.write_text(text.replace(old, new))
            check_template.ROOT = pathlib.Path(copy)
            try:
                failures += not refused(what, check_template.check(str(root / "template.yaml")), words)
            finally:
                check_template.ROOT = root
    failures += reader_failures(root)
    if failures:
        sys.exit(1)
    print(f"test-check-template: {len(VARIANTS)} broken templates and "
          f"{len(CODE_VARIANTS)} code changes refused; "
          f"{len(ENV_FIXTURES) + len(CONSTANT_FIXTURES) + len(MOD_RS_FIXTURES)} source fixtures read as expected")


if __name__ == "__main__":
    main()
