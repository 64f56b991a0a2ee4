"""The architecture's rules (docs/ARCHITECTURE.md), checked on the source.

The static graph holds every import of every first-party module, imports inside functions
included; only `if TYPE_CHECKING:` blocks are left out (they never run). A second check imports
each library in a fresh interpreter and looks at what really got loaded.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("nanke", "bot", "gallery", "inference", "pipeline", "prompt", "db", "migrations")
HEAVY = ("torch", "diffusers", "transformers", "compel", "peft", "accelerate")
# The only modules that may import HEAVY: the GPU side and building test models.
HEAVY_ALLOWED = ("inference.worker", "inference.tiny", "inference.trained_tiny")
# layer → layers it must never import (directly or from inside a function).
FORBIDDEN: dict[str, set[str]] = {
    "db": set(LAYERS) - {"db"},
    "prompt": set(LAYERS) - {"prompt"},
    "pipeline": {"nanke", "bot", "gallery", "inference", "migrations"},
    "inference": {"nanke", "bot", "gallery", "migrations"},
    "bot": {"nanke", "gallery", "migrations"},
    "gallery": {"nanke", "bot", "migrations"},
    "migrations": {"nanke", "bot", "gallery", "inference", "pipeline", "prompt"},
}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, Path]:
    found = {}
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module `name` imports (absolute names; `from pkg import sub` counts pkg.sub)."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            out.add(module)
            out.update(f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in known)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


GRAPH = _graph()


def _top(module: str) -> str:
    return module.split(".")[0]


def test_the_graph_covers_the_tree() -> None:
    assert {_top(m) for m in GRAPH} == set(LAYERS)
    assert len(GRAPH) > 100
    # imports inside functions are in the graph (the composition roots import lazily)
    assert "inference.worker.engine" in GRAPH["nanke.roots.cli_engine"]


def test_no_layer_imports_a_forbidden_one() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if _top(target) in FORBIDDEN.get(_top(module), set())
    )
    assert not wrong, "\n".join(wrong)


def test_only_the_gpu_side_imports_torch_and_diffusers() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if _top(target) in HEAVY and not module.startswith(HEAVY_ALLOWED)
    )
    assert not wrong, "\n".join(wrong)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    edges = {m: sorted(t for t in ts if t in graph and t != m) for m, ts in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(edges[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_no_import_cycles() -> None:
    assert not _cycles(GRAPH), _cycles(GRAPH)


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_only_nanke_reads_the_environment() -> None:
    readers = []
    for name, path in _modules().items():
        if _top(name) == "nanke":
            continue
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"}:
                readers.append(f"{name}:{node.lineno}")
    assert not readers, readers


def test_modules_and_functions_stay_small() -> None:
    """No module over 400 lines; a function over 60 lines says why in a `# long:` comment."""
    big = []
    for name, path in _modules().items():
        if name.startswith("migrations.versions"):
            continue  # generated, and each revision is read on its own
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        if len(lines) > MAX_MODULE_LINES:
            big.append(f"{name}: {len(lines)} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                length = node.end_lineno - node.lineno + 1
                body = lines[node.lineno - 1 : node.end_lineno]
                if length > MAX_FUNCTION_LINES and not any("# long:" in b for b in body[:20]):
                    big.append(f"{name}.{node.name}: {length} lines, no `# long:` reason")
    assert not big, "\n".join(big)


_PROBE = r"""
import importlib, json, pkgutil, sys
pkg_name, skip = sys.argv[1], tuple(json.loads(sys.argv[2]))
pkg = importlib.import_module(pkg_name)
names = [pkg_name]
for info in pkgutil.walk_packages(pkg.__path__, pkg_name + "."):
    if not info.name.startswith(skip):
        names.append(info.name)
        importlib.import_module(info.name)
print(json.dumps({"modules": names, "loaded": sorted(m.split(".")[0] for m in sys.modules)}))
"""


@pytest.mark.parametrize("package", ["bot", "db", "gallery", "inference", "pipeline", "prompt"])
def test_importing_a_library_loads_no_torch(package: str) -> None:
    """Importing every module (no work at import) of a torch-free library loads no torch."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, package, json.dumps(HEAVY_ALLOWED)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, f"importing {package} failed:\n{out.stderr}"
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(data["modules"]) > 1
    heavy = sorted(set(HEAVY) & set(data["loaded"]))
    assert not heavy, f"importing every module of {package} loaded {heavy}"
