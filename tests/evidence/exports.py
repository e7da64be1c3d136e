"""Small hand-made Leaf IQ exports: a correct one that each test breaks in one way.

sample_export() holds every kind of object the format names, in both of Domo's API shapes: a
claims dataset (public metadata, public policies), a pharmacies dataset (internal metadata with a
saved beast mode, internal policies), a card with a card beast mode and a golden output, a card on a
dataset beast mode (its formulas a bare list), a MySQL dataflow between the two datasets, and the
directory. The cards are shaped as Domo returns them: the top-level columns[] lists the dataset columns
the card can use, and keys the format does not name (urn, conditionalFormats, annotations, ...) come along. Export.write()
lays it out and writes a manifest whose files list matches what was written.
"""
from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLAIMS = "5d2f1c7e-3b4a-4e21-9a0d-6f1e2b3c4d5e"
PHARMACIES = "8c1e0b2a-6f4d-4c3b-9e2a-1d0c9b8a7f6e"
CARD = 377100201
CARD_ON_DATASET_FORMULA = 377100202
DATAFLOW = 412
CARD_FORMULA = "calculation_11111111-2222-4333-8444-555555555555"
DATASET_FORMULA = "calculation_99999999-8888-4777-8666-555555555555"

CLAIMS_DIR = f"datasets/{CLAIMS}"
PHARMACIES_DIR = f"datasets/{PHARMACIES}"
CLAIMS_CSV = f"{CLAIMS_DIR}/data.csv"
CLAIMS_METADATA = f"{CLAIMS_DIR}/metadata.json"
CLAIMS_POLICIES = f"{CLAIMS_DIR}/policies.json"
PHARMACIES_CSV = f"{PHARMACIES_DIR}/data.csv"
PHARMACIES_METADATA = f"{PHARMACIES_DIR}/metadata.json"
PHARMACIES_POLICIES = f"{PHARMACIES_DIR}/policies.json"
CARD_DEFINITION = f"cards/{CARD}/definition.json"
CARD_GOLDEN = f"cards/{CARD}/golden.csv"
CARD2_DEFINITION = f"cards/{CARD_ON_DATASET_FORMULA}/definition.json"
DATAFLOW_DEFINITION = f"dataflows/{DATAFLOW}.json"
USERS = "directory/users.json"
GROUPS = "directory/groups.json"

CLAIMS_COLUMNS = [
    ("claim_id", "LONG"), ("member", "STRING"), ("fill_date", "DATE"), ("paid", "DECIMAL"),
    ("ingredient_cost", "DOUBLE"), ("adjudicated_at", "DATETIME"),
]
CLAIMS_ROWS = [
    ["1001", "M-001", "2026-01-05", "12.50", "10.25", "2026-01-05T10:11:12"],
    ["1002", "M-002", "2026-02-28", "7.00", "", "2026-02-28T23:59:59"],
    ["1003", "", "", "", "3e2", ""],
]


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def claims_metadata(rows: int = len(CLAIMS_ROWS)) -> dict[str, Any]:
    """The public API's DataSet shape."""
    return {
        "id": CLAIMS, "name": "Claims", "description": "Adjudicated pharmacy claims",
        "rows": rows, "columns": len(CLAIMS_COLUMNS), "owner": {"id": 27, "name": "Dana Owner"},
        "createdAt": "2026-01-02T03:04:05Z", "updatedAt": "2026-11-19T22:00:00Z",
        "dataCurrentAt": "2026-11-19T22:00:00Z", "pdpEnabled": True,
        "schema": {"columns": [{"type": kind, "name": name} for name, kind in CLAIMS_COLUMNS]},
    }


def pharmacies_metadata() -> dict[str, Any]:
    """The internal API's DataSet shape, with a beast mode saved on the dataset."""
    return {
        "id": PHARMACIES, "name": "Pharmacies", "description": None, "rowCount": 2, "columnCount": 2,
        "owner": {"id": "27", "name": "Dana Owner"}, "created": 1767323045000, "lastUpdated": 1795125600000,
        "pdpEnabled": True,
        "tables": [{"columns": [{"name": "pharmacy", "type": "STRING"}, {"name": "total", "type": "DECIMAL"}]}],
        "properties": {"formulas": {"formulas": {DATASET_FORMULA: {
            "id": DATASET_FORMULA, "name": "Total with fee", "formula": "SUM(`total`) + 1.5",
            "dataType": "DECIMAL", "persistedOnDataSource": True, "containsAggregation": True, "status": "VALID",
        }}}},
    }


