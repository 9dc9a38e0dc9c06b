"""Every public name of physnet and its sub-packages has a docstring that opens with a one-line
summary (issue 32): the API reference (docs/, mkdocstrings) renders exactly these docstrings.

The public names are read from the source by docs/_scripts/public_names.py, the list the API
reference is generated from: what each package's ``__init__.py`` exports (``from ._x import Y
as Y`` and the names it defines), followed to the definition; for a constant, its attribute
docstring (the string literal after the assignment).
"""

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _public_names_module():
    path = ROOT / "docs" / "_scripts" / "public_names.py"
    spec = importlib.util.spec_from_file_location("_physnet_public_names", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


NAMES = _public_names_module().public_names()


def _summary_problem(doc: str | None) -> str | None:
    """Why ``doc`` does not open with a one-line summary, or None."""
    if doc is None or not doc.strip():
        return "no docstring"
    lines = inspect.cleandoc(doc).splitlines()
    first = lines[0]
    if not first.strip():
        return "the first line is empty"
    if len(lines) > 1 and lines[1].strip():
        return f"the summary runs onto a second line: {first!r}"
    if not first.rstrip().endswith("."):
        return f"the summary is not a sentence ending in '.': {first!r}"
    return None


def test_the_public_names_are_found():
    packages = {n.package for n in NAMES}
    assert {"physnet", "physnet.models", "physnet.training", "physnet.cli"} <= packages
    assert len(NAMES) > 300  # 384 when this test was written
    for n in NAMES:
        assert hasattr(importlib.import_module(n.package), n.name), n.path


def test_every_public_name_has_a_one_line_summary():
    problems = [
        f"{n.path} ({n.module}:{n.line}): {why}"
        for n in NAMES
        if (why := _summary_problem(n.docstring)) is not None
    ]
    assert not problems, f"{len(problems)} of {len(NAMES)}:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "doc, ok",
    [
        ("One line.", True),
        ("Summary.\n\n    Details.", True),
        ("Summary that\n    wraps.", False),
        ("No full stop", False),
        (None, False),
    ],
)
def test_the_summary_rule(doc, ok):
    assert (_summary_problem(doc) is None) == ok
