"""Pages of evidence packets (mounted at /evidence/packets/): the packet list, a packet's detail with its
revisions, the selected revision's records and source documents, and the Verify and Withdraw forms.

Reading needs console.view_provenance. Verify and Withdraw are offered only to those who may (the verify
capability, and never to the receiver for Verify); the service decides anyway and audits every refusal,
answered 403 when it is about who asks and 409 when it is about the revision's state.
"""
from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from console.comments import COMMENT_MAX_CHARS
from console.htmx import render_page
from console.lake import get_lake
from console.lake.base import LakeError, LakeIntegrityError, LakeNotFound
from console.paging import cursor_param, keyset_page, page_urls
from evidence.packets import listing, services, verification
from evidence.packets.models import EvidencePacket, PacketRevision
from evidence.packets.selectors import account_names
from evidence.views import _list_context, _reader  # the list pages' shape; the evidence pages' reader

RECORDS_PAGE_SIZE = 100
VIEW = "console.view_provenance"


class VerifyForm(forms.Form):
    sha256 = forms.CharField(widget=forms.HiddenInput, max_length=64)
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), label="What did you check?", max_length=COMMENT_MAX_CHARS,
        error_messages={"required": "Write a comment: what you checked against the source documents."},
    )


class WithdrawForm(forms.Form):
    sha256 = forms.CharField(widget=forms.HiddenInput, max_length=64)
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), label="Reason", max_length=COMMENT_MAX_CHARS,
        error_messages={"required": "Write the reason: it is kept with the withdrawal."},
    )


@_reader
def packet_list(request):
    context = _list_context(request, listing.PacketFilterSet, listing.packets())
    page = context.get("page")
    names = account_names() if page and page.items else {}
    for packet in page.items if page else []:  # each client by its governed Salesforce name, the id beside it
        packet.clients = [(client, names.get(client, "")) for client in packet.client_account_ids or []]
    return render_page(request, "evidence/packets/packet_list.html", "evidence/packets/partials/packet_results.html",
                       context)


def _packet(pk: int) -> EvidencePacket:
    return get_object_or_404(listing.packets(), pk=pk)


def _selected(packet: EvidencePacket, number: int | None) -> PacketRevision | None:
    if number is None:
        number = packet.latest_revision
    revision = listing.revision_of(packet, number) if number is not None else None
    if revision is None and number is not None and number != packet.latest_revision:
        raise Http404(f"{packet.packet_id} has no revision {number}")
    return revision


def _detail(request, packet: EvidencePacket, revision: PacketRevision | None, *, status: int = 200,
            verify_form=None, withdraw_form=None):
    records_page = None
    if revision is not None:
        records_page = keyset_page(listing.records_of(revision), key="row", size=RECORDS_PAGE_SIZE,
                                   descending=False, after=cursor_param(request.GET, "after"),
                                   before=cursor_param(request.GET, "before"))
    next_url, prev_url = page_urls(request.GET, records_page)
    columns = listing.record_columns(revision.kind) if revision is not None else []
    user = request.user
    context = {
        "packet": packet,
        "revisions": listing.revisions_of(packet),
        "revision": revision,
        "records_page": records_page,
        "columns": columns,
        "record_rows": [_values(record, columns) for record in records_page.items] if records_page else [],
        "next_url": next_url,
        "prev_url": prev_url,
        "documents": listing.documents_of(revision) if revision is not None else [],
        "supersedes": listing.superseded_by(revision),
        "is_receiver": revision is not None and verification.is_receiver(user, revision),
        "decisions": verification.decisions_of(revision) if revision is not None else [],
        "may_verify": revision is not None and verification.may_verify(user, revision),
        "may_withdraw": revision is not None and verification.may_withdraw(user, revision),
        "verify_form": verify_form or VerifyForm(initial={"sha256": revision.sha256 if revision else ""}),
        "withdraw_form": withdraw_form or WithdrawForm(initial={"sha256": revision.sha256 if revision else ""}),
    }
    return render_page(request, "evidence/packets/packet_detail.html", "evidence/packets/partials/records.html",
                       context, status=status)


