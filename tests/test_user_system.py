"""A user's own system, model and approximator classes, unregistered and without a ``name``,
through the Python API and the command line (``--system package.module:Class``)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import physnet as pn
from physnet.cli import main
from physnet.systems import system_from_metadata


class TwoSprings(pn.systems.AbstractSystem):
    """Two uncoupled oscillators of stiffness k and mass m, written as the README suggests:
    no ``name``, not registered."""

    dof = 2

    def __init__(self, k: float = 1.0, m: float = 1.0):
        self.k, self.m = float(k), float(m)

    def parameters(self):
        return {"k": self.k, "m": self.m}

    def vector_field(self, t, y, args=None):
        q, p = y[:2], y[2:]
        return jnp.concatenate([p / self.m, -self.k * q])

    def energy(self, y):
        return 0.5 * jnp.sum(y[2:] ** 2) / self.m + 0.5 * self.k * jnp.sum(y[:2] ** 2)


def test_user_system_generates_physics_trains_saves_and_reloads(tmp_path):
    system = TwoSprings(k=4.0, m=1.0)
    data = pn.data.generate(system, 6, 3.0, 31, key=jax.random.key(0))
    # physics: the analytic solution q(t) = q0 cos ωt + p0/(mω) sin ωt, and the energy
    # conserved to the integrator's accuracy
    w = np.sqrt(system.k / system.m)
    t = np.asarray(data.ts)[None, :, None]
    q0, p0 = np.asarray(data.y0[:, None, :2]), np.asarray(data.y0[:, None, 2:])
    exact = q0 * np.cos(w * t) + p0 / (system.m * w) * np.sin(w * t)
    np.testing.assert_allclose(data.states[..., :2], exact, atol=1e-9)
    energy = jax.vmap(jax.vmap(system.energy))(data.states)
    assert float(jnp.max(jnp.abs(energy / energy[:, :1] - 1))) < 1e-9
    assert data.metadata["system"] == "TwoSprings"
    assert data.metadata["system_class"] == f"{__name__}:TwoSprings"
    assert data.metadata["parameters"] == {"k": 4.0, "m": 1.0}

    path = data.save(tmp_path / "springs.npz")
    loaded = pn.data.Trajectories.load(path)
    np.testing.assert_array_equal(loaded.states, data.states)
    assert system_from_metadata(loaded.metadata) == system  # defined here: nothing imported
    assert system_from_metadata(loaded.metadata, system=TwoSprings) == system

    model = pn.build_model("hnn", 4, "mlp", seed=0, width=8, depth=1)
    history = pn.fit(model, loaded, steps=20, optimizer=optax.adam(1e-2), progress=False)
    assert np.isfinite(history.final_train_loss())
    pn.save_model(model, tmp_path / "model")
    again = pn.load_model(tmp_path / "model")
    y = loaded.states[0, :5]
    field = lambda m: jax.vmap(lambda s: m(0.0, s))(y)  # noqa: E731
    np.testing.assert_array_equal(field(model), field(again))

    # the run layer evaluates against the user's system, found in this process
    out, _ = pn.runs.train_run(
        path, tmp_path / "run", steps=5, options={"width": 8}, progress=False
    )
    out, metrics = pn.runs.evaluate_run(out, t1=1.0, dt=0.05)
    assert metrics["provenance"]["system"] == "TwoSprings"
    assert metrics["energy_drift"] is not None


def test_velocity_coordinates_of_a_user_system_round_trip():
    system = TwoSprings(k=2.0)
    data = pn.data.generate(system, 2, 1.0, 5, key=jax.random.key(1), coordinates="velocity")
    rebuilt = system_from_metadata(data.metadata)
    assert rebuilt == system.in_velocity_coordinates()


def test_a_data_file_never_imports_the_module_it_names(tmp_path, monkeypatch):
    """Data files are data: a recorded class path is imported only when the caller names it."""
    marker = tmp_path / "imported"
    (tmp_path / "sideeffect_mod.py").write_text(
        textwrap.dedent(
            f"""
            import pathlib
            pathlib.Path({str(marker)!r}).write_text("ran")
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    meta = {"system": "Other", "parameters": {"k": 1.0}, "system_class": "sideeffect_mod:Other"}
    with pytest.raises(pn.DataError, match="pass --system sideeffect_mod:Other"):
        system_from_metadata(meta)
    assert not marker.exists() and "sideeffect_mod" not in sys.modules
    meta_main = {**meta, "system_class": "__main__:Other"}
    with pytest.raises(pn.DataError, match="define it in an importable module"):
        system_from_metadata(meta_main)
    with pytest.raises(pn.DataError, match="the data's system is 'duffing', not"):
        system_from_metadata({"system": "duffing", "parameters": {}}, system=TwoSprings)
    with pytest.raises(pn.DataError, match="the data's system is sideeffect_mod:Other, not"):
        system_from_metadata(meta, system=f"{__name__}:TwoSprings")  # another class: refused


