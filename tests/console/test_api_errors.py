"""The API's refusals, as the schema documents them and as a client gets them (findings of the API fuzz,
tests/console/test_api_fuzz.py: each was an answer the schema did not document)."""
from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    target = tmp_path_factory.mktemp("schema") / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    return yaml.safe_load(target.read_text())


def _operations(schema: dict):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def _refers_to_error(response: dict) -> bool:
    return response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_every_operation_documents_401_and_403_with_a_message(schema):
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        assert {"401", "403"} <= set(responses), (method, path)
        assert _refers_to_error(responses["401"]), (method, path)
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]


def test_every_operation_on_an_object_documents_404(schema):
    for path, method, operation in _operations(schema):
        if "{" in path:
            assert "404" in operation["responses"], (method, path)


def test_filtered_and_cursor_lists_document_400_and_numbered_pages_404(schema):
    """A bad filter value or cursor is a 400 naming its parameter (a bad cursor was a 404); a page past the last
    of a list paged by number is DRF's 404."""
    promotions = schema["paths"]["/api/promotions/"]["get"]["responses"]
    assert {"200", "400"} <= set(promotions) and "404" not in promotions
    assert "400" in schema["paths"]["/api/audit-events/"]["get"]["responses"]
    assert "400" in schema["paths"]["/api/consumer-tokens/"]["get"]["responses"]  # no filter, a cursor
    assert "404" in schema["paths"]["/api/curated/"]["get"]["responses"]  # paged by number


@pytest.mark.parametrize("path", ["/api/curated/", "/api/curated/{key}/versions/",
                                  "/api/promotions/{id}/flaws/", "/api/manifests/{id}/flaws-to-disposition/"])
def test_lists_paged_in_memory_are_documented_as_pages(schema, path):
    """They answered {"count", "next", "previous", "results"} while the schema promised one object."""
    ok = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    page = schema["components"]["schemas"][ok["$ref"].rsplit("/", 1)[1]]
    assert {"count", "results"} <= set(page["properties"])


@pytest.mark.django_db
def test_an_api_url_that_matches_nothing_answers_json_404(client, olivia):
    """`/api/promotions/abc/` (no integer) was Django's HTML page; an API client reads JSON."""
    client.force_login(olivia)
    response = client.get("/api/promotions/abc/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "no API endpoint at /api/promotions/abc/"}


@pytest.mark.django_db
def test_a_page_url_that_matches_nothing_still_answers_the_html_page(client, olivia):
    client.force_login(olivia)
    response = client.get("/promotions/abc/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/api/intake-runs/", "/api/evidence-packets/"])
def test_an_upload_is_documented_as_a_binary_file_part(schema, path):
    """The upload fields were `type: string, format: uri`: a client generated from the schema sent a URL."""
    body = schema["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    upload = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert upload["properties"]["file"]["type"] == "string"
    assert upload["properties"]["file"]["format"] == "binary"
    assert upload["required"] == ["file"]


def test_no_request_body_asks_for_a_uri_where_a_file_goes(schema):
    for path, method, operation in _operations(schema):
        for media, content in operation.get("requestBody", {}).get("content", {}).items():
            if media != "multipart/form-data":
                continue
            ref = content["schema"].get("$ref", "")
            fields = schema["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
            assert not [name for name, field in fields.items() if field.get("format") == "uri"], (method, path)
