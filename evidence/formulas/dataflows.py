"""DataFlow analysis: the formula engine's rules over every step of a Domo DataFlow.

`analyze_dataflow(flow, schemas=...)` returns one StepAnalysis per SQL statement of a MySQL or
Redshift DataFlow (GenerateTableAction.selectStatement and SQL actions) and per expression of a
Magic ETL DataFlow (Filter, ExpressionEvaluator, GroupBy tiles).

SQL. A statement is parsed with sqlglot, MySQL flows with the engine's own parser (MySQL's, plus
the written function names and source spans the rules read), Redshift flows with Redshift's parser
given the same records (`_RedshiftParser`). Every select expression, WHERE, HAVING and JOIN
condition of every SELECT (CTEs and subqueries included), and the SET values and WHERE of UPDATE
and DELETE, go through the engine's rules (`analyze_node`, used_as="dataflow"); flaw offsets are
positions in the statement. Codes that describe Beast Mode rather than the database a DataFlow
runs on are not reported there: UNSUPPORTED_FUNCTION (the Beast Mode catalogue; a MySQL flow has
MySQL's functions, GREATEST and IF included) and WEEK_MODE (modes 11 and 22 are Domo's; MySQL's
WEEK follows the server's modes 0-7), and on Redshift DATE_ARITHMETIC too (date - date is a number
of days there). UNKNOWN_COLUMN is decided per SELECT scope instead, with table qualifiers, select
aliases and derived tables: a column is unknown only when every table of its scope has a known
schema (an input dataset, a table an earlier step generated) and none holds it.

Tables. Domo's MySQL DataFlows name an input's table after the dataset (`PBM Claims 2025` is
`pbm_claims_2025`); the reader keeps the input's name, not the table name, so a table is matched to
`schemas` by id, by name, or by that lower-case, underscore form of the name.

Magic ETL. Each expression is analyzed alone (`analyze`, used_as="dataflow"; offsets are positions
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
import difflib
import re
import typing as t
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.redshift import Redshift
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.parsers.redshift import RedshiftParser

from evidence import leafiq
from evidence.formulas import STEP_FLAW_CODES, Analysis, Flaw, analyze, analyze_node
from evidence.formulas.dialect import _CALL_END, _CALL_WRAPPERS, DIALECT, NAME, SPAN, _spanned, call_node
from evidence.formulas.model import FLAW_CODES
from evidence.formulas.tree import COMPARISONS, Context, call_name, strip_parens

SQL_ACTIONS = ("GenerateTableAction", "SQL", "SqlAction")
MAGIC_ACTIONS = ("Filter", "ExpressionEvaluator", "GroupBy")
KINDS = ("sql", "expression")
# Engine codes left out per database (see the module docstring).
SQL_SKIPPED_CODES = {
    "MYSQL": frozenset({"UNSUPPORTED_FUNCTION", "WEEK_MODE", "UNKNOWN_COLUMN"}),
    "REDSHIFT": frozenset({"UNSUPPORTED_FUNCTION", "WEEK_MODE", "UNKNOWN_COLUMN", "DATE_ARITHMETIC"}),
}
NULL_RULE = "MAGIC_NULL_COMPARISON_DROPS_ROWS"
_NULL_DEFAULTS = ("IFNULL", "NVL", "COALESCE", "ISNULL")
_QUOTES = "`'\""
_TOKEN_REPR = re.compile(r"<Token token_type: [^,]*, text: (.*?), line: .*?>")
# sqlglot records no position for the NULL of `x IS NOT NULL`: a clause's span is extended over it.
_TRAILING_IS = re.compile(r"\s+IS\s+(NOT\s+)?(NULL|TRUE|FALSE|UNKNOWN)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ExpressionAnalysis:
    """One expression of a step: `clause` says where it sits ("select", "where", "having", "join",
    "set" in SQL; "filter", "expression", "group_by" in Magic ETL); [start, end) is its place in the
    step's text; the Analysis's own offsets are relative to analysis.formula."""

    clause: str
    start: int | None
    end: int | None
    analysis: Analysis


@dataclass(frozen=True)
class StepAnalysis:
    """One SQL statement text, or one Magic ETL expression, of a DataFlow action.

    `part` is its index among the action's statements or expressions; `flaws` are every finding of
    the step with offsets in `text` (the expressions' flaws plus step-level ones: UNPARSEABLE,
    UNKNOWN_COLUMN per SQL scope, MAGIC_NULL_COMPARISON_DROPS_ROWS); `tables` are the tables (SQL)
    or input datasets (Magic ETL) the step reads, `writes` the tables it creates or changes.
    """

    action_index: int
    action_type: str
    action_name: str | None
    kind: str  # one of KINDS
    part: int
    text: str
    analyses: tuple[ExpressionAnalysis, ...]
    flaws: tuple[Flaw, ...]
    tables: tuple[str, ...]
    writes: tuple[str, ...]
    columns: tuple[str, ...]

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(flaw.code for flaw in self.flaws)


def analyze_dataflow(
    flow: leafiq.Dataflow, *, schemas: Mapping[str, Mapping[str, str]] | None = None
) -> tuple[StepAnalysis, ...]:
    """Every SQL statement or Magic ETL expression of `flow`, analyzed.

    schemas: the input datasets' columns (name -> Domo type), keyed by dataset id or name.
    """
    book = _SchemaBook(flow, schemas or {})
    if flow.database_type == "MAGIC":
        return tuple(_magic_steps(flow, book))
    return tuple(_sql_steps(flow, book))


# --- schemas -------------------------------------------------------------------------------------
Schema = dict[str, str]


def table_name(name: str) -> str:
    """The table a MySQL DataFlow gives a dataset: `PBM Claims 2025` -> `pbm_claims_2025`."""
    return re.sub(r"[^0-9a-z]+", "_", name.casefold()).strip("_")


class _SchemaBook:
    """The known tables and datasets of one flow, found by id, name or table name."""

    def __init__(self, flow: leafiq.Dataflow, schemas: Mapping[str, Mapping[str, str]]):
        self._by_key: dict[str, Schema] = {}
        for key, columns in schemas.items():
            self.add(key, dict(columns))
        for endpoint in flow.inputs:  # name the inputs known by id under their names too
            schema = self._by_key.get(endpoint.dataset_id.casefold())
            if schema is not None and endpoint.name:
                self.add(endpoint.name, schema)

    def add(self, name: str, schema: Schema) -> None:
        for key in {name.casefold(), table_name(name)}:
            self._by_key.setdefault(key, schema)

    def get(self, name: str | None) -> Schema | None:
        if not name:
            return None
        return self._by_key.get(name.casefold()) or self._by_key.get(table_name(name))


# --- SQL -----------------------------------------------------------------------------------------
class _RedshiftParser(RedshiftParser):
    """Redshift's parser, recording what the engine's rules read: each call's written name
    (meta NAME) and source span (meta SPAN), as the engine's BeastModeParser does for MySQL,
    and the token of a syntax error."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.error_tokens: list = []

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
        while node is not None and node is not core:
            node.meta.setdefault(SPAN, (token.start, end))
            node = node.this if isinstance(node, _CALL_WRAPPERS) and isinstance(node.this, exp.Expr) else None
        return result

    def _parse_window(self, this: exp.Expr | None, alias: bool = False) -> exp.Expr | None:
        if isinstance(this, exp.Expr) and _CALL_END not in this.meta and SPAN not in this.meta:
            this.meta[_CALL_END] = self._prev.end + 1
        return super()._parse_window(this, alias)

    _parse_atom = _spanned(RedshiftParser._parse_atom)
    _parse_primary = _spanned(RedshiftParser._parse_primary)
    _parse_column = _spanned(RedshiftParser._parse_column)
    _parse_paren = _spanned(RedshiftParser._parse_paren)
    _parse_unary = _spanned(RedshiftParser._parse_unary)
    _parse_interval = _spanned(RedshiftParser._parse_interval)


