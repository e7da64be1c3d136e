"""DataFlow analysis of Magic ETL: every expression of the Filter, ExpressionEvaluator and
GroupBy tiles.

Each expression is analyzed alone (`analyze`, used_as="dataflow"; offsets are positions
in the expression). Columns are followed from the input tiles: a Filter keeps its input's columns;
below a tile that adds columns the reader does not name (ExpressionEvaluator field names, GroupBy
outputs, joins), an unknown name may be one of them, so UNKNOWN_COLUMN is not reported there. Filter
conditions get one more rule, MAGIC_NULL_COMPARISON_DROPS_ROWS (STEP_FLAW_CODES): a Filter keeps a
row only when its condition is true, and a comparison with NULL is NULL (domo-formula-semantics.md,
"NULLs", METL), so a negative comparison (`<>`, NOT IN, NOT LIKE, NOT (...)) on a column with no
IFNULL/COALESCE or IS NULL of its own drops the NULL rows that its wording keeps; a comparison with
the NULL literal drops every row. Positive comparisons (`=`, IN, LIKE, ranges) drop NULL rows as
their wording says and are not reported. Magic ETL filters built in the tile's form (column,
operator, value) rather than as a formula are not in the reader's expressions and are not seen.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sqlglot import exp

from evidence.formulas import STEP_FLAW_CODES, Flaw, analyze
from evidence.formulas.dataflows.steps import (
    ExpressionAnalysis,
    Schema,
    SchemaBook,
    StepAnalysis,
    ordered_flaws,
    register_input,
)
from evidence.formulas.tree import COMPARISONS, Context, call_name, strip_parens
from evidence.intake import leafiq

MAGIC_ACTIONS = ("Filter", "ExpressionEvaluator", "GroupBy")
NULL_RULE = "MAGIC_NULL_COMPARISON_DROPS_ROWS"
_NULL_DEFAULTS = ("IFNULL", "NVL", "COALESCE", "ISNULL")
_MAGIC_CLAUSE = {"Filter": "filter", "ExpressionEvaluator": "expression", "GroupBy": "group_by"}


@dataclass(frozen=True)
class _Columns:
    """What flows out of a Magic ETL tile: its columns, whether no other column can be there, and
    the datasets it comes from."""

    schema: Schema | None
    closed: bool
    sources: tuple[str, ...]


def magic_steps(flow: leafiq.Dataflow, book: SchemaBook) -> Iterator[StepAnalysis]:
    """Every expression of a Magic ETL flow's Filter, ExpressionEvaluator and GroupBy tiles."""
    outputs: dict[str, _Columns] = {}
    # Without the tiles' links (a flow rebuilt from stored steps), a flow with one input is read
    # as a chain in the order the actions are listed. Domo lists them in dependency order, so a
    # tile's real ancestors come before it: the chain is closed (UNKNOWN_COLUMN judged) only while
    # no tile that adds columns has been passed, exactly when its real input is the loaded dataset.
    chained = sum(a.type == "LoadFromVault" for a in flow.actions) == 1 and not any(
        a.depends_on for a in flow.actions
    )
    previous: _Columns | None = None
    for index, action in enumerate(flow.actions):
        incoming = _incoming(flow, action, outputs, book)
        if chained and previous is not None and action.type != "LoadFromVault":
            incoming = previous
        # A Filter passes its columns on unchanged; every other tile may add some.
        keeps_columns = action.type in ("LoadFromVault", "Filter")
        outputs[action.id or f"#{index}"] = previous = (
            incoming if keeps_columns else dataclasses.replace(incoming, closed=False)
        )
        if action.type not in MAGIC_ACTIONS:
            continue
        for part, expression in enumerate(action.expressions):
            analysis = analyze(expression, schema=incoming.schema, used_as="dataflow")
            if not incoming.closed:
                analysis = dataclasses.replace(
                    analysis, flaws=tuple(f for f in analysis.flaws if f.code != "UNKNOWN_COLUMN")
                )
            flaws = list(analysis.flaws)
            if action.type == "Filter" and analysis.parsed is not None:
                flaws.extend(null_comparisons(expression, analysis.parsed, incoming.schema))
            yield StepAnalysis(
                action_index=index,
                action_type=action.type,
                action_name=action.name,
                kind="expression",
                part=part,
                text=expression,
                analyses=(ExpressionAnalysis(_MAGIC_CLAUSE[action.type], 0, len(expression), analysis),),
                flaws=ordered_flaws(flaws),
                tables=incoming.sources,
                writes=(),
                columns=analysis.columns,
            )


def _incoming(
    flow: leafiq.Dataflow, action: leafiq.DataflowAction, outputs: dict[str, _Columns], book: SchemaBook
) -> _Columns:
    """The columns that reach `action` from the tiles it depends on."""
    if action.type == "LoadFromVault":
        register_input(flow, book, action.name or "")
        schema = book.get(action.name)
        return _Columns(schema, schema is not None, (action.name,) if action.name else ())
    parents = [outputs.get(depends) for depends in action.depends_on]
    if not parents or None in parents:
        return _Columns(None, False, ())
    known = [parent.schema for parent in parents if parent.schema is not None]
    schema: Schema = {}
    for columns in known:
        schema.update(columns)
    return _Columns(
        schema=schema if known else None,
        closed=len(known) == len(parents) and all(parent.closed for parent in parents),
        sources=tuple(dict.fromkeys(source for parent in parents for source in parent.sources)),
    )


