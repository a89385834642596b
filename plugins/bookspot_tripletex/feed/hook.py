"""Airflow hook for a `bookspot` connection: builds a BookSpotClient for one tenant's BookSpot account."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from airflow.sdk import Connection
from airflow.sdk.bases.hook import BaseHook

from bookspot_tripletex.connection_form import extra_field, ui_field_behaviour

from .client import BookSpotClient, BookSpotError
from .provider import CONN_TYPE, UI_FIELD_BEHAVIOUR

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 5
TEST_WINDOW = dt.timedelta(hours=1)


class BookSpotHook(BaseHook):
    """BookSpot transactions of one account.

    Connection: host = base URL, password = the account's API token, login (or extra `account_id`) =
    the BookSpot account id, defaulting to `tenant`; extras `timeout` and `max_retries`. A caller that
    already looked the connection up passes it as `connection` (one look-up per tenant and night).
    """

    conn_name_attr = "bookspot_conn_id"
    default_conn_name = "bookspot_default"
    conn_type = CONN_TYPE
    hook_name = "BookSpot"

    def __init__(
        self,
        bookspot_conn_id: str = default_conn_name,
        tenant: str | None = None,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        connection: Connection | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bookspot_conn_id = bookspot_conn_id
        self.tenant = tenant
        self.timeout = timeout
        self.max_retries = max_retries
        self._session = session
        self._sleep = sleep
        self._client: BookSpotClient | None = None
        self._connection = connection

    def get_conn(self) -> BookSpotClient:
        """The client for this connection, created on first use and reused."""
        if self._client is None:
            self._client = self._build(self.max_retries)
        return self._client

    def iter_records(self, updated_from: dt.datetime, updated_to: dt.datetime) -> Iterator[Any]:
        """The hook is a TransactionSource too: raw records changed in [updated_from, updated_to)."""
        return self.get_conn().iter_records(updated_from, updated_to)

    def test_connection(self) -> tuple[bool, str]:
        """Ask for at most one record of the last hour; the message never contains the token."""
        try:
            client = self._build(max_retries=1)
            now = dt.datetime.now(dt.UTC)
            client.fetch_page(now - TEST_WINDOW, now, limit=1)
        except (BookSpotError, ValueError) as exc:
            return False, f"BookSpot refused the connection {self.bookspot_conn_id!r}: {exc}"
        return True, f"Connected to BookSpot account {client.account_id!r} at {client.base_url}"

    def _build(self, max_retries: int | None) -> BookSpotClient:
        conn = self._connection or self.get_connection(self.bookspot_conn_id)
        extra = conn.extra_dejson
        if not conn.password:
            raise ValueError(f"connection {self.bookspot_conn_id!r} needs the account token as password")
        account_id = conn.login or _extra(extra, "account_id") or self.tenant
        if not account_id:
            raise ValueError(
                f"connection {self.bookspot_conn_id!r} names no BookSpot account: "
                "set its login (or extra account_id), or pass the tenant id"
            )
        if max_retries is None:
            max_retries = _number(extra, "max_retries", DEFAULT_MAX_RETRIES, int)
        return BookSpotClient(
            base_url=base_url(conn.host, conn.schema, conn.port),
            token=conn.password,
            account_id=str(account_id),
            timeout=self.timeout or _number(extra, "timeout", DEFAULT_TIMEOUT, float),
            session=self._session,
            max_retries=max_retries,
            sleep=self._sleep,
            tenant=self.tenant or str(account_id),
        )

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Form behaviour; Airflow 3 reads the same from the provider info's `ui-field-behaviour`."""
        return ui_field_behaviour(UI_FIELD_BEHAVIOUR)


def _extra(extra: dict[str, Any], name: str) -> Any:
    return extra_field(extra, CONN_TYPE, name)


def _number(extra: dict[str, Any], name: str, default: float, kind: type[int] | type[float]) -> Any:
    value = _extra(extra, name)
    if value is None:
        return default
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"extra {name} must be a number, got {value!r}") from None


def base_url(host: str | None, schema: str | None, port: int | None) -> str:
    """The API base URL from the connection's host (a URL, or a host name with schema and port)."""
    if not host:
        raise ValueError("the BookSpot connection needs the API base URL as host")
    url = host if "://" in host else f"{schema if schema in ('http', 'https') else 'https'}://{host}"
    parts = urlsplit(url)
    netloc = parts.netloc if parts.port or not port else f"{parts.netloc}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
