"""Query budgets (catalogue item 46): every list the console serves through its API and Django's admin answers
in as many queries with a few rows as with 25 more; an N+1 shows as a difference.

The lists are enumerated, not written down: every GET route under /api/ whose view lists (DRF's list mixin, or
a paginated generic view that retrieves no single object) and every model registered with the admin site. Each
must have a way to grow in `growers()`: a new list without one fails `test_every_list_route_has_a_budget`.

The rows: the reconciliation sample (the contract sample promoted, the evidence received, a run over every
client, the shipped mappings; built once per process by the real services, tests/support/states.py), one
reconciliation, and the first row of each list the sample leaves empty (`first_rows`: through the services
where they are cheap, else as the worker writes them). Then 25 copies of each list's first row, in one bulk
insert (unique values made unique): every list's answer must change with them, and its query count must not.
Queries are counted on both databases (the curated registry has its own).
"""
from __future__ import annotations

import itertools
import re
import uuid
from collections import Counter
from collections.abc import Callable

import pytest
from django.contrib import admin
from django.db import models
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin, RetrieveModelMixin

from tests.deliverables.reconciliation.conftest import (  # noqa: F401 (fixtures)
    GUARANTEE_FLOW,
    Mapped,
    contract_sample,
    curated_db,
    mapped,
    no_enqueue,
    reconcile,
)

pytestmark = [pytest.mark.catalogue(46)]

MORE = 25
_COPY = itertools.count()


# --- which lists there are ----------------------------------------------------------------------------------
def _routes(patterns, prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def api_list_routes() -> set[str]:
    """Every /api/ route whose view answers GET with a list."""
    found = set()
    for route, pattern in _routes(get_resolver().url_patterns):
        view = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
        if not route.startswith("api/") or view is None or not hasattr(view, "get"):
            continue
        lists = issubclass(view, ListModelMixin) or (
            issubclass(view, GenericAPIView) and not issubclass(view, RetrieveModelMixin)
            and view.pagination_class is not None
        )
        if lists:
            found.add(route)
    return found


def admin_changelists() -> set[str]:
    return {f"admin:{model._meta.label_lower}" for model in admin.site._registry}


# --- growing a list by copies of its first row --------------------------------------------------------------
def _unique_fields(model) -> set[str]:
    names = {f.name for f in model._meta.concrete_fields if f.unique and not f.primary_key}
    for constraint in model._meta.constraints:
        names.update(getattr(constraint, "fields", ()) or ())
    for together in model._meta.unique_together:
        names.update(together)
    return names


def _distinct(field: models.Field, value, index: int):
    if value is None:
        return None  # NULLs never collide in a unique constraint
    if isinstance(field, models.ForeignKey) or field.choices:
        return value  # a copy keeps its parent and its kind; a sibling field in the unique set is made unique
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, (models.CharField, models.TextField)):
        text = f"{value}~{index}"
        return text[-field.max_length:] if field.max_length else text
    if isinstance(field, (models.IntegerField, models.BigIntegerField, models.PositiveIntegerField)):
        return value + 100_000 + index
    if isinstance(field, models.DateTimeField):
        import datetime as dt

        return value + dt.timedelta(microseconds=index + 1)
    return value


def copies(queryset: models.QuerySet, count: int = MORE, keep: tuple[str, ...] = (), fixed: dict | None = None) -> list:
    """`count` copies of the queryset's first row, inserted at once; unique fields given unique values (but those
    in `keep`: what places the copies in the same list); `fixed` set on every copy (a state a conditional
    constraint allows more than once)."""
    model = queryset.model
    first = queryset.order_by("pk").first()
    assert first is not None, f"no {model._meta.label} to copy"
    unique = _unique_fields(model) - set(keep)
    made = []
    for _ in range(count):
        index = next(_COPY)  # unique across every list grown from the same model
        values = {}
        for field in model._meta.concrete_fields:
            if field.primary_key:
                continue
            value = getattr(first, field.attname)
            values[field.attname] = _distinct(field, value, index) if field.name in unique else value
        made.append(model(**{**values, **(fixed or {})}))
    return model._default_manager.bulk_create(made)


# --- the budgets -------------------------------------------------------------------------------------------
Grower = Callable[[Mapped], tuple[str, Callable[[], object]]]


