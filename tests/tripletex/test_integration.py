"""TripletexClient and the activation check against the emulator over real HTTP, contract-checked."""

from __future__ import annotations

import datetime
import logging
import time
from collections import Counter
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import requests

from bookspot_devkit.contract import ContractChecker, ContractCheckingAdapter
from bookspot_devkit.emulator.config import (
    AccountSpec,
    CompanyConfig,
    EmulatorConfig,
    FaultConfig,
    FaultRule,
    RateLimitConfig,
)
from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_tripletex.retry import RetryPolicy
from bookspot_tripletex.tripletex import errors
from bookspot_tripletex.tripletex.activation import check_activation
from bookspot_tripletex.tripletex.client import TripletexClient
from bookspot_tripletex.tripletex.payload import voucher_payload

from .test_payload import WORKED_EXAMPLE, Posting, Voucher

TODAY = datetime.date(2026, 11, 25)
DAY = datetime.date(2026, 11, 24)
CONSUMER = "bookspot-consumer-7f3a9e"
FJORD_EMPLOYEE = "fjord-employee-91c2d7"
NORDLYS_EMPLOYEE = "nordlys-employee-44d0b1"
EXT = "bookspot:fjord-kayak:2026-11-24:v1"

POLICY = RetryPolicy(attempts=3, backoff_initial=0.01, backoff_max=0.02, server_wait_margin=0.5)

FJORD = CompanyConfig(
    id=1001,
    name="Fjord Kayak AS",
    consumer_token=CONSUMER,
    employee_token=FJORD_EMPLOYEE,
    extra_accounts=[
        AccountSpec(number=1580, name="Stripe clearing"),
        AccountSpec(number=1581, name="Vipps clearing"),
        AccountSpec(number=1579, name="Andre kortsiktige fordringer, diverse", is_inactive=True),
        AccountSpec(number=3005, name="Kajakkurs", vat_number="3", vat_locked=True, legal_vat_numbers=["3"]),
    ],
)
NORDLYS = CompanyConfig(
    id=2002,
    name="Nordlys Yoga AS",
    consumer_token=CONSUMER,
    employee_token=NORDLYS_EMPLOYEE,
    disabled_vat_numbers=["33"],
)

GOOD_MAPPING = {
    "sales.25": 3000,
    "sales.15": 3001,
    "sales.12": 3002,
    "settlement.stripe": 1580,
    "settlement.vipps": 1581,
    "settlement.card_terminal": 1920,
    "gift_card_liability": 2900,
    "provider_fees": 7770,
}
VAT_MAPPING = {"25": 3, "15": 31, "12": 33, "0": 5, "exempt": 6}


@pytest.fixture(scope="module")
def emulator():
    with EmulatorServer(EmulatorConfig(companies=[FJORD, NORDLYS], today=TODAY)) as server:
        yield server


@pytest.fixture(scope="module")
def contract() -> ContractChecker:
    return ContractChecker()


@pytest.fixture(autouse=True)
def fresh(emulator, contract):
    emulator.reset()
    seen = len(contract.violations)
    yield
    new = contract.violations[seen:]
    assert not new, "contract violations:\n" + "\n".join(str(v) for v in new)


@pytest.fixture
def sleeps(emulator):
    """Waits are recorded and move the emulator's stopwatch instead of the test's time."""
    recorded: list[float] = []

    def sleep(seconds: float) -> None:
        recorded.append(seconds)
        emulator.state.clock.advance(seconds)

    sleep.recorded = recorded  # type: ignore[attr-defined]
    return sleep


class CountingAdapter(ContractCheckingAdapter):
    """Contract-checks and records each request as sent, answered or not."""

    def __init__(self, checker: ContractChecker, sent: list[tuple[str, str]]) -> None:
        super().__init__(checker)
        self.sent = sent

    def send(self, request, *args, **kwargs):
        self.sent.append((request.method, urlsplit(request.url).path.removeprefix("/v2")))
        return super().send(request, *args, **kwargs)


