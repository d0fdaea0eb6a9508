#!/usr/bin/env bash
# Installs what the local stack needs, idempotently: Debian packages (PostgreSQL, MariaDB, openssl)
# and a project-local Python venv with the pinned moto server.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_SPEC='moto[server]==5.2.5 jsonschema==4.26.0'
VENV=.venv

need_apt=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v mariadbd >/dev/null 2>&1 || need_apt+=(mariadb-server)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1 || need_apt+=(libfaketime)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

scripts/pinned-venv.sh "$VENV" "$MOTO_SPEC"
