"""TripletexClient against requests_mock: tokens, retries, rate limits, paging, safe voucher POSTs."""

from __future__ import annotations

import base64
import datetime
import logging

import pytest
import requests

from bookspot_tripletex.tripletex import errors
from bookspot_tripletex.tripletex.client import TripletexClient

from .conftest import BASE, CONSUMER, EMPLOYEE, FAST, TODAY

TOKEN_URL = f"{BASE}/token/session/:create"
WHO_URL = f"{BASE}/token/session/%3EwhoAmI"
ACCOUNT_URL = f"{BASE}/ledger/account"
VOUCHER_URL = f"{BASE}/ledger/voucher"
EXT_URL = f"{BASE}/ledger/voucher/%3EexternalVoucherNumber"
ME = {"value": {"employeeId": 11, "companyId": 22, "company": {"id": 22, "name": "Fjord Kayak AS"}}}


def tokens(requests_mock, *names: str):
    return requests_mock.put(
        TOKEN_URL, [{"json": {"value": {"token": name, "expirationDate": "x"}}} for name in names]
    )


def envelope(status: int, code: int, message: str | None, request_id: str = "req-1", **extra) -> dict:
    return {
        "status_code": status,
        "json": {"status": status, "code": code, "message": message, "requestId": request_id, **extra},
        "headers": {"x-tlx-request-id": request_id},
    }


def basic(request) -> tuple[str, str]:
    user, _, password = base64.b64decode(request.headers["Authorization"].split()[1]).decode().partition(":")
    return user, password


def test_who_am_i_creates_a_session_and_uses_basic_auth(requests_mock, make_client):
    create = tokens(requests_mock, "sess-1")
    who = requests_mock.get(WHO_URL, json=ME)
    client = make_client(company_id=7)

    assert client.who_am_i()["companyId"] == 22
    assert client.who_am_i()["employeeId"] == 11

    assert create.call_count == 1
    url = create.last_request.url
    assert f"consumerToken={CONSUMER}" in url and f"employeeToken={EMPLOYEE}" in url
    assert "expirationDate=2026-11-25" in url
    assert "Authorization" not in create.last_request.headers
    assert who.call_count == 2
    assert basic(who.last_request) == ("7", "sess-1")


def test_session_renewed_when_its_expiration_date_arrives(requests_mock, make_client, clock):
    create = tokens(requests_mock, "sess-1", "sess-2")
    who = requests_mock.get(WHO_URL, json=ME)
    client = make_client()

    client.who_am_i()
    clock.today = TODAY + datetime.timedelta(hours=23)  # still the same day
    client.who_am_i()
    assert create.call_count == 1
    clock.today = TODAY + datetime.timedelta(days=1)
    client.who_am_i()

    assert create.call_count == 2
    assert "expirationDate=2026-11-26" in create.last_request.url
    assert basic(who.last_request) == ("0", "sess-2")


def test_a_401_renews_the_session_once_and_retries_the_call(requests_mock, make_client):
    create = tokens(requests_mock, "sess-1", "sess-2", "sess-3")
    who = requests_mock.get(WHO_URL, [envelope(401, 3000, "Invalid or expired token"), {"json": ME}])
    client = make_client()

    assert client.who_am_i()["companyId"] == 22
    assert create.call_count == 2
    assert [basic(r)[1] for r in who.request_history] == ["sess-1", "sess-2"]


def test_a_second_401_is_raised_without_more_renewals(requests_mock, make_client):
    create = tokens(requests_mock, "sess-1", "sess-2", "sess-3")
    who = requests_mock.get(WHO_URL, **envelope(401, 3000, "Invalid or expired token"))
    client = make_client()

    with pytest.raises(errors.AuthError) as info:
        client.who_am_i()
    assert info.value.status == 401 and info.value.code == 3000
    assert create.call_count == 2
    assert who.call_count == 2


