#!/usr/bin/env bash
# Run the suite. PostgreSQL staging: TEST_DATABASE_URL if set, else a throw-away cluster from the
# server binaries on this machine (run as user postgres when we are root), else those tests skip
# with a reason (never in CI). The browser test needs Debian's chromium: installed here when missing
# and we are root with apt, else skipped (never in CI).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
export TQDM_DISABLE=1
PGTMP=""

stop_pg() {
  if [ -n "$PGTMP" ] && [ -d "$PGTMP" ]; then
    $AS_PG "$PGBIN/pg_ctl" -D "$PGTMP/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PGTMP"
  fi
}

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  if [ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ]; then
    PGTMP="$(mktemp -d /tmp/bookspot-pg.XXXXXX)"
    AS_PG=""
    if [ "$(id -u)" = "0" ]; then
      chown postgres "$PGTMP"
      AS_PG="runuser -u postgres --"
    fi
    trap stop_pg EXIT
    PGPORT="$("$VENV/bin/python" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')"
    $AS_PG "$PGBIN/initdb" -D "$PGTMP/data" -U postgres -A trust --no-sync >"$PGTMP/initdb.log" 2>&1 \
      || { cat "$PGTMP/initdb.log"; exit 1; }
    $AS_PG "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w \
      -o "-p $PGPORT -k $PGTMP -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null || { cat "$PGTMP/server.log"; exit 1; }
    export TEST_DATABASE_URL="postgresql+psycopg2://postgres@127.0.0.1:$PGPORT/postgres"
    echo "test.sh: throw-away PostgreSQL on 127.0.0.1:$PGPORT"
  elif [ "${CI:-}" = "true" ]; then
    echo "test.sh: CI needs PostgreSQL: set TEST_DATABASE_URL or install the server binaries" >&2
    exit 1
  else
    echo "test.sh: no PostgreSQL found: PostgreSQL staging tests will be skipped"
  fi
fi

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "test.sh: installing Debian's chromium for the browser test"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null \
      || { echo "test.sh: could not install chromium" >&2; exit 1; }
  elif [ "${CI:-}" = "true" ]; then
    echo "test.sh: CI needs /usr/bin/chromium for the browser test (apt-get install chromium)" >&2
    exit 1
  else
    echo "test.sh: no /usr/bin/chromium: the browser test will be skipped"
  fi
fi

cd "$ROOT"
set +e
"$VENV/bin/python" -m pytest "$@"
status=$?
set -e
exit $status
