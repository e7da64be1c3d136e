"""Stored XSS: hostile names received in an export (datasets, cards, beast modes, policies, dataflows, Domo users
and groups, a CSV cell) and given to people and roles show escaped on the console's pages and in every Django
admin changelist; and no template or module marks text safe without a reviewed marker saying why."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from evidence.models import BeastMode, DomoCard, DomoDataflow, DomoDataset
from tests.conftest import PASSWORD
from tests.evidence import exports
from tests.evidence.conftest import ingest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
PAYLOADS = (SCRIPT, IMG, "<img src=x", "<script>")
ESCAPED = ("&lt;script&gt;alert(1)&lt;/script&gt;", "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;")


def hostile(text: str) -> str:
    return f"{text} {SCRIPT}{IMG}"


def _poison(value):
    """Every name, title and description of a JSON file of the export, made hostile."""
    if isinstance(value, dict):
        return {k: (hostile(v) if k in {"name", "title", "description"} and isinstance(v, str) else _poison(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_poison(item) for item in value]
    return value


@pytest.fixture
def hostile_world(db, tmp_path, seeded_roles):
    export = exports.Export()
    for path, content in list(export.files.items()):
        if not isinstance(content, bytes):
            export.files[path] = _poison(content)
    rows = [list(row) for row in exports.CLAIMS_ROWS]
    rows[0][1] = hostile("M-001")
    export.files[exports.CLAIMS_CSV] = exports.csv_bytes([name for name, _ in exports.CLAIMS_COLUMNS], rows)
    manifest = ingest(export.write(tmp_path / "hostile"))
    Group.objects.create(name=hostile("Group"))
    get_user_model().objects.create_user(username="mallory", first_name=hostile("Mallory"), email="m@example.org")
    return manifest


@pytest.fixture
def root_client(client, hostile_world):
    root = get_user_model().objects.create_superuser("root", "root@example.org", PASSWORD)
    client.force_login(root)
    return client


def assert_escaped(body: str, where: str) -> None:
    for payload in PAYLOADS:
        assert payload not in body, (where, payload)


@pytest.mark.catalogue(43, 50)
def test_hostile_names_in_every_admin_changelist_are_escaped(root_client, hostile_world):
    shown = set()
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        response = root_client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert_escaped(body, url)
        if ESCAPED[0] in body:
            shown.add(model._meta.label)
    # The hostile names were on the lists (not an empty page passing for an escaped one).
    assert {"evidence.DomoDataset", "evidence.DomoCard", "evidence.BeastMode", "evidence.DomoDataflow",
            "evidence.PdpPolicy", "auth.Group"} <= shown, shown


@pytest.mark.catalogue(43, 50)
def test_hostile_names_on_the_consoles_pages_are_escaped(root_client, hostile_world):
    manifest = hostile_world
    pages = [
        "/sources/", f"/sources/{manifest.pk}/", "/sources/issues/", "/sources/intake/",
        f"/sources/intake/{manifest.intake_run_id}/", f"/sources/{manifest.pk}/flaws/", "/people/",
        *(f"/sources/datasets/{pk}/" for pk in DomoDataset.objects.values_list("pk", flat=True)),
        *(f"/sources/cards/{pk}/" for pk in DomoCard.objects.values_list("pk", flat=True)),
        *(f"/sources/dataflows/{pk}/" for pk in DomoDataflow.objects.values_list("pk", flat=True)),
    ]
    assert BeastMode.objects.filter(name__contains=SCRIPT).exists()
    seen = 0
    for url in pages:
        response = root_client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert_escaped(body, url)
        seen += ESCAPED[0] in body and ESCAPED[1] in body
    assert seen >= 6, seen


# --- no text marked safe without review -------------------------------------------------------------------------
APPS = ("console", "evidence", "deliverables", "promotion")
UNSAFE = re.compile(r"mark_safe|format_html|SafeString|SafeText|html_safe|\|\s*safe\b|safeseq|autoescape\s+off")
MARKER = "reviewed-safe:"


def marking_safe() -> list[tuple[str, int, str]]:
    """(file, line, text) of every line that marks text safe, in the apps' Python and the templates."""
    files = [p for app in APPS for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts]
    files += [p for p in (ROOT / "templates").rglob("*") if p.suffix in {".html", ".txt", ".xml", ".js"}]
    files += [p for app in APPS for p in (ROOT / app).rglob("templates/**/*.html")]
    found = []
    for path in files:
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines, 1):
            if UNSAFE.search(line) and not line.lstrip().startswith(("import ", "from ")):
                around = " ".join(lines[max(0, number - 3):number])
                found.append((str(path.relative_to(ROOT)), number, line.strip(), MARKER in around))
    return found


@pytest.mark.catalogue(43)
def test_nothing_is_marked_safe_without_a_reviewed_marker():
    unreviewed = [(f, n, text) for f, n, text, reviewed in marking_safe() if not reviewed]
    assert not unreviewed, (
        "text marked safe (mark_safe, format_html, |safe, autoescape off) needs a '# reviewed-safe: <why>' "
        f"(or '{{# reviewed-safe: why #}}') comment on the line or the two above: {unreviewed}")


@pytest.mark.catalogue(43)
def test_the_guard_sees_every_form_of_marking_safe(tmp_path):
    for line in ('{{ name|safe }}', '{{ names|safeseq }}', '{% autoescape off %}', 'mark_safe(name)',
                 'format_html("<b>{}</b>", name)', 'SafeString(name)'):
        assert UNSAFE.search(line), line
    assert not UNSAFE.search("{{ name }}") and not UNSAFE.search("{{ name|safe_label }}")