@pytest.fixture
def sent() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def connect(emulator, contract, sleeps, sent):
    clients: list[TripletexClient] = []

    def make(employee: str = FJORD_EMPLOYEE, **kwargs) -> TripletexClient:
        session = requests.Session()
        session.mount("http://127.0.0.1:", CountingAdapter(contract, sent))
        options = {
            "retry": POLICY,
            "sleep": sleeps,
            "clock": lambda: emulator.state.clock.today(),
            "post_settle": 0.01,
            **kwargs,
        }
        client = TripletexClient(emulator.url, CONSUMER, employee, session=session, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def calls(emulator, method: str | None = None, path: str | None = None) -> list[dict]:
    return [
        r
        for r in emulator.state.request_log
        if (method is None or r["method"] == method) and (path is None or r["path"] == "/v2" + path)
    ]


def faults(emulator, *rules: dict) -> None:
    emulator.state.faults.configure(FaultConfig(rules=[FaultRule(**r) for r in rules]))


def rate_limit(emulator, **kwargs) -> None:
    emulator.state.set_rate_limit(RateLimitConfig(**kwargs))


def stored(emulator, company_id: int = 1001, ext: str = EXT) -> list[dict]:
    company = emulator.state.companies[company_id]
    return [v for v in company.vouchers.values() if v.external_voucher_number == ext]


def worked_payload(client: TripletexClient) -> dict:
    accounts = client.accounts_by_number({a for a, _, _ in WORKED_EXAMPLE})
    vat_types = client.vat_types_by_number({v for _, v, _ in WORKED_EXAMPLE})
    voucher = Voucher(
        [Posting(i, a, v, ore) for i, (a, v, ore) in enumerate(WORKED_EXAMPLE, start=1)],
        date=DAY,
        external_number=EXT,
    )
    return voucher_payload(
        voucher, {n: a["id"] for n, a in accounts.items()}, {n: t["id"] for n, t in vat_types.items()}
    )


# -- posting -------------------------------------------------------------------------------------------


def test_worked_example_is_posted_once_with_exact_amounts(emulator, connect, contract):
    checked = contract.checked
    client = connect()
    payload = worked_payload(client)
    voucher, created = client.ensure_voucher(payload)
    assert created and voucher["id"]
    again, created_again = client.ensure_voucher(payload)
    assert (again["id"], created_again) == (voucher["id"], False)
    assert len(stored(emulator)) == 1
    assert len(calls(emulator, "POST", "/ledger/voucher")) == 1

    postings = client.postings(
        DAY, DAY + datetime.timedelta(days=1), fields="row,amountGross,account(number)"
    )
    gross = Counter()
    for p in postings:
        if p["row"] > 0:
            gross[p["account"]["number"]] += p["amountGross"]
    assert gross[1580] == Decimal("1646.27") and gross[2900] == Decimal("-405.00")
    assert sum(gross.values()) == 0
    assert [v["id"] for v in client.list_vouchers(DAY, TODAY)] == [voucher["id"]]
    assert contract.checked >= checked + 2 * 8


@pytest.mark.parametrize(
    "rule",
    [
        {"action": "drop", "method": "POST", "path": "/ledger/voucher"},
        {"action": "error_after", "method": "POST", "path": "/ledger/voucher", "status": 500},
        {"action": "error_after", "method": "POST", "path": "/ledger/voucher", "status": 504},
    ],
    ids=["commit-then-drop", "commit-then-500", "commit-then-504"],
)
def test_lost_answer_after_commit_ends_with_exactly_one_voucher(emulator, connect, rule):
    client = connect()
    payload = worked_payload(client)
    faults(emulator, rule)
    voucher, created = client.ensure_voucher(payload)
    assert created
    assert [v.id for v in stored(emulator)] == [voucher["id"]]
    assert len(calls(emulator, "POST", "/ledger/voucher")) == 1
    assert len(calls(emulator, "GET", "/ledger/voucher/>externalVoucherNumber")) == 2


def test_refused_before_commit_is_posted_again_after_a_lookup(emulator, connect, sent):
    client = connect()
    payload = worked_payload(client)
    faults(emulator, {"action": "error", "method": "POST", "path": "/ledger/voucher", "status": 503})
    sent.clear()
    voucher, created = client.ensure_voucher(payload)
    assert created and [v.id for v in stored(emulator)] == [voucher["id"]]
    lookup = ("GET", "/ledger/voucher/%3EexternalVoucherNumber")
    assert sent == [lookup, ("POST", "/ledger/voucher"), lookup, ("POST", "/ledger/voucher")]


def test_a_timed_out_post_ends_with_exactly_one_voucher(emulator, connect, sent):
    client = connect(
        timeout=0.3,
        sleep=time.sleep,
        retry=RetryPolicy(attempts=2, backoff_initial=0.01),
        post_attempts=2,
        post_settle=1.0,
    )
    payload = worked_payload(client)
    faults(emulator, {"action": "latency", "method": "POST", "path": "/ledger/voucher", "seconds": 0.8})
    sent.clear()
    voucher, created = client.ensure_voucher(payload)
    assert created
    assert [v.id for v in stored(emulator)] == [voucher["id"]]
    assert [m for m, _ in sent].count("POST") <= 2


def test_post_voucher_once_does_not_retry(emulator, connect):
    client = connect()
    payload = worked_payload(client)
    faults(emulator, {"action": "drop", "method": "POST", "path": "/ledger/voucher"})
    with pytest.raises(errors.TransportError):
        client.post_voucher_once(payload)
    assert len(calls(emulator, "POST", "/ledger/voucher")) == 1
    assert len(stored(emulator)) == 1


def test_reverse_and_attach(emulator, connect):
    client = connect()
    voucher, _ = client.ensure_voucher(worked_payload(client))
    reversal = client.reverse_voucher(voucher["id"], TODAY)
    assert reversal["id"] != voucher["id"]
    attached = client.upload_attachment(voucher["id"], "dagsrapport.pdf", b"%PDF-1.4\n%%EOF\n")
    assert attached["id"] == voucher["id"]
    assert emulator.state.companies[1001].vouchers[voucher["id"]].attachment.file_name == "dagsrapport.pdf"


# -- errors ---------------------------------------------------------------------------------------------


def test_validation_errors_carry_tripletex_messages(connect):
    client = connect()
    payload = worked_payload(client)
    payload["postings"][0]["amountGross"] = payload["postings"][0]["amountGrossCurrency"] = Decimal("1646.28")
    with pytest.raises(errors.ValidationError) as info:
        client.post_voucher_once(payload)
    assert info.value.status == 422 and info.value.code == 18000
    assert any("ikke lik 0" in m for m in info.value.messages)
    assert info.value.request_id

    customer_bound = worked_payload(client)
    customer_bound["postings"][0]["account"] = {"id": client.accounts_by_number([1500])[1500]["id"]}
    with pytest.raises(errors.ValidationError) as info:
        client.post_voucher_once(customer_bound)
    assert any("kunde" in m for m in info.value.messages)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (403, errors.PermissionDenied),
        (404, errors.NotFound),
        (409, errors.Conflict),
        (422, errors.ValidationError),
        (500, errors.ServerError),
        (502, errors.ServerError),
    ],
)
def test_each_status_from_the_emulator_is_typed(emulator, connect, caplog, status, cls):
    client = connect()
    client.who_am_i()
    faults(
        emulator,
        {"action": "error", "method": "GET", "path": "/ledger/account", "times": 5, "status": status},
    )
    caplog.set_level(logging.WARNING, logger="bookspot_tripletex")
    with pytest.raises(cls) as info:
        client.accounts_by_number([1920])
    assert info.value.status == status
    assert info.value.request_id and info.value.request_id in caplog.text


