"""The "beastmode" sqlglot dialect: Domo Beast Mode formulas, derived from MySQL.

Beast Mode is MySQL expression syntax (back-quoted names, single-quoted strings, CASE, IFNULL,
DATE_ADD ... INTERVAL) plus two Domo extensions the parser learns here:

* window functions over aggregates, `SUM(SUM(x)) OVER (PARTITION BY ...)`: plain MySQL syntax;
* FIXED functions (level of detail), a postfix clause after an aggregate:
  `SUM(x) FIXED ()`, `FIXED (BY a, b)`, `FIXED (ADD c)`, `FIXED (REMOVE c)`, each optionally
  followed by `FILTER NONE`, `FILTER ALLOW a, ...` or `FILTER DENY a, ...` (Domo KB
  "Beast Mode FIXED Functions"). They parse into a `Fixed` node wrapping the aggregate.

The tree keeps sqlglot's typed MySQL nodes (`exp.Sum`, `exp.CurrentDate`, `exp.Coalesce`...), so a
formula can later be transpiled to another engine; the original Domo function name of every call
is kept in `node.meta["domo_name"]` and the generator writes it back (IFNULL stays IFNULL,
CEILING stays CEILING), so `.sql(dialect="beastmode")` gives Domo text that parses to the same
tree. Every node built from a function call, a primary, a CASE, a parenthesis or a unary minus
carries `meta["span"] = (start, end)`: character offsets of its source text (end exclusive).
"""

from __future__ import annotations

import typing as t

from sqlglot import exp
from sqlglot.dialects.mysql import MySQL
from sqlglot.generators.mysql import MySQLGenerator
from sqlglot.parsers.mysql import MySQLParser
from sqlglot.tokens import Token, TokenType

NAME = "domo_name"  # meta key: the function name as written, upper-cased
SPAN = "span"  # meta key: (start, end) character offsets, end exclusive
_CALL_END = "bm_call_end"  # meta key used while parsing: where the call itself ended
FILTER_MODES = ("all", "none", "allow", "deny")
LOD_KINDS = ("by", "add", "remove")


class Fixed(exp.Expression):
    """`AGG(x) FIXED (BY|ADD|REMOVE cols FILTER NONE|ALLOW cols|DENY cols)`.

    `this` is the aggregate; at most one of `by`, `add`, `remove` is set (a list of columns or
    expressions); `filter_mode` is one of FILTER_MODES ("all" when no FILTER clause: Domo's
    default applies every card filter); `filter_columns` lists the ALLOW/DENY columns.
    """

    arg_types: t.ClassVar[dict[str, bool]] = {
        "this": True,
        "by": False,
        "add": False,
        "remove": False,
        "filter_mode": False,
        "filter_columns": False,
    }

    @property
    def kind(self) -> str | None:
        """ "by", "add", "remove", or None for `FIXED ()` (the whole filtered dataset)."""
        return next((k for k in LOD_KINDS if self.args.get(k)), None)

    @property
    def filter_mode(self) -> str:
        return self.args.get("filter_mode") or "all"


# Nodes sqlglot wraps around a function call (OVER, FILTER, WITHIN GROUP, FIXED): the call's
# own name and span belong to the node they wrap.
_CALL_WRAPPERS = (exp.Window, exp.Filter, exp.WithinGroup, exp.IgnoreNulls, exp.RespectNulls, Fixed)


def call_node(node: exp.Expr) -> exp.Expr:
    """The function call inside any OVER/FIXED/FILTER wrappers."""
    while isinstance(node, _CALL_WRAPPERS) and isinstance(node.this, exp.Expr):
        node = node.this
    return node


def _spanning(name: str) -> t.Callable:
    """SpannedParser's `name`: the parser's own, recording the source offsets of what it parsed
    unless an inner call already did."""

    def method(self: SpannedParser, *args: t.Any, **kwargs: t.Any) -> t.Any:
        start_index = self._index
        result = getattr(super(SpannedParser, self), name)(*args, **kwargs)
        if isinstance(result, exp.Expr) and self._index > start_index and SPAN not in result.meta:
            result.meta[SPAN] = (self._tokens[start_index].start, self._prev.end + 1)
        return result

    method.__name__ = name
    return method


