"""The reconciliation engine: a backend output against a card's golden rows, in DuckDB, exact.

Both sides are DuckDB relations (a table or view name, or an Arrow table registered here). The keys are
normalised the same way on both sides in SQL (trimmed; lower-cased when the key says casefold; dates to DATE
from YYYY-MM-DD, MM/DD/YYYY or a timestamp; decimals and integers cast exactly), the measures are parsed to
DECIMAL(38, scale) (`$`, `,` and spaces stripped, parentheses negative), and a FULL OUTER JOIN on the keys gives
every key x measure one class:

- ``match``: both sides present and equal exactly (two NULLs are equal);
- ``within_tolerance``: |backend - golden| <= abs_tolerance, or <= rel_tolerance x |golden| (inclusive);
- ``variance``: anything else where the key is on both sides (a NULL against a value included);
- ``only_backend`` / ``only_domo``: the key is on one side only.

difference = backend - golden (exact DECIMAL; NULL for only_* and where a side's value is NULL). Each row carries
a fingerprint: sha256 of mapping name, normalised keys, measure and both values' canonical text, '|'-joined with
NULL as '~' (so a later reconciliation finds the same fingerprint while the values are unchanged).

A measure is compared at its mapping's scale: a value with more decimals is rounded to it by the cast (half away
from zero), as the card would show it. `backend` and `golden` given as names go into the SQL as they are (the
caller's relations, not user text).

Bad input is refused, never guessed at: a key or measure value that does not parse (naming side, column, the
first bad value in sort order and how many), a duplicate key on one side (naming the key and its count).
No row-by-row Python, no floats.

The result, by default: the table `<table>__by_key`, one row per key (k0.. the normalised keys, b_seen, g_seen,
b0, g0, b1, g1, .. both sides' values per measure in mapping order, and a `problem` flag, FALSE throughout), built
in one statement (both sides normalised inside the join, no table per side), and the view `<table>` over it: the
rows per key x measure, ordered by keys and measure, whose class, difference and fingerprint are computed when
read. What the result holds is the same as a stored table's, row for row, fingerprint for fingerprint; the work
of classes and fingerprints moves to whoever reads (and only to the rows read: reading the rows that are not
`match` computes only their fingerprints). `materialise=True` stores the rows as the table `<table>` instead.
The checks (values that did not parse, keys duplicated on a side) and the summary come from one scan of the
by-key table; only when something is wrong are the sides read again to name it.
"""
from __future__ import annotations

import itertools
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import duckdb

KeyKind = Literal["text", "date", "decimal", "integer"]
CLASSES = ("match", "within_tolerance", "variance", "only_backend", "only_domo")
NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "UHUGEINT")
_counter = itertools.count()


class ReconciliationError(ValueError):
    """The inputs cannot be reconciled as they are (the message names side, column and value)."""


@dataclass(frozen=True)
class KeySpec:
    name: str
    backend_column: str
    golden_column: str
    kind: KeyKind = "text"
    casefold: bool = False
    scale: int = 6  # decimal keys only: DECIMAL(38, scale)


@dataclass(frozen=True)
class MeasureSpec:
    name: str
    backend_column: str
    golden_column: str
    scale: int = 2
    abs_tolerance: Decimal | None = None
    rel_tolerance: Decimal | None = None


@dataclass(frozen=True)
class Mapping:
    name: str  # the mapping's id or name: part of every fingerprint
    keys: tuple[KeySpec, ...]
    measures: tuple[MeasureSpec, ...]

    def __post_init__(self):
        if not self.keys:
            raise ReconciliationError(f"mapping {self.name!r}: at least one key is needed")
        if not self.measures:
            raise ReconciliationError(f"mapping {self.name!r}: at least one measure is needed")
        names = [k.name for k in self.keys] + [m.name for m in self.measures]
        if len(set(names)) != len(names):
            raise ReconciliationError(f"mapping {self.name!r}: key and measure names must be distinct: {names}")
        for key in self.keys:
            if key.kind not in ("text", "date", "decimal", "integer"):
                raise ReconciliationError(f"mapping {self.name!r}: key {key.name!r} has unknown kind {key.kind!r}")
        for m in self.measures:
            if not 0 <= m.scale <= 18:
                raise ReconciliationError(f"mapping {self.name!r}: measure {m.name!r} scale must be 0..18")
            for label, tol in (("abs_tolerance", m.abs_tolerance), ("rel_tolerance", m.rel_tolerance)):
                if tol is not None and (not isinstance(tol, Decimal) or tol < 0 or not tol.is_finite()):
                    raise ReconciliationError(f"mapping {self.name!r}: measure {m.name!r} {label} must be a "
                                              f"non-negative Decimal, not {tol!r}")


