#!/usr/bin/env bash
# One benchmark of `make bench`: runs the command, shows its output and keeps it, with the
# command, in target/bench/<name>.txt and .cmd for scripts/benchmarks-md.py (BENCHMARKS.md).
#   scripts/bench-step.sh 10-footprint scripts/with-stack.sh target/debug/footprint ...
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1
shift
mkdir -p target/bench
printf '%s\n' "$*" > "target/bench/$name.cmd"
"$@" 2>&1 | tee "target/bench/$name.txt"
