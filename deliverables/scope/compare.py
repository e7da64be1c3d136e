"""Client scope against Domo's PDP: who the backend lets see a client, who Domo's PDP let see its rows, and
every difference. Plain module, no Django: deliverables.scope.selectors reads the database into these types.

- **Backend scope** of a client: the Domo group its governed Salesforce account row names (the authority
  rules decide which rows are governed: evidence.packets.authority, CLIENT_SCOPE), expanded to its users
  through the newest export's directory (a group may hold groups: expanded, cycles stopped). A client
  without a governed account row, whose governed row names no group, or whose governed rows name different
  groups is *unscoped*: flagged, no group is inferred, the backend lets nobody see it.
- **Domo's PDP** for a client (leafiq-export-v1.md): per dataset with policies, a policy's filters are
  AND-ed and the policies OR-ed; the open "All Rows" policy and a policy with no filter let every row
  through. A filter on `Client Account` is tested against the account's name, on `Client Account ID`
  against its id: EQUALS/IN (any of the values), NOT_EQUALS/NOT_IN, LIKE (SQL `%` and `_`), BEGINS_WITH,
  ENDS_WITH, CONTAINS, the comparisons and BETWEEN (as text, as Domo compares a STRING column), `not`
  negating it, `ignoreCase` (default true) folding case. What cannot be decided from the client alone is
  never guessed: a DYNAMIC filter (its value is the viewer's own attribute), a filter on another column,
  an operator the format does not name: the policy is *undecided* and its users are flagged as such.
  The users a policy names directly, and those of the groups it names (expanded), saw the rows.
- **Differences**: `domo_only` (Domo's PDP let the user see the client's rows, the backend scope does not
  hold the user), `backend_only` (the reverse, and no undecided policy might have let the user in),
  `undecided` (only an undecided policy might have let the user in).

Domo also shows every row to the dataset's owner and to Domo admins whatever the policies: the export
names the owner but not who the admins are, so neither is counted; the page says so.
Everything is sorted: the same inputs give the same report.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

NAME_COLUMN = "Client Account"
ID_COLUMN = "Client Account ID"
CLIENT_COLUMNS = (NAME_COLUMN, ID_COLUMN)

THROUGH, BLOCKED, UNDECIDED = "through", "blocked", "undecided"
DOMO_ONLY, BACKEND_ONLY, UNDECIDED_USER = "domo_only", "backend_only", "undecided"
# Flag codes, in the order a client's flags are listed.
FLAG_ORDER = ("unscoped", "group_unknown", "group_id_unknown", "user_id_unknown", DOMO_ONLY, BACKEND_ONLY,
              UNDECIDED_USER, "pdp_disabled")
FLAG_LABELS = {
    "unscoped": "Unscoped",
    "group_unknown": "Group not in directory",
    "group_id_unknown": "Policy group not in directory",
    "user_id_unknown": "Policy user not in directory",
    DOMO_ONLY: "Saw in Domo, outside backend scope",
    BACKEND_ONLY: "In backend scope, not let in by Domo",
    UNDECIDED_USER: "PDP cannot be evaluated",
    "pdp_disabled": "PDP disabled",
}


# --- inputs ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Account:
    """A client as the backend knows it (or as Domo's PDP names it, when no Salesforce account does)."""

    key: str  # the Salesforce account id; the value Domo's PDP names when no account is known
    account_id: str  # "" when no account is known
    name: str  # "" when unknown
    domo_groups: tuple[str, ...] = ()  # named by the governed rows (several: a conflict, none used)
    governed: bool = False
    unscoped_reason: str = ""  # "" when the backend scope is decided
    evidence: tuple[str, ...] = ()  # the revisions read: "EVP-SALESFORCE-2025 r1 (governed)"

    @property
    def domo_group(self) -> str:
        """The backend's group: the governed rows' one group ("" when unscoped)."""
        return self.domo_groups[0] if not self.unscoped_reason and len(self.domo_groups) == 1 else ""


@dataclass(frozen=True)
class Directory:
    """The newest export's directory: {user id: (name, email)} and {group id: (name, member ids)}."""

    users: Mapping[int, tuple[str, str]]
    groups: Mapping[int, tuple[str, tuple[int, ...]]]

    def user_name(self, user_id: int) -> str:
        found = self.users.get(user_id)
        return found[0] if found and found[0] else f"user {user_id} (not in the export's directory)"

    def group_name(self, group_id: int) -> str:
        found = self.groups.get(group_id)
        return found[0] if found and found[0] else f"group {group_id} (not in the export's directory)"

    def groups_named(self, name: str) -> list[int]:
        return sorted(gid for gid, (gname, _) in self.groups.items() if gname == name)

    def members(self, group_id: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(users, groups) of a group, nested groups expanded; a member id the directory holds as a group is a
        group, any other is a user. Cycles are stopped."""
        users: set[int] = set()
        seen: set[int] = set()
        todo = [group_id]
        while todo:
            gid = todo.pop()
            if gid in seen or gid not in self.groups:
                continue
            seen.add(gid)
            for member in self.groups[gid][1]:
                if member in self.groups and member not in self.users:
                    todo.append(member)
                else:
                    users.add(member)
        return tuple(sorted(users)), tuple(sorted(seen - {group_id}))


@dataclass(frozen=True)
class Policy:
    policy_id: int
    name: str
    type: str
    filters: tuple[Mapping, ...]
    user_ids: tuple[int, ...]
    group_ids: tuple[int, ...]


@dataclass(frozen=True)
class Dataset:
    domo_id: str
    name: str
    pdp_enabled: bool | None
    owner_name: str
    policies: tuple[Policy, ...]


# --- filters and policies ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    outcome: str  # THROUGH, BLOCKED or UNDECIDED
    reason: str


def _like(pattern: str, text: str, fold: bool) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, flags=(re.IGNORECASE | re.DOTALL) if fold else re.DOTALL) is not None


_TESTS = {
    "EQUALS": lambda v, x: v == x,
    "IN": lambda v, x: v == x,
    "BEGINS_WITH": lambda v, x: v.startswith(x),
    "ENDS_WITH": lambda v, x: v.endswith(x),
    "CONTAINS": lambda v, x: x in v,
    "GREATER_THAN": lambda v, x: v > x,
    "LESS_THAN": lambda v, x: v < x,
    "GREATER_THAN_EQUAL": lambda v, x: v >= x,
    "LESS_THAN_EQUAL": lambda v, x: v <= x,
}
_NEGATIVE = {"NOT_EQUALS": "EQUALS", "NOT_IN": "IN"}


def evaluate_filter(flt: Mapping, account: Account) -> Verdict:
    """Whether one PDP filter lets the client's rows through, from the client's name and id alone."""
    column = str(flt.get("column") or "")
    operator = str(flt.get("operator") or "EQUALS").upper()
    values = [str(v) for v in flt.get("values") or ()]
    negated = bool(flt.get("negated"))
    fold = flt.get("ignore_case") is not False
    shown = f"{column or '(no column)'} {'NOT ' if negated else ''}{operator} {', '.join(values) or '(no value)'}"
    if flt.get("dynamic"):
        return Verdict(UNDECIDED, f"dynamic filter ({shown}): its value is each viewer's own attribute, "
                                  "which the export does not hold")
    if column not in CLIENT_COLUMNS:
        return Verdict(UNDECIDED, f"filter on {column or '(no column)'} ({shown}): not decided by the client alone")
    value = account.name if column == NAME_COLUMN else account.account_id
    if not value:
        return Verdict(UNDECIDED, f"filter on {column} ({shown}): the client's {column} is not known")
    if operator in _NEGATIVE:
        negated, operator = not negated, _NEGATIVE[operator]
    if operator == "BETWEEN":
        if len(values) != 2:
            return Verdict(UNDECIDED, f"BETWEEN with {len(values)} value(s) ({shown})")
        low, high, text = (values[0].casefold(), values[1].casefold(), value.casefold()) if fold else (*values, value)
        hit = low <= text <= high
    elif operator == "LIKE":
        hit = any(_like(x, value, fold) for x in values)
    elif operator in _TESTS:
        test = _TESTS[operator]
        text = value.casefold() if fold else value
        hit = any(test(text, x.casefold() if fold else x) for x in values)
    else:
        return Verdict(UNDECIDED, f"operator {operator} ({shown}) is not one the export format names")
    if negated:
        hit = not hit
    return Verdict(THROUGH if hit else BLOCKED, shown)


def evaluate_policy(policy: Policy, account: Account) -> Verdict:
    """Filters AND-ed: one blocking filter blocks; else one undecided filter leaves the policy undecided."""
    if str(policy.type).lower() == "open":
        return Verdict(THROUGH, "the open All Rows policy")
    if not policy.filters:
        return Verdict(THROUGH, "the policy has no filter: every row")
    verdicts = [evaluate_filter(f, account) for f in policy.filters]
    blocked = [v.reason for v in verdicts if v.outcome == BLOCKED]
    if blocked:
        return Verdict(BLOCKED, "; ".join(blocked))
    undecided = [v.reason for v in verdicts if v.outcome == UNDECIDED]
    if undecided:
        return Verdict(UNDECIDED, "; ".join(undecided))
    return Verdict(THROUGH, " and ".join(v.reason for v in verdicts))


# --- the comparison ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PolicyAccess:
    policy: Policy
    verdict: Verdict
    groups: tuple[tuple[int, str], ...]  # (id, name) named by the policy, and those nested in them
    users: tuple[tuple[int, str], ...]  # (id, name): named, and members of its groups


@dataclass(frozen=True)
class DatasetAccess:
    dataset: Dataset
    policies: tuple[PolicyAccess, ...]  # every policy, in the dataset's order

    @property
    def letting_through(self) -> tuple[PolicyAccess, ...]:
        return tuple(p for p in self.policies if p.verdict.outcome == THROUGH)

    @property
    def undecided(self) -> tuple[PolicyAccess, ...]:
        return tuple(p for p in self.policies if p.verdict.outcome == UNDECIDED)


@dataclass(frozen=True)
class UserLine:
    user_id: int
    name: str
    email: str
    in_backend: bool
    domo: str  # "saw", "undecided" or "" (Domo's PDP let the user in, might have, did not)
    via: tuple[str, ...]  # "dataset: policy" that let the user in (or might have)
    flag: str  # DOMO_ONLY, BACKEND_ONLY, UNDECIDED_USER or ""


@dataclass(frozen=True)
class Flag:
    code: str
    message: str

    @property
    def label(self) -> str:
        return FLAG_LABELS.get(self.code, self.code)


@dataclass(frozen=True)
class ClientScope:
    account: Account
    backend_groups: tuple[tuple[int, str], ...]  # the group found in the directory, and those nested in it
    backend_users: tuple[int, ...]
    datasets: tuple[DatasetAccess, ...]
    users: tuple[UserLine, ...]
    flags: tuple[Flag, ...]
    domo_groups: tuple[tuple[int, str], ...] = field(default=())  # named by policies letting the rows through

    @property
    def key(self) -> str:
        return self.account.key

    @property
    def has_differences(self) -> bool:
        return bool(self.flags)

    def users_flagged(self, code: str) -> tuple[UserLine, ...]:
        return tuple(u for u in self.users if u.flag == code)

    @property
    def domo_only(self) -> tuple[UserLine, ...]:
        return self.users_flagged(DOMO_ONLY)

    @property
    def backend_only(self) -> tuple[UserLine, ...]:
        return self.users_flagged(BACKEND_ONLY)

    @property
    def undecided(self) -> tuple[UserLine, ...]:
        return self.users_flagged(UNDECIDED_USER)

    @property
    def flag_codes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.code for f in self.flags))


def _policy_access(policy: Policy, verdict: Verdict, directory: Directory) -> PolicyAccess:
    group_ids: set[int] = set()
    user_ids: set[int] = {int(u) for u in policy.user_ids}
    for gid in policy.group_ids:
        group_ids.add(int(gid))
        members, nested = directory.members(int(gid))
        user_ids.update(members)
        group_ids.update(nested)
    return PolicyAccess(
        policy=policy, verdict=verdict,
        groups=tuple((g, directory.group_name(g)) for g in sorted(group_ids)),
        users=tuple((u, directory.user_name(u)) for u in sorted(user_ids)),
    )


def compare_client(account: Account, datasets: Sequence[Dataset], directory: Directory) -> ClientScope:
    flags: list[Flag] = []
    backend_groups: tuple[tuple[int, str], ...] = ()
    backend_users: tuple[int, ...] = ()
    if account.unscoped_reason:
        flags.append(Flag("unscoped", account.unscoped_reason))
    else:
        found = directory.groups_named(account.domo_group)
        if not found:
            flags.append(Flag("group_unknown", f"the governed Domo group {account.domo_group!r} is not in the "
                                               "newest export's directory: its users are not known"))
        else:
            users: set[int] = set()
            groups: set[int] = set(found)
            for gid in found:
                members, nested = directory.members(gid)
                users.update(members)
                groups.update(nested)
            backend_groups = tuple((g, directory.group_name(g)) for g in sorted(groups))
            backend_users = tuple(sorted(users))

    accesses: list[DatasetAccess] = []
    saw: dict[int, list[str]] = {}
    maybe: dict[int, list[str]] = {}
    domo_groups: dict[int, str] = {}
    unknown_groups: set[tuple[int, str]] = set()
    unknown_users: set[tuple[int, str]] = set()
    for dataset in datasets:
        policies = tuple(_policy_access(p, evaluate_policy(p, account), directory) for p in dataset.policies)
        access = DatasetAccess(dataset=dataset, policies=policies)
        accesses.append(access)
        for pa in policies:
            if pa.verdict.outcome == BLOCKED:
                continue
            target = saw if pa.verdict.outcome == THROUGH else maybe
            for uid, _ in pa.users:
                target.setdefault(uid, []).append(f"{dataset.name}: {pa.policy.name}")
            for gid in pa.policy.group_ids:
                if int(gid) not in directory.groups:
                    unknown_groups.add((int(gid), f"{dataset.name}: {pa.policy.name}"))
            for uid in pa.policy.user_ids:
                if int(uid) not in directory.users:
                    unknown_users.add((int(uid), f"{dataset.name}: {pa.policy.name}"))
            if pa.verdict.outcome == THROUGH:
                domo_groups.update(pa.groups)
        if dataset.pdp_enabled is False and dataset.policies:
            flags.append(Flag("pdp_disabled", f"{dataset.name}: PDP is disabled on the dataset, so Domo does not "
                                              "apply its policies (who it is shared with is not in the export)"))
    for gid, where in sorted(unknown_groups):
        flags.append(Flag("group_id_unknown", f"{where} names group {gid}, which the newest export's directory "
                                              "does not hold: its members are not known"))
    for uid, where in sorted(unknown_users):
        flags.append(Flag("user_id_unknown", f"{where} names user {uid}, which the newest export's directory "
                                             "does not hold"))

    backend = set(backend_users)
    lines: list[UserLine] = []
    for uid in sorted(backend | set(saw) | set(maybe)):
        name, email = directory.users.get(uid, ("", ""))
        if uid in saw:
            domo, via = "saw", saw[uid]
            flag = "" if uid in backend else DOMO_ONLY
        elif uid in maybe:
            domo, via = "undecided", maybe[uid]
            flag = UNDECIDED_USER
        else:
            domo, via, flag = "", [], BACKEND_ONLY
        lines.append(UserLine(user_id=uid, name=name or directory.user_name(uid), email=email,
                              in_backend=uid in backend, domo=domo, via=tuple(sorted(set(via))), flag=flag))
    lines.sort(key=lambda u: (u.name.casefold(), u.user_id))
    for line in lines:
        if line.flag == DOMO_ONLY:
            flags.append(Flag(DOMO_ONLY, f"Domo's PDP let {line.name} see the client's rows "
                                         f"({'; '.join(line.via)}), but they are outside the backend scope"))
        elif line.flag == BACKEND_ONLY:
            flags.append(Flag(BACKEND_ONLY, f"{line.name} is in the backend scope but no Domo policy let them see "
                                            "the client's rows"))
        elif line.flag == UNDECIDED_USER:
            flags.append(Flag(UNDECIDED_USER, f"{line.name}: only policies that cannot be evaluated might have let "
                                              f"them see the client's rows ({'; '.join(line.via)})"))
    flags.sort(key=lambda f: FLAG_ORDER.index(f.code) if f.code in FLAG_ORDER else len(FLAG_ORDER))
    return ClientScope(account=account, backend_groups=backend_groups, backend_users=backend_users,
                       datasets=tuple(accesses), users=tuple(lines), flags=tuple(flags),
                       domo_groups=tuple(sorted(domo_groups.items())))


def pdp_only_accounts(known: Iterable[Account], datasets: Sequence[Dataset]) -> list[Account]:
    """Clients Domo's PDP names (a plain EQUALS/IN filter on a client column) that no Salesforce account is:
    unscoped, nothing inferred."""
    names = {a.name.casefold() for a in known if a.name}
    ids = {a.account_id.casefold() for a in known if a.account_id}
    found: dict[tuple[str, str], list[str]] = {}
    for dataset in datasets:
        for policy in dataset.policies:
            for flt in policy.filters:
                column = flt.get("column")
                operator = str(flt.get("operator") or "EQUALS").upper()
                if column not in CLIENT_COLUMNS or flt.get("dynamic") or flt.get("negated") \
                        or operator not in ("EQUALS", "IN"):
                    continue
                for value in flt.get("values") or ():
                    value = str(value)
                    if not value or value.casefold() in (names if column == NAME_COLUMN else ids):
                        continue
                    found.setdefault((column, value), []).append(f"{dataset.name}: {policy.name}")
    accounts = []
    for (column, value), where in sorted(found.items()):
        accounts.append(Account(
            key=value, account_id=value if column == ID_COLUMN else "", name=value if column == NAME_COLUMN else "",
            unscoped_reason=f"Domo's PDP names {column} {value!r} ({'; '.join(sorted(set(where)))}) but no "
                            "Salesforce account has it: no backend scope",
        ))
    return accounts


def sort_key(scope: ClientScope) -> tuple:
    account = scope.account
    return ((account.name or account.key).casefold(), account.key)
