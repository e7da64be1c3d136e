"""Walking a parsed formula: source spans, call names, column resolution and simple typing."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from sqlglot import exp

from evidence.formulas import catalogue
from evidence.formulas.dialect import DIALECT, NAME, SPAN, Fixed
from evidence.formulas.model import FLAW_CODES, Flaw

DATE_TYPES = frozenset({"DATE", "DATETIME", "TIMESTAMP"})
# Id-like column names. `id$` alone would also match "Plan Paid", so a trailing "id" counts only
# as its own word, after "_", or in camelCase (memberId, ClaimID).
_ID_WORDS = re.compile(r"\bid\b|_id$|number$|#|\bno\.?$", re.IGNORECASE)
_ID_CAMEL = re.compile(r"[a-z](?:Id|ID)$")
# Without a schema, a column is taken for a date by its name only.
_DATE_NAME = re.compile(r"\b(date|datetime|timestamp)\b|_(date|at|on)$", re.IGNORECASE)
DATE_LITERAL = re.compile(
    r"^\s*(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{4})([ T]\d{1,2}:\d{2}(:\d{2})?)?\s*$"
)
COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ)
ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.IntDiv)
_TRANSPARENT = (exp.Distinct, exp.Paren)


def is_id_like(name: str) -> bool:
    return bool(_ID_WORDS.search(name) or _ID_CAMEL.search(name))


def strip_parens(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def call_name(node: exp.Expr | None) -> str | None:
    """The Domo function name a node was written with; None for operators and inserted nodes."""
    # Not every child is a node: an unnamed call (exp.Anonymous) keeps its name, a str, in `this`.
    if not isinstance(node, exp.Expr) or not node._meta:
        return None
    return node.meta.get(NAME)


def first_argument(node: exp.Expr) -> exp.Expr | None:
    """The first argument a call was written with: `this` of a typed node such as exp.Sum, the
    first of `expressions` of a call sqlglot does not know (exp.Anonymous: SUBDATE, ADDDATE)."""
    if isinstance(node, exp.Anonymous):
        return node.expressions[0] if node.expressions else None
    this = node.this
    return this if isinstance(this, exp.Expr) else None


def is_aggregate(node: exp.Expr) -> bool:
    return catalogue.is_aggregate(call_name(node))


def is_zero(node: exp.Expr | None) -> bool:
    return node is not None and number_value(node) == 0


def number_value(node: exp.Expr) -> float | None:
    """The value of a numeric literal, or of -literal."""
    sign = 1
    if isinstance(node, exp.Neg):
        sign, node = -1, node.this
    if isinstance(node, exp.Literal) and node.is_number:
        try:
            return sign * float(node.this)
        except ValueError:
            return None
    return None


def _own_span(node: exp.Expr) -> tuple[int, int] | None:
    """The span the parser recorded; for leaves, the token positions sqlglot keeps itself."""
    meta = node._meta
    if not meta:
        return None
    if SPAN in meta:
        return meta[SPAN]
    if isinstance(node, (exp.Literal, exp.Identifier, exp.Var)) and "start" in meta:
        return meta["start"], meta["end"] + 1
    return None


class Context:
    """One formula under analysis: its text, tree, schema and use."""

    def __init__(self, formula: str, tree: exp.Expr, schema: Mapping[str, str] | None, used_as: str):
        self.formula = formula
        self.tree = tree
        self.used_as = used_as
        self.schema = (
            None if schema is None else {name: (kind or "").upper() for name, kind in schema.items()}
        )
        self._folded: dict[str, str] = {}
        for name in self.schema or ():
            self._folded.setdefault(name.casefold(), name)
        self.nodes: list[exp.Expr] = list(tree.walk())
        self.spans: dict[int, tuple[int, int]] = {}
        for node in reversed(self.nodes):  # pre-order reversed: children before their parents
            own = _own_span(node)
            starts, ends = ([own[0]], [own[1]]) if own else ([], [])
            for child in node.iter_expressions():
                child_span = self.spans.get(id(child))
                if child_span:
                    starts.append(child_span[0])
                    ends.append(child_span[1])
            if starts:
                self.spans[id(node)] = (min(starts), max(ends))

    def flaw(
        self,
        code: str,
        node: exp.Expr | None,
        message: str,
        suggestion: str | None = None,
        severity: str | None = None,
    ) -> Flaw:
        """A Flaw about `node` (the whole formula when None), with its source text and offsets."""
        span = self.span(node) if node is not None else None
        return Flaw(
            code=code,
            severity=severity or FLAW_CODES[code].severity,
            snippet=self.text(node) if node is not None else self.formula,
            message=message,
            suggestion=suggestion,
            start=span[0] if span else None,
            end=span[1] if span else None,
        )

    # --- text ---------------------------------------------------------------------------------
    def span(self, node: exp.Expr) -> tuple[int, int] | None:
        return self.spans.get(id(node))

    def text(self, node: exp.Expr) -> str:
        span = self.span(node)
        return self.formula[span[0] : span[1]] if span else self.sql(node)

    @staticmethod
    def sql(node: exp.Expr) -> str:
        return node.sql(dialect=DIALECT)

    def key(self, node: exp.Expr) -> str:
        """A comparison key: two expressions written alike, up to case and spacing, are equal."""
        return self.sql(strip_parens(node)).casefold()

    # --- tree ---------------------------------------------------------------------------------
    def find(self, *types: type) -> Iterator[exp.Expr]:
        return (node for node in self.nodes if isinstance(node, types))

    def calls(self, *names: str) -> Iterator[exp.Expr]:
        wanted = set(names)
        return (node for node in self.nodes if call_name(node) in wanted)

    @staticmethod
    def argument_of(node: exp.Expr) -> tuple[exp.Expr | None, exp.Expr]:
        """(call, argument) for a node passed to a function, through parentheses, DISTINCT and
        the conversion nodes sqlglot inserts (YEAR('x') is Year(TsOrDsToDate('x')))."""
        child, parent = node, node.parent
        while parent is not None and (
            isinstance(parent, _TRANSPARENT) or (isinstance(parent, exp.Func) and call_name(parent) is None)
        ):
            child, parent = parent, parent.parent
        return (parent if call_name(parent) else None), child

    def arguments(self, call: exp.Expr) -> list[exp.Expr]:
        """The call's arguments in the order written (sqlglot renames and reorders them)."""
        return sorted(
            (child for child in call.iter_expressions() if self.span(child)), key=lambda c: self.span(c)[0]
        )

    def argument_index(self, call: exp.Expr, argument: exp.Expr) -> int | None:
        return next((i for i, child in enumerate(self.arguments(call)) if child is argument), None)

    @staticmethod
    def ancestors(node: exp.Expr) -> Iterator[exp.Expr]:
        parent = node.parent
        while parent is not None:
            yield parent
            parent = parent.parent

    def aggregates_in(self, node: exp.Expr, *, through_fixed: bool = True) -> list[exp.Expr]:
        """Aggregate calls inside `node` (itself included); with through_fixed=False, a FIXED
        value counts as a per-row value and what it wraps is skipped."""
        found = []
        stack = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, Fixed) and not through_fixed:
                continue
            if is_aggregate(current):
                found.append(current)
            stack.extend(current.iter_expressions())
        return found

    def columns_in(self, node: exp.Expr) -> list[exp.Column]:
        return [n for n in node.walk() if isinstance(n, exp.Column)]

    def row_columns_in(self, node: exp.Expr) -> list[exp.Column]:
        """Columns read at row level: not inside an aggregate, window or FIXED."""
        found = []
        stack = [node]
        while stack:
            current = stack.pop()
            if is_aggregate(current) or isinstance(current, (exp.Window, Fixed)):
                continue
            if isinstance(current, exp.Column):
                found.append(current)
            stack.extend(current.iter_expressions())
        return found

    # --- columns and types --------------------------------------------------------------------
    def resolve(self, name: str) -> str | None:
        """The schema's spelling of a column name, matched case-insensitively (see __init__)."""
        if self.schema is None:
            return name
        if name in self.schema:
            return name
        return self._folded.get(name.casefold())

    def column_type(self, column: exp.Column) -> str | None:
        if self.schema is None:
            return None
        resolved = self.resolve(column.name)
        return self.schema.get(resolved) if resolved else None

    def is_date(self, node: exp.Expr) -> bool:
        node = strip_parens(node)
        if isinstance(node, exp.Column):
            kind = self.column_type(node)
            if self.schema is not None and self.resolve(node.name):
                return kind in DATE_TYPES
            return bool(_DATE_NAME.search(node.name))
        if isinstance(node, exp.Literal):
            return node.is_string and bool(DATE_LITERAL.match(node.this))
        if isinstance(node, (exp.Window, Fixed)):
            return self.is_date(node.this)
        if isinstance(node, exp.Case):
            results = [if_.args.get("true") for if_ in node.args.get("ifs") or []] + [
                node.args.get("default")
            ]
            return any(r is not None and self.is_date(r) for r in results)
        name = call_name(node)
        if name in catalogue.DATE_VALUED:
            return True
        if name in (
            "MIN",
            "MAX",
            "FIRST_VALUE",
            "LAST_VALUE",
            "LAG",
            "LEAD",
            "IFNULL",
            "NVL",
            "COALESCE",
            "NULLIF",
        ):
            args = self.arguments(node)
            return bool(args) and self.is_date(args[0])
        return False
