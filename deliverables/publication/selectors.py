"""What the publication pages, the API and the consumer API read: publications, the live one of a client and kind,
a client and kind's history, and a published file read back with its hash checked."""
from __future__ import annotations

from typing import BinaryIO

from deliverables.choices import PublicationState
from deliverables.models import Publication
from deliverables.runs.selectors import state_badge

PUBLISHED_PREFIX = "published"
BADGES = {
    PublicationState.REQUESTED: "badge badge-info",
    PublicationState.PUBLISHED: "badge badge-ok",
    PublicationState.SUPERSEDED: "badge badge-muted",
    PublicationState.REJECTED: "badge badge-bad",
    PublicationState.WITHDRAWN: "badge badge-muted",
    PublicationState.RETRACTED: "badge badge-bad",
}


class PublicationUnavailable(ValueError):
    """The publication has no published file (requested, rejected or withdrawn)."""


class PublicationIntegrityError(ValueError):
    """The published file is missing or its bytes no longer hash to what the publication is bound to."""


def publications():
    return Publication.objects.select_related("deliverable", "requested_by", "decided_by", "retracted_by",
                                              "superseded_by")


def badge(publication: Publication) -> str:
    return BADGES.get(publication.state) or state_badge(publication.state)


def live_publication(client: str, kind: str) -> Publication | None:
    """The publication of `client` and `kind` that is served now: the one published (the database allows one);
    None when nothing is published, or the last one was retracted."""
    return publications().filter(client_account_id=client, kind=kind, state=PublicationState.PUBLISHED).first()


def history(client: str, kind: str):
    """Every publication (and request) of a client and kind, newest first."""
    return publications().filter(client_account_id=client, kind=kind).order_by("-id")


def published_path(client: str, kind: str, version: int, file_name: str) -> str:
    return f"{PUBLISHED_PREFIX}/{client}/{kind}/{version}/{file_name}"


def file_name(publication: Publication) -> str:
    return publication.path.rsplit("/", 1)[-1] if publication.path else ""


def publication_open(publication: Publication) -> BinaryIO:
    """A readable stream of the published file, its bytes checked against the sha256 the publication is bound to
    (and by the lake against the hash it recorded when they were written). PublicationUnavailable when nothing
    was published; PublicationIntegrityError, naming the file, when it is missing or its bytes changed.

    Any publication that was published can be read (the history keeps superseded and retracted ones); what is
    served to a client is only `live_publication`'s."""
    from deliverables.workbooks.services import DeliverableIntegrityError, open_checked

    if not publication.path or publication.published_at is None:
        raise PublicationUnavailable(f"publication #{publication.pk} is {publication.state}: nothing was published")
    try:
        return open_checked(publication.path, sha256=publication.sha256, what=f"publication #{publication.pk}")
    except DeliverableIntegrityError as bad:
        raise PublicationIntegrityError(str(bad)) from None