# Keys of a real card definition that the format does not name; the readers must ignore them.
DOMO_CARD_KEYS = ("urn", "conditionalFormats", "annotations", "slicers", "segments", "drillpath", "chartVersion",
                  "allowTableDrill", "modified")
_CARD_COLUMN_TYPES = {"STRING": "string", "LONG": "numeric", "DOUBLE": "numeric", "DECIMAL": "numeric",
                      "DATE": "date", "DATETIME": "date"}


def dataset_columns(dataset_id: str, columns: list[tuple[str, str]], formulas: tuple[str, ...] = ()) -> list[dict]:
    """A card's top-level columns[]: the dataset columns (and beast modes) it can use, as Domo lists them."""
    listed = [{"id": name, "name": name, "type": _CARD_COLUMN_TYPES[kind], "sourceId": dataset_id,
               "isCalculation": False, "isAggregatable": kind != "STRING", "hidden": False, "order": index}
              for index, (name, kind) in enumerate(columns)]
    listed += [{"id": formula_id, "name": formula_id, "type": "numeric", "sourceId": dataset_id, "isCalculation": True}
               for formula_id in formulas]
    return listed


def sample_files() -> dict[str, Any]:
    """Every file of the sample export but the manifest: JSON values, or bytes for the CSVs."""
    return {
        CLAIMS_METADATA: claims_metadata(),
        CLAIMS_CSV: csv_bytes([name for name, _ in CLAIMS_COLUMNS], CLAIMS_ROWS),
        CLAIMS_POLICIES: [
            {"id": 1, "type": "open", "name": "All Rows", "filters": [], "users": [], "virtualUsers": [],
             "groups": []},
            {"id": 2, "type": "user", "name": "Member M-001",
             "filters": [{"column": "member", "values": ["M-001"], "operator": "EQUALS", "not": False}],
             "users": [101], "virtualUsers": [], "groups": [7]},
        ],
        PHARMACIES_METADATA: pharmacies_metadata(),
        PHARMACIES_CSV: csv_bytes(["pharmacy", "total"], [["P-1", "100.25"], ["P-2", "7"]]),
        PHARMACIES_POLICIES: [
            {"filterGroupId": 3, "name": "Own pharmacy", "type": "user",
             "parameters": [{"name": "pharmacy", "values": ["P-1"], "type": "COLUMN", "operator": "EQUALS",
                             "not": False, "ignoreCase": True}],
             "userIds": [102], "groupIds": []},
        ],
        CARD_DEFINITION: {
            "id": CARD, "urn": str(CARD), "title": "Paid by member", "type": "kpi", "modified": 1795125600000,
            "datasources": [{"dataSourceId": CLAIMS, "dataSourceName": "Claims", "dataType": "webform"}],
            "drillpath": [{"id": 2, "title": "Claims of the member", "columns": [{"column": "claim_id"}]}],
            "definition": {
                "subscriptions": {"main": {
                    "columns": [{"column": "member", "mapping": "ITEM"},
                                {"formulaId": CARD_FORMULA, "alias": "Paid share", "mapping": "VALUE"}],
                    "filters": [], "groupBy": [{"column": "member"}], "orderBy": [], "dateGrain": None,
                }},
                "formulas": {"card": [{
                    "id": CARD_FORMULA, "name": "Paid share", "formula": "SUM(`paid`) / SUM(SUM(`paid`)) OVER ()",
                    "dataType": "DOUBLE", "persistedOnDataSource": False, "containsAggregation": True,
                    "status": "VALID",
                }], "dsUpdated": [], "dsDeleted": []},
                "charts": {"main": {"component": "main", "chartType": "badge_vert_bar"}},
                "title": "Paid by member",
                "conditionalFormats": {"card": [{"condition": {"column": "paid", "operator": "GREATER_THAN",
                                                               "values": [10]}, "format": {"color": "#E45621"}}],
                                       "datasource": []},
                "annotations": {"new": [], "modified": [], "deleted": []},
                "slicers": [{"column": "member", "dataSourceId": CLAIMS, "type": "dropdown"}],
                "segments": {"active": [], "create": [], "update": [], "delete": []},
                "chartVersion": "12", "allowTableDrill": True,
            },
            "columns": dataset_columns(CLAIMS, CLAIMS_COLUMNS, (CARD_FORMULA,)),
        },
        CARD_GOLDEN: csv_bytes(["member", "Paid share"], [["M-001", "0.64"], ["M-002", "0.36"]]),
        CARD2_DEFINITION: {
            "id": CARD_ON_DATASET_FORMULA, "urn": str(CARD_ON_DATASET_FORMULA), "title": "Totals by pharmacy",
            "modified": 1795125600000, "drillpath": [],
            "datasources": [{"dataSourceId": PHARMACIES, "dataSourceName": "Pharmacies"}],
            "definition": {
                "subscriptions": {"main": {
                    "columns": [{"column": "pharmacy", "mapping": "ITEM"},
                                {"formulaId": DATASET_FORMULA, "mapping": "VALUE"}],
                    "filters": [], "groupBy": [], "orderBy": [], "dateGrain": None,
                }},
                "formulas": [],
                "conditionalFormats": [], "annotations": [], "slicers": [], "segments": [],
                "chartVersion": "10", "allowTableDrill": False,
            },
            "columns": dataset_columns(PHARMACIES, [("pharmacy", "STRING"), ("total", "DECIMAL")], (DATASET_FORMULA,)),
        },
        DATAFLOW_DEFINITION: {
            "id": DATAFLOW, "name": "Claims by pharmacy", "databaseType": "MYSQL",
            "inputs": [{"dataSourceId": CLAIMS, "dataSourceName": "Claims"}],
            "outputs": [{"dataSourceId": PHARMACIES, "dataSourceName": "Pharmacies"}],
            "actions": [
                {"type": "LoadFromVault", "id": "a1", "name": "claims"},
                {"type": "SQL", "id": "a2", "name": "index", "statements": ["CREATE INDEX m ON claims (member)"],
                 "dependsOn": ["a1"]},
                {"type": "GenerateTableAction", "id": "a3", "name": "pharmacies",
                 "selectStatement": "SELECT member AS pharmacy, SUM(paid) AS total FROM claims GROUP BY member",
                 "dependsOn": ["a2"]},
            ],
        },
        USERS: [{"id": 101, "name": "Ann Analyst", "email": "ann@example.org", "role": "Participant"},
                {"id": 102, "name": "Bo Buyer", "email": "bo@example.org", "role": "Participant"}],
        GROUPS: [{"id": 7, "name": "Member services", "userIds": [101]}],
    }


