"""Card <-> backend output mappings: proposed by names, checked against the golden columns and the output, saved as
new versions (never edited, audited with the previous version as `before`), and the sample's mappings shipped as
data (mappings_load). Refused and Forbidden are the reconciliation services' refusals (audited by `refuse`)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db import transaction

from console.audit import audit_record
from deliverables.choices import MAPPING_TYPE, SubjectKind
from deliverables.models import CardMapping
from deliverables.reconciliation import outputs, sources
from deliverables.reconciliation.engine import KeySpec, Mapping, MeasureSpec

MAP_PERMISSION = "console.build_deliverable"
KEY_KINDS = ("text", "date", "integer", "decimal")


class Refused(ValueError):
    """A request that cannot be done as asked (the message says which field and why)."""


class Forbidden(Refused):
    """Who asks may not do it (HTTP 403)."""


def refuse(actor, action: str, object_type: str, object_id: str, reason: str, *, forbidden: bool = False,
            details: dict | None = None):
    with transaction.atomic():
        audit_record(actor=actor, action=action, object_type=object_type, object_id=object_id,
                     after={"reason": reason, **(details or {})})
    raise (Forbidden if forbidden else Refused)(reason)


# --- mappings ------------------------------------------------------------------------------------------------
def current_mapping(kind: str, subject_id: str) -> CardMapping | None:
    return CardMapping.objects.filter(subject_kind=kind, subject_id=str(subject_id)).order_by("-version").first()


TOLERANCE_DIGITS, TOLERANCE_PLACES = 30, 18  # the API's limits (api_serializers.MeasureSerializer), held here


def _decimal(text, where: str) -> str | None:
    """A tolerance as plain decimal text ("0.05"), or None for none. Refused: not a number, negative, infinite, more
    than 18 places or 30 digits (the API's limits; so "1E+30" is refused, never expanded)."""
    if text is None or str(text).strip() == "":
        return None
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise Refused(f"{where}: {text!r} is not a decimal number") from None
    if not value.is_finite() or value < 0:
        raise Refused(f"{where}: {text!r} must be zero or more")
    _, digits, exponent = value.as_tuple()
    places = max(-exponent, 0)
    whole = len(digits) + exponent if exponent >= 0 else max(len(digits) - places, 0)
    if places > TOLERANCE_PLACES:
        raise Refused(f"{where}: {text!r} has more than {TOLERANCE_PLACES} decimal places")
    if whole + places > TOLERANCE_DIGITS:
        raise Refused(f"{where}: {text!r} has more than {TOLERANCE_DIGITS} digits")
    value = value.copy_abs()  # "-0" is zero
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


def clean_mapping(subject: sources.Subject, golden_columns: list[str], output_name: str, keys: list[dict],
                  measures: list[dict], available_flaws: dict[str, dict]) -> tuple[list[dict], list[dict]]:
    """The mapping's keys and measures, checked against the golden columns and the backend output; Refused names
    the field at fault."""
    output = outputs.OUTPUTS.get(output_name)
    if output is None:
        raise Refused(f"output: {output_name!r} is not a backend output (one of {', '.join(outputs.OUTPUTS)})")
    if not keys:
        raise Refused("keys: map at least one key (the columns that identify a row on both sides)")
    if not measures:
        raise Refused("measures: map at least one measure")
    clean_keys, clean_measures, seen = [], [], set()
    for i, key in enumerate(keys, 1):
        golden, backend = str(key.get("golden") or "").strip(), str(key.get("backend") or "").strip()
        where = f"key {i} ({golden or 'no golden column'})"
        if golden not in golden_columns:
            raise Refused(f"{where}: golden column {golden!r} is not in {subject.title}'s golden rows "
                          f"({', '.join(golden_columns)})")
        if output.column(backend) is None or backend not in {c.name for c in output.keys}:
            raise Refused(f"{where}: backend key {backend!r} is not a key of {output.name} "
                          f"({', '.join(c.name for c in output.keys)})")
        kind = str(key.get("kind") or output.column(backend).kind)
        if kind not in KEY_KINDS:
            raise Refused(f"{where}: kind {kind!r} is not one of {', '.join(KEY_KINDS)}")
        if golden in seen:
            raise Refused(f"{where}: golden column {golden!r} is mapped twice")
        seen.add(golden)
        clean_keys.append({"name": golden, "golden": golden, "backend": backend, "kind": kind,
                           "casefold": bool(key.get("casefold"))})
    for i, measure in enumerate(measures, 1):
        golden, backend = str(measure.get("golden") or "").strip(), str(measure.get("backend") or "").strip()
        where = f"measure {i} ({golden or 'no golden column'})"
        if golden not in golden_columns:
            raise Refused(f"{where}: golden column {golden!r} is not in {subject.title}'s golden rows "
                          f"({', '.join(golden_columns)})")
        if backend not in {c.name for c in output.measures}:
            raise Refused(f"{where}: backend measure {backend!r} is not a measure of {output.name} "
                          f"({', '.join(c.name for c in output.measures)})")
        if golden in seen:
            raise Refused(f"{where}: golden column {golden!r} is mapped twice")
        seen.add(golden)
        try:
            scale = int(measure.get("scale", output.column(backend).scale))
        except (TypeError, ValueError):
            raise Refused(f"{where}: scale {measure.get('scale')!r} is not a whole number") from None
        if not 0 <= scale <= 18:
            raise Refused(f"{where}: scale {scale} must be 0 to 18 decimal places")
        flaws = []
        for fingerprint in measure.get("flaws") or []:
            fingerprint = fingerprint.get("fingerprint") if isinstance(fingerprint, dict) else str(fingerprint)
            if fingerprint not in available_flaws:
                raise Refused(f"{where}: flaw {fingerprint!r} is not recorded on {subject.title} in its export")
            flaws.append(available_flaws[fingerprint])
        clean_measures.append({
            "name": golden, "golden": golden, "backend": backend, "scale": scale,
            "abs_tolerance": _decimal(measure.get("abs_tolerance"), f"{where}: absolute tolerance"),
            "rel_tolerance": _decimal(measure.get("rel_tolerance"), f"{where}: relative tolerance"),
            "flaws": sorted(flaws, key=lambda f: f["fingerprint"])})
    return clean_keys, clean_measures


def engine_mapping(mapping: CardMapping) -> Mapping:
    return Mapping(
        name=f"{mapping.subject_kind}:{mapping.subject_id}",
        keys=tuple(KeySpec(k["name"], k["backend"], k["golden"], k["kind"], k["casefold"]) for k in mapping.keys),
        measures=tuple(MeasureSpec(m["name"], m["backend"], m["golden"], m["scale"],
                                   Decimal(m["abs_tolerance"]) if m["abs_tolerance"] is not None else None,
                                   Decimal(m["rel_tolerance"]) if m["rel_tolerance"] is not None else None)
                       for m in mapping.measures))


def _mapping_json(mapping: CardMapping | None) -> dict | None:
    if mapping is None:
        return None
    return {"version": mapping.version, "output": mapping.output, "golden_dataset": mapping.golden_dataset,
            "keys": mapping.keys, "measures": mapping.measures, "note": mapping.note}


def mapping_save(*, actor, kind: str, subject_id: str, output: str, keys: list[dict], measures: list[dict],
                 note: str = "", golden_dataset: str = "", source: str = "console") -> tuple[CardMapping, bool]:
    """A new version of the subject's mapping (audited, with the previous version as `before`); (mapping, False)
    when it is the same as the current version."""
    object_id = f"{kind}:{subject_id}"
    if not actor.has_perm(MAP_PERMISSION):
        refuse(actor, "deliverables.mapping.refused", MAPPING_TYPE, object_id,
                "mapping a card needs the build_deliverable permission", forbidden=True)
    subject = sources.subject(kind, subject_id)
    if subject is None:
        refuse(actor, "deliverables.mapping.refused", MAPPING_TYPE, object_id,
                f"{kind} {subject_id}: not in any received export")
    try:
        golden = sources.golden(kind, subject_id, golden_dataset)
        available = {f["fingerprint"]: f for f in (sources.flaw_json(flaw) for flaw in golden.flaws)}
        clean_keys, clean_measures = clean_mapping(subject, golden.columns, output, keys, measures, available)
    except (Refused, sources.SourceError) as refusal:
        refuse(actor, "deliverables.mapping.refused", MAPPING_TYPE, object_id, str(refusal),
                details={"output": output})
    with transaction.atomic():
        current = (CardMapping.objects.select_for_update().filter(subject_kind=kind, subject_id=str(subject_id))
                   .order_by("-version").first())
        proposed = {"output": output, "golden_dataset": golden.dataset, "keys": clean_keys,
                    "measures": clean_measures, "note": note.strip()}
        if current is not None and all(getattr(current, k) == v for k, v in proposed.items()):
            return current, False
        mapping = CardMapping.objects.create(
            subject_kind=kind, subject_id=str(subject_id), title=subject.title[:255],
            version=(current.version + 1) if current else 1, created_by=actor, source=source, **proposed)
        audit_record(actor=actor, action="deliverables.mapping.saved", object_type=MAPPING_TYPE,
                     object_id=object_id, before=_mapping_json(current), after=_mapping_json(mapping))
    return mapping, True


_SYNONYMS = {
    "client account": "client_name", "client": "client_name", "client name": "client_name",
    "account": "client_name", "client account id": "client_account_id", "brand/generic": "drug_class",
    "rebate amount": "rebates_received", "rebates": "rebates_received", "awp amount": "awp", "awp": "awp",
    "est. brand rebates": "guaranteed_rebates", "guaranteed discount": "guaranteed_discount",
    "guaranteed discount (17%)": "guaranteed_discount", "actual discount": "actual_discount",
    "effective discount rate": "effective_rate", "avg effective discount": "effective_rate",
    "claims": "claims", "claim count": "claims", "guaranteed fees": "guaranteed_fees",
    "dispensing fees paid": "fees_paid", "dispensing fee paid": "fees_paid",
}


def _words(text: str) -> set[str]:
    return {w.rstrip("s") for w in re.split(r"[^a-z0-9]+", text.casefold()) if w}


def _closest(column: str, candidates: list[outputs.Column]) -> outputs.Column | None:
    named = _SYNONYMS.get(column.strip().casefold())
    for c in candidates:
        if c.name == named:
            return c
    scored = sorted(((len(_words(column) & (_words(c.name) | _words(c.label))), -i, c)
                     for i, c in enumerate(candidates)), key=lambda t: (t[0], t[1]), reverse=True)
    return scored[0][2] if scored and scored[0][0] > 0 else None


def mapping_proposal(kind: str, subject_id: str, output_name: str = "", golden_dataset: str = "") -> dict:
    """A mapping proposed by names: the golden columns matched to an output's keys and measures (the output with
    the most matches unless one is given), tolerances of one cent, the flaws recorded on each column."""
    golden = sources.golden(kind, subject_id, golden_dataset)
    key_columns = set(_golden_keys(golden))
    best = None
    for output in ([outputs.OUTPUTS[output_name]] if output_name in outputs.OUTPUTS else outputs.OUTPUTS.values()):
        keys, measures = [], []
        for column in golden.columns:
            if column in key_columns:
                match = _closest(column, list(output.keys))
                if match:
                    keys.append({"golden": column, "backend": match.name, "kind": match.kind,
                                 "casefold": match.kind == "text"})
            else:
                match = _closest(column, list(output.measures))
                if match:
                    measures.append({"golden": column, "backend": match.name, "scale": match.scale,
                                     "abs_tolerance": "0.01" if match.scale == 2 else None, "rel_tolerance": None,
                                     "flaws": sources.flaws_for_column(golden, column)})
        score = (len(keys) == len(key_columns), len(keys) + len(measures))
        if best is None or score > best[0]:
            best = (score, {"output": output.name, "keys": keys, "measures": measures})
    return {**best[1], "golden_columns": golden.columns, "golden_dataset": golden.dataset,
            "flaws": [sources.flaw_json(f) for f in golden.flaws]}


def _golden_keys(golden: sources.Golden) -> list[str]:
    """The golden columns that identify a row: a card's groupBy columns (by header), a DataFlow output's text
    and date columns."""
    import pyarrow as pa

    if golden.subject.kind == SubjectKind.CARD:
        from evidence.models import DomoCard

        card = DomoCard.objects.filter(domo_id=int(golden.subject.id), manifest=golden.manifest).first()
        main = (card.main or {}) if card else {}
        grouped = {(g.get("column"), g.get("formula_id")) for g in main.get("group_by") or []}
        found = [golden.columns[i] for i, c in enumerate(main.get("columns") or [])
                 if i < len(golden.columns) and (c.get("column"), c.get("formula_id")) in grouped]
        return found or golden.columns[:1]
    return [f.name for f in golden.table.schema
            if pa.types.is_string(f.type) or pa.types.is_date(f.type) or pa.types.is_timestamp(f.type)]


# --- shipped mappings ----------------------------------------------------------------------------------------
SHIPPED = Path(__file__).resolve().parent / "samples" / "leafiq-sample.json"


@dataclass
class Shipped:
    title: str
    outcome: str  # saved | kept (a mapping exists) | absent (not in any export) | refused
    detail: str = ""


def mappings_load(*, actor, path: Path | str = SHIPPED) -> list[Shipped]:
    """Load mappings shipped as data (the sample export's, by default): each subject found by kind and title, each
    flaw by code on the golden column; a subject that already has a mapping is kept as it is."""
    where = str(path)
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as bad:
        raise Refused(f"{where}: cannot be read as JSON: {bad}") from None
    if not isinstance(document, dict) or not isinstance(document.get("mappings"), list):
        raise Refused(f"{where}: expected an object with a `mappings` list")
    by_title = {(s.kind, s.title): s for s in sources.subjects()}
    done = []
    for index, entry in enumerate(document["mappings"], 1):
        title = str(entry.get("title") or "")
        kind = str(entry.get("kind") or SubjectKind.CARD)
        subject = by_title.get((kind, title))
        if subject is None:
            done.append(Shipped(title, "absent", f"{where}: mapping {index}: no {kind} titled {title!r} received"))
            continue
        if current_mapping(subject.kind, subject.id) is not None:
            done.append(Shipped(title, "kept"))
            continue
        try:
            golden = sources.golden(subject.kind, subject.id, entry.get("golden_dataset") or "")
            measures = []
            for measure in entry.get("measures") or []:
                codes = set(measure.get("flaws") or [])
                flaws = [f["fingerprint"] for f in sources.flaws_for_column(golden, str(measure.get("golden")))
                         if f["code"] in codes]
                measures.append({**measure, "flaws": flaws})
            mapping_save(actor=actor, kind=subject.kind, subject_id=subject.id, output=str(entry.get("output")),
                         keys=entry.get("keys") or [], measures=measures, note=str(entry.get("note") or ""),
                         golden_dataset=golden.dataset, source="shipped")
        except (Refused, sources.SourceError) as refusal:
            done.append(Shipped(title, "refused", f"{where}: mapping {index} ({title}): {refusal}"))
            continue
        done.append(Shipped(title, "saved"))
    return done
