"""`physnet analyze ntk --run RUN`: numbers as JSON, figures as PNG, one-line errors."""

import json

from physnet.cli import main


def test_analyze_ntk_writes_json_and_figures(tmp_path, capsys):
    data, run, out = tmp_path / "d.npz", tmp_path / "run", tmp_path / "ntk"
    assert (
        main(
            [
                "simulate",
                "--n-trajectories",
                "6",
                "--n-points",
                "16",
                "--t1",
                "2",
                "--out",
                str(data),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "train",
                "--data",
                str(data),
                "--steps",
                "5",
                "--width",
                "8",
                "--quiet",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["analyze", "ntk", "--run", str(run), "--samples", "30", "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["operator"] == "vector_field" and summary["n_samples"] == 30
    numbers = json.loads((out / "ntk.json").read_text())
    assert len(numbers["eigenvalues"]) == 60 and numbers["eigenvalues"][0] > 0
    assert set(numbers["trace_ratio_weights"]) == {"loss[0]", "loss[1]"}
    assert "rollout_error_spectrum" in numbers
    assert (out / "spectrum.png").is_file() and (out / "error_spectrum.png").is_file()
    args = ["analyze", "ntk", "--run", str(run), "--samples", "10", "--out", str(out)]
    assert main(args) == 2  # an existing analysis is replaced only with --overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
    assert len(json.loads((out / "ntk.json").read_text())["eigenvalues"]) == 20


def test_analyze_ntk_missing_run_is_one_line(tmp_path, capsys):
    assert main(["analyze", "ntk", "--run", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a physnet run directory" in err and "\n" not in err
