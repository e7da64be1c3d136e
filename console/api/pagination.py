"""Keyset pagination for the API: ordered by a unique key, never OFFSET."""
from rest_framework.pagination import CursorPagination


class KeysetPagination(CursorPagination):
    """DRF's cursor pagination is keyset pagination: WHERE key < cursor ORDER BY key LIMIT n."""

    ordering = "-pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
