"""Template helpers of the evidence pages: status badges, byte sizes, and flaws marked in formulas."""

from django import template

from evidence.calculations.reports import Segment, flaw_title, mark_spans
from evidence.formulas.translate import TARGETS
from evidence.intake.uploads import size_text

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
    # evidence classes (evidence-packets-v1), and a refused packet receipt
    "governed": "badge-ok",
    "candidate": "badge-warn",
    "missing": "badge-bad",
    "refused": "badge-bad",
}


@register.filter
def badge(status: str) -> str:
    """The badge class of a status, verdict or severity ('badge' alone for anything else)."""
    return f"badge {_BADGES.get(str(status), '')}".strip()


@register.filter
def bytes_text(size) -> str:
    return "" if size is None else size_text(int(size))


@register.filter
def formula_segments(analysis) -> list[Segment]:
    """The analysis's text cut where its flaws begin and end (its flaws prefetched), for
    `{% if segment.marked %}<mark>{{ segment.text }}</mark>...`: every slice escaped on its own."""
    return mark_spans(analysis.formula, analysis.flaws.all())


@register.filter(name="flaw_title")
def flaw_title_filter(code: str) -> str:
    return flaw_title(code)


@register.filter
def translations_in_order(analysis) -> list[tuple[str, dict]]:
    """(target, translation) in the engine's order of targets (a JSON column does not keep key order)."""
    return [
        (target, analysis.translations[target]) for target in TARGETS if target in analysis.translations
    ]

