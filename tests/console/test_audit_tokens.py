"""API tokens are credentials: issuing and revoking one is audited by any path, never with its key."""
from __future__ import annotations

import io

from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.authtoken.models import Token, TokenProxy

from console import context
from console.credentials import fingerprint
from console.models import AuditEvent


def _events():
    return list(AuditEvent.objects.filter(action__startswith="auth.token_").order_by("seq"))


def test_a_token_made_and_remade_by_the_command_is_audited_with_its_fingerprint_never_its_key(olivia):
    call_command("drf_create_token", "olivia", stdout=io.StringIO())
    first = Token.objects.get(user=olivia).key
    call_command("drf_create_token", "olivia", "-r", stdout=io.StringIO())
    second = Token.objects.get(user=olivia).key

    created, deleted, recreated = _events()
    assert (created.action, created.object_id, created.after) == (
        "auth.token_created", "olivia", {"user": "olivia", "fingerprint": fingerprint(first)})
    assert created.actor is None and created.actor_label == "system:command:drf_create_token"
    assert (deleted.action, deleted.before, deleted.after) == (
        "auth.token_deleted", {"user": "olivia", "fingerprint": fingerprint(first)}, None)
    assert recreated.after == {"user": "olivia", "fingerprint": fingerprint(second)} and first != second
    trail = str([(e.before, e.after) for e in _events()])
    assert first not in trail and second not in trail
    # Asking again for an existing token issues nothing, so nothing is recorded.
    call_command("drf_create_token", "olivia", stdout=io.StringIO())
    assert len(_events()) == 3


def test_a_token_revoked_through_the_proxy_django_admin_edits_is_audited_too(olivia):
    token = Token.objects.create(user=olivia)
    with context.for_command("revoke_token"):
        TokenProxy.objects.get(user=olivia).delete()

    assert not Token.objects.filter(user=olivia).exists()
    deleted = _events()[-1]
    assert deleted.action == "auth.token_deleted" and deleted.actor_label == "system:command:revoke_token"
    assert deleted.before == {"user": "olivia", "fingerprint": fingerprint(token.key)}


def test_a_users_deletion_records_its_tokens_end_too(olivia):
    Token.objects.create(user=olivia)
    get_user_model().objects.filter(pk=olivia.pk).first().delete()
    assert [e.action for e in _events()] == ["auth.token_created", "auth.token_deleted"]
    assert _events()[-1].before["user"] in ("olivia", f"user #{olivia.pk}")
