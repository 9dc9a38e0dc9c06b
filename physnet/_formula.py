"""Formulas from users (``physnet evaluate --energy``, ``physnet compare --expr``) read into
sympy without running any Python code.

:func:`parse_formula` parses the text with :func:`ast.parse` (``mode="eval"``; nothing is
compiled or evaluated), walks the tree against a whitelist and builds the sympy expression
from it node by node: ``sympy.sympify``/``parse_expr`` (which ``eval`` the text) are never
called. Anything outside the grammar is one :class:`~physnet.ConfigError` of one line that
names the offending token and its column (1-based, in characters).

The grammar:

- numbers: integer and decimal literals (``2``, ``0.5``, ``1e-3``, ``1_000``); no complex
  (``1j``), booleans, strings or ``None``;
- names: the state's (input's) names, and the constants ``pi`` and ``E`` (a state name of
  the same spelling wins). A name that is a Python keyword (a CSV column called ``lambda`` or
  ``in``) is written with a trailing underscore: ``lambda_``, ``in_``. Names that are not
  identifiers (``x-pos``, ``theta (rad)``) cannot be written;
- operators: ``+ - * / **`` and unary ``-`` and ``+``, with Python's precedence
  (``-x**2`` is ``-(x**2)``); ``^`` is refused with the hint to write ``**``;
- calls by bare name, positional arguments only, of :data:`FUNCTIONS`: ``sin cos tan asin acos
  atan sinh cosh tanh asinh acosh atanh exp log sqrt abs`` (one argument) and ``atan2(y, x)``.

Refused as well: attributes, subscripts, lambdas, comparisons, comprehensions, keyword
arguments, unknown names or functions, a wrong number of arguments, an empty formula, one
longer than :data:`MAX_LENGTH` characters or nested deeper than :data:`MAX_DEPTH`, and
anything that comes out undefined or complex (``1/0``, ``0/0``, ``log(0)``, ``sqrt(-1)``) or
out of float range (``1e400``, ``9**9**9``).
"""

from __future__ import annotations

import ast
import keyword
import math
import re
import unicodedata
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ._errors import ConfigError

if TYPE_CHECKING:
    import sympy

#: Longest formula read (characters).
MAX_LENGTH = 10_000

#: Deepest nesting of operators, calls and parentheses (a chain of ``+``/``-`` or of ``*``/``/``
#: counts once, so long sums and products are fine).
MAX_DEPTH = 100

#: The functions a formula may call: name -> (sympy function name, number of arguments).
FUNCTIONS = {
    **{f: (f, 1) for f in ("sin", "cos", "tan", "asin", "acos", "atan")},
    **{f: (f, 1) for f in ("sinh", "cosh", "tanh", "asinh", "acosh", "atanh")},
    "exp": ("exp", 1),
    "log": ("log", 1),
    "sqrt": ("sqrt", 1),
    "abs": ("Abs", 1),
    "atan2": ("atan2", 2),
}

#: The named constants: name -> sympy attribute.
CONSTANTS = {"pi": "pi", "E": "E"}

#: Largest magnitude of a number in a formula (float64's largest, about 1.8e308).
_FLOAT_MAX_LOG10 = math.log10(1.7976931348623157e308)

_OPERATORS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.LShift: "<<",
    ast.RShift: ">>",
}

_SPINE = {ast.Add: 0, ast.Sub: 0, ast.Mult: 1, ast.Div: 1}

_NODE_NAMES = {
    ast.Attribute: "attribute",
    ast.Subscript: "subscript",
    ast.Lambda: "lambda",
    ast.Compare: "comparison",
    ast.BoolOp: "and/or",
    ast.IfExp: "if-else",
    ast.NamedExpr: "assignment (:=)",
    ast.ListComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.DictComp: "comprehension",
    ast.GeneratorExp: "comprehension",
    ast.List: "list",
    ast.Tuple: "tuple",
    ast.Set: "set",
    ast.Dict: "dict",
    ast.JoinedStr: "f-string",
    ast.Starred: "starred argument",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slice",
}


