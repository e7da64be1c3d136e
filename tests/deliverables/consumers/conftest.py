"""Published outputs for the consumer API tests: a succeeded run over the sample (tests/deliverables/runs), a real
workbook and a real dashboard payload of two of its clients, published through the publication services (requested by
the operator, approved by the approver: the files under `published/<client>/<kind>/<version>/<file>`); a third known
client has nothing published."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from console.lake import get_lake
from deliverables.choices import DeliverableKind
from deliverables.consumers import selectors, services
from deliverables.models import Deliverable, Publication
from deliverables.publication.services import publication_approve, publication_request
from deliverables.workbooks.services import run_clients
from tests.deliverables.publication.conftest import build
from tests.deliverables.workbooks.conftest import (  # noqa: F401 (fixtures)
    CURATED_DB,
    PERIOD,
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


def publish(deliverable: Deliverable, requester, approver) -> Publication:
    """Published through the publication services: requested by one person, approved by another."""
    requested = publication_request(actor=requester, deliverable=deliverable, comment="for the client's dashboard")
    return publication_approve(actor=approver, publication=requested, comment="checked", sha256=deliverable.sha256)


@pytest.fixture
def published(sample_run, olivia, arthur) -> Published:  # noqa: F811
    known = selectors.known_clients()
    clients = [client for client in run_clients(sample_run) if client in known]
    assert len(clients) >= 3, clients
    a, b, c = clients[:3]
    files, publications = {}, {}
    for client in (a, b):
        workbook = build(olivia, sample_run, client)
        payload = build(olivia, sample_run, client, kind=DeliverableKind.DASHBOARD_PAYLOAD)
        publications[client, "workbook"] = publish(workbook, olivia, arthur)
        publications[client, "dashboard"] = publish(payload, olivia, arthur)
        files[client, "workbook"] = get_lake().read(workbook.path)
        files[client, "dashboard"] = get_lake().read(payload.path)
    return Published(a=a, b=b, c=c, files=files, publications=publications)


def issue(admin, clients: list[str], days: int = services.DEFAULT_DAYS) -> str:
    """A new consumer token's secret."""
    return services.consumer_token_create(actor=admin, name="Domo test", clients=clients, days=days).secret


def consumer(secret: str | None) -> APIClient:
    api = APIClient()
    if secret is not None:
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api
