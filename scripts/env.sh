# Environment of the embedded default: everything inside the project's ignored .data folder.
# Sourced by the Makefile's recipes and by scripts/*.sh.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BOOKSPOT_DATA_DIR="${BOOKSPOT_DATA_DIR:-$ROOT/.data}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$BOOKSPOT_DATA_DIR/airflow}"
export BOOKSPOT_REPORTS_DIR="${BOOKSPOT_REPORTS_DIR:-$BOOKSPOT_DATA_DIR/reports}"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"
export AIRFLOW__SECRETS__BACKEND=airflow.secrets.local_filesystem.LocalFilesystemBackend
export AIRFLOW__SECRETS__BACKEND_KWARGS="{\"connections_file_path\": \"$BOOKSPOT_DATA_DIR/connections.json\"}"
export PYTHONPATH="$ROOT/plugins:$ROOT/devkit${PYTHONPATH:+:$PYTHONPATH}"
export EMULATOR_PORT="${EMULATOR_PORT:-8765}"
export TQDM_DISABLE=1
export AIRFLOW__CORE__TEST_CONNECTION="${AIRFLOW__CORE__TEST_CONNECTION:-Enabled}"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
export PATH="$VENV/bin:$PATH"
mkdir -p "$BOOKSPOT_DATA_DIR" "$AIRFLOW_HOME"