class SpannedParser:
    """What the formula rules read, recorded by a sqlglot parser: each call's written name (meta
    NAME), the source span (meta SPAN) of every call, primary, CASE, parenthesis and unary minus,
    and the token of each syntax error (`error_tokens`).

    A mixin listed before a dialect's parser class: BeastModeParser here, the Redshift parser of
    DataFlows (evidence.formulas.dataflows.parsing). `_parse_after_call` is where a dialect reads
    a clause of its own between a call and its OVER (Beast Mode's FIXED).
    """

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.error_tokens: list[Token] = []

    def reset(self) -> None:
        super().reset()
        self.error_tokens = []

    def raise_error(self, message: str, token: t.Any = None) -> None:
        self.error_tokens.append(token or self._curr or self._prev)
        if token is None:
            super().raise_error(message)
        else:
            super().raise_error(message, token)

    def _parse_function_call(self, *args: t.Any, **kwargs: t.Any) -> exp.Expr | None:
        start_index = self._index
        token = self._curr
        result = super()._parse_function_call(*args, **kwargs)
        if not isinstance(result, exp.Expr) or self._index <= start_index:
            return result
        end = self._prev.end + 1
        core = call_node(result)
        if isinstance(core, (exp.Func, exp.Case)) and SPAN not in core.meta:
            core.meta[NAME] = token.text.upper()
            core.meta[SPAN] = (token.start, core.meta.pop(_CALL_END, end))
        node: exp.Expr | None = result
        while node is not None and node is not core:  # OVER/FIXED wrappers span the whole text
            node.meta.setdefault(SPAN, (token.start, end))
            node = node.this if isinstance(node.this, exp.Expr) else None
        return result

    def _parse_window(self, this: exp.Expr | None, alias: bool = False) -> exp.Expr | None:
        if isinstance(this, exp.Expr) and _CALL_END not in this.meta and SPAN not in this.meta:
            this.meta[_CALL_END] = self._prev.end + 1
        return super()._parse_window(self._parse_after_call(this, alias), alias)

    def _parse_after_call(self, this: exp.Expr | None, alias: bool) -> exp.Expr | None:
        """A dialect's own clause after a call, read before OVER; none here."""
        return this

    _parse_atom = _spanning("_parse_atom")  # sqlglot's fast path for simple arguments
    _parse_primary = _spanning("_parse_primary")
    _parse_column = _spanning("_parse_column")
    _parse_paren = _spanning("_parse_paren")
    _parse_unary = _spanning("_parse_unary")
    _parse_interval = _spanning("_parse_interval")


class BeastModeParser(SpannedParser, MySQLParser):
    """MySQL's parser plus FIXED, original function names, source spans and the error token."""

    # Calls MySQL's parser rewrites into other functions (MONTHNAME into DATE_FORMAT, TO_CHAR into
    # CAST...): kept as written, so the text round-trips and the rules see Domo's function.
    FUNCTIONS: t.ClassVar[dict[str, t.Callable]] = {
        name: builder
        for name, builder in MySQLParser.FUNCTIONS.items()
        if name not in {"TO_CHAR", "TO_NUMBER", "MONTHNAME", "DAYNAME", "TO_DAYS", "DATE_TRUNC", "TO_DATE"}
    }

    def _parse_after_call(self, this: exp.Expr | None, alias: bool) -> exp.Expr | None:
        if (
            not alias
            and isinstance(this, exp.Func)
            and self._curr
            and self._curr.token_type != TokenType.STRING
            and self._curr.text.upper() == "FIXED"
            and self._next
            and self._next.token_type == TokenType.L_PAREN
        ):
            this = self._parse_fixed(this)
        return this

    def _parse_fixed(self, this: exp.Expr) -> exp.Expr:
        self._advance(2)  # FIXED (
        args: dict[str, t.Any] = {"this": this}
        if self._match_texts(("BY", "ADD", "REMOVE")):
            kind = self._prev.text.lower()
            args[kind] = self._parse_csv(self._parse_bitwise)
            if not args[kind]:
                self.raise_error(f"Expected columns after FIXED ({kind.upper()}")
        if self._match_texts(("FILTER",)):
            if self._match_texts(("NONE",)):
                args["filter_mode"] = "none"
            elif self._match_texts(("ALLOW", "DENY")):
                args["filter_mode"] = self._prev.text.lower()
                args["filter_columns"] = self._parse_csv(self._parse_bitwise)
                if not args["filter_columns"]:
                    self.raise_error(f"Expected columns after FILTER {args['filter_mode'].upper()}")
            else:
                self.raise_error("Expected NONE, ALLOW or DENY after FILTER")
        self._match_r_paren()
        return self.expression(Fixed(**args))


