"""The guarantee and audit arithmetic, each calculation written once as set-based SQL (DuckDB's dialect).

Plain module, no Django. Each definition is ONE SQL text over four named relations:

- `claims`: one row per claim line, columns `_row` (the line's 0-based row number in the dataset version: the
  curated table's `_row`, the silver Parquet's file row number), `claim_id, claim_status, client_account_id, member_id, pharmacy_npi,
  channel, drug_class, ndc, fill_date, adjudicated_at, quantity, awp_unit_price, ingredient_cost_paid,
  dispensing_fee_paid, plan_paid, usual_and_customary, compound, out_of_network` (engine.register builds it
  from the PBM claims Parquet; `channel` and `drug_class` lower-case; the three last are 0/1 flags);
- `terms`, `prices`, `invoices`: the evidence records with the columns of evidence-packets-v1.md.

Arithmetic (../shared/domain-pbm.md): every amount is exact DECIMAL(38, s) (cast on read, never DOUBLE), summed
exactly and rounded ONCE, at the end of each reported amount, to cents with ROUND: on DECIMAL, DuckDB,
PostgreSQL and SQL Server all round half away from zero, which is half up for the non-negative amounts
(shortfalls, overpayments, totals) and gives -0.01 for -0.005 (like Python's ROUND_HALF_UP) for the only amounts
that can be negative (an actual discount when more was paid than AWP). Rates (effective rate) are exact to six
places, rounded the same way, by integer division (a DECIMAL division is a DOUBLE in DuckDB).

Claims. The current state of a claim id is its latest line (`adjudicated_at`, then REVERSED before PAID on a tie):
a reversed and rebilled claim counts once, at its rebilled amounts; a claim whose latest line is REVERSED counts
nowhere. A claim uses the term row of its client, channel and drug class in force on its fill date
(`period_start <= fill_date <= period_end`; a mid-year amendment is a second row from its start; rows must not
overlap, engine.run checks). A claim with no term row is in no guarantee and no finding except duplicates.

Exclusions come only from the term row's `exclusions`, mapped to claim columns:
zero_balance -> plan_paid = 0; no_awp -> awp_unit_price IS NULL; specialty_carve_out -> channel = 'specialty';
usual_and_customary, compound, out_of_network -> the claim's 0/1 flags of those names (from optional Parquet
columns, see engine; a term naming one whose column is absent is refused there, never ignored).
An excluded claim counts in no guarantee (AWP, fee, rebate); findings are per claim and do not use exclusions.
A finding is a claim whose overpayment, rounded to cents, is at least 0.01: a generic paid at MAC x quantity
rounded up to the cent (0.004 over) is not one. (Rounded half away from zero, an exact amount is at least 0.01
exactly when it is at least 0.005: the filter compares, the projection rounds.)
A claim without AWP that is not excluded counts with AWP 0 (its ingredient cost still counts).
A finding carries its overpayment twice: rounded once to cents (`overpayment`: a finding is itself a reported
amount) and exact (`overpayment_exact`, DECIMAL(38, ALLOWED_SCALE)). Every total of findings (per kind and client,
the savings) adds the exact overpayments and rounds the sum once (runs.compute), never the cents of each claim.
"""
from __future__ import annotations

EXCLUSIONS = ("zero_balance", "usual_and_customary", "compound", "no_awp", "out_of_network", "specialty_carve_out")

# The claim predicate of each exclusion (over the `ct` rows below).
EXCLUSION_PREDICATES = {
    "zero_balance": "ct0.plan_paid = 0",
    "usual_and_customary": "ct0.usual_and_customary = 1",
    "compound": "ct0.compound = 1",
    "no_awp": "ct0.awp_unit_price IS NULL",
    "out_of_network": "ct0.out_of_network = 1",
    "specialty_carve_out": "ct0.channel = 'specialty'",
}

