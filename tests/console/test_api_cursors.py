"""A cursor that is not one of the list's is a 400 naming its parameter on every cursor-paged list
(console.api.pagination.invalid_cursor): it was the first page on the missing-evidence flags and a run's findings
(as if no cursor were sent), a 404 elsewhere, and a 500 for a cursor whose position is not the key's type. Runs on
both passes (tests.environment.PARITY_SUITES)."""
from __future__ import annotations

import base64

import pytest

from console.api.pagination import INVALID_CURSOR

pytestmark = [pytest.mark.catalogue(50), pytest.mark.django_db]

LISTS = ["/api/audit-events/", "/api/manifests/", "/api/promotions/", "/api/runs/", "/api/deliverables/",
         "/api/publications/", "/api/evidence-packets/", "/api/evidence-candidates/", "/api/evidence/missing/",
         "/api/people/"]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


NOT_CURSORS = ["garbage", "%%%", _b64("x=1"), _b64("o=-1"), _b64("p=abc"), _b64("p=99999999999999999999999"), _b64("r=x"),
               "n.garbage", "p." + _b64('["x"]'), "x." + _b64("[1]")]


@pytest.mark.parametrize("cursor", NOT_CURSORS)
def test_a_cursor_that_is_not_the_lists_is_400_naming_it(client, adam, cursor):
    client.force_login(adam)
    for url in LISTS:
        response = client.get(url, {"cursor": cursor})
        assert response.status_code == 400, (url, cursor, response.status_code)
        assert response.json() == {"cursor": [INVALID_CURSOR]}, (url, cursor)


def test_the_lists_own_cursors_still_page(client, adam, audrey):
    client.force_login(adam)  # adam and audrey's creation are audited: events to page through
    first = client.get("/api/audit-events/", {"page_size": 1}).json()
    following = client.get(first["next"])
    assert following.status_code == 200 and following.json()["results"]
    assert following.json()["results"][0]["seq"] < first["results"][0]["seq"]
    back = client.get(following.json()["previous"])
    assert back.status_code == 200 and back.json()["results"] == first["results"]
    assert client.get("/api/audit-events/", {"cursor": ""}).json()["results"]  # no cursor: the first page


def test_the_schema_documents_400_not_404_on_cursor_lists(client, adam):
    client.force_login(adam)
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    for url in LISTS:
        responses = paths[url]["get"]["responses"]
        assert "400" in responses and "404" not in responses, url
