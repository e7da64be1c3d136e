"""What the scoreboard and the reconciliation pages read: each subject's state, each difference's status.

A card's state:
- retired: an approver retired it (once reconciled);
- not mapped: no mapping;
- mapped: mapped, but no reconciliation of its current mapping version has succeeded yet;
- open: its newest succeeded reconciliation (of the current mapping version) has a difference that is not
  explained by a flaw and not accepted (a `backend_defect` or `investigating` verdict keeps it open);
- reconciled: every key x measure of that reconciliation matched, is within tolerance, explained or accepted.

A difference's status: explained (a recorded flaw accounts for it), within tolerance, or the latest verdict on its
fingerprint (accepted, backend_defect, investigating), or open; an open difference whose place (card, keys,
measure) had a verdict under other values shows that earlier verdict for context.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count, Max, OuterRef, Q, Subquery

from deliverables.choices import DIFFERING, CardState, ItemClass, RunState, Verdict
from deliverables.models import Adjudication, CardMapping, CardRetirement, Reconciliation, ReconciliationItem
from deliverables.reconciliation import sources

OPEN = "open"



@dataclass
class ItemStatus:
    item: ReconciliationItem
    status: str  # explained | within_tolerance | accepted | backend_defect | investigating | open
    adjudication: Adjudication | None = None  # the verdict in force on this fingerprint
    earlier: Adjudication | None = None  # a verdict on the same place under other values (reopened)

    @property
    def is_open(self) -> bool:
        return self.status not in ("explained", "within_tolerance", Verdict.ACCEPTED)

    @property
    def can_adjudicate(self) -> bool:
        return self.item.item_class in DIFFERING and not self.item.explanation


def item_statuses(recon: Reconciliation, items=None) -> list[ItemStatus]:
    items = list(items if items is not None else recon.items.order_by("position"))
    fingerprints = {i.fingerprint for i in items}
    locators = {i.locator for i in items}
    verdicts: dict[str, Adjudication] = {}
    by_place: dict[str, list[Adjudication]] = {}
    for a in (Adjudication.objects.filter(subject_kind=recon.subject_kind, subject_id=recon.subject_id)
              .filter(locator__in=locators).select_related("decided_by").order_by("decided_at", "id")):
        if a.fingerprint in fingerprints:
            verdicts[a.fingerprint] = a  # the latest wins
        by_place.setdefault(a.locator, []).append(a)
    out = []
    for item in items:
        if item.explanation:
            out.append(ItemStatus(item, "explained"))
            continue
        if item.item_class == ItemClass.WITHIN_TOLERANCE:
            out.append(ItemStatus(item, "within_tolerance"))
            continue
        verdict = verdicts.get(item.fingerprint)
        earlier = None
        if verdict is None:
            others = [a for a in by_place.get(item.locator, []) if a.fingerprint != item.fingerprint]
            earlier = others[-1] if others else None
        out.append(ItemStatus(item, verdict.verdict if verdict else OPEN, verdict, earlier))
    return out


def _latest_verdict(subject_kind, subject_id):
    """The verdict in force on each item's fingerprint (the latest on the card: `subject_kind`, `subject_id`, values
    or OuterRefs), as selectors.item_statuses reads it."""
    return Subquery(Adjudication.objects.filter(subject_kind=subject_kind, subject_id=subject_id,
                                                fingerprint=OuterRef("fingerprint"))
                    .order_by("-decided_at", "-id").values("verdict")[:1])


def _keeps_open() -> Q:
    """Over the annotated `verdict`: none, or one that keeps the card open (backend_defect, investigating)."""
    return Q(verdict__isnull=True) | ~Q(verdict=Verdict.ACCEPTED)


def items_with_status(recon: Reconciliation, wanted: str):
    """The reconciliation's items whose status is `wanted` (selectors.item_statuses's, as a query): `open` is
    every item that keeps the card open (no verdict, backend_defect or investigating)."""
    items = ReconciliationItem.objects.filter(reconciliation=recon)
    if wanted == "all":
        return items
    if wanted == "explained":
        return items.filter(explanation__isnull=False)
    if wanted == "within_tolerance":
        return items.filter(explanation__isnull=True, item_class=ItemClass.WITHIN_TOLERANCE)
    differing = items.filter(explanation__isnull=True, item_class__in=DIFFERING).annotate(
        verdict=_latest_verdict(recon.subject_kind, recon.subject_id))
    if wanted == "open":
        return differing.filter(_keeps_open())
    return differing.filter(verdict=wanted)


def open_counts(recons) -> dict[int, int]:
    """Each reconciliation's open differences (items_with_status(recon, "open").count() of each), in one query
    whatever their number: the scoreboard and the home page count every card's at once."""
    ids = [r.pk for r in recons]
    if not ids:
        return {}
    counted = (ReconciliationItem.objects.filter(reconciliation_id__in=ids, explanation__isnull=True,
                                                 item_class__in=DIFFERING)
               .annotate(verdict=_latest_verdict(OuterRef("reconciliation__subject_kind"),
                                                 OuterRef("reconciliation__subject_id")))
               .filter(_keeps_open()).order_by().values("reconciliation_id").annotate(n=Count("id")))
    return dict.fromkeys(ids, 0) | {row["reconciliation_id"]: row["n"] for row in counted}


