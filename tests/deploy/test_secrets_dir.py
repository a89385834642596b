"""The scale benchmark's secrets backend: one file per connection id, read once per process."""

from __future__ import annotations

import json
from pathlib import Path

from bookspot_devkit.secrets_dir import DirectorySecretsBackend, write_connections

TRIPLETEX = {
    "conn_type": "tripletex",
    "host": "http://127.0.0.1:8765/v2",
    "password": "employee-token-of-tenant-001",
    "extra": {"consumer_token": "consumer-token-of-tenant-001", "company_id": 7},
}


def test_a_connection_is_its_file_read_once(tmp_path: Path) -> None:
    folder = tmp_path / "connections"
    assert write_connections(folder, {"tripletex_tenant_001": TRIPLETEX}) == 1
    assert (folder / "tripletex_tenant_001.json").stat().st_mode & 0o077 == 0
    backend = DirectorySecretsBackend(connections_dir=str(folder))
    conn = backend.get_connection("tripletex_tenant_001")
    assert (conn.conn_type, conn.host, conn.password) == (
        "tripletex",
        TRIPLETEX["host"],
        TRIPLETEX["password"],
    )
    assert conn.extra_dejson == TRIPLETEX["extra"]
    assert backend.get_connection("bookspot_tenant_001") is None
    (folder / "tripletex_tenant_001.json").write_text(json.dumps({**TRIPLETEX, "host": "http://other/v2"}))
    assert backend.get_connection("tripletex_tenant_001").host == TRIPLETEX["host"]  # kept
    fresh = DirectorySecretsBackend(connections_dir=str(folder), cache_ttl_seconds=0)
    assert fresh.get_connection("tripletex_tenant_001").host == "http://other/v2"
