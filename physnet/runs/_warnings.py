"""What evaluation checks and says about a run before and beside its numbers: the data
checksum a run must keep, the step a diverged run stopped at, and warnings about options or
data that evaluation cannot honour."""

from __future__ import annotations

from .._errors import DataError
from ..data import Trajectories
from ._rundir import RunDirectory


def _check_data_checksum(
    run: RunDirectory, data, fix: str = "evaluate on an explicit file with --data, or restore it"
) -> None:
    """Refuse, in one line, to read the run's own data file (``data`` None) when its
    ``config.json`` lost the checksum that proves the file unchanged (runs of physnet 0.1,
    which stored neither checksum nor split, are not affected: they are evaluated on an
    explicit file only)."""
    if data is None and run.split is not None:
        expected = run.config.get("data_sha256")
        if not (isinstance(expected, str) and len(expected) == 64):
            raise DataError(
                f"{run.path / 'config.json'} has no data checksum (data_sha256), so the run's "
                f"data file cannot be checked to be the one it trained on; {fix}"
            )


def _diverged_at(run: RunDirectory):
    """The step a diverged run diverged at (its training metrics), or None if unknown."""
    try:
        return run.metrics.get("diverged_at")
    except (DataError, AttributeError):
        return None


def _run_warnings(run: RunDirectory, data, test: Trajectories, *, measured: bool, t1: bool):
    """Warnings about what evaluation does not do as asked: ``--t1`` on measured data (their
    rollouts follow the recorded times) and evaluation data whose coordinates are of
    another kind ((q, q̇) or (q, p)) than the run's training data."""
    out = []
    if measured and t1:
        out.append(
            "--t1 applies to data of a known system; measured data are rolled out over their "
            "recorded times, so --t1 was not used"
        )
    if data is not None:
        from ..data import velocity_coordinates
        from ..data._units import unscale

        try:  # in the file's units: scales of q and q̇ would hide the relation
            trained = velocity_coordinates(unscale(run.train_test()[0]))
        except DataError:  # the run's data file is gone or changed: nothing to compare
            trained = None
        given = velocity_coordinates(unscale(test))
        if trained is not None and given is not None and trained != given:

            def kind(v):
                return "(q, q̇)" if v else "(q, p) with p != q̇"

            out.append(
                f"--data {data} holds states {kind(given)}, the run trained on states "
                f"{kind(trained)}: the model's rollouts are of other coordinates"
            )
    return out
