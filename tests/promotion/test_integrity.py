"""Hash re-verification: one byte of a stored snapshot flipped out of band (the lake's file on disk, its
recorded SHA-256 left as it was) fails every read, promotion and export that uses it with an integrity error,
and the audit trail records it ("lake.integrity_failed", naming the file)."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from console.lake import LakeIntegrityError, get_lake
from console.models import AuditEvent
from evidence.selectors.objects import golden_preview
from promotion import curated, tasks
from tests.promotion.conftest import CURATED_DB, REBATES, dataset

pytestmark = [pytest.mark.catalogue(17)]


def flip_one_byte(lake_path: str) -> None:
    """Out of band: the file's middle byte changes on disk; the lake's record of its hash does not."""
    stored = Path(settings.LAKE_URL) / lake_path
    stored.chmod(0o644)
    content = bytearray(stored.read_bytes())
    content[len(content) // 2] ^= 0x01
    stored.write_bytes(bytes(content))


def integrity_events(lake_path: str):
    return AuditEvent.objects.filter(action="lake.integrity_failed", object_type="lake file", object_id=lake_path)


def golden_bronze(manifest) -> tuple:
    card = dataset(manifest, REBATES).cards.exclude(golden_path="").order_by("pk").first()
    return card, manifest.files.get(path=card.golden_path).bronze_path


def test_a_flipped_byte_in_a_bronze_file_fails_its_read_and_is_audited(manifest):
    card, bronze = golden_bronze(manifest)
    flip_one_byte(bronze)

    with pytest.raises(LakeIntegrityError, match="content now hashes to"):
        get_lake().read(bronze)
    preview = golden_preview(card, bronze)  # the card page's read of its golden packet

    assert preview.rows == [] and "could not be read" in preview.problem
    events = list(integrity_events(bronze))
    assert len(events) == 2  # one per read
    recorded = get_lake().sha256(bronze)
    assert events[0].after["recorded_sha256"] == recorded != events[0].after["found_sha256"]


@CURATED_DB
def test_a_flipped_byte_in_the_silver_parquet_fails_the_promotion_with_an_integrity_error(
    approved_rebates, curated_db, no_enqueue
):
    rebates = dataset(approved_rebates.manifest, REBATES)
    flip_one_byte(rebates.silver_path)

    tasks.promotion_load(approved_rebates.pk)

    approved_rebates.refresh_from_db()
    assert approved_rebates.state == "failed", approved_rebates.error
    assert "LakeIntegrityError" in approved_rebates.error and rebates.silver_path in approved_rebates.error
    assert approved_rebates.attempts == 1  # permanent: no retry would find other bytes
    assert curated.read_current(curated_db, rebates.domo_id) is None
    assert integrity_events(rebates.silver_path).count() >= 1
    failed = AuditEvent.objects.get(action="promotion.load_failed", object_id=str(approved_rebates.pk))
    assert "LakeIntegrityError" in failed.after["error"]


@CURATED_DB
def test_a_flipped_byte_in_a_golden_packet_fails_the_promotion_and_moves_no_pointer(
    approved_rebates, curated_db, no_enqueue
):
    rebates = dataset(approved_rebates.manifest, REBATES)
    card, bronze = golden_bronze(approved_rebates.manifest)
    flip_one_byte(bronze)

    tasks.promotion_load(approved_rebates.pk)

    approved_rebates.refresh_from_db()
    assert approved_rebates.state == "failed" and "LakeIntegrityError" in approved_rebates.error
    assert bronze in approved_rebates.error
    # Every pointer moves together once everything verified: the dataset's did not move without its packet.
    assert curated.read_current(curated_db, rebates.domo_id) is None
    assert curated.read_current(curated_db, curated.golden_key(card.domo_id)) is None
    assert integrity_events(bronze).count() >= 1
