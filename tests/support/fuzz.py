"""What the API fuzz (tests/console/test_api_fuzz.py) starts from: objects of every kind the API shows, the
ids that exist for each path parameter, and a signed-in browser session's headers."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from console import roles
from console.models import AuditEvent, RoleGrant
from console.people import grant_propose
from evidence.models import (
    BeastMode,
    DomoCard,
    DomoDataflow,
    DomoDataset,
    IntakeRun,
    ManifestIssue,
    PdpPolicy,
    SourceManifest,
)
from evidence.packets.models import EvidencePacket, PacketRevision
from evidence.packets.services import packet_receive
from evidence.samples.export import write_sample_export
from promotion import services
from promotion.gates import flaw_fingerprint, flaws_behind
from promotion.models import PromotionRequest
from tests.conftest import PERSONAS, make_persona
from tests.evidence.packets.builders import contract_packet
from tests.promotion.conftest import checked, dataset, disposition_all, ingest

# A CSRF secret as Django keeps it in its cookie (32 characters of its alphabet); sent back in X-CSRFToken.
CSRF_TOKEN = "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz"


CSRF_HEADERS = {"X-CSRFToken": CSRF_TOKEN}


def signed_in_cookies(user) -> dict[str, str]:
    """The cookies of a browser signed in as this user: its session and its CSRF secret."""
    client = Client()
    client.force_login(user)
    return {
        settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value,
        settings.CSRF_COOKIE_NAME: CSRF_TOKEN,
    }


def served_schema(client: Client) -> dict:
    """The OpenAPI schema the console serves at /api/schema/, as JSON, read by this signed-in client."""
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200, response.content
    return response.json()


def _ready_request(manifest: SourceManifest, requester) -> PromotionRequest:
    claims = dataset(manifest)
    disposition_all(requester, manifest, [claims])
    request = checked(services.promotion_request(actor=requester, manifest=manifest, datasets=[claims],
                                                 enqueue=False))
    assert request.state == "ready", list(request.gate_results.values_list("gate", "outcome", "details"))
    return request


def seed_api_objects(states, tmp_path: Path) -> SourceManifest:
    """Every persona; a complete sample export and a partial one received, a ready promotion request of
    Olivia's on the complete one (every flaw behind it dispositioned), and Adam's proposal to make Cecilia an
    approver, waiting for a second admin. Returns the complete manifest."""
    people = {name: make_persona(name) for name in PERSONAS}
    manifest = states.get("sample manifest", lambda: ingest(write_sample_export(tmp_path / "complete", rows=30).path))
    states.get("partial sample manifest", lambda: ingest(
        write_sample_export(tmp_path / "partial", rows=30, seed=8, variant="partial").path))
    states.get("ready request on the sample manifest", lambda: _ready_request(manifest, people["olivia"]))
    grant_propose(actor=people["adam"], user=people["cecilia"], role=roles.APPROVER)
    if not EvidencePacket.objects.exists():  # an evidence packet received by Arthur, candidate, to verify
        source = contract_packet().write(tmp_path / "evidence-contract")
        packet_receive(actor=people["arthur"], source=source, original_name=source.name)
    if not PacketRevision.objects.filter(status="refused").exists():  # a refused receipt, with a located issue
        broken = contract_packet()
        broken.rows[2][5] = "17.5%"
        source = broken.write(tmp_path / "evidence-refused")
        packet_receive(actor=people["olivia"], source=source, original_name=source.name)
    return manifest


def _fingerprints(manifest: SourceManifest) -> list[str]:
    return sorted({flaw_fingerprint(f) for f in flaws_behind(manifest, list(manifest.datasets.all()))})


def known_body_values(manifest: SourceManifest) -> dict[str, list]:
    """For the fields of request bodies that name objects, values that name existing ones: a promotion of
    the sample's datasets, a disposition of one of its flaws, a role for a person."""
    datasets = list(manifest.datasets.order_by("pk").values_list("pk", flat=True))
    return {
        "manifest": list(SourceManifest.objects.order_by("pk").values_list("pk", flat=True)),
        "datasets": [datasets[:1], datasets],
        "fingerprint": _fingerprints(manifest),
        "version": [1, 2],
        "user": sorted(get_user_model().objects.values_list("username", flat=True)),
    }


def known_path_values(manifest: SourceManifest) -> dict[str, dict[str, list]]:
    """For each templated path of the schema, the values of its parameters that name existing objects."""

    def ids(model) -> list[int]:
        return list(model.objects.order_by("pk").values_list("pk", flat=True))

    fingerprints = _fingerprints(manifest)
    keys = sorted(DomoDataset.objects.values_list("domo_id", flat=True).distinct())
    keys += [f"golden:{card_id}" for card_id in DomoCard.objects.order_by("pk").values_list("domo_id", flat=True)]
    by_model = {
        "intake-runs": ids(IntakeRun), "manifests": ids(SourceManifest), "issues": ids(ManifestIssue),
        "datasets": ids(DomoDataset), "cards": ids(DomoCard), "beast-modes": ids(BeastMode),
        "dataflows": ids(DomoDataflow), "policies": ids(PdpPolicy), "promotions": ids(PromotionRequest),
        "role-grants": ids(RoleGrant), "evidence-packets": ids(EvidencePacket),
        "evidence-packet-refusals": list(PacketRevision.objects.filter(status="refused").order_by("pk")
                                         .values_list("pk", flat=True)),
    }
    known: dict[str, dict[str, list]] = {
        "/api/audit-events/{seq}/": {"seq": list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))},
        "/api/curated/{key}/versions/": {"key": keys},
        "/api/curated/{key}/rollback/": {"key": keys},
        "/api/manifests/{id}/dispositions/{fingerprint}/": {"id": [manifest.pk], "fingerprint": fingerprints},
    }
    for action in ("records", "verify", "withdraw"):
        known[f"/api/evidence-packets/{{id}}/revisions/{{number}}/{action}/"] = {
            "id": ids(EvidencePacket), "number": [1]}
    for prefix, values in by_model.items():
        for suffix in ["", "approve/", "reject/", "cancel/", "recheck/", "confirm/", "flaws/",
                       "flaws-to-disposition/", "dispositions/", "schema-drift-acknowledgements/"]:
            known.setdefault(f"/api/{prefix}/{{id}}/{suffix}", {"id": values})
    return {path: values for path, values in known.items() if all(values.values())}
