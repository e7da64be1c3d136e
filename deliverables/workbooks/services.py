"""Deliverables (a client workbook or a dashboard payload): start one (a queued Deliverable, audited, sent to the
`runs` queue after commit), build it on the worker (claimed, beating, taken over after a lost worker:
deliverables.jobs), store it write-once in the lake, and open it again with its hash checked. The one build path
of both kinds.

Building, step by step (each recorded in `progress` with its time):
1. data: what the run stored for the client (deliverables.workbooks.data.workbook_data; for a payload,
   deliverables.payloads.builder.payload_for, validated against its schema);
2. sheets (a workbook): the workbook written to a temporary file (deliverables.workbooks.builder), the step's
   detail naming the sheet and rows written (at most once a second: each update is also the heartbeat);
   payload (a dashboard payload): its canonical bytes (payload_bytes: the same run gives the same bytes);
3. store: the file put in the lake at `deliverables/<client>/<period_start>_<period_end>/<sha256>.<xlsx|json>`
   (the same bytes give the same path: a rebuild of the same run finds its file already there, which is fine),
   then in ONE transaction its path, hash, size, summary, the builder's version and `succeeded`, audited as
   `deliverables.deliverable.built`. A workbook whose data held control characters (written as Excel escapes,
   read back exactly) says which cells, per sheet and column, in its summary and in that event
   (CONTROL_CHARACTERS; control_characters_report puts it in a sentence for the deliverable's page).

Reading back (`deliverable_open`): the lake checks the bytes against the hash it recorded when they were written,
and the bytes are checked again against the hash the deliverable recorded; either mismatch refuses the read
(DeliverableIntegrityError naming the file), so a changed file is never handed out.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import transaction

from console import clock, errors
from console.audit import audit_record
from console.dispatch import send_after_commit
from deliverables import jobs
from deliverables.choices import DELIVERABLE_TYPE, RUN_ACTIVE, DeliverableKind, RunState
from deliverables.models import CalculationRun, Deliverable, RunNumber

log = logging.getLogger("deliverables.deliverables")  # every line names the deliverable and its trace id

TASK = "deliverables.tasks.deliverable_build"
QUEUE = "runs"
BUILD_PERMISSION = "console.build_deliverable"
READ_PERMISSION = "console.view_provenance"
STEPS = ("data", "sheets", "store")
PAYLOAD_STEPS = ("data", "payload", "store")
KIND_STEPS = {DeliverableKind.WORKBOOK: STEPS, DeliverableKind.DASHBOARD_PAYLOAD: PAYLOAD_STEPS}
PREFIX = "deliverables"
EXTENSIONS = {DeliverableKind.WORKBOOK: "xlsx", DeliverableKind.DASHBOARD_PAYLOAD: "json"}
CONTENT_TYPES = {DeliverableKind.WORKBOOK: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 DeliverableKind.DASHBOARD_PAYLOAD: "application/json"}
# The source each kind's bytes depend on (package, modules), and the library that writes them.
BUILDER_MODULES = {
    DeliverableKind.WORKBOOK: (("workbooks", ("builder.py", "data.py", "model.py", "sheets.py", "xlsx.py")),),
    DeliverableKind.DASHBOARD_PAYLOAD: (("payloads", ("builder.py", "schema.py")), ("workbooks", ("data.py",))),
}
BUILDER_LIBRARIES = {DeliverableKind.WORKBOOK: "openpyxl", DeliverableKind.DASHBOARD_PAYLOAD: "jsonschema"}
PROGRESS_SECONDS = 1.0
# The summary's (and the built event's) report of the cells whose text held control characters, written as Excel
# escapes: {"cells": n, "columns": [[sheet, column heading, cells], ...]}; absent when the data held none.
CONTROL_CHARACTERS = "control_characters"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"

DELIVERABLES = jobs.JobKind(model=Deliverable, object_type=DELIVERABLE_TYPE, prefix="deliverables.deliverable",
                            label="deliverable", steps=STEPS, queue=QUEUE, log=log)


class Refused(ValueError):
    """A deliverable that cannot be built or read as asked (the message says which field or object and why)."""


class Forbidden(Refused):
    """Who asks may not do it (HTTP 403)."""


class DeliverableUnavailable(Refused):
    """The deliverable has no stored file (not built, failed, cancelled)."""


class DeliverableIntegrityError(Refused):
    """The stored file is missing or its bytes no longer hash to what was recorded: never handed out."""


def _refuse(actor, reason: str, object_id: str = "", *, forbidden: bool = False, details: dict | None = None):
    with transaction.atomic():
        audit_record(actor=actor, action="deliverables.deliverable.refused", object_type=DELIVERABLE_TYPE,
                     object_id=object_id, after={"reason": reason, **(details or {})})
    raise (Forbidden if forbidden else Refused)(reason)


def base_url() -> str:
    """What a workbook's links to the provenance pages start with: settings.CONSOLE_BASE_URL, else the console's
    local address. A setting, not the request's host: the same run gives the same bytes whoever asks."""
    return (getattr(settings, "CONSOLE_BASE_URL", "") or DEFAULT_BASE_URL).rstrip("/")