def sample_manifest() -> dict[str, Any]:
    """The manifest of sample_files(), but its files list, which Export.write() computes."""
    return {
        "format": "leafiq-export/1",
        "load_id": "LIQ-20261120-0001",
        "exported_at": "2026-11-20T03:00:00Z",
        "domo_instance": "leafhealth.domo.com",
        "exporter": {"name": "leaf-iq", "version": "4.2.0"},
        "status": "complete",
        "missing": [],
        "datasets": [
            {"id": CLAIMS, "metadata": CLAIMS_METADATA, "data": CLAIMS_CSV, "policies": CLAIMS_POLICIES},
            {"id": PHARMACIES, "metadata": PHARMACIES_METADATA, "data": PHARMACIES_CSV,
             "policies": PHARMACIES_POLICIES},
        ],
        "cards": [
            {"id": CARD, "definition": CARD_DEFINITION, "golden": CARD_GOLDEN,
             "golden_captured_at": "2026-11-20T02:58:11Z"},
            {"id": CARD_ON_DATASET_FORMULA, "definition": CARD2_DEFINITION},
        ],
        "dataflows": [{"id": DATAFLOW, "definition": DATAFLOW_DEFINITION}],
        "directory": {"users": USERS, "groups": GROUPS},
    }


def file_entry(path: str, content: bytes) -> dict[str, Any]:
    return {"path": path, "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}


@dataclass
class Export:
    """An export in memory: change files or manifest, then write() it as a folder or zip() it."""

    files: dict[str, Any] = field(default_factory=sample_files)
    manifest: dict[str, Any] = field(default_factory=sample_manifest)

    def content(self, path: str) -> bytes:
        value = self.files[path]
        return value if isinstance(value, bytes) else json.dumps(value, indent=2).encode("utf-8")

    def manifest_bytes(self) -> bytes:
        manifest = copy.deepcopy(self.manifest)
        # A test that sets its own files list keeps it; otherwise the list matches the files.
        manifest.setdefault("files", [file_entry(path, self.content(path)) for path in sorted(self.files)])
        return json.dumps(manifest, indent=2).encode("utf-8")

    def write(self, root: Path) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        for path in self.files:
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.content(path))
        (root / "manifest.json").write_bytes(self.manifest_bytes())
        return root

    def zip(self, path: Path, *, folder: str | None = None) -> Path:
        prefix = f"{folder}/" if folder else ""
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{prefix}manifest.json", self.manifest_bytes())
            for name in sorted(self.files):
                archive.writestr(prefix + name, self.content(name))
        return path
