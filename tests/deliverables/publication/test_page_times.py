"""A publication's page shows when its gates were checked as the console shows every time (`2026-12-07 06:00:31
UTC`), and a deliverable's progress its steps' times the same way, never ISO text with microseconds."""
from __future__ import annotations

import re

import pytest

from deliverables.models import Publication

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "curated"])

ISO_TEXT = re.compile(r">[^<]*\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00[^<]*<")


def test_the_gates_time_and_the_deliverables_step_times_show_as_utc_times(workbook, olivia, client):
    client.force_login(olivia)
    client.post("/publications/request/", {"deliverable": workbook.pk, "comment": "Q4 for the client"})
    publication = Publication.objects.get()
    page = client.get(f"/publications/{publication.pk}/").content.decode()
    at = publication.gates[0]["at"]
    assert '<h3>At the request <span class="muted">(<time datetime="' in page
    assert f'><span class="date">{at[:10]}</span> <span class="hour">{at[11:19]} UTC</span></time>)</span></h3>' in page
    assert not ISO_TEXT.search(page)

    steps = client.get(f"/deliverables/{workbook.pk}/").content.decode()
    section = re.search(r'<section id="deliverable-progress".*?</section>', steps, re.DOTALL).group(0)
    for step in workbook.progress["steps"]:
        assert f'><span class="date">{step["at"][:10]}</span> <span class="hour">{step["at"][11:19]} UTC</span></time>' in section
    assert not ISO_TEXT.search(section)