@pytest.mark.parametrize(("status", "code"), [(401, 3000), (403, 9000), (422, 18000)])
def test_refused_tokens_raise_auth_error_from_session_create(requests_mock, make_client, status, code):
    create = requests_mock.put(TOKEN_URL, **envelope(status, code, "Ugyldig token", request_id="t-9"))
    with pytest.raises(errors.AuthError, match="refused the consumer or employee token") as info:
        make_client().who_am_i()
    assert (info.value.status, info.value.code, info.value.request_id) == (status, code, "t-9")
    assert create.call_count == 1


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, 11000, errors.BadRequest),
        (401, 3000, errors.AuthError),
        (403, 9000, errors.PermissionDenied),
        (404, 6000, errors.NotFound),
        (409, 8000, errors.Conflict),
        (422, 18000, errors.ValidationError),
        (429, 0, errors.RateLimited),
        (500, 1000, errors.ServerError),
        (503, 1002, errors.ServerError),
    ],
)
def test_errors_are_typed_and_logged_with_the_request_id(
    requests_mock, make_client, caplog, status, code, cls
):
    tokens(requests_mock, "sess-1", "sess-2")
    requests_mock.get(ACCOUNT_URL, **envelope(status, code, "Feil", request_id="abc-123"))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(cls) as info:
        list(make_client().iter_accounts())
    assert info.value.status == status
    assert info.value.request_id == "abc-123"
    assert "abc-123" in str(info.value)
    assert "abc-123" in caplog.text


def test_validation_error_exposes_the_norwegian_messages(requests_mock, make_client):
    tokens(requests_mock, "sess-1")
    message = "Kontoen 3000 Salgsinntekt, avgiftspliktig er låst til mva-kode 3."
    requests_mock.post(
        VOUCHER_URL,
        **envelope(
            422,
            18000,
            "Validering feilet.",
            validationMessages=[{"field": "postings.vatType", "message": message}],
        ),
    )
    with pytest.raises(errors.ValidationError) as info:
        make_client().post_voucher_once({"externalVoucherNumber": "x", "postings": []})
    assert info.value.messages == [message]
    assert info.value.validationMessages[0]["field"] == "postings.vatType"
    assert message in str(info.value)


def test_429_waits_for_the_reset_header(requests_mock, make_client, sleeps):
    tokens(requests_mock, "sess-1")
    limited = {"status_code": 429, "json": {"status": 429, "code": 0, "message": "Too many requests"}}
    who = requests_mock.get(
        WHO_URL,
        [
            {**limited, "headers": {"X-Rate-Limit-Reset": "3"}},
            {**limited, "headers": {"X-Rate-Limit-Reset": "2"}},
            {"json": ME},
        ],
    )
    assert make_client().who_am_i()["companyId"] == 22
    assert who.call_count == 3
    assert sleeps == [3.0, 2.0]


def test_429_without_reset_backs_off_exponentially_and_gives_up(requests_mock, make_client, sleeps):
    tokens(requests_mock, "sess-1")
    who = requests_mock.get(WHO_URL, status_code=429, json={"status": 429, "message": "Too many"})
    with pytest.raises(errors.RateLimited) as info:
        make_client().who_am_i()
    assert info.value.reset_seconds is None
    assert who.call_count == FAST.attempts
    assert len(sleeps) == FAST.attempts - 1
    for attempt, wait in enumerate(sleeps, start=1):
        step = min(FAST.backoff_max, FAST.backoff_initial * 2 ** (attempt - 1))
        assert step <= wait <= min(FAST.backoff_max, step + FAST.backoff_initial)


def test_429_with_a_reset_beyond_the_budget_is_raised_at_once(requests_mock, make_client, sleeps):
    tokens(requests_mock, "sess-1")
    who = requests_mock.get(WHO_URL, status_code=429, headers={"X-Rate-Limit-Reset": "3600"}, json={})
    with pytest.raises(errors.RateLimited) as info:
        make_client().who_am_i()
    assert info.value.reset_seconds == 3600
    assert who.call_count == 1
    assert sleeps == []


def test_get_retries_5xx_a_bounded_number_of_times(requests_mock, make_client, sleeps):
    tokens(requests_mock, "sess-1")
    accounts = requests_mock.get(ACCOUNT_URL, **envelope(500, 1000, None))
    with pytest.raises(errors.ServerError):
        list(make_client().iter_accounts())
    assert accounts.call_count == FAST.attempts
    assert len(sleeps) == FAST.attempts - 1


