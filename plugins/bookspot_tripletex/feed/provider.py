"""Airflow provider metadata for the `bookspot` connection type, merged into the provider info."""

from __future__ import annotations

from typing import Any

HOOK_CLASS_NAME = "bookspot_tripletex.feed.hook.BookSpotHook"
CONN_TYPE = "bookspot"

CONN_FIELDS: dict[str, dict[str, Any]] = {
    "account_id": {
        "label": "Account id",
        "schema": {"type": ["string", "null"]},
        "description": "The BookSpot account id when Login is empty; default: the tenant id.",
    },
    "timeout": {
        "label": "Timeout (seconds)",
        "schema": {"type": ["number", "null"], "minimum": 1, "default": 30},
        "description": "Timeout of each HTTP call to BookSpot.",
    },
    "max_retries": {
        "label": "Max retries",
        "schema": {"type": ["integer", "null"], "minimum": 0, "maximum": 10, "default": 5},
        "description": "Retries of a call after a 429, a 5xx or a connection error.",
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "extra"],
    "relabeling": {
        "host": "Base URL",
        "login": "Account id (optional)",
        "password": "Account token",
    },
    "placeholders": {
        "host": "https://api.bookspot.example",
        "login": "defaults to the tenant id, e.g. fjord-kayak",
        "password": "the API token of this BookSpot account",
        "timeout": "30",
        "max_retries": "5",
    },
}


def connection_type() -> dict[str, Any]:
    """The `connection-types` entry of the provider info for BookSpot."""
    return {
        "hook-class-name": HOOK_CLASS_NAME,
        "hook-name": "BookSpot",
        "connection-type": CONN_TYPE,
        "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
        "conn-fields": CONN_FIELDS,
    }
