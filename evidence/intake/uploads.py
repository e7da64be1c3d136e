"""Uploads of Leaf IQ exports: streamed to the intake's staging area, refused past INTAKE_MAX_UPLOAD_BYTES.

Django hands the request body to its upload handlers chunk by chunk. `StagingUploadHandler` goes
first in the chain and keeps every chunk to itself:

- a request whose declared Content-Length is past the limit is refused before a byte of its body
  is read (nothing reaches memory or disk);
- otherwise each file streams straight into a folder of its own under the staging area, counted
  and hashed as it goes, and the upload stops the moment the count passes the limit;
- every staged folder that was not handed to an intake run is deleted when the view is done, so a
  refused, invalid or abandoned upload leaves nothing behind.

Views install the handler with `receiving_uploads(request)` before anything reads the body (the
CSRF check reads it: see `evidence.views.intake_upload`).
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopFutureHandlers, StopUpload
from django.db import transaction
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict

from console.audit import audit_record
from evidence.intake.services import intake_create, stage_upload, staging_root
from evidence.intake.validation import archive
from evidence.models import IntakeRun

# Room in a multipart body for its boundaries, part headers and small fields (the CSRF token)
# around the file itself, so that an export of exactly the limit is still accepted.
MULTIPART_ALLOWANCE = 64 * 1024
EXPORT_SUFFIX = ".zip"


def size_text(size: int) -> str:
    """A byte count for people: '2 GiB (2,147,483,648 bytes)'."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            amount = size / scale
            shown = f"{amount:.0f}" if amount == int(amount) else f"{amount:.1f}"
            return f"{shown} {unit} ({size:,} bytes)"
    return f"{size:,} bytes"


def limit_message(limit: int, received: int | None = None, *, what: str = "export",
                  command: str = "ingest_export") -> str:
    """Why an upload past the limit is refused, and where such a file is received instead."""
    said = f"This upload is {size_text(received)}; t" if received is not None else "T"
    return (
        f"{said}he console receives {what}s of at most {size_text(limit)} (INTAKE_MAX_UPLOAD_BYTES). "
        f"Receive a larger {what} on the server with manage.py {command} PATH, "
        "or ask an admin to raise the limit."
    )


def upload_refusal_text(*, what: str = "export", command: str = "ingest_export") -> str:
    """What an upload page says, before sending, of a file past the limit (after "This file is N bytes; ")."""
    limit = settings.INTAKE_MAX_UPLOAD_BYTES
    return (
        f"the console receives {what}s of at most {size_text(limit)} (INTAKE_MAX_UPLOAD_BYTES). "
        f"Receive it on the server with manage.py {command} PATH, or ask an admin to raise the limit."
    )


def export_name_problem(name: str) -> str | None:
    """Why a file name cannot be an export upload, or None."""
    if not name.lower().endswith(EXPORT_SUFFIX):
        return "Upload the export as a .zip of its folder, with manifest.json at its root."
    return None


class StagedUpload(UploadedFile):
    """An uploaded file already in the staging area, with its size and SHA-256."""

    def __init__(
        self, *, path: Path, name: str, size: int, sha256: str, content_type: str, charset, extra, keeper
    ):
        super().__init__(
            file=path.open("rb"),
            name=name,
            content_type=content_type,
            size=size,
            charset=charset,
            content_type_extra=extra,
        )
        self.staged_path = path
        self.sha256 = sha256
        self._keeper = keeper

    def temporary_file_path(self) -> str:
        return str(self.staged_path)

    def keep(self) -> None:
        """Hand the staged file over (to an intake run): it outlives the request."""
        self._keeper.kept.add(self.staged_path.parent)


class StagingUploadHandler(FileUploadHandler):
    """First upload handler of the chain: refuses past the limit, stages to disk, counts and hashes."""

    def __init__(self, request=None, *, limit: int, what: str = "export", command: str = "ingest_export"):
        super().__init__(request)
        self.limit = limit
        self.what, self.command = what, command  # what the refusal names
        self.received = 0  # bytes of every file of this request so far
        self.refusal: str | None = None
        self.folders: list[Path] = []  # every staging folder this request created
        self.kept: set[Path] = set()  # those handed to an intake run
        self._handle = None
        self._path: Path | None = None
        self._digest = None

    # --- before the body is read ------------------------------------------------------------------
    def check_declared_length(self, content_length: int) -> None:
        if content_length > self.limit + MULTIPART_ALLOWANCE:
            self.refusal = limit_message(self.limit, content_length, what=self.what, command=self.command)

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.check_declared_length(content_length)
        if self.refusal:
            # Claim the body and read none of it: the view answers with the refusal.
            return QueryDict(encoding=encoding), MultiValueDict()
        return None

    # --- while it streams ---------------------------------------------------------------------
    def new_file(
        self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None
    ):
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        folder = Path(tempfile.mkdtemp(prefix="upload-", dir=staging_root()))
        self.folders.append(folder)
        self._path = folder / (Path(file_name).name or "export.zip")
        self._handle = self._path.open("wb")
        self._digest = hashlib.sha256()
        raise StopFutureHandlers  # the bytes go to staging only, never to memory or /tmp as well

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.refusal = limit_message(self.limit, what=self.what, command=self.command)
            self._abandon()
            raise StopUpload(connection_reset=False)  # drains at most MULTIPART_ALLOWANCE more bytes
        self._handle.write(raw_data)
        self._digest.update(raw_data)
        return None  # no later handler sees the chunk

    def file_complete(self, file_size):
        self._handle.close()
        upload = StagedUpload(
            path=self._path,
            name=self.file_name,
            size=file_size,
            sha256=self._digest.hexdigest(),
            content_type=self.content_type,
            charset=self.charset,
            extra=self.content_type_extra,
            keeper=self,
        )
        self._handle = self._path = self._digest = None
        return upload

    def upload_interrupted(self):
        self._abandon()

    def _abandon(self) -> None:
        if self._handle is not None:
            self._handle.close()
        if self._path is not None:
            shutil.rmtree(self._path.parent, ignore_errors=True)
        self._handle = self._path = self._digest = None

    # --- after the view ---------------------------------------------------------------------------
    def discard_unkept(self) -> None:
        self._abandon()
        for folder in self.folders:
            if folder not in self.kept:
                shutil.rmtree(folder, ignore_errors=True)


