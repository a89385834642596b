"""Alerts through Airflow notifiers: a held, refused or failed day, a failed reconciliation, a refused
activation, a day waiting for approval (when it starts waiting, and again when it waited longer than its
limit), and a posted day the run corrected (how many correction vouchers, their net change to the day's
sales).

Each alert names the tenant, the day (as Norwegians write it, "24.11.2026"), that day's own reason (one
line), what releases it and the link to the day on the review screen. The nightly DAG's run callbacks
(`on_run_end`, on success and on failure) send one alert per tenant-day the run left held, refused or
failed or corrected, read from `day_outcomes`; the task
failure callback (`on_task_failure`) covers only the tenants of a shard that failed before recording
any outcome (the task's error, first line). The channel is chosen per deployment in Airflow's config
(section `bookspot`, or the environment):

* `AIRFLOW__BOOKSPOT__ALERT_CHANNEL`: `smtp`, `webhook` or `none` (the default: alerts are logged only)
* `AIRFLOW__BOOKSPOT__ALERT_TO` (smtp): comma-separated addresses; `ALERT_FROM` the sender
* `AIRFLOW__BOOKSPOT__ALERT_SMTP_CONN_ID` (smtp, default `smtp_default`): the mail server's connection
* `AIRFLOW__BOOKSPOT__ALERT_WEBHOOK_CONN_ID` (webhook, default `bookspot_alerts`): a connection whose
  host is the URL the alert is POSTed to as JSON; its password, if any, is sent as a Bearer token
* `AIRFLOW__BOOKSPOT__REVIEW_BASE_URL`: where the review screen is seen from (default `[api] base_url`)

The notifiers are called with `notify()` directly: alert text comes from data (a quarantine reason, an
error from Tripletex) and is never rendered as a Jinja template.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from airflow.sdk import BaseNotifier

from bookspot_tripletex.timeutil import day_text

log = logging.getLogger(__name__)

KINDS = {
    "held": "held",
    "refused": "refused",
    "failed": "failed",
    "reconciliation": "failed reconciliation",
    "activation": "activation refused",
    "approval": "awaiting approval",
    "approval_overdue": "still awaiting approval",
    "corrected": "corrected",
}
INFORMATIONAL = frozenset({"corrected"})
"""Kinds that tell what happened rather than ask a person to act."""
ALERT_STATUSES = frozenset({"held", "failed"})
SECTION = "bookspot"
WEBHOOK_TIMEOUT_S = 10
REASON_MAX = 500
"""An alert's reason is one line of at most this many characters."""
OUTCOME_KINDS = {
    "held": "held",
    "refused": "refused",
    "retry": "failed",
    "error": "failed",
    "corrected": "corrected",
}
"""The `day_outcomes` outcomes a run's end alerts on, and the kind of alert each is."""


@dataclass(frozen=True)
class Alert:
    kind: str
    tenant: str
    day: dt.date
    reason: str
    link: str
    action: str | None = None

    @property
    def subject(self) -> str:
        return f"BookSpot → Tripletex: {self.tenant} {day_text(self.day)} {KINDS.get(self.kind, self.kind)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "tenant": self.tenant,
            "day": self.day.isoformat(),
            "reason": self.reason,
            "link": self.link,
            "action": self.action,
            "subject": self.subject,
        }


def _conf(key: str, default: str = "") -> str:
    from airflow.configuration import conf

    return str(conf.get(SECTION, key, fallback=default) or default).strip()


def review_link(tenant: str, day: dt.date) -> str:
    """The tenant-day's page on the review screen, as an absolute URL when the base URL is known."""
    from airflow.configuration import conf

    from bookspot_tripletex.review.links import URL_PREFIX

    base = _conf("review_base_url") or str(conf.get("api", "base_url", fallback="") or "")
    return f"{base.rstrip('/')}{URL_PREFIX}/days/{tenant}/{day.isoformat()}"


SPACES = re.compile(r"[^\S\u00a0]+")
"""Runs of white space; the no-break space inside "1 190,00" is kept."""


def one_line(text: Any, limit: int = REASON_MAX) -> str:
    """The text's lines joined by ' / ', spaces collapsed, cut at `limit` characters."""
    lines = [SPACES.sub(" ", part).strip() for part in str(text or "").splitlines()]
    line = " / ".join(part for part in lines if part)
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def alert(kind: str, tenant: str, day: dt.date, reason: str, action: str | None = None) -> Alert:
    if kind not in KINDS:
        raise ValueError(f"unknown alert kind {kind!r}; one of {', '.join(KINDS)}")
    return Alert(
        kind,
        tenant,
        day,
        one_line(reason) or "no reason recorded",
        review_link(tenant, day),
        one_line(action) or None,
    )