def builder_version(kind: str = DeliverableKind.WORKBOOK) -> str:
    """sha256 of the kind's builder source and the version of the library it writes (or validates) with."""
    from importlib.metadata import version

    app = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for package, names in BUILDER_MODULES[kind]:
        for name in names:
            digest.update(f"{package}/{name}".encode() + b"\0" + (app / package / name).read_bytes() + b"\0")
    library = BUILDER_LIBRARIES[kind]
    digest.update(f"{library}=={version(library)}".encode())
    return digest.hexdigest()


def run_clients(run: CalculationRun) -> list[str]:
    """The clients a run stored numbers for (what a workbook can be built for), sorted."""
    return sorted(set(RunNumber.objects.filter(run=run).values_list("client_account_id", flat=True)))


def lake_path(deliverable: Deliverable, sha256: str) -> str:
    return (f"{PREFIX}/{deliverable.client_account_id}/{deliverable.period_label}/"
            f"{sha256}.{EXTENSIONS[deliverable.kind]}")


def download_name(deliverable: Deliverable) -> str:
    """`<client>-<period>-<sha8>.xlsx`: what a download is saved as."""
    return (f"{deliverable.client_account_id}-{deliverable.period_label}-{deliverable.sha256[:8]}."
            f"{EXTENSIONS.get(deliverable.kind, 'bin')}")


