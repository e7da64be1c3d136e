"""Translations evaluated on real engines: DuckDB (in-process), SQLite (in memory) and PostgreSQL
(127.0.0.1:5432), each on the same rows, compared with the values Domo's semantics give.

Every test loads the six rows below into a fresh table `t` (a TEMP table on PostgreSQL), runs
`SELECT <translation> FROM t ORDER BY id` (or the grouped query for aggregates) and compares row by
row. Money is DECIMAL and compared exactly (as Decimal) on DuckDB and PostgreSQL; SQLite has no
exact decimal, so there it is compared to 1e-9 and the translation reports it (test_translate.py).
T-SQL cannot run here: test_translate.py checks its text and parses it back.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

import duckdb
import psycopg
import pytest

from evidence.formulas import analyze
from evidence.formulas.translate import translate

D = Decimal
date, datetime = dt.date, dt.datetime

SCHEMA = {
    "id": "LONG",
    "Units": "LONG",
    "Packs": "LONG",
    "Paid": "DECIMAL",
    "Rate": "DOUBLE",
    "Drug": "STRING",
    "Note": "STRING",
    "Fill Date": "DATE",
    "Paid Date": "DATE",
    "Claimed At": "DATETIME",
    "Region": "STRING",
}
COLUMNS = list(SCHEMA)
# id, Units, Packs, Paid, Rate, Drug, Note, Fill Date, Paid Date, Claimed At, Region
ROWS = [
    (
        1,
        7,
        2,
        D("10.25"),
        2.675,
        "Apple",
        "ab ",
        date(2024, 1, 31),
        date(2024, 3, 1),
        datetime(2024, 1, 31, 23, 30),
        "East",
    ),
    (
        2,
        1,
        3,
        D("2.25"),
        2.5,
        "apricot",
        "Hello World",
        date(2024, 2, 29),
        date(2024, 2, 28),
        datetime(2024, 2, 29, 8, 5, 9),
        "East",
    ),
    (
        3,
        5,
        0,
        D("-2.25"),
        -2.5,
        "Banana",
        "  x  ",
        date(2023, 12, 31),
        date(2024, 1, 1),
        datetime(2023, 12, 31, 12),
        "West",
    ),
    (4, None, 4, D("0.10"), 1.005, None, "Aa", date(2024, 1, 7), None, datetime(2024, 1, 7), "West"),
    (5, 8, None, None, None, "Cherry", None, None, date(2024, 5, 15), None, "North"),
    (
        6,
        3,
        3,
        D("0.20"),
        0.5,
        "Apple",
        "a[b]%",
        date(2021, 1, 1),
        date(2021, 1, 4),
        datetime(2021, 1, 1, 13, 4, 5),
        "North",
    ),
]
ENGINE_TYPES = {
    "duckdb": {
        "LONG": "BIGINT",
        "DECIMAL": "DECIMAL(38, 2)",
        "DOUBLE": "DOUBLE",
        "STRING": "VARCHAR",
        "DATE": "DATE",
        "DATETIME": "TIMESTAMP",
    },
    "postgres": {
        "LONG": "BIGINT",
        "DECIMAL": "NUMERIC(38, 2)",
        "DOUBLE": "DOUBLE PRECISION",
        "STRING": "TEXT",
        "DATE": "DATE",
        "DATETIME": "TIMESTAMP",
    },
    # SQLite: dates as ISO text, decimals as binary floats (it has nothing else).
    "sqlite": {
        "LONG": "INTEGER",
        "DECIMAL": "REAL",
        "DOUBLE": "REAL",
        "STRING": "TEXT",
        "DATE": "TEXT",
        "DATETIME": "TEXT",
    },
}

N = None
# Row-level formulas: (formula, expected value for rows 1..6).
ROW_CASES = [
    # --- division: never truncates, NULL for a zero or NULL denominator
    ("`Units` / `Packs`", [3.5, 1 / 3, N, N, N, 1.0]),
    ("`Units` / 2", [3.5, 0.5, 2.5, N, 4.0, 1.5]),
    ("`Paid` / `Packs`", [5.125, 0.75, N, 0.025, N, 0.2 / 3]),
    ("`Units` / NULLIF(`Packs`, 0)", [3.5, 1 / 3, N, N, N, 1.0]),
    # --- NULL propagation in arithmetic and CONCAT
    ("`Units` + `Packs` * 2", [11, 7, 5, N, N, 9]),
    ("`Paid` * `Units` - 1", [D("70.75"), D("1.25"), D("-12.25"), N, N, D("-0.40")]),
    ("CONCAT(`Drug`, '-', `Units`)", ["Apple-7", "apricot-1", "Banana-5", N, "Cherry-8", "Apple-3"]),
    (
        "CONCAT(`Region`, ' ', `Fill Date`)",
        ["East 2024-01-31", "East 2024-02-29", "West 2023-12-31", "West 2024-01-07", N, "North 2021-01-01"],
    ),
    ("CONCAT(`Drug`, ': ', `Paid`)", ["Apple: 10.25", "apricot: 2.25", "Banana: -2.25", N, N, "Apple: 0.20"]),
    (
        "CONCAT('at ', `Claimed At`)",
        [
            "at 2024-01-31 23:30:00",
            "at 2024-02-29 08:05:09",
            "at 2023-12-31 12:00:00",
            "at 2024-01-07 00:00:00",
            N,
            "at 2021-01-01 13:04:05",
        ],
    ),
    # --- IFNULL, NULLIF, CASE (searched, simple, without ELSE), comparisons as numbers
    ("IFNULL(`Units`, 0) + IFNULL(`Packs`, 0)", [9, 4, 5, 4, 8, 6]),
    ("NULLIF(`Packs`, 3)", [2, N, 0, 4, N, N]),
    ("COALESCE(`Drug`, `Note`, 'none')", ["Apple", "apricot", "Banana", "Aa", "Cherry", "Apple"]),
    (
        "CASE WHEN `Units` >= 5 THEN 'big' WHEN `Units` >= 2 THEN 'mid' ELSE 'small' END",
        ["big", "small", "big", "small", "big", "mid"],
    ),
    ("CASE `Region` WHEN 'East' THEN 1 WHEN 'West' THEN 2 END", [1, 1, 2, 2, N, N]),
    ("CASE WHEN `Paid` > 1 THEN `Paid` END", [D("10.25"), D("2.25"), N, N, N, N]),
    ("`Units` > 3", [1, 0, 1, N, 1, 0]),
    ("CASE WHEN `Units` THEN 'some' ELSE 'none' END", ["some", "some", "some", "none", "some", "some"]),
    ("`Region` IN ('East', 'North') AND `Units` > 2", [1, 0, 0, 0, 1, 1]),
    # --- LIKE (case-insensitive, as MySQL's default collation)
    ("CASE WHEN `Drug` LIKE 'ap%' THEN 1 ELSE 0 END", [1, 1, 0, 0, 0, 1]),
    ("CASE WHEN `Note` LIKE 'a[b]\\%' THEN 1 ELSE 0 END", [0, 0, 0, 0, 0, 1]),
    ("`Drug` NOT LIKE '%an%'", [1, 1, 0, N, 1, 1]),
    # --- strings
    ("LEFT(`Drug`, 3)", ["App", "apr", "Ban", N, "Che", "App"]),
    ("RIGHT(`Drug`, 2)", ["le", "ot", "na", N, "ry", "le"]),
    ("RIGHT(`Drug`, 0)", ["", "", "", N, "", ""]),
    ("SUBSTRING(`Note`, 2, 3)", ["b ", "ell", " x ", "a", N, "[b]"]),
    ("SUBSTRING(`Note`, 7)", ["", "World", "", "", N, ""]),
    ("SUBSTRING(`Note`, -3, 2)", ["ab", "rl", "x ", "", N, "b]"]),
    ("INSTR(`Drug`, 'p')", [2, 2, 0, N, 0, 2]),
    ("INSTR(`Note`, 'World')", [0, 7, 0, 0, N, 0]),
    ("LENGTH(`Note`)", [3, 11, 5, 2, N, 5]),
    ("UPPER(`Drug`)", ["APPLE", "APRICOT", "BANANA", N, "CHERRY", "APPLE"]),
    ("LOWER(`Drug`)", ["apple", "apricot", "banana", N, "cherry", "apple"]),
    ("CONCAT('[', TRIM(`Note`), ']')", ["[ab]", "[Hello World]", "[x]", "[Aa]", N, "[a[b]%]"]),
    ("REPLACE(`Note`, 'a', '*')", ["*b ", "Hello World", "  x  ", "A*", N, "*[b]%"]),
    # --- numbers: ROUND half away from zero on the decimal value, MOD, CEILING, FLOOR, ABS, POWER
    ("ROUND(`Paid`, 1)", [D("10.3"), D("2.3"), D("-2.3"), D("0.1"), N, D("0.2")]),
    ("ROUND(`Rate`, 2)", [D("2.68"), D("2.50"), D("-2.50"), D("1.01"), N, D("0.50")]),
    ("ROUND(`Rate`)", [3, 3, -3, 1, N, 1]),
    ("ROUND(`Units` / `Packs`, 2)", [D("3.50"), D("0.33"), N, N, N, D("1.00")]),
    ("MOD(`Units`, `Packs`)", [1, 1, N, N, N, 0]),
    ("MOD(`Rate`, 1)", [0.675, 0.5, -0.5, 0.005, N, 0.5]),
    ("CEILING(`Rate`)", [3, 3, -2, 2, N, 1]),
    ("FLOOR(`Rate`)", [2, 2, -3, 1, N, 0]),
    ("ABS(`Paid`)", [D("10.25"), D("2.25"), D("2.25"), D("0.10"), N, D("0.20")]),
    ("POWER(`Packs`, 2)", [4.0, 9.0, 0.0, 16.0, N, 9.0]),
    # --- dates: DATEDIFF, DATE_ADD/DATE_SUB (month clamping), parts, weeks, DATE_FORMAT
    ("DATEDIFF(`Paid Date`, `Fill Date`)", [30, -1, 1, N, N, 3]),
    ("DATEDIFF(`Paid Date`, `Claimed At`)", [30, -1, 1, N, N, 3]),
    ("DATEDIFF(CURDATE(), CURDATE())", [0, 0, 0, 0, 0, 0]),
    (
        "DATE_ADD(`Fill Date`, INTERVAL 1 MONTH)",
        [date(2024, 2, 29), date(2024, 3, 29), date(2024, 1, 31), date(2024, 2, 7), N, date(2021, 2, 1)],
    ),
    (
        "DATE_SUB(`Fill Date`, INTERVAL 1 YEAR)",
        [date(2023, 1, 31), date(2023, 2, 28), date(2022, 12, 31), date(2023, 1, 7), N, date(2020, 1, 1)],
    ),
    (
        "DATE_ADD(`Fill Date`, INTERVAL 1 QUARTER)",
        [date(2024, 4, 30), date(2024, 5, 29), date(2024, 3, 31), date(2024, 4, 7), N, date(2021, 4, 1)],
    ),
    (
        "DATE_ADD(`Fill Date`, INTERVAL 10 DAY)",
        [date(2024, 2, 10), date(2024, 3, 10), date(2024, 1, 10), date(2024, 1, 17), N, date(2021, 1, 11)],
    ),
    (
        "`Fill Date` - INTERVAL 1 WEEK",
        [date(2024, 1, 24), date(2024, 2, 22), date(2023, 12, 24), date(2023, 12, 31), N, date(2020, 12, 25)],
    ),
    (
        "ADDDATE(`Fill Date`, `Packs`)",
        [date(2024, 2, 2), date(2024, 3, 3), date(2023, 12, 31), date(2024, 1, 11), N, date(2021, 1, 4)],
    ),
    (
        "DATE_ADD(`Claimed At`, INTERVAL 90 MINUTE)",
        [
            datetime(2024, 2, 1, 1, 0),
            datetime(2024, 2, 29, 9, 35, 9),
            datetime(2023, 12, 31, 13, 30),
            datetime(2024, 1, 7, 1, 30),
            N,
            datetime(2021, 1, 1, 14, 34, 5),
        ],
    ),
    (
        "DATE_ADD(`Claimed At`, INTERVAL 1 MONTH)",
        [
            datetime(2024, 2, 29, 23, 30),
            datetime(2024, 3, 29, 8, 5, 9),
            datetime(2024, 1, 31, 12),
            datetime(2024, 2, 7),
            N,
            datetime(2021, 2, 1, 13, 4, 5),
        ],
    ),
    (
        "LAST_DAY(`Fill Date`)",
        [date(2024, 1, 31), date(2024, 2, 29), date(2023, 12, 31), date(2024, 1, 31), N, date(2021, 1, 31)],
    ),
    ("YEAR(`Fill Date`)", [2024, 2024, 2023, 2024, N, 2021]),
    ("MONTH(`Fill Date`)", [1, 2, 12, 1, N, 1]),
    ("QUARTER(`Fill Date`)", [1, 1, 4, 1, N, 1]),
    ("DAY(`Fill Date`)", [31, 29, 31, 7, N, 1]),
    ("DAYOFYEAR(`Fill Date`)", [31, 60, 365, 7, N, 1]),
    ("HOUR(`Claimed At`) * 100 + MINUTE(`Claimed At`)", [2330, 805, 1200, 0, N, 1304]),
    ("SECOND(`Claimed At`)", [0, 9, 0, 0, N, 5]),
    ("DAYOFWEEK(`Fill Date`)", [4, 5, 1, 1, N, 6]),
    ("WEEK(`Fill Date`, 11)", [5, 9, 53, 2, N, 1]),
    ("WEEK(`Fill Date`, 22)", [5, 9, 53, 1, N, 1]),
    ("YEARWEEK(`Fill Date`, 11)", [202405, 202409, 202353, 202402, N, 202101]),
    (
        "DATE_FORMAT(`Fill Date`, '%Y-%m-%d')",
        ["2024-01-31", "2024-02-29", "2023-12-31", "2024-01-07", N, "2021-01-01"],
    ),
    ("DATE_FORMAT(`Fill Date`, '%d/%m/%y')", ["31/01/24", "29/02/24", "31/12/23", "07/01/24", N, "01/01/21"]),
    (
        "DATE_FORMAT(`Fill Date`, '%M %e, %Y')",
        [
            "January 31, 2024",
            "February 29, 2024",
            "December 31, 2023",
            "January 7, 2024",
            N,
            "January 1, 2021",
        ],
    ),
    (
        "DATE_FORMAT(`Fill Date`, '%a %b %j %W')",
        [
            "Wed Jan 031 Wednesday",
            "Thu Feb 060 Thursday",
            "Sun Dec 365 Sunday",
            "Sun Jan 007 Sunday",
            N,
            "Fri Jan 001 Friday",
        ],
    ),
    ("DATE_FORMAT(`Fill Date`, '%c/%e')", ["1/31", "2/29", "12/31", "1/7", N, "1/1"]),
    (
        "DATE_FORMAT(`Claimed At`, '%H:%i:%s')",
        ["23:30:00", "08:05:09", "12:00:00", "00:00:00", N, "13:04:05"],
    ),
    (
        "DATE_FORMAT(`Claimed At`, '%r')",
        ["11:30:00 PM", "08:05:09 AM", "12:00:00 PM", "12:00:00 AM", N, "01:04:05 PM"],
    ),
    (
        "DATE_FORMAT(`Claimed At`, '%l%p %T')",
        ["11PM 23:30:00", "8AM 08:05:09", "12PM 12:00:00", "12AM 00:00:00", N, "1PM 13:04:05"],
    ),
    ("DATE_FORMAT(`Fill Date`, '%x-W%v')", ["2024-W05", "2024-W09", "2023-W52", "2024-W01", N, "2020-W53"]),
    (
        "DATE_FORMAT(`Fill Date`, '100%% %Y')",
        ["100% 2024", "100% 2024", "100% 2023", "100% 2024", N, "100% 2021"],
    ),
    ("MONTHNAME(`Fill Date`)", ["January", "February", "December", "January", N, "January"]),
    ("DAYNAME(`Fill Date`)", ["Wednesday", "Thursday", "Sunday", "Sunday", N, "Friday"]),
    ("`Fill Date` >= '2024-01-07'", [1, 1, 0, 1, N, 0]),
]

# Where the target cannot give Domo's value, the translation says so, and the engine proves it.
DIVERGENT = {
    ("CONCAT(`Drug`, ': ', `Paid`)", "sqlite"): "drops its trailing zeros",
}

# Aggregate, window and FIXED formulas: (formula, grouping columns, {group: expected}).
GROUPED_CASES = [
    ("SUM(`Paid`)", ["Region"], {("East",): D("12.50"), ("North",): D("0.20"), ("West",): D("-2.15")}),
    ("COUNT(DISTINCT `Drug`)", ["Region"], {("East",): 2, ("North",): 2, ("West",): 1}),
    ("COUNT(`Drug`)", ["Region"], {("East",): 2, ("North",): 2, ("West",): 1}),
    ("AVG(`Units`)", ["Region"], {("East",): 4.0, ("North",): 5.5, ("West",): 5.0}),
    ("SUM(`Units`) / SUM(`Packs`)", ["Region"], {("East",): 1.6, ("North",): 11 / 3, ("West",): 1.25}),
    ("SUM(`Paid`) / COUNT(`Paid`)", ["Region"], {("East",): 6.25, ("North",): 0.2, ("West",): -1.075}),
    (
        "CASE WHEN SUM(`Units`) > 7 THEN 'high' ELSE 'low' END",
        ["Region"],
        {("East",): "high", ("North",): "high", ("West",): "low"},
    ),
    # a window over aggregates, in the grouped query
    (
        "SUM(`Units`) / SUM(SUM(`Units`)) OVER ()",
        ["Region"],
        {("East",): 8 / 24, ("North",): 11 / 24, ("West",): 5 / 24},
    ),
    ("RANK() OVER (ORDER BY SUM(`Units`) DESC)", ["Region"], {("East",): 2, ("North",): 1, ("West",): 3}),
    (
        "SUM(SUM(`Paid`)) OVER (PARTITION BY `Region`)",
        ["Region", "Drug"],
        {
            ("East", "Apple"): D("12.50"),
            ("East", "apricot"): D("12.50"),
            ("North", "Apple"): D("0.20"),
            ("North", "Cherry"): D("0.20"),
            ("West", "Banana"): D("-2.15"),
            ("West", None): D("-2.15"),
        },
    ),
    # FIXED translated to windows
    (
        "SUM(`Paid`) FIXED (BY `Region`)",
        ["Region", "Drug"],
        {
            ("East", "Apple"): D("12.50"),
            ("East", "apricot"): D("12.50"),
            ("North", "Apple"): D("0.20"),
            ("North", "Cherry"): D("0.20"),
            ("West", "Banana"): D("-2.15"),
            ("West", None): D("-2.15"),
        },
    ),
    (
        "SUM(`Units`) / MAX(SUM(`Units`) FIXED ())",
        ["Region"],
        {("East",): 8 / 24, ("North",): 11 / 24, ("West",): 5 / 24},
    ),
    (
        "AVG(`Units`) FIXED (BY `Region`)",
        ["Region", "Drug"],
        {
            ("East", "Apple"): 4.0,
            ("East", "apricot"): 4.0,
            ("North", "Apple"): 5.5,
            ("North", "Cherry"): 5.5,
            ("West", "Banana"): 5.0,
            ("West", None): 5.0,
        },
    ),
    ("COUNT(`Drug`) FIXED ()", ["Region"], {("East",): 5, ("North",): 5, ("West",): 5}),
]


# --- engines ------------------------------------------------------------------------------------------
def create_table_sql(engine: str, schema: dict[str, str], *, temporary: bool = False) -> str:
    """Domo types to the engine's; "DECIMAL(5)" is a DECIMAL of scale 5 (silver keeps each column's)."""

    def column_type(kind: str) -> str:
        scale = kind[len("DECIMAL(") : -1] if kind.startswith("DECIMAL(") else None
        base = ENGINE_TYPES[engine]["DECIMAL" if scale else kind]
        return base.replace(", 2)", f", {scale})") if scale else base

    columns = ", ".join(
        '"{}" {}'.format(name.replace('"', '""'), column_type(kind)) for name, kind in schema.items()
    )
    return f"CREATE {'TEMP ' if temporary else ''}TABLE t ({columns})"


def engine_rows(engine: str, rows: list[tuple]) -> list[tuple]:
    """Rows as the engine stores them: SQLite gets ISO text for dates and floats for decimals."""
    if engine != "sqlite":
        return rows
    return [
        tuple(
            float(v)
            if isinstance(v, Decimal)
            else v.isoformat(sep=" ")
            if isinstance(v, datetime)
            else v.isoformat()
            if isinstance(v, date)
            else v
            for v in row
        )
        for row in rows
    ]


def _run_embedded(engine: str, schema: dict[str, str], rows: list[tuple], query: str) -> list[tuple]:
    connection = duckdb.connect() if engine == "duckdb" else sqlite3.connect(":memory:")
    try:
        connection.execute(create_table_sql(engine, schema))
        connection.executemany(
            f"INSERT INTO t VALUES ({', '.join('?' * len(schema))})", engine_rows(engine, rows)
        )
        return connection.execute(query).fetchall()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def postgres():
    try:
        connection = psycopg.connect(
            "host=127.0.0.1 port=5432 dbname=postgres user=postgres", connect_timeout=5
        )
    except psycopg.OperationalError as error:
        pytest.fail(f"The engine tests need PostgreSQL on 127.0.0.1:5432 (user postgres): {error}")
    yield connection
    connection.close()


def _run_postgres(connection, schema: dict[str, str], rows: list[tuple], query: str) -> list[tuple]:
    # One transaction per test, rolled back: the TEMP table never outlives it.
    try:
        with connection.cursor() as cursor:
            cursor.execute(create_table_sql("postgres", schema, temporary=True))
            cursor.executemany(f"INSERT INTO t VALUES ({', '.join(['%s'] * len(schema))})", rows)
            cursor.execute(query)
            return cursor.fetchall()
    finally:
        connection.rollback()


ENGINES = ["duckdb", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres_only)]


def run(
    engine: str, query: str, request, schema: dict[str, str] = SCHEMA, rows: list[tuple] = ROWS
) -> list[tuple]:
    """`query` over a table `t` holding `rows`, on `engine`."""
    if engine == "postgres":
        return _run_postgres(request.getfixturevalue("postgres"), schema, rows, query)
    return _run_embedded(engine, schema, rows, query)


def _translation(formula: str, engine: str):
    translation = translate(analyze(formula, schema=SCHEMA), engine, columns=SCHEMA)
    assert translation.sql is not None, translation.problems
    return translation


def _sql(formula: str, engine: str) -> str:
    return _translation(formula, engine).sql


# --- comparison ---------------------------------------------------------------------------------------
def _matches(actual, expected, engine: str) -> bool:
    if expected is None or actual is None:
        return actual is None and expected is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return False  # Domo gives 1 and 0, never booleans
    if isinstance(expected, Decimal) and engine != "sqlite":
        return isinstance(actual, Decimal) and actual == expected  # exact money
    if isinstance(expected, (Decimal, float)):
        return isinstance(actual, (int, float, Decimal)) and float(actual) == pytest.approx(
            float(expected), rel=1e-9, abs=1e-12
        )
    if isinstance(expected, int):
        return isinstance(actual, (int, Decimal, float)) and actual == expected
    if isinstance(expected, datetime):
        if engine == "sqlite":
            return actual == expected.isoformat(sep=" ")
        return isinstance(actual, datetime) and actual == expected
    if isinstance(expected, date):
        if engine == "sqlite":
            return actual == expected.isoformat()
        return type(actual) is date and actual == expected  # a DATE stays a DATE
    return actual == expected


# --- tests --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("formula", "expected"), ROW_CASES, ids=[c[0] for c in ROW_CASES])
def test_row_formula_gives_domos_values(formula, expected, engine, request):
    translation = _translation(formula, engine)
    rows = run(engine, f"SELECT {translation.sql} FROM t ORDER BY id", request)
    actual = [row[0] for row in rows]
    wrong = [
        (i + 1, a, e)
        for i, (a, e) in enumerate(zip(actual, expected, strict=True))
        if not _matches(a, e, engine)
    ]
    reported = DIVERGENT.get((formula, engine))
    if reported is None:
        assert not wrong, f"{engine}: {translation.sql}\n(row, got, expected): {wrong}"
    else:  # a known divergence: reported, and real
        assert not translation.faithful
        assert any(reported in problem for problem in translation.problems), translation.problems
        assert wrong, f"{engine} gives Domo's values although the translation reports it cannot"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("formula", "groups", "expected"), GROUPED_CASES, ids=[c[0] for c in GROUPED_CASES])
def test_grouped_formula_gives_domos_values(formula, groups, expected, engine, request):
    sql = _sql(formula, engine)
    axes = ", ".join(f'"{name}"' for name in groups)
    rows = run(engine, f"SELECT {axes}, {sql} FROM t GROUP BY {axes}", request)
    actual = {tuple(row[: len(groups)]): row[-1] for row in rows}
    assert set(actual) == set(expected)
    wrong = {
        key: (actual[key], value)
        for key, value in expected.items()
        if not _matches(actual[key], value, engine)
    }
    assert not wrong, f"{engine}: {sql}\n(got, expected): {wrong}"


@pytest.mark.parametrize("engine", ENGINES)
def test_the_same_formula_agrees_on_every_engine_for_a_filter(engine, request):
    """A filter formula stays a condition: it goes into WHERE."""
    analysis = analyze("`Drug` LIKE 'AP%' AND `Units` > 2", schema=SCHEMA, used_as="filter")
    sql = translate(analysis, engine, columns=SCHEMA).sql
    rows = run(engine, f"SELECT id FROM t WHERE {sql} ORDER BY id", request)
    assert [row[0] for row in rows] == [1, 6]
