"""A succeeded run over the sample (tests/deliverables/runs/conftest.py), a workbook and a dashboard payload built
from it in-process, and the helpers the publication tests share."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission

from console.models import AuditEvent
from deliverables.choices import PUBLICATION_TYPE, DeliverableKind
from deliverables.models import Deliverable
from deliverables.workbooks import services as deliverables
from tests.deliverables.workbooks.conftest import (  # noqa: F401 (fixtures)
    a_client,
    contract_sample,
    curated_db,
    no_enqueue,
    sample_run,
    var_dir,
)


def build(actor, run, client, kind=DeliverableKind.WORKBOOK) -> Deliverable:
    """A deliverable of `client` from `run`, queued and built in-process as the worker would."""
    queued = deliverables.deliverable_start(actor=actor, run=run, client=client, kind=kind, enqueue=False)
    done = deliverables.deliverable_execute(deliverable_id=queued.pk, task_id="test", queue="runs")
    assert done is not None and done.state == "succeeded", done and done.error
    return done


@pytest.fixture
def workbook(sample_run, olivia) -> Deliverable:  # noqa: F811
    return build(olivia, sample_run, a_client(sample_run))


def lake_file(path: str) -> Path:
    return Path(settings.LAKE_URL.removeprefix("file://")) / path


def flip_last_bit(path: str) -> None:
    stored = lake_file(path)
    stored.chmod(0o644)
    content = bytearray(stored.read_bytes())
    content[-1] ^= 1
    stored.write_bytes(bytes(content))


def events(action: str, object_id=None) -> list[AuditEvent]:
    rows = AuditEvent.objects.filter(object_type=PUBLICATION_TYPE, action=action)
    if object_id is not None:
        rows = rows.filter(object_id=str(object_id))
    return list(rows.order_by("seq"))


def grant(user, *codenames: str):
    """Capabilities given to this person directly (not through a role), as a test of the rules may need."""
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="console", codename__in=codenames))
    return type(user).objects.get(pk=user.pk)  # a fresh object: Django caches permissions on the instance
