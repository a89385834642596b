"""Alerts sent for real: a mail to a local SMTP sink through Airflow's SmtpNotifier, a JSON POST to a
local HTTP sink through the webhook notifier; a held day in staging becomes an alert with its reason."""

from __future__ import annotations

import datetime as dt
import email
import email.header
import json
import socketserver
import threading
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bookspot_tripletex import alerts, pipeline
from helpers import setup_tenant, stage
from review_support import HELD_DAY, TENANT, held_day_records


class _SmtpSession(socketserver.StreamRequestHandler):
    """Just enough SMTP to accept mail: every message's DATA goes to server.messages."""

    def _say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self._say("220 sink ready")
        data: list[bytes] | None = None
        while line := self.rfile.readline():
            if data is not None:
                if line.rstrip(b"\r\n") == b".":
                    self.server.messages.append(b"".join(data))  # type: ignore[attr-defined]
                    data = None
                    self._say("250 queued")
                else:
                    data.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                self._say("250-sink")
                self._say("250 8BITMIME")
            elif verb == b"DATA":
                data = []
                self._say("354 end with .")
            elif verb == b"QUIT":
                self._say("221 bye")
                return
            else:
                self._say("250 ok")


class _SmtpSink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpSession)
        self.messages: list[bytes] = []


@pytest.fixture
def smtp_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[_SmtpSink]:
    sink = _SmtpSink()
    thread = threading.Thread(target=sink.serve_forever, daemon=True)
    thread.start()
    conn = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": sink.server_address[1],
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "airflow@example.test"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ALERT_SMTP", json.dumps(conn))
    monkeypatch.setenv("AIRFLOW__BOOKSPOT__ALERT_CHANNEL", "smtp")
    monkeypatch.setenv("AIRFLOW__BOOKSPOT__ALERT_SMTP_CONN_ID", "alert_smtp")
    monkeypatch.setenv("AIRFLOW__BOOKSPOT__ALERT_TO", "accounting@example.test, ops@example.test")
    monkeypatch.setenv("AIRFLOW__BOOKSPOT__REVIEW_BASE_URL", "https://airflow.example.test")
    yield sink
    sink.shutdown()
    sink.server_close()


class _HookSink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((dict(self.headers), json.loads(body)))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HookSink)
    server.posts = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks/bookspot"
    monkeypatch.setenv(
        "AIRFLOW_CONN_BOOKSPOT_ALERTS", json.dumps({"conn_type": "http", "host": url, "password": "s3cret"})
    )
    monkeypatch.setenv("AIRFLOW__BOOKSPOT__ALERT_CHANNEL", "webhook")
    yield server
    server.shutdown()
    server.server_close()


def _body(message: Message) -> str:
    parts = [p for p in message.walk() if p.get_content_type() == "text/html"]
    return parts[0].get_payload(decode=True).decode("utf-8")


def test_a_held_day_mails_tenant_day_reason_and_link(smtp_sink: _SmtpSink) -> None:
    day = dt.date(2026, 11, 25)
    sent = alerts.send([alerts.alert("held", TENANT, day, "tx_eur: currency must be NOK, got 'EUR'")])
    assert sent == 1 and len(smtp_sink.messages) == 1
    message = email.message_from_bytes(smtp_sink.messages[0])
    subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
    assert subject == "BookSpot → Tripletex: fjord-kayak 25.11.2026 held"
    assert "accounting@example.test" in message["To"] and "ops@example.test" in message["To"]
    body = _body(message)
    assert (
        "fjord-kayak" in body
        and "<td>25.11.2026</td>" in body
        and "currency must be NOK, got &#x27;EUR&#x27;" in body
    )
    assert 'href="https://airflow.example.test/bookspot-review/days/fjord-kayak/2026-11-25"' in body


def test_alert_text_is_not_a_template(smtp_sink: _SmtpSink) -> None:
    alerts.send([alerts.alert("failed", TENANT, dt.date(2026, 11, 25), "Tripletex said {{ 7 * 7 }}")])
    assert "{{ 7 * 7 }}" in _body(email.message_from_bytes(smtp_sink.messages[0]))


def test_a_webhook_gets_the_alerts_as_json(webhook_sink: ThreadingHTTPServer) -> None:
    day = dt.date(2026, 11, 25)
    alerts.send(
        [
            alerts.alert("activation", TENANT, day, "account 3000 is inactive"),
            alerts.alert("reconciliation", "tenant-001", day, "Tripletex sum 10.00 differs from 12.00"),
        ]
    )
    ((headers, payload),) = webhook_sink.posts  # type: ignore[attr-defined]
    assert headers["Authorization"] == "Bearer s3cret"
    kinds = {(a["tenant"], a["kind"]) for a in payload["alerts"]}
    assert kinds == {(TENANT, "activation"), ("tenant-001", "reconciliation")}
    first = payload["alerts"][0]
    assert first["day"] == "2026-11-25" and first["reason"] == "account 3000 is inactive"
    assert first["link"].endswith("/bookspot-review/days/fjord-kayak/2026-11-25")
    assert first["subject"].endswith("activation refused")


