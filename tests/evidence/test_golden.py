"""Golden reproduction: every golden packet of the generated sample export is rebuilt exactly over
silver Parquet, and a golden that is not is reported cell by cell."""

from __future__ import annotations

import csv
import dataclasses
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from evidence.golden import compare_cell, reproduce_card
from evidence.intake import leafiq
from evidence.intake.silver import Column, csv_to_parquet
from evidence.samples import export as se


@dataclasses.dataclass(frozen=True)
class Packet:
    card: leafiq.CardDefinition
    golden: Path
    captured_at: datetime


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> dict:
    """The sample export (3000 claims, seed 7), its datasets as silver Parquet, and its golden packets."""
    base = tmp_path_factory.mktemp("golden")
    root = base / "x"
    se.write_sample_export(root, rows=3000, seed=7)
    parquet = {}
    for path in sorted((root / "datasets").glob("*/metadata.json")):
        metadata = leafiq.read_dataset_metadata(path)
        target = base / f"{metadata.id}.parquet"
        csv_to_parquet(path.parent / "data.csv", [Column(c.name, c.type) for c in metadata.columns], target)
        parquet[metadata.id] = target
    manifest = json.loads((root / "manifest.json").read_text())
    packets = {}
    for entry in manifest["cards"]:
        if entry.get("golden"):
            card = leafiq.read_card_definition(root / entry["definition"])
            captured_at = leafiq.parse_timestamp(entry["golden_captured_at"])
            packets[card.title] = Packet(card, root / entry["golden"], captured_at)
    return {"root": base, "parquet": parquet, "packets": packets}


def reproduce(export: dict, packet: Packet, golden: Path | None = None):
    return reproduce_card(
        packet.card,
        beast_modes={},
        parquet_paths=export["parquet"],
        golden_csv=golden or packet.golden,
        captured_at=packet.captured_at,
    )


def edited_golden(export: dict, packet: Packet, edit) -> Path:
    with packet.golden.open(newline="") as handle:
        rows = list(csv.reader(handle))
    edit(rows)
    target = export["root"] / f"edited-{packet.card.id}.csv"
    with target.open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return target


# --- every golden packet -------------------------------------------------------------------------
def test_the_sample_export_has_nine_golden_packets(export):
    assert len(export["packets"]) == sum(card.golden for card in se.CARDS) == 9


@pytest.mark.parametrize("title", [card.title for card in se.CARDS if card.golden])
def test_every_golden_packet_is_reproduced_exactly(export, title):
    result = reproduce(export, export["packets"][title])
    assert result.status == "reproduced", (result.problems, result.differing[:5], result.sql)
    assert result.differing == () and result.only_in_golden == () and result.only_in_ours == ()
    assert result.matched == result.golden_rows == result.our_rows > 0
    assert result.sql.startswith("SELECT ") and "read_parquet(" in result.sql


def test_flawed_semantics_are_what_the_golden_shows(export):
    """Domo's flaws are reproduced, not repaired: the YYYYMMDD date subtraction, YEAR('Fill Date')
    as NULL, the per-group CASE, the sum of per-row ratios, CURDATE at the capture."""
    packets = export["packets"]
    period = reproduce(export, packets["Contract Period by Client"])
    assert "* 10000" in period.sql
    assert any("YYYYMMDD" in note for note in period.notes)
    activity = reproduce(export, packets["Recent Activity by Channel Group"])
    assert 'NULL AS "Fill Year"' in activity.sql
    assert any("YEAR('Fill Date')" in note and "NULL" in note for note in activity.notes)
    captured = packets["Recent Activity by Channel Group"].captured_at
    assert f"CAST('{captured.date()}' AS DATE)" in activity.sql and "CURRENT_DATE" not in activity.sql
    assert activity.key_columns == ("Channel Group", "Fill Year")
    monthly = reproduce(export, packets["Monthly Discount Rate by Channel"])
    assert 'SUM(1 - "Ingredient Cost Paid"' in monthly.sql and "DATE_TRUNC('month'" in monthly.sql
    tiers = reproduce(export, packets["Spend Tier by Client and Channel"])
    assert 'CASE WHEN SUM("Ingredient Cost Paid") > 250000' in tiers.sql
    share = reproduce(export, packets["Client Spend Share, Retail and Mail"])
    assert "WHERE \"Channel\" IN ('retail', 'mail')" in share.sql
    assert 'OVER (PARTITION BY "Client Account")' in share.sql


