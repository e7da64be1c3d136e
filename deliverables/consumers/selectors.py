"""Reads of the consumer API and of its tokens' pages.

- The clients a token may be bound to: the Salesforce account ids of the accepted Salesforce packet revisions
  (the clients deliverables.scope reports on), with their newest account name.
- A live publication: the one Publication of a client and kind in state `published` (the database holds at most
  one), whose `path` names its file in the lake and `sha256` its bytes' hash.
- A token's state at a time (active, expired, revoked), derived from its stamps; its reads counted.
"""
from __future__ import annotations

import datetime as dt
import hashlib

from django.db import models
from django.db.models import Count, Q

from console import clock
from deliverables.choices import DeliverableKind, PublicationState
from deliverables.models import ConsumerRead, ConsumerToken, Publication
from deliverables.publication import selectors as publication_selectors
from evidence.choices import PacketStatus
from evidence.packets import model as packet_model
from evidence.packets.models import AccountRow

# The consumer endpoints and the publication kind each serves.
ENDPOINT_KINDS = {"dashboard": DeliverableKind.DASHBOARD_PAYLOAD, "workbook": DeliverableKind.WORKBOOK}
LIST_ENDPOINT = "list"


class TokenState(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


TOKEN_BADGES = {TokenState.ACTIVE: "badge badge-ok", TokenState.EXPIRED: "badge badge-muted",
                TokenState.REVOKED: "badge badge-bad"}


def token_state(token: ConsumerToken, at: dt.datetime | None = None) -> TokenState:
    """Revoked wins over expired: a revoked token stays revoked whatever its expiry."""
    if token.revoked_at is not None:
        return TokenState.REVOKED
    if token.expires_at <= (at or clock.now()):
        return TokenState.EXPIRED
    return TokenState.ACTIVE


def secret_sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_by_secret(secret: str) -> ConsumerToken | None:
    """The token whose secret this is (whatever its state), looked up by the secret's SHA-256."""
    return ConsumerToken.objects.filter(token_sha256=secret_sha256(secret)).first()


def known_clients(ids: list[str] | None = None) -> dict[str, str]:
    """{Salesforce account id: its newest name} of the accepted Salesforce revisions (only `ids`, if given)."""
    rows = AccountRow.objects.filter(revision__status=PacketStatus.ACCEPTED, revision__kind=packet_model.SALESFORCE)
    if ids is not None:
        rows = rows.filter(account_id__in=ids)
    names: dict[str, str] = {}
    for account_id, name in rows.order_by("account_id", "revision_id", "row").values_list("account_id",
                                                                                           "account_name"):
        names[account_id] = name  # the newest revision's row comes last
    return names


# --- live publications -----------------------------------------------------------------------------------------
def published_for(token: ConsumerToken, client: str, kind: str) -> Publication | None:
    """What the token may read of this client and kind: the live publication, or None when the client is outside
    the token's scope or has nothing published (the caller must not tell the two apart)."""
    if client not in (token.clients or []):
        return None
    return publication_selectors.live_publication(client, kind)


def live_by_client(clients: list[str]) -> dict[str, dict[str, Publication]]:
    """{client: {endpoint: live publication}} for these clients, in one query."""
    found: dict[str, dict[str, Publication]] = {client: {} for client in clients}
    endpoint_of = {kind: endpoint for endpoint, kind in ENDPOINT_KINDS.items()}
    for publication in Publication.objects.filter(client_account_id__in=clients, state=PublicationState.PUBLISHED,
                                                  kind__in=list(endpoint_of)):
        found[publication.client_account_id][endpoint_of[publication.kind]] = publication
    return found


# --- tokens and their reads ------------------------------------------------------------------------------------
SERVED = Q(reads__status__lt=400)


def tokens():
    """Every token, newest first, with its reads counted (all, served, refused)."""
    return (ConsumerToken.objects.select_related("created_by", "revoked_by")
            .annotate(read_count=Count("reads"), served_count=Count("reads", filter=SERVED))
            .order_by("-id"))


def token_row(token: ConsumerToken, at: dt.datetime | None = None) -> dict:
    state = token_state(token, at)
    reads = getattr(token, "read_count", None)
    served = getattr(token, "served_count", None)
    return {"token": token, "state": state, "badge": TOKEN_BADGES[state], "reads": reads, "served": served,
            "refused": None if reads is None else reads - served}


def recent_reads(token: ConsumerToken, limit: int = 20) -> list[ConsumerRead]:
    return list(ConsumerRead.objects.filter(token=token).select_related("publication").order_by("-id")[:limit])
