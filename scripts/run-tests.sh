#!/usr/bin/env bash
# Runs every test in the workspace (the local stack must be up: see with-stack.sh) and closes with
# one total line, so the result is plain whatever order cargo ran the test binaries in. Every
# report the end-to-end tests saw (responses, S3 archives, SNS messages) is then validated
# against the report contract, schema/report.v1.json. Then scripts/org-publish.py against the same
# moto server (the StackSet's code upload).
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
export REPORTS_DIR="$PWD/target/reports"
rm -rf "$REPORTS_DIR"
cargo test --workspace 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
passed=$(grep -oE 'test result: [A-Za-z]+\. [0-9]+ passed' "$log" | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -oE '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
rm -f "$log"
echo
echo "Total: ${passed} passed, ${failed} failed"
echo
.venv/bin/python scripts/validate-reports.py --self-test || status=1
.venv/bin/python scripts/validate-reports.py -r "$REPORTS_DIR" || status=1
.venv/bin/python scripts/test-org-publish.py || status=1
exit "$status"
