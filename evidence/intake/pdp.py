"""PDP policies in plain words: who sees which rows of a dataset.

Plain module, no Django. Domo's rules (leafiq-export-v1.md): a policy's filters are AND-ed, the
policies of a dataset are OR-ed, `not` negates one filter, the open "All Rows" policy sees every
row, and a viewer in no policy sees none. Users and groups are named from the export's directory;
an id the directory does not hold is shown as such rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# operator → (one value, negated one value, several values, negated several values)
_PHRASES: dict[str, tuple[str, str, str, str]] = {
    "EQUALS": ("equals {v}", "does not equal {v}", "equals one of {v}", "equals none of {v}"),
    "LIKE": ("is like {v}", "is not like {v}", "is like one of {v}", "is like none of {v}"),
    "GREATER_THAN": (
        "is greater than {v}",
        "is not greater than {v}",
        "is greater than one of {v}",
        "is greater than none of {v}",
    ),
    "LESS_THAN": (
        "is less than {v}",
        "is not less than {v}",
        "is less than one of {v}",
        "is less than none of {v}",
    ),
    "GREATER_THAN_EQUAL": (
        "is at least {v}",
        "is less than {v}",
        "is at least one of {v}",
        "is at least none of {v}",
    ),
    "LESS_THAN_EQUAL": (
        "is at most {v}",
        "is greater than {v}",
        "is at most one of {v}",
        "is at most none of {v}",
    ),
    "BEGINS_WITH": (
        "begins with {v}",
        "does not begin with {v}",
        "begins with one of {v}",
        "begins with none of {v}",
    ),
    "ENDS_WITH": ("ends with {v}", "does not end with {v}", "ends with one of {v}", "ends with none of {v}"),
    "CONTAINS": ("contains {v}", "does not contain {v}", "contains one of {v}", "contains none of {v}"),
    # card filters also use the chart operators
    "IN": ("is {v}", "is not {v}", "is one of {v}", "is none of {v}"),
    "NOT_IN": ("is not {v}", "is {v}", "is none of {v}", "is one of {v}"),
    "NOT_EQUALS": ("does not equal {v}", "equals {v}", "equals none of {v}", "equals one of {v}"),
}


@dataclass(frozen=True)
class Directory:
    """Names of the users and groups of one export: {id: name}."""

    users: Mapping[int, str]
    groups: Mapping[int, str]

    def user(self, user_id: int) -> str:
        name = self.users.get(user_id)
        return f"user {name}" if name else f"user {user_id} (not in the export's directory)"

    def group(self, group_id: int) -> str:
        name = self.groups.get(group_id)
        return f"group {name}" if name else f"group {group_id} (not in the export's directory)"


def _values(values: Sequence) -> str:
    shown = [str(v) if str(v) != "" else "(empty)" for v in values]
    return ", ".join(shown) if shown else "(no value)"


def describe_filter(flt: Mapping) -> str:
    """One filter: 'Client Account equals ACME Manufacturing'."""
    return f"{flt.get('column') or '(no column)'} {describe_condition(flt)}"


def describe_condition(flt: Mapping) -> str:
    """What a filter asks of its column: 'equals ACME Manufacturing'."""
    operator = str(flt.get("operator") or "EQUALS").upper()
    values = list(flt.get("values") or [])
    negated = bool(flt.get("negated"))
    if flt.get("dynamic"):
        # A DYNAMIC parameter takes its value from the viewer's own attribute.
        value_text = "the viewer's own " + _values(values)
        many = False
    else:
        value_text = _values(values)
        many = len(values) > 1
    if operator == "BETWEEN" and len(values) == 2 and not flt.get("dynamic"):
        text = f"{'is not' if negated else 'is'} between {values[0]} and {values[1]}"
    elif operator in _PHRASES:
        one, not_one, several, not_several = _PHRASES[operator]
        template = (not_several if negated else several) if many else (not_one if negated else one)
        text = template.format(v=value_text)
    else:  # an operator the format does not name: say it as it came
        text = f"{'not ' if negated else ''}{operator} {value_text}"
    if flt.get("ignore_case") is False:
        text += " (case-sensitive)"
    return text


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def describe_policy(policy: Mapping, directory: Directory) -> str:
    """One policy as a sentence.

    'Group ACME viewers sees rows where Client Account equals ACME Manufacturing'
    """
    subjects = [directory.group(g) for g in policy.get("group_ids") or ()]
    subjects += [directory.user(u) for u in policy.get("user_ids") or ()]
    filters = list(policy.get("filters") or ())
    is_open = str(policy.get("type") or "").lower() == "open"
    if is_open or not filters:
        rows = "all rows"
        why = " (the open All Rows policy)" if is_open else " (the policy has no filter)"
    else:
        rows = "rows where " + " and ".join(describe_filter(f) for f in filters)
        why = ""
    if not subjects:
        return f"No user or group is named, so nobody sees rows through this policy (it covers {rows})."
    verb = "sees" if len(subjects) == 1 else "see"
    sentence = f"{_join(subjects)} {verb} {rows}{why}"
    return sentence[0].upper() + sentence[1:]


def directory_from(entries: Iterable[tuple[str, int, str]]) -> Directory:
    """Build a Directory from (kind, id, name) triples."""
    users: dict[int, str] = {}
    groups: dict[int, str] = {}
    for kind, entry_id, name in entries:
        (users if kind == "user" else groups)[int(entry_id)] = name
    return Directory(users=users, groups=groups)
