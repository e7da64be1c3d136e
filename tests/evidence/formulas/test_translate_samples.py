"""Every beast mode of the sample export, translated and run on its own dataset's rows (typed by
silver) on DuckDB, SQLite and PostgreSQL: each translation with SQL runs, and where all three
are faithful they give the same values.

Row-level formulas run as `SELECT <sql> FROM t`; the others in a query grouped by `Client
Account` and `Channel` where the dataset has them (window and FIXED partitions are by `Client
Account`). Agreement is checked against DuckDB; the exact values are checked in
test_translate_engines.py.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from evidence.formulas import analyze
from evidence.formulas.translate import translate
from evidence.intake import leafiq, silver
from evidence.samples import export as se
from tests.evidence.formulas.test_translate_engines import postgres, run  # noqa: F401  (fixture)

GROUPS = ("Client Account", "Channel")


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> list[dict]:
    """[{name, formula, schema, rows}] for every beast mode of the export, datasets' and cards'."""
    root = tmp_path_factory.mktemp("sample") / "export"
    se.write_sample_export(root, rows=50)
    datasets: dict[str, dict] = {}
    for path in sorted((root / "datasets").glob("*/metadata.json")):
        metadata = leafiq.read_dataset_metadata(path)
        columns = [silver.Column(c.name, c.type) for c in metadata.columns]
        parquet = path.parent / "data.parquet"
        silver.csv_to_parquet(path.parent / "data.csv", columns, parquet)
        table = pq.read_table(parquet)
        rows = [tuple(row[c.name] for c in columns) for row in table.to_pylist()]
        schema = {c.name: c.type for c in columns}
        # The engine's table keeps each DECIMAL column at silver's scale.
        table_schema = {
            c.name: f"DECIMAL({table.schema.field(c.name).type.scale})" if c.type == "DECIMAL" else c.type
            for c in columns
        }
        datasets[metadata.id] = {"schema": schema, "table_schema": table_schema, "rows": rows}
        for bm in metadata.beast_modes:
            datasets[metadata.id].setdefault("beast_modes", {})[bm.id] = bm
    found: dict[str, dict] = {}
    for dataset in datasets.values():
        for bm in dataset.get("beast_modes", {}).values():
            found[bm.id] = {"name": bm.name, "formula": bm.formula, **dataset}
    for path in sorted(Path(root / "cards").glob("*/definition.json")):
        card = leafiq.read_card_definition(path)
        dataset = datasets[card.datasources[0].id]
        for bm in card.beast_modes:
            found.setdefault(bm.id, {"name": bm.name, "formula": bm.formula, **dataset})
    assert len(found) >= 15
    return list(found.values())


def _query(sample: dict, sql: str, level: str) -> str:
    if level == "row":
        return f"SELECT {sql} FROM t"
    axes = ", ".join(f'"{name}"' for name in GROUPS if name in sample["schema"])
    if not axes:
        return f"SELECT {sql} FROM t"
    return f"SELECT {axes}, {sql} FROM t GROUP BY {axes}"


def _results(sample: dict, engine: str, request) -> tuple[list, object] | None:
    """Sorted (normalized) rows of the formula on `engine`, and its translation; None without SQL."""
    analysis = analyze(sample["formula"], schema=sample["schema"])
    translation = translate(analysis, engine, columns=sample["schema"])
    if translation.sql is None:
        assert translation.problems and not translation.faithful
        return None
    query = _query(sample, translation.sql, analysis.level)
    rows = run(engine, query, request, sample["table_schema"], sample["rows"])
    return sorted((tuple(_normal(v) for v in row) for row in rows), key=_order), translation


def _order(row: tuple) -> tuple:
    return tuple((v is None, v if isinstance(v, float) else 0.0, str(v)) for v in row)


def _normal(value):
    if isinstance(value, (Decimal, float)) or (isinstance(value, int) and not isinstance(value, bool)):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _same(rows: list[tuple], expected: list[tuple]) -> bool:
    def close(a, b) -> bool:
        if isinstance(a, float) and isinstance(b, float):
            return a == pytest.approx(b, rel=1e-9, abs=1e-9)
        return a == b

    return len(rows) == len(expected) and all(
        len(r) == len(e) and all(close(a, b) for a, b in zip(r, e, strict=True))
        for r, e in zip(rows, expected, strict=True)
    )


def _only_binary_floats(translation) -> bool:
    """SQLite's one reservation about money: values agree up to float rounding."""
    return all("stores as a binary float" in problem for problem in translation.problems)


def _deterministic(sample: dict) -> bool:
    return "NON_DETERMINISTIC" not in analyze(sample["formula"], schema=sample["schema"]).codes


def test_every_sample_translation_runs_on_duckdb(samples, request):
    ran = 0
    for sample in samples:
        if _results(sample, "duckdb", request) is not None:
            ran += 1
    assert ran >= len(samples) - 1  # the planted YYYYMMDD arithmetic aside


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres_only)])
def test_sample_translations_agree_with_duckdb(samples, engine, request):
    compared, disagreements = 0, []
    for sample in samples:
        ours = _results(sample, engine, request)
        reference = _results(sample, "duckdb", request)
        if ours is None or reference is None or not _deterministic(sample):
            continue
        (rows, translation), (expected, duck) = ours, reference
        if not (duck.faithful and _only_binary_floats(translation)):
            continue
        compared += 1
        if not _same(rows, expected):
            disagreements.append((sample["name"], translation.sql, rows[:3], expected[:3]))
    assert compared >= 12
    assert not disagreements, disagreements
