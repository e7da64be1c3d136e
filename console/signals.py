"""Signal receivers of the console: logins, failed logins and logouts are audited."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from console.audit import audit_record


def _client(request) -> dict:
    if request is None:
        return {}
    return {
        "ip": request.META.get("REMOTE_ADDR", ""),
        "user_agent": request.headers.get("User-Agent", "")[:200],
    }


@receiver(user_logged_in, dispatch_uid="console.audit_login")
def audit_login(sender, request, user, **kwargs):
    username = user.get_username()
    audit_record(
        actor=user, action="auth.login", object_type="auth.user", object_id=username, after=_client(request)
    )


@receiver(user_login_failed, dispatch_uid="console.audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs):
    # Only the attempted username is kept; the password (even Django's masked copy) never is.
    username = str(credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username") or "")
    audit_record(
        actor=AnonymousUser(),
        action="auth.login_failed",
        object_type="auth.user",
        object_id=username,
        after={"username": username, **_client(request)},
    )


@receiver(user_logged_out, dispatch_uid="console.audit_logout")
def audit_logout(sender, request, user, **kwargs):
    if user is None:  # a logout without a session changes nothing
        return
    audit_record(
        actor=user,
        action="auth.logout",
        object_type="auth.user",
        object_id=user.get_username(),
        after=_client(request),
    )
