"""The generator that writes a parsed Beast Mode formula for one target engine, and what its rules share.

`Emitter` is mixed into the target's own sqlglot generator, so operators, CASE, IN, windows and
quoting come from sqlglot; every node goes through `Emitter.sql`, which sends Domo function calls
to the rules registered with `rule()` (columns, literals and operators in emit.py, strings and
numbers in strings.py, dates in dates.py, DATE_FORMAT in formats.py, aggregates, windows and
FIXED in aggregates.py). A node with no rule and no plain SQL meaning fails the translation with
a problem sentence: nothing reaches the output untranslated.

Handlers return SQL text. `g.problem()` records a known divergence (the SQL is kept, not
faithful), `g.fail()` one that leaves no usable SQL, `g.note()` a condition of use.

The rule modules import this one and never each other's registrations, so no module of the
package imports one that imports it back.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from evidence.formulas import catalogue
from evidence.formulas.dialect import Fixed
from evidence.formulas.tree import Context, call_name, first_argument, strip_parens

TARGETS = ("tsql", "postgres", "sqlite", "duckdb")
ENGINE_NAMES = {"tsql": "T-SQL", "postgres": "PostgreSQL", "sqlite": "SQLite", "duckdb": "DuckDB"}

Handler = Callable[["Emitter", exp.Expr], str]
BY_NAME: dict[str, Handler] = {}  # Domo function name (as written, upper case) -> handler
BY_TYPE: dict[type, Handler] = {}  # operators and nodes without a function name


def rule(*keys: str | type) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for key in keys:
            (BY_NAME if isinstance(key, str) else BY_TYPE)[key] = handler
        return handler

    return register


# Nodes whose SQL sqlglot writes correctly for every target once their children are translated.
PLAIN = (
    exp.Paren,
    exp.Neg,
    exp.Mul,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.NullSafeEQ,
    exp.And,
    exp.Or,
    exp.Not,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Case,
    exp.Distinct,
    exp.Null,
    exp.Star,
    exp.Window,
    exp.WindowSpec,
    exp.Order,
    exp.Ordered,
)
PREDICATES = (
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.NullSafeEQ,
    exp.Like,
    exp.ILike,
    exp.In,
    exp.Between,
    exp.Is,
    exp.And,
    exp.Or,
    exp.Not,
)
# Conversions sqlglot's MySQL parser wraps around date arguments (YEAR(x) is Year(TsOrDsToDate(x))).
INSERTED = (exp.TsOrDsToDate, exp.TsOrDsToTimestamp, exp.TsOrDsToTime)

NUMERIC_TYPES = frozenset({"LONG", "DECIMAL", "DOUBLE"})
DATE_TYPES = frozenset({"DATE", "DATETIME"})


class Emitter:
    """Mixed into a target's sqlglot Generator; see `generator_for`."""

    target: str
    ctx: Context
    used_as: str
    problems: dict[str, None]
    notes: dict[str, None]
    failed: bool

    def setup(self, target: str, ctx: Context, used_as: str) -> None:
        self.target, self.ctx, self.used_as = target, ctx, used_as
        self.problems, self.notes, self.failed = {}, {}, False

    @property
    def engine(self) -> str:
        return ENGINE_NAMES[self.target]

    # --- outcome -------------------------------------------------------------------------------
    def problem(self, sentence: str) -> None:
        self.problems.setdefault(sentence, None)

    def fail(self, sentence: str) -> str:
        self.problem(sentence)
        self.failed = True
        return "NULL"

    def note(self, sentence: str) -> None:
        self.notes.setdefault(sentence, None)

    def text(self, node: exp.Expr) -> str:
        """The formula text of `node`, for messages."""
        return self.ctx.text(node)

    # --- dispatch ------------------------------------------------------------------------------
    def sql(self, expression: str | exp.Expr | None, key: str | None = None, comment: bool = True) -> str:
        if key is not None or not isinstance(expression, exp.Expr):
            return super().sql(expression, key, comment)  # type: ignore[misc]
        node = expression
        position = self.position(node)
        if is_predicate(node) and position == "value" and not isinstance(node, exp.Paren):
            inner = self.emit(node)
            # MySQL semantics: a comparison is a number, 1 or 0 (NULL when unknown).
            return f"CASE WHEN {inner} THEN 1 WHEN NOT ({inner}) THEN 0 END"
        if position == "condition" and not is_predicate(node):
            return f"({self.emit(node)}) <> 0"  # MySQL: any non-zero number is true
        return self.emit(node)

    def emit(self, node: exp.Expr) -> str:
        name = call_name(node)
        if name is not None:
            handler = BY_NAME.get(name)
            if handler is not None:
                if not has_its_arguments(node, name):
                    return self.fail(
                        f"{self.text(node)} does not have the arguments {name} takes (Domo rejects it), "
                        "so it is not translated."
                    )
                return handler(self, node)
            info = catalogue.lookup(name)
            if info is None:
                return self.fail(
                    f"{name} is not a Beast Mode function (Domo rejects it), so it is not translated."
                )
            if info.support == "no":
                return self.fail(
                    f"{name} is not supported by Beast Mode ({info.note}), so it is not translated."
                )
            return self.fail(f"{name} has no translation to {self.engine} with Domo's semantics.")
        handler = BY_TYPE.get(type(node))
        if handler is not None:
            return handler(self, node)
        if isinstance(node, PLAIN) or (isinstance(node, exp.If) and isinstance(node.parent, exp.Case)):
            return self.plain(node)
        return self.fail(f"{self.text(node)} has no translation to {self.engine}.")

    def plain(self, node: exp.Expr) -> str:
        return super().sql(node)  # type: ignore[misc]

    def position(self, node: exp.Expr) -> str:
        """ "condition" where a truth value is expected, "value" elsewhere."""
        child, parent = node, node.parent
        while isinstance(parent, exp.Paren):
            child, parent = parent, parent.parent
        if parent is None:
            return "condition" if self.used_as == "filter" else "value"
        if isinstance(parent, (exp.And, exp.Or, exp.Not)):
            return "condition"
        if (
            isinstance(parent, exp.If)
            and child is parent.this
            and isinstance(parent.parent, exp.Case)
            and parent.parent.this is None
        ):
            return "condition"  # WHEN of a searched CASE
        return "value"

    # --- helpers for handlers ------------------------------------------------------------------
    def type_of(self, node: exp.Expr | None) -> str | None:
        return domo_type(self.ctx, node)

    def string(self, value: str) -> str:
        """A string literal for the target."""
        literal = "'" + value.replace("'", "''") + "'"
        if self.target == "tsql" and not value.isascii():
            return "N" + literal
        return literal

    def text_of(self, node: exp.Expr) -> str:
        """`node` converted to text the way Domo writes it inside CONCAT (MySQL's rules)."""
        sql = self.sql(node)
        kind = self.type_of(node)
        if kind == "STRING":
            return sql
        if kind == "DOUBLE":
            self.problem(
                f"{self.text(node)} is a floating-point number turned into text: Domo does not document "
                f"how it writes one, and {self.engine} may write it differently (2.0 or 2, 1e20 or 1e+20)."
            )
        if kind == "DECIMAL" and self.target == "sqlite":
            self.problem(
                f"{self.text(node)} is a DECIMAL turned into text: SQLite stores it as a binary float and "
                "drops its trailing zeros (1.50 becomes 1.5)."
            )
        if self.target == "postgres":
            return f"CAST({sql} AS TEXT)"
        if self.target == "duckdb":
            return f"CAST({sql} AS VARCHAR)"
        if self.target == "sqlite":
            return sql  # || converts numbers itself; dates are already ISO text
        if kind == "DATE":
            return f"CONVERT(VARCHAR(10), {sql}, 23)"
        if kind == "DATETIME":
            return f"CONVERT(VARCHAR(19), {sql}, 120)"
        if kind is None:
            self.problem(
                f"{self.text(node)} has no known type (give the dataset's columns): T-SQL writes dates and "
                "floats as text unlike Domo ('Jan  5 2024 12:00AM'), so the text may differ."
            )
        return f"CAST({sql} AS NVARCHAR(MAX))"


