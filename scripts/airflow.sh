#!/usr/bin/env bash
# Airflow standalone on 127.0.0.1:8080 (AIRFLOW_PORT) with the demo's setup and the emulator beside it,
# for the UI: a real login (user admin, its generated password printed once and kept in the data
# folder), the demo's connections in Airflow's metadata database (Admin > Connections, testable there),
# and the BookSpot review screen (plugin bookspot_review).
set -euo pipefail
source "$(dirname "$0")/env.sh"
unset AIRFLOW__SECRETS__BACKEND AIRFLOW__SECRETS__BACKEND_KWARGS
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="${AIRFLOW_PORT:-8080}"
export AIRFLOW__API__BASE_URL="http://127.0.0.1:$AIRFLOW__API__PORT"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="$AIRFLOW__API__BASE_URL/execution/"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=False
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$BOOKSPOT_DATA_DIR/airflow-passwords.json"
PASSWORDS="$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
FEED="${DEMO_FEED:-$ROOT/demo/fjord-kayak.jsonl}"

"$VENV/bin/airflow" db migrate >"$BOOKSPOT_DATA_DIR/airflow-migrate.log" 2>&1 \
  || { tail -20 "$BOOKSPOT_DATA_DIR/airflow-migrate.log"; exit 1; }
"$VENV/bin/airflow" pools set tripletex_api 4 "Tripletex API work (shard tasks)" >/dev/null
"$PY" -m bookspot_tripletex db migrate
"$PY" -m bookspot_devkit demo setup --data-dir "$BOOKSPOT_DATA_DIR" --emulator-port "$EMULATOR_PORT" --feed "$FEED"
"$VENV/bin/airflow" connections import --overwrite "$BOOKSPOT_DATA_DIR/connections.json" \
  >"$BOOKSPOT_DATA_DIR/airflow-connections.log" 2>&1 \
  || { cat "$BOOKSPOT_DATA_DIR/airflow-connections.log"; exit 1; }
"$PY" -m bookspot_tripletex import-tenant "$ROOT/demo/fjord-kayak.yaml"
"$PY" -m bookspot_devkit emulator --host 127.0.0.1 --port "$EMULATOR_PORT" \
  --config "$BOOKSPOT_DATA_DIR/emulator.yaml" --state-file "$BOOKSPOT_DATA_DIR/emulator-state.sqlite" \
  >"$BOOKSPOT_DATA_DIR/emulator.log" 2>&1 &
EMULATOR_PID=$!
trap 'kill $EMULATOR_PID 2>/dev/null || true' EXIT

if [ ! -s "$PASSWORDS" ]; then
  "$PY" - "$PASSWORDS" <<'PY'
import json, os, secrets, sys
password = secrets.token_urlsafe(12)
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, (json.dumps({"admin": password}) + "\n").encode())
os.close(fd)
print(f"Airflow login: user admin, password {password}\n  (shown this once; kept in {sys.argv[1]})")
PY
else
  echo "Airflow login: user admin, password in $PASSWORDS"
fi
echo "Airflow UI: http://127.0.0.1:$AIRFLOW__API__PORT  review screen: Browse > BookSpot review"
echo "(Ctrl-C stops Airflow and the emulator)"
"$VENV/bin/airflow" standalone