def mail_html(alerts: list[Alert]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(a.tenant)}</td><td>{day_text(a.day)}</td><td>{html.escape(KINDS[a.kind])}</td>"
        f"<td>{html.escape(a.reason)}{'<br>' + html.escape(a.action) if a.action else ''}</td>"
        f'<td><a href="{html.escape(a.link, quote=True)}">report</a></td></tr>'
        for a in alerts
    )
    told = all(a.kind in INFORMATIONAL for a in alerts)
    heading = "These posted tenant-days were corrected:" if told else "These tenant-days need a person:"
    return (
        f"<p>{heading}</p><table border=1 cellpadding=4>"
        "<tr><th>Tenant</th><th>Day</th><th>What</th><th>Reason</th><th>Report</th></tr>"
        f"{rows}</table>"
    )


class WebhookNotifier(BaseNotifier):
    """POST the alerts as JSON to the URL of an Airflow connection (host; password as Bearer token)."""

    def __init__(self, conn_id: str, payload: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.payload = payload or {}

    def notify(self, context: Any) -> None:
        import requests
        from airflow.sdk.bases.hook import BaseHook

        connection = BaseHook.get_connection(self.conn_id)
        url = str(connection.host or "")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"connection {self.conn_id!r}: host must be the webhook's http(s) URL")
        headers = {"Authorization": f"Bearer {connection.password}"} if connection.password else {}
        response = requests.post(url, json=self.payload, headers=headers, timeout=WEBHOOK_TIMEOUT_S)
        response.raise_for_status()


def notifier_for(alerts: list[Alert]) -> BaseNotifier | None:
    """The deployment's notifier carrying these alerts, or None when alerts go to the log only."""
    channel = _conf("alert_channel", "none").lower()
    if channel in ("", "none"):
        return None
    if channel == "webhook":
        payload = {"alerts": [a.as_dict() for a in alerts]}
        return WebhookNotifier(_conf("alert_webhook_conn_id", "bookspot_alerts"), payload)
    if channel == "smtp":
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        to = [a.strip() for a in _conf("alert_to").split(",") if a.strip()]
        if not to:
            raise ValueError("[bookspot] alert_to: say who gets the alert mails")
        subject = (
            alerts[0].subject if len(alerts) == 1 else f"BookSpot → Tripletex: {len(alerts)} tenant-days"
        )
        return SmtpNotifier(
            to=to,
            from_email=_conf("alert_from") or None,
            subject=subject,
            html_content=mail_html(alerts),
            smtp_conn_id=_conf("alert_smtp_conn_id", "smtp_default"),
        )
    raise ValueError(f"[bookspot] alert_channel is smtp, webhook or none, not {channel!r}")


def send(alerts: Iterable[Alert]) -> int:
    """Log every alert and send them, all in one message, through the configured channel."""
    batch = list(alerts)
    for a in batch:
        log.warning("ALERT %s: %s (%s)", a.subject, a.reason, a.link)
    if not batch:
        return 0
    notifier = notifier_for(batch)
    if notifier is not None:
        notifier.notify({})
    return len(batch)


def alert_approvals(outcomes: Iterable[Any]) -> int:
    """Alert the tenant-days that started waiting for approval (`alert` "new") and those waiting longer
    than their tenant's limit since the last alert ("overdue")."""
    return send(
        alert("approval" if o.alert == "new" else "approval_overdue", o.tenant, o.day, o.reason or "")
        for o in outcomes
        if getattr(o, "alert", None) in ("new", "overdue")
    )


def day_alerts(conn: Any, day: dt.date, tenants: Iterable[str] | None = None) -> list[Alert]:
    """Alerts for the day's tenant-days left held or failed in staging, with why."""
    from sqlalchemy import select

    from bookspot_tripletex.staging.schema import quarantine, vouchers

    query = select(vouchers.c.tenant_id, vouchers.c.status, vouchers.c.error).where(
        vouchers.c.local_date == day, vouchers.c.status.in_(sorted(ALERT_STATUSES))
    )
    wanted = list(tenants or [])
    if wanted:
        query = query.where(vouchers.c.tenant_id.in_(wanted))
    out = []
    for row in conn.execute(query.order_by(vouchers.c.tenant_id)):
        reasons = list(
            conn.execute(
                select(quarantine.c.reason).where(
                    quarantine.c.tenant_id == row.tenant_id,
                    quarantine.c.local_date == day,
                    quarantine.c.released_at.is_(None),
                )
            ).scalars()
        )
        reason = "; ".join(filter(None, [row.error, *reasons]))
        out.append(alert(row.status, row.tenant_id, day, reason))
    return out