UNIT_SCALE = 6  # AWP and MAC unit prices, rates
QUANTITY_SCALE = 3
MONEY_SCALE = 2  # amounts paid, invoice amounts
FEE_SCALE = 4  # contracted fees and rebates per script
# The exact allowed amount of a finding (unit price x quantity x (1 - rate): 6 + 3 + 6 places). Every branch of a
# UNION casts to it: DuckDB types the UNION of DECIMAL(38, 9), (38, 15), (38, 4) and (38, 2) as DECIMAL(38, 2),
# which would round the allowed amount to cents before the overpayment is taken (PostgreSQL keeps it exact).
ALLOWED_SCALE = UNIT_SCALE + QUANTITY_SCALE + UNIT_SCALE


def _dec(expression: str, scale: int) -> str:
    return f"CAST({expression} AS DECIMAL(38, {scale}))"


def _cents(expression: str) -> str:
    """The one rounding of a reported amount: cents, half away from zero (half up for non-negative amounts)."""
    return f"ROUND({expression}, 2)"


def _positive(expression: str) -> str:
    return f"CASE WHEN {expression} > 0 THEN {expression} ELSE 0 END"


def _rate(numerator: str, denominator: str, scale: int = 9, places: int = 6) -> str:
    """numerator / denominator (both DECIMAL(38, <= scale), denominator >= 0) to `places`, half away from zero,
    exactly: sign(n) * floor((2|n| 10^places + d) / 2d) over integers scaled by 10^scale."""
    n = f"CAST(ABS({numerator}) * {10 ** scale} AS HUGEINT)"
    d = f"CAST({denominator} * {10 ** scale} AS HUGEINT)"
    quotient = f"(2 * {n} * {10 ** places} + {d}) // (2 * {d})"
    return (f"CASE WHEN {denominator} = 0 THEN NULL ELSE CAST(SIGN({numerator}) * {quotient} AS DECIMAL(38, 0)) "
            f"* CAST(0.{'0' * (places - 1)}1 AS DECIMAL(38, {places})) END")


def _named(name: str) -> str:
    """1 when a terms row's `exclusions` (';'-separated, spaces ignored) names `name`, else 0."""
    return (f"CASE WHEN POSITION(';{name};' IN ';' || COALESCE(REPLACE(terms.exclusions, ' ', ''), '') || ';') > 0 "
            f"THEN 1 ELSE 0 END")


# Which exclusions each terms row names, worked out on the terms rows (a few) before they are joined to the claims
# (millions): reading the names out of the text for every claim was half the cost of each pass over `ct`.
_TERMS_NAMED = "SELECT terms.*, " + ", ".join(
    f"{_named(name)} AS excludes_{name}" for name in EXCLUSIONS) + (
    ", ROW_NUMBER() OVER (ORDER BY terms.client_account_id, LOWER(TRIM(terms.channel)), "
    "LOWER(TRIM(terms.drug_class)), terms.period_start) AS term_row FROM terms")


def _excluded() -> str:
    arms = " OR ".join(f"(ct0.excludes_{name} = 1 AND {predicate})" for name, predicate in EXCLUSION_PREDICATES.items())
    return f"CASE WHEN {arms} THEN 1 ELSE 0 END"


# The current claims, cast on read. The current line of each claim is found over four narrow columns (its row
# number, claim id, status and time) and the claims are then read once more for those rows: ordering every wide
# line by claim id costs three times as much (measured on DuckDB at 5 million lines, spilling past a run's memory
# limit). A tie on time and status goes to the later row, the same on every engine. Each current claim carries the
# number of the terms row in force on its fill date (none: no terms), the terms numbered in an order that is unique
# (overlapping rows of a client, channel and drug class are refused before any SQL runs).
_CURRENT = f"""cur0 AS (
  SELECT c._row, c.claim_id, c.client_account_id, c.member_id, c.pharmacy_npi,
         LOWER(TRIM(c.channel)) AS channel, LOWER(TRIM(c.drug_class)) AS drug_class, c.ndc, c.fill_date,
         c.adjudicated_at, {_dec('c.quantity', QUANTITY_SCALE)} AS quantity,
         {_dec('c.awp_unit_price', UNIT_SCALE)} AS awp_unit_price,
         {_dec('c.ingredient_cost_paid', MONEY_SCALE)} AS ingredient_cost_paid,
         {_dec('c.dispensing_fee_paid', MONEY_SCALE)} AS dispensing_fee_paid,
         {_dec('c.plan_paid', MONEY_SCALE)} AS plan_paid,
         c.usual_and_customary, c.compound, c.out_of_network
  FROM claims AS c
  WHERE c._row IN (
    SELECT x._row
    FROM (
      SELECT l._row, l.claim_status,
             ROW_NUMBER() OVER (PARTITION BY l.claim_id
                                ORDER BY l.adjudicated_at DESC, l.claim_status DESC, l._row DESC) AS line
      FROM claims AS l
    ) AS x
    WHERE x.line = 1 AND x.claim_status = 'PAID'
  )
),
cur AS (
  SELECT cur0.*, t.term_row
  FROM cur0
  LEFT JOIN ({_TERMS_NAMED}) AS t
    ON t.client_account_id = cur0.client_account_id AND LOWER(TRIM(t.channel)) = cur0.channel
   AND LOWER(TRIM(t.drug_class)) = cur0.drug_class AND cur0.fill_date BETWEEN t.period_start AND t.period_end
)"""

