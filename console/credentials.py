"""API tokens (`rest_framework.authtoken`) are credentials: each one issued or revoked, by any path (Django admin,
`manage.py drf_create_token [-r]`, the shell, a user's deletion), is an event of the audit trail:
`auth.token_created` and `auth.token_deleted`, with whose token it is and a fingerprint that tells tokens apart
(the first 12 hex digits of the key's sha256), never the key. The actor is the signed-in person on the web, else
the command or task the work context names. Consumer tokens (deliverables.consumers) have their own audited
service."""
from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from rest_framework.authtoken.models import Token, TokenProxy

from console.audit import audit_record
from console.models import ApiToken, token_fingerprint
from console.people_guard import web_actor

TOKEN_TYPE = "authtoken.token"


fingerprint = token_fingerprint


def _owner(token: Token) -> str:
    try:
        return token.user.get_username()
    except Token.user.RelatedObjectDoesNotExist:  # its user's deletion took it first
        return f"user #{token.user_id}"


def _row(token: Token) -> dict:
    return {"user": _owner(token), "fingerprint": fingerprint(token.key)}


def token_saved(sender, instance: Token, created: bool, raw: bool = False, **kwargs) -> None:
    if created:
        audit_record(actor=web_actor(), action="auth.token_created", object_type=TOKEN_TYPE,
                     object_id=_owner(instance), before=None,
                     after={**_row(instance), **({"loaded": True} if raw else {})})


def token_deleted(sender, instance: Token, **kwargs) -> None:
    audit_record(actor=web_actor(), action="auth.token_deleted", object_type=TOKEN_TYPE,
                 object_id=_owner(instance), before=_row(instance), after=None)


def connect() -> None:
    for model in (Token, TokenProxy, ApiToken):  # Django admin edits tokens through a proxy (signals name their sender)
        post_save.connect(token_saved, sender=model, dispatch_uid=f"console.credentials.saved.{model.__name__}")
        post_delete.connect(token_deleted, sender=model, dispatch_uid=f"console.credentials.deleted.{model.__name__}")
