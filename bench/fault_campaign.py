"""Fault campaign: seeded runs of nightly loads against an emulator that misbehaves like the real world.

Each run stages a day of three tenants on SQLite or PostgreSQL staging (alternating), then loads
them through a random mix of faults: 429 with and without a reset header, 5xx before and after the
commit, timeouts, late commits, a lagging lookup and listings, answers dropped after the commit, loads
SIGKILLed at a random point (in a subprocess), two or three overlapping loads of one tenant-day, a lease
running out during a slow write, vouchers deleted or reversed in Tripletex, late and voided records.
Recovery is what the next night does: reconcile (posting again days whose voucher vanished), load
again, reconcile (which deletes our stray drafts). Then it counts per tenant-day the vouchers in the ledger
against the reference (one plus corrections; reversed ones apart), the ledger's sums against the
journal, and our drafts left in Tripletex.

    python bench/fault_campaign.py --runs 1000 --seed 1

PostgreSQL: TEST_DATABASE_URL, else postgresql+psycopg2://postgres@127.0.0.1:5432/postgres; the
campaign creates (and drops) its own database there. The last four lines are the verdict.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TENANTS = ("fjord-kayak", "nordlys-yoga", "vestland-ski")
DAYS = (dt.date(2026, 11, 24),)
TODAY = dt.date(2026, 11, 25)
CLIENT_TIMEOUT = 0.5
LATE = 0.7
LEASE_SECONDS = "5"
DEFAULT_PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
RATES = ("25", "15", "12")
METHODS = ("stripe", "vipps", "card_terminal", "cash")
FAULTS = (
    "429 with reset",
    "429 without reset",
    "5xx before commit",
    "5xx after commit",
    "timeout",
    "late commit",
    "lagging lookup",
    "dropped answer",
)
SCENARIOS = ("plain", "overlap", "sigkill", "lease lost")
CHANGES = ("deleted in Tripletex", "reversed in Tripletex", "late record", "voided record")


def child(argv: list[str]) -> int:
    """One load in its own process, so the campaign can SIGKILL it. With no arguments the process
    imports everything first, then waits for its job (a JSON list of the same arguments) on stdin."""
    from bookspot_tripletex.load.post import post_day
    from bookspot_tripletex.staging.db import make_engine
    from bookspot_tripletex.tenants.store import load_tenant

    if not argv:
        argv = json.loads(sys.stdin.readline())
    staging_url, base_url, tenant_id, day, claimant, timeout, consumer, employee = argv
    engine = make_engine(staging_url)
    with engine.connect() as conn:
        tenant = load_tenant(conn, tenant_id)
    client = _client(base_url, consumer, employee, float(timeout))
    try:
        result = post_day(engine, tenant, dt.date.fromisoformat(day), client, claimant)
        print(json.dumps({"outcome": result["outcome"]}))
    except Exception as exc:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)[:300]}))
        return 1
    return 0


def warm_child() -> subprocess.Popen[str]:
    """A load process that has done its imports and waits for a job: killing it mid-load is then cheap."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("plugins", "devkit"))}
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--child"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _client(base_url: str, consumer: str, employee: str, timeout: float) -> Any:
    from bookspot_tripletex.tripletex.client import RetryPolicy, TripletexClient

    return TripletexClient(
        base_url,
        consumer,
        employee,
        timeout=timeout,
        clock=lambda: TODAY,
        retry=RetryPolicy(
            attempts=3, budget_seconds=5, backoff_initial=0.01, backoff_max=0.3, server_wait_margin=0.05
        ),
    )


