"""The compile-on-use secrets masker adds what Airflow's adds, redacts what it redacts, and compiles once
for many secrets instead of once per secret."""

from __future__ import annotations

import re
import secrets
from unittest import mock

import pytest
from airflow.sdk._shared.secrets_masker import secrets_masker as upstream

from bookspot_tripletex import masking

INPUTS = [
    "a-plain-secret-value",
    "abc",  # shorter than the minimum: Airflow masks nothing
    "airflow",  # on Airflow's skip list
    "",
    {"password": "pw-in-a-dict", "account_id": "not-a-secret", "consumer_token": "token-value"},
    ["listed-one", "listed-two", ("nested-three",)],
    "with.regex*chars+(and)[brackets]",
    {"extra": {"api_key": "deep-api-key"}},
]


def _fresh() -> upstream.SecretsMasker:
    masker = upstream.SecretsMasker()
    masker.sensitive_variables_fields = sorted(upstream.DEFAULT_SENSITIVE_FIELDS)
    return masker


def _text() -> str:
    return " | ".join(
        [
            "a-plain-secret-value",
            "abc",
            "pw-in-a-dict",
            "not-a-secret",
            "token-value",
            "listed-two",
            "nested-three",
            "with.regex*chars+(and)[brackets]",
            "deep-api-key",
        ]
    )


def test_same_patterns_and_redaction_as_airflow() -> None:
    theirs, ours = _fresh(), masking.compile_on_use(_fresh())
    for value in INPUTS:
        theirs.add_mask(value)
        ours.add_mask(value)
    assert ours.patterns == theirs.patterns
    assert len(ours.patterns) >= 7
    text = _text()
    assert ours.redact(text) == theirs.redact(text)
    assert "not-a-secret" in ours.redact(text) and "pw-in-a-dict" not in ours.redact(text)
    assert ours.redact({"k": text, "password": "x"}) == theirs.redact({"k": text, "password": "x"})


def test_many_secrets_compile_once_and_every_one_is_masked() -> None:
    masker = masking.compile_on_use(_fresh())
    values = [secrets.token_urlsafe(24) for _ in range(300)]
    with mock.patch.object(masking.re, "compile", wraps=re.compile) as compiled:
        for value in values:
            masker.add_mask(value)
        assert compiled.call_count == 0
        redacted = masker.redact(" ".join(values))
        assert compiled.call_count == 1
        assert set(redacted.split()) == {"***"}
        masker.redact(values[0])
        assert compiled.call_count == 1


def test_a_secret_added_after_a_redaction_is_masked_in_the_next() -> None:
    masker = masking.compile_on_use(_fresh())
    masker.add_mask("first-secret-value")
    assert masker.redact("first-secret-value") == "***"
    masker.add_mask("second-secret-value")
    assert masker.redact("first-secret-value second-secret-value") == "*** ***"


def test_a_reset_starts_afresh() -> None:
    masker = masking.compile_on_use(_fresh())
    masker.add_mask("before-reset-value")
    masker.reset_masker()
    assert masker.redact("before-reset-value") == "before-reset-value"
    masker.add_mask("after-reset-value")
    assert masker.redact("before-reset-value after-reset-value") == "before-reset-value ***"


def test_idempotent_and_keeps_what_was_masked_before() -> None:
    masker = _fresh()
    masker.add_mask("masked-before-value")
    once = masking.compile_on_use(masker)
    cls = type(once)
    assert masking.compile_on_use(once) is once and type(once) is cls
    assert once.redact("masked-before-value") == "***"


@pytest.fixture
def task_masker():
    """The process's own masker (what `airflow.sdk.log.mask_secret` and task logs use), put back after."""
    from airflow.sdk._shared.secrets_masker import _secrets_masker

    masker = _secrets_masker()
    cls, patterns, replacer = type(masker), set(masker.patterns), masker.replacer
    yield masking.compile_on_use()
    masker.__class__, masker.patterns, masker.replacer = cls, patterns, replacer


def test_the_task_sdks_masker_through_airflows_own_calls(task_masker) -> None:
    from airflow.sdk import Connection
    from airflow.sdk._shared.secrets_masker import redact
    from airflow.sdk.log import mask_secret

    mask_secret("session-token-of-a-tenant")
    conn = Connection(conn_id="t", conn_type="http", extra='{"consumer_token": "consumer-of-a-tenant"}')
    assert conn.extra_dejson["consumer_token"] == "consumer-of-a-tenant"
    line = redact("session-token-of-a-tenant consumer-of-a-tenant kept")
    assert line == "*** *** kept"
    assert isinstance(task_masker.replacer, masking.OnUsePattern)


def test_a_masker_of_another_kind_is_left_as_it_is(caplog) -> None:
    class Other:
        patterns: set[str] = set()

        def add_mask(self, secret, name=None):  # type: ignore[no-untyped-def]
            self.patterns.add(secret)

    other = Other()
    with caplog.at_level("WARNING", logger="bookspot_tripletex.masking"):
        assert masking.compile_on_use(other) is other
    assert type(other) is Other and "left as it is" in caplog.text
