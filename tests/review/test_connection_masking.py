"""A Tripletex connection as documented (consumer token in the extra `consumer_token`, employee token as
password) shows neither token in Airflow's connections API or its audit log; the old form, with the
consumer token as `login`, is shown in clear there, which is why it moved."""

from __future__ import annotations

import json
import secrets

import pytest
from sqlalchemy import select

pytestmark = pytest.mark.airflow


def test_the_consumer_token_is_masked_in_airflows_connection_api(api, admin) -> None:  # type: ignore[no-untyped-def]
    from airflow.models.log import Log
    from airflow.utils.session import create_session

    client, _ = api
    consumer, employee = f"c-{secrets.token_hex(12)}", f"e-{secrets.token_hex(12)}"
    created = client.post(
        "/api/v2/connections",
        json={
            "connection_id": "tripletex_masked",
            "conn_type": "tripletex",
            "host": "https://tripletex.no/v2",
            "password": employee,
            "extra": json.dumps({"consumer_token": consumer, "company_id": 0}),
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    shown = [
        client.get("/api/v2/connections/tripletex_masked", headers=admin).text,
        client.get("/api/v2/connections", headers=admin).text,
        created.text,
    ]
    with create_session() as session:
        shown += [str(e.extra) for e in session.scalars(select(Log)).all()]
    assert all(consumer not in text and employee not in text for text in shown)
    assert json.loads(json.loads(shown[0])["extra"])["consumer_token"] == "***"

    legacy = client.post(
        "/api/v2/connections",
        json={"connection_id": "tripletex_legacy", "conn_type": "tripletex", "login": consumer},
        headers=admin,
    )
    assert legacy.status_code == 201
    assert consumer in client.get("/api/v2/connections/tripletex_legacy", headers=admin).text
