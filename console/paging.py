"""Keyset pages for the console's list pages: WHERE key < cursor ORDER BY key LIMIT n, never OFFSET.

The API pages with DRF's cursor pagination (console.api.pagination); pages rendered by Django views
use `keyset_page` and carry their cursors as plain query parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import QueryDict


@dataclass(frozen=True)
class KeysetPage:
    items: list[Any]
    next: int | None  # cursor of the following page (items after the last one shown), None on the last page
    prev: (
        int | None
    )  # cursor of the preceding page (items before the first one shown), None on the first page


def keyset_page(
    queryset,
    *,
    key: str,
    size: int,
    after: int | None = None,
    before: int | None = None,
    descending: bool = True,
) -> KeysetPage:
    """One page of queryset ordered by the unique integer `key` (descending by default): one query.

    `after` shows the items that follow that key in list order; `before` the ones that precede it.
    """
    forward = "-" if descending else ""
    backward = "" if descending else "-"
    past, short_of = ("lt", "gt") if descending else ("gt", "lt")

    def key_of(item) -> int:
        return getattr(item, key)

    if before is not None:
        rows = list(
            queryset.filter(**{f"{key}__{short_of}": before}).order_by(f"{backward}{key}")[: size + 1]
        )
        items = rows[:size][::-1]
        return KeysetPage(
            items=items,
            next=key_of(items[-1]) if items else None,
            prev=key_of(items[0]) if len(rows) > size else None,
        )
    if after is not None:
        queryset = queryset.filter(**{f"{key}__{past}": after})
    rows = list(queryset.order_by(f"{forward}{key}")[: size + 1])
    items = rows[:size]
    return KeysetPage(
        items=items,
        next=key_of(items[-1]) if len(rows) > size else None,
        prev=key_of(items[0]) if after is not None and items else None,
    )


def cursor_param(query: QueryDict, name: str) -> int | None:
    """A cursor from the query string: a non-negative integer, anything else is ignored."""
    value = query.get(name, "")
    return int(value) if value.isascii() and value.isdigit() else None


def page_urls(query: QueryDict, page: KeysetPage | None, *, after: str = "after", before: str = "before"):
    """(next_url, prev_url): the current query string with its cursor replaced, or None at either end."""
    filters = query.copy()
    for name in (after, before):
        filters.pop(name, None)

    def url_with(name: str, value: int) -> str:
        params = filters.copy()
        params[name] = str(value)
        return f"?{params.urlencode()}"

    if page is None:
        return None, None
    return (
        url_with(after, page.next) if page.next is not None else None,
        url_with(before, page.prev) if page.prev is not None else None,
    )
