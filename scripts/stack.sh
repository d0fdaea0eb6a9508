#!/usr/bin/env bash
# The local stack: moto server (AWS APIs), PostgreSQL (a primary with TLS, and a streaming
# replica) and MariaDB (TLS), on loopback, on free ports, in a fresh temporary directory.
#
#   scripts/stack.sh up     starts everything; prints the path of the env file to source
#   scripts/stack.sh down   stops everything started by `up` and removes its directory
#
# The pointer to the running stack is .stack/current (one stack per checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
POINTER=.stack/current

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$bin" ] || { echo "stack: PostgreSQL binaries not found; run scripts/bootstrap.sh" >&2; exit 1; }
  echo "$bin"
}

# initdb refuses to run as root: run PostgreSQL tools as the postgres user when we are root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

wait_for() { # what, seconds, command...
  local what=$1 secs=$2; shift 2
  for _ in $(seq 1 $((secs * 10))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "stack: $what did not come up in ${secs}s" >&2
  return 1
}

up() {
  if [ -f "$POINTER" ] && [ -d "$(cat "$POINTER")" ]; then
    echo "stack: already running at $(cat "$POINTER"); 'scripts/stack.sh down' first" >&2
    exit 1
  fi
  local dir bin moto_port pg_port replica_port password
  dir=$(mktemp -d /tmp/rds-responder-stack.XXXXXX)
  chmod 755 "$dir"
  mkdir -p .stack && echo "$dir" > "$POINTER"
  bin=$(pg_bin)

  # moto server
  moto_port=$(free_port)
  # Retention fixtures and the benchmark hold more than moto's default 1,000 snapshots.
  MOTO_RDS_SNAPSHOT_LIMIT=200000 "$ROOT/.venv/bin/python" "$ROOT/scripts/moto-server.py" -H 127.0.0.1 -p "$moto_port" > "$dir/moto.log" 2>&1 &
  echo $! > "$dir/moto.pid"

  # TLS: a throwaway CA and a server certificate for localhost / 127.0.0.1
  mkdir -p "$dir/tls"
  (
    cd "$dir/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=rds-responder test CA" \
      -keyout ca.key -out ca.pem >/dev/null 2>&1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr >/dev/null 2>&1
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' > ext.cnf
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
      -extfile ext.cnf -out server.pem >/dev/null 2>&1
    chmod 600 server.key
  )

  # PostgreSQL primary
  mkdir -p "$dir/sock"
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir/sock" "$dir/tls"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  pg_port=$(free_port)
  replica_port=$(free_port)
  password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  as_pg "$bin/initdb" -D "$dir/pg-primary" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    > "$dir/initdb.log" 2>&1
  cat >> "$dir/pg-primary/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/sock'
max_connections = 1300
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
# Base backups taken side by side (each with a fast checkpoint) must find the WAL they start at.
wal_keep_size = '512MB'
ssl = on
ssl_cert_file = '$dir/tls/server.pem'
ssl_key_file = '$dir/tls/server.key'
CONF
  as_pg "$bin/pg_ctl" -D "$dir/pg-primary" -l "$dir/pg-primary.log" -o "-p $pg_port" -w start >/dev/null
  as_pg "$bin/psql" -h "$dir/sock" -p "$pg_port" -U postgres -d postgres -qv ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE ROLE rds_responder LOGIN PASSWORD '$password';
GRANT pg_read_all_stats, pg_signal_backend TO rds_responder;
SQL

  # A streaming replica of it: pg_is_in_recovery() is true there.
  as_pg "$bin/pg_basebackup" -h "$dir/sock" -p "$pg_port" -U postgres -D "$dir/pg-replica" -R -X stream -c fast \
    > "$dir/basebackup.log" 2>&1
  as_pg "$bin/pg_ctl" -D "$dir/pg-replica" -l "$dir/pg-replica.log" -o "-p $replica_port" -w start >/dev/null

  # MariaDB, as the mysql user when we are root; root logs in over the socket without a password.
  local my_port
  my_port=$(free_port)
  local my="$dir/mysql"
  mkdir -p "$my/data"
  cp "$dir/tls/server.key" "$my/server.key"
  chmod 600 "$my/server.key"
  [ "$(id -u)" = 0 ] && chown -R mysql:mysql "$my"
  local my_user=()
  [ "$(id -u)" = 0 ] && my_user=(--user=mysql)
  mariadb-install-db --no-defaults --datadir="$my/data" --auth-root-authentication-method=normal \
    --skip-test-db "${my_user[@]}" > "$dir/mariadb-install.log" 2>&1
  mariadbd --no-defaults --datadir="$my/data" --socket="$my/mysqld.sock" --port="$my_port" \
    --bind-address=127.0.0.1 --pid-file="$my/mariadb.pid" --log-error="$my/mariadb.log" \
    --ssl-cert="$dir/tls/server.pem" --ssl-key="$my/server.key" --ssl-ca="$dir/tls/ca.pem" \
    --max-connections=400 --skip-log-bin --innodb-buffer-pool-size=16M "${my_user[@]}" \
    > "$dir/mariadb.out" 2>&1 &
  wait_for "MariaDB" 60 mariadb-admin --no-defaults -S "$my/mysqld.sock" -u root ping
  mariadb --no-defaults -S "$my/mysqld.sock" -u root <<SQL
CREATE USER 'rds_responder'@'%' IDENTIFIED BY '$password';
GRANT PROCESS, CONNECTION ADMIN ON *.* TO 'rds_responder'@'%';
SQL

  wait_for "moto server" 30 python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$moto_port/moto-api/reset', data=b'')"

  cat > "$dir/env" <<ENV
export STACK_DIR='$dir'
export MOTO_ENDPOINT='http://127.0.0.1:$moto_port'
export PG_PORT='$pg_port'
export PG_REPLICA_PORT='$replica_port'
export PG_SOCKET_DIR='$dir/sock'
export PG_BIN='$bin'
export PG_RESPONDER_USER='rds_responder'
export PG_RESPONDER_PASSWORD='$password'
export PG_CA_BUNDLE='$dir/tls/ca.pem'
export MYSQL_PORT='$my_port'
export MYSQL_SOCKET='$dir/mysql/mysqld.sock'
ENV
  echo "$dir/env"
}

down() {
  [ -f "$POINTER" ] || return 0
  local dir bin
  dir=$(cat "$POINTER")
  if [ -d "$dir" ]; then
    bin=$(pg_bin)
    for cluster in pg-replica pg-primary; do
      [ -d "$dir/$cluster" ] && as_pg "$bin/pg_ctl" -D "$dir/$cluster" -m immediate -w stop >/dev/null 2>&1 || true
    done
    [ -f "$dir/moto.pid" ] && kill "$(cat "$dir/moto.pid")" 2>/dev/null || true
    local my_pid
    my_pid=$(cat "$dir/mysql/mariadb.pid" 2>/dev/null || true)
    if [ -n "$my_pid" ]; then
      kill "$my_pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$my_pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$dir"
  fi
  rm -f "$POINTER"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
