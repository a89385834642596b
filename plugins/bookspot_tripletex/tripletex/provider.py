"""Airflow provider metadata: registers the `tripletex` connection type and its form fields."""

from __future__ import annotations

from typing import Any

from bookspot_tripletex import __version__
from bookspot_tripletex.feed.provider import connection_type as bookspot_connection_type

PACKAGE_NAME = "bookspot-tripletex"
HOOK_CLASS_NAME = "bookspot_tripletex.tripletex.hook.TripletexHook"
CONN_TYPE = "tripletex"

ENVIRONMENTS = {
    "production": "https://tripletex.no/v2",
    "test": "https://api-test.tripletex.tech/v2",
}

CONSUMER_TOKEN_FIELD = "consumer_token"
"""The extra holding the consumer token: Airflow masks extras whose name holds "token" (API, logs, UI)."""

CONN_FIELDS: dict[str, dict[str, Any]] = {
    CONSUMER_TOKEN_FIELD: {
        "label": "Consumer token",
        "schema": {"type": ["string", "null"], "format": "password", "default": None},
        "description": "The consumer token Tripletex issued to BookSpot (kept masked, like the password).",
    },
    "environment": {
        "label": "Environment",
        "schema": {"type": "string", "enum": ["production", "test"], "default": "production"},
        "description": "Used when Base URL is empty: production = https://tripletex.no/v2, "
        "test = https://api-test.tripletex.tech/v2. Tokens never work across environments.",
    },
    "company_id": {
        "label": "Company id",
        "schema": {"type": ["integer", "null"], "minimum": 0, "default": 0},
        "description": "0 for the API key's own company; an accountant's client company id otherwise.",
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "login", "extra"],
    "relabeling": {
        "host": "Base URL",
        "password": "Employee token (API key)",
    },
    "placeholders": {
        "host": "https://tripletex.no/v2 (leave empty to use Environment)",
        CONSUMER_TOKEN_FIELD: "Consumer token Tripletex issued to BookSpot",
        "password": "The API key the customer created for BookSpot in Tripletex",
        "company_id": "0",
    },
}


def connection_type() -> dict[str, Any]:
    """The `connection-types` entry of the provider info for Tripletex."""
    return {
        "hook-class-name": HOOK_CLASS_NAME,
        "hook-name": "Tripletex",
        "connection-type": CONN_TYPE,
        "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
        "conn-fields": CONN_FIELDS,
    }


def get_provider_info() -> dict[str, Any]:
    """Provider info read by Airflow's ProvidersManager through the `apache_airflow_provider` entry point.

    Airflow reads one provider info per installed distribution, so it lists the BookSpot connection
    type (`bookspot_tripletex.feed`) too.
    """
    return {
        "package-name": PACKAGE_NAME,
        "name": "BookSpot Tripletex",
        "description": "Posts BookSpot sales to Tripletex as daily vouchers (Tripletex API v2).",
        "versions": [__version__],
        "connection-types": [connection_type(), bookspot_connection_type()],
    }