@dataclass
class Reconciliation:
    table: str  # the DuckDB view (or, materialised, table) of the rows (keys..., measure, backend_value, ...)
    rows: int
    summary: dict = field(default_factory=dict)  # {"total": {class: n}, "measures": {measure: {class: n}}}
    seconds: dict = field(default_factory=dict)  # per phase: normalise, check, join, classify
    by_key: str | None = None  # the table of one row per key (k0.., b_seen, g_seen, b0, g0, ..), under `table`


# --- SQL pieces ---------------------------------------------------------------------------------------------
def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _decimal_literal(value: Decimal) -> str:
    text = format(value, "f")
    scale = max(0, -value.as_tuple().exponent)
    return f"CAST({lit(text)} AS DECIMAL(38, {scale}))"


def _types(con, relation: str) -> dict[str, str]:
    return {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}


def _text(col: str) -> str:
    """A column's text, trimmed, empty as NULL. TRIM removes Unicode space separators (category Zs) at either end;
    in ASCII that is the space only, so an ASCII text (bytes = characters) that neither starts nor ends with a
    space is its own trim and is passed as it is: the same value, without TRIM's copy of every text (measured: the
    golden client key at 5M rows, not dictionary-coded enough for DuckDB to trim once per distinct value, about
    12% of the reconciliation's CPU time). Any other text is trimmed as before."""
    text = f"CAST({col} AS VARCHAR)"
    return (f"NULLIF(CASE WHEN {text} LIKE ' %' OR {text} LIKE '% ' OR STRLEN({text}) <> LENGTH({text}) "
            f"THEN TRIM({text}) ELSE {text} END, '')")


def _parsed_from_text(typ: str) -> bool:
    return not (typ in NUMERIC_TYPES or typ.startswith(("DECIMAL", "DATE", "TIMESTAMP")))


def _key_sql(key: KeySpec, col: str, typ: str, raw: str) -> str:
    """A key's normalised value; `raw` names its trimmed text (computed once, below) when parsed from text."""
    if key.kind == "text":
        text = _text(col)
        return f"LOWER({text})" if key.casefold else text
    if not _parsed_from_text(typ):
        return {"date": f"CAST({col} AS DATE)", "integer": f"CAST({col} AS HUGEINT)",
                "decimal": f"CAST({col} AS DECIMAL(38, {key.scale}))"}[key.kind]
    if key.kind == "date":  # YYYY-MM-DD, MM/DD/YYYY, else a timestamp; the format tried first is the one that can
        # match (a text with a slash never matches YYYY-MM-DD, one without never MM/DD/YYYY): a failed parse is slow
        return (f"CAST(CASE WHEN CONTAINS({raw}, '/') THEN COALESCE(TRY_STRPTIME({raw}, '%m/%d/%Y'), "
                f"TRY_CAST({raw} AS TIMESTAMP)) ELSE COALESCE(TRY_STRPTIME({raw}, '%Y-%m-%d'), "
                f"TRY_CAST({raw} AS TIMESTAMP)) END AS DATE)")
    if key.kind == "integer":
        return f"TRY_CAST({raw} AS HUGEINT)"
    return f"TRY_CAST({raw} AS DECIMAL(38, {key.scale}))"


