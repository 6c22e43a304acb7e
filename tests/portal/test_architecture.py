"""The structure holds: import contracts (.importlinter) and no import cycles anywhere in the project."""

import sys
from pathlib import Path

import grimp
import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
PACKAGES = ("portal", "catalog", "guides", "provisioning")


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), i.e. imports that run in a circle."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10000))
    try:
        for node in sorted(edges):
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_anywhere_in_the_project(monkeypatch):
    """Every import counts, also those inside functions (grimp reads them all)."""
    monkeypatch.syspath_prepend(str(BASE_DIR))
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    edges = {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}
    assert _cycles(edges) == []


def test_import_contracts_hold(monkeypatch, capsys):
    """Layers of provisioning, independent driver families, the web never reaching the engine (see .importlinter)."""
    from importlinter.cli import lint_imports

    monkeypatch.syspath_prepend(str(BASE_DIR))
    monkeypatch.chdir(BASE_DIR)
    code = lint_imports(config_filename=str(BASE_DIR / ".importlinter"), no_cache=True)
    assert code == 0, capsys.readouterr().out


@pytest.mark.parametrize("package", ["local", "kubernetes", "terraform", "postgres", "s3"])
def test_each_driver_family_is_a_package(package):
    assert (BASE_DIR / "provisioning" / "drivers" / package / "__init__.py").exists()
