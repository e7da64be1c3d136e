"""Session lifetimes: the idle limit and the absolute limit (ASVS 7.3).

- Idle: SESSION_COOKIE_AGE (SESSION_TIMEOUT_SECONDS) with SESSION_SAVE_EVERY_REQUEST, so every request pushes the
  session's expiry forward; a session left alone that long is gone (Django's own session expiry).
- Absolute: SESSION_ABSOLUTE_SECONDS after its login, a session is signed out however active it stayed. The login
  time is stamped into the session when the person signs in (`stamp_login`, a user_logged_in receiver in
  console.signals); `AbsoluteSessionLifetimeMiddleware` signs the session out at its first request past the limit,
  audited (`auth.session_expired`), and the request goes on signed out (a page sends it to the login, the API
  answers 401). A signed-in session without the stamp (made before the stamp existed) is treated as expired: a
  missing login time must not mean "no limit".

The session key itself rotates at login (django.contrib.auth.login cycles it), so a key planted before the login
never becomes a signed-in session.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth import logout
from django.db import transaction

from console import clock
from console.audit import audit_record

LOGIN_AT = "console_login_at"  # the session's login time, POSIX seconds on the console clock


def stamp_login(request) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[LOGIN_AT] = clock.now().timestamp()


def session_age(request) -> float | None:
    """Seconds since the session's login, or None when the session carries no login time."""
    started = request.session.get(LOGIN_AT)
    if not isinstance(started, int | float):
        return None
    return clock.now().timestamp() - started


class AbsoluteSessionLifetimeMiddleware:
    """Signs a session out once SESSION_ABSOLUTE_SECONDS have passed since its login (after AuthenticationMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            age = session_age(request)
            limit = settings.SESSION_ABSOLUTE_SECONDS
            if age is None or age >= limit:
                with transaction.atomic():
                    audit_record(
                        actor=user, action="auth.session_expired", object_type="auth.user",
                        object_id=user.get_username(),
                        after={"reason": "absolute session lifetime" if age is not None else "no login time",
                               "age_seconds": int(age) if age is not None else None, "limit_seconds": limit,
                               "path": request.path[:200]},
                    )
                logout(request)  # flushes the session (audited as auth.logout); the request goes on signed out
        return self.get_response(request)