# --- start ---------------------------------------------------------------------------------------------------
def deliverable_start(*, actor, run: CalculationRun, client: str, kind: str = DeliverableKind.WORKBOOK,
                      traceparent: str = "", enqueue: bool = True) -> Deliverable:
    """A queued deliverable of `client` from `run`, sent to the `runs` queue after commit.

    Refused (audited): without the build_deliverable permission (Forbidden); a kind this service does not build;
    a run that has not succeeded; a client the run stored no number for (the message names it); a build of the
    same run, client and kind still queued or running (the message names it: follow that one; checked under the
    run's row lock, so two at once queue one)."""
    client = (client or "").strip()
    asked = {"run": run.pk, "client": client, "kind": kind}
    if not actor.has_perm(BUILD_PERMISSION):
        _refuse(actor, "building a deliverable needs the build_deliverable permission", forbidden=True,
                details=asked)
    if kind not in EXTENSIONS:
        _refuse(actor, f"kind: {kind!r} is not built here (one of {', '.join(str(k) for k in EXTENSIONS)})",
                details=asked)
    if run.state != RunState.SUCCEEDED:
        _refuse(actor, f"run #{run.pk} is {run.state}: only a succeeded run has deliverables", details=asked)
    if not client:
        _refuse(actor, f"client: name the client whose {DeliverableKind(kind).label.lower()} to build from run "
                       f"#{run.pk}", details=asked)
    if not RunNumber.objects.filter(run=run, client_account_id=client).exists():
        clients = run_clients(run)
        _refuse(actor, f"client: run #{run.pk} has no number for client {client} (its clients: "
                       f"{', '.join(clients) or 'none'})", details=asked)
    trace = jobs.traceparent_for(traceparent or run.traceparent)
    with transaction.atomic():
        CalculationRun.objects.select_for_update().filter(pk=run.pk).first()
        building = (Deliverable.objects.filter(run=run, client_account_id=client, kind=kind, state__in=RUN_ACTIVE)
                    .order_by("pk").first())
        if building is None:
            deliverable = Deliverable.objects.create(
                kind=kind, run=run, client_account_id=client, period_start=run.period_start,
                period_end=run.period_end, requested_by=actor, traceparent=trace, trace_id=trace.split("-")[1],
                queue=QUEUE,
                progress={"step": "queued", "steps": [{"name": s, "state": "pending"} for s in KIND_STEPS[kind]]})
            audit_record(actor=actor, action="deliverables.deliverable.queued", object_type=DELIVERABLE_TYPE,
                         object_id=str(deliverable.pk),
                         after={**asked, "period": [str(run.period_start), str(run.period_end)],
                                "state": deliverable.state, "traceparent": trace})
            if enqueue:
                send_after_commit(TASK, Deliverable, deliverable.pk)
    if building is not None:  # refused outside the transaction: its audit event is kept
        what = f"the {DeliverableKind(kind).label.lower()} of client {client} from run #{run.pk}"
        _refuse(actor, f"deliverable #{building.pk}, {what}, is already {building.state}: follow it",
                details={**asked, "building": building.pk})
    log.info("deliverable #%s (%s of client %s from run #%s) queued trace_id=%s", deliverable.pk, kind, client,
             run.pk, deliverable.trace_id)
    return deliverable


# --- build ---------------------------------------------------------------------------------------------------
def deliverable_execute(*, deliverable_id: int, task_id: str = "", queue: str = "") -> Deliverable | None:
    """Claim the deliverable and build it; None when it is gone, final, or no longer ours."""
    from deliverables.workbooks.xlsx import WorkbookError

    deliverable = jobs.claim(DELIVERABLES, deliverable_id, task_id=task_id, queue=queue)
    if deliverable is None:
        return None
    log.info("deliverable #%s claimed by %s pid %s (attempt %s) trace_id=%s", deliverable.pk,
             deliverable.worker_host, deliverable.worker_pid, deliverable.attempts, deliverable.trace_id)
    try:
        _build_and_store(deliverable)
    except jobs.JobLost:
        return None
    except (Refused, WorkbookError) as bad:  # bad input: permanent, said plainly
        jobs.fail(DELIVERABLES, deliverable, str(bad))
    except Exception as exc:
        jobs.fail(DELIVERABLES, deliverable,
                  errors.fault_message(errors.log_fault(f"deliverable #{deliverable.pk}", exc)))
        raise
    deliverable.refresh_from_db()
    jobs.completed(DELIVERABLES, deliverable)
    return deliverable


class _Progress:
    """The builder's progress callback: the `sheets` step's detail, updated at most once a second."""

    def __init__(self, deliverable: Deliverable) -> None:
        self.deliverable = deliverable
        self.last = 0.0

    def __call__(self, sheet: str, rows: int) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_SECONDS:
            return
        self.last = now
        jobs.step(DELIVERABLES, self.deliverable, "sheets", "running", f"{sheet}: {rows} rows")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class _Built:
    """What a kind's writer left in the scratch folder: the file, its hash and size, and its summary."""

    out: Path
    sha256: str
    bytes: int
    summary: dict


