"""An upload page (the intake's export upload, the evidence packet receive page): GET shows the form; POST streams
the file to the staging area through the intake's handler (size limit, SHA-256), then hands it to `accept`,
which records and queues its run and returns the URL of the run's page.

The upload handler must be installed before anything reads the body, and the CSRF check reads it: the view is
csrf_exempt and `_posted`, which runs once the handler is in place, is CSRF-protected.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.csrf import csrf_protect
from django_htmx.http import HttpResponseClientRedirect

from console.htmx import render_page, wants_fragment
from console.words import errors_line
from evidence.intake.uploads import (
    ArchiveRefused,
    declared_length,
    receiving_uploads,
    record_upload_refused,
    size_text,
    upload_refusal_text,
)


@dataclass(frozen=True)
class UploadPage:
    template: str  # extends the layout and includes evidence/partials/upload_form.html in #upload-form
    form_class: type[forms.Form]  # one FileField, `file`
    url_name: str  # the page's own URL (the form posts to it)
    what: str = "export"  # what the size refusal calls the upload
    command: str = "ingest_export"  # where the size refusal sends a larger one

    def render(self, request, form=None, *, refusal: str = "", status: int = 200):
        context = {
            "form": form or self.form_class(), "refusal": refusal, "limit": settings.INTAKE_MAX_UPLOAD_BYTES,
            "limit_text": size_text(settings.INTAKE_MAX_UPLOAD_BYTES), "upload_url": reverse(self.url_name),
            "too_large": upload_refusal_text(what=self.what, command=self.command),
        }
        return render_page(request, self.template, "evidence/partials/upload_form.html", context, status=status)

    def handle(self, request, accept: Callable[[object, object], str]):
        """The page's view (GET and POST); `accept(request, upload)` records the upload, returns where to go."""
        if request.method == "GET":
            return self.render(request)
        if request.method != "POST":
            return HttpResponseNotAllowed(["GET", "POST"])
        with receiving_uploads(request, what=self.what, command=self.command) as uploads:
            if uploads.refusal:  # the declared size is over the limit: the body is never read
                self.refused(request, uploads.refusal, declared=declared_length(request))
                return self.render(request, refusal=uploads.refusal, status=413)
            return _posted(request, self, uploads, accept)

    def refused(self, request, reason: str, **what) -> None:
        if request.user.is_authenticated:  # the page's own guard answers anyone else
            record_upload_refused(actor=request.user, what=self.what, via="page", reason=reason, **what)


@csrf_protect
def _posted(request, page: UploadPage, uploads, accept):
    form = page.form_class(request.POST, request.FILES)
    if uploads.refusal:  # the file passed the limit while it streamed
        page.refused(request, uploads.refusal, declared=declared_length(request))
        return page.render(request, refusal=uploads.refusal, status=413)
    if not form.is_valid():
        page.refused(request, errors_line(form.errors, form.fields),
                     upload=request.FILES.get("file"))
        return page.render(request, form, status=400)
    try:
        url = accept(request, form.cleaned_data["file"])
    except ArchiveRefused as refused:  # an unsafe archive, refused from its central directory (audited)
        return page.render(request, form, refusal=str(refused), status=422)
    if wants_fragment(request):
        return HttpResponseClientRedirect(url)
    return redirect(url)
