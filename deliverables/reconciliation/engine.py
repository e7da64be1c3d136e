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
"""
from __future__ import annotations

import itertools
import time
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
    table: str  # the DuckDB table holding the rows (keys..., measure, backend_value, golden_value, ...)
    rows: int
    summary: dict = field(default_factory=dict)  # {"total": {class: n}, "measures": {measure: {class: n}}}
    seconds: dict = field(default_factory=dict)  # per phase: normalise, check, join, classify


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
    """A column's text, trimmed, empty as NULL."""
    return f"NULLIF(TRIM(CAST({col} AS VARCHAR)), '')"


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
    if key.kind == "date":
        return f"CAST(COALESCE(TRY_STRPTIME({raw}, ['%Y-%m-%d', '%m/%d/%Y']), TRY_CAST({raw} AS TIMESTAMP)) AS DATE)"
    if key.kind == "integer":
        return f"TRY_CAST({raw} AS HUGEINT)"
    return f"TRY_CAST({raw} AS DECIMAL(38, {key.scale}))"


def _measure_sql(measure: MeasureSpec, col: str, typ: str, raw: str) -> str:
    """A measure's exact value; `raw` names its cleaned text ($, commas and spaces gone) when parsed from text."""
    target = f"DECIMAL(38, {measure.scale})"
    if not _parsed_from_text(typ):
        return f"CAST({col} AS {target})"
    return (f"CASE WHEN {raw} LIKE '(%)' THEN -TRY_CAST({raw}[2:-2] AS {target}) "
            f"ELSE TRY_CAST({raw} AS {target}) END")


def reconcile(con: duckdb.DuckDBPyConnection, backend, golden, mapping: Mapping, *,
              table: str = "reconciliation") -> Reconciliation:
    """Reconcile `backend` against `golden` (relation names, or Arrow tables registered for the call) by
    `mapping`; the rows land in the DuckDB table `table` (replaced), ordered by keys and measure."""
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
        return _reconcile(con, relations, mapping, table, run)
    finally:
        for name in registered:
            con.unregister(name)
        for side in ("backend", "golden"):
            con.execute(f"DROP TABLE IF EXISTS {q(f'__recon_{side}_norm_{run}')}")


