"""OpenLineage run events, one way: `emit` builds a RunEvent with the openlineage-python client's classes and hands
it to the client, which writes it to the lake (always) and POSTs it to a Marquez-compatible endpoint (when
settings.OPENLINEAGE_URL is set) with the client's HTTP transport.

- run id: a UUID5 of the object it reports on ("<object type>:<pk>:<trace id>:attempt-<n>" for queued work), so
  the START and the COMPLETE or FAIL of one attempt share it, and a takeover after a lost worker is a new run;
- eventTime: console.clock; producer: PRODUCER; job namespace: settings.OPENLINEAGE_NAMESPACE;
- the lake copy: one object per event, write-once, at
  `lineage/<yyyy>/<mm>/<dd>/<HHMMSS.ffffff>-<rank>-<event type>-<object type>-<pk>-<run id>.json` holding one
  JSON line. The lake lists paths sorted, and sorted paths are in event-time order (the rank puts START before
  RUNNING before COMPLETE/FAIL/ABORT within one microsecond): `lineage_events` reads them back in that order,
  and concatenating the files in that order is a JSON-lines log.

Lineage reports on work; it never decides it. Nothing here raises to its caller: a lake or endpoint that fails
is logged with the object's trace id, and the other destination still gets the event.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import traceback
import uuid
from typing import Any

import attr
from django.conf import settings
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    DatasetFacet,
    JobFacet,
    RunFacet,
    data_quality_assertions_dataset,
    dataset_version_dataset,
    error_message_run,
    input_statistics_input_dataset,
    job_type_job,
    output_statistics_output_dataset,
)
from openlineage.client.serde import Serde
from openlineage.client.transport.http import HttpConfig, HttpTransport
from openlineage.client.transport.transport import Config, Transport

from console import clock

log = logging.getLogger("deliverables.lineage")  # every line names the object and its trace id

PRODUCER = "https://leafhealth.example/leaf-takeover-console"
FACETS = f"{PRODUCER}/spec/facets"  # where the console's own facets' schemas are named
PREFIX = "lineage"
ENDPOINT = "api/v1/lineage"
RUN_IDS = uuid.uuid5(uuid.NAMESPACE_URL, PRODUCER)  # the namespace of every run id this console mints
RANK = {"START": 1, "RUNNING": 2, "COMPLETE": 3, "FAIL": 3, "ABORT": 3, "OTHER": 4}
HTTP_RETRY = {"total": 1, "connect": 1, "read": 0, "backoff_factor": 0.1, "status_forcelist": [502, 503, 504],
              "allowed_methods": ["POST"]}


# --- the console's own facets (OpenLineage custom facets: the "leafConsole_" prefix, a schema URL of ours) ---------
@attr.define
class ObjectRunFacet(RunFacet):
    """Which console object the run reports on, and where it ran (its trace joins the worker's log lines)."""

    objectType: str
    objectId: str
    attempt: int | None = None
    traceId: str | None = None
    traceparent: str | None = None
    taskId: str | None = None
    queue: str | None = None
    workerHost: str | None = None
    workerPid: int | None = None
    requestedBy: str | None = None

    @staticmethod
    def _get_schema() -> str:
        return f"{FACETS}/ObjectRunFacet.json"


@attr.define
class DetailsFacet(RunFacet):
    """What a kind of run adds of its own (parameters, evidence revisions, versions), as plain JSON."""

    details: dict = attr.field(factory=dict)

    @staticmethod
    def _get_schema() -> str:
        return f"{FACETS}/DetailsFacet.json"


@attr.define
class DetailsJobFacet(JobFacet):
    """The job's own versions (the calculation's source hash, a mapping version, a builder version)."""

    details: dict = attr.field(factory=dict)

    @staticmethod
    def _get_schema() -> str:
        return f"{FACETS}/DetailsJobFacet.json"


@attr.define
class IntegrityDatasetFacet(DatasetFacet):
    """A dataset version's hashes and counts as the console recorded them."""

    sha256: str | None = None
    checksum: str | None = None
    rows: int | None = None
    details: dict | None = None

    @staticmethod
    def _get_schema() -> str:
        return f"{FACETS}/IntegrityDatasetFacet.json"


def facet(cls, **fields):
    """A facet stamped with this console as its producer."""
    return cls(producer=PRODUCER, **fields)


# --- datasets ---------------------------------------------------------------------------------------------------
def namespace() -> str:
    """The namespace of the console's jobs and of the records it governs (curated versions, packets, numbers)."""
    return settings.OPENLINEAGE_NAMESPACE


def lake_namespace() -> str:
    """The lake's datasets are named by their lake path in the lake's own namespace (its URL)."""
    from console.lake import get_lake

    url = get_lake().url
    return url if "://" in url else f"file://{url}"


def dataset(name: str, *, lake: bool = False, output: bool = False, version: str | None = None,
            rows: int | None = None, size: int | None = None, sha256: str | None = None,
            checksum: str | None = None, details: dict | None = None, assertions: list[dict] | None = None):
    """An input (or output) dataset: a lake file (`lake=True`, named by its path) or a console record; its version,
    row count or size, hashes, and data-quality assertions ({assertion, success, name, actual, expected})."""
    facets: dict[str, Any] = {}
    if version:
        facets["version"] = facet(dataset_version_dataset.DatasetVersionDatasetFacet, datasetVersion=str(version))
    if sha256 or checksum or details:
        facets["leafConsole_integrity"] = facet(IntegrityDatasetFacet, sha256=sha256 or None,
                                                checksum=checksum or None, rows=rows, details=details or None)
    space = lake_namespace() if lake else namespace()
    if output:
        stats = {}
        if rows is not None or size is not None:
            stats["outputStatistics"] = facet(output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet,
                                              rowCount=rows, size=size, fileCount=1 if lake else None)
        return OutputDataset(namespace=space, name=name, facets=facets, outputFacets=stats)
    extra: dict[str, Any] = {}
    if rows is not None or size is not None:
        extra["inputStatistics"] = facet(input_statistics_input_dataset.InputStatisticsInputDatasetFacet,
                                         rowCount=rows, size=size)
    if assertions:
        extra["dataQualityAssertions"] = facet(
            data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet,
            assertions=[data_quality_assertions_dataset.Assertion(**a) for a in assertions])
    return InputDataset(namespace=space, name=name, facets=facets, inputFacets=extra)


# --- run ids, and the event ---------------------------------------------------------------------------------------
def run_key(obj) -> str:
    """What makes one run of `obj`: its type and id, its trace (unique across databases) and its attempt."""
    label = obj._meta.label_lower
    if hasattr(obj, "attempts"):
        return f"{label}:{obj.pk}:{obj.trace_id}:attempt-{obj.attempts}"
    return f"{label}:{obj.pk}:{getattr(obj, 'sha256', '')}:{obj.requested_at.isoformat()}"


def run_id(obj) -> str:
    return str(uuid.uuid5(RUN_IDS, run_key(obj)))


def object_facet(obj) -> ObjectRunFacet:
    requester = getattr(obj, "requested_by", None)
    return facet(ObjectRunFacet, objectType=obj._meta.label_lower, objectId=str(obj.pk),
                 attempt=getattr(obj, "attempts", None), traceId=getattr(obj, "trace_id", None) or None,
                 traceparent=getattr(obj, "traceparent", None) or None, taskId=getattr(obj, "task_id", None) or None,
                 queue=getattr(obj, "queue", None) or None, workerHost=getattr(obj, "worker_host", None) or None,
                 workerPid=getattr(obj, "worker_pid", None), requestedBy=requester.get_username() if requester else None)


def error_facet(error: str) -> error_message_run.ErrorMessageRunFacet:
    """The error as the job recorded it; the stack trace too when an exception is being handled."""
    _type, exc, _tb = sys.exc_info()
    stack = "".join(traceback.format_exception(exc)) if exc is not None else None
    return facet(error_message_run.ErrorMessageRunFacet, message=error, programmingLanguage="python",
                 stackTrace=stack)


def emit(event_type: str, job_name: str, obj, *, inputs: list | tuple = (), outputs: list | tuple = (),
         run_facets: dict | None = None, job_facets: dict | None = None, event_time=None) -> RunEvent | None:
    """Build the run event of `obj` and send it (lake, then the endpoint when set); the event, or None when it
    could not be built (logged). Never raises: lineage must not fail the work it reports on."""
    trace_id = getattr(obj, "trace_id", "")
    try:
        when = (event_time or clock.now()).astimezone(clock.UTC)
        event = RunEvent(
            eventType=RunState(event_type), eventTime=when.isoformat(), producer=PRODUCER,
            run=Run(runId=run_id(obj), facets={"leafConsole_object": object_facet(obj), **(run_facets or {})}),
            job=Job(namespace=namespace(), name=job_name, facets={
                "jobType": facet(job_type_job.JobTypeJobFacet, processingType="BATCH", integration="LEAF_CONSOLE",
                                 jobType=obj._meta.model_name.upper()),
                **(job_facets or {})}),
            inputs=list(inputs), outputs=list(outputs))
    except Exception:
        log.exception("lineage: the %s event of %s #%s could not be built trace_id=%s", event_type,
                      obj._meta.label_lower, obj.pk, trace_id)
        return None
    for name, client in _clients():
        try:
            client.emit(event)
        except Exception as exc:  # noqa: BLE001 (any failure of a destination is logged; the work goes on)
            log.warning("lineage: the %s event of %s #%s (run %s) was not sent to %s: %s trace_id=%s", event_type,
                        obj._meta.label_lower, obj.pk, event.run.runId, name, exc, trace_id)
    return event


# --- where events go ----------------------------------------------------------------------------------------------
def lake_path(event: RunEvent) -> str:
    """`lineage/<yyyy>/<mm>/<dd>/<HHMMSS.ffffff>-<rank>-<event>-<object type>-<pk>-<run id>.json` (UTC)."""
    when = dt.datetime.fromisoformat(event.eventTime).astimezone(clock.UTC)
    kind = event.eventType.value
    about = (event.run.facets or {}).get("leafConsole_object")
    subject = f"{about.objectType}-{about.objectId}" if about else "unknown"
    return (f"{PREFIX}/{when:%Y/%m/%d}/{when:%H%M%S.%f}-{RANK.get(kind, 9)}-{kind}-{subject}-"
            f"{event.run.runId}.json")


@attr.define
class LakeConfig(Config):
    pass


class LakeTransport(Transport):
    """The console's transport: each event, one JSON line, written once to the lake (console.lake)."""

    kind = "leaf_lake"
    name = "lake"
    config_class = LakeConfig

    def __init__(self, config: LakeConfig | None = None) -> None:
        self.config = config or LakeConfig()

    def emit(self, event) -> None:
        from console.lake import get_lake

        get_lake().put(lake_path(event), (Serde.to_json(event) + "\n").encode())


_cache: dict[tuple, list] = {}


def _clients() -> list[tuple[str, OpenLineageClient]]:
    """The lake's client, and the endpoint's when OPENLINEAGE_URL is set (built once per setting)."""
    url, timeout = settings.OPENLINEAGE_URL, settings.OPENLINEAGE_TIMEOUT_SECONDS
    key = (url, timeout)
    if key not in _cache:
        clients = [("the lake", OpenLineageClient(transport=LakeTransport()))]
        if url:
            http = HttpTransport(HttpConfig(url=url, endpoint=ENDPOINT, timeout=float(timeout), retry=HTTP_RETRY))
            clients.append((f"{url.rstrip('/')}/{ENDPOINT}", OpenLineageClient(transport=http)))
        _cache.clear()
        _cache[key] = clients
    return _cache[key]


def lineage_events(prefix: str = PREFIX) -> list[dict]:
    """Every event stored under `prefix` (a folder of `lineage/`), in the order they happened."""
    from console.lake import get_lake

    lake = get_lake()
    return [json.loads(lake.read(path)) for path in lake.list(prefix)]
