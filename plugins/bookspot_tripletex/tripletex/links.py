"""Links into Tripletex's own web UI, built from the host of the tenant's Tripletex connection.

A voucher opens at `<scheme>://<host>/execute/voucherMenu?voucherId=<id>&contextId=<company id>`, the
address Tripletex itself gives a voucher (its `GO_TO_VOUCHER` link); the API's path (`/v2`) is left off.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode, urlsplit, urlunsplit

log = logging.getLogger(__name__)

VOUCHER_PATH = "/execute/voucherMenu"


def web_base(api_base_url: str) -> str:
    """The UI's origin from the API's base URL: https://tripletex.no/v2 -> https://tripletex.no."""
    parts = urlsplit(api_base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {api_base_url!r}")
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def voucher_link(base: str, voucher_id: int, company_id: int | None = None) -> str:
    """The voucher's page in Tripletex (in the company's context when it is known)."""
    query: dict[str, int] = {"voucherId": int(voucher_id)}
    if company_id:
        query["contextId"] = int(company_id)
    return f"{base.rstrip('/')}{VOUCHER_PATH}?{urlencode(query)}"


def connection_web_base(conn_id: str) -> str | None:
    """The UI origin of an Airflow `tripletex` connection; None when it cannot be read (no link then)."""
    try:
        from airflow.sdk.bases.hook import BaseHook

        from bookspot_tripletex.tripletex.hook import base_url

        conn = BaseHook.get_connection(conn_id)
        return web_base(base_url(conn.host, conn.schema, conn.port, conn.extra_dejson))
    except Exception as exc:  # a link is a convenience: without the connection there is none
        log.debug("no Tripletex link for connection %r: %s", conn_id, exc)
        return None
