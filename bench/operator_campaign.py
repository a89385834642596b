"""Operator campaign: seeded runs of nights interleaved with what people do by hand, against the emulator.

Each run gives two tenants three days of records (some days held by a record without a payment method,
some empty) in a fresh SQLite staging database, then a random sequence of steps: the night
(`pipeline.run_night`, every step with Great Expectations), a re-run of one day, a backfill of a range,
`release-day` of a held day, `force-repost` (with the day's mapping or the current one), a mapping
version imported mid-way that reaches back over posted days, a late or a voided record in the feed, two
operators forcing one day at once; a write to Tripletex fails now and then (an answer lost after the
commit, a dropped answer). Recovery is what comes next: the faults stop, two nights run. Then, per
tenant-day, it counts the effective voucher chains in the ledger (at most one) and compares the
ledger's sums (reversals included) with the journal of the day's records.

    python bench/operator_campaign.py --runs 1000 --seed 1

The last three lines are the verdict: duplicates, missing days, mismatched sums.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TENANTS = ("fjord-kayak", "nordlys-yoga")
DAYS = (dt.date(2026, 11, 22), dt.date(2026, 11, 23), dt.date(2026, 11, 24))
UNTIL = DAYS[-1]
TODAY = dt.date(2026, 11, 25)
STEPS = (
    "night",
    "re-run",
    "backfill",
    "release",
    "force-repost",
    "force-repost current mapping",
    "mapping import",
    "late record",
    "voided record",
    "two operators",
)
WEIGHTS = (3, 2, 1, 2, 3, 1, 1, 1, 1, 1)
WRITES = (
    ("POST", "/ledger/voucher"),
    ("PUT", "/ledger/voucher/*/:sendToLedger"),
    ("PUT", "/ledger/voucher/*/:reverse"),
)
RATES = ("25", "15", "12")
METHODS = ("stripe", "vipps", "card_terminal", "cash")


@dataclass
class Figures:
    runs: int = 0
    tenant_days: int = 0
    steps: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    reposts_posted: int = 0
    reversed_vouchers: int = 0
    held_left: int = 0
    duplicates: int = 0
    missing_days: int = 0
    mismatched_sums: int = 0
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = [f"runs: {self.runs} ({self.tenant_days} tenant-days, {self.seconds:.0f} s)"]
        out.append("steps: " + ", ".join(f"{k} {n}" for k, n in sorted(self.steps.items())))
        out.append("faults: " + (", ".join(f"{k} {n}" for k, n in sorted(self.faults.items())) or "none"))
        out.append("day outcomes: " + ", ".join(f"{k} {n}" for k, n in sorted(self.outcomes.items())))
        out.append(
            "force-repost refused: "
            + (", ".join(f"{k} {n}" for k, n in sorted(self.refusals.items())) or "0")
        )
        out.append(
            "errors seen: " + (", ".join(f"{k} {n}" for k, n in sorted(self.errors.items())) or "none")
        )
        out.append(f"re-posts posted: {self.reposts_posted}; our vouchers reversed: {self.reversed_vouchers}")
        out.append(f"tenant-days still held at the end (never released): {self.held_left}")
        out += [f"  e.g. {e}" for e in self.examples[:5]]
        out.append(f"duplicates: {self.duplicates}")
        out.append(f"missing days: {self.missing_days}")
        out.append(f"mismatched sums: {self.mismatched_sums}")
        return out


def refusal_kind(message: str) -> str:
    for words, kind in (
        ("start date", "before start"),
        ("never built", "never built"),
        ("(empty)", "empty"),
        ("is held", "held"),
        ("held now", "records held now"),
        ("refused at", "refused at activation"),
        ("refused by Tripletex", "refused by Tripletex"),
        ("not in Tripletex yet", "version on its way"),
        ("not posted yet", "not posted yet"),
        ("activation check", "mapping fails activation"),
    ):
        if words in message:
            return kind
    return "other"


class Campaign:
    """The emulator, a migrated staging template and the tenants' files, set up once; `run(i)` is one run."""

    def __init__(self, seed: int, workdir: Path) -> None:
        from bookspot_devkit.demo import organization_number
        from bookspot_devkit.emulator.config import AccountSpec, CompanyConfig, EmulatorConfig
        from bookspot_devkit.emulator.server import EmulatorServer
        from bookspot_tripletex.staging.db import make_engine, migrate

        self.seed, self.workdir = seed, workdir
        self.companies = [
            CompanyConfig(
                id=8101 + i,
                name=tenant,
                consumer_token=f"c-{secrets.token_hex(8)}",
                employee_token=f"e-{secrets.token_hex(8)}",
                extra_accounts=[AccountSpec(number=n, name=f"clearing {n}") for n in (1580, 1581, 1582)],
            )
            for i, tenant in enumerate(TENANTS)
        ]
        self.server = EmulatorServer(EmulatorConfig(companies=self.companies, today=TODAY)).start()
        self.template = workdir / "template.db"
        engine = make_engine(f"sqlite:///{self.template}")
        migrate(engine)
        engine.dispose()
        source = (ROOT / "demo" / "fjord-kayak.yaml").read_text(encoding="utf-8")
        self.files: dict[str, Path] = {}
        self.feeds: dict[str, Path] = {}
        for tenant, company in zip(TENANTS, self.companies, strict=True):
            conn_id = tenant.replace("-", "_")
            text = source.replace("fjord-kayak", tenant).replace("fjord_kayak", conn_id)
            text = re.sub(r"(?m)^start_date: \S+", f"start_date: {DAYS[0]}", text)
            text = re.sub(r"(?m)^tripletex_company_id: .*$", f"tripletex_company_id: {company.id}", text)
            text = re.sub(
                r"(?m)^organization_number: .*$",
                f'organization_number: "{organization_number(company.id)}"',
                text,
            )
            self.files[tenant] = workdir / f"{tenant}.yaml"
            self.files[tenant].write_text(text)
            self.feeds[tenant] = workdir / f"{tenant}.jsonl"
            tripletex = {
                "conn_type": "tripletex",
                "host": self.server.url,
                "password": company.employee_token,
                "extra": {"consumer_token": company.consumer_token, "company_id": 0},
            }
            os.environ[f"AIRFLOW_CONN_TRIPLETEX_{conn_id.upper()}"] = json.dumps(tripletex)
            bookspot = {"conn_type": "bookspot", "extra": {"feed_file": str(self.feeds[tenant])}}
            os.environ[f"AIRFLOW_CONN_BOOKSPOT_{conn_id.upper()}"] = json.dumps(bookspot)
        self.figures = Figures()

    def close(self) -> None:
        self.server.stop()

    # -- one run -------------------------------------------------------------------------------------

    def run(self, index: int) -> None:
        from bookspot_tripletex.staging.db import make_engine
        from bookspot_tripletex.tenants.config import load_tenant_file
        from bookspot_tripletex.tenants.store import import_tenant

        rng = random.Random(self.seed * 1_000_003 + index)
        self.index, self.trail = index, []
        db = self.workdir / "staging.db"
        shutil.copyfile(self.template, db)
        engine = make_engine(f"sqlite:///{db}")
        self.server.reset()
        self.server.admin("DELETE", "faults")
        with engine.begin() as conn:
            for tenant in TENANTS:
                import_tenant(conn, load_tenant_file(self.files[tenant]))
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.serial = 0
        for tenant in TENANTS:
            self.records[tenant] = []
            for day in DAYS:
                if rng.random() < 0.15:
                    continue
                self.records[tenant] += [self._record(rng, tenant, day) for _ in range(rng.randint(1, 4))]
                if rng.random() < 0.3:
                    self.records[tenant].append(self._record(rng, tenant, day, method=None))
            self._write_feed(tenant)
        self.clock = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
        self.mappings = 0
        self._night(engine, "night")
        for _ in range(rng.randint(4, 9)):
            step = rng.choices(STEPS, weights=WEIGHTS)[0]
            self.figures.steps[step] += 1
            fault = self._fault(rng) if rng.random() < 0.3 else None
            self.trail.append(step + (f" ({fault})" if fault else ""))
            try:
                self._step(rng, engine, step)
            finally:
                if fault:
                    self.server.admin("DELETE", "faults")
        self._night(engine, "recovery-1")
        self._night(engine, "recovery-2")
        found = len(self.figures.examples)
        self._count(engine)
        for example in self.figures.examples[found:]:
            print(f"finding: {example}; steps: {', '.join(self.trail)}", file=sys.stderr, flush=True)
            self._dump(engine, example)
        engine.dispose()
        self.figures.runs += 1
        self.figures.tenant_days += len(TENANTS) * len(DAYS)

    def _record(
        self,
        rng: random.Random,
        tenant: str,
        day: dt.date,
        method: str | None = "",
        updated: str | None = None,
    ) -> dict[str, Any]:
        from bookspot_tripletex.domain import ONLINE_METHODS, VAT_RATES
        from bookspot_tripletex.money import vat_in_gross

        self.serial += 1
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
        method = rng.choice(METHODS) if method == "" else method
        occurred = f"{day.isoformat()}T{rng.randint(8, 20):02d}:{rng.randint(0, 59):02d}:00+01:00"
        return {
            "id": f"tx_{tenant}_{day:%m%d}_{self.serial:05d}",
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

    def _write_feed(self, tenant: str) -> None:
        self.feeds[tenant].write_text("".join(json.dumps(r) + "\n" for r in self.records[tenant]))

    def _fault(self, rng: random.Random) -> str:
        method, path = rng.choice(WRITES)
        action = rng.choice(("error_after", "drop")) if method == "POST" else "error_after"
        rule = {"action": action, "method": method, "path": path, "status": 502, "times": 1}
        self.server.admin("POST", "faults", {"rules": [rule]})
        kind = (
            f"{'answer lost after' if action == 'error_after' else 'dropped'} {method} {path.split('/')[-1]}"
        )
        self.figures.faults[kind] += 1
        return kind

    def _tick(self) -> dt.datetime:
        self.clock += dt.timedelta(minutes=7)
        return self.clock

    def _night(
        self,
        engine: Any,
        name: str,
        tenants: tuple[str, ...] = TENANTS,
        days: tuple[dt.date, ...] | None = None,
    ) -> None:
        from bookspot_tripletex import pipeline

        now = self._tick()
        night = pipeline.Night(f"{name}__{now:%H%M%S}", UNTIL, days=days, now=now)
        try:
            result = pipeline.run_night(engine, list(tenants), night, progress=lambda _: None)
        except Exception as exc:  # run_night reports per day; anything else is a finding
            self.figures.errors[f"run_night {type(exc).__name__}"] += 1
            return
        self.figures.outcomes.update(o.outcome.value for o in result.outcomes)

    def _step(self, rng: random.Random, engine: Any, step: str) -> None:
        tenant, day = rng.choice(TENANTS), rng.choice(DAYS)
        if step == "night":
            self._night(engine, "night")
        elif step == "re-run":
            self._night(engine, "rerun", (tenant,), (day,))
        elif step == "backfill":
            first = rng.randrange(len(DAYS))
            self._night(engine, "backfill", TENANTS, DAYS[first : first + rng.randint(2, 3)])
        elif step == "release":
            from bookspot_tripletex.staging.release import release_day

            with engine.begin() as conn:
                release_day(conn, tenant, day, "kari", "campaign release")
        elif step in ("force-repost", "force-repost current mapping"):
            self._force(engine, tenant, day, step.endswith("mapping"), "kari")
        elif step == "two operators":
            both = [
                threading.Thread(target=self._force, args=(engine, tenant, day, False, who))
                for who in ("kari", "ola")
            ]
            for thread in both:
                thread.start()
            for thread in both:
                thread.join()
        elif step == "mapping import":
            self._import_mapping(engine, tenant, rng.choice(DAYS))
        elif step == "late record":
            late = f"{TODAY.isoformat()}T0{rng.randint(1, 9)}:00:00+01:00"
            record = self._record(rng, tenant, day, updated=late)
            self.records[tenant].append(record)
            self._write_feed(tenant)
        else:
            completed = [
                r for r in self.records[tenant] if r["status"] == "completed" and r["payment_method"]
            ]
            if completed:
                voided = dict(rng.choice(completed))
                voided.update(
                    status="voided", updated_at=f"{TODAY.isoformat()}T0{rng.randint(1, 9)}:30:00+01:00"
                )
                self.records[tenant].append(voided)
                self._write_feed(tenant)

    def _force(self, engine: Any, tenant: str, day: dt.date, current: bool, who: str) -> None:
        from bookspot_tripletex import pipeline
        from bookspot_tripletex.connections import tripletex_client
        from bookspot_tripletex.load.errors import ActionRefused

        try:
            client = tripletex_client(engine, tenant)
            pipeline.force_repost_day(engine, tenant, day, client, who, "campaign", current)
        except ActionRefused as exc:
            self.figures.refusals[refusal_kind(str(exc))] += 1
        except Exception as exc:  # a lost answer, a busy day: the next run finishes the request
            self.figures.errors[f"force-repost {type(exc).__name__}"] += 1

    def _import_mapping(self, engine: Any, tenant: str, valid_from: dt.date) -> None:
        """A new mapping version from `valid_from`: the Stripe settlement account moves (1580 <-> 1582)."""
        from bookspot_tripletex.tenants.config import load_tenant_file
        from bookspot_tripletex.tenants.store import import_tenant

        self.mappings += 1
        text = self.files[tenant].read_text()
        account = 1582 if self.mappings % 2 else 1580
        entry = text[text.index("  - valid_from:") :]
        entry = re.sub(r"valid_from: \S+", f"valid_from: {valid_from}", entry, count=1)
        entry = re.sub(r"settlement\.stripe: \d+", f"settlement.stripe: {account}", entry)
        path = self.workdir / f"{tenant}-m{self.mappings}.yaml"
        path.write_text(text.rstrip("\n") + "\n" + entry)
        with engine.begin() as conn:
            import_tenant(conn, load_tenant_file(path))

    def _dump(self, engine: Any, example: str) -> None:
        """The staging rows and ledger vouchers of a finding's tenant-day, to read it afterwards."""
        from bookspot_tripletex.load.state import day_versions

        _, _, tenant, day = example.split(":")[0].split(" ")[:4]
        with engine.connect() as conn:
            rows = day_versions(conn, tenant, dt.date.fromisoformat(day))
        for r in rows:
            print(
                f"  staging v{r.version} {r.kind} {r.status} id={r.tripletex_voucher_id} note={r.note} "
                f"error={r.error} sum={sum(p.amount_ore for p in r.postings if p.amount_ore > 0)}",
                file=sys.stderr,
            )
        prefix = f"bookspot:{tenant}:{day}:"
        for v in self._ledger(tenant):
            if (v.get("externalVoucherNumber") or "").startswith(prefix):
                print(
                    f"  ledger {v['id']} {v['externalVoucherNumber']} reverse={v.get('reverseVoucher')}",
                    file=sys.stderr,
                )

    def _ledger(self, tenant: str) -> list[dict[str, Any]]:
        company = self.companies[TENANTS.index(tenant)]
        values = self.server.admin("GET", f"companies/{company.id}/vouchers")["values"]
        return [v for v in values if v["number"]]

    def _count(self, engine: Any) -> None:
        from bookspot_tripletex.journal.build import build_day
        from bookspot_tripletex.load.corrections import journal_totals
        from bookspot_tripletex.load.state import CARRIES_THE_DAY, day_versions
        from bookspot_tripletex.tenants.store import load_tenant

        for tenant in TENANTS:
            ledger = self._ledger(tenant)
            with engine.connect() as conn:
                cfg = load_tenant(conn, tenant)
            for day in DAYS:
                with engine.connect() as conn:
                    rows = day_versions(conn, tenant, day)
                    journal = build_day(conn, cfg, day)
                kinds = {r.external_number: r.kind for r in rows}
                prefix = f"bookspot:{tenant}:{day.isoformat()}:"
                mine = [v for v in ledger if (v.get("externalVoucherNumber") or "").startswith(prefix)]
                live = [v for v in mine if not v.get("reverseVoucher")]
                chains = [v for v in live if kinds.get(v["externalVoucherNumber"], "unknown") != "correction"]
                self.figures.reposts_posted += sum(
                    1 for r in rows if r.kind == "repost" and r.status == "posted"
                )
                self.figures.reversed_vouchers += sum(1 for r in rows if r.status == "reversed")
                held: Counter[tuple[int, int]] = Counter()
                for v in mine:
                    for p in v["postings"]:
                        if int(p.get("row") or 0) >= 1:
                            key = (int(p["account"]["number"]), int(p["vatType"]["number"]))
                            held[key] += int(Decimal(str(p["amountGross"])) * 100)
                expected = journal_totals(journal)
                where = f"run {self.index} {tenant} {day}"
                if len(chains) > 1 or (chains and not any(k in CARRIES_THE_DAY for k in kinds.values())):
                    self.figures.duplicates += len(chains) - 1 or 1
                    self.figures.examples.append(f"{where}: {len(chains)} effective chains")
                if expected is None:
                    self.figures.held_left += 1
                    if mine and not any(r.status in ("posted", "reversed") for r in rows):
                        self.figures.mismatched_sums += 1
                        self.figures.examples.append(f"{where}: held, yet vouchers in the ledger")
                    continue
                if +expected and not live:
                    self.figures.missing_days += 1
                    self.figures.examples.append(
                        f"{where}: no live voucher; {[(r.version, r.status) for r in rows]}"
                    )
                elif +held != +expected:
                    self.figures.mismatched_sums += 1
                    self.figures.examples.append(
                        f"{where}: ledger {dict(+held)} != journal {dict(+expected)}"
                    )


def campaign(runs: int, seed: int, first: int = 0) -> Figures:
    """Run the campaign with quiet logs; the environment's connection variables are restored after."""
    import logging

    saved = dict(os.environ)
    logging.disable(logging.CRITICAL)
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="operator-campaign-") as tmp:
            camp = Campaign(seed, Path(tmp))
            try:
                for index in range(first, first + runs):
                    camp.run(index)
                    if camp.figures.runs % 25 == 0:
                        camp.figures.seconds = time.monotonic() - started
                        so_far = " | ".join(camp.figures.lines()[-3:])
                        print(f"... {camp.figures.runs} runs: {so_far}", file=sys.stderr, flush=True)
            finally:
                camp.close()
    finally:
        logging.disable(logging.NOTSET)
        os.environ.clear()
        os.environ.update(saved)
    camp.figures.seconds = time.monotonic() - started
    return camp.figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--first", type=int, default=0, help="index of the first run (to split a campaign)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    figures = campaign(args.runs, args.seed, args.first)
    print("\n".join(figures.lines()))
    return 0


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "devkit")]
    raise SystemExit(main())
