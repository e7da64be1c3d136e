"""Template helpers of the promotion pages."""

from django import template

from promotion import policy
from promotion.tables import badge_class, hex_checksum, short_checksum

register = template.Library()


@register.filter
def state_badge(value) -> str:
    return badge_class(value)


@register.filter
def short_sum(value) -> str:
    return short_checksum(value)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def may_promote(user, action: str) -> bool:
    """`{% if user|may_promote:"request" %}`: promotion.policy's answer, for a template that offers an action."""
    return policy.allowed(user, action)


@register.filter
def hex_sum(value) -> str:
    return hex_checksum(value)
