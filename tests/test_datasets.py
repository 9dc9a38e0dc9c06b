"""The shipped measured data sets: checksums verified, shapes and units as published."""

import numpy as np
import pytest

import physnet as pn
from physnet.cli import main


def test_real_pendulum_is_one_nonuniform_record_in_file_units():
    data = pn.datasets.load("real-pendulum")
    assert data.n_trajectories == 1 and data.n_times == 556 and data.shared_times
    assert not data.is_uniform() and not data.has_derivatives
    steps = np.round(np.diff(np.asarray(data.ts)) * 6).astype(int)
    assert (steps == 1).sum() == 545 and (steps == 2).sum() == 8 and (steps == 3).sum() == 2
    assert float(data.ts[0]) == 5.0 and float(data.ts[-1]) == 99.5
    assert data.metadata["names"] == ["theta", "omega"]
    assert data.metadata["units"]["theta"] == "rad"
    prov = data.metadata["provenance"]
    assert prov["sha256"] == pn.datasets.info("real-pendulum")["provenance"]["sha256"]
    assert "Schmidt" in prov["paper"]
    assert 1.3 < float(np.abs(data.states[0, :60, 0]).max()) < 1.6  # amplitude ~1.47 rad


def test_double_pendulum_has_two_ragged_trials_with_file_derivatives():
    data = pn.datasets.load("real-double-pendulum")
    np.testing.assert_array_equal(data.trajectory_lengths, [819, 701])
    assert data.state_size == 4 and data.has_derivatives
    # dθ/dt is the file's (repeated) ω: the state's own ω columns
    np.testing.assert_array_equal(data.derivatives[..., :2], data.states[..., 2:])
    assert data.flat()[0].shape == (1520, 4)
    oscillator = pn.datasets.load("real-oscillator", scale="std")
    assert oscillator.n_times == 870
    np.testing.assert_allclose(np.asarray(oscillator.states[0]).std(axis=0), 1.0)
    assert float(oscillator.to_units(oscillator.states)[0, 0, 0]) == -102.0


def test_names_info_and_checksum_failure(tmp_path, monkeypatch):
    assert pn.datasets.names() == ("real-pendulum", "real-oscillator", "real-double-pendulum")
    for name in pn.datasets.names():
        assert pn.datasets.info(name)["rows"] == pn.datasets.load(name).n_samples
    with pytest.raises(pn.ConfigError, match="unknown data set"):
        pn.datasets.load("nope")
    damaged = tmp_path / "real_pend_h_1.txt"
    damaged.write_text(pn.datasets.path("real-pendulum").read_text().replace("5.0", "5.1", 1))
    monkeypatch.setattr(pn.datasets, "path", lambda name: damaged)
    with pytest.raises(pn.DataError, match="SHA-256"):
        pn.datasets.load("real-pendulum")


def test_cli_datasets_lists_and_exports(tmp_path, capsys):
    assert main(["datasets"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("real-pendulum:") and "sha256" in lines[0]
    out = tmp_path / "dp.npz"
    assert main(["datasets", "--export", "real-double-pendulum", "--out", str(out)]) == 0
    loaded = pn.data.load(out)
    np.testing.assert_array_equal(loaded.trajectory_lengths, [819, 701])
    assert main(["datasets", "--export", "nope", "--out", str(out)]) == 2
