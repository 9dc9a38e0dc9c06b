"""Issue 20: property-based fuzzing of every reader of user files.

Malformed input to the data import (``from_table``, ``Trajectories.load``), the model
checkpoint reader, the training-state reader and the run-directory reader ends in one
:class:`~physnet._errors.PhysnetError` (the command line prints it as one line), never another
exception, and writes nothing. ``max_examples`` stays small in the default suite.
"""

import io
import json
import shutil

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import physnet as pn
from physnet._errors import PhysnetError
from physnet.data import from_table, generate
from physnet.runs import RunDirectory, evaluate_run, train_run
from physnet.systems import system_class
from physnet.training._resume import load_training_state

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    data = generate(system_class("harmonic")(), 3, 1.0, 8, key=jax.random.key(0))
    path = data.save(root / "d.npz")
    out, _ = train_run(path, root / "run", options={"width": 3, "depth": 1}, steps=3)
    return out


def _listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _only_physnet_errors(call):
    try:
        call()
    except PhysnetError as err:
        assert "\n" not in str(err), str(err)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(text=st.text(alphabet="0123456789.,-e \n#%tqpabnNaIif", max_size=300))
def test_from_table_on_any_text(tmp_path, text):
    path = tmp_path / "t.csv"
    path.write_text(text)
    before = _listing(tmp_path)
    for states in ("1,2", "q,p", "1"):
        _only_physnet_errors(lambda s=states: from_table(path, time=0, states=s))
    _only_physnet_errors(lambda: from_table(path, time="t", states="1,2", trial=3))
    assert _listing(tmp_path) == before


@FUZZ
@given(text=st.text(alphabet="0123456789.,-e \n#tquNaIif", max_size=300),
       inputs=st.sampled_from(["u", "3", "u,u", "q", "", "9", "u,x"]))  # fmt: skip
def test_from_table_with_input_columns_on_any_text(tmp_path, text, inputs):
    """``physnet import --inputs COL,...`` on any text: a data set whose inputs have one row
    per state row, or one line (a missing, duplicate or state column, NaN, short rows)."""
    path = tmp_path / "t.csv"
    path.write_text("t,q,p,u\n" + text)
    before = _listing(tmp_path)
    try:
        data = from_table(path, time="t", states="q,p", inputs=inputs)
    except PhysnetError as err:
        assert "\n" not in str(err), str(err)
    else:
        assert data.inputs.shape[:2] == data.states.shape[:2]
        assert np.all(np.isfinite(data.inputs[data.mask]))
    assert _listing(tmp_path) == before


@FUZZ
@given(
    shape=st.tuples(st.integers(0, 3), st.integers(0, 6), st.integers(0, 3)),
    fill=st.sampled_from([0.5, np.nan, np.inf, -1e308]),
    dtype=st.sampled_from([np.float64, np.float32, np.int64, object, str]),
)
def test_trajectories_inputs_of_any_shape_and_kind(tmp_path, shape, fill, dtype):
    """Inputs of any shape, value or type beside valid states: accepted (float64, the states'
    batch and times, saved and loaded bit for bit) or one line."""
    ts = np.linspace(0.0, 1.0, 5)
    states = np.ones((2, 5, 2))
    with np.errstate(all="ignore"):
        try:
            u = np.full(shape, fill).astype(dtype)
        except (ValueError, OverflowError):  # numpy's own cast refusals (nan to int)
            return
    try:
        data = pn.Trajectories(ts, states, inputs=u)
    except PhysnetError as err:
        assert "\n" not in str(err), str(err)
        return
    assert data.inputs.dtype == np.float64 and data.inputs.shape[:2] == (2, 5)
    back = pn.Trajectories.load(data.save(tmp_path / "d.npz", overwrite=True))
    np.testing.assert_array_equal(back.inputs, data.inputs)


@FUZZ
@given(
    blob=st.binary(max_size=200),
    arrays=st.dictionaries(
        st.sampled_from(["ts", "states", "derivatives", "lengths", "metadata", "other"]),
        st.one_of(
            st.lists(st.floats(), max_size=6).map(np.asarray),
            st.lists(st.lists(st.floats(), min_size=2, max_size=2), max_size=4).map(np.asarray),
            st.integers(-3, 3).map(lambda n: np.ones((1, abs(n) + 1, 2)) * n),
            json_values.map(lambda v: np.asarray(json.dumps(v))),
            st.just(np.ones((2, 3), complex)),
        ),
        max_size=5,
    ),
)
def test_trajectories_load_on_any_file(tmp_path, blob, arrays):
    raw = tmp_path / "raw.npz"
    raw.write_bytes(blob)
    made = tmp_path / "made.npz"
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    made.write_bytes(buf.getvalue())
    before = _listing(tmp_path)
    for path in (raw, made):
        _only_physnet_errors(lambda p=path: pn.Trajectories.load(p))
    assert _listing(tmp_path) == before


