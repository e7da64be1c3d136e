"""Publishing a built deliverable to its client, four eyes: request, approve (or reject, or withdraw), retract.

- `publication_request`: an operator (console.publish_output) asks to publish a succeeded deliverable; the request
  is bound to the deliverable's sha256. Its gates (deliverables.publication.gates) must all pass: a failing gate
  refuses the request naming the gate, and nothing but the audited refusal is stored. The card reconciliation
  state is recorded with it, shown, not gating.
- `publication_approve`: an approver (console.approve_publication) who is not the requester (whatever else they
  hold: the database refuses it too), with a comment and the sha256 they saw, which must be the bound one. The
  gates are checked again (inputs that went stale since the request refuse it), the stored bytes are re-read and
  re-hashed, copied write-once to `published/<client>/<kind>/<version>/<file>` (version: the next integer of the
  client and kind), and in ONE transaction the publication is published and the previous live one of the client
  and kind superseded.
- `publication_reject` (an approver, not the requester, with a comment), `publication_withdraw` (the requester),
  `publication_retract` (an approver, with a reason: the row and the file stay, it is no longer served).

Every attempt is audited (`publication.<verb>`; a refused one as `publication.refused`, with its reason): the
refusal is recorded after the service's own transaction rolled back, as promotion.services does.
The lake is written before the transaction opens (never I/O inside it): the file name carries the artifact's
hash, so an approval that loses a race leaves at most an unreferenced copy of the same bytes, never a conflict.
"""
from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from django.db import IntegrityError, transaction
from django.db.models import Max

from console import clock
from console.audit import audit_record
from deliverables.choices import PUBLICATION_TYPE, PublicationState, RunState
from deliverables.lineage import lineage_publication
from deliverables.models import Deliverable, Publication
from deliverables.publication import gates as publication_gates
from deliverables.publication.selectors import published_path

