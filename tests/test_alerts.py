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
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from alerts_support import webhook_receiver
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


@pytest.fixture
def webhook_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadingHTTPServer]:
    with webhook_receiver(monkeypatch) as server:
        yield server


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


def _outcome(tenant: str, day: dt.date, step: str, outcome: str, reason: str, action: str | None = None):  # type: ignore[no-untyped-def]
    from bookspot_tripletex.staging.outcomes import DayOutcome, Outcome

    return DayOutcome(tenant, day, step, Outcome(outcome), {}, reason, action)


def test_a_run_alerts_each_problem_day_once_with_its_own_reason(staging_engine) -> None:  # type: ignore[no-untyped-def]
    from bookspot_tripletex.staging.outcomes import record_outcomes

    day = dt.date(2026, 11, 25)
    with staging_engine.begin() as conn:
        record_outcomes(
            conn,
            "run-1",
            [
                _outcome(
                    "tenant-001",
                    day,
                    "validate",
                    "held",
                    "1 quarantined record(s):\n  tx_eur: currency",
                    "release-day",
                ),
                _outcome(
                    "tenant-002", day, "activate", "refused", "The API key does not work.\n" + "x" * 900
                ),
                _outcome(
                    "tenant-003", day, "load", "refused", "Tripletex refused the voucher: account 3000 locked"
                ),
                _outcome("tenant-004", day, "extract", "retry", "BookSpot answered 503"),
                _outcome("tenant-005", day, "load", "error", "unexpected KeyError 'id'"),
                _outcome("fjord-kayak", day, "load", "posted", ""),
            ],
        )
        record_outcomes(conn, "run-2", [_outcome("tenant-006", day, "validate", "held", "other run")])
        found = alerts.run_alerts(conn, "run-1")
    assert [(a.tenant, a.kind) for a in found] == [
        ("tenant-001", "held"),
        ("tenant-002", "activation"),
        ("tenant-003", "refused"),
        ("tenant-004", "failed"),
        ("tenant-005", "failed"),
    ]
    reasons = {a.tenant: a.reason for a in found}
    assert reasons["tenant-001"] == "1 quarantined record(s): / tx_eur: currency"
    assert (
        reasons["tenant-002"].startswith("The API key does not work. / xxx")
        and len(reasons["tenant-002"]) == 500
    )
    assert reasons["tenant-004"] == "BookSpot answered 503"
    assert all("\n" not in a.reason and a.link.endswith(f"/days/{a.tenant}/2026-11-25") for a in found)
    assert found[0].action == "release-day" and found[1].action is None


def test_the_run_callback_sends_the_runs_alerts(
    staging_engine, staging_url: str, webhook_sink: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from bookspot_tripletex.staging.outcomes import record_outcomes

    monkeypatch.setenv("BOOKSPOT_STAGING_URL", staging_url)
    day = dt.date(2026, 11, 25)
    with staging_engine.begin() as conn:
        record_outcomes(conn, "run-9", [_outcome("tenant-001", day, "validate", "held", "why")])

    class Run:
        run_id = "run-9"

    alerts.on_run_end({"dag_run": Run(), "reason": "task_failure"})
    ((_, payload),) = webhook_sink.posts  # type: ignore[attr-defined]
    assert [(a["tenant"], a["kind"], a["reason"]) for a in payload["alerts"]] == [
        ("tenant-001", "held", "why")
    ]
    alerts.on_run_end({"run_id": "run-without-problems"})
    assert len(webhook_sink.posts) == 1  # type: ignore[attr-defined]


class _TI:
    task_id, map_index = "night", 1

    def xcom_pull(self, task_ids: str, key: str = "return_value", map_indexes: int | None = None) -> Any:
        shards = [{"tenants": ["fjord-kayak"]}, {"tenants": ["tenant-001", "tenant-002"]}]
        return shards if task_ids == "plan" else None


def test_a_shard_failing_before_any_outcome_alerts_its_planned_tenants(
    staging_engine, staging_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from bookspot_tripletex.staging.outcomes import record_outcomes

    monkeypatch.setenv("BOOKSPOT_STAGING_URL", staging_url)
    sent: list[alerts.Alert] = []
    monkeypatch.setattr(alerts, "send", lambda batch: sent.extend(batch))
    with staging_engine.begin() as conn:
        record_outcomes(
            conn, "run-3", [_outcome("tenant-002", dt.date(2026, 11, 25), "load", "retry", "503")]
        )
    context = {
        "ti": _TI(),
        "run_id": "run-3",
        "params": {"day": "2026-11-25"},
        "exception": RuntimeError("staging is not migrated\nTraceback (most recent call last): ..."),
    }
    alerts.on_task_failure(context)
    assert [(a.kind, a.tenant) for a in sent] == [("failed", "tenant-001")]
    assert sent[0].reason == "task night failed before this tenant's days ran: staging is not migrated"


def test_a_corrected_day_is_told_with_its_vouchers_and_net_in_norwegian(
    smtp_sink: _SmtpSink, staging_engine
) -> None:
    from bookspot_tripletex.money import nok_text
    from bookspot_tripletex.staging.outcomes import DayOutcome, Outcome, record_outcomes

    day = dt.date(2026, 11, 24)
    counts = {"voucher": "1-2026", "corrections": 2, "net": f"{nok_text(-119_050)} NOK"}
    with staging_engine.begin() as conn:
        record_outcomes(conn, "run-c", [DayOutcome(TENANT, day, "load", Outcome.CORRECTED, counts)])
        record_outcomes(conn, "run-c", [DayOutcome("tenant-001", day, "load", Outcome.ALREADY_POSTED, {})])
    with staging_engine.connect() as conn:
        found = alerts.run_alerts(conn, "run-c")
    assert [(a.kind, a.tenant) for a in found] == [("corrected", TENANT)]
    assert alerts.send(found) == 1
    message = email.message_from_bytes(smtp_sink.messages[0])
    subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
    assert subject == "BookSpot → Tripletex: fjord-kayak 24.11.2026 corrected"
    body = _body(message)
    assert "were corrected" in body and "need a person" not in body
    assert (
        "2 correction voucher(s) posted to Tripletex; the day&#x27;s sales changed by -1\u00a0190,50 NOK"
        in body
    )