def _measure_sql(measure: MeasureSpec, col: str, typ: str, raw: str, precision: int = 38) -> str:
    """A measure's exact value; `raw` names its cleaned text ($, commas and spaces gone) when parsed from text."""
    target = f"DECIMAL({precision}, {measure.scale})"
    if not _parsed_from_text(typ):
        return f"CAST({col} AS {target})"
    return (f"CASE WHEN {raw} LIKE '(%)' THEN -TRY_CAST({raw}[2:-2] AS {target}) "
            f"ELSE TRY_CAST({raw} AS {target}) END")


def reconcile(con: duckdb.DuckDBPyConnection, backend, golden, mapping: Mapping, *,
              table: str = "reconciliation", materialise: bool = False, ordered: bool = True) -> Reconciliation:
    """Reconcile `backend` against `golden` (relation names, or Arrow tables registered for the call) by
    `mapping`. The rows (one per key x measure) are the DuckDB view `table`, ordered by keys and measure, over
    the table `table + "__by_key"` (one row per key, both sides' values: `Reconciliation.by_key`); both are
    replaced. With `materialise=True` the rows are a table `table` instead (the old form: classes and
    fingerprints computed once for every row, slower), and there is no by-key table. `ordered=False` leaves the
    order out: a reader that counts or filters every row does not pay for a sort it does not need."""
    run = next(_counter)
    registered = []
    relations = {}
    for side, source in (("backend", backend), ("golden", golden)):
        if isinstance(source, str):
            relations[side] = source
        else:  # an Arrow table (or anything DuckDB can register)
            name = f"__recon_{side}_{run}"
            con.register(name, source)
            registered.append(name)
            relations[side] = q(name)
    try:
        return _reconcile(con, relations, mapping, table, run, materialise, ordered)
    finally:
        for name in registered:
            con.unregister(name)
        for side in ("backend", "golden"):
            con.execute(f"DROP TABLE IF EXISTS {q(f'__recon_{side}_norm_{run}')}")
        con.execute(f"DROP TABLE IF EXISTS {q(f'__recon_by_key_{run}')}")


def _columns(con, side: str, relation: str, mapping: Mapping) -> dict[str, str]:
    """The relation's column types, refusing a missing column or a float measure."""
    types = _types(con, relation)
    wanted = [getattr(k, f"{side}_column") for k in mapping.keys] + [getattr(m, f"{side}_column")
                                                                     for m in mapping.measures]
    missing = [c for c in wanted if c not in types]
    if missing:
        raise ReconciliationError(f"{side}: no column {', '.join(map(repr, missing))} in {relation} "
                                  f"(it has {', '.join(types)})")
    for m in mapping.measures:
        raw = getattr(m, f"{side}_column")
        if types[raw] in ("FLOAT", "DOUBLE", "REAL"):
            raise ReconciliationError(f"{side}: measure {m.name!r} (column {q(raw)}) is {types[raw]}: money is "
                                      f"compared exactly, give it as DECIMAL or text")
    return types


def _clean(col: str) -> str:
    """Money text with $, commas and spaces removed, empty as NULL."""
    return f"NULLIF(REGEXP_REPLACE(CAST({col} AS VARCHAR), '[$,\\s]', '', 'g'), '')"


