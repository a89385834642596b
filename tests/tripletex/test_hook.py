"""TripletexHook and the provider info: connection parsing, Airflow's schemas, and a live emulator."""

from __future__ import annotations

import datetime
import json
import warnings
from pathlib import Path

import jsonschema
import pytest

from bookspot_devkit.emulator.config import CompanyConfig, EmulatorConfig
from bookspot_devkit.emulator.server import EmulatorServer
from bookspot_tripletex.tripletex.client import TripletexClient
from bookspot_tripletex.tripletex.hook import TripletexHook, base_url, company_id
from bookspot_tripletex.tripletex.provider import get_provider_info

CONSUMER = "hook-consumer-5be1f0"
EMPLOYEE = "hook-employee-0d9a44"


@pytest.fixture(scope="module")
def emulator():
    company = CompanyConfig(id=3003, name="Fjellbris AS", consumer_token=CONSUMER, employee_token=EMPLOYEE)
    with EmulatorServer(EmulatorConfig(companies=[company], today=datetime.date(2026, 11, 25))) as server:
        yield server


def connection(monkeypatch, conn_id: str, **fields) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "tripletex", **fields}))


@pytest.mark.parametrize(
    ("host", "schema", "port", "extra", "expected"),
    [
        ("https://api-test.tripletex.tech/v2", None, None, {}, "https://api-test.tripletex.tech/v2"),
        ("https://tripletex.no/v2/", None, None, {"environment": "test"}, "https://tripletex.no/v2"),
        ("tripletex.no", None, None, {}, "https://tripletex.no/v2"),
        ("127.0.0.1", "http", 8099, {}, "http://127.0.0.1:8099/v2"),
        ("http://127.0.0.1:8099/v2", None, 1234, {}, "http://127.0.0.1:8099/v2"),
        (None, None, None, {"environment": "test"}, "https://api-test.tripletex.tech/v2"),
        ("", None, None, {"extra__tripletex__environment": "production"}, "https://tripletex.no/v2"),
        (None, None, None, {}, "https://tripletex.no/v2"),
    ],
)
def test_base_url(host, schema, port, extra, expected):
    assert base_url(host, schema, port, extra) == expected


def test_unknown_environment_is_refused():
    with pytest.raises(ValueError, match="unknown Tripletex environment 'staging'"):
        base_url(None, None, None, {"environment": "staging"})


@pytest.mark.parametrize(
    ("extra", "expected"), [({}, 0), ({"company_id": "17"}, 17), ({"extra__tripletex__company_id": 5}, 5)]
)
def test_company_id(extra, expected):
    assert company_id(extra) == expected


@pytest.mark.parametrize("bad", ["abc", -1, 1.5j])
def test_bad_company_id(bad):
    with pytest.raises(ValueError, match="company_id"):
        company_id({"company_id": bad})


def test_get_conn_builds_a_cached_client(monkeypatch):
    connection(
        monkeypatch,
        "tx_unit",
        host="https://api-test.tripletex.tech/v2",
        password=EMPLOYEE,
        extra={"consumer_token": CONSUMER, "company_id": 42},
    )
    hook = TripletexHook("tx_unit", timeout=7)
    client = hook.get_conn()
    assert isinstance(client, TripletexClient)
    assert (client.base_url, client.company_id, client.timeout) == (
        "https://api-test.tripletex.tech/v2",
        42,
        7,
    )
    assert hook.get_conn() is client
    assert EMPLOYEE not in repr(client) and CONSUMER not in repr(client)


def test_missing_tokens_are_a_clear_error(monkeypatch):
    connection(monkeypatch, "tx_empty", host="https://tripletex.no/v2", extra={"consumer_token": CONSUMER})
    ok, message = TripletexHook("tx_empty").test_connection()
    assert not ok and "employee token as password" in message
    connection(monkeypatch, "tx_no_consumer", host="https://tripletex.no/v2", password=EMPLOYEE)
    ok, message = TripletexHook("tx_no_consumer").test_connection()
    assert not ok and "'consumer_token'" in message and EMPLOYEE not in message


