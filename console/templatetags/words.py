"""`{% load words %}`: codes and recorded details in words (console.words), for any page."""

from django import template

from console import words as _words

register = template.Library()


@register.filter
def words(code) -> str:
    """`{{ gate.name|words }}`: 'manifest_complete' → 'manifest complete' (keep the code in a title)."""
    return _words.words(code)


@register.filter
def plain(value) -> str:
    """`{{ event.after|plain }}`: {'groups': ['approver']} → 'roles: approver'."""
    return _words.plain(value)
