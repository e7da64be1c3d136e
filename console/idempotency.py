"""Idempotency keys: a retried create answers what the first one answered, and creates nothing more.

A client that sends `Idempotency-Key: <key>` with a create and gets no answer (a dropped connection, a
500, a timeout) can send the same request with the same key again: it gets the first answer (status,
body and Location) and no second object. The rules:

- a key belongs to the user who sent it: two users' keys never meet;
- "the same request" is the same fingerprint: SHA-256 of the method, the path, the query and the
  canonical body (JSON with sorted keys; for a multipart upload its fields and the SHA-256 of each
  file's bytes). The same key with another fingerprint is refused (`KeyReused`, HTTP 409);
- only a success (2xx) is kept: a refused or invalid request leaves the key unused, so the client can
  fix the cause and retry with the same key;
- a key is kept for IDEMPOTENCY_KEY_TTL_SECONDS (24 hours at least) from its first use on the console
  clock; after that the key is free again. Expired keys are deleted by the hourly beat task
  `console.tasks.idempotency_sweep`, and an expired key met on use is replaced there and then.

Races: the key's row is inserted in the same transaction as the create it guards. A second request
with the same key at the same moment waits on the unique constraint (user, key) until the first
commits, then finds the first's answer and replays it; if the first did not succeed, its row is gone
and the second proceeds as a new request. There is never a row without an answer.

`create_once` is the one way to run a create under a key: `console.api.creates` applies it to DRF views
(`IdempotentCreate`, the Idempotency-Key header) and `console.submissions` applies it to a page's create form
(its hidden `submission` key: new promotion request, start run, reconcile now); each only turns the outcome
into its own answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from console import clock
from console.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_LENGTH = IdempotencyKey._meta.get_field("key").max_length  # 255
# Printable ASCII without spaces: a UUID, a ULID, a hash all fit.
ALLOWED = frozenset(chr(code) for code in range(0x21, 0x7F))
PATTERN = rf"^[!-~]{{1,{MAX_LENGTH}}}$"  # the same rule, for the OpenAPI schema


class KeyReused(Exception):
    """The key was first used for a different request."""

    def __init__(self, record: IdempotencyKey, *, method: str, path: str):
        self.record = record
        same_target = (record.method, record.path) == (method.upper(), path)
        body = " with another body" if same_target else ""
        super().__init__(
            f"{HEADER} {record.key!r} was first used for {record.method} {record.path}{body}; "
            "a new request needs a new key"
        )


@dataclass(frozen=True)
class Answer:
    """What a create answered: replayed as is to the retries."""

    status_code: int
    body: Any
    location: str = ""


@dataclass(frozen=True)
class Outcome:
    """What `create_once` did: ran the create (`result` is what it returned, kept or refused), or found the
    first request's answer (`earlier`: this request is a retry and nothing ran)."""

    result: Any = None
    earlier: IdempotencyKey | None = None


def key_problem(key: str) -> str | None:
    """Why this header value cannot be an idempotency key, or None."""
    if not key:
        return f"{HEADER} is empty: send 1 to {MAX_LENGTH} printable ASCII characters, e.g. a UUID"
    if len(key) > MAX_LENGTH:
        return f"{HEADER} is {len(key)} characters long; the most is {MAX_LENGTH}"
    if not set(key) <= ALLOWED:
        return f"{HEADER} may hold printable ASCII characters only (no spaces), e.g. a UUID"
    return None


def fingerprint(*, method: str, path: str, query: list, body: Any) -> str:
    """SHA-256 of a request's method, path, query (name, values) pairs and canonical body."""
    canonical = json.dumps(
        {"method": method.upper(), "path": path, "query": sorted(query), "body": body},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def expiry(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS)


def idempotency_claim(*, user, key: str, fingerprint: str, method: str, path: str) -> IdempotencyKey | None:
    """Within the caller's transaction: the earlier answer to this key (raises KeyReused for another
    request), or None when the key is new and now held by the caller until its transaction ends.

    A held key must be settled in the same transaction: `idempotency_answer` on success,
    `idempotency_release` otherwise. These three are the steps of `create_once`: callers use it.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("idempotency_claim holds the key for the caller's transaction: call it in one")
    now = clock.now()
    IdempotencyKey.objects.filter(user=user, key=key, expires_at__lte=now).delete()
    found = IdempotencyKey.objects.filter(user=user, key=key).first()
    if found is None:
        try:
            with transaction.atomic():  # a savepoint: a lost race leaves the outer transaction usable
                IdempotencyKey.objects.create(
                    user=user, key=key, fingerprint=fingerprint, method=method.upper(), path=path,
                    status_code=0, created_at=now, expires_at=expiry(now),
                )
            return None
        except IntegrityError:
            # Another request with this key committed while this insert waited: its answer is there now
            # (each statement reads what is committed).
            found = IdempotencyKey.objects.get(user=user, key=key)
    if found.fingerprint != fingerprint:
        raise KeyReused(found, method=method, path=path)
    return found


def idempotency_answer(*, user, key: str, answer: Answer) -> None:
    """Keep the answer to the key the caller holds (same transaction as the create)."""
    IdempotencyKey.objects.filter(user=user, key=key).update(
        status_code=answer.status_code, body=answer.body, location=answer.location
    )


def idempotency_release(*, user, key: str) -> None:
    """Free the key the caller holds: its request did not succeed, so a retry may use it again."""
    IdempotencyKey.objects.filter(user=user, key=key).delete()


def create_once(
    *, user, key: str, fingerprint: str, method: str, path: str,
    create: Callable[[], tuple[Any, Answer | None]],
) -> Outcome:
    """Run `create` once per (user, key): the first request runs it, a retry gets the first's answer.

    `create()` returns (its result, the `Answer` to keep) when it made its object, or (its result, None)
    when it was refused: then the key is released, and the refusal (and its audit) is still committed. An
    exception from `create` rolls everything back, the key's claim with it. The same key with another
    `fingerprint` raises `KeyReused` and runs nothing.
    """
    claim = {"user": user, "key": key}
    with transaction.atomic():
        earlier = idempotency_claim(**claim, fingerprint=fingerprint, method=method, path=path)
        if earlier is not None:
            return Outcome(earlier=earlier)
        result, answer = create()
        if answer is not None:
            idempotency_answer(**claim, answer=answer)
        else:
            idempotency_release(**claim)
    return Outcome(result=result)


def idempotency_sweep() -> int:
    """Delete expired keys; returns how many."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=clock.now()).delete()
    return deleted