# The current claims with the term row in force on the fill date (found once, by `cur`: each pass over `ct` joins
# the terms on its number alone), and whether the terms exclude them.
_TERMED = f"""ct0 AS (
  SELECT cur.*, t.contract_id, t.component, t.guarantee_basis, t.exclusions, t.price_list, t.period_start,
         t.period_end, t.source AS term_source, t.evidence_class AS term_class, {_dec('t.awp_discount_guarantee', UNIT_SCALE)} AS rate,
         {_dec('t.dispensing_fee_guarantee', FEE_SCALE)} AS fee,
         {_dec('t.rebate_per_brand_claim', FEE_SCALE)} AS rebate,
         COALESCE(cur.awp_unit_price * cur.quantity, {_dec('0', UNIT_SCALE + QUANTITY_SCALE)}) AS awp,
         {', '.join(f't.excludes_{name}' for name in EXCLUSIONS)}
  FROM cur
  JOIN ({_TERMS_NAMED}) AS t ON t.term_row = cur.term_row
),
ct AS (
  SELECT ct0.*, {_excluded()} AS excluded FROM ct0
)"""

_AWP_SUMS = """SUM(awp) AS awp, SUM(ingredient_cost_paid) AS icp, SUM(awp * rate) AS guaranteed"""

_AWP_DISCOUNT_GUARANTEE_BODY = f"""component_sums AS (
  SELECT client_account_id, period_start, period_end, component, channel, drug_class, guarantee_basis,
         COUNT(*) AS claims, {_AWP_SUMS}
  FROM ct WHERE excluded = 0 AND rate IS NOT NULL
  GROUP BY client_account_id, period_start, period_end, component, channel, drug_class, guarantee_basis
),
combined_sums AS (
  SELECT client_account_id, MIN(period_start) AS period_start, MAX(period_end) AS period_end,
         'combined' AS component, '' AS channel, '' AS drug_class, guarantee_basis, COUNT(*) AS claims, {_AWP_SUMS}
  FROM ct WHERE excluded = 0 AND rate IS NOT NULL AND guarantee_basis = 'combined'
  GROUP BY client_account_id, guarantee_basis
),
lines AS (
  SELECT 'component' AS level, s.* FROM component_sums AS s
  UNION ALL
  SELECT 'combined' AS level, s.* FROM combined_sums AS s
)
SELECT client_account_id, period_start, period_end, level, component, channel, drug_class, guarantee_basis, claims,
       {_cents('awp')} AS awp, {_cents('icp')} AS ingredient_cost_paid,
       {_cents('guaranteed')} AS guaranteed_discount, {_cents('awp - icp')} AS actual_discount,
       {_rate('awp - icp', 'awp')} AS effective_rate,
       {_cents(_positive('guaranteed - (awp - icp)'))} AS shortfall,
       CASE WHEN level = 'combined' OR guarantee_basis = 'per_component'
            THEN {_cents(_positive("guaranteed - (awp - icp)"))} ELSE {_dec("0", MONEY_SCALE)} END AS shortfall_owed
FROM lines
ORDER BY client_account_id, level DESC, component, channel, drug_class, period_start"""