def test_get_recovers_after_one_5xx(requests_mock, make_client):
    tokens(requests_mock, "sess-1")
    accounts = requests_mock.get(
        ACCOUNT_URL, [envelope(502, 1000, "Bad gateway"), {"json": {"values": [{"id": 1, "number": 1920}]}}]
    )
    assert list(make_client().iter_accounts()) == [{"id": 1, "number": 1920}]
    assert accounts.call_count == 2


def test_connection_errors_and_timeouts_on_get_are_retried_then_typed(requests_mock, make_client):
    tokens(requests_mock, "sess-1")
    refused = requests_mock.get(WHO_URL, exc=requests.ConnectionError("refused"))
    with pytest.raises(errors.TransportError):
        make_client().who_am_i()
    assert refused.call_count == FAST.attempts

    slow = requests_mock.get(ACCOUNT_URL, exc=requests.ReadTimeout("slow"))
    with pytest.raises(errors.Timeout):
        list(make_client().iter_accounts())
    assert slow.call_count == FAST.attempts


def test_session_create_is_retried_on_5xx(requests_mock, make_client, sleeps):
    create = requests_mock.put(
        TOKEN_URL, [envelope(500, 1000, None), {"json": {"value": {"token": "sess-1"}}}]
    )
    requests_mock.get(WHO_URL, json=ME)
    make_client().who_am_i()
    assert create.call_count == 2 and len(sleeps) == 1


def test_session_create_failing_under_a_voucher_post_is_retried_without_posting(
    requests_mock, make_client, sleeps
):
    create = requests_mock.put(
        TOKEN_URL, [{"exc": requests.ConnectionError("refused")}, {"json": {"value": {"token": "sess-1"}}}]
    )
    post = requests_mock.post(VOUCHER_URL, status_code=201, json={"value": {"id": 5}})
    assert make_client().post_voucher_once({"externalVoucherNumber": "bs-1"}) == {"id": 5}
    assert create.call_count == 2 and post.call_count == 1 and len(sleeps) == 1


def test_one_retry_layer_session_create_is_not_retried_inside_a_retried_call(
    requests_mock, make_client, sleeps
):
    create = requests_mock.put(TOKEN_URL, **envelope(503, 1000, None))
    with pytest.raises(errors.ServerError):
        make_client().who_am_i()
    assert create.call_count == FAST.attempts and len(sleeps) == FAST.attempts - 1


@pytest.mark.parametrize(
    "failure",
    [
        {"status_code": 500, "json": {"status": 500, "code": 1000, "message": None}},
        {"exc": requests.ReadTimeout("lost")},
        {"exc": requests.ConnectionError("reset by peer")},
    ],
)
def test_a_voucher_post_is_never_retried_blindly(requests_mock, make_client, failure):
    tokens(requests_mock, "sess-1")
    post = requests_mock.post(VOUCHER_URL, **failure)
    with pytest.raises((errors.ServerError, errors.TransportError)):
        make_client().post_voucher_once({"externalVoucherNumber": "bs-1", "postings": []})
    assert post.call_count == 1


def test_a_voucher_post_waits_out_a_429(requests_mock, make_client, sleeps):
    tokens(requests_mock, "sess-1")
    post = requests_mock.post(
        VOUCHER_URL,
        [
            {"status_code": 429, "headers": {"X-Rate-Limit-Reset": "1"}, "json": {}},
            {"status_code": 201, "json": {"value": {"id": 5}}},
        ],
    )
    assert make_client().post_voucher({"externalVoucherNumber": "bs-1"}) == {"id": 5}
    assert post.call_count == 2 and sleeps == [1.0]


def test_post_voucher_sends_decimal_json_with_charset(requests_mock, make_client):
    from decimal import Decimal

    tokens(requests_mock, "sess-1")
    post = requests_mock.post(VOUCHER_URL, status_code=201, json={"value": {"id": 9, "amount": 1646.27}})
    voucher = make_client().post_voucher_once(
        {"externalVoucherNumber": "bs-1", "postings": [{"amountGross": Decimal("1646.27")}]}
    )
    assert voucher["amount"] == Decimal("1646.27")
    request = post.last_request
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.qs == {"sendtoledger": ["true"]}
    assert b'"amountGross":1646.27' in request.body


