"""Airflow hook for a `tripletex` connection: builds a TripletexClient from the connection."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow.sdk.bases.hook import BaseHook

from bookspot_tripletex.connection_form import extra_field, ui_field_behaviour

from ..retry import RetryPolicy
from .client import TripletexClient
from .errors import TripletexError
from .provider import CONN_TYPE, CONSUMER_TOKEN_FIELD, ENVIRONMENTS, UI_FIELD_BEHAVIOUR

log = logging.getLogger(__name__)
WHO_AM_I_FIELDS = "*,company(id,name),employee(id,firstName,lastName)"


class TripletexHook(BaseHook):
    """Tripletex API v2 for one company.

    Connection: host = base URL (or extra `environment`: production / test), extra `consumer_token` =
    the consumer token, password = employee token (the customer's API key), extra `company_id` (default
    0). Both tokens are where Airflow masks them (the password, an extra whose name holds "token"); an
    older connection with the consumer token as login still works, with a warning to move it.
    """

    conn_name_attr = "tripletex_conn_id"
    default_conn_name = "tripletex_default"
    conn_type = CONN_TYPE
    hook_name = "Tripletex"

    def __init__(
        self,
        tripletex_conn_id: str = default_conn_name,
        *,
        timeout: float = 30,
        retry: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tripletex_conn_id = tripletex_conn_id
        self.timeout = timeout
        self.retry = retry
        self._client: TripletexClient | None = None

    def get_conn(self) -> TripletexClient:
        """The client for this connection, created on first use and reused."""
        if self._client is None:
            conn = self.get_connection(self.tripletex_conn_id)
            extra = conn.extra_dejson  # each read masks the extra again (in this process and Airflow's)
            consumer = consumer_token(self.tripletex_conn_id, conn.login, extra)
            if not consumer or not conn.password:
                raise ValueError(
                    f"connection {self.tripletex_conn_id!r} needs the consumer token in the extra "
                    f"{CONSUMER_TOKEN_FIELD!r} and the employee token as password"
                )
            _mask(consumer)
            self._client = TripletexClient(
                base_url=base_url(conn.host, conn.schema, conn.port, extra),
                consumer_token=consumer,
                employee_token=conn.password,
                company_id=company_id(extra),
                timeout=self.timeout,
                retry=self.retry,
                on_new_token=_mask,
            )
        return self._client

    def test_connection(self) -> tuple[bool, str]:
        """Ask Tripletex who the API key belongs to; the message never contains a token."""
        try:
            me = self.get_conn().who_am_i(fields=WHO_AM_I_FIELDS)
        except (TripletexError, ValueError) as exc:
            return False, f"Tripletex refused the connection: {exc}"
        company = me.get("company") or {}
        employee = me.get("employee") or {}
        who = " ".join(str(employee[k]) for k in ("firstName", "lastName") if employee.get(k))
        where = (
            f"{company['name']} (id {me.get('companyId')})"
            if company.get("name")
            else f"company {me.get('companyId')}"
        )
        return True, f"Connected to Tripletex: {where}, employee {who or me.get('employeeId')}"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Form behaviour; Airflow 3 reads the same from the provider info's `ui-field-behaviour`."""
        return ui_field_behaviour(UI_FIELD_BEHAVIOUR)


def _extra(extra: dict[str, Any], name: str) -> Any:
    return extra_field(extra, CONN_TYPE, name)


def consumer_token(conn_id: str, login: str | None, extra: dict[str, Any]) -> str | None:
    """The consumer token from the extra `consumer_token`; from `login` for a connection made before
    (Airflow shows `login` in clear, so that one is logged as to be moved)."""
    value = _extra(extra, CONSUMER_TOKEN_FIELD)
    if value:
        return str(value)
    if login:
        log.warning(
            "connection %r keeps the Tripletex consumer token as login, which Airflow shows in clear: "
            "move it to the extra %r (the form's Consumer token field) and empty the login",
            conn_id,
            CONSUMER_TOKEN_FIELD,
        )
        return login
    return None


def base_url(host: str | None, schema: str | None, port: int | None, extra: dict[str, Any]) -> str:
    """The API base URL from the connection's host (a URL or a host name) or its `environment`."""
    if host:
        url = host if "://" in host else f"{schema if schema in ('http', 'https') else 'https'}://{host}"
        parts = urlsplit(url)
        netloc = parts.netloc if parts.port or not port else f"{parts.netloc}:{port}"
        path = parts.path.rstrip("/") or "/v2"
        return urlunsplit((parts.scheme, netloc, path, "", ""))
    environment = _extra(extra, "environment") or "production"
    if environment not in ENVIRONMENTS:
        raise ValueError(
            f"unknown Tripletex environment {environment!r}; use one of {', '.join(ENVIRONMENTS)}"
        )
    return ENVIRONMENTS[environment]


def company_id(extra: dict[str, Any]) -> int:
    """The `company_id` extra as an int; 0 (the API key's own company) when absent."""
    value = _extra(extra, "company_id")
    if value is None:
        return 0
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"company_id must be a whole number, got {value!r}") from None
    if number < 0:
        raise ValueError(f"company_id must be 0 or a company id, got {number}")
    return number


def _mask(secret: str) -> None:
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:
        return
    mask_secret(secret)
