"""Intake: what arrived is kept in bronze, what passed becomes silver, and the verdict is recorded."""
import io
import json
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from console.lake import get_lake
from console.models import AuditEvent
from evidence.choices import IntakeStatus
from evidence.models import BeastMode, DomoCard, DomoDataset, IntakeRun, PdpPolicy, SourceManifest
from evidence.samples.export import write_export_zip, write_sample_export


def ingest(path, *args) -> dict:
    out = io.StringIO()
    call_command("ingest_export", str(path), "--json", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def complete_export(tmp_path):
    return write_sample_export(tmp_path / "complete", rows=400, seed=11)


def test_complete_export_is_recorded_complete_with_every_object(db, complete_export):
    result = ingest(complete_export.path)
    assert result["status"] == "complete"
    assert result["issues"] == []
    manifest = SourceManifest.objects.get(load_id=complete_export.load_id)
    assert manifest.claimed_status == "complete"
    assert manifest.datasets.count() == len(complete_export.datasets)
    assert manifest.cards.count() == len(complete_export.cards)
    assert manifest.dataflows.count() == len(complete_export.dataflows)
    assert BeastMode.objects.filter(manifest=manifest, scope="card").exists()
    assert BeastMode.objects.filter(manifest=manifest, scope="dataset").exists()
    assert set(PdpPolicy.objects.filter(dataset__manifest=manifest).values_list("api_shape", flat=True)) == {
        "public", "internal"
    }
    assert DomoCard.objects.filter(manifest=manifest).exclude(golden_path="").count() == len(complete_export.goldens)


def test_silver_is_typed_parquet_with_every_row(db, complete_export):
    result = ingest(complete_export.path)
    claims = DomoDataset.objects.get(domo_id=complete_export.datasets["claims"])
    assert claims.silver_path.startswith(result["silver"] + "/")
    with get_lake().open(claims.silver_path) as handle:
        table = pq.read_table(pa.BufferReader(handle.read()))
    assert table.num_rows == claims.declared_rows == claims.silver_rows
    types = {column["name"]: column["type"] for column in claims.schema}
    for name, domo_type in types.items():
        arrow = table.schema.field(name).type
        if domo_type == "DECIMAL":
            assert pa.types.is_decimal(arrow), name
        if domo_type == "LONG":
            assert arrow == pa.int64(), name
        if domo_type == "DATE":
            assert arrow == pa.date32(), name


def test_silver_keeps_each_datasets_metadata_beside_its_parquet(db, complete_export):
    result = ingest(complete_export.path)
    claims = DomoDataset.objects.get(domo_id=complete_export.datasets["claims"])
    metadata = json.loads(get_lake().read(claims.silver_path.replace("data.parquet", "metadata.json")))
    assert metadata["schema"] == claims.schema
    assert metadata["rows"] == claims.silver_rows
    assert metadata["parquet_sha256"] == claims.silver_sha256
    assert get_lake().exists(metadata["source"]["bronze"])
    assert metadata["source"]["bronze"].startswith(result["bronze"])


def test_bronze_keeps_every_file_byte_for_byte_with_a_receipt(db, complete_export):
    result = ingest(complete_export.path)
    lake = get_lake()
    sent = sorted(p.relative_to(complete_export.path).as_posix() for p in complete_export.path.rglob("*") if p.is_file())
    for relative in sent:
        assert lake.read(f"{result['bronze']}/files/{relative}") == (complete_export.path / relative).read_bytes()
    (receipt_path,) = lake.list(f"{result['bronze']}/receipts")
    receipt = json.loads(lake.read(receipt_path))
    assert [f["path"] for f in receipt["files"]] == sent
    assert receipt["received_by"] == "system:command:ingest_export"
    assert receipt["verdict"] == "complete"


def test_same_export_twice_returns_the_first_record(db, complete_export):
    first = ingest(complete_export.path)
    second = ingest(complete_export.path)
    assert second.pop("repeat_of_intake_run") == first.pop("intake_run")
    assert first.pop("repeat_of_intake_run") is None and second.pop("intake_run") != first.get("intake_run")
    assert second == first
    assert SourceManifest.objects.count() == 1
    assert AuditEvent.objects.filter(action="intake.duplicate").count() == 1


def test_same_load_id_with_other_content_is_kept_but_invalid(db, tmp_path, complete_export):
    ingest(complete_export.path)
    other = write_sample_export(tmp_path / "other", rows=401, seed=11)
    assert other.load_id == complete_export.load_id
    result = ingest(other.path)
    assert result["status"] == "invalid"
    assert "LOAD_ID_CONFLICT" in {i["code"] for i in result["issues"]}
    assert result["silver"] is None
    assert get_lake().exists(f"{result['bronze']}/files/manifest.json")
    assert SourceManifest.objects.filter(load_id=other.load_id).count() == 2


def test_partial_export_is_partial_and_its_good_datasets_reach_silver(db, tmp_path):
    export = write_sample_export(tmp_path / "partial", rows=300, seed=12, variant="partial")
    result = ingest(export.path)
    assert result["status"] == "partial"
    assert {"DECLARED_PARTIAL"} <= {i["code"] for i in result["issues"]}
    assert DomoDataset.objects.exclude(silver_path="").count() == len(export.datasets)


def test_invalid_export_is_kept_in_bronze_and_never_reaches_silver(db, tmp_path):
    export = write_sample_export(tmp_path / "invalid", rows=300, seed=13, variant="invalid")
    result = ingest(export.path)
    assert result["status"] == "invalid"
    assert {"HASH_MISMATCH", "CSV_BAD_VALUE"} <= {i["code"] for i in result["issues"]}
    assert result["silver"] is None
    assert not get_lake().list("silver")
    assert DomoDataset.objects.exclude(silver_path="").count() == 0
    bad = next(i for i in result["issues"] if i["code"] == "CSV_BAD_VALUE")
    assert bad["file"] and bad["row"] and bad["column"]


def test_a_manifest_with_a_broken_field_is_recorded_invalid_with_what_it_claims_still_shown(db, complete_export):
    path = complete_export.path / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["datasets"][0]["id"] = 12345
    path.write_text(json.dumps(manifest))

    result = ingest(complete_export.path)

    assert result["status"] == "invalid"
    first = result["issues"][0]
    assert (first["code"], first["object"], first["field"]) == ("MANIFEST_SCHEMA", "manifest", "datasets[0].id")
    recorded = SourceManifest.objects.get()
    assert recorded.domo_instance == manifest["domo_instance"] and recorded.exported_at is not None
    assert recorded.exporter == f'{manifest["exporter"]["name"]} {manifest["exporter"]["version"]}'


def test_a_zip_is_received_like_a_folder_and_the_archive_itself_is_kept(db, tmp_path, complete_export):
    archive = write_export_zip(complete_export.path, tmp_path / "export.zip")
    result = ingest(archive)
    assert result["status"] == "complete"
    assert get_lake().read(f"{result['bronze']}/received/export.zip") == archive.read_bytes()


def test_an_unsafe_archive_is_refused_and_nothing_lands_outside_staging(db, tmp_path, settings):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("manifest.json", "{}")
        zf.writestr("../../escaped.txt", "gotcha")
    result = ingest(archive)
    assert result["status"] == "invalid"
    assert [i["code"] for i in result["issues"]] == ["ARCHIVE_UNSAFE"]
    assert not list(Path(settings.VAR_DIR).rglob("escaped.txt"))
    assert not list(tmp_path.parent.rglob("escaped.txt"))
    assert get_lake().read(f"{result['bronze']}/received/evil.zip") == archive.read_bytes()


def test_missing_path_exits_non_zero_and_records_nothing(db):
    with pytest.raises(CommandError, match="no such file"):
        call_command("ingest_export", "/nonexistent/export")
    assert not IntakeRun.objects.exists()


def test_intake_is_audited_from_queue_to_finish(db, complete_export):
    ingest(complete_export.path)
    run = IntakeRun.objects.get()
    assert run.status == IntakeStatus.SUCCEEDED and run.progress == 100
    actions = list(
        AuditEvent.objects.filter(action__startswith="intake.").order_by("seq").values_list("action", "actor_label")
    )
    assert actions == [
        ("intake.queued", "system:command:ingest_export"),
        ("intake.started", "system:command:ingest_export"),
        ("intake.finished", "system:command:ingest_export"),
    ]
    finished = AuditEvent.objects.get(action="intake.finished")
    assert finished.after["status"] == "complete"
    assert finished.after["load_id"] == complete_export.load_id


def test_queue_option_leaves_the_run_for_the_workers(db, complete_export, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call_command("ingest_export", str(complete_export.path), "--queue", stdout=io.StringIO())
    run = IntakeRun.objects.get()
    assert run.status == IntakeStatus.QUEUED
    assert len(callbacks) == 1
    assert not SourceManifest.objects.exists()


def test_sweeper_fails_only_runs_whose_heartbeat_stopped(db, complete_export):
    import datetime as dt

    from console import clock
    from evidence.intake.services import intake_create, intake_sweep_abandoned

    start = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.timezone.utc)
    runs = [
        intake_create(actor=None, source="command", original_name=f"x{i}", staged_path=complete_export.path, enqueue=False)
        for i in range(2)
    ]
    IntakeRun.objects.filter(pk=runs[0].pk).update(status=IntakeStatus.RUNNING, heartbeat_at=start)
    IntakeRun.objects.filter(pk=runs[1].pk).update(status=IntakeStatus.RUNNING, heartbeat_at=start + dt.timedelta(hours=2))
    with clock.frozen(start + dt.timedelta(hours=2, minutes=30)):
        assert intake_sweep_abandoned(older_than=dt.timedelta(hours=2)) == [runs[0].pk]
    abandoned, alive = (IntakeRun.objects.get(pk=r.pk) for r in runs)
    assert abandoned.status == IntakeStatus.FAILED and "no heartbeat" in abandoned.error
    assert alive.status == IntakeStatus.RUNNING
    assert AuditEvent.objects.filter(action="intake.failed", object_id=str(runs[0].pk)).exists()


def test_the_staged_copy_is_discarded_once_bronze_holds_it(db, complete_export, settings):
    staging = Path(settings.VAR_DIR) / "intake"
    before = set(staging.iterdir()) if staging.exists() else set()
    ingest(complete_export.path)
    assert set(staging.iterdir()) == before


def test_a_redelivered_intake_held_by_a_live_worker_is_looked_at_again_not_dropped(db, complete_export, settings):
    import datetime as dt

    from console import clock
    from evidence.intake.services import IntakeHeld, intake_create, intake_execute

    settings.INTAKE_STALE_SECONDS = 300
    start = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.timezone.utc)
    run = intake_create(actor=None, source="command", original_name="x", staged_path=complete_export.path, enqueue=False)
    IntakeRun.objects.filter(pk=run.pk).update(status=IntakeStatus.RUNNING, heartbeat_at=start, attempts=1)
    with clock.frozen(start + dt.timedelta(seconds=100)), pytest.raises(IntakeHeld) as held:
        intake_execute(run_id=run.pk)
    assert held.value.retry_in == 201  # the rest of the stale time, and a second
    assert IntakeRun.objects.get(pk=run.pk).attempts == 1  # not taken over
    with clock.frozen(start + dt.timedelta(seconds=301)):
        outcome = intake_execute(run_id=run.pk)  # the worker is gone: the look-again takes it over
    run.refresh_from_db()
    assert run.status == IntakeStatus.SUCCEEDED and run.attempts == 2
    assert outcome.manifest == run.manifest


