"""Published outputs for the consumer API tests: a succeeded run over the sample (tests/deliverables/runs), a real
workbook and a real dashboard payload of two of its clients, put in the lake under
`published/<client>/<kind>/<version>/<file>` and recorded as live Publications (requested by the operator, decided
by the approver), as the publication services leave them; a third known client has nothing published."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from console import clock
from console.lake import get_lake
from deliverables.choices import DeliverableKind, PublicationState, RunState
from deliverables.consumers import selectors, services
from deliverables.models import Deliverable, Publication
from deliverables.payloads import builder
from deliverables.workbooks.services import run_clients
from tests.deliverables.workbooks.conftest import (  # noqa: F401 (fixtures)
    CURATED_DB,
    PERIOD,
    build,
    contract_sample,
    curated_db,
    no_enqueue,
    sample_run,
    var_dir,
)

BASE_URL = "http://testserver"


@dataclass
class Published:
    a: str  # two clients with both kinds published
    b: str
    c: str  # a known client with nothing published
    files: dict  # (client, endpoint) -> the published bytes
    publications: dict  # (client, endpoint) -> Publication


def publish(deliverable: Deliverable, data: bytes, filename: str, requester, approver) -> Publication:
    path = f"published/{deliverable.client_account_id}/{deliverable.kind}/1/{filename}"
    put = get_lake().put(path, data)
    return Publication.objects.create(
        deliverable=deliverable, client_account_id=deliverable.client_account_id, kind=deliverable.kind,
        sha256=put.sha256, state=PublicationState.PUBLISHED, version=1, requested_by=requester, decided_by=approver,
        decided_at=clock.now(), decision_comment="checked", path=path, published_at=clock.now())


def payload_deliverable(workbook: Deliverable, data: bytes) -> Deliverable:
    """The payload as a built deliverable of the same run and client (its bytes: the payload builder's)."""
    return Deliverable.objects.create(
        kind=DeliverableKind.DASHBOARD_PAYLOAD, run=workbook.run, client_account_id=workbook.client_account_id,
        period_start=workbook.period_start, period_end=workbook.period_end, state=RunState.SUCCEEDED,
        requested_by=workbook.requested_by, traceparent=workbook.traceparent, trace_id=workbook.trace_id,
        bytes=len(data))


@pytest.fixture
def published(sample_run, olivia, arthur) -> Published:  # noqa: F811
    known = selectors.known_clients()
    clients = [client for client in run_clients(sample_run) if client in known]
    assert len(clients) >= 3, clients
    a, b, c = clients[:3]
    files, publications = {}, {}
    for client in (a, b):
        workbook = build(olivia, sample_run, client)
        book = get_lake().read(workbook.path)
        payload = builder.payload_bytes(builder.payload_for(sample_run, client, BASE_URL))
        publications[client, "workbook"] = publish(workbook, book, f"{workbook.sha256}.xlsx", olivia, arthur)
        publications[client, "dashboard"] = publish(payload_deliverable(workbook, payload), payload,
                                                    "payload.json", olivia, arthur)
        files[client, "workbook"], files[client, "dashboard"] = book, payload
    return Published(a=a, b=b, c=c, files=files, publications=publications)


def issue(admin, clients: list[str], days: int = services.DEFAULT_DAYS) -> str:
    """A new consumer token's secret."""
    return services.consumer_token_create(actor=admin, name="Domo test", clients=clients, days=days).secret


def consumer(secret: str | None) -> APIClient:
    api = APIClient()
    if secret is not None:
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api
