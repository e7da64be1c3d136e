"""Fixtures of the promotion tests: sample exports received through the real intake, and requests on them."""
from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
from pathlib import Path

import pytest
import redis
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connections

from console import roles
from evidence.models import SourceManifest
from evidence.samples.export import DEFAULT_EXPORTED_AT, write_sample_export
from promotion import services, tasks
from promotion.gates import flaw_fingerprint, flaws_behind
from promotion.models import PromotionRequest

CLAIMS = "PBM Claims 2025"
CONTRACT_TERMS = "Contract Terms 2025"


def ingest(path: Path) -> SourceManifest:
    call_command("ingest_export", str(path), stdout=io.StringIO())
    return SourceManifest.objects.latest("id")


@pytest.fixture
def manifest(db, tmp_path, states) -> SourceManifest:
    """The generated sample export, received complete (few rows)."""
    return states.get("sample manifest", lambda: ingest(write_sample_export(tmp_path / "complete", rows=30).path))


@pytest.fixture
def partial_manifest(db, tmp_path, states) -> SourceManifest:
    received = states.get("partial sample manifest", lambda: ingest(
        write_sample_export(tmp_path / "partial", rows=30, seed=8, variant="partial").path))
    assert received.status == "partial"
    return received


@pytest.fixture
def invalid_manifest(db, tmp_path, states) -> SourceManifest:
    received = states.get("invalid sample manifest", lambda: ingest(
        write_sample_export(tmp_path / "invalid", rows=30, seed=9, variant="invalid").path))
    assert received.status == "invalid"
    return received


def dataset(manifest: SourceManifest, name: str = CLAIMS):
    return manifest.datasets.get(name=name)


def make_approver(username: str):
    user = get_user_model().objects.create_user(username=username, password="x")
    user.groups.add(Group.objects.get(name=roles.APPROVER))
    return user


@pytest.fixture
def bruno(seeded_roles):
    """A second approver, for races."""
    return make_approver("bruno")


def disposition_all(actor, manifest: SourceManifest, datasets, decision="legacy_fixture_only") -> int:
    fingerprints = {flaw_fingerprint(flaw) for flaw in flaws_behind(manifest, list(datasets))}
    for fingerprint in sorted(fingerprints):
        services.flaw_disposition_set(
            actor=actor, manifest=manifest, fingerprint=fingerprint, decision=decision,
            note="Domo's legacy number, kept only to compare against",
        )
    return len(fingerprints)


def checked(request: PromotionRequest) -> PromotionRequest:
    services.promotion_check(request_id=request.pk)
    request.refresh_from_db()
    return request


def forced(manifest: SourceManifest, *, requested_by, approved_by=None, state="approved", datasets=None) -> PromotionRequest:
    """A request written straight to the database, past every service (what a crafted message would name)."""
    request = PromotionRequest.objects.create(
        manifest=manifest, requested_by=requested_by, approved_by=approved_by, state=state,
        approval_fingerprint="0" * 64 if state == "approved" else "",
    )
    request.datasets.set(datasets if datasets is not None else [dataset(manifest)])
    return request


@pytest.fixture
def ready_request(manifest, olivia) -> PromotionRequest:
    """Olivia's request for the claims dataset, every flaw behind it dispositioned, gates passed."""
    disposition_all(olivia, manifest, [dataset(manifest)])
    request = services.promotion_request(actor=olivia, manifest=manifest, datasets=[dataset(manifest)])
    request = checked(request)
    assert request.state == "ready", list(request.gate_results.values_list("gate", "outcome", "details"))
    return request


# --- the curated store (loads and rollbacks) -------------------------------------------------------

REBATES = "Rebate Invoices 2025"
CURATED_DB = pytest.mark.django_db(transaction=True, databases=["default", "curated"])


@pytest.fixture
def curated_db():
    """The curated alias; a transactional test's flush only empties Django's tables, so the curated ones go here."""
    connection = connections["curated"]
    yield connection
    connection.ensure_connection()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'curated\\_%'")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'curated\\_%' ESCAPE '\\'")
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP TABLE "{name}"')


def queued(queue: str = "promotion") -> list[tuple[str, tuple]]:
    """(task name, args) of the messages waiting in one queue of this run's real broker, oldest first
    (the test Redis, under this run's key prefix: no worker of the test reads them)."""
    client = redis.Redis.from_url(os.environ["TEST_REDIS_URL"])
    found = []
    for raw in reversed(client.lrange(os.environ["CELERY_REDIS_KEY_PREFIX"] + queue, 0, -1)):  # LPUSHed
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], tuple(args)))
    return found


