"""Login throttling: django-axes, configured for the console (settings "login throttling").

A username is locked after LOGIN_FAILURES_PER_USERNAME failed logins from anywhere, and an address
after LOGIN_FAILURES_PER_ADDRESS failed logins for any usernames, each counted over the last
LOGIN_LOCKOUT_MINUTES (the cool-off; with 0, until an admin unlocks). While locked, even the right
password is refused, with the same message whichever of the two is locked (no hint whether a
username exists). Failures, the lockout and the unlock are events of the audit trail
(console.signals, console.services.login_unlock).

Axes keeps the failures (axes.AccessAttempt); this module supplies what it lets a project choose:
the client address, the username it counts under, the lockout page, and its clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_lockout_parameters
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db.models import Max, Sum
from django.shortcuts import render

from console import clock

LOCKOUT_OBJECT_TYPE = "auth.lockout"  # audit events of a lockout and its unlock: "username:<u>", "address:<ip>"

def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, unless TRUSTED_PROXY_COUNT proxies sit in front.

    Behind N trusted proxies the client is the N-th address from the right of X-Forwarded-For (the
    one our outermost proxy appended); anything left of it was written by the client and is ignored.
    With no proxy configured the header is never read: a client cannot choose its own address.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR") or None
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return remote


def username_key(request, credentials: dict | None) -> str | None:
    """The username failures count under: trimmed and case-folded, so "Olivia" and "olivia " are one
    (a case-insensitive collation, e.g. SQL Server's default, would log either into the same account)."""
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials is not None:
        raw = credentials.get(field)
    else:
        raw = getattr(request, "data", request.POST).get(field) if request is not None else None
    return None if raw is None else str(raw).strip().casefold()


def failure_limits() -> dict[str, int]:
    return {"username": settings.LOGIN_FAILURES_PER_USERNAME, "ip_address": settings.LOGIN_FAILURES_PER_ADDRESS}


class LockoutBackend(AxesStandaloneBackend):
    """First of AUTHENTICATION_BACKENDS: refuses a locked username or address before any password check."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            # No web request (the test client's login(), a shell): nothing to throttle by address,
            # and axes cannot record the attempt. Web logins always pass their request.
            return None
        try:
            return super().authenticate(request, username=username, password=password, **kwargs)
        except AxesBackendPermissionDenied:
            # Django's authenticate() turns this into a failed login; the audit tells it apart.
            request.console_refused_while_locked = True
            raise


class LockoutHandler(AxesDatabaseHandler):
    """Axes' database handler with one limit per lockout parameter, on the console's clock."""

    def _on_console_clock(self, request) -> None:
        # Axes stamps attempts with django.utils.timezone.now; the console has one clock.
        if request is not None and not getattr(request, "console_clock_stamped", False):
            request.axes_attempt_time = clock.now()
            request.console_clock_stamped = True

    def is_allowed(self, request, credentials=None) -> bool:
        self._on_console_clock(request)
        return super().is_allowed(request, credentials)

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        self._on_console_clock(request)
        return super().user_login_failed(sender, credentials, request, **kwargs)

    def user_logged_in(self, sender, request, user, **kwargs):
        self._on_console_clock(request)
        return super().user_logged_in(sender, request, user, **kwargs)

    def user_logged_out(self, sender, request, user, **kwargs):
        self._on_console_clock(request)
        return super().user_logged_out(sender, request, user, **kwargs)

    def failures_by_parameter(self, request, credentials=None) -> dict[str, int]:
        """Failures within the cool-off counted against each lockout parameter."""
        parameters = get_lockout_parameters(request, credentials)
        counted = {}
        for parameter, attempts in zip(parameters, self.get_user_attempts(request, credentials), strict=True):
            counted[parameter] = sum(attempts.values_list("failures_since_start", flat=True))
        return counted

    def get_failures(self, request, credentials=None) -> int:
        """Failures as axes compares them with its one AXES_FAILURE_LIMIT (the username limit).

        Axes has one limit for every parameter; the console has one per parameter. This reports the
        parameter closest to its own limit, shifted onto the username limit's scale: it reaches
        AXES_FAILURE_LIMIT exactly when some parameter reaches its own limit.
        """
        limits = failure_limits()
        remaining = min(
            limits[parameter] - failures for parameter, failures in self.failures_by_parameter(request, credentials).items()
        )
        return settings.AXES_FAILURE_LIMIT - remaining


def lockout_message() -> str:
    minutes = settings.LOGIN_LOCKOUT_MINUTES
    wait = f"Try again in {minutes} minute{'s' if minutes != 1 else ''}, or ask" if minutes else "Ask"
    return (
        "Sign-in is locked after too many failed attempts for this username or from this address. "
        f"{wait} an admin to unlock it."
    )


class LoginForm(AuthenticationForm):
    """Django's login form, refusing a username longer than the user model's before anyone authenticates it (the
    stock form only sets the field's max_length for the widget, and a 300-character username reached axes' failure
    record, a 500)."""

    def clean_username(self):
        username = self.cleaned_data.get("username") or ""
        limit = self.fields["username"].max_length
        if limit and len(username) > limit:
            raise ValidationError(f"A username has at most {limit} characters.", code="max_length")
        return username


def lockout_response(request, original_response=None, credentials=None):
    """The login page again, with the lockout explained (HTTP 429), in place of axes' bare text."""
    username = (credentials or {}).get(settings.AXES_USERNAME_FORM_FIELD) or ""
    form = LoginForm(request, initial={"username": username[:150]})
    context = {"form": form, "lockout_message": lockout_message(), "next": request.POST.get("next", "")}
    return render(request, "registration/login.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)


# --- who is locked now (the admin's unlock page) -------------------------------------------------


@dataclass(frozen=True)
class Lockout:
    kind: str  # "username" or "address"
    value: str
    failures: int
    limit: int
    last_failure_at: dt.datetime
    until: dt.datetime | None  # None: until an admin unlocks

    @property
    def object_id(self) -> str:
        return f"{self.kind}:{self.value}"


def _recent_attempts():
    attempts = AccessAttempt.objects.all()
    if settings.AXES_COOLOFF_TIME is not None:
        attempts = attempts.filter(attempt_time__gte=clock.now() - settings.AXES_COOLOFF_TIME)
    return attempts


def failures_of(*, kind: str, value: str) -> tuple[int, dt.datetime | None]:
    """Failures counted against a username or an address now, and the last one's time."""
    field = {"username": "username", "address": "ip_address"}[kind]
    totals = _recent_attempts().filter(**{field: value}).aggregate(
        failures=Sum("failures_since_start"), last=Max("attempt_time")
    )
    return totals["failures"] or 0, totals["last"]


def current_lockouts() -> list[Lockout]:
    """Usernames and addresses at or over their limit within the cool-off, most recent first."""
    limits = failure_limits()
    cool_off = settings.AXES_COOLOFF_TIME
    found = []
    for kind, field, limit in (
        ("username", "username", limits["username"]),
        ("address", "ip_address", limits["ip_address"]),
    ):
        rows = (
            _recent_attempts()
            .exclude(**{f"{field}__isnull": True})
            .values(field)
            .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
            .filter(failures__gte=limit)
        )
        found += [
            Lockout(
                kind=kind,
                value=row[field],
                failures=row["failures"],
                limit=limit,
                last_failure_at=row["last"],
                until=row["last"] + cool_off if cool_off is not None else None,
            )
            for row in rows
        ]
    return sorted(found, key=lambda lockout: lockout.last_failure_at, reverse=True)
