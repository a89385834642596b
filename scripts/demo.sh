#!/usr/bin/env bash
# One night of the demo tenant through real Airflow, against the local Tripletex emulator.
# DEMO_SOURCE=simulator: the tenants in DEMO_TENANTS read over HTTP from the BookSpot simulator
# (SIMULATOR_PORT) instead of the worked example's file, each with its own emulator company, all in
# their own data folder (.data/simulator).
set -euo pipefail
DEMO_SOURCE="${DEMO_SOURCE:-file}"
case "$DEMO_SOURCE" in
  file) ;;
  simulator) export BOOKSPOT_DATA_DIR="${BOOKSPOT_DATA_DIR:-$(cd "$(dirname "$0")/.." && pwd)/.data/simulator}" ;;
  *) echo "DEMO_SOURCE is file (the default) or simulator, not '$DEMO_SOURCE'" >&2; exit 2 ;;
esac
source "$(dirname "$0")/env.sh"
DAY="${DEMO_DAY:-2026-11-24}"
FEED="${DEMO_FEED:-$ROOT/demo/fjord-kayak.jsonl}"
TENANTS=(fjord-kayak)

"$VENV/bin/airflow" db migrate >"$BOOKSPOT_DATA_DIR/airflow-migrate.log" 2>&1 \
  || { tail -20 "$BOOKSPOT_DATA_DIR/airflow-migrate.log"; exit 1; }
"$VENV/bin/airflow" pools set tripletex_api 4 "Tripletex API work (shard tasks)" >/dev/null
"$PY" -m bookspot_tripletex db migrate
if [ "$DEMO_SOURCE" = simulator ]; then
  SIMULATOR_PORT="${SIMULATOR_PORT:-8766}"
  read -r -a TENANTS <<<"${DEMO_TENANTS:-fjord-kayak tenant-001 tenant-002}"
  TENANT_FILES="$("$PY" -m bookspot_devkit demo simulator --data-dir "$BOOKSPOT_DATA_DIR" \
    --emulator-port "$EMULATOR_PORT" --simulator-port "$SIMULATOR_PORT" --day "$DAY" "${TENANTS[@]}")"
  mapfile -t TENANT_FILES <<<"$TENANT_FILES"
  "$PY" -m bookspot_tripletex import-tenant "${TENANT_FILES[@]}"
else
  "$PY" -m bookspot_devkit demo setup --data-dir "$BOOKSPOT_DATA_DIR" --emulator-port "$EMULATOR_PORT" --feed "$FEED"
  "$PY" -m bookspot_tripletex import-tenant "$ROOT/demo/fjord-kayak.yaml"
fi

"$PY" -m bookspot_devkit emulator --host 127.0.0.1 --port "$EMULATOR_PORT" \
  --config "$BOOKSPOT_DATA_DIR/emulator.yaml" --state-file "$BOOKSPOT_DATA_DIR/emulator-state.sqlite" \
  >"$BOOKSPOT_DATA_DIR/emulator.log" 2>&1 &
EMULATOR_PID=$!
trap 'kill $EMULATOR_PID 2>/dev/null || true; wait $EMULATOR_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$EMULATOR_PORT/_emulator/health" 2>/dev/null && break
  kill -0 $EMULATOR_PID 2>/dev/null || { cat "$BOOKSPOT_DATA_DIR/emulator.log"; exit 1; }
  sleep 0.1
done
if [ "$DEMO_SOURCE" = simulator ]; then
  "$PY" -m bookspot_devkit simulator serve --host 127.0.0.1 --port "$SIMULATOR_PORT" \
    --config "$BOOKSPOT_DATA_DIR/simulator.yaml" >"$BOOKSPOT_DATA_DIR/simulator.log" 2>&1 &
  SIMULATOR_PID=$!
  trap 'kill $SIMULATOR_PID $EMULATOR_PID 2>/dev/null || true; wait $SIMULATOR_PID $EMULATOR_PID 2>/dev/null || true' EXIT
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "http://127.0.0.1:$SIMULATOR_PORT/_sim/clock" 2>/dev/null && break
    kill -0 $SIMULATOR_PID 2>/dev/null || { cat "$BOOKSPOT_DATA_DIR/simulator.log"; exit 1; }
    sleep 0.1
  done
  echo "== BookSpot simulator on http://127.0.0.1:$SIMULATOR_PORT for ${TENANTS[*]} (log: $BOOKSPOT_DATA_DIR/simulator.log)"
fi

STARTED="$(date -u +%Y-%m-%dT%H:%M:%S+00:00)"
echo "== airflow dags test bookspot_tripletex_nightly $DAY (log: $BOOKSPOT_DATA_DIR/dags-test.log)"
if ! "$VENV/bin/airflow" dags test bookspot_tripletex_nightly "$DAY" -c "{\"day\": \"$DAY\"}" >"$BOOKSPOT_DATA_DIR/dags-test.log" 2>&1; then
  tail -40 "$BOOKSPOT_DATA_DIR/dags-test.log"; exit 1
fi
grep -q "failed" <(grep -E "state=(failed|upstream_failed)" "$BOOKSPOT_DATA_DIR/dags-test.log") \
  && { echo "a task failed:"; grep -E "state=failed" "$BOOKSPOT_DATA_DIR/dags-test.log" | tail -5; exit 1; }
REPORT_TENANTS=()
for tenant in "${TENANTS[@]}"; do REPORT_TENANTS+=(--tenant "$tenant"); done
EXPECT=()
if [ "$DEMO_SOURCE" = file ] && [ "$FEED" = "$ROOT/demo/fjord-kayak.jsonl" ]; then
  EXPECT=(--expect "$ROOT/tests/data/worked_example.json")
fi
"$PY" -m bookspot_devkit demo report "${REPORT_TENANTS[@]}" --date "$DAY" \
  --emulator "http://127.0.0.1:$EMULATOR_PORT" --since "$STARTED" "${EXPECT[@]}"
