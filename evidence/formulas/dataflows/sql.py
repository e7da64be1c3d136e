"""DataFlow analysis of SQL: every statement of a MySQL or Redshift DataFlow (GenerateTableAction.
selectStatement and SQL actions), parsed by parsing.py.

Every select expression, WHERE, HAVING and JOIN condition of every SELECT (CTEs and subqueries
included), and the SET values and WHERE of UPDATE and DELETE, go through the engine's rules
(`analyze_node`, used_as="dataflow"); flaw offsets are positions in the statement. Codes that
describe Beast Mode rather than the database a DataFlow runs on are not reported there:
UNSUPPORTED_FUNCTION (the Beast Mode catalogue; a MySQL flow has MySQL's functions, GREATEST and IF
included) and WEEK_MODE (modes 11 and 22 are Domo's; MySQL's WEEK follows the server's modes 0-7),
and on Redshift DATE_ARITHMETIC too (date - date is a number of days there). UNKNOWN_COLUMN is
decided per SELECT scope instead, with table qualifiers, select aliases and derived tables: a
column is unknown only when every table of its scope has a known schema (an input dataset, a table
an earlier step generated) and none holds it.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sqlglot import exp

from evidence.formulas import Flaw, analyze_node
from evidence.formulas.dataflows.parsing import Unparseable, parse_statements
from evidence.formulas.dataflows.steps import (
    ExpressionAnalysis,
    Schema,
    SchemaBook,
    StepAnalysis,
    ordered_flaws,
    register_input,
)
from evidence.formulas.model import FLAW_CODES
from evidence.formulas.tree import Context
from evidence.intake import leafiq

SQL_ACTIONS = ("GenerateTableAction", "SQL", "SqlAction")
# Engine codes left out per database (see the module docstring).
SQL_SKIPPED_CODES = {
    "MYSQL": frozenset({"UNSUPPORTED_FUNCTION", "WEEK_MODE", "UNKNOWN_COLUMN"}),
    "REDSHIFT": frozenset({"UNSUPPORTED_FUNCTION", "WEEK_MODE", "UNKNOWN_COLUMN", "DATE_ARITHMETIC"}),
}
# sqlglot records no position for the NULL of `x IS NOT NULL`: a clause's span is extended over it.
_TRAILING_IS = re.compile(r"\s+IS\s+(NOT\s+)?(NULL|TRUE|FALSE|UNKNOWN)\b", re.IGNORECASE)


@dataclass
class _Scope:
    """The tables one SELECT reads: alias -> schema (None: not known)."""

    sources: dict[str, Schema | None]
    outer: _Scope | None = None
    aliases: tuple[str, ...] = ()
    tables: dict[str, str] = dataclasses.field(default_factory=dict)  # alias -> table name

    def describe(self, alias: str) -> str:
        table = self.tables.get(alias)
        return f"{table} ({alias})" if table and table.casefold() != alias else table or alias

    @property
    def complete(self) -> bool:
        return all(schema is not None for schema in self.sources.values()) and (
            self.outer is None or self.outer.complete
        )

    def columns(self) -> Schema:
        merged: Schema = {}
        scope: _Scope | None = self
        while scope is not None:
            for schema in scope.sources.values():
                for name, kind in (schema or {}).items():
                    merged.setdefault(name, kind)
            scope = scope.outer
        return merged


class _Statement:
    """One parsed SQL statement under analysis."""

    def __init__(self, text: str, tree: exp.Expr, book: SchemaBook):
        self.text = text
        self.tree = tree
        self.book = book
        self.spans = Context(text, tree, None, "dataflow")
        self.ctes = {cte.alias_or_name.casefold(): cte for cte in tree.find_all(exp.CTE)}
        self.cte_schemas: dict[str, Schema | None] = {}
        self.scopes: dict[int, _Scope] = {}

    # --- tables ---------------------------------------------------------------------------------
    def written(self) -> list[exp.Table]:
        tree = self.tree
        if isinstance(tree, (exp.Create, exp.Insert, exp.Update, exp.Delete, exp.Alter, exp.Drop)):
            target = tree.this
            if isinstance(target, exp.Schema):
                target = target.this
            return [target] if isinstance(target, exp.Table) else []
        return []

    def read(self) -> list[str]:
        written = {id(table) for table in self.written()}
        names: dict[str, str] = {}
        for table in self.tree.find_all(exp.Table):
            if id(table) in written or not table.name or table.name.casefold() in self.ctes:
                continue
            if isinstance(self.tree, (exp.Update, exp.Delete)) and table is self.tree.this:
                continue
            names.setdefault(table.name.casefold(), table.name)
        targets = [
            table.name
            for table in self.written()
            if isinstance(self.tree, (exp.Update, exp.Delete, exp.Alter))  # these read what they change
        ]
        for name in targets:
            names.setdefault(name.casefold(), name)
        return list(names.values())

    def table_schema(self, table: exp.Table) -> Schema | None:
        name = table.name
        if name.casefold() in self.ctes:
            cte = self.ctes[name.casefold()]
            if name.casefold() not in self.cte_schemas:
                self.cte_schemas[name.casefold()] = None  # a recursive CTE reads itself: unknown
                self.cte_schemas[name.casefold()] = self.output_schema(cte.this)
            return self.cte_schemas[name.casefold()]
        return self.book.get(name)

    def output_schema(self, query: exp.Expr) -> Schema | None:
        """The columns a query yields (types where a projection is a plain column)."""
        if isinstance(query, exp.SetOperation):
            return self.output_schema(query.this)
        if isinstance(query, exp.Subquery):
            return self.output_schema(query.this)
        if not isinstance(query, exp.Select):
            return None
        scope = self.scope(query)
        available = scope.columns()
        folded = {name.casefold(): kind for name, kind in available.items()}
        out: Schema = {}
        for projection in query.expressions:
            if isinstance(projection, exp.Star) or (
                isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
            ):
                if not scope.complete:
                    return None
                qualifier = projection.table if isinstance(projection, exp.Column) else ""
                if qualifier:
                    out.update(scope.sources.get(qualifier.casefold()) or {})
                else:
                    for schema in scope.sources.values():
                        out.update(schema or {})
                continue
            name = projection.alias_or_name
            if not name:
                continue
            inner = projection.this if isinstance(projection, exp.Alias) else projection
            kind = folded.get(inner.name.casefold(), "") if isinstance(inner, exp.Column) else ""
            out[name] = kind
        return out

    # --- scopes ---------------------------------------------------------------------------------
    def scope(self, select: exp.Select) -> _Scope:
        if id(select) in self.scopes:
            return self.scopes[id(select)]
        outer_select = _correlated_with(select)
        outer = self.scope(outer_select) if outer_select is not None else None
        sources: dict[str, Schema | None] = {}
        tables: dict[str, str] = {}
        from_ = select.args.get("from_") or select.args.get("from")
        items = [from_.this] if from_ is not None else []
        items += [join.this for join in select.args.get("joins") or []]
        for item in items:
            if isinstance(item, exp.Table):
                alias = (item.alias_or_name or item.name).casefold()
                sources[alias] = self.table_schema(item)
                tables[alias] = item.name
            elif isinstance(item, exp.Subquery):
                sources[(item.alias_or_name or f"subquery{len(sources)}").casefold()] = self.output_schema(
                    item.this
                )
            else:
                sources[f"source{len(sources)}"] = None
        aliases = tuple(p.alias for p in select.expressions if isinstance(p, exp.Alias) and p.alias)
        scope = _Scope(sources, outer, aliases, tables)
        self.scopes[id(select)] = scope
        return scope

    # --- expressions ----------------------------------------------------------------------------
    def clauses(self) -> Iterator[tuple[str, exp.Expr, _Scope | None]]:
        """(clause, expression, scope) of every expression the rules read."""
        for select in self.tree.find_all(exp.Select):
            scope = self.scope(select)
            for projection in select.expressions:
                node = projection.this if isinstance(projection, exp.Alias) else projection
                if isinstance(node, exp.Star) or (
                    isinstance(node, exp.Column) and isinstance(node.this, exp.Star)
                ):
                    continue
                yield "select", node, scope
            for join in select.args.get("joins") or []:
                if join.args.get("on") is not None:
                    yield "join", join.args["on"], scope
            for key, clause in (("where", "where"), ("having", "having")):
                if select.args.get(key) is not None:
                    yield clause, select.args[key].this, scope
        if isinstance(self.tree, (exp.Update, exp.Delete)):
            target = self.tree.this
            schema = self.table_schema(target) if isinstance(target, exp.Table) else None
            name = (target.alias_or_name if isinstance(target, exp.Table) else "target").casefold()
            scope = _Scope({name: schema})
            for assignment in self.tree.expressions if isinstance(self.tree, exp.Update) else []:
                if isinstance(assignment, exp.EQ):
                    yield "set", assignment.expression, scope
            if self.tree.args.get("where") is not None:
                yield "where", self.tree.args["where"].this, scope

    def span(self, node: exp.Expr) -> tuple[int, int] | None:
        span = self.spans.span(node)
        if span is not None and isinstance(node, (exp.Is, exp.Not, exp.Connector)):
            while match := _TRAILING_IS.match(self.text, span[1]):
                span = (span[0], match.end())
        return span

    def unknown_columns(self, node: exp.Expr, scope: _Scope, clause: str) -> Iterator[Flaw]:
        """UNKNOWN_COLUMN for the columns of `node` that belong to `scope` (not to a subquery)."""
        for column in node.find_all(exp.Column):
            if isinstance(column.this, exp.Star) or _inner_select(column, node) is not None:
                continue
            name, qualifier = column.name, column.table.casefold() if column.table else ""
            if qualifier:
                owner = _scope_with(scope, qualifier)
                if owner is None:
                    continue  # a qualifier the scope does not know (schema.table.column...): not judged
                schema = owner.sources[qualifier]
                if schema is None or _has(schema, name):
                    continue
                candidates = list(schema)
                read = owner.describe(qualifier)
            else:
                if not scope.complete:
                    continue
                known = scope.columns()
                if _has(known, name) or (clause == "having" and _has(dict.fromkeys(scope.aliases, ""), name)):
                    continue
                candidates = list(known) + list(scope.aliases)
                read = ", ".join(scope.describe(alias) for alias in scope.sources) or "this query"
            span = self.span(column)
            close = difflib.get_close_matches(
                name.casefold(), [c.casefold() for c in candidates], n=1, cutoff=0.6
            )
            spelled = {c.casefold(): c for c in candidates}
            yield Flaw(
                code="UNKNOWN_COLUMN",
                severity=FLAW_CODES["UNKNOWN_COLUMN"].severity,
                snippet=self.text[span[0] : span[1]] if span else column.sql(),
                message=f"`{name}` is not a column of {read}.",
                suggestion=f"`{spelled[close[0]]}`" if close else None,
                start=span[0] if span else None,
                end=span[1] if span else None,
            )


def _correlated_with(select: exp.Select) -> exp.Select | None:
    """The SELECT whose columns `select` may read: the one around a subquery in an expression;
    none for a derived table (FROM, JOIN), a CTE or a set operation's member."""
    parent = select.parent
    while parent is not None:
        if isinstance(parent, (exp.From, exp.Join, exp.CTE, exp.With)):
            return None
        if isinstance(parent, exp.Select):
            return parent
        parent = parent.parent
    return None


