"""BookSpotHook: a Connection from an AIRFLOW_CONN_ variable, against the simulator over real HTTP."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bookspot_devkit.httpserver import free_port
from bookspot_devkit.simulator.server import SimulatorConfig, SimulatorServer
from bookspot_tripletex.feed.client import BookSpotClient
from bookspot_tripletex.feed.hook import BookSpotHook, base_url
from bookspot_tripletex.feed.provider import connection_type

TOKEN = secrets.token_urlsafe(24)
WINDOW = (dt.datetime(2026, 11, 24, tzinfo=dt.UTC), dt.datetime(2026, 11, 25, tzinfo=dt.UTC))


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    config = SimulatorConfig(
        tokens={"fjord-kayak": TOKEN}, seed=1, date_from=dt.date(2026, 11, 24), date_to=dt.date(2026, 11, 24)
    )
    with SimulatorServer(config) as running:
        yield running


def connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: Any) -> str:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "bookspot", **fields}))
    return conn_id


def test_get_conn_builds_the_client_once_from_the_connection(
    server: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = connection(
        monkeypatch, "bookspot_fk_a", host=server.url, password=TOKEN, extra={"timeout": 7, "max_retries": 2}
    )
    hook = BookSpotHook(conn_id, tenant="fjord-kayak")
    assert hook._client is None
    client = hook.get_conn()
    assert isinstance(client, BookSpotClient) and hook.get_conn() is client
    assert (client.base_url, client.account_id, client.timeout, client.max_retries) == (
        server.url, "fjord-kayak", 7.0, 2,
    )  # fmt: skip
    records = list(hook.iter_records(*WINDOW))
    assert records and {r["account_id"] for r in records} == {"fjord-kayak"}


def test_login_or_extra_names_the_account(server: SimulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    by_login = connection(monkeypatch, "bookspot_fk_b", host=server.url, password=TOKEN, login="fjord-kayak")
    assert BookSpotHook(by_login, tenant="other").get_conn().account_id == "fjord-kayak"
    by_extra = connection(
        monkeypatch, "bookspot_fk_c", host=server.url, password=TOKEN, extra={"account_id": "fjord-kayak"}
    )
    assert BookSpotHook(by_extra).get_conn().account_id == "fjord-kayak"
    nameless = connection(monkeypatch, "bookspot_fk_d", host=server.url, password=TOKEN)
    with pytest.raises(ValueError, match="names no BookSpot account"):
        BookSpotHook(nameless).get_conn()
    tokenless = connection(monkeypatch, "bookspot_fk_e", host=server.url, login="fjord-kayak")
    with pytest.raises(ValueError, match="token as password"):
        BookSpotHook(tokenless).get_conn()


def test_test_connection_succeeds(server: SimulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    conn_id = connection(monkeypatch, "bookspot_fk_f", host=server.url, password=TOKEN)
    server.simulation.reset_stats()
    ok, message = BookSpotHook(conn_id, tenant="fjord-kayak").test_connection()
    assert ok, message
    assert "fjord-kayak" in message and TOKEN not in message
    assert server.simulation.stats() == {"requests": 1, "by_status": {"200": 1}}


def test_test_connection_reports_a_bad_token(
    server: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = secrets.token_urlsafe(24)
    conn_id = connection(monkeypatch, "bookspot_fk_g", host=server.url, password=wrong, login="fjord-kayak")
    ok, message = BookSpotHook(conn_id).test_connection()
    assert not ok
    assert "refused the token" in message and "'fjord-kayak'" in message
    assert wrong not in message and TOKEN not in message


def test_test_connection_reports_an_unreachable_host(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    conn_id = connection(
        monkeypatch, "bookspot_fk_h", host=f"http://127.0.0.1:{free_port()}", password=TOKEN, login="fk"
    )
    ok, message = BookSpotHook(conn_id, sleep=sleeps.append).test_connection()
    assert not ok and "could not reach BookSpot" in message and len(sleeps) == 1


def test_base_url_from_host_schema_and_port() -> None:
    assert base_url("https://api.bookspot.example/", None, None) == "https://api.bookspot.example"
    assert base_url("api.bookspot.example", None, None) == "https://api.bookspot.example"
    assert base_url("127.0.0.1", "http", 8080) == "http://127.0.0.1:8080"
    assert base_url("http://127.0.0.1:9000/api", None, 8080) == "http://127.0.0.1:9000/api"
    with pytest.raises(ValueError, match="base URL"):
        base_url(None, None, None)


def _schema(name: str) -> dict[str, Any]:
    import airflow

    return json.loads((Path(airflow.__file__).parent / name).read_text(encoding="utf-8"))


def test_connection_type_matches_airflows_provider_schema() -> None:
    entry = connection_type()
    item_schema = _schema("provider.yaml.schema.json")["properties"]["connection-types"]["items"]
    jsonschema.validate(entry, item_schema)
    assert entry["connection-type"] == BookSpotHook.conn_type == "bookspot"
    module, _, name = entry["hook-class-name"].rpartition(".")
    assert getattr(__import__(module, fromlist=[name]), name) is BookSpotHook
    jsonschema.validate(
        BookSpotHook.get_ui_field_behaviour(), _schema("customized_form_field_behaviours.schema.json")
    )
    assert "password" not in entry["ui-field-behaviour"]["hidden-fields"]


def test_a_connection_already_looked_up_is_used_as_it_is(
    server: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk import Connection

    looked_up = Connection(
        conn_id="bookspot_fk_given",
        conn_type="bookspot",
        host=server.url,
        password=TOKEN,
        login="fjord-kayak",
    )

    def no_lookup(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the hook looked the connection up again")

    monkeypatch.setattr(BookSpotHook, "get_connection", classmethod(no_lookup))
    client = BookSpotHook("bookspot_fk_given", tenant="fjord-kayak", connection=looked_up).get_conn()
    assert (client.base_url, client.account_id) == (server.url, "fjord-kayak")
    assert list(client.iter_records(*WINDOW))
