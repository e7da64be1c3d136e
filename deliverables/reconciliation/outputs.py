"""The backend outputs a Domo card can be reconciled against: relations over one calculation run's stored numbers.

Each output is a DuckDB query over tables built from the run's RunNumber rows (one table per kind of number, its
figures as exact text columns), with the client's governed Salesforce name beside its account id (Domo cards
show names). Its columns are keys (text, date) and measures (exact DECIMAL, never float); `decision` is the
run's decision for the row (for a sum of lines, the weakest of them). A figure the run did not conclude (a
shortfall held back for missing evidence) is NULL here, and stays a visible difference against Domo's value.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from deliverables.choices import Decision, NumberKind
from deliverables.models import CalculationRun, RunNumber
from evidence.packets.selectors import account_names

# The weakest decision wins when lines are added up.
_WEAKEST = (f"CASE MAX(CASE decision WHEN '{Decision.NOT_CONCLUDED}' THEN 3 WHEN '{Decision.INDICATIVE}' THEN 2 "
            f"ELSE 1 END) WHEN 3 THEN '{Decision.NOT_CONCLUDED}' WHEN 2 THEN '{Decision.INDICATIVE}' "
            f"ELSE '{Decision.AUTHORIZED}' END")


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    kind: str = "decimal"  # text | date | integer | decimal
    scale: int = 2

    @property
    def is_money(self) -> bool:
        """An amount in dollars and cents (a count is an integer, a rate has more places)."""
        return self.kind == "decimal" and self.scale == 2


@dataclass(frozen=True)
class Output:
    name: str
    label: str
    description: str
    sql: str
    keys: tuple[Column, ...]
    measures: tuple[Column, ...]
    tables: tuple[str, ...] = field(default=())

    def column(self, name: str) -> Column | None:
        return next((c for c in (*self.keys, *self.measures) if c.name == name), None)


def _d(expr: str, scale: int = 2) -> str:
    return f"CAST({expr} AS DECIMAL(38, {scale}))"


CLIENT = Column("client_account_id", "Client account id", "text")
CLIENT_NAME = Column("client_name", "Client name (governed Salesforce)", "text")
COMPONENT = Column("component", "Component (e.g. Retail Brand)", "text")
CHANNEL = Column("channel", "Channel", "text")
DRUG_CLASS = Column("drug_class", "Brand/generic", "text")

_AWP_SUMS = (f"SUM(CAST(claims AS BIGINT)) AS claims, {_d('SUM(CAST(awp AS DECIMAL(38, 2)))')} AS awp, "
             f"{_d('SUM(CAST(ingredient_cost_paid AS DECIMAL(38, 2)))')} AS ingredient_cost_paid, "
             f"{_d('SUM(CAST(guaranteed_discount AS DECIMAL(38, 2)))')} AS guaranteed_discount, "
             f"{_d('SUM(CAST(actual_discount AS DECIMAL(38, 2)))')} AS actual_discount, "
             f"{_d('SUM(CAST(shortfall AS DECIMAL(38, 2)))')} AS shortfall")
_AWP_MEASURES = (
    Column("claims", "Claims", "integer", 0), Column("awp", "AWP amount"),
    Column("ingredient_cost_paid", "Ingredient cost paid"), Column("guaranteed_discount", "Guaranteed discount"),
    Column("actual_discount", "Actual discount"), Column("shortfall", "Shortfall"),
)

OUTPUTS: dict[str, Output] = {o.name: o for o in (
    Output(
        "awp_guarantee_lines", "AWP discount guarantee: per client, component and contract period",
        "One line per client, component and the days one set of terms governs (a mid-year amendment splits a "
        "component in two lines).",
        f"""SELECT client_account_id, client_name, component, channel, drug_class, CAST(period_start AS DATE)
                   AS period_start, CAST(period_end AS DATE) AS period_end, decision, CAST(claims AS BIGINT) AS claims,
                   {_d('awp')} AS awp, {_d('ingredient_cost_paid')} AS ingredient_cost_paid,
                   {_d('guaranteed_discount')} AS guaranteed_discount, {_d('actual_discount')} AS actual_discount,
                   {_d('effective_rate', 6)} AS effective_rate, {_d('shortfall')} AS shortfall
            FROM awp WHERE level = 'component'""",
        (CLIENT, CLIENT_NAME, COMPONENT, CHANNEL, DRUG_CLASS, Column("period_start", "Period start", "date"),
         Column("period_end", "Period end", "date")),
        (*_AWP_MEASURES, Column("effective_rate", "Effective discount rate", scale=6)),
        ("awp",)),
    Output(
        "awp_guarantee_by_component", "AWP discount guarantee: per client and component, the whole run",
        "The component's lines of the run added up (a DataFlow that reconciles a plan year per component).",
        f"""SELECT client_account_id, client_name, component, channel, drug_class, {_WEAKEST} AS decision,
                   {_AWP_SUMS}
            FROM awp WHERE level = 'component' GROUP BY ALL""",
        (CLIENT, CLIENT_NAME, COMPONENT, CHANNEL, DRUG_CLASS), _AWP_MEASURES, ("awp",)),
    Output(
        "awp_guarantee_by_client", "AWP discount guarantee: per client, every component",
        "The client's component lines added up, with the effective discount rate 1 - cost / AWP over them.",
        f"""SELECT client_account_id, client_name, {_WEAKEST} AS decision, {_AWP_SUMS},
                   CAST(1 - SUM(CAST(ingredient_cost_paid AS DECIMAL(38, 2)))
                        / NULLIF(SUM(CAST(awp AS DECIMAL(38, 2))), 0) AS DECIMAL(38, 6)) AS effective_rate
            FROM awp WHERE level = 'component' GROUP BY ALL""",
        (CLIENT, CLIENT_NAME), (*_AWP_MEASURES, Column("effective_rate", "Effective discount rate", scale=6)),
        ("awp",)),
    Output(
        "client_guarantees", "Guarantees per client: AWP discount and rebates, every component and quarter",
        "One row per client: its AWP discount guarantee lines and its rebate guarantee lines added up (a card "
        "that shows a client's guaranteed discount beside its expected rebates).",
        f"""WITH a AS (SELECT client_account_id, client_name, decision, {_AWP_SUMS}
                       FROM awp WHERE level = 'component' GROUP BY ALL),
                 r AS (SELECT client_account_id, client_name, decision,
                              SUM(CAST(brand_claims AS BIGINT)) AS brand_claims,
                              {_d('SUM(CAST(guaranteed_rebates AS DECIMAL(38, 2)))')} AS guaranteed_rebates,
                              {_d('SUM(CAST(rebates_received AS DECIMAL(38, 2)))')} AS rebates_received
                       FROM rebate GROUP BY ALL)
            SELECT client_account_id, client_name, {_WEAKEST} AS decision, SUM(claims) AS claims,
                   {_d('SUM(awp)')} AS awp, {_d('SUM(guaranteed_discount)')} AS guaranteed_discount,
                   {_d('SUM(actual_discount)')} AS actual_discount, {_d('SUM(shortfall)')} AS shortfall,
                   SUM(brand_claims) AS brand_claims, {_d('SUM(guaranteed_rebates)')} AS guaranteed_rebates,
                   {_d('SUM(rebates_received)')} AS rebates_received
            FROM (SELECT client_account_id, client_name, decision, claims, awp, guaranteed_discount,
                         actual_discount, shortfall, NULL::BIGINT AS brand_claims,
                         NULL::DECIMAL(38, 2) AS guaranteed_rebates, NULL::DECIMAL(38, 2) AS rebates_received FROM a
                  UNION ALL
                  SELECT client_account_id, client_name, decision, NULL, NULL, NULL, NULL, NULL, brand_claims,
                         guaranteed_rebates, rebates_received FROM r)
            GROUP BY ALL""",
        (CLIENT, CLIENT_NAME),
        (Column("claims", "Claims", "integer", 0), Column("awp", "AWP amount"),
         Column("guaranteed_discount", "Guaranteed discount"), Column("actual_discount", "Actual discount"),
         Column("shortfall", "AWP discount shortfall"), Column("brand_claims", "Brand claims", "integer", 0),
         Column("guaranteed_rebates", "Guaranteed rebates"), Column("rebates_received", "Rebates received")),
        ("awp", "rebate")),
    Output(
        "fee_guarantee_lines", "Dispensing-fee guarantee: per client, component and contract period", "",
        f"""SELECT client_account_id, client_name, component, channel, drug_class, CAST(period_start AS DATE)
                   AS period_start, decision, CAST(scripts AS BIGINT) AS scripts,
                   {_d('contracted_fee')} AS contracted_fee, {_d('fees_paid')} AS fees_paid,
                   {_d('guaranteed_fees')} AS guaranteed_fees, {_d('shortfall')} AS shortfall
            FROM fee""",
        (CLIENT, CLIENT_NAME, COMPONENT, CHANNEL, DRUG_CLASS, Column("period_start", "Period start", "date")),
        (Column("scripts", "Scripts", "integer", 0), Column("contracted_fee", "Contracted fee"),
         Column("fees_paid", "Fees paid"), Column("guaranteed_fees", "Guaranteed fees"),
         Column("shortfall", "Shortfall")),
        ("fee",)),
    Output(
        "rebate_guarantee_lines", "Rebate guarantee: per client and quarter", "",
        f"""SELECT client_account_id, client_name, quarter, decision, CAST(brand_claims AS BIGINT) AS brand_claims,
                   {_d('guaranteed_rebates')} AS guaranteed_rebates, {_d('rebates_received')} AS rebates_received,
                   {_d('shortfall')} AS shortfall
            FROM rebate""",
        (CLIENT, CLIENT_NAME, Column("quarter", "Quarter (YYYYQn)", "text")),
        (Column("brand_claims", "Brand claims", "integer", 0), Column("guaranteed_rebates", "Guaranteed rebates"),
         Column("rebates_received", "Rebates received"), Column("shortfall", "Shortfall")),
        ("rebate",)),
    Output(
        "rebate_guarantee_by_client", "Rebate guarantee: per client, every quarter", "",
        f"""SELECT client_account_id, client_name, {_WEAKEST} AS decision,
                   SUM(CAST(brand_claims AS BIGINT)) AS brand_claims,
                   {_d('SUM(CAST(guaranteed_rebates AS DECIMAL(38, 2)))')} AS guaranteed_rebates,
                   {_d('SUM(CAST(rebates_received AS DECIMAL(38, 2)))')} AS rebates_received,
                   {_d('SUM(CAST(shortfall AS DECIMAL(38, 2)))')} AS shortfall
            FROM rebate GROUP BY ALL""",
        (CLIENT, CLIENT_NAME),
        (Column("brand_claims", "Brand claims", "integer", 0), Column("guaranteed_rebates", "Guaranteed rebates"),
         Column("rebates_received", "Rebates received"), Column("shortfall", "Shortfall")),
        ("rebate",)),
)}

# The figures each table takes from its kind of number (as exact text; cast by the outputs' SQL).
_TABLES = {
    "awp": (NumberKind.AWP_GUARANTEE, ("level", "component", "channel", "drug_class", "period_start", "period_end",
                                       "claims", "awp", "ingredient_cost_paid", "guaranteed_discount",
                                       "actual_discount", "effective_rate", "shortfall")),
    "fee": (NumberKind.FEE_GUARANTEE, ("component", "channel", "drug_class", "period_start", "scripts",
                                       "contracted_fee", "fees_paid", "guaranteed_fees", "shortfall")),
    "rebate": (NumberKind.REBATE_GUARANTEE, ("quarter", "brand_claims", "guaranteed_rebates", "rebates_received",
                                             "shortfall")),
}


def outputs_holding(kind: str) -> list[str]:
    """The outputs whose rows are made of numbers of `kind` (a card mapped onto one of them shows those numbers)."""
    return [o.name for o in OUTPUTS.values() if any(_TABLES[table][0] == kind for table in o.tables)]


def choices() -> list[tuple[str, str]]:
    return [(o.name, o.label) for o in OUTPUTS.values()]


def load(con, run: CalculationRun, output: Output, *, relation: str = "backend") -> dict:
    """Create the view `relation` of `output` over `run`'s numbers in DuckDB; returns what it read
    ({output, rows, numbers, clients: {id: name}})."""
    names = account_names()
    used = {}
    for table in output.tables:
        kind, figures = _TABLES[table]
        numbers = list(RunNumber.objects.filter(run=run, kind=kind).exclude(key__endswith=":held")
                       .order_by("position").values_list("client_account_id", "decision", "figures"))
        columns = {"client_account_id": [n[0] for n in numbers],
                   "client_name": [names.get(n[0]) for n in numbers],
                   "decision": [n[1] for n in numbers]}
        for name in figures:
            columns[name] = [None if n[2].get(name) is None else str(n[2][name]) for n in numbers]
        used.update({n[0]: names.get(n[0]) for n in numbers})
        arrow = pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()})
        con.register(f"__numbers_{table}", arrow)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM __numbers_{table}")
        con.unregister(f"__numbers_{table}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {relation} AS {output.sql}")
    rows = con.execute(f"SELECT COUNT(*) FROM {relation}").fetchone()[0]
    return {"output": output.name, "rows": rows, "clients": dict(sorted(used.items()))}
