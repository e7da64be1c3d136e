"""The client scope report, read from the database (the comparison itself is deliverables.scope.compare).

- The clients: every account of the accepted Salesforce packet revisions, governed or not, and the clients
  Domo's PDP names that no account is. Whether an account is governed, and by which rows, is the authority
  rules' CLIENT_SCOPE decision over the client's evidence (evidence.packets.selectors.evidence_for).
- Domo: the newest export that is not invalid (by export time, then reception), its datasets that have PDP
  policies, and its directory of users and groups.
- What the pages and the API both show of a client (its flags grouped by kind, its users on each side, the filters
  in words, the list's filters and counts) is read here once: deliverables.scope.views and .api only present it.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F

from deliverables.scope import compare
from evidence.choices import ManifestStatus, PacketStatus
from evidence.intake import pdp
from evidence.models import DirectoryEntry, DomoDataset, SourceManifest
from evidence.packets import model
from evidence.packets.authority import AUTHORIZED, CLIENT_SCOPE, Evidence, decide
from evidence.packets.models import AccountRow
from evidence.packets.selectors import evidence_for, evidence_for_clients


@dataclass(frozen=True)
class ScopeReport:
    manifest: SourceManifest | None  # the export Domo's side comes from (None: no usable export)
    clients: tuple[compare.ClientScope, ...]
    datasets: tuple[compare.Dataset, ...]

    def client(self, key: str) -> compare.ClientScope | None:
        return next((c for c in self.clients if c.key == key), None)


def newest_manifest() -> SourceManifest | None:
    return (SourceManifest.objects.exclude(status=ManifestStatus.INVALID)
            .order_by(F("exported_at").desc(nulls_last=True), "-received_at", "-pk").first())


def _account(account_id: str, evidence: Evidence) -> compare.Account:
    decision = decide(CLIENT_SCOPE, client=account_id, evidence=evidence)
    used = {(u.packet_id, u.revision) for u in decision.governed_used}
    governed_rows, other_rows, read = [], [], []
    for revision in sorted(evidence.revisions, key=lambda r: (r.packet_id, r.revision)):
        rows = [r for r in revision.records if r.account_id == account_id]
        if not rows:
            continue
        if (revision.packet_id, revision.revision) in used:
            governed_rows.extend(rows)
            read.append(f"{revision.packet_id} r{revision.revision} (governed)")
        else:
            other_rows.extend(rows)
            read.append(f"{revision.packet_id} r{revision.revision} ({revision.evidence_class}, not used)")
    if decision.decision != AUTHORIZED or not governed_rows:
        reasons = "; ".join(m.reason for m in decision.missing) or "no governed Salesforce account row"
        name = other_rows[-1].account_name if other_rows else ""
        return compare.Account(key=account_id, account_id=account_id, name=name, governed=False,
                               unscoped_reason=f"{reasons}: no backend scope", evidence=tuple(read))
    groups = tuple(sorted({r.domo_group.strip() for r in governed_rows if r.domo_group.strip()}))
    reason = ""
    if not groups:
        reason = "the governed Salesforce account names no Domo group: no backend scope"
    elif len(groups) > 1:
        reason = (f"the governed Salesforce rows name different Domo groups ({', '.join(groups)}): none is "
                  "chosen, no backend scope")
    return compare.Account(key=account_id, account_id=account_id, name=governed_rows[-1].account_name,
                           domo_groups=groups, governed=True, unscoped_reason=reason, evidence=tuple(read))


def client_account(account_id: str) -> compare.Account:
    """One client's account as the backend scope knows it: governed or not, its Domo group, why it is unscoped."""
    return _account(account_id, evidence_for(account_id, kinds=[model.SALESFORCE]))


def accounts() -> list[compare.Account]:
    ids = (AccountRow.objects.filter(revision__status=PacketStatus.ACCEPTED, revision__kind=model.SALESFORCE)
           .order_by("account_id").values_list("account_id", flat=True).distinct())
    found = evidence_for_clients(list(ids), kinds=[model.SALESFORCE])  # every client's in a few queries
    return [_account(account_id, found[account_id]) for account_id in ids]


