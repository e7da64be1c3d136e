"""{% audit_link object_type object_id %}: from an object's page to its events on the audit trail, pre-filtered.

Shown only to those who may read the trail (console.view_audit). `{% audit_link_actor username %}` links to
what a person did (the actor filter is a prefix: "ada" also finds "adam").
"""

from urllib.parse import urlencode

from django import template
from django.urls import reverse

register = template.Library()


def _link(context, query: dict[str, str], label: str) -> dict:
    user = getattr(context.get("request"), "user", None)
    return {
        "allowed": bool(user and user.has_perm("console.view_audit")),
        "url": f"{reverse('audit-trail')}?{urlencode(query)}",
        "label": label,
    }


@register.inclusion_tag("includes/audit_link.html", takes_context=True)
def audit_link(context, object_type: str, object_id, label: str = "Audit events"):
    return _link(context, {"object_type": object_type, "object_id": str(object_id)}, label)


@register.inclusion_tag("includes/audit_link.html", takes_context=True)
def audit_link_actor(context, username: str, label: str = "Their actions"):
    return _link(context, {"actor": username}, label)
