"""Refused access in the audit trail: a signed-in person (or a person's API token) turned away from a page or an
API route for want of a capability is an `access.refused` event: the route, the method, the capabilities the
route needs and the roles the person holds.

Only refusals without a reason of their own are recorded here: a decorator's or a permission class's. A refusal
that says its reason comes from a service (four eyes, a role rule, a state), which audits it under its own
action; recording it here too would count it twice. Nobody signed in is not recorded (a login is asked for).
"""
from __future__ import annotations

from console.audit import audit_record
from console.people_guard import groups_of

ACTION = "access.refused"
ROUTE = "route"


def record_refused(request, *, needed, via: str) -> None:
    """Audit that `request`'s user was refused its route (`via`: page or api); `needed`: permission labels."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return
    audit_record(actor=user, action=ACTION, object_type=ROUTE, object_id=request.path[:255], before=None,
                 after={"method": request.method, "via": via, "needed": sorted(needed), "roles": groups_of(user)})
