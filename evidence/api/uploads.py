"""API creates whose body is a multipart upload staged by the intake's handler (size limit, SHA-256):
`POST /api/intake-runs/` and `POST /api/evidence-packets/`.

`StagedUploadCreate` (after IdempotentCreate among the bases) installs the handler before anything reads the
body (session authentication's CSRF check does); `self.uploaded_file(serializer_class)` in the view's `post`
answers 413 for an upload past INTAKE_MAX_UPLOAD_BYTES (declared, or found while it streamed) and 400 for a
body its serializer refuses, and returns the file otherwise.
"""
from __future__ import annotations

from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.parsers import MultiPartParser

from console.words import errors_line
from evidence.intake.uploads import declared_length, receiving_uploads, record_upload_refused


class UploadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "upload_too_large"


class ArchiveUnsafe(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "archive_unsafe"


class StagedUploadCreate:
    parser_classes = [MultiPartParser]
    upload_what = "export"  # what the size refusal calls the upload
    upload_command = "ingest_export"  # where the size refusal sends a larger one

    def dispatch(self, request, *args, **kwargs):
        if request.method != "POST":
            return super().dispatch(request, *args, **kwargs)
        with receiving_uploads(request, what=self.upload_what, command=self.upload_command) as self.uploads:
            return super().dispatch(request, *args, **kwargs)

    def uploaded_file(self, serializer_class):
        """The staged file; a refusal (413, 400) is audited (`upload.refused`) before it is raised."""
        if self.uploads.refusal:  # the declared size is over the limit: the body is never read
            self._refused(self.uploads.refusal, declared=declared_length(self.request))
            raise UploadTooLarge(self.uploads.refusal)
        body = serializer_class(data=self.request.data)
        if self.uploads.refusal:  # the file passed the limit while it streamed
            self._refused(self.uploads.refusal, declared=declared_length(self.request))
            raise UploadTooLarge(self.uploads.refusal)
        if not body.is_valid():
            self._refused(errors_line(body.errors),
                          upload=self.request.FILES.get("file"))
            raise ValidationError(body.errors)
        return body.validated_data["file"]

    def _refused(self, reason: str, **what) -> None:
        record_upload_refused(actor=self.request.user, what=self.upload_what, via="api", reason=reason, **what)