def _write_workbook(deliverable: Deliverable, run: CalculationRun, scratch: str, links: str,
                    timings: dict) -> _Built:
    from deliverables.workbooks.builder import write_workbook
    from deliverables.workbooks.data import workbook_data

    mark = time.perf_counter()
    jobs.step(DELIVERABLES, deliverable, "data", "running")
    data = workbook_data(run, deliverable.client_account_id)
    timings["data"] = time.perf_counter() - mark
    jobs.step(DELIVERABLES, deliverable, "data", "done",
              f"{len(data.numbers)} numbers of run #{run.pk}, {run.findings_count} findings in the run")
    mark = time.perf_counter()
    jobs.step(DELIVERABLES, deliverable, "sheets", "running")
    out = Path(scratch) / "workbook.xlsx"
    progress = _Progress(deliverable)
    progress.last = time.monotonic()
    result = write_workbook(data, out=out, base_url=links, progress=progress)
    timings["sheets"] = time.perf_counter() - mark
    escaped = (f", {result.escaped_cells} cell{'s' if result.escaped_cells != 1 else ''} with control characters "
               f"(written as Excel escapes)") if result.escaped_cells else ""
    jobs.step(DELIVERABLES, deliverable, "sheets", "done",
              f"{len(result.sheets)} sheets, {sum(result.rows.values())} rows{escaped}")
    summary = {"sheets": list(result.sheets), "rows": dict(result.rows), "client_name": data.client_name,
               "numbers": len(data.numbers)}
    if result.escaped_cells:  # a workbook whose data held none reports nothing
        summary[CONTROL_CHARACTERS] = {"cells": result.escaped_cells,
                                       "columns": [list(line) for line in result.escaped]}
    return _Built(out, result.sha256, result.bytes, summary)


def _write_payload(deliverable: Deliverable, run: CalculationRun, scratch: str, links: str,
                   timings: dict) -> _Built:
    from deliverables.payloads.builder import PayloadError, payload_bytes, payload_for

    mark = time.perf_counter()
    jobs.step(DELIVERABLES, deliverable, "data", "running")
    try:
        payload = payload_for(run, deliverable.client_account_id, links)
    except PayloadError as bad:
        raise Refused(f"deliverable #{deliverable.pk}: {bad}") from None
    timings["data"] = time.perf_counter() - mark
    jobs.step(DELIVERABLES, deliverable, "data", "done",
              f"{len(payload['figures'])} figures of run #{run.pk}, validated against {payload['schema']}")
    mark = time.perf_counter()
    jobs.step(DELIVERABLES, deliverable, "payload", "running")
    content = payload_bytes(payload)
    out = Path(scratch) / "payload.json"
    out.write_bytes(content)
    timings["payload"] = time.perf_counter() - mark
    jobs.step(DELIVERABLES, deliverable, "payload", "done", f"{len(content)} bytes")
    return _Built(out, hashlib.sha256(content).hexdigest(), len(content),
                  {"schema": payload["schema"], "client_name": payload["client"]["name"],
                   "figures": len(payload["figures"]), "findings": len(payload["findings"]),
                   "numbers": payload["generated_from"]["numbers"]})


WRITERS = {DeliverableKind.WORKBOOK: _write_workbook, DeliverableKind.DASHBOARD_PAYLOAD: _write_payload}


