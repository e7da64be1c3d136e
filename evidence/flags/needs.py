"""What the current claims need: DuckDB over the claims Parquet files, memory-bounded. Plain module, no Django.

A claims dataset has the columns `Client Account ID`, `Channel`, `Brand/Generic`, `NDC` and `Fill Date`
(names compared case-insensitively; `Client Account`, when present, names the client). Every row is a claim
(reversals too: a reversed claim still had its fill date, its NDC and its component). The reporting period of a
claim is the calendar year of its fill date (a choice: the sample contracts and the authority rules speak of plan
years that are calendar years).

Three aggregations over the Parquet files (DuckDB reads only the columns each needs; nothing is normalised per
row: the few distinct channel and drug class values are mapped once, case-insensitively, after grouping):

- `claim_months`: per dataset, client, month and raw component (small): the checks, the months, the sources;
- `contract_needs`: per client, year and component (channel, drug class) with claims;
- `generic_needs`: per client, channel, generic NDC and fill date (the pricing findings' questions; a view
  over the Parquet, aggregated where it is read);
- `brand_needs`: per client, brand NDC and quarter (the rebate conclusions' questions);
- `client_periods()`: per client and year, the claims, the client's name, the months with claims, NDC counts.

A group that cannot be a need (a channel that is not retail, mail or specialty; a drug class that is not brand
or generic; an NDC that is not 11 digits; a fill date that is not a date; an account id that is not 18
characters) stops the computation with FlagInputError naming the dataset, the column and the first value.

Nothing here holds the claims in Python: only the per-client summaries (a few rows per client) come out.
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from evidence.packets.model import CHANNELS, DRUG_CLASSES

CLAIMS_COLUMNS = ("Client Account ID", "Channel", "Brand/Generic", "NDC", "Fill Date")
CLIENT_NAME_COLUMN = "Client Account"
DEFAULT_MEMORY_LIMIT = "512MB"


class FlagInputError(ValueError):
    """The claims cannot be read as needs: names the dataset, the column and what is wrong; nothing is stored."""


@dataclass(frozen=True)
class ClaimsSource:
    """One claims dataset as read: its Parquet file and the names its columns have there."""

    dataset_key: str
    version: int
    path: Path
    columns: dict[str, str]  # our name (CLAIMS_COLUMNS, CLIENT_NAME_COLUMN) -> the dataset's column
    rows: int | None = None
    checksum: str | int | None = None
    load_id: str = ""
    manifest_sha256: str = ""

    @property
    def label(self) -> str:
        return f"claims dataset {self.dataset_key} v{self.version}"


def claims_columns(names: Sequence[str]) -> dict[str, str] | None:
    """Our column -> the dataset's, when the names hold every claims column (case-insensitively); else None."""
    lowered = {name.lower(): name for name in names}
    if not all(column.lower() in lowered for column in CLAIMS_COLUMNS):
        return None
    found = {column: lowered[column.lower()] for column in CLAIMS_COLUMNS}
    if CLIENT_NAME_COLUMN.lower() in lowered:
        found[CLIENT_NAME_COLUMN] = lowered[CLIENT_NAME_COLUMN.lower()]
    return found


@dataclass
class ClientPeriod:
    """One ClientNeeds row: what a client's claims need in one reporting period."""

    client: str
    client_name: str
    period_start: dt.date
    period_end: dt.date
    claims: int
    months: list[str]
    components: list[list[str]]
    generic_ndcs: int
    brand_ndcs: int
    sources: list[dict] = field(default_factory=list)


