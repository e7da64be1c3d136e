"""Signal receivers of the console: logins, failed logins, lockouts and logouts are audited; a login also stamps
its time into the session, which the session's absolute lifetime counts from (console.sessions)."""

from axes.handlers.proxy import AxesProxyHandler
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from console.audit import audit_record
from console.logins import LOCKOUT_OBJECT_TYPE, client_ip, failure_limits
from console.sessions import stamp_login

_LOCKED_AS = {"username": "username", "ip_address": "address"}


def _client(request) -> dict:
    if request is None:
        return {}
    return {
        "ip": client_ip(request) or "",
        "user_agent": request.headers.get("User-Agent", "")[:200],
    }


@receiver(user_logged_in, dispatch_uid="console.audit_login")
def audit_login(sender, request, user, **kwargs):
    username = user.get_username()
    audit_record(
        actor=user, action="auth.login", object_type="auth.user", object_id=username, after=_client(request)
    )


@receiver(user_logged_in, dispatch_uid="console.stamp_login")
def session_login_time(sender, request, user, **kwargs):
    """The session's login time, which its absolute lifetime counts from (console.sessions)."""
    stamp_login(request)


@receiver(user_login_failed, dispatch_uid="console.audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs):
    # Only the attempted username is kept; the password (even Django's masked copy) never is.
    username = str(credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username") or "")
    audit_record(
        actor=AnonymousUser(),
        action="auth.login_failed",
        object_type="auth.user",
        object_id=username,
        after={
            "username": username,
            **_client(request),
            # Refused before any password check: the username or the address was locked.
            "refused_while_locked": bool(getattr(request, "console_refused_while_locked", False)),
        },
    )


@receiver(user_locked_out, dispatch_uid="console.audit_locked_out")
def audit_locked_out(sender, request, username, ip_address, **kwargs):
    """The failure that reached a limit: one event per username or address it locked."""
    if getattr(request, "console_refused_while_locked", False):
        return  # already locked: axes signals again on every refused attempt; audited as a failed login
    handler = AxesProxyHandler.get_implementation()
    failures = handler.failures_by_parameter(request, getattr(request, "axes_credentials", None))
    limits = failure_limits()
    for parameter, count in failures.items():
        if count < limits[parameter]:
            continue
        locked = username if parameter == "username" else ip_address
        audit_record(
            actor=AnonymousUser(),
            action="auth.locked_out",
            object_type=LOCKOUT_OBJECT_TYPE,
            object_id=f"{_LOCKED_AS[parameter]}:{locked}",
            before={"locked": False, "failures": count - 1},
            after={
                "locked": True,
                "failures": count,
                "limit": limits[parameter],
                "cool_off_minutes": settings.LOGIN_LOCKOUT_MINUTES or None,
                "username": username,
                "ip": ip_address,
            },
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
