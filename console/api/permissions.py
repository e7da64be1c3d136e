"""API permission defaults: authenticated, and never AllowAny (a refusal is audited: console.api.refusals)."""
from rest_framework.permissions import BasePermission, IsAuthenticated


class IsAuthenticatedWithCapability(IsAuthenticated):
    """Authenticated users only; views narrow it further with `required_capability`."""

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        capability = getattr(view, "required_capability", None)
        return capability is None or request.user.has_perm(capability)


def capability(codename: str) -> type[BasePermission]:
    """A permission class requiring one console capability, e.g. capability("console.view_audit")."""

    class HasCapability(IsAuthenticated):
        def has_permission(self, request, view):
            return super().has_permission(request, view) and request.user.has_perm(codename)

    HasCapability.codename = codename  # what an `access.refused` event names
    HasCapability.__name__ = f"Has_{codename.replace('.', '_')}"
    return HasCapability

