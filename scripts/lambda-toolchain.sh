#!/usr/bin/env bash
# Installs what packaging for Lambda needs, idempotently: Rust's aarch64 standard library
# (rustup) and a project-local venv with cargo-lambda and the Zig toolchain it cross-links with
# (both from PyPI). Prints the PATH entry that puts `cargo lambda` and `zig` first.
set -euo pipefail
cd "$(dirname "$0")/.."

LAMBDA_SPEC='cargo-lambda==1.9.2 ziglang==0.13.0'
VENV=.venv-lambda

rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu \
  || rustup target add aarch64-unknown-linux-gnu >&2
scripts/pinned-venv.sh "$VENV" "$LAMBDA_SPEC"
# cargo-zigbuild finds zig as `python3 -m ziglang` when no `zig` is on PATH: the venv's python.
echo "$PWD/$VENV/bin"