@dataclass
class Figures:
    runs: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    transient: Counter[str] = field(default_factory=Counter)
    duplicates_created: int = 0
    duplicates_reversed: int = 0
    duplicates_left: int = 0
    missing_days: int = 0
    mismatched_sums: int = 0
    stray_drafts_left: int = 0
    stray_drafts_deleted: int = 0
    reconcile_from_load: int = 0
    reconcile_own_client: int = 0
    reconcile_calls: Counter[str] = field(default_factory=Counter)
    reversed_apart: int = 0
    corrections: int = 0
    refused: list[str] = field(default_factory=list)
    tenant_days: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = [f"runs: {self.runs} ({self.tenant_days} tenant-days, {self.seconds:.0f} s)"]
        out.append("faults by kind:")
        out += [f"  {kind}: {n}" for kind, n in sorted(self.faults.items())]
        out.append(
            "transient errors seen by loads: "
            + ", ".join(f"{k} {n}" for k, n in sorted(self.transient.items()))
        )
        out.append(f"correction vouchers posted: {self.corrections}")
        out.append(f"vouchers reversed (ours, apart from the count): {self.reversed_apart}")
        out.append(
            f"refusals: {len(self.refused)}" + (f" (first: {self.refused[0]})" if self.refused else "")
        )
        out.append(
            "recovery's last reconciliation: ranges compared from the load's listing "
            f"{self.reconcile_from_load}, tenants that needed a client of their own "
            f"{self.reconcile_own_client}, calls "
            + (", ".join(f"{k} {n}" for k, n in sorted(self.reconcile_calls.items())) or "none")
        )
        out.append(f"duplicates created: {self.duplicates_created}")
        out.append(f"duplicates reversed by reconciliation: {self.duplicates_reversed}")
        out.append(f"stray drafts deleted by reconciliation: {self.stray_drafts_deleted}")
        out.append(f"duplicates left: {self.duplicates_left}")
        out.append(f"missing days: {self.missing_days}")
        out.append(f"mismatched sums: {self.mismatched_sums}")
        out.append(f"stray drafts left: {self.stray_drafts_left}")
        return out


