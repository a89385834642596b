"""Cost of a voucher POST on the emulator with a state file, at few and many companies.

Prints, per company count: start-up time, median and 95th-percentile POST /ledger/voucher latency,
rows and bytes the state file took per POST, and the file's size.

Run: .venv/bin/python bench/emulator_writes.py [--companies 1 1000] [--posts 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / d) for d in ("plugins", "devkit")]

from bookspot_devkit.emulator.config import CompanyConfig, EmulatorConfig  # noqa: E402
from bookspot_devkit.emulator.errors import dumps  # noqa: E402
from bookspot_devkit.emulator.server import EmulatorServer  # noqa: E402

JSON = {"Content-Type": "application/json; charset=utf-8"}


def measure(companies: int, posts: int, folder: Path) -> dict[str, float]:
    config = EmulatorConfig(
        companies=[
            CompanyConfig(id=1000 + i, name=f"Firma {i} AS", consumer_token=f"c-{i}", employee_token=f"e-{i}")
            for i in range(companies)
        ]
    )
    state_file = folder / f"emulator-{companies}.sqlite"
    started = time.perf_counter()
    with EmulatorServer(config, state_file=state_file) as server:
        startup = time.perf_counter() - started
        store = server.state.store
        assert store is not None
        token = requests.put(
            f"{server.url}/token/session/:create",
            params={"consumerToken": "c-0", "employeeToken": "e-0", "expirationDate": "2099-01-01"},
            timeout=30,
        ).json()["value"]["token"]
        http = requests.Session()
        http.auth = ("0", token)
        accounts = http.get(f"{server.url}/ledger/account", params={"number": "1920,2990"}, timeout=30)
        ids = {a["number"]: a["id"] for a in accounts.json()["values"]}
        rows, written = store.stats.rows, store.stats.bytes
        latencies = []
        for i in range(posts):
            body = {
                "date": "2026-11-24",
                "description": f"Bench {i}",
                "externalVoucherNumber": f"bench-{i}",
                "postings": [
                    {"row": 1, "account": {"id": ids[1920]}, "amountGross": 100},
                    {"row": 2, "account": {"id": ids[2990]}, "amountGross": -100},
                ],
            }
            t0 = time.perf_counter()
            response = http.post(f"{server.url}/ledger/voucher", data=dumps(body), headers=JSON, timeout=30)
            latencies.append(time.perf_counter() - t0)
            assert response.status_code == 201, response.text
        per_post_rows = (store.stats.rows - rows) / posts
        per_post_bytes = (store.stats.bytes - written) / posts
    latencies.sort()
    return {
        "startup_s": startup,
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
        "rows_per_post": per_post_rows,
        "bytes_per_post": per_post_bytes,
        "file_mb": state_file.stat().st_size / 1e6,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, nargs="+", default=[1, 1000])
    parser.add_argument("--posts", type=int, default=200)
    args = parser.parse_args()
    print(
        f"{'companies':>9} {'start-up s':>10} {'median ms':>9} {'p95 ms':>7} "
        f"{'rows/POST':>9} {'bytes/POST':>10} {'file MB':>7}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for companies in args.companies:
            r = measure(companies, args.posts, Path(folder))
            print(
                f"{companies:>9} {r['startup_s']:>10.2f} {r['median_ms']:>9.2f} {r['p95_ms']:>7.2f} "
                f"{r['rows_per_post']:>9.1f} {r['bytes_per_post']:>10.0f} {r['file_mb']:>7.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
