"""Id filters (`?manifest=`, `?dataset=`, `?run=`...) on the API's lists and the list pages: an id is a whole number
from 1 to the largest bigint (console.filtersets.IdFilter). Anything else is refused naming the parameter, never a
500 (an id past bigint was SQLite's OverflowError) and never read as another id (`1.5` was manifest 1's rows).
Runs on both passes (tests.environment.PARITY_SUITES): the 500 was SQLite's."""
from __future__ import annotations

import pytest

from evidence.samples.export import write_sample_export
from tests.conftest import PERSONAS, make_persona
from tests.promotion.conftest import ingest

pytestmark = [pytest.mark.catalogue(50)]

BIGINT_MAX = 2**63 - 1

# Every list filtered by an id, by each id filter it takes.
API_ID_FILTERS = [
    *((f"/api/{name}/", "manifest") for name in (
        "datasets", "cards", "dataflows", "policies", "issues", "calculation-flaws", "promotions", "beast-modes")),
    ("/api/cards/", "dataset"),
    ("/api/cards/", "domo_id"),
    ("/api/dataflows/", "domo_id"),
    ("/api/beast-modes/", "card"),
    ("/api/beast-modes/", "dataset"),
    ("/api/policies/", "dataset"),
    ("/api/evidence-candidates/", "dataset"),
    ("/api/deliverables/", "run"),
    ("/api/publications/", "deliverable"),
]
NOT_IDS = ["99999999999999999999999", str(BIGINT_MAX + 1), "1.5", "0", "-1", "abc"]
# The list pages on the same filter sets.
PAGE_ID_FILTERS = [
    ("/sources/issues/", "manifest"),
    ("/promotions/", "manifest"),
    ("/evidence/candidates/", "dataset"),
    ("/deliverables/", "run"),
    ("/publications/", "deliverable"),
]


@pytest.fixture
def everyone(seeded_roles):
    return {name: make_persona(name) for name in PERSONAS}


@pytest.mark.django_db
@pytest.mark.parametrize("value", NOT_IDS)
def test_a_value_that_is_not_an_id_is_400_naming_the_filter_for_every_role(client, everyone, value):
    for persona, user in everyone.items():
        client.force_login(user)
        for url, name in API_ID_FILTERS:
            response = client.get(url, {name: value})
            if response.status_code == 403:  # the role does not read this list: refused before any filter
                continue
            assert response.status_code == 400, (persona, url, name, response.status_code)
            assert list(response.json()) == [name], (persona, url, name, response.json())
            assert "whole number from 1 to 9223372036854775807" in response.json()[name][0]
    client.force_login(everyone["adam"])  # an admin reads every one of these lists
    assert all(client.get(url, {name: value}).status_code == 400 for url, name in API_ID_FILTERS)


@pytest.mark.django_db
def test_an_id_still_filters_and_the_largest_bigint_is_an_id_with_no_rows(client, everyone, states, tmp_path):
    manifest = states.get("sample manifest", lambda: ingest(write_sample_export(tmp_path / "export", rows=30).path))
    client.force_login(everyone["olivia"])

    listed = client.get("/api/datasets/", {"manifest": manifest.pk})
    half = client.get("/api/datasets/", {"manifest": f"{manifest.pk}.5"})  # was this manifest's datasets
    largest = client.get("/api/datasets/", {"manifest": BIGINT_MAX})

    assert listed.status_code == 200 and listed.json()["results"]
    assert {row["manifest"] for row in listed.json()["results"]} == {manifest.pk}
    assert half.status_code == 400 and list(half.json()) == ["manifest"]
    assert largest.status_code == 200 and largest.json()["results"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["99999999999999999999999", "1.5"])
def test_the_list_pages_show_the_filter_error_not_a_500(client, everyone, value):
    client.force_login(everyone["adam"])
    for url, name in PAGE_ID_FILTERS:
        response = client.get(url, {name: value})
        assert response.status_code == 200, (url, response.status_code)
        assert "whole number from 1 to 9223372036854775807" in response.content.decode(), url


@pytest.mark.django_db
def test_the_schema_types_id_filters_integer(client, everyone):
    client.force_login(everyone["adam"])
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    for url, name in API_ID_FILTERS:
        parameter = next(p for p in paths[url]["get"]["parameters"] if p["name"] == name)
        assert parameter["schema"]["type"] == "integer", (url, name, parameter)
