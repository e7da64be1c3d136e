"""The candidate API: list, detail, rows (keyset pages, provenance on every row), the proposal, and POST (201 with
its Location, 200 unchanged, 400 with every issue located, 403 for roles that may not); the verify endpoint
cannot address a candidate set; the OpenAPI schema documents it all without warnings."""
from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

from evidence.candidates.models import DomoCandidateSet
from evidence.packets.models import EvidencePacket
from tests.evidence.candidates.conftest import MAC_PRICING, dataset, proposed, register

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _body(manifest, **changes) -> dict:
    data = dataset(manifest)
    return {"dataset": data.pk, "kind": "contract", "mapping": {**proposed(data, "contract"), **changes}}


def test_the_list_detail_and_rows_show_candidate_evidence_with_its_provenance(manifest, olivia, cecilia):
    candidate_set = register(olivia, manifest).candidate_set
    client = api(cecilia)

    (listed,) = client.get("/api/evidence-candidates/?kind=contract").json()["results"]
    assert (listed["id"], listed["evidence_class"], listed["rows"], listed["load_id"]) == (
        candidate_set.pk, "candidate", 24, manifest.load_id)
    assert client.get("/api/evidence-candidates/?kind=pricing").json()["results"] == []
    detail = client.get(f"/api/evidence-candidates/{candidate_set.pk}/").json()
    assert detail["mapping"]["drug_class"] == "Brand/Generic" and detail["registered_by"] == "olivia"

    page = client.get(f"/api/evidence-candidates/{candidate_set.pk}/rows/?page_size=10").json()
    first = page["results"][0]
    assert (first["row"], first["load_id"], first["dataset_id"], first["evidence_class"]) == (
        1, manifest.load_id, candidate_set.dataset_domo_id, "candidate")
    assert first["values"]["drug_class"] == "brand"
    following = client.get(page["next"]).json()["results"]
    assert [r["row"] for r in following] == list(range(11, 21))


def test_the_proposal_names_each_record_column_with_its_domo_column(manifest, cecilia):
    answer = api(cecilia).get(f"/api/evidence-candidates/proposal/?dataset={dataset(manifest, MAC_PRICING).pk}"
                              "&kind=pricing")

    assert answer.status_code == 200
    assert answer.json()["mapping"]["price_list"] == "MAC List"
    assert answer.json()["columns"][0] == {"column": "price_list", "required": True, "domo_column": "MAC List",
                                           "matched_by": "synonym"}
    assert api(cecilia).get("/api/evidence-candidates/proposal/?dataset=1&kind=nope").status_code == 400


def test_post_registers_answers_201_then_200_unchanged(manifest, olivia):
    first = api(olivia).post("/api/evidence-candidates/", _body(manifest), format="json")
    again = api(olivia).post("/api/evidence-candidates/", _body(manifest), format="json")

    candidate_set = DomoCandidateSet.objects.get()
    assert first.status_code == 201 and first.json()["status"] == "registered"
    assert first["Location"].endswith(f"/api/evidence-candidates/{candidate_set.pk}/")
    assert again.status_code == 200 and again.json()["status"] == "unchanged" and again.json()["id"] == candidate_set.pk


def test_post_refuses_with_every_issue_located(manifest, olivia):
    answer = api(olivia).post("/api/evidence-candidates/", _body(manifest, client_account_id="Client Account"),
                              format="json")

    assert answer.status_code == 400
    first = answer.json()["issues"][0]
    assert (first["row"], first["column"], first["field"], first["file"]) == (
        1, "Client Account", "client_account_id", dataset(manifest).silver_path)
    assert not DomoCandidateSet.objects.exists()


@pytest.mark.parametrize("persona", ["arthur", "cecilia", "audrey", "oscar"])
def test_post_is_forbidden_to_roles_that_may_not_register(manifest, persona, request):
    answer = api(request.getfixturevalue(persona)).post("/api/evidence-candidates/", _body(manifest), format="json")

    assert answer.status_code == 403 and not DomoCandidateSet.objects.exists()


def test_the_verify_endpoint_cannot_address_a_candidate_set(manifest, olivia, arthur):
    candidate_set = register(olivia, manifest).candidate_set
    assert not EvidencePacket.objects.filter(pk=candidate_set.pk).exists()

    answer = api(arthur).post(f"/api/evidence-packets/{candidate_set.pk}/revisions/1/verify/",
                              {"sha256": candidate_set.mapping_sha256, "comment": "checked"}, format="json")

    assert answer.status_code == 404
    assert not any("verify" in path for path in _schema()["paths"] if "candidate" in path)


def _schema() -> dict:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "schema.yml"
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
        return yaml.safe_load(target.read_text())


def test_the_schema_documents_the_candidate_api_without_warnings():
    paths = _schema()["paths"]

    assert {"get", "post"} <= set(paths["/api/evidence-candidates/"])
    assert set(paths["/api/evidence-candidates/"]["post"]["responses"]) >= {"200", "201", "400", "403"}
    for url in ["/api/evidence-candidates/{id}/", "/api/evidence-candidates/{id}/rows/",
                "/api/evidence-candidates/proposal/"]:
        assert "get" in paths[url], url
    parameters = {p["name"] for p in paths["/api/evidence-candidates/"]["get"]["parameters"]}
    assert parameters >= {"kind", "dataset", "load_id", "cursor"}