@FUZZ
@given(model_json=json_values, truncate=st.integers(0, 400), flip=st.integers(0, 10**6))
def test_load_model_on_damaged_checkpoints(tmp_path, run, model_json, truncate, flip):
    ck = tmp_path / "ck"
    shutil.rmtree(ck, ignore_errors=True)
    shutil.copytree(run / "checkpoint", ck)
    original = json.loads((ck / "model.json").read_text())
    (ck / "model.json").write_text(json.dumps(model_json))
    before = _listing(tmp_path)
    _only_physnet_errors(lambda: pn.load_model(ck))
    (ck / "model.json").write_text(json.dumps(original))
    state = bytearray((ck / "state.npz").read_bytes())
    state[flip % len(state)] ^= 0xFF
    (ck / "state.npz").write_bytes(bytes(state[: len(state) - truncate]))
    _only_physnet_errors(lambda: pn.load_model(ck))
    assert _listing(tmp_path) == before


@FUZZ
@given(config=json_values, split=json_values, metrics_text=st.text(max_size=30))
def test_run_directory_reader_and_evaluate_on_malformed_runs(tmp_path, run, config, split,
                                                             metrics_text):  # fmt: skip
    rd = tmp_path / "run"
    shutil.rmtree(rd, ignore_errors=True)
    shutil.copytree(run, rd)
    good = json.loads((rd / "config.json").read_text())
    if isinstance(config, dict):
        config = {**good, **config}
    (rd / "config.json").write_text(json.dumps(config))
    (rd / "split.json").write_text(json.dumps(split))
    (rd / "metrics.json").write_text(metrics_text)
    before = _listing(tmp_path)

    def read():
        r = RunDirectory.open(rd)
        r.metrics  # noqa: B018
        r.train_test()

    _only_physnet_errors(read)
    assert _listing(tmp_path) == before
    out = tmp_path / "ev"
    _only_physnet_errors(lambda: evaluate_run(rd, t1=0.2, dt=0.05, out=out))
    if out.exists():  # a run that still reads correctly is evaluated; nothing else written
        shutil.rmtree(out)
    assert _listing(tmp_path) == before


@FUZZ
@given(blob=st.binary(max_size=300), header=json_values)
def test_training_state_reader_on_any_file(tmp_path, blob, header):
    import optax
    from flax import nnx

    from physnet.training import TrainState

    model = pn.build_model("hnn", 2, "mlp", seed=0, width=3, depth=1)
    _, params, rest = nnx.split(model, nnx.Param, ...)
    state = TrainState.create(params, optax.adam(1e-3))
    raw = tmp_path / "raw.npz"
    raw.write_bytes(blob)
    made = tmp_path / "made.npz"
    buf = io.BytesIO()
    np.savez(buf, header=np.asarray(json.dumps(header)), state_00000=np.ones(3))
    made.write_bytes(buf.getvalue())
    before = _listing(tmp_path)
    for path in (raw, made):
        _only_physnet_errors(
            lambda p=path: load_training_state(
                p, state=state, rest=rest, key=jax.random.key(0), fingerprint={}
            )
        )
    assert _listing(tmp_path) == before


# A user's class named by import path (``--system``, ``--model``, ``--approximator``): any
# text is a class or one line. Module names are drawn from modules that import without side
# effects (arbitrary names could import a module that does something on import) plus made-up
# ones; the attribute part and the separators are arbitrary.
_MODULES = st.sampled_from(
    ["math", "json", "physnet", "physnet.systems", "physnet.models", "physnet.approximators",
     "physnet.systems._harmonic", "nosuchmodule_x", "physnet.nosuch", "", "1abc", "a..b"]
)  # fmt: skip


@FUZZ
@given(module=_MODULES, qualname=st.text(alphabet="abcxyzHSMP_.:0 -", max_size=20),
       which=st.sampled_from(["system", "model", "approximator"]))  # fmt: skip
def test_class_paths_of_any_text_give_a_class_or_one_line(module, qualname, which):
    from physnet.approximators._registry import approximator_builder
    from physnet.models import model_class

    resolve = {"system": system_class, "model": model_class,
               "approximator": approximator_builder}[which]  # fmt: skip
    text = f"{module}:{qualname}"
    try:
        cls = resolve(text)
    except pn.ConfigError as err:
        assert "\n" not in str(err), str(err)
        return
    assert callable(cls)
