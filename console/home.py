"""What the home page shows each person: the work their roles give them, read here so the view stays thin.

- approvers: the promotion requests ready for their decision, the publications requested, the evidence packet
  revisions waiting for verification (never their own: four eyes);
- operators: their exports being received, and their promotion requests, deliverable builds and publication
  requests still in flight;
- auditors: the audit chain's status (last verification, last lake anchor);
- reviewers (whoever reads provenance): the takeover at a glance (the scoreboard's cards and DataFlows per state,
  the open missing-evidence flags, the newest run's savings per client) and what is published now.

Each part follows a capability of console.roles (approve, request, read the audit trail, read provenance): a
person holding several roles sees each role's part, and nothing of a role they do not hold.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from console.audit import ChainStatus, audit_chain_status
from deliverables.choices import RUN_ACTIVE, CardState, PublicationState
from deliverables.models import CalculationRun, Deliverable, Publication
from deliverables.reconciliation.selectors import card_state_badge, scoreboard
from deliverables.runs.selectors import latest_savings
from evidence.choices import IntakeStatus, PacketStatus
from evidence.flags.models import FlagStatus, MissingEvidenceFlag
from evidence.models import IntakeRun
from evidence.packets.models import PacketRevision
from evidence.packets.selectors import account_names
from promotion.choices import PROMOTION_TERMINAL, PromotionState
from promotion.models import PromotionRequest

LIMIT = 10  # rows a section lists; its page (linked) has the rest


@dataclass
class Section:
    """Rows of one kind of work, with how many there are in all (the list shows at most LIMIT)."""

    rows: list
    total: int

    @property
    def more(self) -> int:
        return max(self.total - len(self.rows), 0)


@dataclass
class Takeover:
    """How far the takeover is: the scoreboard's counts (every card and DataFlow of the received exports, per
    state, in the states' order) and the missing-evidence flags open now."""

    total: int
    states: list[tuple[str, str, str, int]]  # (state, label, badge class, count)
    open_flags: int
    latest_run: CalculationRun | None = None  # the newest succeeded calculation run over every client
    latest_savings: list[dict] = field(default_factory=list)  # its savings per client (runs.selectors.latest_savings)


@dataclass
class HomeWork:
    """The work of each role the person holds (None: the person does not hold that role)."""

    approvals: dict[str, Section] | None = None
    in_flight: dict[str, Section] | None = None
    chain: ChainStatus | None = None
    takeover: Takeover | None = None
    published: Section | None = None


def _section(queryset) -> Section:
    rows = list(queryset[:LIMIT])
    return Section(rows=rows, total=len(rows) if len(rows) < LIMIT else queryset.count())


def approver_work(user) -> dict[str, Section]:
    """What waits for an approver's decision, oldest first (the longest waiting on top); not their own."""
    return {
        "promotions": _section(
            PromotionRequest.objects.filter(state=PromotionState.READY).exclude(requested_by=user)
            .select_related("manifest", "requested_by").order_by("id")
        ),
        "publications": _section(
            Publication.objects.filter(state=PublicationState.REQUESTED).exclude(requested_by=user)
            .select_related("requested_by").order_by("id")
        ),
        "verifications": _section(
            PacketRevision.objects.filter(status=PacketStatus.ACCEPTED, verified_by__isnull=True,
                                          withdrawn_at__isnull=True)
            .exclude(received_by=user).select_related("packet").order_by("id")
        ),
    }


def operator_work(user) -> dict[str, Section]:
    """An operator's own work still in flight, newest first."""
    return {
        "intakes": _section(
            IntakeRun.objects.filter(requested_by=user, status__in=(IntakeStatus.QUEUED, IntakeStatus.RUNNING))
            .order_by("-id")
        ),
        "promotions": _section(
            PromotionRequest.objects.filter(requested_by=user).exclude(state__in=PROMOTION_TERMINAL)
            .select_related("manifest").order_by("-id")
        ),
        "deliverables": _section(Deliverable.objects.filter(requested_by=user, state__in=RUN_ACTIVE).order_by("-id")),
        "publications": _section(
            Publication.objects.filter(requested_by=user, state=PublicationState.REQUESTED).order_by("-id")
        ),
    }


def published_now() -> Section:
    """What readers of the published outputs see now, by client and kind, each client by its governed name."""
    section = _section(
        Publication.objects.filter(state=PublicationState.PUBLISHED).select_related("decided_by")
        .order_by("client_account_id", "kind")
    )
    names = account_names() if section.rows else {}
    for publication in section.rows:
        publication.client_name = names.get(publication.client_account_id, "")
    return section


def takeover() -> Takeover:
    _, summary = scoreboard()
    run, savings = latest_savings()
    return Takeover(total=summary.get("total", 0),
                    states=[(state, label, card_state_badge(state), summary.get(state, 0))
                            for state, label in CardState.choices],
                    open_flags=MissingEvidenceFlag.objects.filter(status=FlagStatus.OPEN).count(),
                    latest_run=run, latest_savings=savings)


def home_work(user) -> HomeWork:
    """The sections of the home page this person's capabilities give them (an admin holds an operator's and an
    auditor's; read by capability, so each role's part follows console.roles)."""
    work = HomeWork()
    if any(user.has_perm(p) for p in ("console.approve_promotion", "console.approve_publication",
                                      "console.verify_evidence")):
        work.approvals = approver_work(user)
    if any(user.has_perm(p) for p in ("console.receive_export", "console.request_promotion",
                                      "console.build_deliverable", "console.publish_output")):
        work.in_flight = operator_work(user)
    if user.has_perm("console.view_audit"):
        work.chain = audit_chain_status()
    if user.has_perm("console.view_provenance"):
        work.takeover = takeover()
        work.published = published_now()
    return work
