"""The demo's claims on first start (`make run`): the sample export's claims dataset ("PBM Claims 2025") promoted
**into a backend contract** through the real promotion services, as the demo users would, so that what the
missing-evidence flags read (the claims current in the curated registry) is there on the first page view, and a
calculation run can be started from the browser at once (runs calculate only on claims promoted into a contract).

- The demo admin (who holds request_contract_promotion; an operator may request migration promotions only)
  dispositions every calculation flaw behind the dataset (`legacy_fixture_only`, with a demo note), requests its
  promotion (target: contract), the gates are checked; the demo approver approves (four eyes: another person than
  the requester), and the load runs **in this process** (the approval also enqueues
  it, as always: the worker that starts next finds the request promoted and the guard leaves it). In-process
  because the start-up must not wait on the worker it has not started yet, and a first page must show flags.
- Idempotent: when the claims' current curated version already comes from this manifest (same load id and
  manifest sha256 in the registry), nothing is done. A request of an earlier start left half-way (interrupted
  start-up) is carried on from its state rather than requested again.
- A request that gates block, or a load that fails, is reported as such (the console still starts; the request
  page says why).
"""
from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model

from console import roles
from console.services import DEMO_USERS
from evidence.models import SourceManifest
from promotion import services, tasks
from promotion.choices import PROMOTION_TERMINAL, PromotionState, PromotionTarget
from promotion.curated import current_versions
from promotion.gates import flaw_fingerprint, flaws_behind
from promotion.models import PromotionRequest

CLAIMS = "PBM Claims 2025"
DISPOSITION = "legacy_fixture_only"
DISPOSITION_NOTE = "demo: Domo's legacy number, kept only to compare against"
APPROVAL_COMMENT = "demo: gates passed on first start"


@dataclass(frozen=True)
class DemoClaims:
    """What demo_claims_promote did: the request it used (or none) and the claims' current curated version."""

    dataset: str
    outcome: str  # promoted | unchanged | blocked | failed
    request_id: int | None
    version: int | None
    rows: int | None
    dispositioned: int
    detail: str = ""

    def line(self) -> str:
        found = {
            "promoted": f"promoted now (request #{self.request_id}, {self.dispositioned} flaws dispositioned)",
            "unchanged": "already current from this export",
            "blocked": f"not promoted: request #{self.request_id} is {self.detail}",
            "failed": f"not promoted: request #{self.request_id} failed: {self.detail}",
        }[self.outcome]
        where = f"; curated version {self.version} ({self.rows} rows)" if self.version is not None else ""
        return f"Sample claims: {self.dataset} {found}{where}"


def _current(dataset_key: str) -> dict | None:
    return next((row for row in current_versions(services.curated_reader()) if row["dataset_key"] == dataset_key),
                None)


def _disposition_all(requester, manifest: SourceManifest, dataset) -> int:
    fingerprints = sorted({flaw_fingerprint(flaw) for flaw in flaws_behind(manifest, [dataset])})
    for fingerprint in fingerprints:
        services.flaw_disposition_set(actor=requester, manifest=manifest, fingerprint=fingerprint,
                                      decision=DISPOSITION, note=DISPOSITION_NOTE)
    return len(fingerprints)


def demo_claims_promote(*, load_id: str) -> DemoClaims:
    """Promote the claims dataset of the manifest `load_id` into a backend contract as the demo admin and approver (the demo users
    must exist), unless its current curated version already comes from that manifest."""
    User = get_user_model()
    requester = User.objects.get(username=DEMO_USERS[roles.ADMIN])
    approver = User.objects.get(username=DEMO_USERS[roles.APPROVER])
    manifest = SourceManifest.objects.get(load_id=load_id)
    dataset = manifest.datasets.get(name=CLAIMS)

    current = _current(dataset.domo_id)
    if current and current["load_id"] == manifest.load_id and current["manifest_sha256"] == manifest.manifest_sha256:
        return DemoClaims(CLAIMS, "unchanged", None, current["version"], current["rows"], 0)

    dispositioned = 0
    request = (PromotionRequest.objects.filter(manifest=manifest, datasets=dataset, requested_by=requester)
               .exclude(state__in=[*PROMOTION_TERMINAL, PromotionState.CANCELLED]).order_by("-id").first())
    if request is None:
        dispositioned = _disposition_all(requester, manifest, dataset)
        request = services.promotion_request(actor=requester, manifest=manifest, datasets=[dataset],
                                             target=PromotionTarget.CONTRACT, enqueue=False)
    if request.state in (PromotionState.DRAFT, PromotionState.CHECKING):
        services.promotion_check(request_id=request.pk)
        request.refresh_from_db()
    if request.state == PromotionState.READY:
        request = services.promotion_approve(actor=approver, request=request, comment=APPROVAL_COMMENT)
    if request.state in (PromotionState.APPROVED, PromotionState.LOADING):
        tasks.promotion_load(request.pk)
        request.refresh_from_db()
    current = _current(dataset.domo_id)
    version, rows = (current["version"], current["rows"]) if current else (None, None)
    if request.state == PromotionState.PROMOTED:
        return DemoClaims(CLAIMS, "promoted", request.pk, version, rows, dispositioned)
    outcome = "failed" if request.state == PromotionState.FAILED else "blocked"
    return DemoClaims(CLAIMS, outcome, request.pk, version, rows, dispositioned,
                      detail=request.error if outcome == "failed" else request.state)
