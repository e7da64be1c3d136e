"""What the current claims need: DuckDB over the claims Parquet files, memory-bounded. Plain module, no Django.

A claims dataset has the columns `Client Account ID`, `Channel`, `Brand/Generic`, `NDC` and `Fill Date`
(names compared case-insensitively; `Client Account`, when present, names the client). Every row is a claim
(reversals too: a reversed claim still had its fill date, its NDC and its component). The reporting period of a
claim is the calendar year of its fill date (a choice: the sample contracts and the authority rules speak of plan
years that are calendar years).

One scan of the Parquet files aggregates the claims per dataset, client, channel, drug class, NDC and fill date
(`claim_groups`; `claim_days` the same across datasets); every need is derived from it, inside DuckDB:

- `client_periods()`: per client and year, the claims, the client's name, the months with claims, the NDC counts;
- `contract_needs`: per client, year and component (channel, drug class) with claims;
- `generic_needs`: per client, channel, generic NDC and fill date (the pricing findings' questions; a view);
- `brand_needs`: per client, brand NDC and quarter (the rebate conclusions' questions).

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


def _select(source: ClaimsSource, index: int) -> str:
    c = source.columns
    name = f"CAST({_q(c[CLIENT_NAME_COLUMN])} AS VARCHAR)" if CLIENT_NAME_COLUMN in c else "NULL::VARCHAR"
    return (
        f"SELECT {index} AS source, CAST({_q(c['Client Account ID'])} AS VARCHAR) AS client, {name} AS client_name, "
        f"lower(trim(CAST({_q(c['Channel'])} AS VARCHAR))) AS channel, "
        f"lower(trim(CAST({_q(c['Brand/Generic'])} AS VARCHAR))) AS drug_class, "
        f"CAST({_q(c['NDC'])} AS VARCHAR) AS ndc, TRY_CAST({_q(c['Fill Date'])} AS DATE) AS fill_date "
        f"FROM read_parquet({_literal(str(source.path))})"
    )


CHECKS = (
    ("Client Account ID", "client IS NULL OR length(client) <> 18", "is not an 18-character account id"),
    ("Channel", f"channel IS NULL OR channel NOT IN ({', '.join(map(_literal, CHANNELS))})",
     f"is not {', '.join(CHANNELS)}"),
    ("Brand/Generic", f"drug_class IS NULL OR drug_class NOT IN ({', '.join(map(_literal, DRUG_CLASSES))})",
     "is not Brand or Generic"),
    ("NDC", "ndc IS NULL OR NOT regexp_full_match(ndc, '[0-9]{11}')", "is not 11 digits"),
    ("Fill Date", "fill_date IS NULL", "is not a date"),
)
FIELDS = {"Client Account ID": "client", "Channel": "channel", "Brand/Generic": "drug_class", "NDC": "ndc"}


def _check(con: duckdb.DuckDBPyConnection, sources: Sequence[ClaimsSource]) -> None:
    """Every group of claims can be a need: else FlagInputError naming the dataset, its column, the first value."""
    counts = ", ".join(f"count(*) FILTER (WHERE {bad})" for _, bad, _ in CHECKS)
    for index, *found in con.execute(f"SELECT source, {counts} FROM claim_groups GROUP BY source ORDER BY source"
                                     ).fetchall():
        for (column, bad, what), count in zip(CHECKS, found):
            if not count:
                continue
            source = sources[index]
            if column == "Fill Date":  # the value as the file has it (the groups hold the failed cast)
                value = con.execute(f"SELECT CAST({_q(source.columns[column])} AS VARCHAR) FROM "
                                    f"read_parquet({_literal(str(source.path))}) WHERE "
                                    f"TRY_CAST({_q(source.columns[column])} AS DATE) IS NULL LIMIT 1").fetchone()[0]
            else:
                value = con.execute(f"SELECT {FIELDS[column]} FROM claim_groups WHERE source = ? AND ({bad}) "
                                    f"ORDER BY {FIELDS[column]} NULLS FIRST LIMIT 1", [index]).fetchone()[0]
            raise FlagInputError(f"{source.label} ({source.path.name}): column {source.columns[column]!r} {what} "
                                 f"in {count} group(s) of claims (first value: {value!r})")


def build_needs(con: duckdb.DuckDBPyConnection, sources: Sequence[ClaimsSource]) -> None:
    """Create the needs tables in `con` from the claims of `sources` (one scan each). Raises FlagInputError
    naming the dataset, the column and the first bad value when a claim cannot be read as a need."""
    nothing = ("SELECT 0 AS source, NULL::VARCHAR AS client, NULL::VARCHAR AS client_name, NULL::VARCHAR AS channel, "
               "NULL::VARCHAR AS drug_class, NULL::VARCHAR AS ndc, NULL::DATE AS fill_date WHERE false")
    parts = [_select(source, index) for index, source in enumerate(sources)] or [nothing]
    con.execute("CREATE OR REPLACE TEMP TABLE claim_groups AS "
                "SELECT source, client, max(client_name) AS client_name, channel, drug_class, ndc, fill_date, "
                f"count(*)::BIGINT AS claims FROM ({' UNION ALL '.join(parts)}) "
                "GROUP BY source, client, channel, drug_class, ndc, fill_date")
    _check(con, sources)
    if len(sources) <= 1:  # the groups are the claim days already: no second aggregation
        con.execute("CREATE OR REPLACE TEMP VIEW claim_days AS SELECT client, client_name, channel, drug_class, "
                    "ndc, fill_date, claims, [source] AS sources FROM claim_groups")
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE claim_days AS "
                    "SELECT client, max(client_name) AS client_name, channel, drug_class, ndc, fill_date, "
                    "sum(claims)::BIGINT AS claims, list(DISTINCT source ORDER BY source) AS sources "
                    "FROM claim_groups GROUP BY client, channel, drug_class, ndc, fill_date")
    con.execute("CREATE OR REPLACE TEMP VIEW generic_needs AS SELECT client, channel, ndc, fill_date, claims "
                "FROM claim_days WHERE drug_class = 'generic'")
    con.execute("CREATE OR REPLACE TEMP TABLE brand_needs AS "
                "SELECT client, ndc, year(fill_date) || 'Q' || quarter(fill_date) AS quarter, "
                "sum(claims)::BIGINT AS claims FROM claim_days WHERE drug_class = 'brand' GROUP BY ALL")
    con.execute("CREATE OR REPLACE TEMP TABLE contract_needs AS "
                "SELECT client, year(fill_date) AS year, channel, drug_class, sum(claims)::BIGINT AS claims, "
                "min(fill_date) AS first_day, max(fill_date) AS last_day FROM claim_days GROUP BY ALL")


def client_periods(con: duckdb.DuckDBPyConnection, sources: Sequence[ClaimsSource]) -> list[ClientPeriod]:
    """The ClientNeeds rows, by client and year (a few rows a client: fetched into Python)."""
    rows = con.execute(
        "SELECT client, year(fill_date) AS year, coalesce(max(client_name), '') AS name, sum(claims)::BIGINT, "
        "list(DISTINCT strftime(fill_date, '%Y-%m') ORDER BY strftime(fill_date, '%Y-%m')), "
        "list(DISTINCT [channel, drug_class] ORDER BY [channel, drug_class]), "
        "count(DISTINCT ndc) FILTER (WHERE drug_class = 'generic'), "
        "count(DISTINCT ndc) FILTER (WHERE drug_class = 'brand'), "
        "list_sort(list_distinct(flatten(list(sources)))) "
        "FROM claim_days GROUP BY client, year ORDER BY client, year"
    ).fetchall()
    return [
        ClientPeriod(
            client=client, client_name=name, period_start=dt.date(year, 1, 1), period_end=dt.date(year, 12, 31),
            claims=claims, months=list(months), components=[list(c) for c in components], generic_ndcs=generics,
            brand_ndcs=brands,
            sources=[{"dataset_key": sources[s].dataset_key, "version": sources[s].version} for s in used],
        )
        for client, year, name, claims, months, components, generics, brands, used in rows
    ]