def _build_and_store(deliverable: Deliverable) -> None:
    from console.lake import get_lake

    timings: dict[str, float] = {}
    run = CalculationRun.objects.select_related("requested_by").get(pk=deliverable.run_id)
    _clear_scratch(deliverable.pk, below=deliverable.attempts)  # what a killed earlier attempt left behind
    scratch = _scratch(deliverable.pk, deliverable.attempts)
    scratch.mkdir(parents=True, exist_ok=True)
    links = base_url()
    with jobs.Heartbeat(DELIVERABLES, deliverable), _removed_after(scratch):
        built = WRITERS[deliverable.kind](deliverable, run, str(scratch), links, timings)
        mark = time.perf_counter()
        jobs.step(DELIVERABLES, deliverable, "store", "running")
        if _sha256_file(built.out) != built.sha256:  # what the builder hashed is what goes to the lake
            raise Refused(f"deliverable #{deliverable.pk}: the written file changed before it was stored")
        path = lake_path(deliverable, built.sha256)
        with open(built.out, "rb") as stream:
            put = get_lake().put(path, stream)
        if not put.created:
            _check_stored(deliverable, path, built.sha256)
    version = builder_version(deliverable.kind)
    summary = {**built.summary, "base_url": links, "already_stored": not put.created,
               "seconds": {k: round(v, 3) for k, v in timings.items()}}
    with transaction.atomic():
        locked = Deliverable.objects.select_for_update().get(pk=deliverable.pk)
        if locked.state != RunState.RUNNING or locked.attempts != deliverable.attempts:
            raise jobs.JobLost(f"deliverable #{deliverable.pk} is no longer held by this worker")
        timings["store"] = time.perf_counter() - mark
        summary["seconds"]["store"] = round(timings["store"], 3)
        Deliverable.objects.filter(pk=deliverable.pk).update(
            state=RunState.SUCCEEDED, finished_at=clock.now(), heartbeat_at=clock.now(), path=path,
            sha256=built.sha256, bytes=built.bytes, summary=summary, builder_version=version,
            progress=jobs.done_steps(deliverable))
        audit_record(actor=None, action="deliverables.deliverable.built", object_type=DELIVERABLE_TYPE,
                     object_id=str(deliverable.pk), before={"state": RunState.RUNNING},
                     after={"state": RunState.SUCCEEDED, "kind": deliverable.kind, "run": run.pk,
                            "client": deliverable.client_account_id, "path": path, "sha256": built.sha256,
                            "bytes": built.bytes, "builder_version": version, "already_stored": not put.created,
                            **({CONTROL_CHARACTERS: built.summary[CONTROL_CHARACTERS]}
                               if CONTROL_CHARACTERS in built.summary else {})})
    log.info("deliverable #%s built: %s (%s bytes, sha256 %s%s) trace_id=%s", deliverable.pk, path, built.bytes,
             built.sha256, ", already in the lake" if not put.created else "", deliverable.trace_id)


def _check_stored(deliverable: Deliverable, path: str, sha256: str) -> None:
    """A rebuild whose bytes were already in the lake: the file there must still be them (write-once: a changed
    file cannot be replaced, and a deliverable is never recorded over it)."""
    from console.lake import LakeError, get_lake

    try:
        with get_lake().open(path) as stream:
            digest = hashlib.sha256()
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
    except LakeError as bad:
        raise Refused(f"deliverable #{deliverable.pk}: the lake already holds {path} and it fails its check "
                      f"({bad}); it cannot be overwritten") from None
    if digest.hexdigest() != sha256:
        raise Refused(f"deliverable #{deliverable.pk}: the lake already holds {path} with other bytes "
                      f"(sha256 {digest.hexdigest()}); it cannot be overwritten")


def control_characters_report(deliverable: Deliverable) -> str:
    """The sentence naming the cells of a built workbook whose text held control characters (written as Excel
    escapes, read back exactly), per sheet and column; "" when it held none."""
    from deliverables.workbooks.model import escaped_report

    found = (deliverable.summary or {}).get(CONTROL_CHARACTERS) or {}
    return escaped_report(found.get("columns") or ())


def content_type(deliverable: Deliverable) -> str:
    return CONTENT_TYPES.get(deliverable.kind, "application/octet-stream")


def deliverables_sweep_stale(*, older_than: dt.timedelta | None = None) -> list[int]:
    failed = jobs.sweep_stale(DELIVERABLES, older_than=older_than)
    for pk in failed:  # a build its worker abandoned (killed) leaves no scratch behind
        _clear_scratch(pk)
    return failed


