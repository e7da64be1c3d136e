"""Sample Leaf IQ exports: format, variants, determinism, golden outputs re-derived with DuckDB.

No database: the generator is a plain module and the command needs none.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import subprocess
import sys
import zipfile
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb
import pytest
import sqlglot
from django.core.management import call_command

from evidence.samples import export as se

ROWS = 3000


# --- helpers -------------------------------------------------------------------------------------
def _export(root: Path, **kwargs) -> se.SampleExportSummary:
    return se.write_sample_export(root, **{"rows": ROWS, **kwargs})


def _manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text("utf-8"))


def _json(root: Path, relpath: str):
    return json.loads((root / relpath).read_text("utf-8"))


def _present_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - {"manifest.json"}


def _schema(metadata: dict) -> list[tuple[str, str]]:
    if "schema" in metadata:
        return [(c["name"], c["type"]) for c in metadata["schema"]["columns"]]
    return [(c["name"], c["type"]) for c in metadata["tables"][0]["columns"]]


def _row_count(metadata: dict) -> int:
    return metadata["rows"] if "schema" in metadata else metadata["rowCount"]


def _parses(value: str, type_: str) -> bool:
    if type_ == "STRING" or value == "":
        return True
    try:
        if type_ == "LONG":
            int(value)
        elif type_ == "DOUBLE":
            float(value)
        elif type_ == "DECIMAL":
            Decimal(value)
        elif type_ == "DATE":
            return re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None and bool(date.fromisoformat(value))
        elif type_ == "DATETIME":
            return re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", value) is not None and bool(
                datetime.fromisoformat(value))
        else:
            return False
    except (ValueError, InvalidOperation):
        return False
    return True


def _bad_values(root: Path, dataset: dict) -> list[tuple[int, str, str]]:
    """(data row number, column, value) for every value that does not parse as its type."""
    schema = _schema(_json(root, dataset["metadata"]))
    bad = []
    with (root / dataset["data"]).open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        for number, row in enumerate(reader, start=1):
            for value, (name, type_) in zip(row, schema):
                if not _parses(value, type_):
                    bad.append((number, name, value))
    return bad


def _dataset_entry(root: Path, dataset_id: str) -> dict:
    return next(entry for entry in _manifest(root)["datasets"] if entry["id"] == dataset_id)


_DUCK_TYPES = {"STRING": "VARCHAR", "LONG": "BIGINT", "DOUBLE": "DOUBLE", "DECIMAL": "DECIMAL(38,10)",
               "DATE": "DATE", "DATETIME": "TIMESTAMP"}


def _duck(root: Path, summary: se.SampleExportSummary) -> duckdb.DuckDBPyConnection:
    """DuckDB with one view per dataset, typed from its metadata (independent of the generator)."""
    con = duckdb.connect()
    for role, dataset_id in summary.datasets.items():
        entry = _dataset_entry(root, dataset_id)
        columns = {name: _DUCK_TYPES[type_] for name, type_ in _schema(_json(root, entry["metadata"]))}
        path = str(root / entry["data"]).replace("'", "''")
        con.execute(f"CREATE VIEW {role} AS SELECT * FROM read_csv('{path}', header = true,"
                    f" columns = {columns!r}, auto_detect = false, quote = '\"', escape = '\"')")
    return con


def _golden(root: Path, summary: se.SampleExportSummary, card_key: str) -> list[list[str]]:
    card_id = summary.cards[card_key]
    entry = next(c for c in _manifest(root)["cards"] if c["id"] == card_id)
    with (root / entry["golden"]).open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    return str(value)


def _assert_rows_match(golden: list[list[str]], expected: list[tuple]) -> None:
    assert len(golden) == len(expected)
    for got_row, want_row in zip(golden, expected):
        assert len(got_row) == len(want_row)
        for got, want in zip(got_row, want_row):
            if isinstance(want, float):
                assert got != "", (got_row, want_row)
                # Float sums come out in another order in DuckDB; the golden is rounded to 6 places.
                assert abs(float(got) - want) <= 2e-6 + 1e-9 * abs(want), (got_row, want_row)
            else:
                assert got == _cell(want), (got_row, want_row)


@pytest.fixture(scope="module")
def complete(tmp_path_factory):
    root = tmp_path_factory.mktemp("complete") / "export"
    return root, _export(root)


@pytest.fixture(scope="module")
def partial(tmp_path_factory):
    root = tmp_path_factory.mktemp("partial") / "export"
    return root, _export(root, variant="partial")


@pytest.fixture(scope="module")
def invalid(tmp_path_factory):
    root = tmp_path_factory.mktemp("invalid") / "export"
    return root, _export(root, variant="invalid")


# --- manifest ------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["complete", "partial"])
def test_manifest_lists_exactly_the_files_present_with_their_hashes(variant, request):
    root, _summary = request.getfixturevalue(variant)
    listed = {f["path"]: f for f in _manifest(root)["files"]}
    assert set(listed) == _present_files(root)
    for path, entry in listed.items():
        data = (root / path).read_bytes()
        assert entry["bytes"] == len(data), path
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), path


def test_manifest_follows_the_format(complete):
    root, summary = complete
    manifest = _manifest(root)
    assert manifest["format"] == "leafiq-export/1"
    assert re.fullmatch(r"LIQ-\d{8}-\d{4}", manifest["load_id"]) and manifest["load_id"] == summary.load_id
    assert manifest["load_id"] == "LIQ-20261120-0007"
    assert manifest["exported_at"] == "2026-11-20T03:00:00Z"
    assert manifest["status"] == "complete" and manifest["missing"] == []
    assert manifest["directory"] == {"users": "directory/users.json", "groups": "directory/groups.json"}
    ids = [d["id"] for d in manifest["datasets"]] + [c["id"] for c in manifest["cards"]] + [
        f["id"] for f in manifest["dataflows"]]
    assert len(ids) == len(set(ids))
    referenced = {v for d in manifest["datasets"] for k, v in d.items() if k != "id"}
    referenced |= {c["definition"] for c in manifest["cards"]} | {c["golden"] for c in manifest["cards"] if "golden" in c}
    referenced |= {f["definition"] for f in manifest["dataflows"]} | set(manifest["directory"].values())
    assert referenced == {f["path"] for f in manifest["files"]}
    for path in referenced:
        assert not path.startswith("/") and ".." not in path.split("/")
    for card in manifest["cards"]:
        assert ("golden" in card) == ("golden_captured_at" in card)
        if "golden" in card:
            assert card["golden_captured_at"] < manifest["exported_at"]


def test_complete_has_a_card_without_golden_and_every_listed_golden_exists(complete):
    root, summary = complete
    cards = _manifest(root)["cards"]
    assert any("golden" not in card for card in cards)
    assert len(summary.goldens) == sum("golden" in card for card in cards) >= 6
    assert all((root / card["golden"]).is_file() for card in cards if "golden" in card)


# --- variants ------------------------------------------------------------------------------------
def test_partial_declares_what_is_missing_and_omits_those_files(partial):
    root, summary = partial
    manifest = _manifest(root)
    assert manifest["status"] == "partial" == summary.status
    kinds = {(m["kind"], m["id"]) for m in manifest["missing"]}
    golden_card = summary.cards[se.PARTIAL_MISSING_GOLDEN]
    policies_dataset = summary.datasets[se.PARTIAL_MISSING_POLICIES]
    assert kinds == {("golden", golden_card), ("policies", policies_dataset)}
    assert all(m["reason"] for m in manifest["missing"])
    assert not (root / f"cards/{golden_card}/golden.csv").exists()
    assert not (root / f"datasets/{policies_dataset}/policies.json").exists()
    card_entry = next(c for c in manifest["cards"] if c["id"] == golden_card)
    assert "golden" not in card_entry and "golden_captured_at" not in card_entry
    assert "policies" not in _dataset_entry(root, policies_dataset)


def test_partial_holds_no_corrupt_value(partial):
    root, _summary = partial
    for dataset in _manifest(root)["datasets"]:
        assert _bad_values(root, dataset) == []


def test_invalid_breaks_one_hash_and_one_value_and_nothing_else(invalid):
    root, summary = invalid
    manifest = _manifest(root)
    assert manifest["status"] == "complete"  # the exporter's claim; the console must not believe it
    mismatched = [f["path"] for f in manifest["files"]
                  if hashlib.sha256((root / f["path"]).read_bytes()).hexdigest() != f["sha256"]]
    tampered = f"cards/{summary.cards[se.INVALID_TAMPERED_GOLDEN]}/golden.csv"
    assert mismatched == [tampered]
    assert all((root / f["path"]).stat().st_size == f["bytes"] for f in manifest["files"])
    bad = {d["id"]: _bad_values(root, d) for d in manifest["datasets"]}
    claims = summary.datasets[se.CLAIMS]
    assert bad.pop(claims) == [(se.INVALID_BAD_ROW, "Fill Date", se.INVALID_BAD_DATE)]
    assert all(values == [] for values in bad.values())
    assert len(summary.defects) == 2


def test_invalid_bad_row_falls_on_the_last_row_of_a_tiny_export(tmp_path):
    summary = se.write_sample_export(tmp_path / "tiny", rows=5, variant="invalid")
    entry = _dataset_entry(tmp_path / "tiny", summary.datasets[se.CLAIMS])
    assert _bad_values(tmp_path / "tiny", entry) == [(5, "Fill Date", se.INVALID_BAD_DATE)]


def test_unknown_variant_and_non_empty_folder_are_refused(tmp_path):
    with pytest.raises(ValueError):
        se.write_sample_export(tmp_path / "x", rows=10, variant="broken")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        se.write_sample_export(tmp_path / "busy", rows=10)
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine"


# --- determinism ---------------------------------------------------------------------------------
def _digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file()}


def test_same_seed_gives_identical_bytes_for_every_file_and_the_zip(complete, tmp_path):
    root, _summary = complete
    again = tmp_path / "again"
    _export(again)
    assert _digests(again) == _digests(root)
    first = se.write_export_zip(root, tmp_path / "first.zip")
    second = se.write_export_zip(again, tmp_path / "second.zip")
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist()[0] == "manifest.json"
        assert set(archive.namelist()) == set(_digests(root))
        assert archive.testzip() is None


def test_another_seed_gives_other_ids_and_other_claims(complete, tmp_path):
    root, summary = complete
    other = _export(tmp_path / "other", seed=8)
    assert other.load_id == "LIQ-20261120-0008"
    assert set(other.datasets.values()).isdisjoint(summary.datasets.values())
    claims = lambda r, s: (r / _dataset_entry(r, s.datasets[se.CLAIMS])["data"]).read_bytes()  # noqa: E731
    assert claims(tmp_path / "other", other) != claims(root, summary)


def test_rows_do_not_move_ids_or_contract_terms(complete, tmp_path):
    root, summary = complete
    small = _export(tmp_path / "small", rows=50)
    assert small.datasets == summary.datasets and small.cards == summary.cards
    terms = lambda r, s: (r / _dataset_entry(r, s.datasets[se.CONTRACT_TERMS])["data"]).read_bytes()  # noqa: E731
    assert terms(tmp_path / "small", small) == terms(root, summary)


# --- datasets ------------------------------------------------------------------------------------
def test_csv_headers_follow_the_schema_and_row_counts_match_metadata(complete):
    root, _summary = complete
    for dataset in _manifest(root)["datasets"]:
        metadata = _json(root, dataset["metadata"])
        schema = _schema(metadata)
        raw = (root / dataset["data"]).read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
        assert rows[0] == [name for name, _type in schema]
        assert len(rows) - 1 == _row_count(metadata)
        assert all(len(row) == len(schema) for row in rows)
        assert _bad_values(root, dataset) == []


def test_both_metadata_shapes_appear(complete):
    root, summary = complete
    shapes = {}
    for role, dataset_id in summary.datasets.items():
        metadata = _json(root, _dataset_entry(root, dataset_id)["metadata"])
        if "schema" in metadata:
            assert {"rows", "columns", "owner", "createdAt", "updatedAt", "dataCurrentAt", "pdpEnabled"} <= set(metadata)
            shapes[role] = "public"
        else:
            assert {"rowCount", "columnCount", "created", "lastUpdated", "tables", "properties"} <= set(metadata)
            assert isinstance(metadata["created"], int) and metadata["created"] > 1_600_000_000_000
            shapes[role] = "internal"
    assert set(shapes.values()) == {"public", "internal"}
    claims = _json(root, _dataset_entry(root, summary.datasets[se.CLAIMS])["metadata"])
    saved = claims["properties"]["formulas"]["formulas"]
    assert saved and all(key == bm["id"] and bm["persistedOnDataSource"] for key, bm in saved.items())


def test_claims_look_like_a_pbm_feed(complete):
    root, summary = complete
    con = _duck(root, summary)
    (rows, brand, no_awp, zero_balance, reversed_, ndc_ok, channels, first, last, accounts, money_scale) = con.execute(
        """SELECT count(*), avg(("Brand/Generic" = 'Brand')::INT), avg(("AWP Unit Price" IS NULL)::INT),
                  avg(("Plan Paid" = 0)::INT), sum(("Claim Status" = 'REVERSED')::INT),
                  bool_and(regexp_full_match("NDC", '[0-9]{11}')), list(DISTINCT "Channel" ORDER BY "Channel"),
                  min("Fill Date"), max("Fill Date"), count(DISTINCT "Client Account"),
                  bool_and("Ingredient Cost Paid" * 100 = round("Ingredient Cost Paid" * 100))
           FROM claims""").fetchone()
    assert rows == ROWS
    assert 0.15 < brand < 0.28
    assert 0.003 < no_awp < 0.04
    assert zero_balance > 0.02 and reversed_ > 0
    assert ndc_ok and channels == ["mail", "retail", "specialty"]
    assert first >= date(2025, 1, 1) and last <= date(2025, 12, 31)
    assert 3 <= accounts <= 4 and money_scale
    text = (root / _dataset_entry(root, summary.datasets[se.CLAIMS])["data"]).read_text("utf-8")
    assert re.search(r",00\d{9},", text)  # NDC as text with its leading zeros


def test_decimal_fields_parse_as_decimal(complete):
    root, _summary = complete
    for dataset in _manifest(root)["datasets"]:
        schema = _schema(_json(root, dataset["metadata"]))
        decimals = [i for i, (_name, type_) in enumerate(schema) if type_ == "DECIMAL"]
        with (root / dataset["data"]).open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader)
            for row in reader:
                for i in decimals:
                    if row[i]:
                        assert Decimal(row[i]).as_tuple().exponent in (-2, -4, -5), (schema[i], row[i])


# --- policies and directory ----------------------------------------------------------------------
def test_both_policy_shapes_appear_and_name_known_users_and_groups(complete):
    root, _summary = complete
    users = {u["id"] for u in _json(root, "directory/users.json")}
    groups = _json(root, "directory/groups.json")
    group_ids = {g["id"] for g in groups}
    assert all(set(g["userIds"]) <= users for g in groups)
    shapes = set()
    for dataset in _manifest(root)["datasets"]:
        if "policies" not in dataset:
            continue
        schema = {name for name, _type in _schema(_json(root, dataset["metadata"]))}
        policies = _json(root, dataset["policies"])
        for policy in policies:
            if "filterGroupId" in policy:
                shapes.add("internal")
                people, teams = policy["userIds"], policy["groupIds"]
                filters = [(p["name"], p["type"]) for p in policy["parameters"]]
                assert all(type_ == "COLUMN" for _name, type_ in filters)
            else:
                shapes.add("public")
                people, teams = policy["users"], policy["groups"]
                filters = [(f["column"], "COLUMN") for f in policy["filters"]]
            assert set(people) <= users and set(teams) <= group_ids
            assert all(column in schema and column.startswith("Client Account") for column, _type in filters)
        assert any(p["type"] == "open" and p["name"] == "All Rows" for p in policies)
        assert any(p["type"] == "user" for p in policies)
    assert shapes == {"public", "internal"}


def test_salesforce_groups_are_domo_groups(complete):
    root, summary = complete
    con = _duck(root, summary)
    named = {row[0] for row in con.execute(
        """SELECT "Domo Group" FROM salesforce_accounts WHERE "Domo Group" IS NOT NULL""").fetchall()}
    assert named and named <= {g["name"] for g in _json(root, "directory/groups.json")}
    clients = {row[0] for row in con.execute('SELECT DISTINCT "Client Account ID" FROM claims').fetchall()}
    accounts = {row[0] for row in con.execute('SELECT "Account ID" FROM salesforce_accounts').fetchall()}
    assert clients <= accounts


# --- cards and beast modes -----------------------------------------------------------------------
def _card_definitions(root: Path) -> list[dict]:
    return [_json(root, card["definition"]) for card in _manifest(root)["cards"]]


def test_cards_follow_the_format_and_reference_what_the_export_holds(complete):
    root, _summary = complete
    manifest = _manifest(root)
    dataset_ids = {d["id"] for d in manifest["datasets"]}
    saved = {}
    for dataset in manifest["datasets"]:
        metadata = _json(root, dataset["metadata"])
        saved.update(metadata.get("properties", {}).get("formulas", {}).get("formulas", {}))
    definitions = _card_definitions(root)
    assert 6 <= len(definitions) <= 10
    bare = [d for d in definitions if isinstance(d["definition"]["formulas"], list)]
    assert bare and all(d["definition"]["formulas"] == [] for d in bare)
    assert sum(isinstance(d["definition"]["formulas"], dict) for d in definitions) > len(definitions) / 2
    for card in definitions:
        assert {d["dataSourceId"] for d in card["datasources"]} <= dataset_ids
        main = card["definition"]["subscriptions"]["main"]
        assert set(main) == {"columns", "filters", "groupBy", "orderBy", "dateGrain"}
        formulas = card["definition"]["formulas"]
        known = dict(saved)
        if isinstance(formulas, dict):
            assert set(formulas) == {"card", "dsUpdated", "dsDeleted"}
            known.update({bm["id"]: bm for bm in formulas["card"] + formulas["dsUpdated"]})
            assert all(not bm["persistedOnDataSource"] for bm in formulas["card"])
        shown = [column for sub in card["definition"]["subscriptions"].values() for column in sub["columns"]]
        for column in shown:
            if "formulaId" in column:
                assert set(column) <= {"formulaId", "alias", "mapping"}
                assert column["formulaId"] in known
                assert known[column["formulaId"]]["id"].startswith("calculation_")
            else:
                assert set(column) <= {"column", "aggregation", "alias", "mapping"} and "column" in column


_CARD_COLUMN_TYPES = {"STRING": "string", "LONG": "numeric", "DOUBLE": "numeric", "DECIMAL": "numeric",
                      "DATE": "date", "DATETIME": "date"}
_DOMO_CARD_KEYS = {"urn", "conditionalFormats", "annotations", "slicers", "segments", "drillpath", "chartVersion",
                   "allowTableDrill", "modified"}


def test_cards_list_their_datasets_columns_as_domo_does(complete):
    root, _summary = complete
    manifest = _manifest(root)
    for card in _card_definitions(root):
        (source,) = card["datasources"]
        metadata = _json(root, _dataset_entry(root, source["dataSourceId"])["metadata"])
        listed = card["columns"]
        plain = [c for c in listed if not c["isCalculation"]]
        assert [(c["name"], c["type"]) for c in plain] == [(n, _CARD_COLUMN_TYPES[t]) for n, t in _schema(metadata)]
        assert all(c["sourceId"] == source["dataSourceId"] and c["id"] for c in listed)
        assert [c["order"] for c in listed] == list(range(len(listed)))
        formulas = card["definition"]["formulas"]
        own = formulas["card"] + formulas["dsUpdated"] if isinstance(formulas, dict) else []
        calculations = {c["id"] for c in listed if c["isCalculation"]}
        assert {bm["id"] for bm in own} <= calculations
        assert all(c.startswith("calculation_") for c in calculations)
    assert len(manifest["cards"]) == len(_card_definitions(root))


def test_cards_carry_the_keys_of_a_real_definition_in_both_shapes(complete):
    root, _summary = complete
    definitions = _card_definitions(root)
    for card in definitions:
        assert _DOMO_CARD_KEYS <= set(card) | set(card["definition"])
        assert card["urn"] == str(card["id"])
    shapes = {type(card["definition"]["formulas"]).__name__ for card in definitions}
    assert shapes == {"dict", "list"}
    definition_keys = [card["definition"] for card in definitions]
    assert any(d["conditionalFormats"]["card"] for d in definition_keys)
    assert any(d["annotations"]["new"] for d in definition_keys)
    assert any(d["slicers"] for d in definition_keys)


def test_planted_flaws_cover_all_eight_codes_and_are_in_the_export(complete):
    root, summary = complete
    assert len(se.PLANTED_FLAWS) >= 8
    assert {flaw.code for flaw in se.PLANTED_FLAWS} == set(se.FLAW_CODES)
    assert summary.planted_flaws == se.PLANTED_FLAWS
    exported = {}
    for card in _card_definitions(root):
        formulas = card["definition"]["formulas"]
        if isinstance(formulas, dict):
            exported.update({bm["id"]: bm["formula"] for bm in formulas["card"] + formulas["dsUpdated"]})
    for flaw in se.PLANTED_FLAWS:
        assert exported[flaw.beast_mode_id] == flaw.formula
    clean = [formula for _id, _name, formula in se.CLEAN_FORMULAS]
    assert any(" OVER (PARTITION BY " in f for f in clean)
    assert any(" FIXED (BY " in f for f in clean)
    assert any("COUNT(DISTINCT `Claim ID`)" == f for f in clean)
    assert not {bm_id for bm_id, _n, _f in se.CLEAN_FORMULAS} & {f.beast_mode_id for f in se.PLANTED_FLAWS}


def test_golden_headers_are_the_main_aliases(complete):
    root, summary = complete
    for card in _card_definitions(root):
        if card["id"] not in summary.goldens:
            continue
        key = next(k for k, v in summary.cards.items() if v == card["id"])
        header = _golden(root, summary, key)[0]
        main = card["definition"]["subscriptions"]["main"]["columns"]
        assert header == [c.get("alias") or c["column"] for c in main]


# --- golden outputs re-derived with DuckDB -------------------------------------------------------
_ROW_RATIO = '1 - "Ingredient Cost Paid" / NULLIF("AWP Unit Price" * "Quantity", 0)'


def test_golden_effective_discount_averages_claim_ratios_and_weights_the_clean_rate(complete):
    root, summary = complete
    expected = _duck(root, summary).execute(f"""
        SELECT "Client Account", AVG({_ROW_RATIO}),
               1 - SUM("Ingredient Cost Paid") / NULLIF(SUM("AWP Unit Price" * "Quantity"), 0)
        FROM claims GROUP BY 1 ORDER BY 1""").fetchall()
    golden = _golden(root, summary, "effective_discount")
    _assert_rows_match(golden[1:], expected)
    # The flaw is visible: the straight average is far from the dollar-weighted rate.
    assert all(abs(float(avg) - float(rate)) > 0.1 for _client, avg, rate in golden[1:])


def test_golden_monthly_discount_sums_row_level_ratios_per_month(complete):
    root, summary = complete
    expected = _duck(root, summary).execute(f"""
        SELECT strftime(date_trunc('month', "Fill Date"), '%Y-%m-%d'), "Channel", SUM({_ROW_RATIO})
        FROM claims GROUP BY 1, 2 ORDER BY 1, 2""").fetchall()
    golden = _golden(root, summary, "monthly_discount")
    _assert_rows_match(golden[1:], expected)
    assert max(float(row[2]) for row in golden[1:]) > 1  # a "rate" above 100%: what Domo shows


def test_golden_brand_rebate_estimate_counts_repeated_claim_ids(complete):
    root, summary = complete
    expected = _duck(root, summary).execute("""
        SELECT "Client Account", COUNT("Claim ID"), COUNT(DISTINCT "Claim ID"),
               SUM(CASE WHEN "Brand/Generic" = 'Brand' THEN 1 ELSE 0 END) * 200,
               SUM("AWP Unit Price" * "Quantity") * 0.17
        FROM claims GROUP BY 1 ORDER BY 1""").fetchall()
    golden = _golden(root, summary, "brand_rebate_estimate")
    _assert_rows_match(golden[1:], expected)
    assert any(int(count) > int(distinct) for _c, count, distinct, *_ in golden[1:])


def test_golden_spend_tier_and_window_share_follow_group_sums_and_filters(complete):
    root, summary = complete
    con = _duck(root, summary)
    tiers = con.execute("""
        SELECT "Client Account", "Channel", SUM("Ingredient Cost Paid"),
               CASE WHEN SUM("Ingredient Cost Paid") > 250000 THEN 'High' ELSE 'Low' END,
               SUM("Ingredient Cost Paid") / NULLIF(SUM("Quantity"), 0)
        FROM claims GROUP BY 1, 2 ORDER BY 1, 2""").fetchall()
    _assert_rows_match(_golden(root, summary, "spend_tier")[1:], tiers)
    shares = con.execute("""
        SELECT "Client Account", "Channel", SUM("Ingredient Cost Paid"),
               SUM("Ingredient Cost Paid")::DOUBLE
                 / NULLIF(SUM(SUM("Ingredient Cost Paid")) OVER (PARTITION BY "Client Account"), 0),
               SUM("Ingredient Cost Paid")::DOUBLE
                 / NULLIF(SUM(SUM("Ingredient Cost Paid")) OVER (PARTITION BY "Client Account"), 0)
        FROM claims WHERE "Channel" IN ('retail', 'mail') GROUP BY 1, 2 ORDER BY 1, 2""").fetchall()
    _assert_rows_match(_golden(root, summary, "client_spend_share")[1:], shares)


def test_golden_flawed_dates_show_what_domo_shows(complete):
    root, summary = complete
    con = _duck(root, summary)
    recent = _golden(root, summary, "recent_activity")
    last_fill = con.execute('SELECT max("Fill Date") FROM claims').fetchone()[0]
    captured = next(c for c in _manifest(root)["cards"] if c["id"] == summary.cards["recent_activity"])
    today = date.fromisoformat(captured["golden_captured_at"][:10])
    assert {row[1] for row in recent[1:]} == {""}  # YEAR('Fill Date') is NULL
    assert str((today - last_fill).days) in {row[2] for row in recent[1:]}
    period = _golden(root, summary, "contract_period")
    assert {row[1] for row in period[1:]} == {"1131"}  # 20251231 - 20250101 + 1


def test_golden_rebate_per_claim_divides_sums_per_group(complete):
    root, summary = complete
    expected = _duck(root, summary).execute("""
        SELECT "Client Account", "Quarter", SUM("Rebate Amount"), SUM("Brand Claims"),
               SUM("Rebate Amount")::DOUBLE / SUM("Brand Claims")
        FROM rebate_invoices GROUP BY 1, 2 ORDER BY 1, 2""").fetchall()
    _assert_rows_match(_golden(root, summary, "rebate_per_claim")[1:], expected)


# --- dataflows -----------------------------------------------------------------------------------
def test_dataflows_are_one_mysql_and_one_magic_over_exported_datasets(complete):
    root, _summary = complete
    manifest = _manifest(root)
    dataset_ids = {d["id"] for d in manifest["datasets"]}
    flows = {f["databaseType"]: f for f in (_json(root, e["definition"]) for e in manifest["dataflows"])}
    assert set(flows) == {"MYSQL", "MAGIC"}
    for flow in flows.values():
        assert {i["dataSourceId"] for i in flow["inputs"] + flow["outputs"]} <= dataset_ids
    mysql_types = {a["type"] for a in flows["MYSQL"]["actions"]}
    assert {"GenerateTableAction", "SQL"} <= mysql_types
    for action in flows["MYSQL"]["actions"]:
        for statement in action.get("statements", []) + [action.get("selectStatement", "")]:
            if statement:
                sqlglot.parse_one(statement, read="mysql")
    magic = {a["type"]: a for a in flows["MAGIC"]["actions"]}
    assert {"Filter", "ExpressionEvaluator", "GroupBy"} <= set(magic)
    assert magic["Filter"]["filterList"][0]["expression"]
    assert all(e["expression"] for e in magic["ExpressionEvaluator"]["expressions"])
    assert all(f["expression"] for f in magic["GroupBy"]["fields"])


def test_mysql_dataflow_sql_reproduces_its_output_dataset(complete):
    root, summary = complete
    con = _duck(root, summary)
    con.execute("CREATE VIEW pbm_claims_2025 AS SELECT * FROM claims")
    con.execute("CREATE VIEW contract_terms_2025 AS SELECT * FROM contract_terms")
    flow = next(_json(root, e["definition"]) for e in _manifest(root)["dataflows"]
                if e["id"] == summary.dataflows["reconciliation"])
    for action in flow["actions"]:
        if action["type"] == "GenerateTableAction":
            sql = sqlglot.transpile(action["selectStatement"], read="mysql", write="duckdb")[0]
            con.execute(f'CREATE TABLE "{action["tableName"]}" AS {sql}')
    produced = con.execute("SELECT * FROM guarantee_reconciliation").fetchall()
    exported = con.execute('SELECT * FROM reconciliation ORDER BY "Client Account", "Component"').fetchall()
    assert len(produced) == len(exported) > 0
    for made, shipped in zip(produced, exported):
        for a, b in zip(made, shipped):
            if isinstance(b, Decimal):
                assert abs(Decimal(str(a)) - b) <= Decimal("0.01"), (made, shipped)
            else:
                assert a == b, (made, shipped)


def test_magic_dataflow_output_matches_its_actions(complete):
    root, summary = complete
    con = _duck(root, summary)
    expected = con.execute("""
        SELECT "Client Account", concat(year("Fill Date"), 'Q', quarter("Fill Date")),
               SUM(CASE WHEN "Claim Status" = 'REVERSED' THEN -1 ELSE 1 END), SUM("Ingredient Cost Paid")
        FROM claims WHERE "Brand/Generic" = 'Brand' GROUP BY 1, 2 ORDER BY 1, 2""").fetchall()
    assert con.execute("SELECT * FROM brand_scripts ORDER BY 1, 2").fetchall() == expected


# --- scale ---------------------------------------------------------------------------------------
_RSS_SCRIPT = """
import resource, sys
from pathlib import Path
from evidence.samples.export import write_sample_export
write_sample_export(Path(sys.argv[1]), rows=int(sys.argv[2]))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_rss_kib(out: Path, rows: int) -> int:
    result = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(out), str(rows)], check=True,
                            capture_output=True, text=True, cwd=Path(se.__file__).resolve().parents[2])
    return int(result.stdout.strip())


