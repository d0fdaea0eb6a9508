#!/usr/bin/env bash
# Runs every test in the workspace (the local stack must be up: see with-stack.sh) and closes with
# one total line, so the result is plain whatever order cargo ran the test binaries in.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
cargo test --workspace 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
passed=$(grep -oE 'test result: [A-Za-z]+\. [0-9]+ passed' "$log" | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -oE '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
rm -f "$log"
echo
echo "Total: ${passed} passed, ${failed} failed"
exit "$status"