def test_no_channel_means_logged_only(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("AIRFLOW__BOOKSPOT__ALERT_CHANNEL", raising=False)
    assert alerts.send([alerts.alert("held", TENANT, dt.date(2026, 11, 25), "why")]) == 1
    assert "ALERT" in caplog.text and "fjord-kayak 25.11.2026 held" in caplog.text


def test_smtp_without_recipients_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__BOOKSPOT__ALERT_CHANNEL", "smtp")
    monkeypatch.delenv("AIRFLOW__BOOKSPOT__ALERT_TO", raising=False)
    with pytest.raises(ValueError, match="alert_to"):
        alerts.send([alerts.alert("held", TENANT, dt.date(2026, 11, 25), "why")])


def test_a_held_day_in_staging_alerts_with_its_quarantine_reason(
    staging_engine, example_tenant_file: Path, tmp_path: Path, smtp_sink: _SmtpSink
) -> None:  # type: ignore[no-untyped-def]
    cfg = setup_tenant(staging_engine, example_tenant_file)
    stage(staging_engine, cfg, held_day_records())
    pipeline.journal_day(staging_engine, TENANT, HELD_DAY)
    pipeline.validate_day(staging_engine, TENANT, HELD_DAY, tmp_path)
    with staging_engine.connect() as conn:
        found = alerts.day_alerts(conn, HELD_DAY)
        assert alerts.day_alerts(conn, HELD_DAY, ["someone-else"]) == []
    assert [(a.kind, a.tenant) for a in found] == [("held", TENANT)]
    assert "currency" in found[0].reason
    alerts.send(found)
    assert "currency" in _body(email.message_from_bytes(smtp_sink.messages[0]))


def test_a_failed_shard_alerts_the_tenant_days_it_held(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[alerts.Alert] = []
    monkeypatch.setattr(alerts, "send", lambda batch: sent.extend(batch))
    held = [
        {"tenant": "tenant-001", "date": "2026-11-25", "outcome": "refused"},
        {"tenant": "tenant-002", "date": "2026-11-24", "outcome": "held"},
    ]

    class TI:
        task_id, map_index = "night", 0

        def xcom_pull(self, task_ids: str, key: str = "return_value", map_indexes: int | None = None) -> Any:
            return held if (task_ids, key, map_indexes) == ("night", "held_days", 0) else None

    context = {"ti": TI(), "params": {"day": "2026-11-25"}, "exception": ValueError("account 3000 inactive")}
    alerts.on_task_failure(context)
    assert [(a.kind, a.tenant, a.day) for a in sent] == [
        ("failed", "tenant-001", dt.date(2026, 11, 25)),
        ("held", "tenant-002", dt.date(2026, 11, 24)),
    ]
    assert "account 3000 inactive" in sent[0].reason


def test_a_shard_failing_before_any_outcome_alerts_its_planned_tenants(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[alerts.Alert] = []
    monkeypatch.setattr(alerts, "send", lambda batch: sent.extend(batch))

    class TI:
        task_id, map_index = "night", 1

        def xcom_pull(self, task_ids: str, key: str = "return_value", map_indexes: int | None = None) -> Any:
            shards = [{"tenants": ["fjord-kayak"]}, {"tenants": ["tenant-001", "tenant-002"]}]
            return shards if task_ids == "plan" else None

    context = {
        "ti": TI(),
        "params": {"day": "2026-11-25"},
        "exception": RuntimeError("staging is not migrated"),
    }
    alerts.on_task_failure(context)
    assert [(a.kind, a.tenant) for a in sent] == [("failed", "tenant-001"), ("failed", "tenant-002")]


def test_a_corrected_day_is_told_with_its_vouchers_and_net_in_norwegian(smtp_sink: _SmtpSink) -> None:
    from bookspot_tripletex.money import nok_text

    corrected = [
        {"tenant": TENANT, "date": "2026-11-24", "corrections": 2, "net": f"{nok_text(-119_050)} NOK"}
    ]
    assert alerts.corrected_alerts([{**corrected[0], "corrections": 0}]) == []
    assert alerts.send(alerts.corrected_alerts(corrected)) == 1
    message = email.message_from_bytes(smtp_sink.messages[0])
    subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
    assert subject == "BookSpot → Tripletex: fjord-kayak 24.11.2026 corrected"
    body = _body(message)
    assert "were corrected" in body and "need a person" not in body
    assert (
        "2 correction voucher(s) posted to Tripletex; the day&#x27;s sales changed by -1\u00a0190,50 NOK"
        in body
    )