class RedshiftSpans(Redshift):
    """Redshift, parsed with source spans for the formula engine (registered as "redshiftspans")."""

    Parser = _RedshiftParser


_SQL_DIALECTS = {"MYSQL": DIALECT, "REDSHIFT": RedshiftSpans()}


class _Unparseable(Exception):
    def __init__(self, flaw: Flaw):
        super().__init__(flaw.message)
        self.flaw = flaw


def parse_statements(text: str, database_type: str) -> list[exp.Expr]:
    """The statements of one SQL text; _Unparseable (with an UNPARSEABLE flaw) when it is not SQL."""
    dialect = _SQL_DIALECTS[database_type]
    parser = dialect.parser()
    try:
        tokens = dialect.tokenize(text)
        trees = parser.parse(tokens, text)
    except TokenError as error:
        start = _unclosed_quote(text)
        end = len(text) if start is not None else None
        raise _Unparseable(_unparseable(text, "A quote or back-quote is not closed", start, end)) from error
    except ParseError as error:
        token = parser.error_tokens[0] if parser.error_tokens else None
        description = (error.errors[0].get("description") if error.errors else None) or str(error)
        description = _TOKEN_REPR.sub(lambda m: repr(m.group(1)), description)
        start, end = (token.start, token.end + 1) if token is not None else (None, None)
        raise _Unparseable(_unparseable(text, description, start, end)) from error
    except SqlglotError as error:
        raise _Unparseable(_unparseable(text, str(error), None, None)) from error
    return [tree for tree in trees if tree is not None]