class TestEnsureVoucher:
    payload = {"externalVoucherNumber": "bookspot:fjord-kayak:2026-11-24", "postings": []}
    found = {"values": [{"id": 77, "externalVoucherNumber": "bookspot:fjord-kayak:2026-11-24"}]}

    def test_existing_voucher_is_not_posted_again(self, requests_mock, make_client):
        tokens(requests_mock, "sess-1")
        lookup = requests_mock.get(EXT_URL, json=self.found)
        post = requests_mock.post(VOUCHER_URL, status_code=201, json={"value": {"id": 1}})
        assert make_client().ensure_voucher(self.payload) == (self.found["values"][0], False)
        assert lookup.call_count == 1 and post.call_count == 0
        assert lookup.last_request.qs["externalvouchernumber"] == ["bookspot:fjord-kayak:2026-11-24"]

    def test_absent_voucher_is_posted_once(self, requests_mock, make_client):
        tokens(requests_mock, "sess-1")
        requests_mock.get(EXT_URL, json={"values": []})
        post = requests_mock.post(VOUCHER_URL, status_code=201, json={"value": {"id": 1}})
        assert make_client().ensure_voucher(self.payload) == ({"id": 1}, True)
        assert post.call_count == 1

    def test_lookup_ignores_other_external_numbers(self, requests_mock, make_client):
        tokens(requests_mock, "sess-1")
        requests_mock.get(EXT_URL, json={"values": [{"id": 3, "externalVoucherNumber": "something-else"}]})
        post = requests_mock.post(VOUCHER_URL, status_code=201, json={"value": {"id": 4}})
        assert make_client().ensure_voucher(self.payload) == ({"id": 4}, True)
        assert post.call_count == 1

    def test_lost_answer_after_commit_is_found_by_lookup(self, requests_mock, make_client):
        tokens(requests_mock, "sess-1")
        lookup = requests_mock.get(EXT_URL, [{"json": {"values": []}}, {"json": self.found}])
        post = requests_mock.post(VOUCHER_URL, exc=requests.ReadTimeout("lost"))
        voucher, created = make_client().ensure_voucher(self.payload)
        assert (voucher["id"], created) == (77, True)
        assert post.call_count == 1 and lookup.call_count == 2

    def test_failed_post_is_repeated_only_after_a_lookup(self, requests_mock, make_client):
        tokens(requests_mock, "sess-1")
        lookup = requests_mock.get(EXT_URL, json={"values": []})
        post = requests_mock.post(
            VOUCHER_URL,
            [
                {"status_code": 503, "json": {"status": 503, "code": 1000}},
                {"status_code": 201, "json": {"value": {"id": 8}}},
            ],
        )
        assert make_client().ensure_voucher(self.payload) == ({"id": 8}, True)
        assert post.call_count == 2 and lookup.call_count == 2
        methods = [r.method for r in requests_mock.request_history if r.method != "PUT"]
        assert methods == ["GET", "POST", "GET", "POST"]

    def test_gives_up_after_the_bounded_number_of_posts(self, requests_mock, make_client):
        tokens(requests_mock, "sess-1")
        lookup = requests_mock.get(EXT_URL, json={"values": []})
        post = requests_mock.post(VOUCHER_URL, exc=requests.ConnectionError("down"))
        client = make_client()
        with pytest.raises(errors.VoucherOutcomeUnknown):
            client.ensure_voucher(self.payload)
        assert post.call_count == client.post_attempts
        assert lookup.call_count == client.post_attempts + 1

    def test_a_failing_lookup_stops_any_new_post(self, requests_mock, make_client):
        tokens(requests_mock, "sess-1")
        requests_mock.get(EXT_URL, [{"json": {"values": []}}] + [envelope(500, 1000, None)] * 5)
        post = requests_mock.post(VOUCHER_URL, exc=requests.ReadTimeout("lost"))
        with pytest.raises(errors.ServerError):
            make_client().ensure_voucher(self.payload)
        assert post.call_count == 1

    def test_a_refusal_is_raised_without_lookup(self, requests_mock, make_client):
        tokens(requests_mock, "sess-1")
        lookup = requests_mock.get(EXT_URL, json={"values": []})
        requests_mock.post(VOUCHER_URL, **envelope(422, 18000, "Validering feilet."))
        with pytest.raises(errors.ValidationError):
            make_client().ensure_voucher(self.payload)
        assert lookup.call_count == 1

    def test_needs_an_external_number(self, make_client):
        with pytest.raises(errors.PayloadError):
            make_client().ensure_voucher({"postings": []})


