"""No import circle runs through ``fastrl.replay``, nor anywhere else in ``fastrl``.

The graph is read from the source with ``ast``: every ``import`` of a ``fastrl`` module, at the top of a file
or inside a function (a deferred import still closes a circle, only later), but not those under
``if TYPE_CHECKING:``, which never run. Edges go to the module named, or to the submodule where
``from package import name`` names one. A circle anywhere in ``fastrl`` fails the test when one of its
modules is in ``fastrl.replay``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import fastrl

ROOT = Path(fastrl.__file__).parent


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except what sits under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the modules of the package at ``root`` that it imports."""
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = graph.setdefault(name, set())
        for node in runtime_nodes(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in files)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the package, up level - 1
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base]).strip(".")
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    edges.add(target if target in files else base)
        edges.discard(name)
        edges.intersection_update(files)
    return graph


def cycles_through(graph: dict[str, set[str]], prefix: str) -> list[list[str]]:
    """One circle per strongly connected component (Tarjan) that holds a module starting with ``prefix``."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
            if len(component) > 1 and any(m.startswith(prefix) for m in component):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_runs_through_the_replay():
    graph = import_graph()
    assert "fastrl.replay.buffer" in graph and "fastrl.replay.priorities" in graph
    assert cycles_through(graph, "fastrl.replay") == []


def test_the_check_finds_a_circle():
    graph = {"fastrl.replay.a": {"fastrl.replay.b"}, "fastrl.replay.b": {"fastrl.x"}, "fastrl.x": {"fastrl.replay.a"},
             "fastrl.y": {"fastrl.replay.a"}}
    assert cycles_through(graph, "fastrl.replay") == [["fastrl.replay.a", "fastrl.replay.b", "fastrl.x"]]


def test_the_graph_sees_deferred_imports_and_skips_type_checking_ones(tmp_path):
    package = tmp_path / "fastrl"
    (package / "replay").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "replay" / "__init__.py").write_text("")
    (package / "replay" / "a.py").write_text("def f():\n    from fastrl.replay import b\n")
    (package / "replay" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from fastrl.replay.a import f\n"
        "from . import c\n")
    (package / "replay" / "c.py").write_text("")
    graph = import_graph(package)
    assert graph["fastrl.replay.a"] == {"fastrl.replay.b"}
    assert graph["fastrl.replay.b"] == {"fastrl.replay.c"}


def test_no_import_circle_anywhere_in_fastrl():
    assert cycles_through(import_graph(), "fastrl") == []