def _unparseable(text: str, description: str, start: int | None, end: int | None) -> Flaw:
    where = ""
    if start is not None:
        line = text.count("\n", 0, start) + 1
        column = start - (text.rfind("\n", 0, start) + 1) + 1
        where = f" (line {line}, column {column})"
    return Flaw(
        code="UNPARSEABLE",
        severity=FLAW_CODES["UNPARSEABLE"].severity,
        snippet=text[start:end] if start is not None and end else text,
        message=f"The SQL does not parse: {description}{where}.",
        suggestion=None,
        start=start,
        end=end,
    )


def _unclosed_quote(text: str) -> int | None:
    """Where the quote that is never closed opens ('' and \\' escapes taken into account)."""
    quote, opened, index = None, None, 0
    while index < len(text):
        char = text[index]
        if quote is None:
            if char in _QUOTES:
                quote, opened = char, index
        elif char == "\\" and quote != "`":
            index += 1
        elif char == quote:
            if index + 1 < len(text) and text[index + 1] == quote:
                index += 1
            else:
                quote = None
        index += 1
    return opened if quote is not None else None


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

    def __init__(self, text: str, tree: exp.Expr, book: _SchemaBook):
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


def _sql_steps(flow: leafiq.Dataflow, book: _SchemaBook) -> Iterator[StepAnalysis]:
    for index, action in enumerate(flow.actions):
        if action.type == "LoadFromVault" and action.name:
            _register_input(flow, book, action.name)
        if action.type in SQL_ACTIONS:
            for part, text in enumerate(action.sql):
                yield _sql_step(index, action, part, text, book, flow.database_type)


def _register_input(flow: leafiq.Dataflow, book: _SchemaBook, name: str) -> None:
    """A LoadFromVault tile names its dataset; with a single input, that input is it."""
    if book.get(name) is None and len(flow.inputs) == 1:
        schema = book.get(flow.inputs[0].dataset_id) or book.get(flow.inputs[0].name)
        if schema is not None:
            book.add(name, schema)


def _sql_step(
    index: int, action: leafiq.DataflowAction, part: int, text: str, book: _SchemaBook, database_type: str
) -> StepAnalysis:
    skipped = SQL_SKIPPED_CODES[database_type]
    analyses: list[ExpressionAnalysis] = []
    flaws: list[Flaw] = []
    tables: dict[str, str] = {}
    writes: dict[str, str] = {}
    columns: dict[str, str] = {}
    try:
        trees = parse_statements(text, database_type)
    except _Unparseable as error:
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
        index, action.type, action.name, "sql", part, text, tuple(analyses), _ordered(flaws),
        tuple(tables.values()), tuple(writes.values()), tuple(columns.values()),
    )  # fmt: skip


def _moved(flaw: Flaw, base: int) -> Flaw:
    if flaw.start is None or not base:
        return flaw
    return dataclasses.replace(flaw, start=flaw.start + base, end=flaw.end + base)


def _ordered(flaws) -> tuple[Flaw, ...]:
    unique: dict[tuple, Flaw] = {}
    for flaw in flaws:
        unique.setdefault((flaw.code, flaw.start, flaw.end, flaw.snippet), flaw)
    return tuple(sorted(unique.values(), key=lambda f: (f.start if f.start is not None else -1, f.code)))


# --- Magic ETL -----------------------------------------------------------------------------------
_MAGIC_CLAUSE = {"Filter": "filter", "ExpressionEvaluator": "expression", "GroupBy": "group_by"}


@dataclass(frozen=True)
class _Columns:
    """What flows out of a Magic ETL tile: its columns, whether no other column can be there, and
    the datasets it comes from."""

    schema: Schema | None
    closed: bool
    sources: tuple[str, ...]


def _magic_steps(flow: leafiq.Dataflow, book: _SchemaBook) -> Iterator[StepAnalysis]:
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
                flaws=_ordered(flaws),
                tables=incoming.sources,
                writes=(),
                columns=analysis.columns,
            )


def _incoming(
    flow: leafiq.Dataflow, action: leafiq.DataflowAction, outputs: dict[str, _Columns], book: _SchemaBook
) -> _Columns:
    """The columns that reach `action` from the tiles it depends on."""
    if action.type == "LoadFromVault":
        _register_input(flow, book, action.name or "")
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
