"""The package's shape: layers that point one way, no cycles, no god modules.

See "Architecture" in CONTRIBUTING.md. The layer contracts live in pyproject.toml
(import-linter); the cycle and size checks below read the source with ``ast`` so they
also see imports inside functions.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ittybit_frames"
#: The one deliberate lazy import of our own code: JobFrames.to_parquet -> the lake
#: writer (as pandas' DataFrame.to_parquet imports its writer when called).
ALLOWED_LAZY = {("ittybit_frames.frames._container", "ittybit_frames.lake")}
MAX_MODULE_LINES, MAX_CLASS_LINES, MAX_FUNCTION_LINES = 500, 200, 80


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _owner(name: str) -> str | None:
    """The module of ours that ``name`` refers to (a module, or a package's member)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str) -> Iterator[str]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            names = [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            target = _owner(name)
            if target is not None and target != module:
                yield target


def _graph() -> dict[str, set[str]]:
    graph = {m: set(_imports(m)) for m in MODULES}
    for source, target in ALLOWED_LAZY:
        graph.get(source, set()).discard(target)
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_import_linter_contracts_hold() -> None:
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_no_import_cycles_even_inside_functions() -> None:
    graph = _graph()
    graph.pop("ittybit_frames", None)  # the public surface; imports of it are tested below
    for edges in graph.values():
        edges.discard("ittybit_frames")
    assert _find_cycle(graph) is None


def test_nothing_imports_the_top_package() -> None:
    offenders = sorted(
        m for m in MODULES if m != "ittybit_frames" and "ittybit_frames" in set(_imports(m))
    )
    assert offenders == [], "import from the module that defines a name, not the package"


def test_cycle_finder_finds_a_cycle() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def _sizes() -> Iterator[tuple[str, str, int, int]]:
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        yield module, "module", len(path.read_text().splitlines()), MAX_MODULE_LINES
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                limit = MAX_CLASS_LINES
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                limit = MAX_FUNCTION_LINES
            else:
                continue
            assert node.end_lineno is not None
            yield (
                f"{module}.{node.name}",
                type(node).__name__,
                node.end_lineno - node.lineno + 1,
                limit,
            )


@pytest.mark.parametrize("kind", ["module", "ClassDef", "FunctionDef"])
def test_size_limits(kind: str) -> None:
    kinds = {"FunctionDef": {"FunctionDef", "AsyncFunctionDef"}}.get(kind, {kind})
    too_big = [
        f"{name}: {lines} lines (limit {limit})"
        for name, what, lines, limit in _sizes()
        if what in kinds and lines > limit
    ]
    assert too_big == []