# --- a golden that is not reproduced -------------------------------------------------------------
def test_a_tampered_golden_value_is_reported_with_its_key_column_and_difference(export):
    packet = export["packets"]["Spend Tier by Client and Channel"]
    original = {}

    def tamper(rows):
        header = rows[0]
        column = header.index("Ingredient Cost Paid")
        row = rows[3]
        original.update(key=(row[0], row[1]), value=row[column])
        row[column] = str(Decimal(row[column]) + Decimal("10.00"))

    result = reproduce(export, packet, edited_golden(export, packet, tamper))
    assert result.status == "differs"
    [difference] = result.differing
    assert difference.key == original["key"]
    assert difference.column == "Ingredient Cost Paid"
    assert difference.ours == original["value"]
    assert difference.difference == Decimal("-10.00")
    assert result.matched == result.golden_rows - 1 and result.differing_rows == 1


def test_a_double_one_unit_off_in_the_sixth_place_differs(export):
    packet = export["packets"]["Effective Discount by Client"]

    def nudge(rows):
        column = rows[0].index("Effective Discount Rate")
        rows[1][column] = str(Decimal(rows[1][column]) + Decimal("0.000001"))

    result = reproduce(export, packet, edited_golden(export, packet, nudge))
    assert result.status == "differs"
    [difference] = result.differing
    assert difference.column == "Effective Discount Rate"
    assert Decimal("-0.0000015") < difference.difference < Decimal("-0.0000005")


def test_a_row_removed_from_the_golden_is_only_in_ours(export):
    packet = export["packets"]["Paid Amounts by Channel"]
    removed = {}

    def remove(rows):
        removed["row"] = rows.pop(2)

    result = reproduce(export, packet, edited_golden(export, packet, remove))
    assert result.status == "differs"
    [row] = result.only_in_ours
    assert row.key == tuple(removed["row"][:2])
    assert row.values == tuple(removed["row"])
    assert result.only_in_golden == () and result.differing == ()


def test_a_row_ours_lacks_is_only_in_the_golden(export):
    packet = export["packets"]["Rebate per Brand Claim by Quarter"]

    def add(rows):
        rows.append(["Riverbend Credit Union", "2025Q1", "10.00", "1", "10.000000"])

    result = reproduce(export, packet, edited_golden(export, packet, add))
    assert result.status == "differs"
    assert [row.key for row in result.only_in_golden] == [("Riverbend Credit Union", "2025Q1")]


@pytest.mark.parametrize(
    ("golden", "ours", "same"),
    [
        ("1.50", Decimal("1.5"), True),
        ("0.245927", 0.2459274999, True),  # within half a unit of the sixth decimal
        ("0.245927", 0.2459265001, True),
        ("0.245927", 0.2459276, False),
        ("1131", 1131, True),
        ("1131", 365, False),
        ("", None, True),  # NULL is an empty cell
        ("", 0, False),
        ("0", None, False),
        ("Low", "Low", True),
        ("2025-01-01", date(2025, 1, 1), True),
    ],
)
def test_cells_compare_as_numbers_at_the_golden_precision(golden, ours, same):
    assert compare_cell(golden, ours)[0] is same


def test_a_numeric_difference_is_ours_minus_golden():
    assert compare_cell("1131", 365) == (False, Decimal(-766))
    assert compare_cell("Low", "High") == (False, None)


# --- not reproducible ----------------------------------------------------------------------------
def test_a_beast_mode_without_a_faithful_translation_makes_the_card_not_reproducible(export):
    packet = export["packets"]["Effective Discount by Client"]
    [bm] = [b for b in packet.card.beast_modes if b.name == "Effective Discount Rate"]
    changed = dataclasses.replace(bm, formula="SUM(`Ingredient Cost Paid`) FIXED (ADD `Channel`)")
    result = reproduce_card(
        packet.card,
        beast_modes={bm.id: changed},
        parquet_paths=export["parquet"],
        golden_csv=packet.golden,
        captured_at=packet.captured_at,
    )
    assert result.status == "not_reproducible"
    assert "Effective Discount Rate" in result.problems[0] and "FIXED" in result.problems[0]


def test_a_card_without_its_silver_data_is_not_reproducible(export):
    packet = export["packets"]["Paid Amounts by Channel"]
    result = reproduce_card(
        packet.card,
        beast_modes={},
        parquet_paths={},
        golden_csv=packet.golden,
        captured_at=packet.captured_at,
    )
    assert result.status == "not_reproducible" and "Parquet" in result.problems[0]


def test_a_golden_headed_unlike_the_card_is_not_reproducible(export):
    packet = export["packets"]["Paid Amounts by Channel"]

    def rename(rows):
        rows[0][2] = "Ingredient Cost Paid"

    result = reproduce(export, packet, edited_golden(export, packet, rename))
    assert result.status == "not_reproducible" and "headed" in result.problems[0]
