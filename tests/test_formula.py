"""Issue 34: formulas from users (``evaluate --energy``, ``compare --expr``) never run Python.

:func:`physnet._formula.parse_formula` reads a formula with :mod:`ast` against a whitelist and
builds the sympy expression itself; before, ``sympy.sympify`` evaluated the text, so an energy
``__import__('os').system(...)`` ran the command. Every refusal is one line (a
:class:`~physnet.ConfigError`, which the command line prints as one line, exit 2), and valid
formulas give the expression ``sympify`` gave.
"""

import jax
import jax.numpy as jnp
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import physnet as pn
from physnet._errors import ConfigError
from physnet._formula import MAX_LENGTH, parse_formula
from physnet.cli import main
from physnet.data import generate
from physnet.evaluation import energy_function
from physnet.runs import evaluate_run, train_run
from physnet.systems import system_class

PAYLOAD = "__import__('os').system('touch {marker}')"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The cheapest run to evaluate: harmonic data, a neural ODE of width 3, one Adam step."""
    root = tmp_path_factory.mktemp("formula")
    data = generate(system_class("harmonic")(), 3, 1.0, 8, key=jax.random.key(0))
    options = {"width": 3, "depth": 1}
    out, _ = train_run(data.save(root / "d.npz"), root / "run", model="node", options=options,
                       lr=1e-2, steps=1)  # fmt: skip
    return out


def _one_line_error(capsys, code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def _one_line(err: ConfigError) -> str:
    message = str(err)
    assert message and len(message.splitlines()) == 1, message
    return message


# -- no code runs ---------------------------------------------------------------------------


def test_evaluate_energy_runs_no_code(run, tmp_path, capsys):
    marker = tmp_path / "MARKER"
    energy = PAYLOAD.format(marker=marker)
    code = main(["evaluate", "--run", str(run), "--t1", "0.1", "--energy", energy])
    err = _one_line_error(capsys, code)
    assert not marker.exists()
    assert "attribute '.system' is not allowed at column 17" in err
    with pytest.raises(ConfigError, match="attribute '.system'") as info:
        evaluate_run(run, t1=0.1, energy=energy, out=tmp_path / "ev")
    _one_line(info.value)
    with pytest.raises(ConfigError, match="attribute '.system'") as info:
        energy_function(energy, ["q", "p"])
    _one_line(info.value)
    assert not marker.exists() and not (tmp_path / "ev").exists()


def test_compare_expr_runs_no_code(tmp_path, capsys):
    marker = tmp_path / "MARKER"
    args = ["compare", "--expr", PAYLOAD.format(marker=marker), "--seeds", "1", "--steps", "1"]
    err = _one_line_error(capsys, main([*args, "--approximators", "mlp"]))
    assert not marker.exists() and "cannot read the expression" in err


def test_simulate_input_formula_runs_no_code(tmp_path, capsys):
    """simulate --input (and pn.signals.Expression, which a data file's input formula goes
    through) reads its formula with the same parser: nothing runs, one line."""
    marker = tmp_path / "MARKER"
    payload = PAYLOAD.format(marker=marker)
    out = tmp_path / "d.npz"
    args = ["simulate", "--system", "forced-duffing", "--n-trajectories", "2", "--n-points", "5"]
    err = _one_line_error(capsys, main([*args, "--input", payload, "--out", str(out)]))
    assert "cannot read the input" in err and "attribute '.system'" in err
    with pytest.raises(ConfigError, match="attribute '.system'") as info:
        pn.signals.Expression(payload)
    _one_line(info.value)
    assert not marker.exists() and not out.exists()


# -- one line per refusal, on the command line ------------------------------------------------

REFUSED = {
    "1/0": "division by zero (undefined) at column 2",
    "sin": "function 'sin' without arguments at column 1",
    "q.__class__": "attribute '.__class__' is not allowed at column 2",
    "2 *": "the formula ends too early",
    "(q + p": "'(' was never closed near '(q + p' at column 1",
    "log(0)": "log gives zoo (undefined) at column 1",
    "q^2": "'^' is not allowed at column 2; write ** for powers",
    "9**9**9": "power out of float range at column 2",
}


@pytest.mark.parametrize("energy", list(REFUSED))
def test_evaluate_refusals_are_one_line(run, capsys, energy):
    code = main(["evaluate", "--run", str(run), "--t1", "0.1", "--energy", energy])
    err = _one_line_error(capsys, code)
    assert f"physnet evaluate: error: cannot read the energy {energy!r}: {REFUSED[energy]}" in err


@pytest.mark.parametrize("expr", ["1/0", "x.__class__", "2 *"])
def test_compare_refusals_are_one_line(capsys, expr):
    code = main(["compare", "--expr", expr, "--seeds", "1", "--steps", "1"])
    assert "cannot read the expression" in _one_line_error(capsys, code)


# -- the grammar ------------------------------------------------------------------------------

VALID = [
    "p**2/2 + q**2/2 + q**4/2",
    "0.5*p**2 - cos(q)",
    "2.4*(1 - cos(q)) + p**2",
    "1/2/3*q*2.5 - -p",
    "-q**2 + (-q)**2 + q**2**3 + 2**-1*q",
    "sqrt(q) + exp(p) + log(q) + abs(p) + tanh(q) + atan2(q, p) + asinh(p)",
    "pi*q + E**p + 1e-3 + 1_000.5 + 3.14159265358979323846264*q",
    "  q + p  # a comment",
]


@pytest.mark.parametrize("text", VALID)
def test_valid_formulas_give_sympifys_expression(text):
    names = {"q": sympy.Symbol("q"), "p": sympy.Symbol("p")}
    expected = sympy.sympify(text, locals=names)  # sympify of known-good text, for reference
    got = parse_formula(text, ["q", "p"])
    assert sympy.srepr(got) == sympy.srepr(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the formula is empty"),
        ("q" * (MAX_LENGTH + 1), f"longer than {MAX_LENGTH} characters"),
        ("-" * 2000 + "q", "nested more than 100 levels deep at column 101"),
        ("-" * 5000 + "q", "nested too deeply"),
        ("lambda: q", "lambda 'lambda: q' is not allowed at column 1"),
        ("[q for q in p]", "comprehension"),
        ("'q'", "string \"'q'\" is not allowed at column 1"),
        ("1j*q", "complex number '1j' at column 1"),
        ("True", "True is not a number at column 1"),
        ("q[0]", "subscript 'q[0]' is not allowed at column 1"),
        ("sin(x=q)", "keyword argument 'x=' is not allowed at column 5"),
        ("sin(q, p)", "sin takes 1 argument, got 2 at column 1"),
        ("atan2(q)", "atan2 takes 2 arguments, got 1 at column 1"),
        ("foo(q)", "unknown function 'foo' at column 1"),
        ("q(p)", "'q' is not a function at column 1"),
        ("__builtins__", "unknown name '__builtins__' at column 1; the names are 'q', 'p'"),
        ("q + x", "unknown name 'x' at column 5"),
        ("q // p", "operator '//' is not allowed at column 3"),
        ("q < p", "comparison 'q < p' is not allowed at column 1"),
        ("(lambda: 1)()", "call of 'lambda: 1' at column 2"),
        ("sqrt(-1)*q", "sqrt gives I (complex) at column 1"),
        ("0/0", "division by zero (undefined) at column 2"),
        ("q/(p - p)", "division by zero (undefined) at column 2"),
        ("1e400*q", "number out of float range at column 1"),
        ("(sqrt(2)*q)**(10**300)", "power out of float range at column 12"),
        ("é + (q", "'(' was never closed near '(q' at column 5"),
        ("q + \0", "character '\\x00' is not allowed at column 5"),
        ("(q\r+ p)", "character '\\r' is not allowed at column 3"),
        ("#q", "the formula is empty"),
    ],
)
def test_refusals_name_the_token_and_column(text, message):
    with pytest.raises(ConfigError) as info:
        parse_formula(text, ["q", "p"])
    assert message in _one_line(info.value)


def test_keyword_names_take_a_trailing_underscore():
    """A CSV column called ``lambda`` or ``in`` is written ``lambda_``, ``in_``; the parse
    error of the bare keyword says so. Names are matched as Python reads identifiers (NFKC),
    and a state named like a function or constant is its own symbol."""
    energy = energy_function("lambda_**2 + in_*q", ["lambda", "in", "q"])
    assert float(energy(jnp.array([0.5, 2.0, 3.0]))) == pytest.approx(6.25)
    expr = parse_formula("lambda_ + in_", ["lambda", "in"])
    assert expr == sympy.Symbol("lambda") + sympy.Symbol("in")
    with pytest.raises(ConfigError, match="write the name 'lambda' as lambda_") as info:
        parse_formula("lambda**2", ["lambda", "q"])
    _one_line(info.value)
    with pytest.raises(ConfigError, match="'lambda_' may mean any of 'lambda', 'lambda_'"):
        parse_formula("lambda_", ["lambda", "lambda_"])
    with pytest.raises(ConfigError, match=r"'x-pos'.*not identifiers"):
        parse_formula("x", ["x-pos", "v"])
    assert parse_formula("θ**2 + ω", ["θ", "ω"]) == sympy.Symbol("θ") ** 2 + sympy.Symbol("ω")
    energy = energy_function("E*sin + sin(E) + pi", ["E", "sin"])  # state names E and sin
    assert float(energy(jnp.array([0.5, 2.0]))) == pytest.approx(1.0 + jnp.sin(0.5) + jnp.pi)


# -- any text ---------------------------------------------------------------------------------

FORMULA_FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
TOKENS = [
    *"qp+-*/()^,.[]:=<'\"%@~ ",
    *["**", "//", "0", "1", "2", "0.5", "1e308", "1e-3", "10", "9", "1j", "pi", "E", "x"],
    *["sin", "cos", "exp", "log", "sqrt", "atan2", "abs", "tanh", "lambda", "lambda_", "in_"],
    *["__import__", "__class__", "os", "system", "open", "exec", "eval", "not", "if", "True"],
    *["None", "for", "\n", "\\", "#", "\0", "é", "ｑ"],
]


def _parsed_or_one_line(text, names=("q", "p", "lambda", "in")):
    try:
        expr = parse_formula(text, names)
    except ConfigError as err:
        _one_line(err)
    else:
        assert isinstance(expr, sympy.Expr)


@FORMULA_FUZZ
@given(text=st.text(max_size=200))
def test_any_text_parses_or_gives_one_line(text):
    _parsed_or_one_line(text)


@FORMULA_FUZZ
@given(
    tokens=st.lists(st.sampled_from(TOKENS), max_size=30),
    payload=st.sampled_from(
        [
            "",
            PAYLOAD,
            "open('{marker}', 'w')",
            "exec(\"open('{marker}', 'w')\")",
            "(lambda: __import__('os').system('touch {marker}'))()",
        ]
    ),
    where=st.integers(0, 30),
)
def test_token_soup_parses_or_gives_one_line_and_runs_nothing(tmp_path, tokens, payload, where):
    marker = tmp_path / "MARKER"
    tokens.insert(where, payload.format(marker=marker))
    _parsed_or_one_line("".join(tokens))
    assert not marker.exists()


@FORMULA_FUZZ
@given(
    tree=st.recursive(
        st.sampled_from(["q", "p", "0", "1", "2", "0.5", "1e300", "10", "pi", "E", "lambda_"]),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**"]), inner).map(
                lambda t: f"({t[0]}{t[1]}{t[2]})"
            ),
            st.tuples(st.sampled_from(["sin", "exp", "log", "sqrt", "-", "tanh"]), inner).map(
                lambda t: f"{t[0]}({t[1]})"
            ),
            st.tuples(inner, inner).map(lambda t: f"atan2({t[0]}, {t[1]})"),
        ),
        max_leaves=12,
    )
)
def test_well_formed_formulas_parse_or_give_one_line(tree):
    """Grammatical formulas: an expression, or one line (1/0, log(0), out of float range)."""
    _parsed_or_one_line(tree)
