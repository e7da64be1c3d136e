"""Internal codes and recorded details said in words, for the pages people read. No Django here.

A page keeps the code itself beside the words (a title attribute, a muted mono span) where an auditor
needs to match it with the audit trail or the API.
"""

from __future__ import annotations

from typing import Any

# Codes whose words are not just the code with its separators as spaces.
_NAMED = {
    # a person's account and roles (the audit actions of console.people and console.people_guard)
    "groups": "roles",
    "is_active": "active",
    "is_staff": "staff",
    "is_superuser": "superuser",
    "user.created": "account created",
    "user.changed": "account changed",
    "user.deleted": "account deleted",
    "user.password_changed": "password changed",
    "user.groups_changed": "roles changed",
    "user.permissions_changed": "permissions changed",
    "role.grant_proposed": "role proposed",
    "role.grant_confirmed": "role confirmed",
    "role.grant_cancelled": "role proposal cancelled",
    "role.refused": "change refused",
    "loaded": "loaded from a fixture",
}


def words(code: Any) -> str:
    """A code in words: 'pricing_finding' → 'pricing finding', 'packet.accepted' → 'packet accepted'."""
    text = "" if code is None else str(code)
    return _NAMED.get(text) or text.replace("_", " ").replace(".", " ").strip()


def plain(value: Any) -> str:
    """A recorded detail in words, not Python: a mapping as `key: value` pairs by key (a JSON column keeps no
    order) and `;` between them (a flag that is true as its name, a false one as `not` its name), a list
    comma-joined or `none` when empty."""
    if isinstance(value, dict):
        return "; ".join(filter(None, (_pair(key, value[key]) for key in sorted(value, key=str))))
    if isinstance(value, list | tuple):
        return ", ".join(plain(item) for item in value) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


# Flags worth a word only when they are set.
_SILENT_WHEN_FALSE = frozenset({"loaded"})
# Hashes shown by their first 12 characters, as the pages show them (the audit trail's export keeps them whole).
_SHORTENED = frozenset({"change_hash"})


def _pair(key: Any, value: Any) -> str:
    name = words(key)
    if isinstance(value, bool):
        return name if value else ("" if key in _SILENT_WHEN_FALSE else f"not {name}")
    if key in _SHORTENED and isinstance(value, str) and len(value) > 12:
        return f"{name}: {value[:12]}…"
    return f"{name}: {'none' if value is None else plain(value)}"


def errors_line(errors: Any, fields: Any = None) -> str:
    """A form's, filterset's or serializer's errors on one line, for a message or an audit record: what is
    wrong with the whole first, as it is said, then each field by its label (`fields`: the form's fields, where
    a field has one) or its name, with its messages: 'Reason: This field is required.; file: No file was sent.'"""
    whole, named = [], []
    for name, messages in errors.items():
        said = " ".join(map(str, messages)) if isinstance(messages, list | tuple) else str(messages)
        if name in ("__all__", "non_field_errors"):
            whole.append(said)
            continue
        field = fields.get(name) if fields is not None else None
        named.append(f"{getattr(field, 'label', None) or name}: {said}")
    return "; ".join(whole + named)