def _context_day(context: Any) -> dt.date:
    """The run's day from a task's context, or from its DagRun in a DAG callback's leaner context."""
    from bookspot_tripletex.tasks import accounting_day

    run = context.get("dag_run")
    return accounting_day(
        {
            "params": context.get("params") or dict(getattr(run, "conf", None) or {}),
            "logical_date": context.get("logical_date") or getattr(run, "logical_date", None),
            "data_interval_start": context.get("data_interval_start")
            or getattr(run, "data_interval_start", None)
            or getattr(run, "run_after", None),
        }
    )


def run_alerts(conn: Any, run_id: str) -> list[Alert]:
    """One alert per tenant-day the run left held, refused or failed, with that day's reason and action,
    and one per posted day it corrected."""
    from bookspot_tripletex.staging.outcomes import run_outcomes

    out = []
    for row in run_outcomes(conn, run_id, sorted(OUTCOME_KINDS)):
        kind = OUTCOME_KINDS[row.outcome]
        if kind == "refused" and row.step == "activate":
            kind = "activation"
        reason = corrected_reason(row.counts or {}) if kind == "corrected" else row.reason or row.outcome
        out.append(alert(kind, row.tenant_id, row.local_date, reason, row.action))
    return out


def corrected_reason(counts: dict[str, Any]) -> str:
    """A corrected day's alert text from its outcome's counts: how many vouchers, their net."""
    net = counts.get("net")
    return f"{int(counts.get('corrections') or 0)} correction voucher(s) posted to Tripletex" + (
        f"; the day's sales changed by {net}" if net else ""
    )


def _run_id(context: Any) -> str | None:
    run = context.get("dag_run")
    return context.get("run_id") or getattr(run, "run_id", None)


def on_run_end(context: Any) -> None:
    """DAG-run callback (success and failure): alert every tenant-day of the run left held, refused or
    failed, each with its own reason."""
    from bookspot_tripletex.staging.db import make_engine

    run_id = _run_id(context)
    if not run_id:
        log.warning("run callback without a run id: no alerts")
        return
    engine = make_engine()
    try:
        with engine.connect() as conn:
            found = run_alerts(conn, run_id)
    finally:
        engine.dispose()
    send(found)


def _tenants_with_outcomes(run_id: str | None, tenants: list[str]) -> set[str]:
    """The tenants the run recorded anything for: an outcome, or a day a step took (`night_steps`)."""
    if not run_id or not tenants:
        return set()
    from bookspot_tripletex.staging.db import make_engine
    from bookspot_tripletex.staging.night_steps import read
    from bookspot_tripletex.staging.outcomes import run_outcomes

    engine = make_engine()
    try:
        with engine.connect() as conn:
            found = {row.tenant_id for row in run_outcomes(conn, run_id, tenants=tenants)}
            return found | {row.tenant for row in read(conn, run_id, tenants)}
    finally:
        engine.dispose()


def on_task_failure(context: Any) -> None:
    """Task callback: the tenants of a failed shard that recorded no outcome in this run (it failed before
    their days ran), with the first line of the task's error; the run callback alerts every other day."""
    ti = context["ti"]
    day = _context_day(context)
    tenants: list[str] = []
    if ti.map_index is not None and ti.map_index >= 0:
        planned = ti.xcom_pull(task_ids="plan") or []
        tenants = list(planned[ti.map_index]["tenants"]) if ti.map_index < len(planned) else []
    error = str(context.get("exception") or "no error recorded").strip().splitlines() or [""]
    reason = f"task {ti.task_id} failed before this tenant's days ran: {error[0]}"
    try:
        done = _tenants_with_outcomes(_run_id(context), tenants)
    except Exception:  # noqa: BLE001 (staging itself may be why the task failed)
        log.warning("could not read this run's outcomes from staging", exc_info=True)
        done = set()
    send(alert("failed", t, day, reason) for t in (tenants or ["(all tenants)"]) if t not in done)