def connect(*, memory_limit: str = DEFAULT_MEMORY_LIMIT, threads: int | None = None,
            temp_directory: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB bounded to `memory_limit` (spilling to `temp_directory` past it)."""
    config = {"memory_limit": memory_limit, "threads": threads or min(os.cpu_count() or 1, 4),
              "preserve_insertion_order": False}
    if temp_directory:
        config["temp_directory"] = temp_directory
    return duckdb.connect(":memory:", config=config)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _from(source: ClaimsSource) -> str:
    return f"read_parquet({_literal(str(source.path))})"


def _raw(source: ClaimsSource, index: int) -> str:
    """The claims of one source, as read (no per-row normalisation: the few distinct channel and drug class
    values are mapped after grouping, see _mapping)."""
    c = source.columns
    return (f"SELECT {index} AS source, CAST({_q(c['Client Account ID'])} AS VARCHAR) AS client, "
            f"CAST({_q(c['Channel'])} AS VARCHAR) AS channel_raw, CAST({_q(c['Brand/Generic'])} AS VARCHAR) AS bg_raw, "
            f"CAST({_q(c['NDC'])} AS VARCHAR) AS ndc, TRY_CAST({_q(c['Fill Date'])} AS DATE) AS fill_date "
            f"FROM {_from(source)}")


def _fail(source: ClaimsSource, column: str, what: str, count: int, value) -> FlagInputError:
    return FlagInputError(f"{source.label} ({source.path.name}): column {source.columns[column]!r} {what} "
                          f"in {count} claim(s) (first value: {value!r})")


def _normal(value: str | None) -> str | None:
    return value.strip().lower() if value is not None else None


def _case(column: str, mapping: dict[str, str]) -> str:
    if not mapping:
        return "NULL::VARCHAR"
    arms = " ".join(f"WHEN {_literal(raw)} THEN {_literal(normal)}" for raw, normal in sorted(mapping.items()))
    return f"CASE {column} {arms} END"


def _check_months(con, sources: Sequence[ClaimsSource]) -> tuple[dict[str, str], dict[str, str]]:
    """Check the small `claim_months` table (client, month, channel, drug class per source) and return the
    raw → normal mappings of the channel and drug class values."""
    channels, classes = {}, {}
    problems = (
        ("Client Account ID", "client IS NULL OR length(client) <> 18", "client", "is not an 18-character account id"),
        ("Fill Date", "month IS NULL", None, "is not a date"),
    )
    for column, bad, name, what in problems:
        for index, count, value in con.execute(
                f"SELECT source, sum(claims), min({name or 'NULL'}) FROM claim_months WHERE {bad} "
                "GROUP BY source ORDER BY source LIMIT 1").fetchall():
            source = sources[index]
            if name is None:  # the value as the file has it (the month holds the failed cast)
                c = _q(source.columns[column])
                value = con.execute(f"SELECT CAST({c} AS VARCHAR) FROM {_from(source)} WHERE TRY_CAST({c} AS DATE) "
                                    "IS NULL LIMIT 1").fetchone()[0]
            raise _fail(source, column, what, count, value)
    for index, channel, drug_class, count in con.execute(
            "SELECT source, channel_raw, bg_raw, sum(claims) FROM claim_months GROUP BY ALL ORDER BY ALL").fetchall():
        if _normal(channel) not in CHANNELS:
            raise _fail(sources[index], "Channel", f"is not {', '.join(CHANNELS)}", count, channel)
        if _normal(drug_class) not in DRUG_CLASSES:
            raise _fail(sources[index], "Brand/Generic", "is not Brand or Generic", count, drug_class)
        channels[channel], classes[drug_class] = _normal(channel), _normal(drug_class)
    return channels, classes


def _register_map(con: duckdb.DuckDBPyConnection, channels: dict[str, str]) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE channel_map (channel_raw VARCHAR, channel VARCHAR)")
    if channels:
        con.executemany("INSERT INTO channel_map VALUES (?, ?)", sorted(channels.items()))


def build_needs(con: duckdb.DuckDBPyConnection, sources: Sequence[ClaimsSource]) -> None:
    """Create the needs tables in `con` from the claims of `sources`. Raises FlagInputError naming the dataset,
    the column and the first bad value when a claim cannot be read as a need.

    Three aggregations over the Parquet (DuckDB reads only the columns each needs): per client, month and
    component (small: it carries the checks, the months and the contract needs); the generic claims per client,
    channel, NDC and fill date; the brand claims per client, NDC and quarter."""
    nothing = ("SELECT 0 AS source, NULL::VARCHAR AS client, NULL::VARCHAR AS channel_raw, NULL::VARCHAR AS bg_raw, "
               "NULL::VARCHAR AS ndc, NULL::DATE AS fill_date WHERE false")
    claims = " UNION ALL ".join(_raw(source, index) for index, source in enumerate(sources)) or nothing
    # Grouped on year and month numbers (cheaper per row than truncating dates), the month made after.
    con.execute("CREATE OR REPLACE TEMP TABLE claim_months AS "
                "SELECT source, client, make_date(y, m, 1) AS month, channel_raw, bg_raw, claims, first_day, last_day "
                "FROM (SELECT source, client, year(fill_date) AS y, month(fill_date) AS m, channel_raw, bg_raw, "
                "count(*)::BIGINT AS claims, min(fill_date) AS first_day, max(fill_date) AS last_day "
                f"FROM ({claims}) GROUP BY ALL)")
    channels, classes = _check_months(con, sources)
    channel = _case("channel_raw", channels)
    # Grouped by the raw channel when no two raw values mean the same channel (the usual case): no per-row work.
    by = "channel_raw" if len(set(channels.values())) == len(channels) else channel
    generic = [raw for raw, normal in classes.items() if normal == "generic"] or [""]
    brand = [raw for raw, normal in classes.items() if normal == "brand"] or [""]
    # Views: the pricing join filters and aggregates the claims in its own pipeline (no table of every need
    # written first). `channel_map` names each raw channel value's channel, for joins on the raw value.
    _register_map(con, channels)
    con.execute("CREATE OR REPLACE TEMP VIEW generic_claims AS SELECT client, channel_raw, ndc, fill_date "
                f"FROM ({claims}) WHERE bg_raw IN ({', '.join(map(_literal, generic))})")
    con.execute("CREATE OR REPLACE TEMP VIEW generic_needs AS "
                f"SELECT client, {channel} AS channel, ndc, fill_date, count(*)::BIGINT AS claims FROM generic_claims "
                f"GROUP BY client, {by}, ndc, fill_date")
    con.execute("CREATE OR REPLACE TEMP TABLE brand_needs AS "
                "SELECT client, ndc, y || 'Q' || q AS quarter, claims FROM ("
                "SELECT client, ndc, year(fill_date) AS y, quarter(fill_date) AS q, count(*)::BIGINT AS claims "
                f"FROM ({claims}) WHERE bg_raw IN ({', '.join(map(_literal, brand))}) GROUP BY ALL)")
    # The NDCs checked once each (a Parquet column of a few thousand distinct values), not once a claim.
    ndcs = " UNION ALL ".join(f"SELECT {index} AS source, CAST({_q(source.columns['NDC'])} AS VARCHAR) AS ndc "
                              f"FROM {_from(source)}" for index, source in enumerate(sources))
    bad = con.execute(
        f"SELECT source, ndc, claims FROM (SELECT source, ndc, count(*) AS claims FROM ({ndcs}) GROUP BY ALL) "
        "WHERE ndc IS NULL OR NOT regexp_full_match(ndc, '[0-9]{11}') ORDER BY source, ndc NULLS FIRST"
    ).fetchall() if sources else []
    if bad:
        raise _fail(sources[bad[0][0]], "NDC", "is not 11 digits", sum(c for s, _, c in bad if s == bad[0][0]),
                    bad[0][1])
    con.execute("CREATE OR REPLACE TEMP TABLE contract_needs AS "
                f"SELECT client, year(month) AS year, {channel} AS channel, {_case('bg_raw', classes)} AS drug_class, "
                "sum(claims)::BIGINT AS claims, min(first_day) AS first_day, max(last_day) AS last_day "
                "FROM claim_months GROUP BY ALL")


def client_periods(con: duckdb.DuckDBPyConnection, sources: Sequence[ClaimsSource]) -> list[ClientPeriod]:
    """The ClientNeeds rows, by client and year (a few rows a client: fetched into Python). The client's name
    (the largest `Client Account` value, when the datasets have that column) is one more small scan."""
    names: dict[str, str] = {}
    named = [s for s in sources if CLIENT_NAME_COLUMN in s.columns]
    if named:
        union = " UNION ALL ".join(
            f"SELECT CAST({_q(s.columns['Client Account ID'])} AS VARCHAR) AS client, "
            f"CAST({_q(s.columns[CLIENT_NAME_COLUMN])} AS VARCHAR) AS name FROM {_from(s)}" for s in named)
        names = dict(con.execute(f"SELECT client, max(name) FROM ({union}) GROUP BY client").fetchall())
    ndcs = {(c, y): (g, b) for c, y, g, b in con.execute(
        "SELECT client, year, count(DISTINCT ndc) FILTER (WHERE generic), count(DISTINCT ndc) FILTER (WHERE NOT generic) "
        "FROM (SELECT client, year(fill_date) AS year, ndc, true AS generic FROM generic_needs UNION ALL "
        "SELECT client, CAST(left(quarter, 4) AS INTEGER), ndc, false FROM brand_needs) GROUP BY ALL").fetchall()}
    rows = con.execute(
        "SELECT m.client, year(m.month) AS year, sum(m.claims)::BIGINT, "
        "list(DISTINCT strftime(m.month, '%Y-%m') ORDER BY strftime(m.month, '%Y-%m')), "
        "list(DISTINCT m.source ORDER BY m.source) "
        "FROM claim_months m GROUP BY ALL ORDER BY 1, 2").fetchall()
    components = {}
    for client, year, channel, drug_class in con.execute(
            "SELECT client, year, channel, drug_class FROM contract_needs ORDER BY ALL").fetchall():
        components.setdefault((client, year), []).append([channel, drug_class])
    return [
        ClientPeriod(
            client=client, client_name=names.get(client) or "", period_start=dt.date(year, 1, 1),
            period_end=dt.date(year, 12, 31), claims=claims, months=list(months),
            components=components.get((client, year), []), generic_ndcs=ndcs.get((client, year), (0, 0))[0],
            brand_ndcs=ndcs.get((client, year), (0, 0))[1],
            sources=[{"dataset_key": sources[s].dataset_key, "version": sources[s].version} for s in used],
        )
        for client, year, claims, months, used in rows
    ]