_DISPENSING_FEE_GUARANTEE_BODY = f"""sums AS (
  SELECT client_account_id, period_start, period_end, component, channel, drug_class, COUNT(*) AS scripts, fee,
         SUM(dispensing_fee_paid) AS fees_paid, SUM(fee) AS guaranteed
  FROM ct WHERE excluded = 0 AND fee IS NOT NULL
  GROUP BY client_account_id, period_start, period_end, component, channel, drug_class, fee
)
SELECT client_account_id, period_start, period_end, component, channel, drug_class, scripts, fee AS contracted_fee,
       {_cents('fees_paid')} AS fees_paid, {_cents('guaranteed')} AS guaranteed_fees,
       {_cents(_positive('fees_paid - guaranteed'))} AS shortfall
FROM sums
ORDER BY client_account_id, component, channel, drug_class, period_start"""

_QUARTER = ("CAST(EXTRACT(YEAR FROM fill_date) AS VARCHAR) || 'Q' || "
            "CAST(EXTRACT(QUARTER FROM fill_date) AS VARCHAR)")

_REBATE_GUARANTEE_BODY = f"""brand AS (
  SELECT client_account_id, {_QUARTER} AS quarter, ndc, COUNT(*) AS brand_claims, SUM(rebate) AS guaranteed
  FROM ct WHERE excluded = 0 AND drug_class = 'brand' AND rebate IS NOT NULL
  GROUP BY client_account_id, {_QUARTER}, ndc
),
received AS (
  SELECT client_account_id, quarter, ndc, SUM({_dec('rebate_amount', MONEY_SCALE)}) AS amount
  FROM invoices GROUP BY client_account_id, quarter, ndc
),
sums AS (
  SELECT b.client_account_id, b.quarter, CAST(SUM(b.brand_claims) AS BIGINT) AS brand_claims, COUNT(*) AS ndcs,
         SUM(CASE WHEN r.ndc IS NULL THEN 1 ELSE 0 END) AS ndcs_without_invoice,
         SUM(b.guaranteed) AS guaranteed, SUM(COALESCE(r.amount, {_dec('0', MONEY_SCALE)})) AS received
  FROM brand AS b
  LEFT JOIN received AS r
    ON r.client_account_id = b.client_account_id AND r.quarter = b.quarter AND r.ndc = b.ndc
  GROUP BY b.client_account_id, b.quarter
),
unmatched AS (
  SELECT r.client_account_id, r.quarter, SUM(r.amount) AS amount
  FROM received AS r
  LEFT JOIN brand AS b
    ON b.client_account_id = r.client_account_id AND b.quarter = r.quarter AND b.ndc = r.ndc
  WHERE b.ndc IS NULL
  GROUP BY r.client_account_id, r.quarter
)
SELECT s.client_account_id, s.quarter, s.brand_claims, s.ndcs, s.ndcs_without_invoice,
       {_cents('s.guaranteed')} AS guaranteed_rebates, {_cents('s.received')} AS rebates_received,
       {_cents(_positive('s.guaranteed - s.received'))} AS shortfall,
       {_cents('COALESCE(u.amount, ' + _dec('0', MONEY_SCALE) + ')')} AS unmatched_invoices
FROM sums AS s
LEFT JOIN unmatched AS u ON u.client_account_id = s.client_account_id AND u.quarter = s.quarter
ORDER BY s.client_account_id, s.quarter"""

_FINDING_COLUMNS = ("kind, client_account_id, claim_id, fill_date, ndc, pharmacy_npi, paid, allowed, reference, "
                    "channel, drug_class, claim_row, term_source, term_class, price_source")


