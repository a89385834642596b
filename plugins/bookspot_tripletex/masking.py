"""The task process's secrets masker, compiling its pattern when it is next used instead of on every new
secret.

Airflow's `SecretsMasker.add_mask` recompiles one regular expression of every secret seen so far each
time a new one arrives. A step task of a shard reads each of its tenants' connections and makes each a
Tripletex session, so it masks a few secrets per tenant: with N tenants about 3N recompiles of up to
3N secrets, quadratic (measured: 1.4 s of a 64-tenant load task's CPU, a quarter of it). After
`compile_on_use()` the masker adds secrets exactly as Airflow does and compiles once, when a log line
(or anything else) is next redacted: every redaction still sees every secret added before it.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

__all__ = ["compile_on_use"]

log = logging.getLogger(__name__)


class OnUsePattern:
    """Stands in for the masker's compiled pattern: compiles the masker's patterns when first used after
    one was added (patterns are only ever added; a reset gives the masker a new set)."""

    def __init__(self, patterns: set[str]) -> None:
        self.patterns = patterns
        self._compiled: re.Pattern[str] | None = None
        self._size = -1

    def __bool__(self) -> bool:
        return bool(self.patterns)

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None or self._size != len(self.patterns):
            self._compiled = re.compile("|".join(self.patterns))
            self._size = len(self.patterns)
        return self._compiled

    def sub(self, repl: Any, string: str, count: int = 0) -> str:
        return self.compiled.sub(repl, string, count)


class _CompileOnUse:
    """`add_mask` as in Airflow's `SecretsMasker` (same checks, same patterns), without the compile: a
    text is added here; dicts and lists go to Airflow's, which calls this one for each of their texts."""

    def add_mask(self, secret: Any, name: str | None = None) -> None:
        if isinstance(secret, str):
            self._add_text(secret, name)
        else:
            super().add_mask(secret, name)  # type: ignore[misc]

    def _add_text(self, secret: str, name: str | None) -> None:
        masker: Any = self
        skip = masker.masker_module.SECRETS_TO_SKIP_MASKING
        if not secret or secret.lower() in skip:
            return
        if len(secret) < masker.min_length_to_mask:
            super().add_mask(secret, name)  # type: ignore[misc]  # Airflow's warning, nothing added
            return
        for adapted in masker._adaptations(secret):
            if not adapted or len(adapted) < masker.min_length_to_mask or adapted.lower() in skip:
                continue
            pattern = re.escape(adapted)
            if pattern not in masker.patterns and (not name or masker.should_hide_value_for_key(name)):
                masker.patterns.add(pattern)
        current = masker.replacer
        fresh = isinstance(current, OnUsePattern) and current.patterns is masker.patterns
        if masker.patterns and not fresh:
            masker.replacer = OnUsePattern(masker.patterns)


NEEDED = ("patterns", "replacer", "min_length_to_mask", "_adaptations", "should_hide_value_for_key")
"""What `_CompileOnUse` reads of Airflow's masker; a masker without them is left as it is."""


def compile_on_use(masker: Any | None = None) -> Any:
    """Make `masker` (by default the task SDK's masker of this process) compile on use; idempotent.
    A masker that is not the kind this was written for (another Airflow version) is left as it is, with
    a warning: it then costs what it costs, but masks as Airflow does."""
    if masker is None:
        try:
            from airflow.sdk._shared.secrets_masker import _secrets_masker
        except ImportError as exc:
            log.warning("secrets masker left as it is: %s", exc)
            return None
        masker = _secrets_masker()
    base = type(masker)
    if issubclass(base, _CompileOnUse):
        return masker
    module = sys.modules.get(base.__module__)
    missing = [name for name in NEEDED if not hasattr(masker, name)]
    if missing or not hasattr(module, "SECRETS_TO_SKIP_MASKING"):
        log.warning("secrets masker %s left as it is (no %s)", base.__name__, missing or "skip list")
        return masker
    masker.__class__ = type(f"{base.__name__}CompileOnUse", (_CompileOnUse, base), {"masker_module": module})
    if masker.patterns:
        masker.replacer = OnUsePattern(masker.patterns)
    return masker
