"""Reads of the promotion app that join the curated registry with the requests behind each version.

The curated registry (promotion.curated) knows versions, load ids and manifest hashes; who requested
and who approved a version is the PromotionRequest that loaded it, and a version made current again
by a rollback also names the rollback request that did it. Pages and the API read both here.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from console.models import AuditEvent
from evidence.models import DomoCard, DomoDataset, SourceManifest
from promotion import curated
from promotion.choices import (
    DATASET_TYPE, DISPOSITION_TYPE, MANIFEST_TYPE, REQUEST_TYPE, PromotionKind, PromotionState,
)
from promotion.models import PromotionRequest

GOLDEN_PREFIX = "golden:"


@dataclass(frozen=True)
class RegistryVersion:
    """One version of a curated dataset, with the manifest and the request that loaded it (if known), and
    the rollback that pointed readers back at it, when a rollback is what last made it current."""

    dataset_key: str
    version: int
    kind: str
    table_name: str
    load_id: str
    manifest_sha256: str
    rows: int | None
    checksum: str | None
    loaded_at: dt.datetime | None
    state: str
    manifest: SourceManifest | None
    request: PromotionRequest | None
    rollback: PromotionRequest | None = None
    name: str = ""  # the dataset's name, or the golden packet's card title, as the export gave it

    @property
    def is_golden(self) -> bool:
        return self.dataset_key.startswith(GOLDEN_PREFIX)

    @property
    def domo_id(self) -> str:
        """The Domo id behind the key: the dataset's, or the card's of a golden packet."""
        return self.dataset_key.removeprefix(GOLDEN_PREFIX)

    @property
    def requested_by(self):
        return self.request.requested_by if self.request else None

    @property
    def approved_by(self):
        return self.request.approved_by if self.request else None

    @property
    def rolled_back_by(self):
        """Who requested the rollback that last made this version current (None if a promotion did)."""
        return self.rollback.requested_by if self.rollback else None

    @property
    def rollback_approved_by(self):
        return self.rollback.approved_by if self.rollback else None


def promotion_requests() -> QuerySet[PromotionRequest]:
    """Requests with what their lists show, newest first."""
    return PromotionRequest.objects.select_related("manifest", "requested_by", "approved_by").order_by("-id")


def _when(value) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value)  # SQLite keeps the registry's timestamps as ISO text


def _rollbacks(keys: set[str]) -> dict[tuple[str, int], PromotionRequest]:
    """(key, version) -> the rollback that made `version` of `key` current, when a rollback is what most
    recently did: of every promoted request (promotion or rollback) that pointed `key` at `version`, the
    last to complete. A later promotion that pointed it there again (reusing the verified version of
    its load id and manifest) takes the attribution over. Golden packets included: a load's progress
    records every pointer it moved."""
    latest: dict[tuple[str, int], PromotionRequest] = {}
    done = (
        PromotionRequest.objects.filter(state=PromotionState.PROMOTED)
        .select_related("requested_by", "approved_by")
        .order_by("-finished_at", "-pk")  # completion order, newest first
    )
    golden = any(key.startswith(GOLDEN_PREFIX) for key in keys)
    if not golden:
        done = done.filter(
            Q(kind=PromotionKind.ROLLBACK, rollback_key__in=keys)
            | Q(kind=PromotionKind.PROMOTION,
                pk__in=PromotionRequest.objects.filter(datasets__domo_id__in=keys).values("pk"))
        )
    for request in done:
        for key, moved in (request.load_progress.get("datasets") or {}).items():
            if key in keys and isinstance(moved, dict) and moved.get("version") is not None:
                latest.setdefault((key, int(moved["version"])), request)
    return {found: request for found, request in latest.items() if request.kind == PromotionKind.ROLLBACK}


def _names(rows: list[dict]) -> dict[str, str]:
    """What people call each key: the dataset's name, the card's title for a golden packet, as the latest
    manifest that has it says (names change between exports; the newest is the one people know)."""
    datasets = {r["dataset_key"] for r in rows if not r["dataset_key"].startswith(GOLDEN_PREFIX)}
    cards = {
        int(card_id) for r in rows
        if (card_id := r["dataset_key"].removeprefix(GOLDEN_PREFIX)) != r["dataset_key"] and card_id.isdigit()
    }
    names: dict[str, str] = {}
    for domo_id, name in DomoDataset.objects.filter(domo_id__in=datasets).order_by("manifest_id").values_list(
            "domo_id", "name"):
        names[domo_id] = name
    for domo_id, title in DomoCard.objects.filter(domo_id__in=cards).order_by("manifest_id").values_list(
            "domo_id", "title"):
        names[f"{GOLDEN_PREFIX}{domo_id}"] = title
    return names


def _with_provenance(rows: list[dict]) -> list[RegistryVersion]:
    manifests = {
        (m.load_id, m.manifest_sha256): m
        for m in SourceManifest.objects.filter(load_id__in={r["load_id"] for r in rows})
    }
    ids = {m.pk for m in manifests.values()}
    requests: dict[tuple[int, str], PromotionRequest] = {}
    loaded = (
        PromotionRequest.objects.filter(
            kind=PromotionKind.PROMOTION, manifest_id__in=ids,
            state__in=(PromotionState.LOADING, PromotionState.PROMOTED, PromotionState.FAILED),
        )
        .select_related("requested_by", "approved_by")
        .prefetch_related("datasets")
    )
    # A version's request: the one that promoted it, else the latest attempt at it.
    for request in sorted(loaded, key=lambda r: (r.state != PromotionState.PROMOTED, -r.pk)):
        for dataset in request.datasets.all():
            requests.setdefault((request.manifest_id, dataset.domo_id), request)
        requests.setdefault((request.manifest_id, "*"), request)  # golden packets ride with their datasets
    rollbacks = _rollbacks({r["dataset_key"] for r in rows}) if rows else {}
    names = _names(rows) if rows else {}
    found = []
    for row in rows:
        manifest = manifests.get((row["load_id"], row["manifest_sha256"]))
        request = None
        if manifest is not None:
            key = "*" if row["dataset_key"].startswith(GOLDEN_PREFIX) else row["dataset_key"]
            request = requests.get((manifest.pk, key))
        found.append(RegistryVersion(**{**row, "loaded_at": _when(row["loaded_at"])}, manifest=manifest,
                                     request=request, rollback=rollbacks.get((row["dataset_key"], row["version"])),
                                     name=names.get(row["dataset_key"], "")))
    return found


def registry_current() -> list[RegistryVersion]:
    """Every curated dataset's current version, by key."""
    from promotion import curated
    from promotion.services import curated_reader

    return _with_provenance(curated.current_versions(curated_reader()))


