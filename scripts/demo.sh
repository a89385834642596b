#!/usr/bin/env bash
# One night of the demo tenant through real Airflow, against the local Tripletex emulator.
set -euo pipefail
source "$(dirname "$0")/env.sh"
DAY="${DEMO_DAY:-2026-11-24}"
FEED="${DEMO_FEED:-$ROOT/demo/fjord-kayak.jsonl}"

"$VENV/bin/airflow" db migrate >"$BOOKSPOT_DATA_DIR/airflow-migrate.log" 2>&1 \
  || { tail -20 "$BOOKSPOT_DATA_DIR/airflow-migrate.log"; exit 1; }
"$PY" -m bookspot_tripletex demo-setup --data-dir "$BOOKSPOT_DATA_DIR" --emulator-port "$EMULATOR_PORT" --feed "$FEED"
"$PY" -m bookspot_tripletex import-tenant "$ROOT/demo/fjord-kayak.yaml"

"$PY" -m bookspot_tripletex emulator --host 127.0.0.1 --port "$EMULATOR_PORT" \
  --config "$BOOKSPOT_DATA_DIR/emulator.yaml" --state-file "$BOOKSPOT_DATA_DIR/emulator-state.json" \
  >"$BOOKSPOT_DATA_DIR/emulator.log" 2>&1 &
EMULATOR_PID=$!
trap 'kill $EMULATOR_PID 2>/dev/null || true; wait $EMULATOR_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$EMULATOR_PORT/_emulator/health" 2>/dev/null && break
  kill -0 $EMULATOR_PID 2>/dev/null || { cat "$BOOKSPOT_DATA_DIR/emulator.log"; exit 1; }
  sleep 0.1
done

STARTED="$(date -u +%Y-%m-%dT%H:%M:%S+00:00)"
echo "== airflow dags test bookspot_tripletex_nightly $DAY (log: $BOOKSPOT_DATA_DIR/dags-test.log)"
if ! "$VENV/bin/airflow" dags test bookspot_tripletex_nightly "$DAY" >"$BOOKSPOT_DATA_DIR/dags-test.log" 2>&1; then
  tail -40 "$BOOKSPOT_DATA_DIR/dags-test.log"; exit 1
fi
grep -q "failed" <(grep -E "state=(failed|upstream_failed)" "$BOOKSPOT_DATA_DIR/dags-test.log") \
  && { echo "a task failed:"; grep -E "state=failed" "$BOOKSPOT_DATA_DIR/dags-test.log" | tail -5; exit 1; }
"$PY" -m bookspot_tripletex.demo_report --tenant fjord-kayak --date "$DAY" \
  --emulator "http://127.0.0.1:$EMULATOR_PORT" --since "$STARTED"
