"""`python -m bookspot_tripletex.emulator --config FILE`: serve the emulator until killed."""

from __future__ import annotations

import argparse

import uvicorn

from .app import create_app
from .config import EmulatorConfig, load_config
from .state import EmulatorState


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bookspot_tripletex.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--config", help="YAML or JSON file (see bookspot_tripletex.emulator.config)")
    args = parser.parse_args(argv)
    config = load_config(args.config) if args.config else EmulatorConfig()
    app = create_app(EmulatorState(config))
    print(
        f"Tripletex emulator: http://{args.host}:{args.port}/v2 ({len(config.companies)} companies)",
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