def _show(text: str, limit: int = 40) -> str:
    """``text`` quoted on one line (``repr`` escapes newlines and other line breaks), cut to
    about ``limit`` characters."""
    return repr(text) if len(text) <= limit else repr(text[: limit - 3]) + "..."


def _magnitude(number) -> float:
    """``|number|`` of a sympy number as a float (``inf`` beyond float range)."""
    try:
        return abs(complex(number))
    except (OverflowError, TypeError, ValueError):
        return math.inf


def _log10_magnitude(number) -> float:
    """``log10 |number|`` of a nonzero sympy number, beyond float range too (``inf`` when it
    cannot be worked out)."""
    import mpmath
    import sympy

    try:
        value = sympy.Abs(number).evalf(15)
        return float(mpmath.log10(value._to_mpmath(53)))
    except (AttributeError, OverflowError, TypeError, ValueError):
        return math.inf


def _numeric_value(expression) -> tuple[float, bool]:
    """The real part of a constant sympy expression as a float (``inf`` beyond float range)
    and whether its imaginary part is nonzero; ``(0.0, False)`` when it cannot be worked
    out."""
    try:
        real, imag = expression.evalf(15).as_real_imag()
        imag = bool(imag.is_number and imag.is_nonzero)
        return (math.inf if _beyond_float(real) else 0.0) if real.is_Number else 0.0, imag
    except (ArithmeticError, AttributeError, TypeError, ValueError):
        return 0.0, False


def _beyond_float(number) -> bool:
    """Whether a sympy number lies beyond float range (or is a fraction of integers too long to
    print: over about 330 digits)."""
    if number.is_Rational:
        return max(abs(number.p), number.q).bit_length() > 1100
    return math.isinf(_magnitude(number))