class Campaign:
    """The emulator, both staging databases and the tenants, set up once; `run(i)` is one seeded run."""

    def __init__(self, seed: int, pg_url: str | None, workdir: Path) -> None:
        from bookspot_devkit.emulator.config import AccountSpec, CompanyConfig, EmulatorConfig
        from bookspot_devkit.emulator.server import EmulatorServer

        self.seed = seed
        self.workdir = workdir
        self.companies = [
            CompanyConfig(
                id=7001 + i,
                name=tenant,
                consumer_token=f"c-{secrets.token_hex(8)}",
                employee_token=f"e-{secrets.token_hex(8)}",
                extra_accounts=[
                    AccountSpec(number=1580, name="Stripe clearing"),
                    AccountSpec(number=1581, name="Vipps clearing"),
                    AccountSpec(number=1582, name="Dintero clearing"),
                ],
            )
            for i, tenant in enumerate(TENANTS)
        ]
        self.server = EmulatorServer(EmulatorConfig(companies=self.companies, today=TODAY)).start()
        self.engines: dict[str, Any] = {}
        self.urls: dict[str, str] = {}
        self._pg_admin: Any = None
        self._pg_db: str | None = None
        self._open_staging(pg_url)
        self.figures = Figures()
        self._spare_lock = threading.Lock()
        self._spare = warm_child()

    def _open_staging(self, pg_url: str | None) -> None:
        from sqlalchemy import create_engine, text

        from bookspot_devkit.demo import organization_number
        from bookspot_tripletex.staging.db import make_engine, migrate
        from bookspot_tripletex.tenants.config import load_tenant_file
        from bookspot_tripletex.tenants.store import import_tenant

        self.urls["sqlite"] = f"sqlite:///{self.workdir / 'staging.db'}"
        if pg_url:
            self._pg_admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
            self._pg_db = f"fault_campaign_{uuid.uuid4().hex[:10]}"
            with self._pg_admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self._pg_db}"'))
                conn.execute(text(f'ALTER DATABASE "{self._pg_db}" SET synchronous_commit = off'))
            self.urls["postgresql"] = self._pg_admin.url.set(database=self._pg_db).render_as_string(
                hide_password=False
            )
        template = (ROOT / "demo" / "fjord-kayak.yaml").read_text(encoding="utf-8")
        for backend, url in self.urls.items():
            engine = make_engine(url)
            migrate(engine)
            self.engines[backend] = engine
            for tenant, company in zip(TENANTS, self.companies, strict=True):
                path = self.workdir / f"{tenant}.yaml"
                text = template.replace("fjord-kayak", tenant).replace(
                    "fjord_kayak", tenant.replace("-", "_")
                )
                text = re.sub(r"(?m)^tripletex_company_id: .*$", f"tripletex_company_id: {company.id}", text)
                text = re.sub(
                    r"(?m)^organization_number: .*$",
                    f'organization_number: "{organization_number(company.id)}"',
                    text,
                )
                path.write_text(text)
                with engine.begin() as conn:
                    import_tenant(conn, load_tenant_file(path))

    def close(self) -> None:
        from sqlalchemy import text

        self._spare.kill()
        self._spare.wait()
        for engine in self.engines.values():
            engine.dispose()
        self.server.stop()
        if self._pg_admin is not None:
            with self._pg_admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self._pg_db}" WITH (FORCE)'))
            self._pg_admin.dispose()

    # -- one run -------------------------------------------------------------------------------------

    def run(self, index: int) -> None:
        rng = random.Random(self.seed * 1_000_003 + index)
        backends = sorted(self.engines)
        backend = backends[index % len(backends)]
        engine = self.engines[backend]
        self._clear(engine)
        self.server.reset()
        self.server.admin("DELETE", "faults")
        self.server.admin("POST", "rate_limit", None)
        tenants = self._tenants(engine)
        serial = iter(range(1, 10_000))
        for tenant in TENANTS:
            for day in DAYS:
                self._stage(
                    engine,
                    tenants[tenant],
                    [self._record(rng, tenant, day, next(serial)) for _ in range(rng.randint(2, 6))],
                )
                self._ready(engine, tenant, day)
        scenarios = {(t, d): rng.choices(SCENARIOS, weights=(6, 2, 1, 1))[0] for t in TENANTS for d in DAYS}
        faults = self._faults(rng, sum(s == "lease lost" for s in scenarios.values()))
        self.figures.faults.update(faults)
        self.figures.faults.update(f"scenario: {s}" for s in scenarios.values() if s != "plain")
        threads = []
        for (tenant, day), scenario in scenarios.items():
            thread = threading.Thread(
                target=self._scenario, args=(rng.random(), backend, tenants[tenant], day, scenario)
            )
            threads.append(thread)
            thread.start()
        for thread in threads:
            thread.join()
        if {"late commit", "timeout"} & set(faults) or "sigkill" in scenarios.values():
            time.sleep(LATE + 0.2)  # late commits still on their way land now
        self._count_duplicates_created()
        self._changes(rng, engine, tenants, serial)
        self.server.admin("DELETE", "faults")
        self.server.admin("POST", "rate_limit", None)
        self._recover(engine, tenants)
        self._count(engine, tenants)
        self.figures.runs += 1
        self.figures.tenant_days += len(TENANTS) * len(DAYS)

    def _clear(self, engine: Any) -> None:
        from bookspot_tripletex.staging.schema import (
            activations,
            extract_watermarks,
            pending_corrections,
            quarantine,
            transaction_lines,
            transactions,
            vouchers,
        )

        with engine.begin() as conn:
            for table in (
                pending_corrections,
                vouchers,
                transaction_lines,
                transactions,
                quarantine,
                activations,
            ):
                conn.execute(table.delete())
            conn.execute(extract_watermarks.delete())

    def _tenants(self, engine: Any) -> dict[str, Any]:
        from bookspot_tripletex.tenants.store import load_tenant

        with engine.connect() as conn:
            return {t: load_tenant(conn, t) for t in TENANTS}

    def _record(
        self, rng: random.Random, tenant: str, day: dt.date, serial: int, updated: str | None = None
    ) -> dict:
        from bookspot_tripletex.domain import ONLINE_METHODS, VAT_RATES
        from bookspot_tripletex.money import vat_in_gross

        lines = []
        for i in range(rng.randint(1, 3)):
            gross = rng.randint(100, 5000) * 100 + rng.choice((0, 50, 99))
            rate = rng.choice(RATES)
            lines.append(
                {
                    "product_id": f"p_{i}",
                    "product_name": f"Product {i}",
                    "category": "activity",
                    "quantity": 1,
                    "gross_minor": gross,
                    "vat_rate": rate,
                    "vat_minor": vat_in_gross(gross, VAT_RATES[rate]),
                    "service_date": None,
                }
            )
        amount = sum(line["gross_minor"] for line in lines)
        method = rng.choice(METHODS)
        occurred = f"{day.isoformat()}T{rng.randint(8, 20):02d}:{rng.randint(0, 59):02d}:00+01:00"
        return {
            "id": f"tx_{tenant}_{day:%m%d}_{serial:05d}",
            "account_id": tenant,
            "kind": "payment",
            "status": "completed",
            "booking_id": None,
            "occurred_at": occurred,
            "updated_at": updated or occurred,
            "currency": "NOK",
            "amount_minor": amount,
            "payment_method": method,
            "provider_fee_minor": amount * 2 // 100 if method in ONLINE_METHODS else 0,
            "gift_card_code": None,
            "lines": lines,
        }

    def _stage(self, engine: Any, tenant: Any, records: list[dict]) -> None:
        from bookspot_tripletex.staging.stage import stage_records

        with engine.begin() as conn:
            stage_records(conn, tenant, records)

    def _ready(self, engine: Any, tenant: str, day: dt.date) -> None:
        """What the nightly journal and validation steps leave: the day `ready` (GX is not the subject)."""
        from bookspot_tripletex.load.state import get_voucher, record_validation
        from bookspot_tripletex.pipeline import journal_day

        journal_day(engine, tenant, day)
        with engine.begin() as conn:
            row = get_voucher(conn, tenant, day)
            if row is not None and row.status == "built":
                record_validation(conn, row.id, True, {"success": True}, "", dt.datetime.now(dt.UTC))

    def _faults(self, rng: random.Random, lease_lost: int) -> list[str]:
        chosen = [f for f in FAULTS if rng.random() < 0.35]
        cfg: dict[str, Any] = {"seed": rng.randrange(1 << 30), "rules": [], "error_rates": {}}
        writes = [("POST", "/ledger/voucher"), ("PUT", "/ledger/voucher/*/:sendToLedger")]
        for fault in chosen:
            method, path = rng.choice(writes)
            if fault == "5xx before commit":
                cfg["error_rates"] = {500: rng.uniform(0.03, 0.12), 503: rng.uniform(0.0, 0.05)}
            elif fault == "5xx after commit":
                cfg["rules"].append(
                    {
                        "action": "error_after",
                        "method": method,
                        "path": path,
                        "status": 500,
                        "rate": 0.5,
                        "times": 2,
                    }
                )
            elif fault == "timeout":
                cfg["timeout_rate"] = rng.uniform(0.03, 0.1)
                cfg["timeout_seconds"] = LATE
            elif fault == "late commit":
                cfg["rules"].append(
                    {
                        "action": "late_commit",
                        "method": method,
                        "path": path,
                        "seconds": LATE,
                        "rate": 0.5,
                        "times": 2,
                    }
                )
            elif fault == "lagging lookup":
                cfg["lookup_lag_seconds"] = 30
                cfg["listing_lag_seconds"] = 30
            elif fault == "dropped answer":
                cfg["rules"].append(
                    {"action": "drop", "method": method, "path": path, "rate": 0.5, "times": 2}
                )
        if lease_lost:
            cfg["rules"].append(
                {
                    "action": "latency",
                    "method": "PUT",
                    "path": "/ledger/voucher/*/:sendToLedger",
                    "seconds": 0.4,
                    "times": lease_lost,
                }
            )
        self.server.admin("POST", "faults", cfg)
        limited = [f for f in chosen if f.startswith("429")]
        if limited:
            self.server.admin(
                "POST",
                "rate_limit",
                {
                    "limit": rng.randint(4, 8),
                    "period_seconds": 1,
                    "omit_reset_on_429": limited[-1] == "429 without reset",
                },
            )
        return chosen

    def _client_for(self, tenant: str) -> Any:
        company = self.companies[TENANTS.index(tenant)]
        return _client(self.server.url, company.consumer_token, company.employee_token, CLIENT_TIMEOUT)

    def _load(self, backend: str, tenant: Any, day: dt.date, claimant: str) -> str:
        from bookspot_tripletex.load.errors import DayRefused
        from bookspot_tripletex.load.post import post_day

        try:
            return post_day(self.engines[backend], tenant, day, self._client_for(tenant.tenant), claimant)[
                "outcome"
            ]
        except DayRefused as exc:
            self.figures.refused.append(str(exc)[:200])
            return "refused"
        except Exception as exc:  # transient: the next try (recovery) settles it
            self.figures.transient[type(exc).__name__] += 1
            return type(exc).__name__

    def _scenario(self, roll: float, backend: str, tenant: Any, day: dt.date, scenario: str) -> None:
        if scenario == "plain":
            self._load(backend, tenant, day, "night")
        elif scenario == "overlap":
            runs = [
                threading.Thread(target=self._load, args=(backend, tenant, day, f"overlap-{i}"))
                for i in range(2 + (roll < 0.5))
            ]
            for run in runs:
                run.start()
            for run in runs:
                run.join()
        elif scenario == "sigkill":
            self._killed(backend, tenant.tenant, day, after=0.05 + roll * 1.5)
        else:
            self._lease_lost(backend, tenant, day)

    def _killed(self, backend: str, tenant: str, day: dt.date, after: float) -> None:
        company = self.companies[TENANTS.index(tenant)]
        with self._spare_lock:
            process, self._spare = self._spare, warm_child()
        job = [self.urls[backend], self.server.url, tenant, day.isoformat(), "killed", str(CLIENT_TIMEOUT)]
        assert process.stdin is not None
        process.stdin.write(json.dumps([*job, company.consumer_token, company.employee_token]) + "\n")
        process.stdin.flush()
        started = time.monotonic()
        engine = self.engines[backend]
        while process.poll() is None and time.monotonic() - started < 30:
            if time.monotonic() - started >= after or self._claimed(engine, tenant, day):
                if time.monotonic() - started >= after * 0.5:
                    break
            time.sleep(0.01)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()

    def _claimed(self, engine: Any, tenant: str, day: dt.date) -> bool:
        from bookspot_tripletex.load.state import get_voucher

        with engine.connect() as conn:
            row = get_voucher(conn, tenant, day)
        return row is not None and row.claim_token is not None

    def _lease_lost(self, backend: str, tenant: Any, day: dt.date) -> None:
        from sqlalchemy import update

        from bookspot_tripletex.load.state import get_voucher
        from bookspot_tripletex.staging.schema import vouchers

        engine = self.engines[backend]
        slow = threading.Thread(target=self._load, args=(backend, tenant, day, "slow"))
        slow.start()
        deadline = time.monotonic() + 5
        while slow.is_alive() and time.monotonic() < deadline:
            with engine.connect() as conn:
                row = get_voucher(conn, tenant.tenant, day)
            if row is not None and row.draft_id is not None:
                break
            time.sleep(0.02)
        time.sleep(0.1)
        with engine.begin() as conn:  # the slow run's lease runs out while its send is under way
            conn.execute(
                update(vouchers)
                .where(
                    vouchers.c.tenant_id == tenant.tenant,
                    vouchers.c.local_date == day,
                    vouchers.c.claim_token.is_not(None),
                )
                .values(claim_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
            )
        self._load(backend, tenant, day, "next")
        slow.join()

    def _ledger(self, tenant: str) -> list[dict]:
        company = self.companies[TENANTS.index(tenant)]
        return [
            v for v in self.server.admin("GET", f"companies/{company.id}/vouchers")["values"] if v["number"]
        ]

    def _count_duplicates_created(self) -> None:
        for tenant in TENANTS:
            live = Counter(
                v.get("externalVoucherNumber") for v in self._ledger(tenant) if not v.get("reverseVoucher")
            )
            self.figures.duplicates_created += sum(n - 1 for n in live.values() if n > 1)

    def _changes(self, rng: random.Random, engine: Any, tenants: dict[str, Any], serial: Any) -> None:
        from bookspot_tripletex.load.state import get_voucher

        for tenant in TENANTS:
            company = self.companies[TENANTS.index(tenant)]
            for day in DAYS:
                if rng.random() >= 0.3:
                    continue
                change = rng.choice(CHANGES)
                self.figures.faults[change] += 1
                with engine.connect() as conn:
                    row = get_voucher(conn, tenant, day)
                if change in ("deleted in Tripletex", "reversed in Tripletex"):
                    if row is None or row.tripletex_voucher_id is None or row.status != "posted":
                        continue
                    if change == "deleted in Tripletex":
                        self.server.admin(
                            "DELETE", f"companies/{company.id}/vouchers/{row.tripletex_voucher_id}"
                        )
                    else:
                        self.server.admin(
                            "POST", f"companies/{company.id}/vouchers/{row.tripletex_voucher_id}/reverse"
                        )
                elif change == "late record":
                    late = self._record(
                        rng, tenant, day, next(serial), updated=f"{TODAY.isoformat()}T07:00:00+01:00"
                    )
                    self._stage(engine, tenants[tenant], [late])
                else:
                    self._void_one(rng, engine, tenants[tenant], day)

    def _void_one(self, rng: random.Random, engine: Any, tenant: Any, day: dt.date) -> None:
        from sqlalchemy import select

        from bookspot_tripletex.staging.raw import raw_record
        from bookspot_tripletex.staging.schema import transactions

        with engine.connect() as conn:
            ids = conn.execute(
                select(transactions.c.transaction_id).where(
                    transactions.c.tenant_id == tenant.tenant,
                    transactions.c.local_date == day,
                    transactions.c.status == "completed",
                )
            ).scalars()
            raws = [raw_record(conn, tenant.tenant, tx_id) for tx_id in ids]
        if len(raws) < 2:
            return
        record = json.loads(rng.choice(sorted(raws)))
        record.update(status="voided", updated_at=f"{TODAY.isoformat()}T07:30:00+01:00")
        self._stage(engine, tenant, [record])

    def _recover(self, engine: Any, tenants: dict[str, Any]) -> None:
        """The next night: reconcile (queue vanished days), journal and load every day, reconcile again."""
        from bookspot_tripletex.load.errors import ReconcileMismatch
        from bookspot_tripletex.load.ledger import read_for_reconcile
        from bookspot_tripletex.load.reconcile import reconcile

        backend = next(b for b, e in self.engines.items() if e is engine)
        for tenant in TENANTS:
            client = self._client_for(tenant)
            try:
                result = reconcile(engine, tenants[tenant], client, days=7, today=TODAY, repair=True)
                self.figures.stray_drafts_deleted += result["drafts_deleted"]
            except ReconcileMismatch as exc:
                self.figures.duplicates_reversed += len(exc.result.get("reversed_duplicates", []))
                self.figures.stray_drafts_deleted += exc.result.get("drafts_deleted", 0)
            for day in DAYS:
                self._ready(engine, tenant, day)
                for _ in range(8):
                    outcome = self._load(backend, tenants[tenant], day, "recovery")
                    if outcome in ("posted", "already_posted", "found_existing", "refused", "empty", "held"):
                        break
                    time.sleep(0.05)
            # the load step's one listing, kept in staging; reconciliation compares with it and makes
            # its own client only for what the listing did not cover
            made: list[Any] = []

            def factory(client: Any = client, made: list[Any] = made) -> Any:
                made.append(client)
                return client

            try:
                read_for_reconcile(engine, tenant, client, today=TODAY, days=7)
            except Exception as exc:  # reconciliation then lists for itself
                self.figures.refused.append(f"listing for reconciliation: {exc}"[:300])
            try:
                result = reconcile(engine, tenants[tenant], factory, days=7, today=TODAY)
                self.figures.reconcile_from_load += result.get("listings_from_load", 0)
                self.figures.reconcile_own_client += bool(made)
                self.figures.reconcile_calls.update(result.get("calls_by_kind") or {})
                self.figures.duplicates_reversed += len(result["reversed_duplicates"])
                self.figures.stray_drafts_deleted += result["drafts_deleted"]
            except ReconcileMismatch as exc:
                self.figures.refused.append(f"reconcile after recovery: {exc}"[:300])

    def _count(self, engine: Any, tenants: dict[str, Any]) -> None:
        from bookspot_tripletex.journal.build import build_day
        from bookspot_tripletex.load.state import day_versions

        for tenant in TENANTS:
            ledger = self._ledger(tenant)
            company = self.companies[TENANTS.index(tenant)]
            drafts = [
                v
                for v in self.server.admin("GET", f"companies/{company.id}/vouchers")["values"]
                if not v["number"]
            ]
            self.figures.stray_drafts_left += sum(
                1
                for v in drafts
                if str(v.get("externalVoucherNumber") or "").startswith(f"bookspot:{tenant}:")
            )
            for day in DAYS:
                with engine.connect() as conn:
                    rows = day_versions(conn, tenant, day)
                    journal = build_day(conn, tenants[tenant], day)
                self.figures.corrections += sum(1 for r in rows if r.version > 1 and r.status == "posted")
                ours = {r.external_number for r in rows}
                mine = [v for v in ledger if v.get("externalVoucherNumber") in ours]
                live = Counter(v["externalVoucherNumber"] for v in mine if not v.get("reverseVoucher"))
                self.figures.duplicates_left += sum(n - 1 for n in live.values() if n > 1)
                self.figures.reversed_apart += sum(1 for v in mine if v.get("reverseVoucher"))
                expected: Counter[tuple[int, int]] = Counter()
                for p in journal.voucher.postings if journal.voucher else ():
                    expected[(p.account, p.vat_type)] += p.amount_ore
                held: Counter[tuple[int, int]] = Counter()
                for v in mine:
                    for p in v["postings"]:
                        if int(p.get("row") or 0) >= 1:
                            key = (int(p["account"]["number"]), int(p["vatType"]["number"]))
                            held[key] += int(Decimal(str(p["amountGross"])) * 100)
                if +expected and not live:
                    self.figures.missing_days += 1
                elif +held != +expected:
                    self.figures.mismatched_sums += 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        return child(argv[1:])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--first", type=int, default=0, help="index of the first run (to split a campaign)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite staging only")
    args = parser.parse_args(argv)
    figures = campaign(args.runs, args.seed, None if args.no_postgres else pg_url(), args.first)
    print("\n".join(figures.lines()))
    return 0


def pg_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG


def campaign(runs: int, seed: int, postgres: str | None, first: int = 0) -> Figures:
    """Run the campaign; quiet logs, claims on a short lease (the loads' waits are short too)."""
    import logging

    saved = {k: os.environ.get(k) for k in ("BOOKSPOT_CLAIM_LEASE_SECONDS", "BOOKSPOT_CLAIM_HEARTBEAT")}
    logging.disable(logging.CRITICAL)
    os.environ["BOOKSPOT_CLAIM_LEASE_SECONDS"] = LEASE_SECONDS
    os.environ["BOOKSPOT_CLAIM_HEARTBEAT"] = "0"
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="fault-campaign-") as tmp:
            camp = Campaign(seed, postgres, Path(tmp))
            try:
                for index in range(first, first + runs):
                    camp.run(index)
                    if camp.figures.runs % 50 == 0:
                        print(f"... {camp.figures.runs} runs", file=sys.stderr, flush=True)
            finally:
                camp.close()
    finally:
        logging.disable(logging.NOTSET)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    camp.figures.seconds = time.monotonic() - started
    return camp.figures


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "devkit")]
    raise SystemExit(main())
