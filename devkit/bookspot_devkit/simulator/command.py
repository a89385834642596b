"""Command line: `export` a JSON Lines feed, `serve` the fake BookSpot API, print tenant `profiles`."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import signal
import sys
import threading
import time

from .generator import Knobs, tenant_ids, tenant_profile


def _knob(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=RATE, got {text!r}")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"rate of {name!r} must be a number, got {value!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="sim_command", required=True)

    export = commands.add_parser("export", help="write a JSON Lines feed of many tenants")
    export.add_argument("--out", required=True, help="file to write (parent folders are created)")
    who = export.add_mutually_exclusive_group(required=True)
    who.add_argument("--tenants", type=int, help="number of tenants: fjord-kayak, tenant-001, …")
    who.add_argument("--tenant", action="append", help="one account id (repeatable)")
    export.add_argument("--from", dest="date_from", type=dt.date.fromisoformat, required=True)
    export.add_argument("--to", dest="date_to", type=dt.date.fromisoformat, required=True, help="inclusive")
    export.add_argument("--seed", type=int, default=0)
    export.add_argument("--transactions-per-day", type=float, default=None, help="mean per tenant and day")
    export.add_argument(
        "--knob",
        type=_knob,
        action="append",
        default=[],
        metavar="NAME=RATE",
        help=f"a departure from a clean feed: {', '.join(f.name for f in dataclasses.fields(Knobs))}",
    )

    serve = commands.add_parser("serve", help="serve the BookSpot API on 127.0.0.1")
    serve.add_argument("--config", required=True, help="JSON or YAML simulator config (holds the tokens)")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--host", default=None)

    profiles = commands.add_parser("profiles", help="print the simulated tenants' profiles as JSON")
    profiles.add_argument("--tenants", type=int, required=True)
    profiles.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=run)


def _export(args: argparse.Namespace) -> int:
    from .export import write_jsonl

    knobs = dict(args.knob)
    Knobs.from_mapping(knobs)
    started = time.perf_counter()
    count = write_jsonl(
        args.out,
        args.tenant or args.tenants,
        args.date_from,
        args.date_to,
        args.seed,
        transactions_per_day=args.transactions_per_day,
        **knobs,
    )
    print(f"wrote {count} records to {args.out} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .server import SimulatorConfig, SimulatorServer

    config = SimulatorConfig.from_file(args.config)
    if args.port is not None:
        config = dataclasses.replace(config, port=args.port)
    if args.host is not None:
        config = dataclasses.replace(config, host=args.host)
    server = SimulatorServer(config)
    accounts = ", ".join(sorted(config.tokens))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored (a background job)
        signal.signal(signum, lambda *_: stop.set())
    try:
        server.start()
        print(f"BookSpot simulator on {server.url} (accounts: {accounts}); Ctrl+C stops it", file=sys.stderr)
        stop.wait()
    finally:
        server.stop()
    return 0


def _profiles(args: argparse.Namespace) -> int:
    profiles = [tenant_profile(t, args.seed).as_dict() for t in tenant_ids(args.tenants)]
    json.dump(profiles, sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return {"export": _export, "serve": _serve, "profiles": _profiles}[args.sim_command](args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
