"""Facts about the code base that the architecture section of the README quotes.

    python scripts/code_facts.py

Prints the largest modules, every function over 60 lines, the project imports made inside functions
(and the file-level import cycles they stand in for) and import-linter's verdict on the layers.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agent", "tools", "plugins", "graphs")
LONG_FUNCTION = 60


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _project(name: str, known: dict[str, Path]) -> str | None:
    """The project module an import names (a name imported from a module counts as that module)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _imported(node: ast.AST, module: str, is_package: bool, known: dict[str, Path]) -> set[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = module.split(".")
        if node.level:
            base = base[:len(base) - node.level + (1 if is_package else 0)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        names = [f"{prefix}.{alias.name}" for alias in node.names] or [prefix]
    return {m for m in (_project(n, known) for n in names) if m and m != module}


def imports(known: dict[str, Path]) -> tuple[dict[str, set[str]], dict[str, set[str]], int]:
    """(imports at module level, imports inside functions, how many import statements sit in functions)."""
    top: dict[str, set[str]] = {m: set() for m in known}
    inner: dict[str, set[str]] = {m: set() for m in known}
    inside = 0

    for module, path in known.items():
        is_package = path.name == "__init__.py"

        def visit(node: ast.AST, in_function: bool) -> None:
            nonlocal inside
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    names = _imported(child, module, is_package, known)
                    (inner if in_function else top)[module] |= names
                    inside += bool(names and in_function)
                elif isinstance(child, ast.If) and not in_function:
                    continue  # `if TYPE_CHECKING:` blocks import nothing at run time
                else:
                    visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

        visit(ast.parse(path.read_text()), False)
    return top, inner, inside


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other, directly or not (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for v in edges:
        if v not in index:
            connect(v)
    return sorted(groups)


def long_functions(known: dict[str, Path]) -> list[tuple[int, str]]:
    out = []
    for module, path in known.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > LONG_FUNCTION:
                    out.append((length, f"{module}.{node.name}"))
    return sorted(out, reverse=True)


def main() -> int:
    known = modules()
    sizes = sorted(((len(p.read_text().splitlines()), m) for m, p in known.items()), reverse=True)
    print(f"modules: {len(known)}, lines: {sum(n for n, _ in sizes)}")
    print("largest modules: " + ", ".join(f"{m} {n}" for n, m in sizes[:5]))
    longest = long_functions(known)
    print(f"functions over {LONG_FUNCTION} lines: {len(longest)}")
    for length, name in longest:
        print(f"  {length} {name}")
    top, inner, inside = imports(known)
    print(f"import cycles at module level: {len(cycles(top))}")
    both = {m: top[m] | inner[m] for m in known}
    groups = cycles(both)
    print(f"project imports inside functions: {inside}; cycles they stand in for: {len(groups)}")
    for group in groups:
        print("  " + " <-> ".join(group))
    lint = Path(sys.executable).with_name("lint-imports")
    if lint.exists():
        done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
        verdict = next((line for line in done.stdout.splitlines() if "kept" in line and "broken" in line), "?")
        print(f"import-linter layers: {verdict.strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
