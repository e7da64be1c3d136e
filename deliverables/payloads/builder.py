"""The dashboard payload of one client of a succeeded calculation run (schema: deliverables.payloads.schema).

Plain module. `payload_for(run, client, base_url)` reads only what the run stored (its RunNumbers and record),
so the same run gives the same payload, and `payload_bytes` the same bytes, on every build:

- figures: every guarantee line, rebate line and findings total of the client in the run's order, with its
  decision, its amount only when authorized (indicative_amount only when indicative), the governed evidence it
  lacks, and the absolute address of its provenance page;
- findings: the findings totals again, by kind and decision, with their claim counts and overpayments;
- savings: the client's savings by decision (authorized, indicative, not concluded), the not-concluded bucket
  naming every missing piece of evidence that holds its figures back;
- generated_from: the claims versions and governed packet revisions the client's figures used (never another
  client's).

The client's name comes from the governed Salesforce revisions the run read (as in the client workbook); a
missing-evidence flag that a number names only by its key is described as the workbook describes it (from the
flag's identity), or, before the flag is on file, from what the number is. Every payload is validated against
the schema before it is returned: one that does not validate is a bug, raised (PayloadInvalid) with the path of
the failing field.
"""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation

from django.urls import reverse
from jsonschema import Draft202012Validator

from deliverables.choices import Decision, NumberKind, RunState
from deliverables.models import CalculationRun, RunNumber
from deliverables.payloads import schema as payload_schema
from deliverables.runs.selectors import number_url
from deliverables.workbooks.data import _client_name, _flag_texts