def _mac_findings(client_match: str) -> str:
    """The MAC findings against the price rows whose client matches `client_match`: a price row cut for one
    client (its client_account_id) or for every client (none). Two joins, one per kind of row, rather than one
    join ON (none OR the client): the client is then a join key, where the OR joined each claim to every
    client's copy of its price list's row before filtering them (ten times the rows with ten clients on a list)."""
    return f"""SELECT 'mac' AS kind, ct.client_account_id, ct.claim_id, ct.fill_date, ct.ndc, ct.pharmacy_npi,
         ct.ingredient_cost_paid AS paid,
         {_dec(_dec('p.mac_unit_price', UNIT_SCALE) + ' * ct.quantity', ALLOWED_SCALE)} AS allowed,
         p.price_list || ' ' || CAST(p.effective_date AS VARCHAR) AS reference,
         ct.channel, ct.drug_class, ct._row AS claim_row, ct.term_source, ct.term_class, p.source AS price_source
  FROM ct
  JOIN prices AS p
    ON p.price_list = ct.price_list AND p.ndc = ct.ndc AND {client_match}
   AND p.effective_date <= ct.fill_date AND (p.end_date IS NULL OR ct.fill_date <= p.end_date)
  WHERE ct.drug_class = 'generic'
    AND ct.ingredient_cost_paid > {_dec('p.mac_unit_price', UNIT_SCALE)} * ct.quantity"""


def _same(column: str, none: str = "''") -> str:
    """g.column equals c.column, a NULL taken as `none` on both sides (an equality every engine can hash)."""
    return f"COALESCE(g.{column}, {none}) = COALESCE(c.{column}, {none})"


# Duplicates: the claims of a (member, NDC, fill date, pharmacy) with more than one current claim, numbered in
# order of adjudication; every one after the first is a duplicate of the first. The claims are numbered only in
# the groups found duplicated by a GROUP BY (0.5% of claims): numbering every claim was most of the findings'
# cost. The groups are matched with NULL taken as a value that may also occur ('', 0001-01-01): a claim of such
# a twin group is then numbered in its own partition (by its own values, NULL apart), whose claims are all
# there, so it is numbered as it would be among every claim; a claim alone in its partition is no duplicate.
_PRICING_FINDINGS_BODY = f"""found AS (
  {_mac_findings('p.client_account_id = ct.client_account_id')}
  UNION ALL
  {_mac_findings('p.client_account_id IS NULL')}
  UNION ALL
  SELECT 'brand_awp' AS kind, client_account_id, claim_id, fill_date, ndc, pharmacy_npi,
         ingredient_cost_paid AS paid, {_dec('awp_unit_price * quantity * (1 - rate)', ALLOWED_SCALE)} AS allowed,
         component AS reference, channel, drug_class, _row AS claim_row, term_source, term_class,
         CAST(NULL AS VARCHAR) AS price_source
  FROM ct
  WHERE drug_class = 'brand' AND awp_unit_price IS NOT NULL AND rate IS NOT NULL
    AND ingredient_cost_paid > awp_unit_price * quantity * (1 - rate)
  UNION ALL
  SELECT 'dispensing_fee' AS kind, client_account_id, claim_id, fill_date, ndc, pharmacy_npi,
         dispensing_fee_paid AS paid, {_dec('fee', ALLOWED_SCALE)} AS allowed, component AS reference,
         channel, drug_class, _row AS claim_row, term_source, term_class, CAST(NULL AS VARCHAR) AS price_source
  FROM ct
  WHERE fee IS NOT NULL AND dispensing_fee_paid > fee
  UNION ALL
  SELECT 'duplicate' AS kind, client_account_id, claim_id, fill_date, ndc, pharmacy_npi,
         ingredient_cost_paid + dispensing_fee_paid AS paid, {_dec('0', ALLOWED_SCALE)} AS allowed,
         first_claim AS reference, channel, drug_class, _row AS claim_row, CAST(NULL AS VARCHAR) AS term_source,
         CAST(NULL AS VARCHAR) AS term_class, CAST(NULL AS VARCHAR) AS price_source
  FROM (
    SELECT d0.*,
           ROW_NUMBER() OVER (PARTITION BY member_id, ndc, fill_date, pharmacy_npi
                              ORDER BY adjudicated_at, claim_id) AS copy,
           FIRST_VALUE(claim_id) OVER (PARTITION BY member_id, ndc, fill_date, pharmacy_npi
                                       ORDER BY adjudicated_at, claim_id) AS first_claim
    FROM cur AS d0
    WHERE d0._row IN (
      SELECT c._row
      FROM cur AS c
      JOIN (
        SELECT member_id, ndc, fill_date, pharmacy_npi FROM cur
        GROUP BY member_id, ndc, fill_date, pharmacy_npi HAVING COUNT(*) > 1
      ) AS g
        ON {_same('member_id')} AND {_same('ndc')} AND {_same('pharmacy_npi')}
       AND {_same('fill_date', "DATE '0001-01-01'")}
    )
  ) AS d
  WHERE copy > 1
)
SELECT {_FINDING_COLUMNS.replace('paid, allowed', 'paid, ' + _cents('allowed') + ' AS allowed')},
       {_cents('paid - allowed')} AS overpayment, {_dec('paid - allowed', ALLOWED_SCALE)} AS overpayment_exact
FROM found
WHERE paid - allowed >= {_dec('0.005', 3)}
ORDER BY kind, client_account_id, claim_id, reference"""