def null_comparisons(
    expression: str, tree: exp.Expr, schema: Mapping[str, str] | None = None
) -> Iterator[Flaw]:
    """MAGIC_NULL_COMPARISON_DROPS_ROWS in one Filter condition (see the module docstring).

    A negative comparison is reported where it is written; comparisons negated by NOT (...) are
    reported once, on the outermost NOT, whose whole text the suggested IS NULL branch wraps.
    """
    ctx = Context(expression, tree, schema, "dataflow")
    null_checked = {ctx.key(node.this) for node in ctx.find(exp.Is) if isinstance(node.expression, exp.Null)}
    negated: dict[int, tuple[exp.Expr, list[exp.Column]]] = {}  # outermost NOT -> its nullable columns
    for node in ctx.nodes:
        if not isinstance(node, _NULL_DROPPING) or isinstance(node, exp.NullSafeEQ):
            continue  # <=> is never NULL
        operands = [node.this, node.expression, node.args.get("low"), node.args.get("high")]
        operands = [o for o in [*operands, *(node.args.get("expressions") or [])] if o is not None]
        if any(isinstance(strip_parens(o), exp.Null) for o in operands):
            shown = node.parent if isinstance(node.parent, exp.Not) else node
            yield _null_flaw(
                ctx,
                shown,
                f"{_text(ctx, shown)} compares with NULL, which is never true: this Filter drops every row.",
                f"{ctx.text(node.this)} {'IS NULL' if isinstance(node, exp.EQ) else 'IS NOT NULL'}",
                "error",
            )
            continue
        nots = [a for a in _ancestors_within(node, tree) if isinstance(a, exp.Not)]
        negations = len(nots) + bool(node.args.get("negate"))
        if isinstance(node, exp.NEQ) == (negations % 2 == 1):
            continue  # a positive comparison: dropping NULL rows is what it says
        nullable = [c for o in operands for c in _nullable_columns(o) if ctx.key(c) not in null_checked]
        if not nullable:
            continue
        if nots:
            entry = negated.setdefault(id(nots[-1]), (nots[-1], []))
            entry[1].extend(nullable)
            continue
        text, column = _text(ctx, node), ctx.text(nullable[0])
        other = strip_parens(node.expression) if node.expression is not None else None
        if (
            isinstance(node, exp.NEQ)
            and strip_parens(node.this) is nullable[0]
            and isinstance(other, exp.Literal)
            and other.is_string
            and other.this != ""
        ):
            suggestion = f"IFNULL({column}, '') <> {ctx.text(other)}"
        else:
            suggestion = f"({text} OR {column} IS NULL)"
        yield _null_flaw(ctx, node, _null_message(text, [column]), suggestion)
    for not_node, columns in negated.values():
        text = _text(ctx, not_node)
        names = list(dict.fromkeys(ctx.text(column) for column in columns))
        suggestion = "(" + " OR ".join([text, *(f"{name} IS NULL" for name in names)]) + ")"
        yield _null_flaw(ctx, not_node, _null_message(text, names), suggestion)


_NULL_DROPPING = (*COMPARISONS, exp.In, exp.Like, exp.ILike, exp.Between)
# sqlglot records no position for the closing parenthesis of an IN list.
_CLOSING_PAREN = re.compile(r"\s*\)")


def _span(ctx: Context, node: exp.Expr) -> tuple[int, int] | None:
    span = ctx.span(node)
    core = node.this if isinstance(node, exp.Not) else node
    match = _CLOSING_PAREN.match(ctx.formula, span[1]) if span is not None else None
    if match and isinstance(core, exp.In) and core.args.get("expressions"):
        span = (span[0], match.end())
    return span


def _text(ctx: Context, node: exp.Expr) -> str:
    span = _span(ctx, node)
    return ctx.formula[span[0] : span[1]] if span else ctx.text(node)


def _null_message(text: str, columns: list[str]) -> str:
    where = " or ".join(columns)
    return (
        f"{text} is NULL, not true, where {where} is NULL: Magic ETL's Filter drops those rows too, "
        "although the condition reads as keeping everything but what it names."
    )


def _null_flaw(
    ctx: Context, node: exp.Expr, message: str, suggestion: str, severity: str | None = None
) -> Flaw:
    span = _span(ctx, node)
    return Flaw(
        code=NULL_RULE,
        severity=severity or STEP_FLAW_CODES[NULL_RULE].severity,
        snippet=_text(ctx, node),
        message=message,
        suggestion=suggestion,
        start=span[0] if span else None,
        end=span[1] if span else None,
    )


def _ancestors_within(node: exp.Expr, top: exp.Expr) -> Iterator[exp.Expr]:
    parent = node.parent
    while parent is not None:
        yield parent
        if parent is top:
            return
        parent = parent.parent


def _nullable_columns(operand: exp.Expr) -> list[exp.Column]:
    """Columns whose NULL makes `operand` NULL: not under IFNULL/COALESCE/NVL or a CASE."""
    found = []
    stack = [operand]
    while stack:
        node = stack.pop()
        if call_name(node) in _NULL_DEFAULTS or isinstance(node, (exp.Coalesce, exp.Case, exp.Is)):
            continue
        if isinstance(node, exp.Column):
            found.append(node)
            continue
        stack.extend(node.iter_expressions())
    return found
