"""Two rules of the codebase's shape, read from the source (no import of it): no import cycle between the modules of
our packages, and no ``assert self.<dependency> is not None`` — an object whose dependencies are filled in after it
is built, and then asserted, is the shape the bootstraps replaced (a dependency is given to the constructor, or
passed to the method that needs it)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = sorted([*ROOT.glob("*/src/*/__init__.py"), *ROOT.glob("ticket-frontend/api/*/__init__.py")])


def modules() -> dict[str, Path]:
    """Every module of our packages by its dotted name."""
    found: dict[str, Path] = {}
    for init in PACKAGE_DIRS:
        package_dir = init.parent
        for path in package_dir.rglob("*.py"):
            parts = path.relative_to(package_dir.parent).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _module_level(tree: ast.Module) -> list[ast.stmt]:
    """The statements run at import: the module's own, and those inside top-level if/try blocks (not under
    ``if TYPE_CHECKING``)."""
    out: list[ast.stmt] = []
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If):
            if "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            pending += node.body + node.orelse
        elif isinstance(node, ast.Try):
            pending += node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
        else:
            out.append(node)
    return out


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of ours that ``name`` imports when it is imported."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    edges: set[str] = set()
    for node in _module_level(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # ``import a.b.c`` imports a, a.b and a.b.c
                target = target.rpartition(".")[0]
            if target and target != name:
                edges.add(target)
    return edges


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_imports_when_every_package_is_read_then_no_module_imports_itself_through_others():
    known = modules()
    assert len(known) > 150  # every package was found
    graph = {name: imports_of(name, path, known) & set(known) for name, path in known.items()}

    assert cycles(graph) == []


def test_cycles_when_two_modules_import_each_other_then_found():
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def asserted_attributes(source: str) -> list[str]:
    """``assert self.x is not None`` (alone or in an ``and``) in a source text, as ``self.x``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Assert):
            continue
        tests = node.test.values if isinstance(node.test, ast.BoolOp) else [node.test]
        for test in tests:
            if (isinstance(test, ast.Compare) and isinstance(test.ops[0], ast.IsNot)
                    and isinstance(test.left, ast.Attribute) and isinstance(test.left.value, ast.Name)
                    and test.left.value.id == "self"):
                found.append(ast.unparse(test.left))
    return found


def test_asserts_when_the_source_is_read_then_no_dependency_is_asserted_into_being():
    offending = {f"{path.relative_to(ROOT)}": attrs for path in [*modules().values(), *ROOT.glob("bench/*.py")]
                 if (attrs := asserted_attributes(path.read_text()))}

    assert offending == {}


def test_asserted_attributes_when_a_dependency_is_asserted_then_found():
    source = "def f(self, x):\n    assert self._js is not None and self._nc is not None\n    assert x is not None\n"
    assert asserted_attributes(source) == ["self._js", "self._nc"]
