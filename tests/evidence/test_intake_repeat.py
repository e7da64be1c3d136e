"""A repeat receipt of any export, whatever its first verdict, is recorded as a repeat of the first.

Issue 16, point 3: the same export with a format the console does not know, received a second time, failed
with IntegrityError. Each export below is received twice with the command; the second receipt exits 0,
makes no second manifest, gives the first one's verdict and names the first run, on the command's output,
the intake run's page and the API.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from console.models import AuditEvent
from evidence.models import IntakeRun, SourceManifest
from tests.evidence import exports
from tests.evidence.conftest import invalid_export


def complete(tmp_path: Path) -> Path:
    return exports.Export().write(tmp_path / "complete")


def partial(tmp_path: Path) -> Path:
    export = exports.Export()
    export.manifest["status"] = "partial"
    export.manifest["missing"] = [{"kind": "dataflow", "id": "413", "reason": "the API answered 500"}]
    return export.write(tmp_path / "partial")


def invalid(tmp_path: Path) -> Path:
    return invalid_export().write(tmp_path / "invalid")


def unknown_format(tmp_path: Path) -> Path:
    export = exports.Export()
    export.manifest["format"] = "leafiq-export/9"
    return export.write(tmp_path / "unknown-format")


def unknown_format_zip(tmp_path: Path) -> Path:
    export = exports.Export()
    export.manifest["format"] = "leafiq-export/9"
    return export.zip(tmp_path / "unknown-format.zip")


def no_manifest(tmp_path: Path) -> Path:
    root = exports.Export().write(tmp_path / "no-manifest")
    (root / "manifest.json").unlink()
    return root


def not_a_load_id(tmp_path: Path) -> Path:
    export = exports.Export()
    export.manifest["load_id"] = "LIQ-" + "9" * 100  # longer than the column that records load ids
    return export.write(tmp_path / "long-load-id")


def refused_archive(tmp_path: Path) -> Path:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("manifest.json", "{}")
        zf.writestr("../../escaped.txt", "gotcha")
    return archive


def not_a_zip(tmp_path: Path) -> Path:
    path = tmp_path / "export.zip"
    path.write_bytes(b"this is not a zip archive")
    return path


EXPORTS = {
    "complete": (complete, "complete", None),
    "partial": (partial, "partial", "DECLARED_PARTIAL"),
    "invalid": (invalid, "invalid", "CSV_BAD_VALUE"),
    "unknown format": (unknown_format, "invalid", "UNKNOWN_FORMAT"),
    "unknown format, zipped": (unknown_format_zip, "invalid", "UNKNOWN_FORMAT"),
    "no manifest": (no_manifest, "invalid", None),
    "not a load id": (not_a_load_id, "invalid", "BAD_LOAD_ID"),
    "refused archive": (refused_archive, "invalid", "ARCHIVE_UNSAFE"),
    "not a zip": (not_a_zip, "invalid", None),
}


def receive(path: Path, *args: str) -> str:
    """The command's output; call_command raises (a non-zero exit) on any error."""
    out = io.StringIO()
    call_command("ingest_export", str(path), *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("name", list(EXPORTS))
def test_a_second_receipt_of_any_export_is_a_repeat_of_the_first(db, tmp_path, client, olivia, name):
    make, verdict, code = EXPORTS[name]
    path = make(tmp_path)
    first = json.loads(receive(path, "--json"))
    assert first["status"] == verdict
    if code:
        assert code in {i["code"] for i in first["issues"]}

    second = json.loads(receive(path, "--json"))
    text = receive(path)

    assert SourceManifest.objects.count() == 1
    manifest = SourceManifest.objects.get()
    first_run = manifest.intake_run_id
    assert first["intake_run"] == first_run and first["repeat_of_intake_run"] is None
    assert second["repeat_of_intake_run"] == first_run and second["intake_run"] != first_run
    assert {k: v for k, v in second.items() if "intake_run" not in k} == {
        k: v for k, v in first.items() if "intake_run" not in k
    }
    assert f": {verdict} (a repeat: received before by intake #{first_run}" in text
    assert AuditEvent.objects.filter(action="intake.duplicate").count() == 2
    assert AuditEvent.objects.filter(action="intake.duplicate").latest("seq").after["verdict"] == verdict

    client.force_login(olivia)
    page = client.get(reverse("evidence:intake-detail", args=[second["intake_run"]]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "A repeat receipt" in html and f'href="{reverse("evidence:intake-detail", args=[first_run])}"' in html
    api = client.get(f"/api/intake-runs/{second['intake_run']}/").json()
    assert api["status"] == "succeeded" and api["verdict"] == verdict
    assert api["manifest"] == manifest.pk and api["repeat_of"] == first_run
    assert api["repeat_of_url"].endswith(f"/api/intake-runs/{first_run}/")
    assert client.get(f"/api/intake-runs/{first_run}/").json()["repeat_of"] is None
    assert IntakeRun.objects.filter(status="failed").count() == 0