def _normalised(side: str, relation: str, types: dict[str, str], mapping: Mapping,
                precision: int) -> tuple[str, bool]:
    """One side as SQL: keys k0.., measures m0.. (exact) and, when anything is parsed from text, `bad`: TRUE on a
    row where a value did not parse (the message is found later, only then). Money text is cast as it is first
    and cleaned ($, commas, spaces, parentheses) only where that fails: a value that casts as it is has nothing
    to clean but surrounding spaces, the same number either way. Each step is its own projection so that DuckDB
    runs the regular expression on those few values only. Measures are DECIMAL(`precision`, scale): at 18 a value
    too large for it fails to cast (an error, or a `bad` row when parsed from text), and the caller goes wide."""
    columns = list(dict.fromkeys([getattr(k, f"{side}_column") for k in mapping.keys]
                                 + [getattr(m, f"{side}_column") for m in mapping.measures]))
    alias = {raw: f"c{n}" for n, raw in enumerate(columns)}
    first = [f"{q(raw)} AS {alias[raw]}" for raw in columns]  # trimmed key text; money cast as it is
    second, third, out, bad = [], [], [], []  # keys parsed, money cleaned where needed; money parsed; flags
    for i, key in enumerate(mapping.keys):
        raw = getattr(key, f"{side}_column")
        col, typ = alias[raw], types[raw]
        second.append(f"{_key_sql(key, col, typ, f'raw_k{i}')} AS k{i}")
        third.append(f"k{i}")
        out.append(f"k{i}")
        if key.kind != "text" and _parsed_from_text(typ):
            first.append(f"{_text(col)} AS raw_k{i}")
            second.append(f"raw_k{i}")
            third.append(f"raw_k{i}")
            bad.append(f"(raw_k{i} IS NOT NULL AND k{i} IS NULL)")
    for j, m in enumerate(mapping.measures):
        raw = getattr(m, f"{side}_column")
        col, typ = alias[raw], types[raw]
        out.append(f"m{j}")
        if _parsed_from_text(typ):
            first.append(f"TRY_CAST(CAST({col} AS VARCHAR) AS DECIMAL({precision}, {m.scale})) AS fast_m{j}")
            second += [f"fast_m{j}", f"CASE WHEN fast_m{j} IS NULL THEN {_clean(col)} END AS raw_m{j}"]
            parsed = _measure_sql(m, col, typ, f"raw_m{j}", precision)
            third += [f"COALESCE(fast_m{j}, {parsed}) AS m{j}", f"raw_m{j}"]
            bad.append(f"(raw_m{j} IS NOT NULL AND m{j} IS NULL)")
        else:
            second.append(f"{_measure_sql(m, col, typ, '', precision)} AS m{j}")
            third.append(f"m{j}")
    if bad:
        out.append(f"({' OR '.join(bad)}) AS bad")
    sql = (f"SELECT {', '.join(out)} FROM (SELECT {', '.join(third)} FROM (SELECT {', '.join(second)} FROM "
           f"(SELECT {', '.join(first)} FROM {relation})))")
    return sql, bool(bad)


def _classes_sql(mapping: Mapping) -> tuple[list[str], list[tuple[str, str]]]:
    """Per measure (in name order) the struct of one key x measure row, and per measure (in mapping order) the
    conditions for match and within_tolerance; over the by-key columns b0, g0, ..., b_seen, g_seen."""
    top = max(m.scale for m in mapping.measures)
    structs, counts, tolerated = [], [], []
    for j, m in enumerate(mapping.measures):
        b, g = f"b{j}", f"g{j}"
        tolerance = []
        if m.abs_tolerance is not None:
            tolerance.append(f"ABS({b} - {g}) <= {_decimal_literal(m.abs_tolerance)}")
        if m.rel_tolerance is not None:
            tolerance.append(f"ABS({b} - {g}) <= {_decimal_literal(m.rel_tolerance)} * ABS({g})")
        tolerated.append(" OR ".join(tolerance) or "FALSE")
        counts.append((f"b_seen AND g_seen AND {b} IS NOT DISTINCT FROM {g}",
                       (f"b_seen AND g_seen AND {b} IS DISTINCT FROM {g} AND {b} IS NOT NULL AND {g} IS NOT NULL "
                        f"AND ({tolerated[j]})")))
    for j, m in sorted(enumerate(mapping.measures), key=lambda pair: pair[1].name):
        b, g, within = f"b{j}", f"g{j}", tolerated[j]
        klass = (f"CASE WHEN NOT g_seen THEN 'only_backend' WHEN NOT b_seen THEN 'only_domo' "
                 f"WHEN {b} IS NOT DISTINCT FROM {g} THEN 'match' WHEN {b} IS NULL OR {g} IS NULL THEN 'variance' "
                 f"WHEN {within} THEN 'within_tolerance' ELSE 'variance' END")
        text = (f"CONCAT_WS('|', {lit(m.name)}, COALESCE(CAST({b} AS VARCHAR), '~'), "
                f"COALESCE(CAST({g} AS VARCHAR), '~'))")  # each value's text at its own measure's scale
        own = "" if _one_scale(mapping) else f", 'text': {text}"  # one scale: the text is made from b and g later
        structs.append(f"{{'measure': {lit(m.name)}, 'b': CAST({b} AS DECIMAL(38, {top})), "
                       f"'g': CAST({g} AS DECIMAL(38, {top})), 'd': CAST({b} - {g} AS DECIMAL(38, {top})), "
                       f"'class': {klass}{own}}}")
    return structs, counts