class LoadMessages:
    """The load tasks an approval sent (after its commit) to the real broker, where no worker reads them:
    the tests run the task themselves (`tasks.promotion_load(pk)`, the body the worker would run)."""

    def sent(self) -> list[tuple]:
        return [args for name, args in queued() if name == services.LOAD_TASK]


@pytest.fixture
def no_enqueue(broker) -> LoadMessages:
    """The load messages of this test, on the real broker emptied before and after it (no worker reads them)."""
    return LoadMessages()


def approve(request: PromotionRequest, approver) -> PromotionRequest:
    return services.promotion_approve(actor=approver, request=request, comment="figures match Domo")


def promoted(manifest: SourceManifest, name: str, requester, approver, *, worker=None) -> PromotionRequest:
    """One dataset of a manifest requested, dispositioned, checked, approved and loaded: by the real `worker`
    when the test runs one (it reads the load message the approval sent), else by the task in-process."""
    chosen = dataset(manifest, name)
    disposition_all(requester, manifest, [chosen])
    request = checked(services.promotion_request(actor=requester, manifest=manifest, datasets=[chosen], enqueue=False))
    assert request.state == "ready", list(request.gate_results.values_list("gate", "outcome", "details"))
    approve(request, approver)
    if worker is None:
        tasks.promotion_load(request.pk)
    else:
        from tests.support.worker import wait_until

        wait_until(lambda: PromotionRequest.objects.get(pk=request.pk).is_final, timeout=120,
                   message=f"the worker to load promotion #{request.pk}")
    request.refresh_from_db()
    assert request.state == "promoted", request.error
    return request


def second_manifest(tmp_path: Path) -> SourceManifest:
    """A later export of the same Domo instance (same dataset ids, more claims, another load id)."""
    later = DEFAULT_EXPORTED_AT + dt.timedelta(days=1)
    return ingest(write_sample_export(tmp_path / "later", rows=40, exported_at=later).path)


@pytest.fixture
def contract_then_migration(manifest, tmp_path, olivia, adam, arthur, curated_db) -> str:
    """The rebate invoices promoted into a backend contract by Adam (v1), then for the migration by Olivia
    (v2, current): a rollback to v1 inherits the contract target. Returns the dataset key."""
    from promotion import curated

    rebates = dataset(manifest, REBATES)
    disposition_all(adam, manifest, [rebates])
    first = checked(services.promotion_request(actor=adam, manifest=manifest, datasets=[rebates],
                                               target="contract", enqueue=False))
    approve(first, arthur)
    tasks.promotion_load(first.pk)
    first.refresh_from_db()
    assert first.state == "promoted", first.error
    promoted(second_manifest(tmp_path), REBATES, olivia, arthur)
    assert curated.read_current(curated_db, rebates.domo_id).version == 2
    return rebates.domo_id




@pytest.fixture
def approved_rebates(manifest, olivia, arthur) -> PromotionRequest:
    """The rebate invoices (a dataset with golden packets: several pointers) requested, checked and approved;
    its load message waits in this run's broker (use with no_enqueue), the test runs the load."""
    rebates = dataset(manifest, REBATES)
    disposition_all(olivia, manifest, [rebates])
    request = checked(services.promotion_request(actor=olivia, manifest=manifest, datasets=[rebates], enqueue=False))
    assert request.state == "ready", list(request.gate_results.values_list("gate", "outcome", "details"))
    return approve(request, arthur)


BIG_ROWS = 200_000  # four record batches of the curated copy (64K rows each): a load long enough to kill mid-way


@pytest.fixture
def big_ready_request(states, tmp_path, olivia) -> PromotionRequest:
    """Olivia's request for the claims of a 200 000-row export, its flaws dispositioned and its gates passed
    (built once per test process, restored afterwards): the load a worker is killed in."""
    def build() -> PromotionRequest:
        manifest = ingest(write_sample_export(tmp_path / "big", rows=BIG_ROWS, seed=23).path)
        claims = dataset(manifest)
        disposition_all(olivia, manifest, [claims])
        request = services.promotion_request(actor=olivia, manifest=manifest, datasets=[claims], enqueue=False)
        return checked(request)

    request = states.get(f"promotion: {BIG_ROWS}-row claims requested, gates passed", build)
    request.refresh_from_db()
    assert request.state == "ready", list(request.gate_results.values_list("gate", "outcome", "details"))
    return request
