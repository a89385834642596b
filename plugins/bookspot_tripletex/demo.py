"""The local demo's wiring: an emulator company with fresh tokens and the Airflow connections to it."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from bookspot_tripletex.emulator.config import (
    AccountSpec,
    CompanyConfig,
    EmulatorConfig,
    load_config,
    write_config,
)

DEMO_COMPANY_ID = 1001


def demo_emulator_config() -> EmulatorConfig:
    return EmulatorConfig(
        companies=[
            CompanyConfig(
                id=DEMO_COMPANY_ID,
                name="Fjord Kayak AS",
                consumer_token=f"demo-consumer-{secrets.token_hex(16)}",
                employee_token=f"demo-employee-{secrets.token_hex(16)}",
                extra_accounts=[
                    AccountSpec(number=1580, name="Stripe clearing"),
                    AccountSpec(number=1581, name="Vipps clearing"),
                    AccountSpec(number=1582, name="Dintero clearing"),
                ],
            )
        ]
    )


def setup_demo(data_dir: Path, emulator_port: int, feed: Path) -> None:
    """Write (once) the emulator config with random tokens, and the connections file Airflow reads.

    Tokens go only to files in the ignored data folder: the emulator's config and the connections
    file of Airflow's local-filesystem secrets backend.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    config_path = data_dir / "emulator.yaml"
    if config_path.exists():
        cfg = load_config(config_path)
    else:
        cfg = demo_emulator_config()
        write_config(config_path, cfg)
        config_path.chmod(0o600)
    company = cfg.companies[0]
    connections = {
        "tripletex_fjord_kayak": {
            "conn_type": "tripletex",
            "host": f"http://127.0.0.1:{emulator_port}/v2",
            "login": company.consumer_token,
            "password": company.employee_token,
            "extra": {"company_id": 0},
        },
        "bookspot_fjord_kayak": {
            "conn_type": "bookspot",
            "description": "Demo: the BookSpot JSON Lines export of the worked example",
            "extra": {"feed_file": str(feed.resolve())},
        },
    }
    path = data_dir / "connections.json"
    path.write_text(json.dumps(connections, indent=2), encoding="utf-8")
    path.chmod(0o600)