def model_list(url: str, queryset: Callable[[], models.QuerySet]) -> Grower:
    return lambda world: (url, lambda: copies(queryset()))


def _curated_rows(world: Mapped, *, new_keys: bool) -> Callable[[], object]:
    """Registry rows copied in the curated database: new dataset keys (the front page) or new versions of one."""
    from django.db import connections

    from promotion.curated.backend import CURRENT, REGISTRY

    def grow():
        with connections["curated"].cursor() as cursor:
            cursor.execute(f'SELECT * FROM "{REGISTRY}" WHERE "dataset_key" = %s ORDER BY "version" LIMIT 1',
                           [world.sample.claims_key])
            names = [column[0] for column in cursor.description]
            first = dict(zip(names, cursor.fetchone()))
            for index in range(MORE):
                row = {**first, "version": first["version"] + 1000 + index}
                if new_keys:
                    row["dataset_key"] = f"{first['dataset_key']}~{index}"
                cursor.execute(f'INSERT INTO "{REGISTRY}" ({", ".join(f"{chr(34)}{n}{chr(34)}" for n in row)}) '
                               f'VALUES ({", ".join(["%s"] * len(row))})', list(row.values()))
                if new_keys:
                    cursor.execute(f'INSERT INTO "{CURRENT}" ("dataset_key", "version") VALUES (%s, %s)',
                                   [row["dataset_key"], row["version"]])
    return grow


