"""The dashboard payload of a real run over the sample (deliverables.payloads.builder): it validates against the
published schema, every figure carries its decision and provenance link, a not-concluded figure has no amount and
names its missing evidence, money is exact text with two places, and two builds give the same bytes."""
from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from deliverables.models import RunNumber
from deliverables.payloads import builder
from deliverables.runs import services as runs
from deliverables.runs.selectors import number_url
from tests.deliverables.runs.conftest import (  # noqa: F401 (fixtures)
    CURATED_DB,
    PERIOD,
    contract_sample,
    curated_db,
    execute,
    no_enqueue,
)

BASE = "https://console.example"
MONEY = re.compile(r"^-?(0|[1-9][0-9]*)\.[0-9]{2}$")
MONEY_FIELDS = {"amount", "indicative_amount", "overpayment", "indicative_overpayment", "paid",
                *("guarantee_shortfalls", "rebate_shortfalls", "overpayments", "overpayments_not_added")}


def money_values(node, path=""):
    """(path, value) of every money field anywhere in the payload."""
    if isinstance(node, dict):
        for name, value in node.items():
            if name in MONEY_FIELDS:
                yield f"{path}/{name}", value
            yield from money_values(value, f"{path}/{name}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from money_values(value, f"{path}/{i}")


@pytest.fixture
def sample_run(contract_sample, olivia):  # noqa: F811
    run = execute(runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False))
    assert run.state == "succeeded", run.error
    return run


def held_client(run) -> str:
    """A client of the run with a not-concluded figure (the sample leaves some evidence missing)."""
    client = (RunNumber.objects.filter(run=run, decision="not_concluded").exclude(kind="savings")
              .order_by("position").values_list("client_account_id", flat=True).first())
    assert client
    return client


@CURATED_DB
def test_the_payload_of_a_run_over_the_sample(sample_run):
    from evidence.packets.models import AccountRow

    run = sample_run
    client = held_client(run)
    payload = builder.payload_for(run, client, BASE + "/")

    assert builder.errors(payload) == []
    assert payload["schema"] == "dashboard-payload-v1"
    assert payload["client"]["account_id"] == client
    assert payload["client"]["name"] == AccountRow.objects.filter(account_id=client).first().account_name
    assert payload["period"] == {"start": "2025-01-01", "end": "2025-12-31"}
    assert payload["run"]["id"] == run.pk and payload["run"]["result_sha256"] == run.result_sha256

    stored = {n.key: n for n in RunNumber.objects.filter(run=run, client_account_id=client)}
    figures = {f["key"]: f for f in payload["figures"]}
    assert set(figures) == {k for k, n in stored.items() if n.kind != "savings"}
    assert {n.client_account_id for n in stored.values()} == {client}
    for key, figure in figures.items():
        number = stored[key]
        assert figure["decision"] == number.decision
        assert figure["provenance_url"] == BASE + number_url(run.pk, key)
        if number.decision == "authorized":
            assert Decimal(figure["amount"]) == number.amount and "indicative_amount" not in figure
        elif number.decision == "indicative":
            assert Decimal(figure["indicative_amount"]) == number.indicative_amount and "amount" not in figure
        else:
            assert "amount" not in figure and "indicative_amount" not in figure
            assert figure["missing"], key
            assert all(m["reason"] and m["kind"] for m in figure["missing"])
            for m in number.evidence.get("missing") or []:  # every stored reason is named
                if m.get("reason"):
                    assert m["reason"] in [x["reason"] for x in figure["missing"]], key
    assert any(f["decision"] == "not_concluded" for f in payload["figures"])

    findings = [n for n in stored.values() if n.kind == "finding"]
    assert [f["key"] for f in payload["findings"]] == [n.key for n in sorted(findings, key=lambda n: n.position)]
    for finding in payload["findings"]:
        number = stored[finding["key"]]
        assert finding["count"] == int(number.figures["findings"]) == number.row_count
        assert finding["provenance_url"] == BASE + number_url(run.pk, number.key)
        if number.decision == "authorized":
            assert Decimal(finding["overpayment"]) == number.amount

    savings = payload["savings"]
    assert set(savings) == {"authorized", "indicative", "not_concluded"}
    assert Decimal(savings["authorized"]["amount"]) == stored[f"savings:{client}:authorized"].amount
    assert "amount" not in savings["not_concluded"] and savings["not_concluded"]["missing"]

    values = list(money_values(payload))
    assert values
    for path, value in values:
        assert isinstance(value, str) and MONEY.match(value), (path, value)

    again = builder.payload_for(run, client, BASE)
    assert builder.payload_bytes(again) == builder.payload_bytes(payload)
    text = builder.payload_bytes(payload).decode()
    assert json.loads(text) == payload
    held = [f for f in payload["figures"] if f["decision"] == "not_concluded"]
    assert savings["not_concluded"]["numbers"] == len(held)
    assert ({m["flag_key"] for m in savings["not_concluded"]["missing"]}
            == {m["flag_key"] for f in held for m in f["missing"]})
    assert {m["reason"] for m in savings["not_concluded"]["missing"]} == {m["reason"] for f in held for m in f["missing"]}


@CURATED_DB
def test_every_clients_payload_validates_and_shows_only_that_client(sample_run):
    clients = sorted(set(RunNumber.objects.filter(run=sample_run).values_list("client_account_id", flat=True)))
    assert len(clients) > 1
    for client in clients:
        payload = builder.payload_for(sample_run, client, BASE)
        assert builder.errors(payload) == []
        text = builder.payload_bytes(payload).decode()
        for other in set(clients) - {client}:
            assert other not in text, (client, other)  # another client's figures or evidence never appear
        for figure in payload["figures"]:
            assert figure["decision"] in ("authorized", "indicative", "not_concluded")
            assert figure["provenance_url"].startswith(BASE + f"/runs/{sample_run.pk}/numbers/")


@CURATED_DB
def test_a_client_the_run_did_not_calculate_and_a_run_not_succeeded_are_refused(sample_run, olivia):
    with pytest.raises(builder.ClientNotInRun, match="no number for client '001NOTINTHERUN0AAA'"):
        builder.payload_for(sample_run, "001NOTINTHERUN0AAA", BASE)
    queued = runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False)
    with pytest.raises(builder.PayloadRefused, match=f"run #{queued.pk} is queued"):
        builder.payload_for(queued, held_client(sample_run), BASE)
