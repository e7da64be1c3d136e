"""Every list page of the console in Chromium at 1280 px, with rows on it: nothing is wider than the window (long
ids, paths and hashes wrap inside their cells). A screenshot of each page lands in the test's tmp dir, for a person
to look at (`pytest --basetemp=DIR` keeps them in DIR)."""
from __future__ import annotations

import pytest

from evidence.models import SourceManifest
from evidence.samples.export import write_sample_export
from promotion.models import PromotionRequest
from tests.conftest import login
from tests.deliverables.provenance.conftest import run_over_sample, var_dir  # noqa: F401 (fixtures)
from tests.deliverables.runs.conftest import contract_sample, curated_db, no_enqueue  # noqa: F401 (fixtures)
from tests.evidence.flags.conftest import recompute
from tests.promotion.conftest import ingest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases=["default", "curated"])]


# What the sample gives no row to: a delivered workbook, a publication, a consumer token, a Domo candidate, a refused
# packet, a locked login.
NOTHING_TO_LIST = {"deliverables", "publications", "consumer-tokens", "candidate-evidence", "packet-refusals",
                   "login-lockouts"}


def list_pages(manifest: SourceManifest, request: PromotionRequest) -> dict[str, str]:
    """Each list page the navigation and the URL confs lead to, with the rows the sample gives it."""
    return {
        "home": "/",
        "manifests": "/sources/",
        "issues": "/sources/issues/",
        "intake": "/sources/intake/",
        "calculation-flaws": f"/sources/{manifest.pk}/flaws/",
        "evidence-packets": "/evidence/packets/",
        "packet-refusals": "/evidence/packets/refusals/",
        "candidate-evidence": "/evidence/candidates/",
        "evidence-overview": "/evidence/overview/",
        "missing-evidence": "/evidence/missing/",
        "promotions": "/promotions/",
        "curated-registry": "/promotions/curated/",
        "curated-versions": f"/promotions/curated/{request.datasets.first().domo_id}/",
        "runs": "/runs/",
        "scoreboard": "/reconciliation/",
        "deliverables": "/deliverables/",
        "publications": "/publications/",
        "provenance-search": "/provenance/",
        "consumer-tokens": "/consumers/",
        "scope": "/scope/",
        "audit-trail": "/audit/",
        "people": "/people/",
        "login-lockouts": "/logins/locked/",
    }


def test_every_list_page_fits_1280px(page, contract_sample, olivia, adam, settings, var_dir, tmp_path):  # noqa: F811
    run_over_sample(olivia, "duckdb", settings)
    # An invalid export beside it: the issues page gets long file paths, object ids and messages.
    invalid = ingest(write_sample_export(tmp_path / "invalid", rows=30, seed=9, variant="invalid").path)
    assert invalid.status == "invalid" and invalid.issues.exists()
    recompute()  # the missing-evidence flags of the sample's claims
    request = PromotionRequest.objects.get(state="promoted")
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, "adam")
    overflowing, empty = {}, set()
    for name, url in list_pages(contract_sample.manifest, request).items():
        response = page.goto(url)
        assert response.status == 200, (name, url, response.status)
        page.screenshot(path=tmp_path / f"{name}.jpeg", full_page=True, type="jpeg", quality=80)
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        if widths[0] > widths[1]:
            overflowing[name] = widths
        if page.locator("main table tbody tr").count() == 0:
            empty.add(name)
    assert overflowing == {}
    assert empty == NOTHING_TO_LIST
