"""How the API answers a create: `created()` for the response, `IdempotentCreate` for retries.

- `created(body, location)`: 201 (or the given status) with a `Location` that is a plain `str`. DRF's
  hyperlinked fields give `Hyperlink` objects (a `str` subclass) and WSGI servers (wsgiref, which the
  console's own server and the live-server tests use) refuse any header value that is not exactly a
  `str`: the object was created and the client saw a 500. Every create answers through here.
- `IdempotentCreate`: put it first among a view's bases and its own `post` accepts an `Idempotency-Key`
  header (console.idempotency), documented in the OpenAPI schema (or decorate one `post`
  method with `idempotent`):

      class PeopleGrantCreate(IdempotentCreate, APIView):
          def post(self, request): ...
              return created(body, body["url"])

  A retry with the same key and body answers what the first answered (status, body, Location, with
  `Idempotent-Replayed: true`) and creates nothing; the same key with another body is a 409; a key
  that is empty, longer than 255 characters or not printable ASCII is a 400.
"""

from __future__ import annotations

import functools
import hashlib
import json

from django.http import QueryDict
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from console import idempotency

REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    idempotency.HEADER,
    {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_LENGTH, "pattern": idempotency.PATTERN},
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "A key of your choosing (a UUID) that makes this create safe to retry. Sent again with the same body "
        "by the same user within 24 hours, it answers what the first request answered (same status, body "
        f"and Location, with `{REPLAYED_HEADER}: true`) and creates nothing; with another body, 409. "
        f"1 to {idempotency.MAX_LENGTH} printable ASCII characters, otherwise 400. A request that did not "
        "succeed does not use up its key."
    ),
)


def created(body, location, *, code: int = status.HTTP_201_CREATED) -> Response:
    """A create's answer: `body` with this status and a `Location` header that is a plain str."""
    return Response(body, status=code, headers={"Location": str(location)})


# --- what "the same request" is ------------------------------------------------------------------------


def _file_sha256(upload) -> str:
    """The SHA-256 of an uploaded file's bytes (already counted by the intake's staging handler if it
    came through it)."""
    known = getattr(upload, "sha256", None)
    if known:
        return known
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def _canonical_body(request):
    """The body as parsed: JSON as is; a form or multipart upload as its fields (less the CSRF token)
    and, per file field, each file's name and SHA-256."""
    data = request.data
    if not isinstance(data, QueryDict) and not request.FILES:
        return data
    fields = {
        name: sorted(request.POST.getlist(name)) for name in request.POST if name != "csrfmiddlewaretoken"
    }
    files = {
        name: [[upload.name, _file_sha256(upload)] for upload in request.FILES.getlist(name)]
        for name in request.FILES
    }
    return {"fields": fields, "files": files}


def request_fingerprint(request) -> str:
    query = [[name, sorted(values)] for name, values in request.query_params.lists()]
    return idempotency.fingerprint(
        method=request.method, path=request.path, query=query, body=_canonical_body(request)
    )


# --- the view side -------------------------------------------------------------------------------------


def _replay(record) -> Response:
    headers = {REPLAYED_HEADER: "true"}
    if record.location:
        headers["Location"] = record.location
    return Response(record.body, status=record.status_code, headers=headers)


def _answer(response) -> idempotency.Answer:
    body = None if response.data is None else json.loads(JSONRenderer().render(response.data))
    return idempotency.Answer(response.status_code, body, str(response.get("Location", "")))


def idempotent(post):
    """Wrap a view's `post` (authentication and permissions have run) with the Idempotency-Key rules."""

    @functools.wraps(post)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(idempotency.HEADER)
        if key is None:
            return post(view, request, *args, **kwargs)
        problem = idempotency.key_problem(key)
        if problem:
            raise ValidationError({idempotency.HEADER: [problem]})
        fingerprint = request_fingerprint(request)  # reads the body: a bad body is a 400 here

        def create():
            try:
                response = post(view, request, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - a refusal (400, 403, 409) is an answer: keep its audit
                response = view.handle_exception(exc)  # re-raises what is not an API error: all rolls back
            return response, (_answer(response) if status.is_success(response.status_code) else None)

        try:
            outcome = idempotency.create_once(
                user=request.user, key=key, fingerprint=fingerprint, method=request.method, path=request.path,
                create=create,
            )
        except idempotency.KeyReused as reused:
            return Response({"detail": str(reused)}, status=status.HTTP_409_CONFLICT)
        return _replay(outcome.earlier) if outcome.earlier is not None else outcome.result

    # functools.wraps shares the wrapped function's __dict__ entries: give the wrapper its own copy of
    # drf-spectacular's per-method settings before extending them.
    if hasattr(post, "kwargs"):
        wrapper.kwargs = dict(post.kwargs)
    return extend_schema(parameters=[IDEMPOTENCY_KEY_PARAMETER])(wrapper)


class IdempotentCreate:
    """Mixin (first among the bases): the view's own `post` takes an Idempotency-Key."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "post" in cls.__dict__:
            cls.post = idempotent(cls.__dict__["post"])