def page_callback(total: int):
    def respond(request, context):
        start, count = int(request.qs["from"][0]), int(request.qs["count"][0])
        return {
            "from": start,
            "count": count,
            "values": [{"id": i} for i in range(start, min(total, start + count))],
        }

    return respond


def test_paging_stops_at_a_short_page(requests_mock, make_client):
    tokens(requests_mock, "sess-1")
    accounts = requests_mock.get(ACCOUNT_URL, json=page_callback(5))
    assert [a["id"] for a in make_client(page_size=2).iter_accounts()] == [0, 1, 2, 3, 4]
    assert [(r.qs["from"], r.qs["count"]) for r in accounts.request_history] == [
        (["0"], ["2"]),
        (["2"], ["2"]),
        (["4"], ["2"]),
    ]


def test_paging_asks_once_more_after_a_full_last_page(requests_mock, make_client):
    tokens(requests_mock, "sess-1")
    accounts = requests_mock.get(ACCOUNT_URL, json=page_callback(4))
    assert len(list(make_client(page_size=2).iter_accounts())) == 4
    assert accounts.call_count == 3


def test_the_10000_cap_on_a_whole_chart_is_a_clear_error(requests_mock, make_client):
    tokens(requests_mock, "sess-1")
    accounts = requests_mock.get(ACCOUNT_URL, json=page_callback(12_000))
    with pytest.raises(errors.ResultCapExceeded, match="more than 10000 accounts"):
        list(make_client().iter_accounts())
    assert accounts.call_count == 10
    assert max(int(r.qs["from"][0]) + int(r.qs["count"][0]) for r in accounts.request_history) == 10_000


def test_account_numbers_are_asked_for_in_chunks(requests_mock, make_client):
    tokens(requests_mock, "sess-1")

    def respond(request, context):
        numbers = [int(n) for n in request.qs["number"][0].split(",")]
        return {"values": [{"id": n + 100_000, "number": n} for n in numbers if n % 2 == 0]}

    accounts = requests_mock.get(ACCOUNT_URL, json=respond)
    found = make_client().accounts_by_number(range(1000, 1250))
    assert accounts.call_count == 3
    assert all(len(r.qs["number"][0].split(",")) <= 100 for r in accounts.request_history)
    assert len(found) == 125 and found[1000]["id"] == 101_000 and 1001 not in found


def test_dated_lists_split_a_range_over_the_cap(requests_mock, make_client):
    tokens(requests_mock, "sess-1")

    def respond(request, context):
        day_from = datetime.date.fromisoformat(request.qs["datefrom"][0])
        day_to = datetime.date.fromisoformat(request.qs["dateto"][0])
        start, count = int(request.qs["from"][0]), int(request.qs["count"][0])
        rows = [
            {"id": f"{day}-{i}"} for day in range(day_from.toordinal(), day_to.toordinal()) for i in range(8)
        ]
        return {"values": rows[start : start + count]}

    vouchers = requests_mock.get(VOUCHER_URL, json=respond)
    client = make_client(page_size=5, result_cap=10)
    got = client.list_vouchers(datetime.date(2026, 11, 1), datetime.date(2026, 11, 5))
    assert len(got) == 32 and len({v["id"] for v in got}) == 32
    assert vouchers.call_count > 4

    with pytest.raises(errors.ResultCapExceeded, match="2026-11-01 alone"):
        make_client(page_size=5, result_cap=5).list_vouchers(
            datetime.date(2026, 11, 1), datetime.date(2026, 11, 3)
        )


def test_server_side_cap_error_also_splits_the_range(requests_mock, make_client):
    tokens(requests_mock, "sess-1")

    def respond(request, context):
        if request.qs["datefrom"][0] == "2026-11-01" and request.qs["dateto"][0] == "2026-11-03":
            context.status_code = 422
            return {"status": 422, "code": 23000, "message": "Resultatet er for stort"}
        return {"values": [{"id": request.qs["datefrom"][0]}]}

    requests_mock.get(f"{BASE}/ledger/posting", json=respond)
    got = make_client().postings(datetime.date(2026, 11, 1), datetime.date(2026, 11, 3))
    assert [p["id"] for p in got] == ["2026-11-01", "2026-11-02"]