def _reconcile(con, relations: dict[str, str], mapping: Mapping, table: str, run: int) -> Reconciliation:
    keys, measures = mapping.keys, mapping.measures
    norm = {}
    seconds = dict.fromkeys(("normalise", "check", "join", "classify"), 0.0)
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[phase] += now - clock
        clock = now

    for side in ("backend", "golden"):
        relation = relations[side]
        types = _types(con, relation)
        wanted = [getattr(k, f"{side}_column") for k in keys] + [getattr(m, f"{side}_column") for m in measures]
        missing = [c for c in wanted if c not in types]
        if missing:
            raise ReconciliationError(f"{side}: no column {', '.join(map(repr, missing))} in {relation} "
                                      f"(it has {', '.join(types)})")
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
            if typ in ("FLOAT", "DOUBLE", "REAL"):
                raise ReconciliationError(f"{side}: measure {m.name!r} (column {col}) is {typ}: money is "
                                          f"compared exactly, give it as DECIMAL or text")
            inner.append(col)
            select.append(f"{_measure_sql(m, col, typ, f'raw_m{j}')} AS m{j}")
            if _parsed_from_text(typ):
                inner.append(f"NULLIF(REGEXP_REPLACE(CAST({col} AS VARCHAR), '[$,\\s]', '', 'g'), '') AS raw_m{j}")
                select.append(f"raw_m{j}")
                checks.append((f"measure {m.name!r} (column {col})", f"raw_m{j}", f"m{j}"))
        name = q(f"__recon_{side}_norm_{run}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {', '.join(select)} "
                    f"FROM (SELECT {', '.join(dict.fromkeys(inner))} FROM {relation})")
        lap("normalise")
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
        norm[side] = name
        lap("check")

    n = len(keys)
    key_cols = ", ".join(f"COALESCE(b.k{i}, g.k{i}) AS k{i}" for i in range(n))
    on = " AND ".join(f"b.k{i} IS NOT DISTINCT FROM g.k{i}" for i in range(n))
    measure_cols = ", ".join(f"b.m{j} AS b{j}, g.m{j} AS g{j}" for j in range(len(measures)))
    order = ", ".join(f"k{i}" for i in range(n))
    joined = q(f"__recon_joined_{run}")
    # The join, sorted by the keys once (one row per key, no fingerprints yet: a smaller sort than the rows per
    # measure); its rows per measure come out by UNNEST in measure-name order, so the table is ordered by keys,
    # measure without a second sort, as long as DuckDB keeps insertion order (its default); if the connection
    # turned that off, the rows are sorted at the end instead.
    keeps_order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    final_order = "" if keeps_order else f" ORDER BY {order}, measure"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {joined} AS SELECT {key_cols}, b.__seen IS NOT NULL AS b_seen, "
        f"g.__seen IS NOT NULL AS g_seen, {measure_cols} "
        f"FROM (SELECT *, TRUE AS __seen FROM {norm['backend']}) b "
        f"FULL OUTER JOIN (SELECT *, TRUE AS __seen FROM {norm['golden']}) g ON {on} ORDER BY {order}")
    lap("join")
    top = max(m.scale for m in measures)
    structs = []
    for j, m in sorted(enumerate(measures), key=lambda pair: pair[1].name):
        b, g = f"b{j}", f"g{j}"
        tolerance = []
        if m.abs_tolerance is not None:
            tolerance.append(f"ABS({b} - {g}) <= {_decimal_literal(m.abs_tolerance)}")
        if m.rel_tolerance is not None:
            tolerance.append(f"ABS({b} - {g}) <= {_decimal_literal(m.rel_tolerance)} * ABS({g})")
        within = " OR ".join(tolerance) or "FALSE"
        klass = (f"CASE WHEN NOT g_seen THEN 'only_backend' WHEN NOT b_seen THEN 'only_domo' "
                 f"WHEN {b} IS NOT DISTINCT FROM {g} THEN 'match' WHEN {b} IS NULL OR {g} IS NULL THEN 'variance' "
                 f"WHEN {within} THEN 'within_tolerance' ELSE 'variance' END")
        text = (f"CONCAT_WS('|', {lit(m.name)}, COALESCE(CAST({b} AS VARCHAR), '~'), "
                f"COALESCE(CAST({g} AS VARCHAR), '~'))")  # each value's text at its own measure's scale
        structs.append(f"{{'measure': {lit(m.name)}, 'b': CAST({b} AS DECIMAL(38, {top})), "
                       f"'g': CAST({g} AS DECIMAL(38, {top})), 'd': CAST({b} - {g} AS DECIMAL(38, {top})), "
                       f"'class': {klass}, 'text': {text}}}")
    key_text = ", ".join(f"COALESCE(CAST(k{i} AS VARCHAR), '~')" for i in range(n))
    named = ", ".join(f"k{i} AS {q(k.name)}" for i, k in enumerate(keys))
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {q(table)} AS SELECT {named}, u.measure AS measure, u.b AS backend_value, "
            f"u.g AS golden_value, u.d AS difference, u.class AS class, "
            f"SHA256(prefix || '|' || u.text) AS fingerprint "
            f"FROM (SELECT *, CONCAT_WS('|', {lit(mapping.name)}, {key_text}) AS prefix, "
            f"UNNEST([{', '.join(structs)}]) AS u FROM {joined}){final_order}")
    finally:
        con.execute(f"DROP TABLE IF EXISTS {joined}")
    rows = 0
    summary: dict = {"total": dict.fromkeys(CLASSES, 0), "measures": {m.name: dict.fromkeys(CLASSES, 0)
                                                                      for m in measures}}
    for measure, klass, n in con.execute(f"SELECT measure, class, COUNT(*) FROM {q(table)} GROUP BY ALL").fetchall():
        summary["measures"][measure][klass] = n
        summary["total"][klass] += n
        rows += n
    lap("classify")
    return Reconciliation(table=table, rows=rows, summary=summary, seconds=seconds)


def _kind_of(keys, label: str) -> str:
    for key in keys:
        if label.startswith(f"key {key.name!r}"):
            return {"date": "a date", "integer": "an integer", "decimal": "a decimal"}[key.kind]
    return ""
