"""Fixtures of the evidence tests: small exports received through the real intake, in-process."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from evidence.models import SourceManifest
from tests.evidence import exports

# A beast mode as real ones come: HTML inside the formula text.
HTML_FORMULA = "CASE WHEN SUM(`paid`) > 10 THEN '<b>high</b><script>alert(\"x\")</script>' ELSE 'low' END"
UNKNOWN_GROUP = 1234


def ingest(path: Path) -> SourceManifest:
    """Receive an export with the command (in this process) and return its manifest."""
    call_command("ingest_export", str(path), stdout=io.StringIO())
    return SourceManifest.objects.latest("id")


def rich_export() -> exports.Export:
    """The hand-made export, with an HTML-carrying card formula and a policy naming an unknown group."""
    export = exports.Export()
    card = export.files[exports.CARD_DEFINITION]
    card["definition"]["formulas"]["card"][0]["formula"] = HTML_FORMULA
    policies = export.files[exports.CLAIMS_POLICIES]
    policies[1]["groups"] = [7, UNKNOWN_GROUP]
    policies.append(
        {
            "id": 9,
            "type": "user",
            "name": "Not early members",
            "users": [],
            "virtualUsers": [],
            "groups": [7],
            "filters": [
                {"column": "member", "values": ["M-001", "M-002"], "operator": "EQUALS", "not": True},
                {"column": "paid", "values": ["5"], "operator": "GREATER_THAN", "not": False},
            ],
        }
    )
    return export


def invalid_export(load_id: str = "LIQ-20261121-0002") -> exports.Export:
    """An export whose claims CSV holds a value that is not a date (an issue with a row and a column)."""
    export = exports.Export()
    export.manifest["load_id"] = load_id
    rows = [list(row) for row in exports.CLAIMS_ROWS]
    rows[1][2] = "2026-02-30"
    export.files[exports.CLAIMS_CSV] = exports.csv_bytes([name for name, _ in exports.CLAIMS_COLUMNS], rows)
    return export


@pytest.fixture
def received(db, tmp_path, states) -> SourceManifest:
    """The rich export, received complete."""
    return states.get("rich export", lambda: ingest(rich_export().write(tmp_path / "rich")))


@pytest.fixture
def received_invalid(db, tmp_path, states) -> SourceManifest:
    return states.get("invalid hand-made export", lambda: ingest(invalid_export().write(tmp_path / "invalid")))


@pytest.fixture
def received_sample(db, tmp_path, states) -> SourceManifest:
    """The generated sample export (evidence.samples.export: planted and clean formulas, both DataFlow
    kinds), received complete with few rows."""
    from evidence.samples.export import write_sample_export

    return states.get("sample export", lambda: ingest(write_sample_export(tmp_path / "sample", rows=50).path))


@pytest.fixture
def export_zip(tmp_path) -> Path:
    """The hand-made export as a .zip, for uploads."""
    return exports.Export().zip(tmp_path / "leafiq-export.zip")