# Each definition's own CTEs and SELECT, over `cur` and `ct`.
BODIES = {
    "awp_discount_guarantee": _AWP_DISCOUNT_GUARANTEE_BODY,
    "dispensing_fee_guarantee": _DISPENSING_FEE_GUARANTEE_BODY,
    "rebate_guarantee": _REBATE_GUARANTEE_BODY,
    "pricing_findings": _PRICING_FINDINGS_BODY,
}
# The definitions, whole: each reads the four relations and nothing else.
DEFINITIONS = {name: f"WITH {_CURRENT},\n{_TERMED},\n{body}" for name, body in BODIES.items()}
AWP_DISCOUNT_GUARANTEE = DEFINITIONS["awp_discount_guarantee"]
DISPENSING_FEE_GUARANTEE = DEFINITIONS["dispensing_fee_guarantee"]
REBATE_GUARANTEE = DEFINITIONS["rebate_guarantee"]
PRICING_FINDINGS = DEFINITIONS["pricing_findings"]

# A run computes `cur` and `ct` once, as tables, and runs each body over them (`WITH <body>`): the same SQL
# text as the definition, without recomputing the current claims four times.
MATERIALIZE = (
    f"CREATE OR REPLACE TEMP TABLE cur AS WITH {_CURRENT} SELECT * FROM cur",
    f"CREATE OR REPLACE TEMP TABLE ct AS WITH {_TERMED.replace('FROM cur', 'FROM cur', 1)} SELECT * FROM ct",
)


def over_materialized(name: str, *, ordered: bool = True) -> str:
    """Definition `name` over the tables `cur` and `ct` made by MATERIALIZE. `ordered` False leaves out its final
    ORDER BY: for rows kept in a table (a table has no order; whoever reads it orders them), where sorting
    millions of findings would cost more than the rest of their definition."""
    sql = f"WITH {BODIES[name]}"
    if ordered:
        return sql
    body, order = sql.rsplit("\nORDER BY ", 1)
    if "\n" in order or ")" in order:
        raise ValueError(f"{name}: the definition does not end with its ORDER BY line")
    return body


# --- provenance: which rows each reported line adds up ----------------------------------------------------
def rows_checksum(column: str = "_row") -> str:
    """The checksum of a set of row numbers: MD5 of the numbers in ascending order, comma-separated (the same
    text on DuckDB and PostgreSQL; re-derived by recomputing it over the line's predicate)."""
    return f"MD5(STRING_AGG(CAST({column} AS VARCHAR), ',' ORDER BY {column}))"


def rows_checksum_duckdb(column: str = "_row") -> str:
    """rows_checksum's text computed DuckDB's faster way (the rows collected unordered, the list sorted: about
    half the time of an ordered STRING_AGG over millions of rows). The same checksum: the row numbers are never
    NULL, and DuckDB writes a BIGINT list joined with ',' as the numbers' own text."""
    return f"MD5(ARRAY_TO_STRING(LIST_SORT(LIST({column})), ','))"


_CT_TABLE = "CREATE OR REPLACE TEMP TABLE ct AS"


def on_duckdb(sql: str) -> str:
    """A definition's text (DuckDB's dialect, portable to the others) as a DuckDB run executes it: the rows
    checksums the DuckDB way (rows_checksum_duckdb), and `ct` a view, not a table: joining `cur` with the few
    terms rows again in each body costs less than holding ct's millions of wide rows beside cur's, which spill
    to disk past a run's memory limit (a quarter of the calculate step at 5 million claims)."""
    if sql.startswith(_CT_TABLE):
        sql = "CREATE OR REPLACE TEMP VIEW ct AS" + sql[len(_CT_TABLE):]
    return sql.replace(rows_checksum(), rows_checksum_duckdb())


