"""Every kind of page carries the Content-Security-Policy and the Permissions-Policy: signed in as each
role (what a role may not see answers 403, with the headers too), signed out, the admin, the API and
its docs, static files and errors. The policy allows no inline script or style, no eval and no other
origin; the templates hold no inline script, event handler or style attribute that it would refuse."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.conftest import PERSONAS, make_persona
from tests.promotion.conftest import CLAIMS, dataset, forced, manifest  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]
POLICY = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "frame-ancestors": {"'none'"},
    "form-action": {"'self'"},
}
DENIED_FEATURES = {"camera", "microphone", "geolocation", "payment", "usb"}


def directives(header: str) -> dict[str, set[str]]:
    parsed = {}
    for part in filter(None, (p.strip() for p in header.split(";"))):
        name, *sources = part.split()
        parsed[name] = set(sources)
    return parsed


def policy_problems(url: str, response) -> list[str]:
    """What is wrong with a response's security headers, each problem naming the URL."""
    header = response.headers.get("Content-Security-Policy")
    if not header:
        return [f"{url} ({response.status_code}): no Content-Security-Policy"]
    found = directives(header)
    problems = [
        f"{url}: {name} is {sorted(found.get(name, ()))}, expected {sorted(sources)}"
        for name, sources in POLICY.items()
        if found.get(name) != sources
    ]
    unsafe = [f"{name} {source}" for name, sources in found.items() for source in sources if "unsafe" in source]
    if unsafe:
        problems.append(f"{url}: unsafe sources {unsafe}")
    foreign = [f"{name} {source}" for name, sources in found.items() for source in sources
               if not source.startswith("'") and source != "data:"]
    if foreign:
        problems.append(f"{url}: other origins allowed {foreign}")
    permissions = dict(
        item.strip().split("=", 1) for item in response.headers.get("Permissions-Policy", "").split(",") if "=" in item
    )
    denied = {feature for feature, allow in permissions.items() if allow == "()"}
    if not DENIED_FEATURES <= denied:
        problems.append(f"{url}: Permissions-Policy does not deny {sorted(DENIED_FEATURES - denied)}")
    return problems


@pytest.fixture
def pages(manifest, seeded_roles):  # noqa: F811
    """One URL of every kind of page, list and detail, HTML, fragments, API, admin, docs, static, errors."""
    olivia = make_persona("olivia")
    request = forced(manifest, requested_by=olivia, state="ready", datasets=[dataset(manifest, CLAIMS)])
    claims = dataset(manifest, CLAIMS)
    card = manifest.cards.first()
    dataflow = manifest.dataflows.first()
    return [
        reverse("home"),
        reverse("audit-trail"),
        reverse("audit-trail") + "?actor=olivia",
        reverse("audit-export"),
        reverse("login-lockouts"),
        reverse("evidence:manifest-list"),
        reverse("evidence:manifest-detail", args=[manifest.pk]),
        reverse("evidence:calculation-flaws", args=[manifest.pk]),
        reverse("evidence:issue-list"),
        reverse("evidence:intake-list"),
        reverse("evidence:intake-upload"),
        reverse("evidence:intake-running"),
        reverse("evidence:intake-detail", args=[manifest.intake_run_id]),
        reverse("evidence:dataset-detail", args=[claims.pk]),
        reverse("evidence:card-detail", args=[card.pk]),
        reverse("evidence:dataflow-detail", args=[dataflow.pk]),
        reverse("packets:packet-list"),
        reverse("packets:refusal-list"),
        reverse("promotion:request-list"),
        reverse("promotion:request-new") + f"?manifest={manifest.pk}",
        reverse("promotion:request-detail", args=[request.pk]),
        reverse("promotion:request-progress", args=[request.pk]),
        reverse("promotion:registry"),
        reverse("admin:index"),
        reverse("admin:auth_user_changelist"),
        reverse("admin:auth_user_change", args=[olivia.pk]),
        reverse("api-schema"),
        reverse("api-docs"),
        reverse("api-docs") + "?script=",
        "/api/promotions/",
        "/static/console/console.css",
        "/no-such-page/",
        reverse("evidence:manifest-detail", args=[manifest.pk + 1000]),
    ]


@pytest.mark.parametrize("username", sorted(PERSONAS))
def test_every_page_carries_the_policies_for_every_role(client, manifest, pages, username):  # noqa: F811
    user = get_user_model().objects.filter(username=username).first() or make_persona(username)
    if username == "adam":  # the admin reaches Django admin (staff, as demo_users_create makes admins)
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    client.force_login(user)
    problems, statuses = [], {}
    for url in pages:
        response = client.get(url)
        statuses[url] = response.status_code
        problems += policy_problems(url, response)
    assert problems == []
    assert (statuses["/"], statuses["/no-such-page/"]) == (200, 404)
    if username == "olivia":  # the operator sees the pages themselves, not refusals
        missing = reverse("evidence:manifest-detail", args=[manifest.pk + 1000])
        assert {s for url, s in statuses.items() if url.startswith(("/sources/", "/promotions/")) and url != missing} \
            == {200}
    if username == "adam":
        assert {statuses[reverse("admin:index")], statuses[reverse("admin:auth_user_changelist")]} == {200}


def test_signed_out_pages_and_the_login_form_carry_the_policies(client, pages):
    problems = []
    for url in [reverse("login"), reverse("healthz"), *pages]:
        problems += policy_problems(url, client.get(url))
    response = client.post(reverse("login"), {"username": "nobody", "password": "wrong"})
    problems += policy_problems("POST /login/", response)
    assert problems == []


def test_only_the_api_docs_take_data_images(client, pages, seeded_roles):
    client.force_login(make_persona("audrey"))
    docs = directives(client.get(reverse("api-docs")).headers["Content-Security-Policy"])
    home = directives(client.get(reverse("home")).headers["Content-Security-Policy"])
    assert docs["img-src"] == {"'self'", "data:"}
    assert "img-src" not in home  # default-src 'self' only


def test_the_api_docs_page_holds_no_inline_script_or_style(client, seeded_roles):
    client.force_login(make_persona("audrey"))
    page = client.get(reverse("api-docs")).content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    assert "<style" not in page
    script = client.get(reverse("api-docs") + "?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()


INLINE = [
    ("inline <script>", re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)),
    ("on* event handler", re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)),
    ("style attribute", re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE)),
    ("<style> element", re.compile(r"<style\b", re.IGNORECASE)),
    ("javascript: URL", re.compile(r"javascript:", re.IGNORECASE)),
    ("htmx eval (hx-on, js: values)", re.compile(r"hx-on|hx-vars|hx-vals\s*=\s*['\"]\s*js:", re.IGNORECASE)),
]


def test_templates_hold_nothing_the_policy_refuses():
    found = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text()
        for what, pattern in INLINE:
            for match in pattern.finditer(text):
                found.append(f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}: {what}")
    assert found == []
