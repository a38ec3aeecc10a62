"""The import graph of `src/strom` follows the layer order written in docs/design.md: no
module imports one in a higher layer, and no two modules import each other (directly or round
a circle). Imports inside functions and under TYPE_CHECKING count too: a layer that needs a
higher one's names only for typing still depends on it."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "strom"
DESIGN = ROOT / "docs" / "design.md"


def _layers() -> dict[str, int]:
    """Top-level package or module → its layer (0 the bottom), from design.md's `layers` block."""
    match = re.search(r"```layers\n(.*?)```", DESIGN.read_text(), re.S)
    assert match, "docs/design.md has no ```layers block"
    rows = [line.split() for line in match.group(1).splitlines() if line.strip()]
    rows.reverse()  # written top layer first
    return {name: level for level, row in enumerate(rows) for name in row}


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(module: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The strom modules `module` imports (`from pkg import sub` names the submodule)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if path.name != "__init__.py":
                    base = base[:-1]
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            for alias in node.names:
                full = f"{name}.{alias.name}"
                if full in modules:
                    yield full
                elif name in modules:
                    yield name


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        mod: {dep for dep in _imports(mod, path, modules) if dep != mod}
        for mod, path in modules.items()
    }


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_package_has_a_layer() -> None:
    layers = _layers()
    tops = {_top(m) for m in _graph()} - {""}
    assert len(tops) >= 10
    assert sorted(tops - layers.keys()) == [], "add these to the layers block of docs/design.md"
    assert sorted(layers.keys() - tops) == [], "the layers block names what src/strom lacks"


def test_no_import_goes_up_a_layer() -> None:
    layers = _layers()
    graph = _graph()
    checked = 0
    upward = []
    for mod, deps in sorted(graph.items()):
        for dep in sorted(deps):
            if _top(mod) in ("", _top(dep)) or _top(dep) == "":
                continue
            checked += 1
            if layers[_top(dep)] > layers[_top(mod)]:
                upward.append(f"{mod} -> {dep}")
    assert checked > 150  # the walk found the cross-package imports (169 in December 2026)
    assert upward == []


def test_no_import_circle() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert len(index) > 100
    assert circles == []