def _growers() -> dict[str, Grower]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from console.models import RoleGrant
    from deliverables.models import (
        CalculationRun,
        CardMapping,
        ConsumerToken,
        Deliverable,
        Publication,
        Reconciliation,
        ReconciliationItem,
        RunNumber,
    )
    from evidence import models as ev
    from evidence.candidates.models import DomoCandidateRow, DomoCandidateSet
    from evidence.flags.models import FlagRun, MissingEvidenceFlag
    from evidence.packets.models import EvidencePacket, PacketReceipt, PacketRevision
    from promotion.models import FlawDisposition, GateResult, PromotionRequest, SchemaDriftAcknowledgement

    def reconciliation(world):
        return Reconciliation.objects.order_by("pk").first()

    growers: dict[str, Grower] = {
        "api/people/": model_list("/api/people/", lambda: get_user_model().objects.all()),
        "api/intake-runs/": model_list("/api/intake-runs/", ev.IntakeRun.objects.all),
        "api/manifests/": model_list("/api/manifests/", ev.SourceManifest.objects.all),
        "api/issues/": model_list("/api/issues/", ev.ManifestIssue.objects.all),
        "api/datasets/": model_list("/api/datasets/", ev.DomoDataset.objects.all),
        "api/cards/": model_list("/api/cards/", ev.DomoCard.objects.all),
        "api/beast-modes/": model_list("/api/beast-modes/", ev.BeastMode.objects.all),
        "api/dataflows/": model_list("/api/dataflows/", ev.DomoDataflow.objects.all),
        "api/policies/": model_list("/api/policies/", ev.PdpPolicy.objects.all),
        "api/calculation-flaws/": model_list("/api/calculation-flaws/", ev.CalculationFlaw.objects.all),
        "api/evidence-packets/": model_list("/api/evidence-packets/", EvidencePacket.objects.all),
        "api/promotions/": model_list("/api/promotions/", PromotionRequest.objects.all),
        "api/role-grants/": model_list("/api/role-grants/", RoleGrant.objects.all),
        "api/evidence-flag-runs/": model_list("/api/evidence-flag-runs/", FlagRun.objects.all),
        "api/deliverables/": model_list("/api/deliverables/", Deliverable.objects.all),
        "api/consumer-tokens/": model_list("/api/consumer-tokens/", ConsumerToken.objects.all),
        "api/evidence-packet-refusals/": model_list("/api/evidence-packet-refusals/",
                                                    lambda: PacketRevision.objects.filter(status="refused")),
        "api/evidence-candidates/": model_list("/api/evidence-candidates/", DomoCandidateSet.objects.all),
        "api/evidence-candidates/<int:pk>/rows/": lambda world: (
            f"/api/evidence-candidates/{DomoCandidateSet.objects.order_by('pk').first().pk}/rows/?page_size=500",
            lambda: copies(DomoCandidateRow.objects.filter(candidate_set=DomoCandidateSet.objects.order_by("pk")
                                                           .first()))),
        "api/evidence/missing/": model_list("/api/evidence/missing/", MissingEvidenceFlag.objects.all),
        "api/publications/": lambda world: (  # withdrawn: a deliverable has one pending request at most
            "/api/publications/", lambda: copies(Publication.objects.all(), fixed={"state": "withdrawn"})),
        "admin:promotion.schemadriftacknowledgement": model_list("/admin/promotion/schemadriftacknowledgement/",
                                                                 SchemaDriftAcknowledgement.objects.all),
        "api/runs/": model_list("/api/runs/", CalculationRun.objects.all),
        "api/runs/<int:pk>/results/": lambda world: (
            # Copies of a number not concluded: the page keeps one, and with it its one query for the flags.
            f"/api/runs/{world.run.pk}/results/",
            lambda: copies(RunNumber.objects.filter(run=world.run, decision="not_concluded").exclude(evidence={}))),
        "api/reconciliations/": model_list("/api/reconciliations/", Reconciliation.objects.all),
        "api/reconciliations/<int:pk>/items/": lambda world: (
            f"/api/reconciliations/{reconciliation(world).pk}/items/?page_size=500",  # the copies come last
            lambda: copies(ReconciliationItem.objects.filter(reconciliation=reconciliation(world)))),
        "api/reconciliation/subjects/<str:kind>/<str:subject_id>/mappings/": lambda world: (
            "/api/reconciliation/subjects/{}/{}/mappings/".format(*_mapping_subject()),
            lambda: copies(CardMapping.objects.filter(**_mapping_filter()), keep=("subject_id",))),
        "api/curated/": lambda world: ("/api/curated/", _curated_rows(world, new_keys=True)),
        "api/curated/<str:key>/versions/": lambda world: (
            f"/api/curated/{world.sample.claims_key}/versions/", _curated_rows(world, new_keys=False)),
        # Django's admin: every registered model's list.
        "admin:auth.user": model_list("/admin/auth/user/", lambda: get_user_model().objects.all()),
        "admin:auth.group": model_list("/admin/auth/group/", Group.objects.all),
        "admin:evidence.intakerun": model_list("/admin/evidence/intakerun/", ev.IntakeRun.objects.all),
        "admin:evidence.sourcemanifest": model_list("/admin/evidence/sourcemanifest/", ev.SourceManifest.objects.all),
        "admin:evidence.manifestissue": model_list("/admin/evidence/manifestissue/", ev.ManifestIssue.objects.all),
        "admin:evidence.manifestfile": model_list("/admin/evidence/manifestfile/", ev.ManifestFile.objects.all),
        "admin:evidence.domodataset": model_list("/admin/evidence/domodataset/", ev.DomoDataset.objects.all),
        "admin:evidence.domocard": model_list("/admin/evidence/domocard/", ev.DomoCard.objects.all),
        "admin:evidence.beastmode": model_list("/admin/evidence/beastmode/", ev.BeastMode.objects.all),
        "admin:evidence.domodataflow": model_list("/admin/evidence/domodataflow/", ev.DomoDataflow.objects.all),
        "admin:evidence.dataflowstep": model_list("/admin/evidence/dataflowstep/", ev.DataflowStep.objects.all),
        "admin:evidence.pdppolicy": model_list("/admin/evidence/pdppolicy/", ev.PdpPolicy.objects.all),
        "admin:evidence.directoryentry": model_list("/admin/evidence/directoryentry/", ev.DirectoryEntry.objects.all),
        "admin:evidence.evidencepacket": model_list("/admin/evidence/evidencepacket/", EvidencePacket.objects.all),
        "admin:evidence.packetrevision": model_list("/admin/evidence/packetrevision/", PacketRevision.objects.all),
        "admin:evidence.packetreceipt": model_list("/admin/evidence/packetreceipt/", PacketReceipt.objects.all),
        "admin:promotion.promotionrequest": model_list("/admin/promotion/promotionrequest/",
                                                       PromotionRequest.objects.all),
        "admin:promotion.gateresult": model_list("/admin/promotion/gateresult/", GateResult.objects.all),
        "admin:promotion.flawdisposition": model_list("/admin/promotion/flawdisposition/",
                                                      FlawDisposition.objects.all),
    }
    return growers


