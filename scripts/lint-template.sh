#!/usr/bin/env bash
# Lints template.yaml, offline: cfn-lint with the serverless rules, `sam validate --lint`, cfn-lint
# on what SAM's transform makes of the template (the StackSet template, scripts/org-template.py)
# and on org/*.yaml, then the project's deployment rules (scripts/check-template.py, and
# scripts/check-org-template.py on the StackSet template) and the proof that they refuse broken
# templates.
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
# does (a placeholder CodeUri, no managed policy looked up by name), into the StackSet template
# (scripts/org-template.py: each function's code in its region's organization bucket), and lint
# that, with the organization's own templates (org/).
"$VENV/bin/python" scripts/org-template.py template.yaml "$VENV/template.org.json" --code-version lint
"$VENV/bin/cfn-lint" --append-rules cfn_lint_serverless.rules -- "$VENV/template.org.json" org/*.yaml
"$VENV/bin/python" scripts/check-template.py template.yaml
"$VENV/bin/python" scripts/test-check-template.py
"$VENV/bin/python" scripts/check-org-template.py "$VENV/template.org.json"
"$VENV/bin/python" scripts/test-check-org-template.py
