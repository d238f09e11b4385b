"""No import cycle inside ``raygrid/`` and ``analysis/``.

Every module of both packages is parsed with :mod:`ast` (nothing is
imported). Its edges are the ``import x`` and ``from x import y``
statements anywhere in the file, at module level and inside functions
alike: a function-level import that closes a cycle still ties the two
modules together, it only defers the failure. Relative imports are
resolved against the importing module's package; ``from pkg import name``
is an edge to ``pkg.name`` when that is a module, else to ``pkg``.
Imports under ``if TYPE_CHECKING:`` are not edges (they never run).

Importing ``a.b.c`` first runs the ``__init__`` of its packages ``a`` and
``a.b``. From a module outside ``a.b`` that is an edge to ``a.b`` too: when
``a/b/__init__`` imports a module that imports the importer back, the
importer is found half-initialised (a cycle). From inside ``a.b`` it is not
an edge: the package is then already being initialised, the normal layout
of a package whose ``__init__`` re-exports its own submodules. A cycle is
reported with its modules in order.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("raygrid", "analysis")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Module name -> source file, for every module of :data:`PACKAGES`."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, skipping the bodies of ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node)


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def edges(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of :data:`PACKAGES` that module ``name`` imports."""
    out: set[str] = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                package = _package_of(name, path).split(".")
                anchor = ".".join(package[: len(package) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        for target in targets:
            while target and target not in known:  # ``import a.b.c`` of a name inside a module
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
                out.update(_outer_packages(name, target))
    return out


def _outer_packages(importer: str, target: str) -> Iterator[str]:
    """The packages whose ``__init__`` importing ``target`` from ``importer`` runs
    and that ``importer`` is not inside (the top-level package never counts)."""
    parts = target.split(".")
    for depth in range(2, len(parts)):
        package = ".".join(parts[:depth])
        if not (importer == package or importer.startswith(package + ".")):
            yield package


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules it imports (inside :data:`PACKAGES`)."""
    known = modules()
    return {name: edges(name, path, known) for name, path in known.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or ``None``."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_walker_sees_module_and_function_level_imports(tmp_path: Path) -> None:
    graph = import_graph()
    assert "raygrid.tasks.registry" in graph["raygrid.tasks.sources"]  # module level
    assert "raygrid.query" in graph["raygrid"]  # inside a function (the lazy best_config)
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import b\n"
        "if TYPE_CHECKING:\n"
        "    from pkg import c\n"
        "else:\n"
        "    import pkg.d.x\n"
        "def f():\n"
        "    from .e import name\n",
        encoding="utf-8",
    )
    known = dict.fromkeys(["pkg", "pkg.mod", "pkg.b", "pkg.c", "pkg.d", "pkg.e"], source)
    assert edges("pkg.mod", source, known) == {"pkg.b", "pkg.d", "pkg.e"}
    known.update(dict.fromkeys(["pkg.sub", "pkg.sub.leaf", "pkg.other"], source))
    source.write_text("from pkg.sub.leaf import x\n", encoding="utf-8")
    assert edges("pkg.other", source, known) == {"pkg.sub.leaf", "pkg.sub"}  # pkg/sub/__init__ runs first
    assert edges("pkg.sub.mod", source, known) == {"pkg.sub.leaf"}  # already initialising
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