REQUEST_PERMISSION = "console.publish_output"
APPROVE_PERMISSION = "console.approve_publication"
READ_PERMISSION = "console.view_provenance"
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class PublicationRefused(Exception):
    """An attempt the publication rules refuse; `reason` names the object, field or gate. `forbidden`: refused for
    who asks (HTTP 403: a missing permission, four eyes); otherwise for what or when (HTTP 409)."""

    def __init__(self, reason: str, *, forbidden: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.forbidden = forbidden


def _refuse(reason: str):
    raise PublicationRefused(reason)


def _forbid(reason: str):
    raise PublicationRefused(reason, forbidden=True)


@contextlib.contextmanager
def _refusals_audited(*, actor, attempt: str, object_id, extra: dict | None = None) -> Iterator[None]:
    try:
        yield
    except PublicationRefused as refused:
        with transaction.atomic():
            audit_record(actor=actor, action="publication.refused", object_type=PUBLICATION_TYPE,
                         object_id=str(object_id or ""),
                         after={"attempt": attempt, "reason": refused.reason, **(extra or {})})
        raise


def _stamped(gates: list[dict], stage: str) -> list[dict]:
    at = clock.now().isoformat()
    return [{**g, "stage": stage, "at": at} for g in gates]


def _gate_refusal(failed: list[dict], when: str) -> str:
    return f"{when}: " + "; ".join(f"gate {g['gate']} failed ({g['detail']})" for g in failed)


def _json(publication: Publication) -> dict:
    return {"state": publication.state, "deliverable": publication.deliverable_id,
            "client": publication.client_account_id, "kind": publication.kind, "sha256": publication.sha256,
            "version": publication.version, "path": publication.path}


# --- request -------------------------------------------------------------------------------------------------
def publication_request(*, actor, deliverable: Deliverable, comment: str = "") -> Publication:
    """Ask to publish `deliverable` (bound to its sha256): every gate must pass (GATES), and no other request of
    it may be pending (checked first, then again under the deliverable's row lock: of two requests at once, one
    is recorded and the other refused, audited; a constraint backs it where there are no row locks)."""
    comment = (comment or "").strip()
    extra = {"deliverable": deliverable.pk, "sha256": deliverable.sha256}
    with _refusals_audited(actor=actor, attempt="request", object_id="", extra=extra):
        if not actor.has_perm(REQUEST_PERMISSION):
            _forbid("requesting a publication needs the publish_output permission")
        deliverable = Deliverable.objects.get(pk=deliverable.pk)
        if deliverable.state != RunState.SUCCEEDED or not deliverable.sha256:
            _refuse(f"deliverable #{deliverable.pk} is {deliverable.state}: only a built deliverable can be "
                    "published")
        _refuse_if_pending(deliverable)
        checked = publication_gates.check(deliverable, deliverable.sha256)
        failed = publication_gates.failed(checked)
        if failed:
            _refuse(_gate_refusal(failed, f"deliverable #{deliverable.pk} cannot be published"))
        reconciliation = publication_gates.reconciliation_state(deliverable.run)
        try:
            with transaction.atomic():
                Deliverable.objects.select_for_update().filter(pk=deliverable.pk).first()
                _refuse_if_pending(deliverable)
                publication = Publication.objects.create(
                    deliverable=deliverable, client_account_id=deliverable.client_account_id, kind=deliverable.kind,
                    sha256=deliverable.sha256, requested_by=actor, requested_at=clock.now(),
                    request_comment=comment, gates=_stamped(checked, "request"), reconciliation=reconciliation)
                audit_record(actor=actor, action="publication.requested", object_type=PUBLICATION_TYPE,
                             object_id=str(publication.pk),
                             after={**_json(publication), "comment": comment, "gates": checked,
                                    "reconciliation": reconciliation["summary"]})
        except IntegrityError:  # publication_one_requested: another request committed after our check
            _refuse_if_pending(deliverable)
            raise
    return publication


def _refuse_if_pending(deliverable: Deliverable) -> None:
    pending = Publication.objects.filter(deliverable=deliverable, state=PublicationState.REQUESTED).first()
    if pending:
        _refuse(f"deliverable #{deliverable.pk} already has publication #{pending.pk} requested")


# --- four eyes -----------------------------------------------------------------------------------------------
def _four_eyes(actor, publication: Publication, doing: str, do: str, hint: str = "") -> None:
    """Only an approver decides, and never on their own request (whatever roles they hold)."""
    if not actor.has_perm(APPROVE_PERMISSION):
        _forbid(f"{doing} a publication needs the approve_publication permission")
    if actor.pk == publication.requested_by_id:
        _forbid(f"publication #{publication.pk}: its requester cannot {do} it (four eyes){hint}")


def _copy_published(publication: Publication, deliverable: Deliverable, version: int) -> str:
    """The deliverable's stored bytes, re-read with their hash checked, written once under published/."""
    from console.lake import LakeError, get_lake
    from deliverables.workbooks.services import Refused, deliverable_open, download_name

    path = published_path(publication.client_account_id, publication.kind, version, download_name(deliverable))
    try:
        with deliverable_open(deliverable) as stream:
            put = get_lake().put(path, stream)
    except Refused as refused:
        _refuse(f"publication #{publication.pk}: {refused}")
    except LakeError as bad:
        _refuse(f"publication #{publication.pk}: {path} cannot be written ({bad})")
    if put.sha256 != publication.sha256:
        _refuse(f"publication #{publication.pk}: the bytes copied to {path} hash to {put.sha256}, not the bound "
                f"{publication.sha256}")
    return path


def _next_version(publication: Publication) -> int:
    found = (Publication.objects.filter(client_account_id=publication.client_account_id, kind=publication.kind)
             .aggregate(top=Max("version"))["top"])
    return (found or 0) + 1


def publication_approve(*, actor, publication: Publication, comment: str, sha256: str) -> Publication:
    """Approve and publish: the next version of the client and kind, superseding the live one, in one transaction."""
    comment = (comment or "").strip()
    sha256 = (sha256 or "").strip().lower()
    with _refusals_audited(actor=actor, attempt="approve", object_id=publication.pk, extra={"sha256": sha256}):
        _four_eyes(actor, publication, "approving", "approve")
        if not comment:
            _refuse(f"publication #{publication.pk}: comment: an approval needs a comment")
        fresh = Publication.objects.select_related("deliverable").get(pk=publication.pk)
        if fresh.state != PublicationState.REQUESTED:
            _refuse(f"publication #{fresh.pk} is {fresh.state}: only a requested publication can be approved")
        if sha256 != fresh.sha256:
            _refuse(f"publication #{fresh.pk}: sha256: the approval names {sha256 or '(none)'}, the request is "
                    f"bound to {fresh.sha256}")
        checked = publication_gates.check(fresh.deliverable, fresh.sha256)
        failed = publication_gates.failed(checked)
        if failed:
            _refuse(_gate_refusal(failed, f"publication #{fresh.pk} can no longer be published"))
        version = _next_version(fresh)
        path = _copy_published(fresh, fresh.deliverable, version)
        try:
            published = _publish(actor, fresh, comment=comment, version=version, path=path, checked=checked)
        except IntegrityError:
            _refuse(f"publication #{fresh.pk}: version {version} of {fresh.client_account_id} {fresh.kind} was "
                    "taken by another approval at the same moment; approve again")
    return published


def _publish(actor, fresh: Publication, *, comment: str, version: int, path: str, checked: list[dict]) -> Publication:
    now = clock.now()
    with transaction.atomic():
        locked = Publication.objects.select_for_update().get(pk=fresh.pk)
        if locked.state != PublicationState.REQUESTED:
            _refuse(f"publication #{locked.pk} is {locked.state}: someone else decided it first")
        if _next_version(locked) != version:
            _refuse(f"publication #{locked.pk}: version {version} of {locked.client_account_id} {locked.kind} was "
                    "taken while this approval was writing; approve again")
        live = (Publication.objects.select_for_update()
                .filter(client_account_id=locked.client_account_id, kind=locked.kind,
                        state=PublicationState.PUBLISHED).first())
        if live is not None:
            Publication.objects.filter(pk=live.pk).update(state=PublicationState.SUPERSEDED, superseded_by=locked,
                                                          superseded_at=now)
            audit_record(actor=actor, action="publication.superseded", object_type=PUBLICATION_TYPE,
                         object_id=str(live.pk), before={"state": live.state, "version": live.version},
                         after={"state": PublicationState.SUPERSEDED, "superseded_by": locked.pk,
                                "by_version": version})
        before = _json(locked)
        Publication.objects.filter(pk=locked.pk).update(
            state=PublicationState.PUBLISHED, version=version, path=path, published_at=now, decided_by=actor,
            decided_at=now, decision_comment=comment, gates=[*locked.gates, *_stamped(checked, "approval")])
        locked.refresh_from_db()
        audit_record(actor=actor, action="publication.published", object_type=PUBLICATION_TYPE,
                     object_id=str(locked.pk), before=before,
                     after={**_json(locked), "comment": comment, "gates": checked,
                            "supersedes": live.pk if live else None})
        transaction.on_commit(lambda: lineage_publication(locked))  # its OpenLineage START and COMPLETE
    return locked


def publication_reject(*, actor, publication: Publication, comment: str) -> Publication:
    """Refuse a requested publication, with a comment (an approver other than the requester)."""
    comment = (comment or "").strip()
    with _refusals_audited(actor=actor, attempt="reject", object_id=publication.pk):
        _four_eyes(actor, publication, "rejecting", "reject", "; withdraw it instead")
        if not comment:
            _refuse(f"publication #{publication.pk}: comment: a rejection needs a comment")
        return _decide(actor, publication, PublicationState.REJECTED, "publication.rejected",
                       decided_by=actor, decision_comment=comment)


def publication_withdraw(*, actor, publication: Publication, reason: str = "") -> Publication:
    """The requester takes back a publication that has not been decided."""
    reason = (reason or "").strip()
    with _refusals_audited(actor=actor, attempt="withdraw", object_id=publication.pk):
        if actor.pk != publication.requested_by_id:
            _forbid(f"publication #{publication.pk}: only its requester can withdraw it")
        return _decide(actor, publication, PublicationState.WITHDRAWN, "publication.withdrawn",
                       decision_comment=reason)


def _decide(actor, publication: Publication, state: str, action: str, **fields) -> Publication:
    with transaction.atomic():
        locked = Publication.objects.select_for_update().get(pk=publication.pk)
        if locked.state != PublicationState.REQUESTED:
            _refuse(f"publication #{locked.pk} is {locked.state}: only a requested publication can be "
                    f"{state}")
        before = _json(locked)
        Publication.objects.filter(pk=locked.pk).update(state=state, decided_at=clock.now(), **fields)
        locked.refresh_from_db()
        audit_record(actor=actor, action=action, object_type=PUBLICATION_TYPE, object_id=str(locked.pk),
                     before=before, after={**_json(locked), "comment": locked.decision_comment})
    return locked


def publication_retract(*, actor, publication: Publication, reason: str) -> Publication:
    """Take a live publication down, with a reason: it is no longer served; its row, history and file stay."""
    reason = (reason or "").strip()
    with _refusals_audited(actor=actor, attempt="retract", object_id=publication.pk):
        if not actor.has_perm(APPROVE_PERMISSION):
            _forbid("retracting a publication needs the approve_publication permission")
        if not reason:
            _refuse(f"publication #{publication.pk}: reason: a retraction needs a reason")
        with transaction.atomic():
            locked = Publication.objects.select_for_update().get(pk=publication.pk)
            if locked.state != PublicationState.PUBLISHED:
                _refuse(f"publication #{locked.pk} is {locked.state}: only the live publication can be retracted")
            before = _json(locked)
            Publication.objects.filter(pk=locked.pk).update(
                state=PublicationState.RETRACTED, retracted_by=actor, retracted_at=clock.now(),
                retraction_reason=reason)
            locked.refresh_from_db()
            audit_record(actor=actor, action="publication.retracted", object_type=PUBLICATION_TYPE,
                         object_id=str(locked.pk), before=before, after={**_json(locked), "reason": reason})
    return locked


def record_download(*, actor, publication: Publication, via: str, refused: str = "") -> None:
    """A console read of a published file (or its refusal: the file changed) is audited."""
    with transaction.atomic():
        audit_record(actor=actor, action="publication.download_refused" if refused else "publication.downloaded",
                     object_type=PUBLICATION_TYPE, object_id=str(publication.pk),
                     after={"path": publication.path, "sha256": publication.sha256, "via": via,
                            **({"reason": refused} if refused else {})})
