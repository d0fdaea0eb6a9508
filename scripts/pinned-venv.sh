#!/usr/bin/env bash
# A Python venv holding exactly the pinned requirements, installed again only when they change.
#   scripts/pinned-venv.sh DIR 'pkg==1.0 other==2.0'
# Progress goes to stderr, so callers may capture stdout.
set -euo pipefail
venv=$1
spec=$2
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
if [ "$(cat "$venv/.pinned-spec" 2>/dev/null)" != "$spec" ]; then
  echo "pinned-venv: installing $spec into $venv" >&2
  # shellcheck disable=SC2086 # the spec is a list of requirements
  "$venv/bin/pip" install --quiet --disable-pip-version-check $spec >&2
  echo "$spec" > "$venv/.pinned-spec"
fi
