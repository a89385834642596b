"""Hashed locks that pin every requirement, extras included.

pip in hash-checking mode treats `name[extra]` as a requirement of its own: unless the lock carries a
line `name[extra]==version` with the hashes, an older pip looks the extra up on the index and refuses
(or takes whatever was published since the lock was made). `uv pip compile` writes only the bare name.

`pin` walks the requirement graph from the `.in` files through each locked package's metadata
(`Requires-Dist`, markers evaluated for this interpreter, extras followed) and adds the missing
`name[extra]==version` lines; `check` reports every requirement the lock leaves unpinned, unlocked
or at a version its dependant does not accept.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

Metadata = Callable[[str, str], list[str]]
"""(name, version) -> that release's `Requires-Dist` strings."""

_ENTRY = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[(?P<extras>[^\]]+)\])?==(?P<version>\S+)")


@dataclass
class Lock:
    """A parsed requirements lock: versions by canonical name, the extras pinned, each entry's text."""

    versions: dict[str, str] = field(default_factory=dict)
    pinned_extras: set[tuple[str, str]] = field(default_factory=set)
    blocks: dict[str, str] = field(default_factory=dict)


def parse_lock(text: str) -> Lock:
    lock = Lock()
    entries = re.split(r"(?m)^(?=\S)", text)
    for block in entries:
        match = _ENTRY.match(block)
        if match is None:
            continue
        name = canonicalize_name(match["name"])
        lock.versions.setdefault(name, match["version"])
        if match["extras"]:
            lock.pinned_extras.update((name, canonicalize_name(e)) for e in match["extras"].split(","))
        else:
            lock.blocks[name] = block
    return lock


def roots(in_file: Path) -> list[Requirement]:
    """The direct requirements of an `.in` file, following `-r` includes."""
    found: list[Requirement] = []
    for raw in in_file.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(("-r ", "--requirement ")):
            found += roots(in_file.parent / line.split(None, 1)[1])
        elif not line.startswith("-"):
            found.append(Requirement(line))
    return found


@dataclass(frozen=True)
class Problem:
    """One requirement the lock does not satisfy on its own."""

    requirement: str
    wanted_by: str
    reason: str

    def __str__(self) -> str:
        return f"{self.requirement} (wanted by {self.wanted_by}): {self.reason}"


def _applies(req: Requirement, extra: str) -> bool:
    """Whether `req` is required on Python 3.11 here, for the dependant's `extra` ("" for none)."""
    if req.marker is None:
        return True
    env = {**default_environment(), "python_version": "3.11", "python_full_version": "3.11.0"}
    return req.marker.evaluate({**env, "extra": extra})


def walk(
    lock: Lock, direct: list[Requirement], requires: Metadata
) -> tuple[list[Problem], set[tuple[str, str]]]:
    """Follow every applicable requirement from `direct`; the problems, and the (name, extra) pairs used."""
    problems: dict[Problem, None] = {}
    extras_used: set[tuple[str, str]] = set()
    seen: set[tuple[str, str]] = set()
    queue: list[tuple[Requirement, str]] = [(r, "the .in file") for r in direct if _applies(r, "")]
    while queue:
        req, wanted_by = queue.pop()
        name = canonicalize_name(req.name)
        version = lock.versions.get(name)
        if version is None:
            problems[Problem(str(req), wanted_by, "not in the lock")] = None
            continue
        if req.specifier and not req.specifier.contains(Version(version), prereleases=True):
            problems[Problem(str(req), wanted_by, f"the lock pins {version}")] = None
        wanted = {canonicalize_name(e) for e in req.extras}
        for extra in wanted:
            extras_used.add((name, extra))
        for extra in ("", *sorted(wanted)):
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            for spec in requires(name, version):
                dep = Requirement(spec)
                if _applies(dep, extra):
                    queue.append((dep, f"{name}{f'[{extra}]' if extra else ''}=={version}"))
    for name, extra in sorted(extras_used):
        if (name, extra) not in lock.pinned_extras:
            problem = Problem(
                f"{name}[{extra}]", "the requirement graph", "extra not pinned on a line of its own"
            )
            problems[problem] = None
    return list(problems), extras_used


def installed_requires(name: str, version: str) -> list[str]:
    """`Requires-Dist` of the installed distribution (it must be the locked version)."""
    dist = metadata.distribution(name)
    if dist.version != version:
        raise LookupError(f"{name} {dist.version} is installed, the lock pins {version}")
    return list(dist.requires or [])


def index_requires(lock_file: Path) -> Metadata:
    """`Requires-Dist` of every locked release as the package index publishes it (pip's install report)."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--dry-run",
                "--ignore-installed",
                "--no-deps",
                "--require-hashes",
                "--report",
                str(report),
                "-r",
                str(lock_file),
            ],
            check=True,
        )
        items = json.loads(report.read_text(encoding="utf-8"))["install"]
    published = {
        (canonicalize_name(item["metadata"]["name"]), item["metadata"]["version"]): list(
            item["metadata"].get("requires_dist") or []
        )
        for item in items
    }

    def look_up(name: str, version: str) -> list[str]:
        return published[canonicalize_name(name), version]

    return look_up


def pin(lock_file: Path, in_file: Path, requires: Metadata) -> list[str]:
    """Add a `name[extra]==version` line, with the entry's hashes, for every extra the graph uses."""
    text = lock_file.read_text(encoding="utf-8")
    lock = parse_lock(text)
    _, used = walk(lock, roots(in_file), requires)
    added: list[str] = []
    for name, extra in sorted(used - lock.pinned_extras):
        block = lock.blocks[name]
        first, rest = block.split("\n", 1)
        head, tail = first.split("==", 1)
        line = f"{head}[{extra}]=={tail}"
        hashes = "".join(r + "\n" for r in rest.splitlines() if r.strip().startswith("--hash"))
        extra_block = f"{line}\n{hashes}    # via {name}[{extra}] (pinned by bookspot_devkit.locks)\n"
        text = text.replace(block, block + extra_block, 1)
        lock.blocks[name] = block + extra_block
        added.append(f"{name}[{extra}]=={lock.versions[name]}")
    lock_file.write_text(text, encoding="utf-8")
    return added


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["pin", "check"])
    parser.add_argument(
        "pairs", nargs="+", metavar="LOCK=IN", help="a lock and the .in file it was compiled from"
    )
    parser.add_argument(
        "--metadata", choices=["index", "installed"], default="index", help="where Requires-Dist is read"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    failed = False
    for pair in args.pairs:
        lock_name, in_name = pair.split("=", 1)
        lock_file, in_file = Path(lock_name), Path(in_name)
        requires = index_requires(lock_file) if args.metadata == "index" else installed_requires
        if args.action == "pin":
            for entry in pin(lock_file, in_file, requires):
                print(f"{lock_file}: pinned {entry}")
        problems, _ = walk(parse_lock(lock_file.read_text(encoding="utf-8")), roots(in_file), requires)
        for problem in problems:
            failed = True
            print(f"{lock_file}: {problem}")
    return 1 if failed else 0
