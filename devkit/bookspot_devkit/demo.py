"""The local demo's wiring: emulator companies with fresh tokens, the BookSpot source (the worked
example's file, or the simulator over HTTP for several tenants) and the Airflow connections to them."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from bookspot_devkit.emulator.config import (
    AccountSpec,
    CompanyConfig,
    EmulatorConfig,
    load_config,
    write_config,
)
from bookspot_tripletex.domain import organization_check_digit

DEMO_TENANT_FILE = Path(__file__).resolve().parents[2] / "demo" / "fjord-kayak.yaml"
"""The worked example's tenant file in the project's `demo/` folder (the devkit runs from a checkout)."""
DEMO_COMPANY_ID = 1001
DEMO_TENANT = "fjord-kayak"
SIMULATOR_TENANTS = ("fjord-kayak", "tenant-001", "tenant-002")
SIMULATOR_SEED = 2026
SIMULATOR_DAYS = 7
TENANTS_FILE = "demo-tenants.json"


def organization_number(company_id: int) -> str:
    """A valid (mod-11) made-up organisation number for an emulator company: 999 or 998, the id in five
    digits, the check digit (one of the two prefixes always has one)."""
    if not 0 < company_id < 100_000:
        raise ValueError(f"demo company ids have at most five digits, got {company_id}")
    for prefix in ("999", "998"):
        digit = organization_check_digit(f"{prefix}{company_id:05d}")
        if digit is not None:
            return f"{prefix}{company_id:05d}{digit}"
    raise AssertionError("unreachable: the prefixes differ by a weight-7 digit")


def _consumer_token() -> str:
    return f"demo-consumer-{secrets.token_hex(16)}"


def _company(company_id: int, name: str, consumer_token: str | None = None) -> CompanyConfig:
    return CompanyConfig(
        id=company_id,
        name=name,
        organization_number=organization_number(company_id),
        consumer_token=consumer_token or _consumer_token(),
        employee_token=f"demo-employee-{secrets.token_hex(16)}",
        extra_accounts=[
            AccountSpec(number=1580, name="Stripe clearing"),
            AccountSpec(number=1581, name="Vipps clearing"),
            AccountSpec(number=1582, name="Dintero clearing"),
        ],
    )


def demo_emulator_config() -> EmulatorConfig:
    return EmulatorConfig(companies=[_company(DEMO_COMPANY_ID, "Fjord Kayak AS")])


def _private(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text, encoding="utf-8")


def _tripletex_connection(company: CompanyConfig, emulator_port: int) -> dict[str, Any]:
    return {
        "conn_type": "tripletex",
        "host": f"http://127.0.0.1:{emulator_port}/v2",
        "password": company.employee_token,
        "extra": {"consumer_token": company.consumer_token, "company_id": 0},
    }


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
        "tripletex_fjord_kayak": _tripletex_connection(company, emulator_port),
        "bookspot_fjord_kayak": {
            "conn_type": "bookspot",
            "description": "Demo: the BookSpot JSON Lines export of the worked example",
            "extra": {"feed_file": str(feed.resolve())},
        },
    }
    path = data_dir / "connections.json"
    path.write_text(json.dumps(connections, indent=2), encoding="utf-8")
    path.chmod(0o600)


def _slug(tenant: str) -> str:
    return tenant.replace("-", "_")


def _simulator_config(path: Path, tenants: Sequence[str], day: dt.date) -> dict[str, Any]:
    """The simulator's config, kept across runs (its tokens with it); new tenants get new tokens."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    tokens = dict(data.get("tokens") or {})
    for tenant in tenants:
        tokens.setdefault(tenant, f"demo-bookspot-{secrets.token_urlsafe(24)}")
    data.update(
        seed=data.get("seed", SIMULATOR_SEED),
        date_from=(day - dt.timedelta(days=SIMULATOR_DAYS - 1)).isoformat(),
        date_to=day.isoformat(),
        tokens=tokens,
    )
    _private(path, yaml.safe_dump(data, sort_keys=False))
    return data


def _companies(
    path: Path, tenants: Sequence[str], names: dict[str, str], known: dict[str, int]
) -> EmulatorConfig:
    cfg = load_config(path) if path.exists() else EmulatorConfig()
    by_id = {c.id: c for c in cfg.companies}
    consumer = cfg.companies[0].consumer_token if cfg.companies else _consumer_token()
    next_id = max([DEMO_COMPANY_ID - 1, *by_id]) + 1
    for tenant in tenants:
        if known.get(tenant) in by_id:
            continue
        company_id = DEMO_COMPANY_ID if tenant == DEMO_TENANT and DEMO_COMPANY_ID not in by_id else next_id
        next_id = max(next_id, company_id + 1)
        by_id[company_id] = _company(company_id, names[tenant], consumer)
        known[tenant] = company_id
    cfg = EmulatorConfig(companies=sorted(by_id.values(), key=lambda c: c.id))
    write_config(path, cfg)
    path.chmod(0o600)
    return cfg


