"""Operators' decisions the gates read: flaw dispositions and schema-drift acknowledgements."""
from __future__ import annotations

from django.db import transaction

from console import clock
from console.audit import audit_record
from evidence.models import DomoDataset, SourceManifest
from promotion import policy
from promotion.choices import FlawDecision
from promotion.gates import curated_schema_of, flaw_fingerprint, schema_columns, sha256_of
from promotion.models import FlawDisposition, SchemaDriftAcknowledgement

from ._common import DATASET_TYPE, DISPOSITION_TYPE, MANIFEST_TYPE, _enforce_who, _refuse, _refusals_audited


def _manifest_flaw(manifest: SourceManifest, fingerprint: str):
    from evidence.models import CalculationFlaw

    flaws = CalculationFlaw.objects.filter(manifest=manifest).select_related(
        "analysis__beast_mode", "analysis__dataflow_step__dataflow"
    )
    return next((flaw for flaw in flaws.iterator() if flaw_fingerprint(flaw) == fingerprint), None)


def flaw_disposition_set(*, actor, manifest: SourceManifest, fingerprint: str, decision: str, note: str) -> FlawDisposition:
    """Record (or change) an operator's decision on one flaw of a manifest, with its note."""
    note = (note or "").strip()
    extra = {"fingerprint": fingerprint, "decision": str(decision)}
    with _refusals_audited(actor=actor, attempt="disposition", object_type=MANIFEST_TYPE, object_id=manifest.pk, extra=extra):
        _enforce_who(actor, policy.DISPOSE)
        if decision not in FlawDecision.values:
            _refuse(f"unknown decision {decision!r}")
        if not note:
            _refuse("a disposition needs a note")
        flaw = _manifest_flaw(manifest, fingerprint)
        if flaw is None:
            _refuse("no flaw of this manifest has that fingerprint (re-analysis may have changed it)")
        with transaction.atomic():
            existing = FlawDisposition.objects.select_for_update().filter(manifest=manifest, fingerprint=fingerprint).first()
            before = {"decision": existing.decision, "note": existing.note, "decided_by": existing.decided_by_id} if existing else None
            disposition, _ = FlawDisposition.objects.update_or_create(
                manifest=manifest, fingerprint=fingerprint,
                defaults={"code": flaw.code, "decision": decision, "note": note, "decided_by": actor,
                          "decided_at": clock.now()},
            )
            audit_record(
                actor=actor, action="promotion.flaw_dispositioned", object_type=DISPOSITION_TYPE,
                object_id=str(disposition.pk), before=before,
                after={"manifest": manifest.pk, "fingerprint": fingerprint, "code": flaw.code,
                       "decision": decision, "note": note},
            )
    return disposition


def flaw_disposition_clear(*, actor, manifest: SourceManifest, fingerprint: str) -> None:
    """Withdraw a disposition: the flaw is undecided again (and the gates that saw it go stale)."""
    with _refusals_audited(actor=actor, attempt="disposition_clear", object_type=MANIFEST_TYPE,
                           object_id=manifest.pk, extra={"fingerprint": fingerprint}):
        _enforce_who(actor, policy.DISPOSE, denied="withdrawing a disposition needs the request_promotion permission")
        with transaction.atomic():
            existing = FlawDisposition.objects.select_for_update().filter(manifest=manifest, fingerprint=fingerprint).first()
            if existing is None:
                _refuse("that flaw has no disposition")
            before = {"manifest": manifest.pk, "fingerprint": fingerprint, "code": existing.code,
                      "decision": existing.decision, "note": existing.note}
            pk = existing.pk
            existing.delete()
            audit_record(actor=actor, action="promotion.flaw_disposition_cleared", object_type=DISPOSITION_TYPE,
                         object_id=str(pk), before=before)


def schema_drift_acknowledge(*, actor, dataset: DomoDataset, note: str) -> SchemaDriftAcknowledgement:
    """Accept that a dataset's schema differs from its current curated version's (this exact drift)."""
    note = (note or "").strip()
    with _refusals_audited(actor=actor, attempt="acknowledge_drift", object_type=DATASET_TYPE, object_id=dataset.pk):
        _enforce_who(actor, policy.DISPOSE,
                     denied="acknowledging a schema drift needs the request_promotion permission")
        if not note:
            _refuse("an acknowledgement needs a note")
        curated = curated_schema_of(dataset)
        ours = schema_columns(dataset.schema)
        if curated is None or schema_columns(curated.schema) == ours:
            _refuse("the dataset's schema does not drift from a curated version")
        with transaction.atomic():
            ack, _ = SchemaDriftAcknowledgement.objects.update_or_create(
                dataset=dataset, curated_version=curated.version, schema_sha256=sha256_of(ours),
                defaults={"note": note, "acknowledged_by": actor, "acknowledged_at": clock.now()},
            )
            audit_record(actor=actor, action="promotion.schema_drift_acknowledged", object_type=DATASET_TYPE,
                         object_id=str(dataset.pk),
                         after={"curated_version": curated.version, "schema_sha256": ack.schema_sha256, "note": note})
    return ack

