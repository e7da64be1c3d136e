"""Hostile archives through the upload API and page, as an operator's upload goes: a zip bomb, a zip slip and a
link member are refused at the door from the archive's central directory (422 naming the file and the member),
before anything is inflated or written: no intake run, the staged bytes removed, the refusal audited with who,
the file's SHA-256 and why. (The intake task refuses the same archives again when they come another way, by
`ingest_export`: tests/evidence/test_validation.py.)"""
from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from console.models import AuditEvent
from evidence.intake.services import staging_root
from evidence.models import IntakeRun
from tests.evidence import exports

pytestmark = pytest.mark.django_db


def refused(client, archive: bytes, url: str = "/api/intake-runs/"):
    handle = io.BytesIO(archive)
    handle.name = "export.zip"
    tracemalloc.start()
    response = client.post(url, {"file": handle})
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert response.status_code == 422, response.content
    assert not IntakeRun.objects.exists()
    event = AuditEvent.objects.filter(action="intake.refused").latest("seq")
    assert event.after["original_name"] == "export.zip" and event.after["reasons"]
    return response, event, peak


def staged() -> set[Path]:
    """Every file under the staging folder (other tests of this process may have left their own there)."""
    return {path for path in staging_root().rglob("*") if path.is_file()}


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


@pytest.mark.catalogue(38)
def test_a_zip_bomb_upload_is_refused_before_it_is_inflated(client, olivia):
    client.force_login(olivia)
    before = staged()
    archive = export_with("datasets/zeros.csv", bomb_mib=24)
    assert len(archive) < 100_000  # 24 MiB of zeros in under 0.1 MiB: over 250:1
    refused(client, export_with("../x.txt", b"x"))  # the first upload imports what any upload needs: not counted
    response, event, peak = refused(client, archive)
    assert "datasets/zeros.csv" in response.json()["detail"] and "compression ratio" in response.json()["detail"]
    assert event.actor_id == olivia.pk
    assert peak < 16 * 1024 * 1024, peak
    assert staged() == before  # neither the archive nor a member of it stays staged


@pytest.mark.catalogue(38)
def test_the_upload_page_refuses_a_zip_bomb_with_its_reason(client, olivia):
    client.force_login(olivia)
    response, _, _ = refused(client, export_with("datasets/zeros.csv", bomb_mib=24), url="/sources/intake/upload/")
    assert "compression ratio" in response.content.decode()


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
    before = staged()
    refused(client, export_with(member, b"/etc/passwd"))
    root = staging_root()
    assert not (root.parent / "x.txt").exists() and not (root.parent.parent / "x.txt").exists()
    assert not Path("/etc/x.txt").exists()
    assert staged() == before  # nothing of the archive inside the staging folder either
