"""Every notebook runs top to bottom on its small setting through the command that builds the
committed notebooks (notebooks/build.py), and its committed .ipynb (executed or not) is the
jupytext pair of the reviewed .py percent file."""

import importlib.util
import os
import shutil
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.py"))


def _code(nb):
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_ipynb_is_paired_with_the_py_file(path):
    ipynb = path.with_suffix(".ipynb")
    assert ipynb.is_file(), f"run: python notebooks/build.py {path.stem}"
    assert _code(jupytext.read(path)) == _code(nbformat.read(ipynb, as_version=4)), (
        f"{ipynb.name} is out of date: run python notebooks/build.py {path.stem}"
    )


def _load_build():
    """notebooks/build.py, the command that regenerates the committed notebooks."""
    spec = importlib.util.spec_from_file_location(
        "notebooks_build", ROOT / "notebooks" / "build.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: the notebooks that take minutes each even at --small (run with -m slow); their executed
#: outputs are committed and their pairing is still checked in the default suite
SLOW_NOTEBOOKS = {"04_kan_xy", "09_structures", "10_kan_vs_mlp"}


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, marks=pytest.mark.slow) if p.stem in SLOW_NOTEBOOKS else p for p in NOTEBOOKS],
    ids=lambda p: p.stem,
)
def test_notebook_runs(path, tmp_path, monkeypatch):
    """`python notebooks/build.py --small` on a copy: the notebook runs top to bottom, the
    written .ipynb holds every cell's outputs, each figure once, and stays paired."""
    monkeypatch.setenv("JAX_PLATFORMS", os.environ.get("JAX_PLATFORMS", "cpu"))
    py = tmp_path / path.name
    shutil.copy(path, py)
    if path.with_suffix(".ipynb").is_file():
        shutil.copy(path.with_suffix(".ipynb"), py.with_suffix(".ipynb"))
    ipynb = _load_build().build(py, small=True, timeout=600)
    nb = nbformat.read(ipynb, as_version=4)
    assert _code(nb) == _code(jupytext.read(path))
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    if "plotting import" in path.read_text():
        assert images, "no figure in the executed notebook"
    # a cell ending in a Figure expression would show it twice (returned value + inline)
    assert not [o for o in images if o.output_type == "execute_result"], "end the cell: plt.show()"
