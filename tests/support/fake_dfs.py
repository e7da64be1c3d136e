"""A small in-memory ADLS Gen2 server for testing `AdlsLake` through the real Azure SDK.

No released Azurite serves the DFS endpoint (Azure/Azurite#553), so this implements just the REST
calls the backend makes, with the service's semantics where they matter to us:

- create filesystem: PUT ?restype=container (blob) or ?resource=filesystem (DFS)
- create path: PUT ?resource=file|directory; creates missing parent folders; overwrites unless
  conditional, and answers If-None-Match: * on an existing path with 409 PathAlreadyExists
- rename: PUT with x-ms-rename-source; the destination's parent must exist; same conditions
- append / flush: PATCH ?action=append&position=N, ?action=flush&position=N (contiguous data only)
- set metadata: PUT ?comp=metadata (blob, x-ms-meta-*)
- get properties: HEAD (blob: metadata as x-ms-meta-*, folders carry hdi_isfolder=true)
- read: GET with x-ms-range / Range, If-Match; 416 on a ranged read of an empty file
- list paths: GET ?resource=filesystem&directory=…&recursive=…, paged by x-ms-continuation
- delete path: DELETE

The SDK sends blob and DFS calls to the same host when the endpoint has no `.dfs.` in it, as here,
so both families are told apart by their query parameters. Any other call gets a 400
`UnsupportedByFakeDfs`, so a new SDK call fails loudly instead of passing by accident. Requests
must carry a SharedKey authorization for the account or a SAS signature; neither is verified.
Every request is recorded (`requests`) so tests can check what the SDK actually sent.
"""
from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

ACCOUNT = "lakeaccount"
ACCOUNT_KEY = base64.b64encode(b"fake-dfs-account-key").decode()


@dataclass
class Node:
    kind: str  # "file" or "directory"
    etag: str
    last_modified: str
    data: bytes = b""
    metadata: dict[str, str] = field(default_factory=dict)
    pending: dict[int, bytes] = field(default_factory=dict)  # appended, not yet flushed, by position


@dataclass(frozen=True)
class Request:
    method: str
    filesystem: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    status: int


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def _error(status: int, code: str, message: str = "") -> Response:
    body = json.dumps({"error": {"code": code, "message": message or code}}).encode()
    return Response(status, {"x-ms-error-code": code, "Content-Type": "application/json"}, body)


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