def domo_side(manifest: SourceManifest | None) -> tuple[list[compare.Dataset], compare.Directory]:
    if manifest is None:
        return [], compare.Directory(users={}, groups={})
    datasets = []
    for dataset in (DomoDataset.objects.filter(manifest=manifest, policies__isnull=False).distinct()
                    .prefetch_related("policies").order_by("name", "domo_id")):
        policies = sorted(dataset.policies.all(), key=lambda p: (p.name, p.policy_id, p.pk))
        datasets.append(compare.Dataset(
            domo_id=dataset.domo_id, name=dataset.name, pdp_enabled=dataset.pdp_enabled,
            owner_name=dataset.owner_name,
            policies=tuple(compare.Policy(
                policy_id=p.policy_id, name=p.name, type=p.type, filters=tuple(p.filters or ()),
                user_ids=tuple(int(u) for u in p.user_ids or ()), group_ids=tuple(int(g) for g in p.group_ids or ()),
            ) for p in policies),
        ))
    users: dict[int, tuple[str, str]] = {}
    groups: dict[int, tuple[str, tuple[int, ...]]] = {}
    for kind, domo_id, name, email, members in (DirectoryEntry.objects.filter(manifest=manifest)
                                               .order_by("kind", "domo_id")
                                               .values_list("kind", "domo_id", "name", "email", "member_ids")):
        if kind == "user":
            users[int(domo_id)] = (name, email)
        else:
            groups[int(domo_id)] = (name, tuple(int(m) for m in members or ()))
    return datasets, compare.Directory(users=users, groups=groups)


def scope_report() -> ScopeReport:
    manifest = newest_manifest()
    datasets, directory = domo_side(manifest)
    known = accounts()
    every = known + compare.pdp_only_accounts(known, datasets)
    clients = sorted((compare.compare_client(a, datasets, directory) for a in every), key=compare.sort_key)
    return ScopeReport(manifest=manifest, clients=tuple(clients), datasets=tuple(datasets))


# --- what the pages and the API show of a client ----------------------------------------------------------------
USER_FLAGS = (compare.DOMO_ONLY, compare.BACKEND_ONLY, compare.UNDECIDED_USER)
VERDICT_LABELS = {compare.THROUGH: "Lets the rows through", compare.BLOCKED: "Keeps the rows out",
                  compare.UNDECIDED: "Cannot be evaluated"}


@dataclass(frozen=True)
class FlagGroup:
    """One kind of flag of a client: how many, and what (the users for a user's flag, else the messages)."""

    code: str
    label: str
    count: int
    details: tuple[str, ...]


def flag_groups(scope: compare.ClientScope) -> list[FlagGroup]:
    found: dict[str, list[compare.Flag]] = {}
    for flag in scope.flags:
        found.setdefault(flag.code, []).append(flag)
    groups = []
    for code, flags in found.items():
        if code in USER_FLAGS:
            details = (", ".join(u.name for u in scope.users_flagged(code)),)
        else:
            details = tuple(f.message for f in flags)
        groups.append(FlagGroup(code=code, label=compare.FLAG_LABELS.get(code, code), count=len(flags),
                                details=details))
    return groups


def backend_users(scope: compare.ClientScope) -> list[compare.UserLine]:
    """The users the backend scope holds."""
    return [u for u in scope.users if u.in_backend]


def domo_users(scope: compare.ClientScope) -> list[compare.UserLine]:
    """The users Domo's PDP let see the client's rows (not those only an undecided policy might have)."""
    return [u for u in scope.users if u.domo == "saw"]


def described_filters(policy: compare.Policy) -> list[str]:
    """A policy's filters in words (AND-ed), as evidence.intake.pdp says them."""
    return [pdp.describe_filter(f) for f in policy.filters]


def matches(scope: compare.ClientScope, text: str) -> bool:
    """The list's client filter: any part of the client's name or account id (its key), case folded."""
    text = text.strip().casefold()
    account = scope.account
    return not text or text in account.name.casefold() or text in account.key.casefold()


def filter_clients(clients, *, client: str = "", differences: bool = False) -> list[compare.ClientScope]:
    """The clients the list shows for its filters: `client` (name or account id, any part), differences only."""
    return [c for c in clients if matches(c, client or "") and (not differences or c.has_differences)]


def counts(report: ScopeReport) -> tuple[int, int]:
    """(clients, clients with differences) of the whole report, whatever the filters: the list's totals."""
    return len(report.clients), sum(c.has_differences for c in report.clients)
