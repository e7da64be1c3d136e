"""The candidate pages: the list and a registration's detail (provenance, mapping, rows keyset-paged, the
candidate badge), the register form (proposal pre-filled, required marked, refusals shown on the column they
name) and who may see and use them."""
from __future__ import annotations

import pytest
from django.test import Client

from console.models import AuditEvent
from evidence.candidates.models import DomoCandidateSet
from tests.conftest import PASSWORD
from tests.evidence.candidates.conftest import dataset, proposed, register

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _form(manifest, **changes) -> dict:
    data = dataset(manifest)
    mapping = {**proposed(data, "contract"), **changes}
    return {"dataset": data.pk, "kind": "contract", "note": "Domo's keyed terms",
            **{f"map_{column}": domo for column, domo in mapping.items()}}


def test_the_list_shows_each_registration_with_its_candidate_badge(manifest, olivia, cecilia):
    candidate_set = register(olivia, manifest).candidate_set

    page = signed_in(cecilia).get("/evidence/candidates/")

    text = page.content.decode()
    assert page.status_code == 200
    assert f'href="/evidence/candidates/{candidate_set.pk}/"' in text and 'data-class="candidate"' in text
    assert manifest.load_id in text and "Contract Terms 2025" in text and ">24<" in text
    assert 'href="/evidence/candidates/"' in text  # in the navigation


def test_the_detail_shows_provenance_mapping_and_rows_by_keyset_pages(manifest, olivia, audrey):
    candidate_set = register(olivia, manifest).candidate_set
    client = signed_in(audrey)

    first = client.get(f"/evidence/candidates/{candidate_set.pk}/").content.decode()

    assert 'id="candidate-class"' in first and "Brand/Generic" in first
    assert first.count(f'<td class="mono">{candidate_set.dataset_domo_id}</td>') == 24
    paged = client.get(f"/evidence/candidates/{candidate_set.pk}/?after=20").content.decode()
    assert paged.count(f'<td class="mono">{candidate_set.load_id}</td>') == 4


def test_the_dataset_page_links_to_the_form_for_those_who_may_register(manifest, olivia, arthur):
    url = f"/sources/datasets/{dataset(manifest).pk}/"

    assert 'id="register-candidate"' in signed_in(olivia).get(url).content.decode()
    assert 'id="register-candidate"' not in signed_in(arthur).get(url).content.decode()
    candidate_set = register(olivia, manifest).candidate_set
    shown = signed_in(arthur).get(url).content.decode()
    assert f'<span class="badge badge-warn">candidate</span> <a href="/evidence/candidates/{candidate_set.pk}/">' in shown


def test_the_form_proposes_the_mapping_and_marks_required_columns(manifest, olivia):
    page = signed_in(olivia).get(f"/evidence/candidates/register/?dataset={dataset(manifest).pk}").content.decode()

    assert '<option value="Brand/Generic" selected>' in page
    assert page.count('badge badge-bad">required') == 5


def test_htmx_asks_for_the_mapping_of_another_kind(manifest, olivia):
    fragment = signed_in(olivia).get(
        f"/evidence/candidates/register/?dataset={dataset(manifest, 'MAC Pricing').pk}&kind=pricing",
        HTTP_HX_REQUEST="true").content.decode()

    assert fragment.startswith('<table class="narrow-table" id="mapping-table" data-kind="pricing">')
    assert '<option value="MAC List" selected>' in fragment


def test_registering_through_the_form_redirects_to_the_rows(manifest, olivia):
    answer = signed_in(olivia).post("/evidence/candidates/register/", _form(manifest))

    candidate_set = DomoCandidateSet.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/evidence/candidates/{candidate_set.pk}/"
    assert (candidate_set.rows, candidate_set.note, candidate_set.registered_by) == (24, "Domo's keyed terms", olivia)


def test_a_refusal_is_shown_on_the_column_it_names_and_nothing_is_stored(manifest, olivia):
    answer = signed_in(olivia).post("/evidence/candidates/register/", _form(manifest, period_end=""))

    text = answer.content.decode()
    assert answer.status_code == 400
    assert "field period_end: is required for contract evidence and is not mapped" in text
    assert not DomoCandidateSet.objects.exists()
    assert not AuditEvent.objects.filter(action="evidence.candidate.registered").exists()


@pytest.mark.parametrize("persona", ["arthur", "cecilia", "audrey", "oscar"])
def test_only_operators_and_admins_may_register(manifest, persona, request):
    user = request.getfixturevalue(persona)
    client = signed_in(user)

    assert client.get(f"/evidence/candidates/register/?dataset={dataset(manifest).pk}").status_code == 403
    assert client.post("/evidence/candidates/register/", _form(manifest)).status_code == 403
    assert client.get("/evidence/candidates/").status_code == (403 if persona == "oscar" else 200)
    assert not DomoCandidateSet.objects.exists()


def test_an_admin_may_register(manifest, adam):
    assert signed_in(adam).post("/evidence/candidates/register/", _form(manifest)).status_code == 302


def _queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_list_and_detail_query_counts_do_not_grow_with_the_registrations(manifest, olivia, cecilia):
    client = signed_in(cecilia)
    first = register(olivia, manifest).candidate_set
    few = (_queries(client, "/evidence/candidates/"), _queries(client, f"/evidence/candidates/{first.pk}/"))

    register(olivia, manifest, component="")
    register(olivia, manifest, "MAC Pricing", "pricing")

    assert (_queries(client, "/evidence/candidates/"), _queries(client, f"/evidence/candidates/{first.pk}/")) == few
