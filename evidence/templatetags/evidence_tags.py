"""Template helpers of the evidence pages: status badges and byte sizes."""

from django import template

from evidence.uploads import size_text

register = template.Library()

_BADGES = {
    # intake runs
    "queued": "badge-muted",
    "running": "badge-info",
    "succeeded": "badge-ok",
    "failed": "badge-bad",
    # the console's verdict on a manifest, and the exporter's claim
    "complete": "badge-ok",
    "partial": "badge-warn",
    "invalid": "badge-bad",
    # issue severities
    "error": "badge-bad",
    "warning": "badge-warn",
    "info": "badge-muted",
}


@register.filter
def badge(status: str) -> str:
    """The badge class of a status, verdict or severity ('badge' alone for anything else)."""
    return f"badge {_BADGES.get(str(status), '')}".strip()


@register.filter
def bytes_text(size) -> str:
    return "" if size is None else size_text(int(size))