CARD_STATE_BADGES = {"not_mapped": "badge badge-muted", "mapped": "badge badge-info", "open": "badge badge-warn",
                     "reconciled": "badge badge-ok", "retired": "badge"}


def card_state_badge(state: str) -> str:
    """The badge class of a card's state on the scoreboard (and wherever its counts show)."""
    return CARD_STATE_BADGES.get(str(state), "badge")


@dataclass
class CardStateRow:
    kind: str
    id: str
    title: str
    state: str
    manifests: tuple[int, ...] = ()
    mapping: CardMapping | None = None
    reconciliation: Reconciliation | None = None  # the newest succeeded one of the current mapping
    latest: Reconciliation | None = None  # the newest of any state
    retirement: CardRetirement | None = None
    open: int = 0
    explained: int = 0  # differences a recorded flaw accounts for
    accepted: int = 0  # differences an approver accepted (Domo was wrong)
    counts: dict = field(default_factory=dict)
    has_golden: bool = False

    @property
    def state_label(self) -> str:
        return CardState(self.state).label

    @property
    def subject_name(self) -> str:
        return f"{self.kind}:{self.id}"


def _current(subject: sources.Subject, mappings: dict, succeeded: dict) -> Reconciliation | None:
    """The newest succeeded reconciliation of the subject's current mapping version, if any."""
    key = (subject.kind, subject.id)
    mapping, recon = mappings.get(key), succeeded.get(key)
    return recon if mapping is not None and recon is not None and recon.mapping_id == mapping.pk else None


def _row(subject: sources.Subject, mappings: dict, latest: dict, succeeded: dict, retired: dict,
         opens: dict[int, int]) -> CardStateRow:
    key = (subject.kind, subject.id)
    mapping = mappings.get(key)
    row = CardStateRow(subject.kind, subject.id, subject.title, CardState.NOT_MAPPED, subject.manifests, mapping,
                       latest=latest.get(key), retirement=retired.get(key), has_golden=subject.has_golden)
    recon = _current(subject, mappings, succeeded)
    if recon is not None:
        row.reconciliation = recon
        row.counts = (recon.summary or {}).get("total", {})
        row.open = opens.get(recon.pk, 0)
        row.explained = (recon.summary or {}).get("explained", 0)
        # every difference is explained, accepted or open (open_counts: no verdict, backend_defect, investigating)
        row.accepted = sum(row.counts.get(c, 0) for c in DIFFERING) - row.explained - row.open
    if row.retirement is not None:
        row.state = CardState.RETIRED
        row.reconciliation = row.reconciliation or row.retirement.reconciliation
    elif mapping is None:
        row.state = CardState.NOT_MAPPED
    elif row.reconciliation is None:
        row.state = CardState.MAPPED
    else:
        row.state = CardState.OPEN if row.open else CardState.RECONCILED
    return row


def scoreboard(*, manifest: int | None = None, state: str | None = None) -> tuple[list[CardStateRow], dict]:
    """Every card and DataFlow of the received exports with its state (filtered by export and state), and the
    counts per state over the export's subjects (before the state filter)."""
    subjects = sources.subjects()
    if manifest is not None:
        subjects = [s for s in subjects if manifest in s.manifests]
    mappings: dict = {}
    for m in CardMapping.objects.order_by("subject_kind", "subject_id", "version").select_related("created_by"):
        mappings[(m.subject_kind, m.subject_id)] = m  # the highest version wins
    latest: dict = {}
    succeeded: dict = {}
    # Only the newest reconciliation of each subject and its newest succeeded one are read (not every one ever
    # made: each new run re-reconciles every mapped card); in order, so the newer wins below.
    newest = (Reconciliation.objects.values("subject_kind", "subject_id").annotate(newest=Max("pk"))
              .values("newest"))
    newest_succeeded = (Reconciliation.objects.filter(state=RunState.SUCCEEDED).values("subject_kind", "subject_id")
                        .annotate(newest=Max("pk")).values("newest"))
    for r in (Reconciliation.objects.filter(Q(pk__in=newest) | Q(pk__in=newest_succeeded)).order_by("pk")
              .select_related("run", "mapping")):
        latest[(r.subject_kind, r.subject_id)] = r
        if r.state == RunState.SUCCEEDED:
            succeeded[(r.subject_kind, r.subject_id)] = r
    retired = {(r.subject_kind, r.subject_id): r for r in CardRetirement.objects.select_related(
        "retired_by", "reconciliation")}
    opens = open_counts([r for r in (_current(s, mappings, succeeded) for s in subjects) if r is not None])
    rows = [_row(s, mappings, latest, succeeded, retired, opens) for s in subjects]
    counts = Counter(r.state for r in rows)
    summary = {"total": len(rows), **{s.value: counts.get(s.value, 0) for s in CardState}}
    if state:
        rows = [r for r in rows if r.state == state]
    return rows, summary


def card_state(kind: str, subject_id: str) -> CardStateRow:
    rows, _ = scoreboard()
    for row in rows:
        if row.kind == kind and row.id == str(subject_id):
            return row
    return CardStateRow(kind, str(subject_id), f"{kind} {subject_id}", CardState.NOT_MAPPED)
