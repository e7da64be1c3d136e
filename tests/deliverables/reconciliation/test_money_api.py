"""Exact decimals through the API (a card mapping's tolerances: the API's amounts in): sent as JSON strings they
come back exactly through the API, the database, the engine's mapping and the export they leave by (the audit
trail's CSV and JSON Lines export, whose mapping events hold each saved version); a JSON number, NaN, Infinity or
more places than the field holds is a 400 naming the field, and nothing is saved. Runs on PostgreSQL and on
SQLite."""
from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest

from deliverables.models import CardMapping
from deliverables.reconciliation import services
from deliverables.reconciliation.mappings import engine_mapping
from tests.deliverables.reconciliation.conftest import EFFECTIVE
from tests.deliverables.reconciliation.test_api import mapping_body, subject_path

pytestmark = [pytest.mark.django_db(transaction=True, databases=["default", "curated"]), pytest.mark.catalogue(45, 50)]

EXACT = [
    ("1234567890.123456789012345678", "1234567890.123456789012345678"),  # 28 significant digits
    ("0.000000000000000001", "0.000000000000000001"),  # the 18 places the field holds
    ("0.01", "0.01"),
    ("1E-2", "0.01"),  # an exponent is written out
    ("2.5e+3", "2500"),
    ("-0", "0"),  # negative zero is zero
    ("-0.00", "0"),
]
REFUSED = [
    (0.01, "JSON string"), (1, "JSON string"), ("NaN", "valid number"), ("Infinity", "valid number"),
    ("-Infinity", "valid number"), ("0.0000000000000000001", "decimal places"), ("1E+40", "digits"),
    ("12345678901234567890123456789.5", "digits"), ("-0.01", "greater than or equal to 0"),
]


def post_tolerance(client, subject, value):
    body = mapping_body(services.current_mapping(subject.kind, subject.id))
    body["measures"][0] = {**body["measures"][0], "abs_tolerance": value}
    return client.post(subject_path(subject, "mappings/"), json.dumps(body), content_type="application/json")


def test_tolerances_sent_as_strings_come_back_exactly(mapped, olivia, client):
    subject = mapped.subject(EFFECTIVE)
    client.force_login(olivia)
    for sent, kept in EXACT:
        answer = post_tolerance(client, subject, sent)
        assert answer.status_code in (200, 201), (sent, answer.content)
        stored = CardMapping.objects.filter(subject_id=subject.id).latest("version")
        assert stored.measures[0]["abs_tolerance"] == kept, sent
        assert answer.json()["measures"][0]["abs_tolerance"] == kept, sent
        read = client.get(subject_path(subject, f"mappings/{stored.version}/")).json()
        assert read["measures"][0]["abs_tolerance"] == kept, sent
        assert engine_mapping(stored).measures[0].abs_tolerance == Decimal(sent), sent
        assert str(engine_mapping(stored).measures[0].abs_tolerance) == str(Decimal(kept))


def test_json_numbers_nan_infinity_and_too_many_places_are_refused_naming_the_field(mapped, olivia, client):
    subject = mapped.subject(EFFECTIVE)
    client.force_login(olivia)
    versions = CardMapping.objects.filter(subject_id=subject.id).count()
    for sent, words in REFUSED:
        answer = post_tolerance(client, subject, sent)
        assert answer.status_code == 400, (sent, answer.content)
        error = str(answer.json())
        assert words in error and "abs_tolerance" in error, (sent, error)
    assert CardMapping.objects.filter(subject_id=subject.id).count() == versions


def exported_tolerances(client, subject, fmt: str) -> dict[int, str]:
    """Mapping version -> its first measure's absolute tolerance, as the audit trail's export (`fmt`: csv or jsonl)
    of the subject's saved mappings gives it."""
    query = f"?action=deliverables.mapping.saved&object_id={subject.kind}:{subject.id}"
    answer = client.get(f"/audit/export.{fmt}{query}")
    assert answer.status_code == 200, answer.content
    text = b"".join(answer.streaming_content).decode()
    if fmt == "jsonl":
        events = [json.loads(line) for line in text.splitlines()[1:]]  # the first line says what the excerpt is
    else:
        rows = list(csv.reader(io.StringIO(text)))[1:]  # the first row says what the excerpt is
        events = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
        for event in events:
            event["after"] = json.loads(event["after"])
    found = {}
    for event in events:
        if event["action"] == "deliverables.mapping.saved":
            found[event["after"]["version"]] = event["after"]["measures"][0]["abs_tolerance"]
    return found


def test_tolerances_sent_as_strings_leave_by_the_export_exactly(mapped, olivia, audrey, client):
    subject = mapped.subject(EFFECTIVE)
    client.force_login(olivia)
    sent_as: dict[int, str] = {}
    for sent, kept in EXACT:
        answer = post_tolerance(client, subject, sent)
        assert answer.status_code in (200, 201), (sent, answer.content)  # 200: the same as the version in force
        version = answer.json()["version"]
        assert sent_as.setdefault(version, kept) == kept, sent
    assert len(sent_as) == 5  # 28 digits, 18 places, one cent ("0.01" and "1E-2"), 2500, and zero ("-0", "-0.00")

    client.force_login(audrey)  # an auditor exports the trail
    for fmt in ("csv", "jsonl"):
        exported = exported_tolerances(client, subject, fmt)
        assert {v: exported[v] for v in sent_as} == sent_as, fmt  # the exact text, every digit
        for version, text in sent_as.items():
            assert Decimal(exported[version]) == Decimal(text) and "E" not in exported[version], (fmt, version)
