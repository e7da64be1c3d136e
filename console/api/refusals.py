"""The API's exception handler: DRF's answers, and a refusal for want of a capability audited (console.access).

Its own module: DRF imports the permission classes while rest_framework.views is being imported, so they cannot
import it back."""
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from console.access import record_refused


def exception_handler(exc, context):
    """DRF's answer, and a refusal for want of a capability (a permission class's, without a reason of its own)
    recorded as `access.refused` (console.access): the route, the capability it needs, the person's roles."""
    response = drf_exception_handler(exc, context)
    request, view = context.get("request"), context.get("view")
    bare = str(getattr(exc, "detail", exc.args[0] if exc.args else "") or "") in (
        "", str(exceptions.PermissionDenied.default_detail))
    if response is not None and response.status_code == 403 and bare and request is not None and isinstance(
            exc, exceptions.PermissionDenied | DjangoPermissionDenied):
        needed = [getattr(view, "required_capability", None)] + [
            getattr(permission, "codename", None) for permission in (view.get_permissions() if view else ())]
        record_refused(request, needed=[label for label in needed if label], via="api")
    return response
