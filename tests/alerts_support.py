"""A local HTTP receiver for webhook alerts, and the Airflow settings that send alerts to it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class _HookSink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((dict(self.headers), json.loads(body)))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def webhook_receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadingHTTPServer]:
    """A receiver on 127.0.0.1 (its `posts`: [(headers, JSON body)]) set as the alert webhook."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HookSink)
    server.posts = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks/bookspot"
    monkeypatch.setenv(
        "AIRFLOW_CONN_BOOKSPOT_ALERTS", json.dumps({"conn_type": "http", "host": url, "password": "s3cret"})
    )
    monkeypatch.setenv("AIRFLOW__BOOKSPOT__ALERT_CHANNEL", "webhook")
    monkeypatch.setenv("AIRFLOW__BOOKSPOT__REVIEW_BASE_URL", "https://airflow.example.test")
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def received_alerts(server: ThreadingHTTPServer) -> list[dict[str, Any]]:
    return [a for _, body in server.posts for a in body["alerts"]]  # type: ignore[attr-defined]
