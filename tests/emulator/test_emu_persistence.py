"""The state file: vouchers, numbering and admin changes outlive the emulator; no tokens land in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from emulator_helpers import DAY, TODAY, Api, company_a, company_b

from bookspot_devkit.contract import ContractChecker
from bookspot_devkit.emulator.config import AccountSpec, CompanyConfig, EmulatorConfig, write_config
from bookspot_devkit.emulator.persistence import StateFileError, snapshot
from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_devkit.httpserver import free_port

REPO = Path(__file__).resolve().parents[2]
SALE = [(1580, "1646.27", "0"), (3000, "-1329.00", "3"), (3002, "-317.27", "33")]
TRANSFER = [(1920, "100.00", "0"), (2990, "-100.00", "0")]


@pytest.fixture
def config() -> EmulatorConfig:
    return EmulatorConfig(companies=[company_a(), company_b()], today=TODAY)


@contextmanager
def running(config: EmulatorConfig, state_file: Path) -> Iterator[EmulatorServer]:
    with EmulatorServer(config, state_file=state_file) as server:
        yield server


def login(server: EmulatorServer, contract: ContractChecker, index: int = 0) -> Api:
    return Api(server, server.config.companies[index], contract).login()


def without_urls(value: Any) -> Any:
    """A voucher view without its `url` fields (the port differs between servers)."""
    if isinstance(value, dict):
        return {k: without_urls(v) for k, v in value.items() if k != "url"}
    if isinstance(value, list):
        return [without_urls(v) for v in value]
    return value


def created(response: requests.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return response.json()["value"]


def test_voucher_with_vat_postings_and_numbering_survive_a_restart(
    config: EmulatorConfig, contract: ContractChecker, tmp_path: Path
) -> None:
    state_file = tmp_path / "state.json"
    with running(config, state_file) as first:
        api = login(first, contract)
        first_id = created(api.post_voucher(api.voucher_body(SALE, externalVoucherNumber="bs-1")))["id"]
        before = api.full_voucher(first_id)
        saved = snapshot(first.state)
        old_token = api.token
    assert before["number"] == 1
    assert any(p["row"] == 0 and p["systemGenerated"] for p in before["postings"])

    with running(config, state_file) as second:
        assert snapshot(second.state) == saved
        stale = requests.get(
            f"{second.url}/ledger/voucher/{first_id}", auth=("0", str(old_token)), timeout=10
        )
        assert stale.status_code == 401
        api = login(second, contract)
        after = api.full_voucher(first_id)
        assert without_urls(after) == without_urls(before)
        row0 = {p["account"]["number"]: Decimal(str(p["amount"])) for p in after["postings"] if p["row"] == 0}
        assert row0 == {2700: Decimal("-265.80"), 2702: Decimal("-33.99")}
        found = api.get("/ledger/voucher/>externalVoucherNumber", externalVoucherNumber="bs-1").json()
        assert [v["id"] for v in found["values"]] == [first_id]
        postings = api.get("/ledger/posting", dateFrom=DAY, dateTo="2026-11-25").json()["values"]
        assert len(postings) == len(before["postings"])
        following = created(api.post_voucher(api.voucher_body(TRANSFER)))
        assert following["number"] == 2 and following["id"] > max(p["id"] for p in before["postings"])
        draft = created(api.post_voucher(api.voucher_body(TRANSFER), sendToLedger="false"))
        assert draft["tempNumber"] == 1

    with running(config, state_file) as third:
        api = login(third, contract)
        assert created(api.post_voucher(api.voucher_body(TRANSFER)))["number"] == 3
        assert created(api.post_voucher(api.voucher_body(TRANSFER), sendToLedger="false"))["tempNumber"] == 2


def test_reversal_attachment_and_admin_changes_survive(
    config: EmulatorConfig, contract: ContractChecker, tmp_path: Path
) -> None:
    state_file = tmp_path / "state.json"
    with running(config, state_file) as first:
        api = login(first, contract)
        original = created(api.post_voucher(api.voucher_body(TRANSFER)))["id"]
        reversal = created(
            api.request("PUT", f"/ledger/voucher/{original}/:reverse", params={"date": "2026-11-25"})
        )
        pdf = b"%PDF-1.4\n\x00\xff binary"
        attached = api.request(
            "POST",
            f"/ledger/voucher/{original}/attachment",
            files={"file": ("bilag.pdf", pdf, "application/pdf")},
        )
        assert attached.status_code == 201, attached.text
        first.admin("POST", "companies/1001/accounts", {"number": 1590, "name": "Klarna clearing"})
        first.admin("PUT", "companies/1001/closed_periods", [{"start": "2026-03-01", "end": "2026-04-01"}])
        first.admin("PUT", "companies/2002/disabled_vat_numbers", ["31"])
        first.admin("POST", "companies/2002/seed_vouchers", {"count": 2})
        saved = snapshot(first.state)

    with running(config, state_file) as second:
        assert snapshot(second.state) == saved
        api = login(second, contract)
        voucher = api.get(f"/ledger/voucher/{original}", fields="*,attachment(*)").json()["value"]
        assert voucher["reverseVoucher"]["id"] == reversal["id"]
        assert voucher["attachment"]["fileName"] == "bilag.pdf" and voucher["attachment"]["size"] == len(pdf)
        stored = second.state.company(1001).vouchers[original].attachment
        assert stored is not None and stored.data == pdf
        assert api.accounts(1590)
        fjord = second.state.company(1001)
        assert [(p.start.isoformat(), p.end.isoformat()) for p in fjord.closed_periods] == [
            ("2026-03-01", "2026-04-01")
        ]
        assert second.state.company(2002).disabled_vat_numbers == {"31"}
        assert [v["number"] for v in second.vouchers(2002)] == [1, 2]


def test_config_companies_and_accounts_missing_from_the_file_are_added(
    config: EmulatorConfig, contract: ContractChecker, tmp_path: Path
) -> None:
    state_file = tmp_path / "state.json"
    with running(config, state_file) as first:
        api = login(first, contract)
        created(api.post_voucher(api.voucher_body(TRANSFER)))
        highest = first.state.ids.next_value - 1
    newcomer = CompanyConfig(id=3003, name="Ny AS", consumer_token="c-3", employee_token="e-3")
    config.companies[0].extra_accounts.append(AccountSpec(1595, "Ny klaring"))
    grown = EmulatorConfig(companies=[*config.companies, newcomer], today=TODAY)
    with running(grown, state_file) as second:
        added = second.state.company(1001).account_by_number(1595)
        assert added is not None and added.id > highest
        assert min(a.id for a in second.state.company(3003).accounts.values()) > highest
        assert len(second.state.company(1001).vouchers) == 1


def test_reset_overwrites_the_state_file(
    config: EmulatorConfig, contract: ContractChecker, tmp_path: Path
) -> None:
    state_file = tmp_path / "state.json"
    with running(config, state_file) as first:
        api = login(first, contract)
        created(api.post_voucher(api.voucher_body(TRANSFER)))
        first.admin("POST", "reset")
    with running(config, state_file) as second:
        assert second.vouchers(1001) == []
        api = login(second, contract)
        assert created(api.post_voucher(api.voucher_body(TRANSFER)))["number"] == 1


def test_refused_requests_do_not_touch_the_file(
    config: EmulatorConfig, contract: ContractChecker, tmp_path: Path
) -> None:
    state_file = tmp_path / "state.json"
    with running(config, state_file) as server:
        api = login(server, contract)
        assert not state_file.exists()
        refused = api.post_voucher(api.voucher_body([(1920, "100.00", "0"), (2990, "-99.00", "0")]))
        assert refused.status_code == 422
        assert not state_file.exists()
        created(api.post_voucher(api.voucher_body(TRANSFER)))
        assert state_file.exists()
        assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_state_file_holds_no_tokens(
    config: EmulatorConfig, contract: ContractChecker, tmp_path: Path
) -> None:
    state_file = tmp_path / "state.json"
    with running(config, state_file) as server:
        api_a = login(server, contract)
        api_b = login(server, contract, 1)
        created(api_a.post_voucher(api_a.voucher_body(TRANSFER)))
        created(api_b.post_voucher(api_b.voucher_body(TRANSFER)))
        sessions = [api_a.token, api_b.token]
    text = state_file.read_text(encoding="utf-8")
    tokens = [t for c in config.companies for t in (*c.all_consumer_tokens(), *c.all_employee_tokens())]
    assert tokens and all(t and t not in text for t in (*tokens, *sessions))
    assert "token" not in text.lower()
    data = json.loads(text)
    amounts = [p["amount"] for c in data["companies"] for v in c["vouchers"] for p in v["postings"]]
    assert amounts and all(isinstance(a, str) for a in amounts)


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("{not json", "not valid JSON"),
        ('{"hello": 1}', "not a bookspot-tripletex-emulator-state file"),
        ('{"format": "bookspot-tripletex-emulator-state", "version": 99}', "version 99"),
        ('{"format": "bookspot-tripletex-emulator-state", "version": 1}', "damaged"),
    ],
)
def test_unusable_state_file_is_a_clear_error(
    config: EmulatorConfig, tmp_path: Path, content: str, complaint: str
) -> None:
    state_file = tmp_path / "broken-state.json"
    state_file.write_text(content, encoding="utf-8")
    with pytest.raises(StateFileError, match=complaint) as info:
        EmulatorServer(config, state_file=state_file)
    assert str(state_file) in str(info.value)


def test_dangling_references_are_refused(
    config: EmulatorConfig, contract: ContractChecker, tmp_path: Path
) -> None:
    state_file = tmp_path / "state.json"
    with running(config, state_file) as server:
        api = login(server, contract)
        created(api.post_voucher(api.voucher_body(TRANSFER)))
    good = json.loads(state_file.read_text(encoding="utf-8"))
    for damage, complaint in [
        (lambda d: d["companies"][0]["vouchers"][0]["postings"][0].update(account_id=7), "unknown account"),
        (lambda d: d.update(next_id=1), "next_id"),
        (lambda d: d["companies"][0]["vouchers"][0]["postings"][0].update(amount="lots"), "InvalidOperation"),
        (lambda d: d["companies"][0]["vouchers"][0].update(date="24.11.2026"), "ValueError"),
    ]:
        data = json.loads(json.dumps(good))
        damage(data)
        state_file.write_text(json.dumps(data), encoding="utf-8")
        with pytest.raises(StateFileError, match=complaint) as info:
            EmulatorServer(config, state_file=state_file)
        assert str(state_file) in str(info.value)


def _start(config_path: Path, state_file: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bookspot_devkit",
            "emulator",
            "--port",
            str(port),
            "--config",
            str(config_path),
            "--state-file",
            str(state_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=f"{REPO / 'plugins'}:{REPO / 'devkit'}"),
    )


def _session(base: str, company: CompanyConfig) -> requests.Session:
    params = {
        "consumerToken": company.consumer_token,
        "employeeToken": company.employee_token,
        "expirationDate": "2026-11-27",
    }
    deadline = time.monotonic() + 20
    while True:
        try:
            response = requests.put(f"{base}/token/session/:create", params=params, timeout=5)
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert response.status_code == 200, response.text
    session = requests.Session()
    session.auth = ("0", response.json()["value"]["token"])
    return session


def _post_transfer(session: requests.Session, base: str) -> dict[str, Any]:
    accounts = session.get(f"{base}/ledger/account", params={"number": "1920,2990"}, timeout=10).json()
    ids = {a["number"]: a["id"] for a in accounts["values"]}
    body = {
        "date": DAY,
        "description": "BookSpot salg " + DAY,
        "postings": [
            {"row": 1, "date": DAY, "account": {"id": ids[1920]}, "amountGross": 100},
            {"row": 2, "date": DAY, "account": {"id": ids[2990]}, "amountGross": -100},
        ],
    }
    return created(session.post(f"{base}/ledger/voucher", json=body, timeout=10))


def test_command_line_keeps_state_across_sigterm(config: EmulatorConfig, tmp_path: Path) -> None:
    config_path = write_config(tmp_path / "emulator.yaml", config)
    state_file = tmp_path / "emulator-state.json"
    company = config.companies[0]
    port = free_port()
    base = f"http://127.0.0.1:{port}/v2"
    proc = _start(config_path, state_file, port)
    try:
        first = _post_transfer(_session(base, company), base)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    proc = _start(config_path, state_file, port)
    try:
        session = _session(base, company)
        kept = session.get(f"{base}/ledger/voucher/{first['id']}", timeout=10)
        assert kept.status_code == 200 and kept.json()["value"]["number"] == first["number"] == 1
        assert _post_transfer(session, base)["number"] == 2
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_command_line_names_a_corrupt_state_file(config: EmulatorConfig, tmp_path: Path) -> None:
    config_path = write_config(tmp_path / "emulator.yaml", config)
    state_file = tmp_path / "emulator-state.json"
    state_file.write_text("garbage", encoding="utf-8")
    proc = _start(config_path, state_file, free_port())
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert str(state_file) in err and "Traceback" not in err