def declared_length(request) -> int:
    """The request's Content-Length (0 when absent or not a number)."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


@contextlib.contextmanager
def receiving_uploads(
    request, *, limit: int | None = None, what: str = "export", command: str = "ingest_export"
) -> Iterator[StagingUploadHandler]:
    """Install the staging handler on a request whose body is still unread; clean up after the view.
    `what` and `command` name the upload and the command for larger ones in the refusal."""
    if hasattr(request, "_files") or getattr(request, "_read_started", False):
        # Too late: Django's own handlers have taken the body, unlimited. A programming error.
        raise RuntimeError("the request body was read before the upload handler was installed")
    handler = StagingUploadHandler(
        request, limit=settings.INTAKE_MAX_UPLOAD_BYTES if limit is None else limit, what=what, command=command
    )
    handler.check_declared_length(declared_length(request))
    request.upload_handlers.insert(0, handler)
    try:
        yield handler
    finally:
        handler.discard_unkept()


# --- the service the page and the API call --------------------------------------------------------


@contextlib.contextmanager
def staged_upload(upload: UploadedFile) -> Iterator[tuple[Path, int, str]]:
    """The staged path, size and SHA-256 of an upload, for the block that records its run.

    A StagedUpload (through StagingUploadHandler) is already staged and counted: it is handed over when the
    block succeeds. Any other upload (e.g. a test's in-memory file) is staged here, and removed again if the
    block raises."""
    if isinstance(upload, StagedUpload):
        yield upload.staged_path, upload.size, upload.sha256
        upload.keep()
        return
    digest = hashlib.sha256()

    def chunks():
        for chunk in upload.chunks():
            digest.update(chunk)
            yield chunk

    staged = stage_upload(chunks(), name=upload.name)
    try:
        yield staged, staged.stat().st_size, digest.hexdigest()
    except BaseException:
        shutil.rmtree(staged.parent, ignore_errors=True)
        raise


class ArchiveRefused(Exception):
    """An uploaded archive whose central directory is unsafe (a zip bomb, a path outside, a link): refused at the
    door, nothing inflated; the message names the file and the member."""


def intake_upload(*, actor, upload: UploadedFile, source: str) -> IntakeRun:
    """Record an intake run for an uploaded export, audit who uploaded what, and queue it.

    The run and its two audit events (the service's `intake.queued` and `intake.uploaded` with the
    bytes' size and SHA-256) commit together; the task is enqueued after the commit. An archive whose central
    directory is unsafe (archive.screen) is refused before that: ArchiveRefused, audited as `intake.refused`,
    the staged bytes removed.
    """
    with staged_upload(upload) as (staged, size, sha256):
        problems = archive.screen(staged)
        if problems:
            reasons = [f"{p.file or upload.name}: {p.message}" for p in problems[:20]]
            with transaction.atomic():
                audit_record(actor=actor, action="intake.refused", object_type="evidence.intakerun", object_id="",
                             after={"source": source, "original_name": upload.name, "bytes": size,
                                    "sha256": sha256, "reasons": reasons})
            raise ArchiveRefused(f"{upload.name} is refused before anything is extracted: " + "; ".join(reasons))
        with transaction.atomic():
            run = intake_create(actor=actor, source=source, original_name=upload.name, staged_path=staged)
            audit_record(
                actor=actor,
                action="intake.uploaded",
                object_type="evidence.intakerun",
                object_id=str(run.pk),
                after={"source": source, "original_name": run.original_name, "bytes": size, "sha256": sha256},
            )
    return run


def record_upload_refused(*, actor, what: str, via: str, reason: str, upload=None, declared: int | None = None) -> None:
    """An upload refused before it was recorded (past the size limit, no file, not a .zip, empty): who tried, what,
    how large, why (`upload.refused`). Its bytes are not kept; an unsafe archive is `intake.refused` instead."""
    after = {"what": what, "via": via, "reason": reason}
    if upload is not None:
        after.update(original_name=upload.name, bytes=upload.size)
    elif declared:
        after["declared_bytes"] = declared
    with transaction.atomic():
        audit_record(actor=actor, action="upload.refused", object_type="evidence.upload", object_id="", after=after)
