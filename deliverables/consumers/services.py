"""Consumer tokens and the reads made with them.

- `consumer_token_create`: an admin (console.manage_consumer_tokens) binds a new token to a name, a set of clients
  (Salesforce account ids known to the console) and an expiry (90 days by default, at most 365). The secret is
  returned once, in the IssuedToken; only its SHA-256 and its first characters (the prefix, to find it) are stored.
- `consumer_token_revoke`: with a reason; compare-and-set, so a token is revoked once.
- the live publication's file is read with deliverables.publication.selectors.publication_open (its bytes checked
  against the publication's SHA-256 before any is handed out; a failed check is audited by `consumer_read_refused`).
- `consumer_read_record`: every read of the consumer API, refused ones included, as a ConsumerRead; the token's
  `last_used_at` moves to it (a revoked or expired token still in use shows so).

Everything an admin does is audited, and so is a refusal (never the secret).
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from console import clock, context
from console.audit import audit_record
from deliverables.choices import CONSUMER_TOKEN_TYPE, PUBLICATION_TYPE
from deliverables.consumers import selectors
from deliverables.consumers.selectors import TokenState
from deliverables.models import ConsumerRead, ConsumerToken, Publication

log = logging.getLogger("deliverables.consumers")

MANAGE_PERMISSION = "console.manage_consumer_tokens"
DEFAULT_DAYS = 90
MAX_DAYS = 365
SECRET_START = "leafc_"  # tells a consumer token apart from an API token in a log or a secret scanner
PREFIX_LENGTH = 14  # "leafc_" and 8 characters of the secret


class Refused(ValueError):
    """A token operation that cannot be done as asked (the message names the token or field and why)."""


class Forbidden(Refused):
    """Who asks may not do it (HTTP 403)."""


class Invalid(Refused):
    """A field's value is not acceptable (HTTP 400, the field named)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class IssuedToken:
    token: ConsumerToken
    secret: str  # shown once, never stored


def _refuse(actor, error: Refused, object_id: str = "", details: dict | None = None):
    with transaction.atomic():
        audit_record(actor=actor, action="consumer_token.refused", object_type=CONSUMER_TOKEN_TYPE,
                     object_id=object_id, after={"reason": str(error), **(details or {})})
    raise error


def _check_manager(actor, what: str, object_id: str = "") -> None:
    if not actor.has_perm(MANAGE_PERMISSION):
        _refuse(actor, Forbidden(f"{actor.get_username()} may not {what}: it needs {MANAGE_PERMISSION} (admins)"),
                object_id)


def _facts(token: ConsumerToken) -> dict:
    return {"name": token.name, "prefix": token.prefix, "clients": list(token.clients),
            "expires_at": token.expires_at, "state": selectors.token_state(token)}


# --- create and revoke -----------------------------------------------------------------------------------------
def consumer_token_create(*, actor, name: str, clients: list[str], days: int = DEFAULT_DAYS) -> IssuedToken:
    _check_manager(actor, "create consumer tokens")
    name = (name or "").strip()
    chosen = sorted({(client or "").strip() for client in clients} - {""})
    asked = {"name": name, "clients": chosen, "days": days}
    if not name:
        _refuse(actor, Invalid("name", "a consumer token needs a name (who or what uses it)"), details=asked)
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        _refuse(actor, Invalid("expires_in_days", f"{days!r} is not a number of days from 1 to {MAX_DAYS}"),
                details=asked)
    if not chosen:
        _refuse(actor, Invalid("clients", "a consumer token needs at least one client"), details=asked)
    known = selectors.known_clients(chosen)
    unknown = [client for client in chosen if client not in known]
    if unknown:
        _refuse(actor, Invalid("clients", f"{', '.join(unknown)}: not a Salesforce account known to the console "
                                          "(an account of an accepted Salesforce evidence packet)"), details=asked)
    now = clock.now()
    for _attempt in range(3):
        secret = SECRET_START + secrets.token_urlsafe(32)
        try:
            with transaction.atomic():
                token = ConsumerToken.objects.create(
                    name=name, prefix=secret[:PREFIX_LENGTH], token_sha256=selectors.secret_sha256(secret),
                    clients=chosen, created_by=actor, created_at=now, expires_at=now + dt.timedelta(days=days))
                audit_record(actor=actor, action="consumer_token.created", object_type=CONSUMER_TOKEN_TYPE,
                             object_id=str(token.pk), after={**_facts(token), "days": days})
        except IntegrityError:  # the prefix of an earlier token (about one chance in 2**48): draw again
            continue
        return IssuedToken(token=token, secret=secret)
    raise RuntimeError("could not draw a consumer token with an unused prefix")


def consumer_token_revoke(*, actor, token: ConsumerToken, reason: str) -> ConsumerToken:
    _check_manager(actor, f"revoke consumer token {token.prefix}", str(token.pk))
    reason = (reason or "").strip()
    if not reason:
        _refuse(actor, Invalid("reason", f"revoking consumer token {token.prefix} needs a reason"), str(token.pk))
    before = _facts(token)
    now = clock.now()
    with transaction.atomic():
        moved = ConsumerToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=actor, revocation_reason=reason)
        if moved:
            audit_record(actor=actor, action="consumer_token.revoked", object_type=CONSUMER_TOKEN_TYPE,
                         object_id=str(token.pk), before=before,
                         after={**before, "state": TokenState.REVOKED, "reason": reason})
    token.refresh_from_db()
    if not moved:
        _refuse(actor, Refused(f"consumer token {token.prefix} was already revoked by "
                               f"{token.revoked_by.get_username()} at {token.revoked_at.isoformat()}"), str(token.pk))
    return token


# --- reads -----------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _as_consumer(token: ConsumerToken | None):
    """Audit events of a consumer read name the token as their actor ("system:consumer-token:<prefix>")."""
    work = context.current() or context.WorkContext(correlation_id=context.new_id())
    actor = f"consumer-token:{token.prefix}" if token is not None else "consumer-token:none"
    with context.bind(dataclasses.replace(work, system_actor=actor)):
        yield


def consumer_read_refused(*, token: ConsumerToken | None, publication: Publication, reason: str) -> None:
    """A published file that failed its check is an event for the auditors (the read itself is a ConsumerRead)."""
    log.error("consumer read refused: %s", reason)
    with _as_consumer(token), transaction.atomic():
        audit_record(actor=None, action="consumer.read_refused", object_type=PUBLICATION_TYPE,
                     object_id=str(publication.pk),
                     after={"path": publication.path, "sha256": publication.sha256, "reason": reason,
                            "token": token.prefix if token is not None else None})


NOT_AN_ID = "(not an id)"


def recorded_client(client: str) -> str:
    """The client a read asked for, as recorded: the path's id when it has an account id's shape (15 or 18 ASCII
    letters and digits), else NOT_AN_ID (never a cut or patched text that reads like a real client's id)."""
    if client == "" or (client.isascii() and client.isalnum() and len(client) in (15, 18)):
        return client
    return NOT_AN_ID


def consumer_read_record(*, token: ConsumerToken | None, client: str, endpoint: str,
                         publication: Publication | None, status: int, remote_addr: str = "",
                         trace_id: str = "") -> ConsumerRead:
    now = clock.now()
    with transaction.atomic():
        read = ConsumerRead.objects.create(token=token, client_account_id=recorded_client(client),
                                           endpoint=endpoint[:64],
                                           publication=publication, status=status, at=now,
                                           remote_addr=remote_addr[:64], trace_id=trace_id[:32])
        if token is not None:
            ConsumerToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return read
