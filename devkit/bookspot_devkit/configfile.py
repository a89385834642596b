"""Configuration files of the doubles: YAML or JSON into pydantic models; errors name file and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import TypeAdapter, ValidationError

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration that cannot be used; every line names the file (or source) and the field."""


def read_mapping(path: str | Path) -> dict[str, Any]:
    """The mapping in a `.json` file (JSON) or any other file (YAML); empty files are `{}`."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"{Path(path).name}: not valid {'JSON' if str(path).endswith('.json') else 'YAML'}: {exc}"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{Path(path).name}: the configuration must be a mapping")
    return data


def validated(model: type[T], data: Any, source: str) -> T:
    """`data` validated as `model`; a `ConfigError` listing `source: field.path[0].name: reason` lines."""
    try:
        return TypeAdapter(model).validate_python(data)
    except ValidationError as exc:
        raise ConfigError(
            "\n".join(f"{source}: {where(e['loc'])}: {e['msg']}" for e in exc.errors())
        ) from None


def where(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a field path: ('companies', 0, 'name') -> companies[0].name."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"
