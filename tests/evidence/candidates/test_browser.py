"""An operator in a real browser registers the sample's Contract Terms dataset from its page: the form proposes
the mapping (htmx re-proposes it when the kind changes), and the registration shows its candidate rows."""
from __future__ import annotations

import pytest

from evidence.candidates.models import DomoCandidateSet
from tests.conftest import login
from tests.evidence.candidates.conftest import dataset

pytestmark = pytest.mark.browser


def test_an_operator_registers_contract_terms_and_sees_the_candidate_rows(page, live_server, manifest, olivia):
    contract_terms = dataset(manifest)

    login(page, "olivia")
    page.goto(f"/sources/datasets/{contract_terms.pk}/")
    page.get_by_role("link", name="Register as candidate evidence").click()
    page.wait_for_url(f"**/evidence/candidates/register/?dataset={contract_terms.pk}")
    assert page.locator("#id_map_drug_class").input_value() == "Brand/Generic"

    page.select_option("#id_kind", "salesforce")
    page.locator('#mapping-table[data-kind="salesforce"]').wait_for()
    assert page.locator("#id_map_account_id").input_value() == "Client Account ID"
    page.select_option("#id_kind", "contract")
    page.locator('#mapping-table[data-kind="contract"]').wait_for()
    page.get_by_role("button", name="Register as candidate evidence").click()

    candidate_set_url = "**/evidence/candidates/*/"
    page.wait_for_url(candidate_set_url)
    candidate_set = DomoCandidateSet.objects.get()
    assert candidate_set.registered_by == olivia and candidate_set.rows == 24
    assert page.locator("#candidate-class").inner_text() == "candidate"
    assert page.locator("#candidate-rows tbody tr").count() == 24
    first = page.locator("#candidate-rows tbody tr").first.inner_text()
    assert manifest.load_id in first and contract_terms.domo_id in first and "brand" in first
