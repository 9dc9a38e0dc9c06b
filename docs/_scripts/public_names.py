"""physnet's public names, read from the source (no import), for the API reference and its test.

A package's public names are what its ``__init__.py`` exports: explicit re-exports
(``from ._x import Y as Y``, the convention of DESIGN.md) and the non-underscore names it
defines itself (functions, classes, assignments). The packages are ``physnet`` and every
non-underscore sub-package. Each name is followed through its re-exports to the module that
defines it (its *home* is the public package nearest that module), and the docstring is read
there: a function's or class's docstring, or for an assignment the string literal right after
it (the attribute docstring that mkdocstrings renders).
"""

from __future__ import annotations

import ast
import dataclasses
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "physnet"


@dataclasses.dataclass(frozen=True)
class PublicName:
    """One public name of one package, with the place that defines it."""

    package: str  # the package exporting it, e.g. "physnet.models"
    name: str  # the exported name, e.g. "HNN"
    module: str  # the module that defines it, e.g. "physnet.models._hnn"
    kind: str  # "module", "class", "function" or "attribute"
    docstring: str | None
    line: int  # where it is defined in ``module``'s file (0 for a module)

    @property
    def path(self) -> str:
        """The exported dotted path, e.g. ``physnet.models.HNN``."""
        return f"{self.package}.{self.name}"

    @property
    def home(self) -> str:
        """The public package whose page documents it: the nearest to ``module``."""
        if self.kind == "module":
            return self.module
        parts = self.module.split(".")
        while any(p.startswith("_") for p in parts[1:]):
            parts.pop()
        return ".".join(parts)


def module_file(module: str) -> Path:
    """The source file of a physnet module (a package's ``__init__.py``)."""
    base = ROOT.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


@cache
def _tree(module: str) -> ast.Module:
    return ast.parse(module_file(module).read_text(encoding="utf-8"))


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The absolute module of a ``from ... import`` in ``module``."""
    if node.level == 0:
        return node.module or ""
    package = module if module_file(module).name == "__init__.py" else module.rpartition(".")[0]
    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def packages() -> list[str]:
    """``physnet`` and its non-underscore sub-packages, sorted."""
    root = ROOT / PACKAGE
    subs = sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith("_") and (p / "__init__.py").is_file()
    )
    return [PACKAGE] + [f"{PACKAGE}.{s}" for s in subs]


def _attribute_docstring(body: list[ast.stmt], i: int) -> str | None:
    if i + 1 < len(body):
        nxt = body[i + 1]
        if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
            if isinstance(nxt.value.value, str):
                return nxt.value.value
    return None


def _define(module: str, name: str, depth: int = 0) -> PublicName:
    """Follow ``name`` in ``module`` to its definition."""
    if depth > 10:
        raise RuntimeError(f"import cycle for {name} in {module}")
    body = _tree(module).body
    for i, node in reversed(list(enumerate(body))):  # the last binding wins
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            return PublicName("", name, module, kind, ast.get_docstring(node), node.lineno)
        targets = []
        if isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets = [node.target.id]
        if name in targets:
            doc = _attribute_docstring(body, i)
            return PublicName("", name, module, "attribute", doc, node.lineno)
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    source = _absolute(module, node)
                    if (
                        source.startswith(PACKAGE)
                        and module_file(f"{source}.{alias.name}").exists()
                    ):
                        sub = f"{source}.{alias.name}"  # a submodule
                        doc = ast.get_docstring(_tree(sub))
                        return PublicName("", name, sub, "module", doc, 0)
                    if not source.startswith(PACKAGE):
                        raise LookupError(f"{module}.{name} comes from outside physnet ({source})")
                    return _define(source, alias.name, depth + 1)
    raise LookupError(f"{name} is not defined in {module}")


def exported(package: str) -> list[str]:
    """The names ``package``'s ``__init__.py`` exports, in source order."""
    names = []
    for node in _tree(package).body:
        if isinstance(node, ast.ImportFrom | ast.Import):
            names += [
                a.asname for a in node.names if a.asname and a.asname == a.name.split(".")[-1]
            ]
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    public = [n for n in names if not n.startswith("_")]
    return list(dict.fromkeys(public))


def public_names() -> list[PublicName]:
    """Every public name of every package, with its definition."""
    out = []
    for package in packages():
        for name in exported(package):
            d = _define(package, name)
            out.append(dataclasses.replace(d, package=package, name=name))
    return out