# How many arguments the rules expect of a call sqlglot does not know (exp.Anonymous keeps what was
# written, however many): MySQL's counts. Typed nodes are checked against their own arg_types.
_ANONYMOUS_ARITY = {
    **dict.fromkeys(("ADDDATE", "SUBDATE"), (2, 2)),
    **dict.fromkeys(("DAYNAME", "MONTHNAME", "WEEKDAY", "APPROXIMATE_COUNT_DISTINCT"), (1, 1)),
    **dict.fromkeys(("NOW", "SYSDATE", "CURRENT_TIMESTAMP"), (0, 1)),
    "YEARWEEK": (1, 2),
}
# Arguments sqlglot calls optional that a rule needs: REPLACE(text, old) parses, but has no replacement.
_NEEDED = {"REPLACE": ("this", "expression", "replacement")}


def has_its_arguments(node: exp.Expr, name: str) -> bool:
    """Whether a call was written with as many arguments as its rule reads (DAYOFMONTH() or
    ADDDATE(d) parse, but no rule can translate them)."""
    if isinstance(node, exp.Anonymous):
        low, high = _ANONYMOUS_ARITY.get(name, (0, None))
        return low <= len(node.expressions) and (high is None or len(node.expressions) <= high)
    needed = _NEEDED.get(name) or [key for key, required in node.arg_types.items() if required]
    return all(_given(node.args.get(key)) for key in needed)


def _given(value: object) -> bool:
    if isinstance(value, list):
        return bool(value)
    if isinstance(value, INSERTED):  # YEAR() is Year(TsOrDsToDate(None))
        return _given(value.this)
    return value is not None


