"""One command line for the doubles and tools: `emulator`, `simulator …`, `demo …` and `locks pin|check`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    from bookspot_devkit import demo, locks
    from bookspot_devkit.emulator import command as emulator
    from bookspot_devkit.simulator import command as simulator

    parser = argparse.ArgumentParser(prog="bookspot-devkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    emulator.add_arguments(sub.add_parser("emulator", help="serve the local Tripletex emulator"))
    simulator.add_arguments(sub.add_parser("simulator", help="the BookSpot simulator"))
    demo.add_arguments(sub.add_parser("demo", help="set up and report the demo night"))
    locks.add_arguments(sub.add_parser("locks", help="pin and check the extras of the hashed locks"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
