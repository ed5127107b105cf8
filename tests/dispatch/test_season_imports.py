"""The season package's imports run one way: no cycle, and the model never imports the report.

The graph is read from the source with `ast`, not by importing: every `dispatch.season.*`
import counts, at module level, inside a function or under `if TYPE_CHECKING:`, since an
import moved into a function to dodge a cycle is still a cycle.

Report modules are `report` and `report_*` (tables, charts, the HTML page, the terminal
summary); every other module of the package is the model, which they may import.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "dispatch.season"
SEASON_DIR = Path(__file__).resolve().parents[2] / "dispatch" / "season"


def _modules() -> dict[str, Path]:
    return {p.stem: p for p in sorted(SEASON_DIR.glob("*.py")) if p.stem != "__init__"}


def _imported(node: ast.AST, modules: set[str]) -> set[str]:
    """The package's modules one import statement names."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
        return {
            n.removeprefix(PACKAGE + ".").split(".")[0]
            for n in names
            if n.startswith(PACKAGE + ".")
        } & modules
    if not isinstance(node, ast.ImportFrom):
        return set()
    if node.level == 1:  # from . import x / from .x import y
        base = node.module or ""
    elif node.level == 0 and node.module == PACKAGE:
        base = ""
    elif node.level == 0 and node.module and node.module.startswith(PACKAGE + "."):
        base = node.module.removeprefix(PACKAGE + ".")
    else:
        return set()
    if base:
        return {base.split(".")[0]} & modules
    return {a.name for a in node.names} & modules  # from dispatch.season import figures


def import_graph() -> dict[str, set[str]]:
    """module -> the package's modules it imports (anywhere in its source)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[name] = set()
        for node in ast.walk(tree):
            graph[name] |= _imported(node, set(modules))
        graph[name].discard(name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None when the graph is acyclic."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def is_report(module: str) -> bool:
    return module == "report" or module.startswith("report_")


def test_the_graph_is_read():
    graph = import_graph()
    assert "figures" in graph["simulator"]
    assert "simulator" in graph["report"]
    # `from dispatch.season import figures` counts too
    assert "figures" in graph["report_html"]


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_season_imports_have_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle in dispatch.season: " + " -> ".join(cycle or [])


def test_the_model_never_imports_the_report():
    graph = import_graph()
    wrong = {
        f"{module} -> {target}"
        for module, targets in graph.items()
        if not is_report(module)
        for target in targets
        if is_report(target)
    }
    assert not wrong, f"model modules importing the report: {sorted(wrong)}"
    assert any(is_report(m) for m in graph) and any(not is_report(m) for m in graph)
