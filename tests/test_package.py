"""Package-level contracts: the version comes from the package metadata, and importing physnet
has no matplotlib side effect (the user's backend stays theirs)."""

import importlib.metadata
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import physnet

ROOT = Path(__file__).resolve().parents[1]

# Imports every physnet subpackage that draws, makes and saves a figure, then prints the backend.
_PROBE = """
import sys
{before}
import numpy as np
import physnet, physnet.plotting, physnet.reproduce, physnet.cli
import matplotlib
before_plot = matplotlib.get_backend()
fig = physnet.plotting.phase_portrait({{"true": np.zeros((3, 2))}})
physnet.plotting.save_figure(fig, sys.argv[1])
print(before_plot, matplotlib.get_backend())
"""


def _probe(tmp_path, env_changes: dict, before: str = "") -> list[str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "DISPLAY", "WAYLAND_DISPLAY")
    }
    env.update(env_changes, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    png = tmp_path / "fig.png"
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(before=before), str(png)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert png.stat().st_size > 1000
    return proc.stdout.split()


def test_version_is_the_package_metadata():
    assert physnet.__version__ == importlib.metadata.version("physnet")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert physnet.__version__ == pyproject["project"]["version"]


def test_import_keeps_the_backend_the_user_chose(tmp_path):
    """MPLBACKEND=svg, or matplotlib.use("svg") before importing physnet: still svg after
    importing physnet and drawing with physnet.plotting (a forced Agg would break plt.show())."""
    assert _probe(tmp_path, {"MPLBACKEND": "svg"}) == ["svg", "svg"]
    use_svg = "import matplotlib; matplotlib.use('svg')"
    assert _probe(tmp_path, {}, before=use_svg) == ["svg", "svg"]


def test_headless_without_a_backend_falls_back_to_agg(tmp_path):
    """No MPLBACKEND and no display (CI): matplotlib itself picks Agg, figures save."""
    assert _probe(tmp_path, {})[-1].lower() == "agg"
