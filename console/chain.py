"""The audit chain's arithmetic: canonical JSON and the link hash. No Django here.

hash(n) = sha256(hash(n-1) + canonical_json(event n)); the first event links to GENESIS_HASH.
Canonical JSON is `json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`.

Values are made JSON-safe *before* they are stored and hashed (`json_safe`), and in a form that
comes back identical from every database's JSON column, so the verifier recomputes the same hash
from what it reads: PostgreSQL's jsonb, for instance, returns the float 1e20 as the integer
100000000000000000000 and has no negative zero and no NUL character in strings.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import json
import math
import uuid
from collections.abc import Mapping
from typing import Any

GENESIS_HASH = "0" * 64

# The fields of an event that are hashed, in the order the CSV export shows them.
HASHED_FIELDS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "correlation_id",
)
# Hashed only when present: the clock's own reading, kept when it was behind the previous event and
# occurred_at was held at that event's time (see console.audit.audit_record). Events without it hash
# exactly as before the field existed.
OPTIONAL_HASHED_FIELDS = ("clock_reading",)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def clean_text(value: str) -> str:
    """Text every backend stores unchanged: no NUL, no lone surrogates."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def isoformat_utc(value: dt.datetime) -> str:
    """ISO 8601 in UTC with microseconds, e.g. 2026-11-26T14:13:00.000000+00:00."""
    if value.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def json_safe(value: Any) -> Any:
    """Turn a before/after value into plain JSON that round-trips through any JSON column."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, int) and not isinstance(value, enum.Enum):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)  # "nan", "inf": JSON has no such numbers
        if value == 0:
            return 0.0  # drops the sign of -0.0, which jsonb does not keep
        if value.is_integer() and "e" in repr(value):
            return int(value)  # 1e+20 comes back from jsonb as the integer 100000000000000000000
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return isoformat_utc(value) if value.tzinfo else value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if isinstance(value, Mapping):
        return {clean_text(str(key)): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((json_safe(item) for item in value), key=canonical_json)
    raise TypeError(f"cannot record a {type(value).__name__} in the audit trail; convert it first")


def event_payload(
    *,
    seq: int,
    occurred_at: dt.datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    before: Any,
    after: Any,
    correlation_id: str,
    clock_reading: dt.datetime | None = None,
) -> dict[str, Any]:
    """The hashed content of one event (every field but the two hashes; clock_reading only when set)."""
    payload = {
        "seq": seq,
        "occurred_at": isoformat_utc(occurred_at),
        "actor_id": actor_id,
        "actor_label": actor_label,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "before": before,
        "after": after,
        "correlation_id": correlation_id,
    }
    if clock_reading is not None:
        payload["clock_reading"] = isoformat_utc(clock_reading)
    return payload


def link_hash(prev_hash: str, payload: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(payload)).encode("utf-8")).hexdigest()