def _inner_select(node: exp.Expr, top: exp.Expr) -> exp.Expr | None:
    """The SELECT between node and top, if node sits in a subquery of top."""
    if node is top:
        return None
    parent = node.parent
    while parent is not None and parent is not top:
        if isinstance(parent, exp.Select):
            return parent
        parent = parent.parent
    return None


def _scope_with(scope: _Scope | None, alias: str) -> _Scope | None:
    while scope is not None:
        if alias in scope.sources:
            return scope
        scope = scope.outer
    return None


def _has(schema: Mapping[str, str], name: str) -> bool:
    return name in schema or name.casefold() in {key.casefold() for key in schema}


def sql_steps(flow: leafiq.Dataflow, book: SchemaBook) -> Iterator[StepAnalysis]:
    """Every statement of a MySQL or Redshift flow's SQL actions, in order; `book` learns the
    tables each step makes."""
    for index, action in enumerate(flow.actions):
        if action.type == "LoadFromVault" and action.name:
            register_input(flow, book, action.name)
        if action.type in SQL_ACTIONS:
            for part, text in enumerate(action.sql):
                yield _sql_step(index, action, part, text, book, flow.database_type)


def _sql_step(
    index: int, action: leafiq.DataflowAction, part: int, text: str, book: SchemaBook, database_type: str
) -> StepAnalysis:
    skipped = SQL_SKIPPED_CODES[database_type]
    analyses: list[ExpressionAnalysis] = []
    flaws: list[Flaw] = []
    tables: dict[str, str] = {}
    writes: dict[str, str] = {}
    columns: dict[str, str] = {}
    try:
        trees = parse_statements(text, database_type)
    except Unparseable as error:
        trees = []
        flaws.append(error.flaw)
    for tree in trees:
        statement = _Statement(text, tree, book)
        for name in statement.read():
            tables.setdefault(name.casefold(), name)
        for clause, node, scope in statement.clauses():
            span = statement.span(node)
            analysis = analyze_node(node, text, schema=scope.columns() or None, used_as="dataflow")
            analysis = dataclasses.replace(
                analysis, flaws=tuple(f for f in analysis.flaws if f.code not in skipped)
            )
            if span is not None:  # the clause's text as far as it reaches (IS NOT NULL included)
                analysis = dataclasses.replace(analysis, formula=text[span[0] : span[1]])
            analyses.append(ExpressionAnalysis(clause, *(span or (None, None)), analysis))
            flaws.extend(_moved(flaw, span[0] if span else 0) for flaw in analysis.flaws)
            flaws.extend(statement.unknown_columns(node, scope, clause))
            for name in analysis.columns:
                columns.setdefault(name.casefold(), name)
        # What later steps may read: CREATE TABLE ... AS SELECT, or the table a
        # GenerateTableAction makes of its SELECT (named after the action).
        made = None
        for table in statement.written():
            writes.setdefault(table.name.casefold(), table.name)
            if isinstance(tree, exp.Create) and tree.expression is not None:
                made = (table.name, statement.output_schema(tree.expression))
        if action.type == "GenerateTableAction" and action.name and isinstance(tree, exp.Query):
            writes.setdefault(action.name.casefold(), action.name)
            made = (action.name, statement.output_schema(tree))
        if made is not None and made[1] is not None:  # an unknown shape stays unknown, not empty
            book.add(*made)
    return StepAnalysis(
        index, action.type, action.name, "sql", part, text, tuple(analyses), ordered_flaws(flaws),
        tuple(tables.values()), tuple(writes.values()), tuple(columns.values()),
    )  # fmt: skip


def _moved(flaw: Flaw, base: int) -> Flaw:
    if flaw.start is None or not base:
        return flaw
    return dataclasses.replace(flaw, start=flaw.start + base, end=flaw.end + base)
