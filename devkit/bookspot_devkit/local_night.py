"""A night of many simulated tenants wired for a multi-process Airflow: the simulator demo's set-up (BookSpot
simulator, one emulator company per tenant, a connection per tenant), the tenants imported into staging,
and the doubles started as processes of an `AirflowCluster`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import requests
import yaml

from bookspot_devkit.airflow_cluster import AirflowCluster
from bookspot_devkit.httpserver import free_port


@dataclasses.dataclass(frozen=True)
class LocalNight:
    data: Path
    emulator_port: int
    simulator_port: int
    tenant_files: list[Path]
    companies: dict[str, int]

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    @property
    def simulator_url(self) -> str:
        return f"http://127.0.0.1:{self.simulator_port}"

    def airflow_env(self, staging_url: str, connections: str = "metadata") -> dict[str, str]:
        """What the pipeline's tasks read: staging, reports and, with `connections="backend"`, the
        workers' secrets backend (`connections_folder`). Environment variables would not hold 20,000
        connections (the OS limits a process's environment), and Airflow's local-filesystem backend
        parses the whole file on every look-up."""
        env = {
            "BOOKSPOT_DATA_DIR": str(self.data),
            "BOOKSPOT_STAGING_URL": staging_url,
            "BOOKSPOT_REPORTS_DIR": str(self.data / "reports"),
        }
        if connections == "backend":
            env["AIRFLOW__WORKERS__SECRETS_BACKEND"] = "bookspot_devkit.secrets_dir.DirectorySecretsBackend"
            env["AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS"] = json.dumps(
                {"connections_dir": str(self.connections_folder)}
            )
        return env

    @property
    def connections(self) -> dict[str, dict]:
        return json.loads((self.data / "connections.json").read_text(encoding="utf-8"))

    @property
    def connections_folder(self) -> Path:
        return self.data / "connections"

    def import_connections(self, cluster: AirflowCluster, timeout: float = 1800) -> int:
        """Every tenant's connections into the cluster's metadata database with `airflow connections
        import` (after `db migrate`); how many. Each connection it reads registers its password with the
        process's secrets masker, which compiles one pattern of every secret so far each time: 2,000
        connections take minutes, 20,000 hours (`insert_connections` is the fast way)."""
        path = self.data / "connections.json"
        cluster.cli("connections", "import", "--overwrite", str(path), timeout=timeout)
        return len(self.connections)

    def insert_connections(self, metadata_url: str) -> int:
        """Every tenant's connections into the metadata database's `connection` table in one statement,
        unencrypted, as Airflow keeps them without a Fernet key (the benchmark sets none); how many."""
        from sqlalchemy import MetaData, Table, create_engine

        engine = create_engine(metadata_url)
        table = Table("connection", MetaData(), autoload_with=engine)
        rows = [
            {
                "conn_id": conn_id,
                "conn_type": value["conn_type"],
                "description": value.get("description"),
                "host": value.get("host"),
                "password": value.get("password"),
                "extra": json.dumps(value["extra"]) if value.get("extra") else None,
                "is_encrypted": False,
                "is_extra_encrypted": False,
            }
            for conn_id, value in self.connections.items()
        ]
        with engine.begin() as conn:
            conn.execute(table.delete().where(table.c.conn_id.in_([r["conn_id"] for r in rows])))
            conn.execute(table.insert(), rows)
        engine.dispose()
        return len(rows)

    def write_connections(self) -> int:
        """Every tenant's connections into the workers' secrets backend (one file each); how many."""
        from bookspot_devkit.secrets_dir import write_connections

        return write_connections(self.connections_folder, self.connections)

    def start_doubles(self, cluster: AirflowCluster, timeout: float = 300) -> None:
        """The emulator and the simulator as processes of the cluster; returns once both answer."""
        py, data = sys.executable, str(self.data)
        cluster.start(
            "emulator",
            [py, "-m", "bookspot_devkit", "emulator", "--port", str(self.emulator_port),
             "--config", f"{data}/emulator.yaml"],
        )  # fmt: skip
        cluster.start(
            "simulator",
            [py, "-m", "bookspot_devkit", "simulator", "serve", "--port", str(self.simulator_port),
             "--config", f"{data}/simulator.yaml"],
        )  # fmt: skip
        cluster.wait_http(f"{self.emulator_url}/_emulator/health", timeout)
        cluster.wait_http(f"http://127.0.0.1:{self.simulator_port}/_sim/clock", timeout)

    def add_day(
        self,
        day: dt.date,
        tenants: Sequence[str],
        transactions_per_day: float,
        seed: int = 7,
        arrived: dt.datetime | None = None,
    ) -> int:
        """A later day's BookSpot records into the running simulator, as if they arrived at `arrived`
        (default: now): every version of the day's records, in order, one microsecond apart, so that the
        next extract (whose window ends at the pipeline's own clock) takes them. How many."""
        from bookspot_devkit.simulator.generator import TenantGenerator

        arrived = arrived or dt.datetime.now(dt.UTC)
        rate = transactions_per_day / volume_factor(tenants, day, day, seed)
        added = 0
        with requests.Session() as http:
            for tenant in tenants:
                records = []
                generator = TenantGenerator(tenant, seed, transactions_per_day=rate)
                for index, record in enumerate(generator.iter_records(day, day)):
                    stamp = arrived + dt.timedelta(microseconds=index)
                    records.append({**record, "updated_at": stamp.isoformat().replace("+00:00", "Z")})
                reply = http.post(
                    f"{self.simulator_url}/_sim/accounts/{tenant}/transactions", json=records, timeout=120
                )
                reply.raise_for_status()
                added += len(records)
        return added

    def emulator_vouchers(self) -> int:
        """Vouchers the emulator holds, over every company."""
        reply = requests.get(f"{self.emulator_url}/_emulator/companies", timeout=120)
        reply.raise_for_status()
        return sum(int(c["vouchers"]) for c in reply.json()["values"])


def local_night(
    data: Path,
    tenants: Sequence[str],
    first: dt.date,
    last: dt.date,
    transactions_per_day: float,
    seed: int = 7,
) -> LocalNight:
    """The simulator demo's files for `tenants`, with BookSpot data for the days `first..last`, about
    `transactions_per_day` a tenant-day on those days (the simulator's season and weekday swings divided
    out)."""
    from bookspot_devkit.demo import company_ids, setup_simulator_demo

    emulator_port, simulator_port = free_port(), free_port()
    files = setup_simulator_demo(data, emulator_port, simulator_port, tenants, last)
    sim_path = data / "simulator.yaml"
    sim = yaml.safe_load(sim_path.read_text(encoding="utf-8"))
    rate = transactions_per_day / volume_factor(tenants, first, last, seed)
    sim.update(seed=seed, date_from=first.isoformat(), transactions_per_day=rate)
    sim_path.write_text(yaml.safe_dump(sim, sort_keys=False), encoding="utf-8")
    known = company_ids(data)
    return LocalNight(data, emulator_port, simulator_port, files, {t: known[t] for t in tenants})


def volume_factor(tenants: Sequence[str], first: dt.date, last: dt.date, seed: int) -> float:
    """The simulator's mean season x weekday factor over the tenants and days."""
    from bookspot_devkit.simulator.generator import _SEASON_FACTORS, _WEEKDAY_FACTORS, tenant_profile

    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    seasons = [tenant_profile(t, seed).season for t in tenants]
    factors = [_SEASON_FACTORS[s][d.month - 1] * _WEEKDAY_FACTORS[d.weekday()] for s in seasons for d in days]
    return sum(factors) / len(factors)


def import_tenants(staging_url: str, files: Sequence[Path], first: dt.date) -> None:
    """Migrate staging and import the tenant files, starting (their mapping in force) on `first`."""
    from bookspot_tripletex.staging.db import make_engine, migrate
    from bookspot_tripletex.tenants.config import load_tenant_file
    from bookspot_tripletex.tenants.store import import_tenant

    engine = make_engine(staging_url)
    migrate(engine)
    with engine.begin() as conn:
        for path in files:
            cfg = load_tenant_file(path)
            mapping = dataclasses.replace(cfg.mappings[0], valid_from=first)
            import_tenant(conn, dataclasses.replace(cfg, start_date=first, mappings=(mapping,)))
    engine.dispose()
