#!/usr/bin/env bash
# Runs a command with the local stack up and its variables exported; tears the stack down after,
# whatever the command's outcome.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/stack.sh down
trap 'scripts/stack.sh down' EXIT
env_file=$(scripts/stack.sh up)
# shellcheck disable=SC1090
. "$env_file"
"$@"