def test_natural_errors_from_the_emulator(emulator, connect):
    client = connect()
    with pytest.raises(errors.NotFound):
        client.reverse_voucher(404404, TODAY)
    with pytest.raises(errors.BadRequest) as info:
        client.list_vouchers(DAY, TODAY, fields="noSuchField")
    assert info.value.status == 400
    with pytest.raises(errors.AuthError):
        connect(company_id=999_999).who_am_i()
    assert len(calls(emulator, "PUT", "/token/session/:create")) == 3
    with pytest.raises(errors.AuthError, match="refused the consumer or employee token"):
        connect(employee="not-the-right-employee-token").who_am_i()


def test_transport_errors_and_timeouts(emulator, connect):
    client = connect()
    client.who_am_i()
    faults(emulator, {"action": "drop", "method": "GET", "path": "/ledger/account", "times": 1})
    assert 1920 in client.accounts_by_number([1920])
    faults(emulator, {"action": "drop", "method": "GET", "path": "/ledger/account", "times": 10})
    with pytest.raises(errors.TransportError):
        client.accounts_by_number([1920])
    assert len(calls(emulator, "GET", "/ledger/account")) == 2 + POLICY.attempts

    slow = connect(timeout=0.2)
    faults(emulator, {"action": "latency", "path": "/ledger/vatType", "seconds": 0.6, "times": 10})
    with pytest.raises(errors.Timeout):
        slow.vat_types_by_number([3])
    time.sleep(0.6)