def _one_scale(mapping: Mapping) -> bool:
    return len({m.scale for m in mapping.measures}) == 1


def _rows_sql(mapping: Mapping, by_key: str, ordered: bool) -> str:
    """The rows per key x measure over the by-key table, ordered by keys and measure (unless not `ordered`); the
    fingerprint is sha256 of mapping name, keys, measure and both values ('|'-joined, NULL as '~')."""
    n = len(mapping.keys)
    structs, _ = _classes_sql(mapping)
    key_text = ", ".join(f"COALESCE(CAST(k{i} AS VARCHAR), '~')" for i in range(n))
    named = ", ".join(f"k{i} AS {q(k.name)}" for i, k in enumerate(mapping.keys))
    # the keys, then measure: by position, never by a name
    order = (" ORDER BY " + ", ".join(str(i) for i in range(1, n + 2))) if ordered else ""
    # the values' text at their measure's scale: the struct's b and g are at it when every measure has one scale
    # (the text is then made only for the rows read, after any filter on them), else the struct carries it
    text = ("CONCAT_WS('|', u.measure, COALESCE(CAST(u.b AS VARCHAR), '~'), COALESCE(CAST(u.g AS VARCHAR), '~'))"
            if _one_scale(mapping) else "u.text")
    return (f"SELECT {named}, u.measure AS measure, u.b AS backend_value, u.g AS golden_value, "
            f"u.d AS difference, u.class AS class, "
            f"SHA256(CONCAT_WS('|', {lit(mapping.name)}, {key_text}) || '|' || {text}) AS fingerprint "
            f"FROM (SELECT *, UNNEST([{', '.join(structs)}]) AS u FROM {q(by_key)}){order}")


@contextmanager
def _insertion_order(con, keep: bool):
    """DuckDB's preserve_insertion_order set to `keep` for a statement, the connection's own setting put back."""
    was = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    if was == keep:
        yield
        return
    con.execute(f"SET preserve_insertion_order = {str(keep).lower()}")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {str(was).lower()}")


def _drop(con, name: str) -> None:
    """Drop the view or table `name`, whichever it is."""
    for kind in ("VIEW", "TABLE"):
        try:
            con.execute(f"DROP {kind} IF EXISTS {q(name)}")
        except duckdb.CatalogException:  # the other kind
            continue


class _Again(Exception):
    """The fast attempt met something it does not vouch for: the reconciliation is done again the plain way."""


def _reconcile(con, relations: dict[str, str], mapping: Mapping, table: str, run: int,
               materialise: bool, ordered: bool) -> Reconciliation:
    """A fast attempt first, the plain way when it meets anything unusual (which the plain way then refuses with
    its message, or reconciles). Fast: measures as DECIMAL(18, scale), half the bytes of 38 to carry and keep (the
    same values and the same text, so the same classes and fingerprints); a value that does not fit sends it the
    plain way, DECIMAL(38, scale). (Joining on a 64-bit hash of the keys, checked pair by pair, was measured too:
    no faster here, so not done.)"""
    seconds = dict.fromkeys(("normalise", "check", "join", "classify"), 0.0)
    try:
        return _attempt(con, relations, mapping, table, run, materialise, ordered, True, seconds)
    except _Again:
        return _attempt(con, relations, mapping, table, run, materialise, ordered, False, seconds)


