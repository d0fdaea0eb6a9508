#!/usr/bin/env python3
"""Checks the SAM template for the deployment rules cfn-lint does not know about.

Each rule below is one that broke in AWS before, or would: a dead-letter queue EventBridge could
not write to, a report topic CloudWatch alarms could not publish to, an alarm permission any
alarm in the account could use, a reaper without reserved concurrency, a ledger policy without
the UpdateItem the acted-before-delivered path needs, a tagging grant over every database, a
write (or a read beyond READS_ON_ANY) granted on every resource, a grant in a managed policy no
rule can read, an archive check without the s3:GetObject HeadObject needs, a log level that
drops the metric or REPORT lines, an environment the code does not read, an x86_64 build, logs
kept forever, an invocation lost without a trace, an event pattern the code does not handle, an
alarm the code answers that reaches it from nowhere, a storage change on an instance not opted in
(or by a function that has no opt-in rule at all), a database function outside the VPC, a restore
onto (or a create, tag or delete of) an instance, Aurora cluster or DynamoDB table that is no
drill's scratch resource (or a delete of another deployment's), an instance added to a cluster no
drill restored but a restore test's (under its condition, tagged with the restore job), a
point-in-time restore from a
database not enrolled for drills (or a table not drilled), a database or table created or deleted
any other way, every restore or creation in the account routed to the drills, a schedule input
its function refuses, an AWS Backup restore-testing verdict posted by a function that validates no
restore test (or outside its condition, or beyond its region), a restore-job rule that routes
other plans' or other states' restores (or lives when no plan is listed), a Scan of a table that
is no scratch table reading items instead of counting them, a role whose inline policies outgrow
IAM's 10,240 characters (or a managed policy its 6,144).

Rules that compare the template with the code read the Rust sources (by regular expression,
so a rename there fails here, naming what to update). Every failure names its rule and the
resource; all failures are reported, not only the first.

    check-template.py [template.yaml]
"""
import fnmatch
import itertools
import json
import pathlib
import re
import sys
import tomllib

from cfnlint.decode import cfn_yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
FUNCTION_TYPE = "AWS::Serverless::Function"

# What each function's policy module handles, by constant: the RDS source types the ids arrive
# from, and whether EventBridge (and the optional SNS subscription) must route them. A constant
# only acknowledged by the code is not routed: each event would cost an invocation and a report.
INSTANCE, CLUSTER = ("db-instance",), ("db-cluster",)
SNAPSHOTS = ("db-snapshot", "db-cluster-snapshot")
EVENT_HANDLERS = {
    "FailoverCheckFunction": ("functions/failover-check/src/policy.rs", {
        "INSTANCE_FAILOVER_COMPLETED": (INSTANCE, "routed"),
        # Acknowledged without verifying, but routed: the first notice on-call gets.
        "INSTANCE_FAILOVER_STARTED": (INSTANCE, "routed"),
        "CLUSTER_FAILOVER_FINISHED": (CLUSTER, "routed"),
        "CLUSTER_FAILOVER_STARTED": (CLUSTER, "routed"),
    }),
    "SnapshotterFunction": ("functions/snapshotter/src/policy/mod.rs", {
        "SNAPSHOT_EVENTS": (SNAPSHOTS, "routed"),
        # Every database, every night, and nothing to do.
        "AUTOMATED_SNAPSHOT_EVENTS": (SNAPSHOTS, "acknowledged"),
    }),
    "StorageGuardFunction": ("functions/storage-guard/src/policy/mod.rs", {
        "LOW_STORAGE_EVENTS": (INSTANCE, "routed"),
        "NEAR_MAXIMUM_EVENTS": (INSTANCE, "routed"),
        # Reported only (Aurora grows by itself), but routed: on-call learns it from the report.
        "AURORA_STORAGE_EVENTS": (CLUSTER, "routed"),
    }),
    "RestoreDrillFunction": ("functions/restore-drill/src/policy/mod.rs", {
        # A drill's scratch instance restored, an Aurora drill's scratch cluster restored and its
        # instance created (SCRATCH_INSTANCES "events": only theirs).
        "RESTORED_EVENTS": (INSTANCE, "routed"),
        "INSTANCE_CREATED_EVENTS": (INSTANCE, "routed"),
        "CLUSTER_RESTORED_EVENTS": (CLUSTER, "routed"),
        "BACKUPS_DISABLED_EVENTS": (INSTANCE, "routed"),
    }),
}
# The metric alarm each function answers without being told (a `WatchedMetric` constant):
# EventBridge must route exactly that metric's alarms moving into ALARM to it.
ALARM_HANDLERS = {
    "IdleReaperFunction": ("functions/idle-reaper/src/policy.rs", "CONNECTIONS"),
    "StorageGuardFunction": ("functions/storage-guard/src/policy/mod.rs", "FREE_STORAGE"),
}
ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"

# Functions that change DB instances, and only those tagged <tag>=<an ON_VALUES value, any
# case>, which their IAM conditions must say too: the constant naming the tag (and the variable
# that overrides it), and the one tag key the function writes on an instance (its record).
OPT_IN_CHANGES = {
    "StorageGuardFunction": {
        "tag": ("functions/storage-guard/src/config.rs", "GUARD_TAG"),
        "variable": "GUARD_TAG",
        "record": ("functions/storage-guard/src/checks.rs", "CHANGE_TAG"),
    },
}
ON_VALUES = ("rules/src/safety.rs", "ON_VALUES")
# What no other principal may do to an instance at all.
INSTANCE_CHANGES = ("rds:ModifyDBInstance",)
# What a function of OPT_IN_CHANGES does to an instance, each only under the opt-in condition.
OPT_IN_ACTIONS = ("rds:ModifyDBInstance", "rds:AddTagsToResource", "rds:CreateDBSnapshot")
# The mark in every snapshot name snapshotter makes; its snapshot events are filtered on it.
SNAPSHOT_NAME_MARK = ("functions/snapshotter/src/policy/naming.rs", "NAME_MARK")

# Functions that restore databases and tables onto scratch resources of their own (instances,
# Aurora clusters and their one instance, DynamoDB tables: SCRATCH_KINDS) and delete them: the
# constants (in `source`) naming the mark in every scratch name and the tag each carries (its
# value the resource's own name), the tag keys a restore writes, the opt-in tag a point-in-time
# restore's source database must carry (and the variable that overrides it) with the value
# enrolling it for drills (the match arm of `drill_value`), the variable naming the DynamoDB
# tables it drills (a !Join of a CommaDelimitedList parameter, which the IAM grants on the
# sources name too), the event ids that come from scratch resources only (EVENT_HANDLERS
# constants), and the tag naming the deployment a scratch resource belongs to, its value the
# variable naming the deployment's ledger table (main.rs: the owner is the common config's
# ledger table): its sweep deletes only the copies its own ledger's drills made.
SCRATCH_INSTANCES = {
    "RestoreDrillFunction": {
        "source": "functions/restore-drill/src/policy/drill.rs",
        "mark": "SCRATCH_MARK",
        "tag": "SCRATCH_TAG",
        "tag_keys": ("SCRATCH_TAG", "SOURCE_TAG", "EXPIRES_TAG", "OWNER_TAG"),
        "opt_in": ("functions/restore-drill/src/config.rs", "DRILL_TAG"),
        "variable": "DRILL_TAG",
        "drill_value": ("functions/restore-drill/src/policy/drill.rs", "Enrolment::Drill"),
        "drilled_tables": "DRILL_TABLES",
        "events": ("RESTORED_EVENTS", "INSTANCE_CREATED_EVENTS", "CLUSTER_RESTORED_EVENTS"),
        "owner_tag": "OWNER_TAG",
        "owner_variable": "LEDGER_TABLE",
    },
}
# What a function of SCRATCH_INSTANCES does to a resource of each kind only if it is one of its
# scratch resources (named with the mark), with the word its refusal uses: what in an ARN names
# the kind (its name follows), the template types that are one, the actions that also name a
# source of the same kind (a point-in-time restore's database, enrolled for drills; a drilled
# table, or its backups), and the resource-tag condition keys a delete may be held by.
SCRATCH_KINDS = {
    "instance": {
        "arn": ":db:", "types": ("AWS::RDS::DBInstance",), "name": "<db>",
        "acts": {"rds:RestoreDBInstanceFromDBSnapshot": "onto", "rds:RestoreDBInstanceToPointInTime": "onto",
                 "rds:CreateDBInstance": "of", "rds:DeleteDBInstance": "of"},
        "sources": ("rds:RestoreDBInstanceToPointInTime",),
        "resource_tags": ("aws:ResourceTag/", "rds:db-tag/"),
    },
    "cluster": {
        "arn": ":cluster:", "types": ("AWS::RDS::DBCluster",), "name": "<cluster>",
        "acts": {"rds:RestoreDBClusterFromSnapshot": "onto", "rds:RestoreDBClusterToPointInTime": "onto",
                 "rds:CreateDBInstance": "into", "rds:DeleteDBCluster": "of"},
        "sources": ("rds:RestoreDBClusterToPointInTime",),
        "resource_tags": ("aws:ResourceTag/", "rds:cluster-tag/"),
    },
    "table": {
        "arn": ":table/", "types": ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"), "name": "<table>",
        "acts": {"dynamodb:RestoreTableFromBackup": "onto", "dynamodb:RestoreTableToPointInTime": "onto",
                 "dynamodb:TagResource": "on", "dynamodb:DeleteTable": "of"},
        # RestoreTableToPointInTime names the source table; RestoreTableFromBackup its backup.
        "sources": ("dynamodb:RestoreTableToPointInTime", "dynamodb:RestoreTableFromBackup"),
        "resource_tags": ("aws:ResourceTag/",),
    },
}
SCRATCH_ACTIONS = tuple(dict.fromkeys(a for kind in SCRATCH_KINDS.values() for a in kind["acts"]))
SCRATCH_DELETES = ("rds:DeleteDBInstance", "rds:DeleteDBCluster", "dynamodb:DeleteTable")
# The requests that tag a new scratch resource (RDS tags on create; DynamoDB restores take no
# tags, so the code tags the table right after): each statement granting one holds only for the
# scratch tag naming a scratch resource and exactly the code's keys (on every resource of the
# request: the request's conditions are the same on each).
SCRATCH_TAGGING = (
    "rds:RestoreDBInstanceFromDBSnapshot", "rds:RestoreDBInstanceToPointInTime",
    "rds:RestoreDBClusterFromSnapshot", "rds:RestoreDBClusterToPointInTime", "rds:CreateDBInstance",
    "dynamodb:TagResource",
)
# A scratch instance is never reachable from outside the VPC: a create only with
# Bool rds:PubliclyAccessible false (a restore keeps the snapshot's setting).
PRIVATE_CREATES = ("rds:CreateDBInstance",)
# What no principal of the template may do at all: databases and tables are created only as
# scratch resources by a restore (and an Aurora drill's one instance), and deleted only as
# those; clusters and tables never changed.
NO_DATABASE_LIFECYCLE = (
    "rds:CreateDBInstanceReadReplica", "rds:RestoreDBInstanceFromS3",
    "rds:CreateDBCluster", "rds:ModifyDBCluster", "rds:RestoreDBClusterFromS3",
    "dynamodb:CreateTable", "dynamodb:UpdateTable", "dynamodb:ImportTable",
)

# Functions that validate AWS Backup restore tests (restore testing plans' restores): the variable
# naming the plans (a !Join of a CommaDelimitedList parameter; the template condition that it is
# non-empty guards every grant and the event rule for them), the file whose `bounded("Backup <Op>")`
# calls name the Backup operations the code makes, the constant naming the event's detail-type,
# the function whose `status != "..."` names the one status its events are validated in, and the
# constant naming the tag (its value the restore job's id) of the one instance it adds to an Aurora
# restore test's cluster: a scratch instance (SCRATCH_INSTANCES: its mark, its tags) in a cluster
# AWS Backup named, created only by a statement under its condition whose request carries that tag
# and the owner tag, with exactly a drill's keys and that one (restore_test_missing).
RESTORE_VALIDATORS = {
    "RestoreDrillFunction": {
        "variable": "RESTORE_TESTING_PLANS",
        "calls": "shared/src/restore_testing.rs",
        "detail_type": ("rules/src/trigger/backup_event.rs", "RESTORE_JOB_STATE_CHANGE"),
        "status": ("functions/restore-drill/src/policy/mod.rs", "restore_job_decision"),
        "validates_tag": ("functions/restore-drill/src/policy/validation.rs", "VALIDATES_TAG"),
    },
}
# The actions of a restore test's instance: its create (into any cluster) and its tags on create.
RESTORE_TEST_ACTIONS = ("rds:CreateDBInstance", "rds:AddTagsToResource")
# The Backup writes a validator makes that take no resource type (Service Authorization
# Reference, AWS Backup): on "*" (named exactly, no wildcard) only by a function of
# RESTORE_VALIDATORS, under its condition, with StringEquals aws:RequestedRegion.
BACKUP_WRITES_ON_ANY = ("backup:PutRestoreValidationResult",)
# The event pattern field naming a restore job's plan, which a validator's rule filters on.
PLAN_FIELD = "restoreTestingPlanArn"
# IAM's limit on a role's inline policies in all (not counting whitespace), on a managed policy,
# and what SAM adds to a function's role on its own (the on-failure destination's sqs:SendMessage
# and the on-success destination's events:PutEvents policies, measured on SAM's translation with
# their ARNs resolved). The estimate resolves each template value as
# POLICY_VALUES says.
MAX_INLINE_POLICY_CHARS = 10_240
MAX_MANAGED_POLICY_CHARS = 6_144
SAM_ADDED_POLICY_CHARS = 400
POLICY_VALUES = {
    "AWS::Partition": "aws", "AWS::Region": "ap-southeast-2", "AWS::AccountId": "123456789012",
    # A resource's Ref (a name or ARN) and GetAtt (an ARN), as long as a long stack name makes them.
    "name": 64, "arn": 100,
    # Each CommaDelimitedList parameter one name of this length, any other parameter its default.
    "list_item": 32,
}

# Functions whose schedule input names a task: the enum (serde kebab-case, snake_case or
# lowercase names) its `task` must be one of.
SCHEDULE_TASKS = {
    "RestoreDrillFunction": ("functions/restore-drill/src/request.rs", "Task"),
}
# The Scheduler context every schedule input carries (rules/src/trigger/schedule.rs reads it).
SCHEDULER_CONTEXT = {
    "schedule_arn": "<aws.scheduler.schedule-arn>",
    "scheduled_time": "<aws.scheduler.scheduled-time>",
}
# EventBridge detail-type -> the RDS source type SNS notifications name in "Event Source".
RDS_DETAIL_TYPES = {
    "RDS DB Instance Event": "db-instance",
    "RDS DB Cluster Event": "db-cluster",
    "RDS DB Snapshot Event": "db-snapshot",
    "RDS DB Cluster Snapshot Event": "db-cluster-snapshot",
}