# line key columns -> the predicate (over `ct`) of the rows each line adds up. {placeholders} are the line's values.
CONTRIBUTIONS = {
    "awp_discount_guarantee": {
        "component": ("client_account_id, period_start, period_end, component, channel, drug_class",
                      "excluded = 0 AND rate IS NOT NULL"),
        "combined": ("client_account_id", "excluded = 0 AND rate IS NOT NULL AND guarantee_basis = 'combined'"),
    },
    "dispensing_fee_guarantee": {
        "component": ("client_account_id, period_start, period_end, component, channel, drug_class",
                      "excluded = 0 AND fee IS NOT NULL"),
    },
    "rebate_guarantee": {
        "quarter": (f"client_account_id, {_QUARTER.replace('fill_date', 'fill_date')} AS quarter",
                    "excluded = 0 AND drug_class = 'brand' AND rebate IS NOT NULL"),
    },
}


def contributions_sql(name: str, level: str) -> str:
    """Per line of `name` at `level`: its key columns, the count of its rows and their checksum (over `ct`)."""
    keys, where = CONTRIBUTIONS[name][level]
    # Grouped by the key expressions and ordered by their names, not by position: T-SQL has no GROUP BY 1.
    parts = [key.rsplit(" AS ", 1) for key in keys.split(", ")]  # "expression AS name" or a column
    group = ", ".join(part[0] for part in parts)
    order = ", ".join(part[-1] for part in parts)
    return (f"SELECT {keys}, COUNT(*) AS row_count, {rows_checksum()} AS rows_checksum FROM ct WHERE {where} "
            f"GROUP BY {group} ORDER BY {order}")


# What a run's decisions need to know of the claims, beside the lines (over `cur` and `ct`, like the lines):
# the components with claims (each held back when no terms cover it) and the brand NDCs each rebate line adds up
# (the rebate decision is per NDC), with how many of their rows, per channel, were calculated on candidate terms.
_REBATE_KEYS = CONTRIBUTIONS["rebate_guarantee"]["quarter"]
ANCILLARY = {
    "claims_components": (
        f"SELECT client_account_id, channel, drug_class, COUNT(*) AS row_count, {rows_checksum()} AS rows_checksum "
        "FROM cur GROUP BY client_account_id, channel, drug_class ORDER BY client_account_id, channel, drug_class"),
    "rebate_ndcs": (  # by channel too: the brand components whose candidate terms a line rests on
        f"SELECT client_account_id, {_QUARTER} AS quarter, ndc, channel, "
        "SUM(CASE WHEN term_class = 'governed' THEN 0 ELSE 1 END) AS candidate_rows "
        f"FROM ct WHERE {_REBATE_KEYS[1]} GROUP BY client_account_id, {_QUARTER}, ndc, channel "
        "ORDER BY client_account_id, quarter, ndc, channel"),
}

# The columns of each result, in order.
COLUMNS = {
    "awp_discount_guarantee": ("client_account_id", "period_start", "period_end", "level", "component",
                               "channel", "drug_class", "guarantee_basis", "claims", "awp", "ingredient_cost_paid", "guaranteed_discount",
                               "actual_discount", "effective_rate", "shortfall", "shortfall_owed"),
    "dispensing_fee_guarantee": ("client_account_id", "period_start", "period_end", "component", "channel",
                                 "drug_class", "scripts",
                                 "contracted_fee", "fees_paid", "guaranteed_fees", "shortfall"),
    "rebate_guarantee": ("client_account_id", "quarter", "brand_claims", "ndcs", "ndcs_without_invoice",
                         "guaranteed_rebates", "rebates_received", "shortfall", "unmatched_invoices"),
    "pricing_findings": ("kind", "client_account_id", "claim_id", "fill_date", "ndc", "pharmacy_npi", "paid",
                         "allowed", "reference", "channel", "drug_class", "claim_row", "term_source", "term_class",
                         "price_source", "overpayment", "overpayment_exact"),
}