def _write_module(folder: Path) -> None:
    (folder / "usermod.py").write_text(
        textwrap.dedent(
            """
            import jax.numpy as jnp
            import physnet as pn

            class Quartic(pn.systems.AbstractSystem):
                def __init__(self, k: float = 1.0):
                    self.k = float(k)

                def parameters(self):
                    return {"k": self.k}

                def vector_field(self, t, y, args=None):
                    return jnp.stack([y[1], -self.k * y[0] ** 3])

                def energy(self, y):
                    return 0.5 * y[1] ** 2 + 0.25 * self.k * y[0] ** 4

            NotASystem = 3
            """
        )
    )
    (folder / "usermodels.py").write_text(
        "import physnet as pn\n\n\nclass MyHNN(pn.models.HNN):\n    pass\n"
    )


def _cli(folder: Path, *args):
    """The console script in a subprocess with ``folder`` on PYTHONPATH (as a user runs it)."""
    root = str(Path(pn.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), root])}
    return subprocess.run(
        [sys.executable, "-m", "physnet.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
    )


def _one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_cli_simulates_trains_and_evaluates_a_system_named_by_import_path(
    tmp_path, monkeypatch, capsys
):
    _write_module(tmp_path)
    data = tmp_path / "quartic.npz"
    r = _cli(tmp_path, "simulate", "--system", "usermod:Quartic", "--k", "2", "--t1", "2",
             "--n-trajectories", "8", "--n-points", "20", "--out", data)  # fmt: skip
    assert r.returncode == 0, r.stderr
    meta = pn.data.Trajectories.load(data).metadata
    assert meta["system_class"] == "usermod:Quartic" and meta["parameters"] == {"k": 2.0}

    # train needs no system; --model names the user's model class by import path
    monkeypatch.syspath_prepend(str(tmp_path))
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(run), "--steps", "5", "--quiet",
                 "--width", "8", "--model", "usermodels:MyHNN"]) == 0  # fmt: skip
    # a fresh process does not import the module a data file or run names: one line, nothing
    r = _cli(tmp_path, "evaluate", "--run", run, "--t1", "1", "--model", "usermodels:MyHNN")
    assert "pass --system usermod:Quartic" in _one_line(r.stderr) and r.returncode == 2
    assert not (run / "evaluation").exists()
    r = _cli(tmp_path, "evaluate", "--run", run, "--t1", "1", "--system", "usermod:Quartic")
    assert "--model usermodels:MyHNN" in _one_line(r.stderr)
    assert not (run / "evaluation").exists()
    r = _cli(tmp_path, "evaluate", "--run", run, "--t1", "1", "--system", "usermod:Quartic",
             "--model", "usermodels:MyHNN")  # fmt: skip
    assert r.returncode == 0, r.stderr
    metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
    assert metrics["provenance"]["system_class"] == "usermod:Quartic"
    assert metrics["energy_drift"] is not None
    # resuming an interrupted run of a user's model imports it only when named again
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "status": "training"}))
    r = _cli(tmp_path, "train", "--resume", run, "--quiet")
    assert "resume with --resume" in _one_line(r.stderr) and "--model usermodels:MyHNN" in r.stderr

    capsys.readouterr()
    bad = {
        "nosuchmod:Quartic": "module 'nosuchmod' not found",
        "usermod:Nope": "has no attribute 'Nope'",
        "usermod:NotASystem": "not a subclass of physnet.systems.AbstractSystem",
        "physnet.systems:AbstractSystem": "is abstract",
    }
    for path, why in bad.items():
        out = tmp_path / "bad.npz"
        assert main(["simulate", "--system", path, "--out", str(out)]) == 2
        assert why in _one_line(capsys.readouterr().err)
        assert not out.exists()
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "r2"), "--model",
                 "usermodels:Nope"]) == 2  # fmt: skip
    assert "has no attribute 'Nope'" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "r2").exists()
