"""The package's shape, read from its source with `ast`: imports run one way (no circles), none is
hidden inside a function, no module is longer than 700 lines, and every module says what it is for.

Each check returns the list of what is wrong, so a failure names every offender; each is also run
on a small synthetic package written to tmp_path that breaks it, to prove it can fail.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

TESTS = Path(__file__).parent
PACKAGE_DIR = TESTS.parent / "playground"
MAX_LINES = 700
ImportNode = ast.Import | ast.ImportFrom


def module_files(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the package (a package is its __init__.py)."""
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _targets(node: ImportNode, module: str, is_package: bool, known: set[str]) -> list[str]:
    """The package's modules an import statement names (empty for imports from elsewhere)."""
    root = next(iter(sorted(known, key=len)))
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base_parts = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
            base = ".".join(base_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
    out = []
    for name in names:
        if name != root and not name.startswith(root + "."):
            continue
        while name not in known and "." in name:  # `import playground.x.attr` style: the longest module
            name = name.rsplit(".", 1)[0]
        if name in known and name not in out:
            out.append(name)
    return out


def _imports(tree: ast.Module) -> tuple[list[ImportNode], list[tuple[ImportNode, str]]]:
    """(imports that run when the module is imported, (imports inside a function, its qualified name))."""
    top: list[ImportNode] = []
    local: list[tuple[ImportNode, str]] = []

    def walk(node: ast.AST, function: str | None, scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                if function is None:
                    top.append(child)
                else:
                    local.append((child, function))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                walk(child, scope + child.name, f"{scope}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                walk(child, function, f"{scope}{child.name}.")
            elif isinstance(child, ast.Lambda):
                walk(child, function or f"{scope}<lambda>", scope)
            else:
                walk(child, function, scope)

    walk(tree, None, "")
    return top, local


@functools.cache
def _parsed(package_dir: Path) -> dict[str, tuple[Path, ast.Module]]:
    return {name: (path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
            for name, path in module_files(package_dir).items()}


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports at module level (`if TYPE_CHECKING:` blocks included)."""
    parsed = _parsed(package_dir)
    known = set(parsed)
    graph = {}
    for name, (path, tree) in parsed.items():
        top, _ = _imports(tree)
        graph[name] = {t for node in top for t in _targets(node, name, path.name == "__init__.py", known)} - {name}
    return graph


def import_cycles(package_dir: Path) -> list[str]:
    """Every import circle among the package's modules (one per strongly connected group), as
    'a -> b -> a'."""
    graph = import_graph(package_dir)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [" -> ".join(_cycle_in(group, graph)) for group in sorted(groups)]


def _cycle_in(group: list[str], graph: dict[str, set[str]]) -> list[str]:
    """One concrete circle through the first module of a strongly connected group."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:  # breadth first, so the circle shown is a shortest one
        nxt_frontier = []
        for node in frontier:
            for nxt in sorted(graph[node] & members):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    return group


def local_imports(package_dir: Path) -> list[str]:
    """Every import of one of the package's modules made inside a function, as 'path:line in f: module'."""
    parsed = _parsed(package_dir)
    known = set(parsed)
    found = []
    for name, (path, tree) in parsed.items():
        _, local = _imports(tree)
        for node, function in local:
            for target in _targets(node, name, path.name == "__init__.py", known):
                found.append(f"{path.relative_to(package_dir.parent)}:{node.lineno} in {function}(): {target}")
    return found


def long_modules(package_dir: Path, limit: int = MAX_LINES) -> list[str]:
    """Every module longer than `limit` lines, as 'path: N lines'."""
    out = []
    for path in module_files(package_dir).values():
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > limit:
            out.append(f"{path.relative_to(package_dir.parent)}: {count} lines")
    return out


def undocumented_modules(package_dir: Path) -> list[str]:
    """Every module without a module docstring."""
    return [str(path.relative_to(package_dir.parent)) for path, tree in _parsed(package_dir).values()
            if not (ast.get_docstring(tree) or "").strip()]


# -- the playground ---------------------------------------------------------------------------------

def test_no_import_circles() -> None:
    cycles = import_cycles(PACKAGE_DIR)
    assert not cycles, "import circles among playground modules:\n" + "\n".join(cycles)


def test_no_function_local_imports_of_playground_modules() -> None:
    found = local_imports(PACKAGE_DIR)
    assert not found, ("playground modules imported inside functions (import them at module level; only heavy "
                       "third-party libraries are imported lazily):\n" + "\n".join(found))


def test_no_module_over_700_lines() -> None:
    found = long_modules(PACKAGE_DIR)
    assert not found, f"modules over {MAX_LINES} lines:\n" + "\n".join(found)


def test_every_module_has_a_docstring() -> None:
    found = undocumented_modules(PACKAGE_DIR)
    assert not found, "modules without a docstring:\n" + "\n".join(found)


def test_the_checks_see_the_real_package() -> None:
    graph = import_graph(PACKAGE_DIR)
    assert "playground.presets" in graph and "playground.catalog" in graph and "playground.ui.api" in graph
    assert "playground.request" in graph["playground.validation"]
    assert "playground.catalog" in graph["playground.validation"]


# -- each check can fail ----------------------------------------------------------------------------

def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


def test_each_check_fails_on_a_package_that_breaks_it(tmp_path: Path) -> None:
    package = _write(tmp_path, {
        "__init__.py": '"""A package."""\n',
        "a.py": '"""a."""\nfrom pkg import b\n',
        "b.py": '"""b."""\nimport pkg.sub.c\n',
        "sub/__init__.py": '"""sub."""\n',
        "sub/c.py": '"""c."""\nfrom ..a import thing\n',  # a -> b -> sub.c -> a
        "d.py": '"""d."""\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.e import E\n',
        "e.py": '"""e."""\nimport json\n\nfrom pkg import d\n\n\ndef f():\n    from pkg.a import x\n'
                '    import os\n    return lambda: __import__("json")\n\n\nclass K:\n    def m(self):\n'
                '        from . import b\n',
        "long.py": '"""long."""\n' + "x = 1\n" * MAX_LINES,
        "nodoc.py": "x = 1\n",
        "ok.py": '"""Fine: imports the package from far away only."""\nimport json\n',
    })
    assert import_cycles(package) == ["pkg.a -> pkg.b -> pkg.sub.c -> pkg.a", "pkg.d -> pkg.e -> pkg.d"]
    assert local_imports(package) == ["pkg/e.py:8 in f(): pkg.a", "pkg/e.py:15 in K.m(): pkg.b"]
    assert long_modules(package) == [f"pkg/long.py: {MAX_LINES + 1} lines"]
    assert undocumented_modules(package) == ["pkg/nodoc.py"]


def test_a_package_in_good_shape_passes_every_check(tmp_path: Path) -> None:
    package = _write(tmp_path, {
        "__init__.py": '"""A package."""\n',
        "low.py": '"""low."""\nimport json\n',
        "high.py": '"""high."""\nfrom pkg import low\nfrom pkg.low import json\n\n\ndef f():\n    import torch\n',
        "exact.py": '"""exact."""\n' + "x = 1\n" * (MAX_LINES - 1),
    })
    assert import_cycles(package) == []
    assert local_imports(package) == []
    assert long_modules(package) == []
    assert undocumented_modules(package) == []
