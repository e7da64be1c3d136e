"""Domo Beast Mode formula engine: parse a formula, find its columns, level and flaws.

Plain Python on sqlglot (no Django): `analyze(formula, schema=..., used_as=...)` returns an
`Analysis` with the parse tree (dialect "beastmode", see dialect.py), its normalized text, the
aggregation level, the columns it reads, the FIXED clauses it holds and its flaws (flaws.py; the
codes and their severities are in FLAW_CODES).

Column names are matched case-insensitively, resolved to the schema's spelling. Domo documents
case-insensitive names for Magic ETL formulas and Beast Mode examples mix the case of function
names freely; for Beast Mode column names Domo says nothing (domo-formula-semantics.md,
"Strings and identifiers"), so a name that differs from the schema only in case is accepted
rather than reported as unknown: the engine keeps false alarms rare.

ENGINE_VERSION changes whenever the same formula could get a different result; the console
re-analyzes stored formulas when it does.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping

from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.parser import Parser
from sqlglot.tokens import TokenType

from evidence.formulas import catalogue, nesting
from evidence.formulas.dialect import DIALECT, BeastMode, Fixed
from evidence.formulas.flaws import RULES
from evidence.formulas.model import (
    FLAW_CODES,
    LEVELS,
    STEP_FLAW_CODES,
    USES,
    Analysis,
    FixedClause,
    Flaw,
    FlawCode,
)
from evidence.formulas.tree import Context, is_aggregate

# 3: calls named like a type nested past MAX_TYPE_CALL_NESTING are UNPARSEABLE; 4: nesting past
# nesting.MAX_NESTING is UNPARSEABLE, and up to it always parses (whatever the caller's stack)
ENGINE_VERSION = "4"
# How an analysis that failed inside the engine begins its one flaw (see `_failed`): a bug, never a
# finding about the formula; the property tests assert that no formula they generate gets it.
ENGINE_FAILURE = "The formula engine failed on this formula"
# Calls named like a SQL type (DATE(, YEAR(, CHAR(, BINARY(, ...) nested deeper than this are refused
# before parsing: the parser tries each as a type first and backs off, so its time doubles or triples
# with every level (BINARY nested 11 deep took 5 s, 20 deep would take hours). Real Beast Modes nest
# such calls two or three deep.
MAX_TYPE_CALL_NESTING = 6

logger = logging.getLogger(__name__)

__all__ = [
    "ENGINE_FAILURE",
    "ENGINE_VERSION",
    "FLAW_CODES",
    "LEVELS",
    "STEP_FLAW_CODES",
    "USES",
    "Analysis",
    "BeastMode",
    "FixedClause",
    "Flaw",
    "FlawCode",
    "FormulaSyntaxError",
    "analyze",
    "analyze_node",
    "catalogue",
    "parse",
]

_TYPOGRAPHIC_QUOTES = "\u2018\u2019\u201c\u201d"


class FormulaSyntaxError(ValueError):
    """A formula that is not one Beast Mode expression; `start` is a character offset."""

    def __init__(self, message: str, start: int | None, end: int | None, formula: str):
        self.start, self.end = start, end
        self.line, self.column = _line_column(formula, start)
        where = f" (line {self.line}, column {self.column})" if start is not None else ""
        super().__init__(f"{message}{where}")
        self.description = message


def parse(formula: str) -> exp.Expr:
    """The parse tree of one Beast Mode expression; FormulaSyntaxError otherwise."""
    if not formula.strip():
        raise FormulaSyntaxError("The formula is empty", 0, 0, formula)
    quote = typographic_quote(formula)
    if quote is not None:
        raise FormulaSyntaxError(
            f"Typographic quote {formula[quote]} where Beast Mode needs an ASCII quote: Domo refuses "
            "the formula, it reads ' around text and ` around a column name, never typographic "
            "quotes (‘ ’ “ ”)",
            quote,
            quote + 1,
            formula,
        )
    parser = DIALECT.parser()
    nesting.ensure_room()
    try:
        tokens = DIALECT.tokenize(formula)
        if (deepest := nesting.too_deep(tokens)) is not None:
            raise FormulaSyntaxError(nesting.MESSAGE, deepest.start, deepest.end + 1, formula)
        _check_type_call_nesting(tokens, formula)
        trees = parser.parse(tokens, formula)
    except FormulaSyntaxError:
        raise
    except TokenError as error:
        raise FormulaSyntaxError(_token_message(error, formula), error.start, error.end, formula) from error
    except ParseError as error:
        token = parser.error_tokens[0] if parser.error_tokens else None
        description = (error.errors[0].get("description") if error.errors else None) or str(error)
        start = token.start if token is not None else None
        end = token.end + 1 if token is not None else None
        raise FormulaSyntaxError(_with_quote_hint(description, formula), start, end, formula) from error
    except SqlglotError as error:  # sqlglot's other refusals (e.g. too deeply nested)
        raise FormulaSyntaxError(str(error), None, None, formula) from error
    except RecursionError as error:
        raise FormulaSyntaxError(
            "The formula is nested too deeply to be read", None, None, formula
        ) from error
    except (AttributeError, TypeError, ValueError, IndexError, KeyError) as error:
        # sqlglot's parser trips over some broken calls itself (DATE_SUB() followed by text it
        # does not expect): the text is still not a formula it can read.
        token = parser.error_tokens[0] if parser.error_tokens else None
        start = token.start if token is not None else None
        end = token.end + 1 if token is not None else None
        raise FormulaSyntaxError(
            _with_quote_hint("The formula could not be read as one Beast Mode expression", formula),
            start,
            end,
            formula,
        ) from error
    trees = [tree for tree in trees if tree is not None]
    if len(trees) != 1:
        semicolon = formula.find(";")
        start, end = (semicolon, semicolon + 1) if semicolon >= 0 else (None, None)
        raise FormulaSyntaxError("A formula is one expression, not several statements", start, end, formula)
    tree = trees[0]
    if isinstance(tree, exp.Alias):
        alias = tree.args["alias"]
        start = alias.meta.get("start") if alias._meta else None
        end = alias.meta["end"] + 1 if start is not None else None
        raise FormulaSyntaxError(
            f"Unexpected {alias.name!r} after the expression (a formula has no alias)", start, end, formula
        )
    if not isinstance(tree, exp.Condition) and not isinstance(tree, Fixed):
        raise FormulaSyntaxError(
            "A formula is a value expression, not a SQL statement or clause", 0, len(formula), formula
        )
    return tree


def _check_type_call_nesting(tokens: list, formula: str) -> None:
    """Refuse calls named like a type nested deeper than MAX_TYPE_CALL_NESTING (FormulaSyntaxError)."""
    opened: list[bool] = []  # per open parenthesis: does it open a call named like a type?
    depth = 0
    previous = None
    for token in tokens:
        if token.token_type == TokenType.L_PAREN:
            typed = previous is not None and previous.token_type in Parser.TYPE_TOKENS
            opened.append(typed)
            depth += typed
            if depth > MAX_TYPE_CALL_NESTING:
                raise FormulaSyntaxError(
                    f"{previous.text.upper()}( is nested {depth} deep in calls named like a type (DATE, YEAR, "
                    f"CHAR, ...); the console reads at most {MAX_TYPE_CALL_NESTING} such levels",
                    previous.start, token.end + 1, formula,
                )
        elif token.token_type == TokenType.R_PAREN and opened:
            depth -= opened.pop()
        previous = token


def analyze(
    formula: str, *, schema: Mapping[str, str] | None = None, used_as: str = "card_value"
) -> Analysis:
    """Analyze one Beast Mode formula.

    schema: the dataset's columns, name -> Domo type (STRING, LONG, DOUBLE, DECIMAL, DATE,
    DATETIME); without it, no UNKNOWN_COLUMN and dates are recognized by column name only.
    used_as: one of USES; a per-row ratio is only a flaw as a "card_value".
    """
    if used_as not in USES:
        raise ValueError(f"used_as must be one of {', '.join(USES)}, not {used_as!r}")
    try:
        tree = parse(formula)
    except FormulaSyntaxError as error:
        flaw = Flaw(
            code="UNPARSEABLE",
            severity=FLAW_CODES["UNPARSEABLE"].severity,
            snippet=formula[error.start : error.end] if error.start is not None and error.end else formula,
            message=f"{error}.",
            suggestion=None,
            start=error.start,
            end=error.end,
        )
        return Analysis(formula, None, formula, None, (), (flaw,), (), used_as)
    try:
        return _analysis(Context(formula, tree, schema, used_as), formula)
    except Exception as error:  # noqa: BLE001  (logged by _failed) last resort: a result for every formula
        return _failed(formula, used_as, error)


def analyze_node(
    node: exp.Expr, text: str, *, schema: Mapping[str, str] | None = None, used_as: str = "dataflow"
) -> Analysis:
    """Analyze one expression parsed elsewhere, as `analyze` does a formula: a select expression or
    condition of a DataFlow SQL statement, parsed with a parser that records written function
    names and source spans as this engine's does (DIALECT.parser()).

    `text` is the source the node's spans refer to (the whole statement). Analysis.formula is the
    node's own text, text[start:end] with (start, end) = Context(text, node, ...).span(node), and
    flaw and FIXED offsets are relative to it, as in `analyze`.
    """
    if used_as not in USES:
        raise ValueError(f"used_as must be one of {', '.join(USES)}, not {used_as!r}")
    nesting.ensure_room()
    try:
        ctx = Context(text, node, schema, used_as)
        analysis = _analysis(ctx, ctx.text(node))
    except Exception as error:  # noqa: BLE001  (logged by _failed) the last resort, as in `analyze`
        try:
            written = node.sql(dialect=DIALECT)
        except RecursionError:  # the very depth that stopped the analysis
            written = text
        return _failed(written, used_as, error)
    base = (ctx.span(node) or (0, 0))[0]
    if not base:
        return analysis

    def shifted(item):
        if item.start is None:
            return item
        return dataclasses.replace(item, start=item.start - base, end=item.end - base)

    return dataclasses.replace(
        analysis,
        flaws=tuple(shifted(flaw) for flaw in analysis.flaws),
        fixed=tuple(shifted(clause) for clause in analysis.fixed),
    )


def _failed(formula: str, used_as: str, error: Exception) -> Analysis:
    """An analysis the engine could not finish: one UNPARSEABLE flaw that says so, logged with its
    traceback, so the calculation is shown as not analyzed instead of being lost at intake."""
    if isinstance(error, RecursionError):  # a limit, not a fault
        message = "The formula is nested too deeply to be analyzed."
    else:
        logger.exception("The formula engine failed on %r", formula)
        message = (
            f"{ENGINE_FAILURE} ({type(error).__name__}: {error}), so it is not analyzed; "
            "this is a fault of the console, not of the formula."
        )
    flaw = Flaw(
        code="UNPARSEABLE",
        severity=FLAW_CODES["UNPARSEABLE"].severity,
        snippet=formula,
        message=message,
    )
    return Analysis(formula, None, formula, None, (), (flaw,), (), used_as)


def _analysis(ctx: Context, formula: str) -> Analysis:
    flaws: dict[tuple, Flaw] = {}
    for rule in RULES:
        for flaw in rule(ctx):
            flaws.setdefault((flaw.code, flaw.start, flaw.end, flaw.snippet), flaw)
    ordered = sorted(flaws.values(), key=lambda f: (f.start if f.start is not None else -1, f.code))
    return Analysis(
        formula=formula,
        parsed=ctx.tree,
        sql=ctx.sql(ctx.tree),
        level=_level(ctx),
        columns=_columns(ctx),
        flaws=tuple(ordered),
        fixed=tuple(_fixed_clause(ctx, node) for node in ctx.find(Fixed)),
        used_as=ctx.used_as,
    )


def _level(ctx: Context) -> str:
    if any(ctx.find(Fixed)):
        return "fixed"
    if any(ctx.find(exp.Window)):
        return "window"
    if any(is_aggregate(node) for node in ctx.nodes):
        return "aggregate"
    return "row"


def _columns(ctx: Context) -> tuple[str, ...]:
    names: dict[str, str] = {}
    for column in sorted(ctx.find(exp.Column), key=lambda c: (ctx.span(c) or (0, 0))[0]):
        name = ctx.resolve(column.name) or column.name
        names.setdefault(name.casefold(), name)
    return tuple(names.values())


def _fixed_clause(ctx: Context, node: Fixed) -> FixedClause:
    def names(key: str) -> tuple[str, ...]:
        return tuple(
            (ctx.resolve(item.name) or item.name) if isinstance(item, exp.Column) else ctx.text(item)
            for item in node.args.get(key) or []
        )

    span = ctx.span(node)
    kind = node.kind
    return FixedClause(
        snippet=ctx.text(node),
        aggregate=ctx.text(node.this),
        kind=kind,
        columns=names(kind) if kind else (),
        filter_mode=node.filter_mode,
        filter_columns=names("filter_columns"),
        start=span[0] if span else None,
        end=span[1] if span else None,
    )


def typographic_quote(formula: str) -> int | None:
    """Offset of the first typographic quote (‘ ’ “ ”) that Beast Mode would have to read as a
    quote, or None.

    Inside a properly closed ASCII string ('it’s') or back-quoted name a typographic quote is an
    ordinary character, so it is allowed there (Domo keeps it as text). Everywhere else, and in an
    ASCII string that never closes ('Yes’), it is what breaks the formula: Domo refuses it. KB
    samples copied from a word processor carry exactly these ("‘text’").
    """
    state, opened, i, n = None, 0, 0, len(formula)
    while i < n:
        char = formula[i]
        if state is None:
            if char in _TYPOGRAPHIC_QUOTES:
                return i
            if char in "'\"`":
                state, opened = char, i
            elif formula.startswith("--", i):
                end = formula.find("\n", i)
                i = n if end < 0 else end
                continue
            elif formula.startswith("/*", i):
                end = formula.find("*/", i + 2)
                i = n if end < 0 else end + 2
                continue
        elif char == "\\" and state != "`":
            i += 2
            continue
        elif char == state:
            if formula.startswith(state * 2, i):
                i += 2
                continue
            state = None
        i += 1
    if state is not None and state != "`":
        return next((j for j in range(opened, n) if formula[j] in _TYPOGRAPHIC_QUOTES), None)
    return None


def _line_column(formula: str, offset: int | None) -> tuple[int | None, int | None]:
    if offset is None:
        return None, None
    before = formula[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _token_message(error: TokenError, formula: str) -> str:
    text = str(error)
    if "Error tokenizing" in text or "Missing" in text:
        text = "A quote or back-quote is not closed"
    return _with_quote_hint(text, formula)


def _with_quote_hint(message: str, formula: str) -> str:
    if any(quote in formula for quote in _TYPOGRAPHIC_QUOTES):
        return f"{message}; the formula contains typographic quotes (‘ ’ “ ”), which Beast Mode does not read as quotes"
    return message
