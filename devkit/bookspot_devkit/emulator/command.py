"""`bookspot-devkit emulator --config FILE [--state-file FILE]`: serve until killed."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from .app import create_app
from .config import EmulatorConfig, load_config
from .persistence import StateFileError
from .state import EmulatorState


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--config", help="YAML or JSON file (see bookspot_devkit.emulator.config)")
    parser.add_argument(
        "--state-file",
        help="SQLite file keeping vouchers, accounts and numbering across restarts (read if it exists, "
        "each change written as it happens); without it the state lives in memory only",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config) if args.config else EmulatorConfig()
    try:
        state = EmulatorState(config, args.state_file)
    except StateFileError as exc:
        sys.exit(f"Tripletex emulator: {exc}")
    app = create_app(state)
    kept = f", state in {args.state_file}" if args.state_file else ""
    print(
        f"Tripletex emulator: http://{args.host}:{args.port}/v2 ({len(config.companies)} companies{kept})",
        flush=True,
    )
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", lifespan="off")
    finally:
        state.close()
    return 0