# --- scratch: one folder per build attempt, named so that a later attempt or the sweeper finds a dead one's -----
def _scratch_root() -> Path:
    return Path(settings.VAR_DIR) / "deliverables"


def _scratch(pk: int, attempt: int) -> Path:
    return _scratch_root() / f"build-{pk}-{attempt}"


def _clear_scratch(pk: int, *, below: int | None = None) -> None:
    """Remove deliverable `pk`'s scratch folders (those of attempts before `below`, when given: a live attempt's
    own folder is never touched)."""
    for folder in _scratch_root().glob(f"build-{pk}-*"):
        attempt = folder.name.rsplit("-", 1)[-1]
        if below is None or (attempt.isdigit() and int(attempt) < below):
            shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _removed_after(folder: Path):
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- read ----------------------------------------------------------------------------------------------------
def deliverable_open(deliverable: Deliverable) -> BinaryIO:
    """A readable stream of the deliverable's stored file, its bytes checked against the deliverable's sha256 (and
    by the lake against the hash it recorded): DeliverableUnavailable when there is no file, and
    DeliverableIntegrityError, naming the file, when it is missing or its bytes changed."""
    if deliverable.state != RunState.SUCCEEDED or not deliverable.path or not deliverable.sha256:
        raise DeliverableUnavailable(f"deliverable #{deliverable.pk} is {deliverable.state}: it has no stored file")
    return open_checked(deliverable.path, sha256=deliverable.sha256, size=deliverable.bytes,
                        what=f"deliverable #{deliverable.pk}")


def open_checked(path: str, *, sha256: str, what: str, size: int | None = None) -> BinaryIO:
    """A readable stream of the lake file at `path` once its bytes hash to `sha256` (and number `size`, if given),
    the lake having checked them against its own record first; DeliverableIntegrityError naming `what` and the file
    otherwise (a published copy is read the same way: deliverables.publication.selectors)."""
    from console.lake import LakeError, LakeNotFound, get_lake

    try:
        stream = get_lake().open(path)
    except LakeNotFound:
        raise DeliverableIntegrityError(f"{what}: its file {path} is missing from the lake") from None
    except LakeError as bad:
        raise DeliverableIntegrityError(f"{what}: its file {path} failed the lake's check ({bad})") from None
    try:
        digest = hashlib.sha256()
        read = 0
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
            read += len(chunk)
        if digest.hexdigest() != sha256 or (size is not None and read != size):
            sizes = (f" ({read} bytes)", f" ({size} bytes)") if size is not None else ("", "")
            raise DeliverableIntegrityError(
                f"{what}: its file {path} now hashes to {digest.hexdigest()}{sizes[0]}, not the recorded "
                f"{sha256}{sizes[1]}: it is not handed out")
        stream.seek(0)
    except BaseException:
        stream.close()
        raise
    return stream


def record_download(*, actor, deliverable: Deliverable, via: str) -> None:
    """An audit event for a console download (who, which deliverable, which file): auditors see every copy."""
    with transaction.atomic():
        audit_record(actor=actor, action="deliverables.deliverable.downloaded", object_type=DELIVERABLE_TYPE,
                     object_id=str(deliverable.pk),
                     after={"path": deliverable.path, "sha256": deliverable.sha256, "bytes": deliverable.bytes,
                            "client": deliverable.client_account_id, "via": via})


def record_refused_read(*, actor, deliverable: Deliverable, reason: str, via: str) -> None:
    """A refused download (the file changed or is missing) is audited too: it is what an auditor must see."""
    with transaction.atomic():
        audit_record(actor=actor, action="deliverables.deliverable.download_refused", object_type=DELIVERABLE_TYPE,
                     object_id=str(deliverable.pk), after={"path": deliverable.path, "reason": reason, "via": via})
