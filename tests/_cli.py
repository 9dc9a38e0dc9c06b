"""Shared helpers for the command-line safety tests: run ``physnet`` in process and check that
an error is one line."""

from physnet.cli import main


def run_cli(capsys, *args):
    """``physnet ARGS`` in this process: ``(exit code, stdout, stderr)``."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str, *words):
    """``err`` is exactly one non-empty line, no traceback, holding every one of ``words``."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], lines[0]