class FakeDfs:
    """The server and its state: filesystems of nodes keyed by their full path."""

    def __init__(self, account: str = ACCOUNT, page_size: int = 3) -> None:
        self.account = account
        # A small page forces every listing through the SDK's continuation handling.
        self.page_size = page_size
        self.filesystems: dict[str, dict[str, Node]] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._etags = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeDfs:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-dfs", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    @property
    def endpoint(self) -> str:
        """The account URL to hand the SDK (AdlsLake's `endpoint`)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/{self.account}"

    def url(self, filesystem: str, prefix: str = "") -> str:
        return f"abfss://{filesystem}@{self.account}.dfs.core.windows.net/{prefix}"

    # --- inspection and tampering, behind the SDK's back ----------------------------------------
    def paths(self, filesystem: str) -> dict[str, Node]:
        with self._lock:
            return dict(self.filesystems[filesystem])

    def file_bytes(self, filesystem: str, path: str) -> bytes:
        with self._lock:
            return self.filesystems[filesystem][path].data

    def tamper(self, filesystem: str, path: str, data: bytes | None = None, metadata: dict | None = None):
        """Replace a file's bytes and/or metadata the way an out-of-band writer would."""
        with self._lock:
            node = self.filesystems[filesystem][path]
            if data is not None:
                node.data = data
            if metadata is not None:
                node.metadata = dict(metadata)
            self._touch(node)

    def requests_for(self, filesystem: str, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.filesystem == filesystem and r.path == path]

    # --- dispatch ----------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        parts = urlsplit(target)
        segments = parts.path.lstrip("/").split("/", 2)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        account = segments[0]
        filesystem = unquote(segments[1]) if len(segments) > 1 else ""
        path = unquote(segments[2]).strip("/") if len(segments) > 2 else ""
        with self._lock:
            if account != self.account:
                response = _error(400, "InvalidUri", f"unknown account {account!r}")
            elif not (headers.get("authorization", "").startswith(f"SharedKey {account}:") or "sig" in query):
                response = _error(403, "AuthenticationFailed", "no SharedKey authorization or SAS signature")
            else:
                response = self._route(method, filesystem, path, query, headers, body)
            self.requests.append(Request(method, filesystem, path, query, headers, response.status))
        return response

    def _route(self, method, filesystem, path, query, headers, body) -> Response:
        if not path:
            creates = {query.get("restype"), query.get("resource")} & {"container", "filesystem"}
            if method == "PUT" and creates:
                return self._create_filesystem(filesystem)
            if method == "GET" and query.get("resource") == "filesystem":
                return self._list(filesystem, query)
        elif method == "PUT" and "x-ms-rename-source" in headers:
            return self._rename(filesystem, path, headers)
        elif method == "PUT" and query.get("resource") in {"file", "directory"}:
            return self._create_path(filesystem, path, query["resource"], headers)
        elif method == "PUT" and query.get("comp") == "metadata":
            return self._set_metadata(filesystem, path, headers)
        elif method == "PATCH" and query.get("action") == "append":
            return self._append(filesystem, path, int(query["position"]), body)
        elif method == "PATCH" and query.get("action") == "flush":
            return self._flush(filesystem, path, int(query["position"]), headers)
        elif method in {"HEAD", "GET"} and not {"resource", "action", "comp", "restype"} & query.keys():
            return self._read(filesystem, path, headers, head=method == "HEAD")
        elif method == "DELETE" and not {"restype", "comp"} & query.keys():
            return self._delete(filesystem, path, query)
        return _error(400, "UnsupportedByFakeDfs", f"{method} {filesystem}/{path} {query} is not implemented")

    # --- state helpers -------------------------------------------------------------------------
    def _touch(self, node: Node) -> None:
        self._etags += 1
        node.etag = f'"0x8DC{self._etags:013X}"'
        node.last_modified = formatdate(usegmt=True)

    def _new(self, kind: str, metadata: dict[str, str] | None = None) -> Node:
        node = Node(kind=kind, etag="", last_modified="", metadata=dict(metadata or {}))
        self._touch(node)
        return node

    @staticmethod
    def _precondition(headers, node: Node | None, *, creating: bool = False) -> Response | None:
        if_none_match = headers.get("if-none-match")
        if_match = headers.get("if-match")
        if if_none_match == "*" and node is not None:
            # A create-only write on an existing path: ADLS answers 409, not 412.
            if creating:
                return _error(409, "PathAlreadyExists", "The specified path already exists.")
            return _error(412, "ConditionNotMet", "If-None-Match: * and the path exists.")
        if if_none_match and if_none_match != "*" and node is not None and node.etag == if_none_match:
            return _error(412, "ConditionNotMet", "If-None-Match matched the current ETag.")
        if if_match and (node is None or (if_match != "*" and node.etag != if_match)):
            return _error(412, "ConditionNotMet", "If-Match did not match the current ETag.")
        return None

    def _fs(self, filesystem: str) -> dict[str, Node] | None:
        return self.filesystems.get(filesystem)

    @staticmethod
    def _properties(header: str) -> dict[str, str]:
        metadata = {}
        for item in filter(None, header.split(",")):
            name, _, value = item.partition("=")
            metadata[name.strip()] = base64.b64decode(value).decode()
        return metadata

    def _node_headers(self, node: Node) -> dict[str, str]:
        headers = {"ETag": node.etag, "Last-Modified": node.last_modified}
        metadata = dict(node.metadata)
        if node.kind == "directory":
            metadata["hdi_isfolder"] = "true"
        headers.update({f"x-ms-meta-{name}": value for name, value in metadata.items()})
        headers["x-ms-resource-type"] = node.kind
        headers["x-ms-blob-type"] = "BlockBlob"
        headers["x-ms-creation-time"] = node.last_modified
        return headers

    # --- operations ----------------------------------------------------------------------------
    def _create_filesystem(self, filesystem: str) -> Response:
        if filesystem in self.filesystems:
            return _error(409, "ContainerAlreadyExists", "The specified container already exists.")
        self.filesystems[filesystem] = {}
        return Response(201, {"ETag": '"0x1"', "Last-Modified": formatdate(usegmt=True)})

    def _create_path(self, filesystem, path, kind, headers) -> Response:
        nodes = self._fs(filesystem)
        if nodes is None:
            return _error(404, "FilesystemNotFound", "The specified filesystem does not exist.")
        existing = nodes.get(path)
        if refusal := self._precondition(headers, existing, creating=True):
            return refusal
        for ancestor in _ancestors(path):
            if ancestor in nodes and nodes[ancestor].kind == "file":
                return _error(409, "PathConflict", f"{ancestor!r} is a file, not a folder.")
        if existing is not None and existing.kind != kind:
            return _error(409, "PathConflict", f"{path!r} exists and is a {existing.kind}.")
        for ancestor in _ancestors(path):
            nodes.setdefault(ancestor, self._new("directory"))
        node = self._new(kind, self._properties(headers.get("x-ms-properties", "")))
        nodes[path] = node  # ADLS's default: an unconditional create replaces a file
        return Response(201, {"ETag": node.etag, "Last-Modified": node.last_modified})

    def _rename(self, filesystem, path, headers) -> Response:
        nodes = self._fs(filesystem)
        if nodes is None:
            return _error(404, "FilesystemNotFound", "The specified filesystem does not exist.")
        source = urlsplit(headers["x-ms-rename-source"])
        source_fs, _, source_path = unquote(source.path).lstrip("/").partition("/")
        if source_fs != filesystem:
            return _error(400, "UnsupportedByFakeDfs", "renames across filesystems are not implemented")
        node = nodes.get(source_path)
        if node is None:
            return _error(404, "SourcePathNotFound", "The source path for a rename operation does not exist.")
        existing = nodes.get(path)
        if refusal := self._precondition(headers, existing, creating=True):
            return refusal
        parent = _parent(path)
        if parent and (parent not in nodes or nodes[parent].kind != "directory"):
            return _error(404, "RenameDestinationParentPathNotFound", "The destination's parent is missing.")
        if existing is not None and (existing.kind != "file" or node.kind != "file"):
            return _error(409, "PathConflict", "Only a file may replace a file.")
        moved = {p: n for p, n in nodes.items() if p == source_path or p.startswith(source_path + "/")}
        for old, moved_node in moved.items():
            del nodes[old]
            nodes[path + old[len(source_path):]] = moved_node
        return Response(201, {"ETag": node.etag, "Last-Modified": node.last_modified})

    def _file(self, filesystem, path) -> tuple[Node | None, Response | None]:
        nodes = self._fs(filesystem)
        if nodes is None:
            return None, _error(404, "FilesystemNotFound", "The specified filesystem does not exist.")
        node = nodes.get(path)
        if node is None:
            return None, _error(404, "PathNotFound", "The specified path does not exist.")
        return node, None

    def _append(self, filesystem, path, position, body) -> Response:
        node, refusal = self._file(filesystem, path)
        if refusal:
            return refusal
        if node.kind != "file":
            return _error(409, "PathConflict", "Data can only be appended to a file.")
        node.pending[position] = body
        return Response(202)

    def _flush(self, filesystem, path, position, headers) -> Response:
        node, refusal = self._file(filesystem, path)
        if refusal or (refusal := self._precondition(headers, node)):
            return refusal
        data = bytearray(node.data)
        while len(data) < position:
            piece = node.pending.get(len(data))
            if piece is None:
                return _error(400, "InvalidFlushPosition", "The uploaded data is not contiguous.")
            data += piece
        if len(data) != position:
            return _error(400, "InvalidFlushPosition", "The flush position does not end an append.")
        node.data = bytes(data)
        node.pending.clear()
        self._touch(node)
        return Response(200, {"ETag": node.etag, "Last-Modified": node.last_modified})

    def _set_metadata(self, filesystem, path, headers) -> Response:
        node, refusal = self._file(filesystem, path)
        if refusal or (refusal := self._precondition(headers, node)):
            return refusal
        node.metadata = {
            name.removeprefix("x-ms-meta-"): value
            for name, value in headers.items()
            if name.startswith("x-ms-meta-")
        }
        self._touch(node)
        return Response(200, {"ETag": node.etag, "Last-Modified": node.last_modified})

    def _read(self, filesystem, path, headers, *, head: bool) -> Response:
        if self._fs(filesystem) is None:
            return _error(404, "ContainerNotFound", "The specified container does not exist.")
        node = self.filesystems[filesystem].get(path)
        if node is None:
            return _error(404, "BlobNotFound", "The specified blob does not exist.")
        if refusal := self._precondition(headers, node):
            return refusal
        response_headers = self._node_headers(node)
        response_headers["Content-Type"] = "application/octet-stream"
        data = node.data
        spec = headers.get("x-ms-range") or headers.get("range")
        if head or not spec:
            return Response(200, response_headers | {"Content-Length": str(len(data))}, b"" if head else data)
        start_text, _, end_text = spec.removeprefix("bytes=").partition("-")
        start = int(start_text)
        if start >= len(data):
            return _error(416, "InvalidRange", "The range is invalid for the current size of the resource.")
        end = min(int(end_text) if end_text else len(data) - 1, len(data) - 1)
        response_headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        return Response(206, response_headers, data[start : end + 1])

    def _list(self, filesystem, query) -> Response:
        nodes = self._fs(filesystem)
        if nodes is None:
            return _error(404, "FilesystemNotFound", "The specified filesystem does not exist.")
        directory = query.get("directory", "").strip("/")
        if directory and (directory not in nodes or nodes[directory].kind != "directory"):
            return _error(404, "PathNotFound", "The specified path does not exist.")
        recursive = query.get("recursive", "false").lower() == "true"
        inside = f"{directory}/" if directory else ""
        names = sorted(
            name
            for name in nodes
            if name.startswith(inside) and (recursive or "/" not in name[len(inside):])
        )
        start = int(query.get("continuation") or 0)
        size = min(int(query.get("maxResults") or self.page_size), self.page_size)
        page = names[start : start + size]
        paths = []
        for name in page:
            node = nodes[name]
            entry = {
                "name": name,
                "lastModified": node.last_modified,
                "etag": node.etag,
                "contentLength": str(len(node.data)),
            }
            if node.kind == "directory":
                entry["isDirectory"] = "true"  # the service omits it for files
            paths.append(entry)
        headers = {"Content-Type": "application/json"}
        if start + size < len(names):
            headers["x-ms-continuation"] = str(start + size)
        return Response(200, headers, json.dumps({"paths": paths}).encode())

    def _delete(self, filesystem, path, query) -> Response:
        _node, refusal = self._file(filesystem, path)
        if refusal:
            return refusal
        nodes = self.filesystems[filesystem]
        children = [p for p in nodes if p.startswith(path + "/")]
        if children and query.get("recursive", "false").lower() != "true":
            return _error(409, "DirectoryNotEmpty", "The recursive query parameter value must be true.")
        for name in [path, *children]:
            del nodes[name]
        return Response(200)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    server_fake: FakeDfs

    def _serve(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.send_error(411, "chunked request bodies are not implemented")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        response = self.server_fake.handle(self.command, self.path, headers, body)
        self.send_response(response.status)
        response.headers.setdefault("Content-Length", str(len(response.body)))
        response.headers.setdefault("x-ms-version", headers.get("x-ms-version", ""))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_PUT = do_PATCH = do_HEAD = do_DELETE = _serve

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's signature
        pass
