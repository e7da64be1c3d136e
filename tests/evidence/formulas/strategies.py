"""Hypothesis strategies for Beast Mode formulas: every function of the catalogue, called with
arguments of every kind (columns, literals, NULL, nested calls, CASE, INTERVAL, arithmetic,
comparisons), window and FIXED forms, plus arbitrary text and broken variants of good formulas.

`formulas()` is the strategy test_never_crashes.py draws from; SCHEMA types the columns it uses.
"""

from __future__ import annotations

from hypothesis import strategies as st

from evidence.formulas import catalogue

SCHEMA = {
    "Date": "DATE",
    "Fill Date": "DATETIME",
    "Amount": "DECIMAL",
    "Units": "LONG",
    "Rate": "DOUBLE",
    "Status": "STRING",
    "Member ID": "STRING",
    "A": "LONG",
    "B": "DOUBLE",
}
# Columns of the schema, one in another case, one missing from it, one whose name needs escaping.
COLUMN_NAMES = (*SCHEMA, "date", "Not In Schema", "Odd `Name")

# Every function Domo documents, plus names people write that Domo does not have.
FUNCTION_NAMES = (
    tuple(sorted(catalogue.CATALOGUE))
    + tuple(sorted(catalogue.REPLACEMENTS))
    + (
        "ROW_NUMBER",
        "DENSE_RANK",
        "LOCATE",
        "CAST",
        "NO_SUCH_FUNCTION",
    )
)
UNITS = (
    "MICROSECOND",
    "SECOND",
    "MINUTE",
    "HOUR",
    "DAY",
    "WEEK",
    "MONTH",
    "QUARTER",
    "YEAR",
    "HOUR_MINUTE",
    "DAY_SECOND",
)
AGGREGATES = ("SUM", "AVG", "COUNT", "MIN", "MAX", "STDDEV_POP", "VAR_POP", "APPROXIMATE_COUNT_DISTINCT")
WINDOW_FUNCTIONS = ("LAG", "LEAD", "RANK", "NTILE", "FIRST_VALUE", "LAST_VALUE", "PERCENTILE_RANK")
BINARY_OPERATORS = ("+", "-", "*", "/", "%", "=", "<>", "!=", "<", "<=", ">", ">=", "<=>", "AND", "OR", "DIV")


def _quote_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _quote_column(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


columns = st.sampled_from(COLUMN_NAMES).map(_quote_column)
numbers = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    st.sampled_from(("0", "0.0", "1e3", "11", "22", "7", "-1")),
)
strings = st.one_of(
    st.sampled_from(
        (
            "",
            "2024-01-31",
            "2024-02-29 13:45:00",
            "1/31/2025",
            "%m/%d/%Y",
            "%Y-%U %W %w %j %p",
            "Fill Date",
            "x",
        )
    ),
    st.text(max_size=12),
).map(_quote_string)
literals = st.one_of(numbers, strings, st.sampled_from(("NULL", "TRUE", "FALSE")))
leaves = st.one_of(columns, literals)


def _interval(quantity: str, unit: str) -> str:
    return f"INTERVAL {quantity} {unit}"


def _call(name: str, arguments: list[str]) -> str:
    return f"{name}({', '.join(arguments)})"


def _case(whens: list[tuple[str, str]], default: str | None, subject: str | None) -> str:
    parts = ["CASE"] + ([subject] if subject else [])
    parts += [f"WHEN {condition} THEN {result}" for condition, result in whens]
    if default is not None:
        parts.append(f"ELSE {default}")
    return " ".join(parts + ["END"])


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """One level of nesting over `inner`."""
    intervals = st.builds(_interval, st.one_of(numbers, inner), st.sampled_from(UNITS))
    arguments = st.lists(st.one_of(inner, intervals), max_size=4)
    calls = st.builds(_call, st.sampled_from(FUNCTION_NAMES), arguments)
    distinct = st.builds(
        lambda name, x: f"{name}(DISTINCT {x})", st.sampled_from(("COUNT", "SUM", "AVG")), inner
    )
    date_shifts = st.builds(
        lambda name, x, second: f"{name}({x}, {second})",
        st.sampled_from(("DATE_ADD", "DATE_SUB", "ADDDATE", "SUBDATE")),
        inner,
        st.one_of(intervals, inner),
    )
    cases = st.builds(
        _case,
        st.lists(st.tuples(inner, inner), min_size=1, max_size=3),
        st.none() | inner,
        st.none() | inner,
    )
    binary = st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(BINARY_OPERATORS), inner)
    interval_arithmetic = st.builds(
        lambda a, op, interval: f"{a} {op} {interval}", inner, st.sampled_from(("+", "-")), intervals
    )
    predicates = st.one_of(
        st.builds(lambda a, negated: f"{a} IS {'NOT ' if negated else ''}NULL", inner, st.booleans()),
        st.builds(
            lambda a, items: f"{a} IN ({', '.join(items)})", inner, st.lists(inner, min_size=1, max_size=3)
        ),
        st.builds(lambda a, pattern: f"{a} LIKE {pattern}", inner, strings),
        st.builds(lambda a, low, high: f"{a} BETWEEN {low} AND {high}", inner, inner, inner),
        st.builds(lambda a: f"NOT {a}", inner),
    )
    unary = st.builds(lambda a: f"-{a}", inner) | st.builds(lambda a: f"({a})", inner)
    return st.one_of(calls, distinct, date_shifts, cases, binary, interval_arithmetic, predicates, unary)


