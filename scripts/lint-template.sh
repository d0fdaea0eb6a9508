#!/usr/bin/env bash
# Lints template.yaml, offline: cfn-lint with the serverless rules, `sam validate --lint`, cfn-lint
# on what SAM's transform makes of the template, then the project's deployment rules
# (scripts/check-template.py) and the proof that they refuse broken templates.
# The tools live in their own venv, .venv-lint (or $LINT_VENV, e.g. one outside a fresh CI
# clone), installed again only when the pins below change: about 80 s on 2 cores, most of it
# compiling the packages' bytecode (kept: every run would compile it again otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."

LINT_SPEC='cfn-lint==1.58.0 cfn-lint-serverless==0.3.6 aws-sam-cli==1.170.0'
VENV=${LINT_VENV:-.venv-lint}

scripts/pinned-venv.sh "$VENV" "$LINT_SPEC"

# SAM CLI sends telemetry and asks PyPI for a newer version at most weekly; neither here. Its
# settings go to a directory of the venv, where the last version check is always today.
export SAM_CLI_TELEMETRY=0
SAM_CLI_DIR="$(cd "$VENV" && pwd)/sam-cli"
export __SAM_CLI_APP_DIR="$SAM_CLI_DIR"
mkdir -p "$SAM_CLI_DIR"
printf '{"telemetryEnabled": false, "lastVersionCheck": %s}\n' "$(date +%s)" > "$SAM_CLI_DIR/metadata.json"

"$VENV/bin/cfn-lint" --append-rules cfn_lint_serverless.rules -- template.yaml
"$VENV/bin/sam" validate --lint --template template.yaml --region us-east-1

# cfn-lint reads the SAM resources as written, not what SAM makes of them (the roles it writes
# the functions' policies into, the EventInvokeConfigs): transform the template as `sam validate`
# does (a placeholder CodeUri, no managed policy looked up by name) and lint what comes out.
AWS_DEFAULT_REGION=us-east-1 "$VENV/bin/python" - template.yaml "$VENV/template.transformed.json" <<'PY'
import json, sys
from samtranslator.public.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

source, target = sys.argv[1:]
template = yaml_parse(open(source).read())
for resource in template["Resources"].values():
    if resource["Type"] == "AWS::Serverless::Function":
        resource["Properties"]["CodeUri"] = "s3://placeholder/code.zip"


class NoManagedPolicies:
    def load(self):
        return {}


try:
    out = transform(template, {}, NoManagedPolicies())
except InvalidDocumentException as error:
    sys.exit("SAM cannot transform the template:\n" + "\n".join(str(c) for c in error.causes))
json.dump(out, open(target, "w"), indent=1)
PY
"$VENV/bin/cfn-lint" --append-rules cfn_lint_serverless.rules -- "$VENV/template.transformed.json"
"$VENV/bin/python" scripts/check-template.py template.yaml
"$VENV/bin/python" scripts/test-check-template.py
