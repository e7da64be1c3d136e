"""The client evidence overview: per client and reporting period, one grid of kinds × months, each cell governed,
candidate, missing or blank, with where it links. Read side only: the flags are whatever the latest flag runs
stored (evidence.flags), never recomputed here.

A cell of (kind, month):
- `missing`: an open flag of that kind for the client overlaps the month and at least one such flag has no
  candidate evidence;
- `candidate`: open flags overlap the month and every one has candidate evidence, or no flag overlaps and only
  candidate evidence covers the month (an unverified or withdrawn packet revision, or a Domo candidate set whose
  rows name the client);
- `governed`: no open flag overlaps and a governed revision of a packet speaking for the client covers the month
  (a pricing packet naming no clients speaks for every client);
- blank: no need flagged and no evidence.

"Covers the month" is any overlap of the revision's period with the month: the grid is monthly, a mid-month
contract amendment must not blank the month out; what exactly is covered is the flags' business.

Whatever the number of clients, a grid or the index reads a fixed number of queries (the latest run, its client
needs, the open flags, the accepted revisions, the Domo candidate rows, the Salesforce names).
"""
from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import Q, Subquery
from django.urls import reverse

from console import clock
from evidence.candidates.models import DomoCandidateRow
from evidence.choices import EvidenceClass, PacketKind, PacketStatus
from evidence.flags.models import ClientNeeds, FlagRun, FlagRunStatus, FlagStatus, MissingEvidenceFlag
from evidence.packets.models import PacketRevision
from evidence.packets.selectors import account_names

ACCOUNT_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")  # a Salesforce account id, 15 or 18 characters

KINDS = (PacketKind.CONTRACT, PacketKind.PRICING, PacketKind.REBATE, PacketKind.SALESFORCE)
GOVERNED, CANDIDATE, MISSING, BLANK = "governed", "candidate", "missing", ""


class PeriodInvalid(ValueError):
    """The `period` query parameter is not a year."""


def parse_period(value: str | None) -> int | None:
    """`?period=YYYY`: a year, or None when not given; anything else is refused, naming the field."""
    value = (value or "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) == 4 and 1900 < int(value) < 2200):
        raise PeriodInvalid(f"period: expected a year (YYYY), got {value[:20]!r}")
    return int(value)


@dataclass(frozen=True)
class Month:
    key: str  # "2025-01"
    first: dt.date
    last: dt.date
    has_claims: bool


@dataclass(frozen=True)
class Cell:
    kind: str
    month: str
    state: str  # governed | candidate | missing | "" (blank)
    flag_ids: tuple[int, ...] = ()
    packet_id: str = ""
    href: str = ""
    title: str = ""


@dataclass
class Grid:
    client_account_id: str
    client_name: str
    period_start: dt.date
    period_end: dt.date
    months: list[Month]
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)
    claims: int | None = None  # the claims of the client in the period, when the flag run has its needs

    @property
    def period(self) -> int:
        return self.period_start.year

    def counts(self) -> dict[str, int]:
        found = {GOVERNED: 0, CANDIDATE: 0, MISSING: 0}
        for _kind, cells in self.rows:
            for cell in cells:
                if cell.state:
                    found[cell.state] += 1
        return found


@dataclass
class Overview:
    run: FlagRun | None  # the latest succeeded flag run: "flags as of …"
    latest_run: FlagRun | None  # the latest run whatever its status (a queued or failed one is shown too)
    grids: list[Grid]


# --- reading ------------------------------------------------------------------------------------


def latest_runs() -> tuple[FlagRun | None, FlagRun | None]:
    """(the latest succeeded run, the latest run), in one query whatever their statuses."""
    newest = FlagRun.objects.order_by("-id").values("id")[:1]
    succeeded = FlagRun.objects.filter(status=FlagRunStatus.SUCCEEDED).order_by("-id").values("id")[:1]
    runs = list(FlagRun.objects.filter(Q(pk__in=Subquery(newest)) | Q(pk__in=Subquery(succeeded)))
                .order_by("-id"))
    latest = runs[0] if runs else None
    done = next((run for run in runs if run.status == FlagRunStatus.SUCCEEDED), None)
    return done, latest


def _months(start: dt.date, end: dt.date, with_claims: set[str]) -> list[Month]:
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        first = dt.date(year, month, 1)
        following = dt.date(year + (month == 12), month % 12 + 1, 1)
        key = f"{year:04d}-{month:02d}"
        months.append(Month(key, first, following - dt.timedelta(days=1), key in with_claims))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _overlaps(start, end, month: Month) -> bool:
    return (start is None or start <= month.last) and (end is None or end >= month.first)


class _Evidence:
    """Everything the grids read, fetched once for the clients asked about."""

    def __init__(self, run: FlagRun | None, clients: list[str] | None):
        needs = ClientNeeds.objects.filter(run=run) if run is not None else ClientNeeds.objects.none()
        flags = MissingEvidenceFlag.objects.filter(status=FlagStatus.OPEN)
        if clients is not None:
            needs, flags = needs.filter(client_account_id__in=clients), flags.filter(client_account_id__in=clients)
        self.needs: dict[str, list[ClientNeeds]] = defaultdict(list)
        for need in needs.order_by("client_account_id", "period_start"):
            self.needs[need.client_account_id].append(need)
        self.flags: dict[tuple[str, str], list[tuple]] = defaultdict(list)
        for flag in flags.order_by("first_raised_at", "id").values_list(
                "id", "client_account_id", "kind", "period_start", "period_end", "candidate_exists"):
            self.flags[(flag[1], flag[2])].append(flag)
        # Accepted revisions, newest first: a packet speaks for its clients (a pricing packet naming none, for all).
        self.revisions = list(
            PacketRevision.objects.filter(status=PacketStatus.ACCEPTED).order_by("-id").values_list(
                "packet_id", "revision", "evidence_class", "period_start", "period_end", "packet__kind",
                "packet__packet_id", "packet__client_account_ids"))
        self.domo = _domo_candidates(clients)
        self.names = account_names()

    def clients(self) -> list[str]:
        named = set(self.needs) | {client for client, _kind in self.flags}
        for *_rest, clients in self.revisions:
            named.update(clients or ())
        return sorted(named)

    def revisions_for(self, client: str, kind: str):
        for pk, number, evidence_class, start, end, packet_kind, packet_id, clients in self.revisions:
            if packet_kind == kind and (client in (clients or ()) or (kind == PacketKind.PRICING and not clients)):
                yield pk, number, evidence_class, start, end, packet_id


