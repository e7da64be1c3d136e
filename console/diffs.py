"""What an audit event changed: its before and after compared key by key. No Django here."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True)
class KeyChange:
    key: str  # dotted path into nested objects: "gates.reconciled"
    kind: ChangeKind
    before: Any = None
    after: Any = None


def details_diff(before: Any, after: Any) -> list[KeyChange]:
    """The keys that differ between before and after, sorted by key; nested objects compared key by key.

    A missing side (None: an event that creates or deletes) reads as an empty object, so every key of
    the other side is added or removed. Values that are not objects (lists, numbers, text) are compared
    whole; before and after that are not both objects are one change of the key "" (the whole value).
    """
    before_map = {} if before is None else before
    after_map = {} if after is None else after
    if not isinstance(before_map, dict) or not isinstance(after_map, dict):
        return [] if before == after else [KeyChange("", ChangeKind.CHANGED, before, after)]
    return sorted(_diff(before_map, after_map, ""), key=lambda change: change.key)


def _diff(before: dict, after: dict, prefix: str) -> list[KeyChange]:
    changes = []
    for key in before.keys() | after.keys():
        path = f"{prefix}{key}"
        if key not in after:
            changes.append(KeyChange(path, ChangeKind.REMOVED, before=before[key]))
        elif key not in before:
            changes.append(KeyChange(path, ChangeKind.ADDED, after=after[key]))
        elif isinstance(before[key], dict) and isinstance(after[key], dict):
            changes.extend(_diff(before[key], after[key], f"{path}."))
        elif before[key] != after[key] or type(before[key]) is not type(after[key]):
            changes.append(KeyChange(path, ChangeKind.CHANGED, before[key], after[key]))
    return changes
