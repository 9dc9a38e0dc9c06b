"""The persistent compilation cache of physnet's commands: on by default, off by option or
environment, and a warm run compiles faster with identical results."""

import json
import os
import subprocess
import sys


def _train(tmp_path, data, out, *extra, env_extra=None):
    env = dict(os.environ, PHYSNET_CACHE_DIR=str(tmp_path / "cache"), **(env_extra or {}))
    cmd = [sys.executable, "-m", "physnet.cli", *extra, "train", "--data", str(data),
           "--steps", "20", "--width", "4", "--quiet", "--out", str(out)]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads((out / "metrics.json").read_text())


def test_cache_is_written_reused_and_can_be_turned_off(tmp_path):
    from physnet.cli import main

    data = tmp_path / "d.npz"
    assert main(["simulate", "--n-trajectories", "4", "--n-points", "8", "--out", str(data)]) == 0
    cache = tmp_path / "cache"
    _train(tmp_path, data, tmp_path / "off1", env_extra={"PHYSNET_COMPILATION_CACHE": "0"})
    assert not cache.exists() or not any(cache.rglob("*"))
    cold = _train(tmp_path, data, tmp_path / "a")
    entries = [p for p in cache.rglob("*") if p.is_file()]
    assert entries, "the first run writes compiled executables"
    warm = _train(tmp_path, data, tmp_path / "b")
    assert warm["train_loss"] == cold["train_loss"]  # same executable semantics
    assert len([p for p in cache.rglob("*") if p.is_file()]) == len(entries)  # all reused


def test_the_option_turns_the_cache_off():
    from physnet.cli import build_parser

    assert build_parser().parse_args(["--no-compilation-cache", "datasets"]).no_compilation_cache
    assert not build_parser().parse_args(["datasets"]).no_compilation_cache


def test_a_cache_that_cannot_be_written_is_silent(tmp_path):
    """A full disk (here a file-size limit smaller than a compiled executable) printed JAX's
    multi-line warning for every compilation; the cache is then simply not used, and the
    command's own output stays as it is."""
    limit = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096)); "
        "from physnet.cli import main; sys.exit(main())"
    )
    out = tmp_path / "d.npz"
    r = subprocess.run(
        [sys.executable, "-c", limit, "simulate", "--n-trajectories", "2", "--n-points", "5",
         "--out", str(out)],
        capture_output=True,
        text=True,
        env=dict(os.environ, PHYSNET_CACHE_DIR=str(tmp_path / "cache"), JAX_PLATFORMS="cpu"),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stderr == "" and out.is_file()
