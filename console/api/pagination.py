"""Keyset pagination for the API: ordered by a unique key, never OFFSET.

A cursor that is not one of the list's (`?cursor=garbage`, a `next` link edited by hand) is a 400 naming its
parameter, {"cursor": ["Invalid cursor: ..."]}, on every cursor-paged list (`invalid_cursor`): never the first
page in its place, never a 404 (the list exists), never a 500 (a position that is not the key's type)."""
from __future__ import annotations

import base64
import binascii
from urllib import parse

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as FieldValidationError
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

INVALID_CURSOR = "Invalid cursor: not the cursor of a `next` or `previous` link of this list."


def invalid_cursor(parameter: str = "cursor") -> ValidationError:
    """The 400 of a cursor that is not one of the list's, naming its query parameter."""
    return ValidationError({parameter: [INVALID_CURSOR]})


def _readable(encoded: str) -> bool:
    """Whether `encoded` reads as DRF writes a cursor: strict base64 of a query string of its tokens (offset `o`,
    reverse `r`, position `p`) and nothing else. DRF's own reading skips characters outside base64 and unknown
    tokens, which made "%%%" or base64("x=1") the first page."""
    try:
        text = base64.b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
        tokens = parse.parse_qs(text, keep_blank_values=True, strict_parsing=True)
    except (ValueError, binascii.Error):
        return False
    return bool(tokens) and set(tokens) <= {"o", "r", "p"}


class KeysetPagination(CursorPagination):
    """DRF's cursor pagination is keyset pagination: WHERE key < cursor ORDER BY key LIMIT n."""

    ordering = "-pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    _model = None

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded and not _readable(encoded):
            raise invalid_cursor(self.cursor_query_param)
        try:
            cursor = super().decode_cursor(request)
        except NotFound as unreadable:
            raise invalid_cursor(self.cursor_query_param) from unreadable
        if cursor is not None and cursor.position is not None and not self._is_key(cursor.position):
            raise invalid_cursor(self.cursor_query_param)
        return cursor

    def _is_key(self, position: str) -> bool:
        """Whether the cursor's position is a value of the ordering key's field (an integer key: a whole number
        the database can hold), so filtering on it cannot fail."""
        name = self.ordering[0].lstrip("-")  # paginate_queryset set the ordering before decoding
        try:
            field = self._model._meta.pk if name == "pk" else self._model._meta.get_field(name)
        except (AttributeError, FieldDoesNotExist):
            return True  # not a model field: the database compares it
        try:
            field.run_validators(field.to_python(position))
        except FieldValidationError:
            return False
        return True
