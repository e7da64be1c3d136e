"""Hostile JSON bodies (100,000 nested arrays, a 5,000-digit integer, NaN, Infinity, a number overflowing to
infinity) get a 400 saying what was refused, never a 500; and every API view parses JSON with that parser."""
from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.parsers import JSONParser

from console.api.parsers import MAX_DEPTH, SafeJSONParser

pytestmark = [pytest.mark.catalogue(42, 50)]

ANALYZE = "/api/formulas/analyze/"
HOSTILE = {
    "nested-100k": (b"[" * 100_000 + b"]" * 100_000, f"deeper than {MAX_DEPTH} levels"),
    "nested-in-a-field": (b'{"formula": ' + b"[" * 65 + b"]" * 65 + b"}", f"deeper than {MAX_DEPTH} levels"),
    "integer-5000-digits": (b'{"formula": "SUM(`a`)", "x": ' + b"9" * 5000 + b"}", "an integer of 5,000 digits"),
    "nan": (b'{"formula": NaN}', "NaN is not a JSON number"),
    "infinity": (b'{"formula": Infinity}', "Infinity is not a JSON number"),
    "minus-infinity": (b'{"formula": -Infinity}', "-Infinity is not a JSON number"),
    "overflow": (b'{"formula": 1e999}', "'1e999' is out of range"),
}


def api_views(patterns=None, prefix=""):
    """(route, view class) of every DRF view the URLconf reaches."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from api_views(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "cls"):
            yield prefix + str(pattern.pattern), pattern.callback.cls


@pytest.mark.parametrize("body", list(HOSTILE), ids=list(HOSTILE))
def test_a_hostile_json_body_is_a_400_saying_what_was_refused(client, olivia, body):
    raw, words = HOSTILE[body]
    client.force_login(olivia)
    response = client.post(ANALYZE, raw, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    detail = response.json()["detail"]
    assert detail.startswith("JSON parse error - ") and words in detail, detail
    assert "Traceback" not in detail and "set_int_max_str_digits" not in detail


def test_a_hostile_body_to_a_create_is_a_400_and_creates_nothing(client, olivia):
    from promotion.models import PromotionRequest

    client.force_login(olivia)
    response = client.post("/api/promotions/", b"[" * 100_000 + b"]" * 100_000, content_type="application/json")
    assert response.status_code == 400
    assert not PromotionRequest.objects.exists()


def test_a_body_within_the_limits_is_read_as_sent(client, olivia):
    client.force_login(olivia)
    body = b'{"formula": "SUM(`a`)", "x": [' + b"[" * (MAX_DEPTH - 3) + b"]" * (MAX_DEPTH - 3) + b'], "n": 1e308}'
    assert client.post(ANALYZE, body, content_type="application/json").status_code == 200


def test_every_api_view_parses_json_with_the_safe_parser():
    views = list(api_views())
    assert len(views) > 30
    for route, view in views:
        json_parsers = [p for p in view().get_parsers() if isinstance(p, JSONParser)]
        assert all(isinstance(p, SafeJSONParser) for p in json_parsers), route