expressions = st.recursive(leaves, _extend, max_leaves=8)


def _over(partition: list[str], order: list[tuple[str, str]]) -> str:
    clauses = []
    if partition:
        clauses.append("PARTITION BY " + ", ".join(partition))
    if order:
        clauses.append(
            "ORDER BY " + ", ".join(f"{column} {direction}".strip() for column, direction in order)
        )
    return f"OVER ({' '.join(clauses)})"


overs = st.builds(
    _over,
    st.lists(st.one_of(columns, expressions), max_size=2),
    st.lists(st.tuples(st.one_of(columns, expressions), st.sampled_from(("", "ASC", "DESC"))), max_size=2),
)
windows = st.one_of(
    st.builds(
        lambda outer, inner, x, over: f"{outer}({inner}({x})) {over}",
        st.sampled_from(AGGREGATES),
        st.sampled_from(AGGREGATES),
        expressions,
        overs,
    ),
    st.builds(
        lambda name, arguments, over: f"{_call(name, arguments)} {over}",
        st.sampled_from(WINDOW_FUNCTIONS),
        st.lists(expressions, max_size=3),
        overs,
    ),
)


def _fixed(
    aggregate: str, x: str, kind: str, fixed_columns: list[str], mode: str, filtered: list[str]
) -> str:
    inside = f"{kind} {', '.join(fixed_columns)}" if kind and fixed_columns else ""
    if mode == "NONE":
        inside += " FILTER NONE"
    elif mode and filtered:
        inside += f" FILTER {mode} {', '.join(filtered)}"
    return f"{aggregate}({x}) FIXED ({inside.strip()})"


fixed_values = st.builds(
    _fixed,
    st.sampled_from(AGGREGATES),
    expressions,
    st.sampled_from(("", "BY", "ADD", "REMOVE")),
    st.lists(columns, max_size=2),
    st.sampled_from(("", "NONE", "ALLOW", "DENY")),
    st.lists(columns, max_size=2),
)
fixed_forms = st.one_of(
    fixed_values,
    st.builds(lambda outer, fixed: f"{outer}({fixed})", st.sampled_from(AGGREGATES), fixed_values),
    st.builds(
        lambda fixed, op, x: f"{fixed} {op} {x}", fixed_values, st.sampled_from(("/", "-", ">")), expressions
    ),
)

well_formed = st.one_of(expressions, windows, fixed_forms)


@st.composite
def _broken(draw: st.DrawFn) -> str:
    """A well-formed formula cut short, or with text inserted or removed somewhere."""
    formula = draw(well_formed)
    at = draw(st.integers(min_value=0, max_value=len(formula)))
    how = draw(st.sampled_from(("cut", "insert", "delete")))
    if how == "cut":
        return formula[:at]
    if how == "insert":
        noise = draw(
            st.one_of(
                st.sampled_from(("(", ")", "'", "`", ",", ";", "‘", "”", "--", "/*", "FIXED", "OVER")),
                st.text(max_size=3),
            )
        )
        return formula[:at] + noise + formula[at:]
    end = draw(st.integers(min_value=at, max_value=len(formula)))
    return formula[:at] + formula[end:]


def formulas() -> st.SearchStrategy[str]:
    """Any text a Leaf IQ export could carry as a formula, weighted toward what parses."""
    return st.one_of(well_formed, _broken(), st.text(max_size=40))
