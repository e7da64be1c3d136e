"""The receive page of evidence packets (/evidence/packets/receive/) and a queued receipt's page.

The upload streams to the staging area through the intake's handler (size limit, SHA-256; upload.js shows
the bytes' progress), a receipt is queued for a worker, and its page follows the receipt by htmx polling
until it links to the packet received or to the refusal. Receiving needs console.receive_evidence (operators,
admins); a receipt's page, console.view_provenance.
"""
from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from console.htmx import render_page
from evidence.choices import IntakeSource
from evidence.packets.models import PacketReceipt
from evidence.packets.receipts import packet_name_problem, receipt_result, receipt_upload
from evidence.upload_page import UploadPage

RECEIVE = "console.receive_evidence"
VIEW = "console.view_provenance"
POLL_SECONDS = 1


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


RECEIVE_PAGE = UploadPage("evidence/packets/receive.html", PacketUploadForm, "packets:packet-receive",
                          what="packet", command="receive_evidence")


@csrf_exempt  # CSRF is checked once the upload handler is in place (evidence.upload_page)
@login_required
@permission_required(RECEIVE, raise_exception=True)
def packet_receive_page(request):
    return RECEIVE_PAGE.handle(request, _queue_receipt)


def _queue_receipt(request, upload) -> str:
    receipt = receipt_upload(actor=request.user, upload=upload, source=IntakeSource.UPLOAD)
    return reverse("packets:receipt-detail", args=[receipt.pk])


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def receipt_detail(request, pk: int):
    receipt = get_object_or_404(PacketReceipt.objects.select_related("packet_revision__packet"), pk=pk)
    context = {"receipt": receipt, "result": receipt_result(receipt), "poll_seconds": POLL_SECONDS}
    return render_page(request, "evidence/packets/receipt_detail.html",
                       "evidence/packets/partials/receipt_progress.html", context)