def _values(record, columns: list[str]) -> list:
    values = []
    for column in columns:
        value = getattr(record, column)
        if isinstance(value, list):
            value = "; ".join(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()  # as the packet wrote it (YYYY-MM-DD), whatever the locale
        values.append(value)
    return values


@_reader
def packet_detail(request, pk: int, number: int | None = None):
    packet = _packet(pk)
    return _detail(request, packet, _selected(packet, number))


def _decide(request, pk: int, number: int, action: str):
    packet = _packet(pk)
    revision = _selected(packet, number)
    if revision is None:
        raise Http404(f"{packet.packet_id} has no revision {number}")
    form_class = VerifyForm if action == "verify" else WithdrawForm
    form = form_class(request.POST)
    forms_given = {f"{action}_form": form}
    if not form.is_valid():
        if not request.user.has_perm(VIEW):
            return HttpResponseForbidden("Refused")
        return _detail(request, packet, revision, status=400, **forms_given)
    data = form.cleaned_data
    try:
        if action == "verify":
            verification.packet_verify(actor=request.user, revision=revision, sha256=data["sha256"],
                                       comment=data["comment"])
            messages.success(request, f"Verified: {revision} is governed evidence.")
        else:
            verification.packet_withdraw(actor=request.user, revision=revision, sha256=data["sha256"],
                                         reason=data["reason"])
            messages.success(request, f"Withdrawn: {revision} is candidate evidence again.")
    except verification.VerificationRefused as refused:
        status = 403 if refused.forbidden else 409
        if not request.user.has_perm(VIEW):
            return HttpResponse(f"Refused: {refused.reason}", status=status, content_type="text/plain")
        messages.error(request, f"Refused: {refused.reason}")
        return _detail(request, _packet(pk), _selected(packet, number), status=status)
    return redirect(reverse("packets:revision-detail", args=[packet.pk, revision.revision]))


@login_required
@require_POST
def revision_verify(request, pk: int, number: int):
    return _decide(request, pk, number, "verify")


@login_required
@require_POST
def revision_withdraw(request, pk: int, number: int):
    return _decide(request, pk, number, "withdraw")


@_reader
def document_download(request, pk: int, number: int, index: int):
    """A source document of a revision, served only if its bytes still match both the lake's recorded
    SHA-256 and the one packet.json lists; otherwise a page that says which file failed and why."""
    packet = _packet(pk)
    revision = _selected(packet, number)
    documents = listing.documents_of(revision) if revision is not None else []
    if not 0 <= index < len(documents):
        raise Http404(f"{packet.packet_id} r{number} has no document {index}")
    document = documents[index]
    lake = get_lake()
    try:
        recorded = lake.sha256(document["lake_path"])
        if recorded != document["sha256"]:
            raise LakeIntegrityError(
                f"the lake recorded sha256 {recorded}, packet.json lists {document['sha256']}")
        stream = lake.open(document["lake_path"])
    except LakeError as exc:
        problem = "is missing from the lake" if isinstance(exc, LakeNotFound) else (
            "no longer matches its SHA-256: the stored bytes changed since the packet was received")
        context = {"packet": packet, "revision": revision, "document": document, "problem": problem,
                   "detail": str(exc)}
        services.record_document_read(actor=request.user, revision=revision, document=document,
                                      refused=f"{problem} ({exc})")
        return render(request, "evidence/packets/document_refused.html", context, status=409)
    try:
        services.record_document_read(actor=request.user, revision=revision, document=document)
    except BaseException:
        stream.close()
        raise
    filename = document["path"].rsplit("/", 1)[-1]
    response = FileResponse(stream, as_attachment=True, filename=filename,
                            content_type=document.get("media_type") or "application/octet-stream")
    response["X-Content-SHA256"] = document["sha256"]
    return response

