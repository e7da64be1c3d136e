"""The generated sample export: every planted flaw is found, no clean formula is flagged.

Formulas, schemas and uses are read from the export files (dataset metadata and card
definitions), as the console will read them; PLANTED_FLAWS and CLEAN_FORMULAS say what to expect.
A beast mode's use comes from the cards: a VALUE column is a "card_value", an ITEM or SERIES
column a "card_dimension", a dataset beast mode on no card is "dataset".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence.formulas import USES, analyze
from evidence.intake import leafiq
from evidence.samples import export as se

_CARD_USES = {"VALUE": "card_value", "ITEM": "card_dimension", "SERIES": "card_dimension"}


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> dict[str, dict]:
    """Beast mode id -> {formula, schema, uses} as the export holds them."""
    root = tmp_path_factory.mktemp("sample") / "x"
    se.write_sample_export(root, rows=50)
    schemas: dict[str, dict[str, str]] = {}
    beast_modes: dict[str, dict] = {}
    for path in sorted((root / "datasets").glob("*/metadata.json")):
        metadata = leafiq.read_dataset_metadata(path)
        schemas[metadata.id] = {column.name: column.type for column in metadata.columns}
        for bm in metadata.beast_modes:
            beast_modes[bm.id] = {"formula": bm.formula, "schema": schemas[metadata.id], "uses": set()}
    for path in sorted(Path(root / "cards").glob("*/definition.json")):
        card = leafiq.read_card_definition(path)
        schema = schemas[card.datasources[0].id]
        for bm in card.beast_modes:
            beast_modes.setdefault(bm.id, {"formula": bm.formula, "schema": schema, "uses": set()})
        for column in (column for sub in card.subscriptions for column in sub.columns):
            if column.formula_id:
                beast_modes[column.formula_id]["uses"].add(_CARD_USES[column.mapping])
    for entry in beast_modes.values():
        entry["uses"] = entry["uses"] or {"dataset"}
    return beast_modes


def test_the_export_holds_every_sample_beast_mode(export):
    expected = {flaw.beast_mode_id: flaw.formula for flaw in se.PLANTED_FLAWS}
    expected |= {bm_id: formula for bm_id, _, formula in se.CLEAN_FORMULAS}
    assert {bm_id: entry["formula"] for bm_id, entry in export.items()} == expected


@pytest.mark.parametrize("planted", se.PLANTED_FLAWS, ids=lambda p: p.name)
def test_every_planted_flaw_is_found_where_it_is_used(export, planted):
    entry = export[planted.beast_mode_id]
    for used_as in entry["uses"]:
        analysis = analyze(entry["formula"], schema=entry["schema"], used_as=used_as)
        assert planted.code in analysis.codes, (used_as, analysis.flaws)


@pytest.mark.parametrize("planted", se.PLANTED_FLAWS, ids=lambda p: p.name)
def test_planted_flaws_hold_in_every_context_unless_they_need_the_card(export, planted):
    entry = export[planted.beast_mode_id]
    for used_as in USES:
        codes = analyze(entry["formula"], schema=entry["schema"], used_as=used_as).codes
        if planted.needs_card_context and used_as != "card_value":
            assert planted.code not in codes, used_as
        else:
            assert planted.code in codes, used_as


@pytest.mark.parametrize(
    ("bm_id", "name", "formula"), se.CLEAN_FORMULAS, ids=[c[1] for c in se.CLEAN_FORMULAS]
)
def test_no_clean_formula_is_flagged_where_it_is_used(export, bm_id, name, formula):
    entry = export[bm_id]
    for used_as in entry["uses"]:
        analysis = analyze(formula, schema=entry["schema"], used_as=used_as)
        assert analysis.flaws == (), (used_as, analysis.flaws)
        assert analysis.parsed is not None


@pytest.mark.parametrize(
    ("bm_id", "name", "formula"), se.CLEAN_FORMULAS, ids=[c[1] for c in se.CLEAN_FORMULAS]
)
def test_clean_formulas_stay_clean_in_other_contexts(export, bm_id, name, formula):
    """Only two uses change the verdict: a row-level ratio as a card value (Domo would SUM it) and
    a window or FIXED calculation as a filter (Domo refuses both)."""
    entry = export[bm_id]
    level = analyze(formula).level
    for used_as in USES:
        codes = analyze(formula, schema=entry["schema"], used_as=used_as).codes
        if used_as == "card_value" and name == "Unit Cost Paid":
            assert codes == {"AGGREGATE_OF_ROW_RATIO"}
            assert "card_value" not in entry["uses"]
        elif used_as == "filter" and level in ("window", "fixed"):
            assert codes == {"FIXED_OR_WINDOW_RESTRICTION"}
            assert "filter" not in entry["uses"]
        else:
            assert codes == set(), used_as


def test_levels_of_the_window_and_fixed_samples(export):
    by_name = {name: bm_id for bm_id, name, _ in se.CLEAN_FORMULAS}
    share = export[by_name["Share of Client Spend"]]
    fixed = export[by_name["Client Spend Share (FIXED)"]]
    assert analyze(share["formula"], schema=share["schema"]).level == "window"
    analysis = analyze(fixed["formula"], schema=fixed["schema"])
    assert analysis.level == "fixed"
    (clause,) = analysis.fixed
    assert (clause.kind, clause.columns, clause.filter_mode) == ("by", ("Client Account",), "all")


def test_every_sample_formula_reads_only_columns_of_its_dataset(export):
    for entry in export.values():
        analysis = analyze(entry["formula"], schema=entry["schema"])
        assert set(analysis.columns) <= set(entry["schema"])
        assert "UNKNOWN_COLUMN" not in analysis.codes
