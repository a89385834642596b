"""Tripletex calls per tenant-day, counted by the emulator over real HTTP (`/_emulator/calls`), for whole
nights (`pipeline.run_night`: extract, journal, validate, activate, load, the load's listing, reconcile),
and each trigger that makes a night check the company, the accounts and the VAT types again."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bookspot_devkit.demo import organization_number
from bookspot_devkit.emulator.config import CompanyConfig, EmulatorConfig
from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_tripletex import pipeline
from bookspot_tripletex.staging.schema import tripletex_bindings
from helpers import record, setup_tenant
from tripletex_support import COMPANY_ID, fjord_company, make_client, vouchers_in

START = dt.date(2026, 11, 10)
OTHER_COMPANY = 2002

SESSION = ("PUT", "/v2/token/session/:create")
WHO_AM_I = ("GET", "/v2/token/session/>whoAmI")
VAT_TYPES = ("GET", "/v2/ledger/vatType")
ACCOUNTS = ("GET", "/v2/ledger/account")
POST = ("POST", "/v2/ledger/voucher")
SEND = ("PUT", "/v2/ledger/voucher/:id/:sendToLedger")
LISTING = ("GET", "/v2/ledger/voucher")
CHECKS = {WHO_AM_I: 1, VAT_TYPES: 1, ACCOUNTS: 1}


@pytest.fixture(scope="module")
def two_companies():  # type: ignore[no-untyped-def]
    other = CompanyConfig(
        id=OTHER_COMPANY,
        name="Other AS",
        organization_number=organization_number(OTHER_COMPANY),
        consumer_token=f"c-{secrets.token_hex(8)}",
        employee_token=f"e-{secrets.token_hex(8)}",
    )
    fjord = fjord_company()
    fjord.employee_tokens = [f"e2-{secrets.token_hex(8)}"]  # a second API key of the same company
    config = EmulatorConfig(companies=[fjord, other], today=dt.date(2026, 11, 25))
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
def emulator(two_companies: EmulatorServer) -> EmulatorServer:
    two_companies.reset()
    two_companies.admin("DELETE", "faults")
    return two_companies


@pytest.fixture
def tenant(staging_engine, emulator, example_tenant_file: Path, tmp_path: Path, monkeypatch):  # type: ignore[no-untyped-def]
    """fjord-kayak from START, its Tripletex connection to the emulator and a feed of a sale a day."""
    text = example_tenant_file.read_text().replace("start_date: 2026-01-01", f"start_date: {START}")
    path = tmp_path / "fjord-kayak.yaml"
    path.write_text(text)
    feed = tmp_path / "feed.jsonl"
    days = [START + dt.timedelta(days=i) for i in range(12)]
    feed.write_text("".join(json.dumps(record(f"tx_{d:%m%d}", f"{d}T10:00:00+01:00")) + "\n" for d in days))
    monkeypatch.setenv(
        "AIRFLOW_CONN_BOOKSPOT_FJORD_KAYAK",
        json.dumps({"conn_type": "bookspot", "extra": {"feed_file": str(feed)}}),
    )
    connect(monkeypatch, emulator, 0)
    return setup_tenant(staging_engine, path), path


def connect(monkeypatch: pytest.MonkeyPatch, server: EmulatorServer, index: int) -> None:
    company = server.config.companies[index]
    conn = {
        "conn_type": "tripletex",
        "host": server.url,
        "password": company.employee_token,
        "extra": {"consumer_token": company.consumer_token, "company_id": 0},
    }
    monkeypatch.setenv("AIRFLOW_CONN_TRIPLETEX_FJORD_KAYAK", json.dumps(conn))


def night(engine: Any, server: EmulatorServer, until: dt.date) -> tuple[Counter[tuple[str, str]], list[str]]:
    """One night up to `until`: the Tripletex calls it made (by method and path) and its outcomes."""
    server.admin("DELETE", "requests")
    now = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(1), dt.UTC)
    result = pipeline.run_night(engine, ["fjord-kayak"], pipeline.Night(f"run-{until}", until, now=now))
    calls = Counter({(v["method"], v["path"]): v["count"] for v in server.admin("GET", "calls")["values"]})
    return calls, [f"{o.day} {o.step} {o.outcome.value}" for o in result.outcomes]


def test_a_first_night_a_later_night_and_an_import_in_calls_per_tenant_day(
    staging_engine, emulator, tenant
) -> None:
    first, outcomes = night(staging_engine, emulator, START)
    assert outcomes == [f"{START} load posted"]
    # one session; the company, VAT types and accounts of the mapping's first night; draft and send
    # (whose answer is the read-back); the load's one listing, which reconciliation compares
    assert first == Counter({SESSION: 1, **CHECKS, POST: 1, SEND: 1, LISTING: 1})
    assert sum(first.values()) == 7

    later, outcomes = night(staging_engine, emulator, START + dt.timedelta(days=1))
    assert outcomes == [f"{START + dt.timedelta(days=1)} load posted"]
    assert later == Counter({SESSION: 1, POST: 1, SEND: 1, LISTING: 1})
    assert sum(later.values()) <= 4

    until = START + dt.timedelta(days=11)
    catch_up, outcomes = night(staging_engine, emulator, until)
    assert len(outcomes) == 10 and all(o.endswith("load posted") for o in outcomes)
    assert catch_up == Counter({SESSION: 1, POST: 10, SEND: 10, LISTING: 1})
    assert sum(catch_up.values()) / 10 <= 3
    assert len(vouchers_in(emulator)) == 12


def test_an_initial_import_makes_under_three_calls_a_day(staging_engine, emulator, tenant) -> None:
    until = START + dt.timedelta(days=11)
    calls, outcomes = night(staging_engine, emulator, until)
    assert len(outcomes) == 12 and all(o.endswith("load posted") for o in outcomes)
    assert calls == Counter({SESSION: 1, **CHECKS, POST: 12, SEND: 12, LISTING: 1})
    assert sum(calls.values()) / 12 <= 3


def test_a_new_mapping_version_is_checked_on_its_first_night(staging_engine, emulator, tenant) -> None:
    from bookspot_tripletex.tenants.config import load_tenant_file
    from bookspot_tripletex.tenants.store import import_tenant

    _, path = tenant
    night(staging_engine, emulator, START)
    nxt = START + dt.timedelta(days=1)
    text = path.read_text()
    extra = text.split("mappings:")[1].replace("valid_from: 2026-01-01", f"valid_from: {nxt}")
    path.write_text(text + extra.replace("settlement.bank_transfer: 1920", "settlement.bank_transfer: 1900"))
    with staging_engine.begin() as conn:
        import_tenant(conn, load_tenant_file(path))
    calls, outcomes = night(staging_engine, emulator, nxt)
    assert outcomes == [f"{nxt} load posted"]
    assert all(calls[c] == 1 for c in CHECKS), calls
    calls, _ = night(staging_engine, emulator, nxt + dt.timedelta(days=1))
    assert not any(calls[c] for c in CHECKS), calls


def test_a_connection_pointed_at_another_company_is_checked_before_its_first_post(
    staging_engine, emulator, tenant, monkeypatch
) -> None:
    night(staging_engine, emulator, START)
    connect(monkeypatch, emulator, 1)  # the same tenant, now a key of another company
    nxt = START + dt.timedelta(days=1)
    calls, outcomes = night(staging_engine, emulator, nxt)
    assert calls[WHO_AM_I] >= 1 and calls[POST] == 0 and calls[SEND] == 0
    assert outcomes == [f"{nxt} activate refused"]
    others = emulator.admin("GET", f"companies/{OTHER_COMPANY}/vouchers")["values"]
    assert others == []
    connect(monkeypatch, emulator, 0)  # back to the tenant's own company: checked again, posted
    calls, outcomes = night(staging_engine, emulator, nxt)
    assert outcomes == [f"{nxt} load posted"] and all(calls[c] == 1 for c in CHECKS), calls


def test_a_new_key_of_the_same_company_is_checked_before_its_first_post(
    staging_engine, emulator, tenant, monkeypatch
) -> None:
    from bookspot_tripletex.load.binding import load_binding

    night(staging_engine, emulator, START)
    before = load_binding(staging_engine, "fjord-kayak")
    company = emulator.config.companies[0]
    new_key = {
        "conn_type": "tripletex",
        "host": emulator.url,
        "password": company.employee_tokens[0],
        "extra": {"consumer_token": company.consumer_token, "company_id": 0},
    }
    monkeypatch.setenv("AIRFLOW_CONN_TRIPLETEX_FJORD_KAYAK", json.dumps(new_key))
    nxt = START + dt.timedelta(days=1)
    calls, outcomes = night(staging_engine, emulator, nxt)
    assert outcomes == [f"{nxt} load posted"] and all(calls[c] == 1 for c in CHECKS), calls
    after = load_binding(staging_engine, "fjord-kayak")
    assert before is not None and after is not None and after.fingerprint != before.fingerprint
    assert after.company_id == before.company_id == COMPANY_ID
    assert len(after.fingerprint) == 64 and company.employee_tokens[0] not in after.fingerprint
    calls, _ = night(staging_engine, emulator, nxt + dt.timedelta(days=1))
    assert not any(calls[c] for c in CHECKS), calls


def test_a_refusal_naming_an_account_checks_again_before_the_next_post(
    staging_engine, emulator, tenant
) -> None:
    from bookspot_tripletex.load.binding import load_binding

    night(staging_engine, emulator, START)
    nxt = START + dt.timedelta(days=1)
    sales = {"number": 3000, "name": "Salgsinntekt, avgiftspliktig", "vat_number": "3", "vat_locked": True}
    emulator.admin("POST", f"companies/{COMPANY_ID}/accounts", {**sales, "is_inactive": True})
    calls, outcomes = night(staging_engine, emulator, nxt)
    assert outcomes == [f"{nxt} load refused"]
    binding = load_binding(staging_engine, "fjord-kayak")
    assert binding is not None and binding.recheck is not None and "3000" in binding.recheck
    emulator.admin("POST", f"companies/{COMPANY_ID}/accounts", sales)
    calls, outcomes = night(staging_engine, emulator, nxt)
    assert outcomes == [f"{nxt} load posted"]
    assert all(calls[c] == 1 for c in CHECKS), calls
    assert load_binding(staging_engine, "fjord-kayak").recheck is None  # type: ignore[union-attr]


def test_what_was_checked_is_checked_again_on_the_schedule(staging_engine, emulator, tenant) -> None:
    night(staging_engine, emulator, START)
    nxt = START + dt.timedelta(days=1)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=8)  # older than BOOKSPOT_TRIPLETEX_RECHECK_DAYS (7)
    with staging_engine.begin() as conn:
        conn.execute(update(tripletex_bindings).values(checked_at=old, mapping_checked_at=old))
    calls, outcomes = night(staging_engine, emulator, nxt)
    assert outcomes == [f"{nxt} load posted"] and all(calls[c] == 1 for c in CHECKS), calls
    with staging_engine.connect() as conn:
        checked = conn.execute(select(tripletex_bindings.c.checked_at)).scalar_one()
    assert checked.replace(tzinfo=checked.tzinfo or dt.UTC) > old + dt.timedelta(days=7)


def test_the_read_back_catches_a_voucher_whose_answer_differs(staging_engine, staged_day, emulator) -> None:
    from bookspot_tripletex.load.errors import ReconcileMismatch
    from bookspot_tripletex.load.post import post_day

    cfg, day = staged_day
    real = make_client(emulator)

    class Tampered:
        """The real client, but the answer of the send carries one posting's amount changed."""

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def send_to_ledger(self, voucher_id: int, version: int, fields: str | None = None) -> dict:
            answer = real.send_to_ledger(voucher_id, version, fields)
            own = [p for p in answer["postings"] if int(p.get("row") or 0) >= 1]
            own[0]["amountGross"] = str(float(own[0]["amountGross"]) + 1)
            return answer

    emulator.admin("DELETE", "requests")
    with pytest.raises(ReconcileMismatch, match="postings differ from the journal"):
        post_day(staging_engine, cfg, day, Tampered(), "night-1")  # type: ignore[arg-type]
    calls = {(v["method"], v["path"]) for v in emulator.admin("GET", "calls")["values"]}
    assert ("GET", "/v2/ledger/voucher/:id") not in calls  # the answer was the read-back