BUILDER = "deliverables.payloads.builder"
CENT = Decimal("0.01")
_VALIDATOR = Draft202012Validator(payload_schema.SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


class PayloadError(Exception):
    """A payload that cannot be built."""


class PayloadRefused(PayloadError):
    """Refused for what the run is (not succeeded)."""


class ClientNotInRun(PayloadError):
    """The run stored no number for the client."""


class PayloadInvalid(PayloadError):
    """The built payload does not validate against its schema: a bug in the builder or in the stored numbers."""


def money(value, *, where: str) -> str:
    """An exact amount as a decimal string with two places; refused (PayloadInvalid) if that would round."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
        text = amount.quantize(CENT)
    except (InvalidOperation, TypeError, ValueError) as problem:
        raise PayloadInvalid(f"{where}: {value!r} is not an amount") from problem
    if text != amount:
        raise PayloadInvalid(f"{where}: {value} has more than two decimal places (it would be rounded)")
    return "0.00" if text == 0 else f"{text:f}"


def _period(start: dt.date | None, end: dt.date | None) -> dict | None:
    return {"start": start.isoformat(), "end": end.isoformat()} if start and end else None


def _finding_evidence_kind(number: RunNumber) -> str:
    """The evidence a finding's flag asks for: a MAC price list for a MAC finding, the contract otherwise (the
    grain the run keys its findings' flags on)."""
    return "pricing" if _finding_kind(number) == "mac" else "contract"


def _finding_kind(number: RunNumber) -> str:
    return number.key.split(":")[2]


class _Missing:
    """The missing-evidence items of the client's numbers: {kind, reason, flag_key}."""

    def __init__(self, numbers: list[RunNumber]):
        self.texts = _flag_texts({m.get("flag_key") for n in numbers for m in (n.evidence or {}).get("missing") or []})

    def of(self, number: RunNumber) -> list[dict]:
        items = []
        for m in (number.evidence or {}).get("missing") or []:
            key = m.get("flag_key") or ""
            if number.kind == NumberKind.FINDING:
                kind = m.get("kind") or _finding_evidence_kind(number)
            else:
                kind = m.get("kind") or ""
            reason = m.get("reason") or self.texts.get(key) or (
                f"no governed {kind} evidence covers some of its claims" if kind else "governed evidence is missing")
            items.append({"kind": kind or "evidence", "reason": reason, "flag_key": key})
        return _unique(items)


def _unique(items: list[dict]) -> list[dict]:
    seen = {(i["kind"], i["reason"], i["flag_key"]): i for i in items}
    return [seen[k] for k in sorted(seen)]


def _amounts(number: RunNumber, amount: str, indicative: str, where: str) -> dict:
    out = {}
    if number.decision == Decision.AUTHORIZED and number.amount is not None:
        out[amount] = money(number.amount, where=f"{where}.{amount}")
    if number.decision == Decision.INDICATIVE and number.indicative_amount is not None:
        out[indicative] = money(number.indicative_amount, where=f"{where}.{indicative}")
    return out


def _figure(number: RunNumber, missing: list[dict], url: str) -> dict:
    return {"key": number.key, "kind": number.kind, "label": number.label, "decision": number.decision,
            **_amounts(number, "amount", "indicative_amount", f"number {number.key}"), "unit": "USD",
            "period": _period(number.period_start, number.period_end), "missing": missing, "provenance_url": url}


def _count(value, where: str) -> int:
    text = str(value if value is not None else "0")
    if not text.isdigit():
        raise PayloadInvalid(f"{where}: {value!r} is not a count")
    return int(text)


def _finding(number: RunNumber, missing: list[dict], url: str) -> dict:
    figures = number.figures or {}
    out = {"key": number.key, "kind": _finding_kind(number), "decision": number.decision,
           "count": _count(figures.get("findings"), f"number {number.key}.figures.findings")}
    if figures.get("paid") is not None:
        out["paid"] = money(figures["paid"], where=f"number {number.key}.figures.paid")
    return {**out, **_amounts(number, "overpayment", "indicative_overpayment", f"number {number.key}"),
            "missing": missing, "provenance_url": url}


def _savings(numbers: list[RunNumber], by_key: dict[str, RunNumber], missing: _Missing, url) -> dict:
    out = {}
    for number in numbers:
        figures = number.figures or {}
        where = f"number {number.key}"
        # What holds the bucket's figures back is what holds each figure back (named as the figure names it);
        # a flag the bucket names that none of its figures does is named by itself.
        members = [m for k in (number.evidence or {}).get("numbers") or [] if k in by_key
                   for m in missing.of(by_key[k])]
        named = {m["flag_key"] for m in members if m["flag_key"]}
        members += [m for m in missing.of(number) if not m["flag_key"] or m["flag_key"] not in named]
        bucket = {"key": number.key, "decision": number.decision,
                  "numbers": _count(figures.get("numbers"), f"{where}.figures.numbers"),
                  "missing": _unique(members),
                  "provenance_url": url(number)}
        if number.decision != Decision.NOT_CONCLUDED:
            bucket.update(_amounts(number, "amount", "indicative_amount", where))
            bucket["parts"] = {name: money(figures.get(name) or "0", where=f"{where}.figures.{name}")
                               for name in payload_schema.SAVINGS_PARTS}
        out[number.decision] = bucket
    return out


def _generated_from(numbers: list[RunNumber], base: str) -> dict:
    claims = sorted({(n.dataset_key, n.dataset_version) for n in numbers if n.dataset_key},
                    key=lambda c: (c[0], c[1] if c[1] is not None else -1))
    used = {}
    for n in numbers:
        for u in (n.evidence or {}).get("used") or []:
            used[(u["kind"], u["packet_id"], u["revision"])] = u["sha256"]
    return {"builder": BUILDER, "schema_url": base + reverse("api-dashboard-payload-schema"),
            "numbers": len(numbers),
            "claims": [{"dataset_key": k, "dataset_version": v} for k, v in claims],
            "evidence": [{"kind": k, "packet_id": p, "revision": r, "sha256": used[(k, p, r)]}
                         for k, p, r in sorted(used)]}


def payload_for(run: CalculationRun, client: str, base_url: str) -> dict:
    """The dashboard payload (dashboard-payload-v1) of `client` in the succeeded `run`; provenance links are
    absolute under `base_url` (e.g. https://console.example). Refused (PayloadRefused) for a run that has not
    succeeded, ClientNotInRun for a client it stored no number for."""
    if run.state != RunState.SUCCEEDED:
        raise PayloadRefused(f"run #{run.pk} is {run.state}: only a succeeded run has a dashboard payload")
    if not base_url.startswith(("http://", "https://")):
        raise PayloadError(f"base_url {base_url!r}: an absolute http(s) address is needed for the provenance links")
    base = base_url.rstrip("/")
    numbers = list(RunNumber.objects.filter(run=run, client_account_id=client).order_by("position", "pk"))
    if not client or not numbers:
        raise ClientNotInRun(f"run #{run.pk} has no number for client {client!r}")

    def url(number: RunNumber) -> str:
        return base + number_url(run.pk, number.key)

    missing = _Missing(numbers)
    by_key = {n.key: n for n in numbers}
    shown = [n for n in numbers if n.kind != NumberKind.SAVINGS]
    payload = {
        "schema": payload_schema.NAME,
        "client": {"account_id": client, "name": _client_name(run, client)},
        "period": _period(run.period_start, run.period_end),
        "run": {"id": run.pk, "finished_at": run.finished_at.astimezone(dt.UTC).isoformat(),
                "calculation_version": run.calculation_version, "result_sha256": run.result_sha256,
                "inputs_sha256": run.inputs_sha256, "url": base + reverse("runs:run-detail", args=[run.pk])},
        "figures": [_figure(n, missing.of(n), url(n)) for n in shown],
        "findings": [_finding(n, missing.of(n), url(n)) for n in shown if n.kind == NumberKind.FINDING],
        "savings": _savings([n for n in numbers if n.kind == NumberKind.SAVINGS], by_key, missing, url),
        "generated_from": _generated_from(numbers, base),
    }
    validate(payload, what=f"the dashboard payload of run #{run.pk}, client {client}")
    return payload


def errors(payload) -> list[str]:
    """What makes `payload` not a dashboard-payload-v1, each as 'path: message' (the path '/'-joined from the
    root: 'figures/3/amount'), in path order; empty when it validates."""
    found = sorted(_VALIDATOR.iter_errors(payload), key=lambda e: ([str(p) for p in e.absolute_path], e.message))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in found]


def validate(payload, *, what: str = "dashboard payload") -> None:
    """Raise PayloadInvalid naming the first failing field's path, if `payload` does not validate."""
    problems = errors(payload)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise PayloadInvalid(f"{what} does not validate against {payload_schema.NAME}: {problems[0]}{more}")


def payload_bytes(payload: dict) -> bytes:
    """The payload's canonical bytes: sorted keys, no spaces, UTF-8 (the same payload gives the same bytes)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
