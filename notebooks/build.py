"""Regenerate the committed notebooks: pair each .py source with its .ipynb and execute it.

    python notebooks/build.py                    # every notebook, full settings (the committed outputs)
    python notebooks/build.py 01 04              # only the notebooks whose names start so
    python notebooks/build.py --small            # the small CI setting (PHYSNET_NOTEBOOK_SMALL=1)

For each ``notebooks/NN_name.py`` (jupytext percent format, the reviewed source) this writes
``NN_name.ipynb`` from it (``jupytext --update --to ipynb``: the .py wins, cell ids are kept),
executes the notebook top to bottom with nbclient in a kernel of the Python running this script
(so the current virtual environment's physnet), with matplotlib's inline backend so the figures
are stored in the notebook, and writes the outputs into the .ipynb. A failing cell stops that
notebook, whose .ipynb then keeps its previous outputs (exit status 1); the others still run. The notebook's
working directory is a temporary folder (nothing is written next to the notebooks).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from ipykernel.kernelspec import get_kernel_dict
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = Path(__file__).resolve().parent
SMALL_ENV = "PHYSNET_NOTEBOOK_SMALL"


class _CurrentPython(KernelSpecManager):
    """Every kernel name resolves to an IPython kernel of ``sys.executable``."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(resource_dir="", **get_kernel_dict())


def notebooks(prefixes: list[str] | None = None) -> list[Path]:
    """The .py sources ``notebooks/[0-9]*.py``, or those whose names start with a prefix."""
    paths = sorted(HERE.glob("[0-9]*.py"))
    if prefixes:
        paths = [p for p in paths if any(p.name.startswith(s) for s in prefixes)]
    return paths


def sync(py: Path) -> Path:
    """Write ``py``'s paired .ipynb from the .py (outputs and cell ids of an existing .ipynb
    kept where the cells are unchanged); returns the .ipynb path."""
    subprocess.run(
        [sys.executable, "-m", "jupytext", "--quiet", "--update", "--to", "ipynb", str(py)],
        check=True,
    )
    return py.with_suffix(".ipynb")


def execute(nb, *, small: bool, cwd: Path, timeout: int = 3600):
    """Execute ``nb`` in place (a fresh kernel of this Python, working directory ``cwd``);
    ``small`` sets ``PHYSNET_NOTEBOOK_SMALL=1``. Raises ``CellExecutionError`` on an error."""
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the kernel's inline backend: figures go into the notebook
    # tqdm (imported by a dependency) warns in a kernel without ipywidgets; not the reader's concern
    env["PYTHONWARNINGS"] = ",".join(
        w for w in (env.get("PYTHONWARNINGS"), "ignore:IProgress not found") if w
    )
    if small:
        env[SMALL_ENV] = "1"
    else:
        env.pop(SMALL_ENV, None)
    km = KernelManager(kernel_name="python3", kernel_spec_manager=_CurrentPython())
    client = NotebookClient(
        nb,
        km=km,
        timeout=timeout,
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    # nbclient starts the kernel with the manager's environment; pass ours explicitly.
    client.execute(env=env)
    return nb


def build(py: Path, *, small: bool = False, timeout: int = 3600) -> Path:
    """Sync ``py`` to its .ipynb, execute it and write the outputs into the .ipynb."""
    ipynb = sync(py)
    nb = nbformat.read(ipynb, as_version=4)
    with tempfile.TemporaryDirectory() as cwd:
        execute(nb, small=small, cwd=Path(cwd), timeout=timeout)
    nbformat.write(nb, ipynb)
    return ipynb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="notebook name prefixes (default: all)")
    parser.add_argument("--small", action="store_true", help=f"small setting ({SMALL_ENV}=1)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args(argv)
    paths = notebooks(args.names)
    if not paths:
        parser.error(f"no notebook in {HERE} matches {args.names}")
    failed = []
    for py in paths:
        t0 = time.perf_counter()
        print(f"{py.name} ...", flush=True)
        try:
            build(py, small=args.small, timeout=args.timeout)
        except CellExecutionError as err:
            failed.append(py.name)
            print(f"  FAILED: {str(err).strip().splitlines()[-1]}", flush=True)
            continue
        print(f"  wrote {py.with_suffix('.ipynb').name} ({time.perf_counter() - t0:.0f} s)")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