def test_429_with_reset_header_waits_the_window_out(emulator, connect, sleeps):
    client = connect()
    rate_limit(emulator, limit=5, period_seconds=60)
    for _ in range(8):
        client.who_am_i()
    assert len(sleeps.recorded) == 1
    assert 59.5 <= sleeps.recorded[0] <= 61
    who = calls(emulator, "GET", "/token/session/>whoAmI")
    assert [r["status"] for r in who].count(429) == 1
    assert len(who) == 8 + 1


def test_429_without_reset_header_backs_off_on_its_own(emulator, connect, sleeps):
    client = connect(retry=RetryPolicy(attempts=6, backoff_initial=20, backoff_max=40))
    rate_limit(emulator, limit=3, period_seconds=60, omit_reset_on_429=True)
    for _ in range(5):
        client.who_am_i()
    assert len(sleeps.recorded) >= 2
    assert all(10 <= s <= 40 for s in sleeps.recorded)
    limited = [r for r in calls(emulator, "GET", "/token/session/>whoAmI") if r["status"] == 429]
    assert len(limited) == len(sleeps.recorded)


def test_429_gives_up_after_the_bounded_attempts(emulator, connect, sleeps):
    client = connect(retry=RetryPolicy(attempts=3, backoff_initial=1, backoff_max=2))
    client.who_am_i()
    rate_limit(emulator, limit=1, period_seconds=3600, omit_reset_on_429=True)
    client.who_am_i()
    with pytest.raises(errors.RateLimited):
        client.who_am_i()
    assert len(sleeps.recorded) == 2


# -- sessions -------------------------------------------------------------------------------------------


def test_session_renewed_the_day_it_expires(emulator, connect):
    client = connect()
    client.who_am_i()
    emulator.state.clock.set_today(TODAY + datetime.timedelta(days=1))
    client.who_am_i()
    creates = calls(emulator, "PUT", "/token/session/:create")
    assert len(creates) == 2
    assert [r["status"] for r in calls(emulator, "GET", "/token/session/>whoAmI")] == [200, 200]


def test_session_renewed_once_after_a_401(emulator, connect):
    client = connect()
    client.who_am_i()
    emulator.state.expire_sessions()
    client.who_am_i()
    assert [r["status"] for r in calls(emulator, "GET", "/token/session/>whoAmI")] == [200, 401, 200]
    assert len(calls(emulator, "PUT", "/token/session/:create")) == 2


# -- paging -----------------------------------------------------------------------------------------------


def test_paging_reads_every_page(emulator, connect):
    emulator.admin("POST", "companies/1001/seed_vouchers", {"count": 2300, "date": DAY.isoformat()})
    client = connect()
    got = client.list_vouchers(DAY, TODAY, fields="id,externalVoucherNumber")
    assert len(got) == 2300 and len({v["id"] for v in got}) == 2300
    pages = calls(emulator, "GET", "/ledger/voucher")
    assert len(pages) == 3