def _fixed_sql(self: MySQLGenerator, expression: Fixed) -> str:
    parts = []
    for kind in LOD_KINDS:
        if expression.args.get(kind):
            parts.append(f"{kind.upper()} {self.expressions(expression, key=kind, flat=True)}")
    mode = expression.filter_mode
    if mode == "none":
        parts.append("FILTER NONE")
    elif mode in ("allow", "deny"):
        columns = self.expressions(expression, key="filter_columns", flat=True)
        parts.append(f"FILTER {mode.upper()} {columns}")
    return f"{self.sql(expression, 'this')} FIXED ({' '.join(parts)})"


def _named(default: str, transform: t.Callable | None = None) -> t.Callable:
    """Write a call under the Domo name it was written with (or `default`), arguments in order."""

    def sql(self: MySQLGenerator, expression: exp.Expr) -> str:
        name = expression.meta.get(NAME) if expression._meta else None
        args = transform(expression) if transform else [expression.this, *expression.expressions]
        return self.func(name or default, *args)

    return sql


def _no_paren_or_named(default: str) -> t.Callable:
    """CURRENT_DATE/CURDATE() and friends: keep the spelling, parenthesised when it was."""

    def sql(self: MySQLGenerator, expression: exp.Expr) -> str:
        name = (expression.meta.get(NAME) if expression._meta else None) or default
        span = expression.meta.get(SPAN) if expression._meta else None
        written_without_parens = span is not None and span[1] - span[0] == len(name)
        return name if written_without_parens else f"{name}()"

    return sql


def _interval_sql(self: MySQLGenerator, expression: exp.Interval) -> str:
    # MySQL's generator quotes the quantity (INTERVAL '3' DAY); Domo's KB writes INTERVAL 3 DAY.
    this = expression.this
    if isinstance(this, exp.Literal) and this.is_string and _is_number(this.this):
        this = exp.Literal.number(this.this)
    unit = self.sql(expression, "unit")
    return f"INTERVAL {self.sql(this)}{' ' + unit if unit else ''}"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class BeastModeGenerator(MySQLGenerator):
    TRANSFORMS: t.ClassVar[dict[type[exp.Expr], t.Callable[..., str]]] = {
        **MySQLGenerator.TRANSFORMS,
        Fixed: _fixed_sql,
        exp.Coalesce: _named("COALESCE"),
        exp.Ceil: _named("CEILING", lambda e: [e.this, e.args.get("decimals")]),
        exp.Mod: _named("MOD", lambda e: [e.this, e.expression]),
        exp.StrPosition: _named("INSTR", lambda e: [e.this, e.args.get("substr")]),
        exp.Median: _named("MEDIAN", lambda e: [e.this]),
        exp.Pow: _named("POWER", lambda e: [e.this, e.expression]),
        exp.CurrentDate: _no_paren_or_named("CURRENT_DATE"),
        exp.CurrentTimestamp: _no_paren_or_named("CURRENT_TIMESTAMP"),
        exp.CurrentTime: _no_paren_or_named("CURRENT_TIME"),
        exp.Rand: _named("RAND", lambda e: [e.this]),
        exp.Trunc: _named("TRUNC", lambda e: [e.this, e.args.get("decimals")]),
        exp.Interval: _interval_sql,
    }


class BeastModeTokenizer(MySQL.Tokenizer):
    # A formula is one expression: REPLACE(...) is the string function, never MySQL's statement.
    COMMANDS: t.ClassVar[set[TokenType]] = set()


class BeastMode(MySQL):
    """Domo Beast Mode; registered with sqlglot as "beastmode"."""

    Tokenizer = BeastModeTokenizer

    # sqlglot's own record of the written name (kept as typed, and on whatever node a builder
    # returned); the engine reads NAME, which only calls carry.
    ORIGINAL_NAME_META_KEY = "written_name"
    Parser = BeastModeParser
    Generator = BeastModeGenerator


DIALECT = BeastMode()