def _tenant_file(template: Path, target: Path, tenant: str, name: str, company_id: int) -> None:
    data = yaml.safe_load(template.read_text(encoding="utf-8"))
    data.update(
        tenant=tenant,
        name=name,
        tripletex_company_id=company_id,
        organization_number=organization_number(company_id),
        tripletex_conn_id=f"tripletex_{_slug(tenant)}",
        bookspot_conn_id=f"bookspot_{_slug(tenant)}",
    )
    target.write_text(
        f"# Demo tenant {tenant} (simulated by the BookSpot simulator), mapped like {template.name}\n"
        + yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )


def setup_simulator_demo(
    data_dir: Path,
    emulator_port: int,
    simulator_port: int,
    tenants: Sequence[str] = SIMULATOR_TENANTS,
    day: dt.date = dt.date(2026, 11, 24),
    template: Path = DEMO_TENANT_FILE,
) -> list[Path]:
    """Several tenants read over HTTP from the BookSpot simulator, one emulator company each.

    Writes into the data folder: `simulator.yaml` (its accounts, a week of data up to `day`, and one
    random token per account), `emulator.yaml` (a company per tenant; one consumer token serves them all,
    as BookSpot's serves every company in production), `connections.json` (a bookspot
    connection to the simulator and a tripletex connection per tenant), `demo-tenants.json` (tenant ->
    company id) and a tenant file for each tenant but the worked example's; returns the tenant files to
    import. Tokens are made on the first run and kept; they never leave the data folder.
    """
    from bookspot_devkit.simulator.generator import tenant_profile

    if not tenants:
        raise ValueError("the simulator demo needs at least one tenant")
    data_dir.mkdir(parents=True, exist_ok=True)
    sim = _simulator_config(data_dir / "simulator.yaml", tenants, day)
    names = {t: tenant_profile(t, int(sim["seed"])).name for t in tenants}
    known_path = data_dir / TENANTS_FILE
    known: dict[str, int] = json.loads(known_path.read_text(encoding="utf-8")) if known_path.exists() else {}
    emulator = _companies(data_dir / "emulator.yaml", tenants, names, known)
    companies = {c.id: c for c in emulator.companies}
    known_path.write_text(json.dumps(known, indent=2), encoding="utf-8")

    connections: dict[str, Any] = {}
    files: list[Path] = []
    folder = data_dir / "tenants"
    folder.mkdir(exist_ok=True)
    for tenant in tenants:
        if tenant == DEMO_TENANT and known[tenant] == DEMO_COMPANY_ID:
            files.append(template)
        else:
            files.append(folder / f"{tenant}.yaml")
            _tenant_file(template, files[-1], tenant, names[tenant], known[tenant])
        connections[f"tripletex_{_slug(tenant)}"] = _tripletex_connection(
            companies[known[tenant]], emulator_port
        )
        connections[f"bookspot_{_slug(tenant)}"] = {
            "conn_type": "bookspot",
            "description": f"Demo: BookSpot account {tenant} in the local BookSpot simulator",
            "host": f"http://127.0.0.1:{simulator_port}",
            "password": sim["tokens"][tenant],
        }
    _private(data_dir / "connections.json", json.dumps(connections, indent=2))
    return files


def company_ids(data_dir: Path) -> dict[str, int]:
    """Tenant -> emulator company id of the simulator demo; the worked example's company otherwise."""
    path = data_dir / TENANTS_FILE
    known = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return {DEMO_TENANT: DEMO_COMPANY_ID, **known}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`demo setup` (the worked example), `demo simulator` (simulated tenants), `demo report`."""
    sub = parser.add_subparsers(dest="demo_command", required=True)
    p = sub.add_parser("setup", help="write the demo's emulator config and Airflow connections")
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--emulator-port", type=int, default=8765)
    p.add_argument("--feed", required=True, type=Path)
    p.set_defaults(func=_setup)
    p = sub.add_parser("simulator", help="wire several simulated tenants to the simulator and the emulator")
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--emulator-port", type=int, default=8765)
    p.add_argument("--simulator-port", type=int, default=8766)
    p.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2026, 11, 24))
    p.add_argument("--template", type=Path, default=DEMO_TENANT_FILE)
    p.add_argument("tenants", nargs="*", default=list(SIMULATOR_TENANTS))
    p.set_defaults(func=_simulator)
    from bookspot_devkit import demo_report

    demo_report.add_arguments(sub.add_parser("report", help="print what the demo night posted"))


def _setup(args: argparse.Namespace) -> int:
    setup_demo(args.data_dir, args.emulator_port, args.feed)
    return 0


def _simulator(args: argparse.Namespace) -> int:
    """Set up the simulator demo and print the tenant files to import, one a line."""
    files = setup_simulator_demo(
        args.data_dir, args.emulator_port, args.simulator_port, args.tenants, args.day, args.template
    )
    print("\n".join(str(f) for f in files))
    return 0