def test_a_first_night_after_the_activation_check_makes_four_calls(
    staging_engine, emulator, tenant, capsys
) -> None:
    from bookspot_tripletex.activation_cli import run_activation_check

    url = staging_engine.url.render_as_string(hide_password=False)
    assert run_activation_check("fjord-kayak", url, START) == 0
    assert "Kept in staging for the nights" in capsys.readouterr().out
    calls, outcomes = night(staging_engine, emulator, START)
    assert outcomes == [f"{START} load posted"]
    assert calls == Counter({SESSION: 1, POST: 1, SEND: 1, LISTING: 1})


def test_onboarding_checks_every_active_tenant_once_then_its_first_night_makes_four_calls(
    staging_engine, emulator, tenant, capsys
) -> None:
    from bookspot_tripletex.cli import main

    url = staging_engine.url.render_as_string(hide_password=False)
    emulator.admin("DELETE", "requests")
    assert main(["activation-check", "--all", "--date", str(START), "--staging-url", url]) == 0
    assert "fjord-kayak: the API key works" in capsys.readouterr().out
    values = emulator.admin("GET", "calls")["values"]
    onboarding = Counter({(v["method"], v["path"]): v["count"] for v in values})
    assert onboarding == Counter({SESSION: 1, **CHECKS})
    calls, outcomes = night(staging_engine, emulator, START)
    assert outcomes == [f"{START} load posted"]
    assert calls == Counter({SESSION: 1, POST: 1, SEND: 1, LISTING: 1})


