"""Promotion API: its OpenAPI schema."""
from __future__ import annotations

import yaml
from django.core.management import call_command


def test_the_schema_documents_the_promotion_api_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/promotions/"])
    assert set(paths["/api/promotions/{id}/approve/"]["post"]["responses"]) >= {"200", "400", "403", "409"}
    parameters = {p["name"] for p in paths["/api/promotions/"]["get"]["parameters"]}
    assert parameters >= {"state", "target", "manifest"}
    for url in ["/api/promotions/{id}/", "/api/curated/", "/api/curated/{key}/versions/",
                "/api/manifests/{id}/flaws-to-disposition/", "/api/promotions/{id}/flaws/"]:
        assert "get" in paths[url], url
    assert "delete" in paths["/api/manifests/{id}/dispositions/{fingerprint}/"]
    assert "post" in paths["/api/curated/{key}/rollback/"]
    # The request's kind is an enum of its own, beside evidence's (a manifest's missing kinds).
    enums = schema["components"]["schemas"]
    assert enums["PromotionKindEnum"]["enum"] == ["promotion", "rollback"]
    for component in ["PromotionRequest", "PromotionRequestDetail"]:
        kind = enums[component]["properties"]["kind"]
        assert kind["allOf"] == [{"$ref": "#/components/schemas/PromotionKindEnum"}], component
    assert enums["KindEnum"]["enum"] == ["dataset", "card", "dataflow", "policies", "golden"]