def test_claims_stream_in_flat_memory(tmp_path):
    small = _peak_rss_kib(tmp_path / "small", 10_000)
    large = _peak_rss_kib(tmp_path / "large", 200_000)
    # Holding 200,000 rows of 19 strings would take well over 100 MiB.
    assert large - small < 16 * 1024, (small, large)
    claims = max((tmp_path / "large").glob("datasets/*/data.csv"), key=lambda p: p.stat().st_size)
    assert claims.stat().st_size > 30_000_000


# --- the command ---------------------------------------------------------------------------------
def test_command_writes_the_export_and_a_zip(tmp_path):
    out = io.StringIO()
    call_command("make_sample_export", str(tmp_path / "cmd"), "--rows", "300", "--seed", "11",
                 "--variant", "partial", "--zip", stdout=out)
    line = out.getvalue().strip()
    assert line.startswith("LIQ-20261120-5011: the partial sample (its manifest claims partial): 300 claims")
    assert _manifest(tmp_path / "cmd")["status"] == "partial"
    with zipfile.ZipFile(tmp_path / "cmd.zip") as archive:
        assert set(archive.namelist()) == set(_digests(tmp_path / "cmd"))
        assert all(info.date_time == (2026, 11, 20, 3, 0, 0) for info in archive.infolist())
