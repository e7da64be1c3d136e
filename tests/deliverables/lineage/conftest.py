"""Lineage tests: the events read back from the lake, checked against the OpenLineage run event's shape, and a small
Marquez-like receiver (http.server in a thread) that records what is POSTed to /api/v1/lineage."""
from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema
import pytest

from deliverables.lineage import lineage_events

# The shape of an OpenLineage RunEvent (spec 2-0-2) as it matters here, written for these tests: the package ships
# no copy of the spec's JSON Schema.
FACET = {"type": "object", "required": ["_producer", "_schemaURL"],
         "properties": {"_producer": {"type": "string", "pattern": "^https?://"},
                        "_schemaURL": {"type": "string", "pattern": "^https?://"}}}
FACETS = {"type": "object", "additionalProperties": FACET}
DATASET = {"type": "object", "required": ["namespace", "name"],
           "properties": {"namespace": {"type": "string", "minLength": 1}, "name": {"type": "string", "minLength": 1},
                          "facets": FACETS, "inputFacets": FACETS, "outputFacets": FACETS}}
RUN_EVENT = {
    "type": "object",
    "required": ["eventType", "eventTime", "run", "job", "producer", "schemaURL"],
    "properties": {
        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
        "eventTime": {"type": "string"},
        "producer": {"type": "string", "pattern": "^https?://"},
        "schemaURL": {"type": "string", "pattern": "^https://openlineage.io/spec/"},
        "run": {"type": "object", "required": ["runId"], "properties": {"runId": {"type": "string"}, "facets": FACETS}},
        "job": {"type": "object", "required": ["namespace", "name"],
                "properties": {"namespace": {"type": "string", "minLength": 1},
                               "name": {"type": "string", "minLength": 1}, "facets": FACETS}},
        "inputs": {"type": "array", "items": DATASET},
        "outputs": {"type": "array", "items": DATASET},
    },
}


def valid(event: dict) -> dict:
    """The event, checked: the run event's shape, a UUID run id, an eventTime with its time zone."""
    jsonschema.validate(event, RUN_EVENT)
    uuid.UUID(event["run"]["runId"])
    assert dt.datetime.fromisoformat(event["eventTime"]).tzinfo is not None
    return event


def events_of(obj) -> list[dict]:
    """The lake's events about one object (its type and id), in the order they happened, each checked."""
    about = (obj._meta.label_lower, str(obj.pk))
    return [valid(e) for e in lineage_events()
            if (e["run"]["facets"]["leafConsole_object"]["objectType"],
                e["run"]["facets"]["leafConsole_object"]["objectId"]) == about]


def by_name(datasets: list[dict]) -> dict[str, dict]:
    return {d["name"]: d for d in datasets}


class Receiver:
    """What a Marquez-compatible endpoint received: (path, event) in arrival order."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append((self.path, json.loads(body)))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def dead_url() -> str:
    """An address nothing listens on (a port bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