def registry_versions(dataset_key: str) -> list[RegistryVersion]:
    """Every version of one curated dataset, newest first (empty when the key is unknown)."""
    from promotion import curated
    from promotion.services import curated_reader

    rows = curated.versions(curated_reader(), dataset_key)
    return _with_provenance([{"dataset_key": dataset_key, **row} for row in rows])


# --- a request's page: what concerns it, and the stamp its live notice compares -----------------------

REFUSED = "promotion.refused"
ROLLED_BACK = "promotion.rolled_back"
DISPOSITION_ATTEMPTS = ("disposition", "disposition_clear")


def request_fingerprints(promotion: PromotionRequest, datasets: list) -> list[str]:
    """The fingerprints of the flaws behind a promotion's datasets (a rollback's gates look at none)."""
    from promotion.gates import flaw_fingerprint, flaws_behind

    if promotion.kind != PromotionKind.PROMOTION:
        return []
    return sorted({flaw_fingerprint(flaw) for flaw in flaws_behind(promotion.manifest, datasets)})


def _concerning(promotion: PromotionRequest, *, datasets: list, fingerprints: list[str]) -> Q:
    """Audit rows that concern a request, as one filter (so its history is one query whatever it holds):

    - its own rows: requested, gate runs (checked), re-runs, approval, rejection, cancel, the load's
      start, resumptions, interruptions and end, its rollback, and every refused attempt aimed at it;
    - the dispositions (and their withdrawals, and refused attempts at either) of the flaws behind its
      datasets on its manifest, matched by the flaw's fingerprint, which is what the flaws gate reads;
    - schema-drift acknowledgements of its datasets (the schema gate reads them) and refusals of them;
    - for a promotion that loaded versions, every rollback that pointed a key away from or back at one.
    """
    found = Q(object_type=REQUEST_TYPE, object_id=str(promotion.pk))
    if fingerprints:
        manifest = promotion.manifest_id
        found |= Q(object_type=DISPOSITION_TYPE, after__manifest=manifest, after__fingerprint__in=fingerprints)
        found |= Q(object_type=DISPOSITION_TYPE, before__manifest=manifest, before__fingerprint__in=fingerprints)
        found |= Q(object_type=MANIFEST_TYPE, object_id=str(manifest), action=REFUSED,
                   after__attempt__in=DISPOSITION_ATTEMPTS, after__fingerprint__in=fingerprints)
    if datasets:
        found |= Q(object_type=DATASET_TYPE, object_id__in=[str(d.pk) for d in datasets])
    if promotion.kind == PromotionKind.PROMOTION:
        for key, loaded in sorted((promotion.load_progress.get("datasets") or {}).items()):
            if key.startswith(GOLDEN_PREFIX) or not isinstance(loaded, dict) or loaded.get("version") is None:
                continue  # golden packets move with their dataset's rollback
            version = int(loaded["version"])
            found |= Q(action=ROLLED_BACK, after__dataset_key=key) & (
                Q(before__version=version) | Q(after__version=version)
            )
    return found


