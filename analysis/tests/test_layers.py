"""The report package is layered: load -> stats -> model -> fleet/render -> report, no cycle."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]


def imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "analysis":
                    found |= {alias.name for alias in node.names}
                elif node.module.startswith("analysis."):
                    found.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("analysis.")}
        graph[path.stem] = found - {path.stem}
    return graph


def test_no_module_of_the_report_imports_itself_back() -> None:
    graph = imports()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, set()))

    cycles = [m for m in graph if reaches(m, m, {m})]
    assert cycles == [], f"import cycles through {cycles}: {graph}"


def test_the_layers_point_one_way() -> None:
    graph = imports()
    assert graph["window"] == set() and graph["precision"] == set() and graph["contract"] == set()
    assert "model" not in graph["stats"] | graph["load"]
    assert "report" not in graph["model"] | graph["fleet"] | graph["render"]
    assert "fleet" not in graph["render"] and "render" not in graph["fleet"]