def _mapping_subject() -> tuple[str, str]:
    from deliverables.models import CardMapping

    first = CardMapping.objects.order_by("pk").first()
    return first.subject_kind, first.subject_id


def _mapping_filter() -> dict:
    kind, subject_id = _mapping_subject()
    return {"subject_kind": kind, "subject_id": subject_id}


def _audit_events(world) -> tuple[str, Callable[[], object]]:
    from console.audit import audit_record

    def grow():
        for index in range(MORE):  # appended one by one: the chain admits no bulk insert
            audit_record(actor=None, action=f"test.budget_{index}", object_type="test.object", object_id=str(index),
                         before=None, after={"index": index})
    return "/api/audit-events/", grow


def _records(world) -> tuple[str, Callable[[], object]]:
    """The typed records of the first accepted revision that has some (their table is its kind's)."""
    from evidence.packets import listing
    from evidence.packets.models import PacketRevision

    revision = next(r for r in PacketRevision.objects.filter(status="accepted").order_by("pk")
                    if listing.records_of(r).exists())
    return (f"/api/evidence-packets/{revision.packet_id}/revisions/{revision.revision}/records/",
            lambda: copies(listing.records_of(revision)))


def _flaws(world, of_request: bool) -> tuple[str, Callable[[], object]]:
    """The flaws behind the sample's datasets: copies of the first land in its group, as more places of it."""
    from evidence.models import CalculationFlaw
    from promotion.gates.flaws import flaws_behind
    from promotion.models import PromotionRequest

    manifest = world.sample.manifest
    request = PromotionRequest.objects.filter(manifest=manifest).order_by("pk").first()
    behind = flaws_behind(manifest, list(request.datasets.all()) if of_request else list(manifest.datasets.all()))
    first = behind.first()
    assert first is not None, "no flaw behind the sample's datasets"
    url = f"/api/promotions/{request.pk}/flaws/" if of_request else f"/api/manifests/{manifest.pk}/flaws-to-disposition/"
    return url, lambda: copies(CalculationFlaw.objects.filter(pk=first.pk))


def _tokens(world) -> tuple[str, Callable[[], object]]:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    def grow():
        for user in copies(get_user_model().objects.all()):
            Token.objects.create(user=user)
    return "/admin/console/apitoken/", grow



# --- the tests ---------------------------------------------------------------------------------------------
def growers() -> dict[str, Grower]:
    return {**_growers(), "api/audit-events/": _audit_events, "admin:console.apitoken": _tokens,
            "api/evidence-packets/<int:pk>/revisions/<int:number>/records/": _records,
            "api/promotions/<int:pk>/flaws/": lambda world: _flaws(world, of_request=True),
            "api/manifests/<int:pk>/flaws-to-disposition/": lambda world: _flaws(world, of_request=False)}


def test_every_list_route_has_a_budget():
    listed = api_list_routes() | admin_changelists()
    assert {"api/audit-events/", "api/curated/", "admin:evidence.intakerun"} <= listed
    missing = sorted(listed - set(growers()))
    assert not missing, f"lists without a query budget (add a grower to tests/test_query_budgets.py): {missing}"
    assert not set(growers()) - listed, "budgets for lists that are gone"


def queries(client, url: str) -> tuple[int, list[str], bytes]:
    """The queries one GET of `url` makes on every database (the curated registry has its own), and the page."""
    from django.db import connections

    with CaptureQueriesContext(connections["default"]) as default, \
            CaptureQueriesContext(connections["curated"]) as curated:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.content[:300])
    sql = [q["sql"] for q in default.captured_queries]
    if connections["curated"] is not connections["default"]:
        sql += [q["sql"] for q in curated.captured_queries]
    return len(sql), sql, response.content