@pytest.mark.catalogue(4)
def test_an_intake_whose_worker_was_lost_on_every_attempt_fails_saying_so_instead_of_a_fourth(
    db, complete_export, settings
):
    import datetime as dt

    from console import clock
    from evidence.intake.services import MAX_INTAKE_ATTEMPTS, IntakeHeld, intake_create, intake_execute

    settings.INTAKE_STALE_SECONDS = 300
    start = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.timezone.utc)
    run = intake_create(actor=None, source="command", original_name="x", staged_path=complete_export.path, enqueue=False)
    IntakeRun.objects.filter(pk=run.pk).update(status=IntakeStatus.RUNNING, heartbeat_at=start,
                                               attempts=MAX_INTAKE_ATTEMPTS)
    # Its worker may still be alive: held, never failed.
    with clock.frozen(start + dt.timedelta(seconds=100)), pytest.raises(IntakeHeld):
        intake_execute(run_id=run.pk)
    assert IntakeRun.objects.get(pk=run.pk).status == IntakeStatus.RUNNING

    with clock.frozen(start + dt.timedelta(seconds=301)):
        assert intake_execute(run_id=run.pk) is None

    run.refresh_from_db()
    assert run.status == IntakeStatus.FAILED and run.attempts == MAX_INTAKE_ATTEMPTS
    assert run.error == f"gave up after {MAX_INTAKE_ATTEMPTS} attempts (each worker was lost mid-run)"
    failed = AuditEvent.objects.get(action="intake.failed", object_id=str(run.pk))
    assert failed.after["error"] == run.error
    assert not SourceManifest.objects.exists()
    assert intake_execute(run_id=run.pk) is None  # a later redelivery finds it final
    assert AuditEvent.objects.filter(action="intake.started", object_id=str(run.pk)).count() == 0


def test_the_partial_and_invalid_samples_of_the_default_seed_ingest_after_the_complete_one(db, tmp_path):
    """`make run` ingests the default seed's complete sample; its partial and invalid variants then ingest as
    what they are, never refused as LOAD_ID_CONFLICT."""
    samples = {variant: write_sample_export(tmp_path / variant, rows=300, variant=variant)
               for variant in ("complete", "partial", "invalid")}
    assert len({sample.load_id for sample in samples.values()}) == 3
    results = {variant: ingest(sample.path) for variant, sample in samples.items()}
    assert [results[v]["status"] for v in ("complete", "partial", "invalid")] == ["complete", "partial", "invalid"]
    codes = {issue["code"] for result in results.values() for issue in result["issues"]}
    assert "LOAD_ID_CONFLICT" not in codes
