"""The product package's layers point one way: every import (also those inside functions) is read with
`ast` and checked against the order below; the doubles in `bookspot_devkit` are never imported."""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "bookspot_tripletex"
ROOT = Path(__file__).resolve().parents[1] / "plugins" / PACKAGE

BOTTOM = {
    PACKAGE,
    "domain",
    "money",
    "settings",
    "timeutil",
    "sqlfiles",
    "connection_form",
    "retry",
    "masking",
}
"""Facts and small utilities: they import only each other."""
BELOW_PIPELINE = ("tenants", "tripletex")
"""Tenant settings and the Tripletex client: above the bottom, below every pipeline stage."""
STAGES = ("feed", "staging", "journal", "validation", "load")
"""The pipeline's stages in order: a stage may import earlier ones, never later ones."""
ORCHESTRATION = {
    "pipeline",
    "tasks",
    "cli",
    "activation_cli",
    "__main__",
    "connections",
    "triage",
    "alerts",
    "review",
    "steps",
}
"""Top-level modules (and the review screen) that wire the stages together; they may import anything
(but see FORBIDDEN)."""
LOAD_ORDER = (
    "load",
    "load.errors",
    "load.state",
    "load.claims",
    "load.binding",
    "load.doubts",
    "load.reads",
    "load.ids",
    "load.periods",
    "load.approval",
    "load.activation",
    "load.protocol",
    "load.readback",
    "load.send",
    "load.corrections",
    "load.post",
    "load.reconcile",
    "load.ledger",
)
"""Inside `load`, a module imports only those before it: one voucher's protocol (`send`) under the
corrections, the day (`post`) over its corrections, and reconciliation over both, never back."""
FORBIDDEN = {("cli", "tasks")}
"""Orchestration edges that are never allowed, directly or through other modules: the command line
runs without the Airflow task layer."""

RANK = {
    **dict.fromkeys(BOTTOM, 0),
    **dict.fromkeys(BELOW_PIPELINE, 1),
    **{stage: 2 + i for i, stage in enumerate(STAGES)},
    **dict.fromkeys(ORCHESTRATION, 2 + len(STAGES)),
}

KNOWN_EXCEPTIONS: frozenset[tuple[str, str]] = frozenset(
    {
        # Provider metadata registers both connection types; it belongs at the top of the package.
        ("tripletex.provider", "feed.provider"),
    }
)
"""Module imports that break the rules today, listed so that any new one fails; each names its fix."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py")) if "migrations" not in p.parts}


def imported(name: str, path: Path) -> Iterator[str]:
    """Every module of the package or of bookspot_devkit that `name` imports, anywhere in its code."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = [PACKAGE, *name.split(".")] if name else [PACKAGE]
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target == PACKAGE or target.startswith((f"{PACKAGE}.", "bookspot_devkit")):
                yield target


def edges() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (names relative to the package; "" is the package)."""
    known = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        for target in imported(name, path):
            if target.startswith("bookspot_devkit"):
                graph[name].add(target)
                continue
            relative = target.removeprefix(PACKAGE).removeprefix(".")
            if relative in known and relative != name:
                graph[name].add(relative)
    return graph


def unit(module: str) -> str:
    """The layer unit of a module: its subpackage, or the top-level module itself."""
    return module.split(".")[0] if module else PACKAGE


def violations() -> set[tuple[str, str]]:
    """Imports of the doubles, imports of a later layer, and the imports through which a FORBIDDEN
    source reaches its target."""
    graph = edges()
    found = set()
    for source, targets in graph.items():
        for target in targets:
            if target.startswith("bookspot_devkit") or RANK[unit(target)] > RANK[unit(source)]:
                found.add((source, target))
    for source, target in FORBIDDEN:
        for module in {source} | reachable(graph, source):
            if target in graph.get(module, ()):
                found.add((module, target))
    return found


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_unit_has_a_layer() -> None:
    assert {unit(m) for m in modules()} <= set(RANK), "give the new module or subpackage a layer here"


def test_layers_point_one_way() -> None:
    order = " < ".join(("bottom", "tenants/tripletex", *STAGES, "orchestration"))
    new = violations() - KNOWN_EXCEPTIONS
    assert not new, f"imports against the layers ({order}) or FORBIDDEN: {sorted(new)}"


def test_the_known_exceptions_are_still_needed() -> None:
    stale = KNOWN_EXCEPTIONS - violations()
    assert not stale, f"fixed: remove from KNOWN_EXCEPTIONS: {sorted(stale)}"


def test_the_product_never_imports_its_doubles() -> None:
    devkit = {(s, t) for s, targets in edges().items() for t in targets if t.startswith("bookspot_devkit")}
    assert not devkit


def test_no_cycles_between_subpackages() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for source, targets in edges().items():
        for target in targets:
            if unit(source) != unit(target) and (source, target) not in KNOWN_EXCEPTIONS:
                graph[unit(source)].add(unit(target))
    cycles = sorted(u for u in graph if u in reachable(graph, u))
    assert not cycles, f"subpackages in an import cycle: {cycles}"


def test_every_load_module_has_a_place() -> None:
    assert {m for m in modules() if unit(m) == "load"} == set(LOAD_ORDER), "give it a place in LOAD_ORDER"


def test_load_points_one_way() -> None:
    rank = {name: i for i, name in enumerate(LOAD_ORDER)}
    graph = edges()
    back = sorted(
        (source, target)
        for source in LOAD_ORDER
        for target in graph.get(source, ())
        if unit(target) == "load" and rank[target] >= rank[source]
    )
    assert not back, f"load/ imports against LOAD_ORDER: {back}"


def test_post_corrections_and_reconcile_never_import_each_other_back() -> None:
    graph = edges()
    three = ("load.post", "load.corrections", "load.reconcile")
    both_ways = sorted(
        (a, b)
        for a in three
        for b in three
        if a < b and b in reachable(graph, a) and a in reachable(graph, b)
    )
    assert not both_ways, f"import cycles in load/: {both_ways}"
    assert not {"load.post", "load.reconcile"} & reachable(graph, "load.corrections")
    assert "load.reconcile" not in reachable(graph, "load.post")
    assert "load.post" not in reachable(graph, "load.reconcile")


def test_the_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    code = "def f():\n    from bookspot_tripletex.load import post\n    from ..journal import build\n"
    path.write_text(code)
    found = set(imported("staging.m", path))
    assert {"bookspot_tripletex.load.post", "bookspot_tripletex.journal.build"} <= found
