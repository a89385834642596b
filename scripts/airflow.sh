#!/usr/bin/env bash
# Airflow standalone on 127.0.0.1:8080 with the demo's setup (emulator started beside it), for the UI.
set -euo pipefail
source "$(dirname "$0")/env.sh"
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="${AIRFLOW_PORT:-8080}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS:-True}"
FEED="${DEMO_FEED:-$ROOT/demo/fjord-kayak.jsonl}"

"$VENV/bin/airflow" db migrate >"$BOOKSPOT_DATA_DIR/airflow-migrate.log" 2>&1
"$VENV/bin/airflow" pools set tripletex_api 4 "Tripletex API work (shard tasks)" >/dev/null
"$PY" -m bookspot_tripletex db migrate
"$PY" -m bookspot_devkit demo setup --data-dir "$BOOKSPOT_DATA_DIR" --emulator-port "$EMULATOR_PORT" --feed "$FEED"
"$PY" -m bookspot_tripletex import-tenant "$ROOT/demo/fjord-kayak.yaml"
"$PY" -m bookspot_devkit emulator --host 127.0.0.1 --port "$EMULATOR_PORT" \
  --config "$BOOKSPOT_DATA_DIR/emulator.yaml" --state-file "$BOOKSPOT_DATA_DIR/emulator-state.sqlite" \
  >"$BOOKSPOT_DATA_DIR/emulator.log" 2>&1 &
EMULATOR_PID=$!
trap 'kill $EMULATOR_PID 2>/dev/null || true' EXIT
echo "Airflow UI: http://127.0.0.1:$AIRFLOW__API__PORT  (Ctrl-C stops Airflow and the emulator)"
"$VENV/bin/airflow" standalone