def test_vat_types_are_keyed_by_number_not_id(requests_mock, make_client):
    tokens(requests_mock, "sess-1")
    requests_mock.get(
        f"{BASE}/ledger/vatType",
        json={"values": [{"id": 32, "number": "33"}, {"id": 3, "number": "3"}, {"id": 99, "number": "x"}]},
    )
    found = make_client().vat_types_by_number([3, 33])
    assert {n: v["id"] for n, v in found.items()} == {3: 3, 33: 32}


def test_voucher_type_by_name(requests_mock, make_client):
    tokens(requests_mock, "sess-1")
    requests_mock.get(f"{BASE}/ledger/voucherType", json={"values": [{"id": 4, "name": "Bank"}]})
    client = make_client()
    assert client.voucher_type_by_name("bank") == {"id": 4, "name": "Bank"}
    assert client.voucher_type_by_name("Lønnsbilag") is None


def test_reverse_and_attachment(requests_mock, make_client):
    tokens(requests_mock, "sess-1")
    reverse = requests_mock.put(f"{VOUCHER_URL}/77/:reverse", json={"value": {"id": 78}})
    upload = requests_mock.post(f"{VOUCHER_URL}/77/attachment", status_code=201, json={"value": {"id": 77}})
    client = make_client()
    assert client.reverse_voucher(77, datetime.date(2026, 12, 1)) == {"id": 78}
    assert reverse.last_request.qs == {"date": ["2026-12-01"]}
    assert client.upload_attachment(77, "report.pdf", b"%PDF-1.4 x") == {"id": 77}
    body = upload.last_request.body
    assert b'name="file"; filename="report.pdf"' in body and b"application/pdf" in body


def test_no_token_in_logs_errors_or_repr(requests_mock, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    requests_mock.put(
        TOKEN_URL,
        [
            {
                "exc": requests.ConnectionError(
                    f"Max retries exceeded with url: /v2/token?consumerToken={CONSUMER}"
                )
            },
            {"json": {"value": {"token": "SESSION-SECRET-1"}}},
            {"json": {"value": {"token": "SESSION-SECRET-2"}}},
        ],
    )
    requests_mock.get(
        WHO_URL,
        [
            envelope(401, 3000, f"token {EMPLOYEE} expired"),
            envelope(500, 1000, "SESSION-SECRET-2 broke"),
            {"json": ME},
        ],
    )
    client = make_client()
    client.who_am_i()
    requests_mock.get(
        ACCOUNT_URL, **envelope(422, 18000, "nei", validationMessages=[{"message": "SESSION-SECRET-2"}])
    )
    with pytest.raises(errors.ValidationError) as info:
        list(client.iter_accounts())
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("requests_mock"))
    texts = [ours, repr(client), str(client), str(info.value), repr(info.value.validation_messages)]
    for secret in (CONSUMER, EMPLOYEE, "SESSION-SECRET-1", "SESSION-SECRET-2"):
        assert all(secret not in text for text in texts), secret
    assert "***" in ours


def test_urllib3_request_lines_are_redacted(caplog):
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s',
        "https",
        "tx",
        443,
        "PUT",
        f"/v2/token/session/:create?consumerToken={CONSUMER}"
        f"&employeeToken={EMPLOYEE}&expirationDate=2026-11-25",
        "HTTP/1.1",
        200,
    )
    assert CONSUMER not in caplog.text and EMPLOYEE not in caplog.text
    assert "expirationDate=2026-11-25" in caplog.text


def test_client_needs_both_tokens():
    with pytest.raises(ValueError):
        TripletexClient(BASE, "", EMPLOYEE)


def test_every_call_has_a_timeout(requests_mock, make_client):
    seen = []
    tokens(requests_mock, "sess-1")
    requests_mock.get(WHO_URL, json=ME)
    client = make_client(timeout=4.5)
    original = client._session.request

    def spy(*args, **kwargs):
        seen.append(kwargs.get("timeout"))
        return original(*args, **kwargs)

    client._session.request = spy
    client.who_am_i()
    assert seen == [4.5, 4.5]