def _attempt(con, relations: dict[str, str], mapping: Mapping, table: str, run: int, materialise: bool,
             ordered: bool, fast: bool, seconds: dict) -> Reconciliation:
    keys, measures = mapping.keys, mapping.measures
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[phase] += now - clock
        clock = now

    sides, checked = {}, {}
    for side in ("backend", "golden"):
        types = _columns(con, side, relations[side], mapping)
        sides[side], checked[side] = _normalised(side, relations[side], types, mapping, 18 if fast else 38)
    lap("normalise")
    # One pass: both sides normalised and joined (no table per side), a row per key with both sides' values.
    n = len(keys)
    key_list = ", ".join(f"k{i}" for i in range(n))
    key_cols = ", ".join(f"COALESCE(b.k{i}, g.k{i}) AS k{i}" for i in range(n))
    on = " AND ".join(f"b.k{i} IS NOT DISTINCT FROM g.k{i}" for i in range(n))
    measure_cols = ", ".join(f"b.m{j} AS b{j}, g.m{j} AS g{j}" for j in range(len(measures)))
    problems = [f"COALESCE({s[0]}.bad, FALSE)" for s in ("backend", "golden") if checked[s]]  # did not parse
    flag = f", {' OR '.join(problems)} AS problem" if problems else ""
    building_name = f"__recon_by_key_{run}"
    building = q(building_name)
    try:
        with _insertion_order(con, False):  # the by-key table needs no order (the rows view sorts): in parallel
            con.execute(f"CREATE OR REPLACE TABLE {building} AS SELECT {key_cols}, b.__seen IS NOT NULL AS b_seen, "
                        f"g.__seen IS NOT NULL AS g_seen, {measure_cols}{flag} "
                        f"FROM (SELECT *, TRUE AS __seen FROM ({sides['backend']})) b "
                        f"FULL OUTER JOIN (SELECT *, TRUE AS __seen FROM ({sides['golden']})) g ON {on}")
    except duckdb.ConversionException:  # a typed measure value too large for DECIMAL(18, scale)
        if fast:
            lap("join")
            raise _Again from None
        raise
    lap("join")
    # The checks and the summary in one scan. A duplicated key shows as more joined rows than a side has (when
    # the other side has the key) or as an unmatched key joined twice (when it has not).
    _, counts = _classes_sql(mapping)
    parts = ["COUNT(*)", "COUNT(*) FILTER (WHERE b_seen)", "COUNT(*) FILTER (WHERE g_seen)",
             "COUNT(*) FILTER (WHERE b_seen AND g_seen)",
             "COUNT(*) FILTER (WHERE problem)" if problems else "0",
             f"(SELECT COUNT(*) FROM {relations['backend']})", f"(SELECT COUNT(*) FROM {relations['golden']})"]
    parts += [f"COUNT(*) FILTER (WHERE {c})" for pair in counts for c in pair]
    total, b_seen, g_seen, both, flagged, b_rows, g_rows, *per = con.execute(
        f"SELECT {', '.join(parts)} FROM {building}").fetchall()[0]
    problem = flagged or b_seen != b_rows or g_seen != g_rows
    if not problem and total > both:
        problem = bool(con.execute(f"SELECT 1 FROM {building} WHERE NOT (b_seen AND g_seen) "
                                   f"GROUP BY b_seen, {key_list} HAVING COUNT(*) > 1 LIMIT 1").fetchall())
    if problem:
        _explain(con, relations, mapping, run)  # raises, naming side, column or key and value
        if fast:  # nothing wrong at 38 digits: a value too large for DECIMAL(18, scale), so the plain way
            lap("check")
            raise _Again
        raise ReconciliationError("the inputs have unparseable values or duplicate keys")  # not reached
    lap("check")
    summary: dict = {"total": dict.fromkeys(CLASSES, 0), "measures": {}}
    for j, m in enumerate(measures):
        match, within = per[2 * j], per[2 * j + 1]
        summary["measures"][m.name] = {"match": match, "within_tolerance": within,
                                       "variance": both - match - within, "only_backend": total - g_seen,
                                       "only_domo": total - b_seen}
        for klass, count in summary["measures"][m.name].items():
            summary["total"][klass] += count
    by_key = f"{table}__by_key"
    _drop(con, table)
    if materialise:
        with _insertion_order(con, ordered):  # the table keeps the order, if any
            con.execute(f"CREATE TABLE {q(table)} AS {_rows_sql(mapping, building_name, ordered)}")
        by_key = None
    else:
        _drop(con, by_key)
        con.execute(f"ALTER TABLE {building} RENAME TO {q(by_key)}")
        con.execute(f"CREATE VIEW {q(table)} AS {_rows_sql(mapping, by_key, ordered)}")
    lap("classify")
    return Reconciliation(table=table, rows=total * len(measures), summary=summary, seconds=seconds, by_key=by_key)


