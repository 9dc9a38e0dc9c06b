"""The package's shape, read statically: import cycles, upward imports and module sizes.

The module graph is built from the source with :mod:`ast` (nothing is imported), counting
module-level and function-level imports alike. An edge ``A -> B`` means that executing ``A``'s
import statement executes module ``B``; that includes the ``__init__`` of every package on the
way to ``B`` that is not already an ancestor of ``A`` (``from ..data._split import x`` in
``physnet.models`` runs ``physnet/data/__init__.py`` too), because that is what Python runs.
Imports under ``if TYPE_CHECKING:`` never run, so they make no import cycle; they still count
as dependencies for the layers (an annotation naming a higher layer's class is an upward
import).

Run ``python tests/test_structure.py`` for the report (cycles, upward imports, long modules).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "physnet"

#: Longest module allowed (lines).
MAX_LINES = 600

#: Modules still over :data:`MAX_LINES` (being split; remove an entry once its file is short).
LONG_MODULES: set[str] = set()

#: Layers, bottom first. A module may import from its own top-level unit (the sub-package or
#: the top-level module it belongs to) and from units on a strictly lower layer; units sharing a
#: layer know nothing of each other. ``physnet`` (the root ``__init__``) re-exports everything
#: and sits on top. From DESIGN.md: "systems/integrators/data know nothing of models; models
#: know nothing of training; analysis, interpret, plotting and cli sit on top".
LAYERS: list[set[str]] = [
    {"_errors", "_version"},  # the error hierarchy, the version string
    {"_checks", "_formula"},  # option validators; user formulas to sympy (raise ConfigError)
    {"_classpath"},  # a user's class by import path (module:Class)
    {"_io", "_compilation_cache"},  # output safety, JAX's persistent cache location
    {"signals"},  # input signals u(t): interpolated samples, excitations, formulas
    {"systems", "integrators", "approximators"},  # pure parts
    {"data"},  # Trajectories, generate (systems + integrators), import, splits, noise, I/O
    {"datasets", "models"},  # shipped records (data); vector fields (approximators)
    {"_build", "_checkpoint"},  # models from names; models to and from files
    {"training"},  # losses, the loop, fits
    {"evaluation", "interpret"},  # rollouts and metrics (training's losses); read-outs
    {"runs", "compare", "benchmarks", "control"},  # run directories; approximator comparisons;
    # dysts benchmark; controllers designed from models, run on systems
    {"analysis", "plotting"},  # NTK, chaos, comparisons; figures
    {"reproduce"},  # the paper experiments
    {"cli"},  # the physnet command
    {"physnet"},  # the public API
]
RANK = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _type_checking_only(tree: ast.Module) -> set[ast.AST]:
    """The import statements under ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``)."""
    found = set()
    for node in ast.walk(tree):
        test = getattr(node, "test", None)
        if isinstance(node, ast.If) and (
            (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
        ):
            for stmt in node.body:
                found |= {n for n in ast.walk(stmt) if isinstance(n, ast.Import | ast.ImportFrom)}
    return found


def imports(modules: dict[str, Path]) -> dict[str, list[tuple[str, int, str, bool]]]:
    """``{module: [(imported module, line, name, runs), ...]}`` of every physnet import
    statement: the module a name comes from (a submodule where the name is one, else the
    package), and whether the import runs (False under ``if TYPE_CHECKING:``)."""
    found: dict[str, list[tuple[str, int, str, bool]]] = {}
    for module, path in modules.items():
        package = module if _is_package(path) else module.rpartition(".")[0]
        targets = []
        tree = ast.parse(path.read_text(), str(path))
        typing_only = _type_checking_only(tree)
        for node in ast.walk(tree):
            runs = node not in typing_only
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1])
                    base = f"{base}.{node.module}" if node.module else base
                else:
                    base = node.module or ""
                if base.split(".")[0] != "physnet":
                    continue
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    target = sub if sub in modules else base
                    targets.append((target, node.lineno, alias.name, runs))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "physnet":
                        targets.append((alias.name, node.lineno, alias.name, runs))
        found[module] = targets
    return found


def graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules its imports execute (package ``__init__`` files on the way
    included, except the importer's own ancestors, which are already running)."""
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for module, targets in imports(modules).items():
        own = set(_ancestors(module))
        for target, _, _, runs in targets:
            if not runs:
                continue
            for step in [*_ancestors(target), target]:
                if step not in own and step != module and step in modules:
                    edges[module].add(step)
    return edges


