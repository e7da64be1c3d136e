"""What the sample holds by design: the flaw codes, the dataset roles, the beast modes (BEAST_MODES,
with PLANTED_FLAWS and CLEAN_FORMULAS), the cards (CARDS), and what the partial and invalid
variants take out or break."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://leafhealth.example/leafiq-sample")

# --- flaw codes ----------------------------------------------------------------------------------
AGGREGATE_IN_CASE_CONDITION = "AGGREGATE_IN_CASE_CONDITION"
AGGREGATE_OF_ROW_RATIO = "AGGREGATE_OF_ROW_RATIO"
UNGUARDED_DIVISION = "UNGUARDED_DIVISION"
NON_DETERMINISTIC = "NON_DETERMINISTIC"
HARDCODED_ASSUMPTION = "HARDCODED_ASSUMPTION"
COUNT_NOT_DISTINCT_ON_ID = "COUNT_NOT_DISTINCT_ON_ID"
STRING_LITERAL_AS_COLUMN = "STRING_LITERAL_AS_COLUMN"
DATE_ARITHMETIC = "DATE_ARITHMETIC"
FLAW_CODES = (
    AGGREGATE_IN_CASE_CONDITION, AGGREGATE_OF_ROW_RATIO, UNGUARDED_DIVISION, NON_DETERMINISTIC,
    HARDCODED_ASSUMPTION, COUNT_NOT_DISTINCT_ON_ID, STRING_LITERAL_AS_COLUMN, DATE_ARITHMETIC,
)

# Dataset roles.
CLAIMS = "claims"
CONTRACT_TERMS = "contract_terms"
MAC_PRICING = "mac_pricing"
REBATE_INVOICES = "rebate_invoices"
SALESFORCE_ACCOUNTS = "salesforce_accounts"
RECONCILIATION = "reconciliation"
BRAND_SCRIPTS = "brand_scripts"


# --- beast modes ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class BeastMode:
    """One Domo beast mode; `flaw` is the code an analyzer must report, None for a clean formula."""

    key: str
    name: str
    formula: str
    data_type: str
    dataset: str
    persisted: bool  # saved on the dataset (shared) rather than on one card
    contains_aggregation: bool
    flaw: str | None = None
    needs_card_context: bool = False  # the flaw appears only once a card aggregates the expression
    why: str = ""

    @property
    def id(self) -> str:
        return f"calculation_{uuid.uuid5(_ID_NAMESPACE, 'beast-mode/' + self.key)}"


BEAST_MODES: tuple[BeastMode, ...] = (
    # Flawed.
    BeastMode("spend_tier", "Spend Tier",
              "CASE WHEN SUM(`Ingredient Cost Paid`) > 250000 THEN 'High' ELSE 'Low' END",
              "STRING", CLAIMS, False, True, AGGREGATE_IN_CASE_CONDITION,
              why="tiers each group's sum: totals and subtotals disagree with their rows"),
    BeastMode("avg_effective_discount", "Avg Effective Discount",
              "AVG(1 - `Ingredient Cost Paid` / NULLIF(`AWP Unit Price` * `Quantity`, 0))",
              "DOUBLE", CLAIMS, True, True, AGGREGATE_OF_ROW_RATIO,
              why="a straight average of per-claim discounts; the guarantee is 1 - SUM(cost)/SUM(AWP)"),
    BeastMode("claim_discount_rate", "Claim Discount Rate",
              "1 - `Ingredient Cost Paid` / NULLIF(`AWP Unit Price` * `Quantity`, 0)",
              "DOUBLE", CLAIMS, True, False, AGGREGATE_OF_ROW_RATIO, needs_card_context=True,
              why="row-level ratio: the card's default SUM adds up per-claim ratios"),
    BeastMode("rebate_per_brand_claim", "Rebate per Brand Claim",
              "SUM(`Rebate Amount`) / SUM(`Brand Claims`)",
              "DOUBLE", REBATE_INVOICES, False, True, UNGUARDED_DIVISION,
              why="errors (Domo) or NULL (MySQL) when a group has no brand claims"),
    BeastMode("days_since_last_fill", "Days Since Last Fill",
              "DATEDIFF(CURDATE(), MAX(`Fill Date`))",
              "LONG", CLAIMS, False, True, NON_DETERMINISTIC,
              why="depends on the day the card is viewed"),
    BeastMode("est_brand_rebates", "Est. Brand Rebates",
              "SUM(CASE WHEN `Brand/Generic` = 'Brand' THEN 1 ELSE 0 END) * 200",
              "LONG", CLAIMS, False, True, HARDCODED_ASSUMPTION,
              why="$200 per brand claim is a contract term per client and channel, not a constant"),
    BeastMode("guaranteed_discount_17", "Guaranteed Discount (17%)",
              "SUM(`AWP Unit Price` * `Quantity`) * 0.17",
              "DOUBLE", CLAIMS, False, True, HARDCODED_ASSUMPTION,
              why="the guaranteed rate differs by client, channel and brand/generic"),
    BeastMode("claim_count", "Claim Count",
              "COUNT(`Claim ID`)",
              "LONG", CLAIMS, True, True, COUNT_NOT_DISTINCT_ON_ID,
              why="reversal and rebill rows repeat a Claim ID"),
    BeastMode("fill_year", "Fill Year",
              "YEAR('Fill Date')",
              "LONG", CLAIMS, False, False, STRING_LITERAL_AS_COLUMN,
              why="'Fill Date' is a string literal: YEAR of it is NULL"),
    BeastMode("contract_period_days", "Contract Period (days)",
              "MAX(`Period End`) - MIN(`Period Start`) + 1",
              "LONG", CONTRACT_TERMS, False, True, DATE_ARITHMETIC,
              why="dates subtract as YYYYMMDD numbers (1131 for a calendar year); use DATEDIFF"),
    # Clean: none of these may be flagged.
    BeastMode("effective_discount_rate", "Effective Discount Rate",
              "1 - SUM(`Ingredient Cost Paid`) / NULLIF(SUM(`AWP Unit Price` * `Quantity`), 0)",
              "DOUBLE", CLAIMS, True, True),
    BeastMode("distinct_claims", "Distinct Claims",
              "COUNT(DISTINCT `Claim ID`)",
              "LONG", CLAIMS, True, True),
    BeastMode("channel_group", "Channel Group",
              "CASE WHEN `Channel` = 'specialty' THEN 'Specialty' "
              "WHEN `Days Supply` >= 84 THEN 'Extended Supply' ELSE 'Standard' END",
              "STRING", CLAIMS, True, False),
    BeastMode("unit_cost_paid", "Unit Cost Paid",
              "CASE WHEN `Quantity` = 0 THEN NULL ELSE `Ingredient Cost Paid` / `Quantity` END",
              "DOUBLE", CLAIMS, True, False),
    BeastMode("cost_per_unit", "Cost per Unit",
              "SUM(`Ingredient Cost Paid`) / NULLIF(SUM(`Quantity`), 0)",
              "DOUBLE", CLAIMS, True, True),
    BeastMode("share_of_client_spend", "Share of Client Spend",
              "SUM(`Ingredient Cost Paid`) / "
              "NULLIF(SUM(SUM(`Ingredient Cost Paid`)) OVER (PARTITION BY `Client Account`), 0)",
              "DOUBLE", CLAIMS, False, True),
    BeastMode("client_spend_share_fixed", "Client Spend Share (FIXED)",
              "SUM(`Ingredient Cost Paid`) / "
              "NULLIF(MAX(SUM(`Ingredient Cost Paid`) FIXED (BY `Client Account`)), 0)",
              "DOUBLE", CLAIMS, False, True),
    BeastMode("shortfall_share", "Shortfall % of Guarantee",
              "SUM(`Shortfall`) / NULLIF(SUM(`Guaranteed Discount`), 0)",
              "DOUBLE", RECONCILIATION, False, True),
    BeastMode("zero_balance_flag", "Zero Balance",
              "CASE WHEN `Plan Paid` = 0 AND `Member Paid` > 0 THEN 'Zero balance' ELSE 'Plan paid' END",
              "STRING", CLAIMS, True, False),
    BeastMode("brand_share_of_scripts", "Brand Share of Scripts",
              "COUNT(DISTINCT CASE WHEN `Brand/Generic` = 'Brand' THEN `Claim ID` END) / "
              "NULLIF(COUNT(DISTINCT `Claim ID`), 0)",
              "DOUBLE", CLAIMS, True, True),
)
BEAST_MODES_BY_KEY = {bm.key: bm for bm in BEAST_MODES}


@dataclass(frozen=True)
class PlantedFlaw:
    """A beast mode with a known calculation flaw, for checking a formula analyzer."""

    beast_mode_id: str
    name: str
    formula: str
    code: str
    needs_card_context: bool
    why: str


PLANTED_FLAWS: tuple[PlantedFlaw, ...] = tuple(
    PlantedFlaw(bm.id, bm.name, bm.formula, bm.flaw, bm.needs_card_context, bm.why)
    for bm in BEAST_MODES if bm.flaw
)
CLEAN_FORMULAS: tuple[tuple[str, str, str], ...] = tuple(
    (bm.id, bm.name, bm.formula) for bm in BEAST_MODES if not bm.flaw
)


# --- cards ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Col:
    """A card column: a dataset column (`name`) or a beast mode (`formula` key)."""

    name: str | None = None
    formula: str | None = None
    aggregation: str | None = None
    alias: str | None = None
    mapping: str = "VALUE"

    @property
    def header(self) -> str:
        if self.alias:
            return self.alias
        return self.name or BEAST_MODES_BY_KEY[self.formula].name


@dataclass(frozen=True)
class CardSpec:
    key: str
    title: str
    dataset: str
    chart: str
    columns: tuple[Col, ...]
    group_by: tuple[Col, ...]
    order_by: tuple[tuple[Col, str], ...]
    filters: tuple[dict, ...] = ()
    date_grain: str | None = None
    golden: bool = True
    big_number: Col | None = None


def _bm(key: str, mapping: str = "VALUE") -> Col:
    return Col(formula=key, alias=BEAST_MODES_BY_KEY[key].name, mapping=mapping)


_CLIENT_ITEM = Col(name="Client Account", mapping="ITEM")
_CHANNEL_SERIES = Col(name="Channel", mapping="SERIES")

CARDS: tuple[CardSpec, ...] = (
    CardSpec("effective_discount", "Effective Discount by Client", CLAIMS, "badge_vert_bar",
             (_CLIENT_ITEM, _bm("avg_effective_discount"), _bm("effective_discount_rate")),
             (_CLIENT_ITEM,), ((_CLIENT_ITEM, "ASCENDING"),),
             big_number=_bm("effective_discount_rate")),
    CardSpec("monthly_discount", "Monthly Discount Rate by Channel", CLAIMS, "badge_line",
             (Col(name="Fill Date", mapping="ITEM"), _CHANNEL_SERIES, _bm("claim_discount_rate")),
             (Col(name="Fill Date"), Col(name="Channel")),
             ((Col(name="Fill Date"), "ASCENDING"), (Col(name="Channel"), "ASCENDING")),
             date_grain="MONTH"),
    CardSpec("spend_tier", "Spend Tier by Client and Channel", CLAIMS, "badge_table",
             (_CLIENT_ITEM, Col(name="Channel", mapping="ITEM"),
              Col(name="Ingredient Cost Paid", aggregation="SUM"), _bm("spend_tier"), _bm("cost_per_unit")),
             (Col(name="Client Account"), Col(name="Channel")),
             ((Col(name="Client Account"), "ASCENDING"), (Col(name="Channel"), "ASCENDING"))),
    CardSpec("brand_rebate_estimate", "Brand Rebate Estimate", CLAIMS, "badge_table",
             (_CLIENT_ITEM, _bm("claim_count"), _bm("distinct_claims"), _bm("est_brand_rebates"),
              _bm("guaranteed_discount_17")),
             (_CLIENT_ITEM,), ((_CLIENT_ITEM, "ASCENDING"),)),
    CardSpec("rebate_per_claim", "Rebate per Brand Claim by Quarter", REBATE_INVOICES, "badge_vert_groupedbar",
             (_CLIENT_ITEM, Col(name="Quarter", mapping="SERIES"),
              Col(name="Rebate Amount", aggregation="SUM"), Col(name="Brand Claims", aggregation="SUM"),
              _bm("rebate_per_brand_claim")),
             (Col(name="Client Account"), Col(name="Quarter")),
             ((Col(name="Client Account"), "ASCENDING"), (Col(name="Quarter"), "ASCENDING"))),
    CardSpec("recent_activity", "Recent Activity by Channel Group", CLAIMS, "badge_table",
             (_bm("channel_group", "ITEM"), _bm("fill_year", "SERIES"), _bm("days_since_last_fill"),
              _bm("distinct_claims")),
             (Col(formula="channel_group"), Col(formula="fill_year")),
             ((Col(formula="channel_group"), "ASCENDING"),)),
    CardSpec("paid_by_channel", "Paid Amounts by Channel", CLAIMS, "badge_vert_stackedbar",
             (Col(name="Channel", mapping="ITEM"), Col(name="Brand/Generic", mapping="SERIES"),
              Col(name="Ingredient Cost Paid", aggregation="SUM", alias="Ingredient Cost"),
              Col(name="Dispensing Fee Paid", aggregation="SUM")),
             (Col(name="Channel"), Col(name="Brand/Generic")),
             ((Col(name="Channel"), "ASCENDING"), (Col(name="Brand/Generic"), "ASCENDING"))),
    CardSpec("client_spend_share", "Client Spend Share, Retail and Mail", CLAIMS, "badge_table",
             (_CLIENT_ITEM, Col(name="Channel", mapping="ITEM"),
              Col(name="Ingredient Cost Paid", aggregation="SUM"),
              _bm("share_of_client_spend"), _bm("client_spend_share_fixed")),
             (Col(name="Client Account"), Col(name="Channel")),
             ((Col(name="Client Account"), "ASCENDING"), (Col(name="Channel"), "ASCENDING")),
             filters=({"column": "Channel", "operator": "IN", "values": ["retail", "mail"], "not": False,
                       "dataType": "STRING"},)),
    CardSpec("contract_period", "Contract Period by Client", CONTRACT_TERMS, "badge_table",
             (_CLIENT_ITEM, _bm("contract_period_days"),
              Col(name="Dispensing Fee Guarantee", aggregation="MAX")),
             (_CLIENT_ITEM,), ((_CLIENT_ITEM, "ASCENDING"),)),
    CardSpec("shortfall_by_component", "Guarantee Shortfall by Component", RECONCILIATION, "badge_hor_bar",
             (_CLIENT_ITEM, Col(name="Component", mapping="SERIES"),
              Col(name="Guaranteed Discount", aggregation="SUM"), Col(name="Shortfall", aggregation="SUM"),
              _bm("shortfall_share")),
             (Col(name="Client Account"), Col(name="Component")),
             ((Col(name="Shortfall"), "DESCENDING"),), golden=False),
)
CARDS_BY_KEY = {card.key: card for card in CARDS}
PARTIAL_MISSING_GOLDEN = "brand_rebate_estimate"
PARTIAL_MISSING_POLICIES = REBATE_INVOICES
INVALID_TAMPERED_GOLDEN = "effective_discount"
INVALID_BAD_ROW = 42
INVALID_BAD_DATE = "2025-02-30"
