"""Template helpers of the deliverables pages: money as every page shows it, a figure by its type, a step's time
stamp (stored as ISO text) as a time, and a number's title in words."""

from __future__ import annotations

import datetime as dt
from decimal import InvalidOperation

from django import template

from deliverables.runs import selectors
from deliverables.workbooks.sheets import GUARANTEE_FIGURES

register = template.Library()

# figure -> its type (money, rate, count or text), per kind of number: the workbooks' table of figures.
_FIGURE_TYPES = {kind: {name: kind_of for name, _, kind_of in figures} for kind, figures in GUARANTEE_FIGURES.items()}


@register.filter
def money(value) -> str:
    """`{{ amount|money }}`: thousands separators and cents, exact (selectors.money)."""
    return selectors.money(value)


@register.simple_tag
def figure(kind: str, name: str, value) -> str:
    """`{% figure number_kind name value %}`: a money figure as money, any other (a count, a rate, a date, a
    text) as stored; '' for none."""
    if value is None or value == "":
        return ""
    if _FIGURE_TYPES.get(kind, {}).get(name) != "money":
        return str(value)
    try:
        return selectors.money(value)
    except InvalidOperation:  # not a number after all: shown as stored rather than failing the page
        return str(value)


@register.filter
def as_datetime(value) -> dt.datetime | None:
    """An ISO 8601 time stamp stored as text (a step's `at`) as a datetime, for includes/utc_time.html; a datetime
    as it is; None for anything else (shown as a dash)."""
    if isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


@register.filter
def number_title(number, with_decision: bool = False) -> str:
    """`{{ number|number_title }}`: a number's title in words (selectors.number_title), from a RunNumber or the
    provenance detail dict; `number_title:True` on a page that shows no decision badge beside it."""
    read = number.get if isinstance(number, dict) else lambda name: getattr(number, name, "")
    return selectors.number_title(read("kind"), read("key"), read("label"), read("decision") if with_decision else "")