def first_rows(world: Mapped, actor) -> None:
    """The first row of the lists the sample leaves empty (a complete export has no issue; the evidence came in
    through the service, not the API's upload), as those services would write them."""
    from django.contrib.auth import get_user_model

    from console import people, roles
    from deliverables.consumers.services import consumer_token_create
    from deliverables.models import Publication
    from deliverables.workbooks.services import deliverable_start
    from evidence.flags.models import MissingEvidenceFlag
    from evidence.flags.services import request_flags_recompute
    from evidence.models import ManifestIssue
    from evidence.packets.models import PacketReceipt, PacketRevision
    from promotion.models import SchemaDriftAcknowledgement
    from tests.evidence.candidates.conftest import register

    ManifestIssue.objects.create(manifest=world.sample.manifest, position=1, code="row_count_mismatch",
                                 severity="warning", file="claims.csv", message="a test issue")
    PacketReceipt.objects.create(source="api", original_name="packet.zip", staged_path="/nowhere",
                                 upload_sha256="0" * 64, upload_bytes=1, requested_by=actor,
                                 requested_by_label=actor.username, status="done", outcome="accepted",
                                 packet_revision=PacketRevision.objects.order_by("pk").first())
    # Through their services, queued and never sent: a role proposed, a flag run, a workbook, a consumer's token.
    client = world.run.numbers.order_by("pk").values_list("client_account_id", flat=True).first()
    people.grant_propose(actor=actor, user=get_user_model().objects.get(username="olivia"), role=roles.APPROVER)
    flag_run = request_flags_recompute(trigger="api", actor=actor, enqueue=False)
    deliverable = deliverable_start(actor=actor, run=world.run, client=client, enqueue=False)
    consumer_token_create(actor=actor, name="budget", clients=[client])
    # Rows a worker, a built workbook or a refused upload would leave, as they write them: a flag, a publication
    # requested, a refused packet; and a schema drift acknowledged.
    MissingEvidenceFlag.objects.create(key="0" * 64, kind="contract", client_account_id=client,
                                       period_start=world.run.period_start, period_end=world.run.period_end,
                                       reason="no governed contract", raised_by_run=flag_run, last_seen_run=flag_run)
    Publication.objects.create(deliverable=deliverable, client_account_id=client, kind=deliverable.kind,
                               sha256="0" * 64, requested_by=actor)
    PacketRevision.objects.create(packet=None, claimed_packet_id="PKT-REFUSED", status="refused",
                                  received_sha256="0" * 64, original_name="refused.zip", bronze_prefix="bronze/x",
                                  received_by=actor, received_by_label=actor.username)
    register(actor, world.sample.manifest)  # a candidate set of the contract terms, through its service
    SchemaDriftAcknowledgement.objects.create(dataset=world.sample.manifest.datasets.order_by("pk").first(),
                                              curated_version="1", schema_sha256="0" * 64, note="a test drift",
                                              acknowledged_by=actor)


def _shape(sql: str) -> str:
    return re.sub(r"'[^']*'|\b\d+\b", "?", sql)[:160]


def _difference(before: list[str], after: list[str]) -> str:
    """The query shapes one side has more often than the other."""
    more, fewer = Counter(map(_shape, after)), Counter(map(_shape, before))
    return f"more: {dict(more - fewer)}; fewer: {dict(fewer - more)}"


@pytest.mark.django_db(transaction=True, databases=["default", "curated"])
def test_every_list_answers_in_as_many_queries_with_25_more_rows(client, mapped, adam):  # noqa: F811
    reconcile(adam, mapped.subject(GUARANTEE_FLOW), mapped.run)
    adam.is_staff = adam.is_superuser = True  # every list: the API's and the admin's
    adam.save(update_fields=["is_staff", "is_superuser"])
    client.force_login(adam)
    first_rows(mapped, adam)
    plans = {name: grower(mapped) for name, grower in growers().items()}
    before = {}
    for name, (url, _) in plans.items():
        queries(client, url)  # the first request of a kind fills caches (content types, permissions)
        before[name] = queries(client, url)
    unseeded = []
    for name, (_, grow) in plans.items():
        try:
            grow()
        except AssertionError as error:
            unseeded.append(f"{name}: {error}")
    assert not unseeded, unseeded
    grew, unseen = {}, []
    for name, (url, _) in plans.items():
        after = queries(client, url)
        if after[2] == before[name][2]:
            unseen.append(url)  # the copies must show in the answer, or the check proves nothing
        if after[0] != before[name][0]:
            grew[name] = f"{url}: {before[name][0]} -> {after[0]} queries; {_difference(before[name][1], after[1])}"
    assert not grew, "lists whose query count grows with their rows:\n" + "\n".join(grew.values())
    assert not unseen, f"lists whose answer did not change with 25 more rows: {unseen}"