@pytest.mark.parametrize("argv", [["activation-check"], ["activation-check", "--all", "--tenant", "x"]])
def test_activation_check_wants_tenants_or_all(argv: list[str], capsys) -> None:
    from bookspot_tripletex.cli import main

    assert main(argv) == 2
    assert "give --tenant (repeatable) or --all" in capsys.readouterr().err


def test_a_later_night_with_older_days_reads_the_rolling_pass_in_its_listing(
    staging_engine, emulator, tenant, monkeypatch
) -> None:
    monkeypatch.setenv("BOOKSPOT_RECONCILE_SETTLE_SECONDS", "0")
    night(staging_engine, emulator, START + dt.timedelta(days=9))  # ten days posted
    later, outcomes = night(staging_engine, emulator, START + dt.timedelta(days=10))
    assert outcomes == [f"{START + dt.timedelta(days=10)} load posted"]
    # the rolling pass reads 7 older posted days (within a week of tonight's: the same listing) and,
    # once per re-check schedule, the accounting periods (which of them are closed)
    periods = ("GET", "/v2/ledger/accountingPeriod")
    assert later == Counter({SESSION: 1, POST: 1, SEND: 1, LISTING: 1, periods: 1})
    again, _ = night(staging_engine, emulator, START + dt.timedelta(days=11))
    assert again == Counter({SESSION: 1, POST: 1, SEND: 1, LISTING: 1})


