"""The package reads as the pipeline: no module imports a later stage, and no import cycles.

Drawn from the code's own import statements (those inside functions too), as the design pictures
in ../shared/design are. The one arrow allowed back up is `maskfer/__init__.py`'s lazy re-export
of the prediction API; every module may read `maskfer.__version__`.
"""

import ast
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "maskfer"

# Lowest first. A module may import its own layer and the layers below it, never one above.
LAYERS = [
    {"errors", "labels"},
    {"core"},
    {"data", "weights"},
    {"faces"},
    {"masks"},
    {"features"},
    {"models"},
    {"evaluation"},
    {"report"},
    {"training", "prediction", "study"},
    {"card"},
    {"web"},
    {"cli"},
    {"__main__"},
]
RANK = {room: rank for rank, rooms in enumerate(LAYERS) for room in rooms}


def _room(module: str) -> str:
    return module.split(".")[1]


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=1)
def _imports() -> dict[str, frozenset[str]]:
    """Module name -> the maskfer modules it imports, anywhere in the file (`from a import b`: a.b if b is a module)."""
    modules = {_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module for a in node.names}
        graph[name] = frozenset(m for m in found if m.startswith("maskfer.") and m in modules)
    return graph


def test_every_room_has_a_layer():
    rooms = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert rooms - {"__init__"} == set(RANK), "a new folder or module needs its place in LAYERS (and README's layout)"


def test_no_module_imports_a_later_stage():
    upward = [f"{module} -> {target}" for module, targets in _imports().items() if module != "maskfer"
              for target in targets if RANK[_room(target)] > RANK[_room(module)]]
    assert upward == []


def test_no_import_cycles():
    graph = {m: targets for m, targets in _imports().items() if m != "maskfer"}
    state, cycles = {}, []

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                cycles.append(" -> ".join(path[path.index(target):] + [target]) if target in path else f"{node} -> {target}")
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_no_function_is_longer_than_a_reader_holds_in_mind():
    import ast

    long = [f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for path in PACKAGE.rglob("*.py") for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60]
    assert not long, f"split these (60 lines at most): {long}"


def test_no_private_name_crosses_a_module():
    import ast

    crossing = [f"{path.relative_to(PACKAGE)}: {node.module}.{alias.name}"
                for path in PACKAGE.rglob("*.py") for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("maskfer")
                for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert not crossing, f"make these public or keep them in their module: {crossing}"


def test_the_readme_layout_table_lists_every_room_in_the_order_of_the_layers():
    import itertools
    import re

    readme = (PACKAGE.parents[1] / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(readme) if line.startswith("| folder | what it holds"))
    rows = itertools.takewhile(lambda line: line.startswith("|"), readme[start + 2:])
    listed = [re.match(r"\| `([a-z_]+)(?:/|\.py)` \|", row).group(1) for row in rows]
    assert set(listed) == set(RANK) - {"errors", "labels", "__main__"}, "README's layout table and LAYERS name other rooms"
    ranks = [RANK[room] for room in listed]
    assert ranks == sorted(ranks), f"README's layout table is out of the layers' order: {listed}"
