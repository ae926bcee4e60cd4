#!/usr/bin/env bash
# A project-local PostgreSQL cluster: `scripts/localdb.sh start` starts it if needed and prints
# its DATABASE_URL on stdout; `stop` stops it; `status` tells. Used when DATABASE_URL is unset.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
PORT="${DTWIN_PG_PORT:-54329}"
DB_NAME="${DTWIN_PG_DB:-dtwin}"

log() { echo "localdb: $*" >&2; }

if [[ -z "$PG_BIN" || ! -x "$PG_BIN/initdb" ]]; then
  log "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin); set PG_BIN"
  exit 1
fi

# Run a server binary as the postgres user when we are root (initdb/postgres refuse root).
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# The data directory lives in the repo (git-ignored) unless the postgres user cannot reach it.
pick_datadir() {
  if [[ -n "${DTWIN_PGDATA:-}" ]]; then echo "$DTWIN_PGDATA"; return; fi
  if [[ $(id -u) -ne 0 ]] || runuser -u postgres -- test -x "$ROOT" 2>/dev/null; then
    echo "$ROOT/.pgdata"
  else
    local tag
    tag=$(printf '%s' "$ROOT" | sha1sum | cut -c1-10)
    echo "${TMPDIR:-/tmp}/dtwin-pgdata-$tag"
  fi
}

DATADIR="$(pick_datadir)"
URL="postgres://postgres@127.0.0.1:$PORT/$DB_NAME"

is_running() { as_pg "$PG_BIN/pg_ctl" -D "$DATADIR" status >/dev/null 2>&1; }

start() {
  if [[ ! -s "$DATADIR/PG_VERSION" ]]; then
    log "initialising a cluster in $DATADIR"
    mkdir -p "$DATADIR"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$DATADIR" && chmod 700 "$DATADIR"
    as_pg "$PG_BIN/initdb" -D "$DATADIR" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$DATADIR/postgresql.conf" <<CONF
# dtwin local cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 300
shared_buffers = 256MB
CONF
  fi
  if ! is_running; then
    log "starting PostgreSQL on 127.0.0.1:$PORT ($DATADIR)"
    as_pg "$PG_BIN/pg_ctl" -D "$DATADIR" -l "$DATADIR/server.log" -o "-p $PORT" -w -t 60 start >/dev/null
  fi
  local ok=""
  for _ in $(seq 1 50); do
    if psql "postgres://postgres@127.0.0.1:$PORT/postgres" -Atqc "SELECT 1" >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.2
  done
  if [[ -z "$ok" ]]; then
    log "PostgreSQL did not answer on port $PORT; see $DATADIR/server.log"; exit 1
  fi
  if [[ "$(psql "postgres://postgres@127.0.0.1:$PORT/postgres" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != "1" ]]; then
    psql "postgres://postgres@127.0.0.1:$PORT/postgres" -qc "CREATE DATABASE \"$DB_NAME\"" >/dev/null
  fi
  echo "$URL"
}

case "${1:-start}" in
  start) start ;;
  stop) if is_running; then as_pg "$PG_BIN/pg_ctl" -D "$DATADIR" -m fast -w stop >/dev/null; fi ;;
  restart) as_pg "$PG_BIN/pg_ctl" -D "$DATADIR" -m fast -w restart -o "-p $PORT" >/dev/null ;;
  status) if is_running; then echo "running: $URL ($DATADIR)"; else echo "stopped ($DATADIR)"; exit 3; fi ;;
  datadir) echo "$DATADIR" ;;
  *) echo "usage: $0 start|stop|restart|status|datadir" >&2; exit 2 ;;
esac