def is_predicate(node: exp.Expr) -> bool:
    return isinstance(strip_parens(node), PREDICATES)


def unwrap(node: exp.Expr) -> exp.Expr:
    """The argument as written, without the conversions sqlglot inserted around it."""
    while isinstance(node, INSERTED) and call_name(node) is None and isinstance(node.this, exp.Expr):
        node = node.this
    return node


_GENERATORS: dict[str, type] = {}


def generator_for(target: str, ctx: Context, used_as: str) -> Emitter:
    cls = _GENERATORS.get(target)
    if cls is None:
        base = Dialect.get_or_raise(target).generator_class
        cls = _GENERATORS[target] = type(f"Domo{base.__name__}", (Emitter, base), {})
    generator = cls(dialect=target)
    generator.setup(target, ctx, used_as)
    return generator


# --- types ----------------------------------------------------------------------------------------
def _typed(kind: str, names: str) -> dict[str, str]:
    return dict.fromkeys(names.split(), kind)


_TYPE_BY_NAME = {
    **_typed("STRING", "CONCAT LEFT RIGHT SUBSTRING TRIM UPPER LOWER REPLACE LPAD RPAD DATE_FORMAT DAYNAME"),
    **_typed("STRING", "MONTHNAME"),
    **_typed("LONG", "LENGTH INSTR STRPOS YEAR MONTH DAY DAYOFMONTH QUARTER HOUR MINUTE SECOND DAYOFYEAR"),
    **_typed("LONG", "DAYOFWEEK WEEKDAY WEEK YEARWEEK WEEKOFYEAR DATEDIFF COUNT APPROXIMATE_COUNT_DISTINCT"),
    **_typed("LONG", "CEILING FLOOR RANK NTILE"),
    **_typed("DOUBLE", "AVG STDDEV STDDEV_POP VAR_POP POWER POW"),
    **_typed("DATE", "CURDATE CURRENT_DATE LAST_DAY DATE"),
    **_typed("DATETIME", "NOW CURRENT_TIMESTAMP SYSDATE TIMESTAMP"),
}
_SAME_AS_FIRST = frozenset(
    _typed("", "SUM MIN MAX ABS ROUND IFNULL NVL COALESCE NULLIF LAG LEAD FIRST_VALUE LAST_VALUE")
)
_DAY_OR_LONGER = frozenset({"DAY", "WEEK", "MONTH", "QUARTER", "YEAR"})


def domo_type(ctx: Context, node: exp.Expr | None) -> str | None:
    """The Domo type of an expression (STRING, LONG, DECIMAL, DOUBLE, DATE, DATETIME) or None."""
    if node is None:
        return None
    node = unwrap(strip_parens(node))
    if isinstance(node, exp.Column):
        kind = ctx.column_type(node)
        return "DATETIME" if kind == "TIMESTAMP" else kind
    if isinstance(node, exp.Literal):
        if node.is_string:
            return "STRING"
        return "LONG" if node.this.lstrip("-").isdigit() else "DECIMAL"
    if isinstance(node, (exp.Window, Fixed)):
        return domo_type(ctx, node.this)
    if isinstance(node, exp.Neg):
        return domo_type(ctx, node.this)
    if is_predicate(node):
        return "LONG"
    if isinstance(node, exp.Div):
        return "DOUBLE"
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Mod)):
        kinds = {domo_type(ctx, node.this), domo_type(ctx, node.expression)}
        for kind in ("DOUBLE", "DECIMAL"):
            if kind in kinds:
                return kind
        return "LONG" if kinds == {"LONG"} else None
    if isinstance(node, exp.Case):
        results = [i.args.get("true") for i in node.args.get("ifs") or []] + [node.args.get("default")]
        kinds = {domo_type(ctx, r) for r in results if r is not None and not isinstance(r, exp.Null)}
        return kinds.pop() if len(kinds) == 1 else None
    name = call_name(node)
    if name in _TYPE_BY_NAME:
        return _TYPE_BY_NAME[name]
    if name in _SAME_AS_FIRST:
        return domo_type(ctx, first_argument(node))
    if name in ("DATE_ADD", "DATE_SUB", "ADDDATE", "SUBDATE"):
        kind = domo_type(ctx, first_argument(node))
        unit = interval_unit(node)
        if kind == "DATE" and unit in _DAY_OR_LONGER:
            return "DATE"
        return "DATETIME" if kind in DATE_TYPES else None
    return None


def interval_unit(node: exp.Expr) -> str | None:
    """The unit of DATE_ADD(d, INTERVAL n UNIT) and its relatives (DAY for ADDDATE(d, n))."""
    unit = node.args.get("unit")
    if isinstance(node, exp.Anonymous):
        second = node.expressions[1] if len(node.expressions) > 1 else None
        if isinstance(second, exp.Interval):
            unit = second.args.get("unit")
        else:
            return "DAY"
    if unit is None:
        return "DAY"
    return unit.name.upper()