def _explain(con, relations: dict[str, str], mapping: Mapping, run: int) -> None:
    """Find and raise what is wrong with the inputs, side by side as they come: a value that does not parse
    (naming the first in sort order and how many), then a duplicated key (the first, its count and how many)."""
    keys, measures = mapping.keys, mapping.measures
    for side in ("backend", "golden"):
        relation = relations[side]
        types = _types(con, relation)
        select, inner, checks = [], [], []
        for i, key in enumerate(keys):
            raw = key.backend_column if side == "backend" else key.golden_column
            col, typ = q(raw), types[raw]
            inner.append(col)
            select.append(f"{_key_sql(key, col, typ, f'raw_k{i}')} AS k{i}")
            if key.kind != "text" and _parsed_from_text(typ):
                inner.append(f"{_text(col)} AS raw_k{i}")
                select.append(f"raw_k{i}")
                checks.append((f"key {key.name!r} (column {col})", f"raw_k{i}", f"k{i}"))
        for j, m in enumerate(measures):
            raw = m.backend_column if side == "backend" else m.golden_column
            col, typ = q(raw), types[raw]
            inner.append(col)
            select.append(f"{_measure_sql(m, col, typ, f'raw_m{j}')} AS m{j}")
            if _parsed_from_text(typ):
                inner.append(f"{_clean(col)} AS raw_m{j}")
                select.append(f"raw_m{j}")
                checks.append((f"measure {m.name!r} (column {col})", f"raw_m{j}", f"m{j}"))
        name = q(f"__recon_{side}_norm_{run}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {', '.join(select)} "
                    f"FROM (SELECT {', '.join(dict.fromkeys(inner))} FROM {relation})")
        if checks:
            parts = ", ".join(f"COUNT(*) FILTER (WHERE {raw} IS NOT NULL AND {parsed} IS NULL), "
                              f"MIN({raw}) FILTER (WHERE {raw} IS NOT NULL AND {parsed} IS NULL)"
                              for _, raw, parsed in checks)
            found = con.execute(f"SELECT {parts} FROM {name}").fetchall()[0]
            for index, (label, _, _) in enumerate(checks):
                bad, first = found[2 * index], found[2 * index + 1]
                if bad:
                    cleaned = "" if label.startswith("key") else " (with $, commas and spaces removed)"
                    raise ReconciliationError(f"{side}: {label}: {bad} value(s) that cannot be parsed as "
                                              f"{_kind_of(keys, label) or 'a decimal'}, first {first!r}{cleaned}")
        key_list = ", ".join(f"k{i}" for i in range(len(keys)))
        dup = con.execute(f"SELECT {key_list}, COUNT(*) AS n, COUNT(*) OVER () AS keys FROM {name} "
                          f"GROUP BY ALL HAVING COUNT(*) > 1 ORDER BY {key_list} LIMIT 1").fetchall()
        if dup:
            dup = dup[0]
            shown = ", ".join(f"{k.name}={v!s}" for k, v in zip(keys, dup[:len(keys)], strict=True))
            raise ReconciliationError(f"{side}: duplicate key ({shown}) appears {dup[len(keys)]} times "
                                      f"({dup[len(keys) + 1]} duplicated key(s) in all); each key must be unique "
                                      f"on a side")


def _kind_of(keys, label: str) -> str:
    for key in keys:
        if label.startswith(f"key {key.name!r}"):
            return {"date": "a date", "integer": "an integer", "decimal": "a decimal"}[key.kind]
    return ""