def test_the_10000_cap_is_handled_by_splitting_the_dates(emulator, connect):
    emulator.admin("POST", "companies/1001/seed_vouchers", {"count": 6000, "date": "2026-11-20"})
    emulator.admin("POST", "companies/1001/seed_vouchers", {"count": 4500, "date": "2026-11-21"})
    client = connect()
    got = client.list_vouchers(datetime.date(2026, 11, 20), datetime.date(2026, 11, 22), fields="id")
    assert len(got) == 10_500 and len({v["id"] for v in got}) == 10_500
    assert not [r for r in calls(emulator, "GET", "/ledger/voucher") if r["status"] != 200]


# -- activation -------------------------------------------------------------------------------------------


def test_activation_passes_for_a_good_mapping(connect):
    report = check_activation(connect(), GOOD_MAPPING, VAT_MAPPING)
    assert report.ok, str(report)
    assert report.company == "Fjord Kayak AS, company id 1001"
    assert set(report.account_ids) == set(GOOD_MAPPING.values())
    assert report.vat_type_ids[33] == 32 and report.vat_type_ids[0] == 1


def test_activation_reports_each_problem_in_plain_words(connect):
    mapping = {
        **GOOD_MAPPING,
        "sales.15": 3000,
        "settlement.invoice": 1500,
        "settlement.cash": 1579,
        "settlement.vipps": 1234,
        "product.kayak-course": 3005,
    }
    report = check_activation(connect(), mapping, VAT_MAPPING)
    assert report.api_key_ok and not report.ok
    text = "\n".join(report.messages)
    assert (
        "Account 3000 'Salgsinntekt, avgiftspliktig' is locked to VAT code 3 but sales.15 needs VAT code 31"
        in text
    )
    assert (
        "Account 1500 'Kundefordringer' (settlement.invoice) requires a customer on every posting; "
        "choose an account without a customer, supplier or employee link" in text
    )
    assert "Account 1579 'Andre kortsiktige fordringer, diverse' (settlement.cash) is inactive" in text
    assert "Account 1234 (settlement.vipps) does not exist in your Tripletex chart" in text
    [warning] = report.warnings
    assert warning.account_number == 3005 and "locked to VAT code 3" in warning.message
    assert {p.account_number for p in report.errors} == {3000, 1500, 1579, 1234}


def test_activation_reports_a_vat_code_switched_off(emulator, connect):
    mapping = {k: v for k, v in GOOD_MAPPING.items() if v not in (1580, 1581)}
    report = check_activation(connect(NORDLYS_EMPLOYEE), mapping, VAT_MAPPING)
    assert not report.ok
    assert [p.message for p in report.errors] == [
        "VAT code 33 is not switched on in your Tripletex company, but sales.12 needs it; "
        "switch it on in Tripletex (VAT settings) or change the VAT mapping."
    ]
    assert report.company == "Nordlys Yoga AS, company id 2002"


def test_activation_reports_a_refused_api_key(connect):
    report = check_activation(connect("wrong-employee-token"), GOOD_MAPPING, VAT_MAPPING)
    assert not report.api_key_ok and not report.ok
    assert report.messages[0].startswith("Tripletex did not accept the API key")
    assert "wrong-employee-token" not in str(report)


# -- secrets -------------------------------------------------------------------------------------------------


def test_no_token_reaches_any_log_over_real_http(emulator, connect, caplog):
    caplog.set_level(logging.DEBUG)
    client = connect()
    client.who_am_i()
    emulator.state.expire_sessions()
    faults(emulator, {"action": "error", "method": "GET", "path": "/ledger/account", "status": 500})
    client.accounts_by_number([1920])
    with pytest.raises(errors.AuthError):
        connect("wrong-employee-token").who_am_i()
    sessions = [s.token for s in emulator.state.sessions.values()]
    assert len(sessions) == 2
    assert "token/session/:create" in caplog.text
    assert "consumerToken=***&employeeToken=***" in caplog.text
    for secret in (CONSUMER, FJORD_EMPLOYEE, "wrong-employee-token", *sessions):
        assert secret not in caplog.text
        assert secret not in repr(client)
