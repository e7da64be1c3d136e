"""The console's error pages (403, 404, 500) in its own layout, and what a 403 tells the person refused.

A 403 names the capability the page needs, the roles that hold it and who grants roles (the admins), so
that the person knows whom to ask. Django's `permission_required` raises PermissionDenied without saying
which permission failed; the permission it checks lives in the decorator's closure, so `needed_permissions`
reads it from there (the view the URL resolved to, through its `__wrapped__` chain). A refusal that says
its own reason (a service's, raised as PermissionDenied(reason)) shows that reason too.

None of these pages shows a traceback or an exception's internals: the 500 page renders from the template
alone, and falls back to plain text should the template itself fail. Under /api/ the 500 is JSON: a generic
detail and the request id. A background job that meets an unexpected error records `fault_message` on its
run (what an operator and the API see) and logs the detail under the same reference (`log_fault`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.http import HttpResponseForbidden, HttpResponseServerError, JsonResponse
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

from console import context, roles
from console.access import record_refused
from console.models import Capability

# Labels of every permission a role holds: what a closure cell must match to count as "what the view needs".
_KNOWN = frozenset(label for labels in roles.ROLE_PERMISSIONS.values() for label in labels)
_CAPABILITY_NAMES = {f"console.{codename}": name for codename, name in Capability._meta.permissions}
_DEPTH = 6  # decorators stack a few deep (login_required, permission_required, require_GET, a guard)
API_PREFIX = "/api/"

log = logging.getLogger(__name__)


def fault_message(reference: str) -> str:
    """What a run that met an unexpected error says: no exception text (it may hold SQL, paths or secrets)."""
    return (f"An unexpected error stopped this job (reference {reference}); "
            "an admin finds the detail in the console's log under that reference.")


def log_fault(what: str, exc: BaseException) -> str:
    """Log an unexpected error of a job with its traceback, under the work's correlation id; returns that id."""
    work = context.current()
    reference = work.correlation_id if work else context.new_id()
    log.error("%s failed (reference %s): %s: %s", what, reference, type(exc).__name__, exc, exc_info=exc)
    return reference


@dataclass(frozen=True)
class Needed:
    """A permission a page needs, what it is called, and the roles holding it (with what each does)."""

    label: str
    name: str
    roles: tuple[tuple[str, str], ...]


def _labels_in(value) -> set[str]:
    if isinstance(value, str):
        return {value} if value in _KNOWN else set()
    if isinstance(value, (tuple, list, set, frozenset)) and all(isinstance(v, str) for v in value):
        return {v for v in value if v in _KNOWN}
    return set()


def needed_permissions(view, depth: int = _DEPTH) -> set[str]:
    """The known permission labels a view's decorators check (empty when none can be read)."""
    found: set[str] = set()
    if view is None or depth == 0:
        return found
    for cell in getattr(view, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        found |= _labels_in(value)
        if callable(value):
            found |= needed_permissions(value, depth - 1)
    wrapped = getattr(view, "__wrapped__", None)
    if wrapped is not None:
        found |= needed_permissions(wrapped, depth - 1)
    return found


def _name(label: str) -> str:
    """A capability's name (console.Capability's Meta), else Django's name of the permission ("Can view user")."""
    if label in _CAPABILITY_NAMES:
        return _CAPABILITY_NAMES[label]
    app_label, _, codename = label.partition(".")
    found = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
    return found.name if found else label


def describe(labels: set[str]) -> list[Needed]:
    """Each needed permission by name, with the roles that hold it."""
    return [
        Needed(
            label=label,
            name=_name(label),
            roles=tuple(
                (role, roles.ROLE_DESCRIPTIONS[role])
                for role, held in roles.ROLE_PERMISSIONS.items() if label in held
            ),
        )
        for label in sorted(labels)
    ]


def _admins() -> list[str]:
    return list(
        get_user_model().objects.filter(groups__name=roles.ADMIN, is_active=True)
        .order_by("username").values_list("username", flat=True).distinct()
    )


def _reason(exception) -> str:
    """A refusal's own words (a service's reason); Django's bare PermissionDenied says nothing."""
    text = str(exception or "").strip()
    return text if exception is not None and text and text != exception.__class__.__name__ else ""


@requires_csrf_token
def permission_denied(request, exception=None, template_name="403.html"):
    resolver_match = getattr(request, "resolver_match", None)
    user = getattr(request, "user", None)
    # Only what the person lacks: a service's refusal on a page they may read names its own reason.
    lacking = {label for label in needed_permissions(resolver_match.func if resolver_match else None)
               if user is None or not user.has_perm(label)}
    needed = describe(lacking)
    if not _reason(exception):  # a decorator's refusal; a service's (with its reason) is audited by the service
        record_refused(request, needed=lacking, via="page")
    held = list(user.groups.order_by("name").values_list("name", flat=True)) if user and user.is_authenticated else []
    context = {
        "reason": _reason(exception),
        "needed": needed,
        "held_roles": held,
        "admins": _admins(),
        "decision_roles": roles.DECISION_ROLES,
    }
    try:
        body = loader.render_to_string(template_name, context, request=request)
    except Exception:  # noqa: BLE001 (a broken page must still answer 403, without the error's details)
        return HttpResponseForbidden("403 Forbidden: you do not hold the capability this page needs.",
                                     content_type="text/plain")
    return HttpResponseForbidden(body)


@requires_csrf_token
def server_error(request, template_name="500.html"):
    """The 500 page in the console's layout (JSON under /api/), with the request id to quote; never the error
    itself (Django's django.request logger has logged it, with the request id: console.logs)."""
    request_id = getattr(request, "request_id", "")
    if request.path.startswith(API_PREFIX):
        return JsonResponse({
            "detail": f"The console failed to answer this request. Quote request {request_id} to an admin: the "
                      "console's log has the detail under that id.",
            "request_id": request_id,
        }, status=500)
    try:
        body = loader.render_to_string(template_name, {}, request=request)
    except Exception:  # noqa: BLE001 (whatever broke the page may break its template too)
        return HttpResponseServerError(
            f"500: the console failed to answer this request (request {request_id}).",
            content_type="text/plain",
        )
    return HttpResponseServerError(body)
