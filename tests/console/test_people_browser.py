"""Two admins in a real browser: one proposes a decision role on the People screen, the other confirms it."""
import pytest

from console import roles
from tests.conftest import login
from tests.console.people_helpers import events, roles_of

pytestmark = pytest.mark.browser


def test_one_admin_proposes_approver_and_another_confirms_it(transactional_db, adam, ada, olivia, page):
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    login(page, "adam")
    page.get_by_role("link", name="People").click()
    page.wait_for_url("**/people/")
    page.select_option("#id_user", label="olivia")
    page.select_option("#id_role", roles.APPROVER)
    page.get_by_role("button", name="Propose").click()
    page.get_by_text("another admin confirms it.").wait_for()
    assert page.get_by_role("button", name="Confirm approver for olivia").count() == 0  # not to the proposer

    page.get_by_role("button", name="Log out").click()
    login(page, "ada")
    page.goto("/people/")
    page.get_by_role("button", name="Confirm approver for olivia").click()
    page.get_by_text("Grant of approver to olivia confirmed.").wait_for()
    assert roles_of(olivia) == [roles.APPROVER, roles.OPERATOR]
    assert events("role.grant_confirmed", "olivia").get().actor == ada
    assert [e for e in errors if "favicon" not in e and "Failed to load resource" not in e] == []  # no CSP violation
