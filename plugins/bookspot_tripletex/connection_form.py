"""The connection form as hooks describe it: one translation from the provider info's behaviour."""

from __future__ import annotations

from typing import Any


def ui_field_behaviour(provider_behaviour: dict[str, Any]) -> dict[str, Any]:
    """The hook-method shape of the provider info's `ui-field-behaviour` (the one Airflow 3 reads)."""
    return {
        "hidden_fields": list(provider_behaviour["hidden-fields"]),
        "relabeling": dict(provider_behaviour["relabeling"]),
        "placeholders": dict(provider_behaviour["placeholders"]),
    }


def extra_field(extra: dict[str, Any], conn_type: str, name: str) -> Any:
    """A field of a connection's extra, also under the `extra__<type>__<name>` key older forms wrote;
    an empty string counts as unset."""
    value = extra.get(name)
    if value in (None, ""):
        value = extra.get(f"extra__{conn_type}__{name}")
    return None if value == "" else value
