"""The receive page of evidence packets (/evidence/packets/receive/) and a queued receipt's page.

The upload streams to the staging area through the intake's handler (size limit, SHA-256; upload.js shows
the bytes' progress), a receipt is queued for a worker, and its page follows the receipt by htmx polling
until it links to the packet received or to the refusal. Receiving needs console.receive_evidence (operators,
admins); a receipt's page, console.view_provenance.
"""
from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseClientRedirect

from console.htmx import render_page, wants_fragment
from evidence.choices import IntakeSource
from evidence.intake.uploads import receiving_uploads, size_text, upload_refusal_text
from evidence.packets.models import PacketReceipt
from evidence.packets.receipts import packet_name_problem, receipt_result, receipt_upload

RECEIVE = "console.receive_evidence"
VIEW = "console.view_provenance"
POLL_SECONDS = 1
UPLOAD = {"what": "packet", "command": "receive_evidence"}


class PacketUploadForm(forms.Form):
    """One evidence packet, as a .zip of its folder."""

    file = forms.FileField(
        label="Evidence packet (.zip)",
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
        error_messages={"required": "Choose the packet's .zip file to upload."},
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        problem = packet_name_problem(upload.name)
        if problem:
            raise forms.ValidationError(problem)
        return upload


def _receive_page(request, form, *, refusal: str = "", status: int = 200):
    context = {
        "form": form, "refusal": refusal, "limit": settings.INTAKE_MAX_UPLOAD_BYTES,
        "limit_text": size_text(settings.INTAKE_MAX_UPLOAD_BYTES), "upload_url": reverse("packets:packet-receive"),
        "too_large": upload_refusal_text(**UPLOAD),
    }
    return render_page(request, "evidence/packets/receive.html", "evidence/partials/upload_form.html", context,
                       status=status)


# The upload handler must be in place before anything reads the body, and the CSRF check reads it: the view
# is exempt and `_receive`, which runs once the handler is in place, is CSRF-protected (as the intake's).
@csrf_exempt
@login_required
@permission_required(RECEIVE, raise_exception=True)
def packet_receive_page(request):
    if request.method == "GET":
        return _receive_page(request, PacketUploadForm())
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    with receiving_uploads(request, **UPLOAD) as uploads:
        if uploads.refusal:  # the declared size is over the limit: the body is never read
            return _receive_page(request, PacketUploadForm(), refusal=uploads.refusal, status=413)
        return _receive(request, uploads)


@csrf_protect
def _receive(request, uploads):
    form = PacketUploadForm(request.POST, request.FILES)
    if uploads.refusal:  # the file passed the limit while it streamed
        return _receive_page(request, PacketUploadForm(), refusal=uploads.refusal, status=413)
    if not form.is_valid():
        return _receive_page(request, form, status=400)
    receipt = receipt_upload(actor=request.user, upload=form.cleaned_data["file"], source=IntakeSource.UPLOAD)
    url = reverse("packets:receipt-detail", args=[receipt.pk])
    if wants_fragment(request):
        return HttpResponseClientRedirect(url)
    return redirect(url)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def receipt_detail(request, pk: int):
    receipt = get_object_or_404(PacketReceipt.objects.select_related("packet_revision__packet"), pk=pk)
    context = {"receipt": receipt, "result": receipt_result(receipt), "poll_seconds": POLL_SECONDS}
    return render_page(request, "evidence/packets/receipt_detail.html",
                       "evidence/packets/partials/receipt_progress.html", context)