def components(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
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
            if len(component) > 1:
                components.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(components)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle through each strongly connected component, as ``[a, b, ..., a]``."""
    return [_one_cycle(edges, set(c)) for c in components(edges)]


def _one_cycle(edges: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the first module of a strongly connected component."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(edges[v] & component):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"{sorted(component)} is not strongly connected")


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def upward_imports(modules: dict[str, Path]) -> list[str]:
    """Imports that point up: a name read from an ancestor package's ``__init__`` (``from ..
    import __version__``), or an import of a unit on a higher layer (or another unit on the
    same layer) of :data:`LAYERS`."""
    found = []
    for module, targets in imports(modules).items():
        path = modules[module].relative_to(ROOT)
        ancestors = set(_ancestors(module))
        for target, line, name, _ in targets:
            where = f"{path}:{line}: {module} imports {name!r} from {target}"
            if target in ancestors:
                found.append(f"{where} (an ancestor package's __init__)")
                continue
            a, b = _unit(module), _unit(target)
            if a == b:
                continue
            if a not in RANK or b not in RANK:
                found.append(f"{where} ({a if a not in RANK else b} has no layer in LAYERS)")
            elif RANK[b] >= RANK[a]:
                relation = "the same layer" if RANK[b] == RANK[a] else "a higher layer"
                found.append(f"{where} ({b} is on {relation} than {a})")
    return found


def _bound_names(body: list[ast.stmt]) -> set[str]:
    """The names a module's top level binds (through ``if``/``try``/``with`` blocks too)."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        for field in ("body", "orelse", "finalbody", "handlers"):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names |= _bound_names(getattr(node, field, []))
    return names


def missing_names(modules: dict[str, Path]) -> list[str]:
    """``from physnet.x import name`` where module ``x`` binds no ``name`` (an import that
    fails when it runs, e.g. in a function no test calls)."""
    bound = {m: _bound_names(ast.parse(p.read_text()).body) for m, p in modules.items()}
    found = []
    for module, targets in imports(modules).items():
        for target, line, name, _ in targets:
            if target in modules and target != f"{target.rpartition('.')[0]}.{name}":
                if name != "*" and name not in bound[target] and "__getattr__" not in bound[target]:
                    path = modules[module].relative_to(ROOT)
                    found.append(f"{path}:{line}: {target} has no {name!r}")
    return found


def long_modules(modules: dict[str, Path]) -> dict[str, int]:
    lengths = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in modules.values()}
    return {p: n for p, n in lengths.items() if n > MAX_LINES}


def test_no_import_cycles():
    found = cycles(graph(_modules()))
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_no_upward_imports():
    found = upward_imports(_modules())
    assert not found, "upward imports:\n" + "\n".join(found)


def test_every_imported_name_exists():
    found = missing_names(_modules())
    assert not found, "imports of names that do not exist:\n" + "\n".join(found)


def test_every_unit_has_a_layer():
    units = {_unit(m) for m in _modules()}
    assert units <= set(RANK), f"add {sorted(units - set(RANK))} to LAYERS"


def test_no_module_over_the_line_limit_outside_the_allow_list():
    found = long_modules(_modules())
    assert set(found) <= LONG_MODULES, f"over {MAX_LINES} lines: {found}"


def test_the_allow_list_names_only_long_modules():
    """An entry whose file was split (or removed) leaves the list."""
    assert LONG_MODULES <= set(long_modules(_modules())), "shorten LONG_MODULES"


def test_the_checker_finds_each_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c", "a"]]
    assert components({**edges, "d": {"e"}, "e": {"d"}}) == [["a", "b", "c"], ["d", "e"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def _report() -> str:
    modules = _modules()
    edges = graph(modules)
    found = components(edges)
    lines = [f"import cycles (strongly connected components): {len(found)}"]
    for component in found:
        lines += ["  " + " -> ".join(_one_cycle(edges, set(component)))]
        lines += [f"    ({len(component)} modules: {', '.join(component)})"]
    upward = upward_imports(modules)
    lines += [f"upward imports: {len(upward)}"] + ["  " + u for u in upward]
    missing = missing_names(modules)
    lines += [f"imports of names that do not exist: {len(missing)}"] + ["  " + m for m in missing]
    long = long_modules(modules)
    lines += [f"modules over {MAX_LINES} lines: {len(long)}"]
    lines += [f"  {p}: {n}" for p, n in sorted(long.items(), key=lambda kv: -kv[1])]
    return "\n".join(lines)


if __name__ == "__main__":
    print(_report())