def _domo_candidates(clients: list[str] | None) -> dict[tuple[str, str], list[tuple]]:
    """{(client, kind): [(start, end), …]} of Domo candidate rows naming a client: distinct spans only.

    Kept apart: the Domo candidate sets are registered by another part of the console; here a set of a kind
    whose rows name the client is candidate evidence of that kind for the rows' dates (a row without dates, such
    as Domo's copy of a Salesforce account, for every month).
    """
    rows = DomoCandidateRow.objects.exclude(client_account_id="")
    if clients is not None:
        rows = rows.filter(client_account_id__in=clients)
    found: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for client, kind, start, end in rows.values_list(
            "client_account_id", "candidate_set__kind", "start_date", "end_date").distinct():
        found[(client, kind)].append((start, end))
    return found


# --- the grid -----------------------------------------------------------------------------------


def _flags_href(client: str, kind: str, month: str) -> str:
    return f"{reverse('flags:missing-list')}?{urlencode({'client': client, 'kind': kind, 'month': month})}"


def _cell(evidence: _Evidence, client: str, kind: str, month: Month) -> Cell:
    flags = [flag for flag in evidence.flags.get((client, kind), ()) if _overlaps(flag[3], flag[4], month)]
    if flags:
        ids = tuple(flag[0] for flag in flags)
        state = CANDIDATE if all(flag[5] for flag in flags) else MISSING
        href = (reverse("flags:missing-detail", args=[ids[0]]) if len(ids) == 1
                else _flags_href(client, kind, month.key))
        what = "open flag" if len(ids) == 1 else f"{len(ids)} open flags"
        title = (f"{what}; candidate evidence only" if state == CANDIDATE else f"{what}: no governed evidence")
        return Cell(kind, month.key, state, flag_ids=ids, href=href, title=title)
    candidate = None
    for pk, number, evidence_class, start, end, packet_id in evidence.revisions_for(client, kind):
        if not _overlaps(start, end, month):
            continue
        href = reverse("packets:revision-detail", args=[pk, number])
        if evidence_class == EvidenceClass.GOVERNED:
            return Cell(kind, month.key, GOVERNED, packet_id=packet_id, href=href,
                        title=f"governed: {packet_id} r{number}")
        candidate = candidate or Cell(kind, month.key, CANDIDATE, packet_id=packet_id, href=href,
                                      title=f"candidate only: {packet_id} r{number} is not verified")
    if candidate is not None:
        return candidate
    if any(_overlaps(start, end, month) for start, end in evidence.domo.get((client, kind), ())):
        return Cell(kind, month.key, CANDIDATE, title="candidate only: rows recovered from Domo")
    return Cell(kind, month.key, BLANK)


def _period(evidence: _Evidence, client: str, year: int | None) -> tuple[dt.date, dt.date, ClientNeeds | None]:
    needs = evidence.needs.get(client, [])
    if year is not None:
        chosen = [need for need in needs if need.period_start.year == year]
    else:
        chosen = needs[-1:]
    if chosen:
        return chosen[-1].period_start, chosen[-1].period_end, chosen[-1]
    if year is None:  # no needs: the latest period of the client's own packets, or this client's latest year
        starts = [start for kind in KINDS for *_x, start, _end, _p in evidence.revisions_for(client, kind) if start]
        year = max(starts).year if starts else clock.now().year
    return dt.date(year, 1, 1), dt.date(year, 12, 31), None


def _grid(evidence: _Evidence, client: str, year: int | None) -> Grid:
    start, end, need = _period(evidence, client, year)
    months = _months(start, end, set(need.months) if need else set())
    name = (need.client_name if need else "") or evidence.names.get(client, "")
    grid = Grid(client, name, start, end, months, claims=need.claims if need else None)
    grid.rows = [(kind, [_cell(evidence, client, kind, month) for month in months]) for kind in KINDS]
    return grid


def client_overview(client: str, *, period: int | None = None) -> Overview | None:
    """The grid of one client (None if the console knows nothing of it: no needs, no packet; or if `client` is
    not an account id at all, which is never looked up)."""
    if not ACCOUNT_ID.fullmatch(client):
        return None
    run, latest = latest_runs()
    evidence = _Evidence(run, [client])
    if client not in evidence.clients():
        return None
    return Overview(run=run, latest_run=latest, grids=[_grid(evidence, client, period)])


def overview_index(*, period: int | None = None) -> Overview:
    """Every client's grid: the clients of the latest succeeded run's needs, and of the packets."""
    run, latest = latest_runs()
    evidence = _Evidence(run, None)
    return Overview(run=run, latest_run=latest,
                    grids=[_grid(evidence, client, period) for client in evidence.clients()])