def test_the_reconcile_step_compares_the_load_steps_listing_without_a_session(
    staging_engine, staged_day, emulator
) -> None:
    """The DAG's load and reconcile steps run in separate processes: the load step lists once after the
    tenant's days and saves it; reconciliation makes a client only for what that listing did not cover."""
    from sqlalchemy import update as sql_update

    from bookspot_tripletex.staging.schema import vouchers

    cfg, day = staged_day
    load_client = make_client(emulator)
    assert pipeline.load_day(staging_engine, cfg.tenant, day, load_client, "load-task")["outcome"] == "posted"
    read = pipeline.read_back_tenant(staging_engine, cfg.tenant, load_client)
    assert read["calls"] == 1 and read["ranges"] == [
        [day.isoformat(), (day + dt.timedelta(days=1)).isoformat()]
    ]

    def no_session() -> Any:
        raise AssertionError("the reconcile step needed no client")

    emulator.admin("DELETE", "requests")
    result = pipeline.reconcile_tenant(staging_engine, cfg.tenant, no_session)
    assert result["problems"] == [] and result["calls"] == 0 and result["listings_from_load"] == 1
    assert emulator.admin("GET", "calls")["total"] == 0

    # a day changed after the load's listing is listed again, with a client made for it
    read = pipeline.read_back_tenant(staging_engine, cfg.tenant, load_client)
    with staging_engine.begin() as conn:
        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        conn.execute(sql_update(vouchers).values(updated_at=later))
    made: list[Any] = []

    def reconcile_client() -> Any:
        made.append(make_client(emulator))
        return made[-1]

    result = pipeline.reconcile_tenant(staging_engine, cfg.tenant, reconcile_client)
    assert result["problems"] == [] and len(made) == 1 and result["calls_by_kind"] == {"list_vouchers": 1}