def test_hook_against_the_emulator(monkeypatch, emulator):
    connection(
        monkeypatch,
        "tripletex_default",
        host=emulator.url,
        password=EMPLOYEE,
        extra={"consumer_token": CONSUMER},
    )
    hook = TripletexHook()
    assert hook.get_conn().who_am_i()["companyId"] == 3003
    ok, message = hook.test_connection()
    assert ok, message
    assert message == "Connected to Tripletex: Fjellbris AS (id 3003), employee BookSpot Integrasjon"


def test_test_connection_reports_a_refused_key_without_the_key(monkeypatch, emulator):
    connection(
        monkeypatch,
        "tx_bad",
        host=emulator.url,
        password="revoked-employee-token",
        extra={"consumer_token": CONSUMER},
    )
    ok, message = TripletexHook("tx_bad").test_connection()
    assert not ok
    assert "refused the consumer or employee token" in message
    assert "revoked-employee-token" not in message and CONSUMER not in message


def test_a_connection_with_the_consumer_token_as_login_still_works_and_says_to_move_it(
    monkeypatch, emulator, caplog
):
    connection(monkeypatch, "tx_legacy", host=emulator.url, login=CONSUMER, password=EMPLOYEE)
    with caplog.at_level("WARNING", logger="bookspot_tripletex.tripletex.hook"):
        assert TripletexHook("tx_legacy").get_conn().who_am_i()["companyId"] == 3003
    assert "tx_legacy" in caplog.text and "move it to the extra 'consumer_token'" in caplog.text
    assert CONSUMER not in caplog.text
    connection(
        monkeypatch,
        "tx_both",
        host=emulator.url,
        login="stale",
        password=EMPLOYEE,
        extra={"consumer_token": CONSUMER},
    )
    assert TripletexHook("tx_both").get_conn().who_am_i()["companyId"] == 3003


def test_ui_field_behaviour_matches_airflows_schema():
    import airflow

    schema = json.loads(
        (Path(airflow.__file__).parent / "customized_form_field_behaviours.schema.json").read_text()
    )
    jsonschema.validate(TripletexHook.get_ui_field_behaviour(), schema)


def test_provider_info_is_valid_for_airflow():
    import airflow

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    conn_types = {c["connection-type"]: c for c in info["connection-types"]}
    assert sorted(conn_types) == ["bookspot", "tripletex"]
    conn_type = conn_types["tripletex"]
    assert conn_type["connection-type"] == TripletexHook.conn_type
    assert conn_type["hook-class-name"] == f"{TripletexHook.__module__}.{TripletexHook.__name__}"
    for name, field in conn_type["conn-fields"].items():
        jsonschema.Draft7Validator.check_schema(field["schema"])
        jsonschema.validate(field["schema"]["default"], field["schema"])
        assert name in conn_type["ui-field-behaviour"]["placeholders"] or name == "environment"


def test_providers_manager_registers_the_connection_type():
    from airflow.providers_manager import ProviderInfo, ProvidersManager

    info = get_provider_info()
    manager = ProvidersManager()
    manager._provider_schema_validator.validate(info)
    provider = ProviderInfo(info["versions"][0], info)
    manager._provider_dict.setdefault(info["package-name"], provider)
    manager._discover_hooks_from_connection_types(set(), set(), info["package-name"], provider)
    manager._load_ui_metadata()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hook_info = manager._import_hook(connection_type="tripletex", provider_info=provider)
    assert hook_info.connection_type == "tripletex"
    assert hook_info.connection_id_attribute_name == "tripletex_conn_id"
    assert hook_info.connection_testable
    assert manager._field_behaviours["tripletex"]["relabeling"]["password"] == "Employee token (API key)"
    widget = manager._connection_form_widgets["extra__tripletex__company_id"]
    assert widget.field["value"] == 0 and not widget.is_sensitive
    assert manager._connection_form_widgets["extra__tripletex__consumer_token"].is_sensitive
    assert "login" in manager._field_behaviours["tripletex"]["hidden_fields"]