def request_history(promotion: PromotionRequest, *, datasets: list, fingerprints: list[str],
                    limit: int) -> list[AuditEvent]:
    """The newest `limit` audit rows that concern a request (see _concerning), newest first: one query."""
    return list(
        AuditEvent.objects.filter(_concerning(promotion, datasets=datasets, fingerprints=fingerprints))
        .order_by("-seq")[:limit]
    )


def cancellation_reason(promotion: PromotionRequest) -> str:
    """Why a cancelled request was cancelled: the reason is kept in its audit event, not on the request."""
    if promotion.state != PromotionState.CANCELLED:
        return ""
    event = (AuditEvent.objects.filter(object_type=REQUEST_TYPE, object_id=str(promotion.pk),
                                       action="promotion.cancelled").order_by("-seq").only("after").first())
    return (event.after or {}).get("reason", "") if event else ""


@dataclass(frozen=True)
class LiveStamp:
    """What a request's page was rendered with: its state and the last change someone else made to
    anything it shows (an audit row that concerns it; refused attempts change nothing)."""

    state: str
    event: AuditEvent | None

    @property
    def value(self) -> str:
        return f"{self.state}.{self.event.seq if self.event else 0}"


def request_live_stamp(promotion: PromotionRequest, *, viewer, datasets: list,
                       fingerprints: list[str]) -> LiveStamp:
    """The request's live stamp as `viewer` sees it: one query.

    The viewer's own changes are left out: they reach the page by its redirect, or by the htmx swap of
    the section they changed (a disposition), so they are never news to that page.
    """
    latest = (
        AuditEvent.objects.filter(_concerning(promotion, datasets=datasets, fingerprints=fingerprints))
        .exclude(action=REFUSED)
        .exclude(actor_id=viewer.pk)
        .order_by("-seq")
        .first()
    )
    return LiveStamp(promotion.state, latest)


@dataclass(frozen=True)
class CuratedColumns:
    """How a requested dataset's columns will be named in its curated table, for the approver."""

    dataset: object
    shortened: list[tuple[str, str]]  # (name in the export, curated column) where they differ
    problem: str = ""  # why the names cannot be loaded at all


def curated_columns(datasets: list) -> list[CuratedColumns]:
    """The requested datasets whose column names are not loaded as written: longer than PostgreSQL's 63
    bytes (shortened, see promotion.curated.sql_identifiers), or not loadable at all."""
    found = []
    for dataset in datasets:
        names = [str(column.get("name", "")) for column in dataset.schema or []]
        try:
            columns = curated.sql_identifiers(names)
        except curated.InvalidIdentifier as exc:
            found.append(CuratedColumns(dataset, [], str(exc)))
            continue
        shortened = [(name, column) for name, column in zip(names, columns) if name != column]
        if shortened:
            found.append(CuratedColumns(dataset, shortened))
    return found
