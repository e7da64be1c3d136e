"""How long a person's comment, reason or note may be: one limit for the forms, the serializers and the services
that keep such text with a decision (the audit trail keeps it too, so a flood of text is refused, not stored)."""
from __future__ import annotations

COMMENT_MAX_CHARS = 10_000


def too_long(text: str, what: str) -> str:
    """Why `text` is refused as too long ('' when it is not): names the field and both lengths, never the text."""
    if len(text) <= COMMENT_MAX_CHARS:
        return ""
    return f"{what}: at most {COMMENT_MAX_CHARS:,} characters (it has {len(text):,})"


def as_attempted(text: str) -> str:
    """A refused attempt's text as its audit event keeps it: cut at the limit, saying how long it was."""
    if len(text) <= COMMENT_MAX_CHARS:
        return text
    return f"{text[:COMMENT_MAX_CHARS]}… [{len(text):,} characters, cut at {COMMENT_MAX_CHARS:,}]"