class _Reader:
    """One formula's tree to sympy, with the positions of its tokens for messages."""

    def __init__(self, text: str, names: list[str], what: str, shown: str, offset: int):
        import sympy

        self.sympy = sympy
        self.text, self.what = text, what  # the text parsed (leading whitespace removed)
        self.shown, self.offset = shown, offset  # the text as given, where ``text`` starts
        self.names = names
        self.lines = text.split("\n")
        self.starts = [0]
        for line in self.lines[:-1]:
            self.starts.append(self.starts[-1] + len(line) + 1)
        # identifier (as Python reads it: NFKC-normalised) -> the state names it may mean
        self.symbols: dict[str, list[str]] = {}
        for name in dict.fromkeys(names):
            if keyword.iskeyword(name):
                self.symbols.setdefault(f"{name}_", []).append(name)
            elif name.isidentifier():
                self.symbols.setdefault(unicodedata.normalize("NFKC", name), []).append(name)
        self.bad = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo, sympy.I)

    # -- messages ---------------------------------------------------------------------------

    def fail(self, problem: str, column: int | None = None, hint: str = "") -> ConfigError:
        where = f" at column {column}" if column is not None else ""
        hint = f"; {hint}" if hint else ""
        return ConfigError(
            f"cannot read the {self.what} {_show(self.shown)}: {problem}{where}{hint}"
        )

    def index(self, lineno: int, col_offset: int) -> int:
        """The 0-based character index in the text of an ast position (UTF-8 byte column)."""
        line = self.lines[lineno - 1]
        return self.starts[lineno - 1] + len(line.encode()[:col_offset].decode(errors="ignore"))

    def column(self, node: ast.AST) -> int:
        """The 1-based column in the text as given of ``node``'s start."""
        return self.index(node.lineno, node.col_offset) + 1 + self.offset

    def operator_column(self, node: ast.BinOp, symbol: str) -> int:
        """The column of ``node``'s operator, found between its two operands."""
        start = self.index(node.left.end_lineno, node.left.end_col_offset)
        end = self.index(node.right.lineno, node.right.col_offset)
        found = self.text.find(symbol, start, end)
        return (found if found >= 0 else start) + 1 + self.offset

    def source(self, node: ast.AST) -> str:
        start = self.index(node.lineno, node.col_offset)
        return self.text[start : self.index(node.end_lineno, node.end_col_offset)]

    def names_hint(self) -> str:
        usable = [n for names in self.symbols.values() for n in names]
        shown = ", ".join(_show(n, 20) for n in usable[:12])
        more = f" and {len(usable) - 12} more" if len(usable) > 12 else ""
        hint = f"the names are {shown}{more}" if usable else "there are no names to use"
        unusable = [n for n in dict.fromkeys(self.names) if n not in usable]
        if unusable:
            shown = ", ".join(_show(n, 20) for n in unusable[:3])
            more = f" and {len(unusable) - 3} more" if len(unusable) > 3 else ""
            hint += f" ({shown}{more}: not identifiers, so not usable in a formula)"
        return hint

    def syntax_error(self, err: SyntaxError) -> ConfigError:
        """One line for Python's syntax error (``err.offset`` counts characters)."""
        column = None
        if err.lineno and 1 <= err.lineno <= len(self.lines) and err.offset:
            line = self.lines[err.lineno - 1]
            if 1 <= err.offset <= len(line):
                column = self.starts[err.lineno - 1] + err.offset + self.offset
        message = (err.msg or "invalid syntax").split("\n")[0].rstrip(".")
        near = f" near {_show(self.shown[column - 1 : column + 9], 14)}" if column else ""
        if column is None and err.msg == "invalid syntax":
            message = "the formula ends too early"
        keywords = [n for n in dict.fromkeys(self.names) if keyword.iskeyword(n)]
        used = [n for n in keywords if re.search(rf"(?<![\w.]){n}(?!\w)", self.text)]
        hint = ", ".join(f"write the name {n!r} as {n}_" for n in used)
        return self.fail(f"{message}{near}", column, hint)

    # -- the tree ---------------------------------------------------------------------------

    def check_depth(self, root: ast.AST) -> None:
        """Refuse trees nested deeper than :data:`MAX_DEPTH` (without recursion)."""
        stack = [(root, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > MAX_DEPTH:
                raise self.fail(f"nested more than {MAX_DEPTH} levels deep", self.column(node))
            for child in ast.iter_child_nodes(node):
                if not isinstance(child, ast.expr):
                    continue
                same_chain = (
                    isinstance(node, ast.BinOp)
                    and isinstance(child, ast.BinOp)
                    and child is node.left
                    and _SPINE.get(type(node.op)) is not None
                    and _SPINE.get(type(node.op)) == _SPINE.get(type(child.op))
                )
                stack.append((child, depth if same_chain else depth + 1))

    def build(self, node: ast.AST) -> sympy.Expr:
        if isinstance(node, ast.BinOp) and type(node.op) in _SPINE:
            return self.chain(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node, self.build(node.left), self.build(node.right))
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return self.checked(-self.build(node.operand), node, "-")
            if isinstance(node.op, ast.UAdd):
                return self.build(node.operand)
            token = {ast.Not: "not", ast.Invert: "~"}.get(type(node.op), "operator")
            raise self.fail(f"{token!r} is not allowed", self.column(node))
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Attribute):
            column = self.operator_column_of_attribute(node)
            raise self.fail(f"attribute '.{node.attr}' is not allowed", column)
        kind = _NODE_NAMES.get(type(node), type(node).__name__)
        raise self.fail(f"{kind} {_show(self.source(node), 20)} is not allowed", self.column(node))

    def operator_column_of_attribute(self, node: ast.Attribute) -> int:
        start = self.index(node.value.end_lineno, node.value.end_col_offset)
        found = self.text.find(".", start)
        return (found if found >= 0 else start) + 1 + self.offset

    def number(self, node: ast.Constant) -> sympy.Expr:
        value, column = node.value, self.column(node)
        if isinstance(value, bool) or value is None or value is Ellipsis:
            raise self.fail(f"{value!r} is not a number", column)
        if isinstance(value, complex):
            raise self.fail(f"complex number {_show(self.source(node), 20)}", column)
        if isinstance(value, str | bytes):
            raise self.fail(f"string {_show(self.source(node), 20)} is not allowed", column)
        if isinstance(value, int):
            if value and math.log10(abs(value)) > _FLOAT_MAX_LOG10:
                raise self.fail("number out of float range", column)
            return self.sympy.Integer(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise self.fail("number out of float range", column)
            # from the literal's digits, as sympify reads it (its precision included)
            return self.sympy.Float(self.source(node).replace("_", ""))
        raise self.fail(f"{_show(self.source(node), 20)} is not a number", column)

    def name(self, node: ast.Name) -> sympy.Expr:
        ident, column = node.id, self.column(node)
        meant = self.symbols.get(ident)
        if meant:
            if len(meant) > 1:
                raise self.fail(f"{ident!r} may mean any of {', '.join(map(repr, meant))}", column)
            return self.sympy.Symbol(meant[0])
        if ident in CONSTANTS:
            return getattr(self.sympy, CONSTANTS[ident])
        if ident in FUNCTIONS:
            raise self.fail(f"function {ident!r} without arguments", column, f"write {ident}(...)")
        raise self.fail(f"unknown name {_show(ident)}", column, self.names_hint())

    def call(self, node: ast.Call) -> sympy.Expr:
        func = node.func
        if not isinstance(func, ast.Name):
            if isinstance(func, ast.Attribute):
                self.build(func)  # the attribute's own message
            raise self.fail(
                f"call of {_show(self.source(func), 20)}",
                self.column(func),
                "call functions by name",
            )
        ident, column = func.id, self.column(func)
        if ident not in FUNCTIONS:
            problem = (
                f"{ident!r} is not a function"
                if ident in self.symbols or ident in CONSTANTS
                else f"unknown function {_show(ident)}"
            )
            raise self.fail(problem, column, f"the functions are {', '.join(FUNCTIONS)}")
        if node.keywords:
            keyword_ = node.keywords[0]
            label = f"{keyword_.arg}=" if keyword_.arg else "**"
            raise self.fail(f"keyword argument {label!r} is not allowed", self.column(keyword_))
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.fail("starred argument is not allowed", self.column(arg))
        sympy_name, arity = FUNCTIONS[ident]
        if len(node.args) != arity:
            plural = "s" if arity != 1 else ""
            raise self.fail(f"{ident} takes {arity} argument{plural}, got {len(node.args)}", column)
        args = [self.build(arg) for arg in node.args]
        return self.checked(getattr(self.sympy, sympy_name)(*args), node, ident)

    def chain(self, node: ast.BinOp) -> sympy.Expr:
        """A chain ``a + b - c`` (or ``a * b / c``) as one n-ary sum (product) of its terms
        ``a, b, -c`` (factors ``a, b, c**-1``): the expression Python's left-to-right reading
        gives, without recursion along the chain and in one flattening (a sum of a thousand
        terms added one by one takes sympy seconds)."""
        top, family, links = node, _SPINE[type(node.op)], []
        while isinstance(node, ast.BinOp) and _SPINE.get(type(node.op)) == family:
            links.append(node)
            node = node.left
        terms = [self.build(node)]
        for link in reversed(links):
            right = self.build(link.right)
            if isinstance(link.op, ast.Sub):
                right = -right
            elif isinstance(link.op, ast.Div):
                right = self.checked(
                    self.sympy.Pow(right, -1), link, "/", self.operator_column(link, "/")
                )
            terms.append(right)
        combine = self.sympy.Add if family == 0 else self.sympy.Mul
        symbol = _OPERATORS[type(top.op)]
        return self.checked(combine(*terms), top, symbol, self.operator_column(top, symbol))

    def binary(self, node: ast.BinOp, left: sympy.Expr, right: sympy.Expr) -> sympy.Expr:
        """``left ** right`` (``+ - * /`` are :meth:`chain`'s); any other operator refused."""
        symbol = _OPERATORS.get(type(node.op), "operator")
        column = self.operator_column(node, symbol)
        if isinstance(node.op, ast.BitXor):
            raise self.fail("'^' is not allowed", column, "write ** for powers")
        if not isinstance(node.op, ast.Pow):
            raise self.fail(f"operator {symbol!r} is not allowed", column)
        self.check_power(left, right, column)
        result = left**right
        return self.checked(result, node, symbol, column)

    def check_power(self, base: sympy.Expr, exponent: sympy.Expr, column: int) -> None:
        """Refuse a power whose numbers sympy would work out beyond float range: ``9**9**9``,
        ``(sqrt(2)*q)**(10**300)`` (sympy computes ``2**(5*10**299)`` exactly, for minutes and
        gigabytes)."""
        if not exponent.is_number or exponent.is_zero:
            return
        power = _magnitude(exponent)
        for factor in self.sympy.Mul.make_args(base):
            if factor.is_number and not factor.is_zero:
                digits = power * abs(_log10_magnitude(factor))
                if not digits <= _FLOAT_MAX_LOG10:
                    raise self.fail("power out of float range", column)

    def checked(self, result, node: ast.AST, token: str, column: int | None = None):
        """``result``, unless it is (or directly holds) an undefined, infinite or complex
        value, or a number beyond float range; the operands were checked already, so such a
        value is new at this node."""
        for value in (result, *result.args):
            if value in self.bad:
                kind = "complex" if value.has(self.sympy.I) else "undefined"
                problem = "division by zero" if token == "/" else f"{token} gives {value}"
                raise self.fail(f"{problem} ({kind})", column or self.column(node))
            if value.is_Number and _beyond_float(value):
                raise self.fail(
                    f"{token} gives a number out of float range", column or self.column(node)
                )
        if result.is_number and not result.is_Number:
            # a constant such as acos(2): refused when complex (sympy may take minutes over
            # atan2(acos(2), acos(2))) or beyond float range
            real, imag = _numeric_value(result)
            if imag:
                raise self.fail(f"{token} gives a complex value", column or self.column(node))
            if math.isinf(real):
                raise self.fail(
                    f"{token} gives a number out of float range", column or self.column(node)
                )
        return result


def parse_formula(text: str, names: Iterable[str], *, what: str = "formula") -> sympy.Expr:
    """The sympy expression of a formula in ``names``, read without running any Python code.

    The grammar (the module's docstring has the details): numbers, the ``names``, ``pi`` and
    ``E``; ``+ - * / **`` and unary ``-``/``+`` (``^`` is refused: write ``**``); calls by
    bare name of ``sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh exp log sqrt
    abs`` and ``atan2(y, x)``. A name that is a Python keyword is written with a trailing
    underscore (the state name ``lambda`` as ``lambda_``).

    Example: ``parse_formula("0.5*p**2 - cos(q)", ["q", "p"])``.

    Args:
        text: the formula.
        names: the names it may use (a state's components, a function's inputs); each becomes
            ``sympy.Symbol(name)``.
        what: what the formula is, for messages (``"energy"``).

    Raises:
        ConfigError: one line naming the offending token and its column, for anything outside
            the grammar, over :data:`MAX_LENGTH` characters or :data:`MAX_DEPTH` levels deep,
            or whose value is undefined, complex or out of float range.
    """
    if not isinstance(text, str):
        raise ConfigError(f"a {what} must be a string, got {type(text).__name__}")
    names = [str(n) for n in names]
    body = text.strip()  # Python refuses leading blanks ("unexpected indent")
    reader = _Reader(body, names, what, text, len(text) - len(text.lstrip()))
    if len(text) > MAX_LENGTH:
        raise reader.fail(f"longer than {MAX_LENGTH} characters ({len(text)})")
    if not body or body.startswith("#"):
        raise reader.fail("the formula is empty")
    control = re.search(r"[^\S \t\n]|[\x00-\x08\x0b-\x1f\x7f]", body)
    if control:  # \r and the like (which would shift Python's line numbers against ours)
        found = control.group()
        raise reader.fail(
            f"character {found!r} is not allowed", reader.offset + control.start() + 1
        )
    try:
        # parsing only: ast.parse compiles nothing and runs nothing; Python's warnings on the
        # text ("invalid decimal literal" for 1q) would print a second line
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            tree = ast.parse(body, mode="eval")
    except SyntaxError as err:
        raise reader.syntax_error(err) from None
    except (RecursionError, MemoryError):
        raise reader.fail("nested too deeply or too long for Python's parser") from None
    except ValueError as err:
        raise reader.fail(str(err).split("\n")[0]) from None
    reader.check_depth(tree.body)
    expression = reader.build(tree.body)
    if expression.has(*reader.bad):
        raise reader.fail("the value is undefined or complex")
    return expression