# Reads of the environment in the Rust sources: the config's reader (shared/src/config.rs
# `impl Env`), a helper of a config that takes the reader and a name, and std::env::var.
ENV_METHOD_READ = re.compile(
    r'\benv\s*\.\s*(required|optional|flag|list|ranged|parse_or)\s*\(\s*"([A-Z][A-Z0-9_]*)"')
ENV_HELPER_READ = re.compile(r'\b[a-z_][a-z0-9_]*\s*\(\s*env\s*,\s*"([A-Z][A-Z0-9_]*)"')
# A closure over the reader that reads its parameter (`let tables = |var: &str| env.list(var)...`),
# called with the names (`tables("DRILL_TABLES")`).
ENV_CLOSURE = re.compile(r"\blet\s+([a-z_][a-z0-9_]*)\s*=\s*(?:move\s+)?\|\s*([a-z_][a-z0-9_]*)\s*(?::[^|]*)?\|")
STD_ENV_READ = re.compile(r'\benv::var(?:_os)?\s*\(\s*"([A-Z][A-Z0-9_]*)"')
# A name bound first (`let var = "RESTORE_TESTING_PLANS";`), then read (`env.list(var)`) before the
# next function.
ENV_NAME_BINDING = re.compile(r'\blet\s+([a-z_][a-z0-9_]*)\s*(?::\s*&(?:\'static\s+)?str\s*)?=\s*"([A-Z][A-Z0-9_]*)"\s*;')
# Set by Lambda in every execution environment: never in a template (Lambda refuses most).
LAMBDA_SET = {
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "TZ",
}


# Actions a statement may grant on any resource: reads the functions make, named one by one
# (a Get* or a kms:* would cover secrets, parameters, keys and federation tokens).
READS_ON_ANY = (
    "rds:Describe*",
    "dynamodb:ListBackups",
    # restore-drill's scratch tables, by name: ListTables has no resource-level permissions.
    "dynamodb:ListTables",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:GetMetricStatistics",
    # storage-guard's FreeStorageSpace history: GetMetricData has no resource-level permissions.
    "cloudwatch:GetMetricData",
    # restore-drill's restore tests: none takes a resource type (RESTORE_VALIDATORS).
    "backup:DescribeRestoreJob",
    "backup:ListRestoreJobs",
    "backup:ListRestoreTestingPlans",
)
# (LoggingConfig key, the levels that keep what must be logged, what a higher one drops).
LOG_LEVELS = (
    # Embedded Metric Format lines carry no "level": Lambda reads them as INFO.
    ("ApplicationLogLevel", ("TRACE", "DEBUG", "INFO"), "the functions' metric (EMF) lines, read as INFO"),
    ("SystemLogLevel", ("DEBUG", "INFO"), "the platform REPORT lines (duration, init, memory), INFO"),
)


def set_by_lambda(name):
    return name in LAMBDA_SET or name.startswith(("AWS_LAMBDA_", "AWS_XRAY_", "_"))


class Problems(list):
    def add(self, rule, resource, message):
        problem = f"[{rule}] {resource}: {message}"
        if problem not in self:
            self.append(problem)


# -- template helpers -------------------------------------------------------------------------

def as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def alternatives(node):
    """The values a node may take: both branches of an Fn::If, without AWS::NoValue."""
    if isinstance(node, dict) and list(node) == ["Fn::If"]:
        _, yes, no = node["Fn::If"]
        return alternatives(yes) + alternatives(no)
    if node == {"Ref": "AWS::NoValue"}:
        return []
    return [node]


def statements(document):
    for statement in as_list(document.get("Statement") if isinstance(document, dict) else None):
        for alternative in alternatives(statement):
            if isinstance(alternative, dict) and "Effect" in alternative:
                yield alternative


def sub_text(value):
    """A string or !Sub string as text, for comparing names built from the same parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return value["Fn::Sub"]
    if isinstance(value, dict) and list(value) == ["Ref"]:
        return "${" + value["Ref"] + "}"
    return None


def getatt_target(value, attribute="Arn"):
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        target = target.split(".") if isinstance(target, str) else target
        if target[1] == attribute:
            return target[0]
    return None


def merged(function, globals_, key):
    """A function property with SAM Globals merged in (maps merge, the function's value wins)."""
    own, shared = function["Properties"].get(key), globals_.get(key)
    if isinstance(own, dict) and isinstance(shared, dict):
        both = dict(shared)
        for name, value in own.items():
            both[name] = ({**both[name], **value}
                          if isinstance(both.get(name), dict) and isinstance(value, dict) else value)
        return both
    return own if own is not None else shared


# SAM resources whose Policies SAM writes into a role it makes (documents, managed policies or
# SAM policy templates).
SAM_POLICIES_TYPES = (FUNCTION_TYPE, "AWS::Serverless::StateMachine")
# IAM resources with inline Policies ([{PolicyName, PolicyDocument}]) and ManagedPolicyArns.
IAM_IDENTITY_TYPES = ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")
# IAM resources that are one identity policy (PolicyDocument).
IAM_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy",
                    "AWS::IAM::UserPolicy", "AWS::IAM::GroupPolicy")


def sam_policies(props):
    """The entries of a SAM resource's Policies, each Fn::If branch on its own."""
    return [alt for policy in as_list(props.get("Policies")) for alt in alternatives(policy)]


def identity_policies(resources):
    """(resource, policy document) of every identity policy: the ones `Resource: "*"` matters in."""
    for name, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] in SAM_POLICIES_TYPES:
            for policy in sam_policies(props):
                if isinstance(policy, dict) and "Statement" in policy:
                    yield name, policy
        elif resource["Type"] in IAM_IDENTITY_TYPES:
            for policy in as_list(props.get("Policies")):
                for alternative in alternatives(policy):
                    if isinstance(alternative, dict):
                        yield name, alternative.get("PolicyDocument", {})
        elif resource["Type"] in IAM_POLICY_TYPES:
            yield name, props.get("PolicyDocument", {})


def owned_policies(resources):
    """(resource, policy document, [function or role it grants to]) of every identity policy:
    a SAM function's Policies (or, with a Role of the template, that role's), a role's inline
    policies and the IAM policies naming the role."""
    role_of = {}
    for name, resource in resources.items():
        if resource["Type"] == FUNCTION_TYPE:
            role = getatt_target(resource["Properties"].get("Role"))
            # SAM names the role it makes <function>Role; an IAM::Policy may attach to it.
            role_of[role or f"{name}Role"] = name
    for name, document in identity_policies(resources):
        resource = resources[name]
        owners = [name]
        if resource["Type"] in IAM_POLICY_TYPES:
            props = resource["Properties"]
            roles = as_list(props.get("Roles")) + as_list(props.get("RoleName"))
            owners = [r.get("Ref") if isinstance(r, dict) else r for r in roles] or [name]
        yield name, document, [role_of.get(owner, owner) for owner in owners]


def principal_statements(resources):
    """{function or role: [Allow statements]} (owned_policies)."""
    granted = {}
    for _, document, owners in owned_policies(resources):
        for owner in owners:
            granted.setdefault(owner, []).extend(
                s for s in statements(document) if s.get("Effect") == "Allow")
    return granted


def statement_actions(statement, key="Action"):
    """The action patterns of a statement, as text (both branches of an Fn::If)."""
    return [str(action) for value in as_list(statement.get(key))
            for alternative in alternatives(value) for action in as_list(alternative)]


def action_matches(pattern, action):
    """Whether an IAM action pattern grants an action (IAM compares actions case-insensitively)."""
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def resolved(node):
    """The strings a template value may take: Fn::Sub as its text (its variables substituted),
    Ref and GetAtt as ${Name} and ${Name.Attribute}, both branches of Fn::If, Fn::Join, Fn::Split
    and Fn::Select over those. None stands for a value it cannot tell."""
    if isinstance(node, bool):
        return [str(node).lower()]
    if isinstance(node, (str, int, float)):
        return [str(node)]
    if isinstance(node, list):
        return [text for item in node for text in resolved(item)]
    if not isinstance(node, dict) or len(node) != 1:
        return [None]
    (function, argument), = node.items()
    if function == "Fn::If":
        return [text for branch in argument[1:] for alt in alternatives(branch) for text in resolved(alt)]
    if function == "Ref":
        return [] if argument == "AWS::NoValue" else ["${" + str(argument) + "}"]
    if function == "Fn::GetAtt":
        return ["${" + (argument if isinstance(argument, str) else ".".join(map(str, argument))) + "}"]
    if function == "Fn::Sub":
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        if not isinstance(text, str):
            return [None]
        texts = [text]
        for variable, value in variables.items():
            texts = [None if t is None or v is None else t.replace("${" + variable + "}", v)
                     for t in texts for v in resolved(value)]
        return texts
    if function == "Fn::Join":
        delimiter, items = argument
        options = [resolved(item) for item in (items if isinstance(items, list) else [items])]
        return [None if None in combination else str(delimiter).join(combination)
                for combination in itertools.product(*options)]
    if function == "Fn::Split":
        delimiter, source = argument
        return [part for text in resolved(source)
                for part in ([None] if text is None else text.split(delimiter))]
    if function == "Fn::Select":
        return resolved(argument[1])
    return [None]


def statement_resources(statement):
    """The resource patterns of a statement as text (None where it cannot tell), or ["*"] for a
    NotResource (everything but some)."""
    if "NotResource" in statement:
        return ["*"]
    return [text for value in as_list(statement.get("Resource")) for text in resolved(value)]


PLACEHOLDER = re.compile(r"\$\{[^}]*\}")


def resource_scope(text):
    """"any" when a resource pattern leaves the service or everything after the account open
    (or is no ARN and has a wildcard), "type" when it names only a resource type (db:*,
    table/*), else "named"."""
    text = PLACEHOLDER.sub("{}", text)  # ${AWS::AccountId} holds colons, not a wildcard
    wild = lambda part: "*" in part or "?" in part
    if text.startswith(("*", "?")):
        return "any"
    if not text.startswith("arn:"):
        # A ${Ref}/${Thing.Arn} narrows to that resource; "a*" matches every ARN.
        return "any" if wild(text) and not text.startswith("{}") else "named"
    parts = text.split(":", 5)
    if len(parts) < 6:
        return "any" if wild(text) else "named"  # a wildcard here spans the fields after it
    service, rest = parts[2], parts[5]
    if wild(service) or not rest.strip("*?/:"):
        return "any"
    if re.fullmatch(r"[A-Za-z0-9._-]+[:/][*?]+", rest):
        return "type"
    return "named"


def log_levels(template, value):
    """The levels a LoggingConfig level may be: a literal, or a parameter's AllowedValues
    ("any" when a parameter allows any value or the value is something else)."""
    levels = []
    for alternative in alternatives(value):
        if isinstance(alternative, str):
            levels.append(alternative)
        elif isinstance(alternative, dict) and list(alternative) == ["Ref"]:
            parameter = template.get("Parameters", {}).get(alternative["Ref"], {})
            levels.extend(map(str, parameter.get("AllowedValues") or [f"any value of {alternative['Ref']}"]))
        else:
            levels.append(f"whatever {alternative!r} is")
    return levels


# -- Rust source helpers ----------------------------------------------------------------------

