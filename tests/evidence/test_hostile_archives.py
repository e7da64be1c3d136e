"""Hostile archives through the upload API and the intake task, as an operator's upload goes: a zip bomb and a
zip slip are accepted as uploads (202: the check runs in the intake), then refused from the archive's central
directory before anything is inflated or written: the receipt is invalid with ARCHIVE_UNSAFE, nothing lands
outside the staging area, and the task's memory stays far below the bomb's size."""
from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from evidence.choices import IntakeStatus
from evidence.intake.services import staging_root
from evidence.models import IntakeRun, SourceManifest
from evidence.tasks import intake_run
from tests.evidence import exports

pytestmark = pytest.mark.django_db


def upload(client, archive: bytes):
    handle = io.BytesIO(archive)
    handle.name = "export.zip"
    response = client.post("/api/intake-runs/", {"file": handle})
    assert response.status_code == 202, response.content
    return IntakeRun.objects.get(pk=response.json()["id"])


def export_with(member: zipfile.ZipInfo | str, content: bytes | None = None, *, bomb_mib: int = 0) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", exports.Export().manifest_bytes())
        if bomb_mib:
            with archive.open(member, "w") as inside:
                for _ in range(bomb_mib):
                    inside.write(b"\0" * (1024 * 1024))
        else:
            archive.writestr(member, content)
    return buffer.getvalue()


def receive(run: IntakeRun) -> tuple[SourceManifest, int]:
    tracemalloc.start()
    intake_run.apply(args=[run.pk])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    run.refresh_from_db()
    assert run.status == IntakeStatus.SUCCEEDED, run.error
    return SourceManifest.objects.get(intake_run=run), peak


@pytest.mark.catalogue(38)
def test_a_zip_bomb_upload_is_refused_before_it_is_inflated(client, olivia):
    client.force_login(olivia)
    archive = export_with("datasets/zeros.csv", bomb_mib=24)
    assert len(archive) < 100_000  # 24 MiB of zeros in under 0.1 MiB: over 250:1
    manifest, peak = receive(upload(client, archive))
    assert manifest.status == "invalid"
    issue = manifest.issues.get(code="ARCHIVE_UNSAFE")
    assert "compression ratio" in issue.message
    assert peak < 16 * 1024 * 1024, peak
    assert not list(staging_root().rglob("zeros.csv"))


@pytest.mark.catalogue(40)
@pytest.mark.parametrize("name", ["../../x.txt", "/etc/x.txt", "C:\\x.txt", "link"])
def test_a_zip_slip_upload_is_refused_and_nothing_is_written_outside(client, olivia, name, tmp_path):
    import stat

    client.force_login(olivia)
    member: zipfile.ZipInfo | str = name
    if name == "link":
        member = zipfile.ZipInfo("datasets/link.csv")
        member.create_system = 3
        member.external_attr = (stat.S_IFLNK | 0o777) << 16
    manifest, _ = receive(upload(client, export_with(member, b"/etc/passwd")))
    assert manifest.status == "invalid" and manifest.issues.filter(code="ARCHIVE_UNSAFE").exists()
    root = staging_root()
    assert not (root.parent / "x.txt").exists() and not (root.parent.parent / "x.txt").exists()
    assert not Path("/etc/x.txt").exists()
    assert not list(root.rglob("x.txt")) and not list(root.rglob("link.csv"))
