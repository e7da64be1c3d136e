"""Column names longer than PostgreSQL's 63 bytes (issue 16, point 3).

They passed intake, gates and approval and failed only at load. Now each is loaded under a deterministic,
collision-free identifier (promotion.curated.sql_identifiers) that the approver sees beside the original
on the request page before approving, and the curated registry keeps both.
"""
from __future__ import annotations

import hashlib
import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils.html import escape

from evidence.models import SourceManifest
from promotion import curated, services, tasks
from tests.evidence import exports
from tests.promotion.conftest import CURATED_DB, checked, disposition_all

LONG = "Total paid after rebate adjustments for specialty pharmacy claims, net of fees and clawbacks"[:100]
LONG = LONG + "x" * (100 - len(LONG))  # 100 characters
SHARED = "Member pharmacy network adjudication status as reported by the PB"  # 65 bytes in common
TWINS = [SHARED + "M for the first quarter", SHARED + "M for the second quarter"]
WIDE = "Réseau de pharmacies: nom complet de l'établissement dispensateur (€)"  # multi-byte, over 63 bytes
NAMES = ["pharmacy", "total", LONG, *TWINS, WIDE]


def test_identifiers_fit_are_deterministic_and_never_collide():
    columns = curated.sql_identifiers(NAMES)
    assert columns[:2] == ["pharmacy", "total"]
    assert len(set(columns)) == len(columns)
    assert all(len(c.encode()) <= 63 for c in columns)
    assert columns == curated.sql_identifiers(list(NAMES))  # the same every time
    assert columns[2].endswith("~" + hashlib.sha256(LONG.encode()).hexdigest()[:8])
    assert columns[3][:54] == columns[4][:54] and columns[3] != columns[4]
    assert columns[5].startswith("Réseau de pharmacies") and columns[5].encode().decode() == columns[5]
    assert curated.sql_identifiers(["a" * 63]) == ["a" * 63]
    assert curated.sql_identifiers(["_row"])[0].startswith("_row~")  # the row number's own column


def test_names_no_table_can_hold_fail_the_dataset_gate_naming_the_column(tmp_path, olivia):
    from promotion.gates import gate_named
    from promotion.models import PromotionRequest

    manifest = long_named_export(tmp_path)
    pharmacies = manifest.datasets.get(domo_id=exports.PHARMACIES)
    pharmacies.schema = [*pharmacies.schema, {"name": "pharmacy", "type": "STRING"}]
    pharmacies.save(update_fields=["schema"])
    request = PromotionRequest.objects.create(manifest=manifest, requested_by=olivia)
    request.datasets.set([pharmacies])
    result = gate_named("dataset_ids").run(request)
    assert result.outcome == "failed"
    assert any("column 'pharmacy' appears twice" in d["what"] for d in result.details), result.details


def long_named_export(tmp_path):
    export = exports.Export()
    metadata = export.files[exports.PHARMACIES_METADATA]
    metadata["tables"][0]["columns"] += [{"name": name, "type": "STRING"} for name in NAMES[2:]]
    metadata["columnCount"] = len(NAMES)
    rows = [["P-1", "100.25", "a", "b", "c", "d"], ["P-2", "7", "e", "f", "g", "h"]]
    export.files[exports.PHARMACIES_CSV] = exports.csv_bytes(NAMES, rows)
    call_command("ingest_export", str(export.write(tmp_path / "long-names")), stdout=io.StringIO())
    return SourceManifest.objects.get()


@pytest.mark.postgres_only
@CURATED_DB
def test_long_names_go_from_intake_to_the_curated_table_and_the_approver_sees_them_first(
    tmp_path, olivia, arthur, client, curated_db, no_enqueue
):
    manifest = long_named_export(tmp_path)
    assert manifest.status == "complete"
    pharmacies = manifest.datasets.get(domo_id=exports.PHARMACIES)
    disposition_all(olivia, manifest, [pharmacies])
    request = checked(services.promotion_request(actor=olivia, manifest=manifest, datasets=[pharmacies]))
    assert request.state == "ready", list(request.gate_results.values_list("gate", "outcome", "details"))

    columns = curated.sql_identifiers(NAMES)
    client.force_login(arthur)
    page = client.get(reverse("promotion:request-detail", args=[request.pk])).content.decode()
    assert 'id="curated-columns"' in page and 'id="approve-form"' in page
    for name, column in zip(NAMES[2:], columns[2:]):
        assert f'<td class="mono">{escape(name)}</td><td class="mono curated-column">{escape(column)}</td>' in page

    api = client.get(f"/api/promotions/{request.pk}/").json()
    assert api["datasets"][0]["curated_columns"] == [
        {"name": name, "column": column} for name, column in zip(NAMES[2:], columns[2:])
    ]

    services.promotion_approve(actor=arthur, request=request, comment="long names checked")
    tasks.promotion_load(request.pk)
    request.refresh_from_db()
    assert request.state == "promoted", request.error

    current = curated.read_current(curated_db, exports.PHARMACIES)
    with curated_db.cursor() as cursor:
        cursor.execute(
            'SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position',
            [current.table],
        )
        assert [row[0] for row in cursor.fetchall()] == ["_row", *columns]
        quoted = ", ".join('"' + c.replace('"', '""') + '"' for c in columns[2:])
        cursor.execute(f'SELECT {quoted} FROM "{current.table}" ORDER BY _row')
        assert cursor.fetchall() == [("a", "b", "c", "d"), ("e", "f", "g", "h")]
    _, schema = curated.current_schema(curated_db, exports.PHARMACIES)
    assert [(c["name"], c["column"]) for c in schema] == list(zip(NAMES, columns))
