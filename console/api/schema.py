"""The OpenAPI schema of the whole API (/api/schema/): every operation also documents the refusals any
endpoint can give, so a client (and the schemathesis fuzz in tests/console/test_api_fuzz.py) finds each
answer it can get in the schema, each with its message.

- 401: not signed in (no session, or no token);
- 403: signed in without the capability, or a session call without its CSRF token;
- 404: no object with that id; on a list paged by number, a page that is not one of the list's;
- 400 on a filtered or cursor-paged list: a filter value or a cursor that is not valid, the parameter named
  with its error;
- 415 on an operation that takes a body: a body in a media type it does not read.

An operation's own documented answers (a 403 or 409 of the promotion services) are kept as they are.
"""
from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.pagination import PageNumberPagination

from console.api.serializers import ErrorSerializer

NOT_SIGNED_IN = OpenApiResponse(ErrorSerializer, description="not signed in: no session (with its CSRF token) or token")
NOT_ALLOWED = OpenApiResponse(
    ErrorSerializer, description="signed in without the capability this needs, or a session call without its CSRF token"
)
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="no such object, or a list page that is not one")
BAD_QUERY = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="a filter value or a cursor that is not valid: {parameter name: [what is wrong]}",
)
UNSUPPORTED = OpenApiResponse(ErrorSerializer, description="a body in a media type this operation does not read")


class ConsoleAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the refusals common to every operation added where not documented."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        common = {"401": NOT_SIGNED_IN, "403": NOT_ALLOWED}
        if self._has_path_parameters() or (self._pages() and not self._cursor_list()):
            common["404"] = NOT_FOUND
        if self.method == "GET" and (self._filters() or self._cursor_list()):
            common["400"] = BAD_QUERY
        if self.method in ("POST", "PUT", "PATCH"):
            common["415"] = UNSUPPORTED
        for code, response in common.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return responses

    def _has_path_parameters(self) -> bool:
        return "{" in self.path

    def _pages(self) -> bool:
        return self.method == "GET" and getattr(self.view, "pagination_class", None) is not None

    def _cursor_list(self) -> bool:
        """A list paged by cursor (console.api.pagination): a bad cursor is a 400. Paged by number (`?page=`), a
        page past the last is DRF's 404."""
        return (self._pages() and self._is_list_view()
                and not issubclass(self.view.pagination_class, PageNumberPagination))

    def _filters(self) -> bool:
        return getattr(self.view, "filterset_class", None) is not None