def rust_source(relative):
    """A Rust file's text without its test module."""
    text = (ROOT / relative).read_text()
    match = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)
    if match:
        end = block_end(text, match.end() - 1)
        text = text[:match.start()] + text[end:]
    return re.sub(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*;", "", text)


def block_end(text, open_brace):
    depth = 0
    for index in range(open_brace, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index + 1
    return len(text)


def impl_blocks(text):
    """(type name, gated on feature, body) of each top-level `impl` block."""
    for match in re.finditer(r"^((?:#\[[^\n]*\]\s*\n)*)impl(?:<[^>]*>)?\s+(?:[\w:<>, ]+\s+for\s+)?(\w+)[^{\n]*\{",
                             text, re.M):
        feature = re.search(r'cfg\(feature\s*=\s*"(\w+)"\)', match.group(1))
        yield match.group(2), feature and feature.group(1), text[match.end():block_end(text, match.end() - 1)]


def env_reads(text):
    """{name: required?} of the environment reads in some Rust text."""
    reads = {}
    for match in ENV_METHOD_READ.finditer(text):
        method, name = match.groups()
        start = text.rfind("\n", 0, match.start(1)) + 1
        line = text[start:text.find("\n", match.start(1))]
        # A `required` inside a match arm is required only on that branch (DB_PASSWORD).
        reads[name] = reads.get(name, False) or (method == "required" and "=>" not in line)
    for name in ENV_HELPER_READ.findall(text) + STD_ENV_READ.findall(text):
        reads.setdefault(name, False)
    for binding in ENV_NAME_BINDING.finditer(text):
        ident, name = binding.groups()
        after = text[binding.end():]
        after = after[:m.start()] if (m := re.search(r"\bfn\s+\w+", after)) else after
        for method in re.findall(rf"\benv\s*\.\s*(required|optional|flag|list|ranged|parse_or)\s*\(\s*{ident}\s*\)", after):
            reads[name] = reads.get(name, False) or method == "required"
    for closure in ENV_CLOSURE.finditer(text):
        name, parameter = closure.groups()
        start = closure.end()
        while start < len(text) and text[start].isspace():
            start += 1
        end = block_end(text, start) if text[start:start + 1] == "{" else text.find(";", start)
        body = text[start:end if end > start else len(text)]
        methods = re.findall(rf"\benv\s*\.\s*(required|optional|flag|list|ranged|parse_or)\s*\(\s*{parameter}\b", body)
        if not methods:
            continue
        for call in re.finditer(rf'\b{name}\s*\(\s*"([A-Z][A-Z0-9_]*)"', text):
            line_start = text.rfind("\n", 0, call.start()) + 1
            line = text[line_start:text.find("\n", call.start())]
            required = "required" in methods and "=>" not in line
            reads[call.group(1)] = reads.get(call.group(1), False) or required
    return reads


def shared_features(crate):
    """The shared crate's features a function crate is built with."""
    manifest = tomllib.loads((ROOT / "functions" / crate / "Cargo.toml").read_text())
    dependency = manifest.get("dependencies", {}).get("rds-responder", {})
    dependency = dependency if isinstance(dependency, dict) else {}
    features = set(dependency.get("features", []))
    if dependency.get("default-features", True):
        shared = tomllib.loads((ROOT / "shared" / "Cargo.toml").read_text())
        features |= set(shared.get("features", {}).get("default", []))
    return features


def shared_config_reads(problems):
    """{section: {name: required?}} of shared/src/config.rs: "common" is read by every function;
    a feature name, by the functions built with it. DbConfig (and what it reads through) is the
    `db` feature's, whether or not its code is gated on it."""
    text = rust_source("shared/src/config.rs")
    blocks = list(impl_blocks(text))
    sections = {"common": {"CommonConfig"}, "db": {"DbConfig"}}
    for owned in sections.values():
        grown = True
        while grown:
            called = {callee for name, _, body in blocks if name in owned
                      for callee in re.findall(r"\b(\w+)::from_env\s*\(", body)}
            grown = bool(called - owned)
            owned |= called
    reads = {}
    outside = set(env_reads(text)) - {var for _, _, body in blocks for var in env_reads(body)}
    if outside:
        problems.add("env-matches-config", "shared/src/config.rs",
                     f"reads {', '.join(sorted(outside))} outside an impl block: tell "
                     "check-template.py which functions read it")
    for name, feature, body in blocks:
        found = env_reads(body)
        if not found:
            continue
        section = feature or next((s for s, owned in sections.items() if name in owned), None)
        if section is None:
            problems.add("env-matches-config", "shared/src/config.rs",
                         f"reads {', '.join(sorted(found))} in impl {name}, which neither "
                         "CommonConfig nor DbConfig reaches: tell check-template.py who reads it")
            continue
        for var, required in found.items():
            reads.setdefault(section, {})[var] = reads.get(section, {}).get(var, False) or required
    return reads


def elsewhere_reads(directory):
    """std::env::var reads outside the config modules (logging, the local emulator): optional."""
    found = {}
    for path in sorted((ROOT / directory).rglob("*.rs")):
        relative = path.relative_to(ROOT)
        if path.name != "config.rs" and "testing" not in relative.parts and "tests" not in path.stem:
            found.update({name: False for name in STD_ENV_READ.findall(rust_source(relative))})
    return found


def rust_constant_ids(relative, constant):
    """The event ids of `const NAME ... = [..]` (numbers, or the first of each tuple)."""
    match = re.search(rf"\bconst\s+{constant}\s*:[^=]*=\s*&?\[(.*?)\];", rust_source(relative), re.S)
    if not match:
        return None
    body = match.group(1)
    numbers = re.findall(r"\(\s*(\d+)\s*,", body) if "(" in body else re.findall(r"\d+", body)
    return {f"RDS-EVENT-{int(n):04d}" for n in numbers}


def rust_str_constant(relative, constant):
    match = re.search(rf'\bconst\s+{constant}\s*:\s*&str\s*=\s*"([^"]*)"', rust_source(relative))
    return match and match.group(1)


def rust_str_array(relative, constant):
    """The strings of `const NAME: [&str; n] = ["..", ..];`, or None."""
    match = re.search(rf"\bconst\s+{constant}\s*:[^=]*=\s*&?\[(.*?)\];", rust_source(relative), re.S)
    return match and re.findall(r'"([^"]*)"', match.group(1))


def rust_match_value(relative, variant):
    """The string a `match` compares with in the arm that yields `variant` (`v == "drill" =>
    Enrolment::Drill`), or None."""
    match = re.search(rf'==\s*"([^"]*)"\s*=>\s*{re.escape(variant)}\b', rust_source(relative))
    return match and match.group(1)


def rust_enum_names(relative, name):
    """The serialized names of a unit enum's variants (serde rename_all kebab-case, snake_case
    or lowercase), or None."""
    text = rust_source(relative)
    match = re.search(rf'((?:#\[[^\n]*\]\s*\n)*)pub\s+enum\s+{name}\s*\{{(.*?)\n\}}', text, re.S)
    if not match:
        return None
    case = re.search(r'rename_all\s*=\s*"([\w-]+)"', match.group(1))
    body = re.sub(r"//[^\n]*|#\[[^\]]*\]", "", match.group(2))
    variants = re.findall(r"\b([A-Z]\w*)\s*(?:,|$)", body)
    words = [re.sub(r"(?<!^)(?=[A-Z])", " ", v).lower().split() for v in variants]
    joiner = {"kebab-case": "-", "snake_case": "_", "lowercase": ""}.get(case and case.group(1))
    if joiner is None:
        return None
    return [joiner.join(w) for w in words]


def rust_watched_metric(relative, constant):
    """(namespace, name) of `const NAME: WatchedMetric = WatchedMetric { .. }`, or None."""
    match = re.search(rf"\bconst\s+{constant}\s*:\s*WatchedMetric\s*=\s*WatchedMetric\s*\{{(.*?)\}};",
                      rust_source(relative), re.S)
    if not match:
        return None
    fields = dict(re.findall(r'\b(namespace|name)\s*:\s*"([^"]*)"', match.group(1)))
    return (fields["namespace"], fields["name"]) if len(fields) == 2 else None


# -- opt-in helpers ---------------------------------------------------------------------------

def own_snapshot(text):
    """A snapshot resource pattern of our own naming (*-rr-*)."""
    return text is not None and (":snapshot:" in text or ":cluster-snapshot:" in text) and "-rr-" in text


def on_instance(text):
    """Whether a resource pattern may name a DB instance (or it cannot tell)."""
    return text is None or resource_scope(text) == "any" or ":db:" in PLACEHOLDER.sub("{}", text)


def opted_in(statement, tag, on_values):
    """Whether a statement holds only on resources tagged <tag> with one of on_values, any case:
    StringEqualsIgnoreCase on aws:ResourceTag/<tag> (or rds:db-tag/<tag>), exactly those values
    (fewer: the code would act where IAM refuses; quoted, or YAML reads on/yes/true as booleans)."""
    condition = statement.get("Condition")
    operator = condition.get("StringEqualsIgnoreCase") if isinstance(condition, dict) else None
    if not isinstance(operator, dict) or not on_values:
        return False
    keys = {f"aws:resourcetag/{tag}".lower(), f"rds:db-tag/{tag}".lower()}
    wanted = {value.lower() for value in on_values}
    return any(
        key.lower() in keys and all(isinstance(v, str) for v in as_list(values))
        and {v.lower() for v in as_list(values)} == wanted
        for key, values in operator.items())


def opt_in_tags(functions, globals_, problems):
    """{function: (opt-in tag, record tag key)} of the OPT_IN_CHANGES functions in the template:
    the tag as its environment sets it, else the code's default."""
    tags = {}
    for function, entry in OPT_IN_CHANGES.items():
        if function not in functions:
            continue
        default, record = rust_str_constant(*entry["tag"]), rust_str_constant(*entry["record"])
        for (source, constant), found in ((entry["tag"], default), (entry["record"], record)):
            if not found:
                problems.add("opt-in", function,
                             f"no {constant} in {source}: update OPT_IN_CHANGES in check-template.py")
        if not (default and record):
            continue
        variables = (merged(functions[function], globals_, "Environment") or {}).get("Variables", {})
        value = variables.get(entry["variable"], default)
        if not isinstance(value, str):
            problems.add("opt-in", function,
                         f"sets {entry['variable']} from {value!r}: write the tag out, as the IAM "
                         "conditions must (a condition key cannot be built from a parameter)")
            continue
        tags[function] = (value.strip() or default, record)
    return tags


# -- scratch instance helpers -----------------------------------------------------------------

def condition_values(statement, operator, key):
    """The values of one condition key (IAM reads keys in any case) under one operator, or None."""
    condition = statement.get("Condition")
    block = condition.get(operator) if isinstance(condition, dict) else None
    if not isinstance(block, dict):
        return None
    for name, values in block.items():
        if name.lower() == key.lower():
            return [v if isinstance(v, str) else repr(v) for v in as_list(values)]
    return None


def resource_name(text, kind):
    """The name part of a resource pattern of a SCRATCH_KINDS kind (a table's first path segment:
    not its backups', indexes' or streams'), its placeholders as {}; None if it names no such
    resource."""
    if text is None:
        return None
    text = PLACEHOLDER.sub("{}", text)
    marker = SCRATCH_KINDS[kind]["arn"]
    if marker not in text:
        return None
    name = text.split(marker, 1)[1]
    return name.split("/", 1)[0] if kind == "table" else name


def scratch_arn(text, mark, kinds=("instance",)):
    """A pattern matching only resources of these kinds whose names carry the scratch mark (the
    mark literal in the name part, so no wildcard can stand in for it)."""
    return any(mark in (resource_name(text, kind) or "") for kind in kinds)


def may_name(text, kind, resources):
    """Whether a resource pattern may name a resource of a SCRATCH_KINDS kind: one it cannot
    tell, one open on everything, an ARN of the kind, or a resource of the template of the kind
    (${Name.Arn}, ${Name})."""
    if text is None or resource_scope(text) == "any" or resource_name(text, kind) is not None:
        return True
    target = re.fullmatch(r"\$\{([A-Za-z0-9]+)(?:\.Arn)?\}.*", text)
    return bool(target) and resources.get(target.group(1), {}).get("Type") in SCRATCH_KINDS[kind]["types"]


def scratch_settings(functions, globals_, problems):
    """{function: settings} of the SCRATCH_INSTANCES functions in the template: the mark, the
    scratch tag, the tag keys a restore writes, the opt-in tag (as the environment sets it, else
    the code's default), the value enrolling a database for drills, and the owner tag with the
    value its code writes (the template's value of the ledger table variable, None without it)."""
    found = {}
    for function, entry in SCRATCH_INSTANCES.items():
        if function not in functions:
            continue
        source = entry["source"]
        constants = {c: rust_str_constant(source, c)
                     for c in {entry["mark"], entry["tag"], entry["owner_tag"], *entry["tag_keys"]}}
        missing = [c for c, value in constants.items() if not value]
        for constant in sorted(missing):
            problems.add("scratch-instances", function,
                         f"no {constant} in {source}: update SCRATCH_INSTANCES in check-template.py")
        default = rust_str_constant(*entry["opt_in"])
        if not default:
            problems.add("scratch-instances", function,
                         f"no {entry['opt_in'][1]} in {entry['opt_in'][0]}: update SCRATCH_INSTANCES in check-template.py")
        drill = rust_match_value(*entry["drill_value"])
        if not drill:
            problems.add("scratch-instances", function,
                         f"no `== \"...\" => {entry['drill_value'][1]}` arm in {entry['drill_value'][0]}: "
                         "update SCRATCH_INSTANCES in check-template.py")
        if missing or not default or not drill:
            continue
        variables = (merged(functions[function], globals_, "Environment") or {}).get("Variables", {})
        opt_in = variables.get(entry["variable"], default)
        if not isinstance(opt_in, str):
            problems.add("scratch-instances", function,
                         f"sets {entry['variable']} from {opt_in!r}: write the tag out, as the IAM "
                         "conditions must (a condition key cannot be built from a parameter)")
            continue
        owner = variables.get(entry["owner_variable"])
        if owner is None:
            problems.add("scratch-instances", function,
                         f"sets no {entry['owner_variable']}: its code tags its scratch resources with "
                         f"it ({entry['owner_tag']} in {source}), and the grants of its deletes name it")
        found[function] = {
            "mark": constants[entry["mark"]],
            "tag": constants[entry["tag"]],
            "keys": {constants[c] for c in entry["tag_keys"]},
            "owner_tag": constants[entry["owner_tag"]],
            "owner": owner,
            "opt_in": opt_in.strip() or default,
            "drill": drill,
            "drilled": drilled_tables(function, variables.get(entry["drilled_tables"]),
                                      entry["drilled_tables"], problems),
        }
    return found


def drilled_tables(function, value, variable, problems):
    """The placeholder (${Parameter}) of the tables a function drills: its variable a
    !Join [",", !Ref <CommaDelimitedList parameter>], the parameter its grants on the source
    tables name. None without the variable (no table is drilled) or when it is anything else."""
    if value is None:
        return None
    joined = value.get("Fn::Join") if isinstance(value, dict) else None
    if (isinstance(joined, list) and len(joined) == 2 and joined[0] == ","
            and isinstance(joined[1], dict) and list(joined[1]) == ["Ref"]):
        return "${" + joined[1]["Ref"] + "}"
    problems.add("scratch-instances", function,
                 f"sets {variable} from {value!r}: join a CommaDelimitedList parameter "
                 f"(!Join [\",\", !Ref <parameter>]), which the grants on the drilled tables name too")
    return None


def scratch_request_tagged(statement, settings):
    """Whether a statement holds only for requests tagging the new instance with its own scratch
    name (StringLike aws:RequestTag/<scratch tag> "*<mark>*")."""
    return condition_values(statement, "StringLike", f"aws:RequestTag/{settings['tag']}") == [
        f"*{settings['mark']}*"]


def scratch_resource_tagged(statement, settings, kind="instance"):
    """Whether a statement holds only on resources carrying a scratch tag naming a scratch
    resource (StringLike aws:ResourceTag/<scratch tag>, or RDS's rds:db-tag/ or rds:cluster-tag/,
    "*<mark>*")."""
    wanted = [f"*{settings['mark']}*"]
    return any(condition_values(statement, "StringLike", f"{prefix}{settings['tag']}") == wanted
               for prefix in SCRATCH_KINDS[kind]["resource_tags"])


def as_written(value):
    """A template value as the template writes it: !Ref Name, !GetAtt Name.Attribute, !Sub "text",
    a string quoted, anything else as Python shows it."""
    if isinstance(value, dict) and list(value) == ["Ref"]:
        return f"!Ref {value['Ref']}"
    if isinstance(value, dict) and list(value) == ["Fn::GetAtt"]:
        target = value["Fn::GetAtt"]
        return "!GetAtt " + (target if isinstance(target, str) else ".".join(map(str, target)))
    if isinstance(value, dict) and list(value) == ["Fn::Sub"] and isinstance(value["Fn::Sub"], str):
        return "!Sub " + json.dumps(str(value["Fn::Sub"]))
    if isinstance(value, str):
        return json.dumps(str(value))
    return repr(value)


def scratch_owner_values(statement, settings, kind):
    """The values a statement's StringEquals holds the owner tag of a resource to (aws:ResourceTag/
    <owner tag>, or RDS's rds:db-tag/ or rds:cluster-tag/), as the template writes them: None
    without that condition."""
    condition = statement.get("Condition")
    block = condition.get("StringEquals") if isinstance(condition, dict) else None
    if not isinstance(block, dict):
        return None
    keys = {f"{prefix}{settings['owner_tag']}".lower() for prefix in SCRATCH_KINDS[kind]["resource_tags"]}
    for name, values in block.items():
        if name.lower() in keys:
            return as_list(values)
    return None


def scratch_resource_owned(statement, settings, kind="instance"):
    """Whether a statement holds only on resources whose owner tag names this deployment: one
    StringEquals value, the one its code tags them with (the ledger table variable's value in the
    template: !Ref LedgerTable; !Sub "${LedgerTable}" reads the same)."""
    values = scratch_owner_values(statement, settings, kind)
    wanted = resolved(settings["owner"])
    return (values is not None and len(values) == 1 and None not in wanted
            and resolved(values[0]) == wanted)


def privately_created(statement):
    """Whether a statement holds only for requests creating an instance not publicly accessible
    (Bool rds:PubliclyAccessible false, as a string or a boolean)."""
    condition = statement.get("Condition")
    block = condition.get("Bool") if isinstance(condition, dict) else None
    values = next((as_list(v) for k, v in block.items() if k.lower() == "rds:publiclyaccessible"),
                  None) if isinstance(block, dict) else None
    return values is not None and len(values) == 1 and str(values[0]).lower() == "false"


def request_tag_keys(statement):
    return condition_values(statement, "ForAllValues:StringEquals", "aws:TagKeys")


# -- restore test instance helpers ------------------------------------------------------------

def statement_guards(resources):
    """{id(statement): the template conditions it holds under} of every Allow statement of every
    identity policy (guarded_statements), for the rules that read owned_policies' statements."""
    return {id(statement): conditions for _, statement, _, conditions in guarded_statements(resources)}


def names_request_tag(statement, tag):
    """Whether a statement's request tags mention a tag: its key in aws:TagKeys, or a condition
    on aws:RequestTag/<tag> under any operator."""
    if tag in (request_tag_keys(statement) or []):
        return True
    condition = statement.get("Condition")
    return isinstance(condition, dict) and any(
        isinstance(block, dict) and any(str(key).lower() == f"aws:requesttag/{tag}".lower() for key in block)
        for block in condition.values())


def request_tag_set(statement, tag):
    """Whether a statement holds only for requests tagging with a value (StringLike
    aws:RequestTag/<tag>, patterns no empty value matches: "?*"; IAM refuses a request without it)."""
    values = condition_values(statement, "StringLike", f"aws:RequestTag/{tag}")
    return bool(values) and not any(fnmatch.fnmatchcase("", value) for value in values)


def request_owned(statement, settings):
    """Whether a statement holds only for requests tagging the new resource as this deployment's:
    StringEquals aws:RequestTag/<owner tag>, one value, the one its code writes (as
    scratch_resource_owned, on the request)."""
    condition = statement.get("Condition")
    block = condition.get("StringEquals") if isinstance(condition, dict) else None
    key = f"aws:RequestTag/{settings['owner_tag']}".lower()
    values = next((as_list(v) for k, v in block.items() if str(k).lower() == key),
                  None) if isinstance(block, dict) else None
    wanted = resolved(settings["owner"])
    return (values is not None and len(values) == 1 and None not in wanted
            and resolved(values[0]) == wanted)


def restore_test_missing(statement, owner, scratch, validators, guards):
    """What a statement lacks to grant a restore test's instance (RESTORE_VALIDATORS: the one its
    code adds to the Aurora cluster AWS Backup restored, under Backup's name): its validator's
    condition, the validates request tag, the owner request tag, exactly a drill's keys and the
    validates key. None when its owner validates no restore test (or its settings are unknown:
    scratch_settings, validator_settings said why); [] when it lacks nothing."""
    validator, settings = validators.get(owner), scratch.get(owner)
    if not (validator and settings and validator["validates_tag"] and validator["conditions"]):
        return None
    tag, entry = validator["validates_tag"], RESTORE_VALIDATORS[owner]
    missing = []
    if not set(guards.get(id(statement), ())) & set(validator["conditions"]):
        missing.append(f"outside !If {validator['conditions'][0]} (with {validator['parameter']} empty "
                       "its code adds no instance)")
    if not request_tag_set(statement, tag):
        missing.append(f"without StringLike aws:RequestTag/{tag}: \"?*\" ({entry['validates_tag'][1]} in "
                       f"{entry['validates_tag'][0]}: the restore job it validates)")
    if settings["owner"] is not None and not request_owned(statement, settings):
        missing.append(f"without StringEquals aws:RequestTag/{settings['owner_tag']}: "
                       f"{as_written(settings['owner'])} ({SCRATCH_INSTANCES[owner]['owner_variable']}: "
                       "its sweep deletes only its own deployment's)")
    keys, wanted = request_tag_keys(statement), settings["keys"] | {tag}
    if keys is None or set(keys) != wanted:
        missing.append(f"with tag keys {', '.join(sorted(keys)) if keys else 'of any kind'}, not "
                       f"{', '.join(sorted(wanted))} (a drill's and {entry['validates_tag'][1]})")
    return missing


def restore_test_claim(statement, owners, scratch, validators, guards):
    """(tag, what the statement lacks) when it grants a restore test's instance, every owner a
    function of RESTORE_VALIDATORS and its request tags naming the validates tag; else None."""
    found = [(owner, restore_test_missing(statement, owner, scratch, validators, guards)) for owner in owners]
    if not owners or any(missing is None for _, missing in found):
        return None
    tags = {validators[owner]["validates_tag"] for owner in owners}
    if not any(names_request_tag(statement, tag) for tag in tags):
        return None
    return ", ".join(sorted(tags)), list(dict.fromkeys(m for _, missing in found for m in missing))


# -- the rules --------------------------------------------------------------------------------

def check(path):
    template = cfn_yaml.load(path)
    resources = template["Resources"]
    globals_ = template.get("Globals", {}).get("Function", {})
    of_type = lambda kind: {k: v for k, v in resources.items() if v["Type"] == kind}
    functions = of_type(FUNCTION_TYPE)
    problems = Problems()

    # 1. Every dead-letter queue EventBridge or SNS delivers to lets exactly that sender send.
    def queue_lets(queue, service, source):
        return any(
            {"Ref": queue} in as_list(policy["Properties"]["Queues"])
            and statement.get("Principal", {}).get("Service") == service
            and getatt_target(statement.get("Resource")) == queue
            and source in as_list(statement.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn"))
            for policy in of_type("AWS::SQS::QueuePolicy").values()
            for statement in statements(policy["Properties"]["PolicyDocument"])
        )

    for name, rule in of_type("AWS::Events::Rule").items():
        for target in rule["Properties"].get("Targets", []):
            if "DeadLetterConfig" not in target:
                continue
            queue = getatt_target(target["DeadLetterConfig"].get("Arn"))
            if not queue_lets(queue, "events.amazonaws.com", {"Fn::GetAtt": [name, "Arn"]}):
                problems.add("dead-letter-policy", name,
                             f"rule {name} has a dead-letter queue without a queue policy for it")
    for name, subscription in of_type("AWS::SNS::Subscription").items():
        redrive = subscription["Properties"].get("RedrivePolicy")
        if redrive:
            queue = getatt_target(redrive.get("deadLetterTargetArn"))
            if not queue_lets(queue, "sns.amazonaws.com", subscription["Properties"]["TopicArn"]):
                problems.add("dead-letter-policy", name,
                             f"subscription {name} has a dead-letter queue without a queue policy for it")
    for name, function in functions.items():
        if "Events" in function["Properties"]:
            problems.add("dead-letter-policy", name,
                         "declare rules as AWS::Events::Rule so their DLQ policy can name them")

    # 2. Topics CloudWatch alarms publish to use a key CloudWatch may use.
    for name, topic in of_type("AWS::SNS::Topic").items():
        if topic["Properties"].get("KmsMasterKeyId") == "alias/aws/sns":
            problems.add("topic-key", name,
                         f"{name} uses the AWS managed SNS key, which CloudWatch alarm actions cannot use")

    # 3. Alarm-action permissions name the alarms that may invoke.
    for name, permission in of_type("AWS::Lambda::Permission").items():
        props = permission["Properties"]
        if props["Principal"] == "lambda.alarms.cloudwatch.amazonaws.com" and "SourceArn" not in props:
            problems.add("alarm-permission", name,
                         f"{name} lets any alarm in the account invoke the function (no SourceArn)")

    # 4. The reaper has reserved concurrency.
    if "ReservedConcurrentExecutions" not in resources["IdleReaperFunction"]["Properties"]:
        problems.add("reserved-concurrency", "IdleReaperFunction",
                     "IdleReaperFunction has no reserved concurrency")

    # 5. Every function may update its ledger records.
    for name, function in functions.items():
        actions = [
            action
            for policy in as_list(function["Properties"].get("Policies"))
            if isinstance(policy, dict) and "Statement" in policy
            for statement in statements(policy)
            if statement.get("Sid") == "Ledger"
            for action in as_list(statement["Action"])
        ]
        if "dynamodb:UpdateItem" not in actions:
            problems.add("ledger", name, f"{name} cannot UpdateItem its ledger records")

    # 6. Snapshot deletes are allowed only on snapshots tagged as made by rds-responder, in
    #    every identity policy, by any action pattern that grants them (rds:Delete*, rds:*, *).
    tag_keys = {
        "rds:DeleteDBSnapshot": "rds:snapshot-tag/CreatedBy",
        "rds:DeleteDBClusterSnapshot": "rds:cluster-snapshot-tag/CreatedBy",
    }
    for name, policy in identity_policies(resources):
        for statement in statements(policy):
            if statement["Effect"] != "Allow":
                continue
            for pattern in statement_actions(statement):
                for action, key in tag_keys.items():
                    tagged = statement.get("Condition", {}).get("StringEquals", {}).get(key)
                    if action_matches(pattern, action) and as_list(tagged) != ["rds-responder"]:
                        problems.add("snapshot-deletes", name,
                                     f"{name} may {action} (by {pattern}) snapshots not tagged "
                                     "CreatedBy=rds-responder")

    # 7. Tagging is granted only on snapshots, never on databases or clusters (a role that may
    #    stamp CreatedBy=rds-responder on any resource may then delete it, or lift an opt-out
    #    tag), and only for listed tag keys; in every identity policy. The exceptions: a
    #    function of OPT_IN_CHANGES may write its record (one key) on the instances opted in to
    #    it; a function of SCRATCH_INSTANCES may tag its new scratch instances and clusters (the
    #    restore's tags, with the scratch tag naming them) with the keys its restores write, and
    #    one of RESTORE_VALIDATORS a restore test's new scratch instance (never a cluster) with
    #    those and the validates key, only as restore_test_missing says.
    opt_in = opt_in_tags(functions, globals_, problems)
    scratch = scratch_settings(functions, globals_, problems)
    validators = validator_settings(template, functions, globals_, problems)
    guards = statement_guards(resources)
    on_values = rust_str_array(*ON_VALUES)
    if not on_values:
        problems.add("opt-in", ON_VALUES[0],
                     f"no {ON_VALUES[1]} in {ON_VALUES[0]}: update ON_VALUES in check-template.py")
    for name, policy, owners in owned_policies(resources):
        for statement in statements(policy):
            if statement["Effect"] != "Allow":
                continue
            # Any pattern that grants tagging (rds:*, rds:Add*, rds:*Tag*, ...).
            if not any(action_matches(a, "rds:AddTagsToResource") for a in statement_actions(statement)):
                continue
            condition = statement.get("Condition", {})
            texts = statement_resources(statement)
            # Its instances, opted in: every owner a function of OPT_IN_CHANGES, the condition its.
            instance_grant = bool(owners) and all(
                owner in opt_in and opted_in(statement, opt_in[owner][0], on_values) for owner in owners)
            # Its new scratch instances and clusters: every owner a function of SCRATCH_INSTANCES,
            # the request tagging the new resource with its own scratch name.
            scratch_grant = bool(owners) and all(
                owner in scratch and scratch_request_tagged(statement, scratch[owner]) for owner in owners)
            on_instances = on_scratch = False
            for text in texts:
                if own_snapshot(text):
                    continue
                if instance_grant and text is not None and ":db:" in text:
                    on_instances = True
                    continue
                if scratch_grant and all(scratch_arn(text, scratch[owner]["mark"], ("instance", "cluster"))
                                         for owner in owners):
                    on_scratch = True
                    continue
                problems.add("snapshot-tagging", name,
                             f"{name} may tag {text or 'a resource it cannot tell'}: tagging only "
                             "on its own new snapshots (*-rr-*)"
                             + (", or on the instances opted in to it (OPT_IN_CHANGES)"
                                if any(owner in opt_in for owner in owners) else "")
                             + (", or on its new scratch instances and clusters (<db>{mark}<time>, with "
                                "StringLike aws:RequestTag/{tag}: \"*{mark}*\": SCRATCH_INSTANCES)".format(
                                    **scratch[owners[0]])
                                if owners and owners[0] in scratch else ""))
            if on_scratch and (on_instances or any(own_snapshot(text) for text in texts)):
                problems.add("snapshot-tagging", name,
                             f"{name} tags its scratch instances or clusters and other resources in "
                             "one statement: give the scratch resources a statement of their own")
            if (any(own_snapshot(text) for text in texts) or not (on_instances or on_scratch)) and as_list(
                    condition.get("StringEquals", {}).get("aws:RequestTag/CreatedBy")) != ["rds-responder"]:
                problems.add("snapshot-tagging", name,
                             f"{name} may tag without the CreatedBy=rds-responder request tag")
            keys = as_list(condition.get("ForAllValues:StringEquals", {}).get("aws:TagKeys"))
            claim = restore_test_claim(statement, owners, scratch, validators, guards) if on_scratch else None
            if not keys:
                problems.add("snapshot-tagging", name,
                             f"{name} may tag with any key: limit aws:TagKeys to the keys it writes")
            elif claim:
                tag, missing = claim
                clusters = [text for text in texts if resource_name(text, "cluster") is not None]
                if clusters:
                    missing.append(f"on {', '.join(clusters)}: only on the new scratch instance "
                                   f"(db:<cluster>{scratch[owners[0]]['mark']}<time>)")
                if missing:
                    problems.add("snapshot-tagging", name,
                                 f"{name} may tag a restore test's instance (its request naming {tag}) "
                                 + "; ".join(missing) + ": its code tags only the instance it adds to the "
                                 "cluster AWS Backup restored, on create")
            elif on_scratch:
                written = set().union(*(scratch[owner]["keys"] for owner in owners))
                if set(map(str, keys)) != written:
                    problems.add("snapshot-tagging", name,
                                 f"{name} may tag its scratch instances or clusters with {', '.join(sorted(map(str, keys)))}: "
                                 f"only with {', '.join(sorted(written))}, the keys its restores write "
                                 f"(SCRATCH_INSTANCES tag_keys in {SCRATCH_INSTANCES[owners[0]]['source']}; "
                                 "never an opt-in tag, which would enrol the scratch instance)")
            elif on_instances:
                records = {opt_in[owner][1] for owner in owners}
                if set(map(str, keys)) != records:
                    sources = ", ".join(sorted({OPT_IN_CHANGES[o]["record"][0] for o in owners}))
                    problems.add("snapshot-tagging", name,
                                 f"{name} may tag its instances with {', '.join(map(str, keys))}: only "
                                 f"with {', '.join(sorted(records))} ({sources}), the record it writes "
                                 "(never CreatedBy, never an opt-in or opt-out tag)")

    # 7a. Only a function of OPT_IN_CHANGES may change an instance, and it (its record, its
    #     snapshot before the change) only on instances tagged as its code requires: the tag its
    #     environment names (or the code's default), StringEqualsIgnoreCase exactly ON_VALUES.
    for name, policy, owners in owned_policies(resources):
        for statement in statements(policy):
            if statement["Effect"] != "Allow":
                continue
            label = statement.get("Sid", "a statement")
            texts = statement_resources(statement)
            instances = [text for text in texts if on_instance(text)]
            if not instances:
                continue
            others = [text for text in texts if not on_instance(text)]
            shown = ", ".join(text or "a Resource it cannot tell" for text in instances)
            for pattern in statement_actions(statement):
                for action in OPT_IN_ACTIONS:
                    if not action_matches(pattern, action):
                        continue
                    for owner in owners:
                        if owner in OPT_IN_CHANGES and owner not in opt_in:
                            continue  # its tag is unknown: opt_in_tags said why
                        if owner not in opt_in:
                            if action in INSTANCE_CHANGES:
                                problems.add("opt-in", name,
                                             f"{label} lets {owner} {action} (by {pattern}) on {shown}: "
                                             "only a function of OPT_IN_CHANGES (check-template.py) "
                                             "may, on the instances opted in to it")
                            continue
                        tag = opt_in[owner][0]
                        if not opted_in(statement, tag, on_values):
                            problems.add("opt-in", name,
                                         f"{label} lets {owner} {action} (by {pattern}) on {shown} "
                                         f"without StringEqualsIgnoreCase aws:ResourceTag/{tag}: "
                                         f"[{', '.join(on_values or [])}] ({ON_VALUES[1]} in "
                                         f"{ON_VALUES[0]}): its code changes only instances tagged so "
                                         f"({OPT_IN_CHANGES[owner]['tag'][0]})")
                        elif others:
                            problems.add("opt-in", name,
                                         f"{label} also names {', '.join(t or '?' for t in others)}, "
                                         f"which carries no {tag} tag (a new snapshot none at all): "
                                         "give it a statement of its own")

    # 7d. Restores, creates, deletes (and DynamoDB's tagging) of instances, clusters and tables,
    #     in every identity policy, by any action pattern that grants them: only by a function
    #     of SCRATCH_INSTANCES, onto (into, of, on) its scratch resources alone (names carrying
    #     the mark; a request tagging the new resource only with its scratch name and the code's
    #     keys, an instance created only not publicly accessible, a delete only of resources
    #     tagged so). A point-in-time restore also names its source: any instance or cluster, but
    #     only one enrolled for drills (its opt-in tag, StringEqualsIgnoreCase, the code's drill
    #     value); a table one only a drilled table (or its backups). No principal creates a
    #     database or table otherwise, nor changes a cluster or table. The one instance a function
    #     of RESTORE_VALIDATORS adds to a restore test's cluster (any name: AWS Backup's) is its
    #     scratch instance, created into any cluster only by a statement restore_test_missing
    #     finds nothing missing in.
    check_scratch_grants(resources, scratch, validators, guards, problems)

    # 7b. Every grant is in the template, where these rules see it: no managed policy, no SAM
    #     policy template, no role from outside. (The execution and VPC policies SAM attaches
    #     itself are not in the source.)
    for name, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] in SAM_POLICIES_TYPES:
            for policy in sam_policies(props):
                if not (isinstance(policy, dict) and "Statement" in policy):
                    shown = policy if isinstance(policy, str) else (
                        next(iter(policy)) if isinstance(policy, dict) and policy else repr(policy))
                    problems.add("managed-policy", name,
                                 f"{name} is granted {shown}, a managed policy or SAM policy template "
                                 "check-template.py cannot read: write its statements inline")
            if "Role" in props and resources.get(getatt_target(props["Role"]), {}).get(
                    "Type") != "AWS::IAM::Role":
                problems.add("managed-policy", name,
                             f"{name} runs with a Role from outside the template, whose grants "
                             "check-template.py cannot read")
        if resource["Type"] in IAM_IDENTITY_TYPES and props.get("ManagedPolicyArns"):
            problems.add("managed-policy", name,
                         f"{name} has ManagedPolicyArns, which check-template.py cannot read: "
                         "write their statements inline")

    # 7c. Reports are archived only when HeadObject finds none (publish.rs archived()), which
    #     S3 authorizes as s3:GetObject: without it every check fails (403) and re-archives.
    #     The bucket is this stack's or, with central reporting, the organization's (a Ref to
    #     ReportBucket or to the CentralReportBucket parameter): both are held to it.
    for name, function in functions.items():
        variable = (merged(function, globals_, "Environment") or {}).get("Variables", {}).get("REPORT_BUCKET")
        buckets = [b["Ref"] for b in alternatives(variable) if isinstance(b, dict) and "Ref" in b]
        granted = principal_statements(resources).get(name, [])

        def grants(action):
            return [text for statement in granted
                    if any(action_matches(a, action) for a in statement_actions(statement))
                    for text in statement_resources(statement) if text is not None]

        gets = grants("s3:GetObject")
        for text in grants("s3:PutObject"):
            if any(text.startswith("${" + bucket + ".Arn}") or "${" + bucket + "}" in text
                   for bucket in buckets) and not any(fnmatch.fnmatchcase(text, get) for get in gets):
                problems.add("archive-read", name,
                             f"{name} may s3:PutObject on {text} but not s3:GetObject there: its "
                             "HeadObject (archived()) fails and every report is archived again")

    # 8. Scheduler schedules name themselves in the input (the Scheduler context, and a task
    #    their function takes), keep undeliverable runs, are the ones their function lets
    #    delete, and run with a role only this stack's schedules may assume.
    for name, schedule in of_type("AWS::Scheduler::Schedule").items():
        props = schedule["Properties"]
        target = props["Target"]
        if "<aws.scheduler.schedule-arn>" not in target.get("Input", ""):
            problems.add("schedule", name,
                         "the input must carry <aws.scheduler.schedule-arn> (the function checks it)")
        if "DeadLetterConfig" not in target:
            problems.add("schedule", name, f"{name} has no dead-letter queue")
        function = getatt_target(target.get("Arn"))
        check_schedule_input(name, target.get("Input"), function, problems)
        variables = (merged(functions[function], globals_, "Environment") or {}).get(
            "Variables", {}) if function in functions else {}
        if "ALLOWED_SCHEDULES" in variables:
            group = props.get("GroupName")
            names = {f"{sub_text(group)}/{props.get('Name')}"} if group else {
                props.get("Name"), f"default/{props.get('Name')}"}
            allowed = (sub_text(variables["ALLOWED_SCHEDULES"]) or "").split(",")
            if not names & {entry.strip() for entry in allowed}:
                problems.add("schedule", name,
                             f"{function}'s ALLOWED_SCHEDULES does not name it as "
                             f"{' or '.join(sorted(names))}: its runs would only plan (no deletes, no changes)")
        role = getatt_target(target.get("RoleArn"))
        trust = resources.get(role, {}).get("Properties", {}).get("AssumeRolePolicyDocument", {})
        for statement in statements(trust):
            condition = statement.get("Condition", {})
            keys = {key for operator in condition.values() for key in operator}
            for key in ("aws:SourceAccount", "aws:SourceArn"):
                if key not in keys:
                    problems.add("schedule", role,
                                 f"the trust policy of {name}'s role has no {key} condition")

    # 9. No write on every resource: a resource open on its service or on everything after the
    #    account ("*", arn:*:*:*:*:*, arn:aws:rds:r:a:*) only for the reads in READS_ON_ANY;
    #    one open on a resource type (db:*, table/*) for a write only with a Condition.
    for name, policy in identity_policies(resources):
        for statement in statements(policy):
            if statement["Effect"] != "Allow":
                continue
            label = statement.get("Sid", "a statement")
            if "NotAction" in statement:
                problems.add("write-on-any-resource", name, f"{label} allows NotAction: everything else")
                continue
            # A Backup write without a resource type, named exactly: rule 17 holds it.
            writes = [a for a in statement_actions(statement)
                      if not any(fnmatch.fnmatchcase(a.lower(), read.lower()) for read in READS_ON_ANY)
                      and a.lower() not in {w.lower() for w in BACKUP_WRITES_ON_ANY}]
            for text in statement_resources(statement):
                scope = "unknown" if text is None else resource_scope(text)
                shown = "NotResource" if "NotResource" in statement else f"Resource {text!r}"
                for action in writes:
                    if scope == "any":
                        problems.add("write-on-any-resource", name,
                                     f"{label} grants {action} on {shown}, any resource: only the "
                                     "reads in READS_ON_ANY (check-template.py) may be")
                    elif scope == "unknown":
                        problems.add("write-on-any-resource", name,
                                     f"{label} grants {action} on a Resource check-template.py cannot "
                                     "resolve: write it as a string, !Sub, !Ref, !GetAtt, !If, !Join or !Split")
                    elif scope == "type" and not statement.get("Condition"):
                        problems.add("write-on-any-resource", name,
                                     f"{label} grants {action} on {shown}, every resource of its "
                                     "type, without a Condition")

    # 10. Each function's environment is what its config reads: nothing it never reads, nothing
    #     it requires missing, nothing Lambda sets itself.
    shared_reads = shared_config_reads(problems)
    elsewhere = elsewhere_reads("shared/src")
    for name, function in functions.items():
        crate = function_crate(function)
        config = ROOT / "functions" / crate / "src" / "config.rs" if crate else None
        if not config or not config.exists():
            problems.add("env-matches-config", name,
                         f"no functions/{crate}/src/config.rs to compare its environment with")
            continue
        reads = dict(elsewhere)
        reads.update(elsewhere_reads(f"functions/{crate}/src"))
        sections = {"common"} | shared_features(crate)
        for section, found in shared_reads.items():
            if section in sections:
                for var, required in found.items():
                    reads[var] = reads.get(var, False) or required
        for var, required in env_reads(rust_source(config.relative_to(ROOT))).items():
            reads[var] = reads.get(var, False) or required
        variables = (merged(function, globals_, "Environment") or {}).get("Variables", {})
        where = f"functions/{crate}/src/config.rs and shared/src/config.rs"
        for var in sorted(variables):
            if set_by_lambda(var):
                problems.add("env-matches-config", name, f"sets {var}, which Lambda sets itself")
            elif var not in reads:
                problems.add("env-matches-config", name, f"sets {var}, which {where} never read")
        for var in sorted(v for v, required in reads.items() if required):
            if var not in variables and not set_by_lambda(var):
                problems.add("env-matches-config", name, f"does not set {var}, which {where} require")

    # 11. Every function is an arm64 provided.al2023 bootstrap built by cargo-lambda.
    for name, function in functions.items():
        if merged(function, globals_, "Architectures") != ["arm64"]:
            problems.add("arm64-al2023", name, "is not arm64 (Architectures: [arm64])")
        if merged(function, globals_, "Runtime") != "provided.al2023":
            problems.add("arm64-al2023", name, "does not run on provided.al2023")
        if merged(function, globals_, "Handler") != "bootstrap":
            problems.add("arm64-al2023", name, "has another Handler than bootstrap")
        metadata = function.get("Metadata", {})
        if metadata.get("BuildMethod") != "rust-cargolambda":
            problems.add("arm64-al2023", name, "is not built with BuildMethod: rust-cargolambda")
        binary = metadata.get("BuildProperties", {}).get("Binary")
        if not binary or not (ROOT / "functions" / binary / "Cargo.toml").exists():
            problems.add("arm64-al2023", name,
                         f"BuildProperties.Binary {binary!r} is no crate under functions/")

    # 12. Each function logs as JSON, at set levels, to its own log group with a retention.
    for name, function in functions.items():
        logging = merged(function, globals_, "LoggingConfig") or {}
        for key in ("ApplicationLogLevel", "SystemLogLevel"):
            if key not in logging:
                problems.add("log-group", name, f"LoggingConfig has no {key}")
        if logging.get("LogFormat") != "JSON":
            problems.add("log-group", name, "LoggingConfig.LogFormat is not JSON")
        for key, kept, reason in LOG_LEVELS:
            for level in log_levels(template, logging.get(key)):
                if level not in kept:
                    problems.add("log-level", name,
                                 f"LoggingConfig.{key} may be {level}, which drops {reason}: "
                                 f"only {', '.join(kept)}")
        group = logging.get("LogGroup", {})
        group = group.get("Ref") if isinstance(group, dict) else None
        if resources.get(group, {}).get("Type") != "AWS::Logs::LogGroup":
            problems.add("log-group", name,
                         "has no log group of its own (LoggingConfig.LogGroup: !Ref <AWS::Logs::LogGroup>)")
            continue
        props = resources[group]["Properties"]
        if "RetentionInDays" not in props:
            problems.add("log-group", group, f"keeps {name}'s logs forever (no RetentionInDays)")
        function_name = sub_text(function["Properties"].get("FunctionName"))
        if not function_name or sub_text(props.get("LogGroupName")) != f"/aws/lambda/{function_name}":
            problems.add("log-group", group,
                         f"is not named /aws/lambda/<{name}'s FunctionName>, where Lambda's own "
                         "messages (init failures, timeouts) go")

    # 13. Each function's asynchronous invocations are bounded and end in a watched queue.
    alarms = of_type("AWS::CloudWatch::Alarm").values()
    for name, function in functions.items():
        invoke = merged(function, globals_, "EventInvokeConfig") or {}
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key not in invoke:
                problems.add("failure-handling", name, f"EventInvokeConfig has no {key}")
        destination = invoke.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        dead_letters = function["Properties"].get("DeadLetterQueue", {}).get("TargetArn")
        queue = getatt_target(destination) or getatt_target(dead_letters)
        if not queue:
            problems.add("failure-handling", name,
                         "has no dead-letter queue (EventInvokeConfig on-failure destination or DeadLetterQueue)")
            continue
        watched = any(
            alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
            and {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}
            in as_list(alarm["Properties"].get("Dimensions"))
            and alarm["Properties"].get("AlarmActions")
            for alarm in alarms
        )
        if not watched:
            problems.add("failure-handling", queue,
                         f"{name}'s dead-letter queue has no alarm on ApproximateNumberOfMessagesVisible")

    # 14. Event patterns name exactly the event ids the code handles, from the sources it
    #     handles them from, and every one it acts on reaches it.
    check_event_ids(resources, of_type, problems)

    # 15. Each function that answers a metric's alarms on its own (ALARM_HANDLERS) gets exactly
    #     that metric's alarms moving into ALARM from EventBridge; no other function gets any.
    check_alarm_routes(functions, of_type, problems)

    # 16. A function built to connect to databases (rds-responder's `db` feature) runs in the
    #     VPC, where the databases are.
    for name, function in functions.items():
        crate = function_crate(function)
        if not crate or not (ROOT / "functions" / crate / "Cargo.toml").exists():
            continue  # arm64-al2023 names it
        if "db" not in shared_features(crate):
            continue
        vpc = merged(function, globals_, "VpcConfig") or {}
        if not (isinstance(vpc, dict) and vpc.get("SubnetIds") and vpc.get("SecurityGroupIds")):
            problems.add("vpc", name,
                         f"connects to databases (rds-responder feature db in functions/{crate}/Cargo.toml) "
                         "but has no VpcConfig with SubnetIds and SecurityGroupIds")

    # 17. AWS Backup restore testing: a verdict (PutRestoreValidationResult, on "*": it takes no
    #     resource type) is posted only by a function of RESTORE_VALIDATORS, under the condition
    #     that its plans are listed, in this region; it is granted every Backup operation its code
    #     calls; and only an EventBridge rule under that condition routes restore jobs to it, only
    #     its listed plans' (restoreTestingPlanArn: the parameter), only the status its code
    #     validates, and one does.
    check_restore_testing(template, validators, of_type, problems)

    # 18. A Scan of anything but a drill's scratch table only counts (StringEquals dynamodb:Select
    #     COUNT): the code's scans count (table_recovery.rs count_items); items are never read.
    check_count_only_scans(resources, scratch, problems)

    # 19. Each function's role holds its inline policies: IAM takes 10,240 characters in all (not
    #     counting whitespace: its Policies and the IAM::Policy resources attached to its role), and
    #     6,144 for a managed policy; estimated with every condition true and POLICY_VALUES.
    check_policy_size(template, functions, problems)
    check_dashboard_metrics(template, globals_, of_type, problems)
    return problems


def check_schedule_input(name, raw, function, problems):
    """The plain input of a schedule: a JSON object with the Scheduler context the function reads
    (SCHEDULER_CONTEXT) and, for a function of SCHEDULE_TASKS, a task it takes."""
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError as error:
        problems.add("schedule", name, f"the input is not JSON ({error})")
        return
    if not isinstance(value, dict):
        problems.add("schedule", name, "the input is not a JSON object written out in the template")
        return
    context = value.get("scheduler")
    for key, placeholder in SCHEDULER_CONTEXT.items():
        if not (isinstance(context, dict) and context.get(key) == placeholder):
            problems.add("schedule", name,
                         f'the input\'s "scheduler" must carry "{key}": "{placeholder}" '
                         "(rules/src/trigger/schedule.rs parse_scheduler reads it)")
    if function not in SCHEDULE_TASKS:
        return
    source, enum = SCHEDULE_TASKS[function]
    tasks = rust_enum_names(source, enum)
    if not tasks:
        problems.add("schedule", name,
                     f"no serde-named enum {enum} in {source}: update SCHEDULE_TASKS in check-template.py")
    elif value.get("task") not in tasks:
        problems.add("schedule", name,
                     f"{function} refuses the input's task {value.get('task')!r}: one of "
                     f"{', '.join(tasks)} ({enum} in {source})")


def check_scratch_grants(resources, scratch, validators, guards, problems):
    for name, policy, owners in owned_policies(resources):
        for statement in statements(policy):
            if statement["Effect"] != "Allow":
                continue
            label = statement.get("Sid", "a statement")
            texts = statement_resources(statement)
            claim = restore_test_claim(statement, owners, scratch, validators, guards)
            for pattern in statement_actions(statement):
                for action in NO_DATABASE_LIFECYCLE:
                    if action_matches(pattern, action):
                        problems.add("database-lifecycle", name,
                                     f"{label} lets {', '.join(owners)} {action} (by {pattern}): no "
                                     "principal creates a database or table but as a drill's scratch "
                                     "resource (SCRATCH_INSTANCES), nor changes a cluster or table")
                for action in SCRATCH_ACTIONS:
                    if not action_matches(pattern, action):
                        continue
                    for owner in owners:
                        if owner not in SCRATCH_INSTANCES:
                            problems.add("scratch-instances", name,
                                         f"{label} lets {owner} {action} (by {pattern}): only a function "
                                         "of SCRATCH_INSTANCES (check-template.py) may, on its scratch "
                                         "resources")
                            continue
                        if owner not in scratch:
                            continue  # its settings are unknown: scratch_settings said why
                        check_scratch_statement(name, label, owner, scratch[owner], action, pattern,
                                                statement, texts, resources, problems,
                                                claim if action in RESTORE_TEST_ACTIONS else None)


def check_scratch_statement(name, label, owner, settings, action, pattern, statement, texts,
                            resources, problems, claim=None):
    """`claim`: (tag, what it lacks) when the statement grants a restore test's instance
    (restore_test_claim): its keys are a drill's and the validates key, and, lacking nothing, it
    may create the instance into any cluster."""
    mark, tag = settings["mark"], settings["tag"]
    source = SCRATCH_INSTANCES[owner]["source"]
    lets = f"{label} lets {owner} {action} (by {pattern})"
    testing = claim is not None and not claim[1]
    if claim is not None and claim[1]:
        problems.add("scratch-instances", name,
                     f"{lets} for a restore test's instance (its request naming {claim[0]}) "
                     + "; ".join(claim[1]) + ": its code adds one instance to the cluster AWS Backup "
                     "restored, only while plans are listed, tagged as a drill's copy and with the restore job")
    if action in SCRATCH_TAGGING:
        # Every resource of the request (the new resource, its source, its groups) is
        # authorized in the same request: each statement needs the request's conditions.
        if not scratch_request_tagged(statement, settings):
            what = ("its code tags a scratch table only with its scratch name" if action.startswith("dynamodb:")
                    else "a restore only tags the new instance or cluster with its scratch name")
            problems.add("scratch-instances", name,
                         f"{lets} without StringLike aws:RequestTag/{tag}: \"*{mark}*\" (SCRATCH_TAG, "
                         f"SCRATCH_MARK in {source}): {what}")
        keys = request_tag_keys(statement)
        if claim is None and (keys is None or set(keys) != settings["keys"]):
            problems.add("scratch-instances", name,
                         f"{lets} with tag keys {', '.join(sorted(keys)) if keys else 'of any kind'}: "
                         "limit them (ForAllValues:StringEquals aws:TagKeys) to "
                         f"{', '.join(sorted(settings['keys']))}, the keys its restores write "
                         f"({source}): never {settings['opt_in']}, which would enrol the scratch resource")
    for kind, spec in SCRATCH_KINDS.items():
        if action not in spec["acts"]:
            continue
        plural = {"instance": "instances", "cluster": "clusters", "table": "tables"}[kind]
        for text in texts:
            if not may_name(text, kind, resources):
                continue  # a snapshot, a backup, an option, parameter or subnet group, another kind
            if scratch_arn(text, mark, (kind,)):
                if action in SCRATCH_DELETES and not scratch_resource_tagged(statement, settings, kind):
                    problems.add("scratch-instances", name,
                                 f"{lets} on {text} without StringLike aws:ResourceTag/{tag}: \"*{mark}*\": "
                                 f"its code deletes only scratch {plural} tagged with their scratch name")
                if (action in SCRATCH_DELETES and settings["owner"] is not None
                        and not scratch_resource_owned(statement, settings, kind)):
                    entry = SCRATCH_INSTANCES[owner]
                    values = scratch_owner_values(statement, settings, kind)
                    condition = (f"StringEquals aws:ResourceTag/{settings['owner_tag']}: "
                                 f"{as_written(settings['owner'])}")
                    has = ("without " + condition if values is None else
                           f"with StringEquals aws:ResourceTag/{settings['owner_tag']}: "
                           f"{', '.join(as_written(v) for v in values) or '[]'}, not {condition}")
                    problems.add("scratch-instances", name,
                                 f"{lets} on {text} {has} ({entry['owner_variable']}, its deployment's "
                                 f"ledger table): its sweep deletes only the scratch {plural} its own "
                                 f"ledger's drills made ({entry['owner_tag']}, ownership() in {source}); "
                                 "another deployment's in the account are that one's")
                if action in PRIVATE_CREATES and kind == "instance" and not privately_created(statement):
                    problems.add("scratch-instances", name,
                                 f"{lets} on {text} without Bool rds:PubliclyAccessible: \"false\": "
                                 "its code creates only scratch instances no one outside the VPC reaches")
                continue
            if action in spec["sources"] and scratch_source(kind, action, text, statement, settings):
                continue  # a point-in-time restore's source enrolled for drills, a drilled table
            if kind == "cluster" and action == "rds:CreateDBInstance" and testing:
                continue  # a restore test's instance, into the cluster AWS Backup restored
            shown = text or "a Resource it cannot tell"
            only = (f"only {spec['acts'][action]} its scratch {plural} ({spec['name']}{mark}<time>, "
                    f"SCRATCH_MARK in {source})")
            if action in spec["sources"] and kind == "table":
                drilled = settings["drilled"]
                problems.add("scratch-instances", name,
                             f"{lets} on {shown}: {only}, or from the tables it drills "
                             + (f"(table/{drilled}" + ("/backup/*" if action.endswith("FromBackup") else "")
                                + f", the parameter of {SCRATCH_INSTANCES[owner]['drilled_tables']})"
                                if drilled else
                                f"(none: it sets no {SCRATCH_INSTANCES[owner]['drilled_tables']})"))
            elif action in spec["sources"]:
                problems.add("scratch-instances", name,
                             f"{lets} on {shown}: {only}, or from {plural} enrolled for drills "
                             f"(StringEqualsIgnoreCase aws:ResourceTag/{settings['opt_in']}: {settings['drill']}, "
                             f"as {SCRATCH_INSTANCES[owner]['drill_value'][0]} reads it)")
            else:
                problems.add("scratch-instances", name, f"{lets} on {shown}: {only}")


def scratch_source(kind, action, text, statement, settings):
    """Whether a resource of a restore is its source, as the code's drills have them: an instance
    or cluster enrolled for drills (a point-in-time restore), a drilled table (a point-in-time
    restore) or a drilled table's backup (a restore from a backup)."""
    if kind != "table":
        return opted_in(statement, settings["opt_in"], [settings["drill"]])
    drilled = settings["drilled"]
    if drilled is None or text is None:
        return False
    rest = text.split(":table/", 1)[1] if ":table/" in text else None
    wanted = f"{drilled}/backup/*" if action == "dynamodb:RestoreTableFromBackup" else drilled
    return rest == wanted


def guarded_statements(resources):
    """(resource, statement, [function or role it grants to], conditions) of every Allow
    statement of every identity policy (owned_policies' owners): `conditions` the template
    conditions it holds under, from the policy resource's Condition and the Fn::If branches around
    the policy and the statement (the first branch of !If C is "C", the second "!C")."""
    def walk(node, under):
        if isinstance(node, dict) and list(node) == ["Fn::If"] and len(node["Fn::If"]) == 3:
            name, yes, no = node["Fn::If"]
            yield from walk(yes, under + (str(name),))
            yield from walk(no, under + ("!" + str(name),))
        elif node != {"Ref": "AWS::NoValue"} and node is not None:
            yield node, under

    role_of = {}
    for name, resource in resources.items():
        if resource["Type"] == FUNCTION_TYPE:
            role = getatt_target(resource["Properties"].get("Role"))
            role_of[role or f"{name}Role"] = name
    for name, resource in resources.items():
        props = resource.get("Properties", {})
        base = (resource["Condition"],) if isinstance(resource.get("Condition"), str) else ()
        documents = []
        if resource["Type"] in SAM_POLICIES_TYPES:
            documents = [(policy, under) for entry in as_list(props.get("Policies"))
                         for policy, under in walk(entry, base)
                         if isinstance(policy, dict) and "Statement" in policy]
        elif resource["Type"] in IAM_IDENTITY_TYPES:
            documents = [(policy.get("PolicyDocument", {}), under) for entry in as_list(props.get("Policies"))
                         for policy, under in walk(entry, base) if isinstance(policy, dict)]
        elif resource["Type"] in IAM_POLICY_TYPES:
            documents = [(props.get("PolicyDocument", {}), base)]
        owners = [name]
        if resource["Type"] in IAM_POLICY_TYPES:
            roles = as_list(props.get("Roles")) + as_list(props.get("RoleName"))
            owners = [r.get("Ref") if isinstance(r, dict) else r for r in roles] or [name]
        owners = [role_of.get(owner, owner) for owner in owners]
        for document, under in documents:
            entries = as_list(document.get("Statement")) if isinstance(document, dict) else []
            for entry in entries:
                for statement, conditions in walk(entry, under):
                    if isinstance(statement, dict) and statement.get("Effect") == "Allow":
                        yield name, statement, owners, conditions


def in_own_region(statement):
    """Whether a statement holds only in the stack's region: StringEquals aws:RequestedRegion
    !Ref AWS::Region (or "${AWS::Region}")."""
    condition = statement.get("Condition")
    block = condition.get("StringEquals") if isinstance(condition, dict) else None
    values = next((v for k, v in block.items() if k.lower() == "aws:requestedregion"),
                  None) if isinstance(block, dict) else None
    return values is not None and resolved(values) == ["${AWS::Region}"]


def plans_parameter(template, function, variables, variable, problems):
    """The CommaDelimitedList parameter a validator's plans variable joins (!Join [",", !Ref P]),
    or None (with why, unless the variable is unset: then it validates nothing)."""
    value = variables.get(variable)
    if value is None:
        return None
    joined = value.get("Fn::Join") if isinstance(value, dict) else None
    if (isinstance(joined, list) and len(joined) == 2 and joined[0] == ","
            and isinstance(joined[1], dict) and list(joined[1]) == ["Ref"]
            and template.get("Parameters", {}).get(joined[1]["Ref"], {}).get("Type") == "CommaDelimitedList"):
        return joined[1]["Ref"]
    problems.add("restore-testing", function,
                 f"sets {variable} from {value!r}: join a CommaDelimitedList parameter "
                 f"(!Join [\",\", !Ref <parameter>]), whose non-empty condition guards the grants and "
                 "the event rule, and which the rule's pattern names")
    return None


def listed_condition(template, parameter):
    """The names of the template conditions that hold exactly when a CommaDelimitedList parameter
    is not empty: !Not [!Equals [!Join ["", !Ref P], ""]] (either order)."""
    joined = {"Fn::Join": ["", {"Ref": parameter}]}
    wanted = ([joined, ""], ["", joined])
    return [name for name, condition in (template.get("Conditions") or {}).items()
            if isinstance(condition, dict) and list(condition) == ["Fn::Not"]
            and isinstance(condition["Fn::Not"], list) and len(condition["Fn::Not"]) == 1
            and isinstance(condition["Fn::Not"][0], dict)
            and condition["Fn::Not"][0].get("Fn::Equals") in wanted]


def rust_function_body(relative, name):
    text = rust_source(relative)
    match = re.search(rf"\bfn\s+{name}\b[^{{]*\{{", text)
    return text[match.start():block_end(text, match.end() - 1)] if match else None


def validator_settings(template, functions, globals_, problems):
    """{function: settings} of the RESTORE_VALIDATORS functions in the template that list plans:
    the plans parameter, the conditions that it is non-empty, the Backup operations its code
    calls, the event detail-type, the status it validates and the tag of a restore test's
    instance (None where the code was not read: a problem says why)."""
    found = {}
    for function, entry in RESTORE_VALIDATORS.items():
        if function not in functions:
            continue
        variables = (merged(functions[function], globals_, "Environment") or {}).get("Variables", {})
        parameter = plans_parameter(template, function, variables, entry["variable"], problems)
        calls = set(re.findall(r'\.bounded(?:_action)?\(\s*"Backup (\w+)"', rust_source(entry["calls"])))
        if not calls:
            problems.add("restore-testing", function,
                         f"no `bounded(\"Backup <operation>\")` call in {entry['calls']}: update "
                         "RESTORE_VALIDATORS in check-template.py")
        detail_type = rust_str_constant(*entry["detail_type"])
        if not detail_type:
            problems.add("restore-testing", function,
                         f"no {entry['detail_type'][1]} in {entry['detail_type'][0]}: update RESTORE_VALIDATORS "
                         "in check-template.py")
        body = rust_function_body(*entry["status"])
        statuses = re.findall(r'\.status\s*!=\s*"([A-Za-z_]+)"', body or "")
        if len(statuses) != 1:
            problems.add("restore-testing", function,
                         f"no one `status != \"...\"` in {entry['status'][1]} of {entry['status'][0]}: "
                         "update RESTORE_VALIDATORS in check-template.py")
        validates_tag = rust_str_constant(*entry["validates_tag"])
        if not validates_tag:
            problems.add("restore-testing", function,
                         f"no {entry['validates_tag'][1]} in {entry['validates_tag'][0]}: update "
                         "RESTORE_VALIDATORS in check-template.py")
        conditions = listed_condition(template, parameter) if parameter else []
        if parameter and not conditions:
            problems.add("restore-testing", function,
                         f"no template condition holds when {parameter} lists a plan "
                         f"(!Not [!Equals [!Join [\"\", !Ref {parameter}], \"\"]]): its grants and its "
                         "restore-job rule stand under one")
        found[function] = {
            "parameter": parameter, "conditions": conditions, "calls": calls,
            "detail_type": detail_type, "status": statuses[0] if len(statuses) == 1 else None,
            "validates_tag": validates_tag,
        }
    return found


def check_restore_testing(template, validators, of_type, problems):
    resources = template["Resources"]
    variable = lambda f: RESTORE_VALIDATORS[f]["variable"]
    granted = {}  # validator -> {action patterns granted under its condition}
    for name, statement, owners, under in guarded_statements(resources):
        label = statement.get("Sid", "a statement")
        patterns = statement_actions(statement)
        for owner in owners:
            settings = validators.get(owner)
            if settings and set(under) & set(settings["conditions"]):
                granted.setdefault(owner, set()).update(patterns)
        for pattern in patterns:
            for action in BACKUP_WRITES_ON_ANY:
                if not action_matches(pattern, action):
                    continue
                lets = f"{label} lets {', '.join(owners)} {action} (by {pattern})"
                for owner in owners:
                    settings = validators.get(owner)
                    if owner not in RESTORE_VALIDATORS:
                        problems.add("restore-testing", name,
                                     f"{label} lets {owner} {action} (by {pattern}): only a function of "
                                     "RESTORE_VALIDATORS (check-template.py) posts restore-testing verdicts")
                    elif settings and not settings["parameter"]:
                        problems.add("restore-testing", name,
                                     f"{lets}, but its {variable(owner)} joins no parameter of plans: it posts "
                                     "nothing, or the grant's condition cannot follow the plans")
                    elif settings and settings["conditions"] and not set(under) & set(settings["conditions"]):
                        problems.add("restore-testing", name,
                                     f"{lets} outside !If {settings['conditions'][0]}: with "
                                     f"{settings['parameter']} empty its code posts nothing "
                                     "(policy/validation.rs validation_target)")
                if not in_own_region(statement):
                    problems.add("restore-testing", name,
                                 f"{lets} without StringEquals aws:RequestedRegion: !Ref AWS::Region: the "
                                 "action takes no resource type, and its code posts only to its own "
                                 "region's jobs")
    for function, settings in validators.items():
        if not settings["parameter"] or not settings["conditions"]:
            continue
        for operation in sorted(settings["calls"]):
            action = f"backup:{operation}"
            if not any(action_matches(p, action) for p in granted.get(function, ())):
                problems.add("restore-testing", function,
                             f"calls Backup {operation} ({RESTORE_VALIDATORS[function]['calls']}), which no "
                             f"grant under !If {settings['conditions'][0]} allows ({action})")
    routed = set()
    for name, rule in of_type("AWS::Events::Rule").items():
        targets = [getatt_target(t.get("Arn")) for t in rule["Properties"].get("Targets", [])]
        for pattern in pattern_alternatives(rule["Properties"].get("EventPattern", {})):
            if "aws.backup" not in as_list(pattern.get("source")):
                continue
            for function in targets:
                settings = validators.get(function)
                if settings is None or not settings["parameter"]:
                    problems.add("restore-testing", name,
                                 f"routes AWS Backup events to {function}, which validates no restore test "
                                 "(RESTORE_VALIDATORS in check-template.py, listing plans): each would cost "
                                 "an invocation and a report")
                    continue
                problem = lambda text: problems.add("restore-testing", name, f"routes restore jobs to {function} {text}")
                clean = True
                if settings["conditions"] and rule.get("Condition") not in settings["conditions"]:
                    clean = False
                    problem(f"without Condition: {settings['conditions'][0]}: with {settings['parameter']} "
                            "empty every restore in the account would cost an invocation and a report")
                if settings["detail_type"] and as_list(pattern.get("detail-type")) != [settings["detail_type"]]:
                    clean = False
                    problem(f"of detail-type {as_list(pattern.get('detail-type')) or 'any'}: only "
                            f"[{settings['detail_type']}] ({RESTORE_VALIDATORS[function]['detail_type'][1]} in "
                            f"{RESTORE_VALIDATORS[function]['detail_type'][0]})")
                detail = pattern.get("detail") if isinstance(pattern.get("detail"), dict) else {}
                if settings["status"] and as_list(detail.get("status")) != [settings["status"]]:
                    clean = False
                    problem(f"in status {as_list(detail.get('status')) or 'any'}: only "
                            f"[{settings['status']}], the one {RESTORE_VALIDATORS[function]['status'][1]} "
                            f"({RESTORE_VALIDATORS[function]['status'][0]}) validates (detail.status)")
                if detail.get(PLAN_FIELD) != {"Ref": settings["parameter"]}:
                    clean = False
                    problem(f"of every plan: limit detail.{PLAN_FIELD} to !Ref {settings['parameter']}, the "
                            f"plans it validates ({variable(function)})")
                if clean:
                    routed.add(function)
    for function, settings in validators.items():
        if settings["parameter"] and settings["conditions"] and function not in routed:
            problems.add("restore-testing", function,
                         f"validates the restore tests of {settings['parameter']} ({variable(function)}), which no "
                         "EventBridge rule routes to it (source aws.backup, its detail-type and status, "
                         f"detail.{PLAN_FIELD}: !Ref {settings['parameter']}, Condition: "
                         f"{(settings['conditions'] or ['?'])[0]})")


def check_count_only_scans(resources, scratch, problems):
    for name, policy, owners in owned_policies(resources):
        for statement in statements(policy):
            if statement["Effect"] != "Allow":
                continue
            patterns = [p for p in statement_actions(statement) if action_matches(p, "dynamodb:Scan")]
            if not patterns:
                continue
            texts = statement_resources(statement)
            scratch_only = bool(owners) and all(owner in scratch for owner in owners) and texts and all(
                scratch_arn(text, scratch[owner]["mark"], ("table",)) for owner in owners for text in texts)
            if scratch_only or condition_values(statement, "StringEquals", "dynamodb:Select") == ["COUNT"]:
                continue
            shown = ", ".join(text or "a Resource it cannot tell" for text in texts)
            problems.add("count-only-scans", name,
                         f"{statement.get('Sid', 'a statement')} lets {', '.join(owners)} dynamodb:Scan (by "
                         f"{', '.join(patterns)}) on {shown} without StringEquals dynamodb:Select: COUNT: the "
                         "code's scans only count (count_items in shared/src/table_recovery.rs); items are "
                         "read only from scratch tables")


def policy_estimate(template, node):
    """A template value as IAM would store it, every condition true (the first branch of each
    Fn::If), with POLICY_VALUES for what only a deployment knows."""
    parameters = template.get("Parameters", {})
    resources = template.get("Resources", {})

    def ref(name):
        if name in POLICY_VALUES:
            return POLICY_VALUES[name]
        if name in parameters:
            parameter = parameters[name]
            if parameter.get("Type") == "CommaDelimitedList":
                return ["x" * POLICY_VALUES["list_item"]]
            default = str(parameter.get("Default", ""))
            return default or "x" * POLICY_VALUES["list_item"]
        if name in resources:
            return "x" * POLICY_VALUES["name"]
        return "x" * POLICY_VALUES["name"]

    def value(node):
        if isinstance(node, list):
            out = []
            for item in node:
                item = value(item)
                if item is not NO_VALUE:
                    out.append(item)
            return out
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (function, argument), = node.items()
            if function == "Ref":
                return NO_VALUE if argument == "AWS::NoValue" else ref(argument)
            if function == "Fn::GetAtt":
                return "x" * POLICY_VALUES["arn"]
            if function == "Fn::If":
                return value(argument[1])
            if function == "Fn::Join":
                items = value(argument[1])
                flat = [part for item in (items if isinstance(items, list) else [items])
                        for part in (item if isinstance(item, list) else [item])]
                return str(argument[0]).join(map(str, flat))
            if function == "Fn::Split":
                return str(value(argument[1])).split(argument[0])
            if function == "Fn::Select":
                items = value(argument[1])
                return items[int(argument[0])] if isinstance(items, list) and len(items) > int(argument[0]) else ""
            if function == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
                def substitute(match):
                    name = match.group(1)
                    if name in variables:
                        found = value(variables[name])
                    elif "." in name:
                        found = "x" * POLICY_VALUES["arn"]
                    else:
                        found = ref(name)
                    return ",".join(found) if isinstance(found, list) else str(found)
                return re.sub(r"\$\{([^}!][^}]*)\}", substitute, str(text))
        out = {}
        for key, item in node.items():
            item = value(item)
            if item is not NO_VALUE:
                out[key] = item
        return out

    return value(node)


NO_VALUE = object()


def policy_chars(template, document):
    """The characters IAM counts in a policy document (policy_estimate, no whitespace)."""
    document = policy_estimate(template, document)
    if document is NO_VALUE or not isinstance(document, dict):
        return 0
    return len(re.sub(r"\s", "", json.dumps(document, separators=(",", ":"))))


def check_policy_size(template, functions, problems):
    """Each SAM function's inline policies (its Policies documents, what SAM adds, and the
    IAM::Policy and IAM::RolePolicy documents attached to the role SAM makes it), estimated as IAM
    stores them: over MAX_INLINE_POLICY_CHARS, IAM refuses the role; each managed policy of the
    template over MAX_MANAGED_POLICY_CHARS, the policy."""
    resources = template.get("Resources", {})
    attached = {}  # role -> [inline policy documents of IAM::Policy, IAM::RolePolicy resources]
    for resource in resources.values():
        if resource.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::RolePolicy"):
            props = resource.get("Properties", {})
            for role in as_list(props.get("Roles")) + as_list(props.get("RoleName")):
                role = role.get("Ref") if isinstance(role, dict) else role
                attached.setdefault(role, []).append(props.get("PolicyDocument", {}))
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::IAM::ManagedPolicy":
            continue
        total = policy_chars(template, resource.get("Properties", {}).get("PolicyDocument", {}))
        if total > MAX_MANAGED_POLICY_CHARS:
            problems.add("policy-size", name,
                         f"its document comes to about {total:,} characters (every condition true), over "
                         f"IAM's {MAX_MANAGED_POLICY_CHARS:,} for a managed policy: shorten or split it")
    for name, function in functions.items():
        if function["Properties"].get("Role"):
            continue  # a role of the template: its own policies, not measured here
        total = SAM_ADDED_POLICY_CHARS
        for policy in as_list(function["Properties"].get("Policies")) + attached.get(f"{name}Role", []):
            total += policy_chars(template, policy)
        if total > MAX_INLINE_POLICY_CHARS:
            problems.add("policy-size", name,
                         f"its role's inline policies come to about {total:,} characters (every condition "
                         f"true, each list parameter one {POLICY_VALUES['list_item']}-character name, "
                         f"{SAM_ADDED_POLICY_CHARS} for SAM's own), over IAM's "
                         f"{MAX_INLINE_POLICY_CHARS:,} for a role's inline policies in all: shorten or "
                         "merge statements")


def alarm_patterns(rule):
    """The plain patterns of a rule that route CloudWatch alarm state changes."""
    return [pattern for pattern in pattern_alternatives(rule["Properties"].get("EventPattern", {}))
            if "aws.cloudwatch" in as_list(pattern.get("source"))
            and ALARM_DETAIL_TYPE in (as_list(pattern.get("detail-type")) or [ALARM_DETAIL_TYPE])]


def check_alarm_routes(functions, of_type, problems):
    watched = {}
    for function, (source, constant) in ALARM_HANDLERS.items():
        metric = rust_watched_metric(source, constant)
        if metric is None:
            problems.add("alarm-routes", function,
                         f"no WatchedMetric {constant} in {source}: update ALARM_HANDLERS in check-template.py")
        watched[function] = metric
    routed = set()
    for name, rule in of_type("AWS::Events::Rule").items():
        targets = [getatt_target(t.get("Arn")) for t in rule["Properties"].get("Targets", [])]
        for pattern in alarm_patterns(rule):
            detail = pattern.get("detail", {})
            metric = detail.get("configuration", {}).get("metrics", {}).get("metricStat", {}).get("metric", {})
            fires = as_list(detail.get("state", {}).get("value")) == ["ALARM"]
            names = (as_list(metric.get("namespace")), as_list(metric.get("name")))
            for function in targets:
                if function not in functions:
                    continue
                if function not in watched:
                    problems.add("alarm-routes", name,
                                 f"routes CloudWatch alarms to {function}, which answers no metric "
                                 "of its own (ALARM_HANDLERS in check-template.py)")
                    continue
                if watched[function] is None:
                    continue
                namespace, metric_name = watched[function]
                if fires and names == ([namespace], [metric_name]):
                    routed.add(function)
                else:
                    problems.add("alarm-routes", name,
                                 f"routes CloudWatch alarms to {function} other than {namespace} "
                                 f"{metric_name} moving into ALARM (detail.state.value [ALARM], "
                                 "detail.configuration.metrics.metricStat.metric namespace and name)")
    for function, metric in watched.items():
        if function in functions and metric is not None and function not in routed:
            source, constant = ALARM_HANDLERS[function]
            problems.add("alarm-routes", function,
                         f"answers {metric[0]} {metric[1]} alarms ({constant} in {source}), which no "
                         "EventBridge rule routes to it in ALARM")


def function_crate(function):
    binary = function.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
    code_uri = function["Properties"].get("CodeUri")
    return binary or (pathlib.PurePosixPath(code_uri).name if isinstance(code_uri, str) else None)


def pattern_alternatives(pattern):
    """An EventBridge pattern with its $or expanded: a list of plain patterns."""
    if not isinstance(pattern, dict):
        return [pattern]
    expanded = [{}]
    for key, value in pattern.items():
        if key == "$or":
            expanded = [{**done, **option} for done in expanded
                        for branch in value for option in pattern_alternatives(branch)]
        else:
            expanded = [{**done, key: option} for done in expanded for option in pattern_alternatives(value)]
    return expanded


def check_event_ids(resources, of_type, problems):
    handled = {}  # function -> {(source type, id): "routed" | "acknowledged"}
    for function, (source, constants) in EVENT_HANDLERS.items():
        handled[function] = {}
        for constant, (source_types, how) in constants.items():
            ids = rust_constant_ids(source, constant)
            if not ids:
                problems.add("event-ids", function,
                             f"no event ids in {constant} of {source}: update EVENT_HANDLERS in check-template.py")
                continue
            for event_id in ids:
                for source_type in source_types:
                    handled[function][(source_type, event_id)] = how
    routes = {}  # (function, path) -> {(source type, id)}

    def route(resource, function, path, source_types, ids):
        if function not in handled:
            problems.add("event-ids", resource,
                         f"routes {', '.join(sorted(ids))} to {function}, which handles no RDS event ids")
            return
        for event_id in sorted(ids):
            known = [how for (t, i), how in handled[function].items() if i == event_id]
            for source_type in source_types:
                how = handled[function].get((source_type, event_id))
                if how == "routed":
                    routes.setdefault((function, path), set()).add((source_type, event_id))
                elif how == "acknowledged":
                    problems.add("event-ids", resource,
                                 f"routes {event_id} to {function}, which only acknowledges it "
                                 f"({EVENT_HANDLERS[function][0]}): leave it out of the pattern")
                elif known:
                    problems.add("event-ids", resource,
                                 f"routes {event_id} from {source_type} to {function}, which handles it "
                                 "from other sources only")
                else:
                    problems.add("event-ids", resource,
                                 f"routes {event_id} to {function}, which does not handle it "
                                 f"({EVENT_HANDLERS[function][0]})")

    mark = rust_str_constant(*SNAPSHOT_NAME_MARK)
    # The event ids that come from scratch resources only, and the mark their names carry.
    scratch_events = {}
    for function, entry in SCRATCH_INSTANCES.items():
        source, constants = EVENT_HANDLERS.get(function, (None, {}))
        ids = set()
        for constant in entry["events"]:
            if constant not in constants:
                problems.add("event-ids", function,
                             f"{constant} is no EVENT_HANDLERS constant of it: update SCRATCH_INSTANCES "
                             "in check-template.py")
                continue
            ids |= rust_constant_ids(source, constant) or set()  # none: "no event ids" above
        scratch_mark = rust_str_constant(entry["source"], entry["mark"])
        if ids and scratch_mark:
            scratch_events[function] = (ids, scratch_mark)
    for name, rule in of_type("AWS::Events::Rule").items():
        targets = [getatt_target(t.get("Arn")) for t in rule["Properties"].get("Targets", [])]
        for pattern in pattern_alternatives(rule["Properties"].get("EventPattern", {})):
            if "aws.rds" not in as_list(pattern.get("source")):
                continue
            detail = pattern.get("detail", {})
            ids = as_list(detail.get("EventID"))
            if not ids or not all(isinstance(i, str) for i in ids):
                problems.add("event-ids", name,
                             "routes RDS events without naming their exact EventIDs")
                continue
            detail_types = as_list(pattern.get("detail-type")) or list(RDS_DETAIL_TYPES)
            source_types = [RDS_DETAIL_TYPES.get(t, t) for t in detail_types]
            for function in targets:
                route(name, function, "EventBridge", source_types, set(ids))
                snapshots = set(source_types) & set(SNAPSHOTS)
                if function == "SnapshotterFunction" and snapshots and (
                        detail.get("SourceIdentifier") != [{"wildcard": f"*{mark}*"}]):
                    problems.add("event-ids", name,
                                 f"routes every snapshot's events: limit SourceIdentifier to ours, "
                                 f"[{{wildcard: \"*{mark}*\"}}] (NAME_MARK in {SNAPSHOT_NAME_MARK[0]})")
                if function in scratch_events:
                    own, scratch_mark = scratch_events[function]
                    entry = SCRATCH_INSTANCES[function]
                    filtered = detail.get("SourceIdentifier") == [{"wildcard": f"*{scratch_mark}*"}]
                    if set(ids) & own and not filtered:
                        problems.add("event-ids", name,
                                     f"routes every {'/'.join(sorted({t.removeprefix('db-') for t in source_types}))}'s "
                                     f"{', '.join(sorted(set(ids) & own))} to "
                                     f"{function}: limit SourceIdentifier to its scratch resources', "
                                     f"[{{wildcard: \"*{scratch_mark}*\"}}] ({entry['mark']} in {entry['source']})")
                    if set(ids) - own and "SourceIdentifier" in detail:
                        problems.add("event-ids", name,
                                     f"limits {', '.join(sorted(set(ids) - own))} to {function} by "
                                     "SourceIdentifier: they are about the databases themselves, never "
                                     f"a scratch resource ({', '.join(entry['events'])} only): give them a "
                                     "pattern of their own")
    for name, subscription in of_type("AWS::SNS::Subscription").items():
        props = subscription["Properties"]
        function = getatt_target(props.get("Endpoint"))
        if props.get("Protocol") != "lambda" or function not in resources:
            continue
        for policy in pattern_alternatives(props.get("FilterPolicy", {})):
            ids = [i.get("suffix", "") for i in as_list(policy.get("Event ID")) if isinstance(i, dict)]
            if props.get("FilterPolicyScope") != "MessageBody" or not ids or not all(
                    re.fullmatch(r"#RDS-EVENT-\d{4}", i) for i in ids):
                problems.add("event-ids", name,
                             "delivers RDS events without naming their exact Event IDs "
                             "(MessageBody filter, \"Event ID\": [{suffix: \"#RDS-EVENT-nnnn\"}])")
                continue
            source_types = as_list(policy.get("Event Source")) or list(RDS_DETAIL_TYPES.values())
            route(name, function, "SNS", source_types, {i[1:] for i in ids})

    for function, events in handled.items():
        wanted = {(t, i) for (t, i), how in events.items() if how == "routed"}
        paths = {path for (f, path) in routes if f == function} | {"EventBridge"}
        for path in sorted(paths):
            reached = routes.get((function, path), set())
            missing = sorted({i for (t, i) in wanted} - {i for (t, i) in reached})
            for event_id in missing:
                problems.add("event-ids", function,
                             f"handles {event_id} ({EVENT_HANDLERS[function][0]}), which no "
                             f"{path} pattern routes to it")


# -- dashboard and alarms ---------------------------------------------------------------------

METRICS_CATALOG = "shared/src/metrics.rs"
# A SEARCH expression's schema and metric name: SEARCH('{Namespace,Dim,..} MetricName="X"', ..).
SEARCH = re.compile(r"SEARCH\(\s*'\{([^}]*)\}\s+MetricName=\"(\w+)\"'")
# A Metrics Insights query: SELECT F(Name) FROM SCHEMA("Namespace", "Dim", ..); its labels
# quoted or not (Function and Resource are reserved words: they must be).
INSIGHTS = re.compile(r'SELECT\s+\w+\((\w+)\)\s+FROM\s+SCHEMA\(\s*"([^"]+)"\s*((?:,\s*"?\w+"?\s*)*)\)')
# Reserved words of Metrics Insights a query's labels must quote.
INSIGHTS_RESERVED = {"FUNCTION", "RESOURCE"}
# The AWS metrics the dashboard may show: a dead-letter queue's depth.
AWS_METRICS = {("AWS/SQS", "ApproximateNumberOfMessagesVisible"): ("QueueName",)}


def emitted_metrics():
    """{name: dimension names} of shared/src/metrics.rs CATALOG, the one list of what the
    functions emit, or None when it cannot be read."""
    text = rust_source(METRICS_CATALOG)
    shared = {name: re.findall(r'"(\w+)"', body) for name, body in
              re.findall(r"\bconst\s+(\w+)\s*:\s*&\[&str\]\s*=\s*&\[(.*?)\];", text, re.S)}
    specs = {}
    for const, body in re.findall(r"\bconst\s+(\w+)\s*:\s*MetricSpec\s*=\s*MetricSpec\s*\{(.*?)\};", text, re.S):
        name = re.search(r'\bname\s*:\s*"(\w+)"', body)
        dims = re.search(r"\bdimensions\s*:\s*(&\[.*?\]|\w+)", body, re.S)
        if not (name and dims):
            return None
        dims = dims.group(1)
        specs[const] = (name.group(1), tuple(re.findall(r'"(\w+)"', dims)) if dims.startswith("&")
                        else tuple(shared.get(dims, ())))
    catalog = re.search(r"\bconst\s+CATALOG\s*:[^=]*=\s*&\[(.*?)\];", text, re.S)
    if not catalog:
        return None
    listed = re.findall(r"\b([A-Z][A-Z0-9_]*)\b", catalog.group(1))
    if not listed or any(c not in specs or not specs[c][1] for c in listed):
        return None
    return {specs[c][0]: set(specs[c][1]) for c in listed}


def sub_placeholders(text, template):
    """A !Sub string with each ${..} replaced by a stand-in of its kind: a number parameter's
    default, "STACK" for the stack name, the name itself otherwise."""
    parameters = template.get("Parameters", {})

    def value(match):
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name == "AWS::StackName":
            return "STACK"
        parameter = parameters.get(name, {})
        if parameter.get("Type") == "Number":
            return str(parameter.get("Default", 1))
        return name
    return re.sub(r"\$\{([^}]*)\}", value, text)


def check_dashboard_metrics(template, globals_, of_type, problems):
    """Every metric a dashboard widget or an alarm names is one the code emits: same namespace
    (the stack's METRICS_NAMESPACE), name and dimensions; AWS metrics only a dead-letter
    queue's depth, of a queue of this stack."""
    namespace = (globals_.get("Environment") or {}).get("Variables", {}).get("METRICS_NAMESPACE")
    namespace = sub_placeholders(sub_text(namespace) or "", template)
    emitted = emitted_metrics()
    if emitted is None:
        problems.add("dashboard", METRICS_CATALOG, "its CATALOG of MetricSpecs cannot be read")
        return
    queues = {f"{name}.QueueName" for name in of_type("AWS::SQS::Queue")}

    def ours(owner, where, ns, name, dims):
        if ns != namespace:
            problems.add("dashboard", owner, f"{where} reads {ns}/{name}: the functions' metrics are in "
                                             f"{namespace or 'METRICS_NAMESPACE (unset)'}")
        elif name not in emitted:
            problems.add("dashboard", owner, f"{where} reads {name}, which no function emits "
                                             f"({METRICS_CATALOG} CATALOG: {', '.join(sorted(emitted))})")
        elif set(dims) != emitted[name]:
            problems.add("dashboard", owner, f"{where} reads {name} by {', '.join(dims) or 'no dimension'}: "
                                             f"it is emitted by {', '.join(sorted(emitted[name]))}")

    for owner, dashboard in of_type("AWS::CloudWatch::Dashboard").items():
        body = dashboard["Properties"].get("DashboardBody")
        text = sub_text(body)
        try:
            widgets = json.loads(sub_placeholders(text, template))["widgets"] if text else None
        except (ValueError, KeyError, TypeError) as error:
            problems.add("dashboard", owner, f"its DashboardBody is not a dashboard's JSON: {error}")
            continue
        if widgets is None:
            problems.add("dashboard", owner, "its DashboardBody is not a string or !Sub string")
            continue
        for widget in widgets:
            props = widget.get("properties", {})
            where = f"widget {props.get('title', '(untitled)')!r}"
            for row in props.get("metrics", []):
                options = row[-1] if row and isinstance(row[-1], dict) else {}
                plain = [v for v in row if not isinstance(v, dict)]
                expression = options.get("expression")
                if expression is not None:
                    if plain:
                        problems.add("dashboard", owner, f"{where}: an expression row also names a metric")
                    for schema, name in SEARCH.findall(expression):
                        parts = [part.strip() for part in schema.split(",")]
                        if any(not re.fullmatch(r"\w+", p) and not re.fullmatch(r'"[^"]+"', p)
                               for p in parts):
                            problems.add("dashboard", owner, f"{where}: quote a schema name with "
                                                             f"characters other than letters and "
                                                             f"digits: {{{schema}}}")
                        ns, *dims = [part.strip('"') for part in parts]
                        ours(owner, where, ns, name, dims)
                    if "SEARCH(" in expression and not SEARCH.search(expression):
                        problems.add("dashboard", owner, f"{where}: a SEARCH without a schema and "
                                                         f"MetricName=\"..\": {expression}")
                    continue
                if len(plain) < 2 or len(plain) % 2 or any(v == "." for v in plain):
                    problems.add("dashboard", owner, f"{where}: a metric row is not [namespace, name, "
                                                     f"dimension, value, ..]: {row}")
                    continue
                ns, name, pairs = plain[0], plain[1], dict(zip(plain[2::2], plain[3::2]))
                if ns.startswith("AWS/"):
                    if AWS_METRICS.get((ns, name)) != tuple(pairs):
                        problems.add("dashboard", owner, f"{where} reads {ns}/{name} by "
                                                         f"{', '.join(pairs)}: the only AWS metric it "
                                                         "shows is a dead-letter queue's depth")
                    elif not re.fullmatch(r"\w+\.QueueName", str(pairs["QueueName"])) or \
                            pairs["QueueName"] not in queues:
                        problems.add("dashboard", owner, f"{where} reads the depth of "
                                                         f"{pairs['QueueName']}, no queue of this stack")
                else:
                    ours(owner, where, ns, name, list(pairs))

    for owner, alarm in of_type("AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        where = "the alarm"
        if "MetricName" in props:
            ns = sub_placeholders(sub_text(props.get("Namespace")) or "", template)
            dims = [d.get("Name") for d in as_list(props.get("Dimensions"))]
            if not ns.startswith("AWS/"):
                ours(owner, where, ns, props["MetricName"], dims)
        for query in as_list(props.get("Metrics")):
            expression = sub_placeholders(sub_text(query.get("Expression")) or "", template)
            for name, ns, dims in INSIGHTS.findall(expression):
                labels = [d.strip() for d in dims.split(",") if d.strip()]
                for label in labels:
                    if label.upper() in INSIGHTS_RESERVED and not label.startswith('"'):
                        problems.add("dashboard", owner, f"{where}: {label} is a reserved word of "
                                                         f"Metrics Insights: quote it")
                ours(owner, where, ns, name, [label.strip('"') for label in labels])
                where_clause = expression.partition(" WHERE ")[2]
                for word in re.findall(r'(?<!["\w])(\w+)\s*=', where_clause):
                    if word.upper() in INSIGHTS_RESERVED:
                        problems.add("dashboard", owner, f"{where}: {word} is a reserved word of "
                                                         f"Metrics Insights: quote it")
            if "SELECT" in expression and not INSIGHTS.search(expression):
                problems.add("dashboard", owner, f"{where}: a query it cannot read: {expression}")


def main(path):
    problems = check(path)
    for problem in problems:
        print(f"template check failed: {problem}")
    if problems:
        sys.exit(1)
    print(f"template check: {path} ok")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml")
