"""POST /api/evidence-candidates/ through a real HTTP server, signed in by the login page (session cookie and
CSRF token): 201 with a plain-str Location; a retry with its Idempotency-Key answers the first answer."""
from __future__ import annotations

import uuid

from console.models import AuditEvent
from evidence.candidates.models import DomoCandidateSet
from tests.conftest import PASSWORD
from tests.evidence.candidates.conftest import dataset, proposed
from tests.support.api import Api


def test_an_operator_registers_through_the_api(live_server, manifest, olivia):
    api, key = Api.signed_in(live_server.url, "olivia", PASSWORD), str(uuid.uuid4())
    contract_terms = dataset(manifest)
    body = {"dataset": contract_terms.pk, "kind": "contract", "mapping": proposed(contract_terms, "contract")}

    first = api.post("/api/evidence-candidates/", body, key=key)
    again = api.post("/api/evidence-candidates/", body, key=key)

    assert first.status_code == 201, first.text
    candidate_set = DomoCandidateSet.objects.get()
    url = f"{live_server.url}/api/evidence-candidates/{candidate_set.pk}/"
    assert first.headers["Location"] == url and first.json()["url"] == url
    assert (first.json()["rows"], first.json()["evidence_class"], candidate_set.registered_by) == (24, "candidate", olivia)
    assert (again.status_code, again.json(), again.headers["Idempotent-Replayed"]) == (201, first.json(), "true")
    assert AuditEvent.objects.filter(action="evidence.candidate.registered").count() == 1
    rows = api.get(f"/api/evidence-candidates/{candidate_set.pk}/rows/").json()["results"]
    assert rows[0]["load_id"] == manifest.load_id and rows[-1]["row"] == 24
