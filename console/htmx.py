"""The one place that decides between a whole page and an htmx fragment of it."""

from __future__ import annotations

from django.shortcuts import render


def wants_fragment(request) -> bool:
    """True for htmx requests that swap part of a page (not boosted navigation, which wants the page)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted


def render_page(request, template: str, partial: str, context: dict, *, status: int = 200):
    """The whole page, or only its fragment when htmx asks for it."""
    return render(request, partial if wants_fragment(request) else template, context, status=status)
