"""A secrets backend with one JSON file per connection id in a folder: the shape of the organisation's
backend (Vault, AWS Secrets Manager: one key per secret, looked up by its id), for the scale benchmark.
Each connection is read once per process and kept for `cache_ttl_seconds`."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow.sdk.bases.secrets_backend import BaseSecretsBackend


class DirectorySecretsBackend(BaseSecretsBackend):
    """`connections_dir/<conn_id>.json` holds a connection in Airflow's JSON form; a missing file is no
    connection (the next backend is asked)."""

    def __init__(self, connections_dir: str, cache_ttl_seconds: float = 900, **kwargs: Any) -> None:
        super().__init__()
        self.connections_dir = Path(connections_dir)
        self.ttl = float(cache_ttl_seconds)
        self._known: dict[str, tuple[float, str | None]] = {}

    def get_conn_value(self, conn_id: str, team_name: str | None = None) -> str | None:
        now = time.monotonic()
        hit = self._known.get(conn_id)
        if hit is None or now - hit[0] > self.ttl:
            path = self.connections_dir / f"{conn_id}.json"
            hit = self._known[conn_id] = (now, path.read_text(encoding="utf-8") if path.is_file() else None)
        return hit[1]


def write_connections(folder: Path, connections: Mapping[str, Mapping[str, Any]]) -> int:
    """Each connection as `<folder>/<conn_id>.json` (owner-only files); how many."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for conn_id, value in connections.items():
        path = folder / f"{conn_id}.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps(dict(value)), encoding="utf-8")
    return len(connections)
